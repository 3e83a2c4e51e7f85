"""Human rendering of a log scan: a one-line summary, then each finding in the order to act."""
from __future__ import annotations


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= (1 << 20) else f"{n / 1024:.0f} KB"


def render_scan(report, stats, console, path: str = "-", python: str = "python",
                verbose: bool = False, all_fixes: bool = False) -> None:
    from rich.text import Text

    from tfhelp.assistant.render.diagnosis import render_report, safe

    name = "standard input" if path == "-" else path
    head = Text("Scanned ", style="bold")
    head.append(safe(name))
    head.append(f": {stats.lines:,} lines, {_mb(stats.bytes)} in {stats.seconds:.2f} s", style="dim")
    console.print(head)
    crash = getattr(report, "crash", None)
    if crash is not None and not crash.explained:
        t = Text("  !  ", style="bold red")
        t.append("crash    ", style="bold red")
        t.append(safe(crash.summary[:120]))
        t.append(f"  line {crash.primary}, no rule explains it", style="dim")
        console.print(t, soft_wrap=True)
    if report.diagnoses:
        real = [d for d in report.diagnoses if d.rule.severity != "harmless"]
        noise = [d for d in report.diagnoses if d.rule.severity == "harmless"]
        summary = Text(f"{len(real)} finding(s) to act on", style="bold")
        if noise:
            summary.append(f", {len(noise)} harmless message(s) listed last", style="dim")
        console.print(summary)
        for i, d in enumerate(report.diagnoses, 1):
            t = Text(f"  {i}. ")
            t.append(f"{d.rule.severity:<8} ", style="bold red" if d.rule.severity == "fatal" else "yellow"
                     if d.rule.severity in ("degraded", "warning") else "green")
            t.append(safe(d.rule.title))
            t.append(f"  line {d.first_line}" + (f", {d.count:,} times" if d.count > 1 else ""), style="dim")
            if d.symptom:
                t.append(f"  (symptom of {d.symptom})", style="dim")
            console.print(t)
        console.print()
    render_report(report, console, python=python, verbose=verbose, all_fixes=all_fixes,
                  max_diagnoses=len(report.diagnoses) if all_fixes or verbose else 10)
