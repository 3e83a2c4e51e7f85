"""Where symbol-table answers (kb/structural.py, scores 80/70) may rank.

They are guesses from data, so they must never push aside what a dedicated rule says about the
same input: not a rule that explains the crash that ended the run, not a rule whose evidence is the
very line the structural fact was parsed from (even a harmless one), in a paste or in a log."""
import io
import textwrap

import pytest

from tfhelp.kb.crash import exit_status
from tfhelp.kb.engine import STRUCTURAL_SCORE, Engine
from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.scan import scan_file

# answered only by the symbol table (no shipped rule knows keras.layers.convolutional)
STRUCT = "ModuleNotFoundError: No module named 'keras.layers.convolutional'"
# a fatal crash that shipped rules explain (cuDNN too old for the build, then XLA aborts)
RULED_CRASH = (
    "2024-05-01 10:00:00.000000: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:535] Loaded runtime "
    "CuDNN library: 8.6.0 but source was compiled with: 8.9.4.  CuDNN library needs to have matching major "
    "version and equal or higher minor version.\n"
    "F0000 00:00:1714557600.200000   1234 cuda_dnn.cc:999] DNN library initialization failed\n"
    "Aborted (core dumped)")
# a native abort nobody has a rule for
UNKNOWN_ABORT = ("F0000 00:00:1714557600.200000   1234 tensor_shape.cc:44] Check failed: NDIMS == dims() (2 vs. 3)\n"
                 "Aborted (core dumped)")


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(user_rules=False, use_cache=False)


@pytest.fixture(scope="module")
def engine(ruleset):
    return Engine(ruleset)


def ids(report):
    return [d.id for d in report.diagnoses]


def scan(ruleset, text):
    report, _stats = scan_file(io.BytesIO(text.encode()), ruleset)
    return report


def test_the_structural_fact_alone_is_answered(engine):
    r = engine.diagnose(STRUCT)
    assert ids(r) == ["symbols-removed-module"]
    assert r.diagnoses[0].score in {s + bonus for s in STRUCTURAL_SCORE.values() for bonus in (0, 5)}


def test_rule_explaining_the_crash_leaves_no_room_in_a_paste(engine):
    r = engine.diagnose(STRUCT + "\n" + RULED_CRASH)
    assert r.crash is not None and r.crash.explained_by
    assert not any(i.startswith("symbols-") for i in ids(r)), ids(r)
    assert r.diagnoses[0].id in r.crash.explained_by or r.diagnoses[0].id in {
        d.symptom for d in r.diagnoses if d.id in r.crash.explained_by}


def test_rule_explaining_the_crash_ranks_above_a_structural_answer_in_a_log(ruleset):
    filler = "\n".join(f"I0501 10:00:{i % 60:02d}.000000 step {i} loss 0.1" for i in range(3000))
    r = scan(ruleset, STRUCT + "\n" + filler + "\n" + RULED_CRASH + "\n")
    got = ids(r)
    assert "symbols-removed-module" in got  # the scanner found both incidents ...
    explaining = set(r.crash.explained_by)
    assert explaining and not any(i.startswith("symbols-") for i in explaining)
    first_struct = got.index("symbols-removed-module")
    # ... and every diagnosis that explains the crash comes first
    assert all(got.index(i) < first_struct for i in explaining), got


def test_structural_answer_does_not_claim_a_later_unrelated_abort(engine):
    # 100 lines apart: two incidents, within the engine's "fatal just before the crash" window
    gap = "\n".join(f"step {i}" for i in range(100))
    r = engine.diagnose(STRUCT + "\n" + gap + "\n" + UNKNOWN_ABORT)
    assert ids(r) == ["symbols-removed-module"]
    assert r.crash is not None and r.crash.explained_by == []
    assert exit_status(r) == 0  # a known cause is still reported, beside the unexplained crash


def test_exception_that_ends_the_run_is_explained_by_its_structural_answer(engine):
    r = engine.diagnose("Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n"
                        "    from keras.layers.convolutional import Conv2D\n" + STRUCT)
    assert ids(r) == ["symbols-removed-module"]
    assert r.crash.explained_by == ["symbols-removed-module"]


def test_dedicated_rule_on_the_same_line_wins_in_paste_and_log(engine, ruleset):
    line = "ModuleNotFoundError: No module named 'keras.engine.topology'"
    assert ids(engine.diagnose(line)) == ["keras-engine-module-removed"]
    r = scan(ruleset, "\n".join(f"I step {i}" for i in range(50)) + "\n" + line + "\n")
    assert ids(r)[0] == "keras-engine-module-removed"
    assert not any(i.startswith("symbols-") for i in ids(r)), ids(r)


def test_harmless_rule_on_the_same_line_is_not_overruled(tmp_path):
    """A harmless rule is the one kind that lets the structural layer run; if it explains the line
    the fact came from, the table must not add a fatal answer for that line on top of it."""
    folder = tmp_path / "noise"
    folder.mkdir()
    (folder / "optional-convolutional-probe.yaml").write_text(textwrap.dedent("""\
        id: optional-convolutional-probe
        title: Optional import probe for the old convolutional module
        category: noise
        severity: harmless
        confidence: high
        summary: A library tries the old module first and falls back; nothing is broken.
        cause: |
          Test rule: the library catches this import error and imports keras.layers instead.
        references: [https://keras.io/api/layers/convolution_layers/]
        match:
          all:
            - {name: probe, type: literal, value: "No module named 'keras.layers.convolutional'"}
        fixes:
          - title: Nothing to do
            steps:
              - {action: manual, text: Nothing to change.}
        examples:
          match:
            - "ModuleNotFoundError: No module named 'keras.layers.convolutional'"
          no_match:
            - "ModuleNotFoundError: No module named 'keras.layers'"
        """), encoding="utf-8")
    rs = load_ruleset(extra_dirs=[tmp_path], user_rules=False, shipped=False, use_cache=False)
    r = Engine(rs).diagnose(STRUCT)
    assert ids(r) == ["optional-convolutional-probe"]
    # another structural fact on another line is still answered, above the harmless notice
    r = Engine(rs).diagnose(STRUCT + "\nModuleNotFoundError: No module named 'keras.saving.hdf5_format'")
    assert ids(r) == ["symbols-removed-module", "optional-convolutional-probe"]
    assert "hdf5_format" in r.diagnoses[0].evidence[0].text
