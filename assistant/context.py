"""Everything a command needs from the outside world, injectable for tests (httpie's Environment).

Commands never touch ``sys.stdout`` or ``os.environ`` directly; they use a Context, so tests can
run the CLI in-process with fake streams, a fixed width and no colour.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO, Optional


@dataclass
class Context:
    stdin: IO = field(default_factory=lambda: sys.stdin)
    stdout: IO = field(default_factory=lambda: sys.stdout)
    stderr: IO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    environ: dict = field(default_factory=lambda: dict(os.environ))
    width: Optional[int] = None  # None = detect
    color: Optional[bool] = None  # None = auto (TTY, NO_COLOR, TERM=dumb)
    target_python: Optional[str] = None  # --python; None = default target
    rule_dirs: list = field(default_factory=list)  # --rules
    user_rules: bool = True
    _ruleset: object = field(default=None, repr=False)

    @classmethod
    def from_process(cls) -> "Context":
        def tty(stream) -> bool:
            try:
                return bool(stream) and stream.isatty()
            except (ValueError, AttributeError):
                return False

        return cls(stdin_isatty=tty(sys.stdin), stdout_isatty=tty(sys.stdout), stderr_isatty=tty(sys.stderr))

    @property
    def stdin_bytes(self):
        return getattr(self.stdin, "buffer", self.stdin)

    @property
    def stdout_bytes(self):
        return getattr(self.stdout, "buffer", self.stdout)

    def use_color(self, stream_is_tty: Optional[bool] = None) -> bool:
        if self.color is not None:
            return self.color
        if "NO_COLOR" in self.environ and self.environ.get("NO_COLOR", "") != "":
            return False
        if self.environ.get("TERM") == "dumb":
            return False
        return self.stdout_isatty if stream_is_tty is None else stream_is_tty

    def console(self, stderr: bool = False):
        """A rich Console for this context; markup and highlighting off (input text is data)."""
        from rich.console import Console

        stream = self.stderr if stderr else self.stdout
        is_tty = self.stderr_isatty if stderr else self.stdout_isatty
        color = self.use_color(is_tty)
        width = self.width
        if width is None and not is_tty:
            width = int(self.environ.get("COLUMNS", "100") or 100) if self.environ.get("COLUMNS", "").isdigit() else 100
        return Console(file=stream, width=width, color_system="auto" if color else None,
                       force_terminal=color if color else False, no_color=not color, markup=False,
                       highlight=False, emoji=False, soft_wrap=False,
                       legacy_windows=False)

    def default_python(self) -> str:
        """The target interpreter (see :func:`resolve_target_python`); a ``--python`` that names
        nothing runnable is a usage error (exit 2) for every command."""
        try:
            return resolve_target_python(self.target_python, path=self.environ.get("PATH"))
        except TargetNotFound as exc:
            from tfhelp.assistant.frontends.cli import UsageError

            raise UsageError(str(exc)) from None

    def ruleset(self):
        if self._ruleset is None:
            from tfhelp.kb.loader import load_ruleset

            self._ruleset = load_ruleset(extra_dirs=self.rule_dirs, user_rules=self.user_rules)
        return self._ruleset


class TargetNotFound(Exception):
    """``--python`` names nothing that runs."""


def resolve_target_python(spec: Optional[str] = None, path: Optional[str] = None) -> str:
    """The interpreter tfhelp probes, fixes and runs scripts with.

    ``spec`` may be an executable, a command name on PATH, or a venv / conda env folder (its
    ``bin/python`` or ``python.exe`` / ``Scripts/python.exe``). Without a spec: ``python`` on
    PATH, else ``python3``, else the interpreter running tfhelp.
    """
    import shutil

    if not spec:
        for name in ("python", "python3"):
            found = shutil.which(name, path=path)
            if found:
                return found
        return sys.executable
    p = os.path.expanduser(spec)
    if os.path.isdir(p):
        for rel in ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe"):
            cand = os.path.join(p, rel)
            if os.path.isfile(cand):
                return cand
        raise TargetNotFound(f"{spec} is a folder without bin/python or python.exe in it")
    if os.path.isfile(p):
        return p
    found = shutil.which(spec, path=path)
    if found:
        return found
    raise TargetNotFound(f"no Python interpreter at {spec}")
