"""One fix ordering for every front end: in the same situation (TensorFlow 2.15 beside NumPy 2, the
ABI banner) diagnose, run, doctor, fix and the REPL offer the same first fix."""
from __future__ import annotations

import io
import json

import pytest

from fakeenvs import NUMPY_BANNER, tf215_numpy2_venv

ERROR_TEXT = NUMPY_BANNER + "Traceback (most recent call last):\n  File \"train.py\", line 1, in <module>\n" \
    "    import tensorflow as tf\nAttributeError: _ARRAY_API not found\n"
WANT = ["numpy>=1.23.5,<2.0.0"]  # TF 2.15.0's own Requires-Dist range


@pytest.fixture(scope="module")
def py(tmp_path_factory):
    return str(tf215_numpy2_venv(tmp_path_factory.mktemp("tf215np2") / "v"))


def _cli(argv):
    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends.cli import main

    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, width=200, color=False)
    code = main(argv, ctx)
    return code, out.getvalue(), err.getvalue()


def _first_pip(fixes):
    step = next(s for s in fixes[0]["steps"] if s["action"] == "pip_install")
    return step["packages"]


def test_same_first_fix_from_every_front_end(py, tmp_path):
    firsts = {}
    # diagnose --probe
    err_file = tmp_path / "err.txt"
    err_file.write_text(ERROR_TEXT)
    code, out, err = _cli(["diagnose", "--probe", "--json", "--python", py, str(err_file)])
    rep = json.loads(out)
    abi = [d for d in rep["diagnoses"] if d["id"] in ("numpy2-abi-compiled-numpy1", "numpy-array-api-not-found")]
    firsts["diagnose"] = _first_pip(abi[0]["fixes"])
    # fix --list
    code, out, err = _cli(["fix", "numpy2-abi-compiled-numpy1", "--list", "--json", "--python", py])
    firsts["fix"] = _first_pip(json.loads(out)["fixes"])
    # doctor: the NumPy check and the diagnosis of the failed import
    code, out, err = _cli(["doctor", "--json", "--python", py])
    doc = json.loads(out)
    np_problem = next(p for p in doc["problems"] if p["rule"] == "numpy2-abi-compiled-numpy1")
    assert len(np_problem["commands"]) == 1 and np_problem["commands"][0].startswith(py + " -m pip install ")
    firsts["doctor"] = [np_problem["commands"][0].split(" install ", 1)[1].strip("'\"")]
    imp = next(p for p in doc["problems"] if p["check"] == "import" and p["commands"])
    firsts["doctor import"] = [imp["commands"][0].split(" install ", 1)[1].strip("'\"")]
    # run: a script that fails the way `import tensorflow` does in that env
    script = tmp_path / "train.py"
    script.write_text("import tensorflow\n")
    out_json = tmp_path / "run.json"
    code, out, err = _cli(["run", "--python", py, "--no-pty", "--json-out", str(out_json), str(script)])
    assert code == 1
    run_rep = json.loads(out_json.read_text())
    abi = [d for d in run_rep["diagnoses"] if d["id"] in ("numpy2-abi-compiled-numpy1", "numpy-array-api-not-found")]
    firsts["run"] = _first_pip(abi[0]["fixes"])
    # REPL
    from rich.console import Console

    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends.repl import Session

    s = Session(Context(), Console(file=io.StringIO(), width=200, color_system=None, markup=False), python=py)
    s.wait_probe(60)
    s.handle(ERROR_TEXT)
    d = next(d for d in s.report.diagnoses if d.id in ("numpy2-abi-compiled-numpy1", "numpy-array-api-not-found"))
    firsts["repl"] = _first_pip(d.fixes)
    assert firsts == {k: WANT for k in firsts}, firsts
