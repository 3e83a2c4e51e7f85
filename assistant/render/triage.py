"""Human rendering of ``tfhelp triage``: totals, then one row per root cause with its file count
and example files; harmless notices last; unreadable files are listed by the command on stderr."""
from __future__ import annotations

SEVERITY_ORDER = {"fatal": 0, "degraded": 1, "warning": 2, "harmless": 3}
SEVERITY_STYLE = {"fatal": "bold red", "degraded": "yellow", "warning": "yellow", "harmless": "green"}


def rows(tally) -> list:
    """``[(rule_id, entry)]`` in the order to read: causes before harmless notices, then most
    files, then rule id (deterministic)."""
    return sorted(tally.rules.items(),
                  key=lambda kv: (kv[1].get("severity") == "harmless", not kv[1].get("explains", True),
                                  -kv[1]["files"], SEVERITY_ORDER.get(kv[1].get("severity"), 9), kv[0]))


def render_triage(doc: dict, tally, console) -> None:
    from rich.table import Table
    from rich.text import Text

    from tfhelp.assistant.render.diagnosis import safe

    t = doc["totals"]
    head = Text("Triage: ", style="bold")
    head.append(f"{t['files']:,} file(s)")
    parts = [f"{t['explained']:,} with a known cause", f"{t['unexplained']:,} with none"]
    if t["unreadable"]:
        parts.append(f"{t['unreadable']:,} unreadable (skipped)")
    head.append(" - " + ", ".join(parts), style="dim")
    console.print(head)
    if doc.get("incomplete"):
        console.print(Text(f"{len(doc['incomplete']):,} file(s) only partly read (truncated or over a bound); "
                           "their findings cover what was read", style="dim"))
    if tally.crashes:
        ex = ", ".join(safe(p) for p in tally.crash_examples)
        more = f" and {tally.crashes - len(tally.crash_examples):,} more" if tally.crashes > len(tally.crash_examples) else ""
        console.print(Text(f"{tally.crashes:,} file(s) ended in a crash no rule explains: {ex}{more} "
                           "(tfhelp --from-log FILE shows the crash and a draft rule)", style="bold"))
    ordered = rows(tally)
    if not ordered:
        console.print("No known cause matched any file.")
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold", expand=False)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("root cause")
    table.add_column("examples", overflow="fold")
    for rid, e in ordered:
        sev = e.get("severity") or ""
        cause = Text(safe(e.get("title") or rid))
        cause.append(f"\n{rid}", style="dim")
        more = e["files"] - len(e["examples"])
        ex = "\n".join(safe(p) for p in e["examples"]) + (f"\n(+{more:,} more)" if more > 0 else "")
        table.add_row(f"{e['files']:,}", Text(sev, style=SEVERITY_STYLE.get(sev, "")), cause, Text(ex))
    console.print(table)
    console.print(Text("Details for one file: tfhelp --from-log FILE; every file and finding: --json",
                       style="dim"))
