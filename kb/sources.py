"""Open the inputs that ``--from-log``, ``tfhelp log`` and ``tfhelp triage`` scan, safely.

A log is a regular file, or ``-`` (standard input: a pipe, a redirected file or a terminal).
Anything else a path can name is refused with a clear :class:`InputError` (exit status 2), because
reading it could never end or could block forever: ``/dev/zero`` and ``/dev/urandom`` never run
out, a named pipe (FIFO) nobody writes to blocks ``open`` itself, a tape drive rewinds when
opened.  ``allow_special=True`` (``--allow-special``) reads character/block devices and FIFOs
anyway, within a byte bound (``max_bytes``, default :data:`SPECIAL_MAX_BYTES`), and a FIFO
without a writer is given up after ``fifo_wait`` seconds.

The file type is checked twice: ``os.stat`` before opening (so a device is never even opened),
then ``fstat`` on the descriptor, opened non-blocking (a path swapped for a FIFO in between can't
hang ``open``).

gzip input is detected by its magic bytes and decompressed as a stream.  Its output is bounded:
by ``max_bytes`` when given, otherwise it may grow to :data:`GZIP_FLOOR` freely and beyond that
only up to :data:`GZIP_RATIO` times the compressed bytes read (real logs compress 5-30x; a gzip
bomb reaches ~1000x).  Hitting any bound ends the stream early: the stream's ``stopped``
attribute then says why, the part that was read is still scanned, and the command exits 2.

A pure library: no printing; messages are for the caller to show.
"""
from __future__ import annotations

import io
import os
import stat
from typing import Optional

#: Default byte bound for devices and FIFOs read with ``allow_special``.
SPECIAL_MAX_BYTES = 1 << 30
#: gzip output may always reach this many bytes ...
GZIP_FLOOR = 256 << 20
#: ... and beyond it at most this many times the compressed bytes read.
GZIP_RATIO = 100
#: Seconds to wait for the first byte from a FIFO read with ``allow_special``.
FIFO_WAIT = 10.0
CHUNK = 8 << 20


class InputError(Exception):
    """An input that cannot be read as a log: a message for the user (exit status 2)."""


def human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"


def parse_size(text: str) -> int:
    """``"500M"``, ``"2G"``, ``"1.5GiB"``, ``"4096"`` -> bytes (binary units).  ValueError."""
    s = str(text).strip().lower().replace(" ", "")
    for suffix in ("ib", "b"):
        if s.endswith(suffix) and s[:-len(suffix)][-1:].isalpha():
            s = s[:-len(suffix)]
            break
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(s[-1:], 1)
    if mult != 1:
        s = s[:-1]
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (examples: 4096, 500M, 2G)") from None
    if value <= 0 or value != value:
        raise ValueError(f"size must be positive: {text!r}")
    return int(value * mult)


