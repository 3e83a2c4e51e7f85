"""One-line fragments (an issue title, one pasted line) get the answer their full traceback gets,
and one-line errors that are not install / version problems still get nothing."""
import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))

# (fragment as people paste it, rule that explains it); each wording is one a shipped rule cites
FRAGMENTS = [
    ("ImportError: cannot import name 'np_utils' from 'keras.utils'", "keras-np-utils-removed"),
    ("cannot import name 'np_utils' from 'keras.utils'", "keras-np-utils-removed"),
    ("No module named 'tensorflow.python.eager'", "keras-missing-tf-python-eager"),
    ("No module named 'keras.engine.topology'", "keras-engine-module-removed"),
    ("module 'tensorflow' has no attribute 'Session'", "tf1-session"),
    ("Descriptors cannot be created directly", "protobuf-descriptors-cannot-be-created"),
    ("ImportError: numpy.core.umath failed to import", "numpy-multiarray-failed-import"),
    ("numpy._core.multiarray failed to import", "numpy-multiarray-failed-import"),
    ("CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected", "cuinit-no-device"),
    ("Could not create cudnn handle: CUDNN_STATUS_INTERNAL_ERROR", "cudnn-status-internal-error"),
    ("kernel version 367.44.0 does not match DSO version 352.99.0", "nvidia-driver-kernel-dso-mismatch"),
    ("Failed to load the native TensorFlow runtime.", "windows-failed-load-native-runtime"),
    ("ValueError: A KerasTensor cannot be used as input to a TensorFlow function.", "keras3-kerastensor-tf-function"),
    ("AttributeError: tf.compat.v1.keras is not available with Keras 3.", "keras3-tf-compat-v1-keras"),
    ("tensorflow 2.13.1 requires keras<2.14,>=2.13.1, but you have keras 3.1.1 which is incompatible.",
     "keras3-under-old-tf"),
    ("Cannot register 2 metrics with the same name: /tensorflow/api/keras/optimizers", "keras-metric-already-exists"),
]

NOT_INSTALL = [
    "KeyError: 'accuracy'",
    "ValueError: Shapes (None, 1) and (None, 10) are incompatible",
    "AttributeError: 'str' object has no attribute 'decode'",
    "ImportError: DLL load failed while importing _pywrap_tensorflow_internal",  # cause cut off: ambiguous
    "IndexError: list index out of range",
    "TypeError: fit() got an unexpected keyword argument 'nb_epoch'",
]


@pytest.mark.parametrize("text,rule_id", FRAGMENTS, ids=[r for _, r in FRAGMENTS])
def test_fragment_gets_the_rule(text, rule_id):
    ids = [d.id for d in ENGINE.diagnose(text).diagnoses]
    assert ids and ids[0] == rule_id, ids


@pytest.mark.parametrize("text", NOT_INSTALL)
def test_non_install_one_liners_abstain(text):
    assert [d.id for d in ENGINE.diagnose(text).diagnoses] == []
