"""NumPy ABI / pickle fixes applied for real in small throwaway venvs (no TensorFlow), offline
from the wheel cache, with the versions of the reproduced corpus cases:

* pandas 2.1.4 (built against NumPy 1.x) under NumPy 2.1.3 (corpus abi/pandas21-numpy2-dtype-size-changed):
  numpy-dtype-size-changed;
* a NumPy 2.1.3 pickle loaded under NumPy 1.25.2 (corpus abi/numpy2-pickle-loaded-by-numpy125):
  numpy-core-pickle-numpy2.

Each test reproduces the error, diagnoses it with the versions a probe reports, applies the first
fix offered through the fix applier, and reruns the original command.
"""
import subprocess

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset
from venvs import PIP_ARGS, apply_first_fix, cached_venv, pip_install, pip_list, probed_env

pytestmark = pytest.mark.slow

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))


def _run(py, *args, cwd=None):
    p = subprocess.run([py, *args], capture_output=True, text=True, cwd=cwd)
    return p.returncode, p.stdout + p.stderr


def _apply_first_fix(diagnosis, py, tmp_path):
    return apply_first_fix(diagnosis, ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path / "state",
                           verified=("passed", None, "none"))


def test_pandas21_under_numpy2_first_fix_makes_import_pandas_work(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "pandas==2.1.4")
    pip_install(py, "numpy==2.1.3")  # what a later `pip install -U numpy` does (pandas 2.1.4 asks numpy<2)
    rc, text = _run(py, "-c", "import pandas")
    assert rc != 0 and "numpy.dtype size changed" in text, text

    report = ENGINE.diagnose(text, env=probed_env(py))
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == "numpy-dtype-size-changed", ids
    _apply_first_fix(report.diagnoses[0], py, tmp_path)
    rc, text = _run(py, "-c", "import numpy, pandas; print(numpy.__version__, pandas.__version__)")
    assert rc == 0 and text.split()[0].startswith("1.") and text.split()[1] == "2.1.4", text


def test_numpy2_pickle_under_numpy125_first_fix_makes_it_load(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv", "numpy==2.1.3")
    rc, text = _run(py, "-c", "import numpy, pickle; pickle.dump(numpy.arange(3), open('arr.pkl', 'wb'))",
                    cwd=str(tmp_path))
    assert rc == 0, text
    pip_install(py, "numpy==1.25.2")
    load = ("-c", "import pickle; print(pickle.load(open('arr.pkl', 'rb')))")
    rc, text = _run(py, *load, cwd=str(tmp_path))
    assert rc != 0 and "numpy._core" in text, text

    report = ENGINE.diagnose(text, env=probed_env(py))
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == "numpy-core-pickle-numpy2", ids
    _apply_first_fix(report.diagnoses[0], py, tmp_path)
    rc, text = _run(py, *load, cwd=str(tmp_path))
    assert rc == 0 and text.splitlines()[0] == "[0 1 2]", text
    assert pip_list(py)["numpy"] != "1.25.2"
