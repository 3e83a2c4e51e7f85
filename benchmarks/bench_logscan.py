"""Log-scan benchmark: `tfhelp --from-log FILE --json` on generated TF/Keras logs of three shapes.

For each shape of benchmarks/gen_logs.py (sparse: anchors almost never hit; dense: >= 20% of the
lines hit a rule anchor; repeated: one warning at every step), in the same run and on the same
page-cached file:

  bare      a bare Python loop reading the file in 8 MB chunks (the baseline of every ratio)
  grep      `grep -c -F -f anchors.txt` with the literal anchors of tfhelp's rules (a reference)
  default   `tfhelp --from-log FILE --json` as installed (hyperscan where it has wheels)
  pure      the same with the pure fallback forced (`TFHELP_PREFILTER=ahocorasick`)
  floor-*   what bounds the scan from below: the C passes it cannot skip, run alone
            (count newlines as kb.scan.newlines does; + one full hyperscan search with a
            counting callback; fold + split + count the lines of a region)

Every command runs ``--repeat`` times, interleaved (round 1 runs each command once, then round 2
...), because the machine's cores are shared and load drifts; the median is kept.  Peak RSS of
each child comes from ``os.wait4`` in a small launcher process (Linux carries a parent's RSS
high-water mark across fork+exec, so measuring from this process would report our own size).
Each tfhelp run's JSON must report the planted root cause and the ending at the lines where the
generator put them; a run that doesn't is an error, not a figure.

    python benchmarks/bench_logscan.py                          # 256 MB per shape, quick
    python benchmarks/bench_logscan.py --size-mb 1024 --repeat 3 --json out.json   # issue 12's figures

Targets (issue 12): default <= 2x bare on each shape, peak RSS < 200 MB, planted cause found;
pure <= 3x default.  Also the rule scaling of issue 5 (--scaling): 100x rules < 2x the time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_logs  # noqa: E402

# Runs the command in a child of its own, so that child's ru_maxrss starts from this launcher's
# small size; prints the wall time and the peak RSS on its last stderr line.
LAUNCH = (
    "import os, sys, time\n"
    "t = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, st, ru = os.wait4(pid, 0)\n"
    "dt = time.perf_counter() - t\n"
    "sys.stderr.write('\\nBENCH %.6f %d\\n' % (dt, ru.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n")

BARE = ("import sys\n"
        "n = 0\n"
        "with open(sys.argv[1], 'rb') as f:\n"
        "    while True:\n"
        "        b = f.read(8 << 20)\n"
        "        if not b: break\n"
        "        n += len(b)\n"
        "print(n)\n")

# The passes a scan can't avoid, alone: 8 MB readinto a reused buffer (as the scanner reads),
# then per chunk: newlines counted; + hyperscan over the chunk (stopping at the first hit, the
# cheapest a search can be); or the dense path's fold + split + Counter.
FLOOR = (
    "import sys, collections\n"
    "mode, path = sys.argv[1], sys.argv[2]\n"
    "buf = bytearray(8 << 20); mv = memoryview(buf); n = 0\n"
    "if mode == 'hyperscan':\n"
    "    import hyperscan\n"
    "    from tfhelp.kb.anchors import MultiLiteral\n"
    "    db = MultiLiteral(open(sys.argv[3]).read().split('\\n'), backend='hyperscan')._db\n"
    "    hits = [0]\n"
    "    def on_hit(*a): hits[0] += 1\n"
    "if mode == 'fold':\n"
    "    from tfhelp.kb.anchors import FOLD\n"
    "def newlines(b, lo, hi):  # kb.scan.newlines, inlined so no floor pays tfhelp's imports\n"
    "    return sum(min(hi, a + 65536) - a - len(bytes(mv[a:min(hi, a + 65536)]).replace(b'\\n', b''))\n"
    "               for a in range(lo, hi, 65536))\n"
    "with open(path, 'rb', buffering=0) as f:\n"
    "    while True:\n"
    "        k = f.readinto(buf)\n"
    "        if not k: break\n"
    "        n += newlines(buf, 0, k)\n"
    "        if mode == 'hyperscan':\n"
    "            db.scan(mv[:k], match_event_handler=on_hit)\n"
    "        elif mode == 'fold':\n"
    "            collections.Counter(bytes(mv[:k]).translate(FOLD).split(b'\\n'))\n"
    "print(n)\n")


def timed(cmd, env=None):
    """(wall seconds, peak RSS MB, stdout bytes) of one child run through the launcher."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        p = subprocess.run([sys.executable, "-S", "-c", LAUNCH, *cmd], stdout=out, stderr=errf, env=env)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        out.seek(0)
        text = out.read(16 << 20)
    tail = err.rstrip().rsplit("\n", 1)[-1].split()
    if p.returncode not in (0, 1) or len(tail) != 3 or tail[0] != "BENCH":
        raise SystemExit(f"{cmd[:4]} failed ({p.returncode}): {err[-3000:]}")
    return float(tail[1]), int(tail[2]) / 1024.0, text


