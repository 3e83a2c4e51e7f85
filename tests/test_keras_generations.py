"""Keras generation problems (issue 11, families 1-7): real phrasings from public reports reach
the rule written for their cause, look-alikes do not, and the symbol table answers private
Keras 3 module paths that a Keras 3 file or pickle names under Keras 2.

Each phrasing below is copied from the report named beside it (issue titles, one-line fragments,
wrapped or escaped copies), so a regex that keys on one report's wording fails here."""
import importlib.util
import json
from pathlib import Path

import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ROOT = Path(__file__).resolve().parents[1]
ENGINE = Engine(load_ruleset(user_rules=False))

# (expected top-1 id, text, where it was reported)
REAL = [
    # 1. Keras 3 file read by Keras 2
    ("keras2-load-keras3-saved-model",
     "TypeError: Could not deserialize class 'Functional' because its parent module keras.src.models.functional "
     "cannot be imported. Full object config: {'module': 'keras.src.models.functional', 'class_name': 'Functional'}",
     "https://github.com/tensorflow/tensorflow/issues/70866"),
    ("keras-model-config-version-mismatch", "Exception encountered: Unrecognized keyword arguments: ['batch_shape']",
     "https://github.com/tensorflow/tensorflow/issues/66381"),
    ("keras-unknown-layer-functional", "com.chaquo.python.PyException: ValueError: Unknown layer: Functional",
     "https://github.com/chaquo/chaquopy/issues/1025"),
    ("keras-unknown-layer-functional",
     "TF 2.3 broken hierarchical functional model loading (e.g. HAN) [ValueError: Unknown layer: Functional]",
     "https://github.com/tensorflow/tensorflow/issues/41929"),
    # 2. Keras 2 file read by Keras 3
    ("keras3-load-keras2-saved-model",
     "TypeError: Could not deserialize class 'Functional' because its parent module keras.src.engine.functional "
     "cannot be imported. Full object config: {'module': 'keras.src.engine.functional'}",
     "https://github.com/keras-team/keras/issues/19089"),
    ("keras3-legacy-savedmodel-load", "Keras 3 only supports V3 `.keras` files and legacy H5",
     "https://github.com/themockingjester/Human_Scream_Detection_using_ml_and_deep_learning/issues/2"),
    # 5. generation mixing
    ("keras3-optimizer-mixed-generations",
     "Could not interpret optimizer identifier: <keras.src.optimizers.adam.Adam object",
     "https://github.com/tensorflow/tensorflow/issues/64250"),
    ("keras3-hub-layer-sequential", "Only instances of `keras.Layer` can be added to a Sequential model.",
     "https://github.com/iyume/nonebot-plugin-nsfw/issues/11"),
    ("keras-layer-from-other-keras-package",
     "TypeError: The added layer must be an instance of class Layer. Found: "
     "<tensorflow.python.keras.engine.training.Model object at 0x7fa419d7a5f8>",
     "https://github.com/keras-team/keras/issues/11329"),
    ("keras-tuner-model-other-keras-generation",
     "keras_tuner.src.errors.FatalTypeError: Expected the model-building function, or HyperModel.build() to return "
     "a valid Keras Model instance. Received: <tf_keras.src.engine.functional.Functional object at 0x7fe49809f8d0> "
     "of type <class 'tf_keras.src.engine.functional.Functional'>", "https://github.com/keras-team/keras-tuner/issues/1039"),
    ("keras-tuner-model-other-keras-generation",
     "Model-building function did not return a valid Keras Model instance, found "
     "<tensorflow.python.keras.engine.functional.Functional object at", "https://github.com/keras-team/keras-tuner/issues/682"),
    # 6. keras / tf-keras of another TensorFlow minor
    ("tf-keras-version-mismatch",
     "Tensorflow 2.11 error: AttributeError: module 'tensorflow._api.v2.compat.v2.__internal__' has no attribute "
     "'register_load_context_function'", "https://github.com/keras-team/tf-keras/issues/257"),
    ("tf-keras-version-mismatch",
     "AttributeError: module 'tensorflow.compat.v2.__internal__' has no attribute 'register_load_context_function'",
     "https://github.com/Yuantian013/DDPG-CARTPOLE/issues/1"),
    ("tf-keras-version-mismatch",
     "RuntimeError: Failed to import transformers.modeling_tf_utils because of the following error (look up to "
     "see its traceback):\nmodule 'tensorflow._api.v2.compat.v2.__internal__' has no attribute "
     "'register_load_context_function'", "https://github.com/FudanNLP/CPT/issues/83"),
    # 7. transformers under Keras 3
    ("tf-keras-missing-legacy-keras", "Reactor doesn't work - Error Keras 3 is not yet supported in Transformers",
     "https://github.com/Gourieff/ComfyUI-ReActor/issues/87"),
    ("tf-keras-missing-legacy-keras", "Keras 3, but this is not yet supported",
     "https://github.com/atomashevic/transforEmotion/issues/16"),
]


