"""tfhelp doctor's exit status tells the truth: 0 healthy, 1 errors, 3 target unusable, 4 probe failed."""
from __future__ import annotations

import io
import json
import os
import sys

import pytest

from fakeenvs import add_dist, script, tf215_numpy2_venv, venv

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake interpreters are /bin/sh scripts")


def _doctor(*argv):
    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["doctor", *argv], Context(stdout=out, stderr=err, width=200, color=False))
    return code, out.getvalue(), err.getvalue()


def test_healthy_interpreter_exits_0():
    code, out, err = _doctor("--python", sys.executable)
    assert code == 0, out + err


def test_missing_interpreter_is_unusable_3(tmp_path):
    code, _, err = _doctor("--python", str(tmp_path / "nope" / "python"))
    assert code == 3 and "no Python interpreter" in err
    code, out, _ = _doctor("--python", str(tmp_path / "nope" / "python"), "--json")
    assert code == 3 and json.loads(out)["exit_status"] == 3


@posix_only
def test_file_that_cannot_be_executed_is_unusable_3(tmp_path):
    p = tmp_path / "python"
    p.write_text("not a program\n")
    p.chmod(0o644)
    code, out, _ = _doctor("--python", str(p), "--json")
    data = json.loads(out)
    assert code == 3 and data["exit_status"] == 3 and data["probe_failure"].startswith("unusable")


@posix_only
def test_hanging_interpreter_is_probe_failed_4(tmp_path):
    hang = script(tmp_path, "python", "exec sleep 600")
    code, out, _ = _doctor("--python", str(hang), "--timeout", "2")
    assert code == 4, out
    assert "0 error(s)" not in out and "Could not check this interpreter" in out and "hung" in out


@posix_only
def test_garbage_printing_interpreter_is_probe_failed_4(tmp_path):
    junk = script(tmp_path, "python", "echo 'Welcome to totally-not-python'; echo '@@TFHELP@@{broken'")
    code, out, _ = _doctor("--python", str(junk), "--json")
    data = json.loads(out)
    assert code == 4 and data["exit_status"] == 4 and "not a probe result" in data["probe_failure"]


def test_tensorflow_that_fails_to_import_is_an_error_1_and_not_ticked(tmp_path):
    py = venv(tmp_path / "v")
    add_dist(py, "numpy", "1.26.4", init="")
    add_dist(py, "protobuf", "4.25.3")
    add_dist(py, "tensorflow", "2.15.0", requires=["numpy<2.0.0,>=1.23.5"],
             init="raise ImportError('libtensorflow_framework.so.2: cannot open shared object file')\n")
    code, out, _ = _doctor("--python", str(py))
    assert code == 1, out
    tf_line = next(line for line in out.splitlines() if "TensorFlow:" in line)
    assert tf_line.startswith("[✗]") and "import tensorflow` fails" in tf_line
    assert "1 error(s)" in out or "error(s)" in out
    # --quick skips the import: the static checks alone find nothing wrong here
    code, out, _ = _doctor("--python", str(py), "--quick")
    assert code == 0, out


def test_numpy_abi_env_exits_1_and_the_import_failure_is_diagnosed(tmp_path):
    py = tf215_numpy2_venv(tmp_path / "v")
    code, out, _ = _doctor("--python", str(py), "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_status"] == 1 and data["status"] == "error"
    imp = next(c for c in data["checks"] if c["id"] == "import")
    assert imp["status"] == "error" and any(p["rule"] == "numpy2-abi-compiled-numpy1" for p in imp["problems"])


def test_exit_status_of_recorded_reports():
    from pathlib import Path

    from tfhelp.assistant.environment.doctor import diagnose
    from tfhelp.assistant.environment.probe import ProbeResult

    fx = Path(__file__).parent / "fixtures" / "probe"

    def status(name, mutate=None):
        raw = json.loads((fx / name).read_text())
        if mutate:
            mutate(raw)
        return diagnose(ProbeResult.from_json(raw)).exit_status

    assert status("gpu-linux-tf2.15-a100-healthy.constructed.json") == 0
    assert status("linux-system-py311-no-tf.json") == 0           # a warning only: TF not installed
    assert status("linux-tf2.15-mixed-numpy2-keras3.constructed.json") == 1
    assert status("linux-probe-faults.json") == 0                 # optional self-test probes failed only

    def hung_packages(raw):
        raw["probes"]["packages"].update(status="timeout", data={}, error="no answer within 20s; killed")

    assert status("gpu-linux-tf2.15-a100-healthy.constructed.json", hung_packages) == 4
