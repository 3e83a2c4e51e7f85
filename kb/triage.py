"""Triage many logs: which root causes, in how many files, with which example files.

The unit of work is one file: :func:`scan_path` opens it with :mod:`tfhelp.kb.sources` (the same
checks and bounds as ``--from-log``), scans it with :func:`tfhelp.kb.scan.scan_file` (the same
engine) and returns a plain, JSON-ready dict::

    {"path": "jobs/123/run.log", "diagnoses": [D...]}        # D exactly as `--from-log --json`
    {"path": "jobs/124/run.log", "diagnoses": [], "error": "permission denied"}   # skipped
    {"path": "jobs/125/run.log.gz", "diagnoses": [D...], "incomplete": "corrupt gzip data: ..."}

Results are folded into a :class:`Tally`, whose :meth:`Tally.merge` is associative and
commutative (counts add; example paths are the ``EXAMPLES`` smallest of the union; a rule's title
and severity come from the same rule files everywhere), so results may be combined in any order
or grouping - one process, a pool of worker processes, or Dask tasks on a cluster - and
:func:`document` builds the same JSON from them: files are sorted by path and the summary by
count, then rule id.

Workers (processes or Dask tasks) return each result as :class:`Encoded`: its ``files`` entry
already encoded, plus its tally, so the parent's serial part is merging counts and joining text
(:func:`document_json` is byte for byte ``json.dumps(document(...), indent=2)``).

A worker process builds the rule base once (``_STATE``) and, through
:func:`tfhelp.kb.scan.prefilter_for`, the compiled prefilter once per thread.  Locally, workers load the rules the way
the CLI does (:class:`Options`); on Dask, the client sends a :func:`rule_bundle` (every rule
file's text) so workers need tfhelp installed but not the client's rule folders.

A pure library: no printing, no terminal, no Dask import (the CLI drives Dask).
"""
from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from typing import Iterable, Optional

CHUNK = 8 << 20
#: Example files kept per rule in the summary (the smallest paths, so any merge order agrees).
EXAMPLES = 3
#: Top-level keys of ``Report.to_json()`` that a per-file result leaves out (the per-file
#: environment and echo of the input are noise across thousands of files).
_DROP = {"tfhelp_version", "schema_version", "related", "input"}


# -- which files ------------------------------------------------------------------------------
def expand(patterns: Iterable[str], include: Iterable[str] = ()) -> tuple:
    """Files named by ``patterns`` (files, folders searched recursively, globs with ``*``, ``?``,
    ``[...]`` and ``**``).  ``include``: fnmatch patterns a file *name* found inside a folder must
    match (default: every file; named files are always taken).  Hidden files and folders (``.x``)
    inside folders are skipped; symlinked folders are not followed (no loops).

    Returns ``(paths, problems)``: paths normalised (``./a//b`` -> ``a/b``), de-duplicated and
    sorted, relative when the user gave relative ones; problems ``[(pattern, message)]``."""
    include = [p for p in include if p]
    found: dict = {}
    problems = []

    def add(p: str) -> None:
        found.setdefault(os.path.normpath(p), os.path.normpath(p))  # "./a//b.log" -> "a/b.log"

    def walk(top: str) -> int:
        n = 0
        for dirpath, dirnames, filenames in os.walk(top, onerror=lambda e: problems.append(
                (getattr(e, "filename", top) or top, f"cannot list folder: {e.strerror or e}"))):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                if include and not any(fnmatch.fnmatch(name, pat) for pat in include):
                    continue
                add(os.path.join(dirpath, name))
                n += 1
        return n

    for pat in patterns:
        if os.path.isdir(pat):
            if not walk(pat):
                problems.append((pat, "folder holds no log files"))
        elif os.path.lexists(pat):
            add(pat)  # anything named explicitly: sources decides whether it can be read
        elif glob.has_magic(pat):
            matches = sorted(glob.glob(pat, recursive=True))
            n = 0
            for m in matches:
                if os.path.isdir(m):
                    n += walk(m)
                elif not include or any(fnmatch.fnmatch(os.path.basename(m), p) for p in include):
                    add(m)
                    n += 1
            if not n:
                problems.append((pat, "no file matches"))
        else:
            problems.append((pat, "no such file or folder"))
    return [found[k] for k in sorted(found)], problems


