"""Section B fixes applied for real in throwaway venvs, offline from the wheel cache.

Each test reproduces an error, diagnoses it with the versions a probe would report, plans and
applies the first fix tfhelp offers through the fix applier, and checks that the fix's own
verification passes and the original command now works:

* NumPy 2 under tensorflow-cpu 2.15 (numpy2-abi-compiled-numpy1, numpy-array-api-not-found);
* protobuf 3.19 under tensorflow-cpu 2.15 (protobuf-builder-missing);
* TensorBoard 2.8's old generated code under protobuf 4.21 (protobuf-descriptors-cannot-be-created);
* removed NumPy aliases in user code (numpy-removed-alias, numpy2-removed-attribute);
* TensorFlow 2.15's harmless start-up notices silenced by the offered variables
  (onednn-custom-operations-notice, cpu-feature-guard-optimized-notice).
"""
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

pytestmark = pytest.mark.slow

from venvs import PIP_ARGS, apply_first_fix, WHEELS  # noqa: E402
from venvs import cached_venv as _make_venv  # noqa: E402
from venvs import pip_install as _pip  # noqa: E402
from venvs import probed_env as _probe  # noqa: E402

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))


def _run(py, *args):
    """(returncode, stdout + stderr); stdout first, so a printed result is on its first line."""
    p = subprocess.run([py, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def _apply_first_fix(diagnosis, ctx, tmp_path):
    return apply_first_fix(diagnosis, ctx, tmp_path / "state")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cached TensorFlow wheels are manylinux")
def test_numpy2_under_tf215_pin_from_installed_tf_fixes_import(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = _make_venv(tmp_path / "venv", "tensorflow-cpu==2.15.1")
    _pip(py, "numpy==2.1.3")  # what a later `pip install numpy` does to this environment
    rc, text = _run(py, "-c", "import tensorflow")
    assert rc != 0 and "_ARRAY_API not found" in text

    report = ENGINE.diagnose(text, env=_probe(py))
    ids = [d.id for d in report.diagnoses]
    assert ids[:2] == ["numpy2-abi-compiled-numpy1", "numpy-array-api-not-found"], ids
    first = report.diagnoses[0]
    pins = [s["packages"] for s in first.fixes[0]["steps"] if s["action"] == "pip_install"]
    assert pins == [["numpy>=1.23.5,<2.0.0"]], pins  # tensorflow-cpu 2.15.1's own NumPy bound
    assert report.diagnoses[1].fixes[0]["steps"][0] == first.fixes[0]["steps"][0]

    _apply_first_fix(first, ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path)
    rc, text = _run(py, "-c", "import numpy, tensorflow as tf; print(numpy.__version__, tf.__version__)")
    np_version, tf_version = text.splitlines()[0].split()
    assert rc == 0 and tf_version == "2.15.1" and np_version.startswith("1."), text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cached TensorFlow wheels are manylinux")
def test_protobuf319_under_tf215_upgrade_to_tf_range_fixes_import(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = _make_venv(tmp_path / "venv", "tensorflow-cpu==2.15.1")
    _pip(py, "protobuf==3.19.6")  # pinned down by some other package
    rc, text = _run(py, "-c", "import tensorflow")
    assert rc != 0 and "cannot import name 'builder'" in text

    report = ENGINE.diagnose(text, env=_probe(py))
    assert report.diagnoses[0].id == "protobuf-builder-missing", [d.id for d in report.diagnoses]
    fix = _apply_first_fix(report.diagnoses[0], ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path)
    assert fix["steps"][0]["packages"][0].startswith("protobuf>=3.20.3"), fix
    rc, text = _run(py, "-c", "import tensorflow as tf; print(tf.__version__)")
    assert rc == 0 and text.splitlines()[0] == "2.15.1", text


@pytest.mark.parametrize("numpy_req,line,rule_id", [
    ("numpy==1.26.4", "labels = np.array(['cat', 'dog'], dtype=np.object)", "numpy-removed-alias"),
    ("numpy==2.1.3", "x = np.zeros(4, dtype=np.float_)", "numpy2-removed-attribute"),
])
def test_numpy_alias_code_change_applied_to_script_then_script_runs(tmp_path, monkeypatch, numpy_req, line, rule_id):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = _make_venv(tmp_path / "venv", numpy_req)
    script = tmp_path / "prep.py"
    script.write_text("import numpy as np\n" + line + "\nprint('ok')\n")
    rc, text = _run(py, str(script))
    assert rc != 0

    report = ENGINE.diagnose(text, env=_probe(py))
    assert report.diagnoses[0].id == rule_id, [d.id for d in report.diagnoses]
    ctx = ApplyContext(python=py, pip_args=PIP_ARGS, code_file=str(script), script=str(script))
    _apply_first_fix(report.diagnoses[0], ctx, tmp_path)
    rc, text = _run(py, str(script))
    assert rc == 0 and text.splitlines()[0] == "ok", text


def test_old_generated_code_under_protobuf421_downgrade_fixes_import(tmp_path, monkeypatch):
    """TensorBoard 2.8's _pb2 files (protoc < 3.19) under protobuf 4.21.0: Descriptors error, then fixed."""
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = _make_venv(tmp_path / "venv", "protobuf==4.21.0")
    _pip(py, "--no-deps", "tensorboard==2.8.0")
    if not any(f.startswith("protobuf-3.20.3-") for f in os.listdir(WHEELS)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", WHEELS, "protobuf==3.20.3"],
                       check=True)
    cmd = ("-c", "from tensorboard.compat.proto import summary_pb2; print('ok')")
    rc, text = _run(py, *cmd)
    assert rc != 0 and "Descriptors cannot" in text

    report = ENGINE.diagnose(text, env=_probe(py))
    assert report.diagnoses[0].id == "protobuf-descriptors-cannot-be-created", [d.id for d in report.diagnoses]
    fix = _apply_first_fix(report.diagnoses[0], ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path)
    assert fix["steps"][0]["packages"] == ["protobuf==3.20.3"], fix
    rc, text = _run(py, *cmd)
    assert rc == 0 and text.splitlines()[0] == "ok", text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cached TensorFlow wheels are manylinux")
def test_tf215_start_up_notices_silenced_by_the_offered_env_settings(tmp_path):
    """The harmless oneDNN / cpu_feature_guard INFO lines go away with the variables tfhelp offers."""
    py = _make_venv(tmp_path / "venv", "tensorflow-cpu==2.15.1")
    cmd = ("-c", "import tensorflow as tf; print(tf.__version__)")
    rc, text = _run(py, *cmd)
    assert rc == 0
    report = ENGINE.diagnose(text, env=_probe(py))
    found = {d.id: d for d in report.diagnoses}
    # TensorFlow turns oneDNN on by default only on some x86 CPUs, so its notice is there or not
    # depending on the machine; whichever notices TensorFlow printed must each be explained.
    printed = {"cpu-feature-guard-optimized-notice"}
    if "oneDNN custom operations are on" in text:
        printed.add("onednn-custom-operations-notice")
    assert printed <= set(found), (list(found), text)
    assert all(d.rule.severity == "harmless" for d in report.diagnoses)

    for rule_id in sorted(printed):
        for fix in found[rule_id].fixes:
            env_steps = {s["name"]: s["value"] for s in fix["steps"] if s["action"] == "set_env"}
            p = subprocess.run([py, *cmd], capture_output=True, text=True, env={**os.environ, **env_steps})
            assert p.returncode == 0 and p.stdout.strip() == "2.15.1"
            after = {d.id for d in ENGINE.diagnose(p.stdout + p.stderr).diagnoses}
            if env_steps.get("TF_CPP_MIN_LOG_LEVEL"):
                assert rule_id not in after, (fix["title"], p.stderr)
            if env_steps.get("TF_ENABLE_ONEDNN_OPTS") == "0":
                assert "onednn-custom-operations-notice" not in after, p.stderr
