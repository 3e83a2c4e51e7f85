"""Adversarial and random inputs through the engine and CLI: no exception, bounded time, inert output."""
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

ENGINE = Engine(load_ruleset(user_rules=False))

# (name, input, seconds allowed on a slow 2-core CI machine)
ADVERSARIAL = [
    ("binary junk", bytes(range(256)) * 4000, 10),
    ("invalid utf-8", b"\xff\xfe\xfd ImportError: \xc3\x28 np_utils \xa0\xa1" * 20000, 10),
    ("nul bytes", b"\x00" * 2_000_000 + b"ImportError: cannot import name 'np_utils'", 10),
    ("single 50 MB line", b"A" * 50_000_000, 20),
    ("1,000,000 short lines", b"W tensorflow warning line\n" * 1_000_000, 60),
    ("deeply chained tracebacks", (b"Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
                                   b"KeyError: 'k'\n\nDuring handling of the above exception, another exception "
                                   b"occurred:\n\n") * 20000, 20),
    ("ansi and osc storm", b"\x1b[31m\x1b]0;title\x07\x1b]8;;http://x\x1b\\" * 100000, 10),
    ("rich markup", b"[bold red]ImportError[/bold red]: [link=http://evil]np_utils[/link]\n" * 10000, 10),
    ("rtl and zero width", "\u202eImportError\u200b: cannot\u2066 import name 'np_utils'\u2069\n".encode() * 20000, 10),
    ("lone carriage returns", b"1/100 [>...]\r" * 500000, 20),
]


@pytest.mark.parametrize("name,data,limit", ADVERSARIAL, ids=[a[0] for a in ADVERSARIAL])
def test_adversarial_input_is_answered_in_bounded_time(name, data, limit):
    t0 = time.perf_counter()
    report = ENGINE.diagnose(data)
    elapsed = time.perf_counter() - t0
    assert elapsed < limit, f"{name}: {elapsed:.1f}s"
    report.to_json()  # serialisable


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=5000))
def test_random_bytes_never_raise(data):
    ENGINE.diagnose(data).to_json()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "Traceback (most recent call last):", '  File "/x/site-packages/tensorflow/__init__.py", line 1, in <module>',
    "ImportError: cannot import name 'np_utils'", "During handling of the above exception, another exception occurred:",
    "2024-01-01 00:00:00.000000: W tensorflow/x.cc:1] Could not load dynamic library 'libcudart.so.11.0'",
    "\x1b[31m", "[bold]", "\r", "\u202e", "Illegal instruction (core dumped)", "", "    ^^^^^"]), max_size=60))
def test_random_traceback_shapes_never_raise(parts):
    ENGINE.diagnose("\n".join(parts)).to_json()


def _adversarial_strings(pattern: str) -> list:
    lits = re.findall(r"[A-Za-z_]{2,}", pattern) or ["a"]
    return [("".join(lits) + " ") * (4096 // (len("".join(lits)) + 1)), "a" * 4096, "_ " * 2048, "9." * 2048]


def test_every_shipped_regex_is_fast_on_worst_case_lines():
    """Lines are capped at 4096 characters; no shipped regex may take long on such a line."""
    worst = 0.0
    for rule in ENGINE.ruleset.rules:
        for m in rule.all + rule.any + rule.none:
            if m.type != "regex":
                continue
            for s in _adversarial_strings(m.value):
                t0 = time.perf_counter()
                m.regex.search(s)
                worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.5, worst


def test_cli_streams_a_huge_paste_through_the_log_scanner(run_cli):
    """More than 8 MB on stdin is scanned as a log - nothing lost, an error past the first 8 MB found."""
    data = b"Epoch 1/10 loss: 0.2\n" * 500_000 + b"ImportError: cannot import name 'np_utils' from 'keras.utils'\n"
    assert len(data) > 9 * 1024 * 1024
    code, out, err = run_cli(["diagnose", "-"], stdin=data)
    assert code == 0 and "scanning it as a log" in err and "Traceback" not in err
    assert "keras-np-utils-removed" in out
