"""Resemblance layer (kb/resemble.py): what it adds to rule-set load and to a diagnosis, and how
well it answers - all measured in one run against the engine without the layer.

Cost, CPU time (``time.process_time``; the machines are shared, wall time is mostly waiting),
medians over interleaved rounds:

* rule-set load: ``load_ruleset()`` from its warm cache, against the same plus the resemblance
  index from its warm cache (what an abstaining ``tfhelp < err.txt`` pays on top); the cold
  index build (first run after a rule edit) is reported beside it.
* per diagnosis: ``Engine.diagnose`` with and without the layer on (a) inputs no rule explains
  (the real user errors of tests/test_resemble_user_errors.py: the layer runs and finds nothing),
  (b) a 40-line traceback a rule explains (the layer returns at once); and (c) an answer by
  resemblance (a fragment) against the same rule's answer by its own pattern (the full example).

Quality, on what the project has (never heldout/): every rule's match examples cut to their last
line, to the message without the exception class and to a 60 % prefix (own rule on top, with and
without the layer; wrong answers), leave-one-out over the rules' own examples, and false
positives on corpus/clean and the user-error set.

``python benchmarks/bench_resemble.py [--repeat N] [--json FILE]``
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from common import ROOT, print_table, row, time_fn

sys.path.insert(0, str(ROOT / "tests"))

from tfhelp.kb import resemble, resemble_eval, resemble_index  # noqa: E402
from tfhelp.kb.engine import Engine  # noqa: E402
from tfhelp.kb.loader import load_ruleset  # noqa: E402

TRACEBACK = ROOT / "benchmarks" / "data" / "traceback-40.txt"


def _cpu(fn, repeat: int) -> float:
    """CPU time, not wall: the machine's load moves wall time more than the layer does."""
    return time_fn(fn, repeat, clock=time.process_time)


class _LayerOff:
    """Within the block, the engine runs without the resemblance layer."""

    def __enter__(self):
        self.saved = resemble.attach
        resemble.attach = lambda *a, **k: None

    def __exit__(self, *exc):
        resemble.attach = self.saved


