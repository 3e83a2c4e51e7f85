"""Environment probe: target resolution, build_info parsing, fault tolerance, recorded fixtures."""
from __future__ import annotations

import ast
import json
import os
import platform
import sys
import time
from pathlib import Path

import pytest

from tfhelp.assistant.environment import probe_target
from tfhelp.assistant.environment.probe import (ProbeResult, TargetNotFound, _parse_cuda_version, _parse_cudnn_version,
                                    crash_signal, cuda_int_to_str, parse_marker, probe, resolve_target_python,
                                    run_process, run_subprobe)

FIXTURES = Path(__file__).parent / "fixtures" / "probe"
ALL_FIXTURES = sorted(FIXTURES.glob("*.json"))


def load(name: str) -> ProbeResult:
    return ProbeResult.from_json(json.loads((FIXTURES / name).read_text()))


# ------------------------------------------------------------------------------ target resolution
def test_resolve_target_accepts_env_folder_file_and_name(tmp_path):
    env = tmp_path / "venv"
    (env / "bin").mkdir(parents=True)
    py = env / "bin" / "python"
    py.symlink_to(sys.executable)
    assert resolve_target_python(str(env)) == str(py)
    assert resolve_target_python(str(py)) == str(py)
    win = tmp_path / "winenv"
    (win / "Scripts").mkdir(parents=True)
    (win / "Scripts" / "python.exe").write_text("")
    assert resolve_target_python(str(win)).endswith(os.path.join("Scripts", "python.exe"))
    with pytest.raises(TargetNotFound):
        resolve_target_python(str(tmp_path / "missing" / "python"))
    with pytest.raises(TargetNotFound):
        resolve_target_python(str(tmp_path))  # a folder with no interpreter in it
    assert os.path.isfile(resolve_target_python(None))


# ------------------------------------------------------------------------------ build_info parsing
REAL_221_CPU = '''
# Copyright 2020 The TensorFlow Authors. All Rights Reserved.
"""Auto-generated module providing information about the build."""
import collections

build_info = collections.OrderedDict([('is_cuda_build', False), ('is_rocm_build', False), ('is_tensorrt_build', False)])
'''
LINUX_CUDA = ("import collections\nbuild_info = collections.OrderedDict([('cpu_compiler', 'clang 18'), "
              "('cuda_compute_capabilities', ['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']), "
              "('cuda_version', '12.5.1'), ('cudnn_version', '9'), ('is_cuda_build', True), "
              "('is_rocm_build', False), ('is_tensorrt_build', False)])\n")
WINDOWS_DICT = ("from __future__ import absolute_import\nbuild_info = {'cuda_version': '64_101', "
                "'cudnn_version': '64_7', 'cuda_compute_capabilities': ['sm_35', 'sm_37', 'sm_52', 'sm_60', "
                "'sm_61', 'compute_70'], 'is_rocm_build': False, 'is_cuda_build': True, "
                "'cudart_dll_name': 'cudart64_101.dll', 'cudnn_dll_name': 'cudnn64_7.dll'}\n")
OLD_CONSTANTS = "is_rocm_build = False\nis_cuda_build = True\ncuda_version_number = '10.0'\ncudnn_version_number = '7'\n"


def test_parse_build_info_every_layout_without_executing():
    assert probe_target.parse_build_info(REAL_221_CPU) == {"is_cuda_build": False, "is_rocm_build": False,
                                                           "is_tensorrt_build": False}
    linux = probe_target.parse_build_info(LINUX_CUDA)
    assert linux["cuda_version"] == "12.5.1" and linux["cudnn_version"] == "9" and linux["is_cuda_build"] is True
    win = probe_target.parse_build_info(WINDOWS_DICT)
    assert win["cuda_version"] == "64_101" and win["cudnn_dll_name"] == "cudnn64_7.dll"
    old = probe_target.parse_build_info(OLD_CONSTANTS)
    assert old["is_cuda_build"] is True and old["cuda_version"] == "10.0" and old["cudnn_version"] == "7"
    sub = probe_target.parse_build_info("build_info = {}\nbuild_info['cuda_version'] = '11.2'\n")
    assert sub == {"cuda_version": "11.2"}
    # code is parsed, never run: a file that would exit or call things yields only literals
    hostile = "import os\nraise SystemExit(3)\nbuild_info = dict(is_cuda_build=os.getpid())\nx = 1\n"
    assert probe_target.parse_build_info(hostile) == {"x": 1, "is_cuda_build": None}
    with pytest.raises(SyntaxError):
        probe_target.parse_build_info("build_info = {")


