"""The REPL's logic (Session) and its prompt_toolkit loop driven through a pipe input."""
import os
import re
import time

import pytest
import yaml
from conftest import repl_console, repl_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tfhelp.assistant.frontends import repl
from tfhelp.assistant.context import Context
from tfhelp.assistant.frontends.repl import Session, run_repl, sanitize_rule_id, save_draft_rule
from tfhelp.kb.environment import Environment

NUMPY2 = """\
A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.2 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.

Traceback (most recent call last):
  File "/home/me/train.py", line 1, in <module>
    import tensorflow as tf
  File "/home/me/venv/lib/python3.11/site-packages/tensorflow/__init__.py", line 38, in <module>
    from tensorflow.python.tools import module_util as _module_util
AttributeError: _ARRAY_API not found
"""

ENV = Environment(packages={"tensorflow-cpu": "2.15.1", "numpy": "2.0.2", "keras": "2.15.0"}, python="3.11.7",
                  platform="linux", source="probe")


@pytest.fixture(autouse=True)
def _error_env_is_the_target(monkeypatch):
    """These tests probe nothing: ENV stands for the probe of /envs/t/bin/python, and NUMPY2's
    /home/me/venv is that same environment (tests/test_repl_origin.py checks the real lookup)."""
    from tfhelp.assistant import context

    real = context.find_origin

    def fake(text, **kw):
        o = real(text, **kw)
        if o.status == "elsewhere" and o.location == "/home/me/venv":
            return context.Origin("here", python="/envs/t/bin/python", location="/home/me/venv",
                                  evidence=o.evidence, hints=o.hints)
        return o

    monkeypatch.setattr(context, "find_origin", fake)


def console():
    return repl_console(110)


def out(c):
    return c.file.getvalue()


def session(answers=(), env=ENV, python="/envs/t/bin/python", **kw):
    return repl_session(answers, env=env, python=python, **kw)


