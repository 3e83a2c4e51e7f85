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
for it), and dropped with the rule set.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Optional

from tfhelp.kb.normalize import fold
from tfhelp.kb.report import Diagnosis, Evidence

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
#: A second rule this close to the best makes the input ambiguous.
MARGIN = 4
#: Diagnosis score = similarity * SCORE_FACTOR, capped below every real match (engine.MIN_SCORE 60).
SCORE_FACTOR = 0.55
SCORE_CAP = 55
#: Salient lines looked at per input (the last ones: the end of a paste is what failed).
MAX_QUERY_LINES = 6
#: Characters of a line compared (fragments are short; long lines are dominated by their head).
MAX_CHARS = 300
#: Shortest masked text that may be compared by partial alignment (a fragment of a longer example).
MIN_PARTIAL = 16
#: A short input with no exception / log / pip line: its lines are the query (an issue title).
SHORT_INPUT = 4

LABEL = "looks like {title}; matched by resemblance to a known report, not by the rule's own pattern"

_EXC_PREFIX = re.compile(r"^(?:E\s+)?(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Warning|Failure|Exit)\s*:\s*")
_REPLY_MARK = re.compile(r"^(?:[>|*\-]\s*)+")  # quoted replies and list items around a pasted line
_LOG_SEVERITY = re.compile(r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?: )?(?P<sev>[EF])(?:\d{4} |\s)")
_PIP_ERROR = re.compile(r"^(?:ERROR|error): ")
_QUOTE_CHARS = str.maketrans({'"': "'", "`": "'"})
_QUOTED = re.compile(r"'([^'\n]{1,120})'")
_IDENT_QUOTED = re.compile(r"^[A-Za-z_][\w.\-]*$")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z_]")
_VERSION = re.compile(r"(?<![\w.])(?:v?\d+\.\d+(?:\.\d+)*|v\d+)(?![\w.])")
_PATH_PKG = re.compile(r"(?:site|dist)-packages[\\/]+([A-Za-z_]\w*)")
_LIB_FILE = re.compile(r"([A-Za-z_][\w+-]*\.(?:so(?:\.\d+)*|dll|dylib|pyd))(?![\w.])")
_TRAILING_QUOTE = re.compile(r"'([A-Za-z_][\w.]*)\s*$")
_MANGLED = re.compile(r"\b_Z[A-Za-z0-9_]{6,}")
_NUMBER = re.compile(r"\d+")
_ASSIGNED = re.compile(r"(?<=[A-Za-z_]=)[^\s,;)\]'<>=]+")  # filepath=my_model: the user's value
_SPACES = re.compile(r"\s+")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")

#: Exception class names say how it failed, not what: never distinctive.
_CLASS_ENDINGS = ("error", "exception", "warning")
#: Library and runtime names: distinctive in prose, but shared by many rules (see _agrees).
LIBRARIES = frozenset({
    "tensorflow", "tf", "keras", "numpy", "np", "protobuf", "cuda", "cudnn", "cublas", "cufft", "curand",
    "cusolver", "cusparse", "nccl", "nvcc", "ptxas", "nvidia", "h5py", "jax", "jaxlib", "tensorrt", "libdevice",
    "metal", "rocm", "onednn", "mkl", "xla", "absl", "grpc", "scipy", "conda", "wsl", "glibc", "glibcxx",
    "cpython", "msvc", "tflite", "tpu", "gpu", "avx", "avx2", "hdf5"})
#: Upper-case or CamelCase words that carry no information in an error message.
STOPWORDS = frozenset({
    "error", "warning", "info", "fatal", "note", "not", "and", "the", "for", "none", "nonetype", "true", "false",
    "traceback", "valueerror", "typeerror", "importerror", "attributeerror", "runtimeerror", "oserror",
    "keyerror", "indexerror", "nameerror", "invalidargumenterror", "internalerror", "unknownerror",
    "failedpreconditionerror", "notfounderror", "http", "https", "www", "com", "org", "github", "issue",
    "see", "use", "please", "file", "line", "module", "attribute", "object", "name", "import", "python"})


# -- masking and tokens ------------------------------------------------------------------------
def message_of(line: str) -> str:
    """The part of a line that carries the failure: no exception class, log prefix or pip tag."""
    s = _REPLY_MARK.sub("", line.strip())
    m = _EXC_PREFIX.match(s)
    if m:
        s = s[m.end():]
    elif _PIP_ERROR.match(s):
        s = s.split(":", 1)[1]
    elif "] " in s[:160] and _LOG_SEVERITY.match(s):
        s = s.split("] ", 1)[1]
    return s.strip()[:MAX_CHARS]


def shape(message: str) -> str:
    """The comparable form: quotes unified, times / hex / paths folded, numbers masked, lowercased."""
    return analyse(message)[0]


def _specific(word: str, low: str) -> bool:
    if low in STOPWORDS or len(word) < 2 or low.endswith(_CLASS_ENDINGS):
        return False
    if "_" in word or "." in word or "-" in word or not word.isalpha():
        return True  # np_utils, keras.utils, c-api, cudart64, _pywrap_tensorflow_internal
    if len(word) >= 3 and word.isupper():
        return True  # CUDNN, AVX
    return bool(_CAMEL.search(word))  # KerasTensor


def _norm(low: str) -> str:
    low = low.strip(".-")
    return _NUMBER.sub("#", low) if not low.isalpha() else low


