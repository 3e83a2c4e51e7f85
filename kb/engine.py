"""Match rules against an input and rank what fired.

Pipeline: normalise -> parse (exceptions, frames, log lines, facts) -> prefilter (one automaton
pass over all rules' anchors) -> evaluate each candidate rule's all / any / none matchers ->
weigh the environment (confirm / contradict / unknown) -> choose each rule's fixes for the
environment -> rank (root causes above symptoms, harmless last) -> abstain when nothing is
confident, keeping near misses as ``related``.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Callable, Optional

from tfhelp.kb.environment import Environment, evaluate_when
from tfhelp.kb.normalize import clean_lines
from tfhelp.kb.parse import parse
from tfhelp.kb.report import Diagnosis, Evidence, Report
from tfhelp.kb.templates import Unresolved, fill

#: Below this score a fired rule is shown as related, not as a diagnosis.
MIN_SCORE = 60
SEVERITY_RANK = {"fatal": 0, "degraded": 1, "warning": 2, "harmless": 3}
CONFIDENCE_FACTOR = {"high": 1.0, "medium": 0.9, "low": 0.8}
MAX_HITS = 8  # evidence lines kept per matcher
MAX_FUZZY_LINES = 2000


class Document:
    """One input, cleaned and indexed for the matchers."""

    def __init__(self, data):
        self.lines = clean_lines(data)
        self.text = "\n".join(self.lines)
        self.lower = self.text.lower()
        starts = []
        pos = 0
        for line in self.lines:
            starts.append(pos)
            pos += len(line) + 1
        self.starts = starts
        self.parsed = parse(self.lines)
        self._lower_lines = None

    @property
    def lower_lines(self) -> list:
        if self._lower_lines is None:
            self._lower_lines = self.lower.split("\n")
        return self._lower_lines

    def line_of(self, offset: int) -> int:
        """0-based line index of a character offset in ``text``."""
        return bisect_right(self.starts, offset) - 1


class _Hit:
    __slots__ = ("quality", "lines", "captures")

    def __init__(self, quality: float, lines: list, captures: Optional[dict] = None):
        self.quality = quality
        self.lines = lines
        self.captures = captures or {}


def _match_literal(m, doc: Document, anchors) -> Optional[_Hit]:
    if m.part == "line":
        hay, needle = (doc.text, m.value) if m.case_sensitive else (doc.lower, m.value.lower())
        lines = []
        start = 0
        while len(lines) < MAX_HITS:
            pos = hay.find(needle, start)
            if pos < 0:
                break
            li = doc.line_of(pos)
            if not lines or lines[-1] != li:
                lines.append(li)
            # jump to the next line: one evidence entry per line is enough
            start = doc.starts[li + 1] if li + 1 < len(doc.starts) else len(hay)
        return _Hit(1.0, lines) if lines else None
    if m.part == "message":
        needle = m.value if m.case_sensitive else m.value.lower()
        lines = [i for i, msg in doc.parsed.message_lines.items()
                 if needle in (msg if m.case_sensitive else msg.lower())]
        return _Hit(1.0, sorted(lines)[:MAX_HITS]) if lines else None
    if m.part == "exception":
        want = m.value.lower()
        lines = [e.line - 1 for e in doc.parsed.exceptions
                 if e.type.lower() == want or e.type.lower().rsplit(".", 1)[-1] == want]
        return _Hit(1.0, lines[:MAX_HITS]) if lines else None
    if m.part == "frame":
        needle = m.value if m.case_sensitive else m.value.lower()
        lines = [i for i in doc.parsed.frame_lines
                 if needle in (doc.lines[i] if m.case_sensitive else doc.lower_lines[i])]
        return _Hit(1.0, lines[:MAX_HITS]) if lines else None
    return None


def _match_regex(m, doc: Document, anchors) -> Optional[_Hit]:
    rx = m.regex
    if m.part == "line":
        lines, captures = [], None
        for mo in rx.finditer(doc.text):
            li = doc.line_of(mo.start())
            if captures is None:
                captures = {k: v for k, v in mo.groupdict().items() if v is not None}
            if not lines or lines[-1] != li:
                lines.append(li)
            if len(lines) >= MAX_HITS:
                break
        return _Hit(1.0, lines, captures) if lines else None
    if m.part == "exception":
        items = [(e.line - 1, e.type) for e in doc.parsed.exceptions]
    elif m.part == "message":
        items = sorted(doc.parsed.message_lines.items())
    else:  # frame
        items = [(i, doc.lines[i]) for i in doc.parsed.frame_lines]
    lines, captures = [], None
    for li, s in items:
        mo = rx.search(s)
        if mo:
            if captures is None:
                captures = {k: v for k, v in mo.groupdict().items() if v is not None}
            lines.append(li)
            if len(lines) >= MAX_HITS:
                break
    return _Hit(1.0, lines, captures) if lines else None


def _match_fuzzy(m, doc: Document, anchors) -> Optional[_Hit]:
    from rapidfuzz import fuzz

    value = m.value.lower()
    if m.part == "message":
        items = [(i, msg.lower()) for i, msg in doc.parsed.message_lines.items()]
    else:
        lower_lines = doc.lower_lines
        if anchors:
            items = [(i, s) for i, s in enumerate(lower_lines) if any(a in s for a in anchors)]
        else:
            items = list(enumerate(lower_lines))
        items = items[:MAX_FUZZY_LINES]
    best, best_lines = 0.0, []
    for i, s in items:
        if not s:
            continue
        score = fuzz.partial_ratio(value, s, score_cutoff=m.threshold)
        if score > best:
            best, best_lines = score, [i]
        elif score and score == best and len(best_lines) < MAX_HITS:
            best_lines.append(i)
    return _Hit(best / 100.0, best_lines) if best else None


_MATCHERS = {"literal": _match_literal, "regex": _match_regex, "fuzzy": _match_fuzzy}


def match_rule(rule, doc: Document):
    """Evaluate one rule. Returns (fired, quality, evidence_lines, captures, matched, missed)."""
    matched, missed, lines, captures = [], [], set(), {}
    qualities = []
    for m in rule.all:
        hit = _MATCHERS[m.type](m, doc, rule.anchors)
        if hit is None:
            missed.append(m.name)
            continue
        matched.append(m.name)
        qualities.append(hit.quality)
        lines.update(hit.lines)
        for k, v in hit.captures.items():
            captures.setdefault(k, v)
    any_ok = not rule.any
    best_any = 0.0
    for m in rule.any:
        hit = _MATCHERS[m.type](m, doc, rule.anchors)
        if hit is None:
            missed.append(m.name)
            continue
        any_ok = True
        matched.append(m.name)
        best_any = max(best_any, hit.quality)
        lines.update(hit.lines)
        for k, v in hit.captures.items():
            captures.setdefault(k, v)
    if rule.any and any_ok:
        qualities.append(best_any)
    excluded = []
    if not missed or any_ok:
        for m in rule.none:
            if _MATCHERS[m.type](m, doc, rule.anchors) is not None:
                excluded.append(m.name)
    fired = (not any(n in missed for n in (m.name for m in rule.all))) and any_ok and not excluded
    quality = sum(qualities) / len(qualities) if qualities else 0.0
    return fired, quality, sorted(lines), captures, matched, missed, excluded


def _env_reason(when: Optional[dict], env: Optional[Environment], verdict) -> str:
    if not when or env is None or verdict is None:
        return ""
    parts = []
    for dist, spec in (when.get("packages") or {}).items():
        v = env.version(dist)
        parts.append(f"{dist} {v or 'not installed'} (rule: {spec or 'any'})")
    if when.get("python"):
        parts.append(f"Python {env.python or '?'} (rule: {when['python']})")
    if when.get("platform"):
        parts.append(f"platform {env.platform or '?'} (rule: {', '.join(when['platform'])})")
    word = "confirmed by" if verdict else "contradicted by"
    return f"{word} the {'probed' if env.source == 'probe' else 'inferred'} environment: " + "; ".join(parts)


def _fill_step(step: dict, captures: dict, env, names: set) -> dict:
    """Fill one step; an unresolvable ``file_hint`` is dropped instead of rejecting the fix."""
    hint = step.get("file_hint")
    rest = {k: v for k, v in step.items() if k != "file_hint"}
    out = fill(rest, captures, env, names)
    if hint is not None:
        try:
            out["file_hint"] = fill(hint, captures, env, names | {"file", "line"})
        except Unresolved:
            pass
    return out


def resolve_fixes(rule, env: Optional[Environment], captures: Optional[dict] = None,
                  failed_before: Optional[Callable] = None) -> list:
    """The rule's fix alternatives that fit ``env``, placeholders filled, best first."""
    captures = captures or {}
    names = rule.captures
    chosen = []
    for order, fix in enumerate(rule.fixes):
        fits = evaluate_when(fix.when, env) if fix.when else None
        if fits is False:
            continue
        try:
            steps = [_fill_step(s, captures, env, names) for s in fix.steps]
            title = fill(fix.title, captures, env, names)
        except Unresolved:
            continue
        failed = bool(failed_before and failed_before(rule.id, title))
        chosen.append((failed, 0 if fits else 1, order,
                       {"title": title, "steps": steps, "fits": fits, "failed_before": failed}))
    chosen.sort(key=lambda t: t[:3])
    return [c[3] for c in chosen]


