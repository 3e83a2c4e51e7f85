"""End to end through a real pseudo-terminal: start `tfhelp`, paste a traceback (bracketed paste),
get the diagnosis, say "fix it", confirm, see the verification, undo, leave with Ctrl-D.
Runs once with a colour terminal and once with TERM=dumb."""
import os
import re
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect") if sys.platform == "win32" else __import__("pexpect")

from test_fix_transaction import WHEELS, base_venv, pip_list, target, wheels  # noqa: F401,E402

RULE = """\
id: demo-six-too-old
title: Demo Six Too Old For This Project
category: import
severity: fatal
confidence: high
summary: The demo project needs six 1.17.
cause: |
  A rule used only by this test: it proves the REPL's paste, fix, verify and undo path.
references: [https://pypi.org/project/six/]
match:
  all:
    - {name: m, type: literal, value: "six_demo needs six 1.17"}
fixes:
  - title: Upgrade six to 1.17.0
    steps:
      - {action: pip_install, packages: ["six==1.17.0"]}
      - {action: verify, check: import, code: "import six; assert six.__version__ == '1.17.0', six.__version__"}
examples:
  match: ["ImportError: six_demo needs six 1.17"]
  no_match: ["ImportError: six_demo needs nothing"]
verified: false
"""

PASTE = ("Traceback (most recent call last):\n"
         "  File \"/home/me/project/train.py\", line 3, in <module>\n"
         "    import six_demo\n"
         "  File \"/home/me/project/six_demo.py\", line 9, in <module>\n"
         "    raise ImportError(\"six_demo needs six 1.17\")\n"
         "ImportError: six_demo needs six 1.17\n")

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")


def leave_with_ctrl_d(child) -> None:
    """End a REPL at its prompt the way a user does: Ctrl-D, the goodbye, then end of file."""
    time.sleep(0.3)
    child.sendcontrol("d")
    child.expect("bye")
    child.expect(pexpect.EOF)


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])
def test_paste_fix_verify_undo_in_a_real_terminal(term, target, tmp_path):
    rules = os.environ["TFHELP_USER_RULES"]
    os.makedirs(os.path.join(rules, "import"), exist_ok=True)
    with open(os.path.join(rules, "import", "demo-six-too-old.yaml"), "w") as fh:
        fh.write(RULE)
    before = pip_list(target)
    # wide enough that the confirmations (which name the target's full path) never wrap
    env = dict(os.environ, TERM=term, PROMPT_TOOLKIT_NO_CPR="1", PIP_NO_INDEX="1", PIP_FIND_LINKS=WHEELS, COLUMNS="400", LINES="40")
    env.pop("NO_COLOR", None)
    log = open(tmp_path / "transcript.txt", "w", encoding="utf-8")
    child = pexpect.spawn(sys.executable, ["-m", "tfhelp", "--python", target], env=env, encoding="utf-8",
                          timeout=90, dimensions=(40, 400))
    child.logfile_read = log
    try:
        child.expect("tfhelp 0")                     # the greeting
        child.expect("tfhelp>")
        time.sleep(0.3)
        child.send("\x1b[200~" + PASTE.replace("\n", "\r") + "\x1b[201~")
        child.expect("Demo Six Too Old For This Project")
        child.expect("fix it")
        child.expect("tfhelp>")
        child.send("fix it\r")
        child.expect(r"Apply this fix to \S+\? \[y/N\]")
        child.send("y\r")
        child.expect("verify passed")
        child.expect("Fixed and verified")
        child.expect("tfhelp>")
        assert pip_list(target)["six"] == "1.17.0"
        child.send("/undo\r")
        child.expect(r"Undo it in \S+\? \[y/N\]")
        child.send("y\r")
        child.expect("Restored")
        child.expect("tfhelp>")
        leave_with_ctrl_d(child)
    finally:
        child.close()
        log.close()
    assert child.exitstatus == 0
    assert pip_list(target) == before
    transcript = ANSI.sub("", (tmp_path / "transcript.txt").read_text(encoding="utf-8"))
    assert transcript.count("Demo Six Too Old For This Project") >= 1
    assert "packages: six 1.16.0 -> 1.17.0" in transcript
    if term == "dumb":
        assert "\x1b[3" not in (tmp_path / "transcript.txt").read_text(encoding="utf-8")   # no colours


def test_ctrl_c_cancels_a_running_script_not_the_session(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="100", LINES="40")
    child = pexpect.spawn(sys.executable, ["-m", "tfhelp", "--python", sys.executable], env=env,
                          encoding="utf-8", timeout=30, dimensions=(40, 100))
    try:
        child.expect("tfhelp>")
        time.sleep(0.3)
        child.send(f"/run {script}\r")
        child.expect("started")
        t0 = time.monotonic()
        child.sendintr()
        child.expect(r"\(cancelled\)")
        assert time.monotonic() - t0 < 10
        child.expect("tfhelp>")
        time.sleep(0.3)
        child.send("/help\r")
        child.expect("Commands:")
        child.expect("tfhelp>")
        time.sleep(0.3)
        child.sendcontrol("d")
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


LINE_BY_LINE = ["Traceback (most recent call last):", '  File "/home/me/t.py", line 1, in <module>',
                "    from keras.utils import np_utils",
                "ImportError: cannot import name 'np_utils' from 'keras.utils'"]


def _spawn(tmp_path, name):
    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="100", LINES="40")
    child = pexpect.spawn(sys.executable, ["-m", "tfhelp", "--python", sys.executable], env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 100))
    log = open(tmp_path / name, "w", encoding="utf-8", newline="")
    child.logfile_read = log
    return child, log


def test_line_by_line_paste_is_one_message_and_quit_right_after_the_answer_quits(tmp_path):
    """A terminal without bracketed paste delivers a paste line by line (one read each): it must be
    answered once, as one message (the first line used to be answered alone, and the rest, typed
    while tfhelp was busy, echoed twice); `/quit` sent in one write after the answer quits."""
    child, log = _spawn(tmp_path, "lines.txt")
    try:
        child.expect("tfhelp>")
        time.sleep(0.5)
        for line in LINE_BY_LINE:
            child.send(line + "\r")
            time.sleep(0.03)
        child.expect("keras-np-utils-removed")
        child.expect("tfhelp>")
        child.send("/quit\r")
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
        log.close()
    assert child.exitstatus == 0
    transcript = ANSI.sub("", (tmp_path / "lines.txt").read_text(encoding="utf-8"))
    assert "No known cause matched" not in transcript          # the first line was not answered alone
    assert transcript.count("keras-np-utils-removed ·") == 1     # one answer


def test_quit_typed_at_the_end_of_a_pending_paste_is_a_command(tmp_path):
    child, log = _spawn(tmp_path, "tailquit.txt")
    try:
        child.expect("tfhelp>")
        time.sleep(0.5)
        child.send("\r".join(LINE_BY_LINE) + "\r/quit\r")      # one write: paste, then /quit
        child.expect("keras-np-utils-removed")
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
        log.close()
    assert child.exitstatus == 0
