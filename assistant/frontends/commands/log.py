"""``tfhelp --from-log FILE`` / ``tfhelp log FILE``: scan a whole log, any size, for every cause.

FILE may be a plain or gzip-compressed log (detected by content), a FIFO, or ``-`` for standard
input.  Exit status (docs/HELPERS.md): 0 at least one known cause found; 1 scanned, nothing
explained; 2 the input could not be read (a directory, missing, unreadable or empty file) or ended
early (truncated or corrupt gzip, read error: the findings in the part that was read are still shown).
"""
from __future__ import annotations

import json

NAME = "log"
HELP = "scan a whole log (FILE, .gz, or - for stdin) for every root cause"
EPILOG = ("Exit status: 0 at least one known cause found; 1 scanned fine but nothing explained (no rule "
          "matched, or only an unexplained crash); 2 usage error, or unreadable, empty or truncated input; "
          "130 interrupted.")

#: Files at least this large get a progress bar (on a terminal).
PROGRESS_MIN_BYTES = 32 << 20


def register(parser) -> None:
    parser.add_argument("file", help="the log; - reads standard input; gzip is detected")
    parser.add_argument("--probe", action="store_true", help="probe the target interpreter to confirm and pick fixes")
    parser.add_argument("-v", "--verbose", action="store_true", help="show all evidence, causes and references")
    parser.add_argument("--all", action="store_true", help="show every finding and fix alternative")
    parser.add_argument("--prefilter", choices=("auto", "hyperscan", "ahocorasick"), default="auto",
                        help="literal search back-end (default: hyperscan when installed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    from tfhelp.kb.sources import add_input_options

    add_input_options(parser)


def run(args, ctx) -> int:
    from tfhelp.kb.scan import LogError, open_log, scan_file

    path = getattr(args, "file", None) or "-"
    try:
        stdin = getattr(args, "stdin_stream", None) or ctx.stdin_bytes
        from tfhelp.kb.sources import input_options

        fh, size = open_log(path, stdin=stdin if path == "-" else None, **input_options(args))
    except LogError as exc:
        ctx.stderr.write(f"tfhelp: {exc}\n")
        return 2
    ruleset = ctx.ruleset()
    from tfhelp.assistant.frontends.commands.diagnose import probe_environment, warn_rule_problems

    warn_rule_problems(ruleset, ctx)
    env = probe_environment(ctx) if getattr(args, "probe", False) else None
    backend = getattr(args, "prefilter", "auto")
    progress, bar = None, None
    if ctx.stderr_isatty and size and size >= PROGRESS_MIN_BYTES and not getattr(args, "no_progress", False):
        bar = _progress_bar(ctx, size, path)
        progress = bar[1]
    try:
        try:
            report, stats = scan_file(fh, ruleset, env=env, progress=progress,
                                      backend=None if backend == "auto" else backend)
        finally:
            if bar is not None:
                bar[0].stop()
            try:
                fh.close()
            except OSError:
                pass
    except ImportError as exc:  # --prefilter hyperscan without hyperscan
        ctx.stderr.write(f"tfhelp: {exc}\n")
        return 2
    except KeyboardInterrupt:
        ctx.stderr.write("tfhelp: interrupted\n")
        return 130
    if not stats.bytes and not stats.truncated:
        ctx.stderr.write(f"tfhelp: {'standard input' if path == '-' else path} is empty: nothing to scan\n")
        return 2
    if getattr(args, "json", False):
        doc = report.to_json()
        doc["scan"] = {"bytes": stats.bytes, "lines": stats.lines, "candidate_lines": stats.candidates,
                       "windows": stats.windows, "seconds": round(stats.seconds, 3),
                       "prefilter": stats.backend, "truncated": stats.truncated}
        ctx.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        from tfhelp.assistant.render.scan import render_scan

        python = ctx.default_python() if ctx.target_python or env is not None else "python"
        render_scan(report, stats, ctx.console(), path=path, python=python,
                    verbose=getattr(args, "verbose", False), all_fixes=getattr(args, "all", False))
    if stats.truncated:
        ctx.stderr.write(f"tfhelp: {path}: {stats.truncated}\n")
        return 2
    stopped = getattr(fh, "stopped", None)  # a bound of tfhelp.kb.sources was reached
    if stopped:
        ctx.stderr.write(f"tfhelp: {'standard input' if path == '-' else path}: {stopped}; "
                         "the findings above cover the part that was read\n")
        return 2
    from tfhelp.assistant.frontends.cli import report_status

    return report_status(report)   # 0 a known cause found, 1 nothing explained (docs/HELPERS.md)


def _progress_bar(ctx, size: int, path: str):
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    prog = Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=ctx.console(stderr=True), transient=True)
    task = prog.add_task("scan", total=size)
    prog.start()

    def update(done: int) -> None:
        prog.update(task, completed=done)

    return prog, update
