"""The real transaction of issue 6: tensorflow-cpu 2.15 + NumPy 2 fails to import (NumPy ABI);
`tfhelp fix` applies the rule's fix (NumPy below 2), the import works, `tfhelp undo` restores the
exact previous versions. Installs TensorFlow into a throwaway venv (a few minutes; wheels come from
~/.cache/tfhelp-wheels when present)."""
import json
import os
import subprocess
import sys
import venv

import pytest

WHEELS = os.path.expanduser("~/.cache/tfhelp-wheels")


def pip_list(py):
    out = subprocess.run([py, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {d["name"].lower(): d["version"] for d in json.loads(out)}


def tfhelp(*args, env):
    return subprocess.run([sys.executable, "-m", "tfhelp", *args], capture_output=True, text=True, env=env,
                          timeout=900)


@pytest.mark.slow
def test_numpy2_abi_fix_then_undo_on_real_tensorflow(tmp_path):
    d = tmp_path / "tf215"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(d)
    py = str(d / "bin" / "python")
    os.makedirs(WHEELS, exist_ok=True)
    src = ["--find-links", WHEELS]
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *src,
                    "tensorflow-cpu==2.15.1"], check=True, timeout=1800)
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *src, "numpy==2.0.2"],
                   check=True, timeout=600)
    broken = subprocess.run([py, "-c", "import tensorflow"], capture_output=True, text=True, timeout=300)
    assert broken.returncode != 0
    assert "A module that was compiled using NumPy 1.x cannot be run in" in broken.stdout + broken.stderr
    before = pip_list(py)
    assert before["numpy"] == "2.0.2"

    env = dict(os.environ, PIP_FIND_LINKS=WHEELS)
    # the diagnosis of the real output names the rule whose fix we apply
    rep = subprocess.run([sys.executable, "-m", "tfhelp", "diagnose", "--json", "-"], input=broken.stdout + broken.stderr,
                         capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(rep.stdout)["diagnoses"][0]["id"] == "numpy2-abi-compiled-numpy1"

    res = tfhelp("fix", "numpy2-abi-compiled-numpy1", "--python", py, "--yes", "--json", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert doc["plan"]["steps"][0]["argv"][:4] == [py, "-m", "pip", "install"]
    assert doc["plan"]["steps"][0]["argv"][-1] == "numpy<2.0.0,>=1.23.5"
    out = doc["outcome"]
    assert out["status"] == "applied" and out["verified"] == "passed"
    assert list(out["changes"]["changed"]) == ["numpy"] and not out["changes"]["added"]
    fixed = subprocess.run([py, "-c", "import numpy, tensorflow as tf; print(numpy.__version__, tf.__version__)"],
                           capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 0 and fixed.stdout.split()[-1] == "2.15.1"
    assert fixed.stdout.split()[-2].startswith("1.")

    hist = json.loads(tfhelp("history", "--python", py, "--json", env=env).stdout)["entries"]
    assert hist[-1]["status"] == "applied" and hist[-1]["verification"]["status"] == "passed"

    und = tfhelp("undo", "--python", py, "--yes", "--json", env=env)
    assert und.returncode == 0, und.stdout + und.stderr
    assert json.loads(und.stdout)["exact"] is True
    assert pip_list(py) == before                        # exact previous versions, numpy 2.0.2 included
    again = subprocess.run([py, "-c", "import tensorflow"], capture_output=True, text=True, timeout=300)
    assert again.returncode != 0                         # and so the original failure is back
