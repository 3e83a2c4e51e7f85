"""``tfhelp doctor``: one line per component of the TensorFlow stack, with problems and fixes."""
from __future__ import annotations

NAME = "doctor"
HELP = "check the target interpreter's TensorFlow / Keras / NumPy / CUDA / driver setup"
DESCRIPTION = ("Probe the target interpreter (--python; default: python on PATH) in subprocesses, never "
               "importing TensorFlow into tfhelp, and check the combination against the compatibility "
               "model. Problems name the rule id and a fix. JSON schema: docs/doctor-json.md.")


def register(parser) -> None:
    parser.add_argument("--deep", action="store_true",
                        help="also run a real `import tensorflow` in a subprocess and diagnose its output")
    parser.add_argument("--report", action="store_true",
                        help="print a Markdown block for a GitHub issue (home folder and user name redacted)")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="cap on each probe's timeout in seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every detail line")


def run(args, ctx) -> int:
    import json

    from tfhelp.assistant.environment.doctor import run_doctor

    target = ctx.default_python()
    report = run_doctor(target, deep=bool(getattr(args, "deep", False)), timeout=getattr(args, "timeout", None))
    if getattr(args, "json", False):
        ctx.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n")
        return 0
    if getattr(args, "report", False):
        from tfhelp.assistant.render.doctor import doctor_markdown, fixes_tried_from_journal

        ctx.stdout.write(doctor_markdown(report, fixes_tried=fixes_tried_from_journal(target)))
        return 0
    from tfhelp.assistant.render.doctor import render_doctor

    console = ctx.console() if hasattr(ctx, "console") else None
    if console is None:  # pragma: no cover - Context always has console()
        from rich.console import Console
        console = Console(file=ctx.stdout, markup=False, highlight=False)
    render_doctor(report, console, verbose=bool(getattr(args, "verbose", False)))
    return 0