@pytest.mark.parametrize("expected,text,source", REAL, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(REAL)])
def test_real_phrasing_gets_its_rule_first(expected, text, source):
    ids = [d.id for d in ENGINE.diagnose(text).diagnoses]
    assert ids and ids[0] == expected, f"{source}: expected {expected}, got {ids}"


def test_the_two_saving_directions_do_not_answer_each_other():
    """The recorded module says which generation saved the file: keras.src.models.* is Keras 3,
    keras.src.engine.* is Keras 2.13-2.15; each direction has the opposite fix."""
    k3 = "Could not deserialize class 'Sequential' because its parent module keras.src.models.sequential cannot be imported"
    k2 = "Could not deserialize class 'Sequential' because its parent module keras.src.engine.sequential cannot be imported"
    ids3 = {d.id for d in ENGINE.diagnose(k3).diagnoses}
    ids2 = {d.id for d in ENGINE.diagnose(k2).diagnoses}
    assert "keras2-load-keras3-saved-model" in ids3 and "keras3-load-keras2-saved-model" not in ids3
    assert "keras3-load-keras2-saved-model" in ids2 and "keras2-load-keras3-saved-model" not in ids2


@pytest.mark.parametrize("text", [
    # a user's own class whose module is missing: not a Keras generation problem
    "TypeError: Could not deserialize class 'MyLayer' because its parent module my_package.layers cannot be imported.",
    # user code passing a tensor to Sequential.add
    "TypeError: The added layer must be an instance of class Layer. Found: Tensor(\"input_12:0\", shape=(?, 28, 28), dtype=float32)",
    "ValueError: Unknown layer: KerasLayer",
    "def register_load_context_function(load_context):",
])
def test_look_alikes_get_none_of_these_rules(text):
    mine = {"keras2-load-keras3-saved-model", "keras3-load-keras2-saved-model", "keras-unknown-layer-functional",
            "keras-layer-from-other-keras-package", "tf-keras-version-mismatch"}
    assert not mine & {d.id for d in ENGINE.diagnose(text).diagnoses}


def test_a_newer_keras3_module_is_not_blamed_on_keras2():
    """keras.src.ops exists in every Keras 3, so a missing keras.src.ops.einops means a Keras 3
    older than 3.8, which the symbol table says; the Keras-2 rule must stay out of it."""
    report = ENGINE.diagnose("ModuleNotFoundError: No module named 'keras.src.ops.einops'")
    ids = [d.id for d in report.diagnoses]
    assert ids and ids[0] == "symbols-package-too-old", ids
    assert "3.8" in report.diagnoses[0].rule.title


def _table():
    return json.loads((ROOT / "kb" / "data" / "symbols.json").read_text(encoding="utf-8"))


