"""Plan, confirm, apply, verify, roll back and undo a fix.

``build_plan(fix, ctx)`` turns a resolved fix (``{"title", "steps": [...]}`` as in a report's
diagnosis) into a :class:`Plan`: the exact argv of every step, where env changes go, code changes
as diffs. Nothing runs while planning. ``apply_plan`` then, holding the interpreter's lock:
snapshots the environment into a journal entry, runs the steps one by one (re-saving the entry
after each), snapshots again, runs the verification and reports the outcome as it is. A failed
step or verification is rolled back when asked (``rollback_on_failure`` or the ``ask_rollback``
callback). ``undo_last`` restores the last applied fix of an interpreter, also in a later session.

Transactions: one fix or undo per environment at a time (the journal's lock; a second process
gets status ``locked`` and a message naming the holder). The entry is ``applying`` on disk before
the first step runs, re-saved after each, and ``undoing`` while an undo runs, so a process killed
at any point leaves an entry that the next start reports (``Journal.recover``) and undo can roll
back. Undo refuses, with the difference, when the environment was changed by hand since the fix
(``force`` overrides). A journal write that fails (full disk) stops the fix before the next step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import actions
from .actions import ApplyContext
from .journal import (IN_FLIGHT, Journal, LockBusy, diff_snapshots, fault, fault_later,
                      restore_distributions, snapshot_distributions, versions)


@dataclass
class Plan:
    python: str
    fix_title: str
    steps: list
    verifies: list
    rule_id: Optional[str] = None
    fix_index: Optional[int] = None
    warnings: list = field(default_factory=list)
    pip_args: tuple = ()

    @property
    def errors(self) -> list:
        return [f"step {s.index + 1}: {s.error}" for s in self.steps + self.verifies if s.error]

    @property
    def runnable(self) -> bool:
        return not self.errors

    @property
    def touches_packages(self) -> bool:
        return any(s.action in ("pip_install", "pip_uninstall") for s in self.steps)

    @property
    def for_user(self) -> list:
        """Steps tfhelp only shows: the user still has to do them."""
        return [s for s in self.steps if not s.runs and not s.error]

    @property
    def runs_anything(self) -> bool:
        return any(s.runs for s in self.steps)

    def to_json(self) -> dict:
        return {"python": self.python, "rule_id": self.rule_id, "fix_index": self.fix_index,
                "fix_title": self.fix_title, "steps": [s.to_json() for s in self.steps],
                "verify": [s.to_json() for s in self.verifies], "warnings": list(self.warnings),
                "errors": self.errors, "runnable": self.runnable}


def build_plan(fix: dict, ctx: ApplyContext, *, rule_id: Optional[str] = None,
               fix_index: Optional[int] = None, previous_failures: Optional[list] = None) -> Plan:
    if not isinstance(fix, dict):
        raise TypeError("a fix is a mapping with 'title' and 'steps'")
    steps, verifies = [], []
    raw = fix.get("steps") or []
    for i, step in enumerate(raw if isinstance(raw, list) else []):
        planned = actions.plan_step(step, i, ctx)
        (verifies if planned.action == "verify" else steps).append(planned)
    plan = Plan(python=ctx.python, fix_title=str(fix.get("title") or "fix"), steps=steps,
                verifies=verifies, rule_id=rule_id, fix_index=fix_index, pip_args=tuple(ctx.pip_args))
    if not isinstance(raw, list) or not raw:
        plan.warnings.append("this fix has no steps")
    if not verifies:
        plan.warnings.append("the rule names no check, so the result can't be verified automatically")
    for f in previous_failures or []:
        if f.get("fix_index") == fix_index or f.get("fix_title") == plan.fix_title:
            plan.warnings.append(f"this fix already failed for this interpreter on {f.get('when')} "
                                 f"({f.get('status')}{', verification failed' if f.get('verification') == 'failed' else ''})")
            break
    return plan


@dataclass
class Outcome:
    status: str                       # applied | failed | rolled-back | rollback-failed | interrupted | not-run | locked
    plan: Plan
    entry_id: Optional[str] = None
    steps: list = field(default_factory=list)          # StepResult
    verification: list = field(default_factory=list)   # VerifyResult
    changes: Optional[dict] = None
    rollback: Optional[dict] = None
    messages: list = field(default_factory=list)
    recovered: list = field(default_factory=list)      # half-done earlier fixes found (Journal.recover)

    @property
    def verified(self) -> str:
        """passed (every check passed) | partly (some passed, the rest could not run) | failed |
        skipped (none could run) | none (the fix names no check)"""
        if not self.verification:
            return "none"
        st = [v.status for v in self.verification]
        if "failed" in st:
            return "failed"
        if all(s == "passed" for s in st):
            return "passed"
        return "partly" if "passed" in st else "skipped"

    @property
    def ok(self) -> bool:
        return self.status == "applied" and self.verified != "failed"

    def to_json(self) -> dict:
        return {"status": self.status, "ok": self.ok, "entry": self.entry_id,
                "verified": self.verified, "plan": self.plan.to_json(),
                "steps": [s.to_json() for s in self.steps],
                "verification": [v.to_json() for v in self.verification],
                "changes": self.changes, "rollback": self.rollback, "messages": list(self.messages),
                "recovered": list(self.recovered)}


def _touched_env(plan: Plan, ctx: ApplyContext) -> dict:
    out = {}
    for s in plan.steps:
        if s.action == "set_env" and not s.error:
            name = s.detail["name"]
            cur = (ctx.session_env or {}).get(name, os.environ.get(name))
            out[name] = {"before": cur, "scope": s.detail["scope"], "file": s.detail.get("file")}
    return out


def _touched_files(plan: Plan) -> dict:
    out = {}
    for s in plan.steps:
        f = s.detail.get("file") if s.runs and not s.error else None
        if f:
            out[f] = {"existed": os.path.exists(f), "sha256": s.detail.get("sha_before") or
                      actions.sha256_text(actions._read_text(f))}
    return out


def _extra_env(plan: Plan) -> dict:
    """Env settings the fix makes, applied to the verification's child process."""
    return {s.detail["name"]: s.detail["value"] for s in plan.steps
            if s.action == "set_env" and not s.error}


