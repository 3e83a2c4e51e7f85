"""Rendering of ``tfhelp gpu-test`` (rich Text only: rung output is foreign text, never markup)."""
from __future__ import annotations

from rich.text import Text

from tfhelp.assistant.environment.gpu_test import FAILED, PASSED, RUNGS, SKIPPED, LadderResult, RungResult
from tfhelp.assistant.render.doctor import _unicode_ok, safe

MARKS = {PASSED: ("✓", "green"), FAILED: ("✗", "bold red"), SKIPPED: ("-", "yellow")}
ASCII = {PASSED: "+", FAILED: "x", SKIPPED: "-"}
_INDEX = {r.id: i + 1 for i, r in enumerate(RUNGS)}
OUTPUT_LINES = 15


def header(python: str) -> Text:
    t = Text()
    t.append("tfhelp gpu-test", style="bold")
    t.append(f"  {safe(python)}", style="dim")
    return t


def rung_text(r: RungResult, unicode_ok: bool = True) -> Text:
    mark, style = MARKS[r.status]
    if not unicode_ok:
        mark = ASCII[r.status]
    t = Text()
    t.append(f" {mark} ", style=style)
    t.append(f"{_INDEX.get(r.id, '?')}. ", style="dim")
    t.append(safe(r.title), style="bold" if r.status != SKIPPED else "")
    t.append(f" [{r.kind.upper()}]", style="dim")
    if r.status != SKIPPED:
        t.append(f"  {r.seconds:.2f}s", style="dim")
    t.append("\n     ")
    t.append(("skipped: " if r.status == SKIPPED else "") + safe(r.reason),
             style="yellow" if r.status == SKIPPED else (style if r.status == FAILED else ""))
    return t


def failure_text(r: RungResult) -> Text:
    t = Text()
    t.append(f"Rung '{r.id}' failed: ", style="bold red")
    t.append(safe(r.reason) + "\n")
    lines = (r.output or "").strip().splitlines()
    if lines:
        t.append(f"  output (last {min(len(lines), OUTPUT_LINES)} lines):\n", style="bold")
        for ln in lines[-OUTPUT_LINES:]:
            t.append("    " + safe(ln)[:300] + "\n", style="dim")
    if r.diagnoses is None:
        t.append("  diagnosis: rule engine unavailable\n", style="dim")
    elif not r.diagnoses:
        t.append("  diagnosis: no rule matched this output\n", style="dim")
    for d in r.diagnoses or []:
        t.append("  diagnosis: ", style="bold")
        t.append(safe(d.get("title") or ""))
        if d.get("id"):
            t.append(f"  [{d['id']}]", style="magenta")
        t.append("\n")
        if d.get("summary"):
            t.append("    " + safe(d["summary"]) + "\n")
        fixes = d.get("fixes") or []
        if fixes:
            t.append("    fix: " + safe(fixes[0].get("title") or "") + "  (details: tfhelp rules show "
                     + safe(d.get("id") or "") + ")\n")
    return t


def verdict_text(res: LadderResult, cpu_ok_flag: bool = False, unicode_ok: bool = True) -> Text:
    t = Text()
    ff = res.first_failure
    if res.gpu_ok and res.cpu_ok:
        t.append(("✓ " if unicode_ok else "+ ") + f"GPU works: every rung passed; TensorFlow ran on {safe(res.device)}.",
                 style="bold green")
        return t
    if res.gpu_present is False:
        t.append("No NVIDIA driver/GPU was found, so no GPU rung could pass. ", style="bold yellow")
    elif ff is not None and ff.kind == "gpu":
        t.append(f"The GPU does not work: rung '{ff.id}' failed; the GPU rungs after it were not run. ",
                 style="bold red")
    elif not res.gpu_ok:
        t.append("The GPU was not verified. ", style="bold yellow")
    if res.cpu_ok:
        t.append("TensorFlow works on the CPU.", style="green")
    else:
        bad = next((r for r in res.rungs if r.kind == "cpu" and r.status != PASSED), None)
        t.append(f"TensorFlow does not work on the CPU either ({bad.id}: {bad.status})." if bad else "",
                 style="bold red")
    code = res.exit_code(cpu_ok_flag)
    t.append(f"\nexit status {code}" + (" (--cpu-ok: only the CPU rungs count)" if cpu_ok_flag else ""), style="dim")
    return t


def render_ladder(res: LadderResult, console, cpu_ok_flag: bool = False, live: bool = False) -> None:
    """Print the result; with ``live`` the rung lines were already printed as they finished."""
    u = _unicode_ok(console)
    if not live:
        console.print(header(res.target_python))
        for r in res.rungs:
            console.print(rung_text(r, u))
    console.print()
    for r in res.rungs:
        if r.status == FAILED:
            console.print(failure_text(r), end="")
    console.print(verdict_text(res, cpu_ok_flag, u))