def test_table_knows_keras3_private_modules_whose_parent_keras2_had():
    rows = {r["name"]: r for r in _table()["rows"] if r["package"] == "keras" and r["kind"] == "module"}
    for name in ("keras.src.models.functional", "keras.src.trainers", "keras.src.layers.layer",
                 "keras.src.callbacks.callback"):
        assert rows[name].get("added_in") == "3.0.0", name
        assert rows[name].get("last_version_without_it") == "2.15.0", name
    # its parent keras.src.trainers is new in 3.0 too: Python would name the parent, so no row
    assert "keras.src.trainers.trainer" not in rows


def test_structural_layer_answers_a_keras3_private_module_under_keras2():
    report = ENGINE.diagnose("ModuleNotFoundError: No module named 'keras.src.callbacks.callback'")
    top = report.diagnoses[0]
    assert top.id == "symbols-package-too-old" and "3.0" in top.rule.title


def _generator():
    spec = importlib.util.spec_from_file_location("symbols_generate", ROOT / "tools" / "symbols" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generator_keeps_a_private_module_only_when_its_parent_existed_before():
    gen = _generator()
    old = {"keras": set(), "keras.src": set(), "keras.src.models": set()}
    new = dict(old, **{"keras.src.models.functional": set(), "keras.src.trainers": set(),
                       "keras.src.trainers.trainer": set()})
    rows = gen.build("keras", [("2.2.5", {"keras": set()}), ("2.15.0", old), ("3.0.0", new)])
    added = {r["name"]: r for r in rows if r.get("added_in")}
    assert added["keras.src.models.functional"]["added_in"] == "3.0.0"
    assert added["keras.src.models.functional"]["last_version_without_it"] == "2.15.0"
    assert "keras.src.trainers" in added
    assert "keras.src.trainers.trainer" not in added


def test_old_keras_constructor_rejecting_a_newer_stored_argument():
    """keras 2.2 reading a TF 2.1 export (teachablemachine-community#37, typo included)."""
    for text in ("TypeError: __init__() got an unexpected keyword argument 'ragged'",
                 "TypeError: __init__() got an expected keyword argument 'ragged'"):
        ids = [d.id for d in ENGINE.diagnose(text).diagnoses]
        assert ids[:1] == ["keras-model-config-version-mismatch"], (text, ids)


def test_module_absent_for_some_releases_names_the_gap_and_spares_the_release_that_has_it():
    """keras.legacy: in Keras 2.2-2.3, gone in 2.4-2.15, back (other contents) from Keras 3.0
    (ccks_baidu_entity_link#20 hit it on a Keras 2 of the gap)."""
    from tfhelp.kb.environment import Environment

    text = "ModuleNotFoundError: No module named 'keras.legacy'"
    top = ENGINE.diagnose(text).diagnoses[0]
    assert top.id == "symbols-removed-module" and "2.4" in top.rule.title and "3.0.0" in top.rule.cause
    in_gap = ENGINE.diagnose(text, env=Environment(packages={"keras": "2.12.0"}))
    assert in_gap.diagnoses and in_gap.diagnoses[0].id == "symbols-removed-module"
    back = ENGINE.diagnose(text, env=Environment(packages={"keras": "3.6.0"}))
    assert "symbols-removed-module" not in [d.id for d in back.diagnoses]


def test_generator_records_when_a_removed_module_came_back():
    gen = _generator()
    scans = [(v, {"keras": set(), **({"keras.legacy": set()} if has else {})})
             for v, has in (("2.2.5", True), ("2.3.1", True), ("2.4.3", False), ("2.15.0", False), ("3.0.0", True))]
    row = next(r for r in gen.build("keras", scans) if r["name"] == "keras.legacy")
    assert (row["removed_in"], row["last_version_with_it"], row["back_in"]) == ("2.4.3", "2.3.1", "3.0.0")
    # absent from a single examined release only: too thin to call a gap
    thin = [(v, {"keras": set(), **({"keras.x": set()} if has else {})})
            for v, has in (("1", True), ("2", False), ("3", True))]
    assert not [r for r in gen.build("keras", thin) if r["name"] == "keras.x"]
