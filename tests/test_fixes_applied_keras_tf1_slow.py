"""Section A fixes applied for real in one throwaway venv (tensorflow-cpu 2.18.1 + Keras 3.8),
offline from the wheel cache.

Each case writes a small script with TF1 / Keras 2 code, runs it and checks it fails, diagnoses
the output with the versions a probe reports, applies the first fix tfhelp offers to that script
through the fix applier (code change + the fix's own verification), and runs the script again.
"""
import json
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset
from venvs import PIP_ARGS, apply_first_fix, cached_venv, probed_env
from venvs import pip_install as _pip

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the cached TensorFlow wheels are manylinux")]

REQUIREMENTS = ("tensorflow-cpu==2.18.1", "keras==3.8.0")
ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}




@pytest.fixture(scope="module")
def tfvenv(tmp_path_factory):
    py = cached_venv(tmp_path_factory.mktemp("tf218") / "venv", *REQUIREMENTS)
    env = probed_env(py)
    env.python = "3.11"
    return py, env


def _run(py, script):
    p = subprocess.run([py, str(script)], capture_output=True, text=True, cwd=str(script.parent),
                       env={**os.environ, **QUIET})
    return p.returncode, p.stdout, p.stdout + p.stderr


CASES = [
    ("keras-np-utils-removed",
     "y = [0, 1, 2]\nnum_classes = 3\n"
     "from keras.utils import np_utils\ny = np_utils.to_categorical(y, num_classes)\n"
     "print('ok', y.shape)\n"),
    ("keras-optimizer-lr-renamed",
     "import keras\noptimizer = keras.optimizers.Adam(lr=0.001)\nprint('ok', optimizer.learning_rate)\n"),
    ("tf1-session",
     "import tensorflow as tf\na = tf.constant(2.0)\nwith tf.Session() as sess:\n    print('ok', sess.run(a * 3))\n"),
    ("tf1-placeholder",
     "import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 2])\ny = x * 2\n"
     "with tf.Session() as sess:\n    print('ok', sess.run(y, feed_dict={x: [[1, 2]]}))\n"),
    ("tf1-placeholder-eager",
     "import tensorflow as tf\nx = tf.compat.v1.placeholder(tf.float32, [None, 2])\n"
     "with tf.compat.v1.Session() as sess:\n    print('ok', sess.run(x * 2, feed_dict={x: [[1, 2]]}))\n"),
    ("tf1-random-normal",
     "import tensorflow as tf\n"
     "a = tf.random_normal((10, 10))\ntf.set_random_seed(42)\nw = tf.truncated_normal([5, 5], stddev=0.1)\n"
     "print('ok', a.shape, w.shape)\n"),
    ("tf1-other-attribute",
     "import tensorflow as tf\n"
     "config = tf.ConfigProto()\ninit = tf.global_variables_initializer()\nopt = tf.train.AdamOptimizer(1e-3)\n"
     "print('ok', type(config).__name__)\n"),
    ("keras3-kerastensor-tf-function",
     "import tensorflow as tf\nimport keras\n"
     "x = keras.Input(shape=(32,))\ny = tf.nn.relu(x)\nz = tf.concat([x, y], axis=-1)\n"
     "model = keras.Model(x, z)\nprint('ok', model.output_shape)\n"),
    ("tf1-get-default-graph",
     "import tensorflow as tf\ngraph = tf.get_default_graph()\nprint('ok', type(graph).__name__)\n"),
    ("keras-tensorflow-backend-removed",
     "from keras import backend as K\ngpus = K.tensorflow_backend._get_available_gpus()\nprint('ok', gpus)\n"),
    ("keras3-layers-experimental-removed",
     "import tensorflow as tf\nfrom tensorflow.keras import layers\nIMAGE_SIZE = 8\n"
     "resize_and_rescale = tf.keras.Sequential([\n"
     "  layers.experimental.preprocessing.Resizing(IMAGE_SIZE, IMAGE_SIZE),\n"
     "  layers.experimental.preprocessing.Rescaling(1./255),\n])\n"
     "print('ok', resize_and_rescale(tf.ones((1, 16, 16, 3))).shape)\n"),
    ("keras3-optimizers-legacy",
     "import tensorflow as tf\nimport keras\nopt = tf.keras.optimizers.legacy.Adam(learning_rate=1e-3)\nprint('ok', opt)\n"),
    ("keras3-save-filepath-extension",
     "import keras\nmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
     "model.save('saved_model/my_model')\nprint('ok')\n"),
]


@pytest.mark.parametrize("rule_id,code", CASES, ids=[c[0] for c in CASES])
def test_first_fix_applied_to_script_makes_it_run(tfvenv, tmp_path, monkeypatch, rule_id, code):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py, env = tfvenv
    script = tmp_path / "prog.py"
    script.write_text(code)
    rc, _out, text = _run(py, script)
    assert rc != 0, text

    report = ENGINE.diagnose(text, env=env)
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == rule_id, (ids, text[-800:])
    diagnosis = report.diagnoses[0]
    ctx = ApplyContext(python=py, pip_args=PIP_ARGS, code_file=str(script), script=str(script))
    apply_first_fix(diagnosis, ctx, tmp_path / "state", verified=("passed", None, "none"))

    rc, out_text, text = _run(py, script)
    assert rc == 0 and out_text.strip().splitlines()[-1].startswith("ok"), text


def test_keras24_without_tensorflow_fixed_by_installing_tf_for_this_python(tmp_path, monkeypatch):
    """Keras 2.4.3 alone: 'Keras requires TensorFlow 2.2' caused by the missing TensorFlow; the
    offered install (bounded by this Python) makes `import keras` work."""
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    py = cached_venv(tmp_path / "venv")
    _pip(py, "--no-deps", "keras==2.4.3")
    p = subprocess.run([py, "-c", "import keras"], capture_output=True, text=True)
    assert p.returncode != 0 and "Keras requires TensorFlow 2.2 or higher" in p.stderr, p.stderr

    out = subprocess.run([py, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    env = Environment(packages={d["name"]: d["version"] for d in json.loads(out)}, python="3.11.7",
                      platform="linux", source="probe")
    report = ENGINE.diagnose(p.stderr, env=env)
    ids = [d.id for d in report.diagnoses]
    assert ids[:2] == ["no-module-named-tensorflow", "keras-requires-tf-2-2"], ids
    symptom = report.diagnoses[1]
    apply_first_fix(symptom, ApplyContext(python=py, pip_args=PIP_ARGS), tmp_path / "state")
    p = subprocess.run([py, "-c", "import keras, tensorflow as tf; print('ok', keras.__version__, tf.__version__)"],
                       capture_output=True, text=True, env={**os.environ, **QUIET})
    assert p.returncode == 0 and p.stdout.startswith("ok"), p.stderr
