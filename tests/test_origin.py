"""Where an error came from: reading it out of the text (kb/origin.py), checking it against this
machine with real throwaway venvs (assistant/context.py), and the answers that follow from it in
`diagnose`, the REPL, `fix` confirmations, `undo` and `history`."""
import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from conftest import write_rule
from tfhelp.assistant.context import Context, Target, choose_target, find_origin, probe_disagrees
from tfhelp.kb.environment import Environment
from tfhelp.kb.origin import read_origin, read_shebang

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def placeholder_error(prefix: str, py: str = PY) -> str:
    return ("Traceback (most recent call last):\n"
            '  File "/home/u/proj/train.py", line 3, in <module>\n'
            "    x = tf.placeholder(tf.float32)\n"
            f'  File "{prefix}/lib/python{py}/site-packages/tensorflow/python/util/lazy.py", line 9, in __getattr__\n'
            "AttributeError: module 'tensorflow' has no attribute 'placeholder'\n")


BARE_PLACEHOLDER = ("Traceback (most recent call last):\n  File \"/home/u/t.py\", line 2, in <module>\n"
                    "    x = tf.placeholder(tf.float32)\n"
                    "AttributeError: module 'tensorflow' has no attribute 'placeholder'\n")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A real venv (no pip, no TensorFlow: fast) whose paths the pasted tracebacks name."""
    d = tmp_path_factory.mktemp("origin") / "tfenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(d)], check=True, timeout=120)
    # one installed distribution (metadata only), so the probe lists a package: no TensorFlow
    info = d / "lib" / f"python{PY}" / "site-packages" / "demo_pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n")
    return d


# --- reading the text ---------------------------------------------------------------------------

def test_posix_site_packages_give_prefix_version_and_packages():
    h = read_origin(placeholder_error("/home/u/venvs/tf", "3.10"))
    p = h.best
    assert (p.prefix, p.style, p.python_version) == ("/home/u/venvs/tf", "posix", "3.10")
    assert p.site_packages == "/home/u/venvs/tf/lib/python3.10/site-packages"
    assert h.python_version == "3.10" and "tensorflow" in h.packages_seen


def test_windows_conda_env_with_spaces_in_the_user_name():
    text = ('  File "C:\\Users\\John Doe\\miniconda3\\envs\\tf\\Lib\\site-packages\\keras\\src\\x.py", line 5\n'
            "ImportError: cannot import name 'x' from 'keras.src'\n")
    p = read_origin(text).best
    assert p.prefix == "C:\\Users\\John Doe\\miniconda3\\envs\\tf" and p.style == "windows" and p.conda_env == "tf"


def test_conda_prompt_user_site_debian_and_interpreter_paths():
    assert read_origin("(tf) C:\\Users\\u>python train.py\nboom\n").prompt_names == ["tf"]
    assert read_origin("(gpu) user@box:~/proj$ python train.py\n").prompt_names == ["gpu"]
    assert read_origin("(base) $ python a.py\n").prompt_names == ["base"]
    user = read_origin('  File "/home/u/.local/lib/python3.10/site-packages/numpy/x.py", line 1\n').best
    assert user.kind == "user-site" and user.python_version == "3.10"
    deb = read_origin('  File "/usr/lib/python3/dist-packages/numpy/x.py", line 1\n').best
    assert deb.prefix == "/usr" and deb.kind == "system"
    exe = read_origin("$ /opt/envs/tf/bin/python3.11 train.py\n").best
    assert exe.prefix == "/opt/envs/tf" and exe.interpreter == "/opt/envs/tf/bin/python3.11"
    conda = read_origin("/opt/conda/envs/gpu/lib/python3.9/site-packages/numpy/core/x.py\n").best
    assert conda.conda_env == "gpu" and conda.python_version == "3.9"


def test_most_mentioned_environment_wins_and_missing_modules_did_not_run():
    text = (placeholder_error("/a/env") + placeholder_error("/b/env") + placeholder_error("/b/env"))
    assert read_origin(text).best.prefix == "/b/env"
    h = read_origin("(tf) $ python t.py\nModuleNotFoundError: No module named 'tensorflow'\n")
    assert "tensorflow" in h.missing_modules and "tensorflow" not in h.packages_seen
    assert "tensorflow" in read_origin("2024-01-01 10:00:00.1: I tensorflow/core/platform/cpu_feature_guard.cc:182] x\n").packages_seen


def test_plain_text_names_no_environment():
    h = read_origin("ValueError: shapes (3,) and (4,) not aligned\n")
    assert not h.any and h.best is None


def test_shebang_lines():
    assert read_shebang("#!/usr/bin/env python3") == ["python3"]
    assert read_shebang("#!/usr/bin/env -S python3 -u") == ["python3", "-u"]
    assert read_shebang("#!/opt/v/bin/python3.10") == ["/opt/v/bin/python3.10"]
    assert read_shebang("#!/bin/bash") is None and read_shebang("import os") is None


# --- checking it against this machine -----------------------------------------------------------

def test_real_venv_in_the_traceback_is_found_and_verified(venv):
    o = find_origin(placeholder_error(str(venv)))
    assert o.status == "here" and os.path.dirname(os.path.dirname(o.python)) == str(venv)
    assert os.path.basename(o.python) == "python"


def test_an_env_that_is_not_here_is_elsewhere_with_a_reason(tmp_path):
    o = find_origin(placeholder_error("/home/nobody-here/venvs/tf"))
    assert o.status == "elsewhere" and o.location == "/home/nobody-here/venvs/tf" and o.reason
    win = find_origin('  File "C:\\Users\\u\\envs\\tf\\Lib\\site-packages\\tensorflow\\x.py", line 1\n')
    assert win.status == "elsewhere" and "Windows" in win.reason


def test_a_look_alike_folder_is_not_that_envs_python(tmp_path):
    """site-packages folder present, bin/python there, but that interpreter doesn't own the folder."""
    fake = tmp_path / "fake"
    (fake / "lib" / f"python{PY}" / "site-packages").mkdir(parents=True)
    (fake / "bin").mkdir()
    os.symlink(sys.executable, fake / "bin" / "python")   # the base interpreter: other site-packages
    o = find_origin(placeholder_error(str(fake)))
    assert o.status == "elsewhere" and "owns" in o.reason


