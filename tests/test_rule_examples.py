"""Every shipped rule proves itself: one generated test per example (semgrep's ruleid/ok lines)."""
import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.lint import _example_text
from tfhelp.kb.loader import load_ruleset

RULESET = load_ruleset(user_rules=False, use_cache=False)
ENGINE = Engine(RULESET)
CASES = [(r.id, kind, i, ex) for r in RULESET.rules
         for kind, items in (("match", r.examples_match), ("no_match", r.examples_no_match))
         for i, ex in enumerate(items)]


def test_rule_base_is_substantial():
    assert len(RULESET.rules) >= 80
    assert all(r.references for r in RULESET.rules)
    assert all(r.examples_match and r.examples_no_match for r in RULESET.rules)


@pytest.mark.parametrize("rule_id,kind,index,example", CASES, ids=[f"{c[0]}-{c[1]}{c[2]}" for c in CASES])
def test_example(rule_id, kind, index, example):
    text = _example_text(example)
    assert text is not None, f"corpus case {example.get('corpus')} missing"
    env = None
    if example.get("env"):
        e = example["env"]
        env = Environment(packages=e.get("packages", {}), python=e.get("python"), platform=e.get("platform"),
                          source="probe")
    ids = [d.id for d in ENGINE.diagnose(text, env=env).diagnoses]
    if kind == "match":
        assert rule_id in ids, f"{rule_id} should match; got {ids}"
    else:
        assert rule_id not in ids, f"{rule_id} must not match; got {ids}"


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_every_rule_offers_a_fix_without_environment(rule):
    from tfhelp.kb.engine import resolve_fixes

    assert resolve_fixes(rule, None), f"{rule.id}: no fix applies when the environment is unknown"
