"""GPU library errors get concrete commands keyed to the versions the text or the probe shows,
never only "look it up in the tested-build table"."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset

CUDART11 = ("W tensorflow/stream_executor/platform/default/dso_loader.cc:60] Could not load dynamic library "
            "'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory\n")
CUDNN8 = ("W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
          "'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: No such file or directory\n")


def _env(tf, platform="linux", python="3.10.12"):
    return Environment(packages={"tensorflow": tf}, python=python, platform=platform, source="probe")


def _first(text, env, rule_id):
    rep = Engine(load_ruleset()).diagnose(text, env=env)
    d = next(d for d in rep.diagnoses if d.id == rule_id)
    return d, d.fixes[0]


def _commands(text, env, rule_id):
    from tfhelp.assistant.render.diagnosis import render_report

    rep = Engine(load_ruleset()).diagnose(text, env=env)
    rep.diagnoses = [d for d in rep.diagnoses if d.id == rule_id]
    buf = io.StringIO()
    render_report(rep, Console(file=buf, width=70, color_system=None, markup=False), python="python")
    return [ln.strip() for ln in buf.getvalue().splitlines() if ln.startswith("  ") and not ln.startswith("  #")]


@pytest.mark.parametrize("tf,cuda,cudnn", [("2.10.0", "11.2", "8.1"), ("2.6.0", "11.2", "8.1")])
def test_cudart_with_old_tf_names_that_builds_cuda_and_cudnn(tf, cuda, cudnn):
    _, fix = _first(CUDART11, _env(tf), "cuda-cudart-not-loaded")
    assert f"CUDA {cuda} and cuDNN {cudnn}" in fix["title"] and tf in fix["title"]
    assert f"conda install -c conda-forge cudatoolkit={cuda} cudnn={cudnn}" in _commands(CUDART11, _env(tf),
                                                                                        "cuda-cudart-not-loaded")


def test_cudart_with_tf_2_13_uses_the_cuda_11_8_recipe():
    cmds = _commands(CUDART11, _env("2.13.0"), "cuda-cudart-not-loaded")
    assert "conda install -c conda-forge cudatoolkit=11.8.0" in cmds
    assert "python -m pip install nvidia-cudnn-cu11==8.6.0.163" in cmds


@pytest.mark.parametrize("text,rule", [(CUDART11, "cuda-cudart-not-loaded"), (CUDNN8, "cudnn-library-not-loaded")])
def test_tf_2_16_on_linux_gets_the_and_cuda_extra_of_that_version(text, rule):
    cmds = _commands(text, _env("2.16.1"), rule)
    assert cmds[0] == "python -m pip install 'tensorflow[and-cuda]==2.16.1'"


def test_tf_version_from_the_text_alone_is_enough():
    cmds = _commands(CUDART11 + "TensorFlow version: 2.9.1\n", None, "cuda-cudart-not-loaded")
    assert "conda install -c conda-forge cudatoolkit=11.2 cudnn=8.1" in cmds


def test_unknown_version_prints_the_build_info_command():
    cmds = _commands(CUDART11, None, "cuda-cudart-not-loaded")
    assert any(c.startswith('python -c "import tensorflow as tf; b = tf.sysconfig.get_build_info()') for c in cmds)


def test_windows_native_after_2_10_offers_wsl2_or_tf_2_10_with_numpy_1():
    text = ("C:\\Users\\me\\proj> python -c \"import tensorflow as tf; print('Num GPUs Available:', "
            "len(tf.config.list_physical_devices('GPU')))\"\nNum GPUs Available: 0\n")
    rep = Engine(load_ruleset()).diagnose(text, env=_env("2.15.0", platform="windows", python="3.10.11"))
    d = next(d for d in rep.diagnoses if d.id == "windows-native-gpu-after-2-10")
    assert any("WSL2" in f["title"] for f in d.fixes) and any("2.10" in f["title"] for f in d.fixes)
    pip = [s for f in d.fixes for s in f["steps"] if s["action"] == "pip_install"]
    assert any(set(s["packages"]) >= {"tensorflow<2.11", "numpy<2"} for s in pip)


def test_no_gpu_library_rule_sends_the_user_to_the_table_alone():
    root = Path(__file__).resolve().parent.parent / "rules"
    for path in sorted(root.glob("cuda*/*.yaml")) + sorted(root.glob("cudnn/*.yaml")):
        text = path.read_text()
        assert "in the tested build configurations" not in text and "Look up the" not in text, path.name


def test_doctor_gives_the_same_version_keyed_commands_from_the_probe():
    import json

    from tfhelp.assistant.environment.doctor import diagnose
    from tfhelp.assistant.environment.probe import ProbeResult

    raw = json.loads((Path(__file__).parent / "fixtures" / "probe" /
                      "gpu-linux-tf2.15-a100-healthy.constructed.json").read_text())
    pk = raw["probes"]["packages"]["data"]
    pk["all"]["tensorflow"] = "2.13.0"
    for rel in pk["relevant"]:
        if rel["name"] == "tensorflow":
            rel.update(version="2.13.0", requires=[])
    raw["probes"]["tfbuild"]["data"]["build_info"].update(cuda_version="11.8", cudnn_version="8")
    for lib in raw["probes"]["cudalibs"]["data"]["libraries"]:
        if lib["family"] == "cudart":
            lib["attempts"] = []
    rep = diagnose(ProbeResult.from_json(raw))
    p = next(p for _, p in rep.problems if p.rule == "cuda-cudart-not-loaded")
    assert "CUDA 11.8 and cuDNN 8.6" in p.fix
    assert "conda install -c conda-forge cudatoolkit=11.8.0" in p.commands
    assert any(c.endswith("-m pip install nvidia-cudnn-cu11==8.6.0.163") for c in p.commands)
