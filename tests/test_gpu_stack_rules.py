"""GPU stack rules (CUDA, cuDNN, driver, Windows runtime, GPU memory, XLA): root causes rank above
their symptoms in mixed logs, and the chosen fix fits the user's TensorFlow, platform and captures."""
from __future__ import annotations

import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset

ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))

CUDNN_MISMATCH = (
    "2021-11-24 04:51:47.954507: E tensorflow/stream_executor/cuda/cuda_dnn.cc:362] Loaded runtime CuDNN "
    "library: 8.0.5 but source was compiled with: 8.1.0.  CuDNN library needs to have matching major "
    "version and equal or higher minor version.\n"
)
CONV_FAILED = (
    "tensorflow.python.framework.errors_impl.UnknownError: Failed to get convolution algorithm. This is "
    "probably because cuDNN failed to initialize, so try looking to see if a warning log message was "
    "printed above. [Op:Conv2D]\n"
)
DLOPEN = (
    "2022-07-10 15:08:09.276917: W tensorflow/core/common_runtime/gpu/gpu_device.cc:1850] Cannot dlopen "
    "some GPU libraries. Please make sure the missing libraries mentioned above are installed properly "
    "if you would like to use GPU.\nSkipping registering GPU devices...\n"
)
CUDNN_MISSING = (
    "2022-07-10 15:08:09.276131: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could "
    "not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: "
    "No such file or directory\n"
)
CUDART_MISSING = (
    "2021-04-09 19:52:41.024315: W tensorflow/stream_executor/platform/default/dso_loader.cc:60] Could "
    "not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object "
    "file: No such file or directory\n"
)


def ids(text, env=None):
    return [d.id for d in ENGINE.diagnose(text, env=env).diagnoses]


def first_fix(text, rule_id, env):
    report = ENGINE.diagnose(text, env=env).to_json()
    diag = next(d for d in report["diagnoses"] if d["id"] == rule_id)
    return diag["fixes"][0]


@pytest.mark.parametrize("text,root,symptom", [
    (CONV_FAILED + CUDNN_MISMATCH, "cudnn-version-mismatch", "cudnn-conv-algorithm-failed"),
    (DLOPEN + CUDNN_MISSING, "cudnn-library-not-loaded", "cuda-cannot-dlopen-gpu-libs"),
    (DLOPEN + CUDART_MISSING + "[]\n", "cuda-cudart-not-loaded", "gpu-list-empty"),
    ("ImportError: DLL load failed while importing _pywrap_tensorflow_internal: The specified module "
     "could not be found.\n\nFailed to load the native TensorFlow runtime.\n",
     "windows-dll-load-failed-pywrap", "windows-failed-load-native-runtime"),
])
def test_root_cause_ranks_above_its_symptom(text, root, symptom):
    got = ids(text)
    assert root in got and symptom in got, got
    assert got.index(root) < got.index(symptom), got


def test_cpu_only_build_on_windows_is_explained_by_the_2_10_cutoff():
    text = ("Python 3.10.10 [MSC v.1929 64 bit (AMD64)] on win32\n>>> print(tf.test.is_built_with_cuda())\n"
            "False\n>>> print(tf.config.list_physical_devices('GPU'))\n[]\n")
    got = ids(text)
    assert got[:2] == ["windows-native-gpu-after-2-10", "tf-cpu-only-build"], got


def test_allocator_warning_is_not_an_error_but_rounded_allocation_is_oom():
    warning = ("W tensorflow/core/common_runtime/bfc_allocator.cc:246] Allocator (GPU_0_bfc) ran out of memory "
               "trying to allocate 1.02GiB with freed_by_count=0. The caller indicates that this is not a "
               "failure, but may mean that there could be performance gains if more memory were available.")
    oom = ("W tensorflow/core/common_runtime/bfc_allocator.cc:479] Allocator (GPU_0_bfc) ran out of memory "
           "trying to allocate 560.44MiB (rounded to 587661312)requested by op _EagerConst")
    assert ids(warning) == ["gpu-allocator-ran-out-warning"]
    assert ids(oom)[0] == "gpu-oom-resource-exhausted"
    report = ENGINE.diagnose(warning).to_json()
    assert report["diagnoses"][0]["severity"] == "warning"


def test_cuda_fix_pins_the_installed_tensorflow_with_and_cuda_on_linux():
    env = Environment(packages={"tensorflow": "2.16.1"}, python="3.11.7", platform="linux", source="probe")
    fix = first_fix(CUDART_MISSING, "cuda-cudart-not-loaded", env)
    assert fix["steps"][0] == {"action": "pip_install", "packages": ["tensorflow[and-cuda]==2.16.1"]}


def test_cuda_fix_on_native_windows_2_10_uses_conda_cuda_11_2_not_and_cuda():
    env = Environment(packages={"tensorflow": "2.10.0"}, python="3.10.4", platform="windows", source="probe")
    text = ("W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
            "'cudart64_110.dll'; dlerror: cudart64_110.dll not found")
    fix = first_fix(text, "cuda-cudart-not-loaded", env)
    steps = " ".join(str(s) for s in fix["steps"])
    assert "cudatoolkit=11.2" in steps and "and-cuda" not in steps


@pytest.mark.parametrize("tf,platform,driver", [
    ("2.17.0", "linux", "525.60.13"),
    ("2.16.1", "wsl", "528.33"),
    ("2.12.0", "linux", "450.80.02"),
])
def test_driver_fix_names_the_minimum_driver_for_the_installed_tensorflow(tf, platform, driver):
    env = Environment(packages={"tensorflow": tf}, python="3.10.4", platform=platform, source="probe")
    text = "InternalError: cudaGetDevice() failed. Status: CUDA driver version is insufficient for CUDA runtime version"
    fix = first_fix(text, "cuda-driver-insufficient", env)
    assert driver in fix["title"] + fix["steps"][0]["text"]


def test_cudnn_mismatch_fix_names_the_compiled_version_from_the_log():
    fix = first_fix(CUDNN_MISMATCH, "cudnn-version-mismatch", None)
    assert "cuDNN 8.1.0" in fix["steps"][0]["text"] and "8.0.5" in fix["steps"][0]["text"]


def test_windows_dll_failure_offers_the_visual_cpp_redistributable_first():
    env = Environment(packages={"tensorflow": "2.10.0"}, python="3.10.4", platform="windows", source="probe")
    text = ("ImportError: DLL load failed while importing _pywrap_tensorflow_internal: The specified module "
            "could not be found.\nFailed to load the native TensorFlow runtime.")
    fix = first_fix(text, "windows-dll-load-failed-pywrap", env)
    assert "Visual C++" in fix["title"]


def test_no_set_env_step_writes_a_literal_shell_variable_reference():
    for rule in ENGINE.ruleset.rules:
        if rule.category not in ("cuda", "cudnn", "driver", "windows", "memory", "xla"):
            continue
        for fix in rule.fixes:
            for step in fix.steps:
                if step.get("action") == "set_env":
                    assert "$" not in str(step.get("value")), (rule.id, step)
