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
(min / max) as well as the medians.

The JSON outputs of every run are checked to be byte-identical.  They are computed from the rule
files and the code, so the runs use a frozen copy of both taken at the start (``src/`` in the
temporary folder, first on ``PYTHONPATH``): in a checkout that other people edit while a 10,000-file
round runs for minutes, comparing the live tree once made two runs differ although triage itself
is deterministic (tests/test_triage_determinism.py).  When outputs still differ, the benchmark says
which files and keys differ and keeps both documents (``--keep-diff DIR``).

``--cost`` also measures the per-file CPU cost in this process, file by file, with the compiled
prefilter reused across files (``tfhelp.kb.scan.prefilter_for``, what the workers do now) and
rebuilt for every file (what they did before), alternating the order per file so load drift
falls on both; the per-file answers of the two are checked to be equal.

    python benchmarks/bench_triage.py --files 10000 --repeat 3 --cost
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
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


def snapshot(dest: Path) -> Path:
    """A frozen copy of the package (code and shipped rules) laid out as the installed package
    (``tfhelp/``, ``tfhelp/kb``, ``tfhelp/assistant``, ``tfhelp/rules``); returns the folder to
    put first on ``PYTHONPATH``."""
    pkg = dest / "tfhelp"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tfhelp", pkg, ignore=skip)
    for sub in ("kb", "assistant", "rules"):
        shutil.copytree(ROOT / sub, pkg / sub, ignore=skip)
    return dest


def differences(a: bytes, b: bytes, limit: int = 5) -> str:
    """Which files and top-level keys of two triage documents differ (why a comparison failed)."""
    try:
        da, db = json.loads(a), json.loads(b)
    except ValueError as exc:
        return f"not JSON: {exc}"
    keys = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
    fa = {f["path"]: f for f in da.get("files", [])}
    fb = {f["path"]: f for f in db.get("files", [])}
    paths = sorted(p for p in set(fa) | set(fb) if fa.get(p) != fb.get(p))
    shown = []
    for p in paths[:limit]:
        x, y = fa.get(p) or {}, fb.get(p) or {}
        ids = ([d["id"] for d in x.get("diagnoses", [])], [d["id"] for d in y.get("diagnoses", [])])
        shown.append(f"{p}: keys {sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))}, ids {ids[0]} vs {ids[1]}")
    return f"top-level keys {keys}; {len(paths)} file(s) differ" + ("".join(f"\n    {s}" for s in shown))


