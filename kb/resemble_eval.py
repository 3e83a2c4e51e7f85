"""How well the resemblance layer (:mod:`tfhelp.kb.resemble`) does on what the project has.

Used by tests/test_resemble_eval.py (floors that must hold) and benchmarks/bench_resemble.py (the
figures). Three measures, none of which reads the held-out set:

* **Fragments**: every rule's inline ``examples.match`` text cut three ways a user would paste it -
  its last line, its final message without the exception class, and a truncated prefix of that
  line - must get that rule as the top answer (by its own pattern or by resemblance), or no answer;
  a *different* rule on top is an error.
* **Leave-one-out**: each example's indexed lines, with that whole example taken out of the index,
  must still be found (as their rule) from the rule's other examples.
* **False positives**: inputs that must get no resemblance answer (corpus/clean, user errors).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tfhelp.kb import resemble, resemble_text
from tfhelp.kb.resemble import Resemblance
from tfhelp.kb.normalize import clean_lines

#: How much of a line the truncated-prefix fragment keeps.
PREFIX_SHARE = 0.6


@dataclass
class Tally:
    total: int = 0
    own: int = 0           # own rule on top
    by_resemblance: int = 0
    abstained: int = 0
    wrong: list = field(default_factory=list)  # (kind, rule id, fragment, answered id)

    @property
    def own_rate(self) -> float:
        return self.own / self.total if self.total else 1.0

    @property
    def error_rate(self) -> float:
        return len(self.wrong) / self.total if self.total else 0.0


def fragments(text: str) -> dict:
    """kind -> fragment for one example text; a kind is left out when it would equal the text or
    another kind, or when the example has no exception line (no message to strip)."""
    lines = [ln for ln in clean_lines(text) if ln.strip()]
    if not lines:
        return {}
    out = {}
    last = lines[-1].strip()
    if len(lines) > 1:
        out["last-line"] = last
    exc = [ln.strip() for ln in lines if resemble_text._EXC_PREFIX.match(ln.strip())]
    if exc:
        msg = resemble.message_of(exc[-1])
        if msg and msg != exc[-1]:
            out["no-class"] = msg
    base = out.get("no-class") or last
    cut = base[: max(1, int(len(base) * PREFIX_SHARE))].rstrip()
    if len(cut) >= 12 and cut != base:
        out["prefix"] = cut
    return out


def evaluate_fragments(engine, ruleset) -> dict:
    """kind -> Tally over every rule's inline match examples."""
    tallies: dict = {}
    for rule in ruleset.rules:
        for ex in rule.examples_match:
            if not ex.get("text"):
                continue
            for kind, frag in fragments(ex["text"]).items():
                t = tallies.setdefault(kind, Tally())
                t.total += 1
                ds = engine.diagnose(frag).diagnoses
                top = ds[0] if ds else None
                if top is None:
                    t.abstained += 1
                elif top.id == rule.id or top.id in rule.symptom_of or rule.id in top.rule.symptom_of:
                    t.own += 1  # the rule, or its root cause / its symptom (the engine links them)
                    if isinstance(top, resemble.Resemblance):
                        t.by_resemblance += 1
                elif isinstance(top, resemble.Resemblance):
                    t.wrong.append((kind, rule.id, frag, top.id))
                else:
                    t.total -= 1  # another rule's own pattern fired: not this layer's doing
    return tallies


def leave_one_out(ruleset) -> Tally:
    """Each example's indexed lines, searched with that example left out of the index."""
    idx = resemble.index_for(ruleset)
    by_example: dict = {}
    for eid, e in enumerate(idx.entries):
        if not e.negative:
            by_example.setdefault((e.rule, e.example), []).append(eid)
    t = Tally()
    for (ri, _ex), eids in sorted(by_example.items()):
        usable = [eid for eid in eids if resemble.self_sufficient(idx, ruleset, eid)]
        if not usable:
            continue
        for eid in usable:
            e = idx.entries[eid]
            t.total += 1
            m = resemble.best_match([e.text], ruleset, [0], idx, exclude=frozenset(eids))
            if m is None:
                t.abstained += 1
            elif m.rule is ruleset.rules[ri] or m.rule.id in ruleset.rules[ri].symptom_of \
                    or ruleset.rules[ri].id in m.rule.symptom_of:
                t.own += 1
            else:
                t.wrong.append(("loo", ruleset.rules[ri].id, e.text, m.rule.id))
    return t


def false_positives(engine, texts: list) -> list:
    """(text, rule id) for every text that got a resemblance answer."""
    out = []
    for text in texts:
        for d in engine.diagnose(text).diagnoses:
            if isinstance(d, resemble.Resemblance):
                out.append((text, d.id))
    return out


def corpus_cases(root) -> list:
    """(case folder, text, expected ids) of every corpus entry with a pasted input or a log."""
    import yaml

    out = []
    for meta in sorted(root.glob("*/*/meta.yaml")):
        case = meta.parent
        for name in ("input.txt", "run.log"):
            f = case / name
            if f.is_file():
                data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
                out.append((case, f.read_bytes().decode("utf-8", "replace"), list(data.get("expected") or [])))
                break
    return out


def corpus_check(engine, root) -> dict:
    """Resemblance answers on the corpus: ``clean`` (cases expecting nothing) that got one, and
    ``wrong`` (a resemblance on top that is not an expected id)."""
    clean, wrong, answered = [], [], 0
    for case, text, expected in corpus_cases(root):
        ds = engine.diagnose(text).diagnoses
        res = [d for d in ds if isinstance(d, Resemblance)]
        if not res:
            continue
        answered += 1
        if not expected:
            clean.append((str(case), res[0].id))
        elif ds[0] is res[0] and res[0].id not in expected:
            wrong.append((str(case), res[0].id, expected))
    return {"cases": len(corpus_cases(root)), "answered": answered, "clean": clean, "wrong": wrong}
