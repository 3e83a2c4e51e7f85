"""End to end, through a real pseudo-terminal: a `tfhelp fix` process is killed -9 half-way
(TFHELP_FAULT), then `tfhelp` (the REPL) starts, reports the half-done fix before the first
prompt, offers to undo it, and puts the file back when the user says yes."""
import os
import signal
import subprocess
import sys

import pytest

from conftest import write_rule
from test_repl_journal import fake_python
from test_repl_pty import ANSI, leave_with_ctrl_d, pexpect
from tfhelp.assistant.fixes.journal import Journal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pty and SIGKILL")

RULE = """\
id: demo-repl-recovery
title: Demo REPL Recovery After A Crash
category: tf1-api
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for this test only: one code edit, no packages, so undo needs no pip.
references: [https://www.tensorflow.org/api_docs/python/tf/random/normal]
match:
  all:
    - {name: m, type: literal, value: "has no attribute 'random_normal_repl'"}
fixes:
  - title: Rename random_normal_repl
    steps:
      - {action: code_change, before: "tf.random_normal_repl(", after: "tf.random.normal("}
examples:
  match: ["AttributeError: module 'tensorflow' has no attribute 'random_normal_repl'"]
  no_match: ["AttributeError: module 'tensorflow' has no attribute 'random'"]
verified: false
"""

ORIGINAL = "import tensorflow as tf\na = tf.random_normal_repl((3, 3))\n"


def test_repl_start_finds_a_fix_killed_mid_way_and_undoes_it(tmp_path):
    rules = tmp_path / "rules"
    write_rule(rules, "tf1-api", "demo-repl-recovery", RULE)
    code = tmp_path / "model.py"
    code.write_text(ORIGINAL)
    python = fake_python(tmp_path / "env")
    env = dict(os.environ, TFHELP_FAULT="after-save:1")       # killed once step 1 is journaled
    p = subprocess.run([sys.executable, "-m", "tfhelp", "fix", "demo-repl-recovery", "--rules", str(rules),
                        "--python", python, "--file", str(code), "--yes"], env=env, capture_output=True,
                       text=True, timeout=120, start_new_session=True)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert code.read_text() != ORIGINAL                       # the edit happened, the fix never finished
    (entry,) = Journal().entries()
    assert entry["status"] == "applying"

    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="400", LINES="40")
    env.pop("TFHELP_FAULT", None)
    log = open(tmp_path / "transcript.txt", "w", encoding="utf-8")
    child = pexpect.spawn(sys.executable, ["-m", "tfhelp", "--python", python, "--rules", str(rules)], env=env,
                          encoding="utf-8", timeout=60, dimensions=(40, 400))
    child.logfile_read = log
    try:
        child.expect("tfhelp 0")                               # the greeting, then at once the warning
        child.expect("was interrupted before it finished")
        child.expect(r"Undo it now in \S+ \(puts back the snapshot from before it\)\? \[y/N\]")
        child.send("y\r")
        child.expect("Restored")
        child.expect("tfhelp>")
        leave_with_ctrl_d(child)
    finally:
        child.close()
        log.close()
    assert child.exitstatus == 0
    assert code.read_text() == ORIGINAL
    (entry,) = Journal().entries()
    assert entry["status"] == "undone" and entry["recovered"]["was"] == "applying"
    transcript = ANSI.sub("", (tmp_path / "transcript.txt").read_text(encoding="utf-8"))
    assert transcript.index("was interrupted") < transcript.index("tfhelp>")   # said before the first prompt
