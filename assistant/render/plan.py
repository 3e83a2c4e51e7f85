"""Terminal rendering of a :class:`tfhelp.assistant.environment.planner.Plan`.

Every string is data, never markup: the console comes from ``Context.console()`` (markup off) and
each value passes through :func:`tfhelp.assistant.render.diagnosis.safe`, so a hostile ``--python`` path or
probe output cannot move the cursor or restyle the terminal.
"""
from __future__ import annotations

from rich.text import Text

from tfhelp.assistant.fixes.argv import quote
from tfhelp.assistant.render.diagnosis import safe

ROUTE_TITLES = {
    "pip-and-cuda": "GPU, CUDA and cuDNN from pip (tensorflow[and-cuda])",
    "conda-cudatoolkit": "GPU, CUDA from conda (release predates tensorflow[and-cuda])",
    "windows-native-conda": "GPU on native Windows (TensorFlow 2.10 or older, CUDA from conda)",
    "wsl2": "GPU under WSL2",
    "cpu": "CPU only",
    "macos-cpu": "CPU only (macOS)",
    "keras2-legacy": "Keras 2 code on Keras-3-era TensorFlow",
    "none": "no TensorFlow release fits",
}


def _shell_for(where: str, os_name: str) -> str:
    if where == "wsl":
        return "linux"
    return "windows" if os_name == "windows" else os_name


def _line(console, text: str, style: str = "") -> None:
    console.print(Text(safe(text), style=style), soft_wrap=True)


def render_plan(plan, console) -> None:
    inp = plan.inputs
    src = inp.get("sources") or {}

    def given(key: str) -> str:
        val = inp.get(key)
        if val is None or val == "":
            return "unknown"
        s = src.get(key)
        return f"{val}" + (f" ({s})" if s else "")

    _line(console, "tfhelp plan", "bold")
    _line(console, f"  OS: {given('os')}   Python: {given('python')}   driver: {given('driver')}   "
                   f"compute capability: {given('compute_capability')}   GPU wanted: {'yes' if inp.get('gpu') else 'no'}")
    console.print()
    if not plan.ok:
        _line(console, "✗ No TensorFlow release fits this machine.", "bold red")
    else:
        mark, style = ("✓", "bold green") if plan.gpu else ("!", "bold yellow")
        _line(console, f"{mark} TensorFlow {plan.tensorflow} — {ROUTE_TITLES.get(plan.route, plan.route)}", style)
        if plan.cpu_reason:
            _line(console, f"  Why not GPU: {plan.cpu_reason}", "yellow")
        rows = [("tensorflow", plan.tf_requirement)]
        if plan.cuda:
            rows.append(("CUDA / cuDNN", f"{plan.cuda} / {plan.cudnn} (built and tested with)"))
        if plan.cuda_wheels:
            rows.append(("pip CUDA wheels", ", ".join(f"{v}" for v in plan.cuda_wheels.values())))
        if plan.min_driver:
            rows.append(("NVIDIA driver", f">= {plan.min_driver}"))
        if plan.min_compute_capability and plan.gpu:
            rows.append(("GPU compute capability", f">= {plan.min_compute_capability}"))
        rows += [("keras", plan.keras), ("tf-keras (Keras 2)", plan.tf_keras), ("numpy", plan.numpy),
                 ("protobuf", plan.protobuf)]
        if plan.python_supported:
            rows.append(("Python for this TF", ", ".join(plan.python_supported)))
        for k, v in rows:
            if v:
                _line(console, f"  {k:<24} {v}")
    if plan.commands:
        console.print()
        _line(console, "Install", "bold")
        for c in plan.commands:
            where = {"conda": " (in the conda environment)", "wsl": " (inside WSL2)"}.get(c.where, "")
            _line(console, f"  # {c.why}{where}", "dim")
            _line(console, "  $ " + quote(c.argv, _shell_for(c.where, inp.get("os") or "linux")))
    console.print()
    _line(console, "Why", "bold")
    for c in plan.constraints:
        mark = "•" if not c.decisive else "▸"
        _line(console, f"  {mark} [{c.what}] {c.reason}")
        _line(console, f"      source: {c.source}", "dim")
    if plan.notes:
        console.print()
        _line(console, "Notes", "bold")
        for n in plan.notes:
            _line(console, f"  - {n}")
    if plan.alternatives:
        console.print()
        _line(console, "Alternatives", "bold")
        for alt in plan.alternatives:
            _line(console, f"  {alt.summary}")
            for c in alt.commands:
                _line(console, "    $ " + quote(c.argv, _shell_for(c.where, inp.get("os") or "linux")))
            for n in alt.notes:
                _line(console, f"    - {n}")
