"""GPU test ladder: truthful on this GPU-less machine, stop/skip logic, and the TF rung scripts run
against stand-in ``tensorflow`` packages (a GPU that works, one that silently falls back to the
CPU, one that crashes on import)."""
from __future__ import annotations

import io
import json
import os
import sys
import textwrap

import pytest

from tfhelp.assistant.environment.gpu_test import (FAILED, PASSED, RUNGS, SKIPPED, TF_SCRIPTS, Ladder, LadderResult,
                                       RungResult, run_ladder, shell_signal_line)
from tfhelp.assistant.environment.probe import run_subprobe
from tfhelp.assistant.render.gpu_test import failure_text, render_ladder, verdict_text

# A stand-in for the small part of the TensorFlow API the rung scripts use, computing with NumPy.
FAKE_TF = '''
import os, contextlib
import numpy as np
__version__ = "9.9.9-fake"
_dev = ["/CPU:0"]
_gpu = os.environ.get("FAKE_TF_GPU") == "1"
_place_on_gpu = os.environ.get("FAKE_TF_SOFT_FALLBACK") != "1"
if os.environ.get("FAKE_TF_CRASH"):
    import signal
    os.kill(os.getpid(), getattr(signal, os.environ["FAKE_TF_CRASH"]))

class _PD:
    def __init__(self, name, t): self.name, self.device_type = name, t

class config:
    @staticmethod
    def list_physical_devices(kind=None):
        devs = [_PD("/physical_device:CPU:0", "CPU")] + ([_PD("/physical_device:GPU:0", "GPU")] if _gpu else [])
        return [d for d in devs if kind is None or d.device_type == kind]
    class experimental:
        @staticmethod
        def enable_tensor_float_32_execution(flag): pass
        @staticmethod
        def get_device_details(d): return {"device_name": "Fake GPU", "compute_capability": (8, 0)}

class test:
    @staticmethod
    def is_built_with_cuda(): return _gpu

class _T:
    def __init__(self, a):
        self._a = np.asarray(a, dtype="float32")
        where = _dev[-1]
        if "GPU" in where and not (_gpu and _place_on_gpu):
            where = "/CPU:0"
        self.device = "/job:localhost/replica:0/task:0/device:" + where.strip("/")
    def numpy(self): return self._a

@contextlib.contextmanager
def device(name):
    _dev.append(name)
    try: yield
    finally: _dev.pop()

def matmul(a, b): return _T(np.asarray(a, dtype="float64") @ np.asarray(b, dtype="float64"))

class nn:
    @staticmethod
    def conv2d(x, k, strides=1, padding="SAME"):
        x = np.asarray(x, dtype="float64"); k = np.asarray(k, dtype="float64")
        kh, kw = k.shape[:2]
        xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
        out = np.zeros(x.shape[:3] + (k.shape[3],))
        for i in range(kh):
            for j in range(kw):
                out += np.einsum("nhwc,co->nhwo", xp[:, i:i + x.shape[1], j:j + x.shape[2], :], k[i, j])
        return _T(out)
'''


@pytest.fixture
def fake_tf(tmp_path):
    pkg = tmp_path / "fake" / "tensorflow"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_TF)

    def env(**flags):
        e = dict(os.environ)
        e["PYTHONPATH"] = str(tmp_path / "fake") + os.pathsep + e.get("PYTHONPATH", "")
        e.update({k: v for k, v in flags.items()})
        return e
    return env


def _by_id(res: LadderResult) -> dict:
    return {r.id: r for r in res.rungs}


def _gpu_present() -> bool:
    r = run_subprobe("nvml", sys.executable, 20)
    return r.ok and bool(r.data.get("gpus"))


