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
from tfhelp.kb.report import manual_commands

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
    """[(kind, text)] for one structured fix step: ``cmd`` lines are commands to copy as they are,
    ``note`` lines are prose and ``code`` lines source code, both shown as shell comments (so a whole
    fix block pastes safely); prose comments wrap, commands and code never do."""
    a = step["action"]
    if a in ("pip_install", "pip_uninstall"):
        return [("cmd", quote(pip_argv(python, step), platform))]
    if a == "set_env":
        scope = step.get("scope", "session")
        where = {"session": "in the shell that runs Python",
                 "user-profile": "in your shell profile (tfhelp fix can add it)",
                 "conda-env": "in the conda environment (conda env config vars set)"}.get(scope, scope)
        return [("note", f"set {step['name']} {where}:")] + [("cmd", line) for line in env_lines(step, platform)]
    if a == "code_change":
        return code_change_lines(step)
    if a == "manual":
        out = [("note", line) for line in prose(step["text"]).split("\n")]
        out += [("cmd", c) for c in manual_commands(step["text"])]
        if step.get("link"):
            out.append(("note", step["link"]))
        return out
    if a == "verify":
        if step.get("check") == "gpu":
            return [("note", "check it worked:"), ("cmd", "tfhelp gpu-test")]
        if step.get("check") == "script":
            return [("note", "check it worked: re-run your script")]
        return [("note", "check it worked:"), ("cmd", quote([python, "-c", step.get("code", "")], platform))]
    return [("note", str(step))]


def code_change_lines(step: dict) -> list:
    """A diff only when the input showed the very lines being replaced (``seen_in_input``, set by
    the engine); otherwise a pattern to look for, so no line is presented as if from the user's file."""
    before = step["before"].rstrip("\n").split("\n")
    after = step["after"].rstrip("\n").split("\n")
    if step.get("seen_in_input"):
        hint = f" in {step['file_hint']}" if step.get("file_hint") else ""
        return ([("note", f"change your code{hint} (these lines are from your traceback):")]
                + [("code", "  - " + line) for line in before] + [("code", "  + " + line) for line in after])
    where = f" (probably in {step['file_hint']})" if step.get("file_hint") else ""
    return ([("note", f"where your code{where} has lines like:")] + [("code", "    " + line) for line in before]
            + [("note", "change them to the same effect as:")] + [("code", "    " + line) for line in after])


def fix_block(d, python: str, platform: Optional[str], index: int, all_fixes: bool, width: int = 80) -> list:
    """The fixes of one diagnosis as plain lines printed *outside* its panel: commands on their own
    lines, unwrapped and unbordered, so a terminal copy gives exactly the command."""
    import textwrap

    def comment(line: str, style: str = "dim") -> list:
        return [Text("  # " + part, style=style)
                for part in (textwrap.wrap(safe(line), max(20, width - 4)) or [""])]

    out = []
    fixes = d.fixes if all_fixes else d.fixes[:1]
    for n, fix in enumerate(fixes, 1):
        label = f"Fix {n}: " if all_fixes or len(d.fixes) > 1 else "Fix: "
        t = Text(label, style="bold green")
        t.append(safe(fix["title"]))
        if fix.get("failed_before"):
            t.append("  (failed before in this environment)", style="red")
        out.append(t)
        for step in fix["steps"]:
            for kind, line in step_lines(step, python, platform):
                if kind == "cmd":
                    out.append(Text("  " + safe(line), style="cyan"))
                elif kind == "code":
                    out.append(Text("  # " + safe(line), style="dim"))
                else:
                    out.extend(comment(line))
    if not all_fixes and len(d.fixes) > 1:
        out.extend(comment(f"{len(d.fixes) - 1} other fix(es): tfhelp fix {d.rule.id} --list, or /alt in the REPL"))
    return out


def _diagnosis(d, python: str, platform: Optional[str], index: int, verbose: bool, all_fixes: bool):
    r = d.rule
    icon, style = SEVERITY_STYLE.get(r.severity, ("?", ""))
    head = Text()
    head.append(f"{icon} {r.severity.upper()} ", style=style)
    resembles = getattr(d, "matched_by", "") == "resemblance"  # kb/resemble.py: no pattern fired
    if resembles:
        head.append("looks like ", style="bold")
    head.append(safe(r.title), style="bold")
    meta = Text(f"{r.id} · score {d.score}", style="dim")
    if resembles:
        meta.append(f" · matched by resemblance to a known report, not by the rule's own pattern "
                    f"(similarity {d.similarity:.0f}%)", style="yellow")
    if d.confirmed is True:
        meta.append(" · confirmed by environment", style="green")
    if d.symptom:
        meta.append(f" · symptom of {d.symptom}", style="yellow")
    if d.count > 1:
        meta.append(f" · seen {d.count}x, first at line {d.first_line}", style="dim")
    body = [head, meta, Text(prose(r.summary))]
    if resembles and d.example:
        body.append(Text("Resembles: " + safe(d.example[:300]), style="dim"))
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
    if not d.fixes:
        body.append(Text("No fix applies to this environment; see the references.", style="dim"))
    if r.references:
        refs = Text("References: ", style="bold")
        refs.append(safe(" · ".join(r.references[: (len(r.references) if verbose else 2)])), style="cyan")
        body.append(refs)
    return Panel(Group(*body), title=f"[{index}]", title_align="left", border_style=style or "white")


def render_report(report, console, python: str = "python", verbose: bool = False,
                  all_fixes: bool = False, max_diagnoses: int = 5) -> None:
    """Each diagnosis as a panel, then its fixes below it outside the panel. Fix lines are printed
    with ``soft_wrap`` so rich neither wraps nor crops them: a long command stays one line."""
    platform = report.environment.platform if report.environment is not None else None
    for note in report.notes:
        console.print(Text("note: " + safe(note), style="yellow"))
    if getattr(report, "crash", None) is not None:  # what ended the run (kb/crash.py)
        from tfhelp.assistant.render.crash import render_crash

        render_crash(report.crash, console, verbose=verbose)
    if report.abstained:
        render_abstain(report, console)
        return
    shown = report.diagnoses[:max_diagnoses]
    for i, d in enumerate(shown, 1):
        console.print(_diagnosis(d, python, platform, i, verbose, all_fixes))
        for line in fix_block(d, python, platform, i, all_fixes, width=console.width):
            # fix titles wrap like prose; the indented lines (commands, code) never wrap
            console.print(line, soft_wrap=line.plain.startswith("  "))
        if d.fixes:
            console.print()
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