def apply_plan(plan: Plan, ctx: ApplyContext, *, journal: Optional[Journal] = None,
               rollback_on_failure: bool = False,
               ask_rollback: Optional[Callable[["Outcome"], bool]] = None) -> Outcome:
    out = Outcome("not-run", plan)
    if not plan.runnable:
        out.messages.extend(plan.errors)
        return out
    journal = journal or Journal()
    lock = journal.transaction_lock(plan.python)
    try:
        lock.acquire(blocking=False)
    except LockBusy as exc:
        out.status = "locked"
        out.messages.append(exc.describe(plan.python))
        return out
    except OSError as exc:
        out.messages.append(f"nothing changed: cannot create the lock file in {journal.root}: {exc}")
        return out
    try:
        try:  # holding the lock: an entry of this env still in flight was left by a dead process
            out.recovered = journal.recover(plan.python)
        except OSError:
            out.recovered = []
        return _apply_locked(plan, ctx, journal, out, rollback_on_failure, ask_rollback)
    finally:
        lock.release()


def _save(journal: Journal, entry: dict, out: Outcome, what: str) -> bool:
    """Save ``entry``; on failure (disk full, folder gone) note it in ``out`` and return False.
    The previous version of the entry stays on disk (atomic write)."""
    try:
        journal.save(entry)
        return True
    except OSError as exc:
        out.messages.append(f"could not write the journal {what} ({exc.strerror or exc}); "
                            "the last entry written is still there")
        return False


def _run_step(s, ctx):
    timer = fault_later(f"during-step:{s.index + 1}") if s.runs else None
    try:
        return actions.apply_step(s, ctx)
    finally:
        if timer is not None:
            timer.cancel()


