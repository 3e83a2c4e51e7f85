"""Version helpers, the one home for them: PEP 440 specifier checks (fast for the common case),
tolerant parsing and the small comparisons the doctor and the planner need.

Every diagnosis with a known environment evaluates a few specifiers. ``packaging`` gets them
right in every corner (pre-releases, local versions, epochs) but costs ~25 ms to import, more
than the rest of the diagnosis. Plain release versions ("2.15.0") against plain clauses
(">=2.16,<2.18", "~=2.15.0", "==2.15.*") are decided here; anything else goes to packaging.
A property test checks the two agree.
"""
from __future__ import annotations

import re
from typing import Optional

_RELEASE = re.compile(r"^\s*v?(\d+(?:\.\d+)*)\s*$")
_CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*(\d+(?:\.\d+)*)(\.\*)?\s*$")


def _tuple(s: str) -> tuple:
    return tuple(int(x) for x in s.split("."))


def _pad(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)), b + (0,) * (n - len(b))


def _clause(op: str, want: tuple, star: bool, have: tuple) -> Optional[bool]:
    if star:
        if op not in ("==", "!="):
            return None
        prefix = have[: len(want)] + (0,) * max(0, len(want) - len(have))
        return (prefix == want) if op == "==" else (prefix != want)
    if op == "===":
        return None
    a, b = _pad(have, want)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "~=":
        if len(want) < 2:
            return None
        prefix = want[:-1]
        return a >= b and have[: len(prefix)] + (0,) * max(0, len(prefix) - len(have)) == prefix
    return None


def _fast(spec: str, version: str) -> Optional[bool]:
    m = _RELEASE.match(version)
    if not m:
        return None
    have = _tuple(m.group(1))
    result = True
    for raw in spec.split(","):
        if not raw.strip():
            continue
        c = _CLAUSE.match(raw)
        if not c:
            return None
        r = _clause(c.group(1), _tuple(c.group(2)), bool(c.group(3)), have)
        if r is None:
            return None
        result = result and r
    return result


def spec_contains(spec, version) -> Optional[bool]:
    """Does ``version`` satisfy ``spec``? None when either is missing or not valid PEP 440.

    ``spec`` may be a string or anything with a ``spec`` / ``specifier`` attribute (a compat
    model entry, a packaging SpecifierSet)."""
    spec = spec_str(spec)
    if not spec or version is None:
        return None
    version = str(version)
    fast = _fast(spec, version)
    if fast is not None:
        return fast
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None


def spec_str(spec) -> Optional[str]:
    """A specifier as a plain string ("" and None both give None)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec.strip() or None
    for attr in ("spec", "specifier"):
        if hasattr(spec, attr):
            return str(getattr(spec, attr)) or None
    return str(spec) or None


def parse(s):
    """``packaging.version.Version`` for ``s``, or None when it is missing or not PEP 440."""
    if s is None:
        return None
    from packaging.version import InvalidVersion, Version

    try:
        return Version(str(s))
    except InvalidVersion:
        return None


def major_minor(version) -> Optional[tuple]:
    """(major, minor) of a version string, or None."""
    v = parse(version)
    return (v.major, v.minor) if v is not None else None


def _bounds(spec: str):
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        clauses = list(SpecifierSet(spec))
    except InvalidSpecifier:
        return []
    out = []
    for c in clauses:
        bound = parse(c.version.rstrip(".*"))
        if bound is not None:
            out.append((c.operator, bound))
    return out


def below_lower_bound(spec: str, version) -> bool:
    """True when ``version`` is below a ``>=`` / ``>`` / ``~=`` / ``==`` bound of ``spec``
    (too old, as opposed to too new)."""
    v = parse(version)
    if v is None:
        return False
    return any(op in (">=", ">", "~=", "==") and v < bound for op, bound in _bounds(spec))


def lower_bound_major(spec: str) -> int:
    """The highest major version among ``spec``'s lower bounds (0 when it has none)."""
    majors = [bound.major for op, bound in _bounds(spec) if op in (">=", ">", "~=", "==")]
    return max(majors) if majors else 0
