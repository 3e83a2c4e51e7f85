"""Stream a log of any size and report every independent cause in it.

Design (the scanner never holds more than a few chunks of the log):

1. **Prefilter.** The log is read in 8 MiB chunks.  One multi-literal search
   (:class:`tfhelp.kb.anchors.MultiLiteral`: hyperscan when installed, else one Aho-Corasick
   automaton) finds the lines that contain any rule's anchor.  Its cost is linear in the log and
   flat in the number of rules; no other per-byte work is done except counting newlines (for line
   numbers).  Lines are split on ``\\n`` only; carriage-return progress bars stay inside their line.
2. **Windows.** Around each candidate line the scanner cuts a window of context (up to
   ``BEFORE`` lines before, enough for a whole Python traceback, and ``AFTER`` lines after, each
   side also capped in bytes; a very long line is cut to its head and tail, or to the part around
   the hit) and runs the normal engine on it.  Candidates are handled in order, so a window only
   waits for its after-context; everything older than the before-context is dropped.
3. **Deduplication.**  A candidate line whose text, with numbers and addresses masked, was seen
   before reuses the earlier result (which rules fired on that line and the extent of their
   evidence) without running the engine again.  A *dense* region (more than one hit per
   ``DENSE_BYTES``; always with the pure back-end) is not looked at hit by hit at all: its lines
   are folded and counted in C, the anchors searched in one line per distinct message, and
   :mod:`tfhelp.kb.scan_dedup` counts the occurrences exactly as the per-line path would (the
   reference, ``dedup=False``; tests/test_scan_dedup_equivalence.py).  An occurrence is new
   when its evidence starts after the last evidence line already counted for that rule, so the
   several anchor lines of one traceback count once.
4. **Report.** Findings are ordered as a person should act: harmless last, symptoms after their
   root causes (``symptom_of`` across the whole log), then severity, score and first line.  Each
   carries ``first_line``, ``count`` and the evidence of its first occurrence.

This module is a pure library: no printing, no terminal.  It is one module (over 500 lines)
because the read buffer, the line numbering and the window cutting share one set of offsets.  The ``--from-log`` command
(:mod:`tfhelp.assistant.frontends.commands.log`) does the I/O and rendering.
"""
from __future__ import annotations

import io
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tfhelp.kb.anchors import FOLD, MultiLiteral
from tfhelp.kb.normalize import decode, repair_text, strip_escapes

CHUNK = 8 << 20            # bytes read at a time
BEFORE = 60                # context lines before a candidate (a deep traceback fits)
AFTER = 30                 # context lines after a candidate (the exception line after frames)
CTX_BYTES = 64 << 10       # cap on each side of the window, whatever the line lengths
LINE_CAP = 8 << 10         # a longer line keeps its head and tail (or the part around the hit)
MAX_PARTIAL = 16 << 20     # a line longer than this is cut so memory stays bounded
MAX_KEYS = 100_000         # dedup cache entries before it is reset
MAX_EXCEPTIONS = 100
TAIL_BYTES = 64 << 10      # the end of the log searched for what ended the run (kb/crash.py)
SEVERITY_RANK = {"fatal": 0, "degraded": 1, "warning": 2, "harmless": 3}
DENSE_BYTES = 4096         # more than one anchor hit per this many bytes: the region is dense
DENSE_MIN = 64             # ... and never fewer than this many hits

_MASK = re.compile(r"0x[0-9a-f]+|\d+")
_DIGITS = bytes.maketrans(b"0123456789", b"##########")
_HEX = re.compile(rb"#x[#a-f]+")  # 0x7f3a... after the digits became #


REPEAT_SIMILARITY = 85    # two lines this similar (0-100, numbers masked) are one message again


def _repeats(other: str, mine: str) -> bool:
    """Is ``other`` another printing of the message ``mine`` (numbers and addresses masked)?
    Equal, or nearly so: the same warning about another function, tensor size or library
    (``<function train_step ...>`` / ``<function test_step ...>``, ``1.02GiB`` / ``18.00MiB``) is
    a new occurrence of it, while the different lines of one traceback or one notice are not.
    This bounds an occurrence's extent to the line itself for messages printed over and over, so
    counting them needs no walk through a dense region (kb/scan_dedup.py)."""
    if other == mine:
        return True
    from rapidfuzz import fuzz

    return fuzz.ratio(other[:1024], mine[:1024], score_cutoff=REPEAT_SIMILARITY) > 0


