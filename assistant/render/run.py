"""What ``tfhelp run`` prints after the child's own output."""
from __future__ import annotations


def _status_words(result) -> str:
    if result.signal_name:
        return f"was killed by {result.signal_name} (exit status {result.exit_status})"
    return f"exited with status {result.exit_status}"


def command_label(argv) -> str:
    """How the run is named in messages: the script for ``python X.py``, else the real command
    (``python3 -c``, ``python -m pkg``, ``pytest``), never a bare option like ``-c``."""
    import os

    argv = list(argv or [])
    if not argv:
        return "the command"
    exe = os.path.basename(argv[0])
    if len(argv) > 1 and exe.lower().startswith(("python", "pypy")):
        if argv[1] == "-m" and len(argv) > 2:
            return f"{exe} -m {argv[2]}"
        if argv[1].startswith("-"):
            return f"{exe} {argv[1]}"
        return os.path.basename(argv[1])
    return exe


def render_run_report(report, result, console, python: str = "python") -> None:
    """A one-line header naming how the child ended, then the shared diagnosis rendering."""
    from rich.text import Text

    import os

    prog = command_label(result.argv)
    header = Text()
    header.append("\ntfhelp: ", style="bold")
    header.append(f"{prog} {_status_words(result)}", style="bold red")
    if result.combined.dropped:
        mb = result.combined.total / (1 << 20)
        header.append(f"  (diagnosed the last part of {mb:.1f} MB of output)", style="dim")
    console.print(header)
    from tfhelp.assistant.render.diagnosis import render_report
    render_report(report, console, python=python)


def summary_line(report) -> str | None:
    """One line naming the warnings seen in a successful run, or None when there were none."""
    doc = report.to_json()
    items = doc.get("diagnoses", [])
    if not items:
        return None
    parts = []
    for d in items:
        label = d.get("id", "?")
        if d.get("severity") == "harmless":
            label += " (harmless)"
        parts.append(label)
    return "tfhelp: run succeeded; seen: " + ", ".join(parts)
