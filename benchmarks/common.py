"""Helpers shared by the benchmarks: timing subprocesses, medians, and the result table.

Every benchmark compares against a baseline measured in the same run on the same machine, and
prints the ratio: absolute times on shared CI machines are noise, ratios mostly are not.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def time_cmd(argv, stdin_path=None, repeat=7, env=None, cwd=None) -> float:
    """Median wall time of running argv (stdout/stderr discarded)."""
    times = []
    for _ in range(repeat):
        fh = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            subprocess.run(argv, stdin=fh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                           env=env, cwd=cwd)
            times.append(time.perf_counter() - t0)
        finally:
            if stdin_path:
                fh.close()
    return statistics.median(times)


def time_fn(fn, repeat=5, clock=time.perf_counter) -> float:
    """Median of ``repeat`` calls of ``fn`` on ``clock`` (time.process_time for CPU time)."""
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


class Row(dict):
    """One line of the summary table: name, measured, baseline, ratio, target, ok."""


def row(name, measured, baseline, target_ratio, unit="s", note="") -> Row:
    ratio = measured / baseline if baseline else float("inf")
    return Row(name=name, measured=f"{measured:.3f} {unit}", baseline=f"{baseline:.3f} {unit}",
               ratio=f"{ratio:.2f}x", target=f"<= {target_ratio}x", ok=ratio <= target_ratio, note=note)


def print_table(rows, out=sys.stdout) -> None:
    cols = ["name", "measured", "baseline", "ratio", "target", "ok", "note"]
    data = [[str(r.get(c, "")) if c != "ok" else ("yes" if r.get("ok") else "NO") for c in cols] for r in rows]
    widths = [max(len(c), *(len(d[i]) for d in data)) for i, c in enumerate(cols)]
    out.write("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |\n")
    out.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")
    for d in data:
        out.write("| " + " | ".join(x.ljust(w) for x, w in zip(d, widths)) + " |\n")
