"""Wrapper overhead of `tfhelp run`: each workload run directly and under tfhelp, alternating, in
the same run; wall time, CPU time and the bytes that reached the terminal.

    python benchmarks/bench_run.py                        # both workloads, pipe and pty, 5 rounds
    python benchmarks/bench_run.py --workload lines --mode pty --repeat 9

Workloads (both scripts use the standard library only):

* ``lines``: 1,000,000 short lines (54 MB).  Under a pty Python's stdout is line-buffered, as
  C stdio's is, so that is a million write() calls - the same in both runs.
* ``fit``: a Keras 2 ``model.fit`` on a terminal: TensorFlow start-up lines on stderr, the
  progress bar redrawn after every one of 938 steps x 100 epochs ("\\b" x previous width, "\\r",
  the bar; one write + flush each, as keras.utils.Progbar does when stdout is a terminal), a
  120 KB line every 10 epochs, and a final ResourceExhaustedError traceback (exit status 1), so
  tfhelp also diagnoses the kept output: that cost is part of the figure.
* ``fit-ok``: the same output without the traceback, exit status 0: the relay alone.
* ``hello``: one line, exit status 0: tfhelp's fixed cost (start-up, spawn, exit), which the
  other figures include once; a real training run lasts minutes, these last seconds.

Modes: ``pipe`` (stdout and stderr to files) and ``pty`` (under util-linux
``script -qec CMD /dev/null`` with script's stdout to a file: exactly the bytes that reached the
terminal).  Identity: pipe - the stdout files are equal and the wrapped stderr starts with the
direct one; pty - the wrapped typescript starts with the direct one, and anything after it is
tfhelp's own report (only a failing script gets one).

Rounds alternate direct / wrapped after one warm-up of each; reported: medians, the ratio of the
medians, and the median of the per-round ratios (each pair ran moments apart, which matters on
a machine shared with other jobs: the load average is printed beside the figures).  CPU is user
+ system time of the whole process tree (wait4).  PYTHONDONTWRITEBYTECODE is removed from the
environment: an installed tfhelp has its bytecode, and compiling every module on every start
would be measured otherwise.

Target (issue 12): wrapped <= 1.10x direct, bytes identical.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO_SCRIPT = 'print("hello")\n'

LINES_SCRIPT = """\
import sys
w = sys.stdout.write
for i in range({lines}):
    w("step %d/{lines} - loss: 0.%04d - accuracy: 0.%04d\\n" % (i, i % 10000, (i * 7) % 10000))
sys.stderr.write("done\\n")
"""

# The progress-bar format follows keras.utils.Progbar (Keras 2: "\b" * previous width, then
# "\r", then "N/T [===>....] - ETA: ..."; the epoch's last update ends with the step time and
# the validation metrics), e.g. https://github.com/keras-team/keras/pull/8169; the traceback
# shape and the OOM message follow https://github.com/hotosm/fAIr/issues/59 and
# https://github.com/Azure/MachineLearningNotebooks/issues/880.
FIT_SCRIPT = r'''
import sys

EPOCHS, STEPS = {epochs}, 938
out, err = sys.stdout, sys.stderr
err.write("2024-05-02 09:14:07.512345: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. "
          "You may see slightly different numerical results due to floating-point round-off errors from "
          "different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")
err.write("2024-05-02 09:14:08.001234: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow "
          "binary is optimized to use available CPU instructions in performance-critical operations.\n"
          "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
          "appropriate compiler flags.\n")
loss, acc = 2.3, 0.1
for epoch in range(1, EPOCHS + 1):
    out.write("Epoch %d/%d\n" % (epoch, EPOCHS))
    prev = 0
    for step in range(1, STEPS + 1):
        loss = loss * 0.99995 + 0.00001 * (step % 7)
        acc = min(0.9999, acc + 0.00001)
        done = 30 * step // STEPS
        bar = "%3d/%d [%s%s%s]" % (step, STEPS, "=" * max(done - 1, 0), ">" if step < STEPS else "=",
                                  "." * (30 - done))
        if step < STEPS:
            line = bar + " - ETA: %ds - loss: %.4f - accuracy: %.4f" % ((STEPS - step) // 40, loss, acc)
        else:
            line = bar + " - 24s 25ms/step - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f" % (
                loss, acc, loss * 1.1, acc * 0.98)
        out.write("\b" * prev + "\r" + line)
        out.flush()
        prev = len(line)
    out.write("\n")
    if epoch % 10 == 0:
        out.write("val predictions: [" + ", ".join("%.6f" % ((i * 7919 % 1000) / 1000) for i in range(12000)) + "]\n")
out.flush()
if {status}:
    err.write("""Traceback (most recent call last):
  File "/home/user/project/train.py", line 58, in <module>
    history = model.fit(train_ds, validation_data=val_ds, epochs=%d)
  File "/home/user/venv/lib/python3.10/site-packages/keras/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/home/user/venv/lib/python3.10/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:

OOM when allocating tensor with shape[64,256,56,56] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc
\t [[{{{{node model/conv2d_7/Conv2D}}}}]]
Hint: If you want to see a list of allocated tensors when OOM happens, add report_tensor_allocations_upon_oom to RunOptions for current allocation info.
 [Op:__inference_train_function_4321]