def _apply_locked(plan, ctx, journal, out, rollback_on_failure, ask_rollback) -> Outcome:
    entry = journal.new_entry(plan.python, rule_id=plan.rule_id, fix_index=plan.fix_index,
                              fix_title=plan.fix_title, plan=plan.to_json())
    entry["pip_args"] = list(plan.pip_args)
    ctx.tag = "fix " + entry["id"]
    before = {}
    if plan.touches_packages:
        ctx.say("Snapshotting installed packages ...")
        try:
            before = snapshot_distributions(plan.python, env=ctx.child_env())
        except RuntimeError as exc:
            out.messages.append(f"nothing changed: could not snapshot the environment first ({exc})")
            return out
    entry["snapshot"] = {"distributions": before, "env": _touched_env(plan, ctx),
                         "files": _touched_files(plan)}
    entry["status"] = "applying"
    if not _save(journal, entry, out, "before the first step"):
        out.messages.append("nothing was changed: a fix is only applied once its snapshot is on disk")
        return out
    out.entry_id = entry["id"]
    fault("after-snapshot")
    failed = False
    journal_ok = True
    try:
        for s in plan.steps:
            n = s.index + 1
            fault(f"before-step:{n}")
            if s.runs:
                ctx.say(f"Step {n}: {s.summary}")
            pending = actions.prospective_undo(s, ctx)
            if pending:  # write-ahead: how to reverse this step is on disk before it runs
                entry["steps"].append({"index": s.index, "action": s.action, "ok": None, "state": "started",
                                       "message": "started; the process ended before it reported",
                                       "undo": pending})
                if not _save(journal, entry, out, f"before step {n}"):
                    entry["steps"].pop()
                    failed = True
                    out.messages.append(f"stopped before step {n}: it runs only once its undo is on record")
                    break
                entry["steps"].pop()
            res = _run_step(s, ctx)
            out.steps.append(res)
            entry["steps"].append(res.to_json())
            fault(f"after-step:{n}")
            if not _save(journal, entry, out, f"after step {n}"):
                journal_ok = failed = True
                out.messages.append(f"stopped after step {n}: what a step changes is only done once "
                                    "the one before it is on record; free some space, then "
                                    "`tfhelp undo` restores the snapshot")
                break
            fault(f"after-save:{n}")
            if not res.ok:
                failed = True
                out.messages.append(f"step {n} failed: {res.message}")
                break
    except KeyboardInterrupt:
        entry["status"] = "interrupted"
        out.status = "interrupted"
        out.messages.append("interrupted; the environment may be half-changed")
        failed = True
    if plan.touches_packages:
        try:
            after = snapshot_distributions(plan.python, env=ctx.child_env())
            entry["after"] = {"distributions": after}
            entry["changes"] = out.changes = diff_snapshots(before, after)
        except RuntimeError as exc:
            out.messages.append(f"could not list packages after the fix: {exc}")
    if not failed:
        entry["status"] = out.status = "applied"
        fault("before-verify")
        _save(journal, entry, out, "after the last step")
        extra = _extra_env(plan)
        try:
            for v in plan.verifies:
                ctx.say(f"Verifying: {v.summary}")
                out.verification.append(actions.run_verify(v, ctx, extra))
        except KeyboardInterrupt:
            out.verification.append(actions.VerifyResult("skipped", "verification interrupted"))
        entry["verification"] = {"status": out.verified, "checks": [v.to_json() for v in out.verification]}
    else:
        if entry["status"] != "interrupted":
            entry["status"] = out.status = "failed"
    fault("before-final-save")
    journal_ok = _save(journal, entry, out, "at the end") and journal_ok
    if failed or out.verified == "failed":
        want = rollback_on_failure or (ask_rollback is not None and ask_rollback(out))
        if want:
            ctx.say("Rolling back ...")
            entry["status"] = "undoing"
            if not _save(journal, entry, out, "before rolling back"):
                out.messages.append("not rolled back: the journal can't record it; `tfhelp undo` can, later")
                entry["status"] = out.status
                return out
            res = _reverse(entry, ctx, journal, force=False)
            out.rollback = res
            entry["rollback"] = res
            entry["status"] = out.status = "rolled-back" if res["ok"] else "rollback-failed"
            _save(journal, entry, out, "after rolling back")
    return out


