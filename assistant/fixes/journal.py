"""The fix journal: snapshots before a fix, what each step changed, rollback, undo and history.

Storage: ``<state dir>/journal/<entry id>.json``, one file per applied fix, where the state dir is
``platformdirs.user_state_dir("tfhelp")`` (``TFHELP_STATE_DIR`` overrides it, for tests and
sandboxes). Each file is written whole to a temporary name, fsynced and renamed over the old one,
so a reader (or a crash) never sees half an entry, and an entry is re-written after every step so
a crash between steps still leaves a snapshot to roll back to. A file that does not parse is set
aside (renamed ``*.corrupt-<time>``) and reported; the other entries are unaffected. Changes to one
interpreter are serialised by a per-interpreter lock file (``fcntl.flock`` / ``msvcrt.locking``),
so two tfhelp processes cannot run fixes into the same environment at once; the lock is keyed by
the environment (the interpreter's prefix folder), so ``venv/bin/python`` and ``venv/bin/python3``
share one. The directory is fsynced after each rename so the new name survives a power cut.

Crash recovery: an entry is ``applying`` while its steps run and ``undoing`` while an undo runs.
Found in either state by a process that can take the environment's lock, it was left by a process
that died: :meth:`Journal.recover` marks it ``interrupted`` / ``undo-interrupted`` and reports it;
``tfhelp undo`` then puts back the snapshot.

Fault injection for the crash tests: ``TFHELP_FAULT`` (comma-separated points, read only by the
applier, see :func:`fault`) makes the process SIGKILL itself at that point.

Why one module of ~720 lines: the journal format, its atomic writes, the per-environment lock
and crash recovery all guard the same files and have to change together.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Optional

SCHEMA = 1
FAILED_STATUSES = ("failed", "rolled-back", "rollback-failed", "interrupted")
UNDOABLE_STATUSES = ("applied", "failed", "applying", "interrupted", "rollback-failed", "undoing",
                     "undo-interrupted")
#: statuses of an entry whose process is (or was) in the middle of changing the environment
IN_FLIGHT = {"applying": "interrupted", "undoing": "undo-interrupted"}
HALF_DONE = ("interrupted", "undo-interrupted")
STATUSES = ("planned", "applying", "applied", "failed", "rolled-back", "rollback-failed", "interrupted",
            "undoing", "undo-interrupted", "undone")


# ----------------------------------------------------------------------------------------------
# fault injection (tests only: nothing happens unless TFHELP_FAULT is set)

_journal_writes = 0


def _fault_points() -> set:
    raw = os.environ.get("TFHELP_FAULT", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def fault(point: str) -> None:
    """SIGKILL this process (and pip, when this process leads its own process group) if
    ``TFHELP_FAULT`` names ``point``. Points: ``after-snapshot``, ``before-step:N``,
    ``after-step:N`` (step N ran, its result not yet journaled), ``after-save:N`` (journaled),
    ``during-step:N`` (killed while step N's command runs, after ``TFHELP_FAULT_DELAY`` seconds),
    ``before-verify``, ``before-final-save``, ``during-journal-write[:N]`` (the Nth journal write of
    this process dies with half the bytes in the temporary file), ``undo-start``, ``during-undo``
    (while pip restores packages), ``undo-after-step:N`` (the Nth file / profile change reversed),
    ``undo-after-restore``. Steps count from 1."""
    if point in _fault_points():
        _die()


def _die() -> None:
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    kill = getattr(signal, "SIGKILL", None)
    if kill is None:  # Windows: no signals to send oneself; the nearest thing is an abrupt exit
        os._exit(137)
    try:
        if hasattr(os, "getpgrp") and os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), kill)  # take the running pip down with us, as kill -9 -PGID does
    except OSError:
        pass
    os.kill(os.getpid(), kill)


def fault_later(point: str):
    """For ``during-*`` points: a started timer that kills the process after TFHELP_FAULT_DELAY
    seconds (default 1), or None. Cancel it when the step is over."""
    if point not in _fault_points():
        return None
    import threading

    try:
        delay = float(os.environ.get("TFHELP_FAULT_DELAY", "1"))
    except ValueError:
        delay = 1.0
    t = threading.Timer(delay, _die)
    t.daemon = True
    t.start()
    return t


def state_dir() -> str:
    d = os.environ.get("TFHELP_STATE_DIR")
    if not d:
        import platformdirs

        d = platformdirs.user_state_dir("tfhelp")
    return d


def env_key(python: str) -> str:
    """Identity of the *environment* an interpreter belongs to, for the lock: the real path of its
    prefix folder (``venv/bin/python3`` -> ``venv``; ``C:\\env\\python.exe`` -> ``C:\\env``), found
    without running it."""
    from .actions import python_prefix

    return os.path.normcase(os.path.realpath(python_prefix(os.path.expanduser(python))))


def python_key(python: str) -> str:
    """Identity of an interpreter for the journal: its absolute path (symlinks kept: a venv's
    ``bin/python`` links to the base interpreter, but it is a different environment)."""
    return os.path.normcase(os.path.abspath(os.path.expanduser(python)))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


def new_entry_id() -> str:
    t = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int((t % 1) * 1e6):06d}-{uuid.uuid4().hex[:6]}"


class LockBusy(RuntimeError):
    """The lock is held by another process. ``holder`` is what that process wrote into the lock
    file (its pid, the environment and when it took the lock), when readable."""

    def __init__(self, path: str, holder: Optional[dict] = None):
        super().__init__(path)
        self.path = path
        self.holder = holder or {}

    def describe(self, what: str = "this environment") -> str:
        h = self.holder
        who = f"process {h['pid']}" if h.get("pid") else "process"
        since = f" since {h['since']}" if h.get("since") else ""
        return (f"another tfhelp {who} is changing {h.get('env') or what}{since} "
                f"(lock {self.path}); nothing was changed: wait for it to finish, then try again")


def _read_holder(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return {}
    lines = raw.splitlines()
    out = {}
    if lines and lines[0].strip().isdigit():
        out["pid"] = int(lines[0].strip())
    for ln in lines[1:]:
        k, _, v = ln.partition("=")
        if k in ("env", "since") and v:
            out[k] = v.strip()
    return out


class FileLock:
    """An exclusive advisory lock on a file, for one process at a time (not re-entrant)."""

    def __init__(self, path: str, timeout: float = 10.0, label: str = ""):
        self.path = path
        self.timeout = timeout
        self.label = label
        self._fh = None

    def acquire(self, blocking: bool = True) -> "FileLock":
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fh = open(self.path, "a+b")
        deadline = time.monotonic() + (self.timeout if blocking else 0)
        while True:
            try:
                if sys.platform.startswith("win"):
                    import msvcrt

                    fh.seek(0)
                    msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl

                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise LockBusy(self.path, _read_holder(self.path)) from None
                time.sleep(0.05)
        try:
            fh.seek(0)
            fh.truncate()
            label = self.label.replace("\n", " ")
            fh.write(f"{os.getpid()}\nenv={label}\nsince={_now()}\n".encode("utf-8", "replace"))
            fh.flush()
        except OSError:
            pass
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if sys.platform.startswith("win"):
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        finally:
            fh.close()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _fsync_dir(d: str) -> None:
    """Make a rename in ``d`` durable (POSIX; Windows has no directory handles to fsync)."""
    if sys.platform.startswith("win"):
        return
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: str, data) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old or the new content, never
    part of one: temporary file in the same folder, every byte written, fsync, rename, fsync of the
    folder. Any failure (a full disk: ENOSPC from write or fsync) removes the temporary file, leaves
    the old ``path`` untouched and raises the OSError."""
    global _journal_writes
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    payload = (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8", "surrogatepass")
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    _journal_writes += 1
    points = _fault_points()
    die_now = "during-journal-write" in points and _journal_writes == 1 or \
        f"during-journal-write:{_journal_writes}" in points
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            view = memoryview(payload)
            if die_now:  # the crash tests: die with half an entry in the temporary file
                os.write(fd, view[: len(view) // 2])
                os.fsync(fd)
                _die()
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(28, "short write")
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(d)
    finally:
        if os.path.exists(tmp):
            try:
                os.remove(tmp)
            except OSError:
                pass


class Journal:
    def __init__(self, root: Optional[str] = None):
        self.root = root or state_dir()
        self.dir = os.path.join(self.root, "journal")
        self.problems: list = []       # corrupt files set aside during the last read

    # --- storage -------------------------------------------------------------------------------
    def _path(self, entry_id: str) -> str:
        if not entry_id or "/" in entry_id or "\\" in entry_id or entry_id.startswith("."):
            raise ValueError(f"bad journal entry id {entry_id!r}")
        return os.path.join(self.dir, entry_id + ".json")

    def save(self, entry: dict) -> None:
        entry["updated"] = _now()
        atomic_write_json(self._path(entry["id"]), entry)

    def new_entry(self, python: str, *, rule_id: Optional[str], fix_index: Optional[int],
                  fix_title: str, plan: Optional[dict] = None, kind: str = "fix") -> dict:
        entry = {"schema": SCHEMA, "id": new_entry_id(), "kind": kind, "created": _now(),
                 "python": os.path.abspath(python), "python_key": python_key(python),
                 "rule_id": rule_id, "fix_index": fix_index, "fix_title": fix_title,
                 "plan": plan, "status": "planned", "snapshot": None, "after": None, "changes": None,
                 "steps": [], "verification": None, "rollback": None, "undo": None}
        return entry

    def transaction_lock(self, python: str) -> FileLock:
        """The lock for changes to ``python``'s environment (keyed by :func:`env_key`)."""
        import hashlib

        key = env_key(python)
        h = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return FileLock(os.path.join(self.root, "locks", f"{h}.lock"), timeout=0, label=key)

    def _set_aside(self, path: str, why: str) -> None:
        dest = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}"
        try:
            with FileLock(os.path.join(self.root, "locks", "journal.lock")):
                if os.path.exists(path):
                    os.replace(path, dest)
                    self.problems.append(f"set aside unreadable journal file {os.path.basename(path)} "
                                         f"({why}) as {os.path.basename(dest)}")
        except (OSError, LockBusy):
            self.problems.append(f"unreadable journal file {os.path.basename(path)} ({why})")

    def entries(self, python: Optional[str] = None) -> list:
        """All entries, oldest first (optionally for one interpreter). Corrupt files are set aside."""
        self.problems = []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            return []
        key = python_key(python) if python else None
        out = []
        for n in names:
            p = os.path.join(self.dir, n)
            try:
                with open(p, "r", encoding="utf-8") as fh:
                    data = json.load(fh)
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._set_aside(p, type(exc).__name__)
                continue
            if not isinstance(data, dict) or data.get("id") != n[:-5]:
                self._set_aside(p, "not a journal entry")
                continue
            bad = check_entry(data)
            if bad:
                self._set_aside(p, bad)
                continue
            if key is None or data.get("python_key") == key:
                out.append(data)
        return out

    def recover(self, python: Optional[str] = None) -> list:
        """Find fixes and undos a dead process left half-done (optionally for one interpreter).

        An entry still ``applying`` / ``undoing`` whose environment lock is free was left by a
        process that died (kill -9, power cut): it is marked ``interrupted`` / ``undo-interrupted``
        (the snapshot stays, so ``tfhelp undo`` can restore it). One whose lock is held belongs to
        a fix running right now and is left alone. Returns a notice for every half-done entry not
        yet undone: ``{"entry", "python", "status", "was", "new", "fix_title", "rule_id",
        "created", "message"}``; ``new`` is True for the ones found by this call."""
        notices = []
        self._remove_stale_temporaries()
        for e in self.entries(python):
            st = e.get("status")
            new = False
            if st in IN_FLIGHT:
                lock = self.transaction_lock(e["python"])
                try:
                    lock.acquire(blocking=False)
                except (LockBusy, OSError):
                    continue  # its process is alive and still working
                try:
                    fresh = self.get(e["id"])  # re-read under the lock
                    if fresh is None or fresh.get("status") != st:
                        continue
                    e = fresh
                    e["recovered"] = {"when": _now(), "was": st}
                    e["status"] = st = IN_FLIGHT[st]
                    try:
                        self.save(e)
                    except OSError as exc:
                        self.problems.append(f"could not mark entry {e['id']} as interrupted: {exc}")
                    new = True
                finally:
                    lock.release()
            if st not in HALF_DONE:
                continue
            was = (e.get("recovered") or {}).get("was") or st
            what = "an undo of" if st == "undo-interrupted" else "a fix,"
            msg = (f"{what} {e.get('fix_title')!s} ({e.get('rule_id') or '-'}), to {e.get('python')} "
                   f"started {e.get('created')}, was interrupted")
            if st == "undo-interrupted":
                msg += ": the environment may be half restored. Run `tfhelp undo` again to finish it."
            else:
                msg += (" before it finished: the environment may be half-changed. "
                        "Run `tfhelp undo` to put back the snapshot taken before it.")
            notices.append({"entry": e["id"], "python": e.get("python"), "status": st, "was": was, "new": new,
                            "fix_title": e.get("fix_title"), "rule_id": e.get("rule_id"),
                            "created": e.get("created"), "message": msg})
        return notices

    def _remove_stale_temporaries(self) -> None:
        """Half-written ``.*.tmp`` files of processes that no longer run (the entry they were
        replacing is intact: a rename never happened)."""
        if sys.platform.startswith("win"):
            return
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for n in names:
            if not (n.startswith(".") and n.endswith(".tmp")):
                continue
            parts = n.split(".")
            pid = next((int(x) for x in reversed(parts) if x.isdigit()), None)
            if pid is None or pid == os.getpid():
                continue
            try:
                os.kill(pid, 0)
                continue          # still running: its write may be in progress
            except ProcessLookupError:
                pass
            except OSError:
                continue
            try:
                os.remove(os.path.join(self.dir, n))
            except OSError:
                pass

    def get(self, entry_id: str) -> Optional[dict]:
        for e in self.entries():
            if e["id"] == entry_id:
                return e
        return None

    def last_undoable(self, python: str) -> Optional[dict]:
        for e in reversed(self.entries(python)):
            if e.get("status") in UNDOABLE_STATUSES and e.get("snapshot"):
                return e
        return None

    def failed_fixes(self, python: str, rule_id: str) -> list:
        """Fixes of ``rule_id`` that already failed in this interpreter, newest first:
        ``[{"fix_index", "fix_title", "status", "verification", "when", "entry"}]``."""
        out = []
        for e in reversed(self.entries(python)):
            if e.get("rule_id") != rule_id:
                continue
            ver = (e.get("verification") or {}).get("status")
            if e.get("status") in FAILED_STATUSES or ver == "failed":
                out.append({"fix_index": e.get("fix_index"), "fix_title": e.get("fix_title"),
                            "status": e.get("status"), "verification": ver, "when": e.get("created"),
                            "entry": e.get("id")})
        return out


_DIST_NAME = None


def _is_dist_map(d) -> bool:
    """``{name: {"name": ..., "version": ...}}`` whose names and versions pip can only read as a
    requirement (a hand-edited ``--index-url=...`` as a name would otherwise become a pip option)."""
    global _DIST_NAME
    if _DIST_NAME is None:
        import re

        _DIST_NAME = (re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,200}[A-Za-z0-9])?$"),
                      re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,100}$"))
    name_re, ver_re = _DIST_NAME
    if not isinstance(d, dict):
        return False
    for k, v in d.items():
        if not (isinstance(k, str) and name_re.match(k) and isinstance(v, dict)):
            return False
        if not (isinstance(v.get("version"), str) and ver_re.match(v["version"])):
            return False
        if v.get("name") is not None and not (isinstance(v["name"], str) and name_re.match(v["name"])):
            return False
        du = v.get("direct_url")
        if du is not None and not (isinstance(du, dict) and isinstance(du.get("url", ""), str)):
            return False
    return True


def check_entry(data: dict) -> Optional[str]:
    """Why ``data`` can't be used as a journal entry (a hand edit gone wrong), or None.

    Only the fields undo, history and ranking read are checked, each for the type they need."""
    for k in ("id", "python", "python_key", "status"):
        if not isinstance(data.get(k), str) or not data.get(k):
            return f"field {k!r} missing or not a string"
    if data["status"] not in STATUSES:
        return f"unknown status {data['status']!r}"
    for k in ("rule_id", "fix_title", "created", "updated"):
        if data.get(k) is not None and not isinstance(data.get(k), str):
            return f"field {k!r} is not a string"
    if data.get("fix_index") is not None and (not isinstance(data["fix_index"], int) or isinstance(data["fix_index"], bool)):
        return "field 'fix_index' is not a number"
    snap = data.get("snapshot")
    if snap is not None:
        if not isinstance(snap, dict):
            return "field 'snapshot' is not a mapping"
        if not _is_dist_map(snap.get("distributions") or {}):
            return "snapshot.distributions is not {name: {version: text}}"
        for k in ("env", "files"):
            if snap.get(k) is not None and not isinstance(snap[k], dict):
                return f"snapshot.{k} is not a mapping"
    after = data.get("after")
    if after is not None and (not isinstance(after, dict) or not _is_dist_map(after.get("distributions") or {})):
        return "field 'after' is not {distributions: {name: {version: text}}}"
    ch = data.get("changes")
    if ch is not None:
        if not isinstance(ch, dict):
            return "field 'changes' is not a mapping"
        changed = ch.get("changed") or {}
        if not isinstance(changed, dict) or not all(
                isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v) for v in changed.values()):
            return "changes.changed is not {name: [old, new]}"
        for k in ("added", "removed"):
            v = ch.get(k) or {}
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                return f"changes.{k} is not {{name: version}}"
    steps = data.get("steps")
    if steps is not None:
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            return "field 'steps' is not a list of mappings"
        for s in steps:
            u = s.get("undo")
            if u is not None and not isinstance(u, dict):
                return "a step's 'undo' is not a mapping"
            if u and u.get("kind") == "file" and not (isinstance(u.get("file"), str) and isinstance(u.get("content"), str)):
                return "a file step's undo has no file/content text"
            if u and u.get("kind") == "block" and not (isinstance(u.get("blocks"), list) and all(
                    isinstance(b, dict) and isinstance(b.get("file"), str) and isinstance(b.get("tag"), str)
                    for b in u["blocks"])):
                return "a profile step's undo has no blocks"
    for k in ("plan", "verification", "rollback", "undo", "recovered"):
        if data.get(k) is not None and not isinstance(data.get(k), dict):
            return f"field {k!r} is not a mapping"
    plan = data.get("plan")
    if plan is not None and not (isinstance(plan.get("steps", []), list)
                                 and all(isinstance(x, dict) for x in plan.get("steps", []))):
        return "plan.steps is not a list of mappings"
    if data.get("pip_args") is not None and not (isinstance(data["pip_args"], list) and all(isinstance(a, str) for a in data["pip_args"])):
        return "field 'pip_args' is not a list of strings"
    return None


