"""``tfhelp diagnose FILE`` (and ``tfhelp < FILE``): diagnose one pasted error or short log."""
from __future__ import annotations

import json
import os

NAME = "diagnose"
HELP = "diagnose a traceback or error text (FILE, or - for stdin)"
EPILOG = ("Target: --python when given; else the environment the error's paths, interpreter paths or "
          "shell prompt name, when it is on this machine; an error from elsewhere is diagnosed from the "
          "text alone.  Exit status: 0 at least one known cause reported; 1 ran fine but nothing was "
          "explained (no rule matched, or only an unexplained crash was shown); 2 usage error, or "
          "unreadable or empty input; 130 interrupted.")

#: Inputs larger than this are streamed through the log scanner instead of read whole.
MAX_PASTE = 8 * 1024 * 1024


def register(parser) -> None:
    import argparse

    parser.add_argument("file", nargs="?", default="-", help="file with the error text; - reads stdin (default)")
    # SUPPRESS: `tfhelp --probe diagnose FILE` must keep the top-level flag (a subparser default
    # would overwrite it with False)
    parser.add_argument("--probe", action="store_true", default=argparse.SUPPRESS,
                        help="probe the target interpreter to confirm and pick fixes")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show all evidence and references")
    parser.add_argument("--all", action="store_true", default=argparse.SUPPRESS,
                        help="show every diagnosis and fix alternative")


def read_input(path: str, ctx) -> bytes:
    """Read at most MAX_PASTE+1 bytes; clear UsageError for anything unreadable.

    Opening goes through kb.sources, as for --from-log: a device or FIFO given as FILE, or a
    device (other than a terminal or /dev/null) on standard input, is refused at once instead of
    streaming forever (/dev/zero) or blocking in open() (a FIFO nobody writes to)."""
    from tfhelp.assistant.frontends.cli import UsageError
    from tfhelp.kb import sources

    if path == "-":
        try:
            sources.check_stdin(ctx.stdin_bytes)
        except sources.InputError as exc:
            raise UsageError(str(exc)) from None
        try:
            return ctx.stdin_bytes.read(MAX_PASTE + 1) or b""
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read standard input: {exc}") from None
    try:
        stream, _ = sources.open_source(path)
    except sources.InputError as exc:
        raise UsageError(str(exc)) from None
    try:
        return stream.read(MAX_PASTE + 1) or b""
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    finally:
        stream.close()


def probe_environment(ctx):
    """The target's environment via the probe, or None when the probe isn't available/failed."""
    try:
        from tfhelp.assistant.environment import probe
    except ImportError:
        return None
    try:
        return probe.probe_environment(ctx.default_python())
    except Exception:  # noqa: BLE001 - a broken target must not stop diagnosis
        return None


def warn_rule_problems(ruleset, ctx) -> None:
    errs = ruleset.errors
    if errs:
        files = sorted({p.path for p in errs})
        ctx.stderr.write(f"tfhelp: warning: skipped {len(files)} broken rule file(s): {', '.join(files[:3])}"
                         f"{' ...' if len(files) > 3 else ''} (run 'tfhelp rules lint' for details)\n")


def _as_log(path: str, head: bytes, args, ctx) -> int:
    """More than a paste: stream it through the log scanner (bounded memory), head first."""
    import io

    from tfhelp.assistant.frontends.commands import log

    ctx.stderr.write(f"tfhelp: input larger than {MAX_PASTE // (1024 * 1024)} MB: scanning it as a log\n")
    if path == "-":
        class _Joined(io.RawIOBase):  # the bytes already read, then the rest of stdin
            def __init__(self, first, rest):
                self.first, self.rest = memoryview(first), rest

            def readable(self):
                return True

            def readinto(self, b):
                if self.first:
                    n = min(len(b), len(self.first))
                    b[:n] = self.first[:n]
                    self.first = self.first[n:]
                    return n
                data = self.rest.read(len(b))
                b[: len(data)] = data
                return len(data)

        args.stdin_stream = io.BufferedReader(_Joined(head, ctx.stdin_bytes), buffer_size=8 * 1024 * 1024)
    args.file = path
    return log.run(args, ctx)


def run(args, ctx) -> int:
    from tfhelp.assistant.frontends.cli import UsageError, report_status

    path = getattr(args, "file", "-")
    data = read_input(path, ctx)
    if len(data) > MAX_PASTE:
        return _as_log(path, data, args, ctx)
    if not data.strip():
        where = "standard input" if path == "-" else path
        raise UsageError(f"{where} is empty: nothing to diagnose (paste or pipe the error text, e.g. "
                         "`python train.py 2>&1 | tfhelp`)")
    ruleset = ctx.ruleset()
    warn_rule_problems(ruleset, ctx)
    probing = getattr(args, "probe", False)
    target = ctx.target_for(data, probe=_probe_fn if probing else None)
    env = target.env
    failed_before = None
    if env is not None and target.python:  # rank down fixes that already failed there (journal)
        try:
            from tfhelp.assistant.frontends.commands.fix import failed_before_fn

            failed_before = failed_before_fn(target.python)
        except Exception:  # noqa: BLE001 - an unreadable journal must not stop diagnosis
            failed_before = None
    from tfhelp.kb.engine import Engine

    report = Engine(ruleset).diagnose(data, env=env, failed_before=failed_before)
    line = target.describe()
    if getattr(args, "json", False):
        doc = report.to_json()
        if line:  # only when something is known about the target (see docs/json-schema.md)
            doc["input"]["target"] = target.to_json()
        ctx.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return report_status(report)
    from tfhelp.assistant.render.diagnosis import render_report

    console = ctx.console()
    if line:
        from rich.text import Text

        from tfhelp.assistant.render.diagnosis import safe

        console.print(Text(safe(line), style="yellow" if target.is_origin is False else "dim"))
    render_report(report, console, python=target.commands_python(), verbose=getattr(args, "verbose", False),
                  all_fixes=getattr(args, "all", False), max_diagnoses=100 if getattr(args, "all", False) else 5)
    return report_status(report)


def _probe_fn(python: str):
    """The full probe of ``python`` as an Environment, or None when it failed."""
    try:
        from tfhelp.assistant.environment import probe
    except ImportError:
        return None
    try:
        return probe.probe_environment(python)
    except Exception:  # noqa: BLE001 - a broken target must not stop diagnosis
        return None
