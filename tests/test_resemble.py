"""The resemblance layer (kb/resemble.py): when it answers, how it is labelled and ranked, and when
it must keep quiet. Small synthetic rule sets isolate each behaviour; a few cases use the shipped
rules end to end (engine, crash report, JSON, exit status, rendering)."""
import io
import json

import pytest
from rich.console import Console

from tfhelp.kb import resemble, resemble_index
from tfhelp.kb.crash import exit_status
from tfhelp.kb.engine import MIN_SCORE, Engine
from tfhelp.kb.loader import RuleSet, load_ruleset
from tfhelp.kb.model import Fix, Matcher, Rule

SHIPPED = load_ruleset(user_rules=False, use_cache=False)
ENGINE = Engine(SHIPPED)

# Real one-line fragments no shipped matcher fires on, each a cut-off copy of a rule's own example.
UMATH_CUT = "numpy.core.umath failed to impor"


def rule(rid, match, no_match=(), literal=None, severity="fatal", none=(), symptom_of=()):
    lit = literal or match[0].split(": ", 1)[-1]
    return Rule(id=rid, title=f"Title of {rid}", category="import", severity=severity, summary="s", cause="c",
                references=["https://example.org"], all=[Matcher(name="lit", type="literal", part="line", value=lit)],
                any=[], none=[Matcher(name=f"n{i}", type="literal", part="line", value=v) for i, v in enumerate(none)],
                fixes=[Fix(title="do it", steps=[{"action": "manual", "text": "x"}])],
                examples_match=[{"text": t} for t in match], examples_no_match=[{"text": t} for t in no_match],
                anchors=[lit.lower()], symptom_of=list(symptom_of))


def engine_of(*rules):
    return Engine(RuleSet(rules=list(rules)))


WIDGET = rule("widget-core-missing",
              ["ImportError: the widget loader could not find 'alpha_core' in the frobnicator registry"],
              no_match=["ImportError: the widget loader could not find 'alpha_core' in the frobnicator cache"])


def test_a_reworded_line_is_answered_by_resemblance_below_every_real_match():
    report = engine_of(WIDGET).diagnose("the widget loader could not find 'alpha_core' in frobnicator registry")
    [d] = report.diagnoses
    assert isinstance(d, resemble.Resemblance) and d.id == "widget-core-missing"
    assert d.score < MIN_SCORE and d.similarity >= resemble.MIN_SIMILARITY
    assert exit_status(report) == 0  # a found cause, as for a rule match


def test_the_rules_own_match_is_not_a_resemblance():
    ds = engine_of(WIDGET).diagnose(WIDGET.examples_match[0]["text"]).diagnoses
    assert [type(d) for d in ds] != [resemble.Resemblance] and ds[0].score >= MIN_SCORE


def test_closer_to_a_near_miss_than_to_the_real_text_gets_nothing():
    # differs from the match example and from the near miss by one word each; nearer the near miss
    text = "the widget loader could not find 'alpha_core' in the frobnicator caches"
    assert engine_of(WIDGET).diagnose(text).diagnoses == []
    without_near_miss = rule("widget-core-missing", [WIDGET.examples_match[0]["text"]])
    assert [d.id for d in engine_of(without_near_miss).diagnose(text).diagnoses] == ["widget-core-missing"]


def test_distinctive_tokens_must_agree():
    # same sentence, another symbol: the symbol is what the rule is about
    assert engine_of(WIDGET).diagnose("the widget loader could not find 'beta_core' in the frobnicator registry"
                                      ).diagnoses == []


def test_the_same_names_in_another_sentence_form():
    moved = rule("frobnicate-moved", ["ImportError: cannot import name 'frobnicate' from 'widgets.layers'"],
                 no_match=["ImportError: cannot import name 'defrobnicate' from 'widgets.layers'"])
    engine = engine_of(moved)
    [d] = engine.diagnose("ModuleNotFoundError: No module named 'widgets.layers.frobnicate'").diagnoses
    assert isinstance(d, resemble.Resemblance) and d.id == "frobnicate-moved"
    # one of the names alone, in a sentence about the user's own script: not the same names
    assert engine.diagnose("NameError: name 'frobnicate' is not defined").diagnoses == []


def test_generic_words_alone_never_answer():
    generic = rule("generic", ["RuntimeError: the error module attribute could not be loaded from the object"])
    assert engine_of(generic).diagnose("the error module attribute could not be loaded from an object").diagnoses == []


