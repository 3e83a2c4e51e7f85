"""``tfhelp doctor``: one line per component of the TensorFlow stack, with problems and fixes."""
from __future__ import annotations

NAME = "doctor"
HELP = "check the target interpreter's TensorFlow / Keras / NumPy / CUDA / driver setup"
DESCRIPTION = ("Probe the target interpreter (--python; default: python on PATH) in subprocesses, never "
               "importing TensorFlow into tfhelp, and check the combination against the compatibility "
               "model. When TensorFlow is installed, a real `import tensorflow` runs in its own subprocess "
               "(--quick skips it). Problems name the rule id and a fix. JSON schema: docs/doctor-json.md.")
EPILOG = ("exit status: 0 healthy (warnings allowed), 1 errors found, 3 target interpreter unusable "
          "(missing, not executable, not a program), 4 probe failed (the target hung, crashed or printed "
          "something that is not a probe answer), 130 interrupted.")


def register(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="skip the real `import tensorflow` (static checks of files and metadata only)")
    parser.add_argument("--deep", action="store_true",
                        help="kept for scripts: the import check now runs by default")
    parser.add_argument("--report", action="store_true",
                        help="print a Markdown block for a GitHub issue (home folder and user name redacted)")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="cap on each probe's timeout in seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every detail line")


def run(args, ctx) -> int:
    import json

    from tfhelp.assistant.environment.doctor import EXIT_UNUSABLE, run_doctor
    from tfhelp.assistant.frontends.cli import UsageError

    try:
        target = ctx.default_python()
    except UsageError as exc:  # --python names nothing runnable: the target is unusable, not a usage error
        ctx.stderr.write(f"tfhelp doctor: {exc}\n")
        if getattr(args, "json", False):  # scripts reading --json still get one document
            ctx.stdout.write(json.dumps({"target_python": getattr(ctx, "target_python", None),
                                         "status": "error", "exit_status": EXIT_UNUSABLE,
                                         "probe_failure": f"unusable: {exc}", "checks": [], "problems": []}) + "\n")
        return EXIT_UNUSABLE
    report = run_doctor(target, deep=bool(getattr(args, "deep", False)), timeout=getattr(args, "timeout", None),
                        import_tf=not getattr(args, "quick", False))
    if getattr(args, "json", False):
        ctx.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n")
        return report.exit_status
    if getattr(args, "report", False):
        from tfhelp.assistant.render.doctor import doctor_markdown, fixes_tried_from_journal

        ctx.stdout.write(doctor_markdown(report, fixes_tried=fixes_tried_from_journal(target)))
        return report.exit_status
    from tfhelp.assistant.render.doctor import render_doctor

    render_doctor(report, ctx.console(), verbose=bool(getattr(args, "verbose", False)))
    return report.exit_status