def cost(repeat: int) -> tuple:
    """(rows, figures) of the timing part."""
    from test_resemble_user_errors import TEXTS

    load_ruleset(user_rules=False)  # warm the rule cache
    resemble.index_for(load_ruleset(user_rules=False))  # and the index cache
    rows, figs = [], {}

    def load_only():
        load_ruleset(user_rules=False)

    def load_and_index():
        resemble.index_for(load_ruleset(user_rules=False))

    base, with_index = [], []
    for _ in range(repeat):  # interleaved: a burst of load hits both alike
        base.append(_cpu(load_only, 1))
        with_index.append(_cpu(load_and_index, 1))
    b, w = statistics.median(base), statistics.median(with_index)
    rs = load_ruleset(user_rules=False)
    cold = _cpu(lambda: resemble_index.build_index(rs), max(3, repeat // 3))
    rows.append(row("rule-set load + index (warm caches)", w * 1000, b * 1000, 1.5, unit="ms",
                    note=f"cold index build {cold * 1000:.1f} ms"))
    figs.update(load_ms=b * 1000, load_with_index_ms=w * 1000, cold_index_build_ms=cold * 1000)

    engine = Engine(rs)
    fragments, originals = [], []
    for rule in rs.rules:
        for ex in rule.examples_match:
            if ex.get("text"):
                f = resemble_eval.fragments(ex["text"]).get("prefix")
                if f and isinstance((engine.diagnose(f).diagnoses or [None])[0], resemble.Resemblance):
                    fragments.append(f)
                    originals.append(ex["text"])
    fragments, originals = fragments[:40], originals[:40]

    def answer_cost(texts):
        def go():
            for t in texts:
                engine.diagnose(t)
        return go

    # an answer by resemblance against the same rule's answer to the full example (its pattern)
    on, base_ = [], []
    for _ in range(repeat):
        on.append(_cpu(answer_cost(fragments), 1))
        base_.append(_cpu(answer_cost(originals), 1))
    n = max(1, len(fragments))
    m_on, m_base = statistics.median(on) / n, statistics.median(base_) / n
    rows.append(row(f"answer by resemblance vs the rule's own match of the full example (n={len(fragments)})",
                    m_on * 1000, m_base * 1000, 2.0, unit="ms", note=f"{(m_on - m_base) * 1000:+.3f} ms per answer"))
    figs["answer_ms"] = {"by_resemblance": m_on * 1000, "by_pattern_full_example": m_base * 1000}
    traceback = TRACEBACK.read_text(encoding="utf-8")
    for name, texts in (("abstaining user errors", TEXTS), ("40-line traceback a rule explains", [traceback])):
        def run_all(texts=texts):
            for t in texts:
                engine.diagnose(t)

        on, off = [], []
        for _ in range(repeat):
            on.append(_cpu(run_all, 1))
            with _LayerOff():
                off.append(_cpu(run_all, 1))
        n = len(texts)
        m_on, m_off = statistics.median(on) / n, statistics.median(off) / n
        # a one-line diagnosis costs a tenth of a millisecond: the ratio is loose, the note is the figure
        rows.append(row(f"diagnose: {name} (per input, n={n})", m_on * 1000, m_off * 1000,
                        3.0 if n > 1 else 1.1, unit="ms", note=f"+{(m_on - m_off) * 1000:.3f} ms per diagnosis"))
        figs[f"diagnose_ms[{name}]"] = {"with_layer": m_on * 1000, "without": m_off * 1000}
    return rows, figs


def quality() -> dict:
    """The evaluation figures (see module docstring)."""
    from test_resemble_user_errors import TEXTS

    rs = load_ruleset(user_rules=False)
    engine = Engine(rs)
    out = {}
    with _LayerOff():
        before = resemble_eval.evaluate_fragments(engine, rs)
    after = resemble_eval.evaluate_fragments(engine, rs)
    for kind, t in after.items():
        b = before[kind]
        out[f"fragments[{kind}]"] = {"n": t.total, "own_rule_top": t.own, "rate": round(t.own_rate, 3),
                                     "by_resemblance": t.by_resemblance, "without_layer": b.own,
                                     "without_layer_rate": round(b.own_rate, 3), "abstained": t.abstained,
                                     "wrong": len(t.wrong), "wrong_examples": t.wrong[:5]}
    loo = resemble_eval.leave_one_out(rs)
    out["leave_one_out"] = {"n": loo.total, "found": loo.own, "rate": round(loo.own_rate, 3),
                            "abstained": loo.abstained, "wrong": len(loo.wrong), "wrong_examples": loo.wrong[:5]}
    fp = resemble_eval.false_positives(engine, TEXTS)
    out["user_errors"] = {"n": len(TEXTS), "false_positives": len(fp), "rate": round(len(fp) / len(TEXTS), 3)}
    corpus = resemble_eval.corpus_check(engine, ROOT / "corpus")
    clean = [c for c in resemble_eval.corpus_cases(ROOT / "corpus") if not c[2]]
    out["corpus"] = {"cases": corpus["cases"], "answered_by_resemblance": corpus["answered"],
                     "clean_cases": len(clean), "clean_false_positives": len(corpus["clean"]),
                     "wrong_top": len(corpus["wrong"])}
    return out


def run(repeat: int = 7) -> list:
    """Rows for benchmarks/run_all.py."""
    return cost(repeat)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    rows, figs = cost(args.repeat)
    print_table(rows)
    q = quality()
    for k, v in q.items():
        print(f"{k}: " + ", ".join(f"{a}={b}" for a, b in v.items() if a != "wrong_examples"))
        for w in v.get("wrong_examples") or []:
            print(f"    wrong: {w}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"cost": figs, "quality": q}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