@pytest.mark.parametrize("raw,want", [("12.5.1", "12.5"), ("12.2", "12.2"), ("64_112", "11.2"),
                                      ("64_101", "10.1"), ("64_116", "11.6"), ("11", "11"), (None, None),
                                      ("unknown", None)])
def test_cuda_version_normalisation(raw, want):
    assert _parse_cuda_version(raw) == want


def test_cudnn_and_int_versions():
    assert _parse_cudnn_version("64_8") == "8" and _parse_cudnn_version("9") == "9"
    assert cuda_int_to_str(12020) == "12.2" and cuda_int_to_str(11040) == "11.4" and cuda_int_to_str(None) is None


def test_probe_target_is_python36_syntax_and_stdlib_only():
    src = Path(probe_target.__file__).read_text()
    tree = ast.parse(src, feature_version=(3, 6))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    # pynvml is optional (tried, ctypes otherwise); tensorflow only in the on-request tfimport probe
    assert imported - {"pynvml", "tensorflow"} <= set(sys.stdlib_module_names)
    assert "dataclasses" not in imported  # 3.7+


def test_marker_parsing_ignores_noise():
    out = "warning from sitecustomize\n@@TFHELP@@{\"ok\": true, \"data\": {\"a\": 1}}\ntrailing\n"
    assert parse_marker(out) == {"ok": True, "data": {"a": 1}}
    assert parse_marker("@@TFHELP@@{broken") is None
    assert parse_marker("nothing") is None


def test_crash_signal_names_posix_and_windows_codes():
    assert crash_signal(-11) == "SIGSEGV" and crash_signal(-4) == "SIGILL"
    assert crash_signal(0xC000001D) == "SIGILL" and crash_signal(0) is None and crash_signal(None) is None


# ------------------------------------------------------------------------------ fault tolerance
def test_each_fault_is_reported_and_the_rest_still_runs():
    t0 = time.monotonic()
    r = probe(sys.executable, only=["basic", "cpu"], extra={
        "selftest-hang": ("target", 1.0), "selftest-segv": ("target", 10.0), "selftest-raise": ("target", 10.0)})
    elapsed = time.monotonic() - t0
    assert r.probes["basic"].ok and r.probes["cpu"].ok
    hang, segv, err = r.probes["selftest-hang"], r.probes["selftest-segv"], r.probes["selftest-raise"]
    assert hang.status == "timeout" and "killed" in hang.error
    assert segv.status == "crashed" and segv.signal == "SIGSEGV" and segv.returncode == -11
    assert err.status == "error" and "RuntimeError: selftest probe raised on purpose" in err.error
    assert "Traceback" in err.stderr_tail
    assert elapsed < 8, "probes run concurrently; the hang costs its timeout, not more"
    assert {p.name for p in r.failed_probes()} == {"selftest-hang", "selftest-segv", "selftest-raise"}


def test_timeout_kills_grandchildren_too():
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    t0 = time.monotonic()
    oc = run_process([sys.executable, "-c", code], timeout=1.0)
    assert oc.timed_out and time.monotonic() - t0 < 10


def test_missing_interpreter_is_unavailable_not_an_exception(tmp_path):
    r = run_subprobe("basic", str(tmp_path / "nope"), 5)
    assert r.status == "unavailable" and r.error


