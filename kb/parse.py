"""Understand the structure of cleaned lines: exceptions, traceback frames, TF log lines, facts.

The matchers need to know which lines are exception messages (``part: message``), which are
frames (``part: frame``) and which exception types were raised (``part: exception``). The
renderer and the abstain path need "what was understood". Facts (Python version from paths,
package versions named in messages, CUDA sonames) feed the environment when nothing was probed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# "ValueError: msg", "tensorflow.python.framework.errors_impl.NotFoundError: msg",
# "ModuleNotFoundError: No module named 'x'", IPython's "ImportError    Traceback (...)"
_EXC = re.compile(
    r"^(?:E\s+)?(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure))"
    r"(?::\s?(?P<msg>.*))?$"
)
_IPY_HEADER = re.compile(r"^(?P<type>[\w.]+(?:Error|Exception))\s{2,}Traceback \(most recent call last\)")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?')
_LIBRARY_PATH = re.compile(r"[/\\](?:site|dist)-packages[/\\]|[/\\]lib[/\\]python\d|[/\\]Lib[/\\]|^<frozen ")
_TF_LOG = re.compile(
    r"^(?:(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+): )?(?P<sev>[IWEF])(?:\d{4} \d\d:\d\d:\d+\.\d+\s+\d+)?\s*"
    r"(?P<src>[\w/.\-]+\.(?:cc|h|cpp|py)):(?P<lno>\d+)\] (?P<msg>.*)$"
)

_PY_IN_PATH = re.compile(r"[/\\](?:lib[/\\])?python(?P<v>3\.\d{1,2}|2\.7)[/\\]", re.I)
_PY_WIN_PATH = re.compile(r"[/\\]Python(?P<v>3\d{1,2})[/\\]", re.I)
_DIST_INFO = re.compile(r"(?P<name>[A-Za-z0-9_.]+)-(?P<ver>\d+(?:\.\d+)+[\w.+]*)\.dist-info")
_SONAME = re.compile(r"\b(?P<lib>lib(?:cudart|cudnn|cublas|cublasLt|cufft|curand|cusolver|cusparse|nvinfer|nvinfer_plugin|cuda))\.so\.(?P<ver>\d+(?:\.\d+)*)")
_WINDLL = re.compile(r"\b(?P<lib>cudart|cudnn|cublas|cublasLt|cufft|curand|cusolver|cusparse)64_(?P<ver>\d+)\.dll", re.I)
# Only phrasings that state the *installed* version ("cannot be run in NumPy 2.0.2"), never
# requirements ("Keras requires TensorFlow 2.2") or history ("deprecated in NumPy 1.20").
_NAMED_VERSIONS = [
    ("numpy", re.compile(r"cannot be run in\s+NumPy (?P<v>\d+\.\d+\.\d+)")),
    ("numpy", re.compile(r"^NumPy (?P<v>\d+\.\d+\.\d+) as it may crash", re.M)),
    ("numpy", re.compile(r"\bnumpy(?: version)?[ =:]+(?P<v>\d+\.\d+\.\d+)\b installed", re.I)),
    ("tensorflow", re.compile(r"\bTensorFlow version:? (?P<v>\d+\.\d+\.\d+)\b")),
]
_WSL_HINT = re.compile(r"/mnt/c/|microsoft-standard|\bWSL2?\b", re.I)


@dataclass
class ExceptionInfo:
    type: str
    message: str
    line: int  # 1-based line number in the input


@dataclass
class Parsed:
    """What the engine and renderer learn from the input before any rule runs."""

    lines: list[str]
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    message_lines: dict[int, str] = field(default_factory=dict)  # index -> message text
    frame_lines: list[int] = field(default_factory=list)  # indices of frame lines
    log_lines: list[int] = field(default_factory=list)  # indices of TF C++ log lines
    facts: dict = field(default_factory=dict)
    user_frame: Optional[tuple] = None  # (file, line) of the innermost frame in the user's own code

    @property
    def exception_types(self) -> list[str]:
        return [e.type for e in self.exceptions]


def parse(lines: list[str]) -> Parsed:
    """Classify lines. Linear in the input, no backtracking-prone patterns on long lines."""
    p = Parsed(lines=lines)
    for i, line in enumerate(lines):
        if not line:
            continue
        stripped = line.strip()
        first = stripped[:1]
        if first == "F" and stripped.startswith('File "'):
            p.frame_lines.append(i)
            m = _FRAME.match(stripped)
            if m and not _LIBRARY_PATH.search(m.group("file")) and not m.group("file").startswith("<"):
                p.user_frame = (m.group("file"), int(m.group("line")))
            continue
        m = _IPY_HEADER.match(stripped)
        if m:
            continue
        if first.isalpha() or first == "_":
            m = _EXC.match(stripped)
            if m and not stripped.startswith(("During handling", "The above exception")):
                msg = (m.group("msg") or "").strip()
                etype = m.group("type")
                p.exceptions.append(ExceptionInfo(etype, msg, i + 1))
                p.message_lines[i] = msg
                continue
        if first.isdigit() or first in "IWEF":
            m = _TF_LOG.match(stripped)
            if m:
                p.log_lines.append(i)
                p.message_lines.setdefault(i, m.group("msg"))
    p.facts = extract_facts(lines)
    return p


#: Substrings whose counts hint at the platform (str.count is a C loop; regexes were 20x slower).
_PLATFORM_MARKS = {
    "windows": (":\\", ".dll", "\\appdata\\", "\\anaconda3\\", "cmd.exe", "\\site-packages\\"),
    "macos": ("/users/", ".dylib", "darwin", "macos"),
    "linux": ("/home/", "/usr/lib/", ".so.", ".so:", "/opt/conda/", "/site-packages/"),
}


def extract_facts(lines: list[str]) -> dict:
    """Versions and platform hints that the text itself gives away.

    Returns ``{"python": "3.8", "packages": {...}, "libraries": {"libcudart": "11.0"},
    "platform": "windows"}`` with only the keys found. Used as a weak environment when no probe
    ran, and to detect a traceback from another interpreter than the probed one. Each pattern
    runs once over the whole text (C loops), never once per line.
    """
    text = "\n".join(lines)
    lower = text.lower()
    facts: dict = {}
    packages: dict[str, str] = {}
    libraries: dict[str, str] = {}
    pythons: dict[str, int] = {}
    if "python" in lower:
        for m in _PY_IN_PATH.finditer(text):
            pythons[m.group("v")] = pythons.get(m.group("v"), 0) + 1
        for m in _PY_WIN_PATH.finditer(text):
            v = m.group("v")
            ver = v[0] + "." + v[1:]
            pythons[ver] = pythons.get(ver, 0) + 1
    if ".dist-info" in text:
        for m in _DIST_INFO.finditer(text):
            packages[m.group("name").lower().replace("_", "-")] = m.group("ver")
    if ".so." in text:
        for m in _SONAME.finditer(text):
            libraries.setdefault(m.group("lib"), m.group("ver"))
    if ".dll" in lower:
        for m in _WINDLL.finditer(text):
            libraries.setdefault("lib" + m.group("lib").lower(), m.group("ver"))
    for name, rx in _NAMED_VERSIONS:
        if name not in packages and name in lower:
            m = rx.search(text)
            if m:
                packages[name] = m.group("v")
    if pythons:
        facts["python"] = max(pythons, key=pythons.get)
    if packages:
        facts["packages"] = packages
    if libraries:
        facts["libraries"] = libraries
    if ("/mnt/c/" in lower or "microsoft-standard" in lower or "wsl" in lower) and _WSL_HINT.search(text):
        facts["platform"] = "wsl"
    else:
        hints = {k: sum(lower.count(mark) for mark in marks) for k, marks in _PLATFORM_MARKS.items()}
        if any(hints.values()):
            facts["platform"] = max(("windows", "macos", "linux"), key=lambda k: hints[k])
    return facts
