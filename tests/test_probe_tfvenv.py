"""A real probe, doctor and ladder of a throwaway venv with tensorflow-cpu and keras installed.

Create it once (about 600 MB):  python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu keras
(this suite was written against tensorflow-cpu 2.21.0 + keras 3.15.1). Run with: pytest -m slow
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

TFVENV = Path(os.environ.get("TFHELP_TF_VENV", "/tmp/tfvenv"))
PY = TFVENV / "bin" / "python"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PY.exists(), reason=f"no TensorFlow venv at {TFVENV}: create it with "
                                 f"`python3 -m venv {TFVENV} && {TFVENV}/bin/pip install tensorflow-cpu keras`")]


def test_probe_reads_versions_and_build_info_without_importing_tf():
    from tfhelp.assistant.probe import probe

    t0 = time.monotonic()
    r = probe(str(TFVENV))  # the env folder, resolved to bin/python
    assert time.monotonic() - t0 < 10
    assert r.target_python == str(PY)
    assert r.tf_distributions == ["tensorflow-cpu"]
    assert r.tf_build["source"] == "build_info.py" and r.tf_build["is_cuda_build"] is False
    assert r.packages["keras"].split(".")[0] == "3" and "numpy" in r.packages and "protobuf" in r.packages
    assert r.env_kind == "venv" and r.python_bits == 64
    if Path("/proc/cpuinfo").exists():
        assert set(r.cpu_flags) >= {"avx", "avx2", "fma", "avx512f"}


def test_doctor_on_the_venv_is_clean_and_fast():
    from tfhelp.assistant.doctor import run_doctor

    rep = run_doctor(str(TFVENV))
    assert rep.seconds < 10
    assert [p.rule for _, p in rep.problems if p.severity == "error"] == []
    tf = next(c for c in rep.checks if c.id == "tensorflow")
    assert "tensorflow-cpu" in tf.found and "CPU-only build" in tf.found


def test_deep_import_agrees_with_build_info():
    from tfhelp.assistant.probe import probe

    r = probe(str(TFVENV), deep=True, only=["tfbuild", "packages"])
    deep = r.probes["tfimport"]
    assert deep.ok, deep.error
    assert deep.data["version"] == r.tf_version
    assert deep.data["build_info"]["is_cuda_build"] == r.tf_build["is_cuda_build"]
    assert {d["type"] for d in deep.data["devices"]} >= {"CPU"}


def test_ladder_cpu_rungs_pass_and_gpu_rungs_are_not_faked():
    from tfhelp.assistant.gpu_test import PASSED, run_ladder

    res = run_ladder(str(TFVENV))
    rungs = {r.id: r for r in res.rungs}
    assert rungs["import-tf"].status == PASSED and rungs["cpu-matmul"].status == PASSED
    assert rungs["cpu-matmul"].details["on_cpu"] and rungs["cpu-matmul"].details["max_abs_diff"] < 1e-3
    if res.gpu_present is False:
        assert res.exit_code() == 1 and res.exit_code(cpu_ok=True) == 0
        assert all(rungs[r].status != PASSED for r in ("gpu-list", "gpu-matmul", "gpu-conv"))
