"""Find every occurrence of any of many lowercase literals in large byte buffers.

This is the log scanner's first stage: it must keep up with the disk, and its cost must not grow
with the number of rules.  Two back-ends give the same answer:

* ``hyperscan`` (a default dependency where wheels exist): all literals in one compiled database,
  scanned case-insensitively straight over the raw bytes at several GB/s, flat in the number of
  literals.
* ``ahocorasick`` (pyahocorasick, everywhere else, or forced with ``TFHELP_PREFILTER=ahocorasick``):
  one automaton over all literals.  The
  buffer is lowercased (``bytes.lower``, ASCII only, same length) and viewed as Latin-1 text so
  that string offsets are byte offsets.  After a hit the search restarts at the next line,
  since the scanner only needs to know *which lines* contain an anchor.

Literals are matched as UTF-8 bytes, so non-ASCII anchors work too (case-folded only in ASCII).

Dense logs: :meth:`MultiLiteral.line_hits` takes a ``limit`` and gives up (returns None) once a
region holds more hits than that; the scanner then de-duplicates the region's lines first and
asks :meth:`MultiLiteral.folded_hits` about the distinct lines only, with the anchors passed
through the same :func:`fold` as the lines (lowercase, digits as ``#``).
"""
from __future__ import annotations

from typing import Iterable, Optional

#: Lowercase ASCII and write every digit as ``#``: one C pass (``bytes.translate``) that makes two
#: occurrences of one message with other numbers (timestamps, steps, losses) the same bytes.
FOLD = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"##########abcdefghijklmnopqrstuvwxyz")


def fold(data: bytes) -> bytes:
    return data.translate(FOLD)


BACKENDS = ("auto", "hyperscan", "ahocorasick")


class BackendError(ImportError):
    """A back-end that can't be had (unknown name in ``$TFHELP_PREFILTER``).  An ImportError so
    the front ends that already report ``--prefilter hyperscan`` without hyperscan as a usage
    error (exit 2, one line) report this the same way."""
ENV_BACKEND = "TFHELP_PREFILTER"


def requested_backend(backend: Optional[str] = None) -> Optional[str]:
    """The back-end asked for: the caller's, else ``$TFHELP_PREFILTER``, else None (auto).
    The variable reaches every front end that scans (``--from-log``, ``log``, ``triage``, ``run``)
    without a flag on each: benchmarks and users on a machine where hyperscan misbehaves force
    the pure fallback with ``TFHELP_PREFILTER=ahocorasick``."""
    if backend:
        return backend
    import os

    env = os.environ.get(ENV_BACKEND, "").strip().lower()
    if not env:
        return None
    if env not in BACKENDS:
        raise BackendError(f"{ENV_BACKEND}={env!r}: expected one of {', '.join(BACKENDS)}")
    return None if env == "auto" else env


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


def _load_or_compile(hs, literals: list, cache_dir, tag: str = "anchors"):
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
    path = os.path.join(str(cache_dir), f"{tag}-{h.hexdigest()[:24]}.hsdb")
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
        want = requested_backend(backend) or "auto"
        if want not in BACKENDS:
            raise ValueError(f"unknown prefilter backend {backend!r}")
        self.backend = None
        self._db = None
        self._automaton = None
        self._cache_dir = cache_dir
        self._folded = None   # (db or automaton) over the folded literals, built on first use
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

    def line_hits(self, buf, start: int = 0, end: Optional[int] = None, limit: Optional[int] = None):
        """End offsets (exclusive, into ``buf``) of anchor hits in ``buf[start:end]``: the first
        hit of each line that has one, in order.  Lines are separated by ``\\n``.  With ``limit``:
        None as soon as there are more than ``limit`` hits (the caller switches to the
        de-duplicating path, whose cost does not grow with the hits)."""
        if end is None:
            end = len(buf)
        if not self._bytes or end <= start:
            return []
        if self._db is not None:
            return self._hs_hits(buf, start, end, limit)
        return self._aho_hits(buf, start, end, limit)

    def folded_hits(self, text: bytes) -> list:
        """Like :meth:`line_hits` over ``text`` that went through :func:`fold`, with the literals
        folded the same way (a folded literal can only be missed where the literal is missing;
        extra hits, e.g. other digits, are weeded out by the rules themselves)."""
        if not self._bytes or not text:
            return []
        if self._folded is None:
            lits = sorted({fold(b) for b in self._bytes})
            if self._db is not None:
                hs = _hyperscan()
                self._folded = ("hs", _load_or_compile(hs, lits, self._cache_dir, tag="folded"))
            else:
                import ahocorasick

                a = ahocorasick.Automaton()
                for i, lit in enumerate(lits):
                    a.add_word(lit.decode("latin-1"), i)
                a.make_automaton()
                self._folded = ("aho", a)
        kind, obj = self._folded
        if kind == "hs":
            return self._hs_hits(text, 0, len(text), None, db=obj)
        return self._aho_hits(text, 0, len(text), None, automaton=obj, lowered=True)

    def _hs_hits(self, buf, start: int, end: int, limit: Optional[int] = None, db=None):
        raw: list = []
        add = raw.append
        db = db or self._db

        if limit is None:
            def on_match(_id, _from, to, _flags, _ctx):
                add(to)
        else:
            def on_match(_id, _from, to, _flags, _ctx):
                add(to)
                return len(raw) > limit  # True stops the scan

        with memoryview(buf) as whole, whole[start:end] as view:  # release: buf may be resized
            try:
                db.scan(view, match_event_handler=on_match)
            except _hyperscan().ScanTerminated:
                return None
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

    def _aho_hits(self, buf, start: int, end: int, limit: Optional[int] = None, automaton=None,
                  lowered: bool = False) -> list:
        raw = bytes(buf[start:end])
        text = (raw if lowered else raw.lower()).decode("latin-1")
        out = []
        find = text.find
        line_end = -1
        # One pass (pyahocorasick's iter(text, start) costs O(len(text)) per call, so the search
        # is never restarted); further hits on an already reported line are skipped.
        for hit_end, _ in (automaton or self._automaton).iter(text):
            if hit_end <= line_end:
                continue
            if limit is not None and len(out) >= limit:
                return None
            out.append(start + hit_end + 1)
            nl = find("\n", hit_end + 1)
            line_end = nl if nl >= 0 else len(text)
        return out