def _reverse(entry: dict, ctx: ApplyContext, journal: Journal, *, force: bool,
             current: Optional[dict] = None) -> dict:
    """Undo what ``entry`` changed: packages back to the snapshot, env blocks removed, files restored."""
    python = entry["python"]
    msgs, ok, exact = [], True, None
    before = (entry.get("snapshot") or {}).get("distributions") or {}
    pip_steps = any(s.get("action") in ("pip_install", "pip_uninstall") for s in (entry.get("plan") or {}).get("steps", []))
    if before or pip_steps:
        if current is None:
            try:
                current = snapshot_distributions(python, env=ctx.child_env())
            except RuntimeError as exc:
                return {"ok": False, "messages": [f"could not list packages: {exc}"], "exact": False}
        changes = entry.get("changes")
        crashed = changes is None
        if crashed:  # crashed mid-way: everything that differs from the snapshot is the fix's doing
            changes = diff_snapshots(before, current)
        pip_args = tuple(ctx.pip_args) or tuple(entry.get("pip_args") or ())
        timer = fault_later("during-undo")
        try:
            res = restore_distributions(python, before, changes, current, pip_args=pip_args,
                                        force=force or crashed, progress=ctx.progress, env=ctx.child_env())
        finally:
            if timer is not None:
                timer.cancel()
        ok = ok and res["ok"]
        msgs.extend(res["conflicts"] + res["notes"])
        if not res["ok"] and res["output"]:
            msgs.append(res["output"].strip()[-1500:])
        try:
            now = snapshot_distributions(python, env=ctx.child_env())
        except RuntimeError as exc:
            return {"ok": False, "messages": msgs + [str(exc)], "exact": False}
        touched = set(changes.get("changed", {})) | set(changes.get("added", {})) | set(changes.get("removed", {}))
        bv, nv = versions(before), versions(now)
        wrong = {k: [bv.get(k), nv.get(k)] for k in touched if bv.get(k) != nv.get(k)}
        exact = not wrong
        if wrong:
            ok = False
            msgs.extend(f"{k}: wanted {a or 'absent'}, have {b or 'absent'}" for k, (a, b) in sorted(wrong.items()))
        else:
            msgs.append("packages back at their snapshot versions: " +
                        (", ".join(f"{k} {bv[k]}" if k in bv else f"{k} removed" for k in sorted(touched)) or "no package had changed"))
        restored_cmds = res["commands"]
    else:
        restored_cmds = []
    n_undone = 0
    for st in reversed(entry.get("steps") or []):
        u = st.get("undo") or {}
        if not u:
            continue
        if u.get("kind") == "file":
            r_ok, m = actions.undo_code_change(u, force=force)
        else:
            r_ok, m = actions.undo_set_env(u, ctx.session_env)
        ok = ok and r_ok
        msgs.append(m)
        n_undone += 1
        fault(f"undo-after-step:{n_undone}")
    return {"ok": ok, "exact": exact, "messages": msgs, "commands": restored_cmds}


def env_drift(entry: dict, current: dict) -> list:
    """What changed in the environment since ``entry``'s fix finished, by someone else: packages
    whose version now is neither the one recorded after the fix nor the one from before it, and
    files the fix edited that were edited again. ``[{"what", "after", "now"}]``; empty when
    nothing changed, or when the fix never finished (no after-snapshot to compare with)."""
    out = []
    after = (entry.get("after") or {}).get("distributions")
    if after is not None:
        bv = versions((entry.get("snapshot") or {}).get("distributions") or {})
        av, nv = versions(after), versions(current)
        for k in sorted(set(av) | set(nv)):
            if nv.get(k) != av.get(k) and nv.get(k) != bv.get(k):
                out.append({"what": k, "after": av.get(k), "now": nv.get(k)})
    for st in entry.get("steps") or []:
        u = st.get("undo") or {}
        if u.get("kind") == "file":
            cur = actions._read_text(u["file"])
            sha = actions.sha256_text(cur)
            if sha not in (u.get("sha_after"), actions.sha256_text(u.get("content"))):
                out.append({"what": u["file"], "kind": "file", "after": "as the fix left it",
                            "now": "deleted" if cur is None else "edited"})
    return out


