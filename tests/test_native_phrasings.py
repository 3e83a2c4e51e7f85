"""GPU / native-library rules answer the copies people really paste, not only the text they were
written from.

The Keras / Python-side folders are held to this by test_rule_phrasings.py; this file applies the
same damage (markdown-escaped underscores, smart quotes, a "> " quote marker, a code fence, the
exception class left off, a line wrapped in the middle) to every one-line match example of the
GPU, CUDA, cuDNN, driver, XLA, CPU, ABI and memory rules, and adds the real phrasings collected
for issue 11 that no single rule's examples show side by side: the same failure worded by TF 1.x,
TF 2.x, jaxlib and XLA, each with the rule it must get and the look-alikes it must not.
"""
import pytest
from test_rule_phrasings import ENGINE, damaged_cases

NATIVE = {"cuda", "cudnn", "driver", "gpu", "xla", "cpu", "abi", "memory"}
CASES = damaged_cases(NATIVE)


def _ids(text):
    return [d.id for d in ENGINE.diagnose(text).diagnoses]


def test_enough_native_rules_have_one_line_examples_to_damage():
    assert len({c.values[0] for c in CASES}) >= 40


@pytest.mark.parametrize("rule_id,text", CASES)
def test_damaged_copy_still_gets_the_native_rule(rule_id, text):
    ids = _ids(text)
    assert rule_id in ids, f"{rule_id} missed {text!r}; got {ids}"


#: one failure, several generations' wording (each line is a real report's, cited in the rule)
GENERATIONS = [
    # ptxas missing: TF 2.0, jaxlib 0.4.3x, XLA 2025
    ("xla-ptxas-error", "OP_REQUIRES failed at xla_ops.cc:489 : Not found: ./bin/ptxas not found"),
    ("xla-ptxas-error", "XlaRuntimeError: INTERNAL: CustomCall failed: Couldn't find a suitable "
                        "version of ptxas. The following locations were considered: bin/ptxas"),
    ("xla-ptxas-error", "No PTX compilation provider is available. Neither ptxas/nvlink nor "
                        "nvjtlink is available."),
    ("xla-ptxas-error", "ptxas : Unsupported .version 8.4; current version is '8.2' with jaxlib 0.4.34"),
    # libdevice: TF / jaxlib relative path, jaxlib bundled path, a title
    ("xla-libdevice-not-found", "RuntimeError: Internal: libdevice not found at ./libdevice.10.bc"),
    ("xla-libdevice-not-found", "XlaRuntimeError: INTERNAL: libdevice not found at "
                                "/usr/local/lib/python3.8/dist-packages/jaxlib/cuda/nvvm/libdevice/libdevice.10.bc"),
    ("xla-libdevice-not-found", "cannot find libdevice"),
    ("xla-ptxas-too-old-warning", "*** WARNING *** You are using ptxas 9.2.148"),
    # CUDA libraries: TF 1.14 dlopen wording, a title without its closing quote, cuBLAS's own loader
    ("cuda-math-library-not-loaded", "Could not dlopen library 'libcublas.so.10.0'; dlerror: "
                                     "libcublas.so.10.0: cannot open shared object file"),
    ("cuda-cudart-not-loaded", "Could not load dynamic library 'libcudart.so.11.0"),
    ("cuda-math-library-not-loaded", "Could not load library libcublasLt.so.12. Error: "
                                     "libcublasLt.so.12: cannot open shared object file"),
    # add-ons
    ("tf-addon-op-not-registered", "NotFoundError: Op type not registered 'SentencepieceOp' in binary"),
    ("tf-addon-op-not-registered", "Op type not registered \\'IO>BigQueryClient\\' with ParameterServiceStrategy"),
    ("tf-addon-cuda-symbol-on-cpu-build",
     "NotFoundError: /v/lib/python3.11/site-packages/tensorflow_addons/custom_ops/image/_image_ops.so: "
     "undefined symbol: __cudaUnregisterFatBinary"),
    ("tf-extension-undefined-symbol", "_activation_ops.so: undefined symbol error when importing tensorflow_addons"),
    # CPU
    ("cpu-avx-notice-harmless", "The TensorFlow library wasn't compiled to use AVX instructions"),
    ("cpu-illegal-instruction", "Illegal instruction (core dumped) with tf <= that 1.15 and cpu with no AVX instructions"),
    ("cuda-unsupported-ptx-version", "Installation Problem - PTX was compiled with an unsupported toolchain"),
]


@pytest.mark.parametrize("rule_id,text", GENERATIONS)
def test_each_generations_wording_gets_the_rule_first(rule_id, text):
    ids = _ids(text)
    assert ids[:1] == [rule_id], f"{text!r}: got {ids}"


#: look-alikes that must not be answered as these failures
LOOK_ALIKES = [
    # a core TF op: a model saved by a newer TensorFlow, not a missing add-on
    ("tf-addon-op-not-registered", "Op type not registered 'RaggedBincount' in binary running on host."),
    # add-on built for another TF minor (C++ symbol), not the CPU-build problem
    ("tf-addon-cuda-symbol-on-cpu-build",
     "NotFoundError: /x/tensorflow_addons/custom_ops/activations/_activation_ops.so: undefined symbol: "
     "_ZN10tensorflow12OpDefBuilder4AttrESs"),
    # the XLA flag's name is not the error
    ("xla-ptxas-error", "export XLA_FLAGS=--xla_gpu_unsafe_fallback_to_driver_on_ptxas_not_found"),
    # XLA saying which ptxas it uses
    ("xla-ptxas-too-old-warning", "I tensorflow/stream_executor/gpu/asm_compiler.cc:178] Using ptxas at /usr/local/cuda/bin/ptxas"),
    # the harmless notice is never the fatal AVX abort
    ("cpu-avx-required-abort", "Your CPU supports instructions that this TensorFlow binary was not compiled to use: AVX2 FMA"),
]


@pytest.mark.parametrize("rule_id,text", LOOK_ALIKES)
def test_look_alike_is_not_answered_as_the_rule(rule_id, text):
    assert rule_id not in _ids(text)
