"""The rule data model: plain dataclasses, cheap to import and to unpickle from the rule cache.

Validation lives in :mod:`tfhelp.kb.schema`, which is only imported when rule files are parsed
(cache miss, ``tfhelp rules lint``), so start-up does not pay for it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# Placeholders in fix strings: {capture}, {compat.NAME}, {env.NAME}.
PLACEHOLDER_RE = re.compile(r"\{((?:compat|env)\.[A-Za-z0-9_.\-]+|[A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Problem:
    """One lint finding. ``code`` TFH0xx is an error (rule skipped), TFH1xx an advisory."""

    path: str
    line: int
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.code.startswith("TFH0")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


@dataclass
class Matcher:
    name: str
    type: str
    part: str
    value: str
    case_sensitive: bool = False
    threshold: int = 90
    _regex: object = field(default=None, repr=False, compare=False)

    @property
    def regex(self):
        """Compiled lazily so loading a cached rule base costs no regex compilation."""
        if self._regex is None:
            flags = re.MULTILINE | (0 if self.case_sensitive else re.IGNORECASE)
            self._regex = re.compile(self.value, flags)
        return self._regex

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_regex"] = None
        return state

    @property
    def captures(self) -> tuple:
        return tuple(self.regex.groupindex) if self.type == "regex" else ()


@dataclass
class Fix:
    title: str
    steps: list  # list of dicts, validated
    when: Optional[dict] = None


@dataclass
class Rule:
    id: str
    title: str
    category: str
    severity: str
    summary: str
    cause: str
    references: list
    all: list
    any: list
    none: list
    fixes: list
    examples_match: list
    examples_no_match: list
    confidence: str = "high"
    priority: int = 1000
    symptom_of: list = field(default_factory=list)
    related: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    anchors: list = field(default_factory=list)
    when: Optional[dict] = None
    verified: bool = False
    path: str = ""
    origin: str = "shipped"  # shipped | user

    @property
    def positive_matchers(self) -> list:
        return list(self.all) + list(self.any)

    @property
    def captures(self) -> set:
        names = set()
        for m in self.positive_matchers:
            names.update(m.captures)
        return names
