"""Where did a pasted error come from? Read the origin environment out of the text.

Pure: no file system, no subprocesses (``assistant/context.py`` checks what this module finds
against the machine). From a traceback or log this reads

* environment prefixes from site-packages paths (``/home/u/venvs/tf/lib/python3.10/site-packages/...``,
  ``C:\\Users\\u\\miniconda3\\envs\\tf\\Lib\\site-packages\\...``, ``/opt/conda/envs/NAME/...``, a user
  site ``~/.local/lib/python3.10/site-packages``, Debian's ``/usr/lib/python3/dist-packages``),
* interpreter paths written out (``/home/u/venvs/tf/bin/python train.py``, ``...\\python.exe``),
* env names from shell prompts (``(tf) $ python train.py``, ``(tf) C:\\Users\\u>python``),
* the Python version (``python3.X`` in paths),
* which packages' code ran (frames under ``site-packages/tensorflow/``, ``module 'keras' has no
  attribute``, TF's C++ log lines) and which modules were missing (``No module named 'tensorflow'``),

and for ``tfhelp run`` the interpreter a script's shebang names (:func:`read_shebang`).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Optional

#: Top-level module -> the distribution condition name tfhelp's rules use for it.
MODULE_DISTS = {
    "tensorflow": "tensorflow", "keras": "keras", "tf_keras": "tf-keras", "numpy": "numpy",
    "h5py": "h5py", "ml_dtypes": "ml-dtypes", "tensorflow_addons": "tensorflow-addons",
    "tensorflow_hub": "tensorflow-hub", "tensorflow_text": "tensorflow-text", "tensorflow_io": "tensorflow-io",
    "tensorboard": "tensorboard", "jax": "jax", "jaxlib": "jaxlib", "torch": "torch",
}

# A POSIX path up to lib/pythonX.Y/site-packages (or dist-packages). The prefix stops at quotes,
# spaces, brackets and colons so "File "/x/..."" and "(/x/...)" both give /x.
_POSIX_SITE = re.compile(
    r"(?P<prefix>(?:~|/)[^\s\"'()<>:,;|]*?)/lib(?:64)?/python(?P<v>[23]\.\d{1,2})t?/(?P<kind>site|dist)-packages"
    r"(?:/(?P<mod>[A-Za-z_]\w*))?")
_DEBIAN_SITE = re.compile(r"(?P<prefix>/usr(?:/local)?)/lib/python3/dist-packages(?:/(?P<mod>[A-Za-z_]\w*))?")
# Windows: quoted paths may hold spaces ("C:\Users\John Doe\..."); unquoted ones may not.
_WIN_SITE = re.compile(
    r"(?P<prefix>[A-Za-z]:[\\/](?:[^\"'<>|\r\n:*?]*?))[\\/]Lib[\\/]site-packages(?:[\\/](?P<mod>[A-Za-z_]\w*))?",
    re.I)
_POSIX_PY = re.compile(r"(?<![\w/.-])(?P<py>(?:~|/)[^\s\"'()<>:,;|]*/bin/python(?:[23](?:\.\d{1,2})?)?)(?![\w.-])")
_WIN_PY = re.compile(r"(?P<py>[A-Za-z]:[\\/][^\"'<>|\r\n:*?]*?[\\/]python(?:\d+)?\.exe)\b", re.I)
_FILE_FRAME = re.compile(r'File "(?P<path>[^"]+)"')
_PROMPT = re.compile(
    r"^\s*\((?P<name>[A-Za-z0-9_.@+-]{1,64})\)\s+"
    r"(?:[^\s@]+@[^\s:]+[:\s]|[$#%>]\s|PS\s|[A-Za-z]:\\|~|/[^\s]*[$#]\s|[^\s]*[$#%>]\s*\S)",
    re.M)
_PY_VERSION = re.compile(r"python(?P<v>3\.\d{1,2})(?![\d])", re.I)
_WIN_PY_VERSION = re.compile(r"[\\/]Python(?P<v>3\d{1,2})[\\/]", re.I)
_NO_MODULE = re.compile(r"No module named ['\"]?(?P<mod>[A-Za-z_][\w.]*)['\"]?")
_MODULE_ATTR = re.compile(r"module '(?P<mod>[A-Za-z_][\w.]*)' has no attribute")
_IMPORT_FROM = re.compile(r"cannot import name '[^']+' from '(?P<mod>[A-Za-z_][\w.]*)'")
_TF_CC_LOG = re.compile(r"(?:^|\s)(?:[IWEF]\d{4} [\d:.]+\s+\d+\s+|[IWEF] )(?:external/\w+/)?tensorflow/", re.M)
_CONDA_ENV = re.compile(r"[\\/]envs[\\/](?P<name>[^\\/\s\"']+)$", re.I)


@dataclass
class Place:
    """One environment the text points to."""

    prefix: str                      # as written in the text (may start with ~)
    style: str                       # posix | windows
    kind: str                        # venv-or-conda | user-site | system
    python_version: Optional[str] = None
    site_packages: Optional[str] = None   # as written
    interpreter: Optional[str] = None     # an interpreter path the text wrote out
    conda_env: Optional[str] = None       # .../envs/NAME
    count: int = 0                   # how many times the text points here
    last_line: int = 0               # 1-based line of the last mention
    evidence: str = ""               # that line, trimmed


@dataclass
class OriginHints:
    places: list = field(default_factory=list)        # [Place], most mentioned first
    prompt_names: list = field(default_factory=list)  # env names from shell prompts, last first
    python_version: Optional[str] = None
    packages_seen: set = field(default_factory=set)   # rule dist names whose code ran
    missing_modules: set = field(default_factory=set)  # top-level modules that were not found

    @property
    def any(self) -> bool:
        return bool(self.places or self.prompt_names)

    @property
    def best(self) -> Optional[Place]:
        return self.places[0] if self.places else None


def _trim(line: str) -> str:
    line = line.strip()
    return line if len(line) <= 200 else line[:197] + "..."


def _win_version(v: str) -> str:
    return v[0] + "." + v[1:]


def read_origin(text: str, max_chars: int = 4 << 20) -> OriginHints:
    """Everything the text says about the environment it came from (see module docstring).

    Reads at most the last ``max_chars`` characters: the error is at the end of a paste."""
    if not text:
        return OriginHints()
    if len(text) > max_chars:
        text = text[-max_chars:]
    hints = OriginHints()
    places: dict = {}
    versions: dict = {}

    def add(prefix: str, style: str, kind: str, lineno: int, line: str, *, version=None, site=None,
            interpreter=None, mod=None) -> None:
        key = (prefix.lower().replace("\\", "/").rstrip("/") if style == "windows" else prefix.rstrip("/"))
        p = places.get(key)
        if p is None:
            p = places[key] = Place(prefix=prefix.rstrip("\\/") or prefix, style=style, kind=kind)
            m = _CONDA_ENV.search(p.prefix)
            if m:
                p.conda_env = m.group("name")
        p.count += 1
        if lineno >= p.last_line:
            p.last_line, p.evidence = lineno, _trim(line)
        if version and not p.python_version:
            p.python_version = version
        if site and not p.site_packages:
            p.site_packages = site
        if interpreter and not p.interpreter:
            p.interpreter = interpreter
        if mod and mod in MODULE_DISTS:
            hints.packages_seen.add(MODULE_DISTS[mod])

    for lineno, line in enumerate(text.splitlines(), 1):
        if len(line) > 4096:
            line = line[:4096]
        low = line.lower()
        if "-packages" in low:
            for m in _POSIX_SITE.finditer(line):
                prefix, v = m.group("prefix"), m.group("v")
                kind = "user-site" if prefix.rstrip("/").endswith("/.local") else (
                    "system" if m.group("kind") == "dist" or prefix in ("/usr", "/usr/local") else "venv-or-conda")
                site = m.group(0)[: m.end("kind") - m.start() + len("-packages")]
                add(prefix, "posix", kind, lineno, line, version=v, site=site, mod=m.group("mod"))
                versions[v] = versions.get(v, 0) + 1
            if "python3/dist-packages" in low:
                for m in _DEBIAN_SITE.finditer(line):
                    add(m.group("prefix"), "posix", "system", lineno, line,
                        site=m.group(0).split("/dist-packages")[0] + "/dist-packages", mod=m.group("mod"))
            if "site-packages" in low and (":\\" in line or ":/" in line):
                quoted = [q.group("path") for q in _FILE_FRAME.finditer(line)] or [line]
                for chunk in quoted:
                    for m in _WIN_SITE.finditer(chunk):
                        prefix = m.group("prefix")
                        if " " in prefix and chunk is line:
                            prefix = prefix.rsplit(" ", 1)[-1]
                            if not re.match(r"^[A-Za-z]:[\\/]", prefix):
                                continue
                        pm = _WIN_PY_VERSION.search(prefix + "\\")
                        v = _win_version(pm.group("v")) if pm else None
                        site = prefix + m.group(0)[len(m.group("prefix")):].split("site-packages")[0] + "site-packages"
                        add(prefix, "windows", "venv-or-conda", lineno, line, version=v, site=site,
                            mod=m.group("mod"))
        if "python" in low and "/bin/python" in low:
            for m in _POSIX_PY.finditer(line):
                py = m.group("py")
                prefix = py.rsplit("/bin/", 1)[0] or "/"
                tail = py.rsplit("/python", 1)[-1]
                v = tail if re.match(r"^3\.\d+$", tail) else None
                kind = "system" if prefix in ("/usr", "/usr/local", "/") else "venv-or-conda"
                add(prefix, "posix", kind, lineno, line, version=v, interpreter=py)
        if ".exe" in low and "python" in low:
            for m in _WIN_PY.finditer(line):
                py = m.group("py")
                if " " in py and not re.search(r'"[^"]*' + re.escape(py), line):
                    py = py.rsplit(" ", 1)[-1]
                    if not re.match(r"^[A-Za-z]:[\\/]", py):
                        continue
                folder = re.split(r"[\\/]", py)
                prefix = "\\".join(folder[:-2] if len(folder) > 2 and folder[-2].lower() == "scripts" else folder[:-1])
                add(prefix, "windows", "venv-or-conda", lineno, line, interpreter=py)
        if line.lstrip().startswith("("):
            pm = _PROMPT.match(line)
            if pm:
                name = pm.group("name")
                if name in hints.prompt_names:
                    hints.prompt_names.remove(name)
                hints.prompt_names.insert(0, name)
        if "no module named" in low:
            for m in _NO_MODULE.finditer(line):
                hints.missing_modules.add(m.group("mod").split(".")[0])
        if "has no attribute" in low:
            for m in _MODULE_ATTR.finditer(line):
                top = m.group("mod").split(".")[0]
                if top in MODULE_DISTS:
                    hints.packages_seen.add(MODULE_DISTS[top])
        if "cannot import name" in low:
            for m in _IMPORT_FROM.finditer(line):
                top = m.group("mod").split(".")[0]
                if top in MODULE_DISTS:
                    hints.packages_seen.add(MODULE_DISTS[top])
    if "tensorflow/" in text and _TF_CC_LOG.search(text):
        hints.packages_seen.add("tensorflow")
    # a module that was missing did not run, whatever else mentions it
    for mod in hints.missing_modules:
        hints.packages_seen.discard(MODULE_DISTS.get(mod, mod))
    hints.places = sorted(places.values(), key=lambda p: (-p.count, -p.last_line))
    if versions:
        hints.python_version = max(versions, key=versions.get)
    else:
        for p in hints.places:
            if p.python_version:
                hints.python_version = p.python_version
                break
        if hints.python_version is None:
            m = _PY_VERSION.search(text) or None
            if m:
                hints.python_version = m.group("v")
    return hints


def interpreter_paths(place: Place) -> list:
    """Interpreters that would own ``place``, relative to its prefix (or absolute), best first."""
    if place.style == "windows":
        return ["python.exe", "Scripts\\python.exe"]
    v = place.python_version
    if place.kind == "user-site":
        # ~/.local/lib/pythonX.Y is the user site of a system pythonX.Y
        return [f"/usr/bin/python{v}", f"/usr/local/bin/python{v}"] if v else []
    names = ["bin/python", "bin/python3"]
    if v:
        names.append(f"bin/python{v}")
    return names


def read_shebang(first_line: str) -> Optional[list]:
    """The interpreter argv a script's ``#!`` line asks for (``#!/usr/bin/env python3`` -> ["python3"]),
    or None when the line is not a Python shebang."""
    if not first_line or not first_line.startswith("#!"):
        return None
    try:
        parts = shlex.split(first_line[2:].strip())
    except ValueError:
        parts = first_line[2:].split()
    if not parts:
        return None
    if parts[0].endswith("/env") or parts[0] == "env":
        parts = parts[1:]
        while parts and parts[0].startswith("-"):   # env -S / -u NAME
            if parts[0] in ("-u", "--unset") and len(parts) > 1:
                parts = parts[2:]
            else:
                parts = parts[1:]
        while parts and "=" in parts[0] and not parts[0].startswith("/"):
            parts = parts[1:]                        # env VAR=value python
    if not parts:
        return None
    name = parts[0].replace("\\", "/").rsplit("/", 1)[-1].lower()
    if not re.match(r"^(python|pypy)(\d+(\.\d+)?)?(\.exe)?$", name):
        return None
    return parts
