"""The structural layer (kb/structural.py + kb/data/symbols.json): error shapes parsed into facts,
moved / removed / too-new names answered from the table when no rule explains them, fixes that
respect TensorFlow's pins, pip conflicts, and abstaining on the user's own code."""
import json
import subprocess
import sys

import pytest

from tfhelp.kb import structural
from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """An engine with no rules at all: whatever it answers comes from the structural layer."""
    empty = tmp_path_factory.mktemp("no-rules")
    rs = load_ruleset(extra_dirs=[empty], user_rules=False, shipped=False, use_cache=False)
    return Engine(rs)


@pytest.fixture(scope="module")
def shipped():
    return Engine(load_ruleset(user_rules=False, use_cache=False))


def probed(**packages):
    return Environment(packages=dict(packages), python="3.11.7", platform="linux", source="probe")


def top(report):
    assert report.diagnoses, "expected a diagnosis"
    return report.diagnoses[0]


def pins(d):
    return [p for f in d.fixes for s in f["steps"] if s["action"] == "pip_install" for p in s["packages"]]


# ------------------------------------------------------------------------------------ parsing
def test_parse_facts_reads_each_error_shape():
    lines = [
        "ImportError: cannot import name 'np_utils' from 'keras.utils' (/usr/lib/python3/site-packages/keras/utils/__init__.py)",
        "ModuleNotFoundError: No module named 'keras.engine.topology'",
        "AttributeError: module 'tensorflow' has no attribute 'Session'",
        "AttributeError: 'Adam' object has no attribute 'get_updates'",
        "ImportError: /opt/venv/lib/python3.11/site-packages/tensorflow_io/python/ops/libtensorflow_io.so: "
        "undefined symbol: _ZN10tensorflow8OpKernel",
        "tensorflow 2.15.0 requires numpy<2.0.0,>=1.23.5, but you have numpy 2.1.3 which is incompatible.",
    ]
    facts = {f.kind: f for f in structural.parse_facts(lines)}
    assert (facts["cannot-import"].module, facts["cannot-import"].name) == ("keras.utils", "np_utils")
    assert facts["cannot-import"].path.endswith("keras/utils/__init__.py")
    assert facts["no-module"].module == "keras.engine.topology"
    assert (facts["module-attr"].module, facts["module-attr"].name) == ("tensorflow", "Session")
    assert (facts["object-attr"].module, facts["object-attr"].name) == ("Adam", "get_updates")
    u = facts["undefined-symbol"]
    assert u.library == "libtensorflow_io.so" and u.name.startswith("_ZN10tensorflow") and "tensorflow_io" in u.path
    c = facts["pin-conflict"].conflicts[0]
    assert c == {"requirer": "tensorflow", "requirer_version": "2.15.0", "package": "numpy",
                 "spec": "<2.0.0,>=1.23.5", "installed": "2.1.3"}


def test_parse_resolver_conflict_block_and_macos_symbol_not_found():
    text = """ERROR: Cannot install tensorflow==2.15.0 and numpy==2.0.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested numpy==2.0.0
    tensorflow 2.15.0 depends on numpy<2.0.0 and >=1.23.5
"""
    (f,) = structural.parse_facts(text.splitlines())
    assert f.kind == "pin-conflict"
    assert {"requirer": "tensorflow", "requirer_version": "2.15.0", "package": "numpy", "spec": "<2.0.0"} in f.conflicts
    assert any(c["requirer"] == "user" and c["spec"] == "==2.0.0" for c in f.conflicts)
    mac = ["ImportError: dlopen(/Users/me/env/lib/python3.11/site-packages/tensorflow-plugins/libmetal_plugin.dylib, 0x0006): "
           "Symbol not found: _TF_GetInputPropertiesList"]
    (m,) = structural.parse_facts(mac)
    assert m.kind == "undefined-symbol" and m.library == "libmetal_plugin.dylib" and m.name == "_TF_GetInputPropertiesList"


def test_versions_seen_in_paths():
    assert structural.versions_from_paths('File "/x/site-packages/keras/src/backend/tensorflow/core.py"') == {"keras": ">=3"}
    assert structural.versions_from_paths('File "/x/site-packages/keras/src/engine/training.py"') == {"keras": "<3"}
    assert structural.versions_from_paths("nothing here") == {}


