"""Rules about rules: everything ``tfhelp rules lint`` and ``tfhelp rules test`` check.

Loading already validates each file on its own (schema, regexes, requirements, anchors). This
module adds what needs the whole rule base or the compatibility model: duplicate ids and titles,
dangling ``related`` / ``symptom_of`` ids, pip steps that break a version their ``when`` allows
(TFH018, :mod:`tfhelp.kb.fixcheck`), too few match examples (TFH105) or no one-line one (TFH106),
and running
every rule's own examples through the real engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tfhelp.kb.environment import Environment
from tfhelp.kb.model import Problem


def cross_check(rules: list) -> list:
    problems = []
    ids: dict = {}
    titles: dict = {}
    for r in rules:
        if r.id in ids:
            problems.append(Problem(r.path, 1, "TFH002", f"duplicate id {r.id!r} (also in {ids[r.id]})"))
        ids.setdefault(r.id, r.path)
        t = r.title.strip().lower()
        if t in titles:
            problems.append(Problem(r.path, 1, "TFH002", f"duplicate title {r.title!r} (also in {titles[t]})"))
        titles.setdefault(t, r.path)
    for r in rules:
        for key in ("related", "symptom_of"):
            for other in getattr(r, key):
                if other not in ids:
                    problems.append(Problem(r.path, 1, "TFH012", f"`{key}` names unknown rule id {other!r}"))
    return problems


@dataclass
class ExampleResult:
    rule_id: str
    kind: str  # match | no_match
    index: int
    ok: bool
    detail: str
    path: str
    line: int


def corpus_root() -> Optional[Path]:
    """The repository's corpus/ folder when running from a checkout (examples may point into it)."""
    here = Path(__file__).resolve().parent.parent
    cand = here / "corpus"
    return cand if cand.is_dir() else None


def _example_text(ex: dict) -> Optional[str]:
    if "text" in ex:
        return ex["text"]
    root = corpus_root()
    if root is None:
        return None
    case = root / ex["corpus"]
    for name in ("input.txt", "run.log"):
        f = case / name if case.is_dir() else case
        if f.is_file():
            return f.read_bytes().decode("utf-8", errors="replace")
    return None


def run_examples(ruleset, only: Optional[set] = None) -> list:
    """Run every rule's examples against the full rule base.

    A ``match`` example passes when the rule is among the confident diagnoses; a ``no_match``
    example passes when it is not. Examples may carry ``env: {packages: ..., python, platform}``
    to exercise environment-dependent behaviour.
    """
    from tfhelp.kb.engine import Engine

    engine = Engine(ruleset)
    results = []
    for rule in ruleset.rules:
        if only and rule.id not in only:
            continue
        for kind, items in (("match", rule.examples_match), ("no_match", rule.examples_no_match)):
            for i, ex in enumerate(items):
                text = _example_text(ex)
                line = ex.get("line", 1)
                if text is None and corpus_root() is None:
                    continue  # an installed wheel ships no corpus; inline examples still run
                if text is None:
                    results.append(ExampleResult(rule.id, kind, i, False, f"corpus case {ex.get('corpus')!r} not found",
                                                 rule.path, line))
                    continue
                env = None
                if ex.get("env"):
                    e = ex["env"]
                    env = Environment(packages=e.get("packages", {}), python=e.get("python"),
                                      platform=e.get("platform"), source="probe")
                report = engine.diagnose(text, env=env)
                ids = [d.id for d in report.diagnoses]
                hit = rule.id in ids
                if kind == "match":
                    ok = hit
                    if ok:
                        detail = "matched"
                    else:
                        rel = next((d for d in report.related if d.id == rule.id), None)
                        detail = f"not diagnosed ({rel.why_not})" if rel else "not diagnosed (no matcher hit)"
                else:
                    ok = not hit
                    detail = "not matched" if ok else "diagnosed but must not be"
                results.append(ExampleResult(rule.id, kind, i, ok, detail, rule.path, line))
    return results


MIN_MATCH_EXAMPLES = 3


def _needs_context(rule) -> bool:
    """The rule states (examples.needs_context) why no single line identifies its problem, e.g. a
    pip failure that only means "32-bit Python" next to the interpreter banner. Read from the file:
    only the few rules without a one-line example get here."""
    if not rule.path:
        return False
    try:
        from tfhelp.kb.schema import load_yaml

        data, _ = load_yaml(Path(rule.path).read_text(encoding="utf-8"), rule.path)
    except (OSError, UnicodeDecodeError):
        return False
    ex = data.get("examples") if isinstance(data, dict) else None
    nc = ex.get("needs_context") if isinstance(ex, dict) else None
    return isinstance(nc, str) and bool(nc.strip())


def example_coverage(rules: list) -> list:
    """Advisories about what a rule's match examples prove.

    TFH105: fewer than 3 match examples - one report's wording is not evidence that the pattern
    generalises to the next reporter's. TFH106: no single-line match example - people paste the
    last line alone or use it as an issue title, and a rule only tested on full tracebacks (which
    may rely on a frame line or a second message) silently misses that fragment; the rule may
    instead say in `examples.needs_context` why one line can never identify its problem."""
    problems = []
    for r in rules:
        texts = [_example_text(e) for e in r.examples_match]
        if any(t is None for t in texts) and corpus_root() is None:
            continue  # installed without the corpus: can't count
        line = r.examples_match[0].get("line", 1) if r.examples_match else 1
        if len(texts) < MIN_MATCH_EXAMPLES:
            problems.append(Problem(r.path, line, "TFH105",
                                    f"{len(texts)} match example(s), want >= {MIN_MATCH_EXAMPLES}"))
        one_line = [t for t in texts if t is not None and len(t.strip().splitlines()) == 1]
        if not one_line and not _needs_context(r):
            problems.append(Problem(r.path, line, "TFH106",
                                    "no one-line match example (the fragment people paste into an issue "
                                    "title); if one line can never identify it, say why in "
                                    "`examples.needs_context`"))
    return problems


def lint(ruleset, with_examples: bool = True) -> list:
    """All problems: load-time ones, cross-rule ones, pip steps against the compatibility model
    (TFH018), example coverage (TFH105, TFH106) and failing examples (TFH010)."""
    from tfhelp.kb.fixcheck import check_rules

    problems = list(ruleset.problems) + cross_check(ruleset.rules)
    problems += check_rules(ruleset.rules)
    problems += example_coverage(ruleset.rules)
    if with_examples:
        for res in run_examples(ruleset):
            if not res.ok:
                problems.append(Problem(res.path, res.line, "TFH010",
                                        f"example {res.kind}[{res.index}] of {res.rule_id}: {res.detail}"))
    return problems
