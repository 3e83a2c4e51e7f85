"""The resemblance layer measured on what the project has (never heldout/): every rule's match
examples cut the ways users paste them, leave-one-out over the rules' own examples, and the
corpus. The floors are below today's figures (benchmarks/bench_resemble.py prints them); the
wrong-answer bounds are the point: a fragment must get its own rule or nothing."""
from pathlib import Path

import pytest

from tfhelp.kb import resemble_eval as ev
from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

RULESET = load_ruleset(user_rules=False, use_cache=False)
ENGINE = Engine(RULESET)
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def fragments():
    return ev.evaluate_fragments(ENGINE, RULESET)


def test_fragments_get_their_own_rule_or_nothing(fragments):
    for kind, t in fragments.items():
        assert t.total > 50, kind
        assert t.error_rate <= 0.01, (kind, t.wrong[:10])


def test_fragment_recall_floors(fragments):
    # the message without its exception class almost always identifies the rule
    assert fragments["no-class"].own_rate >= 0.85
    # a line cut to 60 % often loses what identifies it; the layer must still find a fair share
    assert fragments["prefix"].own_rate >= 0.30
    assert fragments["prefix"].by_resemblance >= 50


def test_leave_one_out():
    t = ev.leave_one_out(RULESET)
    assert t.total > 200
    assert t.own_rate >= 0.30, t.own_rate
    assert t.error_rate <= 0.01, t.wrong[:10]


def test_corpus_clean_stays_unanswered_and_no_corpus_case_gets_a_wrong_resemblance():
    assert CORPUS.is_dir(), "run from a checkout: the corpus is not installed"
    result = ev.corpus_check(ENGINE, CORPUS)
    assert result["cases"] > 100
    assert result["clean"] == []
    assert result["wrong"] == []
