"""The resemblance index: every rule's example lines, masked and tokenised, built once per rule set.

Positive entries come from ``examples.match``, negative ones from ``examples.no_match`` (inline
texts only: the wheel ships no corpus). Which positive lines are enough for their rule on their
own, and where the rule's matchers hit them, is worked out lazily for the few entries a query
looks at (it compiles the rule's regexes). The index lives as long as its rule set and is cached
on disk beside the rule cache (plain JSON, read only when it is ours: :mod:`tfhelp.kb.cachefile`),
so an abstaining ``tfhelp < err.txt`` pays a few milliseconds, not a rebuild.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Optional

from tfhelp.kb.resemble_text import _LOG_SEVERITY, _PIP_ERROR, _parts, analyse, message_of

#: Salient lines looked at per input (the last ones: the end of a paste is what failed).
MAX_QUERY_LINES = 6
#: A short input with no exception / log / pip line: its lines are the query (an issue title).
SHORT_INPUT = 4


@dataclass
class Entry:
    """One example line as the index holds it."""

    rule: int          # index into ruleset.rules
    negative: bool     # from examples.no_match
    example: int       # index of the example in its list (leave-one-out evaluation)
    text: str          # the example line as written
    shape: str
    specific: frozenset
    libs: frozenset
    has_version: bool
    parts: frozenset   # components of the dotted specific tokens (keras.engine -> keras, engine)


class _Entries:
    """The index's entries, made into :class:`Entry` objects only when a query looks at them: a
    cached index loads as plain lists (rows), so an input that resembles nothing costs no objects."""

    def __init__(self, rows: Optional[list] = None):
        self.rows = rows if rows is not None else []
        self._made: dict = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return (self[i] for i in range(len(self.rows)))

    def __getitem__(self, eid: int) -> Entry:
        e = self._made.get(eid)
        if e is None:
            e = self.rows[eid]
            if not isinstance(e, Entry):
                rule, negative, example, text, sh, spec, libs, ver = e
                e = Entry(rule, bool(negative), example, text, sh, frozenset(spec), frozenset(libs), bool(ver),
                          frozenset(p for t in spec for p in _parts(t)))
            self._made[eid] = e
        return e

    def append(self, e: Entry) -> None:
        self._made[len(self.rows)] = e
        self.rows.append(e)


@dataclass
class Index:
    entries: _Entries = field(default_factory=_Entries)
    by_token: dict = field(default_factory=dict)     # token -> [entry ids] (positive entries only)
    negatives: dict = field(default_factory=dict)    # rule index -> [entry ids]
    token_rules: dict = field(default_factory=dict)  # token -> [rule indices] whose examples (either list) hold it
    sufficient: dict = field(default_factory=dict)   # entry id -> its rule fires on it alone
    keys: dict = field(default_factory=dict)         # entry id -> key_spans()

    def unique_to(self, token: str, rule: int) -> bool:
        """Only this rule's examples hold ``token`` (np_utils): the token says which rule it is."""
        rules = self.token_rules.get(token)
        return rules is not None and len(rules) == 1 and rules[0] == rule


_CACHE: dict = {}


def index_for(ruleset) -> Index:
    """The ruleset's index: built (or read from the on-disk cache) on first use, dropped when the
    rule set is."""
    key = id(ruleset)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is ruleset:
        return hit[1]
    idx = _cached_index(ruleset)
    try:
        ref = weakref.ref(ruleset)
        weakref.finalize(ruleset, _CACHE.pop, key, None)
    except TypeError:  # not weak-referenceable: rebuild each time rather than leak
        return idx
    _CACHE[key] = (ref, idx)
    return idx


#: Bump when the index's content or layout changes.
CACHE_FORMAT = 1