def test_table_rows_carry_versions_and_sources():
    doc = json.loads(open(structural._DATA_FILE, encoding="utf-8").read())
    assert {"keras", "tensorflow", "numpy", "protobuf", "ml-dtypes", "h5py", "tensorflow-addons", "tf-keras"} <= set(doc["sources"])
    for pkg, src in doc["sources"].items():
        assert src["wheels"] and all(w.endswith(".whl") for w in src["wheels"]) and src["release_notes"].startswith("https://")
    for r in doc["rows"]:
        assert r["kind"] in ("module", "symbol", "attribute") and r["source"]
        assert ("removed_in" in r and "last_version_with_it" in r) or ("added_in" in r) or r.get("curated"), r
        if r.get("curated"):
            assert r["curated"].startswith("https://")


# ------------------------------------------------------------------------ answered from data
@pytest.mark.parametrize("text, rid, name_in_title", [
    # keras
    ("ModuleNotFoundError: No module named 'keras.engine.topology'", "symbols-removed-module", "keras.engine"),
    ("ImportError: cannot import name 'get_session' from 'keras.backend' "
     "(/venv/lib/python3.11/site-packages/keras/backend/__init__.py)", "symbols-removed-name", "keras.backend.get_session"),
    ("ModuleNotFoundError: No module named 'keras.layers.merge'", "symbols-removed-module", "keras.layers.merge"),
    ("ImportError: cannot import name 'to_categorical' from 'keras.utils.np_utils'", "symbols-removed-module",
     "keras.utils.np_utils"),
    # tensorflow (incl. tf.compat.v1 and tf.keras)
    ("AttributeError: module 'tensorflow' has no attribute 'Session'", "symbols-removed-name", "tensorflow.Session"),
    ("AttributeError: module 'tensorflow' has no attribute 'gfile'", "symbols-removed-module", "tensorflow.gfile"),
    ("ModuleNotFoundError: No module named 'tensorflow.contrib'", "symbols-removed-module", "tensorflow.contrib"),
    ("ModuleNotFoundError: No module named 'tensorflow.keras.layers.experimental'", "symbols-removed-module",
     "tensorflow.keras.layers.experimental"),
    # numpy
    ("AttributeError: module 'numpy' has no attribute 'trapz'", "symbols-removed-name", "numpy.trapz"),
    ("AttributeError: module 'numpy' has no attribute 'float'", "symbols-removed-name", "numpy.float"),
    ("ModuleNotFoundError: No module named 'numpy._core'", "symbols-package-too-old", "numpy._core"),
    # protobuf, ml_dtypes, h5py
    ("ImportError: cannot import name 'builder' from 'google.protobuf.internal' "
     "(/venv/lib/python3.11/site-packages/google/protobuf/internal/__init__.py)", "symbols-package-too-old",
     "google.protobuf.internal.builder"),
    ("AttributeError: module 'ml_dtypes' has no attribute 'float8_e3m4'", "symbols-package-too-old", "ml_dtypes.float8_e3m4"),
    ("AttributeError: module 'ml_dtypes' has no attribute 'int2'", "symbols-package-too-old", "ml_dtypes.int2"),
    ("ModuleNotFoundError: No module named 'h5py.highlevel'", "symbols-removed-module", "h5py.highlevel"),
    ("AttributeError: module 'h5py' has no attribute 'new_vlen'", "symbols-removed-name", "h5py.new_vlen"),
])
def test_moved_or_removed_names_are_answered_without_a_rule(bare, text, rid, name_in_title):
    d = top(bare.diagnose(text))
    assert d.id == rid and name_in_title in d.rule.title
    assert d.rule.origin == "symbol-table" and "symbol-table" in d.rule.tags
    assert d.rule.category in ("api-change", "import") and d.score >= 60
    assert d.fixes and d.rule.references and "symbols.json" in d.rule.cause
    assert d.evidence and d.evidence[0].line == 1


def test_replacement_becomes_a_code_change(bare):
    d = top(bare.diagnose("AttributeError: module 'tensorflow' has no attribute 'Session'"))
    step = d.fixes[0]["steps"][0]
    assert step == {"action": "code_change", "before": "tf.Session", "after": "tf.compat.v1.Session",
                    "seen_in_input": False}
    d = top(bare.diagnose("AttributeError: module 'numpy' has no attribute 'trapz'"))
    assert d.fixes[0]["steps"][0]["after"] == "np.trapezoid"