def analyse(message: str) -> tuple:
    """(shape, specific, libraries, has_version, soft) of one message.

    shape: the comparable form (quotes unified, times / hex / paths folded, numbers masked,
    lowercased). specific: names that say *which* thing failed (quoted identifiers, dotted /
    underscored / digit-bearing / CamelCase / upper-case symbols); libraries: :data:`LIBRARIES`;
    has_version: a version-like token occurs; soft: package and native-library names read from
    paths (site-packages/<pkg>, lib*.so), which the path folding hides. Generic words are none."""
    raw = message.translate(_QUOTE_CHARS)
    extra = []  # what a path says before it is folded: the package it ran in, a native library's name
    if "-packages" in raw:
        extra += [m.group(1) for m in _PATH_PKG.finditer(raw)]
    if ".so" in raw or ".dll" in raw or ".dylib" in raw or ".pyd" in raw:
        extra += [m.group(1) for m in _LIB_FILE.finditer(raw)]
    s = fold(raw)
    if "_Z" in s:
        s = _MANGLED.sub("<symbol>", s)  # the C++ symbol differs per build; the message does not
    if "=" in s:
        s = _ASSIGNED.sub("<value>", s)
    sh = _SPACES.sub(" ", _NUMBER.sub("#", s)).strip().lower()
    specific, libs = [], []
    quoted = set()
    if "'" in s:
        for m in _QUOTED.finditer(s):
            inner = m.group(1).strip()
            if _IDENT_QUOTED.match(inner) and not inner.lower().endswith(_CLASS_ENDINGS):
                quoted.add(inner)  # a quoted name is a symbol even when it is a word ('object')
        m = _TRAILING_QUOTE.search(s)
        if m and s.count("'") % 2:
            quoted.add(m.group(1))  # cut off inside a quoted name: cannot import name 'Merge
    has_version = bool(_VERSION.search(s))
    for w in _TOKEN.findall(_VERSION.sub(" ", s) if has_version else s):
        low = w.lower()
        if w in quoted:
            continue  # added below
        if low in LIBRARIES:
            libs.append(low)
        elif _specific(w, low):
            specific.append(_norm(low))
    for q in quoted:  # a quoted library name is the symbol in question (has no attribute 'tf')
        if not _VERSION.fullmatch(q):
            specific.append(_norm(q.lower()))
    soft = []  # named only inside a path: supports a match, never vetoes one (libc.so.6 vs libm.so.6)
    for q in extra:
        low = q.lower()
        if low not in LIBRARIES:
            soft.append(_norm(low))
    specific = tuple(dict.fromkeys(specific))
    return sh, specific, tuple(dict.fromkeys(libs)), has_version, tuple(t for t in dict.fromkeys(soft) if t not in specific)


def tokens(message: str) -> tuple:
    """(specific, libraries, has_version) of a message (see :func:`analyse`)."""
    return analyse(message)[1:4]


def _parts(tok: str) -> set:
    return {p for p in re.split(r"[.\-]", tok) if p}


# -- the index ---------------------------------------------------------------------------------
@dataclass
class Entry:
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


# -- comparing ---------------------------------------------------------------------------------
def similarity(query: str, example: str) -> tuple:
    """(0-100, span): the better of whole-string similarity and - when the shorter text is long
    enough to be a real fragment - the alignment of the shorter inside the longer (a truncated line, a message cut to its tail). ``span`` is the aligned (start, end) in
    ``example`` when the query is a fragment of it, else None (the whole example was compared)."""
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


@dataclass
class Match:
    rule: object
    similarity: float
    line: int          # 0-based index of the input line
    example: str       # the example line it resembled


def _last_token(msg: str) -> str:
    """The message's final token when the message ends inside it (a line cut short), else ''."""
    found = _TOKEN.findall(msg.translate(_QUOTE_CHARS))
    if not found or not msg.rstrip().endswith(found[-1]):
        return ""
    return _norm(found[-1].lower())


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
            floor = VERBATIM if agree == 1 else (
                SIGNATURE_SIMILARITY if any(idx.unique_to(t, e.rule) for t in shared) else MIN_SIMILARITY)
            if sim < floor or (agree == 1 and len(sh) < VERBATIM_CHARS):
                continue
            if not self_sufficient(idx, ruleset, eid):
                continue
            if not covers(spec + soft, last, span, _keys(idx, ruleset, eid)):
                continue
            prev = per_rule.get(e.rule)
            if prev is None or sim > prev[0]:
                per_rule[e.rule] = (sim, li, e, sh)
    ranked = []
    for ri, (sim, li, e, sh) in per_rule.items():
        neg = max((similarity(sh, idx.entries[n].shape)[0] for n in idx.negatives.get(ri, ())), default=0.0)
        if neg >= sim:
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
    after every non-harmless diagnosis, before the harmless ones, leaving ``report.crash`` as it is
    (a resemblance never explains a crash; the crash is still shown as unexplained)."""
    if any(d.rule.severity != "harmless" for d in report.diagnoses):
        return
    explained = {e.line for d in report.diagnoses for e in d.evidence}
    d = diagnose(doc, ruleset, env, failed_before, explained)
    if d is None:
        return
    if d.rule.severity == "harmless":
        report.diagnoses.append(d)
    else:
        report.diagnoses.insert(0, d)
