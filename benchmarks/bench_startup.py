"""Start-up: ``tfhelp < traceback.txt`` against importing tfhelp's own dependencies.

Target (issue 7): at most 2x ``python -c "import yaml, rich.console, rapidfuzz"`` - loading rules,
matching and rendering a typical 40-line traceback must cost no more than those imports.

How it is measured, and why:

* The rule cache is warmed first (a first run after editing rules rebuilds it; that cost is
  reported separately, as "first run").
* Bytecode caches are allowed (``PYTHONDONTWRITEBYTECODE`` is removed from the children's
  environment): an installed tfhelp has them (pip compiles at install time), and an editable
  checkout writes them on the first run. Without them every start compiles tfhelp's own ~40
  modules again, which measures the compiler, not tfhelp.
* The three commands run interleaved (one of each per round, the order rotating), so a burst of
  load from other processes on a shared machine hits all of them alike; the figures are medians
  over the rounds (``--repeat``, default 11).
* CPU time (user + sys of the child, from ``wait4``) is printed beside wall time: on a machine
  whose cores are shared it is the steadier of the two. The 1-minute load average before and
  after is in the note, so a reader can tell how busy the machine was.
* ``--instructions`` also counts the instructions each command executes under valgrind
  (callgrind, ``PYTHONHASHSEED=0``): slow (a minute) but the same on an idle and a loaded
  machine, so it can tell a 5% change that the timings, with several workers on two cores, cannot.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

from common import ROOT, print_table, row

TRACEBACK = ROOT / "benchmarks" / "data" / "traceback-40.txt"


def run_once(argv, stdin_path=None, env=None) -> tuple:
    """(wall seconds, CPU seconds or None) of one run of ``argv``, output discarded."""
    fh = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            return wall, usage.ru_utime + usage.ru_stime
        p.wait()
        return time.perf_counter() - t0, None
    finally:
        if stdin_path:
            fh.close()


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "?"


def measure(repeat: int = 11) -> dict:
    """Medians of interleaved runs: {"name": (wall, cpu)} plus the cold run and load averages."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["TFHELP_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfhelp-bench-cache-")
    env["NO_COLOR"] = "1"
    cases = {
        "pass": ([sys.executable, "-c", "pass"], None),
        "bare": ([sys.executable, "-c", "import yaml, rich.console, rapidfuzz"], None),
        "tfhelp": ([sys.executable, "-m", "tfhelp"], TRACEBACK),
    }
    load_before = _load()
    cold, _ = run_once(*cases["tfhelp"], env=env)    # builds the rule cache (and bytecode, if missing)
    for argv, stdin in cases.values():                 # one unmeasured run each: warm the page cache
        run_once(argv, stdin, env=env)
    names = list(cases)
    got = {n: [] for n in names}
    for i in range(repeat):
        for n in names[i % len(names):] + names[:i % len(names)]:
            argv, stdin = cases[n]
            got[n].append(run_once(argv, stdin, env=env))
    out = {"cold": cold, "load": (load_before, _load()), "repeat": repeat}
    for n, runs in got.items():
        cpus = [c for _, c in runs if c is not None]
        out[n] = (statistics.median(w for w, _ in runs), statistics.median(cpus) if cpus else None)
    return out


def instructions(argv, stdin_path=None, env=None) -> Optional[int]:
    """Instructions executed by one run of ``argv`` (valgrind's "I refs"), None without valgrind."""
    import re
    import shutil

    if not shutil.which("valgrind"):
        return None
    env = dict(env or os.environ, PYTHONHASHSEED="0")
    run_once(argv, stdin_path, env)                    # warm the rule cache for this exact env
    fh = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], stdin=fh,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    finally:
        if stdin_path:
            fh.close()
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    return int(m.group(1).replace(",", "")) if m else None


def instruction_row() -> list:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(TFHELP_CACHE_DIR=tempfile.mkdtemp(prefix="tfhelp-bench-cache-"), NO_COLOR="1")
    bare = instructions([sys.executable, "-c", "import yaml, rich.console, rapidfuzz"], env=env)
    tf = instructions([sys.executable, "-m", "tfhelp"], TRACEBACK, env=env)
    if not bare or not tf:
        return []
    return [row("startup: instructions (callgrind)", tf / 1e6, bare / 1e6, 2.0, unit="M",
                note="valgrind --tool=callgrind, PYTHONHASHSEED=0, warm rule cache")]


def run(repeat: int = 11) -> list:
    m = measure(repeat)
    (tw, tc), (bw, bc), (pw, pc) = m["tfhelp"], m["bare"], m["pass"]
    cpu = f"CPU {tc:.3f} s vs {bc:.3f} s = {tc / bc:.2f}x; " if tc and bc else ""
    note = (f"{cpu}python -c pass: {pw:.3f} s; first run (cache build): {m['cold']:.3f} s; "
            f"medians of {m['repeat']} interleaved rounds; load {m['load'][0]} -> {m['load'][1]}")
    return [row("startup: tfhelp < traceback (40 lines)", tw, bw, 2.0, note=note)]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=11, help="interleaved rounds (default 11)")
    ap.add_argument("--instructions", action="store_true", help="also count instructions under valgrind (slow)")
    opts = ap.parse_args()
    print_table(run(opts.repeat) + (instruction_row() if opts.instructions else []))
