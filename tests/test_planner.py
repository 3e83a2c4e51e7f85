"""``tfhelp plan``: driver / OS / Python / GPU combinations checked against the model's sources.

Each case names the facts that decide it (all rows in kb/data/compat.yaml, each with a source):
tested builds (tensorflow.org/install/source#tested_build_configurations and source_windows),
NVIDIA's minor-version compatibility floors (450.80.02 for 11.x, 525.60.13 / 528.33 for 12.x),
the compute-capability floors of the wheels, and the wheels' METADATA.
"""
import json

import pytest
from packaging.requirements import Requirement

from tfhelp.assistant.environment.planner import PLAN_SCHEMA, ROUTES, make_plan


def _decisive(plan, what):
    return [c for c in plan.constraints if c.decisive and c.what == what]


def test_driver_470_linux_py310_gets_newest_cuda11_release():
    # 470.82 < 525.60.13 rules out CUDA 12 (TF >= 2.15); it meets the 11.x floor 450.80.02, so TF 2.14
    # (CUDA 11.8, cuDNN 8.7; the first release with tensorflow[and-cuda]).
    p = make_plan("linux", "3.10", driver="470.82.01")
    assert (p.route, p.tensorflow, p.gpu, p.cuda, p.cudnn) == ("pip-and-cuda", "2.14", True, "11.8", "8.7")
    assert p.tf_requirement == "tensorflow[and-cuda]==2.14.*"
    assert p.commands[0].argv == ["python", "-m", "pip", "install", "tensorflow[and-cuda]==2.14.*"]
    assert p.numpy == ">=1.23.5,<2.0.0" and p.keras == ">=2.14.0,<2.15"
    assert _decisive(p, "driver") and "525.60.13" in _decisive(p, "driver")[0].reason
    assert any("minor-version compatibility" in c.reason for c in p.constraints if c.what == "driver")


def test_windows_native_py310_gpu_gets_tf_2_10_with_wsl2_alternative():
    p = make_plan("windows", "3.10", driver="531.14", gpu=True)
    assert (p.route, p.tensorflow, p.cuda, p.cudnn) == ("windows-native-conda", "2.10", "11.2", "8.1")
    assert p.commands[0].argv == ["conda", "install", "-c", "conda-forge", "cudatoolkit=11.2", "cudnn=8.1.0"]
    # TF 2.10 accepts numpy>=1.20 but was built for NumPy 1: the plan pins numpy<2
    assert p.commands[1].argv == ["python", "-m", "pip", "install", "tensorflow<2.11", "numpy<2"]
    alts = {a.route: a for a in p.alternatives}
    assert alts["wsl2"].tensorflow == "2.21" and alts["wsl2"].gpu
    assert "tensorflow[and-cuda]==2.21.*" in alts["wsl2"].commands[0].argv
    assert _decisive(p, "os")


def test_windows_native_py311_gpu_goes_to_wsl2():
    # TF 2.10 (last native GPU) supports Python 3.7-3.10 only.
    p = make_plan("windows", "3.11", driver="531.14", gpu=True)
    assert (p.route, p.tensorflow, p.gpu) == ("wsl2", "2.21", True)
    assert p.commands[0].where == "wsl"
    assert any("Python 3.11 is not among them" in c.reason for c in p.constraints)
    assert [a.route for a in p.alternatives] == ["cpu"]


def test_macos_gets_cpu_route_and_metal_note():
    p = make_plan("macos", "3.11", gpu=True)
    assert (p.route, p.gpu, p.tf_dist, p.tensorflow) == ("macos-cpu", False, "tensorflow", "2.21")
    assert "macOS" in p.cpu_reason
    assert any("tensorflow-metal" in n for n in p.notes)


def test_compute_capability_3_0_gets_cpu_route():
    # The lowest floor of any official GPU wheel is 3.5.
    p = make_plan("linux", "3.10", driver="535.54.03", compute_capability="3.0")
    assert (p.route, p.gpu, p.tf_dist) == ("cpu", False, "tensorflow-cpu")
    assert "3.5" in p.cpu_reason and "3.0" in p.cpu_reason
    assert p.commands[0].argv == ["python", "-m", "pip", "install", "tensorflow-cpu==2.21.*"]


def test_python_313_needs_tf_2_20_or_newer():
    p = make_plan("linux", "3.13", driver="560.35.03", compute_capability="8.9")
    assert p.tensorflow == "2.21" and p.route == "pip-and-cuda"
    assert p.python_supported == ["3.10", "3.11", "3.12", "3.13"]
    assert any("TF 2.20 to 2.21" in c.reason for c in p.constraints if c.what == "python")


