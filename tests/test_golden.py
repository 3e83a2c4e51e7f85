"""Golden output: the rendered diagnosis at a fixed width and the JSON, for a fixed rule set.

A synthetic rule folder keeps these independent of edits to the shipped rules. Regenerate with
``TFHELP_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` after an intended change, and review the diff.
"""
import json
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
RULES = GOLDEN / "rules"
INPUT = (b"2023-05-01 10:11:12.123456: I tensorflow/core/platform/cpu_feature_guard.cc:193] golden harmless notice\n"
         b"Traceback (most recent call last):\n  File \"/home/u/proj/train.py\", line 7, in <module>\n"
         b"    import tensorflow as tf\nImportError: golden root failure: libfoo.so.8 missing\n"
         b"RuntimeError: golden symptom failure\n")


def _check(name, text):
    path = GOLDEN / name
    if os.environ.get("TFHELP_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


@pytest.fixture
def cli(run_cli):
    def _run(*args, width=80):
        return run_cli(["--no-user-rules", "diagnose", "--rules", str(RULES), "--all", *args], stdin=INPUT, width=width)

    return _run


def test_rendered_output(cli, monkeypatch):
    monkeypatch.setattr("tfhelp.kb.loader.shipped_rules_dir", lambda: RULES / "none")
    code, out, err = cli()
    assert code == 0
    _check("render-80.txt", out)


def test_json_output(cli, monkeypatch):
    monkeypatch.setattr("tfhelp.kb.loader.shipped_rules_dir", lambda: RULES / "none")
    code, out, err = cli("--json")
    data = json.loads(out)
    data["tfhelp_version"] = "X"
    _check("report.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