def cache_key(ruleset) -> str:
    """SHA-256 of what the index is made of: tfhelp's version, this module's format, and every
    rule's id (in order) and inline example texts."""
    import hashlib

    from tfhelp import __version__

    h = hashlib.sha256(f"{__version__}/resemble/{CACHE_FORMAT}".encode())
    for rule in ruleset.rules:
        h.update(b"\1" + rule.id.encode())
        for tag, items in ((b"\2", rule.examples_match), (b"\3", rule.examples_no_match)):
            for ex in items:
                text = ex.get("text") or ""
                h.update(tag + str(len(text)).encode() + b":" + text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _cached_index(ruleset) -> Index:
    """The index from ``$TFHELP_CACHE_DIR/resemble-<key>.json`` when that file is ours and names the
    key (kb/cachefile.py: owner and permission checks); otherwise built and written there. The
    file is plain JSON data; a bad one is a miss."""
    import json
    import os

    if os.environ.get("TFHELP_NO_CACHE", "") not in ("", "0"):
        return build_index(ruleset)
    from tfhelp.kb.cachefile import read_trusted, write_private
    from tfhelp.kb.loader import cache_dir

    key = cache_key(ruleset)
    path = cache_dir() / f"resemble-{key[:32]}.json"
    raw = read_trusted(path)
    if raw is not None:
        try:
            doc = json.loads(raw)
            if doc.get("format") == CACHE_FORMAT and doc.get("key") == key:
                return _from_json(doc, len(ruleset.rules))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            pass
    idx = build_index(ruleset)
    rows = [[e.rule, e.negative, e.example, e.text, e.shape, sorted(e.specific), sorted(e.libs), e.has_version]
            for e in idx.entries]
    write_private(path, json.dumps({"format": CACHE_FORMAT, "key": key, "entries": rows, "by_token": idx.by_token,
                                    "negatives": idx.negatives, "token_rules": idx.token_rules},
                                   separators=(",", ":")).encode("utf-8"), stale_glob="resemble-*.json")
    return idx


def _from_json(doc: dict, n_rules: int) -> Index:
    """An index read back from its cache file, checked for shape (a bad file is a miss)."""
    rows = doc["entries"]
    if not all(isinstance(r, list) and len(r) == 8 and isinstance(r[0], int) and 0 <= r[0] < n_rules
               for r in rows):
        raise ValueError("entry names no rule")
    n = len(rows)
    by_token = doc["by_token"]
    if not all(isinstance(v, list) and all(isinstance(i, int) and 0 <= i < n for i in v) for v in by_token.values()):
        raise ValueError("token names no entry")
    negatives = {int(k): v for k, v in doc["negatives"].items()}
    if not all(isinstance(i, int) and 0 <= i < n for v in negatives.values() for i in v):
        raise ValueError("negative names no entry")
    return Index(entries=_Entries(rows), by_token=by_token, negatives=negatives, token_rules=doc["token_rules"])


def _add(idx: "Index", e: "Entry") -> None:
    eid = len(idx.entries)
    idx.entries.append(e)
    for t in e.specific | e.parts:
        rules = idx.token_rules.setdefault(t, [])
        if e.rule not in rules:
            rules.append(e.rule)
    if e.negative:
        idx.negatives.setdefault(e.rule, []).append(eid)
        return
    for t in e.specific | e.libs | e.parts:
        idx.by_token.setdefault(t, []).append(eid)


def salient(doc, limit: int = MAX_QUERY_LINES) -> list:
    """Indices of a Document's salient lines: exception lines, E/F-level log lines, pip ERROR
    lines; for a short input with none of those (an issue title), its non-frame lines."""
    p = doc.parsed
    picked = {e.line - 1 for e in p.exceptions if e.message}
    for i in p.log_lines:
        if _LOG_SEVERITY.match(doc.lines[i].strip()):
            picked.add(i)
    for i, line in enumerate(doc.lines):
        if line[:6] in ("ERROR:", "error:") and _PIP_ERROR.match(line):
            picked.add(i)
    if not picked:
        frames = set(p.frame_lines)
        content = []
        for i, ln in enumerate(doc.lines):
            if ln.strip() and i not in frames and not ln.strip().startswith("Traceback (most recent"):
                content.append(i)
                if len(content) > SHORT_INPUT:
                    return []  # a longer text with no error line: nothing to compare
        picked.update(content)
    return sorted(picked)[-limit:]


def self_sufficient(idx: "Index", ruleset, eid: int) -> bool:
    """Does the entry's rule fire on the entry's line alone? Checked lazily (it compiles the rule's
    regexes), for the few entries an input resembles, and remembered."""
    ok = idx.sufficient.get(eid)
    if ok is None:
        from tfhelp.kb.engine import Document, match_rule

        e = idx.entries[eid]
        ok = idx.sufficient[eid] = bool(match_rule(ruleset.rules[e.rule], Document(e.text))[0])
    return ok


def _keys(idx: "Index", ruleset, eid: int) -> list:
    keys = idx.keys.get(eid)
    if keys is None:
        keys = idx.keys[eid] = key_spans(ruleset.rules[idx.entries[eid].rule], idx.entries[eid])
    return keys


def _example_lines(text: str) -> list:
    """The salient lines of one example text (the same choice as for an input)."""
    from tfhelp.kb.normalize import clean_lines
    from tfhelp.kb.parse import parse

    lines = clean_lines(text)
    if len(lines) == 1:
        return lines if lines[0].strip() else []
    return [lines[i] for i in salient(_Lines(lines, parse(lines)))]


@dataclass
class _Lines:
    """What :func:`salient` reads of a Document, without building a full engine Document."""

    lines: list
    parsed: object


def build_index(ruleset) -> Index:
    """Index every rule's example lines (positive and near misses); whether a positive line is
    enough for its rule on its own is checked lazily (:func:`self_sufficient`). Corpus-file
    examples are left out (the wheel ships no corpus)."""
    idx = Index()
    seen = set()
    for ri, rule in enumerate(ruleset.rules):
        for negative, items in ((False, rule.examples_match), (True, rule.examples_no_match)):
            for xi, ex in enumerate(items):
                text = ex.get("text")
                if not text:
                    continue
                for line in _example_lines(text):
                    sh, spec, libs, ver, soft = analyse(message_of(line))
                    if len(sh) < 8 or (ri, negative, sh) in seen:
                        continue
                    seen.add((ri, negative, sh))
                    spec = spec + soft  # the example side: path names may support an input's tokens
                    parts = frozenset(p for t in spec for p in _parts(t))
                    _add(idx, Entry(ri, negative, xi, line.strip(), sh, frozenset(spec), frozenset(libs), ver, parts))
    return idx


def key_spans(rule, e: Entry) -> tuple:
    """(all_keys, any_keys): for each of the rule's own ``all`` / ``any`` line or message matchers
    that hits the example line, ``(span in e.shape, specific tokens of the hit)`` - the parts that
    make the line enough for the rule. A fragment that lacks them (the line's generic head, say)
    resembles the line without resembling the reason the rule knows it."""
    return ([k for k in (_key(m, e) for m in rule.all) if k],
            [k for k in (_key(m, e) for m in rule.any) if k])


def _key(m, e: Entry) -> Optional[tuple]:
    from rapidfuzz import fuzz

    if m.part not in ("line", "message") or m.type == "fuzzy":
        return None
    if m.type == "literal":
        pos = e.text.lower().find(m.value.lower())
        hit = e.text[pos:pos + len(m.value)] if pos >= 0 else None
    else:
        mo = m.regex.search(e.text)
        hit = mo.group(0) if mo else None
    if not hit:
        return None
    sub, spec, _libs, _ver, _soft = analyse(message_of(hit))
    if len(sub) < 3:
        return None
    pos = e.shape.find(sub)
    if pos >= 0:
        return (pos, pos + len(sub)), frozenset(spec)
    al = fuzz.partial_ratio_alignment(sub, e.shape, score_cutoff=85)
    return ((al.dest_start, al.dest_end) if al is not None else None), frozenset(spec)
