"""Run every benchmark and print one table of ratios measured in the same run.

    python benchmarks/run_all.py            # quick: 256 MB log, 1,000,000-line wrapper test
    python benchmarks/run_all.py --full     # the issues' sizes: 1 GB log
    python benchmarks/run_all.py --markdown out.md

Each row compares tfhelp with a baseline measured moments before on the same machine, so the
ratio, not the absolute time, is the figure to read on a noisy shared machine.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_matching  # noqa: E402
import bench_startup  # noqa: E402
from common import Row, print_table  # noqa: E402


def _ratio_row(name, measured, baseline, target, unit, note="", fmt="{:.3f}") -> Row:
    ratio = measured / baseline if baseline else float("inf")
    return Row(name=name, measured=f"{fmt.format(measured)} {unit}", baseline=f"{fmt.format(baseline)} {unit}",
               ratio=f"{ratio:.2f}x", target=f"<= {target}x", ok=ratio <= target, note=note)


def logscan_rows(size_mb: int) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logscan.json"
        subprocess.run([sys.executable, str(HERE / "bench_logscan.py"), "--size-mb", str(size_mb), "--json", str(out)],
                       check=True, stdout=sys.stderr)
        r = json.loads(out.read_text())
    rows = [
        _ratio_row(f"log scan {size_mb} MB vs bare chunked read", r["scan_s"], r["bare_s"], 2.0, "s",
                   note=f"prefilter {r['prefilter']}"),
        _ratio_row(f"log scan {size_mb} MB vs grep -c -F -f anchors", r["scan_s"], r["grep_s"], 1.0, "s",
                   note=f"{r['anchors']} anchors"),
        Row(name="log scan peak memory", measured=f"{r['scan_rss_mb']:.1f} MB", baseline="-", ratio="-",
            target="< 200 MB", ok=r["scan_rss_mb"] < 200, note=f"findings: {len(r['findings'])}"),
        _ratio_row("log scan pure Python (TFHELP_PREFILTER=ahocorasick) vs default install", r["pure_s"], r["scan_s"],
                   3.0, "s", note="fallback path (issue 12: <= 3x the default)"),
    ]
    for factor in (10, 100):
        key = f"scale_{factor}x_scan_ratio"
        if key in r:
            rows.append(Row(name=f"log scan with {factor}x rules (scan time)", measured=f"{r[key]:.2f}x",
                            baseline="1x shipped", ratio=f"{r[key]:.2f}x", target="<= 2.0x" if factor == 100 else "-",
                            ok=r[key] <= 2.0, note=f"whole command {r[f'scale_{factor}x_ratio']:.2f}x"))
    return rows


def run_rows(lines: int) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        subprocess.run([sys.executable, str(HERE / "bench_run.py"), "--lines", str(lines), "--pty", "--json", str(out)],
                       check=True, stdout=sys.stderr)
        res = json.loads(out.read_text())
    rows = []
    for r in res:
        what = r.get("workload") or f"{lines:,} lines"  # lines / fit / fit-ok / hello (bench_run.py)
        rows.append(_ratio_row(f"tfhelp run, {what} ({r['mode']})", r["wrapped_median_s"], r["direct_median_s"],
                               1.10, "s", note=f"identical bytes: {r['identical']}"))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="1 GB log (default 256 MB)")
    ap.add_argument("--markdown", metavar="PATH", help="also write the table to a file")
    args = ap.parse_args(argv)
    rows = []
    rows += bench_startup.run()
    rows += bench_matching.run()
    rows += logscan_rows(1024 if args.full else 256)
    rows += run_rows(1_000_000)
    print()
    print_table(rows)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            print_table(rows, out=fh)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
