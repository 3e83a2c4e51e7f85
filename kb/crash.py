"""What ended the run: the terminal event of an input, explained by a rule or reported as is.

A pasted error or a log can end in something no rule knows (a missing module of the user's own
stack, a custom exception, a C++ check failure that aborts the process).  Reporting only the
known warnings above it would hide the one thing that broke the run, so every front end gets the
terminal event from here, through the engine (:meth:`tfhelp.kb.engine.Engine.diagnose`) or the
log scanner:

* :func:`detect` finds, in cleaned lines, the last terminal events: the final Python exception
  (with the end of its traceback), F-level TensorFlow / glog lines (``F0000 00:00:...
  file.cc:NN] ...`` and ``YYYY-MM-DD ...: F tensorflow/...``), ``Fatal Python error``,
  ``Aborted``, ``Segmentation fault``, ``Illegal instruction``, ``Killed``, ``(core dumped)``
  and non-zero exit lines (``Process finished with exit code 134``, ``exited with code 1``).
  Events close together (an F line, then ``Aborted (core dumped)``, then the exit code) form one
  :class:`Crash`.
* :func:`attach` decides which diagnoses explain it (their evidence covers a crash line, or a
  fatal diagnosis sits right before it) and moves those, with their root causes, to the front:
  when a fatal line is present a harmless or warning diagnosis never ranks first.  An
  unexplained crash is kept with its lines and line numbers and a draft rule (YAML) the user can
  complete and load with ``--rules DIR``.
* :func:`exit_status` is the shared exit-status rule (docs/HELPERS.md): 0 when a known cause is
  reported, 1 when nothing is explained (no diagnosis, or only harmless notices beside an
  unexplained crash).

Pure library: no printing, no terminal.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

#: Events further apart than this (in lines) are separate incidents; the last one is the crash.
CLUSTER_GAP = 40
#: At most this many events make up the final incident (bounds a pathological paste).
MAX_CLUSTER_EVENTS = 1000
MAX_LINES = 16            # crash lines kept for the report
TRACEBACK_FRAMES = 3      # innermost frames kept (file line + source line each)
NEAR_FATAL = 300          # a fatal diagnosis this many lines before the crash explains it

_EXC = re.compile(
    r"^(?:E\s+)?(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Failure|Fault))"
    r"(?::\s?(?P<msg>.*))?$")
_ANY_EXC = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z_]\w*)(?::\s?(?P<msg>.*))?$")
_TRACEBACK = "Traceback (most recent call last)"
_FRAME = re.compile(r'^\s*File "[^"]+", line \d+')
# F-level log lines: glog prefix (F1203 10:11:12.123456  1234 file.cc:12] msg, also F0000 00:00:17...)
# and TensorFlow's Python-side prefix (2024-01-02 10:11:12.123456: F tensorflow/...cc:12] msg).
_FLOG = re.compile(
    r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?: F |F\d{4} \d\d:\d\d:[\d.]+\s+\d+ )"
    r"(?P<src>[\w/.\-]+:\d+)\] (?P<msg>.*)$")
_FATAL_PY = re.compile(r"^Fatal Python error: (?P<msg>.+)$")
_GLOG_SIGNAL = re.compile(r"^\*\*\* (?P<sig>SIG[A-Z]+) \(@[^)]*\) received by PID \d+")
_SIGNAL_WORDS = r"(?:aborted|segmentation fault|illegal instruction|killed|bus error|floating point exception)"
# A shell's report of a death by signal: the bare word (bash/sh), "zsh: segmentation fault  python x",
# "./run.sh: line 3: 12345 Aborted (core dumped) python train.py".
_SIGNAL = re.compile(
    r"^(?:(?P<shell>(?:zsh|bash|sh|dash|ksh|fish|[\w./-]*\.sh|\.{0,2}/[\w./-]+):)(?: line \d+:)? *(?:\d+ +)?)?"
    r"(?P<word>" + _SIGNAL_WORDS + r")"
    r"(?P<core> \(core dumped\))?(?P<rest>\s.*)?$", re.I)
_CORE = re.compile(r"\(core dumped\)")
_EXIT = [
    re.compile(r"\bProcess finished with exit code (?P<code>-?\d+)"),
    re.compile(r"\bexited with (?:exit )?code[:= ]+(?P<code>-?\d+)", re.I),
    re.compile(r"\bexit (?:code|status)[:= ]+(?P<code>-?\d+)", re.I),
    re.compile(r"\breturned non-zero exit status (?P<code>-?\d+)"),
]

_CATEGORY = [  # (pattern on the summary, category of the draft rule)
    (re.compile(r"ModuleNotFoundError|ImportError|No module named|DLL load failed|cannot open shared object", re.I), "import"),
    (re.compile(r"undefined symbol|Symbol not found|GLIBC", re.I), "abi"),
    (re.compile(r"cudnn", re.I), "cudnn"),
    (re.compile(r"cuda|cublas|gpu|ptx", re.I), "cuda"),
    (re.compile(r"out of memory|OOM|ResourceExhausted|Killed", re.I), "memory"),
    (re.compile(r"Illegal instruction|AVX", re.I), "cpu"),
    (re.compile(r"xla", re.I), "xla"),
    (re.compile(r"protobuf|descriptor", re.I), "protobuf"),
    (re.compile(r"keras", re.I), "keras3"),
]


@dataclass
class CrashLine:
    line: int      # 1-based, in the input (or the log)
    text: str


@dataclass
class Crash:
    """The terminal event of an input."""

    kind: str                  # exception | fatal-log | signal | exit
    summary: str               # one line: the exception, the F-line message, "Aborted (core dumped)"
    lines: list                # [CrashLine], the event's lines in order
    primary: int               # line number of the line that names the failure
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    explained_by: list = field(default_factory=list)  # ids of diagnoses that explain it

    @property
    def explained(self) -> bool:
        return bool(self.explained_by)

    @property
    def first_line(self) -> int:
        return self.lines[0].line if self.lines else self.primary

    @property
    def last_line(self) -> int:
        return self.lines[-1].line if self.lines else self.primary

    def primary_text(self) -> str:
        for ln in self.lines:
            if ln.line == self.primary:
                return ln.text
        return self.summary

    def to_json(self) -> dict:
        out = {"kind": self.kind, "summary": self.summary, "explained": self.explained,
               "explained_by": list(self.explained_by), "first_line": self.first_line,
               "line": self.primary, "lines": [{"line": x.line, "text": x.text} for x in self.lines],
               "exit_code": self.exit_code, "signal": self.signal}
        out["draft_rule"] = None if self.explained else draft_rule(self)
        return out


@dataclass
class _Event:
    line: int        # 0-based index into the lines
    kind: str
    summary: str
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    span: tuple = ()  # (lo, hi) indices of the lines that belong to it


def _events(lines: list) -> list:
    out = []
    last_tb = None
    for i, raw in enumerate(lines):
        if not raw:
            continue
        s = raw.strip()
        if not s:
            continue
        if _TRACEBACK in s:
            last_tb = i
            continue
        c = s[0]
        if c == "F" or c.isdigit():
            m = _FLOG.match(s)
            if m:
                out.append(_Event(i, "fatal-log", m.group("msg").strip() or s, span=(i, i)))
                continue
        m = _FATAL_PY.match(s)
        if m:
            out.append(_Event(i, "fatal-log", s, span=(i, i)))
            continue
        if s.startswith("*** SIG"):
            m = _GLOG_SIGNAL.match(s)
            if m:
                out.append(_Event(i, "signal", s, signal=m.group("sig"), span=(i, i)))
                continue
        if (c.isalpha() or c == "_") and not s.startswith(("During handling", "The above exception")):
            m = _EXC.match(s)
            if m is None and last_tb is not None and i - last_tb < 400 and not raw[:1].isspace() \
                    and i > 0 and lines[i - 1][:1].isspace():
                m = _ANY_EXC.match(s)  # a custom exception class ends the traceback: any name
            if m and m.group("type").rsplit(".", 1)[-1] in ("KeyboardInterrupt", "SystemExit", "GeneratorExit"):
                m = None  # someone stopped it; not a failure
            if m and m.group("msg") is not None or (m and last_tb is not None and i - last_tb < 400):
                lo = i
                if last_tb is not None and i - last_tb < 400:
                    # the innermost frames: the last TRACEBACK_FRAMES 'File "..."' lines and the
                    # source lines after them
                    frames = [j for j in range(last_tb + 1, i) if _FRAME.match(lines[j])]
                    lo = frames[-TRACEBACK_FRAMES] if len(frames) >= TRACEBACK_FRAMES else (frames[0] if frames else i)
                hi = i
                # message continuation lines (a message that spans lines, up to a blank line)
                while hi + 1 < len(lines) and hi - i < 3 and lines[hi + 1].strip() and \
                        not _EXC.match(lines[hi + 1].strip()) and not _looks_terminal(lines[hi + 1].strip()) and \
                        not lines[hi + 1].startswith((" ", "\t")) and last_tb is not None and \
                        not _TF_LOGLINE.match(lines[hi + 1].strip()):
                    hi += 1
                summary = s if len(s) <= 300 else s[:297] + "..."
                out.append(_Event(i, "exception", summary, span=(lo, hi), signal=None))
                out[-1].tb = last_tb if last_tb is not None and i - last_tb < 400 else None
                last_tb = None
                continue
        m = _SIGNAL.match(s)
        if m and (m.group("shell") or not m.group("rest") or m.group("core")):
            word = m.group("word")
            text = word[0].upper() + word[1:].lower() + (" (core dumped)" if m.group("core") else "")
            out.append(_Event(i, "signal", text, signal=_SIGNAL_NAMES.get(word.lower()), span=(i, i)))
            continue
        if "(core dumped)" in s and _CORE.search(s):
            out.append(_Event(i, "signal", s, span=(i, i)))
            continue
        if "exit" in s:
            for rx in _EXIT:
                m = rx.search(s)
                if m:
                    code = int(m.group("code"))
                    if code != 0:
                        out.append(_Event(i, "exit", s, exit_code=code, span=(i, i)))
                    break
    return out


_TF_LOGLINE = re.compile(r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|[IWEF]\d{4} \d\d:)")
_SIGNAL_NAMES = {"aborted": "SIGABRT", "segmentation fault": "SIGSEGV", "illegal instruction": "SIGILL",
                 "killed": "SIGKILL", "bus error": "SIGBUS", "floating point exception": "SIGFPE"}


def _looks_terminal(s: str) -> bool:
    return bool(_SIGNAL.match(s) or _FLOG.match(s) or any(rx.search(s) for rx in _EXIT))


_RANK = {"exception": 0, "fatal-log": 1, "signal": 2, "exit": 3}


def detect(lines: list, offset: int = 0) -> Optional[Crash]:
    """The crash at the end of ``lines`` (cleaned text lines), or None.  ``offset`` is added to
    line numbers (the index of ``lines[0]`` in a longer log, 0-based)."""
    events = _events(lines)
    if not events:
        return None
    # the last incident: the final event and those shortly before it
    # (collected newest first and reversed once: a paste of 100,000 exception lines is one long
    # cluster, and inserting at the front made that quadratic, 11 s of a 15 s run; the cluster is
    # also capped, since only its last events can name what ended the run)
    group = [events[-1]]
    for ev in reversed(events[:-1]):
        if group[-1].line - ev.span[1] <= CLUSTER_GAP and len(group) < MAX_CLUSTER_EVENTS:
            group.append(ev)
        else:
            break
    group.reverse()
    # the line that names the failure: an exception or F line before a bare signal or exit line
    main = min(group, key=lambda e: (_RANK[e.kind], -e.line))
    if main.kind == "exception":
        # the final exception of a chain is the one that ended the run
        main = [e for e in group if e.kind == "exception"][-1]
    keep = set()
    for ev in group:
        keep.update(range(ev.span[0], ev.span[1] + 1))
        tb = getattr(ev, "tb", None)
        if tb is not None:
            keep.add(tb)
    idx = sorted(keep)
    if len(idx) > MAX_LINES:
        must = {e.line for e in group}
        rest = [i for i in idx if i not in must]
        idx = sorted(must | set(rest[-(MAX_LINES - len(must)):])) if len(must) < MAX_LINES else sorted(must)[-MAX_LINES:]
    crash_lines = [CrashLine(offset + i + 1, lines[i].rstrip()) for i in idx]
    summary = main.summary
    sig = next((e.signal for e in group if e.signal), None)
    code = next((e.exit_code for e in reversed(group) if e.exit_code is not None), None)
    if main.kind in ("signal", "exit"):
        # name the death, and the exit status a shell would give it
        sigs = [e for e in group if e.kind == "signal"]
        if sigs:
            main = sigs[0]
            summary = main.summary
    return Crash(kind=main.kind, summary=summary, lines=crash_lines, primary=offset + main.line + 1,
                 exit_code=code, signal=sig)


def attach(report, crash: Optional[Crash], last_lines: Optional[dict] = None):
    """Record ``crash`` on ``report``: which diagnoses explain it, and put those (each after its
    root cause, if any) first.  ``last_lines``: rule id -> last line of its latest occurrence
    (a log's findings keep the evidence of their first occurrence).  Returns the report."""
    report.crash = crash
    if crash is None:
        return report
    crash_lines = {x.line for x in crash.lines}
    lo, hi = crash.first_line, crash.last_line
    explaining = []
    for d in report.diagnoses:
        ev = {e.line for e in d.evidence}
        last = (last_lines or {}).get(d.id)
        if ev & crash_lines or (last is not None and lo <= last <= hi + 2):
            explaining.append(d.id)
    if not explaining:
        for d in report.diagnoses:
            sev = getattr(d.rule, "severity", "")
            # a symbol-table answer explains a crash only through its own lines: a moved name
            # printed earlier says nothing about a later native abort
            if getattr(d.rule, "origin", "") == "symbol-table":
                continue
            if sev == "fatal" and any(lo - NEAR_FATAL <= e.line <= hi for e in d.evidence):
                explaining.append(d.id)
    crash.explained_by = explaining
    if explaining:
        front = []
        by_id = {d.id: d for d in report.diagnoses}
        for rid in explaining:
            d = by_id[rid]
            root = by_id.get(d.symptom) if d.symptom else None
            if root is not None and root not in front:
                front.append(root)
            if d not in front:
                front.append(d)
        report.diagnoses = front + [d for d in report.diagnoses if d not in front]
    return report


def exit_status(report) -> int:
    """0 a known cause was reported; 1 nothing explained: no diagnosis, or only harmless
    notices beside an unexplained crash (docs/HELPERS.md)."""
    if not report.diagnoses:
        return 1
    crash = getattr(report, "crash", None)
    if crash is not None and not crash.explained and \
            all(getattr(d.rule, "severity", "") == "harmless" for d in report.diagnoses):
        return 1
    return 0


# -- draft rule --------------------------------------------------------------------------------
_VARIABLE = re.compile(r"0x[0-9a-fA-F]+|\d+(?:\.\d+)*|/[^\s'\"]+|[A-Za-z]:\\[^\s'\"]+")


def _literal(crash: Crash) -> str:
    """The longest stretch of the failure text without numbers, addresses or paths."""
    text = crash.summary
    if crash.kind == "exception" and ":" in text:
        typ, _, msg = text.partition(":")
        text = msg.strip() or typ.strip()
    parts = [p.strip(" .,:;()[]'\"") for p in _VARIABLE.split(text)]
    parts = [p for p in parts if len(p) >= 6]
    best = max(parts, key=len) if parts else text.strip()
    return best[:120]


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "-".join(words[:6]) or "crash"
    return ("local-" + slug)[:60].rstrip("-")


def draft_rule(crash: Crash) -> str:
    """A YAML skeleton that matches this crash: fill in the cause and the fix, save it as
    ``DIR/<id>.yaml`` and pass ``--rules DIR``."""
    lit = _literal(crash)
    rid = _slug(lit)
    category = next((c for rx, c in _CATEGORY if rx.search(crash.summary)), "import" if crash.kind == "exception" else "gpu")
    title = crash.summary if len(crash.summary) <= 80 else crash.summary[:77] + "..."
    from urllib.parse import quote_plus

    search = "https://github.com/tensorflow/tensorflow/issues?q=" + quote_plus(lit[:80])
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    lines = [
        f"# Draft rule for the crash at line {crash.primary}. Write the cause and the fix, replace the",
        f"# reference with the page that explains it, save as DIR/{rid}.yaml and run tfhelp --rules DIR.",
        f"id: {rid}",
        f"title: {q(title)}",
        f"category: {category}",
        "severity: fatal",
        "confidence: medium",
        f"summary: {q('The run ended with: ' + title)}",
        "cause: |",
        "  Describe here why this happens (what is missing, which versions clash).",
        "references:",
        f"  - {search}",
        f"anchors: [{q(lit.lower())}]",
        "match:",
        "  all:",
        f"    - {{name: crash_line, type: literal, value: {q(lit)}}}",
        "fixes:",
        "  - title: Describe the fix",
        "    steps:",
        "      - action: manual",
        "        text: Describe the steps that fix it.",
        "examples:",
        "  match:",
        f"    - {q(crash.primary_text())}",
        "  no_match:",
        f"    - {q('an unrelated line')}",
    ]
    return "\n".join(lines) + "\n"
