"""Last resort: answer a fragment or a reworded error by its resemblance to rules' own examples.

People paste one line (an issue title, the message without its exception class, a line cut short
by a terminal or another TF/Keras generation's wording) of an error a rule knows, and no
matcher fires. Every rule carries real texts it must match (``examples.match``) and near misses
it must not (``examples.no_match``); this module finds the rule whose example lines the input's
*salient* lines (final exception messages, E/F-level log lines, pip ``ERROR:`` lines) most
resemble, with rapidfuzz, and reports it as a resemblance, never as a pattern match.

Precision comes first, because a wrong answer to a user's own bug (a shape mismatch, a typo) is
worse than none:

* Only example lines on which their rule fires *by themselves* are indexed: a line the author's
  matchers need context for (a frame, a second line) says nothing on its own, so a lookalike of
  it says nothing either.
* Distinctive tokens must agree: quoted names, dotted / underscored / digit-bearing identifiers,
  CamelCase and upper-case symbols, library names, versions (as a class). Every one the input
  line has must occur in the example (a cut-off last token may be a prefix), and at least one
  specific token (or two library names) must be shared. Generic words never count.
* Paths, numbers, hex and quote styles are masked before comparing, so they neither help nor hurt.
* A rule whose ``no_match`` examples resemble the input at least as much as its ``match``
  examples is dropped; two different rules within :data:`MARGIN` of each other make the input
  ambiguous and nothing is answered.

The answer (:class:`Resemblance`) scores below :data:`tfhelp.kb.engine.MIN_SCORE`, so any rule
match or structural answer outranks it, and it never marks a crash as explained (the engine
adds it after :func:`tfhelp.kb.crash.attach`). Its JSON says ``"matched_by": "resemblance"``
with the similarity and the example it resembled.

The index is built once per rule set, on first use (only an input nothing else explained pays
for it), cached on disk, and dropped with the rule set. Three modules: masking and tokens
(:mod:`tfhelp.kb.resemble_text`), the index and its cache (:mod:`tfhelp.kb.resemble_index`),
and here the comparison and the answer; :mod:`tfhelp.kb.resemble_eval` measures it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tfhelp.kb.report import Diagnosis, Evidence
from tfhelp.kb.resemble_index import Entry, Index, _keys, index_for, salient, self_sufficient
from tfhelp.kb.resemble_text import LIBRARIES, _last_token, _parts, analyse, message_of, shape, tokens

#: Lowest similarity (0-100, after masking) that may answer.
MIN_SIMILARITY = 84
#: An example found inside a longer input line must be nearly verbatim there.
EMBEDDED = 92
#: With a single library name as the only shared token, only a long near-verbatim line may answer.
VERBATIM = 95
VERBATIM_CHARS = 40
#: When a shared token occurs in one rule's examples only (np_utils), that token already says which
#: rule it is; the wording may differ more (No module named 'keras.utils.np_utils' beside
#: cannot import name 'np_utils' from 'keras.utils').
SIGNATURE_SIMILARITY = 70
#: ... and when the input and the example name exactly the same things, only differently worded.
SAME_NAMES_SIMILARITY = 58
#: A second rule this close to the best makes the input ambiguous.
MARGIN = 4
#: Diagnosis score = similarity * SCORE_FACTOR, capped below every real match (engine.MIN_SCORE 60).
SCORE_FACTOR = 0.55
SCORE_CAP = 55
#: Shortest masked text that may be compared by partial alignment (a fragment of a longer example).
MIN_PARTIAL = 16

LABEL = "looks like {title}; matched by resemblance to a known report, not by the rule's own pattern"


# -- comparing ---------------------------------------------------------------------------------
def similarity(query: str, example: str) -> tuple:
    """(0-100, span): the better of whole-string similarity and - when the shorter text is long
    enough to be a real fragment - the alignment of the shorter inside the longer (a truncated
    line, a message cut to its tail). ``span`` is the aligned (start, end) in ``example`` when the
    query is a fragment of it, else None (the whole example was compared)."""
    from rapidfuzz import fuzz

    best = fuzz.ratio(query, example)  # not token_sort: "no module" and "module ... has no" differ
    span = None
    if len(query) < len(example) and len(query) >= MIN_PARTIAL and len(query) * 10 >= len(example) * 3:
        al = fuzz.partial_ratio_alignment(query, example, score_cutoff=best + 0.01)
        if al is not None and al.score > best:
            best, span = al.score, (al.dest_start, al.dest_end)
    elif len(example) < len(query) and len(example) >= MIN_PARTIAL and len(example) * 10 >= len(query) * 3:
        # the example inside a longer input line (an issue title around it): only near-verbatim
        p = fuzz.partial_ratio(example, query, score_cutoff=EMBEDDED)
        best = max(best, p)
    return best, span


def covers(spec: tuple, last_token: str, span: Optional[tuple], keys: tuple, share: float = 0.5) -> bool:
    """Does the input hold what the rule needs of the example line - every ``all`` matcher's hit and
    one ``any`` matcher's hit? A hit is held when the input names each of its specific tokens (a
    cut-off last token may be their prefix); a hit without specific tokens (a plain phrase) when
    the input's aligned ``span`` overlaps at least ``share`` of it (compared whole: always)."""
    mine = set(spec)
    for t in spec:
        mine |= _parts(t)

    def held(key):
        where, toks = key
        if toks:
            return all(t in mine or any(_parts(t) <= _parts(x) for x in spec)
                       or (last_token and len(last_token) >= 3 and t.startswith(last_token)) for t in toks)
        if span is None or where is None:
            return True
        return min(span[1], where[1]) - max(span[0], where[0]) >= share * (where[1] - where[0])

    all_keys, any_keys = keys
    return all(held(k) for k in all_keys) and (not any_keys or any(held(k) for k in any_keys))


