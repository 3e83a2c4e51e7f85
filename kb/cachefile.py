"""On-disk caches that nobody else can poison: read only what we wrote, write atomically.

tfhelp keeps three caches in ``user_cache_dir("tfhelp")`` (or ``$TFHELP_CACHE_DIR``): the parsed
rule base (JSON), the parsed compatibility model (JSON) and the compiled hyperscan database.  A
cache is an input that skips parsing and validation, so whoever can write it decides what tfhelp
believes (and, for rules, which fix commands it offers to run).  ``$TFHELP_CACHE_DIR`` may point at
a shared folder such as ``/tmp``.  So a cache file is only used when all of these hold:

* it is a regular file, opened without following a symbolic link (``O_NOFOLLOW``);
* it is owned by the user running tfhelp (``st_uid == geteuid()``; root is not exempt: a file
  owned by another account is never loaded, even when root could read it);
* neither it nor its folder is writable by the group or by others (except a sticky folder such
  as ``/tmp``, where others cannot replace our files);
* it is no larger than the caller's bound.

The caller then checks that the content names the key it asked for (every cache file carries
the content hash it was built from), so a stale, truncated or hand-edited file is a miss.  Any
failure at all is a miss: the caller parses the sources and writes a fresh file.  Writes go to
a private temporary file (mode 0600) in the same folder, then ``os.replace`` - a concurrent
reader sees the old file or the new one, never half of one.

On Windows there are no POSIX owners: the checks that need them are skipped, and the cache
relies on the per-user profile folder's permissions.

This module never imports anything heavy; it runs on every start.
"""
from __future__ import annotations

import os
import stat
from typing import Optional

_POSIX = hasattr(os, "geteuid")


def _trusted_stat(st, euid: int) -> Optional[str]:
    """Why ``st`` (a file's stat) is not trustworthy, or None."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if _POSIX:
        if st.st_uid != euid:
            return f"owned by uid {st.st_uid}, not by uid {euid}"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return "writable by group or others"
    return None


def _trusted_dir(folder: str, euid: int) -> Optional[str]:
    if not _POSIX:
        return None
    try:
        st = os.stat(folder)
    except OSError as exc:
        return f"folder unreadable: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return "folder is not a directory"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        return "folder writable by group or others"
    return None


def untrusted_reason(path: str) -> Optional[str]:
    """Why the cache file at ``path`` must not be loaded (None: it may be).  For tests and
    ``--verbose`` diagnostics; :func:`read_trusted` does the same checks on the open file."""
    euid = os.geteuid() if _POSIX else -1
    why = _trusted_dir(os.path.dirname(os.path.abspath(path)) or ".", euid)
    if why:
        return why
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return _trusted_stat(st, euid)


def read_trusted(path, max_bytes: int = 64 << 20) -> Optional[bytes]:
    """The bytes of cache file ``path`` when it passes every check above, else None."""
    path = str(path)
    euid = os.geteuid() if _POSIX else -1
    if _trusted_dir(os.path.dirname(os.path.abspath(path)) or ".", euid):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None  # missing, a symlink (ELOOP), unreadable
    try:
        st = os.fstat(fd)
        if _trusted_stat(st, euid) or st.st_size > max_bytes:
            return None
        chunks, got = [], 0
        while got <= max_bytes:
            part = os.read(fd, min(1 << 20, max_bytes + 1 - got))
            if not part:
                break
            chunks.append(part)
            got += len(part)
        if got > max_bytes:
            return None
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def write_private(path, data: bytes, stale_glob: Optional[str] = None) -> bool:
    """Atomically replace ``path`` with ``data`` (mode 0600, folder created 0700).  When
    ``stale_glob`` is given, other files matching it in the folder (older keys) are removed.
    Returns False on any failure: a read-only or foreign cache folder must not stop tfhelp."""
    import tempfile

    path = str(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if _trusted_dir(folder, os.geteuid() if _POSIX else -1):
            return False  # nobody would trust what we wrote there
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tfhelp-", suffix=".tmp")  # 0600, O_EXCL
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except (OSError, ValueError):
        return False
    if stale_glob:
        import glob

        for old in glob.glob(os.path.join(glob.escape(folder), stale_glob)):
            if os.path.abspath(old) != os.path.abspath(path):
                try:
                    os.unlink(old)
                except OSError:
                    pass
    return True
