"""``tfhelp rules lint|test|list|show``: work on the rule base itself."""
from __future__ import annotations

import json
from pathlib import Path

NAME = "rules"
HELP = "lint, test, list or show rules"


def register(parser) -> None:
    sub = parser.add_subparsers(dest="rules_command", metavar="ACTION")
    lint = sub.add_parser("lint", help="validate rule files; every problem with file, line and code")
    lint.add_argument("paths", nargs="*", help="rule files or folders (default: every loaded rule)")
    lint.add_argument("--strict", action="store_true", help="advisories (TFH1xx) fail too")
    lint.add_argument("--no-examples", action="store_true", help="skip running examples (TFH010)")
    test = sub.add_parser("test", help="run every rule's match / no_match examples through the engine")
    test.add_argument("ids", nargs="*", help="only these rule ids")
    lst = sub.add_parser("list", help="list loaded rules")
    lst.add_argument("--category", help="only this category")
    show = sub.add_parser("show", help="show one rule")
    show.add_argument("id")
    for sp in (lint, test, lst, show):
        sp.add_argument("--json", action="store_true", default=False, help="machine-readable output")


#: The structural layer's answer families (kb/structural.py). They are not rule files: each answer's
#: title, cause and fixes are written for the input from the symbol-table row or pip conflict it
#: matched, so ``rules show`` can only say what the family covers and where its data comes from.
#: tests/test_rules_show_structural.py keeps this list equal to the ids structural.py can produce.
STRUCTURAL = {
    "symbols-removed-module": "a module that the installed release no longer has (`No module named 'Y.Z'`), "
                              "with the last release that had it and its replacement",
    "symbols-removed-name": "a public name removed or moved out of a module (`cannot import name X from Y`, "
                            "`module 'Y' has no attribute 'X'`), with the release it went in and the new name",
    "symbols-removed-attribute": "an attribute removed from a class (`'Model' object has no attribute "
                                 "'predict_classes'`), read from the class bodies in the wheels",
    "symbols-package-too-old": "a name that only exists from a later release: the installed package is older "
                               "than the code expects",
    "symbols-pip-pin-conflict": "a pip resolver conflict (`X requires Y..., but you have Y v`) settled with the "
                                "pins of the TensorFlow wheels in the compatibility model",
    "symbols-addon-abi-mismatch": "an `undefined symbol` / `Symbol not found` in a TensorFlow add-on's native "
                                  "library (tensorflow-io, -text, -addons, ...): built for another TensorFlow",
}


def _show_structural(rule_id: str, args, ctx) -> int:
    """``rules show symbols-...``: what the answer family covers (an answer names its id in every report)."""
    from tfhelp.kb.structural import SYMBOLS_DOC

    what = STRUCTURAL[rule_id]
    if args.json:
        ctx.stdout.write(json.dumps({"id": rule_id, "origin": "symbol-table", "summary": what,
                                     "source": SYMBOLS_DOC, "path": None}, indent=2) + "\n")
        return 0
    ctx.stdout.write(f"{rule_id}: answered by the structural layer (origin: symbol-table), not by a rule file.\n"
                     f"Covers {what}.\nData: {SYMBOLS_DOC}.\n"
                     "Title, cause and fixes are written for each input from the row it matched: run "
                     "`tfhelp diagnose` on the error to see them.\n")
    return 0


def _load_for_lint(paths, ctx):
    """The full rule base plus the given paths (files or folders), uncached, fresh problems."""
    from tfhelp.kb.loader import RuleSet, load_file, load_ruleset

    dirs = [p for p in paths if Path(p).is_dir()]
    files = [p for p in paths if Path(p).is_file()]
    missing = [p for p in paths if not Path(p).exists()]
    base = load_ruleset(extra_dirs=list(ctx.rule_dirs) + dirs, user_rules=ctx.user_rules, use_cache=False)
    rules = {r.id: r for r in base.rules}
    problems = list(base.problems)
    for f in files:
        fp = Path(f)
        rule, probs = load_file(fp, fp.parent.parent)
        problems.extend(probs)
        if rule is not None:
            rules[rule.id] = rule
    return RuleSet(rules=list(rules.values()), problems=problems), missing