def test_a_dedicated_rule_still_wins(shipped):
    r = shipped.diagnose("ModuleNotFoundError: No module named 'keras.engine.topology'")
    assert r.diagnoses[0].id == "keras-engine-module-removed"
    assert not any(d.id.startswith("symbols-") for d in r.diagnoses)


# ------------------------------------------------------------------ pins respect TF's pins
def test_keras_pin_fits_tensorflow_or_is_dropped(bare):
    text = "ModuleNotFoundError: No module named 'keras.engine.base_layer'"
    # TF 2.15 needs keras 2.15, which no longer has keras.engine: no keras pin at all
    d = top(bare.diagnose(text, env=probed(tensorflow="2.15.1", keras="2.15.0")))
    assert not any(p.startswith("keras==") for p in pins(d))
    # TF 2.16+: Keras 2 code runs through tf-keras of the same minor, with TF_USE_LEGACY_KERAS
    d = top(bare.diagnose(text, env=probed(tensorflow="2.17.1", keras="3.6.0")))
    assert "tf-keras>=2.17.0,<2.18" in pins(d)
    assert any(s.get("name") == "TF_USE_LEGACY_KERAS" for f in d.fixes for s in f["steps"])
    # unknown environment: keras is pinned together with its TF minor and that TF's NumPy range
    d = top(bare.diagnose(text))
    ps = pins(d)
    assert "keras==2.12.0" in ps and "tensorflow==2.12.*" in ps
    assert any(p.startswith("numpy") and "<" in p for p in ps)


def test_numpy_pins_never_let_numpy2_in_under_old_tensorflow(bare):
    trapz = "AttributeError: module 'numpy' has no attribute 'trapz'"
    d = top(bare.diagnose(trapz, env=probed(tensorflow="2.15.1", numpy="2.4.1")))
    assert not any(p.startswith("numpy==2") for p in pins(d))
    d = top(bare.diagnose(trapz))  # TF unknown: no NumPy 2 pin, only advice
    assert not any(p.startswith("numpy==2") for p in pins(d))
    d = top(bare.diagnose(trapz, env=probed(numpy="2.4.1")))  # probed, no TensorFlow: the pin is fine
    assert "numpy==2.2.6" in pins(d)
    old_float = "AttributeError: module 'numpy' has no attribute 'float'"
    d = top(bare.diagnose(old_float, env=probed(tensorflow="2.12.1", numpy="1.24.3")))
    assert "numpy==1.23.5" in pins(d)
    d = top(bare.diagnose(old_float, env=probed(tensorflow="2.18.1", numpy="1.26.4")))
    assert not any(p.startswith("numpy==1.23") for p in pins(d))  # TF 2.18 needs numpy>=1.26


def test_too_old_upgrades_stay_inside_tensorflow_pins(bare):
    text = "ImportError: cannot import name 'builder' from 'google.protobuf.internal'"
    d = top(bare.diagnose(text, env=probed(tensorflow="2.12.1", protobuf="3.19.6")))
    (p,) = [p for p in pins(d) if p.startswith("protobuf")]
    assert ">=3.20.3" in p and "<5" in p  # TF 2.12 caps protobuf below 5
    d = top(bare.diagnose("ModuleNotFoundError: No module named 'numpy._core'"))
    assert not any(p.startswith("numpy>=2") for p in pins(d))


# ------------------------------------------------------------------------- pip conflicts
def test_pip_conflict_answered_from_compat(bare):
    d = top(bare.diagnose("tensorflow 2.15.0 requires numpy<2.0.0,>=1.23.5, but you have numpy 2.1.3 which is incompatible."))
    assert d.id == "symbols-pip-pin-conflict" and d.rule.category == "install"
    assert pins(d) == ["numpy>=1.23.5,<2.0.0"]
    d = top(bare.diagnose("tf-keras 2.19.0 requires tensorflow<2.20,>=2.19, but you have tensorflow 2.18.0 which is incompatible."))
    assert pins(d) == ["tf-keras>=2.18.0,<2.19"]
    d = top(bare.diagnose("""ERROR: Cannot install tensorflow==2.15.0 and numpy==2.0.0 because these package versions have conflicting dependencies.
The conflict is caused by:
    The user requested numpy==2.0.0
    tensorflow 2.15.0 depends on numpy<2.0.0 and >=1.23.5"""))
    assert pins(d) == ["numpy>=1.23.5,<2.0.0"]


