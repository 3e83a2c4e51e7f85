"""``tfhelp fix RULE_ID``: plan a rule's fix for the target interpreter, confirm, apply, verify.

The fix is the one the engine chooses for the target's versions (``--fix N`` picks another
alternative; ``--list`` shows them). Before anything changes, the installed distributions are
snapshotted into the journal; ``tfhelp undo`` restores them. A fix that already failed for this
interpreter is ranked last and flagged.

Exit status: 0 applied (and verified, when the rule names a check) or nothing to do; 1 the fix
failed, could not be planned, or was not confirmed; 2 usage error; 75 (EX_TEMPFAIL) another
tfhelp process is changing the same environment right now (nothing was changed: try again);
130 interrupted. A fix a killed process left half-done is reported at the start, and
``tfhelp undo`` rolls it back.
"""
from __future__ import annotations

import json
import os

#: another tfhelp process holds the environment's lock (sysexits.h EX_TEMPFAIL: try again later)
EXIT_BUSY = 75

NAME = "fix"
EPILOG = ("Exit status: 0 applied (and verified); 1 failed or not applied; 2 usage error; "
          f"{EXIT_BUSY} another tfhelp process is changing this environment (nothing changed; try again); "
          "130 interrupted. A fix a killed process left half-done is reported here; `tfhelp undo` rolls it back.")
HELP = "plan and apply a rule's fix to the target interpreter (snapshot, verify, undo)"
DESCRIPTION = ("Plan a rule's fix for the target interpreter, show the exact commands, ask, apply, verify, "
               "and keep a snapshot so `tfhelp undo` can restore the previous state.")


def register(parser) -> None:
    parser.add_argument("rule_id", help="the rule whose fix to apply (see `tfhelp rules list`)")
    parser.add_argument("--fix", type=int, metavar="N", help="use fix alternative N (1-based; see --list)")
    parser.add_argument("--list", action="store_true", help="list the fix alternatives for the target and stop")
    parser.add_argument("-y", "--yes", action="store_true", help="apply without asking")
    parser.add_argument("--dry-run", action="store_true", help="show the plan only; change nothing")
    parser.add_argument("--rollback-on-failure", action="store_true",
                        help="roll back automatically when a step or the verification fails")
    parser.add_argument("--file", metavar="PATH", help="apply code changes to this file (otherwise they are shown)")
    parser.add_argument("--script", metavar="PATH", help="the script a `verify: script` step re-runs")
    parser.add_argument("--input", metavar="FILE",
                        help="the error text (FILE or -): values it names (paths, versions) fill the fix's placeholders")
    parser.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                        help="extra option for pip install, e.g. --pip-arg=--no-index --pip-arg=--find-links=DIR")


# --- helpers shared with the REPL -------------------------------------------------------------


def target_python(ctx) -> str:
    """Absolute path of the target interpreter; the journal keys entries by it."""
    return os.path.abspath(ctx.default_python())


def target_environment(python: str):
    """The target's Environment: the probe's packages/basic sub-probes, else ``pip list``."""
    try:
        from tfhelp.assistant.environment import probe

        env = probe.probe(python, only=["basic", "packages"]).to_environment()
        if env.packages:
            return env
    except Exception:  # noqa: BLE001 - fall back to pip
        pass
    from tfhelp.assistant.fixes.journal import snapshot_distributions, versions
    from tfhelp.kb.environment import Environment

    try:
        pk = versions(snapshot_distributions(python, timeout=60))
    except RuntimeError:
        return None
    return Environment(packages=pk, source="probe")


def failed_before_fn(python: str, journal=None):
    from tfhelp.assistant.fixes.journal import Journal

    j = journal or Journal()
    cache = {}

    def failed_before(rule_id: str, title: str) -> bool:
        if rule_id not in cache:
            cache[rule_id] = j.failed_fixes(python, rule_id)
        return any(f.get("fix_title") == title for f in cache[rule_id])

    return failed_before


def make_apply_context(python: str, *, pip_args=(), session_env=None, code_file=None, script=None,
                       progress=None):
    from tfhelp.assistant.fixes.actions import ApplyContext

    return ApplyContext(python=python, pip_args=tuple(pip_args), session_env=session_env,
                        code_file=code_file, script=script, progress=progress)


def report_recovered(journal, python, ctx, as_json: bool) -> list:
    """Find fixes / undos a killed process left half-done for ``python`` and say so (stderr, so
    ``--json`` output stays one document). Returns the notices (see ``Journal.recover``)."""
    try:
        notices = journal.recover(python)
    except OSError as exc:
        ctx.stderr.write(f"tfhelp: warning: cannot read the fix journal: {exc}\n")
        return []
    for n in notices:
        ctx.stderr.write(f"tfhelp: warning: {n['message']}\n")
    for p in journal.problems:
        ctx.stderr.write(f"tfhelp: warning: {p}\n")
    return notices


