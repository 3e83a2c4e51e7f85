"""The de-duplicating scan path must report what the plain per-line path reports.

A dense region (many anchor hits) is scanned by distinct message (kb/scan_dedup.py) instead of
one window per hit; the pure back-end always works that way.  These tests pin that shortcut to
the reference (``dedup=False``: every hit looked at on its own, in line order) on varied inputs:
the same findings, in the same order, with the same counts, first lines and crash attribution.
Inputs are small (a few MB at most) and chunks small, so region boundaries fall everywhere.
"""
from __future__ import annotations

import io
import random
import sys

import pytest

from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.scan import scan_file

from conftest import ROOT, prefilter_backends

sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_logs  # noqa: E402




@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(user_rules=False)


def summary(data: bytes, ruleset, chunk: int, **kw):
    report, stats = scan_file(io.BytesIO(data), ruleset, chunk=chunk, **kw)
    doc = report.to_json()
    crash = doc["crash"] or {}
    return {
        "findings": [(d["id"], d["first_line"], d["count"], d["symptom"]) for d in doc["diagnoses"]],
        "evidence": [[e["line"] for e in d["evidence"]] for d in doc["diagnoses"]],
        "lines": doc["input"]["lines"],
        "crash": (crash.get("kind"), crash.get("explained_by")),
    }, stats


def assert_same(data: bytes, ruleset, chunk: int = 1 << 18):
    ref_backend = prefilter_backends()[-1]
    ref, ref_stats = summary(data, ruleset, chunk, backend=ref_backend, dedup=False)
    assert ref["findings"], "the input should have findings, or the comparison says little"
    for backend in prefilter_backends():
        got, stats = summary(data, ruleset, chunk, backend=backend)
        assert got == ref, f"{backend} de-duplicating path differs from the per-line path"
    return ref, ref_stats


START = [
    "{t}: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:8310] Unable to register cuDNN factory: "
    "Attempting to register factory for plugin cuDNN when one has already been registered",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "{t}: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "{t}: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT",
]
RETRACE = ("WARNING:tensorflow:{n} out of the last {n} calls to <function {f} at 0x7f{a:08x}> triggered "
           "tf.function retracing. Tracing is expensive.")
ALLOC = ("{t}: W tensorflow/core/common_runtime/bfc_allocator.cc:291] Allocator (GPU_0_bfc) ran out of memory "
         "trying to allocate {s} with freed_by_count=0. The caller indicates that this is not a failure.")
OOM = [
    "Traceback (most recent call last):",
    '  File "/app/train.py", line 52, in <module>',
    "    model.fit(ds, epochs=30)",
    "tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:",
    "OOM when allocating tensor with shape[256,64,112,112] and type float on "
    "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
]


def mixed_log(seed: int, lines: int) -> bytes:
    """Start-up blocks, warnings with varying addresses and sizes, epoch lines, progress bars
    with carriage returns, CRLF line ends, tracebacks, in random proportions."""
    rng = random.Random(seed)
    out = []
    stamp = lambda: "2024-05-02 10:%02d:%02d.%06d" % (rng.randrange(60), rng.randrange(60), rng.randrange(10 ** 6))  # noqa: E731
    while len(out) < lines:
        r = rng.random()
        if r < 0.08:
            out.extend(x.format(t=stamp()) for x in START)
        elif r < 0.3:
            out.append(RETRACE.format(n=rng.randint(5, 12), f=rng.choice(["train_step", "test_step", "f"]),
                                      a=rng.getrandbits(32)))
        elif r < 0.45:
            out.append(ALLOC.format(t=stamp(), s=rng.choice(["1.02GiB", "18.00MiB", "512.5MiB"])))
        elif r < 0.47:
            out.extend(OOM)
        elif r < 0.55:
            bar = "\r".join(f"{i}/50 [{'=' * (i // 5)}] - loss: 0.{rng.randrange(9999):04d}" for i in range(1, 51))
            out.append(bar + "\r")
        else:
            out.append(f"Epoch {rng.randint(1, 99)}/100 - loss: 0.{rng.randrange(9999):04d}")
    text = "\n".join(out) + "\n"
    if seed % 2:
        text = text.replace("\n", "\r\n")
    return text.encode()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_mixed_logs_same_on_both_paths(ruleset, seed):
    ref, _ = assert_same(mixed_log(seed, 6000), ruleset)
    ids = [f[0] for f in ref["findings"]]
    assert "tf-function-retracing-warning" in ids and "gpu-allocator-ran-out-warning" in ids


