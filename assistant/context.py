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
    #: gc.freeze() once the rule base is loaded (see ruleset); only the real process sets it
    freeze_after_rules: bool = False
    _ruleset: object = field(default=None, repr=False)

    @classmethod
    def from_process(cls) -> "Context":
        def tty(stream) -> bool:
            try:
                return bool(stream) and stream.isatty()
            except (ValueError, AttributeError):
                return False

        return cls(stdin_isatty=tty(sys.stdin), stdout_isatty=tty(sys.stdout), stderr_isatty=tty(sys.stderr),
                   freeze_after_rules=True)

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

    def target_for(self, text, *, probe=None, source: Optional[str] = None) -> "Target":
        """The target for an answer about ``text`` (see :func:`choose_target`): ``--python`` when
        given, else the environment the text came from when it is on this machine, else the
        default interpreter (only when ``probe`` is given: without a probe nothing is known of it)."""
        explicit = os.path.abspath(self.default_python()) if self.target_python else None
        default = None
        if not explicit and probe is not None:
            default = os.path.abspath(self.default_python())
        return choose_target(text, explicit=explicit, default=default, probe=probe, environ=self.environ,
                             source=source)

    def ruleset(self):
        if self._ruleset is None:
            from tfhelp.kb.loader import load_ruleset

            self._ruleset = load_ruleset(extra_dirs=self.rule_dirs, user_rules=self.user_rules)
            if self.freeze_after_rules:
                # The rules (and every module) live as long as the process: moved to the permanent
                # generation, the cyclic GC stops walking them in each later collection and at exit
                # (about 3% of `tfhelp < err.txt`, benchmarks/README.md). Not for tests' in-process
                # Contexts, where it would keep every earlier test's garbage.
                import gc

                gc.freeze()
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


# ------------------------------------------------------------------------------------------------
# Where the error came from (the origin environment) and which interpreter a command acts on.
#
# ``tfhelp.kb.origin`` reads the text; the functions below check what it found against this
# machine: an environment counts as found only when its interpreter exists, is executable and
# really owns the site-packages folder the text names (asked of the interpreter itself).

_OWN_SITE_SCRIPT = ("import json, site, sys\n"
                    "s = list(getattr(site, 'getsitepackages', lambda: [])())\n"
                    "u = getattr(site, 'getusersitepackages', lambda: None)()\n"
                    "print(json.dumps({'prefix': sys.prefix, 'version': '%d.%d' % sys.version_info[:2],"
                    " 'site': s + ([u] if u else []) + [p for p in sys.path if p.endswith('-packages')]}))\n")


@dataclass
class Origin:
    """``status``: ``here`` (its interpreter is on this machine: ``python``), ``elsewhere`` (the
    text names an environment that is not here) or ``unknown`` (the text does not say)."""

    status: str = "unknown"
    python: Optional[str] = None
    location: Optional[str] = None     # the prefix or env name as the text wrote it
    evidence: str = ""                 # the line that said so
    reason: str = ""                   # why it counts as elsewhere
    hints: object = None               # tfhelp.kb.origin.OriginHints

    def to_json(self) -> dict:
        return {"status": self.status, "python": self.python, "location": self.location,
                "evidence": self.evidence or None, "reason": self.reason or None}


def _ask_interpreter(python: str, timeout: float = 15.0) -> Optional[dict]:
    """``{"prefix", "version", "site": [...]}`` from the interpreter itself, or None."""
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    try:
        out = subprocess.run([python, "-c", _OWN_SITE_SCRIPT], capture_output=True, text=True,
                             timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if out.returncode != 0:
        return None
    for line in reversed((out.stdout or "").strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("site"), list):
            return data
    return None


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def same_interpreter(a: Optional[str], b: Optional[str]) -> bool:
    """Do two interpreter paths name one environment? Not ``samefile``: every venv's ``bin/python``
    links to the same base interpreter. Same path, or the same folder and the same real file
    (``bin/python`` and ``bin/python3.11`` of one venv)."""
    if not a or not b:
        return False
    na, nb = os.path.normcase(os.path.abspath(a)), os.path.normcase(os.path.abspath(b))
    if na == nb:
        return True
    return os.path.dirname(na) == os.path.dirname(nb) and os.path.realpath(na) == os.path.realpath(nb)


def verify_interpreter(python: str, site_packages: Optional[str] = None, prefix: Optional[str] = None,
                       version: Optional[str] = None) -> bool:
    """Is ``python`` an executable interpreter whose own site-packages include ``site_packages``
    (or whose ``sys.prefix`` is ``prefix``), of Python ``version`` when given?"""
    if not python or not os.path.isfile(python) or not os.access(python, os.X_OK):
        return False
    info = _ask_interpreter(python)
    if info is None:
        return False
    if version and info.get("version") != version:
        return False
    if site_packages:
        site = os.path.expanduser(site_packages)
        return any(_same_path(site, s) for s in info.get("site") or [] if s and os.path.isdir(s))
    if prefix:
        return _same_path(os.path.expanduser(prefix), info.get("prefix") or "")
    return True


def _conda_roots(environ: dict) -> list:
    home = os.path.expanduser("~")
    roots = []
    exe = environ.get("CONDA_EXE")
    if exe:
        roots.append(os.path.dirname(os.path.dirname(exe)))
    pref = environ.get("CONDA_PREFIX")
    if pref:
        roots.append(pref.split(os.sep + "envs" + os.sep)[0])
    for name in ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba", "miniconda", "anaconda",
                 "opt/miniconda3", "opt/anaconda3", ".conda"):
        roots.append(os.path.join(home, name))
    roots += ["/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/usr/local/miniconda3", "/usr/local/anaconda3"]
    out = []
    for r in roots:
        if r and r not in out:
            out.append(r)
    return out


