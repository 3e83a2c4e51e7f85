"""Generate realistic TensorFlow/Keras training logs of a given size for the log-scan benchmark.

Why a generator: the scan's cost used to grow with the number of anchor hits, so a benchmark on a
log where anchors almost never hit (the only shape measured before issue 12) said nothing about
logs of many restarts or of a warning printed at every step.  Three shapes, same ending:

* ``sparse``  - one start-up, then epochs of Keras progress output (the real pty capture in
  ``corpus/logs/keras-fit-clean/run.log``: CRLF, ANSI colours, ``\\r`` redraws, backspaces) and
  checkpoint INFO lines; a retracing warning about once per 2,000 epochs.  Anchors almost never hit.
* ``dense``   - a job restarted over and over (a preempted or crash-looping pod): each restart
  prints TensorFlow's start-up notices (cuDNN/cuFFT/cuBLAS factory registration, absl, CPU
  feature guard, TF-TRT, NUMA, oneDNN), then trains a few epochs (``verbose=2`` lines) with
  retracing and allocator warnings in between.  At least 20% of the lines hit a rule anchor.
  Timestamps, PIDs, pod names, addresses and sizes differ from line to line, so exact-line
  de-duplication is not enough; the messages repeat, as in real logs.
* ``repeated`` - one warning (the BFC allocator's "ran out of memory trying to allocate")
  printed at every step, with its timestamp advancing.

Every shape has a planted root cause in the middle (a GPU OOM: ``RESOURCE_EXHAUSTED`` and its
``ResourceExhaustedError`` traceback, after which the job restarts) and the same ending: the
last restart lands on a node whose CPU lacks AVX, TensorFlow aborts with an F-level line and the
shell reports ``Aborted (core dumped)``.  :func:`generate` returns where those were written so a
benchmark (or test) can check that the scan reported them at the right line.

The line shapes are copied from real reports (text of TensorFlow's own messages, not prose):
start-up notices: https://github.com/tensorflow/tensorflow/issues/62075,
https://github.com/kr-colab/ReLERNN/issues/63, https://github.com/bmaltais/kohya_ss/issues/3320;
retracing: https://github.com/tensorflow/tensorflow/issues/46012,
https://github.com/google-parfait/tensorflow-federated/issues/2794;
allocator warnings and the OOM: ``corpus/memory/*`` (their meta.yaml cite the reports);
AVX abort: ``corpus/cpu/*``.  The Keras epoch output comes from ``corpus/logs/keras-fit-clean``.

    python benchmarks/gen_logs.py dense 1024 /tmp/dense.log   # shape, size in MB, path
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIT_LOG = ROOT / "corpus" / "logs" / "keras-fit-clean" / "run.log"
SHAPES = ("sparse", "dense", "repeated")

#: rule ids the planted events must be reported as (checked by bench_logscan and the tests)
PLANTED_RULES = ("gpu-oom-resource-exhausted",)
ENDING_RULES = ("cpu-avx-required-abort",)

# The body is made of VARIANTS pieces of up to PERIOD bytes, each generated line by line (its
# own timestamps, PIDs, addresses), then written again in turn: 1 GB takes seconds to generate,
# and within any 16 MB stretch (two scan chunks) timestamps, PIDs and addresses never repeat.
PERIOD = 4 << 20
VARIANTS = 4

_PODS = ["trainer-%s-%s" % (a, b) for a, b in
         (("7d9f8b", "xk2lp"), ("5c6b4d", "qwmzt"), ("84fbc7", "ahvne"), ("6f4d9c", "pljrd"),
          ("9bd7f5", "tnxcs"), ("c7f58d", "bqkzu"), ("5d8c9f", "mrwye"), ("f6b4c8", "jvdgo"))]
_FUNCS = ["Model.make_train_function.<locals>.train_function",
          "Model.make_test_function.<locals>.test_function",
          "Model.make_predict_function.<locals>.predict_function",
          "TensorFlowTrainer.make_train_function.<locals>.one_step_on_iterator",
          "train_step", "distributed_train_step", "_get_action_body"]
_GPUS = ["NVIDIA A10G", "Tesla V100-SXM2-16GB", "NVIDIA A100-SXM4-40GB", "Tesla T4"]


@dataclass
class Planted:
    """Where the generator put what the scan must find (1-based line numbers)."""

    shape: str
    size: int = 0
    lines: int = 0
    root_line: int = 0          # first line of the planted OOM (the OP_REQUIRES warning)
    root_end: int = 0           # its exception line
    ending_line: int = 0        # the F-level AVX abort line
    hit_share: float = 0.0      # share of lines that hold a rule anchor (measured by the caller)
    expected: list = field(default_factory=lambda: list(PLANTED_RULES + ENDING_RULES))


class _Clock:
    """A timestamp that moves forward a little with each line, as a running job's would."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.t = 1_714_600_000.0 + rng.random() * 1000  # early May 2024

    def tick(self, lo: float = 0.0005, hi: float = 0.05) -> float:
        self.t += self.rng.uniform(lo, hi)
        return self.t

    def stamp(self) -> str:
        import time

        t = self.tick()
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + ".%06d" % int((t % 1) * 1e6)

    def glog(self, level: str, pid: int) -> str:
        t = self.tick()
        return "%s0000 00:00:%.6f %7d" % (level, t, pid)


