"""Install / packaging phrasings from real reports get the right first answer.

The cases in fixtures/install_devset.yaml are verbatim lines, tracebacks and issue titles from
public reports across TensorFlow generations (pip, conda, poetry, macOS, Windows, protobuf,
ml_dtypes); each rule's own examples only check that the rule fires, this checks the top-1
answer a user sees. A case marked known_miss must stay unanswered (it is left out on purpose,
for abstention), so a rule that starts claiming it is noticed too.
"""
from pathlib import Path

import pytest
import yaml

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "install_devset.yaml").read_text("utf-8"))
ENGINE = Engine(load_ruleset(user_rules=False))


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['family']}" for i, c in enumerate(CASES)])
def test_top_answer(case):
    diagnoses = ENGINE.diagnose(case["text"]).diagnoses
    top = diagnoses[0].id if diagnoses else None
    if case.get("known_miss"):
        assert top is None, f"{case['source']}: expected no answer ({case['known_miss']}), got {top}"
    else:
        assert top in case["expect"], f"{case['source']}: top-1 {top}, expected one of {case['expect']}"


def test_every_case_names_its_public_source():
    assert all(c["source"].startswith("https://") for c in CASES)
    assert len({c["family"] for c in CASES}) >= 6