""" % EPOCHS)
sys.exit({status})
'''


def _run(cmd, out_path: Path, err_path: Path, env) -> tuple:
    """(wall seconds, CPU seconds of the whole tree, exit status)."""
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def _identity(mode: str, tmp: Path, label: str) -> dict:
    """Compare what the two runs left; see the module docstring for what counts as identical."""
    d_out, w_out = (tmp / f"{label}-direct.out").read_bytes(), (tmp / f"{label}-wrapped.out").read_bytes()
    d_err, w_err = (tmp / f"{label}-direct.err").read_bytes(), (tmp / f"{label}-wrapped.err").read_bytes()
    if mode == "pipe":
        same = d_out == w_out and w_err.startswith(d_err)
        extra = w_err[len(d_err):] if same else b""
    else:
        same = w_out.startswith(d_out)
        extra = w_out[len(d_out):] if same else b""
    return {"identical": same, "bytes": len(d_out) + (len(d_err) if mode == "pipe" else 0),
            "tfhelp_extra_bytes": len(extra), "tfhelp_extra_starts": extra[:40].decode("utf-8", "replace")}


def measure(direct, wrapped, tmp: Path, repeat: int, env, mode: str, workload: str) -> dict:
    label = f"{workload}-{mode}"
    paths = {k: (tmp / f"{label}-{k}.out", tmp / f"{label}-{k}.err") for k in ("direct", "wrapped")}
    _run(direct, *paths["direct"], env)  # warm-up: imports, bytecode, page cache, rule cache
    _run(wrapped, *paths["wrapped"], env)
    load0 = os.getloadavg()[0]
    runs = {"direct": [], "wrapped": []}
    statuses = set()
    for i in range(repeat):
        order = ("direct", "wrapped") if i % 2 == 0 else ("wrapped", "direct")
        for k in order:
            wall, cpu, status = _run(direct if k == "direct" else wrapped, *paths[k], env)
            runs[k].append((wall, cpu))
            statuses.add((k, status))
    load1 = os.getloadavg()[0]
    med = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    pair = statistics.median(w[0] / d[0] for d, w in zip(runs["direct"], runs["wrapped"]))
    names = {"lines": mode, "fit": f"{mode}, keras-fit output + diagnosis", "fit-ok": f"{mode}, keras-fit output",
             "hello": f"{mode}, one line (fixed cost)"}
    res = {"mode": names[workload], "workload": workload,
           "direct_median_s": med["direct"], "wrapped_median_s": med["wrapped"],
           "direct_best_s": min(w for w, _ in runs["direct"]), "wrapped_best_s": min(w for w, _ in runs["wrapped"]),
           "ratio_of_medians": med["wrapped"] / med["direct"], "median_pair_ratio": pair,
           "direct_cpu_median_s": cpu["direct"], "wrapped_cpu_median_s": cpu["wrapped"],
           "cpu_ratio": cpu["wrapped"] / cpu["direct"],
           "overhead_median_pct": 100 * (med["wrapped"] / med["direct"] - 1),
           "exit_statuses": sorted({s for _, s in statuses}), "same_exit_status":
               len({s for k, s in statuses if k == "direct"} | {s for k, s in statuses if k == "wrapped"}) == 1,
           "rounds": repeat, "loadavg_1min": [round(load0, 2), round(load1, 2)]}
    res.update(_identity(mode, tmp, label))
    extra = f", +{1000 * (med['wrapped'] - med['direct']):.0f} ms" if workload == "hello" else ""
    print(f"{workload:6} {mode:4}  direct {med['direct']:.3f} s, tfhelp run {med['wrapped']:.3f} s (medians of "
          f"{repeat}): {res['ratio_of_medians']:.3f}x{extra}, per-round {pair:.3f}x; CPU {cpu['direct']:.2f} s vs "
          f"{cpu['wrapped']:.2f} s ({res['cpu_ratio']:.2f}x); {res['bytes']:,} bytes, identical: {res['identical']}"
          f"{' (+ %d bytes of tfhelp report)' % res['tfhelp_extra_bytes'] if res['tfhelp_extra_bytes'] else ''}; "
          f"exit {res['exit_statuses']}; load {load0:.1f} -> {load1:.1f}", flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines printed by the 'lines' workload")
    ap.add_argument("--epochs", type=int, default=100, help="epochs of the 'fit' workload (938 steps each)")
    ap.add_argument("--repeat", type=int, default=5, help="rounds per case (>= 5 for the README figures)")
    ap.add_argument("--workload", choices=("hello", "lines", "fit", "fit-ok", "all"), default="all")
    ap.add_argument("--mode", choices=("pipe", "pty", "all"), default="all")
    ap.add_argument("--pty", action="store_true", help="kept for old callers: pty is measured by default")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    env = dict(os.environ, TFHELP_USER_RULES="/nonexistent-tfhelp-user-rules")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    modes = ["pipe", "pty"] if args.mode == "all" else [args.mode]
    if "pty" in modes and not shutil.which("script"):
        print("pty: util-linux `script` not found, measuring pipes only")
        modes.remove("pty")
    workloads = ["hello", "lines", "fit", "fit-ok"] if args.workload == "all" else [args.workload]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other jobs share this machine)")
    tmp = Path(tempfile.mkdtemp(prefix="tfhelp-bench-run-"))
    results = []
    try:
        for workload in workloads:
            script = tmp / f"{workload}.py"
            if workload == "hello":
                body = HELLO_SCRIPT
            elif workload == "lines":
                body = LINES_SCRIPT.format(lines=args.lines)
            else:
                body = FIT_SCRIPT.format(epochs=args.epochs, status=int(workload == "fit"))
            script.write_text(body)
            py = sys.executable
            direct = [py, str(script)]
            wrapped = [py, "-m", "tfhelp", "run", "--python", py, str(script)]
            for mode in modes:
                if mode == "pty":
                    results.append(measure(["script", "-qec", shlex.join(direct), "/dev/null"],
                                           ["script", "-qec", shlex.join(wrapped), "/dev/null"],
                                           tmp, args.repeat, env, mode, workload))
                else:
                    results.append(measure(direct, wrapped, tmp, args.repeat, env, mode, workload))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
