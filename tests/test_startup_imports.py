"""Start-up budget (docs/ARCHITECTURE.md: `tfhelp < err.txt` at most 2x importing yaml, rich and
rapidfuzz): a plain diagnosis of piped text must not import what only other commands need, and
the shortcuts that keep it cheap must give the same arguments as the full parser.

Timing itself is in benchmarks/bench_startup.py (timings are not tests on shared machines); this
checks the imports that the timing depends on, which is deterministic."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfhelp.assistant.context import Context
from tfhelp.assistant.frontends import cli

TRACEBACK = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "traceback-40.txt"

#: Modules a plain `tfhelp < err.txt` has no use for (each was, or could easily be, pulled in at
#: module level by a shared module): the REPL's terminal library, the probe and fix machinery,
#: YAML (the rule cache is JSON), PEP 440 parsing (only for `when` against a probed environment),
#: the log scanner's back-ends, argparse (no arguments to parse), subprocess (nothing is run).
NOT_FOR_A_PLAIN_DIAGNOSIS = (
    "prompt_toolkit", "pynvml", "yaml", "packaging", "hyperscan", "argparse", "subprocess",
    "tfhelp.assistant.frontends.repl", "tfhelp.assistant.frontends.runner",
    "tfhelp.assistant.frontends.commands.fix", "tfhelp.assistant.frontends.commands.log",
    "tfhelp.assistant.frontends.commands.triage", "tfhelp.assistant.environment.probe",
    "tfhelp.assistant.fixes.journal", "tfhelp.assistant.fixes.plan", "tfhelp.kb.scan", "tfhelp.kb.schema",
    "tfhelp.kb.triage",
)

PROBE = """
import io, json, sys
from tfhelp.assistant.__main__ import main
code = main([])
sys.stderr.write("\\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def run_plain_diagnosis(tmp_path) -> dict:
    env = dict(os.environ, TFHELP_CACHE_DIR=str(tmp_path / "cache"), NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with open(TRACEBACK, "rb") as fh:
        p = subprocess.run([sys.executable, "-c", PROBE], stdin=fh, capture_output=True, env=env, timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    assert "@@" in err, err[-2000:]
    out = json.loads(err.rsplit("@@", 1)[1])
    out["stdout"] = p.stdout.decode("utf-8", "replace")
    return out


def test_a_plain_diagnosis_imports_only_what_it_uses(tmp_path):
    cold = run_plain_diagnosis(tmp_path)      # builds the rule cache (this one may read YAML)
    warm = run_plain_diagnosis(tmp_path)
    assert warm["code"] == cold["code"] == 0 and warm["stdout"] == cold["stdout"]
    assert warm["stdout"].strip()                                        # it diagnosed and rendered
    loaded = set(warm["modules"])
    bad = sorted(m for m in loaded for name in NOT_FOR_A_PLAIN_DIAGNOSIS if m == name or m.startswith(name + "."))
    assert bad == []


def test_the_bare_arguments_shortcut_equals_the_parser():
    assert vars(cli.no_arguments()) == vars(cli.build_parser(with_commands=False).parse_args([]))
    assert vars(cli.parse_args([])) == vars(cli.build_parser().parse_args([]))


@pytest.mark.parametrize("argv,needed", [
    ([], False), (["--json"], False), (["-v", "--all", "--probe"], False), (["--python=/x/bin/python"], False),
    (["--from-log", "run.log"], True),        # a value word: parsed by the full parser, as before
    (["diagnose"], True), (["doctor", "--json"], True), (["-h"], True), (["--help"], True), (["-"], True),
])
def test_subcommand_parsers_are_built_only_when_a_word_could_need_them(argv, needed):
    assert cli.needs_commands(argv) is needed


def test_lean_and_full_parsers_agree_on_options_without_a_command():
    for argv in (["--json", "-v"], ["--no-color", "--width=80", "--probe"], ["--max-bytes=2M", "--allow-special"]):
        assert vars(cli.build_parser(with_commands=False).parse_args(argv)) == vars(cli.build_parser().parse_args(argv))


def test_an_unknown_word_or_option_is_still_a_usage_error(run_cli):
    code, _, err = run_cli(["diagnoze"])
    assert code == 2 and "invalid choice: 'diagnoze'" in err
    code, _, err = run_cli(["--bogus"])
    assert code == 2 and "unrecognized arguments: --bogus" in err


def test_only_the_real_process_freezes_the_heap_after_loading_rules():
    assert Context.from_process().freeze_after_rules is True
    assert Context().freeze_after_rules is False       # in-process tests keep a normal GC