def test_prompt_name_resolves_to_a_venv_in_the_working_folder(venv):
    o = find_origin(f"({venv.name}) user@box:~$ python train.py\nboom\n", cwd=str(venv.parent))
    assert o.status == "here" and o.python.startswith(str(venv))


def test_probe_of_another_interpreter_never_contradicts_the_text():
    hints = read_origin(BARE_PLACEHOLDER)
    no_tf = Environment(packages={"numpy": "2.1.0"}, python="3.11.7", source="probe")
    assert "tensorflow" in probe_disagrees(no_tf, hints, "/usr/bin/python3")
    with_tf = Environment(packages={"tensorflow": "2.15.1"}, python="3.11.7", source="probe")
    assert probe_disagrees(with_tf, hints) is None
    py310 = read_origin(placeholder_error("/x", "3.10"))
    assert "3.10" in probe_disagrees(with_tf, py310)
    t = choose_target(BARE_PLACEHOLDER, default="/usr/bin/python3", probe=lambda p: no_tf)
    assert t.env is None and t.disagreement and t.is_origin is False
    assert t.commands_python() == "python" and "not where the error came from" in t.describe()


# --- answers: diagnose --------------------------------------------------------------------------

def _ctx_env(path_dirs):
    return {"PATH": os.pathsep.join(str(p) for p in path_dirs)}


def test_diagnose_picks_the_venv_from_the_traceback(run_cli, venv):
    text = placeholder_error(str(venv)).encode()
    code, out, err = run_cli(["--json", "diagnose", "--probe", "-"], stdin=text)
    doc = json.loads(out)
    t = doc["input"]["target"]
    assert t["source"] == "error text" and t["python"].startswith(str(venv)) and t["is_origin"] is True
    assert t["origin"]["status"] == "here"
    code, out, err = run_cli(["diagnose", "-"], stdin=text, width=200)
    assert f"Target: {venv}/bin/python, the environment the error came from" in out


