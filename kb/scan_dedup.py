"""Count one de-duplicated region of a log exactly as the per-line path would have.

Why a module of its own: :mod:`tfhelp.kb.scan` reads the log and runs the engine; this part
answers one narrow question for a dense region (many anchor hits, see ``LogScanner._process``):
given the region's lines grouped into distinct messages, which findings does each message add
and how many *occurrences* does that make?  Both paths must give the same answer
(tests/test_scan_dedup_equivalence.py), so the rule for counting lives in one place:

* A message seen for the first time is run through the engine once, at its first occurrence,
  and the result (which rules fired, and the extent of their evidence relative to the line) is
  cached under the same key the per-line path uses (``scan._key`` of the hit's segment).
* An occurrence of rule R at line L with extent ``[L+lo, L+hi]`` is new when ``L+lo`` lies after
  the last line already claimed for R; it then claims up to ``L+hi``.  When every extent of R in
  the region is the line itself (``lo == hi == 0``) and nothing of R was claimed inside the region
  yet, that is simply the number of lines: counted in bulk, no per-occurrence work.  Otherwise the
  occurrences of R's messages are walked in line order, exactly as the per-line path meets them
  (each line is labelled with its message once, in C; the walk visits only R's occurrences).
  Lines that are near repeats of each other are separate occurrences (``scan._repeats``), so in
  practice only multi-line notices and tracebacks are walked.
* A message whose first window held near misses (rules that partly matched) is looked at again
  with those rules at its 2nd, 4th, 8th ... occurrence in the whole log, as the per-line path does.

Pure library: no printing, no I/O.
"""
from __future__ import annotations

from itertools import islice
from typing import Optional


