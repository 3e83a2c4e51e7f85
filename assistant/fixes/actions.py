"""The fix action types: how each is planned (shown before anything runs) and applied.

A rule's fix is data: an ordered list of steps, each one of the structured action types below.
There is no way for a rule to run a shell command. Every command tfhelp runs is an argv list whose
first element is the *target* interpreter (``TARGET -m pip ...``), run with ``shell=False``.

Each action type has one ``plan_<action>`` function (returns a :class:`PlannedStep`, never runs
anything) and one ``apply_<action>`` function (runs the planned step, returns a
:class:`StepResult` with what it changed so the journal can undo it). ``verify`` steps are
planned here and run by :func:`run_verify` after the other steps.

Why one module of ~740 lines: one plan / apply / undo triple per action kind, side by side, so
an action is read (and a new one added) in one place.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

ACTIONS = ("pip_install", "pip_uninstall", "set_env", "code_change", "manual", "verify")
ENV_SCOPES = ("session", "user-profile", "conda-env")
VERIFY_CHECKS = ("import", "gpu", "script")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PIP_TIMEOUT_S = 1800
VERIFY_TIMEOUT_S = 300
BLOCK_BEGIN = "# >>> tfhelp {tag} >>>"
BLOCK_END = "# <<< tfhelp {tag} <<<"


class PlanError(ValueError):
    """A step that cannot be planned safely (bad requirement, unknown action, bad env name)."""


@dataclass
class PlannedStep:
    index: int
    action: str
    summary: str                      # one line for people
    argv: Optional[list] = None       # the exact command tfhelp runs, when it runs one
    runs: bool = True                 # False: shown only (manual, code change without a file, ...)
    detail: dict = field(default_factory=dict)
    error: Optional[str] = None       # why this step can't be run (the plan is then not runnable)

    def to_json(self) -> dict:
        return {"index": self.index, "action": self.action, "summary": self.summary,
                "argv": list(self.argv) if self.argv else None, "runs": self.runs,
                "detail": self.detail, "error": self.error}


@dataclass
class StepResult:
    index: int
    action: str
    ok: bool
    message: str = ""
    returncode: Optional[int] = None
    output: str = ""                  # tail of the command's output
    warnings: list = field(default_factory=list)
    undo: dict = field(default_factory=dict)   # what the journal needs to reverse this step

    def to_json(self) -> dict:
        return {"index": self.index, "action": self.action, "ok": self.ok, "message": self.message,
                "returncode": self.returncode, "output": self.output, "warnings": self.warnings,
                "undo": self.undo}


@dataclass
class ApplyContext:
    """Everything a step needs to know about where it runs."""
    python: str                                   # the target interpreter (absolute path)
    pip_args: tuple = ()                          # extra pip options, e.g. ("--no-index", "--find-links", D)
    session_env: Optional[dict] = None            # the REPL's child environment; None on the CLI
    shell: Optional[str] = None                   # bash | zsh | fish | sh | powershell | cmd
    profile_path: Optional[str] = None            # override for user-profile scope
    code_file: Optional[str] = None               # the file the user named for code changes
    script: Optional[str] = None                  # the script verify: script re-runs (from /run)
    script_args: tuple = ()
    tag: str = "fix"                              # marks profile blocks (the journal entry id)
    timeout: float = PIP_TIMEOUT_S
    verify_timeout: float = VERIFY_TIMEOUT_S
    progress: Optional[Callable[[str], None]] = None
    platform: str = sys.platform

    def child_env(self, extra: Optional[dict] = None) -> dict:
        env = dict(os.environ)
        if self.session_env:
            for k, v in self.session_env.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        for k, v in (extra or {}).items():
            env[k] = v
        env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        return env

    def say(self, text: str) -> None:
        if self.progress:
            self.progress(text)


# --------------------------------------------------------------------------------------------
# validation helpers


def validate_requirement(text: str, *, allow_specifier: bool = True):
    """Parse ``text`` as a PEP 508 requirement; refuse anything pip would read as an option or URL."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(text, str) or not text.strip():
        raise PlanError(f"empty requirement: {text!r}")
    s = text.strip()
    if s.startswith("-") or any(c in s for c in "\n\r\0"):
        raise PlanError(f"not a package requirement: {text!r}")
    try:
        req = Requirement(s)
    except InvalidRequirement as exc:
        raise PlanError(f"not a valid PEP 508 requirement: {text!r} ({exc})") from None
    if req.url:
        raise PlanError(f"direct URL requirements are not allowed in fixes: {text!r}")
    if not allow_specifier and (req.specifier or req.extras):
        raise PlanError(f"expected a bare distribution name, got {text!r}")
    return req


