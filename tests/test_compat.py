"""The compatibility model (kb/data/compat.yaml) and its query API (tfhelp.kb.compat).

Expected values below were read from the sources the rows cite: the tested-build tables in
tensorflow/docs (site/en/install/source.md, source_windows.md @ 7c3650212), the wheels' own
METADATA (pip download --no-deps), NVIDIA's driver tables and the TF pip install page.
"""
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tfhelp.kb import compat
from tfhelp.kb.environment import Environment

LIST_SECTIONS = ("events", "gpu_install_routes", "keras_tf", "older_requirements", "cuda_minor_version_compat",
                 "cuda_toolkit_min_driver", "compute_capability", "cpu_baseline", "macos", "tested_builds", "wheels")


def test_every_row_has_a_source():
    data = compat.data()
    for section in LIST_SECTIONS:
        rows = data[section]
        assert rows, section
        for row in rows:
            src = str(row.get("source") or "")
            assert src.startswith(("http", "wheel ")), (section, row)
            assert row.get("checked"), (section, row)


def test_wheel_rows_come_from_wheel_metadata():
    rows = compat.data()["wheels"]
    versions = {(r["dist"], r["version"]) for r in rows}
    for minor in range(12, 22):  # the releases the reference listed as uncertain, both distributions
        for dist in ("tensorflow", "tensorflow-cpu"):
            assert any(d == dist and v.startswith(f"2.{minor}.") for d, v in versions), (dist, minor)
    for r in rows:
        assert r["source"].startswith(f"wheel METADATA of {r['dist']}=={r['version']}")
        assert r["wheel"].endswith(".whl")


def test_tf_2_15_numpy_and_cuda():
    # wheel METADATA of tensorflow 2.15.x: numpy (<2.0.0,>=1.23.5); tested builds: CUDA 12.2, cuDNN 8.9
    spec = SpecifierSet(compat.numpy_spec_for_tf("2.15.0", "3.11"))
    assert "1.26.4" in spec and "2.0.0" not in spec and "1.23.4" not in spec
    build = compat.cuda_cudnn_for_tf("2.15.1", "linux")
    assert (build["cuda"], build["cudnn"]) == ("12.2", "8.9")


@pytest.mark.parametrize("tf,allowed,refused", [
    ("2.12.0", "1.23.5", "1.24.0"),   # >=1.22,<1.24
    ("2.13.1", "1.24.3", "1.24.4"),   # >=1.22,<=1.24.3
    ("2.14.0", "2.0.0", "1.23.4"),    # >=1.23.5 with no upper bound (2.14.1 adds <2.0.0)
    ("2.14.1", "1.26.4", "2.0.0"),
    ("2.18.1", "2.0.2", "2.1.0"),     # >=1.26.0,<2.1.0
    ("2.19.0", "2.1.3", "2.2.0"),     # >=1.26.0,<2.2.0
    ("2.20.0", "2.3.0", "1.25.2"),    # >=1.26.0
    ("2.10.1", "1.24.0", "1.19.5"),   # >=1.20
])
def test_numpy_pins_from_metadata(tf, allowed, refused):
    spec = SpecifierSet(compat.numpy_spec_for_tf(tf, "3.10"))
    assert allowed in spec and refused not in spec


def test_numpy_pin_depends_on_python_marker():
    # 2.16/2.17 wheels: numpy >=1.23.5 on Python <=3.11, >=1.26.0 on Python >=3.12, both <2.0.0
    assert compat.numpy_spec_for_tf("2.17.1", "3.11") == ">=1.23.5,<2.0.0"
    assert compat.numpy_spec_for_tf("2.17.1", "3.12") == ">=1.26.0,<2.0.0"
    # Without the Python version: what both branches allow (numpy 1.26 exists for Python 3.9-3.12)
    assert compat.numpy_spec_for_tf("2.17.1") == ">=1.26.0,<2.0.0"
    env = Environment(source="text", packages={"tensorflow": "2.16.1"})  # Python unknown
    assert compat.resolve_placeholder("numpy_for_tf", env) == ">=1.26.0,<2.0.0"


def test_numpy2_support_starts_at_2_18():
    assert compat.numpy2_supported("2.18.0") is True
    assert compat.numpy2_supported("2.17.1") is False
    assert compat.event("numpy2")["tf"] == ">=2.18"


@pytest.mark.parametrize("tf,inside,outside", [
    ("2.11.0", "3.19.6", "3.20.0"),
    ("2.15.1", "4.25.3", "4.21.3"),
    ("2.18.0", "5.28.3", "6.0.0"),
    ("2.19.1", "5.29.0", "6.30.0"),   # <6.0.0dev in the wheel (a master copy had said <7)
    ("2.20.0", "6.31.0", "4.25.0"),   # >=5.28.0
    ("2.21.0", "7.0.0", "5.29.0"),    # >=6.31.1,<8.0.0
])
def test_protobuf_pins(tf, inside, outside):
    spec = SpecifierSet(compat.protobuf_spec_for_tf(tf))
    assert inside in spec and outside not in spec