def named_env_folders(name: str, environ: Optional[dict] = None, cwd: Optional[str] = None) -> list:
    """Folders on this machine that a conda / venv env called ``name`` (from a shell prompt) may be."""
    environ = environ if environ is not None else dict(os.environ)
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return []
    home = os.path.expanduser("~")
    cands = []
    for root in _conda_roots(environ):
        cands.append(root if name == "base" else os.path.join(root, "envs", name))
    try:  # conda records every env it created here
        with open(os.path.join(home, ".conda", "environments.txt"), encoding="utf-8") as fh:
            for line in fh:
                p = line.strip()
                if p and os.path.basename(p.rstrip("/\\")) == name:
                    cands.append(p)
    except OSError:
        pass
    workon = environ.get("WORKON_HOME")
    for base in ([workon] if workon else []) + [cwd or os.getcwd(), home, os.path.join(home, "venvs"),
                                                  os.path.join(home, ".venvs"), os.path.join(home, ".virtualenvs"),
                                                  os.path.join(home, "envs")]:
        cands.append(os.path.join(base, name))
    out = []
    for c in cands:
        if c not in out and os.path.isdir(c):
            out.append(c)
    return out


def _interpreter_in(folder: str) -> Optional[str]:
    for rel in ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe"):
        cand = os.path.join(folder, rel)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def find_origin(text, *, environ: Optional[dict] = None, cwd: Optional[str] = None) -> Origin:
    """The environment ``text`` came from, checked against this machine (see :class:`Origin`)."""
    from tfhelp.kb.origin import interpreter_paths, read_origin

    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[-(4 << 20):]).decode("utf-8", "replace")
    hints = read_origin(text or "")
    if not hints.any:
        return Origin(hints=hints)
    windows_here = sys.platform.startswith("win")
    missing = []
    for place in hints.places[:4]:
        if (place.style == "windows") != windows_here:
            missing.append(place)
            continue
        prefix = os.path.expanduser(place.prefix)
        pythons = []
        if place.interpreter:
            pythons.append(os.path.expanduser(place.interpreter))
        for rel in interpreter_paths(place):
            pythons.append(rel if os.path.isabs(rel) else os.path.join(prefix, rel))
        for py in pythons:
            ok = verify_interpreter(py, site_packages=place.site_packages,
                                    prefix=None if place.site_packages or place.kind == "user-site" else prefix,
                                    version=place.python_version if place.kind == "user-site" else None)
            if ok:
                return Origin("here", python=os.path.abspath(py), location=place.prefix, evidence=place.evidence,
                              hints=hints)
        missing.append(place)
    for name in hints.prompt_names[:3]:
        for folder in named_env_folders(name, environ, cwd):
            py = _interpreter_in(folder)
            if py and verify_interpreter(py, prefix=folder, version=hints.python_version):
                return Origin("here", python=os.path.abspath(py), location=f"{folder}, named by the prompt ({name})",
                              evidence=f"the shell prompt ({name})", hints=hints)
    if missing:
        p = missing[0]
        where = p.prefix if p.kind != "user-site" else f"Python {p.python_version} with user site {p.prefix}"
        why = ("a Windows path" if p.style == "windows" and not windows_here else
               "a POSIX path" if p.style == "posix" and windows_here else
               "not on this machine" if not os.path.isdir(os.path.expanduser(p.prefix))
               else "no interpreter there owns that site-packages folder")
        return Origin("elsewhere", location=where, evidence=p.evidence, reason=why, hints=hints)
    return Origin(hints=hints)


