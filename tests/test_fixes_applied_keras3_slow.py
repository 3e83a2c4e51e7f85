"""Keras 3 migration fixes applied for real in one throwaway venv (tensorflow-cpu 2.18.1 +
Keras 3.8, the versions of the reproduced corpus cases), offline from the wheel cache.

Each case writes a script that raises the corpus case's error (the corpus script, extended so it
holds the code the rule's fix rewrites), runs it and checks it fails, diagnoses the output with the
versions a probe reports, applies the first fix tfhelp offers through the fix applier (code change,
package install, environment setting, and the fix's own verification), and runs the script again
with the settings the fix made. Cases that install packages (SciKeras, tf-keras) run last, since
they change the shared venv; the last test forces protobuf 6 into it
(protobuf-messagefactory-getprototype) and lets the offered pin put it back.
"""
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset
from venvs import PIP_ARGS, apply_first_fix, WHEELS, cached_venv, pip_install, pip_list, probed_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the cached TensorFlow wheels are manylinux")]

REQUIREMENTS = ("tensorflow-cpu==2.18.1", "keras==3.8.0")
# What the offered fixes install, fetched into the cache once (with their dependencies) so the fix
# applier can stay offline. tf-keras 2.18 depends on the `tensorflow` distribution (2.18.x), which
# pip adds next to tensorflow-cpu.
FIX_WHEELS = ("scikeras==0.13.0", "tf-keras==2.18.0")
FIX_WHEEL_FILES = ("scikeras-0.13.0-", "tf_keras-2.18.0-", "tensorflow-2.18.", "narwhals-", "scikit_learn-")
ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def _fill_cache(*requirements):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--find-links", WHEELS, "-d", WHEELS, "--only-binary", ":all:",
                    "--python-version", "3.11", *requirements, *REQUIREMENTS], check=True)


@pytest.fixture(scope="module")
def tfvenv(tmp_path_factory):
    names = os.listdir(WHEELS) if os.path.isdir(WHEELS) else []
    if not all(any(n.startswith(prefix) for n in names) for prefix in FIX_WHEEL_FILES):
        _fill_cache(*FIX_WHEELS)
    py = cached_venv(tmp_path_factory.mktemp("tf218k3") / "venv", *REQUIREMENTS)
    env = probed_env(py)
    return py, env


def _run(py, script, extra_env=None):
    p = subprocess.run([py, str(script)], capture_output=True, text=True, cwd=str(script.parent),
                       env={**os.environ, **QUIET, **(extra_env or {})})
    return p.returncode, p.stdout, p.stdout + p.stderr


CASES = [
    # corpus api-change/keras3-engine-topology
    ("keras-engine-module-removed", None, {},
     "from keras.engine.topology import Layer, get_source_inputs\nfrom keras.engine import InputSpec\n"
     "print('ok', Layer.__name__, InputSpec.__name__, get_source_inputs.__name__)\n"),
    # corpus api-change/keras3-layers-merge
    ("keras-layers-merge-removed", None, {},
     "from keras.layers import Input\na = Input((4,))\nb = Input((4,))\n"
     "from keras.layers import merge\n"
     "x = merge([a, b], mode='concat', concat_axis=-1)\ny = merge([a, b], mode='sum')\n"
     "print('ok', x.shape, y.shape)\n"),
    # corpus api-change/keras3-preprocessing-text-tokenizer
    ("keras-preprocessing-moved", None, {},
     "texts = ['the cat sat on the mat', 'the dog ate my homework']\n"
     "from keras.preprocessing.text import Tokenizer\ntok = Tokenizer(num_words=10000)\ntok.fit_on_texts(texts)\n"
     "print('ok', vectorizer(texts).shape)\n"),
    # corpus keras3/keras3-load-savedmodel-dir (export.py is the setup, load.py the failing script)
    ("keras3-legacy-savedmodel-load",
     "import keras\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\nmodel.export('my_model')\n",
     {},
     "import keras\nimport numpy as np\ninputs = np.ones((2, 4), dtype='float32')\n"
     "model = keras.models.load_model('my_model')\n"
     "print('ok', {k: tuple(v.shape) for k, v in outputs.items()})\n"),
    # corpus api-change/keras3-wrappers-scikit-learn (installs scikeras + scikit-learn)
    ("keras-wrappers-scikit-learn-removed", None, {},
     "import keras\n"
     "def build_model():\n"
     "    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation='sigmoid')])\n"
     "    model.compile(loss='binary_crossentropy')\n"
     "    return model\n"
     "from keras.wrappers.scikit_learn import KerasClassifier\n"
     "clf = KerasClassifier(build_fn=build_model, epochs=10)\n"
     "print('ok', type(clf).__module__)\n"),
    # corpus keras3/keras3-tf-use-legacy-keras-no-tf-keras (installs tf-keras; run with TF_USE_LEGACY_KERAS=1)
    ("tf-keras-missing-legacy-keras", None, {"TF_USE_LEGACY_KERAS": "1"},
     "import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(4,))])\n"
     "import tf_keras\nprint('ok', tf.keras.__name__, tf_keras.__version__)\n"),
]