class Region:
    """The lines of one region (folded: lowercase, digits as ``#``) and the scanner to update."""

    def __init__(self, scanner, lines: list, counts, r0: int, first_line: int, folded: Optional[bytes] = None):
        self.s = scanner
        self.folded = folded if folded is not None and folded.endswith(b"\n") else None
        self.lines = lines          # folded lines; lines[-1] is b"" when the region ends with \n
        self.counts = counts        # Counter of lines
        self.r0 = r0                # buffer offset of lines[0]
        self.first = first_line     # 0-based log line of lines[0]
        self._groups: list = []
        self._mapped = None         # per line: 1 + its group's index, or None
        self._rev = None
        self._occ: dict = {}

    # -- where a message occurs --------------------------------------------------------------
    # One C pass (``map`` of a dict lookup over the lines) labels every line with its group;
    # after that, finding a group's first, last or every occurrence is ``list.index`` over small
    # ints (identity compares in C), with Python work only per occurrence actually visited.
    def _labels(self) -> list:
        if self._mapped is None:
            owner = {v: g + 1 for g, grp in enumerate(self._groups) for v, _ in grp}
            self._mapped = list(map(owner.get, self.lines))
        return self._mapped

    def first_index(self, gid: int) -> int:
        group = self._groups[gid]
        if len(group) == 1:   # one variant: list.index compares the lines themselves, in C
            return self.lines.index(group[0][0])
        return self._labels().index(gid + 1)

    def last_index(self, gid: int) -> int:
        group = self._groups[gid]
        if len(group) == 1 and self.folded is not None:  # one variant: a search from the end
            return _last_line(self.folded, group[0][0], len(self.lines) - 1)
        if self._rev is None:
            self._rev = self._labels()[::-1]
        return len(self.lines) - 1 - self._rev.index(gid + 1)

    def occurrences(self, gid: int) -> list:
        """Indices (into ``lines``) of every occurrence of group ``gid``, in order."""
        got = self._occ.get(gid)
        if got is None:
            labels, tag, i = self._labels(), gid + 1, -1
            index = labels.index
            got = []
            for _ in range(sum(self.counts[v] for v, _ in self._groups[gid])):
                i = index(tag, i + 1)
                got.append(i)
            self._occ[gid] = got
        return got

    # -- the region ------------------------------------------------------------------------
    def run(self, groups: list) -> None:
        """``groups``: one list per distinct message, of (folded line, offset just past its
        first anchor hit), the variants of one message (hex addresses aside)."""
        from tfhelp.kb.scan import LINE_CAP, _key, _segment

        s = self.s
        self._groups = groups
        keys, sizes = [], []
        for g in groups:
            v0, off0 = g[0]
            keys.append(_key(_segment(v0, off0 - 1)[:LINE_CAP]))
            sizes.append(sum(self.counts[v] for v, _ in g))
        s.stats.candidates += sum(sizes)
        # New messages: the engine once each, at the first occurrence, in line order (the first
        # finding of a rule keeps that occurrence's evidence and line).
        fresh = sorted((self.first_index(i), i) for i in range(len(groups)) if keys[i] not in s._cache)
        for a, i in fresh:
            if keys[i] in s._cache:  # two groups, one key (progress-bar lines): evaluated once
                continue
            off = dict(groups[i])[self.lines[a]]
            r_ls = self.r0 + sum(map(len, islice(self.lines, a))) + a
            le = r_ls + len(self.lines[a])
            entry = s._evaluate(r_ls, min(r_ls + off, le), le, self.first + a, s._n, True, count=False)
            entry.seen = 0   # every occurrence, this one included, is counted below
            s._remember(keys[i], entry)
        entries = [s._cache[k] for k in keys]
        by_rule: dict = {}
        for gi, e in enumerate(entries):
            for rid, lo, hi in e.hits:
                by_rule.setdefault(rid, []).append((gi, lo, hi))
        start = self.first + 1  # 1-based log line of lines[0]
        walk = {gi for rid, items in by_rule.items() if not self._bulk(rid, items, start)
                for gi, _, _ in items}
        for rid, items in by_rule.items():
            f = s._findings.get(rid)
            if f is None:
                continue
            if not walk.intersection(gi for gi, _, _ in items):
                f.count += sum(sizes[gi] for gi, _, _ in items)
                f.claimed = max(f.claimed, start + max(self.last_index(gi) for gi, _, _ in items))
                continue
            if len(items) == 1:  # one message: its occurrences are in line order already
                gi, lo, hi = items[0]
                occ = [(i, lo, hi) for i in self.occurrences(gi)]
            else:
                occ = [(i, lo, hi) for gi, lo, hi in items for i in self.occurrences(gi)]
                occ.sort()
            claimed, n = f.claimed - start, 0   # relative to lines[0]
            for i, lo, hi in occ:
                if i + lo > claimed:
                    n += 1
                if i + hi > claimed:
                    claimed = i + hi
            f.count += n
            f.claimed = claimed + start
        self._recheck(groups, entries, sizes)

    def _bulk(self, rid: str, items: list, start: int) -> bool:
        """True when rule ``rid``'s occurrences in this region can be counted without walking
        them: every extent is its own line and nothing was claimed inside the region yet."""
        f = self.s._findings.get(rid)
        if f is None:
            return True
        return f.claimed < start and all(lo == 0 and hi == 0 for _, lo, hi in items)

    def _recheck(self, groups: list, entries: list, sizes: list) -> None:
        """Near misses: re-run those rules at the log-wide 2nd, 4th, 8th ... occurrence."""
        s = self.s
        for gi, e in enumerate(entries):
            seen, c = e.seen, sizes[gi]
            e.seen = seen + c
            if not e.near:
                continue
            rules = [r for r in (s.ruleset.get(i) for i in e.near) if r is not None]
            p = 1
            while p <= seen:
                p <<= 1
            want = []
            while p <= seen + c:
                if p > 1:
                    want.append(p - seen - 1)  # 0-based among this region's occurrences
                p <<= 1
            if not (want and rules):
                continue
            occ = self.occurrences(gi)
            lookup = dict(groups[gi])
            for j in want:
                a = occ[j]
                r_ls = self.r0 + sum(map(len, islice(self.lines, a))) + a
                le = r_ls + len(self.lines[a])
                off = lookup[self.lines[a]]
                s._evaluate(r_ls, min(r_ls + off, le), le, self.first + a, s._n, True,
                            recheck=rules, cached=e, count_cached=False)


