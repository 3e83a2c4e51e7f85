"""The corpus of real inputs: expected root causes come out on top; clean inputs stay quiet.

Each case is ``corpus/<category>/<case>/`` with ``input.txt`` (a paste) or ``run.log`` and a
``meta.yaml`` naming its source (reproduced here, or cited) and the expected rule ids.
"""
from pathlib import Path

import pytest
import yaml

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ROOT = Path(__file__).resolve().parent.parent / "corpus"
ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))


def _cases():
    out = []
    for meta in sorted(ROOT.glob("*/*/meta.yaml")):
        case = meta.parent
        data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        inp = next((case / n for n in ("input.txt", "run.log") if (case / n).is_file()), None)
        out.append(pytest.param(case, data, inp, id=f"{case.parent.name}/{case.name}"))
    return out


CASES = _cases()


def diagnose(inp):
    return ENGINE.diagnose(inp.read_bytes())


@pytest.mark.parametrize("case,meta,inp", CASES)
def test_case_is_well_formed(case, meta, inp):
    assert inp is not None, f"{case}: no input.txt or run.log"
    for key in ("source", "expected"):
        assert key in meta, f"{case}: meta.yaml lacks {key}"
    assert meta["source"] in ("reproduced", "cited")
    if meta["source"] == "reproduced":
        assert meta.get("command") and meta.get("versions"), f"{case}: reproduced cases record command and versions"
    else:
        assert meta.get("references"), f"{case}: cited cases name where the text was reported"


@pytest.mark.parametrize("case,meta,inp", [c for c in CASES if c.values[1].get("expected")])
def test_expected_top_diagnosis(case, meta, inp):
    report = diagnose(inp)
    got = [d.id for d in report.diagnoses]
    expected = meta["expected"]
    assert got, f"{case}: nothing diagnosed, expected {expected}"
    if (inp.name == "run.log") or meta.get("kind") == "log":
        missing = [e for e in expected if e not in got]
        assert not missing, f"{case}: missing {missing}; got {got}"
    else:
        assert got[0] == expected[0], f"{case}: top-1 {got[0]}, expected {expected[0]}; all {got}"


@pytest.mark.parametrize("case,meta,inp", [c for c in CASES if c.values[1].get("expected") == []])
def test_clean_case_has_no_fatal_diagnosis(case, meta, inp):
    report = diagnose(inp)
    bad = [d.id for d in report.diagnoses if d.rule.severity in ("fatal", "degraded")]
    assert not bad, f"{case}: clean input diagnosed as {bad}"


def test_corpus_accuracy_report(capsys):
    """Top-1 accuracy over every case with an expectation (target >= 95%); printed for the notes."""
    scored = [(c.values[0], c.values[1], c.values[2]) for c in CASES if c.values[1].get("expected")]
    if not scored:
        pytest.fail("corpus has no cases with expectations")
    hits = 0
    for case, meta, inp in scored:
        got = [d.id for d in diagnose(inp).diagnoses]
        hits += bool(got) and got[0] == meta["expected"][0]
    acc = hits / len(scored)
    reproduced = sum(1 for _, m, _ in scored if m.get("source") == "reproduced")
    with capsys.disabled():
        print(f"\ncorpus: {len(scored)} cases ({reproduced} reproduced), top-1 accuracy {acc:.1%}")
    assert acc >= 0.95
