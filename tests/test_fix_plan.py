"""Planning fixes: exact argv, PEP 508 validation, no shell, env scopes, code diffs."""
import os
import subprocess
import sys

import pytest

from tfhelp.assistant.fixes import actions
from tfhelp.assistant.fixes.actions import ApplyContext, PlanError
from tfhelp.assistant.fixes.plan import build_plan

PY = "/opt/venv/bin/python"


def ctx(**kw):
    kw.setdefault("python", PY)
    kw.setdefault("platform", "linux")
    return ApplyContext(**kw)


def test_pip_install_argv_uses_target_interpreter_module_pip():
    plan = build_plan({"title": "pin", "steps": [{"action": "pip_install", "packages": ["numpy<2", "keras==2.15.*"]}]},
                      ctx(pip_args=("--no-index", "--find-links", "/w")))
    (s,) = plan.steps
    assert s.argv == [PY, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                      "--no-index", "--find-links", "/w", "numpy<2", "keras==2.15.*"]
    assert plan.runnable and s.runs


def test_pip_install_options_from_the_rule_are_run_and_checked():
    plan = build_plan({"title": "up", "steps": [{"action": "pip_install", "packages": ["numpy>=1.26"],
                                                 "options": ["--upgrade"]}]}, ctx())
    assert plan.steps[0].argv[-2:] == ["--upgrade", "numpy>=1.26"]
    bad = build_plan({"title": "x", "steps": [{"action": "pip_install", "packages": ["numpy"],
                                               "options": ["--index-url=http://evil"]}]}, ctx())
    assert not bad.runnable


def test_pip_uninstall_argv_is_names_with_yes():
    plan = build_plan({"title": "rm", "steps": [{"action": "pip_uninstall", "packages": ["tensorflow-gpu", "Keras"]}]}, ctx())
    assert plan.steps[0].argv == [PY, "-m", "pip", "uninstall", "--disable-pip-version-check", "--no-input", "-y",
                                  "tensorflow-gpu", "Keras"]


@pytest.mark.parametrize("bad", [
    "--index-url=http://evil.example/simple",
    "-e .",
    "numpy; rm -rf /",
    "numpy<2 && curl evil | sh",
    "evil @ https://evil.example/evil.whl",
    "numpy\n--extra-index-url http://x",
    "",
    "numpy<<2",
])
def test_invalid_or_dangerous_requirements_are_refused(bad):
    plan = build_plan({"title": "x", "steps": [{"action": "pip_install", "packages": [bad]}]}, ctx())
    assert not plan.runnable
    assert plan.steps[0].argv is None
    with pytest.raises(PlanError):
        actions.validate_requirement(bad)


def test_uninstall_refuses_version_specifiers():
    plan = build_plan({"title": "x", "steps": [{"action": "pip_uninstall", "packages": ["numpy<2"]}]}, ctx())
    assert not plan.runnable


def test_unknown_action_cannot_run_and_nothing_executes(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append((a, k)))
    plan = build_plan({"title": "evil", "steps": [{"action": "shell", "command": "rm -rf ~"},
                                                  {"action": "pip_install", "packages": ["six"]}]}, ctx())
    assert not plan.runnable
    assert "unknown action 'shell'" in plan.errors[0]
    from tfhelp.assistant.fixes.plan import apply_plan
    out = apply_plan(plan, ctx(), journal=None)
    assert out.status == "not-run" and calls == []


def test_run_argv_never_uses_a_shell(monkeypatch):
    seen = {}

    def fake_run(argv, **kw):
        seen.update(kw, argv=argv)
        return subprocess.CompletedProcess(argv, 0, b"ok", None)

    monkeypatch.setattr(subprocess, "run", fake_run)
    rc, out = actions.run_argv([sys.executable, "-c", "pass"], timeout=5)
    assert rc == 0 and seen["shell"] is False and isinstance(seen["argv"], list)
    with pytest.raises(PlanError):
        actions.run_argv("pip install numpy", timeout=5)