def _startup(clock: _Clock, rng: random.Random, pod: str, gpus: int) -> list:
    """TensorFlow 2.15-2.18 start-up notices on a GPU node, one restart's worth."""
    pid = rng.randint(100, 4_000_000)
    s = clock.stamp
    out = [
        f"[{pod}] starting training job, attempt {rng.randint(1, 999)}",
        f"{s()}: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:485] Unable to register cuFFT "
        "factory: Attempting to register factory for plugin cuFFT when one has already been registered",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        f"{clock.glog('E', pid)} cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register "
        "factory for plugin cuDNN when one has already been registered",
        f"{clock.glog('E', pid)} cuda_blas.cc:1418] Unable to register cuBLAS factory: Attempting to register "
        "factory for plugin cuBLAS when one has already been registered",
        f"{s()}: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use "
        "available CPU instructions in performance-critical operations.",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with "
        "the appropriate compiler flags.",
        f"{s()}: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT",
    ]
    for _ in range(gpus):
        out.append(f"{s()}: I external/local_xla/xla/stream_executor/cuda/cuda_executor.cc:1015] successful NUMA "
                   "node read from SysFS had negative value (-1), but there must be at least one NUMA node, so "
                   "returning NUMA node zero. See more at https://github.com/torvalds/linux/blob/v6.0/"
                   "Documentation/ABI/testing/sysfs-bus-pci#L344-L355")
    for g in range(gpus):
        out.append(f"{s()}: I tensorflow/core/common_runtime/gpu/gpu_device.cc:2021] Created device "
                   f"/job:localhost/replica:0/task:0/device:GPU:{g} with {rng.randint(13000, 39000)} MB memory:  "
                   f"-> device: {g}, name: {rng.choice(_GPUS)}, pci bus id: 0000:00:{0x1b + g:02x}.0, "
                   f"compute capability: {rng.choice(('7.0', '7.5', '8.0', '8.6'))}")
    out.append(f"{s()}: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. You may see slightly "
               "different numerical results due to floating-point round-off errors from different computation "
               "orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.")
    return out


def _retracing(rng: random.Random) -> str:
    n = rng.randint(5, 11)
    return (f"WARNING:tensorflow:{n} out of the last {n + rng.randint(0, 6)} calls to <function "
            f"{rng.choice(_FUNCS)} at 0x7f{rng.getrandbits(40):010x}> triggered tf.function retracing. Tracing is "
            "expensive and the excessive number of tracings could be due to (1) creating @tf.function repeatedly "
            "in a loop, (2) passing tensors with different shapes, (3) passing Python objects instead of tensors. "
            "For (1), please define your @tf.function outside of the loop. For (2), @tf.function has "
            "reduce_retracing=True option that can avoid unnecessary retracing. For (3), please refer to "
            "https://www.tensorflow.org/guide/function#controlling_retracing and "
            "https://www.tensorflow.org/api_docs/python/tf/function for  more details.")


