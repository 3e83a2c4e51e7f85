"""`tfhelp fix`, `tfhelp undo`, `tfhelp history` in-process, on a throwaway venv with six."""
import io
import json

import pytest

from tfhelp.assistant import cli
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
    assert "Fixed and verified." in out and "export TF_CPP_MIN_LOG_LEVEL=2" in out
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