# -- one file ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """How to load rules and open inputs; the same for every file of a run (picklable)."""

    rule_dirs: tuple = ()
    user_rules: bool = True
    backend: Optional[str] = None      # prefilter back-end (None: the default)
    allow_special: bool = False
    max_bytes: Optional[int] = None

    def key(self) -> tuple:
        return ("dirs", self.rule_dirs, self.user_rules, self.backend)


_STATE: dict = {"key": None, "ruleset": None}


def _ruleset(options: Options, bundle: Optional[dict]):
    key = ("bundle", bundle["digest"], options.backend) if bundle is not None else options.key()
    if _STATE["key"] != key:
        from tfhelp.kb.loader import load_bundle, load_ruleset

        if bundle is not None:
            _STATE["ruleset"] = load_bundle(bundle)
        else:
            _STATE["ruleset"] = load_ruleset(extra_dirs=list(options.rule_dirs), user_rules=options.user_rules)
        _STATE["key"] = key
    return _STATE["ruleset"]


def use_ruleset(ruleset, options: Options) -> None:
    """Give this process an already loaded rule base for ``options`` (the parent before it forks
    its workers; tests)."""
    _STATE["key"], _STATE["ruleset"] = options.key(), ruleset


def scan_path(path: str, options: Options = Options(), bundle: Optional[dict] = None,
              open_as: Optional[str] = None) -> dict:
    """Scan one file; never raises for a bad input (the result carries ``error``).  ``path`` is
    what the result shows; ``open_as`` (default: ``path``) is what is opened - an absolute path
    for workers whose current folder differs."""
    from tfhelp.kb.scan import scan_file
    from tfhelp.kb.sources import InputError, open_source

    if bundle is not None:
        from tfhelp import __version__

        if bundle.get("version") != __version__:
            raise RuntimeError(f"this worker runs tfhelp {__version__}, the client {bundle.get('version')}: "
                               "install the same tfhelp version on every worker")
    ruleset = _ruleset(options, bundle)
    try:
        fh, _size = open_source(open_as or path, allow_special=options.allow_special, max_bytes=options.max_bytes)
    except InputError as exc:
        return {"path": path, "diagnoses": [], "error": _without_path(str(exc), open_as or path)}
    try:
        # A small file gets a read buffer its size, not the scanner's 8 MB default (allocating
        # that per file would cost more than scanning a job log).
        chunk = CHUNK if _size is None else max(64 << 10, min(CHUNK, (_size + 1) * (8 if _is_gzip(fh) else 1)))
        report, stats = scan_file(fh, ruleset, backend=options.backend, chunk=chunk)
        stopped = getattr(fh, "stopped", None)
    except Exception as exc:  # noqa: BLE001 - one broken file must not end a triage of thousands
        return {"path": path, "diagnoses": [], "error": f"scan failed: {type(exc).__name__}: {exc}"}
    finally:
        try:
            fh.close()
        except OSError:
            pass
    doc = report.to_json()
    out = {"path": path, "diagnoses": doc["diagnoses"]}
    for k, v in doc.items():  # anything else the report grows (e.g. an unexplained crash)
        if k not in _DROP and k not in out:
            out[k] = v
    why = stats.truncated or stopped
    if why:
        out["incomplete"] = why  # scanned up to there: the diagnoses cover the part that was read
    elif not stats.bytes:
        out["error"] = "empty file"
    return out


def _is_gzip(fh) -> bool:
    from tfhelp.kb.sources import _GzipStream

    return isinstance(fh, _GzipStream)


def scan_paths(pairs: list, options: Options = Options(), bundle: Optional[dict] = None) -> list:
    """:func:`scan_path` over ``[(path, open_as)]`` - one task for a batch of small files."""
    return [scan_path(p, options, bundle, open_as=o) for p, o in pairs]


def _without_path(message: str, path: str) -> str:
    return message[len(path) + 2:] if message.startswith(path + ": ") else message


