"""``tfhelp run``: run a script exactly as usual; when it fails, explain why.

    tfhelp run [--python PATH] SCRIPT.py [ARGS...]
    tfhelp run [--python PATH] -m MODULE [ARGS...]
    tfhelp run -- CMD [ARGS...]

The child's output streams live and unchanged; tfhelp exits with the child's status (128+N
when a signal killed it).  Only when the child fails does tfhelp add anything: the diagnosis of
the output it kept (a bounded tail), printed to stderr after the child's own output.
"""
from __future__ import annotations

import argparse
import os
import sys

NAME = "run"
HELP = "run a script or command; diagnose its output if it fails"
EPILOG = ("The interpreter: --python when given, else the script's #! line when it names a Python that "
          "exists here, else python on PATH.  Exit status: the child's own status (128+N when signal N "
          "killed it); 2 when the script does not exist or the arguments are wrong; 126 / 127 when the "
          "command can't be run / is not found.")


def register(parser: argparse.ArgumentParser) -> None:
    # --python PATH (the interpreter for SCRIPT.py / -m) is one of the CLI's common options.
    parser.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE [ARGS]",
                        help="run a library module as a script, like python -m (the rest are its arguments)")
    parser.add_argument("--json-out", metavar="PATH",
                        help="write the diagnosis as JSON to PATH (the child's stdout stays clean)")
    parser.add_argument("--summary", action="store_true",
                        help="after a successful run, print a one-line summary of warnings seen")
    parser.add_argument("--no-pty", action="store_true",
                        help="plain pipes even when tfhelp's output is a terminal (faster for floods of tiny writes)")
    parser.add_argument("--tail-mb", type=float, default=2.0, metavar="MB",
                        help="how much of the output to keep for diagnosis (default 2 MB)")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="SCRIPT.py|-- CMD",
                        help="the script and its arguments, or -- and any command")


def build_argv(args, ctx=None) -> list:
    """The child's argv from the parsed arguments; raises ValueError on a usage error."""
    rest = list(args.command or [])
    module = None
    if args.module is not None:
        if not args.module:
            raise ValueError("-m needs a module name")
        module, rest = args.module[0], list(args.module[1:]) + rest
    explicit = bool(getattr(args, "python", None) or getattr(ctx, "target_python", None))
    python = getattr(args, "python", None)
    if ctx is not None and hasattr(ctx, "default_python"):
        python = ctx.default_python()
    python = python or sys.executable
    if rest and rest[0] == "--":
        rest = rest[1:]
        if not rest:
            raise ValueError("nothing to run after --")
        return rest
    if module:
        return [str(python), "-m", module, *rest]
    if not rest:
        raise ValueError("give a script (tfhelp run SCRIPT.py ...), -m MODULE, or -- CMD ...")
    target = rest[0]
    if target.endswith((".py", ".pyw", ".pyz")) or os.path.isfile(target):
        if not os.path.isfile(target):
            raise MissingScript(f"no such script: {target}" + (" (it is a folder)" if os.path.isdir(target) else ""))
        if not explicit:
            interp = shebang_interpreter(target, environ=getattr(ctx, "environ", None))
            if interp:
                return [*interp, *rest]
        return [str(python), *rest]
    return rest  # a command on PATH, e.g. `tfhelp run pytest -x`


class MissingScript(ValueError):
    """The script to run does not exist: a usage error (exit 2), never a diagnosis."""