@pytest.mark.parametrize("shape", gen_logs.SHAPES)
def test_generated_logs_same_on_both_paths(ruleset, tmp_path, shape):
    path = tmp_path / f"{shape}.log"
    info = gen_logs.generate(path, 1 << 20, shape)
    ref, stats = assert_same(path.read_bytes(), ruleset, chunk=1 << 17)
    found = {f[0]: f for f in ref["findings"]}
    assert found["gpu-oom-resource-exhausted"][1] == info.root_line
    assert found["cpu-avx-required-abort"][1] == info.ending_line


def test_small_chunks_and_region_edges(ruleset):
    # 16 KiB reads: regions end mid-log everywhere, windows straddle them
    assert_same(mixed_log(7, 3000), ruleset, chunk=1 << 14)


def test_one_line_repeated_counts_every_line(ruleset):
    line = ALLOC.format(t="2024-05-02 10:00:00.000001", s="1.02GiB")
    data = ("\n".join([line] * 5000) + "\n").encode()
    ref, _ = assert_same(data, ruleset)
    assert ref["findings"][0][:3] == ("gpu-allocator-ran-out-warning", 1, 5000)


def test_dense_path_is_taken(ruleset):
    """The comparison means something only if the shortcut really runs: the dense input is
    looked at with far fewer engine calls than it has anchor hits."""
    _, stats = summary(mixed_log(5, 6000), ruleset, 1 << 18, backend=prefilter_backends()[-1])
    assert stats.candidates > 1000
    assert stats.windows < stats.candidates / 10


def test_anchor_with_hex_digits_is_found_in_dense_region(ruleset):
    """Hex addresses are masked to group messages; an anchor that itself holds hex digits
    (numpy's 'ABI version 0x1000009') must still be found in a dense region."""
    abi = ("RuntimeError: module compiled against ABI version 0x1000009 but this version of numpy is "
           "0x2000000")
    data = mixed_log(6, 4000).replace(b"Epoch 7/100", abi.encode() + b"\nEpoch 7/100", 1)
    assert abi.encode() in data
    ref, _ = assert_same(data, ruleset)
    assert any(f[0].startswith("numpy") for f in ref["findings"])


def test_regions_of_one_repeated_line_take_the_tiling_shortcut(ruleset, monkeypatch):
    """Region after region of the same few lines are counted by bytes.count alone
    (scan_dedup.tiled); a traceback in the middle breaks the tiling for its region only.  Either
    way the result is the per-line path's."""
    from tfhelp.kb import scan_dedup

    taken = []
    real = scan_dedup.tiled
    monkeypatch.setattr(scan_dedup, "tiled", lambda *a: taken.append(real(*a)) or taken[-1])
    warn = [ALLOC.format(t=f"2024-05-02 10:00:{i % 60:02d}.{i:06d}", s="1.02GiB") for i in range(12000)]
    text = "\n".join(warn[:6000] + OOM + warn[6000:] + ["Epoch 1/1 - loss: 0.1"] + warn[:3000]) + "\n"
    ref, _ = assert_same(text.encode(), ruleset, chunk=1 << 18)
    assert any(n is not None for n in taken) and any(n is None for n in taken)
    found = {f[0]: f for f in ref["findings"]}
    assert found["gpu-allocator-ran-out-warning"][2] == 15000
    assert 6001 <= found["gpu-oom-resource-exhausted"][1] <= 6005   # inside the traceback