def validate_env_name(name) -> str:
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        raise PlanError(f"not a valid environment variable name: {name!r}")
    return name


def _env_value(value) -> str:
    if value is None:
        raise PlanError("set_env needs a value")
    v = str(value)
    if any(c in v for c in "\n\r\0"):
        raise PlanError("environment values may not contain line breaks or NUL")
    return v


def pip_argv(python: str, verb: str, args, pip_args=()) -> list:
    """argv that runs pip in the target interpreter, unattended (see commandline.pip_command)."""
    from tfhelp.assistant.fixes.argv import pip_command

    return pip_command(python, verb, args, pip_args, batch=True)


def run_argv(argv: list, *, timeout: float, env: Optional[dict] = None, cwd: Optional[str] = None):
    """Run an argv list (never through a shell). Returns (returncode, combined output)."""
    if not isinstance(argv, (list, tuple)) or not argv or not all(isinstance(a, str) for a in argv):
        raise PlanError(f"refusing to run a non-argv command: {argv!r}")
    try:
        proc = subprocess.run(list(argv), shell=False, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.output or b""
        return 124, out.decode("utf-8", "replace") + f"\n[tfhelp: timed out after {timeout:.0f}s]"
    except OSError as exc:
        return 127, f"[tfhelp: could not start {argv[0]}: {exc}]"
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def _tail(text: str, n: int = 40) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join(lines[-n:])


def _is_windows(ctx: ApplyContext) -> bool:
    return ctx.platform.startswith("win")


# --------------------------------------------------------------------------------------------
# pip_install / pip_uninstall


def plan_pip_install(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    pkgs = step.get("packages") or []
    if isinstance(pkgs, str):
        pkgs = [pkgs]
    if not pkgs:
        raise PlanError("pip_install without packages")
    reqs = [str(validate_requirement(p)) for p in pkgs]
    opts = step.get("options") or []
    if isinstance(opts, str):
        opts = [opts]
    from tfhelp.kb.schema import PIP_OPTIONS  # the same allow-list the linter enforces

    bad = [o for o in opts if o not in PIP_OPTIONS]
    if bad:
        raise PlanError(f"pip options not allowed: {bad}")
    argv = pip_argv(ctx.python, "install", [*opts, *reqs], ctx.pip_args)
    return PlannedStep(index, "pip_install", "install " + ", ".join(reqs), argv=argv,
                       detail={"packages": reqs, "options": list(opts)})


def _pip_warnings(output: str) -> list:
    keep = []
    for line in output.splitlines():
        s = line.strip()
        if s.startswith(("ERROR:", "WARNING:")) and "pip version" not in s and "root user" not in s:
            keep.append(s)
    return keep[:20]


def apply_pip_install(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    ctx.say("$ " + " ".join(shlex.quote(a) for a in planned.argv))
    rc, out = run_argv(planned.argv, timeout=ctx.timeout, env=ctx.child_env())
    ok = rc == 0
    msg = "installed " + ", ".join(planned.detail["packages"]) if ok else f"pip exited with status {rc}"
    return StepResult(planned.index, planned.action, ok, msg, rc, _tail(out), _pip_warnings(out))


def plan_pip_uninstall(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    pkgs = step.get("packages") or []
    if isinstance(pkgs, str):
        pkgs = [pkgs]
    if not pkgs:
        raise PlanError("pip_uninstall without packages")
    names = [validate_requirement(p, allow_specifier=False).name for p in pkgs]
    argv = pip_argv(ctx.python, "uninstall", names)
    return PlannedStep(index, "pip_uninstall", "uninstall " + ", ".join(names), argv=argv,
                       detail={"packages": names})


def apply_pip_uninstall(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    ctx.say("$ " + " ".join(shlex.quote(a) for a in planned.argv))
    rc, out = run_argv(planned.argv, timeout=ctx.timeout, env=ctx.child_env())
    ok = rc == 0
    msg = "uninstalled " + ", ".join(planned.detail["packages"]) if ok else f"pip exited with status {rc}"
    return StepResult(planned.index, planned.action, ok, msg, rc, _tail(out), _pip_warnings(out))


# --------------------------------------------------------------------------------------------
# set_env


def detect_shell(ctx: ApplyContext) -> str:
    if ctx.shell:
        return ctx.shell
    if _is_windows(ctx):
        return "powershell" if os.environ.get("PSModulePath") else "cmd"
    sh = os.path.basename(os.environ.get("SHELL", "") or "sh")
    return sh if sh in ("bash", "zsh", "fish", "sh", "dash", "ksh") else "sh"


def export_line(name: str, value: str, shell: str) -> str:
    if shell == "fish":
        return f"set -gx {name} {shlex.quote(value)}"
    if shell == "powershell":
        return f"$env:{name} = \"{value.replace('`', '``').replace(chr(34), '`' + chr(34))}\""
    if shell == "cmd":
        return f"set {name}={value}"
    return f"export {name}={shlex.quote(value)}"


def unset_line(name: str, shell: str) -> str:
    if shell == "fish":
        return f"set -e {name}"
    return f"unset {name}"


def profile_file(ctx: ApplyContext, shell: str) -> str:
    if ctx.profile_path:
        return os.path.abspath(os.path.expanduser(ctx.profile_path))
    home = os.path.expanduser("~")
    if shell == "zsh":
        return os.path.join(os.environ.get("ZDOTDIR", home), ".zshrc")
    if shell == "bash":
        return os.path.join(home, ".bashrc")
    if shell == "fish":
        return os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.join(home, ".config")),
                            "fish", "config.fish")
    return os.path.join(home, ".profile")


def python_prefix(python: str) -> str:
    """The environment prefix of an interpreter path without running it (bin/python -> prefix)."""
    d = os.path.dirname(os.path.abspath(python))
    if os.path.basename(d).lower() in ("bin", "scripts"):
        return os.path.dirname(d)
    return d


def plan_set_env(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    name = validate_env_name(step.get("name"))
    value = _env_value(step.get("value"))
    scope = step.get("scope") or "session"
    if scope not in ENV_SCOPES:
        raise PlanError(f"unknown set_env scope {scope!r} (one of {', '.join(ENV_SCOPES)})")
    shell = detect_shell(ctx)
    if scope == "session":
        line = export_line(name, value, shell)
        if ctx.session_env is not None:
            return PlannedStep(index, "set_env", f"set {name}={value} for commands run from this session",
                               detail={"name": name, "value": value, "scope": scope, "line": line})
        return PlannedStep(index, "set_env", f"run in your shell: {line}", runs=False,
                           detail={"name": name, "value": value, "scope": scope, "line": line})
    if scope == "user-profile":
        if _is_windows(ctx) and not ctx.profile_path:
            argv = ["setx", name, value]
            return PlannedStep(index, "set_env", f"set {name}={value} in your Windows user environment",
                               argv=argv, detail={"name": name, "value": value, "scope": scope})
        path = profile_file(ctx, shell)
        line = export_line(name, value, "fish" if path.endswith(".fish") else "sh")
        return PlannedStep(index, "set_env", f"append `{line}` to {path} (a marked block, undoable)",
                           detail={"name": name, "value": value, "scope": scope, "file": path,
                                   "line": line})
    # conda-env: activate.d / deactivate.d scripts inside the target's environment
    prefix = python_prefix(ctx.python)
    if not os.path.isdir(os.path.join(prefix, "conda-meta")):
        line = export_line(name, value, shell)
        return PlannedStep(index, "set_env", f"run in your shell: {line}", runs=False,
                           detail={"name": name, "value": value, "scope": "session", "line": line,
                                   "note": f"{prefix} is not a conda environment; shown for this shell only"})
    ext = ".bat" if _is_windows(ctx) else ".sh"
    act = os.path.join(prefix, "etc", "conda", "activate.d", "tfhelp_env_vars" + ext)
    deact = os.path.join(prefix, "etc", "conda", "deactivate.d", "tfhelp_env_vars" + ext)
    if ext == ".bat":
        on, off = f"set \"{name}={value}\"", f"set \"{name}=\""
    else:
        on, off = export_line(name, value, "sh"), unset_line(name, "sh")
    return PlannedStep(index, "set_env", f"set {name}={value} whenever the conda env {prefix} is activated",
                       detail={"name": name, "value": value, "scope": scope, "file": act,
                               "line": on, "deactivate_file": deact, "deactivate_line": off})


def _read_text(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def atomic_write_text(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tfhelp-{os.getpid()}.tmp")
    mode = None
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)   # the user's file is the old one or the new one, never half of one
    finally:
        if os.path.exists(tmp):
            try:
                os.remove(tmp)
            except OSError:
                pass
    from .journal import _fsync_dir

    _fsync_dir(d)


def sha256_text(text: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def add_block(path: str, tag: str, line: str) -> dict:
    before = _read_text(path)
    block = f"{BLOCK_BEGIN.format(tag=tag)}\n{line}\n{BLOCK_END.format(tag=tag)}\n"
    text = before or ""
    if text and not text.endswith("\n"):
        text += "\n"
    after = text + block
    atomic_write_text(path, after)
    return {"file": path, "tag": tag, "existed": before is not None, "sha_after": sha256_text(after)}


def remove_block(path: str, tag: str) -> tuple:
    """Remove tfhelp's marked block ``tag`` from ``path``. Returns (removed?, message)."""
    text = _read_text(path)
    if text is None:
        return False, f"{path} no longer exists"
    begin, end = BLOCK_BEGIN.format(tag=tag), BLOCK_END.format(tag=tag)
    lines = text.splitlines(keepends=True)
    out, inside, found = [], False, False
    for ln in lines:
        s = ln.rstrip("\r\n")
        if s == begin:
            inside, found = True, True
            continue
        if inside and s == end:
            inside = False
            continue
        if not inside:
            out.append(ln)
    if not found:
        return False, f"no tfhelp block {tag} in {path}"
    new = "".join(out)
    if not new.strip() and os.path.basename(path).startswith("tfhelp_env_vars"):
        os.remove(path)
    else:
        atomic_write_text(path, new)
    return True, f"removed the tfhelp block from {path}"


def apply_set_env(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    d = planned.detail
    name, value, scope = d["name"], d["value"], d["scope"]
    if scope == "session":
        if ctx.session_env is None:
            return StepResult(planned.index, planned.action, True, f"shown: {d['line']}")
        had = name in ctx.session_env
        prev = ctx.session_env.get(name)
        ctx.session_env[name] = value
        return StepResult(planned.index, planned.action, True, f"{name}={value} set for this session",
                          undo={"kind": "session", "name": name, "had": had, "previous": prev})
    if planned.argv:  # Windows setx
        prev = _windows_user_env(name)
        rc, out = run_argv(planned.argv, timeout=60)
        return StepResult(planned.index, planned.action, rc == 0,
                          f"setx {name}" + ("" if rc == 0 else f" failed ({rc})"), rc, _tail(out),
                          undo={"kind": "setx", "name": name, "previous": prev})
    undo = {"kind": "block", "blocks": [add_block(d["file"], ctx.tag, d["line"])]}
    if d.get("deactivate_file"):
        undo["blocks"].append(add_block(d["deactivate_file"], ctx.tag, d["deactivate_line"]))
    return StepResult(planned.index, planned.action, True, f"wrote {name} to {d['file']}", undo=undo)


def _windows_user_env(name: str) -> Optional[str]:
    try:
        import winreg  # type: ignore
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, "Environment") as key:
            return winreg.QueryValueEx(key, name)[0]
    except Exception:
        return None


def undo_set_env(undo: dict, session_env: Optional[dict]) -> tuple:
    kind = undo.get("kind")
    if kind == "session":
        if session_env is None:
            return True, f"{undo['name']} was only set in that session; nothing to undo now"
        if undo.get("had"):
            session_env[undo["name"]] = undo.get("previous")
        else:
            session_env.pop(undo["name"], None)
        return True, f"restored {undo['name']} in this session"
    if kind == "setx":
        prev = undo.get("previous")
        argv = (["setx", undo["name"], prev] if prev is not None
                else ["reg", "delete", "HKCU\\Environment", "/v", undo["name"], "/f"])
        rc, out = run_argv(argv, timeout=60)
        return rc == 0, f"restored {undo['name']}" if rc == 0 else f"could not restore {undo['name']}: {out.strip()}"
    if kind == "block":
        msgs, ok = [], True
        for b in undo.get("blocks", []):
            removed, msg = remove_block(b["file"], b["tag"])
            if not removed:  # gone already (removed by hand, or by an undo that died after it)
                msg += ": nothing left to remove"
            msgs.append(msg)
        return ok, "; ".join(msgs)
    return True, ""


# --------------------------------------------------------------------------------------------
# code_change


def _find_lines(text: str, before: str):
    """Locate ``before`` in ``text``: exact substring first, then line by line ignoring indentation.

    Returns (start, end, indent) character offsets into ``text`` or None."""
    i = text.find(before)
    if i >= 0:
        return i, i + len(before), None
    want = [ln.strip() for ln in before.strip("\n").splitlines() if ln.strip()]
    if not want:
        return None
    lines = text.splitlines(keepends=True)
    offs, pos = [], 0
    for ln in lines:
        offs.append(pos)
        pos += len(ln)
    for i in range(len(lines)):
        j, k = i, 0
        while j < len(lines) and k < len(want):
            s = lines[j].strip()
            if not s:
                j += 1
                continue
            if s != want[k]:
                break
            j += 1
            k += 1
        if k == len(want):
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            end = offs[j - 1] + len(lines[j - 1].rstrip("\r\n"))
            return offs[i] + len(indent), end, indent
    return None


def _reindent(after: str, indent: str) -> str:
    lines = after.strip("\n").splitlines()
    base = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    return "\n".join((indent + ln[base:]) if ln.strip() else "" for ln in lines).lstrip(" \t") if lines else ""


def unified_diff(old: str, new: str, a: str, b: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=a, tofile=b))


def _diff_labels(label: str) -> tuple:
    if os.path.isabs(label) or re.match(r"^[A-Za-z]:[\\/]", label):
        return label, label
    return f"a/{label}", f"b/{label}"


def plan_code_change(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    before, after = step.get("before"), step.get("after")
    if not isinstance(before, str) or not isinstance(after, str):
        raise PlanError("code_change needs before and after text")
    hint = step.get("file_hint") or None
    if ctx.code_file:
        path = os.path.abspath(os.path.expanduser(ctx.code_file))
        text = _read_text(path) if os.path.isfile(path) else None
        if text is None:
            return PlannedStep(index, "code_change", f"edit {path}", runs=False,
                               detail={"file": path, "diff": unified_diff(before + "\n", after + "\n", "before", "after")},
                               error=f"{path} is not a readable file")
        loc = _find_lines(text, before)
        if loc is None:
            return PlannedStep(index, "code_change", f"change shown for {path} (text not found there)",
                               runs=False,
                               detail={"file": path, "file_hint": hint, "not_found": True,
                                       "diff": unified_diff(before.rstrip("\n") + "\n", after.rstrip("\n") + "\n",
                                                            "a/" + os.path.basename(path), "b/" + os.path.basename(path))})
        start, end, indent = loc
        repl = after if indent is None else _reindent(after, indent)
        new = text[:start] + repl + text[end:]
        return PlannedStep(index, "code_change", f"edit {path}",
                           detail={"file": path, "diff": unified_diff(text, new, "a/" + os.path.basename(path),
                                                                       "b/" + os.path.basename(path)),
                                   "sha_before": sha256_text(text), "new_text": new})
    label = hint or "your code"
    return PlannedStep(index, "code_change", f"change {label} (shown; name the file to apply it)", runs=False,
                       detail={"file_hint": hint,
                               "diff": unified_diff(before.rstrip("\n") + "\n", after.rstrip("\n") + "\n",
                                                    *_diff_labels(label))})


def apply_code_change(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    d = planned.detail
    path = d["file"]
    text = _read_text(path)
    if sha256_text(text) != d["sha_before"]:
        return StepResult(planned.index, planned.action, False, f"{path} changed since the plan was made")
    atomic_write_text(path, d["new_text"])
    return StepResult(planned.index, planned.action, True, f"edited {path}",
                      undo={"kind": "file", "file": path, "content": text,
                            "sha_after": sha256_text(d["new_text"])})


def undo_code_change(undo: dict, force: bool = False) -> tuple:
    path = undo["file"]
    cur = _read_text(path)
    if cur == undo["content"]:  # never written (the fix died first), or already put back
        return True, f"{path} is as it was before the fix"
    if sha256_text(cur) != undo.get("sha_after") and not force:
        return False, f"{path} was edited after the fix; left as it is (restore it by hand)"
    atomic_write_text(path, undo["content"])
    return True, f"restored {path}"


# --------------------------------------------------------------------------------------------
# manual


def plan_manual(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    text = str(step.get("text") or "").strip()
    if not text:
        raise PlanError("manual step without text")
    link = step.get("link")
    return PlannedStep(index, "manual", text, runs=False, detail={"text": text, "link": link})


def apply_manual(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    return StepResult(planned.index, planned.action, True, "for you to do: " + planned.detail["text"])


# --------------------------------------------------------------------------------------------
# verify


def plan_verify(step: dict, index: int, ctx: ApplyContext) -> PlannedStep:
    check = step.get("check") or ("import" if step.get("code") else None)
    if check not in VERIFY_CHECKS:
        raise PlanError(f"unknown verify check {check!r} (one of {', '.join(VERIFY_CHECKS)})")
    if check == "import":
        code = step.get("code")
        if not isinstance(code, str) or not code.strip():
            raise PlanError("verify: import needs code")
        return PlannedStep(index, "verify", f"check: {code}", argv=[ctx.python, "-c", code],
                           detail={"check": check, "code": code})
    if check == "script":
        if not ctx.script:
            return PlannedStep(index, "verify", "re-run your script (none given: use /run SCRIPT or --script)",
                               runs=False, detail={"check": check, "skipped": "no script given"})
        argv = [ctx.python, os.path.abspath(ctx.script), *ctx.script_args]
        return PlannedStep(index, "verify", f"re-run {ctx.script}", argv=argv,
                           detail={"check": check, "script": ctx.script})
    return PlannedStep(index, "verify", "run the GPU test ladder", detail={"check": "gpu"})


@dataclass
class VerifyResult:
    status: str            # passed | failed | skipped
    message: str
    returncode: Optional[int] = None
    output: str = ""
    check: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "message": self.message, "returncode": self.returncode,
                "output": self.output, "check": self.check}


def run_verify(planned: PlannedStep, ctx: ApplyContext, extra_env: Optional[dict] = None) -> VerifyResult:
    d = planned.detail
    check = d.get("check", "")
    if not planned.runs:
        return VerifyResult("skipped", d.get("skipped", "not run"), check=check)
    if check == "gpu":
        return _verify_gpu(ctx, extra_env)
    ctx.say("$ " + " ".join(shlex.quote(a) for a in planned.argv))
    rc, out = run_argv(planned.argv, timeout=ctx.verify_timeout, env=ctx.child_env(extra_env))
    if rc == 0:
        return VerifyResult("passed", planned.summary + ": OK", rc, _tail(out, 15), check)
    return VerifyResult("failed", planned.summary + f": failed (exit status {rc})", rc, _tail(out, 25), check)


def _verify_gpu(ctx: ApplyContext, extra_env: Optional[dict]) -> VerifyResult:
    """The GPU test ladder (``tfhelp.assistant.environment.gpu_test``): passes when every GPU rung passed."""
    try:
        from tfhelp.assistant.environment import gpu_test
    except ImportError:
        return VerifyResult("skipped", "the GPU test ladder is not available in this build", check="gpu")
    saved = {}
    try:  # the rung processes inherit our environment: give them the fix's env settings
        for k, v in (extra_env or {}).items():
            saved[k] = os.environ.get(k)
            os.environ[k] = v
        result = gpu_test.run_ladder(ctx.python, diagnose=False,
                                     on_rung=(lambda r: ctx.say(f"  {r.id}: {r.status}")) if ctx.progress else None)
    except Exception as exc:  # another module; report it, don't crash the transaction
        return VerifyResult("failed", f"the GPU test could not run: {type(exc).__name__}: {exc}", check="gpu")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    ff = result.first_failure
    if result.gpu_ok and result.cpu_ok:
        return VerifyResult("passed", f"GPU test ladder passed ({result.device or 'GPU'})", 0, check="gpu")
    why = f"{ff.id}: {ff.reason}" if ff is not None else "no GPU rung passed"
    return VerifyResult("failed", "GPU test ladder failed at " + why, 1,
                        (getattr(ff, "output", "") or "")[-2000:] if ff is not None else "", check="gpu")


# --------------------------------------------------------------------------------------------
# dispatch

PLANNERS = {
    "pip_install": plan_pip_install,
    "pip_uninstall": plan_pip_uninstall,
    "set_env": plan_set_env,
    "code_change": plan_code_change,
    "manual": plan_manual,
    "verify": plan_verify,
}
APPLIERS = {
    "pip_install": apply_pip_install,
    "pip_uninstall": apply_pip_uninstall,
    "set_env": apply_set_env,
    "code_change": apply_code_change,
    "manual": apply_manual,
}


def prospective_undo(planned: PlannedStep, ctx: ApplyContext) -> dict:
    """What undo needs to reverse ``planned`` if the process dies while or right after it runs,
    known before it runs (the journal records it first: write-ahead). Empty for steps the package
    snapshot already covers (pip) or that change nothing that outlives the process."""
    if planned.error or not planned.runs:
        return {}
    d = planned.detail
    if planned.action == "code_change":
        text = _read_text(d["file"])
        if text is None or sha256_text(text) != d.get("sha_before"):
            return {}  # the step will refuse to write
        return {"kind": "file", "file": d["file"], "content": text, "sha_after": sha256_text(d["new_text"])}
    if planned.action == "set_env" and d.get("scope") != "session":
        if planned.argv:  # Windows setx
            return {"kind": "setx", "name": d["name"], "previous": _windows_user_env(d["name"])}
        blocks = [{"file": d["file"], "tag": ctx.tag}]
        if d.get("deactivate_file"):
            blocks.append({"file": d["deactivate_file"], "tag": ctx.tag})
        return {"kind": "block", "blocks": blocks}
    return {}


def plan_step(step, index: int, ctx: ApplyContext) -> PlannedStep:
    if not isinstance(step, dict):
        return PlannedStep(index, "?", "not a step", runs=False, error=f"step {index + 1} is not a mapping")
    action = step.get("action")
    planner = PLANNERS.get(action)
    if planner is None:
        return PlannedStep(index, str(action), f"unknown action {action!r}", runs=False,
                           error=f"unknown action {action!r}: only {', '.join(ACTIONS)} can run")
    try:
        return planner(step, index, ctx)
    except PlanError as exc:
        return PlannedStep(index, action, str(exc), runs=False, error=str(exc))


def apply_step(planned: PlannedStep, ctx: ApplyContext) -> StepResult:
    if planned.error:
        return StepResult(planned.index, planned.action, False, planned.error)
    if not planned.runs:
        return StepResult(planned.index, planned.action, True, "shown: " + planned.summary)
    fn = APPLIERS.get(planned.action)
    if fn is None:
        return StepResult(planned.index, planned.action, False, f"{planned.action} cannot be applied")
    return fn(planned, ctx)
