"""Fixes for version-specific TensorFlow errors applied for real, one throwaway venv per
TensorFlow release, offline from the wheel cache, with the versions of the reproduced corpus cases:

* tensorflow-cpu 2.15.1 (Keras 2.15): `decay=` passed to a new-style optimizer
  (corpus api-change/tf215-keras2-optimizer-lr) -> keras-optimizer-decay-removed;
* tensorflow-cpu 2.12.1 under keras 2.15.0 (corpus import/tf212-keras215-import-keras)
  -> keras-tf-symbol-already-exposed;
* tensorflow-cpu 2.20.0 under protobuf 4.25.9 (corpus protobuf/tf220-protobuf425-runtime-too-old)
  -> protobuf-gencode-runtime-mismatch.

Each test reproduces the error, diagnoses it with the versions a probe reports, applies the first
fix offered (to the script, for a code change) through the fix applier, and reruns the command.
"""
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset
from venvs import PIP_ARGS, apply_first_fix, cached_venv, pip_install, pip_list, probed_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the cached TensorFlow wheels are manylinux")]

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def _run(py, *args, cwd=None):
    p = subprocess.run([py, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **QUIET})
    return p.returncode, p.stdout, p.stdout + p.stderr


def _diagnose_and_apply(text, py, tmp_path, rule_id, code_file=None):
    report = ENGINE.diagnose(text, env=probed_env(py))
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == rule_id, (ids, text[-800:])
    diagnosis = report.diagnoses[0]
    ctx = ApplyContext(python=py, pip_args=PIP_ARGS, code_file=code_file, script=code_file)
    return apply_first_fix(diagnosis, ctx, tmp_path / "state", verified=("passed", None, "none"))


def test_tf215_optimizer_decay_replaced_by_schedule_then_script_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "tensorflow-cpu==2.15.1")
    script = tmp_path / "train.py"
    script.write_text("import tensorflow as tf\n"
                      "opt = tf.keras.optimizers.SGD(learning_rate=0.01, decay=1e-6)\n"
                      "print('ok', type(opt).__name__, float(schedule(10)))\n")
    rc, _out, text = _run(py, str(script))
    assert rc != 0 and "decay is deprecated" in text, text

    _diagnose_and_apply(text, py, tmp_path, "keras-optimizer-decay-removed", code_file=str(script))
    assert "InverseTimeDecay" in script.read_text()
    rc, out, text = _run(py, str(script))
    assert rc == 0 and out.strip().splitlines()[-1].startswith("ok SGD"), text


def test_keras215_over_tf212_matching_keras_installed_then_model_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "tensorflow-cpu==2.12.1")
    pip_install(py, "keras==2.15.0")  # what a later `pip install -U keras` (2.x) does here
    script = tmp_path / "model.py"
    script.write_text("import numpy as np\nimport keras\nprint(keras.__version__)\n"
                      "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
                      "model.compile(optimizer='adam', loss='mse')\n"
                      "print('ok', model.predict(np.ones((2, 4)), verbose=0).shape)\n")
    rc, _out, text = _run(py, str(script))
    assert "already exposed" in text, text

    fix = _diagnose_and_apply(text, py, tmp_path, "keras-tf-symbol-already-exposed")
    assert fix["steps"][0]["packages"][0].startswith("keras"), fix
    assert pip_list(py)["keras"].startswith("2.12."), pip_list(py)
    rc, out, text = _run(py, str(script))
    assert rc == 0 and out.strip().splitlines()[-1] == "ok (2, 1)" and "already exposed" not in text, text


def test_tf220_under_protobuf425_offered_protobuf_range_fixes_import(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "tensorflow-cpu==2.20.0")
    pip_install(py, "--no-deps", "protobuf==4.25.9")  # pinned down by some other package
    rc, _out, text = _run(py, "-c", "import tensorflow as tf")
    assert rc != 0 and "runtime_version" in text, text

    fix = _diagnose_and_apply(text, py, tmp_path, "protobuf-gencode-runtime-mismatch")
    assert fix["steps"][0]["packages"][0].startswith("protobuf"), fix
    rc, out, text = _run(py, "-c", "import tensorflow as tf; print(tf.__version__)")
    assert rc == 0 and out.strip().splitlines()[-1] == "2.20.0", text
    assert int(pip_list(py)["protobuf"].split(".")[0]) >= 5, pip_list(py)  # TF 2.20's gencode is 5.x+
