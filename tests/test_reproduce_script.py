"""The reproduced corpus agrees with corpus/reproduce/cases.yaml (no network, no venvs).

corpus/reproduce/reproduce.py rebuilds these folders in throwaway venvs; the test-suite only
checks what it committed: every case in cases.yaml has its folder with the captured output and a
meta.yaml carrying the required keys, and every folder marked `source: reproduced` is a case of
cases.yaml.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REPRO = CORPUS / "reproduce"
CASES = yaml.safe_load((REPRO / "cases.yaml").read_text(encoding="utf-8"))
CATALOG = (ROOT / "docs" / "rule-catalog.md").read_text(encoding="utf-8")
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REQUIRED = ("kind", "source", "command", "versions", "platform", "date", "expected")


def _load_script():
    spec = importlib.util.spec_from_file_location("tfhelp_reproduce", REPRO / "reproduce.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _case_ids():
    return [c["name"] for c in CASES["cases"]]


def _folder(case):
    if case.get("pending"):
        return REPRO / "pending" / case["category"] / case["name"]
    return CORPUS / case["category"] / case["name"]


def _output(case):
    return _folder(case) / ("run.log" if case.get("kind") == "log" else "input.txt")


def _meta(case):
    return yaml.safe_load((_folder(case) / "meta.yaml").read_text(encoding="utf-8"))


def test_cases_file_is_well_formed():
    names = _case_ids()
    assert len(names) == len(set(names)), "duplicate case names"
    for case in CASES["cases"]:
        assert SLUG.match(case["name"]), case["name"]
        assert case["env"] in CASES["envs"], case["name"]
        assert case.get("kind", "traceback") in ("traceback", "log"), case["name"]
        assert case["run"].strip(), case["name"]
        assert isinstance(case.get("expected"), list), case["name"]


def test_script_reads_the_cases_file_and_shares_required_keys():
    mod = _load_script()
    data = mod.load_cases()
    assert [c["name"] for c in data["cases"]] == _case_ids()
    assert tuple(mod.REQUIRED_META) == REQUIRED
    for case in data["cases"]:
        assert mod.case_dir(case) == _folder(case)


def test_every_env_is_used():
    used = {c["env"] for c in CASES["cases"]}
    assert set(CASES["envs"]) == used


@pytest.mark.parametrize("name", _case_ids())
def test_case_folder_has_output_and_meta(name):
    case = next(c for c in CASES["cases"] if c["name"] == name)
    out = _output(case)
    assert out.is_file(), f"missing {out.relative_to(ROOT)}"
    assert out.stat().st_size > 0
    meta = _meta(case)
    for key in REQUIRED:
        assert key in meta, f"{name}: meta.yaml lacks {key}"
    assert meta["source"] == "reproduced"
    assert meta["kind"] == case.get("kind", "traceback")
    assert meta["platform"] == "linux"
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", str(meta["date"]))
    assert re.match(r"^3\.\d+\.\d+$", meta["versions"]["python"])
    assert meta["expected"] == case["expected"]
    # the command recorded is the one cases.yaml describes (environment + the case's own command)
    mod = _load_script()
    venv = mod.Venv(Path("/nonexistent"), case["env"], CASES["envs"][case["env"]])
    assert meta["command"] == mod.human_command(case, venv)


@pytest.mark.parametrize("name", _case_ids())
def test_expected_ids_are_catalogued(name):
    """Pending cases name a proposed id (not catalogued yet) and live outside the corpus tests."""
    case = next(c for c in CASES["cases"] if c["name"] == name)
    if case.get("pending"):
        assert case["expected"], f"{name}: a pending case names the proposed rule id"
        assert all(SLUG.match(r) for r in case["expected"])
        return
    for rule_id in case["expected"]:
        assert SLUG.match(rule_id)
        assert re.search(rf"(?<![a-z0-9-]){re.escape(rule_id)}(?![a-z0-9-])", CATALOG), (
            f"{name}: {rule_id} is not in docs/rule-catalog.md")


def test_exit_status_matches_expectation():
    for case in CASES["cases"]:
        meta = _meta(case)
        want = case.get("expect_exit", "nonzero")
        if want == "any":
            continue
        if want == 0:
            assert meta["exit_status"] == 0, case["name"]
        else:
            assert meta["exit_status"] != 0, case["name"]


def test_reproduced_folders_are_all_in_the_cases_file():
    names = {(c["category"], c["name"]) for c in CASES["cases"]}
    metas = list(CORPUS.glob("*/*/meta.yaml")) + list((REPRO / "pending").glob("*/*/meta.yaml"))
    for meta_path in metas:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        if meta.get("source") != "reproduced":
            continue
        key = (meta_path.parent.parent.name, meta_path.parent.name)
        assert key in names, f"{meta_path.relative_to(ROOT)} is reproduced but not in cases.yaml"


def test_installed_versions_match_the_install_steps():
    """Every pinned `pkg==ver` of an environment shows up in the recorded versions, unless a
    later step of the same environment replaced it."""
    for case in CASES["cases"]:
        versions = _meta(case)["versions"]
        pins = {}
        for step in CASES["envs"][case["env"]]["install"]:
            for tok in step.split():
                if "==" in tok:
                    name, ver = tok.split("==", 1)
                    pins[re.sub(r"[-_.]+", "-", name).lower()] = ver
        # a case's own setup may re-pin a package (e.g. downgrade NumPy before loading a pickle)
        for tok in (case.get("setup") or "").split():
            if "==" in tok:
                name, ver = tok.split("==", 1)
                pins[re.sub(r"[-_.]+", "-", name).lower()] = ver
        for name, ver in pins.items():
            assert versions.get(name) == ver, (case["name"], name, versions.get(name), ver)


def test_observed_md_covers_every_case_and_is_current():
    """OBSERVED.md is generated from the committed outputs; regenerate it in memory and compare."""
    mod = _load_script()
    observed = REPRO / "OBSERVED.md"
    assert observed.is_file()
    text = observed.read_text(encoding="utf-8")
    for case in CASES["cases"]:
        assert f"## {case['category']}/{case['name']}\n" in text, case["name"]
    assert "(not captured yet)" not in text
    for item in CASES.get("not_reproduced") or []:
        assert item["what"] in text
    assert text == mod.render_observed(mod.load_cases()), (
        "OBSERVED.md is stale: python corpus/reproduce/reproduce.py --observed")


def test_key_line_extraction_keeps_exception_messages_and_log_lines():
    mod = _load_script()
    text = (
        "2026-11-27 04:55:48.429797: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n"
        "Traceback (most recent call last):\n"
        '  File "/tmp/tfhelp-repro/work/x/a.py", line 1, in <module>\n'
        "AttributeError: module 'numpy' has no attribute 'int'.\n"
        "`np.int` was a deprecated alias for the builtin `int`.\n"
        "\n"
        "qemu: uncaught target signal 4 (Illegal instruction) - core dumped\n"
    )
    got = mod.key_lines(text)
    assert got == [
        "<timestamp>: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
        "AttributeError: module 'numpy' has no attribute 'int'.",
        "`np.int` was a deprecated alias for the builtin `int`.",
        "qemu: uncaught target signal 4 (Illegal instruction) - core dumped",
    ]