def test_session_env_on_cli_is_an_export_line_not_run():
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": "TF_CPP_MIN_LOG_LEVEL", "value": "2",
                                                "scope": "session"}]}, ctx(shell="bash"))
    s = plan.steps[0]
    assert not s.runs and s.detail["line"] == "export TF_CPP_MIN_LOG_LEVEL=2"
    assert actions.export_line("X", "a b'c", "bash") == "export X='a b'\"'\"'c'"
    assert actions.export_line("X", "1", "fish") == "set -gx X 1"
    assert actions.export_line("X", "1", "powershell") == '$env:X = "1"'


def test_session_env_in_repl_sets_child_env_and_undo_restores():
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    c = ctx(session_env=env)
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": "TF_CPP_MIN_LOG_LEVEL", "value": "2"}]}, c)
    res = actions.apply_step(plan.steps[0], c)
    assert res.ok and env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    actions.undo_set_env(res.undo, env)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "0"}


@pytest.mark.parametrize("name,value", [("BAD NAME", "1"), ("X;rm", "1"), ("1X", "1"), ("OK", "a\nexport EVIL=1")])
def test_bad_env_names_and_values_are_refused(name, value):
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": name, "value": value}]}, ctx())
    assert not plan.runnable


def test_user_profile_block_is_appended_and_removed_exactly(tmp_path):
    prof = tmp_path / ".bashrc"
    original = "alias ll='ls -l'\n# my stuff"
    prof.write_text(original)
    c = ctx(profile_path=str(prof), tag="fix T1")
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": "TF_ENABLE_ONEDNN_OPTS", "value": "0",
                                                "scope": "user-profile"}]}, c)
    res = actions.apply_step(plan.steps[0], c)
    text = prof.read_text()
    assert res.ok and "# >>> tfhelp fix T1 >>>\nexport TF_ENABLE_ONEDNN_OPTS=0\n# <<< tfhelp fix T1 <<<\n" in text
    assert text.startswith(original)
    ok, _ = actions.undo_set_env(res.undo, None)
    assert ok and prof.read_text() == original + "\n"


def test_conda_env_scope_writes_activate_and_deactivate_scripts(tmp_path):
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "bin").mkdir()
    c = ctx(python=str(prefix / "bin" / "python"), tag="fix T2")
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": "XLA_FLAGS", "value": "--xla_gpu_cuda_data_dir=/usr/lib/cuda",
                                                "scope": "conda-env"}]}, c)
    res = actions.apply_step(plan.steps[0], c)
    act = prefix / "etc/conda/activate.d/tfhelp_env_vars.sh"
    deact = prefix / "etc/conda/deactivate.d/tfhelp_env_vars.sh"
    assert "export XLA_FLAGS=--xla_gpu_cuda_data_dir=/usr/lib/cuda" in act.read_text()
    assert "unset XLA_FLAGS" in deact.read_text()
    ok, _ = actions.undo_set_env(res.undo, None)
    assert ok and not act.exists() and not deact.exists()


def test_conda_scope_outside_conda_falls_back_to_a_shown_line(tmp_path):
    c = ctx(python=str(tmp_path / "bin" / "python"), shell="bash")
    plan = build_plan({"title": "q", "steps": [{"action": "set_env", "name": "A", "value": "1", "scope": "conda-env"}]}, c)
    assert not plan.steps[0].runs and "not a conda environment" in plan.steps[0].detail["note"]


def test_code_change_without_a_named_file_is_only_shown():
    plan = build_plan({"title": "c", "steps": [{"action": "code_change", "file_hint": "train.py",
                                                "before": "from keras.utils import np_utils",
                                                "after": "from keras.utils import to_categorical"}]}, ctx())
    s = plan.steps[0]
    assert not s.runs
    assert "-from keras.utils import np_utils\n+from keras.utils import to_categorical" in s.detail["diff"]


