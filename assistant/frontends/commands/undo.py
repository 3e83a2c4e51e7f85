"""``tfhelp undo``: restore the snapshot taken before the last fix applied to an interpreter."""
from __future__ import annotations

import json

NAME = "undo"
HELP = "undo the last fix applied to the target interpreter (also from an earlier session)"


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

    as_json = getattr(args, "json", False)
    python = target_python(ctx)
    journal = Journal()
    entry = journal.last_undoable(python)
    console = ctx.console()
    if entry is None:
        if as_json:
            ctx.stdout.write(json.dumps({"ok": True, "entry": None, "messages": ["nothing to undo"]}) + "\n")
        else:
            console.print(Text(f"Nothing to undo for {python}."))
        return 0
    if not args.yes:
        ch = entry.get("changes") or {}
        what = ", ".join([f"{k} {a}->{b}" for k, (a, b) in sorted(ch.get("changed", {}).items())] +
                         [f"+{k}" for k in sorted(ch.get("added", {}))] + [f"-{k}" for k in sorted(ch.get("removed", {}))])
        console.print(Text(f"Last fix for {python}: {entry.get('fix_title')} ({entry.get('rule_id')}, "
                           f"{entry.get('created')}, {entry.get('status')})" + (f"\n  changed: {what}" if what else "")))
        if not ctx.stdin_isatty:
            console.print(Text("not undone: confirm on a terminal, or pass --yes", style="yellow"))
            return EXIT_FAIL
        if not _ask(ctx, "Undo it?"):
            return 0
    say = None if as_json else (lambda s: console.print(Text(s, style="dim")))
    actx = make_apply_context(python, pip_args=args.pip_arg, progress=say)
    res = undo_last(python, actx, journal=journal, force=args.force, entry=entry)
    if as_json:
        out = dict(res)
        out["entry"] = history_json([res["entry"]])[0] if res.get("entry") else None
        ctx.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        render_undo(res, console)
    return 0 if res.get("ok") else EXIT_FAIL
