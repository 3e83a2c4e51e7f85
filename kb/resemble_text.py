"""Masking and distinctive tokens for the resemblance layer (:mod:`tfhelp.kb.resemble`).

Two error lines are compared only after the parts that differ between two reports of the same
failure are masked (paths, numbers, hex, times, quote styles, values after ``=``, mangled C++
symbols), and only when the names that say *which* thing failed agree. This module turns one line
into that comparable form and those names; it knows nothing of rules.
"""
from __future__ import annotations

import re

from tfhelp.kb.normalize import fold

#: Characters of a line compared (fragments are short; long lines are dominated by their head).
MAX_CHARS = 300

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


def _last_token(msg: str) -> str:
    """The message's final token when the message ends inside it (a line cut short), else ''."""
    found = _TOKEN.findall(msg.translate(_QUOTE_CHARS))
    if not found or not msg.rstrip().endswith(found[-1]):
        return ""
    return _norm(found[-1].lower())