def _key(raw: bytes) -> bytes:
    """What stays the same between two occurrences of one message: lowercased, digits and hex
    addresses masked.  Pure bytes operations (this runs for every anchor hit)."""
    k = bytes(raw).lower().translate(_DIGITS)
    if b"#x" in k:
        k = _HEX.sub(b"#x#", k)
    return k


from tfhelp.kb.sources import InputError as LogError  # noqa: E402 - one error for every input


@dataclass
class ScanStats:
    bytes: int = 0
    lines: int = 0
    candidates: int = 0       # lines with an anchor hit
    windows: int = 0          # engine calls
    seconds: float = 0.0
    backend: str = ""
    truncated: Optional[str] = None   # why the input ended early (truncated gzip, read error)


@dataclass
class _Finding:
    diag: object              # Diagnosis of the first occurrence (evidence in log line numbers)
    count: int = 0
    claimed: int = 0          # last log line already attributed to a counted occurrence


@dataclass
class _Cached:
    hits: list = field(default_factory=list)  # [(rule_id, lo - cand_line, hi - cand_line)]
    near: tuple = ()          # rules that partly matched in the first window (context-dependent)
    seen: int = 1             # occurrences of this line so far


def _cache_dir():
    try:
        from tfhelp.kb.loader import cache_dir

        return cache_dir()
    except Exception:
        return None


_PREFILTERS = threading.local()


def prefilter_for(ruleset, backend: Optional[str] = None) -> MultiLiteral:
    """The compiled prefilter over ``ruleset``'s anchors, built once per rule set, back-end and
    thread.  ``tfhelp triage`` scans thousands of small logs in one worker with one rule set, and
    building it per file (collecting and hashing the anchors, loading the hyperscan database and
    its scratch) was ~0.5 ms of a ~10 ms job log.  Per thread because a hyperscan scratch must not
    serve two scans at once (Dask workers run tasks in threads).  Rule sets are not changed after
    loading (``RuleSet`` caches its own indexes the same way), so the object identifies them."""
    from tfhelp.kb.anchors import requested_backend

    backend = requested_backend(backend)  # $TFHELP_PREFILTER counts as asking
    last = getattr(_PREFILTERS, "last", None)
    cache = _cache_dir()
    if last is not None and last[0] is ruleset and last[1] == backend and last[2] == cache:
        return last[3]
    prefilter = MultiLiteral(anchors_of(ruleset), backend=backend, cache_dir=cache)
    _PREFILTERS.last = (ruleset, backend, cache, prefilter)
    return prefilter


def anchors_of(ruleset) -> list:
    out = set()
    for rule in ruleset.rules:
        out.update(a for a in rule.anchors if a)
    return sorted(out)