def test_diagnose_probe_of_path_python_without_tf_is_not_trusted_over_the_text(run_cli, venv):
    """The REPL/diagnose bug: a tf.placeholder paste was 'contradicted by the probed environment:
    tensorflow not installed' because the python on PATH was probed."""
    code, out, err = run_cli(["--json", "diagnose", "--probe", "-"], stdin=BARE_PLACEHOLDER.encode(),
                             environ=_ctx_env([venv / "bin"]))
    doc = json.loads(out)
    assert code == 0 and doc["diagnoses"] and doc["diagnoses"][0]["id"].startswith("tf1-")
    assert not any("contradicted" in (d.get("why_not") or "") for d in doc["related"])
    assert doc["input"]["target"]["disagreement"] and doc["input"]["target"]["is_origin"] is False
    code, out, err = run_cli(["--probe", "diagnose", "-"], stdin=BARE_PLACEHOLDER.encode(),
                             environ=_ctx_env([venv / "bin"]), width=300)
    assert "is not where the error came from" in out and "contradicted" not in out


def test_error_from_elsewhere_is_diagnosed_from_the_text(run_cli, venv):
    text = placeholder_error("/home/nobody-here/venvs/tf").encode()
    code, out, err = run_cli(["diagnose", "--probe", "-"], stdin=text, environ=_ctx_env([venv / "bin"]), width=300)
    assert code == 0 and "The error came from /home/nobody-here/venvs/tf" in out and "text alone" in out
    assert "contradicted" not in out and str(venv) not in out


def test_explicit_python_that_is_not_the_origin_is_kept_with_a_warning(run_cli, venv, tmp_path):
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True, timeout=120)
    code, out, err = run_cli(["--json", "diagnose", "--python", str(other), "-"],
                             stdin=placeholder_error(str(venv)).encode())
    t = json.loads(out)["input"]["target"]
    assert t["source"] == "--python" and t["python"].startswith(str(other)) and t["is_origin"] is False
    assert t["origin"]["python"].startswith(str(venv))


# --- answers: the REPL --------------------------------------------------------------------------

DEMO = """\
id: demo-origin-fix
title: Demo Origin Fix
category: import
severity: fatal
confidence: high
summary: A rule used only by this test.
cause: Used only by tests/test_origin.py.
references: [https://pypi.org/project/six/]
match:
  all:
    - {name: m, type: literal, value: "demo_origin needs six"}
fixes:
  - title: Install six
    steps:
      - {action: pip_install, packages: ["six==1.17.0"]}
examples:
  match: ["ImportError: demo_origin needs six"]
  no_match: ["ImportError: something else"]
"""


def _session(ctx_python=None, environ=None):
    from tfhelp.assistant.frontends.repl import Session

    asked = []
    c = Console(file=io.StringIO(), width=300, color_system=None, force_terminal=False, markup=False,
                highlight=False, emoji=False)
    ctx = Context(environ=environ or dict(os.environ), target_python=ctx_python)
    s = Session(ctx, c, ask=lambda q: asked.append(q) or False, probe=False)
    s.asked = asked
    return s, c


def test_repl_switches_to_the_venv_in_the_traceback_and_fix_confirms_there(venv, monkeypatch):
    write_rule(__import__("pathlib").Path(os.environ["TFHELP_USER_RULES"]), "import", "demo-origin-fix", DEMO)
    s, c = _session()
    paste = placeholder_error(str(venv)).replace("AttributeError: module 'tensorflow' has no attribute 'placeholder'",
                                                 "ImportError: demo_origin needs six")
    s.handle(paste)
    out = c.file.getvalue()
    assert s.python.startswith(str(venv)) and "the target is now" in out
    assert f"Target: {s.python}, the environment the error came from" in out
    assert "contradicted" not in out
    s.handle("fix it")
    assert s.asked == [f"Apply this fix to {s.python}?"]
    assert "Warning" not in c.file.getvalue()


def test_repl_with_python_elsewhere_warns_in_the_confirmation(venv, tmp_path):
    write_rule(__import__("pathlib").Path(os.environ["TFHELP_USER_RULES"]), "import", "demo-origin-fix", DEMO)
    s, c = _session(ctx_python=sys.executable)
    paste = placeholder_error(str(venv)).replace("AttributeError: module 'tensorflow' has no attribute 'placeholder'",
                                                 "ImportError: demo_origin needs six")
    s.handle(paste)
    assert s.python == os.path.abspath(sys.executable)          # --python is kept
    s.handle("fix it")
    out = c.file.getvalue()
    assert "Warning: the error came from" in out and str(venv) in out
    assert s.asked == [f"Apply this fix to {s.python}?"]