def test_addon_undefined_symbol(bare):
    text = ("ImportError: /usr/local/lib/python3.11/dist-packages/tensorflow_text/python/ops/_regex_split_ops.so: "
            "undefined symbol: _ZN10tensorflow6StatusC1ENS_5error4CodeE")
    d = top(bare.diagnose(text, env=probed(tensorflow="2.15.1")))
    assert d.id == "symbols-addon-abi-mismatch" and "tensorflow-text==2.15.*" in pins(d)


# -------------------------------------------------------------------------------- abstain
@pytest.mark.parametrize("text", [
    "ModuleNotFoundError: No module named 'mymodule.utils'",
    "ModuleNotFoundError: No module named 'keras'",
    "AttributeError: 'DataFrame' object has no attribute 'foo'",
    "AttributeError: 'NoneType' object has no attribute 'shape'",
    "ImportError: cannot import name 'my_helper' from 'utils' (/home/u/proj/utils.py)",
    "AttributeError: module 'tensorflow' has no attribute 'my_custom_op'",
    "AttributeError: module 'keras.layers' has no attribute 'MyLayer'",
    "AttributeError: module 'numpy' has no attribute 'my_function'",
    "ImportError: /home/u/proj/build/libmine.so: undefined symbol: _Z3foov",
])
def test_non_install_errors_still_abstain(shipped, text):
    r = shipped.diagnose("Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n" + text)
    assert not any(d.id.startswith("symbols-") for d in r.diagnoses), [d.id for d in r.diagnoses]


def test_facts_reported_in_json_and_rendered(bare):
    r = bare.diagnose("AttributeError: module 'tensorflow' has no attribute 'Session'")
    j = r.to_json()
    assert j["input"]["facts"]["structural"][0] == {"kind": "module-attr", "line": 1, "module": "tensorflow",
                                                    "name": "Session",
                                                    "text": "AttributeError: module 'tensorflow' has no attribute 'Session'"}
    assert j["diagnoses"][0]["id"] == "symbols-removed-name" and j["diagnoses"][0]["fixes"]