def drift_lines(drift: list) -> list:
    return [f"{d['what']} was {d['now']} after the fix" if d.get("kind") == "file" else
            f"{d['what']}: {d['after'] or 'not installed'} after the fix, {d['now'] or 'not installed'} now"
            for d in drift]


def undo_last(python: str, ctx: ApplyContext, *, journal: Optional[Journal] = None,
              force: bool = False, entry: Optional[dict] = None) -> dict:
    """Reverse the last applied (not yet undone) fix of ``python``.

    Returns ``{"ok", "entry", "messages", "exact"}``, plus ``"busy": True`` when another process
    holds the environment's lock, and ``"refused": True`` with ``"drift"`` (see :func:`env_drift`)
    when the environment changed since the fix and ``force`` is not set; ``entry`` is None when
    there is nothing to undo. The entry is ``undoing`` on disk while the undo runs, so an undo that
    dies half-way is found (``undo-interrupted``) and finished by the next one."""
    from .journal import _now

    journal = journal or Journal()
    lock = journal.transaction_lock(python)
    try:
        lock.acquire(blocking=False)
    except LockBusy as exc:
        return {"ok": False, "entry": None, "busy": True, "messages": [exc.describe(python)]}
    except OSError as exc:
        return {"ok": False, "entry": None, "messages": [f"cannot create the lock file in {journal.root}: {exc}"]}
    try:
        try:
            recovered = journal.recover(python)
        except OSError:
            recovered = []
        if entry is not None:  # the caller's copy may predate recovery or another process's undo
            fresh = journal.get(entry["id"])
            entry = fresh if fresh is not None and fresh.get("status") != "undone" else None
        entry = entry or journal.last_undoable(python)
        if entry is None:
            return {"ok": True, "entry": None, "messages": ["nothing to undo for this interpreter"],
                    "problems": journal.problems, "recovered": recovered}
        status = entry.get("status")
        half_done = status in ("applying", "interrupted", "undoing", "undo-interrupted", "rollback-failed")
        current = None
        before = (entry.get("snapshot") or {}).get("distributions") or {}
        if before or entry.get("after"):
            try:
                current = snapshot_distributions(python, env=ctx.child_env())
            except RuntimeError as exc:
                return {"ok": False, "entry": entry, "exact": False, "recovered": recovered,
                        "messages": [f"nothing was undone: could not list packages: {exc}"]}
        drift = [] if status in ("undoing", "undo-interrupted", "rollback-failed") else env_drift(entry, current or {})
        if drift and not force:
            return {"ok": False, "entry": entry, "exact": False, "refused": True, "drift": drift,
                    "recovered": recovered,
                    "messages": ["the environment changed since this fix (by hand, or by another tool):",
                                 *drift_lines(drift),
                                 "nothing was undone: undo would put the versions from before the fix over "
                                 "these changes. Run `tfhelp undo --force` to undo anyway."]}
        prev = status if status not in IN_FLIGHT else IN_FLIGHT[status]
        entry["undo"] = {"started": _now(), "from_status": prev, "force": bool(force)}
        entry["status"] = "undoing"
        try:
            journal.save(entry)
        except OSError as exc:
            return {"ok": False, "entry": entry, "exact": False, "recovered": recovered,
                    "messages": [f"nothing was undone: could not write the journal ({exc.strerror or exc})"]}
        fault("undo-start")
        res = _reverse(entry, ctx, journal, force=force or half_done, current=current)
        fault("undo-after-restore")
        entry["undo"] = dict(res, when=_now(), from_status=prev, force=bool(force))
        entry["status"] = "undone" if res["ok"] else prev
        try:
            journal.save(entry)
        except OSError as exc:
            res["messages"].append(f"could not record the undo in the journal ({exc.strerror or exc}); "
                                   "a later `tfhelp undo` finds the packages already back")
        return dict(res, entry=entry, recovered=recovered, drift=drift)
    finally:
        lock.release()
