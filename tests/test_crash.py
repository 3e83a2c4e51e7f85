"""What ended the run is always reported (kb/crash.py): explained by a rule, or as an unexplained
crash with its lines, line numbers and a draft rule; in diagnose, --from-log (text and --json),
`tfhelp run` and the REPL; a harmless notice never ranks above a fatal line."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tfhelp.kb.crash import Crash, attach, detect, draft_rule, exit_status
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.scan import scan_file

TFHELP = [sys.executable, "-m", "tfhelp"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IMPORT_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/home/u/jobs/train.py", line 12, in <module>\n'
    "    from data.augment import build_pipeline\n"
    '  File "/home/u/jobs/data/augment.py", line 3, in <module>\n'
    "    import albumentations_pro as A\n"
    "ModuleNotFoundError: No module named 'albumentations_pro'\n")
CUSTOM_EXCEPTION = (
    "Traceback (most recent call last):\n"
    '  File "/home/u/jobs/train.py", line 88, in <module>\n'
    "    trainer.run()\n"
    '  File "/home/u/jobs/trainer.py", line 41, in run\n'
    "    raise DatasetShardMissing(f'shard {i} of {n} not found in {root}')\n"
    "trainer.DatasetShardMissing: shard 17 of 64 not found in gs://bucket/shards\n")
# The AVX notice (harmless) and a fatal CUDA context failure that aborts the process.
AVX_F_ABORT = (
    "2024-03-01 10:00:00.000001: I tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow "
    "binary is optimized to use available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.\n"
    "2024-03-01 10:00:02.000002: F tensorflow/core/common_runtime/gpu/gpu_device.cc:1321] Check failed: "
    "cuCtxCreate(&context, 0, device) == CUDA_SUCCESS (999 vs. 0) could not create a CUDA context\n"
    "Aborted (core dumped)\n")
FILLER_EPOCH = (
    "Epoch {e}/5000\n"
    "200/200 [==============================] - 3s 14ms/step - loss: 0.{l:04d} - accuracy: 0.{a:04d}\n"
    "INFO:root:checkpoint saved to /ckpt/model-{e:05d}.keras\n")


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(user_rules=False)


@pytest.fixture(scope="module")
def engine(ruleset):
    return Engine(ruleset)


def big_log(ending: str, size: int = 4 << 20) -> bytes:
    """A ~4 MB training log (start-up notices, epochs) that ends in ``ending``."""
    head = AVX_F_ABORT.split("2024-03-01 10:00:02")[0]
    parts, n, e = [head], len(head), 0
    while n < size:
        e += 1
        piece = FILLER_EPOCH.format(e=e, l=e * 7 % 10000, a=e * 13 % 10000)
        parts.append(piece)
        n += len(piece)
    parts.append(ending)
    return "".join(parts).encode()


def line_of(data: bytes, needle: bytes) -> int:
    return data[:data.rindex(needle)].count(b"\n") + 1


# -- detection ---------------------------------------------------------------------------------
def test_detects_each_kind_of_terminal_event():
    cases = {
        "ModuleNotFoundError: No module named 'x'": ("exception", None),
        "F0000 00:00:1712345678.123456   12345 cuda_dnn.cc:522] Loaded runtime CuDNN library: 8.6.0": ("fatal-log", None),
        "2024-01-02 10:11:12.123456: F tensorflow/core/framework/tensor_shape.cc:45] Check failed: NDIMS == dims()": ("fatal-log", None),
        "Fatal Python error: Segmentation fault": ("fatal-log", None),
        "Segmentation fault (core dumped)": ("signal", "SIGSEGV"),
        "Illegal instruction (core dumped)": ("signal", "SIGILL"),
        "Killed": ("signal", "SIGKILL"),
        "zsh: killed     python train.py": ("signal", "SIGKILL"),
        "./run.sh: line 3: 12345 Aborted                 (core dumped) python train.py": ("signal", "SIGABRT"),
        "Process finished with exit code 134 (interrupted by signal 6: SIGABRT)": ("exit", None),
        "job 4312 exited with code 1": ("exit", None),
    }
    for text, (kind, sig) in cases.items():
        c = detect(["some output", text])
        assert c is not None, text
        assert c.kind == kind, text
        assert c.primary == 2 and c.lines[-1].line == 2
        if sig:
            assert c.signal == sig, text


def test_normal_endings_are_not_crashes():
    for text in ("Process finished with exit code 0", "Epoch 3/3 - loss: 0.1", "Training killed switch is off",
                 "UserWarning: the default will change", "KeyboardInterrupt", "INFO: Aborted compilation retries: 0",
                 "exited with code 0"):
        assert detect(["start", text]) is None, text


def test_events_close_together_are_one_crash_named_by_the_failure_line():
    lines = ["step 1", AVX_F_ABORT.splitlines()[2], "Aborted (core dumped)", "Process finished with exit code 134"]
    c = detect(lines)
    assert c.kind == "fatal-log" and c.primary == 2
    assert [x.line for x in c.lines] == [2, 3, 4]
    assert c.signal == "SIGABRT" and c.exit_code == 134
    assert "could not create a CUDA context" in c.summary


def test_traceback_lines_and_numbers_are_kept(engine):
    c = engine.diagnose(IMPORT_ERROR).crash
    assert c.kind == "exception" and c.summary == "ModuleNotFoundError: No module named 'albumentations_pro'"
    assert c.first_line == 1 and c.primary == 6
    assert [x.text for x in c.lines][0] == "Traceback (most recent call last):"
    assert any("import albumentations_pro" in x.text for x in c.lines)


# -- ranking -----------------------------------------------------------------------------------
def test_harmless_notice_never_outranks_an_unexplained_fatal_line(engine):
    r = engine.diagnose(AVX_F_ABORT)
    assert r.crash is not None and not r.crash.explained
    assert r.crash.kind == "fatal-log" and r.crash.primary == 3
    assert all(d.rule.severity == "harmless" for d in r.diagnoses)
    assert exit_status(r) == 1  # only harmless notices beside an unexplained crash: nothing explained
    doc = r.to_json()
    assert doc["crash"]["explained"] is False and doc["crash"]["line"] == 3


def test_a_rule_that_explains_the_crash_is_moved_first(ruleset):
    data = (AVX_F_ABORT.split("2024-03-01 10:00:02")[0]
            + "2022-07-10 15:08:09.276131: W tensorflow/core/common_runtime/bfc_allocator.cc:479] Allocator ran out of memory\n"
            + "Illegal instruction (core dumped)\n")
    r = Engine(ruleset).diagnose(data)
    assert r.crash.kind == "signal"
    assert r.crash.explained and r.diagnoses[0].id in r.crash.explained_by
    assert r.diagnoses[0].id == "cpu-illegal-instruction"
    assert exit_status(r) == 0


def test_attach_puts_the_root_cause_before_its_explaining_symptom():
    class R:  # minimal stand-ins for rules and diagnoses
        def __init__(self, sev):
            self.severity = sev

    class D:
        def __init__(self, id, sev, lines, symptom=None):
            from tfhelp.kb.report import Evidence

            self.id, self.rule, self.symptom = id, R(sev), symptom
            self.evidence = [Evidence(x, "") for x in lines]

    class Rep:
        pass

    rep = Rep()
    rep.diagnoses = [D("noise", "harmless", [1]), D("root", "fatal", [2]), D("symptom", "fatal", [9], symptom="root")]
    crash = Crash("exception", "X: y", [], primary=9)
    from tfhelp.kb.crash import CrashLine

    crash.lines = [CrashLine(8, "Traceback"), CrashLine(9, "X: y")]
    attach(rep, crash)
    assert [d.id for d in rep.diagnoses] == ["root", "symptom", "noise"]
    assert crash.explained_by == ["symptom"]


# -- draft rule ----------------------------------------------------------------------------------
def test_draft_rule_loads_and_then_explains_the_crash(engine, tmp_path):
    r = engine.diagnose(CUSTOM_EXCEPTION)
    assert not r.diagnoses and not r.crash.explained
    text = draft_rule(r.crash)
    rid = re.search(r"^id: (\S+)$", text, re.M).group(1)
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / f"{rid}.yaml").write_text(text)
    rs = load_ruleset(extra_dirs=[str(folder)], user_rules=False)
    rule = rs.get(rid)
    assert rule is not None and rule.origin == "user"
    again = Engine(rs).diagnose(CUSTOM_EXCEPTION)
    assert [d.id for d in again.diagnoses] == [rid]
    assert again.crash.explained
    lint = subprocess.run(TFHELP + ["rules", "lint", str(folder)], capture_output=True, text=True, timeout=60)
    assert "0 errors" in lint.stdout + lint.stderr


# -- --from-log, text and --json -----------------------------------------------------------------
ENDINGS = {
    "missing-dependency": (IMPORT_ERROR, b"ModuleNotFoundError: No module named 'albumentations_pro'", "exception"),
    "custom-exception": (CUSTOM_EXCEPTION, b"trainer.DatasetShardMissing: shard 17 of 64", "exception"),
    "avx-and-f-line-abort": (AVX_F_ABORT, b": F tensorflow/core/common_runtime/gpu/gpu_device.cc:1321]", "fatal-log"),
}


def _cli(args, **kw):
    env = dict(os.environ, NO_COLOR="1", COLUMNS="120", TFHELP_USER_RULES="/nonexistent-tfhelp-rules")
    return subprocess.run(TFHELP + args, capture_output=True, env=env, timeout=120, **kw)


@pytest.mark.parametrize("name", sorted(ENDINGS))
def test_log_ending_in_an_unknown_crash_reports_it(name, tmp_path, ruleset):
    ending, needle, kind = ENDINGS[name]
    data = big_log(ending)
    assert len(data) >= 4 << 20
    line = line_of(data, needle)
    p = tmp_path / f"{name}.log"
    p.write_bytes(data)
    # library
    report, _ = scan_file(io.BytesIO(data), ruleset)
    assert report.crash is not None and report.crash.primary == line and report.crash.kind == kind
    # --json
    r = _cli(["--from-log", str(p), "--json"])
    doc = json.loads(r.stdout)
    crash = doc["crash"]
    assert crash["explained"] is False and crash["line"] == line and crash["kind"] == kind
    assert any(needle.decode() in x["text"] for x in crash["lines"])
    assert crash["draft_rule"].startswith("# Draft rule")
    assert all(d["severity"] in ("harmless", "warning") for d in doc["diagnoses"])
    assert r.returncode == 1  # only harmless notices beside an unexplained crash
    # text: the crash is shown first, with its line number
    r = _cli(["--from-log", str(p)])
    out = r.stdout.decode()
    assert "Unexplained crash" in out and f"line {line}" in out
    assert out.index("no rule explains it") < out.index("harmless")
    first_panel = out.find("╭")
    assert first_panel < 0 or out.index("Unexplained crash at line") < first_panel
    assert r.returncode == 1


def test_log_whose_crash_a_rule_explains_is_not_unexplained(tmp_path):
    oom = ("2024-05-02 10:11:12.123456: W tensorflow/core/framework/op_kernel.cc:1828] OP_REQUIRES failed at "
           "conv_ops.cc:1068 : RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[256,64,112,112] and type "
           "float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n"
           "Traceback (most recent call last):\n"
           '  File "/home/u/train.py", line 52, in <module>\n'
           "    model.fit(ds, epochs=30)\n"
           "tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:\n")
    data = big_log(oom, size=1 << 20)
    p = tmp_path / "oom.log"
    p.write_bytes(data)
    r = _cli(["--from-log", str(p), "--json"])
    doc = json.loads(r.stdout)
    assert doc["crash"]["explained"] is True
    assert doc["diagnoses"][0]["id"] == "gpu-oom-resource-exhausted"
    assert doc["diagnoses"][0]["id"] in doc["crash"]["explained_by"]
    assert r.returncode == 0


# -- diagnose (pasted text) ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ENDINGS))
def test_pasted_unknown_crash_is_shown_with_its_lines(name):
    ending, needle, kind = ENDINGS[name]
    r = _cli(["--json"], input=ending.encode())
    doc = json.loads(r.stdout)
    assert doc["crash"]["kind"] == kind and doc["crash"]["explained"] is False
    assert r.returncode == 1
    r = _cli([], input=ending.encode())
    out = r.stdout.decode()
    assert "Unexplained crash" in out and needle.decode().split(":")[0] in out
    r = _cli(["-v"], input=ending.encode())
    assert "id: local-" in r.stdout.decode()  # the draft rule, with -v


# -- tfhelp run and the REPL -------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_run_reports_an_unexplained_abort(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        sys.stderr.write("2024-03-01 10:00:02.000002: F tensorflow/core/kernels/custom_op.cc:77] "
                         "Check failed: shard_index < num_shards (9 vs. 8)\\n")
        sys.stderr.flush()
        os.abort()
    """))
    out = tmp_path / "run.json"
    r = _cli(["run", "--json-out", str(out), str(script)])
    assert r.returncode == 134
    err = r.stderr.decode()
    assert "Unexplained crash" in err and "Check failed: shard_index < num_shards" in err
    doc = json.loads(out.read_text())
    assert doc["crash"]["kind"] == "fatal-log" and doc["crash"]["signal"] == "SIGABRT"
    assert any(x["text"].startswith("Aborted") for x in doc["crash"]["lines"])