def test_keras_and_tf_keras():
    assert compat.keras_spec_for_tf("2.15.0") == ">=2.15.0,<2.16"
    assert compat.keras_spec_for_tf("2.16.1") == ">=3.0.0"
    assert compat.keras_spec_for_tf("2.18.0") == ">=3.5.0"
    assert compat.keras_spec_for_tf("2.20.0") == ">=3.10.0"
    assert compat.keras_spec_for_tf("2.21.0") == ">=3.12.0"
    assert compat.tf_keras_spec_for_tf("2.16.2") == ">=2.16.0,<2.17"
    assert compat.tf_keras_spec_for_tf("2.20.0") == ">=2.20.1,<2.21"
    assert compat.tf_keras_spec_for_tf("2.10.0") is None


def test_requires_python_and_tested_python():
    assert compat.requires_python_for_tf("2.21.0") == ">=3.10"
    assert compat.python_versions_for_tf("2.15", "linux") == ["3.9", "3.10", "3.11"]
    assert compat.python_versions_for_tf("2.10", "windows") == ["3.7", "3.8", "3.9", "3.10"]
    assert compat.tf_versions_for_python("3.13") == ["2.20", "2.21"]
    assert compat.tf_versions_for_python("3.12")[0] == "2.16"
    assert compat.tf_versions_for_python("3.8")[-1] == "2.13"
    assert compat.tf_versions_for_python("3.14") == []
    assert compat.tf_spec_for_python("3.12") == ">=2.16"
    assert compat.tf_spec_for_python("3.9") == ">=2.5,<2.21"


def test_windows_native_gpu_ends_at_2_10():
    win = compat.cuda_cudnn_for_tf("2.10.1", "windows")
    assert (win["cuda"], win["cudnn"], win["package"]) == ("11.2", "8.1", "tensorflow-gpu")
    assert compat.cuda_cudnn_for_tf("2.11.0", "windows") is None
    assert compat.cuda_cudnn_for_tf("2.15.0", "macos") is None
    assert compat.cuda_cudnn_for_tf("2.15.0", "wsl")["cuda"] == "12.2"


def test_drivers():
    assert compat.min_driver_for_cuda("12.2", "linux") == "525.60.13"
    assert compat.min_driver_for_cuda("12.5", "wsl") == "528.33"
    assert compat.min_driver_for_cuda("11.8", "linux") == "450.80.02"
    assert compat.min_driver_for_cuda("11.8", "linux", minor_compat=False) == "520.61.05"
    assert compat.min_driver_for_cuda("10.1", "linux") == "418.39"
    assert compat.max_cuda_for_driver("470.82.01") == "11.4"
    assert compat.max_cuda_for_driver("535.54.03") == "12.2"
    assert compat.max_cuda_for_driver("300.1") is None
    assert compat.driver_supports_cuda("470.82", "11.8") is True
    assert compat.driver_supports_cuda("470.82", "12.2") is False
    assert compat.driver_supports_cuda("418.39", "11.2") is False


def test_compute_capability_floors():
    assert compat.min_compute_capability("2.12.0") == "3.5"
    assert compat.min_compute_capability("2.16.1") == "5.0"
    assert compat.min_compute_capability("2.17.0") == "6.0"
    assert compat.compute_capability_ok("2.21.0", "5.2") is False
    assert compat.compute_capability_ok("2.21.0", "8.6") is True
    assert compat.sass_covers("2.21.0", "8.6") is True     # sm_80 runs on 8.6
    assert compat.sass_covers("2.21.0", "9.0") is False    # only compute_90 PTX
    # read from the fatbin headers of the wheels' libtensorflow_cc.so.2
    assert compat.min_compute_capability("2.14.1") == "3.5" and compat.min_compute_capability("2.15.0") == "5.0"
    assert compat.sass_covers("2.15.1", "7.5") is True     # 2.15 still has sm_75 SASS
    assert compat.sass_covers("2.15.1", "8.6") is False    # Ampere runs 2.15 from compute_80 PTX
    assert compat.sass_covers("2.16.2", "8.6") is True     # sm_80 from 2.16
    assert compat.event("cc35-dropped")["tf"] == ">=2.15"


def test_and_cuda_pins_from_metadata():
    assert compat.and_cuda_pins("2.15.0")["cudnn"] == "nvidia-cudnn-cu12==8.9.4.25"
    assert compat.and_cuda_pins("2.14.1")["cuda_runtime"] == "nvidia-cuda-runtime-cu11==11.8.89"
    assert compat.and_cuda_pins("2.13.0") is None  # [and-cuda] starts at 2.14


def test_events_present_with_sources():
    ids = {e["id"] for e in compat.data()["events"]}
    for needed in ("avx-baseline", "windows-native-gpu-ends", "and-cuda-extra", "tensorflow-gpu-removed",
                   "keras3-default", "numpy2", "python-3.13"):
        assert needed in ids
    assert compat.event("and-cuda-extra")["tf"] == ">=2.14"
    assert compat.cpu_requirements("2.15.0") == ["avx"]
    assert compat.cpu_requirements("2.4.0") == ["avx", "avx2"]