def check_found(text: bytes, info, label: str) -> dict:
    """The run's JSON must name the planted cause and the ending at the lines they were put."""
    doc = json.loads(text)
    first = {d["id"]: d["first_line"] for d in doc["diagnoses"]}
    problems = []
    if first.get(gen_logs.PLANTED_RULES[0]) != info.root_line:
        problems.append(f"planted {gen_logs.PLANTED_RULES[0]} at line {info.root_line}: got {first.get(gen_logs.PLANTED_RULES[0])}")
    if first.get(gen_logs.ENDING_RULES[0]) != info.ending_line:
        problems.append(f"ending {gen_logs.ENDING_RULES[0]} at line {info.ending_line}: got {first.get(gen_logs.ENDING_RULES[0])}")
    explained = (doc.get("crash") or {}).get("explained_by") or []
    if gen_logs.ENDING_RULES[0] not in explained:
        problems.append(f"crash not explained by {gen_logs.ENDING_RULES[0]}: {explained}")
    if problems:
        raise SystemExit(f"{label}: " + "; ".join(problems))
    return doc


def synthetic_rules(folder: Path, count: int, seed: int = 7) -> None:
    """``count`` valid rules, each with its own literal anchor that never occurs in the log."""
    rnd = random.Random(seed)
    words = ["tensor", "kernel", "device", "graph", "session", "layer", "shape", "dtype", "buffer", "stream",
             "handle", "plugin", "thread", "module", "export", "vector", "matrix", "scalar", "replica", "shard"]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        phrase = " ".join(rnd.choice(words) for _ in range(4)) + f" zq{i:05d} failure"
        (folder / f"synthetic-{i:05d}.yaml").write_text(
            f"id: synthetic-{i:05d}\n"
            f"title: Synthetic rule {i}\n"
            "category: noise\n"
            "severity: warning\n"
            "confidence: high\n"
            f"summary: Synthetic benchmark rule number {i}.\n"
            "cause: |\n  Generated for the rule-scaling benchmark; never matches real logs.\n"
            "references:\n  - https://github.com/tensorflow/tensorflow/issues/1\n"
            f"anchors: [\"{phrase}\"]\n"
            "match:\n  all:\n"
            f"    - {{name: m, type: literal, value: \"{phrase}\"}}\n"
            "fixes:\n  - title: Nothing\n    steps:\n      - {action: manual, text: Nothing to do.}\n"
            f"examples:\n  match: [\"{phrase}\"]\n  no_match: [\"unrelated text\"]\n")