def mark_seen_code(fixes: list, doc: Document) -> list:
    """Set ``seen_in_input`` on every code_change step: True only when each line of its ``before``
    appears in the input (so it may be shown as a diff of the user's code); otherwise renderers show
    it as a pattern to look for, never as a line from the user's file."""
    have = None
    for fix in fixes:
        for step in fix["steps"]:
            if step.get("action") != "code_change":
                continue
            if have is None:
                have = {ln.strip() for ln in doc.lines if ln.strip()}
            want = [ln.strip() for ln in str(step.get("before") or "").splitlines() if ln.strip()]
            step["seen_in_input"] = bool(want) and all(w in have for w in want)
    return fixes


#: Score of a diagnosis from the symbol table / pip conflict parser (kb/structural.py), per confidence.
STRUCTURAL_SCORE = {"high": 80, "medium": 70}


def _structural(doc: Document, env, fired: list) -> None:
    """No dedicated rule explained the input: answer its structural facts (moved / removed names,
    pip pin conflicts) from data. Logic and data load live in kb/structural.py, imported only here."""
    from tfhelp.kb import structural

    if not any(t in doc.lower for t in structural.TRIGGERS):
        return
    found, facts = structural.diagnose(doc, env)
    if facts:
        doc.parsed.facts["structural"] = [f.to_json() for f in facts]
    # A fired rule (only harmless ones can be here) whose evidence covers the fact's line explains
    # it more specifically than the table does: that line gets no second, fatal-looking answer.
    explained = {e.line for d in fired for e in d.evidence}
    for rule, fixes, lines, fact in found:
        if any(i + 1 in explained for i in lines):
            continue
        evidence = [Evidence(i + 1, doc.lines[i]) for i in lines]
        score = STRUCTURAL_SCORE.get(rule.confidence, 70) + (5 if fact.confirmed else 0)
        fired.append(Diagnosis(rule, score, evidence, mark_seen_code(fixes, doc), confirmed=fact.confirmed,
                               env_reason=fact.env_reason, first_line=lines[0] + 1 if lines else 0))