def test_repl_tf_paste_with_a_python_without_tf_is_not_contradicted(venv):
    s, c = _session(environ={"PATH": str(venv / "bin")})
    s.python = str(venv / "bin" / "python")
    s.start_probe()
    s.wait_probe(30)
    s.handle(BARE_PLACEHOLDER)
    out = c.file.getvalue()
    assert s.report is not None and not s.report.abstained, out
    assert "contradicted" not in out and "is not where the error came from" in out


# --- undo / history across targets --------------------------------------------------------------

def _journal_entry(python: str, rule_id: str = "demo-rule"):
    from tfhelp.assistant.fixes.journal import Journal

    j = Journal()
    e = j.new_entry(python, rule_id=rule_id, fix_index=0, fix_title="Demo fix")
    e["status"] = "applied"
    e["snapshot"] = {"six": {"name": "six", "version": "1.16.0", "installer": "pip", "direct_url": None}}
    e["after"] = {"six": {"name": "six", "version": "1.17.0", "installer": "pip", "direct_url": None}}
    e["changes"] = {"changed": {"six": ["1.16.0", "1.17.0"]}, "added": {}, "removed": {}}
    j.save(e)
    return e


def test_undo_with_nothing_here_lists_the_other_targets_and_their_python(run_cli, venv):
    other = str(venv / "bin" / "python")
    _journal_entry(other)
    code, out, err = run_cli(["undo", "--python", sys.executable], width=300)
    assert code == 0 and "Nothing to undo for" in out
    assert f"tfhelp undo --python {other}" in out and "Demo fix" in out
    code, out, err = run_cli(["--json", "undo", "--python", sys.executable])
    doc = json.loads(out)
    assert [t["python"] for t in doc["other_targets"]] == [other]


def test_history_lists_every_interpreter_with_the_undo_command(run_cli, venv):
    other = str(venv / "bin" / "python")
    _journal_entry(other)
    _journal_entry(os.path.abspath(sys.executable), "second-rule")
    code, out, err = run_cli(["history"], width=300)
    assert code == 0 and "Interpreters in the journal:" in out
    assert f"tfhelp undo --python {other}" in out
    code, out, err = run_cli(["history", "--python", sys.executable], width=300)
    assert "Other interpreters in the journal:" in out and other in out and "second-rule" in out
    doc = json.loads(run_cli(["--json", "history"])[1])
    assert {t["python"] for t in doc["targets"]} == {other, os.path.abspath(sys.executable)}


def test_repl_undo_with_nothing_here_names_the_other_interpreters(venv):
    other = str(venv / "bin" / "python")
    _journal_entry(other)
    s, c = _session(ctx_python=sys.executable)
    s.handle("/undo")
    out = c.file.getvalue()
    assert "Nothing to undo for" in out and f"tfhelp undo --python {other}" in out


def test_target_describe_lines_cover_each_case():
    from tfhelp.assistant.context import Origin

    here = Origin("here", python="/e/bin/python", location="/e")
    assert Target("/e/bin/python", here, "error text").describe().startswith("Target: /e/bin/python, the environment")
    assert "where the error came from" in Target("/e/bin/python", here, "--python").describe()
    gone = Origin("elsewhere", location="/far/env", reason="not on this machine")
    assert "text alone" in Target(None, gone, "default").describe()
    assert Target(None, Origin(), "default").describe() == ""


def test_fix_cli_warns_when_the_input_came_from_another_environment(run_cli, venv, tmp_path):
    write_rule(__import__("pathlib").Path(os.environ["TFHELP_USER_RULES"]), "import", "demo-origin-fix", DEMO)
    err_file = tmp_path / "err.txt"
    err_file.write_text(placeholder_error(str(venv)).replace(
        "AttributeError: module 'tensorflow' has no attribute 'placeholder'", "ImportError: demo_origin needs six"))
    code, out, err = run_cli(["fix", "demo-origin-fix", "--dry-run", "--python", sys.executable,
                              "--input", str(err_file)], width=300)
    assert code == 0 and "Warning: the error came from" in out and str(venv) in out


def test_undo_finds_a_fix_recorded_for_another_name_of_the_same_env(run_cli, venv):
    from tfhelp.assistant.frontends.commands.undo import last_undoable_in_env
    from tfhelp.assistant.fixes.journal import Journal

    e = _journal_entry(str(venv / "bin" / "python3"))
    assert last_undoable_in_env(Journal(), str(venv / "bin" / "python"))["id"] == e["id"]
    assert last_undoable_in_env(Journal(), sys.executable) is None