def explains(d: dict) -> bool:
    """Whether a diagnosis names a known cause (an *unexplained crash* entry does not)."""
    return not (d.get("unexplained") or d.get("kind") == "unexplained-crash"
                or d.get("synthetic") == "unexplained-crash")


# -- merging ----------------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts over any set of per-file results; ``merge`` is associative and commutative."""

    files: int = 0
    explained: int = 0                 # files with at least one known cause
    unreadable: int = 0                # files skipped entirely (error and nothing scanned)
    incomplete: int = 0                # files read only up to a problem (bomb, bound, corrupt gzip)
    rules: dict = field(default_factory=dict)   # id -> {"files", "examples", "title", "severity", "category"}
    crashes: int = 0                   # files whose run ended in a crash no rule explains
    crash_examples: list = field(default_factory=list)

    @classmethod
    def of(cls, result: dict) -> "Tally":
        t = cls(files=1)
        diags = result.get("diagnoses") or []
        if result.get("error"):
            t.unreadable = 1
        elif result.get("incomplete"):
            t.incomplete = 1
        crash = result.get("crash")
        unexplained_crash = isinstance(crash, dict) and not crash.get("explained")
        if unexplained_crash:
            t.crashes, t.crash_examples = 1, [result["path"]]
        # the shared exit-status rule (tfhelp.kb.crash.exit_status): harmless notices beside an
        # unexplained crash explain nothing
        known = [d for d in diags if explains(d)]
        if known and not (unexplained_crash and all(d.get("severity") == "harmless" for d in known)):
            t.explained = 1
        for d in diags:
            rid = d.get("id")
            if rid in t.rules:
                continue
            t.rules[rid] = {"files": 1, "examples": [result["path"]], "title": d.get("title", ""),
                            "severity": d.get("severity", ""), "category": d.get("category", ""),
                            "explains": explains(d)}
        return t

    def merge(self, other: "Tally") -> "Tally":
        """A new tally of both (neither is changed)."""
        out = Tally()
        out.absorb(self)
        out.absorb(other)
        return out

    def absorb(self, other: "Tally") -> None:
        """Add ``other`` into this tally in place: what :meth:`merge` computes, without copying
        every rule entry per file (:func:`tally` over 10,000 files copied ~1M dicts)."""
        for rid, o in other.rules.items():
            mine = self.rules.get(rid)
            if mine is None:
                self.rules[rid] = dict(o, examples=list(o["examples"]))
                continue
            mine["files"] += o["files"]
            mine["examples"] = sorted(set(mine["examples"]) | set(o["examples"]))[:EXAMPLES]
            for k in ("title", "severity", "category"):  # same rule files: equal; else a fixed pick
                mine[k] = min(mine[k], o[k])
            mine["explains"] = mine["explains"] or o["explains"]
        self.files += other.files
        self.explained += other.explained
        self.unreadable += other.unreadable
        self.incomplete += other.incomplete
        self.crashes += other.crashes
        self.crash_examples = sorted(set(self.crash_examples) | set(other.crash_examples))[:EXAMPLES]

    def ordered(self) -> list:
        """``[(rule_id, entry)]``: most files first, then rule id."""
        return sorted(self.rules.items(), key=lambda kv: (-kv[1]["files"], kv[0]))


def tally(results: Iterable[dict]) -> Tally:
    out = Tally()
    for r in results:
        out.absorb(Tally.of(r))
    return out


def document(results: Iterable[dict], problems: Iterable = ()) -> dict:
    """The ``triage --json`` document.  Deterministic for a given set of results, whatever their
    order: ``files`` sorted by path, ``summary`` (rule id -> number of files) by count then id."""
    from tfhelp import __version__

    results = sorted(results, key=lambda r: r["path"])
    head, _t = summarize([Encoded.of(r, text="") for r in results], problems)
    return {"tfhelp_version": __version__, "files": results, **head}


