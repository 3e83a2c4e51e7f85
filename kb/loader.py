"""Find and load rule files, the same way for every caller.

Sources, later overriding earlier by id: the shipped rules (package data of ``tfhelp.rules``),
the per-user rules folder (``platformdirs.user_config_dir("tfhelp")/rules``), then each ``--rules``
folder. A broken file is reported as problems and skipped; it never stops the others loading.

Parsing ~100 YAML files costs more than tfhelp's whole diagnosis, so the parsed rule base is
cached as a pickle keyed by every file's path, size and mtime (and tfhelp's version): edit a rule
and the cache rebuilds itself. A corrupt or unreadable cache is ignored and rewritten.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from tfhelp import __version__
from tfhelp.kb.model import Problem, Rule

CACHE_FORMAT = 3


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


def load_file(path: Path, root: Optional[Path] = None) -> tuple:
    """Load one rule file. Returns (Rule|None, [Problem])."""
    shown = str(path)
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


def _fingerprint(files: list) -> str:
    h = hashlib.sha256(f"{__version__}/{CACHE_FORMAT}".encode())
    h.update("".join(f"{root}\0{path}\0{size}\0{mtime}\n" for root, (path, size, mtime) in files).encode())
    return h.hexdigest()[:32]


def _read_cache(path: Path) -> Optional[RuleSet]:
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - our own cache file in the user's cache dir
        if isinstance(obj, RuleSet):
            return obj
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - any corruption means "rebuild"
        try:
            path.unlink()
        except OSError:
            pass
    return None


def _write_cache(path: Path, ruleset: RuleSet) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(ruleset, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        for old in path.parent.glob("rules-*.pickle"):
            if old != path:
                try:
                    old.unlink()
                except OSError:
                    pass
    except OSError:
        pass  # a read-only home must not stop diagnosis


def load_ruleset(extra_dirs: Iterable = (), user_rules: bool = True, shipped: bool = True,
                 use_cache: Optional[bool] = None) -> RuleSet:
    """Load every rule; later sources override earlier ones by id."""
    extra_dirs = [Path(d) for d in extra_dirs]
    roots = []
    if shipped:
        roots.append(("shipped", shipped_rules_dir()))
    if user_rules:
        roots.append(("user", user_rules_dir()))
    for d in extra_dirs:
        roots.append(("user", Path(d)))
    files = [(root, f) for _, root in roots for f in _yaml_files(root)]
    missing = [Problem(str(d), 1, "TFH015", "rules folder does not exist") for d in extra_dirs if not d.is_dir()]
    if use_cache is None:
        use_cache = os.environ.get("TFHELP_NO_CACHE", "") in ("", "0")
    cache_path = cache_dir() / f"rules-{_fingerprint(files)}.pickle" if use_cache else None
    if cache_path is not None:
        cached = _read_cache(cache_path)
        if cached is not None:
            return cached
    by_id: dict = {}
    problems: list = list(missing)
    origin_of = {str(root): origin for origin, root in roots}
    for root, (path, _size, _mtime) in files:
        rule, probs = load_file(Path(path), root)
        problems.extend(probs)
        if rule is not None:
            rule.origin = origin_of.get(str(root), "user")
            by_id[rule.id] = rule
    ruleset = RuleSet(rules=list(by_id.values()), problems=problems)
    if cache_path is not None:
        _write_cache(cache_path, ruleset)
    return ruleset
