"""Private TensorFlow / Keras names that third-party libraries reach into (tools/symbols/generate.py
PRIVATE_NAMES_FOR): the table has rows for them, including single-underscore names, so the
structural layer answers real reports of them without a dedicated rule, in every pasted form."""
import json

import pytest

from tfhelp.kb import structural
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

TENSORLIKE = "AttributeError: module 'tensorflow.python.framework.ops' has no attribute '_TensorLike'"


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    empty = tmp_path_factory.mktemp("no-rules")
    return Engine(load_ruleset(extra_dirs=[empty], user_rules=False, shipped=False, use_cache=False))


def top(report):
    assert report.diagnoses, "expected a diagnosis"
    return report.diagnoses[0]


@pytest.mark.parametrize("text", [
    # issue title, one line (https://github.com/tensorflow/tensorflow/issues/38589)
    TENSORLIKE,
    # full traceback from tensorlayer on TF 2.7 (https://github.com/tensorflow/tensorflow/issues/54371)
    '  File "D:\\Anaconda3\\envs\\gym_env\\lib\\site-packages\\tensorlayer\\models\\core.py", line 213, in __init__\n'
    "    if isinstance(check_argu, tf_ops._TensorLike) or tf_ops.is_dense_tensor_like(check_argu):\n" + TENSORLIKE,
    # web-damaged copies: escaped underscore, smart quotes, quoted reply
    TENSORLIKE.replace("_TensorLike", "\\_TensorLike"),
    TENSORLIKE.replace("'", "\u2018", 1).replace("'", "\u2019", 1),
    "> " + TENSORLIKE,
])
def test_tensorlike_is_a_removed_private_name(bare, text):
    d = top(bare.diagnose(text))
    assert d.id == "symbols-removed-name"
    assert "_TensorLike" in d.rule.title and "TensorFlow 2.4" in d.rule.title
    assert "private internal" in d.rule.cause
    # no "go back to TF 1.15" pin (no wheel for current Pythons): the curated advice instead
    text_of_fix = json.dumps(d.fixes)
    assert "tf.is_tensor" in text_of_fix and "pip_install" not in text_of_fix
    assert "https://github.com/tensorflow/tensorflow/issues/38589" in d.rule.references


def test_private_name_with_a_public_home_becomes_a_code_change(bare):
    # https://github.com/tensorflow/tensorflow/issues/63515 (TF 2.15+)
    d = top(bare.diagnose("AttributeError: module 'tensorflow.python.ops.control_flow_ops' has no attribute 'case'"))
    step = d.fixes[0]["steps"][0]
    assert step["action"] == "code_change" and step["after"] == "tf.case"


def test_keras_backend_private_helpers(bare):
    # https://github.com/keras-team/keras/issues/13442, https://github.com/keras-team/keras/issues/13684
    d = top(bare.diagnose("AttributeError: module 'keras.backend.tensorflow_backend' has no attribute "
                          "'_get_available_gpus'"))
    assert d.id == "symbols-removed-module" and "Keras 2.4" in d.rule.title
    assert "list_logical_devices" in json.dumps(d.fixes)
    d = top(bare.diagnose("AttributeError: module 'keras.backend' has no attribute '_get_available_gpus'"))
    assert "list_logical_devices" in json.dumps(d.fixes)


def test_constants_and_names_that_never_existed_abstain(bare):
    # module-level constants are noise, not API (https://github.com/coxlab/prednet/issues/82)
    assert not bare.diagnose("AttributeError: module 'keras.backend' has no attribute '_BACKEND'").diagnoses
    assert not bare.diagnose("AttributeError: module 'tensorflow.python.framework.ops' has no attribute "
                             "'_NoSuchHelper'").diagnoses
    # a module the table does not track names for stays unanswered
    assert not bare.diagnose("ImportError: cannot import name 'keras_export' from "
                             "'tensorflow.python.util.tf_export'").diagnoses


def test_table_rows_for_private_names_carry_versions():
    rows = structural.table()["rows"]
    r = rows["tensorflow.python.framework.ops._TensorLike"]
    assert r["last_version_with_it"] == "1.15.5" and r["removed_in"] == "2.4.4"
    assert r["curated"].startswith("https://")
    # too old: standalone Keras 2.6+ imports get_config, which older TF builds lack
    r = rows["tensorflow.python.eager.context.get_config"]
    assert "added_in" in r and r["last_version_without_it"] == "2.4.4"


@pytest.mark.parametrize("text, title_part", [
    # tf.contrib: the curated row says 2.0 (https://www.tensorflow.org/guide/migrate), not the
    # first examined wheel without it
    ("ModuleNotFoundError: No module named 'tensorflow.contrib'", "TensorFlow 2.0"),
    # moved to tensorflow.python.trackable; the 2.13.1 / 2.14.1 wheels narrow it to 2.14
    # (https://github.com/tensorflow/tfjs/issues/8004, https://github.com/tensorflow/agents/issues/916)
    ("ModuleNotFoundError: No module named 'tensorflow.python.training.tracking'", "TensorFlow 2.14"),
    # Keras 2.13-2.15 internals that third-party code imports, gone from Keras 3
    ("ImportError: cannot import name 'KerasTensor' from 'keras.src.engine.keras_tensor'", "Keras 3.0"),
    ("ModuleNotFoundError: No module named 'keras.src.engine'", "Keras 3.0"),
    ("ImportError: cannot import name 'network' from 'tensorflow.python.keras.engine'", "TensorFlow 2.4"),
])
def test_removed_private_modules_are_answered_by_the_table(bare, text, title_part):
    d = top(bare.diagnose(text))
    assert d.id == "symbols-removed-module"
    assert title_part in d.rule.title, d.rule.title


def test_too_old_private_name_titles_the_gap_and_gives_the_curated_advice(bare):
    # https://github.com/qqwweee/keras-yolo3/issues/763: standalone keras 2.6+ beside an older TF
    d = top(bare.diagnose("AttributeError: module 'tensorflow.python.eager.context' has no attribute 'get_config'"))
    assert d.id == "symbols-package-too-old"
    # examined wheels jump from 2.4.4 to 2.9.3: the title names only what is known
    assert d.rule.title.endswith("needs TensorFlow newer than 2.4"), d.rule.title
    assert "keras==2.X.*" in json.dumps(d.fixes)
    # adjacent examined releases still read "X or newer"
    d = top(bare.diagnose("ImportError: cannot import name 'builder' from 'google.protobuf.internal'"))
    assert d.rule.title.endswith("needs protobuf 3.20 or newer"), d.rule.title
