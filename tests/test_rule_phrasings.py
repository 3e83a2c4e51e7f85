"""Rules in the Keras / Python-side folders answer the copies people really paste, not only the
exact text a rule was written from.

Each rule's one-line match examples are damaged the ways web pages, terminals and issue titles
damage them - markdown-escaped underscores, smart quotes, a "> " quote marker, a code fence around
it, the exception class left off (the message alone as an issue title), the line broken in the
middle by a terminal's width - and the rule must still be diagnosed. A rule whose pattern (or
prefilter anchor) depends on the undamaged spelling fails here with the variant that broke it.
"""
import re

import pytest

from tfhelp.kb.engine import Engine
from tfhelp.kb.lint import _example_text
from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.normalize import repair_text

FOLDERS = {"keras3", "macos", "install", "import", "api-change", "tf1-api", "protobuf", "noise"}
RULESET = load_ruleset(user_rules=False, use_cache=False)
ENGINE = Engine(RULESET)
#: "ValueError: ", "tensorflow.python.framework.errors_impl.NotFoundError: ", "ERROR: " ...
EXCEPTION_PREFIX = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception|Warning)|ERROR|WARNING):\s+")


def _damaged(line: str) -> dict:
    out = {"quoted": "> " + line, "fenced": "```\n" + line + "\n```"}
    if "_" in line:
        out["escaped_underscores"] = line.replace("_", "\\_")
    if "'" in line:
        out["smart_quotes"] = re.sub(r"'([^']*)'", "\u2018\\1\u2019", line)
    words = line.split(" ")
    if len(words) > 6:  # wrapped at the middle space, as a terminal or a narrow web column does
        out["wrapped"] = " ".join(words[:len(words) // 2]) + "\n" + " ".join(words[len(words) // 2:])
    bare = EXCEPTION_PREFIX.sub("", line)
    if bare != line and len(bare) > 20:
        out["without_exception_class"] = bare
    return out


def damaged_cases(folders) -> list:
    """One pytest.param per damaged copy of every one-line match example of the rules in
    ``folders`` (also used by test_native_phrasings.py for the GPU/native folders)."""
    cases = []
    for rule in RULESET.rules:
        if rule.category not in folders:
            continue
        for i, ex in enumerate(rule.examples_match):
            text = _example_text(ex)
            if text is None or len(text.strip().splitlines()) != 1:
                continue
            for kind, variant in _damaged(text.strip()).items():
                cases.append(pytest.param(rule.id, variant, id=f"{rule.id}-{i}-{kind}"))
    return cases


CASES = damaged_cases(FOLDERS)


def test_every_rule_in_these_folders_has_a_one_line_example_to_damage():
    from tfhelp.kb.lint import _needs_context

    with_one_line = {c.values[0] for c in CASES}
    without = [r for r in RULESET.rules if r.category in FOLDERS and r.id not in with_one_line]
    # only rules that state why one line can never identify their problem may lack one
    assert [r.id for r in without if not _needs_context(r)] == []
    assert len(with_one_line) >= 60


@pytest.mark.parametrize("rule_id,text", CASES)
def test_damaged_copy_still_gets_the_rule(rule_id, text):
    ids = [d.id for d in ENGINE.diagnose(text).diagnoses]
    assert rule_id in ids, f"{rule_id} missed {text!r}; got {ids}"


def test_dotted_module_with_keras_in_it_is_not_taken_for_a_windows_file():
    # tensorflow\_hub.keras\_layer: ".keras" is followed by another escaped underscore, so it is a
    # module path to unescape, while a real file name at the end of a path stays untouched
    assert repair_text(r"Received: <tensorflow\_hub.keras\_layer.KerasLayer object>") == \
        "Received: <tensorflow_hub.keras_layer.KerasLayer object>"
    assert repair_text(r"C:\Users\me\_work\model.keras") == r"C:\Users\me\_work\model.keras"
    assert repair_text(r"keras\__init__.py") == r"keras\__init__.py"
