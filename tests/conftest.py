"""Shared fixtures: isolated cache/state/config dirs so tests never touch the user's files."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("tfhelp-home")
    monkeypatch.setenv("TFHELP_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("TFHELP_USER_RULES", str(base / "user-rules"))
    monkeypatch.setenv("TFHELP_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)


def prefilter_backends() -> list:
    """The log scanner's prefilter back-ends installed here: pyahocorasick always, hyperscan where
    it has wheels (the scan must give the same answers with either)."""
    out = ["ahocorasick"]
    try:
        import hyperscan  # noqa: F401
        out.append("hyperscan")
    except ImportError:
        pass
    return out


def write_rule(folder: Path, category: str, rule_id: str, body: str) -> Path:
    d = folder / category
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{rule_id}.yaml"
    p.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return p


def make_rule(rule_id: str, *, category="import", severity="fatal", match="", extra="", fixes=None,
              examples=None) -> str:
    """A minimal valid rule as YAML text, with overridable parts."""
    match = match or f"""
      all:
        - {{name: m, type: literal, value: "signature of {rule_id}"}}"""
    fixes = fixes or """
      - title: Do the generic thing
        steps:
          - {action: manual, text: "Do it.", link: "https://example.org/doc"}"""
    examples = examples or f"""
      match: ["Error: signature of {rule_id} here"]
      no_match: ["Error: something else entirely"]"""
    return (f"id: {rule_id}\ntitle: Title of {rule_id}\ncategory: {category}\nseverity: {severity}\n"
            f"summary: Summary of {rule_id}.\ncause: Cause of {rule_id}.\n"
            f"references: [https://example.org/{rule_id}]\n{extra}\nmatch:{match}\nfixes:{fixes}\nexamples:{examples}\n")


@pytest.fixture
def rules_dir(tmp_path):
    return tmp_path / "rules"


@pytest.fixture
def run_cli():
    """Run the CLI in-process with fake streams; returns (exit_code, stdout, stderr)."""
    from tfhelp.assistant.frontends.cli import main
    from tfhelp.assistant.context import Context

    def _run(argv, stdin: bytes = b"", stdin_isatty=False, stdout_isatty=False, width=100, environ=None):
        out, err = io.StringIO(), io.StringIO()
        inp = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        ctx = Context(stdin=inp, stdout=out, stderr=err, stdin_isatty=stdin_isatty, stdout_isatty=stdout_isatty,
                      width=width, color=False, environ=dict(environ or {"PATH": "/usr/bin:/bin"}))
        code = main(list(argv), ctx)
        return code, out.getvalue(), err.getvalue()

    return _run


def repl_console(width: int = 110):
    """A plain, wide, uncoloured console whose output the REPL tests read back as text."""
    from rich.console import Console

    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, markup=False,
                   highlight=False, emoji=False)


def repl_session(answers=(), width: int = 110, **kw):
    """A REPL Session without a terminal: ``answers`` are popped in turn by its yes/no questions
    (then "no"), which are kept in ``session.asked``; ``kw`` go to Session (python, env, journal...)."""
    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends.repl import Session

    answers = list(answers)
    asked = []

    def ask(q):
        asked.append(q)
        return answers.pop(0) if answers else False

    c = repl_console(width)
    kw.setdefault("probe", False)
    s = Session(Context(), c, ask=ask, **kw)
    s.asked = asked
    return s, c
