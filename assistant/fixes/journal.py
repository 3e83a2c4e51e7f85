"""The fix journal: snapshots before a fix, what each step changed, rollback, undo and history.

Storage: ``<state dir>/journal/<entry id>.json``, one file per applied fix, where the state dir is
``platformdirs.user_state_dir("tfhelp")`` (``TFHELP_STATE_DIR`` overrides it, for tests and
sandboxes). Each file is written whole to a temporary name, fsynced and renamed over the old one,
so a reader (or a crash) never sees half an entry, and an entry is re-written after every step so
a crash between steps still leaves a snapshot to roll back to. A file that does not parse is set
aside (renamed ``*.corrupt-<time>``) and reported; the other entries are unaffected. Changes to one
interpreter are serialised by a per-interpreter lock file (``fcntl.flock`` / ``msvcrt.locking``),
so two tfhelp processes cannot run fixes into the same environment at once.
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
UNDOABLE_STATUSES = ("applied", "failed", "applying", "interrupted", "rollback-failed")


def state_dir() -> str:
    d = os.environ.get("TFHELP_STATE_DIR")
    if not d:
        import platformdirs

        d = platformdirs.user_state_dir("tfhelp")
    return d


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
    pass


class FileLock:
    """An exclusive advisory lock on a file, for one process at a time (not re-entrant)."""

    def __init__(self, path: str, timeout: float = 10.0):
        self.path = path
        self.timeout = timeout
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
                    raise LockBusy(self.path) from None
                time.sleep(0.05)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n".encode())
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


def atomic_write_json(path: str, data) -> None:
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
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
        import hashlib

        h = hashlib.sha1(python_key(python).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return FileLock(os.path.join(self.root, "locks", f"{h}.lock"), timeout=0)

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
            if (not isinstance(data, dict) or data.get("id") != n[:-5] or "python_key" not in data
                    or "status" not in data):
                self._set_aside(p, "not a journal entry")
                continue
            if key is None or data.get("python_key") == key:
                out.append(data)
        return out

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
    if url:
        if (du.get("dir_info") or {}).get("editable"):
            return None, f"{rec['name']} was an editable install from {url}; reinstall it with pip install -e"
        return [f"{rec['name']} @ {url}"], ""
    return [f"{rec['name']}=={rec['version']}"], ""


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
        rec = before[k]
        cur = current.get(k, {}).get("version")
        if cur == rec["version"]:
            continue
        expected_after = after_versions.get(k)  # None for removed ones
        if not force and cur != expected_after:
            conflicts.append(f"{rec['name']} is now {cur or 'not installed'} (the fix left "
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