@pytest.mark.parametrize("rule_id,setup,run_env,code", CASES, ids=[c[0] for c in CASES])
def test_first_fix_applied_makes_keras3_script_run(tfvenv, tmp_path, monkeypatch, rule_id, setup, run_env, code):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py, env = tfvenv
    if setup:
        (tmp_path / "setup.py").write_text(setup)
        rc, _out, text = _run(py, tmp_path / "setup.py")
        assert rc == 0, text
    script = tmp_path / "prog.py"
    script.write_text(code)
    rc, _out, text = _run(py, script, run_env)
    assert rc != 0, text

    report = ENGINE.diagnose(text, env=env)
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == rule_id, (ids, text[-800:])
    diagnosis = report.diagnoses[0]
    ctx = ApplyContext(python=py, pip_args=PIP_ARGS, code_file=str(script), script=str(script))
    apply_first_fix(diagnosis, ctx, tmp_path / "state", verified=("passed", None, "none"))
    fix_env = {s["name"]: s["value"] for s in diagnosis.fixes[0]["steps"] if s["action"] == "set_env"}

    rc, out_text, text = _run(py, script, {**run_env, **fix_env})
    assert rc == 0 and out_text.strip().splitlines()[-1].startswith("ok"), text
    if rule_id == "tf-keras-missing-legacy-keras":
        # the pin kept TensorFlow where it was and chose the tf-keras of the same minor
        installed = {name.replace("_", "-"): v for name, v in pip_list(py).items()}
        assert installed["tensorflow-cpu"] == "2.18.1" and installed["tf-keras"].startswith("2.18."), installed
        assert installed["tensorflow"].startswith("2.18."), installed  # tf-keras's own dependency
        assert out_text.split()[-1].startswith("2.18."), out_text


def test_protobuf6_under_tf218_first_fix_removes_getprototype_errors(tfvenv, tmp_path, monkeypatch):
    """Corpus protobuf/tf218-protobuf6-messagefactory-getprototype: protobuf 6.33 forced under
    tensorflow-cpu 2.18.1 prints MessageFactory.GetPrototype errors; the offered pin removes them.
    Runs last: it changes protobuf in the shared venv."""
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py, _env = tfvenv
    pip_install(py, "--no-deps", "protobuf==6.33.6")
    cmd = [py, "-c", "import tensorflow as tf; print(tf.__version__)"]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **QUIET})
    text = p.stdout + p.stderr
    assert p.returncode == 0 and "GetPrototype" in text, text

    report = ENGINE.diagnose(text, env=probed_env(py))
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == "protobuf-messagefactory-getprototype", ids
    diagnosis = report.diagnoses[0]
    apply_first_fix(diagnosis, ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path / "state")

    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **QUIET})
    assert p.returncode == 0 and p.stdout.strip() == "2.18.1" and "GetPrototype" not in p.stderr, p.stderr
    assert pip_list(py)["protobuf"].split(".")[0] in ("3", "4", "5"), pip_list(py)
