"""The errors of the seed guide's last section, exactly as written there (web-copy damage and all).

The fixtures hold those lines byte for byte; when the guide itself is beside the checkout
(``../shared/seed``), its whole text is diagnosed too.
"""
from pathlib import Path

import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.environment import Environment
from tfhelp.kb.loader import load_ruleset

SEED = Path(__file__).parent / "fixtures" / "seed"
GUIDE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_388f88f86f7a6958.txt"
ENGINE = Engine(load_ruleset(user_rules=False, use_cache=False))


@pytest.mark.parametrize("fixture", sorted(SEED.glob("*.txt")), ids=lambda p: p.stem)
def test_seed_line_alone_is_diagnosed(fixture):
    report = ENGINE.diagnose(fixture.read_bytes())
    assert report.diagnoses, f"{fixture.name}: no diagnosis"
    assert report.diagnoses[0].id == fixture.stem


def test_seed_numpy_block_root_first():
    block = (SEED / "numpy-multiarray-umath-missing.txt").read_text() + (SEED / "numpy-multiarray-failed-import.txt").read_text()
    ids = [d.id for d in ENGINE.diagnose("import tensorflow as tf\n" + block).diagnoses]
    assert ids[:2] == ["numpy-multiarray-umath-missing", "numpy-multiarray-failed-import"]


def test_seed_keras_list_all_four():
    text = "".join((SEED / f"{n}.txt").read_text() for n in (
        "keras-requires-tf-2-2", "keras-missing-tf-python-eager", "keras-tensorflow-backend-is-tf-1",
        "keras-np-utils-removed"))
    ids = {d.id for d in ENGINE.diagnose(text).diagnoses}
    assert {"keras-requires-tf-2-2", "keras-missing-tf-python-eager", "keras-tensorflow-backend-is-tf-1",
            "keras-np-utils-removed"} <= ids


def test_avx_notice_is_harmless_and_not_a_crash():
    d = ENGINE.diagnose((SEED / "cpu-avx-notice-harmless.txt").read_bytes()).diagnoses
    assert d[0].rule.severity == "harmless"
    assert not any(x.id == "cpu-illegal-instruction" for x in d)
    crash = ENGINE.diagnose("$ python -c 'import tensorflow'\nIllegal instruction (core dumped)\n").diagnoses
    assert crash and crash[0].id == "cpu-illegal-instruction" and crash[0].rule.severity == "fatal"


def test_numpy_fix_fits_installed_versions():
    """Old NumPy under a module built for newer: upgrade; NumPy 2 under TF < 2.18: pin below 2."""
    text = (SEED / "numpy-multiarray-umath-missing.txt").read_bytes()
    old = Environment(packages={"tensorflow": "2.1.0", "numpy": "1.15.4"}, python="3.7.9", source="probe")
    new = Environment(packages={"tensorflow": "2.15.0", "numpy": "2.1.0"}, python="3.11.7", source="probe")

    def first_pip(env):
        d = ENGINE.diagnose(text, env=env).diagnoses
        for fix in d[0].fixes:
            for step in fix["steps"]:
                if step["action"] == "pip_install":
                    return step["packages"]
        return None

    assert any("numpy" in p and "<2" not in p for p in first_pip(old))
    assert any(p.startswith("numpy") and "<2" in p for p in first_pip(new))


@pytest.mark.skipif(not GUIDE.is_file(), reason="the seed guide is only beside a checkout in the dev workspace")
def test_whole_guide_yields_the_seed_errors():
    ids = {d.id for d in ENGINE.diagnose(GUIDE.read_bytes()).diagnoses}
    expected = {p.stem for p in SEED.glob("*.txt")}
    assert expected <= ids, expected - ids
