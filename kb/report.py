"""Results of a diagnosis, and their stable JSON form.

``Report.to_json()`` is the documented schema (docs/json-schema.md); change it only with a
``SCHEMA_VERSION`` bump.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

SCHEMA_VERSION = 1


#: First words of a backticked span in a manual step that make it a command to print on its own line.
COMMAND_WORDS = ("conda", "pip", "pip3", "python", "python3", "py", "export", "set", "setx", "sudo", "apt",
                 "apt-get", "nvidia-smi", "ldconfig", "wsl", "tfhelp", "modprobe", "brew", "unset", "source")
_BACKTICK = re.compile(r"`([^`\n]+)`")
_ANGLE_PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")  # os.add_dll_directory(<CUDA bin folder>)


def manual_commands(text: str) -> list:
    """The commands quoted in a manual step's text (backticked spans whose first word is a program
    in :data:`COMMAND_WORDS`, such as `conda install ...`), so renderers can show each on its own
    unwrapped line to copy. Spans with a placeholder like <CUDA bin folder> are not commands."""
    out = []
    for m in _BACKTICK.finditer(text or ""):
        cmd = m.group(1).strip()
        first = cmd.split()[0] if cmd.split() else ""
        if first in COMMAND_WORDS and len(cmd.split()) > 1 and not _ANGLE_PLACEHOLDER.search(cmd) \
                and cmd not in out:
            out.append(cmd)
    return out


@dataclass
class Evidence:
    line: int  # 1-based
    text: str


@dataclass
class Diagnosis:
    rule: object  # tfhelp.kb.schema.Rule
    score: int
    evidence: list
    fixes: list  # resolved fixes: [{"title", "steps", "fits"}]
    captures: dict = field(default_factory=dict)
    matched: list = field(default_factory=list)  # matcher names that hit
    missed: list = field(default_factory=list)  # matcher names that did not (near misses)
    confirmed: Optional[bool] = None  # environment confirms (True) / contradicts (False) / unknown
    env_reason: str = ""
    symptom: Optional[str] = None  # id of the root cause this is a symptom of
    first_line: int = 0
    count: int = 1
    why_not: str = ""  # for related entries: why it is not a diagnosis

    @property
    def id(self) -> str:
        return self.rule.id

    def to_json(self) -> dict:
        r = self.rule
        out = {
            "id": r.id, "title": r.title, "category": r.category, "severity": r.severity,
            "score": self.score, "summary": r.summary, "cause": r.cause, "symptom": self.symptom,
            "confirmed": self.confirmed, "fixes": self.fixes,
            "evidence": [{"line": e.line, "text": e.text} for e in self.evidence],
            "references": list(r.references), "first_line": self.first_line, "count": self.count,
            "verified": r.verified,
        }
        if self.env_reason:
            out["environment_note"] = self.env_reason
        if self.why_not:
            out["why_not"] = self.why_not
        return out


@dataclass
class Report:
    diagnoses: list
    related: list
    lines: int
    exceptions: list  # [ExceptionInfo]
    facts: dict
    environment: object = None  # Environment or None
    notes: list = field(default_factory=list)  # e.g. interpreter mismatch
    crash: object = None  # tfhelp.kb.crash.Crash: what ended the run, explained or not

    @property
    def abstained(self) -> bool:
        return not self.diagnoses

    def to_json(self) -> dict:
        from tfhelp import __version__

        return {
            "tfhelp_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "diagnoses": [d.to_json() for d in self.diagnoses],
            "related": [d.to_json() for d in self.related],
            "input": {
                "lines": self.lines,
                "exceptions": [{"type": e.type, "message": e.message, "line": e.line} for e in self.exceptions],
                "facts": self.facts,
                "environment": self.environment.to_json() if self.environment is not None else None,
                "notes": list(self.notes),
            },
            # added in 0.x, additive: null when no terminal event was found (docs/json-schema.md)
            "crash": self.crash.to_json() if self.crash is not None else None,
        }
