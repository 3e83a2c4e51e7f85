"""Which install/packaging rule comes out on top when several fire on one input.

Rule examples only check that a rule fires; these inputs fire two rules each, and the answer a
user sees is the first one, so the order is what matters: the Intel-Mac rule must beat the
general pinned-version rule only when pip's list ends at 2.16.x, the Rosetta rule must beat the
AVX rule only when the text shows a Mac, and TensorFlow's own pin lines in old pip wording
("has requirement ... you'll have") must reach the structural pin-conflict answer.
"""
import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ENGINE = Engine(load_ruleset(user_rules=False))


def top(text: str):
    diagnoses = ENGINE.diagnose(text).diagnoses
    return diagnoses[0].id if diagnoses else None


LIST_2162 = ("ERROR: Could not find a version that satisfies the requirement tensorflow==2.19.0 "
             "(from versions: 2.15.0, 2.15.1, 2.16.0rc0, 2.16.1, 2.16.2)")
LIST_220 = ("ERROR: Could not find a version that satisfies the requirement tensorflow==2.13.0 "
            "(from versions: 2.20.0rc0, 2.20.0)")


@pytest.mark.parametrize("text,expected", [
    # https://github.com/tensorflow/tensorflow/issues/91003 (Intel MacBook, list ends at 2.16.2)
    (LIST_2162, "macos-intel-tensorflow-ends-2-16"),
    # a newer Python's list (3.13: 2.20 only) refusing an old pin is not a Mac problem
    (LIST_220, "pip-tensorflow-pinned-unsupported-python"),
    # an old pin refused by a list that happens to end at 2.16.2 is the general rule too
    ("ERROR: Could not find a version that satisfies the requirement tensorflow==2.10.0 "
     "(from versions: 2.16.1, 2.16.2)", "pip-tensorflow-pinned-unsupported-python"),
])
def test_highest_listed_version_picks_the_rule(text, expected):
    assert top(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("zsh: illegal hardware instruction  python", "macos-x86-tensorflow-on-apple-silicon"),
    ("tensorflow 2.15 \"Illegal instruction: 4\" Mac M1 processor", "macos-x86-tensorflow-on-apple-silicon"),
    # Linux shells keep the AVX answer
    ("Illegal instruction (core dumped)", "cpu-illegal-instruction"),
])
def test_sigill_on_a_mac_is_rosetta_not_avx(text, expected):
    assert top(text) == expected


def test_old_pip_pin_wording_reaches_the_structural_answer():
    # https://github.com/lululxvi/deepxde/issues/139 (pip 20.2 wording)
    report = ENGINE.diagnose("ERROR: tensorflow 2.3.1 has requirement numpy<1.19.0,>=1.16.0, "
                             "but you'll have numpy 1.19.2 which is incompatible.")
    assert [d.id for d in report.diagnoses][:1] == ["symbols-pip-pin-conflict"]
    step = report.diagnoses[0].fixes[0]["steps"][0]
    assert step["action"] == "pip_install"
    assert step["packages"] == ["numpy>=1.16.0,<1.19.0"]


def test_conda_answers_need_tensorflow_in_the_conflict():
    assert top("UnsatisfiableError: The following specifications were found to be in conflict:\n"
               "  - python=3.12\n  - pytorch=1.8\n") is None
    assert top("PackagesNotFoundError: The following packages are not available from current "
               "channels:\n\n  - cudnn=8.6.0.163*\n") is None