def failed_fixes(python: str, rule_id: str, journal: Optional[Journal] = None) -> list:
    """Module-level helper for the engine / renderer: fixes of ``rule_id`` that failed here before."""
    try:
        return (journal or Journal()).failed_fixes(python, rule_id)
    except OSError:
        return []


# ----------------------------------------------------------------------------------------------
# snapshots of installed distributions

_META_SCRIPT = r"""
import json, sys
try:
    from importlib import metadata
except ImportError:
    print("{}"); sys.exit(0)
out = {}
for d in metadata.distributions():
    try:
        name = d.metadata["Name"]
    except Exception:
        continue
    if not name:
        continue
    key = name.lower().replace("_", "-").replace(".", "-")
    if key in out:
        continue
    inst = (d.read_text("INSTALLER") or "").strip() or None
    du = d.read_text("direct_url.json")
    try:
        du = json.loads(du) if du else None
    except Exception:
        du = None
    out[key] = {"installer": inst, "direct_url": du}
print(json.dumps(out))
"""


def _canon(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def snapshot_distributions(python: str, timeout: float = 120, env: Optional[dict] = None) -> dict:
    """``{canonical name: {"name", "version", "installer", "direct_url"}}`` as the target's pip sees it.

    Raises RuntimeError when pip cannot list the environment (then nothing may be changed)."""
    from .actions import run_argv

    env = dict(env or os.environ)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    rc, out = run_argv([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                       timeout=timeout, env=env)
    if rc != 0:
        raise RuntimeError(f"`{python} -m pip list` failed (status {rc}): {out.strip()[-500:]}")
    try:
        start = out.index("[")
        rows = json.loads(out[start: out.rindex("]") + 1])
    except ValueError as exc:
        raise RuntimeError(f"could not read `pip list` output: {exc}") from None
    dists = {}
    for r in rows:
        if isinstance(r, dict) and r.get("name") and r.get("version"):
            dists[_canon(r["name"])] = {"name": r["name"], "version": str(r["version"]),
                                        "installer": None, "direct_url": None}
    rc, out = run_argv([python, "-c", _META_SCRIPT], timeout=timeout, env=env)
    if rc == 0:
        try:
            extra = json.loads(out.strip().splitlines()[-1])
            for k, v in extra.items():
                if k in dists and isinstance(v, dict):
                    dists[k]["installer"] = v.get("installer")
                    dists[k]["direct_url"] = v.get("direct_url")
        except (ValueError, IndexError):
            pass
    return dists


def diff_snapshots(before: dict, after: dict) -> dict:
    changed = {k: [before[k]["version"], after[k]["version"]] for k in before
               if k in after and before[k]["version"] != after[k]["version"]}
    added = {k: after[k]["version"] for k in after if k not in before}
    removed = {k: before[k]["version"] for k in before if k not in after}
    return {"changed": changed, "added": added, "removed": removed}


def versions(snap: dict) -> dict:
    return {k: v["version"] for k, v in (snap or {}).items()}


def _requirement_for(rec: dict) -> tuple:
    """(pip arguments to reinstall ``rec`` exactly, or None, note)."""
    du = rec.get("direct_url") or {}
    url = du.get("url") if isinstance(du, dict) else None
    name = rec.get("name") or rec["key"]
    if url:
        if ((du.get("dir_info") or {}) if isinstance(du.get("dir_info"), dict) else {}).get("editable"):
            return None, f"{name} was an editable install from {url}; reinstall it with pip install -e"
        return [f"{name} @ {url}"], ""
    return [f"{name}=={rec['version']}"], ""


def restore_distributions(python: str, before: dict, changes: dict, current: dict, *,
                          pip_args=(), force: bool = False, timeout: float = 1800,
                          progress=None, env: Optional[dict] = None) -> dict:
    """Put back the distributions a fix changed: reinstall the exact ``before`` versions of changed
    and removed ones (``--no-deps``, so nothing else moves), uninstall the ones it added. A dist
    that was changed again since the fix (current version is neither) is a conflict and is left
    alone unless ``force``. Returns ``{"ok", "commands", "conflicts", "notes", "output"}``."""
    from .actions import pip_argv, run_argv

    after_versions = {}
    for k, (old, new) in (changes.get("changed") or {}).items():
        after_versions[k] = new
    for k, new in (changes.get("added") or {}).items():
        after_versions[k] = new
    install, uninstall, conflicts, notes = [], [], [], []
    for k in sorted(set(changes.get("changed") or {}) | set(changes.get("removed") or {})):
        if k not in before:
            notes.append(f"{k}: the journal has no version to put back (entry edited?); left alone")
            continue
        rec = dict(before[k], key=k)
        cur = current.get(k, {}).get("version")
        if cur == rec["version"]:
            continue
        expected_after = after_versions.get(k)  # None for removed ones
        if not force and cur != expected_after:
            conflicts.append(f"{rec.get('name') or k} is now {cur or 'not installed'} (the fix left "
                             f"{expected_after or 'it uninstalled'}); left alone")
            continue
        args, note = _requirement_for(rec)
        if args is None:
            notes.append(note)
        else:
            install.extend(args)
    for k in sorted(changes.get("added") or {}):
        cur = current.get(k, {}).get("version")
        if cur is None:
            continue
        if not force and cur != after_versions.get(k):
            conflicts.append(f"{current[k]['name']} is now {cur} (the fix installed {after_versions.get(k)}); left alone")
            continue
        uninstall.append(current[k]["name"])
    commands, outputs, ok = [], [], True
    child_env = dict(env or os.environ)
    child_env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    if install:
        argv = pip_argv(python, "install", ["--no-deps", *install], pip_args)
        commands.append(argv)
        if progress:
            progress("$ " + " ".join(argv))
        rc, out = run_argv(argv, timeout=timeout, env=child_env)
        outputs.append(out[-3000:])
        ok = ok and rc == 0
    if uninstall:
        argv = pip_argv(python, "uninstall", uninstall)
        commands.append(argv)
        if progress:
            progress("$ " + " ".join(argv))
        rc, out = run_argv(argv, timeout=timeout, env=child_env)
        outputs.append(out[-3000:])
        ok = ok and rc == 0
    return {"ok": ok and not notes, "commands": commands, "conflicts": conflicts, "notes": notes,
            "output": "\n".join(outputs)}