def _agrees(spec: tuple, libs: tuple, has_version: bool, e: Entry, last_token: str, soft: tuple = ()) -> tuple:
    """(level, shared specific tokens). Level 2: every distinctive token of the input occurs in the
    example (dotted names by their parts; the input's last token may be a cut-off prefix, which then
    only doesn't contradict), a version only beside a version, and they share a whole specific token
    (then the input may name libraries the example does not) or two library names. 1: only one
    library name is shared (enough only for a long near-verbatim line: :data:`VERBATIM`). 0: they
    disagree. ``soft`` tokens (read from paths) count when the example has them, never against."""
    shared = {t for t in soft if t in e.specific}
    for t in spec:
        if t == last_token:  # the line may end inside it: it must fit, but proves nothing
            if t in e.specific or (len(t) >= 3 and any(s.startswith(t) for s in e.specific | e.parts)):
                continue
            return 0, shared
        if t in e.specific:
            shared.add(t)
        elif ("." in t or "-" in t) and _parts(t) <= e.parts:
            shared |= _parts(t) - LIBRARIES
        else:
            return 0, shared
    if has_version and not e.has_version:
        return 0, shared
    if shared:
        return 2, shared
    for lib in libs:
        if lib not in e.libs and lib not in e.parts and lib not in e.specific:
            return 0, shared
    return (2 if len(libs) >= 2 else 1 if libs else 0), shared


def _near_miss(idx: Index, ri: int, sh: str, toks: tuple) -> float:
    """How much the input resembles the rule's ``no_match`` examples: those naming what the input
    names, or worded nearly as the input is (then whatever they name)."""
    spec, libs, ver, last, soft = toks
    best = 0.0
    for n in idx.negatives.get(ri, ()):
        neg = idx.entries[n]
        sim = similarity(sh, neg.shape)[0]
        if sim > best and (sim >= MIN_SIMILARITY or _agrees(spec, libs, ver, neg, last, soft)[0]):
            best = sim
    return best


def _same_names(spec: tuple, e: Entry) -> bool:
    """The input's specific names, split at dots, are exactly the example's."""
    mine = set()
    for t in spec:
        mine |= _parts(t)
    return bool(mine) and {p.lower() for p in mine} - LIBRARIES == set(e.parts) - LIBRARIES


@dataclass
class Match:
    rule: object
    similarity: float
    line: int          # 0-based index of the input line
    example: str       # the example line it resembled