# ------------------------------------------------------------------------------ real probe here
def test_real_probe_of_this_interpreter_is_fast_and_truthful():
    t0 = time.monotonic()
    r = probe(sys.executable)
    assert time.monotonic() - t0 < 15
    assert all(p.ok for p in r.probes.values()), {k: (v.status, v.error) for k, v in r.probes.items()}
    assert r.python_version == platform.python_version()
    assert r.python_bits == (64 if sys.maxsize > 2 ** 32 else 32)
    assert "pyyaml" in r.packages and "rich" in r.packages
    env = r.to_environment()
    assert env.source == "probe" and env.python == platform.python_version()
    if sys.platform.startswith("linux"):
        assert r.platform in ("linux", "wsl")
        flags = r.cpu_flags
        text = Path("/proc/cpuinfo").read_text()
        assert flags["avx"] == (" avx " in text.replace("\n", " ") + " ")
    # GPU facts come only from what NVML actually answered
    has_driver = os.path.exists("/proc/driver/nvidia/version")
    if not has_driver and sys.platform.startswith("linux"):
        assert r.gpus == [] and r.driver_version is None


# ------------------------------------------------------------------------------ recorded fixtures
@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_roundtrip_and_environment(path):
    raw = json.loads(path.read_text())
    r = ProbeResult.from_json(raw)
    assert r.to_json()["probes"].keys() == raw["probes"].keys()
    assert ProbeResult.from_json(r.to_json()).to_json() == r.to_json()
    env = r.to_environment()
    assert env.source == "probe" and env.platform in ("linux", "windows", "wsl", "macos")
    assert env.python and env.python.count(".") == 2
    assert raw["notes"], "every fixture says where it came from"
    if ".constructed." in path.name:
        assert raw["notes"][0].startswith("CONSTRUCTED")


def test_fixture_real_tf_cpu_venv_facts():
    r = load("linux-venv-tf-cpu-2.21.json")
    assert r.tf_distributions == ["tensorflow-cpu"] and r.tf_version == "2.21.0"
    assert r.tf_build["is_cuda_build"] is False and r.tf_build["source"] == "build_info.py"
    assert r.packages["keras"].startswith("3.") and r.env_kind == "venv"
    assert any(req.startswith("numpy") for req in r.tf_requires)
    env = r.to_environment()
    assert env.version("tensorflow") == "2.21.0" and env.tf_distributions() == ["tensorflow-cpu"]
    assert env.facts["tf_build"]["is_cuda_build"] is False


def test_fixture_python36_fallback_lists_packages():
    r = load("linux-py36-no-tf.json")
    assert r.python_version.startswith("3.6.") and "pip" in r.packages and r.tf_distributions == []


def test_fixture_constructed_gpu_facts():
    r = load("gpu-linux-tf2.15-a100-healthy.constructed.json")
    assert r.driver_version == "535.104.05" and r.driver_cuda_version == "12.2"
    assert r.gpus[0]["compute_capability"] == "8.0"
    assert r.tf_build["cuda_version"] == "12.2" and r.tf_build["cudnn_version"] == "8"
    libs = r.cuda_libraries
    assert libs["cudnn"]["loaded"] and libs["cudnn"]["copies"][0]["via"] == "pip"
    env = r.to_environment()
    assert env.facts["compute_capability"] == "8.0" and env.facts["tf_cuda_version"] == "12.2"
    w = load("windows-native-tf2.15-rtx3060.constructed.json")
    assert w.platform == "windows" and w.cpu_flags is None
    assert w.tf_distributions == ["tensorflow", "tensorflow-intel"]


def test_fixture_faults_recorded():
    r = load("linux-probe-faults.json")
    st = {k: v.status for k, v in r.probes.items()}
    assert st["selftest-hang"] == "timeout" and st["selftest-segv"] == "crashed" and st["selftest-raise"] == "error"
    assert st["basic"] == "ok" and st["packages"] == "ok"
