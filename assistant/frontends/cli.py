"""Command-line interface: a declarative list of subcommands over the kb library.

``tfhelp`` alone opens the REPL on a terminal and diagnoses standard input when it is piped;
``tfhelp --from-log FILE`` scans a log; everything else is a subcommand module under
``assistant/commands`` exposing NAME, HELP, register(parser) and run(args, ctx).
"""
from __future__ import annotations

import importlib

from tfhelp import __version__

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("diagnose", "rules", "fix", "undo", "history", "run", "log", "triage", "doctor", "gpu_test", "plan")

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: diagnose / piped stdin / --from-log / triage (docs/HELPERS.md): 1 = ran fine, nothing explained.
EXIT_FOUND, EXIT_NOTHING_FOUND = 0, 1

EXIT_STATUS_HELP = ("Exit status: diagnose, piped stdin and --from-log: 0 at least one known cause reported, "
                    "1 ran fine but nothing explained (no rule matched, or only an unexplained crash), "
                    "2 usage error or unreadable / empty input, 130 interrupted. doctor: 0 healthy, 1 errors "
                    "found, 3 target unusable, 4 probe failed. `tfhelp run` returns the script's own status "
                    "(2 when the script is missing). Other commands: 0 done, 1 a check, test or fix failed, "
                    "2 usage error.")


def known_causes(report) -> list:
    """The diagnoses that explain something: an *unexplained crash* entry (the engine reports a run's
    fatal end even when no rule knows it) is shown but explains nothing."""
    out = []
    for d in getattr(report, "diagnoses", None) or []:
        if getattr(d, "unexplained", False) or getattr(d, "kind", None) == "unexplained-crash":
            continue
        rule = getattr(d, "rule", None)
        if getattr(rule, "synthetic", None) == "unexplained-crash":
            continue
        out.append(d)
    return out


def report_status(report) -> int:
    """Exit status of a diagnosis (see EXIT_STATUS_HELP): 0 when a known cause was reported, else 1.
    The engine's crash layer (``kb.crash.exit_status``) decides when it is present: only harmless
    notices beside an unexplained crash explain nothing either."""
    if not known_causes(report):
        return EXIT_NOTHING_FOUND
    try:
        from tfhelp.kb.crash import exit_status
    except ImportError:
        return EXIT_FOUND
    return exit_status(report)


class UsageError(Exception):
    """Bad arguments or unreadable input: message for the user, exit status 2."""


def _parser_class():
    """argparse.ArgumentParser whose errors raise UsageError (argparse would sys.exit(2) itself;
    this keeps control of the streams). Made on first use: argparse is imported only when a
    parser is built (see :func:`parse_args`)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message):
            raise UsageError(f"{self.prog}: {message}")

    return _Parser


def _common(parser, suppress: bool) -> None:
    import argparse

    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("common options")
    g.add_argument("--python", metavar="PATH", default=d(None),
                   help="target interpreter (or venv / conda env folder) to probe and fix; default: python on PATH")
    g.add_argument("--rules", metavar="DIR", action="append", default=d([]),
                   help="extra rules folder (repeatable); overrides shipped rules with the same id")
    g.add_argument("--no-user-rules", action="store_true", default=d(False), help="ignore the per-user rules folder")
    g.add_argument("--json", action="store_true", default=d(False), help="machine-readable output")
    g.add_argument("--no-color", action="store_true", default=d(False), help="no colours (also: NO_COLOR=1)")
    g.add_argument("--width", type=int, default=d(None), help="output width in columns")


def no_arguments():
    """The parsed arguments of a bare ``tfhelp`` (what ``build_parser(False).parse_args([])``
    gives), without building a parser: argparse's import, its help formatter's ``shutil``
    (and with it bz2 / lzma) and a dozen ``add_argument`` calls are about a tenth of
    ``tfhelp < err.txt``'s start-up budget. tests/test_startup_imports.py checks that the two agree."""
    from types import SimpleNamespace

    return SimpleNamespace(from_log=None, allow_special=False, max_bytes=None, probe=False, verbose=False,
                           all=False, python=None, rules=[], no_user_rules=False, json=False, no_color=False,
                           width=None, command=None)