def shebang_interpreter(script: str, environ=None):
    """The interpreter argv the script's ``#!`` line names when it exists on this machine
    (``#!/usr/bin/env python3`` looks python3 up on PATH), else None (then --python's default)."""
    import shutil

    from tfhelp.kb.origin import read_shebang

    try:
        with open(script, "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    argv = read_shebang(first)
    if not argv:
        return None
    exe = argv[0]
    if os.path.isabs(exe):
        found = exe if os.path.isfile(exe) and os.access(exe, os.X_OK) else None
    else:
        found = shutil.which(exe, path=(environ or os.environ).get("PATH"))
    return [found, *argv[1:]] if found else None


def _err_text(ctx):
    return ctx.stderr


def _fd(ctx, name: str, default: int) -> int:
    stream = getattr(ctx, name, None)
    try:
        return stream.fileno() if stream is not None else default
    except (AttributeError, OSError, ValueError):
        return default


def run(args, ctx) -> int:
    from tfhelp.assistant.frontends import runner

    try:
        argv = build_argv(args, ctx)
    except ValueError as exc:   # MissingScript too: nothing ran, so there is nothing to diagnose
        print(f"tfhelp run: {exc}", file=_err_text(ctx))
        return 2
    out_fd, err_fd = _fd(ctx, "stdout", 1), _fd(ctx, "stderr", 2)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    prefetch = EnvPrefetch(argv[0], warm=ctx.ruleset) if _is_python(argv) else None
    result = None
    try:
        result = runner.run_child(argv, stdout_fd=out_fd, stderr_fd=err_fd,
                                  use_pty=False if args.no_pty else None,
                                  tail_bytes=max(1 << 16, int(args.tail_mb * (1 << 20))))
    except FileNotFoundError:
        print(f"tfhelp run: command not found: {argv[0]}", file=_err_text(ctx))
        return 127
    except PermissionError:
        print(f"tfhelp run: permission denied: {argv[0]}", file=_err_text(ctx))
        return 126
    finally:
        # nothing ran, or an exception (KeyboardInterrupt) escaped: never start the probe
        if prefetch is not None:
            prefetch.child_ended(failed=result is not None and result.should_diagnose)

    errs = _err_text(ctx)
    if result.shell_message:
        print(result.shell_message, file=errs, flush=True)

    if result.should_diagnose:
        _diagnose_and_show(result, args, ctx, prefetch)
    elif not result.failed and args.summary:
        _summary(result, ctx)
    elif args.json_out and not result.failed:
        _write_json(args.json_out, None, result, ctx)
    return result.exit_status


#: The child's environment is probed once it has run this long (or as soon as it fails), so a
#: long run's diagnosis does not wait for the probe afterwards (0.35 s on a quiet machine, about
#: 1 s at load 4: most of the fixed cost issue 12 measured).  Not earlier, because a run that then
#: succeeds paid for a probe it did not use: with a 1 s delay the clean Keras-fit benchmark (2 s)
#: went from 1.13x to 1.48x under a pty at load 5 (0.5 s more CPU, and a successful exit waits for
#: a probe still running: its threads are joined at exit).  After 5 s that is a few percent of the
#: run, on the other core.  A run that fails sooner starts the probe at its end, in parallel with
#: loading the rules.
PROBE_AFTER_S = 5.0
#: ``TFHELP_RUN_PROBE_AFTER=SECONDS`` changes that delay; ``off`` probes only once the child has
#: failed (no probe CPU spent on runs that succeed, at the price of waiting for it afterwards).
PROBE_AFTER_ENV = "TFHELP_RUN_PROBE_AFTER"


def probe_delay(environ=None) -> float:
    """Seconds of child run time after which the probe starts (inf: only after a failure)."""
    raw = (environ if environ is not None else os.environ).get(PROBE_AFTER_ENV, "").strip().lower()
    if not raw:
        return PROBE_AFTER_S
    if raw in ("off", "never", "no"):
        return float("inf")
    try:
        value = float(raw)
    except ValueError:
        return PROBE_AFTER_S
    return value if value >= 0 else float("inf")


class EnvPrefetch:
    """The target interpreter's Environment, probed in a background thread while the child runs
    (a probe is a separate process, so it uses the other core while the script uses one).  The
    probe reads installed-package metadata only; its result is the one ``_diagnose`` would get
    after the run, unless the script itself installs or removes packages."""

    def __init__(self, python: str, delay: float = None, warm=None):
        """``warm``: called after the probe (in the thread) to load what the diagnosis needs:
        the rules (``ctx.ruleset``; the Context caches them) and the engine and renderer modules,
        another ~0.15 s that a failing run then no longer adds after the child's end."""
        import threading

        self.python = python
        self._warm = warm
        self.started = False
        self.early = False
        self._env = None
        self._failed = False
        self._ended = threading.Event()
        self._delay = probe_delay() if delay is None else delay
        self._thread = threading.Thread(target=self._run, name="tfhelp-run-probe", daemon=True)
        # The runner relays SIGINT / SIGTERM / ... to the child by blocking them and waiting for
        # them in the main thread (sigtimedwait); a thread with them unblocked would take them
        # instead.  A new thread inherits its creator's mask, so it starts with them blocked (the
        # probe processes inherit that too: they are short, and killed with SIGKILL on timeout).
        mask = _block_forwarded()
        try:
            self._thread.start()
        finally:
            if mask is not None:
                import signal

                signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _run(self) -> None:
        ended = self._ended.wait(None if self._delay == float("inf") else self._delay)
        if ended and not self._failed:
            return   # ended well (or was interrupted) before the delay: nothing to diagnose
        self.started = True
        self.early = not ended   # probing while the child runs: load the rules here too
        self._env = probe_environment(self.python)
        if self.early and self._warm is not None and not (self._ended.is_set() and not self._failed):
            try:
                self._warm()
                import tfhelp.assistant.render.diagnosis  # noqa: F401 - imported now, used later
                import tfhelp.kb.engine  # noqa: F401
            except Exception:  # noqa: BLE001 - the main thread loads them again and reports errors
                pass

    def child_ended(self, failed: bool) -> None:
        """Called once the child is gone; the first call wins (a later one changes nothing)."""
        if not self._ended.is_set():
            self._failed = failed
            self._ended.set()

    def environment(self):
        """The probed Environment (or None when the probe failed); waits for the probe."""
        self._thread.join()
        if not self.started:   # cannot happen after child_ended(failed=True); be exact anyway
            self.started = True
            self._env = probe_environment(self.python)
        return self._env


def _block_forwarded():
    """Block the signals the runner relays; returns the previous mask (None: not on this OS)."""
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        return None
    from tfhelp.assistant.frontends.runner import FORWARDED

    nums = [getattr(signal, n) for n in FORWARDED if hasattr(signal, n)]
    return signal.pthread_sigmask(signal.SIG_BLOCK, nums)


def probe_environment(python: str):
    """The target's Environment for ordering fixes, or None: a broken interpreter must not hide
    the diagnosis."""
    try:
        from tfhelp.assistant.frontends.commands.fix import target_environment

        return target_environment(python)
    except Exception:  # noqa: BLE001
        return None


def _diagnose(text: bytes, ctx, python=None, prefetch=None):
    """Diagnose the kept output; with ``python`` (the child's interpreter) its packages are probed
    so fixes are ordered for that environment, exactly as diagnose / doctor / fix order them.
    ``prefetch`` (an :class:`EnvPrefetch` of that interpreter) already started the probe; the
    rules are loaded while it finishes."""
    from tfhelp.kb.engine import Engine

    engine = None
    if prefetch is None or not prefetch.early:   # else the probe thread is loading the rules into ctx
        engine = Engine(ctx.ruleset())           # while the probe (other processes) runs
    env = None
    if python:
        env = prefetch.environment() if prefetch is not None else probe_environment(python)
    return (engine or Engine(ctx.ruleset())).diagnose(text, env)


def _json_doc(report, result) -> dict:
    doc = report.to_json() if report is not None else {"diagnoses": [], "related": []}
    doc["run"] = {"argv": result.argv, "exit_status": result.exit_status,
                  "signal": result.signal_name, "core_dumped": result.core_dumped,
                  "duration_s": round(result.duration, 3),
                  "output_bytes": result.combined.total,
                  "kept_bytes": result.combined.size}
    return doc


def _write_json(path: str, report, result, ctx) -> None:
    import json

    doc = _json_doc(report, result)
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
    except OSError as exc:
        print(f"tfhelp run: cannot write {path}: {exc.strerror or exc}", file=_err_text(ctx))


def _stderr_console(ctx):
    return ctx.console(stderr=True)


def _diagnose_and_show(result, args, ctx, prefetch=None) -> None:
    errs = _err_text(ctx)
    try:
        report = _diagnose(result.captured_text(), ctx, result.argv[0] if _is_python(result.argv) else None,
                           prefetch)
    except Exception as exc:  # the child's status matters more than our diagnosis
        print(f"tfhelp run: could not diagnose the output: {type(exc).__name__}: {exc}", file=errs)
        return
    if args.json_out:
        _write_json(args.json_out, report, result, ctx)
    elif getattr(args, "json", False):
        # --json without --json-out: the JSON goes to stderr, never into the child's stdout
        import json

        errs.write(json.dumps(_json_doc(report, result), indent=2, ensure_ascii=False) + "\n")
        return
    from tfhelp.assistant.frontends.cli import known_causes
    from tfhelp.assistant.render.run import command_label, render_run_report

    if not known_causes(report) and not report.diagnoses and not _crash_of(report):
        # a plain failure: say so in one line instead of the "No known cause matched" block
        how = (f"was killed by {result.signal_name} (exit status {result.exit_status})" if result.signal_name
               else f"exited with status {result.exit_status}")
        print(f"\ntfhelp: {command_label(result.argv)} {how}; nothing in its output matches a known "
              "TensorFlow / Keras / CUDA problem.", file=errs, flush=True)
        return
    render_run_report(report, result, _stderr_console(ctx), python=result.argv[0] if _is_python(result.argv) else "python")


def _crash_of(report):
    """The unexplained crash the engine found in the output, if the engine reports one."""
    for name in ("crash", "unexplained_crash", "unexplained", "crashes"):
        value = getattr(report, name, None)
        if value:
            return value
    return None


def _is_python(argv) -> bool:
    return bool(argv) and os.path.basename(argv[0]).lower().startswith(("python", "py"))


def _summary(result, ctx) -> None:
    try:
        report = _diagnose(result.captured_text(), ctx)
    except Exception:
        return
    from tfhelp.assistant.render.run import summary_line
    line = summary_line(report)
    if line:
        print(line, file=_err_text(ctx))
