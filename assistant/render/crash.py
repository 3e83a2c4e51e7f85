"""The terminal event of a run (:mod:`tfhelp.kb.crash`): shown before the diagnoses when no rule
explains it (when one does, those diagnoses are simply ranked first)."""
from __future__ import annotations


def render_crash(crash, console, verbose: bool = False, draft_hint: str = "") -> None:
    """``draft_hint``: how the user gets the draft rule in this front end (e.g. "-v" or "--json");
    with ``verbose`` the draft itself is printed."""
    from rich.text import Text

    from tfhelp.assistant.render.diagnosis import safe

    if crash is None:
        return
    if crash.explained:
        return  # the diagnoses that explain it are ranked first already
    head = Text("Unexplained crash", style="bold red")
    head.append(f" at line {crash.primary}: ", style="bold")
    head.append(safe(crash.summary[:300]))
    console.print(head)
    console.print(Text("No rule knows what ended the run. Its lines:", style="dim"))
    width = len(str(crash.last_line))
    for ln in crash.lines:
        t = Text(f"  {ln.line:>{width}} | ", style="dim")
        t.append(safe(ln.text[:500]), style="bold" if ln.line == crash.primary else "")
        console.print(t, soft_wrap=True)
    if verbose:
        from tfhelp.kb.crash import draft_rule

        console.print(Text("Draft rule (complete it, save it as DIR/<id>.yaml, pass --rules DIR):", style="bold"))
        for line in draft_rule(crash).rstrip("\n").split("\n"):
            console.print(Text("  " + line), soft_wrap=True, markup=False, highlight=False)
    else:
        hint = draft_hint or "-v"
        console.print(Text(f"A draft rule for it is shown with {hint}; "
                           "save it under a folder and pass --rules DIR to teach tfhelp this crash.", style="dim"))
    console.print()
