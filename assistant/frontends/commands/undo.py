"""``tfhelp undo``: restore the snapshot taken before the last fix applied to an interpreter.

Refuses, listing each difference, when the environment changed since the fix (``--force`` undoes
anyway). A fix or undo a killed process left half-done is reported first and is what undo
restores. Exit status: 0 restored or nothing to undo; 1 not (fully) restored or refused; 75
another tfhelp process is changing the same environment (nothing was done; try again)."""
from __future__ import annotations

import json

NAME = "undo"
HELP = "undo the last fix applied to the target interpreter (also from an earlier session)"


EPILOG = ("The journal keeps the fixes of every interpreter (in the state folder, TFHELP_STATE_DIR overrides it); "
          "undo acts on the target (--python, default: python on PATH). When the target has nothing to undo, "
          "the interpreters that do are listed with the --python to use.  Exit status: 0 undone or nothing to "
          "undo; 1 the undo failed, was refused (the environment changed since the fix: --force) or was not "
          "confirmed; 2 usage error; 75 another tfhelp process is changing that environment (nothing done; try again).")


def journal_targets(journal, exclude=None) -> list:
    """Every interpreter the journal has entries for, newest activity first:
    ``[{"python", "entries", "undoable", "last"}]`` (``last``: its newest entry; ``undoable``: the
    entry ``undo`` would restore there, or None). ``exclude`` leaves one interpreter out."""
    from tfhelp.assistant.fixes.journal import UNDOABLE_STATUSES, python_key

    skip = python_key(exclude) if exclude else None
    groups: dict = {}
    for e in journal.entries():
        key = e.get("python_key")
        if not key or key == skip:
            continue
        g = groups.setdefault(key, {"python": e.get("python") or key, "entries": 0, "undoable": None, "last": None})
        g["entries"] += 1
        g["last"] = e                     # entries() is oldest first
        if e.get("status") in UNDOABLE_STATUSES and e.get("snapshot"):
            g["undoable"] = e
    return sorted(groups.values(), key=lambda g: str((g["last"] or {}).get("created") or ""), reverse=True)


def last_undoable_in_env(journal, python: str):
    """The entry ``undo`` restores for ``python``: its own newest undoable entry, else the newest one
    recorded for another interpreter of the same environment (``venv/bin/python3`` for
    ``venv/bin/python``), else None."""
    entry = journal.last_undoable(python)
    if entry is not None:
        return entry
    try:
        from tfhelp.assistant.fixes.journal import env_key

        mine = env_key(python)
    except Exception:  # noqa: BLE001 - an odd path: only exact matches then
        return None
    best = None
    for g in journal_targets(journal, exclude=python):
        e = g["undoable"]
        if e is None:
            continue
        try:
            same = env_key(g["python"]) == mine
        except Exception:  # noqa: BLE001
            same = False
        if same and (best is None or str(e.get("created")) > str(best.get("created"))):
            best = e
    return best


def other_targets_lines(journal, python: str, verb: str = "undo") -> list:
    """Lines naming the other interpreters with fixes to undo and the command for each."""
    import shlex

    lines = []
    for g in journal_targets(journal, exclude=python):
        e = g["undoable"]
        if e is None:
            continue
        lines.append(f"  {g['python']}: {e.get('fix_title')} ({e.get('rule_id')}, {e.get('created')}, "
                     f"{e.get('status')}) -> tfhelp {verb} --python {shlex.quote(g['python'])}")
    return lines


def register(parser) -> None:
    parser.add_argument("-y", "--yes", action="store_true", help="undo without asking")
    parser.add_argument("--force", action="store_true",
                        help="also restore packages and files that changed again after the fix")
    parser.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                        help="extra option for pip install (e.g. --pip-arg=--no-index)")


def run(args, ctx) -> int:
    from rich.text import Text

    from tfhelp.assistant.frontends.cli import EXIT_FAIL
    from tfhelp.assistant.frontends.commands.fix import _ask, make_apply_context, target_python
    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.fixes.plan import undo_last
    from tfhelp.assistant.render.fix import history_json, render_undo

    from tfhelp.assistant.frontends.commands.fix import EXIT_BUSY, report_recovered

    as_json = getattr(args, "json", False)
    python = target_python(ctx)
    journal = Journal()
    report_recovered(journal, python, ctx, as_json)
    entry = last_undoable_in_env(journal, python)
    console = ctx.console()
    if entry is None:
        others = [{"python": g["python"], "entry": g["undoable"].get("id"), "rule_id": g["undoable"].get("rule_id"),
                   "fix_title": g["undoable"].get("fix_title"), "created": g["undoable"].get("created")}
                  for g in journal_targets(journal, exclude=python) if g["undoable"] is not None]
        # (none of them is in python's environment: last_undoable_in_env would have found it)
        if as_json:
            ctx.stdout.write(json.dumps({"ok": True, "entry": None, "python": python, "messages": ["nothing to undo"],
                                         "other_targets": others}) + "\n")
        else:
            console.print(Text(f"Nothing to undo for {python}."))
            lines = other_targets_lines(journal, python)
            if lines:
                console.print(Text("Fixes that can be undone in other interpreters:"))
                for line in lines:
                    console.print(Text(line))
        return 0
    if not args.yes:
        ch = entry.get("changes") or {}
        what = ", ".join([f"{k} {a}->{b}" for k, (a, b) in sorted(ch.get("changed", {}).items())] +
                         [f"+{k}" for k in sorted(ch.get("added", {}))] + [f"-{k}" for k in sorted(ch.get("removed", {}))])
        console.print(Text(f"Target: {python}\nLast fix there: {entry.get('fix_title')} ({entry.get('rule_id')}, "
                           f"{entry.get('created')}, {entry.get('status')})" + (f"\n  changed: {what}" if what else "")))
        if not ctx.stdin_isatty:
            console.print(Text("not undone: confirm on a terminal, or pass --yes", style="yellow"))
            return EXIT_FAIL
        if not _ask(ctx, f"Undo it in {python}?"):
            return 0
    say = None if as_json else (lambda s: console.print(Text(s, style="dim")))
    actx = make_apply_context(python, pip_args=args.pip_arg, progress=say)
    res = undo_last(python, actx, journal=journal, force=args.force, entry=entry)
    if as_json:
        out = dict(res)
        out["entry"] = history_json([res["entry"]])[0] if res.get("entry") else None
        ctx.stdout.write(json.dumps(out, indent=2) + "\n")
    elif res.get("busy"):
        ctx.stderr.write(f"tfhelp undo: {res['messages'][0]}\n")
    elif res.get("refused"):
        first, *rest = res["messages"]
        console.print(Text("Not undone: " + first + "".join(f"\n  {m}" for m in rest[:-1]) + "\n" + rest[-1],
                           style="yellow"))
    else:
        render_undo(res, console)
    if res.get("busy"):
        return EXIT_BUSY
    return 0 if res.get("ok") else EXIT_FAIL