def long_traceback(n=300):
    frames = "".join(f'  File "/home/me/lib/mod{i}.py", line {i}, in f{i}\n    g{i}()\n' for i in range(n // 2))
    return "Traceback (most recent call last):\n" + frames + NUMPY2


def test_paste_is_diagnosed_and_a_fix_offered():
    s, c = session()
    assert s.handle(NUMPY2) is True
    text = out(c)
    assert s.report.diagnoses[0].id == "numpy2-abi-compiled-numpy1"
    assert "Extension Built for NumPy 1.x Imported Under NumPy 2" in text
    assert "Say 'fix it' (/fix)" in text


def test_fix_is_planned_for_the_target_and_declining_changes_nothing(monkeypatch):
    import subprocess

    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    s, c = session(answers=[False])
    s.handle(NUMPY2)
    s.handle("fix it")
    text = out(c)
    assert s.asked == ["Apply this fix to /envs/t/bin/python?"]
    assert "$ /envs/t/bin/python -m pip install --disable-pip-version-check --no-input 'numpy<2" in text
    assert "Not applied." in text and ran == []


def test_fix_of_a_resemblance_says_no_rule_pattern_fired_before_asking(monkeypatch):
    """A fragment answered only by resemblance (kb/resemble.py) is flagged at the confirmation."""
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran something"))
    s, c = session(answers=[False])
    s.handle("numpy.core.umath failed to impor")
    assert getattr(s._current(), "matched_by", "") == "resemblance"
    s.handle("fix it")
    flat = " ".join(out(c).split())
    assert "matched by resemblance to a known report (similarity" in flat
    assert "check that it is your error before applying its fix" in flat


@pytest.mark.parametrize("words,cmd", [("fix it", "fix"), ("Fix it!", "fix"), ("please undo", "undo"),
                                       ("gpu test", "gpu"), ("why", "why"), ("other fixes", "alt"),
                                       ("/HISTORY", "history")])
def test_plain_words_map_to_commands(words, cmd, monkeypatch):
    s, c = session()
    called = []
    monkeypatch.setattr(s, "cmd_" + cmd, lambda arg: called.append(arg))
    s.handle(words)
    assert called == [""]


def test_words_inside_a_paste_are_not_commands(monkeypatch):
    s, c = session()
    monkeypatch.setattr(s, "cmd_fix", lambda arg: pytest.fail("paste taken as a command"))
    s.handle("fix it\nTraceback (most recent call last):\nValueError: x")
    assert s.report is not None


def test_quit_and_unknown_commands():
    s, c = session()
    assert s.handle("/quit") is False and s.handle("bye") is False
    assert s.handle("/fxi") is True
    assert s.handle("/hist") is True
    assert "Unknown command /fxi" in out(c) and "Did you mean /history" in out(c)


def test_why_and_alt_show_the_cause_and_the_other_fixes():
    s, c = session()
    s.handle(NUMPY2)
    s.handle("/why")
    s.handle("/alt")
    text = out(c)
    assert "NumPy 2.0 changed its binary interface" in text
    assert re.search(r"Fix 2( for \[1\])?:", text) and "/fix N applies alternative N" in text


def test_commands_without_a_diagnosis_say_so():
    s, c = session()
    for cmd in ("/fix", "/why", "/alt"):
        s.handle(cmd)
    assert out(c).count("No current diagnosis") == 3


def test_no_match_is_honest_and_offers_a_draft_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_USER_RULES", str(tmp_path / "rules"))
    s, c = session()
    s.handle("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'learning_rate_zz'\n")
    text = out(c)
    assert "No known cause matched" in text and "KeyError" in text
    assert "/save [NAME]" in text and s.report.abstained
    s.handle("/save ../../../etc/evil name")
    saved = [p for p in (tmp_path / "rules" / "drafts").iterdir()]
    assert [p.name for p in saved] == ["etc-evil-name.yaml.draft"]
    data = yaml.safe_load(saved[0].read_text())
    assert data["id"] == "etc-evil-name" and data["examples"]["match"][0]["text"].startswith("Traceback")
    assert data["match"]["all"][0]["value"] == "'learning_rate_zz'"


def test_draft_ids_are_sanitised_and_never_overwrite(tmp_path):
    assert sanitize_rule_id("../../x/../Y") == "x-y"
    assert sanitize_rule_id("///") == "draft"
    assert sanitize_rule_id("a" * 200) == "a" * 60
    a = save_draft_rule("some text: [bold red]x[/] {{ }}", "My Rule", str(tmp_path))
    b = save_draft_rule("other", "My Rule", str(tmp_path))
    assert os.path.basename(a) == "my-rule.yaml.draft" and os.path.basename(b) == "my-rule-2.yaml.draft"
    assert yaml.safe_load(open(a))["examples"]["match"][0]["text"] == "some text: [bold red]x[/] {{ }}"


def test_env_and_python_switch(tmp_path):
    s, c = session()
    s.handle("/env")
    assert "tensorflow-cpu       2.15.1" in out(c) and "numpy                2.0.2" in out(c)
    s.handle(f"/python {tmp_path}/nope")
    assert "No Python interpreter" in out(c)


def test_greeting_is_instant_while_the_probe_is_slow(monkeypatch):
    from tfhelp.assistant.frontends.commands import fix as fixcmd

    monkeypatch.setattr(fixcmd, "target_environment", lambda py: time.sleep(1.5) or ENV)
    t0 = time.monotonic()
    s = Session(Context(), console(), python="/envs/t/bin/python")
    g = s.greeting().plain
    assert time.monotonic() - t0 < 0.5
    assert "probing versions..." in g and "/envs/t/bin/python" in g
    s.wait_probe(5)
    assert "TensorFlow 2.15.1 · Keras 2.15.0 · NumPy 2.0.2" in s.greeting().plain


def test_report_is_issue_ready():
    s, c = session()
    s.handle(NUMPY2)
    s.handle("/report")
    text = out(c)
    assert "### Environment" in text and "tensorflow-cpu 2.15.1" in text
    assert "```text" in text and "AttributeError: _ARRAY_API not found" in text
    assert "`numpy2-abi-compiled-numpy1`" in text


def test_run_diagnoses_a_failing_script(tmp_path):
    import sys

    script = tmp_path / "train.py"
    script.write_text("import sys\nprint('epoch 1')\nraise ImportError(\"cannot import name 'np_utils' from 'keras.utils'\")\n")
    s, c = session(python=sys.executable)
    s.handle(f"/run {script}")
    text = out(c)
    assert "epoch 1" in text and "failed (exit status 1)" in text
    assert s.report.diagnoses[0].id == "keras-np-utils-removed"
    assert s.last_script == str(script)


def test_input_text_cannot_drive_the_terminal():
    s, c = session()
    s.handle("\x1b]0;pwned\x07\x1b[2J[bold red]boom[/] Traceback (most recent call last):\nValueError: \x1b[31mx\n")
    text = out(c)
    assert "\x1b" not in text


# --- through prompt_toolkit -----------------------------------------------------------------------


def drive(keys, s=None, c=None):
    """Type ``keys`` (a string, or a list of chunks typed 0.3 s apart) into a REPL on a pipe."""
    import threading

    c = c or console()
    s = s or Session(Context(), c, python="/envs/t/bin/python", probe=False, env=ENV)
    chunks = [keys] if isinstance(keys, str) else list(keys)
    result = {}
    with create_pipe_input() as inp:
        t = threading.Thread(target=lambda: result.setdefault(
            "rc", run_repl(Context(), pt_input=inp, pt_output=DummyOutput(), console=c, session=s)))
        t.start()
        for chunk in chunks:
            before = out(c)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and (not before or "tfhelp " not in before):
                time.sleep(0.02)          # the REPL is up once its greeting is printed
                before = out(c)
            inp.send_text(chunk)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and out(c) == before:
                time.sleep(0.02)          # wait for the answer before typing on
            time.sleep(0.1)
        t.join(15)
        assert not t.is_alive(), out(c)
    return result["rc"], out(c), s


def test_bracketed_paste_of_300_lines_is_one_message():
    tb = long_traceback(300)
    assert len(tb.splitlines()) > 300
    rc, text, s = drive("\x1b[200~" + tb.replace("\n", "\r") + "\x1b[201~" + "/quit\r")
    assert rc == 0
    assert text.count("╭─ [1]") == 1
    assert s.report.lines >= 300 and s.report.diagnoses[0].id == "numpy2-abi-compiled-numpy1"
    assert "Unknown command" not in text and "bye" in text


def test_unbracketed_paste_typed_ahead_is_one_message():
    import threading

    c = console()
    s = Session(Context(), c, python="/envs/t/bin/python", probe=False, env=ENV)
    with create_pipe_input() as inp:
        t = threading.Thread(target=run_repl, args=(Context(),),
                             kwargs=dict(pt_input=inp, pt_output=DummyOutput(), console=c, session=s))
        t.start()
        inp.send_text(NUMPY2.replace("\n", "\r") + "\r")   # a terminal without bracketed paste
        for _ in range(100):
            if s.report is not None:
                break
            time.sleep(0.05)
        inp.send_text("\x04")
        t.join(10)
    text = out(c)
    assert not t.is_alive()
    assert text.count("╭─ [1]") == 1 and s.report.diagnoses[0].id == "numpy2-abi-compiled-numpy1"


def test_ctrl_c_at_the_prompt_keeps_the_session_and_ctrl_d_exits():
    rc, text, s = drive(["garbage", "\x03", "/help\r", "\x04"])
    assert rc == 0 and "Commands:" in text and text.rstrip().endswith("bye")


def test_ctrl_c_during_an_action_cancels_only_that_action(monkeypatch):
    c = console()
    s = Session(Context(), c, python="/envs/t/bin/python", probe=False, env=ENV)

    def slow(arg):
        raise KeyboardInterrupt

    monkeypatch.setattr(s, "cmd_doctor", slow)
    rc, text, _ = drive(["/doctor\r", "/help\r", "\x04"], s=s, c=c)
    assert "(cancelled)" in text and "Commands:" in text


def test_confirmation_goes_through_the_prompt():
    c = console()
    s = Session(Context(), c, python="/envs/t/bin/python", probe=False, env=ENV)
    s.ask = None
    rc, text, _ = drive(["\x1b[200~" + NUMPY2.replace("\n", "\r") + "\x1b[201~", "fix it\r", "n\r", "\x04"], s=s, c=c)
    assert "Plan: " in text and "Not applied." in text


def test_history_keeps_commands_not_pastes():
    rc, text, s = drive(["/help\r", "\x1b[200~" + NUMPY2.replace("\n", "\r") + "\x1b[201~", "\x04"])
    from tfhelp.assistant.fixes.journal import state_dir

    hist = open(os.path.join(state_dir(), "repl_history"), encoding="utf-8").read()
    assert "+/help" in hist and "_ARRAY_API" not in hist


def test_completion_of_commands():
    from prompt_toolkit.document import Document

    comp = repl._completer()
    got = [x.text for x in comp.get_completions(Document("/h"), None)]
    assert got == ["/help", "/history"]
    assert list(comp.get_completions(Document("hello"), None)) == []