def test_two_unrelated_rules_that_look_alike_make_it_ambiguous():
    a = rule("widget-a", ["ImportError: the widget loader could not find 'alpha_core' in the frobnicator registry"])
    b = rule("widget-b", ["ImportError: the widget loader could not find 'alpha_core' in the frobnicator registers"])
    text = "the widget loader could not find 'alpha_core' in frobnicator regist"
    assert engine_of(a, b).diagnose(text).diagnoses == []
    assert [d.id for d in engine_of(a).diagnose(text).diagnoses] == ["widget-a"]


def test_a_symptom_rule_does_not_compete_with_its_root_cause():
    root = rule("widget-root", ["ImportError: the widget loader could not find 'alpha_core' in the frobnicator registry"])
    sym = rule("widget-symptom", ["ImportError: the widget loader could not find 'alpha_core' in the frobnicator registers"],
               symptom_of=["widget-root"])
    ds = engine_of(root, sym).diagnose("the widget loader could not find 'alpha_core' in frobnicator regist").diagnoses
    assert [d.id for d in ds] == ["widget-root"]


def test_the_rules_none_matchers_veto_a_resemblance():
    vetoed = rule("widget-vetoed", [WIDGET.examples_match[0]["text"]], none=["compiled in debug mode"])
    line = "the widget loader could not find 'alpha_core' in frobnicator registry"
    assert [d.id for d in engine_of(vetoed).diagnose(line).diagnoses] == ["widget-vetoed"]
    assert engine_of(vetoed).diagnose(line + "\nwidget compiled in debug mode").diagnoses == []


def test_an_example_line_the_rule_needs_context_for_is_not_resembled():
    # the rule fires only with a second line; its first line alone is not evidence of it
    needs = Rule(id="needs-context", title="t", category="import", severity="fatal", summary="s", cause="c",
                 references=["https://example.org"],
                 all=[Matcher(name="a", type="literal", part="line", value="could not find 'alpha_core'"),
                      Matcher(name="b", type="literal", part="line", value="frobnicator v2 registry")],
                 any=[], none=[], fixes=[Fix(title="x", steps=[{"action": "manual", "text": "x"}])],
                 examples_match=[{"text": "ImportError: the widget loader could not find 'alpha_core'\n"
                                          "  (frobnicator v2 registry)"}],
                 examples_no_match=[{"text": "unrelated"}], anchors=["alpha_core"])
    text = "the widget loader could not find 'alpha_core' now!"
    assert engine_of(needs).diagnose(text).diagnoses == []
    # the same example where the rule needs nothing more: resembled (the literal itself is absent)
    alone = rule("alone", ["ImportError: the widget loader could not find 'alpha_core'"],
                 literal="loader could not find 'alpha_core'")
    [d] = engine_of(alone).diagnose("the widget loader did not find 'alpha_core' now!").diagnoses
    assert isinstance(d, resemble.Resemblance) and d.id == "alone"


def test_a_rule_match_or_structural_answer_stops_the_layer():
    text = "ImportError: cannot import name 'np_utils' from 'keras.utils'\n" + UMATH_CUT
    ds = ENGINE.diagnose(text).diagnoses
    assert ds and not any(isinstance(d, resemble.Resemblance) for d in ds)


def test_shipped_fragment_json_says_how_it_was_matched():
    report = ENGINE.diagnose(UMATH_CUT)
    d = report.diagnoses[0]
    assert isinstance(d, resemble.Resemblance) and d.id == "numpy-multiarray-failed-import"
    out = json.loads(json.dumps(report.to_json()))["diagnoses"][0]
    assert out["matched_by"] == "resemblance" and out["confidence"] == "low"
    assert 0.84 <= out["similarity"] <= 1.0 and "numpy.core.umath failed to import" in out["resembles"]
    assert out["label"].startswith("looks like ") and "not by the rule's own pattern" in out["label"]
    assert out["score"] < MIN_SCORE


def test_an_unexplained_crash_stays_unexplained_and_shown():
    text = "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n" \
           "    import mylib\nImportError: " + UMATH_CUT
    report = ENGINE.diagnose(text)
    assert isinstance(report.diagnoses[0], resemble.Resemblance)
    assert report.crash is not None and not report.crash.explained
    assert report.to_json()["crash"]["explained"] is False
    assert exit_status(report) == 0


