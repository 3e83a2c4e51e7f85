"""Rendering of ``tfhelp doctor``: terminal (rich Text, never markup) and a Markdown issue report.

Everything shown comes from the probe, i.e. from outside tfhelp (paths, package names, library
error strings), so it is wrapped in :class:`rich.text.Text` after :func:`safe` and never parsed as
markup.
"""
from __future__ import annotations

import getpass
import os
import re
import socket
from typing import Optional

from rich.text import Text

from tfhelp.assistant.environment.doctor import DoctorReport

SYMBOLS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "bold red"),
           "info": ("·", "cyan"), "unknown": ("?", "dim")}
ASCII_SYMBOLS = {"ok": "+", "warning": "!", "error": "x", "info": "-", "unknown": "?"}
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def safe(s) -> str:
    s = "" if s is None else str(s)
    return _UNSAFE.sub(lambda m: "\\x%02x" % ord(m.group(0)) if ord(m.group(0)) < 0x100
                       else "\\u%04x" % ord(m.group(0)), s)


def _unicode_ok(console) -> bool:
    enc = (getattr(getattr(console, "file", None), "encoding", None) or "utf-8").lower()
    try:
        "✓✗·".encode(enc)
        return True
    except (LookupError, UnicodeEncodeError):
        return False


def symbol(status: str, unicode_ok: bool = True) -> str:
    return SYMBOLS.get(status, SYMBOLS["unknown"])[0] if unicode_ok else ASCII_SYMBOLS.get(status, "?")


def doctor_lines(report: DoctorReport, verbose: bool = False, unicode_ok: bool = True) -> list:
    """[(indent, Text)]: each entry one logical line; wrapped lines keep the indent."""
    rows = []
    head = Text()
    head.append("tfhelp doctor", style="bold")
    head.append(f"  {safe(report.probe.target_python)}  ({report.seconds:.1f}s)", style="dim")
    rows += [(0, head), (0, Text())]
    bullet = "•" if unicode_ok else "*"

    def sym(status):
        return SYMBOLS.get(status, SYMBOLS["unknown"])[0] if unicode_ok else ASCII_SYMBOLS.get(status, "?")

    for c in report.checks:
        t = Text()
        t.append(f"[{sym(c.status)}] ", style=SYMBOLS.get(c.status, SYMBOLS["unknown"])[1])
        t.append(safe(c.title), style="bold")
        t.append(": " + safe(c.found))
        rows.append((0, t))
        details = c.details if verbose or c.problems else c.details[:2]
        for d in details:
            rows.append((4, Text(f"{bullet} {safe(d)}", style="dim")))
        for p in c.problems:
            kind = "error" if p.severity == "error" else "warning"
            t = Text()
            t.append(f"{sym(kind)} ", style=SYMBOLS[kind][1])
            t.append(safe(p.message))
            if p.rule:
                t.append(f"  [{p.rule}]", style="magenta")
            rows.append((4, t))
            if p.fix:
                t = Text()
                t.append("fix: ", style="bold")
                t.append(safe(p.fix))
                rows.append((6, t))
            for cmd in p.commands:  # bare, so a terminal copy is exactly the command
                rows.append((8, Text(safe(cmd), style="cyan", no_wrap=True, overflow="ignore")))
    rows.append((0, Text()))
    n_err = sum(1 for _, p in report.problems if p.severity == "error")
    n_warn = sum(1 for _, p in report.problems if p.severity != "error")
    t = Text()
    failure = report.probe_failure
    if failure is not None:
        kind, _, why = failure.partition(": ")
        t.append(f"{sym('error')} Could not check this interpreter: {safe(why)}.", style="bold red")
        t.append(f" (exit status {report.exit_status}: target "
                 + ("unusable" if kind == "unusable" else "probe failed") + ")", style="dim")
    elif not n_err and not n_warn:
        t.append(f"{sym('ok')} No problems found.", style="green")
    else:
        t.append(f"{sym('error' if n_err else 'warning')} {n_err} error(s), {n_warn} warning(s).",
                 style="bold red" if n_err else "yellow")
        t.append(" Share it with `tfhelp doctor --report`.", style="dim")
    rows.append((0, t))
    if report.compat_missing:
        rows.append((0, Text("note: the compatibility model lacks " + ", ".join(report.compat_missing)
                             + "; those checks used the wheel's own pins only.", style="dim")))
    return rows


def doctor_text(report: DoctorReport, verbose: bool = False, unicode_ok: bool = True) -> str:
    """Plain text (no styles, no wrapping), e.g. for logs and tests."""
    return "\n".join(" " * ind + t.plain for ind, t in doctor_lines(report, verbose, unicode_ok)) + "\n"


def render_doctor(report: DoctorReport, console, verbose: bool = False) -> None:
    from rich.padding import Padding

    for indent, text in doctor_lines(report, verbose=verbose, unicode_ok=_unicode_ok(console)):
        if text.no_wrap:  # a command: one line however long, never wrapped or cropped
            console.print(Text(" " * indent) + text, soft_wrap=True)
        else:
            console.print(Padding(text, (0, 0, 0, indent), expand=False) if indent else text)