def _allocator(clock: _Clock, rng: random.Random) -> str:
    size = rng.choice(("%.2fGiB" % rng.uniform(1, 9), "%.2fMiB" % rng.uniform(10, 900)))
    return (f"{clock.stamp()}: W tensorflow/core/common_runtime/bfc_allocator.cc:291] Allocator (GPU_0_bfc) ran "
            f"out of memory trying to allocate {size} with freed_by_count=0. The caller indicates that this is "
            "not a failure, but may mean that there could be performance gains if more memory were available.")


def _epoch_v2(rng: random.Random, epoch: int, epochs: int) -> list:
    """Keras ``fit(verbose=2)``: one line per epoch."""
    loss, acc = rng.uniform(0.05, 0.9), rng.uniform(0.5, 0.99)
    return [f"Epoch {epoch}/{epochs}",
            f"{rng.randint(100, 3000)}/{rng.randint(100, 3000)} - {rng.randint(2, 90)}s - "
            f"{rng.randint(4, 400)}ms/step - accuracy: {acc:.4f} - loss: {loss:.4f} - "
            f"val_accuracy: {acc * 0.97:.4f} - val_loss: {loss * 1.1:.4f}"]


def _checkpoint(rng: random.Random, epoch: int) -> str:
    return f"INFO:root:epoch {epoch:05d}: val_loss improved, checkpoint saved to /ckpt/model-{epoch:05d}.keras"


def _pty_epoch() -> bytes:
    """One epoch as Keras prints it on a terminal, from the real captured fit log."""
    data = FIT_LOG.read_bytes()
    return b"Epoch 1/3" + data.split(b"Epoch 1/3", 1)[1].split(b"Epoch 2/3", 1)[0]


def _oom(clock: _Clock) -> list:
    """A real-shaped GPU OOM that ends one attempt (op kernel warning, then the Keras traceback)."""
    return [
        f"{clock.stamp()}: W tensorflow/core/framework/op_kernel.cc:1839] OP_REQUIRES failed at "
        "conv_ops_impl.h:1199 : RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[256,64,112,112] and "
        "type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
        "Traceback (most recent call last):",
        '  File "/app/train.py", line 52, in <module>',
        "    model.fit(ds, epochs=30, callbacks=callbacks)",
        '  File "/usr/local/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py", line 122, in '
        "error_handler",
        "    raise e.with_traceback(filtered_tb) from None",
        '  File "/usr/local/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in '
        "quick_execute",
        "    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:",
        "OOM when allocating tensor with shape[256,64,112,112] and type float on "
        "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
        "\t [[{{node model/conv2d/Conv2D}}]]",
        "Hint: If you want to see a list of allocated tensors when OOM happens, add report_tensor_allocations_upon_oom "
        "to RunOptions for current allocation info. This isn't available when running in Eager mode.",
        " [Op:__inference_one_step_on_iterator_4133]",
    ]


def _ending(clock: _Clock, rng: random.Random) -> list:
    """The last restart lands on a node without AVX: TensorFlow aborts while importing."""
    pod = rng.choice(_PODS)
    return [
        f"[{pod}] starting training job, attempt {rng.randint(1, 999)}",
        f"{clock.stamp()}: F tensorflow/core/platform/cpu_feature_guard.cc:37] The TensorFlow library was compiled "
        "to use AVX instructions, but these aren't available on your machine.",
        "Aborted (core dumped)",
    ]


