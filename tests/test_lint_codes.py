"""Each lint code has a failing fixture; the linter reports exactly the expected error codes."""
from pathlib import Path

import pytest
from conftest import make_rule, write_rule

from tfhelp.kb.lint import cross_check, lint
from tfhelp.kb.loader import load_file, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures" / "lint"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_fixture_raises_its_code(fixture):
    expected = fixture.stem.split("-")[0].upper()
    rule, problems = load_file(fixture, root=None)
    codes = {p.code for p in problems}
    if fixture.stem == "tfh016":  # category outside the closed list
        assert codes == {"TFH016"}
        return
    assert expected in codes, problems
    errors = {c for c in codes if c.startswith("TFH0")}
    if expected.startswith("TFH1"):
        assert rule is not None and not errors, "an advisory must not stop the rule loading"
    else:
        assert rule is None and errors == {expected}, problems


def test_problems_carry_file_and_line():
    rule, problems = load_file(FIXTURES / "tfh003.yaml", root=None)
    p = next(p for p in problems if p.code == "TFH003")
    assert p.line == 8 and "colour" in p.message and str(p).startswith(str(FIXTURES / "tfh003.yaml") + ":8:")


def test_id_must_equal_file_name_and_category_the_folder(rules_dir):
    path = write_rule(rules_dir, "cuda", "right-name", make_rule("other-name", category="import"))
    _, problems = load_file(path, root=rules_dir)
    assert {p.code for p in problems} == {"TFH001", "TFH016"}


def test_cross_rule_checks(rules_dir):
    write_rule(rules_dir, "import", "a", make_rule("a", extra="related: [ghost]\nsymptom_of: [b]"))
    write_rule(rules_dir, "import", "b", make_rule("b"))
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    probs = cross_check(rs.rules)
    assert [(p.code, "ghost" in p.message) for p in probs] == [("TFH012", True)]


def test_failing_examples_are_tfh010(rules_dir):
    write_rule(rules_dir, "import", "a", make_rule("a", examples="""
      match: ["this text lacks the signature"]
      no_match: ["signature of a"]"""))
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    codes = [p.code for p in lint(rs)]
    assert codes == ["TFH010", "TFH010"]


def test_broken_rule_is_skipped_and_others_load(rules_dir):
    write_rule(rules_dir, "import", "good", make_rule("good"))
    (rules_dir / "import" / "broken.yaml").write_bytes(b"\xff\xfe not yaml: [")
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    assert [r.id for r in rs.rules] == ["good"]
    assert [p.code for p in rs.errors] == ["TFH015"]


def test_shipped_rules_lint_clean():
    rs = load_ruleset(user_rules=False, use_cache=False)
    problems = [p for p in lint(rs) if p.is_error]
    assert problems == [], "\n".join(map(str, problems))
