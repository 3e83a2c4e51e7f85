"""Wrapper-overhead benchmark: a script printing 1,000,000 lines, run directly and under
`tfhelp run`, in the same run, alternating, best and median of N.

    python benchmarks/bench_run.py            # pipe mode (stdout to a file)
    python benchmarks/bench_run.py --pty      # also under a pseudo-terminal (util-linux `script`)

Target (issue 5): under 10% added wall time, identical output bytes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """\
import sys
w = sys.stdout.write
for i in range({lines}):
    w("step %d/{lines} - loss: 0.%04d - accuracy: 0.%04d\\n" % (i, i % 10000, (i * 7) % 10000))
sys.stderr.write("done\\n")
"""


def run_once(cmd, out_path: Path, env) -> float:
    with open(out_path, "wb") as out:
        t = time.perf_counter()
        subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env, check=True)
        return time.perf_counter() - t


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def measure(direct, wrapped, tmp: Path, repeat: int, env, label: str) -> dict:
    a, b = tmp / f"direct-{label}.out", tmp / f"wrapped-{label}.out"
    run_once(direct, a, env)  # warm-up: imports and page cache
    run_once(wrapped, b, env)
    td, tw = [], []
    for _ in range(repeat):
        td.append(run_once(direct, a, env))
        tw.append(run_once(wrapped, b, env))
    same = digest(a) == digest(b)
    res = {"mode": label, "direct_best_s": min(td), "wrapped_best_s": min(tw),
           "direct_median_s": statistics.median(td), "wrapped_median_s": statistics.median(tw),
           "overhead_best_pct": 100 * (min(tw) / min(td) - 1),
           "overhead_median_pct": 100 * (statistics.median(tw) / statistics.median(td) - 1),
           "bytes": a.stat().st_size, "identical": same}
    print(f"{label:5} direct {res['direct_best_s']:.3f} s (median {res['direct_median_s']:.3f}), "
          f"tfhelp run {res['wrapped_best_s']:.3f} s (median {res['wrapped_median_s']:.3f}): "
          f"overhead {res['overhead_best_pct']:+.1f}% best, {res['overhead_median_pct']:+.1f}% median "
          f"(target < 10%); {res['bytes']:,} bytes, identical: {same}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pty", action="store_true", help="also measure under a pseudo-terminal (needs `script`)")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    env = dict(os.environ, TFHELP_USER_RULES="/nonexistent-tfhelp-user-rules")
    tmp = Path(tempfile.mkdtemp(prefix="tfhelp-bench-run-"))
    try:
        script = tmp / "printer.py"
        script.write_text(SCRIPT.format(lines=args.lines))
        py = sys.executable
        direct = [py, str(script)]
        wrapped = [py, "-m", "tfhelp", "run", "--python", py, str(script)]
        results = [measure(direct, wrapped, tmp, args.repeat, env, "pipe")]
        if args.pty:
            if shutil.which("script"):
                q = subprocess.list2cmdline
                results.append(measure(["script", "-qec", q(direct), "/dev/null"],
                                       ["script", "-qec", q(wrapped), "/dev/null"], tmp, args.repeat, env, "pty"))
            else:
                print("pty: `script` not found, skipped")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