def _under(path: str, roots: list) -> bool:
    p = Path(path).resolve()
    for r in roots:
        rr = Path(r).resolve()
        if p == rr or rr in p.parents:
            return True
    return False


def run(args, ctx) -> int:
    from tfhelp.assistant.frontends.cli import UsageError

    action = getattr(args, "rules_command", None)
    if action is None:
        raise UsageError("rules: choose an action: lint, test, list or show")
    out = ctx.stdout
    if action == "lint":
        from tfhelp.kb.lint import lint

        ruleset, missing = _load_for_lint(args.paths, ctx)
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}")
        problems = lint(ruleset, with_examples=not args.no_examples)
        if args.paths:
            problems = [p for p in problems if _under(p.path, args.paths)]
        problems.sort(key=lambda p: (p.path, p.line, p.code))
        errors = [p for p in problems if p.is_error or args.strict]
        if args.json:
            out.write(json.dumps([{"path": p.path, "line": p.line, "code": p.code, "message": p.message}
                                  for p in problems], indent=2) + "\n")
        else:
            for p in problems:
                out.write(f"{p}\n")
            n_rules = sum(1 for r in ruleset.rules if not args.paths or _under(r.path, args.paths))
            out.write(f"{n_rules} rules checked: {sum(p.is_error for p in problems)} errors, "
                      f"{sum(not p.is_error for p in problems)} advisories\n")
        return 1 if errors else 0
    ruleset = ctx.ruleset()
    if action == "test":
        from tfhelp.kb.lint import run_examples

        only = set(args.ids) or None
        if only:
            unknown = only - {r.id for r in ruleset.rules}
            if unknown:
                raise UsageError(f"unknown rule id(s): {', '.join(sorted(unknown))}")
        results = run_examples(ruleset, only)
        failed = [r for r in results if not r.ok]
        if args.json:
            out.write(json.dumps([r.__dict__ for r in results], indent=2) + "\n")
        else:
            for r in failed:
                out.write(f"FAIL {r.rule_id} {r.kind}[{r.index}] ({r.path}:{r.line}): {r.detail}\n")
            out.write(f"{len(results) - len(failed)} passed, {len(failed)} failed\n")
        return 1 if failed else 0
    if action == "list":
        rules = sorted(ruleset.rules, key=lambda r: (r.category, r.id))
        if args.category:
            rules = [r for r in rules if r.category == args.category]
        if args.json:
            out.write(json.dumps([{"id": r.id, "title": r.title, "category": r.category, "severity": r.severity,
                                   "origin": r.origin, "path": r.path} for r in rules], indent=2) + "\n")
        else:
            from rich.table import Table

            t = Table(box=None, show_header=True, header_style="bold")
            for col in ("id", "category", "severity", "title"):
                t.add_column(col)
            for r in rules:
                t.add_row(r.id, r.category, r.severity, r.title + ("  (user)" if r.origin == "user" else ""))
            ctx.console().print(t)
            ctx.console().print(f"{len(rules)} rules")
        return 0
    if action == "show":
        rule = ruleset.get(args.id)
        if rule is None and args.id in STRUCTURAL:
            return _show_structural(args.id, args, ctx)
        if rule is None:
            raise UsageError(f"unknown rule id {args.id!r} (see 'tfhelp rules list')")
        if args.json:
            from tfhelp.kb.engine import resolve_fixes

            out.write(json.dumps({"id": rule.id, "title": rule.title, "category": rule.category,
                                  "severity": rule.severity, "summary": rule.summary, "cause": rule.cause,
                                  "references": rule.references, "path": rule.path,
                                  "fixes": resolve_fixes(rule, None)}, indent=2) + "\n")
            return 0
        try:
            text = Path(rule.path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {rule.path}: {exc}") from None
        from rich.syntax import Syntax

        ctx.console().print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
        return 0
    raise UsageError(f"rules: unknown action {action!r}")