def probe_disagrees(env, hints, python: str = "") -> Optional[str]:
    """Why a probed environment can't be the one the text came from, or None when it may be."""
    if env is None or hints is None or getattr(env, "source", None) != "probe":
        return None
    who = python or "the probed interpreter"
    v = hints.python_version
    if v and env.python and not (env.python == v or env.python.startswith(v + ".")):
        return f"the error's paths are Python {v}, {who} is Python {env.python}"
    for dist in sorted(hints.packages_seen):
        if env.version(dist) is None:
            return f"the error ran {dist} code, but {who} has no {dist} installed"
    return None


@dataclass
class Target:
    """The interpreter a command probes, fixes and shows in commands, and how it relates to the
    environment the error came from. ``env`` is the probe to diagnose with: None when the
    diagnosis must rest on the text alone (the target is not where the error came from)."""

    python: Optional[str]
    origin: Origin
    source: str                    # --python | error text | default | shebang
    env: object = None
    probed: bool = False
    disagreement: Optional[str] = None

    @property
    def is_origin(self) -> Optional[bool]:
        """True: the target is where the error came from; False: it is not; None: unknown."""
        if self.origin.status == "here" and self.python:
            return same_interpreter(self.python, self.origin.python)
        if self.origin.status == "elsewhere" or self.disagreement:
            return False
        return None

    def commands_python(self) -> str:
        """The interpreter written into shown commands: the target, unless it is known not to be the
        error's environment and nobody chose it (then a plain ``python`` for that environment)."""
        if self.python and (self.is_origin is not False or self.source == "--python"):
            return self.python
        return "python"

    def warning(self) -> Optional[str]:
        """One sentence for confirmations when acting on the target would miss the error's env."""
        if self.is_origin is not False:
            return None
        here = self.python or "this machine's python"
        if self.origin.status == "here":
            return f"the error came from {self.origin.python}, not from the target {here}"
        if self.origin.status == "elsewhere":
            return f"the error came from {self.origin.location} ({self.origin.reason}), not from the target {here}"
        return f"the target {here} is not where the error came from ({self.disagreement})"

    def describe(self) -> str:
        """The one line every answer shows about the target."""
        o = self.origin
        py = self.python or "python"
        if self.source == "error text":
            return f"Target: {py}, the environment the error came from ({o.location})."
        label = {"--python": "--python", "shebang": "the script's #! line"}.get(self.source, "python on PATH")
        head = f"Target: {py} ({label})"
        if o.status == "here":
            if self.is_origin:
                return head + ", where the error came from."
            return (head + f". The error came from {o.python} ({o.location}), not from this target: "
                    f"diagnosed from the text alone; pass --python {o.python} to act there.")
        if o.status == "elsewhere":
            where = f"The error came from {o.location} ({o.reason}): diagnosed from the text alone"
            if self.python is None:
                return where + "; run the commands with that environment's python."
            return head + ". " + where + "; acting on this target will not change that environment."
        if self.disagreement:
            return (head + f" is not where the error came from ({self.disagreement}): diagnosed from the text "
                    "alone; pass --python to choose the environment it came from.")
        if self.python is None:
            return ""           # nothing probed, nothing named: the answer is about the text only
        if self.probed:
            return head + "; the text does not say which environment it came from."
        return head + "."

    def to_json(self) -> dict:
        return {"python": self.python, "source": self.source, "probed": self.probed,
                "is_origin": self.is_origin, "disagreement": self.disagreement, "origin": self.origin.to_json()}


def choose_target(text, *, explicit: Optional[str] = None, default: Optional[str] = None,
                  probe=None, environ: Optional[dict] = None, cwd: Optional[str] = None,
                  source: Optional[str] = None) -> Target:
    """Pick the interpreter for an answer about ``text``.

    ``explicit`` (``--python``, already resolved) always wins, with a warning when the error came
    from elsewhere. Otherwise the origin environment found on this machine is the target; else
    ``default``. ``probe(python) -> Environment|None`` is called when given; its result is kept
    as ``env`` only when it may be the error's environment (text evidence is never overruled by a
    probe of another interpreter)."""
    origin = find_origin(text, environ=environ, cwd=cwd)
    if explicit:
        python, src = explicit, source or "--python"
    elif origin.status == "here":
        python, src = origin.python, "error text"
    elif origin.status == "elsewhere":
        python, src = None, source or "default"
    else:
        python, src = default, source or "default"
    t = Target(python=python, origin=origin, source=src)
    if t.is_origin is False and origin.status != "unknown":
        return t            # the probe would describe another environment: text alone
    if probe is not None and python:
        try:
            env = probe(python)
        except Exception:  # noqa: BLE001 - a broken target must not stop the diagnosis
            env = None
        t.probed = env is not None
        if origin.status != "here":
            t.disagreement = probe_disagrees(env, origin.hints, python)
        if not t.disagreement:
            t.env = env
    return t
