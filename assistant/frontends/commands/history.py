"""``tfhelp history``: fixes applied, when, to which interpreter, and whether they were verified."""
from __future__ import annotations

import json

NAME = "history"
HELP = "list the fixes tfhelp applied (all interpreters, or --python's), with their outcomes"


def register(parser) -> None:
    parser.add_argument("-n", "--limit", type=int, default=20, help="show the last N entries (default 20)")


def run(args, ctx) -> int:
    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.render.fix import history_json, render_history

    python = None
    if getattr(args, "python", None) or ctx.target_python:
        from tfhelp.assistant.frontends.commands.fix import target_python

        python = target_python(ctx)
    journal = Journal()
    entries = journal.entries(python)[-max(1, args.limit):]
    if getattr(args, "json", False):
        ctx.stdout.write(json.dumps({"entries": history_json(entries), "problems": journal.problems}, indent=2) + "\n")
    else:
        render_history(entries, ctx.console(), journal.problems)
    return 0
