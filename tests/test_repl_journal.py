"""The REPL and the fix journal: a half-done fix from a killed process is reported (and offered for
undo) when the REPL starts, ``/undo`` refuses on drift and takes ``--force`` like ``tfhelp undo``,
and a busy environment gets the CLI's own exit-75 message.

The target is a fake interpreter (a shell script answering ``pip list``), and the fixes edit a
file, so undo runs for real without pip and without touching any real environment."""
import stat
import sys
import threading
import time

import pytest
from conftest import repl_console, repl_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tfhelp.assistant.context import Context
from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.assistant.fixes.journal import Journal
from tfhelp.assistant.fixes.plan import apply_plan, build_plan
from tfhelp.assistant.frontends.repl import run_repl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreter is a POSIX shell script")

ORIGINAL = "import tensorflow as tf\nx = tf.random_normal((2, 2))\n"
FIXED = "import tensorflow as tf\nx = tf.random.normal((2, 2))\n"
FIX = {"title": "Use tf.random.normal", "steps": [
    {"action": "code_change", "before": "tf.random_normal(", "after": "tf.random.normal("}]}

FAKE_PYTHON = """#!/bin/sh
# answers what the journal asks an interpreter: `-m pip list --format=json` and the metadata script
case "$*" in
  *"pip list"*) echo '[{"name": "numpy", "version": "1.26.4"}]' ;;
  *) echo '{}' ;;
esac
"""