def test_python_314_has_no_release():
    p = make_plan("linux", "3.14")
    assert not p.ok and p.route == "none" and p.tensorflow is None
    assert any("3.13" in n for n in p.notes)


def test_old_driver_with_new_python_falls_back_to_cpu():
    # Python 3.12 starts at TF 2.16 (CUDA 12.3): driver 418 cannot run any of them.
    p = make_plan("linux", "3.12", driver="418.39")
    assert p.route == "cpu" and not p.gpu
    assert "418.39" in p.cpu_reason and "525.60.13" in p.cpu_reason


def test_old_driver_with_old_python_gets_cuda_10_1_release():
    # Driver 418.39 is exactly CUDA 10.1's minimum; Python 3.8 reaches TF 2.3 (CUDA 10.1, cuDNN 7.6).
    p = make_plan("linux", "3.8", driver="418.39")
    assert (p.route, p.tensorflow, p.cuda, p.cudnn) == ("conda-cudatoolkit", "2.3", "10.1", "7.6")
    assert p.commands[0].argv == ["conda", "install", "-c", "conda-forge", "cudatoolkit=10.1", "cudnn=7.6"]
    assert any("TF 2.14 dropped it" in c.reason for c in p.constraints if c.what == "python")


def test_maxwell_gpu_stops_at_2_16():
    # TF 2.17 dropped compute capability 5.x; 2.16 still builds sm_50.
    p = make_plan("linux", "3.11", driver="550.54.14", compute_capability="5.2")
    assert (p.tensorflow, p.cuda, p.cudnn) == ("2.16", "12.3", "8.9")
    assert p.numpy == ">=1.23.5,<2.0.0" and p.keras == ">=3.0.0" and p.tf_keras == ">=2.16.0,<2.17"
    assert _decisive(p, "compute-capability")


def test_kepler_3_7_stops_at_2_14():
    p = make_plan("linux", "3.9", driver="535.54.03", compute_capability="3.7")
    assert (p.tensorflow, p.cuda) == ("2.14", "11.8")


def test_wsl2_uses_windows_driver_floor():
    ok = make_plan("wsl", "3.12", driver="528.33")
    assert (ok.route, ok.tensorflow, ok.min_driver) == ("pip-and-cuda", "2.21", "528.33")
    old = make_plan("wsl", "3.12", driver="527.41")  # below 528.33: no CUDA 12 build for WSL
    assert old.route == "cpu"


def test_pre_2_14_linux_release_uses_the_conda_recipe_of_its_docs():
    # Python 3.8 ends at 2.13: CUDA from conda (cudatoolkit=11.8.0) and cuDNN 8.6 from pip.
    p = make_plan("linux", "3.8", driver="520.61.05")
    assert (p.route, p.tensorflow) == ("conda-cudatoolkit", "2.13")
    assert p.commands[0].argv[-1] == "cudatoolkit=11.8.0"
    assert p.commands[1].argv == ["python", "-m", "pip", "install", "nvidia-cudnn-cu11==8.6.0.163",
                                  "tensorflow==2.13.*"]


def test_ptx_only_gpu_needs_full_driver():
    # H100 (9.0) has only compute_90 PTX in 2.21 wheels; PTX JIT needs CUDA 12.5's own driver.
    p = make_plan("linux", "3.11", driver="525.60.13", compute_capability="9.0")
    assert p.tensorflow == "2.21"
    assert any("555.42.02" in c.reason for c in _decisive(p, "compute-capability"))


def test_no_gpu_information_plans_cpu_and_says_so():
    p = make_plan("linux", "3.11")
    assert p.route == "cpu" and any("No GPU information" in n for n in p.notes)
    gp = make_plan("linux", "3.11", gpu=True)
    assert gp.route == "pip-and-cuda" and any("Driver unknown" in n for n in gp.notes)


def test_install_requirements_are_valid_pep508():
    for kw in (dict(os_name="linux", python="3.10", driver="470.82"), dict(os_name="windows", python="3.10", gpu=True),
               dict(os_name="linux", python="3.12", gpu=False), dict(os_name="linux", python="3.8", driver="418.39")):
        p = make_plan(**kw)
        for cmd in p.commands:
            if cmd.argv[1:4] == ["-m", "pip", "install"]:
                for req in cmd.argv[4:]:
                    Requirement(req)
        for spec in (p.numpy, p.keras, p.protobuf):
            if spec:
                Requirement("x" + spec)