# ------------------------------------------------------------------ this machine, for real
def test_ladder_here_is_truthful():
    res = run_ladder(sys.executable, timeout=120)
    rungs = _by_id(res)
    assert [r.id for r in res.rungs] == [r.id for r in RUNGS]
    if _gpu_present():
        assert rungs["nvml"].status == PASSED
    else:
        assert rungs["nvml"].status == FAILED and "no NVIDIA driver/GPU" in rungs["nvml"].reason
        assert res.gpu_present is False
        for rid in ("cuda-driver", "tf-cuda-libs", "gpu-list", "gpu-matmul", "gpu-conv"):
            assert rungs[rid].status == SKIPPED and rungs[rid].reason
        assert not res.gpu_ok and res.exit_code() == 1
        assert "No NVIDIA driver/GPU was found" in verdict_text(res).plain
    # nothing is marked passed that did not run and succeed
    for r in res.rungs:
        if r.status == PASSED:
            assert r.seconds > 0 and r.reason
    # the CPU rungs ran (or were skipped only because import failed), and the JSON is complete
    imp = rungs["import-tf"]
    assert imp.status in (PASSED, FAILED)
    if imp.status == FAILED:
        assert rungs["cpu-matmul"].status == SKIPPED
        assert res.exit_code(cpu_ok=True) == 1
    data = json.loads(json.dumps(res.to_json()))
    assert data["first_failure"] == res.first_failure.id


def test_import_failure_is_diagnosed_by_the_rule_engine(tmp_path):
    # an interpreter without tensorflow: the isolated ladder imports from an empty path
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    venv = tmp_path / "v"
    import venv as _venv
    _venv.EnvBuilder(with_pip=False).create(venv)
    py = str(venv / "bin" / "python") if os.name != "nt" else str(venv / "Scripts" / "python.exe")
    res = Ladder(py, timeout=60, env=env).run()
    imp = _by_id(res)["import-tf"]
    assert imp.status == FAILED and "No module named 'tensorflow'" in imp.output
    assert [d["id"] for d in imp.diagnoses or []][:1] == ["no-module-named-tensorflow"]
    assert _by_id(res)["tf-cuda-libs"].status in (FAILED, SKIPPED)


# ------------------------------------------------------------------ stop / skip logic
def _scripted(outcomes: dict):
    """A Ladder whose rungs return the given statuses without running anything."""
    class L(Ladder):
        def run_rung(self, rung):
            st = outcomes.get(rung.id, PASSED)
            return RungResult(rung.id, rung.title, rung.kind, st, f"scripted {st}", 0.01,
                              details={"device": "/job:localhost/replica:0/task:0/device:GPU:0"})
    lad = L(sys.executable, diagnose=False)
    import tfhelp.assistant.environment.gpu_test as gt
    return lad, gt


def test_all_rungs_pass(monkeypatch):
    lad, gt = _scripted({})
    monkeypatch.setattr(gt, "probe", lambda *a, **k: None)
    res = lad.run()
    assert res.gpu_ok and res.cpu_ok and res.exit_code() == 0 and res.first_failure is None
    assert res.device.endswith("GPU:0")
    assert "GPU works" in verdict_text(res).plain


def test_first_gpu_failure_skips_later_gpu_rungs_but_cpu_rungs_run(monkeypatch):
    lad, gt = _scripted({"cuda-driver": FAILED})
    monkeypatch.setattr(gt, "probe", lambda *a, **k: None)
    res = lad.run()
    r = _by_id(res)
    assert r["cuda-driver"].status == FAILED and res.first_failure.id == "cuda-driver"
    for rid in ("tf-cuda-libs", "gpu-list", "gpu-matmul", "gpu-conv"):
        assert r[rid].status == SKIPPED and "'cuda-driver' failed" in r[rid].reason
    assert r["import-tf"].status == PASSED and r["cpu-matmul"].status == PASSED
    assert res.exit_code() == 1 and res.exit_code(cpu_ok=True) == 0
    assert not res.gpu_ok  # skipped is not passed