class Engine:
    """Diagnose inputs against one rule set. Cheap to keep around; thread-compatible."""

    def __init__(self, ruleset):
        self.ruleset = ruleset

    def diagnose(self, data, env: Optional[Environment] = None, max_related: int = 5,
                 failed_before: Optional[Callable] = None, rules: Optional[list] = None,
                 crash: bool = True) -> Report:
        """``crash``: also find what ended the run (:mod:`tfhelp.kb.crash`); the log scanner,
        which diagnoses windows of a log, does that once for the whole log instead."""
        doc = Document(data)
        text_env = Environment.from_facts(doc.parsed.facts)
        eff_env = text_env.merged(env) if env is not None else (text_env if text_env.known else None)
        notes = []
        if env is not None and env.source == "probe" and text_env.python and env.python:
            if not env.python.startswith(text_env.python):
                notes.append(
                    f"The input's paths point to Python {text_env.python}, but the probed interpreter is "
                    f"Python {env.python}{' (' + env.facts['executable'] + ')' if env.facts.get('executable') else ''}. "
                    "The error may come from another environment: pass --python to probe that one.")
        candidates = rules if rules is not None else self.ruleset.candidates(doc.lower)
        fired, near = [], []
        for rule in candidates:
            ok, quality, lines, captures, matched, missed, excluded = match_rule(rule, doc)
            if doc.parsed.user_frame is not None:
                captures.setdefault("file", doc.parsed.user_frame[0])
                captures.setdefault("line", str(doc.parsed.user_frame[1]))
            evidence = [Evidence(i + 1, doc.lines[i]) for i in lines[:MAX_HITS]]
            first = lines[0] + 1 if lines else 0
            if not ok:
                if matched:
                    why = (f"excluded by {', '.join(excluded)}" if excluded
                           else f"did not match: {', '.join(missed)}")
                    near.append((len(matched), Diagnosis(rule, int(round(quality * 50)), evidence, [], captures,
                                                         matched, missed, first_line=first, why_not=why)))
                continue
            score = int(round(100 * quality * CONFIDENCE_FACTOR.get(rule.confidence, 1.0)))
            # Only a probed environment may contradict a text match; versions read from the text
            # itself are too weak to overrule it, but they may confirm it.
            verdict = None
            if rule.when:
                strong = evaluate_when(rule.when, env) if env is not None else None
                verdict = False if strong is False else (evaluate_when(rule.when, eff_env) or None)
            if verdict is True:
                score = min(100, score + 5)
            d = Diagnosis(rule, score, evidence, mark_seen_code(resolve_fixes(rule, eff_env, captures, failed_before),
                                                                doc), captures,
                          matched, missed, confirmed=verdict, env_reason=_env_reason(rule.when, eff_env, verdict),
                          first_line=first)
            if verdict is False:
                d.score = score // 2
                d.why_not = d.env_reason
                near.append((len(matched) + 100, d))
            elif score < MIN_SCORE:
                d.why_not = f"score {score} below {MIN_SCORE}"
                near.append((len(matched) + 50, d))
            else:
                fired.append(d)
        if rules is None and all(d.rule.severity == "harmless" for d in fired):
            _structural(doc, eff_env, fired)
        ids = {d.id for d in fired}
        for d in fired:
            for root in d.rule.symptom_of:
                if root in ids and root != d.id:
                    d.symptom = root
                    break
        fired.sort(key=lambda d: (d.rule.severity == "harmless", d.symptom is not None,
                                  SEVERITY_RANK.get(d.rule.severity, 9), -d.score, d.rule.priority,
                                  d.first_line, d.id))
        near.sort(key=lambda t: (-t[0], -t[1].score, t[1].id))
        related = [d for _, d in near[:max_related]]
        report = Report(diagnoses=fired, related=related, lines=len(doc.lines), exceptions=doc.parsed.exceptions,
                        facts=doc.parsed.facts, environment=eff_env, notes=notes)
        if crash:
            from tfhelp.kb.crash import attach, detect

            attach(report, detect(doc.lines))
        if rules is None and crash and all(d.rule.severity == "harmless" for d in report.diagnoses):
            # Last resort for fragments / rewordings no matcher knows: resemblance to rules' own
            # examples (kb/resemble.py, imported only here). After attach: it never explains a crash.
            from tfhelp.kb import resemble

            resemble.attach(report, doc, self.ruleset, eff_env, failed_before)
        return report
