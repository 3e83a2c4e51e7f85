"""``tfhelp triage`` over many small job logs: does it scale with ``--jobs``?

Generates ``--files`` job logs (default 10,000) in nested folders (day/node/job) under a temporary
folder: each a job header, some training progress lines and one corpus input (a real error, or a
clean run), every 5th gzip-compressed.  Then times ``tfhelp triage DIR --json`` with ``--jobs 1``
and ``--jobs N`` (default 2), alternating, ``--repeat`` times each, and reports medians, files/s
and the speed-up.  Linear scaling on N cores is a speed-up of N; the target is >= 0.8 N.

The machine may be shared: the wall-time speed-up can only reach N when N cores are free.  So the
benchmark also reports the CPU time of each run (the command and its workers) and the load
average before it: a CPU ratio (jobs N / jobs 1) near 1.0 means the parallel run does the same
work with no overhead, and wall time scales with whatever cores are free.  Read the spread
(min / max) as well as the medians.  The JSON outputs of the two settings are checked to be
identical (within each round: rule files edited between rounds would change them).

    python benchmarks/bench_triage.py --files 10000 --repeat 3
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table, row

TRAIN = "".join(f"Epoch {e}/20\n{e * 50}/1000 [====>.........] - ETA: {e}s - loss: 0.{e:03d} - accuracy: 0.9{e}\n"
                for e in range(1, 21)).encode()


def corpus_inputs() -> list:
    out = []
    for case in sorted((ROOT / "corpus").glob("*/*")):
        for name in ("input.txt", "run.log"):
            p = case / name
            if p.is_file() and p.stat().st_size < 64 << 10:
                out.append(p.read_bytes())
                break
    return out


def generate(base: Path, n: int) -> int:
    inputs = corpus_inputs()
    total = 0
    for i in range(n):
        d = base / f"day-{i % 10}" / f"node-{(i // 10) % 10:02d}" / f"job-{i:05d}"
        d.mkdir(parents=True, exist_ok=True)
        body = (f"job {i} on node-{(i // 10) % 10:02d}\n+ python train.py --seed {i}\n").encode() + TRAIN \
            + inputs[i % len(inputs)]
        if i % 5 == 0:
            (d / "stdout.log.gz").write_bytes(gzip.compress(body, 6))
        else:
            (d / "stdout.log").write_bytes(body)
        total += len(body)
    return total


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv, env, cwd) -> tuple:
    """(wall seconds, CPU seconds of the command and all its worker processes, stdout)."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, env=env, cwd=cwd)
    took = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"{argv} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return took, _children_cpu() - c0, r.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, help="the parallel setting compared with --jobs 1")
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    args = ap.parse_args()
    env = dict(os.environ, NO_COLOR="1")
    with tempfile.TemporaryDirectory(prefix="tfhelp-bench-triage-") as tmp:
        env["TFHELP_CACHE_DIR"] = os.path.join(tmp, "cache")
        base = Path(tmp) / "jobs"
        t0 = time.perf_counter()
        nbytes = generate(base, args.files)
        sys.stderr.write(f"generated {args.files:,} logs ({nbytes / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s\n")
        tfhelp = [sys.executable, "-m", "tfhelp", "triage", "jobs", "--json", "--no-user-rules"]
        timed(tfhelp[:4] + ["--help"], env, tmp)  # warm the rule cache
        one, many, same_rounds = [], [], 0
        cpu = {1: [], args.jobs: []}
        loads = []
        for _ in range(args.repeat):
            outs = {}
            for jobs, bucket in ((1, one), (args.jobs, many)):
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                took, used, outs[jobs] = timed(tfhelp + ["--jobs", str(jobs)], env, tmp)
                bucket.append(took)
                cpu[jobs].append(used)
                loads.append(load)
                sys.stderr.write(f"  --jobs {jobs}: {took:.2f} s wall, {used:.2f} s CPU (load average before: {load:.2f})\n")
            # compared within a round: rule files edited between rounds would change the answer
            same_rounds += outs[1] == outs[args.jobs]
        same = same_rounds == args.repeat
        doc = json.loads(outs[1])
    m1, mn = statistics.median(one), statistics.median(many)
    speedup = m1 / mn
    c1, cn = statistics.median(cpu[1]), statistics.median(cpu[args.jobs])
    # CPU seconds the parallel run spends per CPU second of the serial one: 1.0 is no parallel
    # overhead at all, i.e. wall time scales with the cores the machine can actually give.
    cpu_ratio = cn / c1
    fig = {"files": args.files, "bytes": nbytes, "repeat": args.repeat, "jobs": args.jobs, "cpus": os.cpu_count(),
           "jobs1_s": one, "jobsN_s": many, "median_jobs1_s": m1, "median_jobsN_s": mn, "speedup": speedup,
           "files_per_s_jobs1": args.files / m1, "files_per_s_jobsN": args.files / mn,
           "identical_json": same, "files_with_known_cause": doc["totals"]["explained"],
           "cpu_jobs1_s": cpu[1], "cpu_jobsN_s": cpu[args.jobs], "cpu_ratio": cpu_ratio,
           "load_average_before_runs": loads}
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2))
    target = 0.8 * args.jobs
    r = row(f"triage {args.files:,} logs: --jobs 1 / --jobs {args.jobs}", m1, mn, float("inf"),
            note=f"speed-up {speedup:.2f}x (target >= {target:.1f}x), {args.files / mn:,.0f} files/s; "
                 f"min/max jobs1 {min(one):.1f}/{max(one):.1f} s, jobs{args.jobs} {min(many):.1f}/{max(many):.1f} s; "
                 f"CPU jobs{args.jobs}/jobs1 {cpu_ratio:.2f}x; load avg {statistics.median(loads):.1f}; "
                 f"identical JSON: {same}")
    r["ratio"], r["target"], r["ok"] = f"{speedup:.2f}x", f">= {target:.1f}x", speedup >= target and same
    print_table([r])
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
