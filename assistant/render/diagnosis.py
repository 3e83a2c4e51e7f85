"""Turn Reports into terminal output. The only place diagnosis output meets rich.

Text from the input (evidence lines) and from rules is data, never markup: the console is created
with ``markup=False`` and every string passes through :func:`safe` so control characters, escape
sequences and bidi overrides from a pasted log cannot move the cursor or recolour the terminal.
"""
from __future__ import annotations

import re
from typing import Optional

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from tfhelp.assistant.fixes.argv import env_lines, pip_argv, quote

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
SEVERITY_STYLE = {"fatal": ("✗", "bold red"), "degraded": ("!", "bold yellow"),
                  "warning": ("!", "yellow"), "harmless": ("·", "dim")}


def safe(s) -> str:
    """Neutralise control characters: visible, inert escapes instead of terminal commands."""
    s = "" if s is None else str(s)
    return _UNSAFE.sub(lambda m: "\\x%02x" % ord(m.group(0)) if ord(m.group(0)) < 0x100 else "\\u%04x" % ord(m.group(0)), s)


_SOFT_BREAK = re.compile(r"(?<!\n)\n(?!\n)")


def prose(s) -> str:
    """Rule prose is written as YAML block text; single newlines are soft wraps, blank lines paragraphs."""
    return _SOFT_BREAK.sub(" ", safe(s).strip())


def step_lines(step: dict, python: str, platform: Optional[str]) -> list:
    """Human lines for one structured fix step."""
    a = step["action"]
    if a in ("pip_install", "pip_uninstall"):
        return ["$ " + quote(pip_argv(python, step), platform)]
    if a == "set_env":
        scope = step.get("scope", "session")
        where = {"session": "in the shell that runs Python",
                 "user-profile": "in your shell profile (tfhelp fix can add it)",
                 "conda-env": "in the conda environment (conda env config vars set)"}.get(scope, scope)
        return [f"set {step['name']} {where}:"] + ["  " + line for line in env_lines(step, platform)]
    if a == "code_change":
        hint = f" in {step['file_hint']}" if step.get("file_hint") else ""
        out = [f"change your code{hint}:"]
        out += ["  - " + line for line in step["before"].rstrip("\n").split("\n")]
        out += ["  + " + line for line in step["after"].rstrip("\n").split("\n")]
        return out
    if a == "manual":
        out = [step["text"].strip()]
        if step.get("link"):
            out.append("  " + step["link"])
        return out
    if a == "verify":
        if step.get("check") == "gpu":
            return ["verify: tfhelp gpu-test"]
        if step.get("check") == "script":
            return ["verify: re-run your script"]
        return ["verify: $ " + quote([python, "-c", step.get("code", "")], platform)]
    return [str(step)]


def _diagnosis(d, python: str, platform: Optional[str], index: int, verbose: bool, all_fixes: bool):
    r = d.rule
    icon, style = SEVERITY_STYLE.get(r.severity, ("?", ""))
    head = Text()
    head.append(f"{icon} {r.severity.upper()} ", style=style)
    head.append(safe(r.title), style="bold")
    meta = Text(f"{r.id} · score {d.score}", style="dim")
    if d.confirmed is True:
        meta.append(" · confirmed by environment", style="green")
    if d.symptom:
        meta.append(f" · symptom of {d.symptom}", style="yellow")
    if d.count > 1:
        meta.append(f" · seen {d.count}x, first at line {d.first_line}", style="dim")
    body = [head, meta, Text(prose(r.summary))]
    if r.severity == "harmless":
        body.append(Text("This message is harmless: your program is not broken by it.", style="green"))
    if d.evidence:
        ev = Text()
        for e in d.evidence[: (8 if verbose else 3)]:
            ev.append(f"  {e.line:>5} │ ", style="dim")
            ev.append(safe(e.text[:300]) + "\n")
        body.append(Text("Evidence:", style="bold"))
        body.append(ev)
    if verbose or d.count <= 1:
        body.append(Text("Why: ", style="bold") + Text(prose(r.cause)))
    if d.env_reason:
        body.append(Text(safe(d.env_reason), style="dim"))
    fixes = d.fixes if all_fixes else d.fixes[:1]
    for n, fix in enumerate(fixes, 1):
        label = f"Fix {n}: " if all_fixes or len(d.fixes) > 1 else "Fix: "
        t = Text(label, style="bold green")
        t.append(safe(fix["title"]))
        if fix.get("failed_before"):
            t.append("  (failed before in this environment)", style="red")
        body.append(t)
        lines = Text()
        for i, step in enumerate(fix["steps"], 1):
            for j, line in enumerate(step_lines(step, python, platform)):
                lines.append(("  %d. " % i if j == 0 else "     ") + safe(line) + "\n")
        body.append(lines)
    if not all_fixes and len(d.fixes) > 1:
        body.append(Text(f"{len(d.fixes) - 1} other fix(es): tfhelp fix {r.id} --list, or /alt in the REPL",
                         style="dim"))
    if r.references:
        refs = Text("References: ", style="bold")
        refs.append(safe(" · ".join(r.references[: (len(r.references) if verbose else 2)])), style="cyan")
        body.append(refs)
    return Panel(Group(*body), title=f"[{index}]", title_align="left", border_style=style or "white")


def render_report(report, console, python: str = "python", verbose: bool = False,
                  all_fixes: bool = False, max_diagnoses: int = 5) -> None:
    platform = report.environment.platform if report.environment is not None else None
    for note in report.notes:
        console.print(Text("note: " + safe(note), style="yellow"))
    if report.abstained:
        render_abstain(report, console)
        return
    shown = report.diagnoses[:max_diagnoses]
    for i, d in enumerate(shown, 1):
        console.print(_diagnosis(d, python, platform, i, verbose, all_fixes))
    rest = len(report.diagnoses) - len(shown)
    if rest > 0:
        console.print(Text(f"... and {rest} more (use --all)", style="dim"))


def render_abstain(report, console) -> None:
    console.print(Text("No known cause matched this input confidently.", style="bold"))
    if report.exceptions:
        last = report.exceptions[-1]
        t = Text("Understood: ", style="bold")
        t.append(safe(f"{last.type}: {last.message}"[:300]))
        t.append(f" (line {last.line})", style="dim")
        console.print(t)
    facts = report.facts or {}
    bits = []
    if facts.get("python"):
        bits.append(f"Python {facts['python']}")
    for k, v in (facts.get("packages") or {}).items():
        bits.append(f"{k} {v}")
    for k, v in (facts.get("libraries") or {}).items():
        bits.append(f"{k}.so.{v}")
    if facts.get("platform"):
        bits.append(f"platform {facts['platform']}")
    if bits:
        console.print(Text("Versions and platform named in the input: " + safe(", ".join(bits)), style="dim"))
    if report.related:
        console.print(Text("Nearest rules, and why they did not fire:", style="bold"))
        for d in report.related[:5]:
            t = Text(f"  {d.id}", style="cyan")
            t.append(" - " + safe(d.rule.title))
            t.append(f"  ({safe(d.why_not)})", style="dim")
            console.print(t)
    console.print(Text("If this is a TensorFlow/Keras setup problem tfhelp should know, save it as a draft rule "
                       "from the REPL (tfhelp, then paste) or see rules/README.md.", style="dim"))
