"""Rendering of fix plans, outcomes, undo results and the fix history (rich, markup off).

Every string from a rule, a pip run or the journal is passed through ``render.safe`` and printed
as :class:`rich.text.Text`, never as markup.
"""
from __future__ import annotations

import shlex

from rich.text import Text


def _safe(s) -> str:
    from tfhelp.assistant.render.diagnosis import safe

    return safe(s)


def _cmd(argv) -> str:
    return "$ " + shlex.join(argv)


STATUS_STYLE = {"applied": "green", "undone": "cyan", "rolled-back": "cyan", "failed": "red",
                "rollback-failed": "bold red", "interrupted": "yellow", "applying": "yellow",
                "not-run": "yellow", "planned": "dim"}
VERIFY_STYLE = {"passed": "green", "failed": "red", "skipped": "yellow", "partly": "yellow", "none": "dim"}


def plan_text(plan) -> Text:
    t = Text()
    t.append("Plan: ", style="bold")
    t.append(_safe(plan.fix_title), style="bold green")
    t.append("\n")
    t.append(f"  target: {_safe(plan.python)}\n", style="dim")
    for w in plan.warnings:
        t.append("  ! " + _safe(w) + "\n", style="yellow")
    for s in plan.steps:
        t.append(f"  {s.index + 1}. ")
        if s.error:
            t.append("cannot run: " + _safe(s.error) + "\n", style="red")
            continue
        if not s.runs:
            t.append("(for you) ", style="yellow")
        t.append(_safe(s.summary) + "\n")
        if s.argv:
            t.append("     " + _safe(_cmd(s.argv)) + "\n", style="cyan")
        if s.detail.get("note"):
            t.append("     " + _safe(s.detail["note"]) + "\n", style="dim")
        if s.action == "set_env" and not s.runs and s.detail.get("line"):
            t.append("     " + _safe(s.detail["line"]) + "\n", style="cyan")
        if s.action == "code_change" and s.detail.get("diff"):
            _code_change(t, s.detail)
        if s.action == "manual":
            from tfhelp.kb.report import manual_commands

            for cmd in manual_commands(s.detail.get("text")):
                t.append("     " + _safe(cmd) + "\n", style="cyan")
        if s.action == "manual" and s.detail.get("link"):
            t.append("     " + _safe(s.detail["link"]) + "\n", style="cyan")
    for v in plan.verifies:
        t.append(f"  {v.index + 1}. verify: ")
        if v.error:
            t.append("cannot run: " + _safe(v.error) + "\n", style="red")
        else:
            t.append(_safe(v.summary) + "\n")
    if plan.touches_packages:
        t.append("  Installed packages are snapshotted first; `tfhelp undo` puts them back.\n", style="dim")
    return t


def _code_change(t: Text, detail: dict) -> None:
    """A real diff when the plan edits a file it read; otherwise the rule's before/after as a pattern
    to look for (never shown as lines of the user's file, which tfhelp has not seen)."""
    lines = detail["diff"].splitlines()
    if detail.get("file") and not detail.get("not_found"):
        for line in lines:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            t.append("     " + _safe(line) + "\n", style=style)
        return
    body = [ln for ln in lines if not ln.startswith(("---", "+++", "@@"))]
    t.append("     where your code has lines like:\n", style="dim")
    for ln in body:
        if ln.startswith(("-", " ")):
            t.append("         " + _safe(ln[1:]) + "\n", style="red")
    t.append("     change them to the same effect as:\n", style="dim")
    for ln in body:
        if ln.startswith(("+", " ")):
            t.append("         " + _safe(ln[1:]) + "\n", style="green")


def render_plan(plan, console) -> None:
    """soft_wrap: the plan's command lines are never wrapped or cropped (copy-paste them whole)."""
    console.print(plan_text(plan), soft_wrap=True)