def test_code_change_on_named_file_applies_with_indentation_and_undoes(tmp_path):
    f = tmp_path / "train.py"
    original = "def f(y):\n    from keras.utils import np_utils\n    return np_utils.to_categorical(y, 10)\n"
    f.write_text(original)
    c = ctx(code_file=str(f))
    step = {"action": "code_change", "before": "from keras.utils import np_utils\nreturn np_utils.to_categorical(y, 10)",
            "after": "from keras.utils import to_categorical\nreturn to_categorical(y, 10)"}
    plan = build_plan({"title": "c", "steps": [step]}, c)
    s = plan.steps[0]
    assert s.runs and "+    from keras.utils import to_categorical" in s.detail["diff"]
    res = actions.apply_step(s, c)
    assert res.ok
    assert f.read_text() == "def f(y):\n    from keras.utils import to_categorical\n    return to_categorical(y, 10)\n"
    ok, _ = actions.undo_code_change(res.undo)
    assert ok and f.read_text() == original


def test_code_change_refuses_when_file_changed_after_planning(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("x = tf.random_normal((10, 10))\n")
    c = ctx(code_file=str(f))
    plan = build_plan({"title": "c", "steps": [{"action": "code_change", "before": "tf.random_normal(",
                                                "after": "tf.random.normal("}]}, c)
    f.write_text("x = tf.random_normal((10, 10))  # edited\n")
    assert not actions.apply_step(plan.steps[0], c).ok


def test_verify_import_passes_and_fails_truthfully():
    c = ctx(python=sys.executable)
    good = actions.plan_verify({"check": "import", "code": "import json"}, 0, c)
    bad = actions.plan_verify({"check": "import", "code": "import tfhelp_no_such_module_xyz"}, 1, c)
    assert good.argv == [sys.executable, "-c", "import json"]
    assert actions.run_verify(good, c).status == "passed"
    r = actions.run_verify(bad, c)
    assert r.status == "failed" and "ModuleNotFoundError" in r.output


def test_verify_script_without_script_is_skipped_not_passed():
    c = ctx(python=sys.executable)
    p = actions.plan_verify({"check": "script"}, 0, c)
    assert actions.run_verify(p, c).status == "skipped"


def test_verify_gets_env_set_by_the_fix(tmp_path):
    c = ctx(python=sys.executable)
    p = actions.plan_verify({"check": "import", "code": "import os, sys; sys.exit(os.environ['TFH_X'] != '7')"}, 0, c)
    assert actions.run_verify(p, c, {"TFH_X": "7"}).status == "passed"


def test_previous_failure_is_flagged_in_the_plan():
    plan = build_plan({"title": "Pin NumPy", "steps": [{"action": "manual", "text": "x"}]}, ctx(), rule_id="r",
                      fix_index=0, previous_failures=[{"fix_index": 0, "fix_title": "Pin NumPy", "status": "rolled-back",
                                                       "verification": "failed", "when": "2026-01-01T00:00:00Z"}])
    assert any("already failed" in w for w in plan.warnings)


def test_verify_gpu_uses_the_ladder_and_reports_its_first_failure(monkeypatch):
    from tfhelp.assistant.environment import gpu_test
    from tfhelp.assistant.environment.gpu_test import LadderResult, RungResult

    seen = {}

    def fake_ladder(python, diagnose=True, on_rung=None, timeout=None):
        seen["python"], seen["env"] = python, os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH")
        rungs = [RungResult("nvml", "driver", "gpu", seen.get("status", "passed"), "no driver"),
                 RungResult("import-tf", "import tensorflow", "cpu", "passed")]
        return LadderResult(python, rungs, device="/GPU:0")

    monkeypatch.setattr(gpu_test, "run_ladder", fake_ladder)
    c = ctx(python=sys.executable)
    p = actions.plan_verify({"check": "gpu"}, 0, c)
    r = actions.run_verify(p, c, {"TF_FORCE_GPU_ALLOW_GROWTH": "true"})
    assert r.status == "passed" and seen == {"python": sys.executable, "env": "true"}
    assert "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ or os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] != "true"
    seen["status"] = "failed"
    r = actions.run_verify(p, c)
    assert r.status == "failed" and "nvml: no driver" in r.message