def best_match(lines: list, ruleset, query: list, idx: Optional[Index] = None,
               exclude: frozenset = frozenset()) -> Optional[Match]:
    """The one rule that the ``query`` lines (indices into ``lines``) resemble, or None.
    ``exclude``: entry ids to ignore (leave-one-out evaluation)."""
    idx = idx if idx is not None else index_for(ruleset)
    per_rule: dict = {}
    for li in query:
        msg = message_of(lines[li])
        sh, spec, libs, ver, soft = analyse(msg)
        if len(sh) < 8:
            continue
        if not spec and not libs and not soft:
            continue  # nothing distinctive: a user's own error ("Shapes (None, 1) and ... incompatible")
        last = _last_token(msg)
        cand = set()
        for t in spec + libs + soft:
            cand.update(idx.by_token.get(t, ()))
            for p in _parts(t):
                cand.update(idx.by_token.get(p, ()))
        for eid in cand - exclude if exclude else cand:
            e = idx.entries[eid]
            agree, shared = _agrees(spec, libs, ver, e, last, soft)
            if not agree:
                continue
            sim, span = similarity(sh, e.shape)
            if agree == 1:
                floor = VERBATIM
            elif any(idx.unique_to(t, e.rule) for t in shared):
                # the same names in another sentence form (No module named 'keras.layers.merge' beside
                # cannot import name 'Merge' from 'keras.layers') may be compared more loosely
                floor = SAME_NAMES_SIMILARITY if _same_names(spec, e) else SIGNATURE_SIMILARITY
            else:
                floor = MIN_SIMILARITY
            if sim < floor or (agree == 1 and len(sh) < VERBATIM_CHARS):
                continue
            if not self_sufficient(idx, ruleset, eid):
                continue
            if not covers(spec + soft, last, span, _keys(idx, ruleset, eid)):
                continue
            prev = per_rule.get(e.rule)
            if prev is None or sim > prev[0]:
                per_rule[e.rule] = (sim, li, e, sh, (spec, libs, ver, last, soft))
    ranked = []
    for ri, (sim, li, e, sh, toks) in per_rule.items():
        if _near_miss(idx, ri, sh, toks) >= sim:
            continue  # closer to a near miss the rule's author wrote down than to its real texts
        ranked.append((sim, ri, li, e))
    if not ranked:
        return None
    ranked.sort(key=lambda t: (-t[0], t[1]))
    sim, ri, li, e = ranked[0]
    rule = ruleset.rules[ri]
    for sim2, rj, _, _ in ranked[1:]:
        if sim - sim2 > MARGIN:
            break
        other = ruleset.rules[rj]
        if rule.id in other.symptom_of:
            continue  # a symptom of the best one does not compete with it
        if other.id in rule.symptom_of:
            rule, ri = other, rj  # the root cause answers for its symptom
            continue
        return None  # two unrelated rules look alike: ambiguous
    return Match(rule, sim, li, e.text)


# -- the answer --------------------------------------------------------------------------------
@dataclass
class Resemblance(Diagnosis):
    """A diagnosis found by resemblance: lower score, labelled, and said so in JSON."""

    similarity: float = 0.0
    example: str = ""
    matched_by: str = "resemblance"

    @property
    def label(self) -> str:
        return LABEL.format(title=self.rule.title)

    def to_json(self) -> dict:
        out = super().to_json()
        out.update({"matched_by": self.matched_by, "confidence": "low",
                    "similarity": round(self.similarity / 100.0, 3), "resembles": self.example,
                    "label": self.label})
        return out


def _vetoed(rule, doc, env) -> bool:
    """The rule itself says no: one of its ``none`` matchers hits the input, or the environment
    contradicts its ``when``. A resemblance never overrides what the rule's author excluded."""
    from tfhelp.kb.engine import match_rule
    from tfhelp.kb.environment import evaluate_when

    if rule.none and match_rule(rule, doc)[6]:
        return True
    return bool(rule.when and env is not None and evaluate_when(rule.when, env) is False)


def diagnose(doc, ruleset, env=None, failed_before=None, explained=()) -> Optional[Resemblance]:
    """The resemblance answer for a Document whose salient lines no diagnosis explained
    (``explained``: 1-based evidence line numbers of what did fire), or None."""
    from tfhelp.kb.engine import mark_seen_code, resolve_fixes

    explained = set(explained)
    query = [i for i in salient(doc) if i + 1 not in explained]
    if not query:
        return None
    m = best_match(doc.lines, ruleset, query)
    if m is None or _vetoed(m.rule, doc, env):
        return None
    fixes = mark_seen_code(resolve_fixes(m.rule, env, {}, failed_before), doc)
    score = min(SCORE_CAP, int(round(m.similarity * SCORE_FACTOR)))
    return Resemblance(m.rule, score, [Evidence(m.line + 1, doc.lines[m.line])], fixes,
                       first_line=m.line + 1, similarity=m.similarity, example=m.example)


def attach(report, doc, ruleset, env=None, failed_before=None) -> None:
    """Add the resemblance answer to an engine report in which nothing but harmless notices fired:
    after any diagnosis that explains the crash, before the other notices (a harmless resemblance
    goes last), leaving ``report.crash`` as it is: a resemblance never explains a crash, and an
    unexplained crash is still shown as unexplained."""
    if any(d.rule.severity != "harmless" for d in report.diagnoses):
        return
    explained = {e.line for d in report.diagnoses for e in d.evidence}
    d = diagnose(doc, ruleset, env, failed_before, explained)
    if d is None:
        return
    if d.rule.severity == "harmless":
        report.diagnoses.append(d)
        return
    # after whatever explains the crash (kb/crash.py put those first), before the other notices
    crash = getattr(report, "crash", None)
    explaining = set(crash.explained_by) if crash is not None else set()
    at = 0
    while at < len(report.diagnoses) and report.diagnoses[at].id in explaining:
        at += 1
    report.diagnoses.insert(at, d)