def test_repl_shows_an_unexplained_crash():
    from rich.console import Console

    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends.repl import Session
    from tfhelp.kb.environment import Environment

    c = Console(file=io.StringIO(), width=110, color_system=None, force_terminal=False, markup=False,
                highlight=False, emoji=False)
    env = Environment(packages={"tensorflow-cpu": "2.15.1"}, python="3.11.7", platform="linux", source="probe")
    s = Session(Context(), c, ask=lambda q: False, python=sys.executable, probe=False, env=env)
    s.handle(CUSTOM_EXCEPTION)
    text = c.file.getvalue()
    assert "Unexplained crash at line 6" in text
    assert "DatasetShardMissing" in text


def test_a_paste_of_100000_exception_lines_is_one_bounded_incident():
    """Every line an exception, each within CLUSTER_GAP of the next: the final incident is capped
    at MAX_CLUSTER_EVENTS events (collected without front inserts, which made this quadratic) and
    still names the last line as what ended the run; the far first line is not part of it."""
    from tfhelp.kb import crash as crash_mod

    lines = ["RuntimeError: the first one"] + [f"ValueError: x{i % 7}" for i in range(100_000)]
    c = detect(lines)
    assert c is not None and c.primary == 100_001 and c.summary == "ValueError: x" + str(99_999 % 7)
    assert 1 not in {x.line for x in c.lines}
    assert len(c.lines) <= crash_mod.MAX_LINES
    small = detect(lines[:50])  # a short paste of the same shape: the last line still ends it
    assert small.primary == 50
