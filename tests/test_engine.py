"""Matching, ranking, environment use, fix choice and abstaining, on small synthetic rule sets."""
from conftest import make_rule, write_rule

from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset


def engine_for(rules_dir):
    rs = load_ruleset(extra_dirs=[rules_dir], user_rules=False, shipped=False, use_cache=False)
    assert not rs.errors, rs.errors
    return Engine(rs)


def test_root_cause_ranks_above_its_symptom_and_harmless_last(rules_dir):
    write_rule(rules_dir, "cudnn", "root", make_rule("root", category="cudnn"))
    write_rule(rules_dir, "cudnn", "symptom", make_rule("symptom", category="cudnn", extra="symptom_of: [root]"))
    write_rule(rules_dir, "noise", "noise", make_rule("noise", category="noise", severity="harmless"))
    text = "signature of noise\nsignature of symptom\nsignature of root\n"
    report = engine_for(rules_dir).diagnose(text)
    assert [d.id for d in report.diagnoses] == ["root", "symptom", "noise"]
    assert report.diagnoses[1].symptom == "root"
    # the symptom alone is still diagnosed, not as a symptom
    alone = engine_for(rules_dir).diagnose("signature of symptom")
    assert [(d.id, d.symptom) for d in alone.diagnoses] == [("symptom", None)]


def test_all_any_none_semantics(rules_dir):
    write_rule(rules_dir, "import", "combo", make_rule("combo", match="""
      all:
        - {name: a, type: literal, value: "needle alpha"}
      any:
        - {name: b1, type: literal, value: "beta one"}
        - {name: b2, type: regex, value: 'beta (?P<n>\\d+)'}
      none:
        - {name: c, type: literal, value: "gamma veto"}""", examples="""
      match: ["needle alpha beta 7"]
      no_match: ["needle alpha"]"""))
    eng = engine_for(rules_dir)
    assert [d.id for d in eng.diagnose("needle alpha\nbeta 42").diagnoses] == ["combo"]
    assert eng.diagnose("needle alpha\nbeta 42").diagnoses[0].captures["n"] == "42"
    assert eng.diagnose("needle alpha only").diagnoses == []
    vetoed = eng.diagnose("needle alpha beta one gamma veto")
    assert vetoed.diagnoses == [] and "excluded by c" in vetoed.related[0].why_not


def test_abstain_reports_understanding_and_near_misses(rules_dir):
    write_rule(rules_dir, "import", "two-part", make_rule("two-part", match="""
      all:
        - {name: first, type: literal, value: "first half here"}
        - {name: second, type: literal, value: "second half here"}"""
                                                      , examples="""
      match: ["first half here second half here"]
      no_match: ["first half here"]"""))
    report = engine_for(rules_dir).diagnose("Traceback (most recent call last):\nKeyError: 'first half here'\n")
    assert report.abstained
    assert report.exceptions[0].type == "KeyError"
    assert report.related[0].id == "two-part" and "second" in report.related[0].why_not


def test_fuzzy_matcher_tolerates_mangled_text(rules_dir):
    write_rule(rules_dir, "import", "fz", make_rule("fz", extra='anchors: ["tensorflow_backend"]', match="""
      all:
        - {name: f, type: fuzzy, value: "module 'keras.backend.tensorflow_backend' has no attribute '_is_tf_1'", threshold: 85}"""
                                                , examples="""
      match: ["module 'keras.backend.tensorflow_backend' has no attribute '_is_tf_1'"]
      no_match: ["module 'keras.backend' has no attribute 'foo'"]"""))
    eng = engine_for(rules_dir)
    mangled = "AttributeError: module 'keras.backend.tensorflow_backend' has no atribute '_is_tf1'"
    d = eng.diagnose(mangled).diagnoses
    assert [x.id for x in d] == ["fz"] and 85 <= d[0].score < 100


ENV_RULE = """
      all:
        - {name: m, type: literal, value: "abi banner text"}"""
ENV_FIXES = """
      - title: Pin numpy for TF {env.tensorflow}
        when: {packages: {tensorflow: "<2.18"}}
        steps:
          - {action: pip_install, packages: ["numpy<2"]}
      - title: Upgrade TensorFlow
        steps:
          - {action: pip_install, packages: ["tensorflow>=2.18"]}"""


