"""Find every occurrence of any of many lowercase literals in large byte buffers.

This is the log scanner's first stage: it must keep up with the disk, and its cost must not grow
with the number of rules.  Two back-ends give the same answer:

* ``hyperscan`` (the optional ``fast`` extra): all literals in one compiled database, scanned
  case-insensitively straight over the raw bytes at several GB/s, flat in the number of literals.
* ``ahocorasick`` (pyahocorasick, a core dependency): one automaton over all literals.  The
  buffer is lowercased (``bytes.lower``, ASCII only, same length) and viewed as Latin-1 text so
  that string offsets are byte offsets.  After a hit the search restarts at the next line,
  since the scanner only needs to know *which lines* contain an anchor.

Literals are matched as UTF-8 bytes, so non-ASCII anchors work too (case-folded only in ASCII).
"""
from __future__ import annotations

from typing import Iterable, Optional


def _hyperscan():
    try:
        import hyperscan  # type: ignore
    except Exception:  # ImportError, or a broken native library
        return None
    return hyperscan


def _compile(hs, literals: list):
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    # Every byte written as \xHH: a literal can contain no regex syntax.
    exprs = [b"".join(b"\\x%02x" % c for c in lit) for lit in literals]
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
               flags=[hs.HS_FLAG_CASELESS] * len(exprs))
    return db


def _load_or_compile(hs, literals: list, cache_dir):
    """Compiling 10 000 literals takes ~0.6 s; a serialized database loads in well under 1 ms.
    The cache file is keyed by the literals and the hyperscan version; any problem with it
    (missing, corrupt, unwritable folder) falls back to compiling."""
    if cache_dir is None:
        return _compile(hs, literals)
    import hashlib
    import os

    h = hashlib.sha256(str(getattr(hs, "__version__", "")).encode())
    for lit in literals:
        h.update(lit + b"\0")
    path = os.path.join(str(cache_dir), f"anchors-{h.hexdigest()[:24]}.hsdb")
    from tfhelp.kb.cachefile import read_trusted, write_private

    # A serialized database is parsed by native code: it is only handed over when the file is
    # ours, nobody else can write it (tfhelp.kb.cachefile), and it carries this key and the
    # SHA-256 of the database bytes (a truncated or corrupted file is a miss, not a crash).
    key = h.digest()
    blob = read_trusted(path, max_bytes=256 << 20)
    if blob is not None and blob[:len(_HSDB_MAGIC)] == _HSDB_MAGIC:
        head = len(_HSDB_MAGIC) + 64
        body = blob[head:]
        if blob[len(_HSDB_MAGIC):len(_HSDB_MAGIC) + 32] == key and \
                blob[len(_HSDB_MAGIC) + 32:head] == hashlib.sha256(body).digest():
            try:
                db = hs.loadb(body, hs.HS_MODE_BLOCK)
                db.scratch = hs.Scratch(db)
                return db
            except Exception:
                pass
    db = _compile(hs, literals)
    try:
        body = hs.dumpb(db)
        write_private(path, _HSDB_MAGIC + key + hashlib.sha256(body).digest() + body)
    except Exception:
        pass
    return db


_HSDB_MAGIC = b"tfhelp-hsdb-1\0"


class MultiLiteral:
    """``line_hits(buf, start, end)`` -> sorted end offsets of hits, at most one per line."""

    def __init__(self, literals: Iterable[str], backend: Optional[str] = None, cache_dir=None):
        lits = sorted({s.lower() for s in literals if s and s.strip()})
        self.literals = lits
        self._bytes = [s.encode("utf-8") for s in lits]
        want = backend or "auto"
        if want not in ("auto", "hyperscan", "ahocorasick"):
            raise ValueError(f"unknown prefilter backend {backend!r}")
        self.backend = None
        self._db = None
        self._automaton = None
        if want in ("auto", "hyperscan") and self._bytes:
            hs = _hyperscan()
            if hs is not None:
                try:
                    self._db = _load_or_compile(hs, self._bytes, cache_dir)
                    self.backend = "hyperscan"
                except Exception:
                    if want == "hyperscan":
                        raise
                    self._db = None
            elif want == "hyperscan":
                raise ImportError("hyperscan is not installed (pip install 'tfhelp[fast]')")
        if self.backend is None:
            import ahocorasick

            a = ahocorasick.Automaton()
            for i, lit in enumerate(self._bytes):
                a.add_word(lit.decode("latin-1"), i)
            if self._bytes:
                a.make_automaton()
            self._automaton = a
            self.backend = "ahocorasick"

    def __bool__(self) -> bool:
        return bool(self._bytes)

    def line_hits(self, buf, start: int = 0, end: Optional[int] = None) -> list:
        """End offsets (exclusive, into ``buf``) of anchor hits in ``buf[start:end]``: the first
        hit of each line that has one, in order.  Lines are separated by ``\\n``."""
        if end is None:
            end = len(buf)
        if not self._bytes or end <= start:
            return []
        if self._db is not None:
            return self._hs_hits(buf, start, end)
        return self._aho_hits(buf, start, end)

    def _hs_hits(self, buf, start: int, end: int) -> list:
        raw: list = []
        add = raw.append

        def on_match(_id, _from, to, _flags, _ctx):
            add(to)

        with memoryview(buf) as whole, whole[start:end] as view:  # release: buf may be resized
            self._db.scan(view, match_event_handler=on_match)
        if not raw:
            return []
        raw.sort()  # block mode reports in end-offset order; make sure of it
        out = []
        line_end = -1
        find = buf.find
        for to in raw:
            pos = start + to
            if pos <= line_end:
                continue
            out.append(pos)
            nl = find(b"\n", pos - 1, end)
            line_end = nl if nl >= 0 else end
        return out

    def _aho_hits(self, buf, start: int, end: int) -> list:
        text = bytes(buf[start:end]).lower().decode("latin-1")
        out = []
        find = text.find
        line_end = -1
        # One pass (pyahocorasick's iter(text, start) costs O(len(text)) per call, so the search
        # is never restarted); further hits on an already reported line are skipped.
        for hit_end, _ in self._automaton.iter(text):
            if hit_end <= line_end:
                continue
            out.append(start + hit_end + 1)
            nl = find("\n", hit_end + 1)
            line_end = nl if nl >= 0 else len(text)
        return out
