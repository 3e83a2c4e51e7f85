"""Plan, confirm, apply, verify, roll back and undo a fix.

``build_plan(fix, ctx)`` turns a resolved fix (``{"title", "steps": [...]}`` as in a report's
diagnosis) into a :class:`Plan`: the exact argv of every step, where env changes go, code changes
as diffs. Nothing runs while planning. ``apply_plan`` then, holding the interpreter's lock:
snapshots the environment into a journal entry, runs the steps one by one (re-saving the entry
after each), snapshots again, runs the verification and reports the outcome as it is. A failed
step or verification is rolled back when asked (``rollback_on_failure`` or the ``ask_rollback``
callback). ``undo_last`` restores the last applied fix of an interpreter, also in a later session.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import actions
from .actions import ApplyContext
from .journal import (Journal, LockBusy, diff_snapshots, restore_distributions,
                      snapshot_distributions, versions)


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
    status: str                       # applied | failed | rolled-back | rollback-failed | interrupted | not-run
    plan: Plan
    entry_id: Optional[str] = None
    steps: list = field(default_factory=list)          # StepResult
    verification: list = field(default_factory=list)   # VerifyResult
    changes: Optional[dict] = None
    rollback: Optional[dict] = None
    messages: list = field(default_factory=list)

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
                "changes": self.changes, "rollback": self.rollback, "messages": list(self.messages)}


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
    except LockBusy:
        out.messages.append("another tfhelp process is changing this interpreter right now; try again when it is done")
        return out
    try:
        return _apply_locked(plan, ctx, journal, out, rollback_on_failure, ask_rollback)
    finally:
        lock.release()


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
    journal.save(entry)
    out.entry_id = entry["id"]
    failed = False
    try:
        for s in plan.steps:
            if s.runs:
                ctx.say(f"Step {s.index + 1}: {s.summary}")
            res = actions.apply_step(s, ctx)
            out.steps.append(res)
            entry["steps"].append(res.to_json())
            journal.save(entry)
            if not res.ok:
                failed = True
                out.messages.append(f"step {s.index + 1} failed: {res.message}")
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
        journal.save(entry)
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
    journal.save(entry)
    if failed or out.verified == "failed":
        want = rollback_on_failure or (ask_rollback is not None and ask_rollback(out))
        if want:
            ctx.say("Rolling back ...")
            res = _reverse(entry, ctx, journal, force=False)
            out.rollback = res
            entry["rollback"] = res
            entry["status"] = out.status = "rolled-back" if res["ok"] else "rollback-failed"
            journal.save(entry)
    return out


def _reverse(entry: dict, ctx: ApplyContext, journal: Journal, *, force: bool) -> dict:
    """Undo what ``entry`` changed: packages back to the snapshot, env blocks removed, files restored."""
    python = entry["python"]
    msgs, ok, exact = [], True, None
    before = (entry.get("snapshot") or {}).get("distributions") or {}
    pip_steps = any(s.get("action") in ("pip_install", "pip_uninstall") for s in (entry.get("plan") or {}).get("steps", []))
    if before or pip_steps:
        try:
            current = snapshot_distributions(python, env=ctx.child_env())
        except RuntimeError as exc:
            return {"ok": False, "messages": [f"could not list packages: {exc}"], "exact": False}
        changes = entry.get("changes")
        crashed = changes is None
        if crashed:  # crashed mid-way: everything that differs from the snapshot is the fix's doing
            changes = diff_snapshots(before, current)
        pip_args = tuple(ctx.pip_args) or tuple(entry.get("pip_args") or ())
        res = restore_distributions(python, before, changes, current, pip_args=pip_args,
                                    force=force or crashed, progress=ctx.progress, env=ctx.child_env())
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
    return {"ok": ok, "exact": exact, "messages": msgs, "commands": restored_cmds}


def undo_last(python: str, ctx: ApplyContext, *, journal: Optional[Journal] = None,
              force: bool = False, entry: Optional[dict] = None) -> dict:
    """Reverse the last applied (not yet undone) fix of ``python``.

    Returns ``{"ok", "entry", "messages", "exact"}``; ``entry`` is None when there is nothing to undo."""
    journal = journal or Journal()
    lock = journal.transaction_lock(python)
    try:
        lock.acquire(blocking=False)
    except LockBusy:
        return {"ok": False, "entry": None, "messages": ["another tfhelp process is changing this interpreter"]}
    try:
        entry = entry or journal.last_undoable(python)
        if entry is None:
            return {"ok": True, "entry": None, "messages": ["nothing to undo for this interpreter"],
                    "problems": journal.problems}
        res = _reverse(entry, ctx, journal, force=force)
        from .journal import _now
        entry["undo"] = dict(res, when=_now())
        entry["status"] = "undone" if res["ok"] else entry.get("status")
        journal.save(entry)
        return dict(res, entry=entry)
    finally:
        lock.release()