def _ask(ctx, question: str) -> bool:
    if not ctx.stdin_isatty:
        return False
    ctx.stdout.write(question + " [y/N] ")
    ctx.stdout.flush()
    try:
        answer = ctx.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args, ctx) -> int:
    from tfhelp.assistant.frontends.cli import EXIT_FAIL, UsageError
    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.fixes.plan import apply_plan, build_plan
    from tfhelp.assistant.render.fix import render_outcome, render_plan
    from tfhelp.kb.engine import resolve_fixes
    from rich.text import Text

    as_json = getattr(args, "json", False)
    rule = ctx.ruleset().get(args.rule_id)
    if rule is None:
        raise UsageError(f"no rule with id {args.rule_id!r} (see `tfhelp rules list`)")
    python = target_python(ctx)
    if not os.path.exists(python):
        raise UsageError(f"no Python interpreter at {python}")
    journal = Journal()
    report_recovered(journal, python, ctx, as_json)
    env = target_environment(python)
    failed_before = failed_before_fn(python, journal)
    fixes = None
    origin_warning = None
    if getattr(args, "input", None):
        from tfhelp.assistant.frontends.commands.diagnose import read_input
        from tfhelp.kb.engine import Engine

        text_in = read_input(args.input, ctx)
        report = Engine(ctx.ruleset()).diagnose(text_in, env=env, failed_before=failed_before, rules=[rule])
        from tfhelp.assistant.context import choose_target

        origin_warning = choose_target(text_in, explicit=python).warning()  # target vs the error's env
        hit = [d for d in report.diagnoses + report.related if d.id == rule.id]
        if hit:
            fixes = hit[0].fixes
    if fixes is None:
        fixes = resolve_fixes(rule, env, {}, failed_before)
    console = ctx.console()
    if not fixes:
        msg = f"{rule.id} has no fix that applies to {python}"
        if as_json:
            ctx.stdout.write(json.dumps({"error": msg, "fixes": []}) + "\n")
        else:
            console.print(Text(msg))
        return EXIT_FAIL
    if args.list:
        if as_json:
            ctx.stdout.write(json.dumps({"rule": rule.id, "python": python, "fixes": fixes}, indent=2) + "\n")
        else:
            for i, f in enumerate(fixes, 1):
                t = Text(f"{i}. {f['title']}")
                if f.get("failed_before"):
                    t.append("  (failed before here)", style="red")
                if f.get("fits"):
                    t.append("  (fits your versions)", style="green")
                console.print(t)
        return 0
    n = args.fix or 1
    if not 1 <= n <= len(fixes):
        raise UsageError(f"--fix {n}: {rule.id} has {len(fixes)} fix alternative(s) for this interpreter")
    fix = fixes[n - 1]
    say = None if as_json else (lambda s: console.print(Text(s, style="dim")))
    actx = make_apply_context(python, pip_args=args.pip_arg, code_file=args.file, script=args.script,
                              progress=say)
    # index in the rule's own list, so history can tell alternatives apart
    order = next((i for i, f in enumerate(rule.fixes) if f.title == fix["title"]), n - 1)
    plan = build_plan(fix, actx, rule_id=rule.id, fix_index=order,
                      previous_failures=journal.failed_fixes(python, rule.id))
    if not as_json:
        render_plan(plan, console)
        if origin_warning:
            console.print(Text(f"Warning: {origin_warning}; this fix changes {python} only.", style="bold yellow"))
    if not plan.runnable:
        if as_json:
            ctx.stdout.write(json.dumps({"plan": plan.to_json(), "outcome": None}, indent=2) + "\n")
        else:
            console.print(Text("This fix can't be run as planned; nothing was changed.", style="bold red"))
        return EXIT_FAIL
    if args.dry_run:
        if as_json:
            ctx.stdout.write(json.dumps({"plan": plan.to_json(), "outcome": None, "dry_run": True}, indent=2) + "\n")
        else:
            console.print(Text("Dry run: nothing was changed.", style="dim"))
        return 0
    if not args.yes:
        if not ctx.stdin_isatty:
            msg = "not applied: confirm on a terminal, or pass --yes (--dry-run only shows the plan)"
            if as_json:
                ctx.stdout.write(json.dumps({"plan": plan.to_json(), "outcome": None, "error": msg}) + "\n")
            else:
                console.print(Text(msg, style="yellow"))
            return EXIT_FAIL
        if not _ask(ctx, f"Apply this fix to {python}?"):
            console.print(Text("Not applied.", style="yellow"))
            return 0

    def ask_rollback(out) -> bool:
        return (not args.yes) and _ask(ctx, "The fix did not work. Roll back to the snapshot?")

    try:
        out = apply_plan(plan, actx, journal=journal, rollback_on_failure=args.rollback_on_failure,
                         ask_rollback=ask_rollback)
    except KeyboardInterrupt:
        console.print(Text("Interrupted. `tfhelp undo` restores the snapshot.", style="yellow"))
        return 130
    if out.status == "locked":
        if as_json:
            ctx.stdout.write(json.dumps({"plan": plan.to_json(), "outcome": out.to_json()}, indent=2) + "\n")
        else:
            ctx.stderr.write("tfhelp fix: " + out.messages[0] + "\n")
        return EXIT_BUSY
    if as_json:
        ctx.stdout.write(json.dumps({"plan": plan.to_json(), "outcome": out.to_json()}, indent=2) + "\n")
    else:
        render_outcome(out, console)
    return 0 if out.ok else EXIT_FAIL
