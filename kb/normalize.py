"""Turn whatever the user pasted or logged into clean text lines.

Pasted errors arrive damaged: invalid UTF-8, NUL bytes, ANSI colours from Jupyter, carriage-return
progress bars, CRLF from Windows, and markdown-escaped copies from web pages (``np\\_utils``,
``'_ is_tf_ 1'``, smart quotes). Matching runs on the repaired text; evidence keeps the user's
line numbers. A second, *folded* form (paths, addresses, numbers replaced) is used where two
lines must be recognised as "the same message" (deduplication, fuzzy matching).
"""
from __future__ import annotations

import re

#: Longest line the matchers look at. Bounds regex and fuzzy time on a 50 MB single-line input.
MAX_LINE = 4096

_ANSI = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?     # OSC ... BEL / ST (hyperlinks, titles)
  | \x1b\[[0-?]*[ -/]*[@-~]                # CSI (colours, cursor moves)
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?          # DCS / SOS / PM / APC strings
  | \x1b[@-Z\\-_]                          # two-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]                  # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0/C1 controls except tab and newline; DEL.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
# Zero-width and bidi formatting characters that chat apps and web pages insert.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                         "\u2013": "-", "\u2014": "-", "\u2212": "-", "\uff1a": ":", "\uff08": "(",
                         "\uff09": ")", "\uff0c": ","})
# Markdown escapes left by web copies: np\_utils, np\\\_utils, tensorflow\.python, \*args.
_MD_ESCAPE = re.compile(r"\\+(?=[_.*\[\]()#`<>-])")
# A whitespace/quote-delimited token that contains a backslash.
_BACKSLASH_TOKEN = re.compile(r"""[^\s'"]*\\[^\s'"]*""")
# ... which is a Windows path, not markdown: C:\..., ...\site-packages\..., dir\dir\file.py. A file
# extension only counts where the name ends: in tensorflow\_hub.keras\_layer the ".keras" is a
# dotted module name followed by another escaped underscore, not a file.
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\|^\(?\\\\[A-Za-z0-9]|(?:site|dist)-packages\\|\\(?:Lib|lib|Scripts|AppData|Users)\\|"
                           r"\\[\w.-]+\.(?:py|pyd|pyc|dll|exe|so|h5|keras|json|txt|csv|log|ipynb)(?![\w\\])", re.I)
_DRIVE = re.compile(r"[A-Za-z]:\\")
_BACKSLASH_NOT_BEFORE_UNDERSCORE = re.compile(r"(?<!\\)\\+(?![\\_])")
_UNESCAPED_UNDERSCORE = re.compile(r"(?<!\\)_")
# A short quoted identifier whose only spaces sit next to underscores: '_ is_tf_ 1' -> '_is_tf_1'.
_QUOTED = re.compile(r"'([A-Za-z0-9_. ]{1,80})'")
_SPACE_NEXT_TO_UNDERSCORE = re.compile(r"(?<=_) +| +(?=_)")


def decode(data: bytes | str) -> str:
    """Decode bytes as UTF-8, replacing what isn't; never raises."""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences and control characters (keeps tab and newline)."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    return _CONTROLS.sub("", text)


def split_lines(text: str) -> list[str]:
    r"""Split on \n, \r\n and lone \r (progress bars redraw with \r; each redraw is a line)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _unspace_quoted(match: re.Match) -> str:
    inner = match.group(1)
    if " " in inner and "_" in inner:
        repaired = _SPACE_NEXT_TO_UNDERSCORE.sub("", inner)
        if " " not in repaired:
            return "'" + repaired + "'"
    return match.group(0)


def _all_underscores_escaped(token: str) -> bool:
    """Markdown escapes every underscore of a name (cudart64\\_110.dll, libtensorflow\\_io.so); a
    Windows path leaves the ones after its separator alone (keras\\__init__.py). Only a token whose
    backslashes all stand before underscores, with no drive letter, can be read this way."""
    return ("_" in token and not _DRIVE.search(token) and not _BACKSLASH_NOT_BEFORE_UNDERSCORE.search(token)
            and not _UNESCAPED_UNDERSCORE.search(token))


def _unescape_token(match: re.Match) -> str:
    token = match.group(0)
    if _WINDOWS_PATH.search(token) and not _all_underscores_escaped(token):
        return token  # keras\__init__.py is a path separator, not an escaped underscore
    return _MD_ESCAPE.sub("", token)


def repair_text(text: str) -> str:
    """Undo web-copy damage. Works on a whole text at once (no pattern crosses a newline), so a
    million-line paste costs a few regex passes, not a million Python calls. Idempotent."""
    if not text:
        return text
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = text.translate(_QUOTES)
    if "\\" in text:
        text = _BACKSLASH_TOKEN.sub(_unescape_token, text)
    if "'" in text and ("_ " in text or " _" in text):
        text = _QUOTED.sub(_unspace_quoted, text)
    return text


#: One line at a time (the REPL, tests); same result as on a whole text.
repair_line = repair_text


def clean_lines(data: bytes | str) -> list[str]:
    """The full pipeline: decode, strip escapes, split, cap line length, repair."""
    text = strip_escapes(decode(data))
    lines = split_lines(text)
    if any(len(x) > MAX_LINE for x in lines):
        lines = [x[:MAX_LINE] if len(x) > MAX_LINE else x for x in lines]  # a 50 MB line costs 4 KB
    text = repair_text("\n".join(lines))
    return [x.rstrip() for x in text.split("\n")]


def clean_text(data: bytes | str) -> str:
    """``clean_lines`` joined back with newlines (the normaliser as one string function)."""
    return "\n".join(clean_lines(data))


_FOLDS = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?"), "<time>"),
    (re.compile(r"\b[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+"), "<glog>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"""(?:[A-Za-z]:)?(?:[\\/][^\\/\s"':,]+)+[\\/]?"""), "<path>"),
    (re.compile(r"\b(?:line|pid|PID|step|epoch|Epoch) \d+"), lambda m: m.group(0).split()[0] + " N"),
    (re.compile(r"\b\d+(?:\.\d+)?\s*(?:ms|s|us|MiB|GiB|MB|GB|KB)\b"), "<qty>"),
]


def fold(line: str) -> str:
    """Replace the parts of a line that differ between two occurrences of the same message."""
    for pattern, repl in _FOLDS:
        line = pattern.sub(repl, line)
    return line