# ---------------------------------------------------------------------------------------------
# Markdown for a GitHub issue

def redactor(home: Optional[str] = None, user: Optional[str] = None, host: Optional[str] = None):
    """A function that removes the home folder, user name and host name from text."""
    home = home if home is not None else os.path.expanduser("~")
    if user is None:
        try:
            user = getpass.getuser()
        except Exception:
            user = None
    if host is None:
        try:
            host = socket.gethostname()
        except Exception:
            host = None
    subs = []
    if home and home not in ("/", "/root") and len(home) > 3:
        subs.append((re.compile(re.escape(home)), "~"))
    # other people's / generic home layouts: /home/NAME, /Users/NAME, C:\Users\NAME
    subs.append((re.compile(r"(?<![\w])/home/[^/\s'\"]+"), "/home/<user>"))
    subs.append((re.compile(r"(?<![\w])/Users/[^/\s'\"]+"), "/Users/<user>"))
    subs.append((re.compile(r"(?i)([A-Z]:\\+Users\\+)[^\\\s'\"]+"), r"\1<user>"))
    if user and len(user) >= 3 and user not in ("root", "user", "admin"):
        subs.append((re.compile(r"(?<![\w])" + re.escape(user) + r"(?![\w])"), "<user>"))
    if host and len(host) >= 3 and host not in ("localhost",):
        subs.append((re.compile(r"(?<![\w.-])" + re.escape(host) + r"(?![\w-])"), "<host>"))

    def redact(text: str) -> str:
        for rx, repl in subs:
            text = rx.sub(repl, text)
        return text

    return redact


def _md_escape_cell(s: str) -> str:
    return safe(s).replace("|", "\\|").replace("\n", " ")


def doctor_markdown(report: DoctorReport, fixes_tried: Optional[list] = None, redact=None) -> str:
    """A collapsible Markdown block for a GitHub issue; user names and home folders redacted."""
    import tfhelp

    redact = redact or redactor()
    p = report.probe
    lines = ["<details>", f"<summary>tfhelp doctor report (tfhelp {tfhelp.__version__})</summary>", ""]
    lines += ["| | Component | Found |", "|---|---|---|"]
    for c in report.checks:
        sym = SYMBOLS.get(c.status, SYMBOLS["unknown"])[0]
        lines.append(f"| {sym} | {_md_escape_cell(c.title)} | {_md_escape_cell(c.found)} |")
    lines.append("")
    probs = report.problems
    if report.probe_failure:
        lines += [f"**Probe failed**: {safe(report.probe_failure)}", ""]
    lines.append("**Problems**" if probs else "**Problems:** none found")
    for c, pr in probs:
        rule = f" `{pr.rule}`" if pr.rule else ""
        lines.append(f"- {'✗' if pr.severity == 'error' else '!'} {safe(pr.message)}{rule}")
        if pr.fix:
            lines.append(f"  - fix: {safe(pr.fix)}")
    lines.append("")
    key = [f"{k}=={v}" for k, v in sorted(p.packages.items())
           if k in ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tensorflow-intel",
                    "tensorflow-macos", "keras", "tf-keras", "numpy", "protobuf", "h5py", "ml-dtypes")
           or k.startswith("nvidia-")]
    if key:
        lines += ["**Packages**", "", "```", *key, "```", ""]
    if p.gpus:
        lines.append(f"**GPU**: driver {p.driver_version} (CUDA {p.driver_cuda_version}); " + "; ".join(
            f"{g.get('name')} CC {g.get('compute_capability')}" for g in p.gpus))
        lines.append("")
    tb = p.tf_build
    if tb.get("raw"):
        lines.append(f"**TF build**: cuda_build={tb.get('is_cuda_build')} cuda={tb.get('cuda_version')} "
                     f"cudnn={tb.get('cudnn_version')}")
        lines.append("")
    lines.append("**Fixes tried**: " + ("none recorded by tfhelp" if not fixes_tried else ""))
    for f in fixes_tried or []:
        lines.append(f"- {safe(f)}")
    lines += ["", "</details>", ""]
    return redact("\n".join(lines))


def fixes_tried_from_journal(python: str, limit: int = 10) -> list:
    """The fixes tfhelp applied to ``python`` (newest last), from the fix journal."""
    try:
        from tfhelp.assistant.fixes.journal import Journal
        entries = Journal().entries(python)
    except Exception:  # no journal yet, or unreadable: the report just says none recorded
        return []
    out = []
    for e in entries[-limit:]:
        ver = (e.get("verification") or {}).get("status")
        out.append(f"{e.get('created') or '?'} {e.get('rule_id') or '-'}: {e.get('fix_title') or e.get('kind')}"
                   f" -> {e.get('status')}" + (f" (verification {ver})" if ver else ""))
    return out