def test_harmless_notices_rank_below_the_resemblance():
    avx = ("2024-05-10 11:33:14.068255: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary "
           "is optimized to use available CPU instructions in performance-critical operations.")
    ds = ENGINE.diagnose(avx + "\n" + UMATH_CUT).diagnoses
    assert isinstance(ds[0], resemble.Resemblance)
    assert all(d.rule.severity == "harmless" for d in ds[1:]) and len(ds) >= 2


def test_a_crash_explanation_stays_above_the_resemblance():
    aborted = rule("abort-notice", ["Aborted (core dumped)"], literal="Aborted (core dumped)", severity="harmless")
    report = engine_of(WIDGET, aborted).diagnose(
        "the widget loader could not find 'alpha_core' in frobnicator registry\nAborted (core dumped)")
    assert report.crash is not None and report.crash.explained_by == ["abort-notice"]
    assert [d.id for d in report.diagnoses] == ["abort-notice", "widget-core-missing"]
    assert isinstance(report.diagnoses[1], resemble.Resemblance)


def test_log_scanner_windows_are_left_alone():
    # the scanner diagnoses windows of a log with crash=False; resemblance is for pastes
    assert ENGINE.diagnose(UMATH_CUT, crash=False).diagnoses == []


def test_render_labels_the_resemblance():
    from tfhelp.assistant.render.diagnosis import render_report

    buf = io.StringIO()
    render_report(ENGINE.diagnose(UMATH_CUT), Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    assert "looks like numpy.core.multiarray" in out
    assert "matched by resemblance to a known report, not by the rule's own pattern" in out
    assert "Resembles: ImportError: numpy.core.umath failed to import" in out


def test_index_is_cached_on_disk_and_a_bad_cache_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TFHELP_NO_CACHE", raising=False)
    rs = RuleSet(rules=[WIDGET])
    first = resemble_index._cached_index(rs)
    [path] = tmp_path.glob("resemble-*.json")
    again = resemble_index._cached_index(rs)
    assert [e.shape for e in again.entries] == [e.shape for e in first.entries]
    assert again.by_token == first.by_token
    path.write_text('{"format": 1, "key": "%s", "entries": [[7, false, 0, "x", "x", [], [], false]],'
                    ' "by_token": {}, "negatives": {}, "token_rules": {}}' % resemble_index.cache_key(rs))
    rebuilt = resemble_index._cached_index(rs)  # names a rule that does not exist: rebuilt
    assert [e.shape for e in rebuilt.entries] == [e.shape for e in first.entries]


def test_the_index_lives_with_its_rule_set():
    rs = RuleSet(rules=[WIDGET])
    assert resemble.index_for(rs) is resemble.index_for(rs)
    key = id(rs)
    del rs
    import gc

    gc.collect()
    assert key not in resemble_index._CACHE


@pytest.mark.parametrize("line,expected", [
    ("ValueError: Unknown layer: ArcFace", (("arcface",), ())),
    ("ImportError: cannot import name 'np_utils' from 'keras.utils' (/x/keras/utils/__init__.py)",
     (("np_utils", "keras.utils"), ())),
    ("Could not load dynamic library 'libcudart.so.11.0'", (("libcudart.so.#.#",), ())),
    ("tensorflow 2.13.1 requires keras<2.14,>=2.13.1, but you have keras 3.1.1", ((), ("tensorflow", "keras"))),
])
def test_tokens(line, expected):
    spec, libs, _ver = resemble.tokens(resemble.message_of(line))
    assert (tuple(sorted(spec)), libs) == (tuple(sorted(expected[0])), expected[1])


def test_masking_hides_paths_numbers_and_quote_styles():
    a = resemble.shape('Failed to load "C:\\Users\\me\\lib\\cudnn64_8.dll" at step 12')
    b = resemble.shape("Failed to load '/usr/lib/x86_64/libcudnn.so.9' at step 7")
    assert a == b


def test_a_diagnosis_a_rule_explains_does_not_load_the_layer():
    # start-up budget: the layer's modules are imported only when nothing but notices fired
    import subprocess
    import sys
    from pathlib import Path

    traceback = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "traceback-40.txt"
    code = ("import sys; from tfhelp.kb.loader import load_ruleset; from tfhelp.kb.engine import Engine; "
            "r = Engine(load_ruleset(user_rules=False)).diagnose(sys.stdin.read()); "
            "print(bool(r.diagnoses), 'tfhelp.kb.resemble' in sys.modules, 'tfhelp.kb.resemble_index' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], input=traceback.read_text(encoding="utf-8"),
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]