def test_environment_confirms_contradicts_and_picks_fixes(rules_dir):
    write_rule(rules_dir, "abi", "abi", make_rule("abi", category="abi", match=ENV_RULE, fixes=ENV_FIXES,
                                                  extra="when: {packages: {numpy: '>=2'}}", examples="""
      match: ["abi banner text"]
      no_match: ["other"]"""))
    eng = engine_for(rules_dir)
    unknown = eng.diagnose("abi banner text").diagnoses[0]
    assert unknown.confirmed is None
    assert [f["title"] for f in unknown.fixes] == ["Upgrade TensorFlow"]  # placeholder needs the env
    env = Environment(packages={"tensorflow-cpu": "2.15.0", "numpy": "2.1.0"}, source="probe")
    confirmed = eng.diagnose("abi banner text", env=env).diagnoses[0]
    assert confirmed.confirmed is True and "numpy 2.1.0" in confirmed.env_reason
    assert confirmed.fixes[0]["title"] == "Pin numpy for TF 2.15.0"
    assert confirmed.fixes[0]["steps"] == [{"action": "pip_install", "packages": ["numpy<2"]}]
    new_tf = Environment(packages={"tensorflow": "2.18.0", "numpy": "2.1.0"}, source="probe")
    assert [f["title"] for f in eng.diagnose("abi banner text", env=new_tf).diagnoses[0].fixes] == ["Upgrade TensorFlow"]
    contradicted = eng.diagnose("abi banner text", env=Environment(packages={"numpy": "1.26.4"}, source="probe"))
    assert contradicted.diagnoses == [] and "contradicted" in contradicted.related[0].why_not


def test_text_versions_confirm_but_never_contradict(rules_dir):
    write_rule(rules_dir, "abi", "abi", make_rule("abi", category="abi", match=ENV_RULE,
                                                  extra="when: {packages: {numpy: '>=2'}}"))
    eng = engine_for(rules_dir)
    old = eng.diagnose("abi banner text\nA module that was compiled using NumPy 1.x cannot be run in NumPy 1.26.0 as")
    assert [d.id for d in old.diagnoses] == ["abi"] and old.diagnoses[0].confirmed is None


def test_failed_fix_is_ranked_down_and_flagged(rules_dir):
    write_rule(rules_dir, "abi", "abi", make_rule("abi", category="abi", match=ENV_RULE, fixes=ENV_FIXES))
    env = Environment(packages={"tensorflow": "2.15.0"}, source="probe")
    d = engine_for(rules_dir).diagnose("abi banner text", env=env,
                                       failed_before=lambda rid, title: title.startswith("Pin")).diagnoses[0]
    assert [f["title"] for f in d.fixes] == ["Upgrade TensorFlow", "Pin numpy for TF 2.15.0"]
    assert d.fixes[1]["failed_before"] is True


def test_interpreter_mismatch_note(rules_dir):
    write_rule(rules_dir, "import", "x", make_rule("x"))
    env = Environment(python="3.11.7", source="probe", facts={"executable": "/usr/bin/python3"})
    text = '  File "/home/u/env/lib/python3.8/site-packages/keras/__init__.py", line 1\nsignature of x'
    assert "Python 3.8" in engine_for(rules_dir).diagnose(text, env=env).notes[0]


def test_prefilter_only_scores_candidates(rules_dir, monkeypatch):
    for i in range(50):
        write_rule(rules_dir, "import", f"r{i}", make_rule(f"r{i}"))
    eng = engine_for(rules_dir)
    seen = []
    import tfhelp.kb.engine as engine_mod

    real = engine_mod.match_rule
    monkeypatch.setattr(engine_mod, "match_rule", lambda rule, doc: seen.append(rule.id) or real(rule, doc))
    assert [d.id for d in eng.diagnose("signature of r7").diagnoses] == ["r7"]
    assert seen == ["r7"]


def test_pure_python_prefilter_agrees_with_automaton():
    from tfhelp.kb.prefilter import AnchorIndex

    amap = {"alpha": [0], "beta gamma": [1, 2], "delta": [3]}
    idx = AnchorIndex(amap)
    text = "xx beta gamma yy delta"
    fast = idx.rules_in(text)
    idx._automaton = None
    assert idx.rules_in(text) == fast == {1, 2, 3}


def test_keras_nightly_counts_as_keras():
    env = Environment(packages={"keras-nightly": "3.6.0.dev2024"}, source="probe")
    assert env.version("keras") == "3.6.0.dev2024"
