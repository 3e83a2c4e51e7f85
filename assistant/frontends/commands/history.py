"""``tfhelp history``: fixes applied, when, to which interpreter, and whether they were verified."""
from __future__ import annotations

import json

NAME = "history"
HELP = "list the fixes tfhelp applied (all interpreters, or --python's), with their outcomes"
EPILOG = ("Lists the journal of every interpreter tfhelp fixed (or only --python's), then one line per "
          "interpreter with the --python that `tfhelp undo` needs there.  Exit status: 0 listed; 2 usage error.")


def register(parser) -> None:
    parser.add_argument("-n", "--limit", type=int, default=20, help="show the last N entries (default 20)")


def run(args, ctx) -> int:
    import shlex

    from rich.text import Text

    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.frontends.commands.undo import journal_targets
    from tfhelp.assistant.render.fix import history_json, render_history

    python = None
    if getattr(args, "python", None) or ctx.target_python:
        from tfhelp.assistant.frontends.commands.fix import target_python

        python = target_python(ctx)
    journal = Journal()
    from tfhelp.assistant.frontends.commands.fix import report_recovered

    report_recovered(journal, python, ctx, getattr(args, "json", False))   # half-done fixes, on stderr
    entries = journal.entries(python)[-max(1, args.limit):]
    problems = list(journal.problems)
    targets = journal_targets(journal)
    if getattr(args, "json", False):
        doc = {"entries": history_json(entries), "problems": problems,
               "targets": [{"python": g["python"], "entries": g["entries"],
                            "undoable": (g["undoable"] or {}).get("id")} for g in targets]}
        ctx.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    console = ctx.console()
    render_history(entries, console, problems)
    from tfhelp.assistant.fixes.journal import python_key

    mine = python_key(python) if python else None
    shown = [g for g in targets if mine is None or python_key(g["python"]) != mine]
    if shown:
        console.print(Text("Interpreters in the journal:" if mine is None else "Other interpreters in the journal:",
                           style="bold"))
        for g in shown:
            e = g["undoable"]
            tail = (f"undo {e.get('rule_id')}: tfhelp undo --python {shlex.quote(g['python'])}" if e else
                    f"nothing to undo; tfhelp history --python {shlex.quote(g['python'])}")
            console.print(Text(f"  {g['python']} ({g['entries']} fix(es)); {tail}"))
    return 0
