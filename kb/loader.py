"""Find and load rule files, the same way for every caller.

Sources, later overriding earlier by id: the shipped rules (package data of ``tfhelp.rules``),
the per-user rules folder (``platformdirs.user_config_dir("tfhelp")/rules``), then each ``--rules``
folder. A broken file is reported as problems and skipped; it never stops the others loading.

Parsing ~100 YAML files costs more than tfhelp's whole diagnosis, so the parsed rule base is
cached as plain JSON data (never a pickle: loading it can't run code) keyed by a SHA-256 of
tfhelp's version and every rule file's content: edit a rule, even keeping its size and mtime, and
the next start re-parses.  The file is only read when the current user owns it and nobody else
can write it (:mod:`tfhelp.kb.cachefile`); a missing, foreign, corrupt or stale cache is a miss
and the rules are parsed again.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable, Optional

from tfhelp import __version__
from tfhelp.kb.model import Fix, Matcher, Problem, Rule

CACHE_FORMAT = 4


def shipped_rules_dir() -> Path:
    """``tfhelp/rules`` beside ``tfhelp/kb`` - in the wheel and (via package-dir) in a checkout.

    Computed from ``__file__`` rather than importlib.resources, which costs more to import than
    the whole diagnosis; rules are never shipped inside a zip.
    """
    return Path(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) / "rules"


def user_rules_dir() -> Path:
    override = os.environ.get("TFHELP_USER_RULES")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("tfhelp")) / "rules"


def cache_dir() -> Path:
    override = os.environ.get("TFHELP_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tfhelp"))


@dataclass
class RuleSet:
    rules: list
    problems: list = field(default_factory=list)
    _index: object = field(default=None, repr=False)
    _by_id: Optional[dict] = field(default=None, repr=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_index"] = None
        state["_by_id"] = None
        return state

    def get(self, rule_id: str) -> Optional[Rule]:
        if self._by_id is None:
            self._by_id = {r.id: r for r in self.rules}
        return self._by_id.get(rule_id)

    @property
    def errors(self) -> list:
        return [p for p in self.problems if p.is_error]

    def anchor_map(self) -> dict:
        """lowercase anchor -> list of rule indices."""
        out: dict = {}
        for i, rule in enumerate(self.rules):
            for a in rule.anchors:
                out.setdefault(a, []).append(i)
        return out

    def candidates(self, lower_text: str) -> list:
        """Rules whose anchors occur in ``lower_text`` (already lowercased), in rule order."""
        from tfhelp.kb.prefilter import AnchorIndex

        if self._index is None:
            self._index = AnchorIndex(self.anchor_map())
        hit = self._index.rules_in(lower_text)
        return [self.rules[i] for i in sorted(hit)]


def _yaml_files(root: Path) -> list:
    """Every ``*.yaml`` below root as ``(path, size, mtime_ns)`` strings and numbers.

    This runs on every start to fingerprint the cache, so it uses os.scandir and plain strings
    (pathlib objects cost more than the stat calls for ten thousand rules)."""
    out = []
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.startswith("."):
                        continue
                    if e.is_dir():
                        stack.append(e.path)
                    elif e.name.endswith(".yaml") and e.is_file():
                        try:
                            st = e.stat()
                        except OSError:
                            continue
                        out.append((e.path, st.st_size, st.st_mtime_ns))
        except OSError:
            continue
    out.sort()
    return out


def load_file(path: Path, root: Optional[Path] = None, raw: Optional[bytes] = None) -> tuple:
    """Load one rule file (``raw``: its bytes, already read). Returns (Rule|None, [Problem])."""
    shown = str(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return None, [Problem(shown, 1, "TFH015", f"cannot read rule file: {exc.strerror or exc}")]
    if len(raw) > 1_000_000:
        return None, [Problem(shown, 1, "TFH015", "rule file larger than 1 MB")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(shown, 1, "TFH015", f"rule file is not UTF-8 ({exc.reason} at byte {exc.start})")]
    from tfhelp.kb.schema import load_yaml, parse_rule

    data, problems = load_yaml(text, shown)
    if problems:
        return None, problems
    category = path.parent.name if root is not None and path.parent != root else None
    rule, problems = parse_rule(data, shown, expected_id=path.stem, expected_category=category)
    return rule, problems


def _digest(files: list, contents: dict) -> str:
    """The cache key: tfhelp's version, the cache format, and every rule file's root, path and
    content hash.  Content, not size and mtime: ``cp -p``, editors and sync tools can change a
    rule and keep both."""
    h = hashlib.sha256(f"{__version__}/{CACHE_FORMAT}".encode())
    for root, (path, _size, _mtime) in files:
        raw = contents.get(path)
        h.update(f"{root}\0{path}\0{-1 if raw is None else len(raw)}\0".encode())
        if raw is not None:
            h.update(raw)  # length-prefixed: no two file sets hash alike
    return h.hexdigest()


def _read_all(files: list) -> dict:
    """path -> bytes of every rule file (None when unreadable: load_file reports it)."""
    out: dict = {}
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    for _root, (path, size, _mtime) in files:
        try:
            fd = os.open(path, flags)
        except OSError:
            out[path] = None
            continue
        try:
            want = min(size, 1_000_000) + 4096  # one read for a file that didn't grow
            parts = [os.read(fd, want)]
            got = len(parts[0])
            while parts[-1] and got <= 1_000_000:  # load_file refuses more than 1 MB
                parts.append(os.read(fd, 1_000_001 - got))
                got += len(parts[-1])
            out[path] = b"".join(parts)
        except OSError:
            out[path] = None
        finally:
            os.close(fd)
    return out


# -- the cache: plain JSON data, read only from a file we own (tfhelp.kb.cachefile) ------------
def _matcher_json(m: Matcher) -> dict:
    return {f.name: getattr(m, f.name) for f in fields(m) if not f.name.startswith("_")}


def _rule_json(rule: Rule) -> dict:
    out = {}
    for f in fields(rule):
        v = getattr(rule, f.name)
        if f.name in ("all", "any", "none"):
            v = [_matcher_json(m) for m in v]
        elif f.name == "fixes":
            v = [{"title": x.title, "steps": x.steps, "when": x.when} for x in v]
        out[f.name] = v
    return out


def _rule_from_json(d: dict) -> Rule:
    d = dict(d)
    for block in ("all", "any", "none"):
        d[block] = [Matcher(**m) for m in d[block]]
    d["fixes"] = [Fix(**x) for x in d["fixes"]]
    return Rule(**d)


def _cache_bytes(key: str, ruleset: RuleSet) -> bytes:
    import json

    doc = {"format": CACHE_FORMAT, "tfhelp": __version__, "key": key,
           "rules": [_rule_json(r) for r in ruleset.rules],
           "problems": [[p.path, p.line, p.code, p.message] for p in ruleset.problems]}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _read_cache(path: Path, key: str) -> Optional[RuleSet]:
    """The cached rule base when the file is ours (owner, permissions: see cachefile), parses as
    JSON and names exactly ``key``; anything else is a miss (None) and the caller re-parses."""
    from tfhelp.kb.cachefile import read_trusted

    raw = read_trusted(path)
    if raw is None:
        return None
    import json

    try:
        doc = json.loads(raw)
        if not (isinstance(doc, dict) and doc.get("format") == CACHE_FORMAT
                and doc.get("tfhelp") == __version__ and doc.get("key") == key):
            return None
        rules = [_rule_from_json(r) for r in doc["rules"]]
        problems = [Problem(*p) for p in doc["problems"]]
    except Exception:  # noqa: BLE001 - corrupt, truncated or from another format: re-parse
        return None
    return RuleSet(rules=rules, problems=problems)


def _write_cache(path: Path, key: str, ruleset: RuleSet) -> None:
    from tfhelp.kb.cachefile import write_private

    try:
        data = _cache_bytes(key, ruleset)
    except (TypeError, ValueError):
        return  # a value JSON can't hold (a YAML date in a step): just don't cache
    write_private(path, data, stale_glob="rules-*.json")


def _rule_roots(extra_dirs, user_rules: bool, shipped: bool) -> list:
    """(origin, folder) in load order: shipped, the per-user folder, then each --rules DIR."""
    roots = [("shipped", shipped_rules_dir())] if shipped else []
    if user_rules:
        roots.append(("user", user_rules_dir()))
    roots.extend(("user", Path(d)) for d in extra_dirs)
    return roots


def load_ruleset(extra_dirs: Iterable = (), user_rules: bool = True, shipped: bool = True,
                 use_cache: Optional[bool] = None) -> RuleSet:
    """Load every rule; later sources override earlier ones by id.

    The cyclic garbage collector is paused while loading: building tens of thousands of small
    objects (rules, matchers, fixes, the parsed JSON or YAML) would otherwise trigger full
    collections over the growing heap again and again, which made loading 13,000 rules from the
    cache take about twice as long; none of these objects form cycles that need collecting."""
    import gc

    paused = gc.isenabled()
    gc.disable()
    try:
        return _load_ruleset(extra_dirs, user_rules, shipped, use_cache)
    finally:
        if paused:
            gc.enable()


def _load_ruleset(extra_dirs, user_rules: bool, shipped: bool, use_cache: Optional[bool]) -> RuleSet:
    extra_dirs = [Path(d) for d in extra_dirs]
    roots = _rule_roots(extra_dirs, user_rules, shipped)
    files = [(root, f) for _, root in roots for f in _yaml_files(root)]
    missing = [Problem(str(d), 1, "TFH015", "rules folder does not exist") for d in extra_dirs if not d.is_dir()]
    if use_cache is None:
        use_cache = os.environ.get("TFHELP_NO_CACHE", "") in ("", "0")
    contents = _read_all(files)
    key = _digest(files, contents) if use_cache else ""
    cache_path = cache_dir() / f"rules-{key[:32]}.json" if use_cache else None
    if cache_path is not None:
        cached = _read_cache(cache_path, key)
        if cached is not None:
            return cached
    by_id: dict = {}
    problems: list = list(missing)
    origin_of = {str(root): origin for origin, root in roots}
    for root, (path, _size, _mtime) in files:
        rule, probs = load_file(Path(path), root, raw=contents.get(path))
        problems.extend(probs)
        if rule is not None:
            rule.origin = origin_of.get(str(root), "user")
            by_id[rule.id] = rule
    ruleset = RuleSet(rules=list(by_id.values()), problems=problems)
    if cache_path is not None:
        _write_cache(cache_path, key, ruleset)
    return ruleset


# -- a rule base sent to other machines (tfhelp triage --dask) ---------------------------------
def rule_bundle(extra_dirs: Iterable = (), user_rules: bool = True, shipped: bool = True) -> dict:
    """Every rule file that :func:`load_ruleset` would read, as text, in load order: a worker on
    another machine builds the same rule base from it with :func:`load_bundle` without the
    client's folders.  ``digest`` identifies the bundle (for per-process caching)."""
    roots = _rule_roots(extra_dirs, user_rules, shipped)
    files = [(root, f) for _, root in roots for f in _yaml_files(root)]
    contents = _read_all(files)
    origin_of = {str(root): origin for origin, root in roots}
    items = []
    for root, (path, _size, _mtime) in files:
        raw = contents.get(path)
        items.append([str(root), path, origin_of.get(str(root), "user"),
                      None if raw is None else raw.decode("utf-8", "surrogateescape")])
    missing = [str(d) for d in extra_dirs if not Path(d).is_dir()]
    return {"version": __version__, "digest": _digest(files, contents), "files": items, "missing": missing}


def load_bundle(bundle: dict) -> RuleSet:
    """The rule base of a :func:`rule_bundle`, parsed here (never from any cache)."""
    by_id: dict = {}
    problems: list = [Problem(d, 1, "TFH015", "rules folder does not exist") for d in bundle.get("missing", [])]
    for root, path, origin, text in bundle["files"]:
        raw = None if text is None else text.encode("utf-8", "surrogateescape")
        if raw is None:
            problems.append(Problem(path, 1, "TFH015", "cannot read rule file"))
            continue
        rule, probs = load_file(Path(path), Path(root), raw=raw)
        problems.extend(probs)
        if rule is not None:
            rule.origin = origin
            by_id[rule.id] = rule
    return RuleSet(rules=list(by_id.values()), problems=problems)