def test_import_failure_stops_every_tf_rung(monkeypatch):
    lad, gt = _scripted({"import-tf": FAILED})
    monkeypatch.setattr(gt, "probe", lambda *a, **k: None)
    res = lad.run()
    r = _by_id(res)
    for rid in ("gpu-list", "gpu-matmul", "gpu-conv", "cpu-matmul"):
        assert r[rid].status == SKIPPED and "import-tf" in r[rid].reason
    assert res.exit_code(cpu_ok=True) == 1


# ------------------------------------------------------------------ TF rung scripts, stand-in TF
def _tf_rungs_only(env, monkeypatch):
    """Run the real rung scripts; pretend the three pre-TF rungs passed."""
    import tfhelp.assistant.environment.gpu_test as gt
    lad = Ladder(sys.executable, timeout=120, env=env)
    ok = lambda rung: RungResult(rung.id, rung.title, rung.kind, PASSED, "stand-in", 0.01)  # noqa: E731
    monkeypatch.setattr(lad, "_nvml", ok)
    monkeypatch.setattr(lad, "_cuda_driver", ok)
    monkeypatch.setattr(lad, "_tf_cuda_libs", ok)
    monkeypatch.setattr(gt, "probe", lambda *a, **k: None)
    return lad.run()


def test_tf_rungs_pass_on_a_working_gpu(fake_tf, monkeypatch):
    res = _tf_rungs_only(fake_tf(FAKE_TF_GPU="1"), monkeypatch)
    r = _by_id(res)
    assert all(x.status == PASSED for x in res.rungs), [(x.id, x.status, x.reason) for x in res.rungs]
    assert r["gpu-matmul"].details["on_gpu"] and r["gpu-matmul"].details["max_abs_diff"] < 1e-3
    assert r["gpu-conv"].details["device"].endswith("GPU:0")
    assert res.device.endswith("GPU:0") and res.exit_code() == 0


def test_soft_placement_on_cpu_is_not_reported_as_gpu_success(fake_tf, monkeypatch):
    res = _tf_rungs_only(fake_tf(FAKE_TF_GPU="1", FAKE_TF_SOFT_FALLBACK="1"), monkeypatch)
    r = _by_id(res)
    assert r["gpu-list"].status == PASSED
    assert r["gpu-matmul"].status == FAILED and "not on /GPU:0" in r["gpu-matmul"].reason
    assert r["gpu-conv"].status == SKIPPED and res.exit_code() == 1


def test_empty_gpu_list_fails_that_rung(fake_tf, monkeypatch):
    res = _tf_rungs_only(fake_tf(), monkeypatch)
    r = _by_id(res)
    assert r["import-tf"].status == PASSED
    assert r["gpu-list"].status == FAILED and "returned []" in r["gpu-list"].reason
    assert r["cpu-matmul"].status == PASSED and res.exit_code(cpu_ok=True) == 0


def test_crash_on_import_is_reported_with_the_signal_and_diagnosed(fake_tf, monkeypatch):
    res = _tf_rungs_only(fake_tf(FAKE_TF_CRASH="SIGILL"), monkeypatch)
    imp = _by_id(res)["import-tf"]
    assert imp.status == FAILED and imp.signal == "SIGILL" and "SIGILL" in imp.reason
    ids = [d["id"] for d in imp.diagnoses or []]
    assert "cpu-illegal-instruction" in ids, ids
    assert shell_signal_line("SIGILL") == "Illegal instruction (core dumped)"
    assert "Rung 'import-tf' failed" in failure_text(imp).plain


def test_rendering_lists_every_rung():
    from rich.console import Console
    rs = [RungResult(r.id, r.title, r.kind, SKIPPED, "because [bold]x[/bold]") for r in RUNGS]
    res = LadderResult("/x/python", rs, gpu_present=False)
    buf = io.StringIO()
    render_ladder(res, Console(file=buf, width=120, color_system=None, markup=False))
    out = buf.getvalue()
    assert out.count("skipped: because [bold]x[/bold]") == len(RUNGS)


def test_scripts_are_plain_python():
    for name, src in TF_SCRIPTS.items():
        compile(textwrap.dedent(src), name, "exec")
