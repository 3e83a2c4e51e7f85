"""Exact command lines for fix steps, shared by the renderer and the fix applier.

pip always runs as ``TARGET_PYTHON -m pip`` so a fix lands in the environment that failed, never
in whichever ``pip`` happens to be first on PATH. Commands are argv lists; quoting exists only to
*show* them in the user's shell.
"""
from __future__ import annotations

import re
import shlex
from typing import Optional

_SAFE_WIN = re.compile(r'^[\w@%+=:,./\\-]+$')


def pip_command(python: str, verb: str, args, pip_args=(), batch: bool = False) -> list:
    """The one place pip argv is built. ``batch`` adds the flags for running unattended (no
    version-check chatter, never prompt); shown commands leave them out."""
    argv = [python, "-m", "pip", verb]
    if batch:
        argv += ["--disable-pip-version-check", "--no-input"]
    if verb == "uninstall":
        argv.append("-y")
    else:
        argv.extend(pip_args)
    argv.extend(args)
    return argv


def pip_argv(python: str, step: dict) -> list:
    """argv shown for a pip_install / pip_uninstall step."""
    if step["action"] == "pip_install":
        return pip_command(python, "install", [*step.get("options", []), *step["packages"]])
    if step["action"] == "pip_uninstall":
        return pip_command(python, "uninstall", step["packages"])
    raise ValueError(f"not a pip step: {step['action']}")


def quote(argv: list, platform: Optional[str]) -> str:
    """Render argv for copy-paste into the user's shell (cmd/PowerShell-style on Windows)."""
    if platform == "windows":
        out = []
        for a in argv:
            out.append(a if _SAFE_WIN.match(a) else '"' + a.replace('"', '\\"') + '"')
        return " ".join(out)
    return " ".join(_posix_quote(a) for a in argv)


def _posix_quote(arg: str) -> str:
    """shlex.quote, but an argument with single quotes and nothing a shell expands inside double
    quotes reads better as "..." than as '...'"'"'...'."""
    if "'" in arg and not any(c in arg for c in '"$`\\!'):
        return '"' + arg + '"'
    return shlex.quote(arg)


def env_lines(step: dict, platform: Optional[str]) -> list:
    """How to set a variable for the current shell on the user's platform."""
    name = step["name"]
    if step.get("unset"):
        if platform == "windows":
            return [f"set {name}=", f"Remove-Item Env:{name}   # PowerShell"]
        return [f"unset {name}"]
    value = str(step.get("value", ""))
    if platform == "windows":
        return [f"set {name}={value}", f'$env:{name} = "{value}"   # PowerShell']
    return [f"export {name}={shlex.quote(value)}"]
