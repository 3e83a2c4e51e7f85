"""Fixes for a standalone Keras that does not match the installed TensorFlow, applied for real in
throwaway venvs (offline from the wheel cache) with the versions of the reproduced corpus cases:

* keras 2.3.1 installed over tensorflow-cpu 2.12.1 (corpus import/keras231-tf212-import)
  -> keras-api-v2-missing;
* keras 3.15.1 installed over tensorflow-cpu 2.13.1, which also drags NumPy up to 2.x
  (corpus import/tf213-keras315-tf-keras) -> keras3-under-old-tf, diagnosed from what
  `pip install keras==3.15.1` printed;
* the same, then NumPy put back to 1.24.3 (corpus import/tf213-keras315-numpy1-import-keras)
  -> ml-dtypes-needs-newer-numpy.

The two TensorFlow 2.13.1 cases share one venv: each test first re-creates the broken state with
the same pip commands as the corpus case. Each test reproduces the error, diagnoses it with the
versions a probe reports, applies the first fix offered through the fix applier (including the
fix's own verification) and runs the program again.
"""
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset
from venvs import PIP_ARGS, apply_first_fix, cached_venv, ensure_cached, pip_install, pip_list, probed_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the cached TensorFlow wheels are manylinux")]

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}

# the corpus cases' model.py (corpus/reproduce/cases.yaml)
TF_KERAS_MODEL = ("import tensorflow as tf\n"
                  "model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])\n"
                  "model.compile(optimizer='adam', loss='mse')\n"
                  "print('ok', model.predict(tf.ones((2, 4)), verbose=0).shape)\n")
IMPORT_KERAS_MODEL = ("import keras\nprint(keras.__version__)\n"
                      "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
                      "model.compile(optimizer='adam', loss='mse')\n"
                      "import numpy as np\n"
                      "print('ok', model.predict(np.ones((2, 4)), verbose=0).shape)\n")


def _run(py, *args, cwd=None):
    p = subprocess.run([py, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **QUIET})
    return p.returncode, p.stdout, p.stdout + p.stderr


def _pip_output(py, *args):
    """Install offline (the wheels are already cached by then) and return what pip printed."""
    p = subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", *PIP_ARGS, *args],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def _diagnose_and_apply(text, py, tmp_path, rule_id):
    report = ENGINE.diagnose(text, env=probed_env(py))
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == rule_id, (ids, text[-800:])
    diagnosis = report.diagnoses[0]
    return apply_first_fix(diagnosis, ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path / "state")


def test_keras231_over_tf212_matching_keras_installed_then_import_works(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "tensorflow-cpu==2.12.1")
    pip_install(py, "keras==2.3.1")  # the seed guide's standalone Keras
    rc, _out, text = _run(py, "-c", "import keras; print(keras.__version__)")
    assert rc != 0 and "No module named 'keras.api'" in text, text

    fix = _diagnose_and_apply(text, py, tmp_path, "keras-api-v2-missing")
    assert fix["steps"][0]["packages"][0].startswith("keras"), fix
    assert pip_list(py)["keras"].startswith("2.12."), pip_list(py)
    rc, out, text = _run(py, "-c", "import keras; print(keras.__version__)")
    assert rc == 0 and out.strip().splitlines()[-1].startswith("2.12."), text
    script = tmp_path / "model.py"
    script.write_text(TF_KERAS_MODEL)
    rc, out, text = _run(py, str(script))
    assert rc == 0 and out.strip().splitlines()[-1] == "ok (2, 1)", text


@pytest.fixture(scope="module")
def tf213(tmp_path_factory):
    # the corpus cases' versions, ml-dtypes included (keras 3.15.1 alone would take the newest)
    # (separate resolutions: together they conflict, which is what the tests reproduce)
    for group in (("tensorflow-cpu==2.13.1",), ("keras==3.15.1", "ml-dtypes==0.6.0"), ("numpy==1.24.3",)):
        ensure_cached(*group)
    return cached_venv(tmp_path_factory.mktemp("tf213") / "venv", "tensorflow-cpu==2.13.1")


def test_keras315_over_tf213_pip_conflict_first_fix_puts_keras2_back(tf213, tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = tf213
    pip_text = _pip_output(py, "keras==3.15.1", "ml-dtypes==0.6.0")
    assert "but you have keras 3.15.1 which is incompatible" in pip_text, pip_text
    assert pip_list(py)["numpy"].startswith("2."), pip_list(py)  # pulled up through ml-dtypes 0.6
    script = tmp_path / "model.py"
    script.write_text(TF_KERAS_MODEL)
    rc, _out, text = _run(py, str(script))
    assert rc != 0 and "compiled using NumPy 1.x" in text, text

    fix = _diagnose_and_apply(pip_text, py, tmp_path, "keras3-under-old-tf")
    installed = pip_list(py)
    assert installed["keras"].startswith("2.13."), installed
    assert installed["tensorflow-cpu"] == "2.13.1" and installed["numpy"] == "1.24.3", (fix, installed)
    rc, out, text = _run(py, str(script))
    assert rc == 0 and out.strip().splitlines()[-1] == "ok (2, 1)", text


def test_keras315_numpy124_over_tf213_ml_dtypes_error_first_fix_puts_keras2_back(tf213, tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = tf213
    _pip_output(py, "keras==3.15.1", "ml-dtypes==0.6.0")  # again: the previous test may have put Keras 2 back
    _pip_output(py, "numpy==1.24.3")  # what NumPy's own banner suggests
    installed = {name.replace("_", "-"): v for name, v in pip_list(py).items()}
    assert installed["keras"] == "3.15.1" and installed["ml-dtypes"] == "0.6.0", installed
    script = tmp_path / "model.py"
    script.write_text(IMPORT_KERAS_MODEL)
    rc, _out, text = _run(py, str(script))
    assert rc != 0 and "module 'numpy' has no attribute 'exceptions'" in text, text

    _diagnose_and_apply(text, py, tmp_path, "ml-dtypes-needs-newer-numpy")
    installed = pip_list(py)
    assert installed["keras"].startswith("2.13.") and installed["numpy"] == "1.24.3", installed
    rc, out, text = _run(py, str(script))
    assert rc == 0 and out.strip().splitlines()[-2].startswith("2.13."), text
    assert out.strip().splitlines()[-1] == "ok (2, 1)", text