def _kind(mode: int) -> Optional[str]:
    """What a non-regular, non-directory file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _refusal(name: str, kind: str) -> str:
    return (f"{name}: is {kind}, not a log file; tfhelp reads regular files and - (standard input). "
            f"To read it anyway pass --allow-special (reads at most --max-bytes, default "
            f"{human(SPECIAL_MAX_BYTES)})")


def _is_devnull(st) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev


def open_source(path: str, stdin=None, *, allow_special: bool = False, max_bytes: Optional[int] = None,
                fifo_wait: float = FIFO_WAIT):
    """Open ``path`` (``-``: ``stdin``, a binary stream, default ``sys.stdin.buffer``) for
    streaming.  Returns ``(binary stream, size in bytes or None)``; the stream has a ``stopped``
    attribute (None, or why it ended before the input did).  Raises :class:`InputError`."""
    if path == "-":
        return _open_stdin(stdin, allow_special, max_bytes)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory; give a log file")
    kind = _kind(st.st_mode)
    if kind and not allow_special:
        raise InputError(_refusal(path, kind))
    flags = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        # builtins.open (not os.open) so tests can deny it; the opener adds O_NONBLOCK so that a
        # path swapped for a FIFO after the stat can't block here.
        fh = open(path, "rb", buffering=0, opener=lambda p, f: os.open(p, f | flags))
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        st2 = os.fstat(fh.fileno())
        kind = _kind(st2.st_mode)
        if kind == "a directory" or (kind and not allow_special):
            raise InputError(_refusal(path, kind) if kind != "a directory" else f"{path}: is a directory")
        if kind and stat.S_ISFIFO(st2.st_mode):
            _wait_for_writer(fh, path, fifo_wait)
        _set_blocking(fh)
    except BaseException:
        fh.close()
        raise
    if kind:
        limit = max_bytes or SPECIAL_MAX_BYTES
        return _wrap(fh, None, path, limit, f"--max-bytes ({human(limit)}) reached reading {kind}"), None
    return _wrap(fh, st2.st_size, path, max_bytes, None), st2.st_size


def check_stdin(raw) -> None:
    """Refuse a device on standard input (other than a terminal or /dev/null), without reading
    or wrapping the stream: for callers that read stdin themselves (a pasted traceback)."""
    try:
        st = os.fstat(raw.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return  # an in-memory stream: nothing to check
    if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and not (_isatty(raw) or _is_devnull(st)):
        raise InputError(_refusal("standard input", _kind(st.st_mode)))


def _open_stdin(stdin, allow_special: bool, max_bytes: Optional[int]):
    raw = stdin
    if raw is None:
        import sys

        raw = getattr(sys.stdin, "buffer", None)
    if raw is None:
        raise InputError("standard input is not readable")
    special = None
    try:
        st = os.fstat(raw.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        st = None  # an in-memory stream: nothing to check
    if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        if not (_isatty(raw) or _is_devnull(st)):  # a terminal paste or /dev/null is finite
            special = _kind(st.st_mode)
            if not allow_special:
                raise InputError(_refusal("standard input", special))
    limit = max_bytes or (SPECIAL_MAX_BYTES if special else None)
    why = f"--max-bytes ({human(limit)}) reached" if limit else None
    return _wrap(raw, None, "standard input", limit, why), None


def _isatty(raw) -> bool:
    try:
        return bool(raw.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _wait_for_writer(fh, path: str, seconds: float) -> None:
    import select

    try:
        ready, _, _ = select.select([fh.fileno()], [], [], seconds)
    except (OSError, ValueError):  # no select on this kind of file here: just read it
        return
    if not ready:
        raise InputError(f"{path}: named pipe with no writer: nothing arrived within {seconds:g} s")


def _set_blocking(fh) -> None:
    try:
        os.set_blocking(fh.fileno(), True)
    except (AttributeError, OSError):
        pass


def _wrap(raw, size, name: str, limit: Optional[int], why: Optional[str]):
    try:
        head = _read_some(raw, 2)
    except OSError as exc:
        try:
            raw.close()
        except OSError:
            pass
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    stream = _Peeked(head, raw)
    if head == b"\x1f\x8b":
        return _GzipStream(stream, max_bytes=limit)
    if limit:
        return _Bounded(stream, limit, why or f"--max-bytes ({human(limit)}) reached")
    return stream


class _Peeked(io.RawIOBase):
    """A stream with a few bytes already read from it put back in front."""

    stopped = None

    def __init__(self, head: bytes, raw):
        super().__init__()
        self._head, self._raw = head, raw

    def readable(self):
        return True

    def read(self, n=-1):
        if self._head:
            if n is None or n < 0 or n >= len(self._head):
                head, self._head = self._head, b""
                rest = self._raw.read(n - len(head)) if n and n > 0 else self._raw.read()
                return head + (rest or b"")
            head, self._head = self._head[:n], self._head[n:]
            return head
        return self._raw.read(n)

    def readinto(self, b):
        if not self._head and hasattr(self._raw, "readinto"):
            return self._raw.readinto(b)
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self):
        try:
            self._raw.close()
        finally:
            super().close()


class _Bounded(io.RawIOBase):
    """At most ``limit`` bytes of ``raw``; then end of stream, with ``stopped`` set."""

    def __init__(self, raw, limit: int, why: str):
        super().__init__()
        self._raw, self._left, self._why = raw, limit, why
        self.stopped = None

    def readable(self):
        return True

    def readinto(self, b):
        if self._left <= 0:
            if self.stopped is None and self._raw.read(1):
                self.stopped = self._why
            return 0
        with memoryview(b) as mv, mv[:min(len(b), self._left)] as dst:
            got = self._raw.readinto(dst) or 0
        self._left -= got
        return got

    def read(self, n=-1):
        n = CHUNK if n is None or n < 0 else n
        buf = bytearray(n)
        got = self.readinto(buf)
        return bytes(buf[:got])

    def close(self):
        try:
            self._raw.close()
        finally:
            super().close()


def _read_some(raw, n: int) -> bytes:
    out = b""
    while len(out) < n:
        part = raw.read(n - len(out))
        if not part:
            break
        out += part
    return out


class TruncatedInput(EOFError):
    """The compressed stream ended before its end-of-stream marker."""


class _GzipStream:
    """Streaming gzip reader that hands out every byte it could decompress before reporting a
    truncated or corrupt stream (``gzip.GzipFile`` loses the whole failing ``read``).  Handles
    concatenated members.  Bounded: see the module docstring; ``stopped`` says why it ended
    early."""

    IN_CHUNK = 1 << 20

    def __init__(self, raw, max_bytes: Optional[int] = None):
        import zlib

        self._zlib = zlib
        self._raw = raw
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""   # compressed input not yet given to the decompressor
        self._eof = False
        self._truncated = False
        self._max = max_bytes
        self.compressed = 2   # bytes read from raw (the magic was peeked already)
        self.produced = 0     # bytes handed out
        self.stopped = None

    def _allowance(self) -> int:
        """Bytes that may still be produced now."""
        if self._max is not None:
            return self._max - self.produced
        return max(GZIP_FLOOR, GZIP_RATIO * self.compressed) - self.produced

    def _stop(self) -> None:
        if self._max is not None:
            self.stopped = (f"gzip data decompresses to more than --max-bytes ({human(self._max)}); "
                            "stopped there")
        else:
            self.stopped = (f"gzip data expands more than {GZIP_RATIO}x (past {human(self.produced)} from "
                            f"{human(self.compressed)} compressed): looks like a gzip bomb; stopped there "
                            "(pass --max-bytes to allow more)")
        self._eof = True

    def _more(self) -> bytes:
        data = self._raw.read(self.IN_CHUNK) or b""
        self.compressed += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        n = CHUNK if n is None or n < 0 else n
        out = []
        got = 0
        while got < n and not self._eof:
            if self._d.eof:  # end of a member: another member, or the end of the file
                data = self._d.unused_data + self._pending
                self._pending = b""
                while len(data) < 2:
                    more = self._more()
                    if not more:
                        break
                    data += more
                if not data.strip(b"\x00"):
                    self._eof = True  # clean end (NUL padding allowed, as gzip allows)
                    break
                if not data.startswith(b"\x1f\x8b"):
                    raise self._zlib.error("trailing garbage after gzip data")
                self._d = self._zlib.decompressobj(16 + self._zlib.MAX_WBITS)
                self._pending = data
            if not self._pending:
                self._pending = self._more()
                if not self._pending:
                    self._truncated = True
                    self._eof = True
                    break
            room = self._allowance()
            if room <= 0:
                # At the bound: stop only if the stream really has more to give.
                probe = self._d.decompress(self._pending, 1)
                self._pending = self._d.unconsumed_tail
                if probe:
                    self._stop()
                    break
                continue
            chunk = self._d.decompress(self._pending, min(n - got, room))
            self._pending = self._d.unconsumed_tail
            if chunk:
                out.append(chunk)
                got += len(chunk)
                self.produced += len(chunk)
        if not out and self._truncated:
            raise TruncatedInput("compressed file ended before the end-of-stream marker")
        return b"".join(out)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()


# -- command-line options shared by --from-log, `tfhelp log` and `tfhelp triage` ----------------
def add_input_options(parser, suppress: bool = False) -> None:
    """``--allow-special`` and ``--max-bytes`` on an argparse parser."""
    import argparse

    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument("--allow-special", action="store_true", default=d(False),
                        help="also read devices and named pipes (FIFOs), at most --max-bytes "
                             f"(default {human(SPECIAL_MAX_BYTES)}); without it they are refused")
    parser.add_argument("--max-bytes", metavar="SIZE", type=_size_arg, default=d(None),
                        help="stop reading an input after SIZE bytes (after decompression), e.g. 500M, 2G; "
                             f"default: no bound for files, {human(SPECIAL_MAX_BYTES)} for devices and FIFOs; "
                             f"gzip may expand to {human(GZIP_FLOOR)}, beyond that at most {GZIP_RATIO}x")


def _size_arg(text: str) -> int:
    import argparse

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def input_options(args) -> dict:
    """Keyword arguments for :func:`open_source` from parsed ``args``."""
    return {"allow_special": bool(getattr(args, "allow_special", False)),
            "max_bytes": getattr(args, "max_bytes", None)}
