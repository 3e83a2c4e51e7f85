"""``tfhelp plan``: recommend a working TensorFlow / Keras / NumPy / CUDA set for a machine.

    tfhelp plan                                   # this machine (probe of the target interpreter)
    tfhelp plan --python-version 3.10 --driver 470.82 --os linux
    tfhelp plan --os windows --python-version 3.10 --gpu
    tfhelp plan --compute-capability 3.0 --json

Flags win over what the probe finds; whatever is still unknown after that is assumed (current
OS, the target interpreter's Python) or left unknown (driver, GPU) and said so.
"""
from __future__ import annotations

import argparse
import json

NAME = "plan"
HELP = "recommend TensorFlow, Keras, NumPy and CUDA versions (and install commands) for a machine"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python-version", metavar="X.Y", help="plan for this Python version "
                        "(default: the target interpreter's)")
    parser.add_argument("--driver", metavar="VERSION", help="NVIDIA driver version, e.g. 535.54.03 "
                        "(default: from NVML when a GPU is present)")
    parser.add_argument("--os", dest="os_name", choices=("linux", "windows", "wsl", "macos"),
                        help="target OS (default: this machine's)")
    parser.add_argument("--compute-capability", metavar="X.Y", help="GPU compute capability, e.g. 8.6")
    gpu = parser.add_mutually_exclusive_group()
    gpu.add_argument("--gpu", dest="gpu", action="store_true", default=None, help="plan a GPU setup")
    gpu.add_argument("--no-gpu", dest="gpu", action="store_false", help="plan a CPU-only setup")
    parser.add_argument("--no-probe", action="store_true",
                        help="do not probe the machine; use flags and defaults only")


def _current_os() -> str:
    import platform
    import sys

    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    try:
        rel = platform.release().lower()
        if "microsoft" in rel or "wsl" in rel:
            return "wsl"
    except Exception:  # noqa: BLE001
        pass
    return "linux"


def _python_version_of(interpreter: str):
    """X.Y.Z of an interpreter via a tiny subprocess, or None."""
    import subprocess

    try:
        out = subprocess.run([interpreter, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or "").strip()
    return text if out.returncode == 0 and text else None


def _probe(interpreter: str):
    """(python, platform, driver, compute capability) from the probe; Nones when unavailable."""
    try:
        from tfhelp.assistant.environment import probe
    except ImportError:
        return None, None, None, None
    try:
        res = probe.probe(interpreter, only=["basic", "nvml"], timeout=20)
    except Exception:  # noqa: BLE001 - a broken target must not stop planning
        return None, None, None, None
    cc = None
    for g in res.gpus:
        c = g.get("compute_capability")
        if c and (cc is None or float(c) < float(cc)):
            cc = c  # plan for the weakest GPU
    return res.python_version, res.platform, res.driver_version, cc


def gather_inputs(args, ctx) -> dict:
    """The plan's inputs from flags, then the probe, then defaults; with where each came from."""
    interpreter = ctx.default_python()
    src = {}
    python = getattr(args, "python_version", None)
    os_name = getattr(args, "os_name", None)
    driver = getattr(args, "driver", None)
    cc = getattr(args, "compute_capability", None)
    for key, val in (("python", python), ("os", os_name), ("driver", driver), ("compute_capability", cc)):
        if val:
            src[key] = "flag"
    need_probe = not getattr(args, "no_probe", False) and (
        python is None or os_name is None or (getattr(args, "gpu", None) is not False and driver is None))
    if need_probe:
        p_py, p_os, p_drv, p_cc = _probe(interpreter)
        if python is None and p_py:
            python, src["python"] = p_py, "probe"
        if os_name is None and p_os:
            os_name, src["os"] = p_os, "probe"
        if driver is None and p_drv and os_name in (None, p_os):
            driver, src["driver"] = p_drv, "probe"
        if cc is None and p_cc and os_name in (None, p_os):
            cc, src["compute_capability"] = p_cc, "probe"
    if python is None:
        python = _python_version_of(interpreter)
        if python:
            src["python"] = f"{interpreter}"
    if os_name is None:
        os_name, src["os"] = _current_os(), "this machine"
    return {"python": python, "os_name": os_name, "driver": driver, "compute_capability": cc,
            "interpreter": interpreter if ctx.target_python else "python", "input_sources": src}


def run(args, ctx) -> int:
    from tfhelp.assistant.frontends.cli import UsageError
    from tfhelp.assistant.environment.planner import make_plan

    inputs = gather_inputs(args, ctx)
    if not inputs["python"]:
        raise UsageError("cannot tell the Python version: give --python-version X.Y or --python PATH")
    try:
        plan = make_plan(gpu=getattr(args, "gpu", None), **inputs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "json", False):
        ctx.stdout.write(json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        from tfhelp.assistant.render.plan import render_plan

        render_plan(plan, ctx.console())
    return 0 if plan.ok else 1