def per_file_cost(base: Path, limit: int) -> dict:
    """CPU seconds per file of ``scan_path`` in this process with the prefilter reused across
    files and rebuilt for each file, alternating which goes first; the answers must be equal."""
    from tfhelp.kb import scan, triage
    from tfhelp.kb.loader import load_ruleset

    if not hasattr(scan, "_PREFILTERS"):
        raise SystemExit("tfhelp.kb.scan has no per-thread prefilter memo (_PREFILTERS) to compare against")
    options = triage.Options(user_rules=False)
    triage.use_ruleset(load_ruleset(user_rules=False), options)
    paths, _ = triage.expand([str(base)])
    paths = paths[:limit] if limit else paths
    spent = {"reused": 0.0, "rebuilt": 0.0}
    mismatched = []
    clock = time.process_time
    for i, p in enumerate(paths):
        got = {}
        for mode in (("reused", "rebuilt") if i % 2 else ("rebuilt", "reused")):
            if mode == "rebuilt":
                scan._PREFILTERS.last = None  # what every file paid before prefilter_for
            t0 = clock()
            got[mode] = triage.scan_path(p, options)
            spent[mode] += clock() - t0
        if got["reused"] != got["rebuilt"]:
            mismatched.append(p)
    n = len(paths)
    return {"cost_files": n, "cpu_ms_per_file_reused": 1000 * spent["reused"] / n,
            "cpu_ms_per_file_rebuilt": 1000 * spent["rebuilt"] / n,
            "cost_saving": 1 - spent["reused"] / spent["rebuilt"], "cost_mismatched": mismatched[:10]}


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
    ap.add_argument("--cost", action="store_true",
                    help="also measure the per-file CPU cost in-process, prefilter reused vs rebuilt per file")
    ap.add_argument("--cost-files", type=int, default=0, metavar="N", help="files for --cost (default: all)")
    ap.add_argument("--keep-diff", metavar="DIR", help="when two outputs differ, write both documents here")
    args = ap.parse_args()
    env = dict(os.environ, NO_COLOR="1")
    with tempfile.TemporaryDirectory(prefix="tfhelp-bench-triage-") as tmp:
        env["TFHELP_CACHE_DIR"] = os.path.join(tmp, "cache")
        src = snapshot(Path(tmp) / "src")
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])
        base = Path(tmp) / "jobs"
        t0 = time.perf_counter()
        nbytes = generate(base, args.files)
        sys.stderr.write(f"generated {args.files:,} logs ({nbytes / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s\n")
        where = subprocess.run([sys.executable, "-c", "import tfhelp.kb.loader as l; print(l.shipped_rules_dir())"],
                               capture_output=True, text=True, env=env, cwd=tmp).stdout.strip()
        if not where.startswith(str(src)):
            raise SystemExit(f"the frozen copy is not the one imported (rules from {where!r})")
        tfhelp = [sys.executable, "-m", "tfhelp", "triage", "jobs", "--json", "--no-user-rules"]
        timed(tfhelp[:4] + ["--help"], env, tmp)  # warm the rule cache
        one, many = [], []
        cpu = {1: [], args.jobs: []}
        loads = []
        first, same, why = None, True, ""
        for _ in range(args.repeat):
            for jobs, bucket in ((1, one), (args.jobs, many)):
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                took, used, out = timed(tfhelp + ["--jobs", str(jobs)], env, tmp)
                bucket.append(took)
                cpu[jobs].append(used)
                loads.append(load)
                sys.stderr.write(f"  --jobs {jobs}: {took:.2f} s wall, {used:.2f} s CPU (load average before: {load:.2f})\n")
                if first is None:
                    first = out
                elif out != first and same:  # every run against the first: one frozen tree, one answer
                    same, why = False, differences(first, out)
                    sys.stderr.write(f"  output differs from the first run: {why}\n")
                    if args.keep_diff:
                        os.makedirs(args.keep_diff, exist_ok=True)
                        Path(args.keep_diff, "first.json").write_bytes(first)
                        Path(args.keep_diff, f"jobs{jobs}.json").write_bytes(out)
        doc = json.loads(first)
        cost = per_file_cost(base, args.cost_files) if args.cost else {}
    m1, mn = statistics.median(one), statistics.median(many)
    speedup = m1 / mn
    c1, cn = statistics.median(cpu[1]), statistics.median(cpu[args.jobs])
    # CPU seconds the parallel run spends per CPU second of the serial one: 1.0 is no parallel
    # overhead at all, i.e. wall time scales with the cores the machine can actually give.
    cpu_ratio = cn / c1
    fig = {"files": args.files, "bytes": nbytes, "repeat": args.repeat, "jobs": args.jobs, "cpus": os.cpu_count(),
           "jobs1_s": one, "jobsN_s": many, "median_jobs1_s": m1, "median_jobsN_s": mn, "speedup": speedup,
           "files_per_s_jobs1": args.files / m1, "files_per_s_jobsN": args.files / mn,
           "identical_json": same, "difference": why, "files_with_known_cause": doc["totals"]["explained"],
           "cpu_jobs1_s": cpu[1], "cpu_jobsN_s": cpu[args.jobs], "cpu_ratio": cpu_ratio,
           "load_average_before_runs": loads, **cost}
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2))
    target = 0.8 * args.jobs
    r = row(f"triage {args.files:,} logs: --jobs 1 / --jobs {args.jobs}", m1, mn, float("inf"),
            note=f"speed-up {speedup:.2f}x (target >= {target:.1f}x), {args.files / mn:,.0f} files/s; "
                 f"min/max jobs1 {min(one):.1f}/{max(one):.1f} s, jobs{args.jobs} {min(many):.1f}/{max(many):.1f} s; "
                 f"CPU jobs{args.jobs}/jobs1 {cpu_ratio:.2f}x; load avg {statistics.median(loads):.1f}; "
                 f"identical JSON: {same}")
    r["ratio"], r["target"], r["ok"] = f"{speedup:.2f}x", f">= {target:.1f}x", speedup >= target and same
    rows = [r]
    if cost:
        c = row(f"triage per-file CPU, {cost['cost_files']:,} logs: prefilter reused / rebuilt per file",
                cost["cpu_ms_per_file_reused"], cost["cpu_ms_per_file_rebuilt"], 1.0, unit="ms",
                note=f"saves {100 * cost['cost_saving']:.1f}%; answers equal: {not cost['cost_mismatched']}")
        c["ok"] = c["ok"] and not cost["cost_mismatched"]
        rows.append(c)
    print_table(rows)
    return 0 if all(x["ok"] for x in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
