"""benchmarks/gen_logs.py makes the logs the log-scan benchmark claims it measures.

Issue 12's targets speak of a sparse log, a dense log (>= 20% of lines hit a rule anchor) and a
log of one repeated warning, each with a planted root cause; if the generator drifted (a rule's
anchors change, a line shape breaks) the benchmark would silently measure something else.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tfhelp.kb.anchors import FOLD
from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.scan import _HEX, anchors_of

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_logs  # noqa: E402

SIZE = 2 << 20


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("genlogs")
    out = {}
    for shape in gen_logs.SHAPES:
        path = base / f"{shape}.log"
        out[shape] = (path, gen_logs.generate(path, SIZE, shape))
    return out


@pytest.fixture(scope="module")
def anchors():
    return anchors_of(load_ruleset(user_rules=False))


@pytest.mark.parametrize("shape", gen_logs.SHAPES)
def test_size_and_planted_lines(logs, shape):
    path, info = logs[shape]
    data = path.read_bytes()
    assert abs(len(data) - SIZE) < 16 << 10 and info.size == len(data)
    lines = data.split(b"\n")
    assert info.lines == data.count(b"\n")
    assert b"RESOURCE_EXHAUSTED: OOM when allocating" in lines[info.root_line - 1]
    assert lines[info.root_end - 1].startswith(b"tensorflow.python.framework.errors_impl.ResourceExhaustedError")
    # the root cause sits in the middle, the ending at the end
    assert 0.3 < info.root_line / info.lines < 0.7
    assert b": F tensorflow/core/platform/cpu_feature_guard.cc" in lines[info.ending_line - 1]
    assert lines[info.ending_line] == b"Aborted (core dumped)"


def test_anchor_density_of_each_shape(logs, anchors):
    share = {s: gen_logs.anchor_share(p, anchors) for s, (p, _) in logs.items()}
    assert share["dense"] >= 0.20
    assert share["sparse"] < 0.005
    assert share["repeated"] > 0.95


def test_dense_lines_differ_so_exact_dedup_is_not_enough(logs):
    """Timestamps, PIDs, addresses and sizes vary: many more distinct raw lines than distinct
    messages once digits and hex addresses are masked, but still a bounded set of messages."""
    path, _ = logs["dense"]
    lines = path.read_bytes().split(b"\n")
    raw = len(set(lines))
    masked = len({_HEX.sub(b"#x#", x.translate(FOLD)) for x in lines})
    assert raw > 0.25 * len(lines)   # the 2 MB log repeats its pieces; within one piece more
    assert masked < 0.02 * len(lines)


def test_repeated_is_one_message(logs):
    path, _ = logs["repeated"]
    folded = [x.translate(FOLD) for x in path.read_bytes().split(b"\n")]
    top = max(set(folded), key=folded.count)
    assert folded.count(top) > 0.95 * len(folded)
    assert b"ran out of memory trying to allocate" in top


def test_generation_is_deterministic(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    gen_logs.generate(a, 1 << 18, "dense", seed=3)
    gen_logs.generate(b, 1 << 18, "dense", seed=3)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("shape", gen_logs.SHAPES)
def test_from_log_json_reports_the_planted_cause_and_the_ending(logs, shape, tmp_path):
    """What the benchmark checks on the 1 GB logs, on the small ones, through the real command."""
    path, info = logs[shape]
    proc = subprocess.run([sys.executable, "-m", "tfhelp", "--from-log", str(path), "--json"],
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    doc = json.loads(proc.stdout)
    first = {d["id"]: d["first_line"] for d in doc["diagnoses"]}
    assert first["gpu-oom-resource-exhausted"] == info.root_line
    assert first["cpu-avx-required-abort"] == info.ending_line
    assert doc["crash"]["explained_by"][0] == "cpu-avx-required-abort"