def test_interpreter_is_used_in_commands():
    p = make_plan("linux", "3.11", driver="560.35.03", interpreter="/opt/venv/bin/python")
    assert all(c.argv[0] == "/opt/venv/bin/python" for c in p.commands)


def test_bad_inputs():
    with pytest.raises(ValueError):
        make_plan("solaris", "3.11")
    with pytest.raises(ValueError):
        make_plan("linux", None)
    with pytest.raises(ValueError):
        make_plan("linux", "3.11", driver="latest")
    with pytest.raises(ValueError):
        make_plan("linux", "3.11", compute_capability="ampere")


# ----------------------------------------------------------------------------------- CLI + JSON
PLAN_KEYS = {"schema", "inputs", "ok", "route", "gpu", "tensorflow", "tf_dist", "tf_requirement", "python_supported",
             "keras", "tf_keras", "numpy", "protobuf", "cuda", "cudnn", "cuda_wheels", "min_driver",
             "min_compute_capability", "cpu_reason", "commands", "constraints", "notes", "alternatives"}


def test_plan_json_schema(run_cli):
    code, out, err = run_cli(["plan", "--python-version", "3.10", "--driver", "470.82", "--os", "linux",
                              "--no-probe", "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert set(d) == PLAN_KEYS and d["schema"] == PLAN_SCHEMA
    assert d["route"] in ROUTES and d["tensorflow"] == "2.14"
    assert d["inputs"]["sources"] == {"python": "flag", "os": "flag", "driver": "flag"}
    for c in d["commands"]:
        assert set(c) == {"argv", "why", "where"} and all(isinstance(a, str) for a in c["argv"])
    for c in d["constraints"]:
        assert set(c) == {"what", "reason", "source", "decisive"} and c["source"]
    for a in d["alternatives"]:
        assert set(a) == {"route", "summary", "tensorflow", "gpu", "commands", "notes"}


def test_plan_text_output_and_exit_codes(run_cli):
    code, out, err = run_cli(["plan", "--python-version", "3.10", "--os", "windows", "--gpu", "--no-probe"])
    assert code == 0, err
    assert "TensorFlow 2.10" in out and "tensorflow<2.11" in out and "source: https://" in out
    code, out, _ = run_cli(["plan", "--python-version", "3.14", "--os", "linux", "--no-probe"])
    assert code == 1 and "No TensorFlow release fits" in out
    code, _, err = run_cli(["plan", "--os", "beos", "--no-probe"])
    assert code == 2
    code, _, err = run_cli(["plan", "--python-version", "3.11", "--driver", "latest", "--no-probe"])
    assert code == 2 and "driver version" in err


def test_plan_text_never_interprets_markup(run_cli):
    code, out, err = run_cli(["plan", "--python-version", "3.11", "--os", "linux", "--no-probe",
                              "--driver", "[bold red]560.35.03\x1b[2J"])
    assert code == 0, err
    assert "[bold red]" in out and "\x1b" not in out


def test_cpu_package_per_os():
    # Linux: tensorflow-cpu (the docs' CPU-only package); Windows >= 2.11 and macOS: tensorflow itself.
    assert make_plan("linux", "3.12", gpu=False).tf_dist == "tensorflow-cpu"
    assert make_plan("windows", "3.12", gpu=False).tf_requirement == "tensorflow==2.21.*"
    assert make_plan("macos", "3.12", gpu=False).tf_dist == "tensorflow"


def test_intel_mac_alternative_stops_at_2_16():
    # pip.md's wheel table lists macosx x86_64 wheels only up to 2.16.2; later ones are arm64.
    p = make_plan("macos", "3.12")
    alt = [a for a in p.alternatives if a.tensorflow == "2.16"]
    assert p.route == "macos-cpu" and alt and alt[0].commands[0].argv[-1] == "tensorflow==2.16.*"
    assert not [a for a in make_plan("macos", "3.13").alternatives if a.tensorflow == "2.16"]  # 2.16 lacks 3.13


def test_cli_uses_the_target_interpreter(run_cli):
    import sys

    code, out, err = run_cli(["plan", "--python", sys.executable, "--os", "linux", "--no-gpu", "--no-probe",
                              "--json"])
    assert code == 0, err
    d = json.loads(out)
    # the Python version was asked of the interpreter itself, and the commands run it
    assert d["inputs"]["python"] == "%d.%d" % sys.version_info[:2]
    assert d["inputs"]["sources"]["python"] == sys.executable
    assert d["commands"][0]["argv"][:4] == [sys.executable, "-m", "pip", "install"]