def measure(cmds: dict, repeat: int, check) -> dict:
    """{name: (median s, max peak MB, all times)}: each round runs every command once."""
    times = {k: [] for k in cmds}
    rss = {k: 0.0 for k in cmds}
    for _ in range(repeat):
        for name, (cmd, env) in cmds.items():
            dt, mb, text = timed(cmd, env)
            if check.get(name):
                check[name](text)
            times[name].append(dt)
            rss[name] = max(rss[name], mb)
    return {k: (statistics.median(v), rss[k], v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256, help="log size per shape (default 256; issue 12: 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (the median is kept; default 3)")
    ap.add_argument("--shapes", default=",".join(gen_logs.SHAPES), help="comma-separated shapes")
    ap.add_argument("--workdir", help="where to write the logs (default: a temp dir, removed after)")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor-* passes")
    ap.add_argument("--scaling", action="store_true", help="also the 10x / 100x rule-scaling runs (sparse log)")
    ap.add_argument("--no-scaling", action="store_true", help=argparse.SUPPRESS)  # the old default
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]

    from tfhelp.kb.loader import load_ruleset
    from tfhelp.kb.scan import anchors_of

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="tfhelp-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ, TFHELP_USER_RULES=str(tmp / "no-user-rules"), TFHELP_CACHE_DIR=str(tmp / "cache"))
    base_env.pop("TFHELP_PREFILTER", None)
    pure_env = dict(base_env, TFHELP_PREFILTER="ahocorasick")
    size = args.size_mb << 20
    ruleset = load_ruleset(user_rules=False)
    anchors = anchors_of(ruleset)
    (tmp / "anchors.txt").write_text("\n".join(anchors) + "\n")
    results = {"size_mb": args.size_mb, "rules": len(ruleset.rules), "anchors": len(anchors),
               "repeat": args.repeat, "cpus": os.cpu_count(), "shapes": {}}
    try:
        for shape in shapes:
            log = tmp / f"{shape}.log"
            t = time.perf_counter()
            info = gen_logs.generate(log, size, shape)
            share = gen_logs.anchor_share(log, anchors) if size <= (256 << 20) else None
            print(f"generated {shape} log: {size >> 20} MB, {info.lines} lines in {time.perf_counter() - t:.1f} s"
                  + (f", {share:.1%} of lines hit an anchor" if share is not None else ""), flush=True)
            tf = [sys.executable, "-m", "tfhelp", "--from-log", str(log), "--json"]
            cmds = {
                "bare": ([sys.executable, "-c", BARE, str(log)], None),
                "default": (tf, base_env),
                "pure": (tf, pure_env),
            }
            if shutil.which("grep"):
                cmds["grep"] = (["grep", "-c", "-F", "-f", str(tmp / "anchors.txt"), str(log)], None)
            if not args.no_floor:
                cmds["floor-newlines"] = ([sys.executable, "-c", FLOOR, "count", str(log)], None)
                cmds["floor-hyperscan"] = ([sys.executable, "-c", FLOOR, "hyperscan", str(log),
                                             str(tmp / "anchors.txt")], base_env)
                cmds["floor-fold-split-count"] = ([sys.executable, "-c", FLOOR, "fold", str(log)], None)
            empty = tmp / "one-line.log"
            empty.write_bytes(b"Epoch 1/1\n")
            cmds["startup"] = ([sys.executable, "-m", "tfhelp", "--from-log", str(empty), "--json"], base_env)
            docs = {}

            def checker(name):
                def check(text):
                    docs[name] = check_found(text, info, f"{shape}/{name}")
                return check

            timed(cmds["bare"][0])          # page cache
            timed(tf, base_env)             # rule cache, hyperscan database cache
            m = measure(cmds, args.repeat, {"default": checker("default"), "pure": checker("pure")})
            bare = m["bare"][0]
            row = {name: {"s": s, "rss_mb": mb, "runs": runs, "ratio_bare": s / bare} for name, (s, mb, runs) in m.items()}
            d = docs["default"]
            row["info"] = {"lines": info.lines, "root_line": info.root_line, "ending_line": info.ending_line,
                           "anchor_share": share, "prefilter": d["scan"]["prefilter"],
                           "prefilter_pure": docs["pure"]["scan"]["prefilter"],
                           "candidate_lines": d["scan"]["candidate_lines"], "windows": d["scan"]["windows"],
                           "scan_seconds": d["scan"]["seconds"],
                           "findings": [(x["id"], x["first_line"], x["count"]) for x in d["diagnoses"]]}
            row["pure_vs_default"] = m["pure"][0] / m["default"][0]
            results["shapes"][shape] = row
            print(f"\n{shape}, {size >> 20} MB ({row['info']['candidate_lines']} candidate lines, "
                  f"{row['info']['windows']} engine calls; prefilter {row['info']['prefilter']}), "
                  f"median of {args.repeat} interleaved runs:")
            print(f"  {'measure':26} {'s':>8} {'x bare':>8} {'peak MB':>8}")
            for name, (s, mb, _runs) in m.items():
                print(f"  {name:26} {s:8.3f} {s / bare:8.2f} {mb:8.1f}")
            ok = lambda c: "ok" if c else "MISSED"  # noqa: E731
            print(f"  default <= 2x bare: {ok(m['default'][0] <= 2 * bare)}; RSS < 200 MB: "
                  f"{ok(m['default'][1] < 200 and m['pure'][1] < 200)}; pure <= 3x default: "
                  f"{ok(row['pure_vs_default'] <= 3)} ({row['pure_vs_default']:.2f}x); planted cause and ending "
                  f"found by both: ok", flush=True)
        headline = results["shapes"].get("dense") or next(iter(results["shapes"].values()))
        # flat keys for benchmarks/run_all.py (the dense log is the issue's headline)
        results.update(bare_s=headline["bare"]["s"], grep_s=headline.get("grep", {}).get("s", float("nan")),
                       scan_s=headline["default"]["s"], scan_rss_mb=headline["default"]["rss_mb"],
                       pure_s=headline["pure"]["s"], pure_rss_mb=headline["pure"]["rss_mb"],
                       prefilter=headline["info"]["prefilter"], findings=headline["info"]["findings"])
        if args.scaling and "sparse" in shapes:
            log = tmp / "sparse.log"
            tf = [sys.executable, "-m", "tfhelp", "--from-log", str(log), "--json"]
            n = len(ruleset.rules)
            print(f"\nrule scaling on the sparse log ({n} shipped rules):")
            cmds = {"x1": (tf, base_env)}
            for factor in (10, 100):
                folder = tmp / f"rules-x{factor}"
                synthetic_rules(folder, n * (factor - 1))
                cmds[f"x{factor}"] = (tf + ["--rules", str(folder)], base_env)
                timed(cmds[f"x{factor}"][0], base_env)  # builds the rule cache once
            inner = {k: [] for k in cmds}   # the scan alone, as the JSON reports it (no start-up)

            def keep(name):
                return lambda text: inner[name].append(json.loads(text)["scan"]["seconds"])

            m = measure(cmds, args.repeat, {k: keep(k) for k in cmds})
            scan1 = statistics.median(inner["x1"])
            for factor in (10, 100):
                r = m[f"x{factor}"][0] / m["x1"][0]
                rs = statistics.median(inner[f"x{factor}"]) / scan1
                print(f"  {factor:3d}x rules ({n * factor:6d}): whole command {m[f'x{factor}'][0]:.2f} s = {r:.2f}x; "
                      f"scan alone {rs:.2f}x (target < 2x at 100x); peak {m[f'x{factor}'][1]:.0f} MB")
                results[f"scale_{factor}x_s"] = m[f"x{factor}"][0]
                results[f"scale_{factor}x_ratio"] = r
                results[f"scale_{factor}x_scan_ratio"] = rs
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
