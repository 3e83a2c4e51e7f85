"""Each lint code has a failing fixture; the linter reports exactly the expected error codes."""
from pathlib import Path

import pytest
from conftest import make_rule, write_rule

from tfhelp.kb.fixcheck import _merge_when, check_rule, check_step
from tfhelp.kb.lint import cross_check, example_coverage, lint
from tfhelp.kb.loader import load_file, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
#: Codes found by `rules lint` on a loaded rule (they need the compatibility model or the examples).
LINT_STAGE = {"TFH018", "TFH105", "TFH106"}


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_fixture_raises_its_code(fixture):
    expected = fixture.stem.split("-")[0].upper()
    rule, problems = load_file(fixture, root=None)
    codes = {p.code for p in problems}
    if expected in LINT_STAGE:
        assert rule is not None and not [p for p in problems if p.is_error], problems
        found = check_rule(rule) + example_coverage([rule])
        assert {p.code for p in found} == {expected}, found
        if expected == "TFH018":  # the fixture's first line names the sub-reason it must raise
            reason = fixture.read_text().splitlines()[0].split()[-1]
            assert all(p.message.split(": ", 1)[1].startswith(reason) for p in found), found
            assert all(p.line > 1 for p in found), "TFH018 points at the requirement's line"
        return
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
    codes = [p.code for p in lint(rs) if p.is_error]
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


def _step(packages, rule_when=None, fix_when=None):
    return [msg for _, _, msg in check_step(packages, _merge_when(rule_when, fix_when), set())]


def test_tfh018_numpy2_names_the_tf_and_the_numpy_pip_would_pick():
    msgs = _step(["tensorflow<2.11"], fix_when={"python": "<3.11"})
    assert len(msgs) == 1 and "TensorFlow 2.10.1" in msgs[0] and "NumPy 2." in msgs[0], msgs
    assert _step(["tensorflow<2.11", "numpy<2"], fix_when={"python": "<3.11"}) == []


def test_tfh018_placeholders_are_resolved_per_tf_release():
    # the TF's own pins can't break that TF, whatever release the conditions allow
    assert _step(["numpy{compat.numpy_for_tf}"]) == []
    assert _step(["protobuf{compat.protobuf_for_tf}"], rule_when={"packages": {"tensorflow": "<2.20"}}) == []
    assert _step(["tf-keras{compat.tf_keras_for_tf}"], rule_when={"packages": {"tensorflow": ">=2.16"}}) == []


def test_tfh018_protobuf_bounds_come_from_the_wheels():
    # TF 2.20 declares protobuf>=5.28.0 and 2.21 >=6.31.1 (tools/compat/metadata)
    msgs = _step(["protobuf<6.30"], rule_when={"packages": {"tensorflow": ">=2.20"}})
    assert len(msgs) == 1 and "2.21.0" in msgs[0] and ">=6.31.1" in msgs[0] and "2.20.0" not in msgs[0], msgs
    assert _step(["protobuf<6.30"], rule_when={"packages": {"tensorflow": ">=2.18,<2.21"}}) == []
    msgs = _step(["protobuf==3.20.3"], rule_when={"packages": {"tensorflow": ">=2.12"}})
    assert "2.20.0" in msgs[0] and "2.21.0" in msgs[0] and "2.19" not in msgs[0], msgs


def test_tfh018_tf_dependents_and_unpinned_tf():
    assert any(m.startswith("pulls-tf") for m in _step(["tensorflow-hub"]))
    # a tf-keras pin that is not the installed TF's minor also swaps TensorFlow
    msgs = _step(["tf-keras==2.19.*"], rule_when={"packages": {"tensorflow": ">=2.18,<2.20"}})
    assert len(msgs) == 1 and "2.18" in msgs[0] and "2.19.1" not in msgs[0].split("(for")[1], msgs
    assert _step(["tensorflow"], fix_when={"packages": {"tensorflow": "absent"}}) == []
    assert _step(["tensorflow[and-cuda]=={env.tensorflow}"], rule_when={"packages": {"tensorflow": ">=2.15"}}) == []


def test_tfh018_wheels_per_python():
    assert _step(["h5py==2.10.0"], fix_when={"python": "<3.9"}) == []
    assert _step(["numpy>=1.26.1"], fix_when={"python": ">=3.9"}, rule_when={"packages": {"tensorflow": "absent"}}) == []
    msgs = _step(["numpy>=1.26.1"], rule_when={"packages": {"tensorflow": "absent"}})
    assert len(msgs) == 1 and "Python 3.7-3.8" in msgs[0], msgs


def test_tfh105_counts_match_examples_and_one_liners(rules_dir):
    write_rule(rules_dir, "import", "a", make_rule("a", examples="""
      match: ["signature of a", "x signature of a", "y signature of a"]
      no_match: ["other"]"""))
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    assert example_coverage(rs.rules) == []


def test_tfh106_needs_context_excuses_only_the_one_line_part(rules_dir):
    multi = '["Traceback:\\nsignature of {0}", "x\\nsignature of {0}", "y\\nsignature of {0}"]'
    write_rule(rules_dir, "import", "a", make_rule("a", examples=f"""
      needs_context: two rows of a listing together are the problem; one row alone is normal
      match: {multi.format('a')}
      no_match: ["other"]"""))
    write_rule(rules_dir, "import", "b", make_rule("b", examples=f"""
      match: {multi.format('b')}
      no_match: ["other"]"""))
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    found = example_coverage(rs.rules)
    assert [(p.code, p.path.endswith("b.yaml")) for p in found] == [("TFH106", True)], found
    assert "one-line" in found[0].message


def test_tfh105_and_tfh106_are_reported_separately(rules_dir):
    write_rule(rules_dir, "import", "a", make_rule("a", examples="""
      match: ["Traceback:\\nsignature of a"]
      no_match: ["other"]"""))
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    found = example_coverage(rs.rules)
    assert sorted(p.code for p in found) == ["TFH105", "TFH106"], found
    assert all(not p.is_error for p in found), "coverage is advisory: the rule still loads"


def test_shipped_rules_have_no_coverage_advisories():
    """Every shipped rule carries >= 3 match examples and a one-line fragment (or says why not)."""
    rs = load_ruleset(user_rules=False, use_cache=False)
    found = example_coverage(rs.rules)
    assert found == [], "\n".join(map(str, found))


def test_needs_context_must_be_a_reason(rules_dir):
    path = write_rule(rules_dir, "import", "a", make_rule("a", examples="""
      needs_context: 3
      match: ["signature of a"]
      no_match: ["other"]"""))
    _, problems = load_file(path, root=rules_dir)
    assert "TFH004" in {p.code for p in problems}