#: A dense region with at most this many distinct (folded) lines is remembered: the next region
#: is first tried as a tiling of those lines (:func:`tiled`).
FEW = 8


def remember_few(scanner, counts, hits: Optional[dict], trailing: bool) -> None:
    """After a region: keep its distinct lines when they are few, each with the offset just past
    its first anchor hit (None: no hit), for :func:`tiled` to try on the next region.  ``hits``
    None: some message had several variants (hex addresses), not a case for tiling.
    ``trailing``: the region ended with a newline, so ``counts`` holds one empty "line" after it."""
    keys = [k for k, c in counts.items() if c > (1 if trailing and k == b"" else 0)]
    if hits is None or len(keys) > FEW:
        scanner._few = None
        return
    # the tiling argument needs no line to be the tail of another (then every counted
    # "line\n" starts at a line start), and one cache entry per line
    if len(keys) > 1 and any(a != b and a.endswith(b) for a in keys for b in keys):
        scanner._few = None
        return
    scanner._few = [(k, hits.get(k)) for k in keys]


def tiled(scanner, folded: bytes, first_line: int) -> Optional[int]:
    """The cheap case of a dense region: it is made only of the few lines of the previous one
    (a warning printed at every step), all already diagnosed.  Then ``bytes.count`` per line (C,
    one pass each) gives every count, and every rule's occurrences are its lines, counted in bulk.
    Exact: the counted ``line\\n`` strings are disjoint (none is the tail of another) and their
    lengths sum to the region's, so they tile it.  Returns the number of lines handled, or None
    (nothing changed: the caller takes the general path)."""
    from tfhelp.kb.scan import LINE_CAP, _key, _segment

    few = scanner._few
    if not few or not folded.endswith(b"\n"):
        return None
    counts = [folded.count(k + b"\n") for k, _ in few]
    if sum(c * (len(k) + 1) for (k, _), c in zip(few, counts)) != len(folded):
        return None
    start = first_line + 1
    plan, by_rule = [], {}
    for (k, off), c in zip(few, counts):
        if off is None or not c:
            continue
        e = scanner._cache.get(_key(_segment(k, off - 1)[:LINE_CAP]))
        if e is None:
            return None  # the cache was reset: diagnose again on the general path
        if e.near:
            p = 1
            while p <= e.seen:
                p <<= 1
            if p <= e.seen + c:
                return None  # a near-miss re-check is due in this region
        plan.append((k, c, e))
        for rid, lo, hi in e.hits:
            f = scanner._findings.get(rid)
            if f is not None and (lo or hi or f.claimed >= start):
                return None  # an occurrence spans lines: the general path walks them
            by_rule.setdefault(rid, []).append((k, c))
    n = sum(counts)
    for k, c, e in plan:
        e.seen += c
        scanner.stats.candidates += c
    for rid, items in by_rule.items():
        f = scanner._findings.get(rid)
        if f is None:
            continue
        f.count += sum(c for _, c in items)
        f.claimed = max(f.claimed, start + max(_last_line(folded, k, n) for k, _ in items))
    return n


def _last_line(folded: bytes, key: bytes, n: int) -> int:
    """0-based index of the last line equal to ``key`` in ``folded`` (``n`` lines, ends in \\n)."""
    p = folded.rfind(b"\n" + key + b"\n")
    if p < 0:
        return 0  # only at the very start
    from tfhelp.kb.scan import newlines

    return n - 1 - newlines(folded, p + len(key) + 2)