def _period(shape: str, rng: random.Random, clock: _Clock, size: int, epoch0: int) -> tuple:
    """About ``size`` bytes of the log's body (whole lines, ``\\n``-terminated) and the next epoch."""
    lines: list = []
    n = 0
    epoch = epoch0
    if shape == "repeated":
        while n < size:
            line = _allocator(clock, rng) if not lines else lines[-1]
            lines.append(line)
            n += len(line) + 1
        # one message, its timestamp moving on: rewrite just the stamps (cheap), not each line
        stamps = [clock.stamp() for _ in range(len(lines))]
        body = lines[0][len(stamps[0]):]
        return "".join(s + body + "\n" for s in stamps).encode(), epoch
    if shape == "sparse":
        pty = _pty_epoch().decode("utf-8", "surrogateescape")
        while n < size:
            epoch += 1
            lines.append(pty.replace("Epoch 1/3", f"Epoch {epoch}/100000", 1).rstrip("\n"))
            lines.append(_checkpoint(rng, epoch))
            if epoch % 2000 == 0:
                lines.append(_retracing(rng))
            n += len(lines[-1]) + len(lines[-2]) + len(pty)
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"), epoch
    while n < size:  # dense: restarts, short trainings, warnings in between
        pod = rng.choice(_PODS)
        gpus = rng.choice((1, 2, 4))
        chunk = _startup(clock, rng, pod, gpus)
        epochs = rng.randint(3, 12)
        for e in range(1, epochs + 1):
            chunk.extend(_epoch_v2(rng, e, epochs))
            r = rng.random()
            if r < 0.35:
                chunk.append(_retracing(rng))
            elif r < 0.6:
                chunk.append(_allocator(clock, rng))
            else:
                chunk.append(_checkpoint(rng, epoch0 + e))
        chunk.append(f"[{pod}] preempted: SIGTERM received, exiting with status 143")
        lines.extend(chunk)
        n += sum(len(x) + 1 for x in chunk)
    return ("\n".join(lines) + "\n").encode(), epoch


def generate(path, size: int, shape: str = "dense", seed: int = 12) -> Planted:
    """Write a ``shape`` log of about ``size`` bytes (whole lines) to ``path``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r} (one of {', '.join(SHAPES)})")
    rng = random.Random(seed)
    clock = _Clock(rng)
    info = Planted(shape)
    head = "\n".join(_startup(clock, rng, _PODS[0], 2)).encode() + b"\n"
    period = min(PERIOD, max(64 << 10, size // 8))
    written = lines = 0
    planted = False
    epoch = 0
    with open(path, "wb") as fh:
        def put(data: bytes) -> None:
            nonlocal written, lines
            fh.write(data)
            written += len(data)
            lines += data.count(b"\n")

        put(head)
        block, epoch = _period(shape, rng, clock, period, epoch)
        variants = [block]
        while written < size:
            if not planted and written >= size // 2:
                oom = _oom(clock)
                info.root_line = lines + 1
                info.root_end = lines + oom.index(next(x for x in oom if x.startswith("tensorflow."))) + 1
                put(("\n".join(oom) + "\n").encode())
                put(("\n".join(_startup(clock, rng, rng.choice(_PODS), 1)) + "\n").encode())
                planted = True
            if len(variants) < VARIANTS:
                block, epoch = _period(shape, rng, clock, period, epoch)
                variants.append(block)
            piece = variants[(written // period) % len(variants)]
            room = size - written
            if room < len(piece):
                cut = piece.rfind(b"\n", 0, room) + 1
                piece = piece[:cut] if cut else b""
                if not piece:
                    break
            put(piece)
        if not planted:  # a log too small for the middle: plant it now
            oom = _oom(clock)
            info.root_line = lines + 1
            info.root_end = lines + 9
            put(("\n".join(oom) + "\n").encode())
        end = _ending(clock, rng)
        info.ending_line = lines + 2
        put(("\n".join(end) + "\n").encode())
    info.size, info.lines = written, lines
    return info


def anchor_share(path, anchors: list) -> float:
    """Share of the log's lines that contain at least one of ``anchors`` (lowercase literals),
    the density issue 12 speaks of; measured with the same library the scanner uses."""
    from tfhelp.kb.anchors import MultiLiteral

    data = Path(path).read_bytes()
    total = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    hits = MultiLiteral(anchors).line_hits(data)
    return len(hits) / total if total else 0.0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in SHAPES:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    info = generate(argv[2], int(argv[1]) << 20, argv[0])
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