def test_cli_renders_and_serialises_a_symbol_table_diagnosis(tmp_path):
    text = "AttributeError: module 'numpy' has no attribute 'trapz'\n"
    run = lambda *a: subprocess.run([sys.executable, "-m", "tfhelp", *a], input=text, capture_output=True,  # noqa: E731
                                    text=True, timeout=120)
    out = run("--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["diagnoses"] and doc["diagnoses"][0]["fixes"]
    plain = run()
    assert plain.returncode == 0 and "trapz" in plain.stdout


def test_table_not_loaded_without_a_structural_fact(bare):
    structural.table.cache_clear()
    bare.diagnose("2024-01-01 12:00:00.000000: I tensorflow/core/platform/cpu_feature_guard.cc:182] nothing")
    assert structural.table.cache_info().currsize == 0
    bare.diagnose("AttributeError: module 'numpy' has no attribute 'trapz'")
    assert structural.table.cache_info().currsize == 1


# ---------------------------------------------------------------- environment and spellings
def test_installed_version_confirms_or_vetoes_the_row(bare):
    text = "AttributeError: module 'numpy' has no attribute 'trapz'"
    d = top(bare.diagnose(text, env=probed(numpy="2.5.0")))
    assert d.confirmed is True and "numpy 2.5.0" in d.env_reason and d.score == 85
    # between the last examined release with it and the first without: neither confirmed nor vetoed
    assert top(bare.diagnose(text, env=probed(numpy="2.3.1"))).confirmed is None
    # NumPy 2.2 still has trapz: the error must come from something else, so no table answer
    assert not bare.diagnose(text, env=probed(numpy="2.2.6")).diagnoses
    too_old = "AttributeError: module 'ml_dtypes' has no attribute 'int2'"
    assert top(bare.diagnose(too_old, env=probed(**{"ml-dtypes": "0.4.1"}))).confirmed is True
    assert not bare.diagnose(too_old, env=probed(**{"ml-dtypes": "0.5.4"})).diagnoses
    # the paths of a Keras 2 install contradict "removed in Keras 3"
    k2 = ('  File "/venv/lib/python3.10/site-packages/keras/src/engine/training.py", line 3, in fit\n'
          "AttributeError: module 'keras.src' has no attribute 'engine'\n"
          "ImportError: cannot import name 'ImageDataGenerator' from 'keras.preprocessing.image'")
    assert not any(d.id.startswith("symbols-") for d in bare.diagnose(k2).diagnoses)


@pytest.mark.parametrize("text, name", [
    ("AttributeError: module 'keras._tf_keras.keras.layers' has no attribute 'experimental'",
     "tensorflow.keras.layers.experimental"),
    ("ImportError: cannot import name 'multi_gpu_model' from 'tensorflow.keras.utils' "
     "(/usr/local/lib/python3.9/site-packages/keras/api/_v2/keras/utils/__init__.py)", "tensorflow.keras.utils.multi_gpu_model"),
    ("AttributeError: module 'tensorflow._api.v2.compat.v1' has no attribute 'contrib'", None),
    ('ModuleNotFoundError: no module named "keras.layers.merge"', "keras.layers.merge"),
])
def test_other_spellings_of_the_same_namespace(bare, text, name):
    r = bare.diagnose(text)
    if name is None:
        assert not r.diagnoses
    else:
        assert name in top(r).rule.title


def test_tf_keras_submodule_that_never_existed_abstains(bare):
    assert not bare.diagnose("ModuleNotFoundError: No module named 'tensorflow.keras.engine'").diagnoses


def test_real_reports_regression_set(bare):
    import yaml

    from conftest import ROOT

    cases = yaml.safe_load((ROOT / "tests/fixtures/structural/real_reports.yaml").read_text(encoding="utf-8"))
    right = 0
    for c in cases:
        r = bare.diagnose(c["text"])
        if c["expect"] is None:
            right += not r.diagnoses
        else:
            right += bool(r.diagnoses) and c["expect"] in r.diagnoses[0].rule.title + r.diagnoses[0].rule.cause
    # keras.legacy (gone in Keras 2.4-2.15, back in 3.x) is a known miss: the table keeps final removals only
    assert right >= len(cases) - 2, f"{right}/{len(cases)}"


def test_too_old_keras_or_protobuf_with_unknown_tensorflow_installs_nothing(bare):
    for text in ("AttributeError: module 'keras' has no attribute 'ops'",
                 "ImportError: cannot import name 'builder' from 'google.protobuf.internal'"):
        d = top(bare.diagnose(text))
        assert d.id == "symbols-package-too-old"
        assert not pins(d), pins(d)  # advice only: an open-ended upgrade could break TensorFlow's pins
    d = top(bare.diagnose("AttributeError: module 'keras' has no attribute 'ops'", env=probed(tensorflow="2.15.1",
                                                                                          keras="2.15.0")))
    assert not any(p.startswith("keras>=3") for p in pins(d))  # TF 2.15 pins keras<2.16


def test_removed_class_attribute_needs_its_package_in_the_input(bare):
    text = "AttributeError: 'Sequential' object has no attribute 'predict_classes'"
    d = top(bare.diagnose('  File "/venv/lib/python3.10/site-packages/keras/engine/training.py", line 1\n' + text))
    assert d.id == "symbols-removed-attribute" and "predict_classes" in d.rule.title
    assert not bare.diagnose(text).diagnoses  # no keras / tensorflow in sight: could be any 'Sequential'
    assert not bare.diagnose("AttributeError: 'DataFrame' object has no attribute 'value'").diagnoses


def test_pin_conflict_fix_verifies_the_import_name_not_the_distribution(bare):
    """``import protobuf`` always fails: the verify step must import google.protobuf (and grpc for
    grpcio), or a fix that worked would be reported as failed."""
    text = ("tensorflow 2.15.0 requires protobuf!=4.21.0,<5.0.0dev,>=3.20.3, but you have protobuf 5.29.3 "
            "which is incompatible.")
    d = top(bare.diagnose(text))
    assert d.id == "symbols-pip-pin-conflict"
    verify = [s for f in d.fixes for s in f["steps"] if s["action"] == "verify"]
    assert verify and all(s["code"] == "import google.protobuf" for s in verify)
    assert structural._import_name("grpcio") == "grpc" and structural._import_name("ml-dtypes") == "ml_dtypes"