def test_tf_release_bundle_and_unknown():
    r = compat.tf_release("2.16.1", python="3.12")
    assert r["numpy"] == ">=1.26.0,<2.0.0" and r["keras"] == ">=3.0.0" and r["gpu_build"]["cuda"] == "12.3"
    assert compat.tf_release("9.9") is None
    assert compat.numpy_spec_for_tf("not-a-version") is None


# ------------------------------------------------------------------------------- placeholders
def _env(**kw):
    return Environment(source="probe", **kw)


def test_placeholders_for_installed_tf():
    env = _env(packages={"tensorflow": "2.15.0", "numpy": "2.1.0"}, python="3.11.7", platform="linux")
    num = compat.resolve_placeholder("numpy_for_tf", env)
    assert num == ">=1.23.5,<2.0.0"
    Requirement("numpy" + num)  # usable as numpy{compat.numpy_for_tf}
    assert compat.resolve_placeholder("keras_for_tf", env) == ">=2.15.0,<2.16"
    assert compat.resolve_placeholder("tf_keras_for_tf", env) == ">=2.15.0,<2.16"
    Requirement("protobuf" + compat.resolve_placeholder("protobuf_for_tf", env))
    assert compat.resolve_placeholder("tf_cuda", env) == "12.2"
    assert compat.resolve_placeholder("tf_cudnn", env) == "8.9"
    assert compat.resolve_placeholder("tf_dist", env) == "tensorflow"
    assert compat.resolve_placeholder("tf_for_python", env) == ">=2.12"
    assert compat.resolve_placeholder("driver_for_tf", env) == "525.60.13"


def test_placeholders_prefer_probed_build_info_and_handle_cpu_builds():
    env = _env(packages={"tensorflow": "2.18.0"}, python="3.12.1", platform="linux",
               facts={"tf_build": {"cuda_version": "12.5.1", "cudnn_version": "9"}})
    assert compat.resolve_placeholder("tf_cuda", env) == "12.5.1"
    assert compat.resolve_placeholder("tf_cudnn", env) == "9"
    cpu = _env(packages={"tensorflow-cpu": "2.15.1"}, python="3.10.4", platform="linux")
    assert compat.resolve_placeholder("tf_dist", cpu) == "tensorflow-cpu"
    assert compat.resolve_placeholder("tf_cuda", cpu) is None
    assert compat.resolve_placeholder("numpy_for_tf", cpu) == ">=1.23.5,<2.0.0"
    win = _env(packages={"tensorflow": "2.15.0"}, python="3.11.0", platform="windows")
    assert compat.resolve_placeholder("tf_cuda", win) is None  # no CUDA build on native Windows after 2.10


def test_placeholders_unknown():
    assert compat.resolve_placeholder("numpy_for_tf", None) is None
    assert compat.resolve_placeholder("numpy_for_tf", Environment()) is None
    assert compat.resolve_placeholder("no_such_name", _env(packages={"tensorflow": "2.15.0"})) is None
    assert compat.resolve_placeholder("tf_for_python", _env(python="3.14.0")) is None
    assert set(compat.PLACEHOLDERS) >= {"numpy_for_tf", "keras_for_tf", "tf_keras_for_tf", "protobuf_for_tf",
                                       "tf_cuda", "tf_cudnn", "tf_for_python", "tf_dist"}


def test_import_is_lazy():
    code = "import sys, tfhelp.kb.compat; print('yaml' in sys.modules, 'packaging.version' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_compat_placeholder_in_shipped_rules_is_implemented():
    import re
    from pathlib import Path

    import tfhelp.rules

    used = set()
    for path in Path(tfhelp.rules.__file__).parent.rglob("*.yaml"):
        used |= set(re.findall(r"\{compat\.([A-Za-z_]+)\}", path.read_text(encoding="utf-8")))
    assert used, "no rule uses {compat.NAME}; the placeholder contract is untested"
    assert used <= set(compat.PLACEHOLDERS), sorted(used - set(compat.PLACEHOLDERS))
    env = _env(packages={"tensorflow": "2.15.0"}, python="3.11.7", platform="linux")
    for name in used:
        assert compat.resolve_placeholder(name, env), name  # each resolves for a plain TF 2.15 GPU setup


def test_numpy_abi_fix_names_the_installed_tfs_bound():
    from tfhelp.kb.engine import Engine
    from tfhelp.kb.loader import load_ruleset

    text = ("A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.1.0 as it may crash. "
            "To support both 1.x and 2.x\nversions of NumPy, modules must be compiled with NumPy 2.0.\n"
            "ImportError: numpy.core._multiarray_umath failed to import\n")
    env = _env(packages={"tensorflow": "2.15.0", "numpy": "2.1.0"}, python="3.11.7", platform="linux")
    report = Engine(load_ruleset(user_rules=False)).diagnose(text, env=env).to_json()
    packages = [p for d in report["diagnoses"] for f in d["fixes"] for s in f["steps"]
                for p in s.get("packages", [])]
    assert "numpy>=1.23.5,<2.0.0" in packages, packages