def _cap(line: bytes, hit: int = -1) -> bytes:
    """A bounded piece of one line: the part around ``hit`` (an offset into ``line``) when given,
    else the head and the tail joined by a carriage return (progress bars end with their final
    state, and an error printed after a progress bar sits at the very end of the line)."""
    if len(line) <= LINE_CAP:
        return line
    if hit >= 0:
        lo = max(0, hit - LINE_CAP // 2)
        return line[lo:lo + LINE_CAP]
    return line[:LINE_CAP // 4] + b"\r" + line[-(LINE_CAP * 3 // 4):]


def _segment(line: bytes, hit: int) -> bytes:
    """The carriage-return segment of ``line`` holding byte offset ``hit``."""
    s = line.rfind(b"\r", 0, hit) + 1
    e = line.find(b"\r", hit)
    return line[s:] if e < 0 else line[s:e]


NL_PIECE = 64 << 10        # newline counting: pieces this size stay in the CPU's cache


def newlines(buf, lo: int = 0, hi: Optional[int] = None) -> int:
    """Number of ``\\n`` in ``buf[lo:hi]`` (bytes or bytearray), through the fastest C primitive.
    ``bytes.count`` of one byte is CPython's plain ``count_char`` loop (about 1 ns a byte, not
    vectorised), while ``len(piece) - len(piece.replace(b"\\n", b""))`` runs memchr twice: on
    2 shared cores over 256 MB, 0.17 s CPU for ``count`` against 0.04-0.08 s in 64 KB pieces
    (whole 8 MB pieces pay fresh-page faults for the copy and the result, 0.3-0.6 s).  Short
    ranges keep ``count`` (no copies); the answer is the same either way
    (tests/test_scan_newlines.py)."""
    if hi is None:
        hi = len(buf)
    if hi - lo < 4096:
        return buf.count(b"\n", lo, hi) if hi > lo else 0
    n = 0
    with memoryview(buf) as mv:
        for a in range(lo, hi, NL_PIECE):
            b = min(hi, a + NL_PIECE)
            n += b - a - len(bytes(mv[a:b]).replace(b"\n", b""))
    return n


def _clean(line: bytes) -> str:
    return strip_escapes(decode(line)).rstrip("\r")


class LogScanner:
    """Incremental scanner: ``feed(bytes)`` any number of times, then ``finish()`` -> Report."""

    def __init__(self, ruleset, env=None, backend: Optional[str] = None, engine=None, dedup: bool = True):
        """``dedup=False`` keeps every region on the per-line path (each anchor hit looked at on
        its own): slower on dense logs, and the reference the de-duplicating path must agree
        with (tests/test_scan_dedup_equivalence.py)."""
        from tfhelp.kb.engine import Engine

        self._started = time.perf_counter()  # includes building the prefilter
        self.ruleset = ruleset
        self.engine = engine or Engine(ruleset)
        self.env = env
        self.prefilter = prefilter_for(ruleset, backend)
        self.stats = ScanStats(backend=self.prefilter.backend)
        # One reused buffer (fresh 8 MB allocations per chunk cost page faults): _buf[:_n] holds
        # the log from absolute offset _base; reads land after it, the kept tail moves to the front.
        self._buf = bytearray()
        self._n = 0
        self._base = 0          # absolute offset of _buf[0]
        self._scan_pos = 0      # absolute offset up to which the prefilter has run
        self._pending = []      # [(line_start_abs, hit_abs)] waiting for after-context
        self._count_off = 0     # absolute offset up to which newlines are counted
        self._count_lines = 0   # newlines in [0, _count_off)
        self._findings: dict = {}
        self._cache: dict = {}
        self._dedup = dedup
        self._few = None        # the few distinct lines of the last dense region (kb/scan_dedup.py)
        self._dedup_first = dedup and self.prefilter.backend != "hyperscan"
        self._exceptions = []
        self._exc_seen = set()
        self._facts: dict = {}
        self._related: dict = {}
        self._ended_with_newline = True

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if not data:
            return
        self._reserve(len(data))
        self._buf[self._n:self._n + len(data)] = data
        self._added(len(data))

    def read_from(self, fh, size: int = CHUNK) -> int:
        """Read up to ``size`` bytes from binary stream ``fh`` straight into the buffer and scan
        them.  Returns the number of bytes read (0 at the end of the stream)."""
        self._reserve(size)
        readinto = getattr(fh, "readinto", None)
        if readinto is not None:
            with memoryview(self._buf) as mv, mv[self._n:self._n + size] as dst:
                got = readinto(dst) or 0
        else:
            data = fh.read(size) or b""
            got = len(data)
            self._buf[self._n:self._n + got] = data
        if got:
            self._added(got)
        return got

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if len(self._buf) < need:
            self._buf.extend(bytes(need - len(self._buf)))

    def _added(self, k: int) -> None:
        self.stats.bytes += k
        self._n += k
        self._ended_with_newline = self._buf[self._n - 1] == 10
        self._process(eof=False)

    def finish(self, truncated: Optional[str] = None):
        self._process(eof=True)
        self._crash = self._tail_crash()
        self.stats.truncated = truncated
        self._line_at(self._base + self._n)
        lines = self._count_lines + (0 if self._ended_with_newline or not self.stats.bytes else 1)
        self.stats.lines = lines
        self.stats.seconds = time.perf_counter() - self._started
        return self._report(lines)

    def _tail_crash(self):
        """What ended the run, from the last TAIL_BYTES of the log (the buffer still holds them)."""
        from tfhelp.kb.crash import detect

        n = self._n
        start = max(0, n - TAIL_BYTES)
        if start:
            nl = self._buf.find(b"\n", start, n)
            start = nl + 1 if nl >= 0 else n
        if start >= n:
            return None
        first = self._line_at(self._base + start)
        lines = []
        for raw in bytes(self._buf[start:n]).split(b"\n"):
            t = _clean(_cap(raw))
            if "\r" in t:  # a progress bar: what follows its last redraw
                t = t.rsplit("\r", 1)[-1]
            lines.append(repair_text(t).rstrip())
        return detect(lines, offset=first)

    # -- line numbers ----------------------------------------------------------------------
    def _line_at(self, abs_off: int) -> int:
        """0-based line index of absolute offset ``abs_off`` (must not go backwards past the
        buffer start)."""
        if abs_off > self._count_off:
            lo = self._count_off - self._base
            self._count_lines += newlines(self._buf, lo, abs_off - self._base)
            self._count_off = abs_off
            return self._count_lines
        if abs_off == self._count_off:
            return self._count_lines
        return self._count_lines - newlines(self._buf, abs_off - self._base, self._count_off - self._base)

    # -- the loop --------------------------------------------------------------------------
    def _process(self, eof: bool) -> None:
        buf = self._buf
        n = self._n
        rel_scan = self._scan_pos - self._base
        if eof:
            end_rel = n
        else:
            nl = buf.rfind(b"\n", rel_scan, n)
            if nl >= 0:
                end_rel = nl + 1
            elif n - rel_scan > MAX_PARTIAL:
                end_rel = n  # a line longer than MAX_PARTIAL: cut it here
            else:
                end_rel = rel_scan
        if end_rel > rel_scan:
            hits = None
            if self._dedup_first:  # the pure back-end walks every byte in Python-called code
                hits = False
            else:
                limit = max(DENSE_MIN, (end_rel - rel_scan) // DENSE_BYTES) if self._dedup else None
                hits = self.prefilter.line_hits(buf, rel_scan, end_rel, limit=limit)
            if hits is None or hits is False:
                # Dense region (or the pure back-end): de-duplicate its lines, then look at each
                # distinct line once.  It stops short of the end so every window's after-context
                # is already in the buffer.
                cut = end_rel
                if not eof:
                    cut = buf.rfind(b"\n", rel_scan, max(rel_scan, end_rel - CTX_BYTES - 1)) + 1
                if cut > rel_scan and self._drain(self._base + end_rel, eof) and self._dedup_region(rel_scan, cut):
                    self._scan_pos = self._base + cut
                    end_rel = cut
                    hits = []
                elif hits is False or cut <= rel_scan:
                    if cut <= rel_scan and not eof:
                        hits = []  # too little read yet: wait for more
                        end_rel = rel_scan
                    else:
                        hits = self.prefilter.line_hits(buf, rel_scan, end_rel)
                else:
                    hits = self.prefilter.line_hits(buf, rel_scan, end_rel)
            if hits:
                self.stats.candidates += len(hits)
                base = self._base
                rfind = buf.rfind
                self._pending.extend((base + rfind(b"\n", 0, h - 1) + 1, base + h) for h in hits)
            if end_rel > rel_scan:
                self._scan_pos = self._base + end_rel
        if self._pending:
            self._drain(self._base + end_rel, eof)
        # Drop what no future window can need.
        keep = self._scan_pos - CTX_BYTES - LINE_CAP
        if self._pending:
            keep = min(keep, self._pending[0][0] - CTX_BYTES - LINE_CAP)
        if keep > self._base:
            self._line_at(keep)
            k = keep - self._base
            m = self._n - k
            self._buf[0:m] = self._buf[k:self._n]
            self._n = m
            self._base = keep

    def _drain(self, limit: int, eof: bool) -> bool:
        """Diagnose the pending candidates whose context is read.  True when none is left."""
        done = 0
        for ls, hit in self._pending:
            if not self._window(ls, hit, limit, eof):
                break
            done += 1
        del self._pending[:done]
        return not self._pending

    def _dedup_region(self, r0: int, r1: int) -> bool:
        """Scan the whole lines in ``buf[r0:r1]`` by their distinct folded forms: a few C passes
        over the bytes (fold, split, count) plus Python work per *distinct* line; whatever the
        number of anchor hits, the engine runs once per distinct message."""
        from collections import Counter
        from itertools import accumulate

        from tfhelp.kb.scan_dedup import Region, remember_few, tiled

        with memoryview(self._buf) as mv, mv[r0:r1] as view:
            folded = bytes(view).translate(FOLD)
        first_line = self._line_at(self._base + r0)  # 0-based index of lines[0]
        n = tiled(self, folded, first_line) if self._few else None
        if n is not None:   # the few lines of the previous region again, all known
            self._count_off = self._base + r1
            self._count_lines = first_line + n
            return True
        lines = folded.split(b"\n")
        counts = Counter(lines)    # insertion order: first appearance
        # one group per message: variants that differ only in hex addresses (0x7f3a...) go
        # together, and the anchors are searched in one variant of each message
        groups: dict = {}
        for v in counts:
            k = _HEX.sub(b"#x#", v) if b"#x" in v else v
            g = groups.get(k)
            if g is None:
                groups[k] = [v]
            else:
                g.append(v)
        reps = [g[0] for g in groups.values()]
        hit_ends = self.prefilter.folded_hits(b"\n".join(reps))
        if hit_ends:
            from bisect import bisect_right

            starts = list(accumulate((len(k) + 1 for k in reps), initial=0))
            offs: dict = {}
            for h in hit_ends:
                i = bisect_right(starts, h - 1) - 1
                offs.setdefault(i, h - starts[i])
            members = list(groups.values())
            Region(self, lines, counts, r0, first_line, folded).run([[(v, offs[i]) for v in members[i]] for i in offs])
            hits = {reps[i]: off for i, off in offs.items()} if len(reps) == len(counts) else None
        else:
            hits = {} if len(reps) == len(counts) else None
        remember_few(self, counts, hits, folded.endswith(b"\n"))
        self._count_off = self._base + r1
        self._count_lines = first_line + len(lines) - 1
        return True

    def _window(self, ls: int, hit: int, limit: int, eof: bool) -> bool:
        """Diagnose the window around the candidate line starting at ``ls``.  Returns False when
        its after-context isn't read yet (try again after the next chunk)."""
        buf, base = self._buf, self._base
        r_ls, r_hit = ls - base, hit - base
        r_limit = limit - base
        le = buf.find(b"\n", r_hit - 1, r_limit)
        line_end = le if le >= 0 else r_limit
        if le < 0 and not eof and r_limit - r_ls < MAX_PARTIAL:
            return False  # the rest of the candidate line isn't here yet
        line_no = self._line_at(ls)  # 0-based
        key = _key(_segment(buf[r_ls:line_end], r_hit - r_ls - 1)[:LINE_CAP])
        cached = self._cache.get(key)
        recheck = None
        if cached is not None:
            n = cached.seen + 1
            if not cached.near or n & (n - 1):
                cached.seen = n
                self._count_cached(cached, line_no + 1)
                return True
            # The same line in another context may complete a rule that only partly matched the
            # first time (a multi-line `all`): at the 2nd, 4th, 8th ... occurrence, re-run just
            # those rules on this occurrence's window.
            recheck = [r for r in (self.ruleset.get(i) for i in cached.near) if r is not None]
        res = self._evaluate(r_ls, r_hit, line_end, line_no, r_limit, eof, recheck, cached)
        if res is None:
            return False
        if recheck is None:
            self._remember(key, res)
        return True

    def _evaluate(self, r_ls: int, r_hit: int, line_end: int, line_no: int, r_limit: int, eof: bool,
                  recheck=None, cached=None, count_cached: bool = True, count: bool = True):
        """Run the engine on the window around the line at buffer offset ``r_ls`` (0-based log
        line ``line_no``), count this occurrence (unless ``count`` is False: the de-duplicating
        path counts every occurrence itself, in line order), and return the line's cache entry
        (None: the after-context isn't read yet)."""
        buf = self._buf
        # after-context: AFTER lines, at most CTX_BYTES
        stop = min(r_limit, line_end + 1 + CTX_BYTES)
        pos, after = line_end + 1, 0
        while after < AFTER:
            nl = buf.find(b"\n", pos, stop)
            if nl < 0:
                break
            pos = nl + 1
            after += 1
        if after >= AFTER or stop < r_limit:
            win_end = min(pos, r_limit)
        elif eof:
            win_end = r_limit
        else:
            return None  # wait for the next chunk
        # before-context
        floor = max(0, r_ls - CTX_BYTES)
        start, before = r_ls, 0
        while before < BEFORE and start > floor:
            p = buf.rfind(b"\n", floor, start - 1)
            if p < 0:
                start = floor if floor == 0 else start
                break
            start = p + 1
            before += 1
        if start > 0 and buf[start - 1:start] != b"\n":  # never begin mid-line
            nl = buf.find(b"\n", start, r_ls)
            start = nl + 1 if nl >= 0 else r_ls
        first_line = line_no + 1 - newlines(buf, start, r_ls)
        raw_lines = buf[start:win_end].split(b"\n")
        if raw_lines and raw_lines[-1] == b"" and win_end > start and buf[win_end - 1:win_end] == b"\n":
            raw_lines.pop()
        cand_idx = line_no + 1 - first_line
        texts, owner = [], []
        for i, raw in enumerate(raw_lines):
            capped = _cap(raw, (r_hit - r_ls - 1) if i == cand_idx else -1)
            t = _clean(capped)
            texts.append(t)
            pieces = 1 + t.count("\r")
            owner.extend([first_line + i] * pieces)
        self.stats.windows += 1
        if recheck is not None:
            if count_cached:
                cached.seen += 1
                self._count_cached(cached, line_no + 1)
            report = self.engine.diagnose("\n".join(texts), self.env, rules=recheck, crash=False)
        else:
            report = self.engine.diagnose("\n".join(texts), self.env, crash=False)
        cand = line_no + 1
        full_keys: dict = {}

        def full_key(ln: int) -> str:
            k = full_keys.get(ln)
            if k is None:
                k = full_keys[ln] = _MASK.sub("#", texts[ln - first_line].lower())
            return k

        entries = []
        for d in report.diagnoses:
            ev = sorted({owner[min(len(owner), max(1, e.line)) - 1] for e in d.evidence}) or [cand]
            if cand in ev:
                # This occurrence's extent: its evidence between the previous and the next
                # repeat of the candidate's own message (a window may hold several repeats).
                k = full_key(cand)
                prev = max((e for e in ev if e < cand and _repeats(full_key(e), k)), default=0)
                nxt = min((e for e in ev if e > cand and _repeats(full_key(e), k)), default=None)
                ev = [e for e in ev if e > prev and (nxt is None or e < nxt)]
                entries.append((d.id, ev[0] - cand, ev[-1] - cand))
                self._claim(d, ev[0], ev[-1], owner, count=count)
            else:
                # Fired on other lines of the window: those lines are (or were) candidates of
                # their own and count there; only make sure the finding exists.
                self._claim(d, ev[0], ev[-1], owner, count=False)
        self._absorb(report, owner)
        return _Cached(entries, tuple(d.id for d in report.related if d.matched))

    def _remember(self, key: bytes, entry: _Cached) -> None:
        if len(self._cache) >= MAX_KEYS:
            self._cache.clear()
        self._cache[key] = entry

    def _count_cached(self, cached: _Cached, line: int) -> None:
        for rid, lo, hi in cached.hits:
            f = self._findings.get(rid)
            if f is None:
                continue
            a, b = line + lo, line + hi
            if a > f.claimed:
                f.count += 1
            f.claimed = max(f.claimed, b)

    def _claim(self, d, lo: int, hi: int, owner: list, count: bool = True) -> None:
        from tfhelp.kb.report import Evidence

        f = self._findings.get(d.id)
        if f is None:
            d.evidence = [Evidence(owner[min(len(owner), max(1, e.line)) - 1], e.text) for e in d.evidence]
            d.first_line = lo
            f = self._findings[d.id] = _Finding(d, 0, 0)
        if not count:
            return
        if lo > f.claimed:
            f.count += 1
        f.claimed = max(f.claimed, hi)

    def _absorb(self, report, owner: list) -> None:
        for e in report.exceptions:
            if len(self._exceptions) >= MAX_EXCEPTIONS:
                break
            line = owner[min(len(owner), max(1, e.line)) - 1]
            k = (line, e.type)
            if k not in self._exc_seen:
                self._exc_seen.add(k)
                e.line = line
                self._exceptions.append(e)
        for k, v in (report.facts or {}).items():
            if isinstance(v, dict):
                slot = self._facts.setdefault(k, {})
                if isinstance(slot, dict):
                    for kk, vv in v.items():
                        slot.setdefault(kk, vv)
            else:
                self._facts.setdefault(k, v)
        if not report.diagnoses:
            for d in report.related:
                if d.id not in self._related and len(self._related) < 5:
                    d.evidence = [type(e)(owner[min(len(owner), max(1, e.line)) - 1], e.text) for e in d.evidence]
                    d.first_line = d.evidence[0].line if d.evidence else 0
                    self._related[d.id] = d

    # -- result ----------------------------------------------------------------------------
    def _report(self, lines: int):
        from tfhelp.kb.environment import Environment
        from tfhelp.kb.report import Report

        diags = []
        for f in self._findings.values():
            d = f.diag
            d.count = max(1, f.count)
            d.symptom = None
            diags.append(d)
        ids = {d.id for d in diags}
        for d in diags:
            for root in getattr(d.rule, "symptom_of", ()) or ():
                if root in ids and root != d.id:
                    d.symptom = root
                    break
        diags = order_findings(diags)
        related = [d for d in self._related.values() if d.id not in ids]
        env = self.env
        if env is None and self._facts:
            text_env = Environment.from_facts(self._facts)
            env = text_env if text_env.known else None
        notes = []
        if self.stats.truncated:
            notes.append(f"The input ended early ({self.stats.truncated}); the scan covers what was read.")
        from tfhelp.kb.crash import attach

        report = Report(diagnoses=diags, related=related, lines=lines, exceptions=self._exceptions,
                        facts=self._facts, environment=env, notes=notes)
        return attach(report, getattr(self, "_crash", None),
                      last_lines={rid: f.claimed for rid, f in self._findings.items()})


def order_findings(diags: list) -> list:
    """As a person should act: each root cause followed by its symptoms; harmless noise last;
    otherwise fatal before degraded before warning, then score and first line."""
    def key(d):
        return (d.rule.severity == "harmless", SEVERITY_RANK.get(d.rule.severity, 9), -d.score,
                getattr(d.rule, "priority", 1000), d.first_line, d.id)

    children: dict = {}
    roots = []
    for d in diags:
        if d.symptom:
            children.setdefault(d.symptom, []).append(d)
        else:
            roots.append(d)
    out, placed = [], set()

    def place(d):
        if d.id in placed:
            return
        placed.add(d.id)
        out.append(d)
        for c in sorted(children.get(d.id, []), key=key):
            place(c)

    for d in sorted(roots, key=key):
        place(d)
    for d in sorted(diags, key=key):  # symptom cycles: whatever is left, in plain order
        place(d)
    harmless = [d for d in out if d.rule.severity == "harmless"]
    return [d for d in out if d.rule.severity != "harmless"] + harmless


# -- files -------------------------------------------------------------------------------------
# Opening inputs (file-type checks, gzip, bounds) lives in tfhelp.kb.sources, shared with triage.
from tfhelp.kb.sources import TruncatedInput, _GzipStream, _Peeked  # noqa: E402,F401 - re-exported


def open_log(path: str, stdin=None, **options):
    """Open ``path`` (``-`` = ``stdin``'s bytes) for streaming: see
    :func:`tfhelp.kb.sources.open_source` (regular files and ``-`` only unless
    ``allow_special=True``; gzip detected and bounded).  Returns (stream, size or None)."""
    from tfhelp.kb.sources import open_source

    return open_source(path, stdin=stdin, **options)


def scan_file(fh, ruleset, env=None, progress: Optional[Callable[[int], None]] = None,
              chunk: int = CHUNK, backend: Optional[str] = None, dedup: bool = True):
    """Scan an open binary stream to its end.  Returns (Report, ScanStats).  A stream that ends
    badly (truncated gzip, read error) still yields what was read, with ``stats.truncated`` set."""
    import gzip
    import zlib

    scanner = LogScanner(ruleset, env=env, backend=backend, dedup=dedup)
    truncated = None
    done = 0
    try:
        while True:
            got = scanner.read_from(fh, chunk)
            if not got:
                break
            done += got
            if progress is not None:
                progress(done)
    except EOFError:
        truncated = "compressed file ended before the end-of-stream marker (truncated gzip)"
    except (gzip.BadGzipFile, zlib.error) as exc:
        truncated = f"corrupt gzip data: {exc}"
    except OSError as exc:
        truncated = f"read error: {exc.strerror or exc}"
    report = scanner.finish(truncated)
    return report, scanner.stats
