"""Matching scale: one traceback against the shipped rules, then with 1,000 and 10,000 synthetic rules.

Target (issue 7): at 10,000 extra rules, under 5x the time with the shipped rules alone - the
prefilter (one Aho-Corasick pass over all anchors) must keep cost from growing with the rule count.
Synthetic rules look like real ones (a literal and a regex on error-like text, fixes, examples)
but their anchors do not occur in the traceback, as for almost every rule in practice.
"""
from __future__ import annotations

import random

from common import ROOT, print_table, row, time_fn

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import RuleSet, load_ruleset
from tfhelp.kb.model import Fix, Matcher, Rule

WORDS = ("tensor graph kernel device stream allocator layer optimizer shape dtype session checkpoint "
         "runtime plugin factory buffer handle context executor module symbol library loader").split()


def synthetic(n: int, seed: int = 7) -> list:
    rnd = random.Random(seed)
    rules = []
    for i in range(n):
        words = " ".join(rnd.choice(WORDS) for _ in range(4))
        lit = f"synthetic {words} failure {i}"
        rules.append(Rule(
            id=f"synthetic-{i}", title=f"Synthetic {i}", category="import",
            severity=rnd.choice(["fatal", "degraded", "warning"]), summary="s", cause="c",
            references=["https://example.org"],
            all=[Matcher(name="lit", type="literal", part="line", value=lit)],
            any=[Matcher(name="rx", type="regex", part="line", value=rf"code (?P<code>\d+) in {rnd.choice(WORDS)}")],
            none=[], fixes=[Fix(title="t", steps=[{"action": "manual", "text": "x"}])],
            examples_match=[], examples_no_match=[], anchors=[lit.lower()]))
    return rules


def run(repeat: int = 7) -> list:
    shipped = load_ruleset(user_rules=False)
    text = (ROOT / "benchmarks" / "data" / "traceback-40.txt").read_bytes()
    rows = []
    base_engine = Engine(RuleSet(rules=list(shipped.rules)))
    base_engine.diagnose(text)  # build the automaton once, like a warm REPL
    base = time_fn(lambda: base_engine.diagnose(text), repeat=repeat)
    for extra, target in ((1000, 5.0), (10000, 5.0)):
        eng = Engine(RuleSet(rules=list(shipped.rules) + synthetic(extra)))
        eng.diagnose(text)
        t = time_fn(lambda: eng.diagnose(text), repeat=repeat)
        rows.append(row(f"matching: shipped + {extra:,} rules", t * 1000, base * 1000, target, unit="ms",
                        note=f"{len(shipped.rules)} shipped rules"))
    return rows


if __name__ == "__main__":
    print_table(run())