def fake_python(folder):
    py = folder / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text(FAKE_PYTHON)
    py.chmod(py.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(py)


@pytest.fixture
def world(tmp_path):
    code = tmp_path / "train.py"
    code.write_text(ORIGINAL)
    return {"python": fake_python(tmp_path / "env"), "code": code, "journal": Journal()}


def apply_fix(world) -> str:
    """Apply FIX to world's file through the real transaction; returns the journal entry id."""
    c = ApplyContext(python=world["python"], code_file=str(world["code"]))
    out = apply_plan(build_plan(FIX, c, rule_id="tf1-random-normal", fix_index=0), c, journal=world["journal"])
    assert out.ok, out.messages
    assert world["code"].read_text() == FIXED
    return out.entry_id


def killed_mid_fix(world) -> str:
    """The journal as a kill -9 between the step and the final save leaves it: still ``applying``,
    nobody holding the environment's lock."""
    entry_id = apply_fix(world)
    j = world["journal"]
    e = j.get(entry_id)
    e["status"] = "applying"
    j.save(e)
    return entry_id


def console():
    return repl_console(200)


def session(world, answers=(), python=None):
    return repl_session(answers, width=200, python=python or world["python"], env=None, journal=world["journal"])


def text(c) -> str:
    return c.file.getvalue()


def flat(c) -> str:
    """The console's text with line breaks and runs of spaces as single spaces (rich wraps long
    lines at the console width)."""
    return " ".join(text(c).split())


# --- 1. recovery at start ----------------------------------------------------------------------


def test_repl_start_reports_a_half_done_fix_and_undoes_it_when_asked(world):
    entry_id = killed_mid_fix(world)
    s, c = session(world, answers=[True])
    with create_pipe_input() as inp:
        t = threading.Thread(target=run_repl, args=(Context(),),
                             kwargs=dict(pt_input=inp, pt_output=DummyOutput(), console=c, session=s))
        t.start()
        deadline = time.monotonic() + 10
        while "Restored" not in text(c) and time.monotonic() < deadline and t.is_alive():
            time.sleep(0.05)
        inp.send_text("\x04")
        t.join(10)
    out = flat(c)
    assert not t.is_alive()
    assert "was interrupted before it finished" in out and "Use tf.random.normal" in out
    assert s.asked == [f"Undo it now in {world['python']} (puts back the snapshot from before it)?"]
    assert "Restored." in out
    assert world["code"].read_text() == ORIGINAL
    assert world["journal"].get(entry_id)["status"] == "undone"
    # the greeting came first, the warning before the first prompt's answer
    assert out.index("tfhelp ") < out.index("was interrupted")


def test_declined_recovery_marks_the_entry_and_leaves_undo_for_later(world):
    entry_id = killed_mid_fix(world)
    s, c = session(world, answers=[False, True])
    notices = s.recover_journal()
    assert [n["entry"] for n in notices] == [entry_id] and notices[0]["new"] is True
    assert "Left as it is; /undo puts the snapshot back later." in flat(c)
    assert world["journal"].get(entry_id)["status"] == "interrupted"     # recorded, not lost
    assert world["code"].read_text() == FIXED                            # nothing undone yet
    s.handle("/undo")
    assert world["code"].read_text() == ORIGINAL and "Restored." in text(c)


def test_a_half_done_fix_in_another_environment_is_reported_with_how_to_reach_it(world, tmp_path):
    killed_mid_fix(world)
    other = fake_python(tmp_path / "other-env")
    s, c = session(world, python=other)
    s.recover_journal()
    out = flat(c)
    assert "was interrupted" in out
    assert f"(it is another environment: /python {world['python']}, then /undo)" in out
    assert s.asked == []                     # nothing offered for an environment that isn't the target
    assert world["code"].read_text() == FIXED


def test_a_finished_fix_is_not_reported_at_start(world):
    apply_fix(world)
    s, c = session(world)
    assert s.recover_journal() == [] and text(c) == "" and s.asked == []


# --- 2. /undo --force and a busy environment ---------------------------------------------------


def test_undo_refuses_after_a_hand_edit_with_the_clis_message_and_force_undoes(world, run_cli):
    apply_fix(world)
    world["code"].write_text(FIXED + "print(x)  # edited by hand\n")
    code, cli_out, cli_err = run_cli(["undo", "--yes", "--python", world["python"]])
    assert code == 1
    s, c = session(world, answers=[True, True])
    s.handle("/undo")
    out = flat(c)
    cli = " ".join(cli_out[cli_out.index("Not undone: "):].split())
    assert cli in out                                  # the CLI's drift message, word for word
    assert "train.py was edited after the fix" in cli and "tfhelp undo --force" in cli
    assert "Here: /undo --force undoes it anyway." in out
    assert world["code"].read_text().endswith("# edited by hand\n")  # refused: nothing changed
    s.handle("/undo --force")
    assert world["code"].read_text() == ORIGINAL and "Restored." in text(c)


def test_undo_rejects_unknown_options(world):
    apply_fix(world)
    s, c = session(world, answers=[True])
    s.handle("/undo --everything")
    assert "unknown option --everything" in flat(c) and s.asked == []
    assert world["code"].read_text() == FIXED


def test_undo_while_another_process_holds_the_lock_says_what_tfhelp_undo_says(world, run_cli):
    apply_fix(world)
    lock = world["journal"].transaction_lock(world["python"]).acquire(blocking=False)
    try:
        code, _, cli_err = run_cli(["undo", "--yes", "--python", world["python"]])
        s, c = session(world, answers=[True])
        s.handle("/undo")
    finally:
        lock.release()
    assert code == 75
    line = cli_err.strip().splitlines()[-1]
    assert line.startswith("tfhelp undo: another tfhelp process")
    assert " ".join(line.split()) in flat(c)      # same words (the console may wrap them)
    assert world["code"].read_text() == FIXED


def test_fix_while_the_environment_is_locked_says_what_tfhelp_fix_says(world):
    s, c = session(world, answers=[True])
    s.report = _report_with(FIX)
    lock = world["journal"].transaction_lock(world["python"]).acquire(blocking=False)
    try:
        s.handle(f"/fix 1 {world['code']}")
    finally:
        lock.release()
    out = flat(c)
    assert "tfhelp fix: another tfhelp process" in out and "nothing was changed" in out
    assert world["code"].read_text() == ORIGINAL


def _report_with(fix):
    """A current diagnosis whose only fix is ``fix`` (the REPL's /fix takes it from here)."""
    from tfhelp.kb.model import Fix, Matcher, Rule
    from tfhelp.kb.report import Diagnosis, Report

    rule = Rule(id="tf1-random-normal", title="Demo", category="tf1-api", severity="fatal", summary="s",
                cause="c", references=["https://example.org"],
                all=[Matcher(name="m", type="literal", part="line", value="random_normal")], any=[], none=[],
                fixes=[Fix(title=fix["title"], steps=fix["steps"])], examples_match=[], examples_no_match=[])
    d = Diagnosis(rule=rule, score=90, evidence=[], fixes=[fix])
    return Report(diagnoses=[d], related=[], lines=1, exceptions=[], facts={}, environment=None, notes=[])
