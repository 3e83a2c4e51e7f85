"""Log-scan benchmark: `tfhelp --from-log` on a generated TensorFlow/Keras training log.

Compares, in the same run and on the same (page-cached) file:
  (a) a bare Python loop reading the file in 8 MB chunks,
  (b) `grep -c -F -f anchors.txt` with the literal anchors of tfhelp's rules,
  (c) `tfhelp --from-log FILE --json` (prefilter: hyperscan when installed),
  (d) the same with the pure-Python prefilter (pyahocorasick),
and the peak RSS of each child (os.wait4).  Then the rule-scaling check: the scan again with
10x and 100x synthetic rules added through --rules.

    python benchmarks/bench_logscan.py                 # 256 MB log, quick
    python benchmarks/bench_logscan.py --size-mb 1024  # the 1 GB figure
    python benchmarks/bench_logscan.py --json out.json

Targets (issue 5): (c) within 2x of (a); (c) no slower than (b); peak memory < 200 MB;
100x rules < 2x the time with the shipped rules.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIT_LOG = ROOT / "corpus" / "logs" / "keras-fit-clean" / "run.log"

OOM = (b"2024-05-02 10:11:12.123456: W tensorflow/core/framework/op_kernel.cc:1828] OP_REQUIRES failed at "
       b"conv_ops.cc:1068 : RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[256,64,112,112] and type "
       b"float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n"
       b"Traceback (most recent call last):\n"
       b"  File \"/home/u/train.py\", line 52, in <module>\n"
       b"    model.fit(ds, epochs=30)\n"
       b"  File \"/usr/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py\", line 122, in error_handler\n"
       b"    raise e.with_traceback(filtered_tb) from None\n"
       b"tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:\n"
       b"OOM when allocating tensor with shape[256,64,112,112] and type float on "
       b"/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n")

STARTUP = (b"2024-05-02 10:00:01.000001: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. "
           b"You may see slightly different numerical results due to floating-point round-off errors from "
           b"different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
           b"2024-05-02 10:00:02.000002: I tensorflow/core/common_runtime/gpu/gpu_device.cc:2021] Created device "
           b"/job:localhost/replica:0/task:0/device:GPU:0 with 22282 MB memory:  -> device: 0, name: NVIDIA A10G, "
           b"pci bus id: 0000:00:1e.0, compute capability: 8.6\n")


def epoch_block() -> bytes:
    """One epoch as Keras prints it: from the real captured fit log when present (pty: CRLF,
    ANSI colours, backspaces, \\r progress redraws), else a synthetic one in the same style."""
    if FIT_LOG.is_file():
        data = FIT_LOG.read_bytes()
        if b"Epoch 1/3" in data and b"Epoch 2/3" in data:
            return b"Epoch 1/3" + data.split(b"Epoch 1/3", 1)[1].split(b"Epoch 2/3", 1)[0]
    steps = b"\r".join(b"\x1b[1m%3d/100\x1b[0m \x1b[32m" % i + b"=" * (i // 5) + b"\x1b[0m - 14ms/step - loss: 0.6%03d"
                       % (i * 7 % 1000) for i in range(1, 101))
    return b"Epoch 1/3\r\n" + steps + b" - val_loss: 0.5952\r\n"


def retracing(i: int) -> bytes:
    return (b"WARNING:tensorflow:5 out of the last 9 calls to <function Model.make_predict_function.<locals>."
            b"predict_function at 0x7f%06x> triggered tf.function retracing. Tracing is expensive.\n" % i)


def generate(path: Path, size: int, warn_every: int = 200) -> None:
    """A TF-style training log of ``size`` bytes: start-up notices, epochs of progress bars,
    a periodic INFO line, a retracing warning every ``warn_every`` epochs, and one real error
    (an OOM traceback) in the middle."""
    epoch = epoch_block()
    parts = []
    for i in range(2000):
        parts.append(epoch.replace(b"Epoch 1/3", b"Epoch %d/100000" % (i + 1)))
        parts.append(b"INFO:root:checkpoint saved to /ckpt/model-%05d.keras (val_loss improved)\n" % i)
        if warn_every and i % warn_every == 0:
            parts.append(retracing(i))
    block = b"".join(parts)
    with open(path, "wb") as fh:
        fh.write(STARTUP)
        written, planted = len(STARTUP), False
        while written < size:
            if not planted and written >= size // 2:
                fh.write(OOM)
                written += len(OOM)
                planted = True
            piece = block[: size - written] if size - written < len(block) else block
            cut = piece.rfind(b"\n") + 1 or len(piece)
            fh.write(piece[:cut])
            written += cut


TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None


def timed(cmd, env=None):
    """(seconds, peak RSS in MB, in-process scan seconds or None) of one child.  Output goes to a
    real file: GNU grep stops at the first match when its output is /dev/null.  Peak RSS comes
    from /usr/bin/time when present: on Linux a child's own ru_maxrss starts from the RSS of the
    process it was forked from (this benchmark, with the rules loaded), which would inflate it."""
    rss_file = tempfile.NamedTemporaryFile(delete=False)
    rss_file.close()
    if TIME:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=errf, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read()
        out.seek(0)
        text = out.read(4 << 20)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed ({p.returncode}): {err.decode(errors='replace')[-2000:]}")
    rss_mb = usage.ru_maxrss / 1024.0
    if TIME:
        try:
            rss_mb = int(Path(rss_file.name).read_text().split()[-1]) / 1024.0
        except (OSError, ValueError, IndexError):
            pass
    os.unlink(rss_file.name)
    inner = None
    if text.startswith(b"{"):
        try:
            inner = json.loads(text)["scan"]["seconds"]
        except (ValueError, KeyError, TypeError):
            inner = None
    return dt, rss_mb, inner


def best(cmd, repeat, env=None):
    """(best wall seconds, worst peak RSS MB, best in-process scan seconds or None)."""
    runs = [timed(cmd, env=env) for _ in range(repeat)]
    inner = [r[2] for r in runs if r[2] is not None]
    return min(r[0] for r in runs), max(r[1] for r in runs), (min(inner) if inner else None)


BARE = ("import sys\n"
        "n = 0\n"
        "with open(sys.argv[1], 'rb') as f:\n"
        "    while True:\n"
        "        b = f.read(8 << 20)\n"
        "        if not b: break\n"
        "        n += len(b)\n"
        "print(n)\n")


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256, help="log size (default 256; the issue's figure is 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    ap.add_argument("--workdir", help="where to write the log (default: a temp dir, removed after)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 10x / 100x rule-scaling runs")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    from tfhelp.kb.loader import load_ruleset
    from tfhelp.kb.scan import anchors_of

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="tfhelp-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TFHELP_USER_RULES=str(tmp / "no-user-rules"), TFHELP_CACHE_DIR=str(tmp / "cache"))
    try:
        log = tmp / "train.log"
        size = args.size_mb << 20
        t = time.perf_counter()
        generate(log, size)
        print(f"generated {log} ({size >> 20} MB) in {time.perf_counter() - t:.1f} s")
        ruleset = load_ruleset(user_rules=False)
        anchors = anchors_of(ruleset)
        (tmp / "anchors.txt").write_text("\n".join(anchors) + "\n")
        try:
            import hyperscan  # noqa: F401
            have_hs = True
        except ImportError:
            have_hs = False

        tf = [sys.executable, "-m", "tfhelp", "--from-log", str(log), "--json"]
        timed(tf, env=env)  # warm the page cache and the rule cache
        results = {"size_mb": size >> 20, "rules": len(ruleset.rules), "anchors": len(anchors),
                   "hyperscan": have_hs}
        bare = best([sys.executable, "-c", BARE, str(log)], args.repeat)
        grep = best(["grep", "-c", "-F", "-f", str(tmp / "anchors.txt"), str(log)], args.repeat) \
            if shutil.which("grep") else (float("nan"), float("nan"))
        scan = best(tf, args.repeat, env=env)
        pure = best([sys.executable, "-m", "tfhelp", "log", str(log), "--json", "--prefilter", "ahocorasick"],
                    max(1, args.repeat - 1), env=env)
        out = subprocess.run(tf, capture_output=True, env=env)
        doc = json.loads(out.stdout)
        found = [(d["id"], d["first_line"], d["count"]) for d in doc["diagnoses"]]
        gb = size / 1e9
        results.update(bare_s=bare[0], grep_s=grep[0], scan_s=scan[0], scan_rss_mb=scan[1],
                       pure_s=pure[0], pure_rss_mb=pure[1], findings=found,
                       prefilter=doc["scan"]["prefilter"])
        print(f"\nlog scan, {size >> 20} MB, {len(ruleset.rules)} rules / {len(anchors)} anchors "
              f"(prefilter {doc['scan']['prefilter']}):")
        print(f"  {'measure':44} {'s':>7} {'s/GB':>7} {'peak MB':>8}")
        rows = [
            ("(a) bare Python 8 MB chunk read", bare, None),
            ("(b) grep -c -F -f anchors.txt", grep, None),
            ("tfhelp --from-log", scan, None),
            ("tfhelp --from-log --prefilter ahocorasick", pure, None),
        ]
        for name, (s, rss, _inner), _ in rows:
            print(f"  {name:44} {s:7.2f} {s / gb:7.2f} {rss:8.1f}")
        print(f"  scan / bare read : {scan[0] / bare[0]:6.2f}x  (target <= 2x)")
        print(f"  scan / grep      : {scan[0] / grep[0]:6.2f}x  (target <= 1x)")
        print(f"  peak RSS         : {scan[1]:6.1f} MB (target < 200 MB)")
        print(f"  pure-Python scan / bare read : {pure[0] / bare[0]:6.2f}x, / grep : {pure[0] / grep[0]:6.2f}x")
        print(f"  (in-process scan time, without start-up and rule loading: {scan[2]:.2f} s hyperscan, "
              f"{pure[2]:.2f} s pure Python)")
        print(f"  findings: {found}")
        results.update(ratio_bare=scan[0] / bare[0], ratio_grep=scan[0] / grep[0])

        if not args.no_scaling:
            n = len(ruleset.rules)
            print(f"\nrule scaling ({n} shipped rules):")
            base = scan[0]
            for factor in (10, 100):
                folder = tmp / f"rules-x{factor}"
                synthetic_rules(folder, n * (factor - 1))
                cmd = tf + ["--rules", str(folder)]
                timed(cmd, env=env)  # builds the rule cache once
                s = best(cmd, args.repeat, env=env)
                sp = best([sys.executable, "-m", "tfhelp", "log", str(log), "--json", "--prefilter", "ahocorasick",
                           "--rules", str(folder)], max(1, args.repeat - 1), env=env)
                print(f"  {factor:3d}x rules ({n * factor:6d}): wall {s[0]:6.2f} s = {s[0] / base:5.2f}x; "
                      f"scan alone {s[2]:6.2f} s = {s[2] / scan[2]:5.2f}x (target < 2x at 100x); "
                      f"pure-Python wall {sp[0] / pure[0]:5.2f}x, scan alone {sp[2] / pure[2]:5.2f}x; peak {s[1]:.0f} MB")
                results[f"scale_{factor}x_scan_ratio"] = s[2] / scan[2]
                results[f"scale_{factor}x_pure_scan_ratio"] = sp[2] / pure[2]
                results[f"scale_{factor}x_s"] = s[0]
                results[f"scale_{factor}x_ratio"] = s[0] / base
                results[f"scale_{factor}x_pure_ratio"] = sp[0] / pure[0]
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
