"""The CLI in-process: inputs, exit statuses, JSON schema, rendering safety, rule commands."""
import json

from conftest import make_rule, write_rule

NP_UTILS = (b"Traceback (most recent call last):\n  File \"/home/u/train.py\", line 3, in <module>\n"
            b"    from keras.utils import np_utils\n"
            b"ImportError: cannot import name 'np_utils' from 'keras.utils' "
            b"(/home/u/.venv/lib/python3.11/site-packages/keras/utils/__init__.py)\n")
PANDAS_KEYERROR = (b"Traceback (most recent call last):\n  File \"/home/u/a.py\", line 5, in <module>\n"
                   b"    df['price']\n  File \"/home/u/.venv/lib/python3.11/site-packages/pandas/core/frame.py\", "
                   b"line 4102, in __getitem__\n    indexer = self.columns.get_loc(key)\nKeyError: 'price'\n")
SHAPE_MISMATCH = (b"Traceback (most recent call last):\n  File \"/home/u/model.py\", line 20, in <module>\n"
                  b"    out = x @ w\nValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, "
                  b"with gufunc signature (n?,k),(k,m?)->(n?,m?) (size 3 is different from 4)\n")


def test_piped_stdin_is_diagnosed(run_cli):
    code, out, err = run_cli([], stdin=NP_UTILS)
    assert code == 0 and "keras-np-utils-removed" in out and "/home/u/train.py" in out


def test_json_schema(run_cli):
    code, out, _ = run_cli(["--json"], stdin=NP_UTILS)
    data = json.loads(out)
    assert set(data) == {"tfhelp_version", "schema_version", "diagnoses", "related", "input", "crash"}
    d = data["diagnoses"][0]
    for key in ("id", "title", "category", "severity", "score", "summary", "cause", "fixes", "evidence",
                "references", "first_line", "count"):
        assert key in d
    assert 0 <= d["score"] <= 100 and d["evidence"][0]["line"] == 4
    assert d["fixes"][0]["steps"][0]["action"] in ("code_change", "pip_install", "pip_uninstall", "set_env", "manual", "verify")
    assert data["input"]["exceptions"][0]["type"] == "ImportError"


def test_unrelated_tracebacks_abstain(run_cli):
    for text in (PANDAS_KEYERROR, SHAPE_MISMATCH):
        code, out, _ = run_cli(["--json"], stdin=text)
        data = json.loads(out)
        # exit 1: ran fine, nothing explained (docs/HELPERS.md)
        assert code == 1 and data["diagnoses"] == [], [d["id"] for d in data["diagnoses"]]
    code, out, _ = run_cli([], stdin=PANDAS_KEYERROR)
    assert "No known cause matched" in out and "KeyError: 'price'" in out


def test_diagnose_file_and_errors(run_cli, tmp_path):
    f = tmp_path / "err.txt"
    f.write_bytes(NP_UTILS)
    assert run_cli(["diagnose", str(f)])[0] == 0
    code, out, err = run_cli(["diagnose", str(tmp_path / "missing.txt")])
    assert code == 2 and "no such file" in err and "Traceback" not in err
    code, _, err = run_cli(["diagnose", str(tmp_path)])
    assert code == 2 and "is a directory" in err
    code, _, err = run_cli(["--bogus"])
    assert code == 2 and "unrecognized arguments" in err


def test_version(run_cli):
    from tfhelp import __version__

    code, out, err = run_cli(["--version"])
    assert code == 0


def test_input_cannot_inject_markup_or_escapes(run_cli):
    evil = (b"ImportError: cannot import name 'np_utils' [bold red]X[/bold red] [link=http://evil]y[/link] "
            b"\x1b]0;pwned\x07 \x1b[2J \xe2\x80\xae")
    code, out, _ = run_cli([], stdin=evil)
    assert "[bold red]X[/bold red]" in out and "[link=http://evil]" in out
    assert "\x1b" not in out and "\u202e" not in out


def test_user_rules_add_and_override(run_cli, tmp_path):
    d = tmp_path / "mine"
    write_rule(d, "api-change", "keras-np-utils-removed", make_rule("keras-np-utils-removed", category="api-change"))
    write_rule(d, "import", "my-rule", make_rule("my-rule"))
    code, out, _ = run_cli(["--rules", str(d), "--json"], stdin=b"signature of my-rule")
    assert [x["id"] for x in json.loads(out)["diagnoses"]] == ["my-rule"]
    code, out, _ = run_cli(["--rules", str(d), "--json"], stdin=b"signature of keras-np-utils-removed")
    assert json.loads(out)["diagnoses"][0]["title"] == "Title of keras-np-utils-removed"


def test_broken_user_rule_warns_but_diagnoses(run_cli, tmp_path):
    d = tmp_path / "mine" / "import"
    d.mkdir(parents=True)
    (d / "bad.yaml").write_text("id: [unclosed")
    code, out, err = run_cli(["--rules", str(tmp_path / "mine")], stdin=NP_UTILS)
    assert code == 0 and "keras-np-utils-removed" in out and "broken rule file" in err


def test_rules_commands(run_cli, tmp_path):
    code, out, _ = run_cli(["rules", "list", "--json"])
    assert code == 0 and len(json.loads(out)) >= 1
    code, out, _ = run_cli(["rules", "show", "keras-np-utils-removed", "--json"])
    assert json.loads(out)["id"] == "keras-np-utils-removed"
    assert run_cli(["rules", "show", "nope"])[0] == 2
    bad = tmp_path / "import"
    write_rule(tmp_path, "import", "x", make_rule("x", extra="colour: red"))
    code, out, _ = run_cli(["rules", "lint", str(bad / "x.yaml")])
    assert code == 1 and "TFH003" in out
    good = write_rule(tmp_path / "g", "import", "y", make_rule("y"))
    code, out, _ = run_cli(["rules", "lint", str(good)])
    assert code == 0 and "0 errors" in out, out
    code, out, _ = run_cli(["rules", "test", "keras-np-utils-removed"])
    assert code == 0 and "0 failed" in out


def test_narrow_terminal_rendering(run_cli):
    code, out, _ = run_cli([], stdin=NP_UTILS, width=40)
    # prose wraps to the width; the indented fix lines below a panel (commands, code) never wrap
    prose = [line for line in out.splitlines() if not line.startswith("  ")]
    assert code == 0 and max(len(line) for line in prose) <= 40


def test_missing_target_interpreter_is_a_usage_error_for_every_command(run_cli, tmp_path):
    code, out, err = run_cli(["--python", str(tmp_path / "nope" / "python"), "doctor"])
    assert code == 3 and "no Python interpreter at" in err  # doctor: 3 = target unusable
    for argv in (["gpu-test"], ["plan", "--no-probe"], ["history"]):
        code, out, err = run_cli(["--python", str(tmp_path / "nope" / "python"), *argv])
        assert code == 2 and "no Python interpreter at" in err and "Traceback" not in err, (argv, code, err)
