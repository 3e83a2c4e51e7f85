"""PEP 440 specifier checks, fast for the common case.

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


def spec_contains(spec: str, version: str) -> Optional[bool]:
    """Does ``version`` satisfy ``spec``? None when either is not valid PEP 440."""
    fast = _fast(spec, version)
    if fast is not None:
        return fast
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None
