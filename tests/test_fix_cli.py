"""`tfhelp fix`, `tfhelp undo`, `tfhelp history` in-process, on a throwaway venv with six."""
import io
import json

import pytest

from tfhelp.assistant.frontends import cli
from tfhelp.assistant.context import Context

from conftest import write_rule
from test_fix_transaction import PIP_ARGS, base_venv, pip_list, target, wheels  # noqa: F401

RULE = """\
id: demo-six-pin
title: Demo Six Needs 1.17
category: import
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for the CLI tests.
references: [https://pypi.org/project/six/]
match:
  all:
    - {name: m, type: literal, value: "demo six needs 1.17"}
fixes:
  - title: Upgrade six
    steps:
      - {action: pip_install, packages: ["six==1.17.0"]}
      - {action: set_env, name: TF_CPP_MIN_LOG_LEVEL, value: "2", scope: session}
      - {action: verify, check: import, code: "import six; assert six.__version__ == '1.17.0'"}
  - title: A fix that cannot install
    steps:
      - {action: pip_install, packages: ["idna==3.7", "tfhelp-no-such-package-zzz"]}
      - {action: verify, check: import, code: "import idna"}
examples:
  match: ["demo six needs 1.17"]
  no_match: ["demo six is fine"]
verified: false
"""


@pytest.fixture
def rules(tmp_path):
    write_rule(tmp_path / "rules", "import", "demo-six-pin", RULE)
    return str(tmp_path / "rules")


def run(argv, stdin=""):
    ctx = Context(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(), width=120, color=False)
    rc = cli.main(argv, ctx)
    return rc, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def pip_opts():
    return [f"--pip-arg={a}" for a in PIP_ARGS]


def test_dry_run_shows_exact_argv_and_changes_nothing(target, rules):
    before = pip_list(target)
    rc, out, err = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--dry-run", "--json", *pip_opts()])
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["dry_run"] and doc["outcome"] is None
    assert doc["plan"]["steps"][0]["argv"] == [target, "-m", "pip", "install", "--disable-pip-version-check",
                                               "--no-input", *PIP_ARGS, "six==1.17.0"]
    assert doc["plan"]["steps"][1]["runs"] is False          # session env on the CLI: shown, not run
    assert pip_list(target) == before


def test_without_yes_and_without_a_terminal_nothing_is_applied(target, rules):
    before = pip_list(target)
    rc, out, err = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, *pip_opts()])
    assert rc == 1 and "not applied" in out and "--yes" in out
    assert pip_list(target) == before


def test_usage_errors(target, rules):
    assert run(["fix", "no-such-rule", "--rules", rules, "--python", target])[0] == 2
    assert run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--fix", "9"])[0] == 2


def test_fix_history_undo_round_trip(target, rules):
    before = pip_list(target)
    rc, out, err = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--yes", *pip_opts()])
    assert rc == 0, out + err
    flat = " ".join(out.split())
    assert "export TF_CPP_MIN_LOG_LEVEL=2" in out      # session env on the CLI: a line for the user's shell
    assert "the check passes; 1 step(s) marked (for you) are still yours to do" in flat
    assert pip_list(target)["six"] == "1.17.0"
    rc, out, _ = run(["history", "--python", target, "--json"])
    (e,) = json.loads(out)["entries"]
    assert e["status"] == "applied" and e["verification"]["status"] == "passed" and e["rule_id"] == "demo-six-pin"
    rc, out, _ = run(["undo", "--python", target])                    # needs --yes without a terminal
    assert rc == 1 and pip_list(target)["six"] == "1.17.0"
    rc, out, _ = run(["undo", "--python", target, "--yes", "--json"])
    assert rc == 0 and json.loads(out)["exact"] is True
    assert pip_list(target) == before
    rc, out, _ = run(["undo", "--python", target, "--yes"])
    assert rc == 0 and "Nothing to undo" in out
    rc, out, _ = run(["history", "--python", target])
    assert "undone" in out and "demo-six-pin: Upgrade six" in out


def test_failed_fix_rolls_back_and_is_ranked_down_next_time(target, rules):
    before = pip_list(target)
    rc, out, err = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--yes", "--fix", "2",
                        "--rollback-on-failure", *pip_opts()])
    assert rc == 1
    assert "The fix failed and was rolled back." in out
    assert pip_list(target) == before
    rc, out, _ = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--list", "--json"])
    fixes = json.loads(out)["fixes"]
    assert [f["title"] for f in fixes] == ["Upgrade six", "A fix that cannot install"]
    assert fixes[1]["failed_before"] is True and fixes[0]["failed_before"] is False
    rc, out, _ = run(["fix", "demo-six-pin", "--rules", rules, "--python", target, "--fix", "2", "--dry-run"])
    assert "already failed for this interpreter" in out


CODE_RULE = """\
id: demo-random-normal
title: Demo Random Normal Moved
category: tf1-api
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for the CLI tests of code changes.
references: [https://www.tensorflow.org/api_docs/python/tf/random/normal]
match:
  all:
    - {name: m, type: literal, value: "has no attribute 'random_normal_demo'"}
  any:
    - {name: f, type: regex, value: 'File "(?P<script>[^"]+)"'}
fixes:
  - title: Use the new name
    steps:
      - {action: code_change, file_hint: "{script}", before: "tf.random_normal_demo(", after: "tf.random.normal("}
      - {action: verify, check: import, code: "import sys"}
examples:
  match: ["File \\"x.py\\", line 1\\nAttributeError: module 'tensorflow' has no attribute 'random_normal_demo'"]
  no_match: ["AttributeError: module 'tensorflow' has no attribute 'random_normal'"]
verified: false
"""


def test_code_change_is_shown_unless_the_file_is_named_then_applied_and_undone(tmp_path):
    import sys

    write_rule(tmp_path / "rules", "tf1-api", "demo-random-normal", CODE_RULE)
    rules = str(tmp_path / "rules")
    script = tmp_path / "model.py"
    original = "import tensorflow as tf\na = tf.random_normal_demo((10, 10))\n"
    script.write_text(original)
    err = tmp_path / "err.txt"
    err.write_text(f'Traceback (most recent call last):\n  File "{script}", line 2, in <module>\n'
                   "AttributeError: module 'tensorflow' has no attribute 'random_normal_demo'\n")
    py = sys.executable
    rc, out, _ = run(["fix", "demo-random-normal", "--rules", rules, "--python", py, "--input", str(err), "--yes"])
    flat = " ".join(out.split())
    assert rc == 0 and f"change {script} (shown; name the file to apply it)" in flat
    assert "1 step(s) marked (for you) are still yours to do" in flat and "Fixed and verified" not in flat
    assert script.read_text() == original                      # the traceback's file is never edited unasked
    rc, out, _ = run(["fix", "demo-random-normal", "--rules", rules, "--python", py, "--file", str(script), "--yes"])
    assert rc == 0 and "Fixed and verified." in out
    assert script.read_text() == "import tensorflow as tf\na = tf.random.normal((10, 10))\n"
    rc, out, _ = run(["undo", "--python", py, "--yes"])
    assert rc == 0 and script.read_text() == original
    # edited again after a fix: undo leaves the user's version alone
    run(["fix", "demo-random-normal", "--rules", rules, "--python", py, "--file", str(script), "--yes"])
    script.write_text("# my own edit\n")
    rc, out, _ = run(["undo", "--python", py, "--yes"])
    assert rc == 1 and "was edited after the fix" in out and script.read_text() == "# my own edit\n"