def needs_commands(argv) -> bool:
    """Does parsing ``argv`` need the subcommand parsers? Only when a word could name a command
    (anything not an option, ``-`` included) or help is asked for. ``tfhelp < err.txt`` (no
    arguments, the commonest start) then skips importing and registering the command modules,
    which is part of the start-up budget (docs/ARCHITECTURE.md); the rest parse exactly as before."""
    return any(a in ("-h", "--help", "-") or not a.startswith("-") for a in argv)


def build_parser(with_commands: bool = True):
    _Parser = _parser_class()
    p = _Parser(prog="tfhelp", description="Diagnose broken TensorFlow / Keras / CUDA / cuDNN / NumPy setups, "
                "offline. Paste a traceback, pipe a file, scan a log or wrap a script.",
                epilog=EXIT_STATUS_HELP)
    p.add_argument("--version", action="version", version=f"tfhelp {__version__}")
    p.add_argument("--from-log", metavar="FILE", help="scan a whole log (FILE, .gz, or - for stdin) for root causes")
    from tfhelp.kb.sources import add_input_options

    add_input_options(p)  # --allow-special, --max-bytes (for --from-log)
    p.add_argument("--probe", action="store_true", help="probe the target interpreter to confirm diagnoses and pick fixes")
    p.add_argument("-v", "--verbose", action="store_true", help="show all evidence, causes and references")
    p.add_argument("--all", action="store_true", help="show every diagnosis and every fix alternative")
    _common(p, suppress=False)
    if not with_commands:
        p.set_defaults(command=None)      # what the subparsers give when no command is named
        return p
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"tfhelp.assistant.frontends.commands.{name}")
        sp = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                            epilog=getattr(mod, "EPILOG", None))
        mod.register(sp)
        _common(sp, suppress=True)
        sp.set_defaults(_module=mod)
    return p


def parse_args(argv: list):
    """``argv`` parsed; a bare ``tfhelp`` needs no parser at all, and one without a command word
    needs no subcommand parsers (see :func:`no_arguments`, :func:`needs_commands`)."""
    if not argv:
        return no_arguments()
    return build_parser(with_commands=needs_commands(argv)).parse_args(argv)


def _apply_context(args, ctx) -> None:
    if getattr(args, "python", None):
        ctx.target_python = args.python
    ctx.rule_dirs = list(getattr(args, "rules", []) or [])
    if getattr(args, "no_user_rules", False):
        ctx.user_rules = False
    if getattr(args, "no_color", False):
        ctx.color = False
    if getattr(args, "width", None):
        ctx.width = args.width


def main(argv: list, ctx) -> int:
    try:
        args = parse_args(argv)
    except UsageError as exc:
        ctx.stderr.write(f"{exc}\nTry 'tfhelp --help'.\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    _apply_context(args, ctx)
    try:
        if getattr(args, "_module", None) is not None:
            return int(args._module.run(args, ctx) or 0)
        if args.from_log:
            mod = importlib.import_module("tfhelp.assistant.frontends.commands.log")
            args.file = args.from_log
            return int(mod.run(args, ctx) or 0)
        if not ctx.stdin_isatty or not ctx.stdout_isatty:
            if ctx.stdin_isatty:
                ctx.stderr.write("tfhelp: paste the error text, then press Ctrl-D (Ctrl-Z Enter on Windows)\n")
            mod = importlib.import_module("tfhelp.assistant.frontends.commands.diagnose")
            args.file = "-"
            return int(mod.run(args, ctx) or 0)
        from tfhelp.assistant.frontends import repl

        return int(repl.main(ctx) or 0)
    except UsageError as exc:
        ctx.stderr.write(f"tfhelp: {exc}\n")
        return EXIT_USAGE