def summarize(entries: list, problems: Iterable = ()) -> tuple:
    """``(everything in the document after "files", Tally)`` from :class:`Encoded` entries sorted
    by path: all a text report or the exit status needs, without any file's diagnoses."""
    t = Tally()
    for e in entries:
        t.absorb(e.tally)
    ordered = t.ordered()
    head = {
        "summary": {rid: e["files"] for rid, e in ordered},
        "examples": {rid: e["examples"] for rid, e in ordered},
        "totals": {"files": t.files, "explained": t.explained, "unexplained": t.files - t.explained - t.unreadable,
                   "unreadable": t.unreadable, "incomplete": t.incomplete, "unexplained_crashes": t.crashes},
        "unexplained_crashes": t.crash_examples,
        "errors": [{"path": p, "error": m} for p, m in problems]
        + [{"path": e.path, "error": e.error} for e in entries if e.error],
        "incomplete": [{"path": e.path, "reason": e.incomplete} for e in entries if e.incomplete],
    }
    return head, t


# -- results encoded where they are made --------------------------------------------------------
@dataclass
class Encoded:
    """One file's result as a worker sends it back: its ``files`` entry already encoded exactly
    as the document prints it, and the little the parent needs besides (path, tally, error).
    Encoding 10,000 entries with ``indent`` runs in pure Python (~3 s) and unpickling the dicts
    costs more than the text; done in the workers, neither stays in the serial part of a run."""

    path: str
    text: str
    tally: Tally
    error: Optional[str] = None
    incomplete: Optional[str] = None

    @classmethod
    def of(cls, result: dict, text: Optional[str] = None) -> "Encoded":
        if text is None:
            import json

            # an element of "files" sits 4 spaces deep in the document (indent=2, two levels)
            text = _INDENT + json.dumps(result, indent=2, ensure_ascii=False).replace("\n", "\n" + _INDENT)
        return cls(result["path"], text, Tally.of(result), result.get("error"), result.get("incomplete"))


_INDENT = " " * 4
#: Stands for the files list while the rest of the document is encoded (no path holds a NUL).
_FILES = "\0tfhelp-triage-files\0"


def scan_paths_encoded(pairs: list, options: Options = Options(), bundle: Optional[dict] = None) -> list:
    """:func:`scan_paths`, each result as :class:`Encoded` (what worker processes and Dask tasks
    return)."""
    return [Encoded.of(r) for r in scan_paths(pairs, options, bundle)]


def document_json(entries: Iterable, problems: Iterable = ()) -> str:
    """The text of ``json.dumps(document(results, problems), indent=2, ensure_ascii=False)`` built
    from :class:`Encoded` entries in any order, byte for byte (tests/test_triage_determinism.py)."""
    import json

    from tfhelp import __version__

    entries = sorted(entries, key=lambda e: e.path)
    head, _t = summarize(entries, problems)
    doc = {"tfhelp_version": __version__, "files": [_FILES] if entries else [], **head}
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if entries:
        text = text.replace(_INDENT + json.dumps(_FILES), ",\n".join(e.text for e in entries), 1)
    return text


#: Exit statuses of ``tfhelp triage`` (the contract ``--from-log`` keeps for one file, docs/HELPERS.md).
EXIT_EXPLAINED, EXIT_NOTHING_EXPLAINED, EXIT_BAD_INPUT = 0, 1, 2


def exit_status(totals: dict) -> int:
    """The exit status for a ``document()``'s ``totals``, so that ``tfhelp triage FILE`` answers
    like ``tfhelp --from-log FILE`` and a fleet answers like the sum of its files:

    * every file was bad input - unreadable (missing, empty, a FIFO or device, no permission) or
      read only in part (a gzip bomb, ``--max-bytes``, truncated or corrupt gzip), each of which
      makes ``--from-log`` exit 2 - -> 2, even when the part that was read matched a rule;
    * otherwise at least one file has a known cause (partly read files included: their findings
      are real and reported) -> 0, the bad files listed beside it;
    * otherwise -> 1: everything readable was scanned and nothing explained.
    """
    bad = totals.get("unreadable", 0) + totals.get("incomplete", 0)
    if totals.get("files", 0) <= bad:
        return EXIT_BAD_INPUT
    return EXIT_EXPLAINED if totals.get("explained", 0) else EXIT_NOTHING_EXPLAINED
