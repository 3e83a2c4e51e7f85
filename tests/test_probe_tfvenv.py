"""A real probe, doctor and ladder of a throwaway venv with tensorflow-cpu and keras installed.

The venv is built on first use (tensorflow-cpu 2.21.0 + keras 3.15.1, wheels cached in
~/.cache/tfhelp-wheels; about 600 MB) unless TFHELP_TF_VENV names an existing one.
Run with: pytest -m slow
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from venvs import cached_venv

TFVENV = Path(os.environ.get("TFHELP_TF_VENV", "/tmp/tfhelp-tfvenv-2.21"))
PY = TFVENV / "bin" / "python"
REQUIREMENTS = ["tensorflow-cpu==2.21.0", "keras==3.15.1"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module", autouse=True)
def _tfvenv():
    """Build the venv once (offline after the first download); reuse it if it imports."""
    if PY.exists() and subprocess.run([str(PY), "-c", "import tensorflow"], capture_output=True, timeout=300).returncode == 0:
        return
    shutil.rmtree(TFVENV, ignore_errors=True)
    cached_venv(TFVENV, *REQUIREMENTS)


def _cpu_flags() -> set:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_probe_reads_versions_and_build_info_without_importing_tf():
    from tfhelp.assistant.environment.probe import probe

    t0 = time.monotonic()
    r = probe(str(TFVENV))  # the env folder, resolved to bin/python
    assert time.monotonic() - t0 < 10
    assert r.target_python == str(PY)
    assert r.tf_distributions == ["tensorflow-cpu"]
    assert r.tf_build["source"] == "build_info.py" and r.tf_build["is_cuda_build"] is False
    assert r.packages["keras"].split(".")[0] == "3" and "numpy" in r.packages and "protobuf" in r.packages
    assert r.env_kind == "venv" and r.python_bits == 64
    if Path("/proc/cpuinfo").exists():  # what the probe reports is what the kernel reports
        wanted = ("avx", "avx2", "fma", "avx512f")
        assert {f for f in wanted if r.cpu_flags.get(f)} == {f for f in wanted if f in _cpu_flags()}


def test_doctor_on_the_venv_is_clean_and_fast():
    from tfhelp.assistant.environment.doctor import run_doctor

    rep = run_doctor(str(TFVENV))
    assert rep.seconds < 10
    assert [p.rule for _, p in rep.problems if p.severity == "error"] == []
    tf = next(c for c in rep.checks if c.id == "tensorflow")
    assert "tensorflow-cpu" in tf.found and "CPU-only build" in tf.found


def test_deep_import_agrees_with_build_info():
    from tfhelp.assistant.environment.probe import probe

    r = probe(str(TFVENV), deep=True, only=["tfbuild", "packages"])
    deep = r.probes["tfimport"]
    assert deep.ok, deep.error
    assert deep.data["version"] == r.tf_version
    assert deep.data["build_info"]["is_cuda_build"] == r.tf_build["is_cuda_build"]
    assert {d["type"] for d in deep.data["devices"]} >= {"CPU"}


def test_ladder_cpu_rungs_pass_and_gpu_rungs_are_not_faked():
    from tfhelp.assistant.environment.gpu_test import PASSED, run_ladder

    res = run_ladder(str(TFVENV))
    rungs = {r.id: r for r in res.rungs}
    assert rungs["import-tf"].status == PASSED and rungs["cpu-matmul"].status == PASSED
    assert rungs["cpu-matmul"].details["on_cpu"] and rungs["cpu-matmul"].details["max_abs_diff"] < 1e-3
    if res.gpu_present is False:
        assert res.exit_code() == 1 and res.exit_code(cpu_ok=True) == 0
        assert all(rungs[r].status != PASSED for r in ("gpu-list", "gpu-matmul", "gpu-conv"))
