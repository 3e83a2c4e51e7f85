"""Exit statuses that tell the truth (docs/HELPERS.md): diagnose, piped stdin and --from-log give
0 when a known cause is reported, 1 when nothing is explained, 2 for usage errors and unreadable or
empty input; `tfhelp run` returns the script's status (2 when it is missing) and says briefly when
nothing known was found; every --help documents its codes; README and .ci/run agree."""
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KNOWN = (b"Traceback (most recent call last):\n  File \"/home/u/train.py\", line 3, in <module>\n"
         b"    from keras.utils import np_utils\n"
         b"ImportError: cannot import name 'np_utils' from 'keras.utils'\n")
UNKNOWN = b"Traceback (most recent call last):\n  File \"/home/u/a.py\", line 5, in <module>\nKeyError: 'price'\n"


def test_diagnose_file_known_unknown_empty_missing(run_cli, tmp_path):
    (tmp_path / "k.txt").write_bytes(KNOWN)
    (tmp_path / "u.txt").write_bytes(UNKNOWN)
    (tmp_path / "e.txt").write_bytes(b"  \n\n")
    assert run_cli(["diagnose", str(tmp_path / "k.txt")])[0] == 0
    assert run_cli(["diagnose", str(tmp_path / "u.txt")])[0] == 1
    code, out, err = run_cli(["diagnose", str(tmp_path / "e.txt")])
    assert code == 2 and "is empty: nothing to diagnose" in err and "No known cause" not in out
    code, out, err = run_cli(["diagnose", str(tmp_path / "missing.txt")])
    assert code == 2 and "no such file" in err and out == ""


def test_piped_stdin_and_json_follow_the_same_codes(run_cli):
    assert run_cli([], stdin=KNOWN)[0] == 0
    code, out, _ = run_cli([], stdin=UNKNOWN)
    assert code == 1 and "No known cause matched" in out
    code, out, _ = run_cli(["--json"], stdin=UNKNOWN)
    assert code == 1 and json.loads(out)["diagnoses"] == []
    assert run_cli(["--json"], stdin=KNOWN)[0] == 0
    code, out, err = run_cli([], stdin=b"")
    assert code == 2 and "standard input is empty" in err and out == ""


def test_from_log_codes(run_cli, tmp_path):
    known = tmp_path / "k.log"
    known.write_bytes(b"epoch 1 loss 0.3\n" * 100 + KNOWN)
    unknown = tmp_path / "u.log"
    unknown.write_bytes(b"epoch 1 loss 0.3\n" * 100)
    empty = tmp_path / "e.log"
    empty.write_bytes(b"")
    gz = tmp_path / "k.log.gz"
    gz.write_bytes(gzip.compress(known.read_bytes()))
    assert run_cli(["--from-log", str(known)])[0] == 0
    assert run_cli(["--from-log", str(gz), "--json"])[0] == 0
    assert run_cli(["--from-log", str(unknown)])[0] == 1
    code, out, err = run_cli(["--from-log", str(empty)])
    assert code == 2 and "empty" in err
    assert run_cli(["--from-log", str(tmp_path / "nope.log")])[0] == 2


def test_every_help_documents_its_exit_status(run_cli, capsys):
    for argv in (["--help"], ["diagnose", "--help"], ["log", "--help"], ["run", "--help"], ["undo", "--help"],
                 ["history", "--help"]):
        code, _, _ = run_cli(argv)           # argparse prints --help on sys.stdout
        out = capsys.readouterr().out
        assert code == 0 and "Exit status" in out, argv
    run_cli(["--help"])
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert "0 at least one known cause reported" in flat and "1 ran fine but nothing explained" in flat
    assert "2 usage error" in flat and "130 interrupted" in flat


def test_readme_documents_the_same_codes():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "0 at least one known cause reported" in readme and "1 ran fine but nothing explained" in readme
    assert "doctor" in readme and "3 target unusable" in readme