def outcome_text(out) -> Text:
    t = Text()
    for s in out.steps:
        mark, style = ("✓", "green") if s.ok else ("✗", "red")
        t.append(f"  {mark} step {s.index + 1}: ", style=style)
        t.append(_safe(s.message) + "\n")
        for w in s.warnings[:5]:
            t.append("      " + _safe(w) + "\n", style="yellow")
        if not s.ok and s.output:
            for line in s.output.splitlines()[-8:]:
                t.append("      " + _safe(line) + "\n", style="dim")
    if out.changes:
        ch = out.changes
        bits = [f"{k} {a} -> {b}" for k, (a, b) in sorted(ch.get("changed", {}).items())]
        bits += [f"+{k} {v}" for k, v in sorted(ch.get("added", {}).items())]
        bits += [f"-{k} {v}" for k, v in sorted(ch.get("removed", {}).items())]
        t.append("  packages: " + (_safe(", ".join(bits)) if bits else "no change") + "\n", style="dim")
    for v in out.verification:
        style = VERIFY_STYLE.get(v.status, "")
        t.append(f"  verify {v.status}: ", style=f"bold {style}")
        t.append(_safe(v.message) + "\n")
        if v.status == "passed" and v.output.strip():
            t.append("      " + _safe(v.output.strip().splitlines()[-1][:200]) + "\n", style="dim")
        if v.status == "failed" and v.output:
            for line in v.output.splitlines()[-8:]:
                t.append("      " + _safe(line) + "\n", style="dim")
    for m in out.messages:
        t.append("  " + _safe(m) + "\n", style="yellow")
    if out.rollback:
        rb = out.rollback
        t.append("  rollback: ", style="bold")
        t.append(("done, environment restored exactly" if rb.get("ok") and rb.get("exact") is not False
                  else "incomplete") + "\n", style="cyan" if rb.get("ok") else "red")
        for m in rb.get("messages", []):
            t.append("      " + _safe(m) + "\n", style="dim")
    # the headline, last so it is what the eye lands on
    if out.status == "not-run":
        t.append("Nothing was changed.", style="bold yellow")
    elif out.status == "applied" and out.plan.for_user:
        n = len(out.plan.for_user)
        yours = f"{n} step(s) marked (for you) are still yours to do"
        if out.verified == "passed":
            t.append(f"tfhelp's part is applied and the check passes; {yours}.", style="bold green")
        elif out.verified == "failed":
            t.append(f"tfhelp's part is applied but the check still fails: {yours}, then check again "
                     "(`tfhelp undo` restores the previous state).", style="bold yellow")
        else:
            t.append(f"tfhelp's part is applied; {yours}.", style="bold yellow")
    elif out.status == "applied" and out.verified == "passed":
        t.append("Fixed and verified.", style="bold green")
    elif out.status == "applied" and out.verified == "failed":
        t.append("Applied, but verification FAILED: the problem is not solved. "
                 "`tfhelp undo` (or /undo) restores the previous state.", style="bold red")
    elif out.status == "applied":
        t.append("Applied; not verified (" + ("no check could run" if out.verified in ("skipped", "partly")
                                                else "the rule names no check") + ").", style="bold yellow")
    elif out.status == "rolled-back":
        t.append("The fix failed and was rolled back.", style="bold cyan")
    elif out.status == "rollback-failed":
        t.append("The fix failed and the rollback did not complete; see above.", style="bold red")
    else:
        t.append(f"The fix {out.status}. `tfhelp undo` (or /undo) restores the snapshot.", style="bold red")
    if out.entry_id:
        t.append(f"  (journal {out.entry_id})", style="dim")
    return t


def render_outcome(out, console) -> None:
    console.print(outcome_text(out))


def undo_text(res: dict) -> Text:
    t = Text()
    e = res.get("entry")
    if e is None:
        for m in res.get("messages", []):
            t.append(_safe(m) + "\n")
        return t
    t.append("Undo: ", style="bold")
    t.append(_safe(e.get("fix_title")) + f" ({_safe(e.get('rule_id') or '-')}, {_safe(e.get('created'))})\n")
    for m in res.get("messages", []):
        t.append("  " + _safe(m) + "\n", style="dim")
    if res.get("ok"):
        t.append("Restored.", style="bold green")
    else:
        t.append("Not everything could be restored; see above.", style="bold red")
    return t


def render_undo(res: dict, console) -> None:
    console.print(undo_text(res))


def history_text(entries: list, problems=()) -> Text:
    t = Text()
    for p in problems:
        t.append("note: " + _safe(p) + "\n", style="yellow")
    if not entries:
        t.append("No fixes applied yet.")
        return t
    for e in entries:
        st = e.get("status", "?")
        ver = (e.get("verification") or {}).get("status", "-")
        t.append(f"{_safe(e.get('created', '?'))}  ", style="dim")
        t.append(f"{st:<15}", style=STATUS_STYLE.get(st, ""))
        t.append(f"verify {ver:<8}", style=VERIFY_STYLE.get(ver, "dim"))
        t.append(_safe(e.get("rule_id") or "-") + ": " + _safe(e.get("fix_title")) + "\n")
        t.append(f"    {_safe(e.get('python'))}  [{_safe(e.get('id'))}]\n", style="dim")
    return t


def render_history(entries: list, console, problems=()) -> None:
    console.print(history_text(entries, problems))


def history_json(entries: list) -> list:
    keep = ("id", "created", "updated", "python", "rule_id", "fix_index", "fix_title", "status", "changes",
            "verification", "rollback", "undo")
    return [{k: e.get(k) for k in keep} for e in entries]
