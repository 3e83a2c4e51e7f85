"""``tfhelp rules show`` knows the structural layer's answer ids (``symbols-*``), which a report
names but no rule file defines, and its list stays equal to the ids kb/structural.py produces."""
import json
import re
from pathlib import Path

import tfhelp.kb.structural as structural
from tfhelp.assistant.frontends.commands.rules import STRUCTURAL


def test_list_matches_the_ids_structural_can_produce():
    source = Path(structural.__file__).read_text(encoding="utf-8")
    produced = set(re.findall(r'"(symbols-[a-z]+(?:-[a-z]+)*)"', source))
    assert produced and produced == set(STRUCTURAL), produced ^ set(STRUCTURAL)


def test_show_structural_id_text_and_json(run_cli):
    code, out, _ = run_cli(["rules", "show", "symbols-removed-name"])
    assert code == 0 and "symbol-table" in out and "cannot import name" in out and "symbols.json" in out
    code, out, _ = run_cli(["rules", "show", "symbols-pip-pin-conflict", "--json"])
    data = json.loads(out)
    assert code == 0 and data["id"] == "symbols-pip-pin-conflict" and data["origin"] == "symbol-table"


def test_unknown_symbols_id_is_still_a_usage_error(run_cli):
    assert run_cli(["rules", "show", "symbols-no-such-family"])[0] == 2