def test_ci_runs_the_readme_test_command_exactly():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Install and run the tests:\s*```sh\n(?P<cmd>[^\n]+)\n```", readme)
    assert block, "README lost its 'Install and run the tests' block"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert block.group("cmd") in ci, f"{block.group('cmd')!r} is not a line of .ci/run"


# --- tfhelp run ---------------------------------------------------------------------------------

def _run(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "tfhelp", "run", "--no-pty", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env=dict(os.environ, **(env or {})))


def test_run_missing_script_is_a_usage_error_not_a_diagnosis(tmp_path):
    r = _run([str(tmp_path / "nope.py")], tmp_path)
    assert r.returncode == 2 and "no such script" in r.stderr and "No known cause" not in r.stderr


def test_run_plain_failure_says_so_briefly_with_the_real_command(tmp_path):
    script = tmp_path / "ex3.py"
    script.write_text("import sys\nprint('working')\nsys.exit(3)\n")
    r = _run([str(script)], tmp_path)
    assert r.returncode == 3 and "working" in r.stdout
    assert "ex3.py exited with status 3; nothing in its output matches a known" in r.stderr
    assert "No known cause matched" not in r.stderr
    r = _run(["--", sys.executable, "-c", "raise SystemExit(4)"], tmp_path)
    name = os.path.basename(sys.executable)
    assert r.returncode == 4 and f"{name} -c exited with status 4" in r.stderr and "\n-c exited" not in r.stderr


def test_run_uses_the_scripts_shebang_interpreter(tmp_path):
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    script = tmp_path / "who.py"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nprint('exe=' + sys.prefix)\n")
    r = _run([str(script)], tmp_path)
    assert r.returncode == 0 and f"exe={venv}" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tfhelp", "run", "--no-pty", "--python", sys.executable, str(script)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert f"exe={venv}" not in r.stdout          # --python wins over the #! line


def test_command_label():
    from tfhelp.assistant.render.run import command_label

    assert command_label(["/usr/bin/python3", "train.py", "--x"]) == "train.py"
    assert command_label(["python3", "-c", "pass"]) == "python3 -c"
    assert command_label(["python", "-m", "pkg.mod"]) == "python -m pkg.mod"
    assert command_label(["/usr/bin/pytest", "-x"]) == "pytest"


# --- plan: Apple silicon ------------------------------------------------------------------------

def test_plan_for_apple_silicon_gives_the_metal_pair_commands(run_cli):
    code, out, err = run_cli(["--json", "plan", "--os", "macos", "--python-version", "3.11", "--gpu", "--no-probe"])
    doc = json.loads(out)
    metal = doc["alternatives"][0]
    assert "tensorflow-metal" in metal["summary"]
    argv = metal["commands"][0]["argv"]
    assert argv[-2:] == ["tensorflow==2.18.*", "tensorflow-metal==1.2.0"]
    assert any("pypi.org/project/tensorflow-metal" in c["source"] for c in doc["constraints"])
    code, out, err = run_cli(["plan", "--os", "macos", "--python-version", "3.13", "--gpu", "--no-probe"], width=300)
    assert "No tensorflow-metal wheel exists for Python 3.13" in out
    assert "tensorflow-metal==" not in out


@pytest.mark.parametrize("py,pair", [("3.12", ("2.18", "1.2.0")), ("3.10", ("2.18", "1.2.0"))])
def test_metal_pairs(py, pair):
    from tfhelp.assistant.environment.planner import metal_pair

    assert metal_pair(py)[:2] == pair


def test_report_status_counts_only_known_causes():
    from types import SimpleNamespace as NS

    from tfhelp.assistant.frontends.cli import report_status

    fatal = NS(rule=NS(severity="fatal", id="x"), unexplained=False)
    assert report_status(NS(diagnoses=[], crash=None)) == 1
    assert report_status(NS(diagnoses=[fatal], crash=None)) == 0
    assert report_status(NS(diagnoses=[NS(rule=NS(severity="fatal"), unexplained=True)], crash=None)) == 1
