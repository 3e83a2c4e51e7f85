"""Rule data model and validation.

A rule file is untrusted data once users can add their own, so parsing never raises: it returns
the rule (or ``None``) and *every* problem found, each with a numbered code, the file and the line,
in one pass. The codes are documented in ``rules/README.md`` and each has a failing fixture under
``tests/fixtures/lint``.

Why one module of ~550 lines: the rule schema and every check of it (the lint codes) stay side
by side, so a code's meaning, its check and its message change together.
"""
from __future__ import annotations

import re
from typing import Optional

from tfhelp.kb.model import PLACEHOLDER_RE, Fix, Matcher, Problem, Rule  # noqa: F401 - re-exported

CATEGORIES = ("install", "import", "abi", "api-change", "keras3", "tf1-api", "cpu", "cuda", "cudnn",
              "driver", "gpu", "memory", "windows", "macos", "protobuf", "xla", "noise")
SEVERITIES = ("fatal", "degraded", "warning", "harmless")
CONFIDENCES = ("high", "medium", "low")
MATCHER_TYPES = ("literal", "regex", "fuzzy")
PARTS = ("line", "message", "exception", "frame")
ACTIONS = ("pip_install", "pip_uninstall", "set_env", "code_change", "manual", "verify")
ENV_SCOPES = ("session", "user-profile", "conda-env")
VERIFY_CHECKS = ("import", "gpu", "script")
PLATFORMS = ("linux", "windows", "wsl", "macos")

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
URL_RE = re.compile(r"^https?://[^\s]+$")

RULE_KEYS = {"id", "title", "category", "severity", "confidence", "priority", "symptom_of", "summary",
             "cause", "tags", "references", "related", "anchors", "match", "when", "fixes", "examples",
             "verified", "status", "author", "date", "modified", "falsepositives", "input"}
REQUIRED = ("id", "title", "category", "severity", "summary", "cause", "references", "match", "fixes",
            "examples")
MATCHER_KEYS = {"name", "type", "part", "value", "case", "threshold"}
WHEN_KEYS = {"packages", "python", "platform"}
STEP_KEYS = {
    "pip_install": {"action", "packages", "options"},
    "pip_uninstall": {"action", "packages"},
    "set_env": {"action", "name", "value", "scope", "unset"},
    "code_change": {"action", "before", "after", "file_hint", "language"},
    "manual": {"action", "text", "link"},
    "verify": {"action", "check", "code", "expect"},
}
# Allowed extra pip options: nothing that points pip at another index or interpreter.
PIP_OPTIONS = {"--upgrade", "-U", "--force-reinstall", "--no-deps", "--pre", "--only-binary=:all:",
               "--no-cache-dir", "--upgrade-strategy=only-if-needed"}


class _LineLoader:
    """Build a SafeLoader subclass that records the source line of every mapping key."""

    _cls = None

    @classmethod
    def get(cls):
        if cls._cls is None:
            import yaml

            base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

            class Loader(base):  # type: ignore[misc, valid-type]
                pass

            def construct_mapping(loader, node, deep=False):
                mapping = LineDict()
                for key_node, value_node in node.value:
                    key = loader.construct_object(key_node, deep=deep)
                    try:
                        hash(key)
                    except TypeError:
                        key = str(key)
                    mapping[key] = loader.construct_object(value_node, deep=deep)
                    mapping.lines[key] = key_node.start_mark.line + 1
                mapping.line = node.start_mark.line + 1
                return mapping

            Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
            cls._cls = Loader
        return cls._cls


class LineDict(dict):
    """A dict that remembers the YAML line of each key (for lint messages)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.lines: dict = {}
        self.line = 1


def load_yaml(text: str, path: str):
    """Parse YAML; returns (data, problems). Never raises."""
    import yaml

    try:
        return yaml.load(text, Loader=_LineLoader.get()), []  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Problem(path, line, "TFH015", f"YAML syntax error: {problem}")]
    except RecursionError:
        return None, [Problem(path, 1, "TFH015", "YAML nesting too deep")]


def _line(d, key=None) -> int:
    if isinstance(d, LineDict):
        if key is not None and key in d.lines:
            return d.lines[key]
        return d.line
    return 1


# A repeated group whose content starts with a repeated atom: (a+)+, (\w*\s)+, (.*)*, ([a-z]+x)*.
# Each repetition of the outer group can then split the same characters in many ways.
_ATOM = r"(?:\\.|\.|\[(?:[^\]\\]|\\.)*\]|[^()\\|?*+])"
_NESTED_QUANT = re.compile(r"\((?:\?:|\?P<\w+>)?" + _ATOM + r"[+*](?:[^()]|\\.)*\)(?:[+*]|\{\d*,\d*\})")
# A repeated group with alternatives inside: (a|aa)*, (?:x|\s)+ - overlapping alternatives blow up;
# disjoint ones are better written as a character class anyway.
_REPEATED_ALTERNATION = re.compile(r"\((?:\?:|\?P<\w+>)?(?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\d*\})")
_ADJACENT_WILD = re.compile(r"(?:\.\*|\.\+)(?:[^()|]{0,3})(?:\.\*|\.\+)(?:[^()|]{0,3})(?:\.\*|\.\+)")


def regex_risk(pattern: str) -> Optional[str]:
    """A cheap static check for patterns prone to catastrophic backtracking."""
    if _NESTED_QUANT.search(pattern):
        return "a repeated group that starts with a repeated atom (e.g. (a+)+) can backtrack catastrophically"
    if _REPEATED_ALTERNATION.search(pattern):
        return "a repeated group with alternatives (e.g. (a|aa)*) can backtrack catastrophically; use a character class"
    if _ADJACENT_WILD.search(pattern):
        return "three or more adjacent .* / .+ can backtrack badly; anchor the pattern on literals"
    return None


def _str_list(value) -> Optional[list]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _check_when(when, path, problems, where: str, line: int) -> Optional[dict]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if when is None:
        return None
    if not isinstance(when, dict):
        problems.append(Problem(path, line, "TFH004", f"{where}: `when` must be a mapping"))
        return None
    out: dict = {}
    for key in when:
        if key not in WHEN_KEYS:
            problems.append(Problem(path, _line(when, key), "TFH003",
                                    f"{where}: unknown key `when.{key}` (allowed: {', '.join(sorted(WHEN_KEYS))})"))
    pk = when.get("packages")
    if pk is not None:
        if not isinstance(pk, dict):
            problems.append(Problem(path, _line(when, "packages"), "TFH004", f"{where}: `when.packages` must be a mapping"))
        else:
            out["packages"] = {}
            for dist, spec in pk.items():
                spec = "" if spec is None else str(spec)
                if spec not in ("", "*", "absent"):
                    try:
                        SpecifierSet(spec)
                    except InvalidSpecifier:
                        problems.append(Problem(path, _line(pk, dist), "TFH006",
                                                f"{where}: bad version specifier {spec!r} for {dist} (PEP 440, e.g. '>=2.16,<2.18')"))
                        continue
                out["packages"][str(dist)] = spec
    if when.get("python") is not None:
        spec = str(when["python"])
        try:
            SpecifierSet(spec)
            out["python"] = spec
        except InvalidSpecifier:
            problems.append(Problem(path, _line(when, "python"), "TFH006", f"{where}: bad python specifier {spec!r}"))
    if when.get("platform") is not None:
        plats = _str_list(when["platform"])
        if plats is None or any(p not in PLATFORMS for p in plats):
            problems.append(Problem(path, _line(when, "platform"), "TFH017",
                                    f"{where}: platform must be a list of {', '.join(PLATFORMS)}"))
        else:
            out["platform"] = plats
    return out


def _check_requirement(req: str, captures: set, path, line, problems, where):
    """Requirement strings must be PEP 508 once placeholders are filled in."""
    from packaging.requirements import InvalidRequirement, Requirement

    probe = PLACEHOLDER_RE.sub(lambda m: _placeholder_sample(m.group(1)), req)
    try:
        r = Requirement(probe)
    except InvalidRequirement as exc:
        problems.append(Problem(path, line, "TFH011", f"{where}: {req!r} is not a PEP 508 requirement ({exc})"))
        return
    if r.url:
        problems.append(Problem(path, line, "TFH011", f"{where}: {req!r}: URL requirements are not allowed in rules"))


def _placeholder_sample(name: str) -> str:
    # Stand-ins that keep the requirement grammatical for validation.
    if name.startswith("compat.") and name.endswith(("_for_tf", "_for_python")):
        return ">=1.0"
    return "1.0"


def _check_steps(steps, captures, path, problems, where, line) -> Optional[list]:
    if not isinstance(steps, list) or not steps:
        problems.append(Problem(path, line, "TFH004", f"{where}: `steps` must be a non-empty list"))
        return None
    out = []
    ok = True
    for i, step in enumerate(steps):
        sw = f"{where} step {i + 1}"
        sl = _line(step) if isinstance(step, dict) else line
        if isinstance(step, str):
            problems.append(Problem(path, line, "TFH011",
                                    f"{sw}: a step is a structured action, not a string (shell commands are not allowed)"))
            ok = False
            continue
        if not isinstance(step, dict) or "action" not in step:
            problems.append(Problem(path, sl, "TFH011", f"{sw}: each step needs `action:` ({', '.join(ACTIONS)})"))
            ok = False
            continue
        action = step["action"]
        if action not in ACTIONS:
            problems.append(Problem(path, sl, "TFH011", f"{sw}: unknown action {action!r} (allowed: {', '.join(ACTIONS)})"))
            ok = False
            continue
        for key in step:
            if key not in STEP_KEYS[action]:
                problems.append(Problem(path, _line(step, key), "TFH003",
                                        f"{sw}: unknown key `{key}` for {action} (allowed: {', '.join(sorted(STEP_KEYS[action]))})"))
                ok = False
        clean = {k: (str(v) if isinstance(v, (int, float)) and k in ("value",) else v) for k, v in step.items()}
        if action in ("pip_install", "pip_uninstall"):
            pk = _str_list(step.get("packages"))
            if not pk:
                problems.append(Problem(path, sl, "TFH004", f"{sw}: {action} needs `packages:` (a list of requirements)"))
                ok = False
            else:
                for req in pk:
                    _check_requirement(req, captures, path, _line(step, "packages"), problems, sw)
                clean["packages"] = pk
            opts = step.get("options")
            if opts is not None:
                ol = _str_list(opts)
                bad = [o for o in (ol or [None]) if o not in PIP_OPTIONS]
                if bad:
                    problems.append(Problem(path, _line(step, "options"), "TFH011",
                                            f"{sw}: pip options {bad} not allowed (allowed: {', '.join(sorted(PIP_OPTIONS))})"))
                    ok = False
                else:
                    clean["options"] = ol
        elif action == "set_env":
            name = step.get("name")
            if not isinstance(name, str) or not ENV_NAME_RE.match(name):
                problems.append(Problem(path, sl, "TFH011", f"{sw}: set_env needs a valid variable `name`"))
                ok = False
            if "value" not in step and not step.get("unset"):
                problems.append(Problem(path, sl, "TFH004", f"{sw}: set_env needs `value` (or `unset: true`)"))
                ok = False
            elif "value" in step:
                clean["value"] = str(step["value"])
            scope = step.get("scope", "session")
            if scope not in ENV_SCOPES:
                problems.append(Problem(path, _line(step, "scope"), "TFH017", f"{sw}: scope must be one of {', '.join(ENV_SCOPES)}"))
                ok = False
            clean["scope"] = scope
        elif action == "code_change":
            if not isinstance(step.get("before"), str) or not isinstance(step.get("after"), str):
                problems.append(Problem(path, sl, "TFH004", f"{sw}: code_change needs `before` and `after` strings"))
                ok = False
        elif action == "manual":
            if not isinstance(step.get("text"), str):
                problems.append(Problem(path, sl, "TFH004", f"{sw}: manual needs `text`"))
                ok = False
            link = step.get("link")
            if link is not None and (not isinstance(link, str) or not URL_RE.match(link)):
                problems.append(Problem(path, _line(step, "link"), "TFH007", f"{sw}: `link` must be an http(s) URL"))
                ok = False
        elif action == "verify":
            check = step.get("check", "import")
            if check not in VERIFY_CHECKS:
                problems.append(Problem(path, sl, "TFH017", f"{sw}: check must be one of {', '.join(VERIFY_CHECKS)}"))
                ok = False
            if check == "import" and not isinstance(step.get("code"), str):
                problems.append(Problem(path, sl, "TFH004", f"{sw}: verify check: import needs `code` (Python source run with -c)"))
                ok = False
            clean["check"] = check
        out.append(dict(clean))
    return out if ok else None


def _parse_matcher(raw, path, problems, block, idx, names) -> Optional[Matcher]:
    where = f"match.{block}[{idx}]"
    if isinstance(raw, str):
        raw = {"name": f"{block}{idx}", "type": "literal", "value": raw}
    if not isinstance(raw, dict):
        problems.append(Problem(path, 1, "TFH004", f"{where}: a matcher is a mapping or a string"))
        return None
    line = _line(raw)
    ok = True
    for key in raw:
        if key not in MATCHER_KEYS:
            problems.append(Problem(path, _line(raw, key), "TFH003",
                                    f"{where}: unknown key `{key}` (allowed: {', '.join(sorted(MATCHER_KEYS))})"))
            ok = False
    mtype = raw.get("type", "literal")
    part = raw.get("part", "line")
    value = raw.get("value")
    name = str(raw.get("name") or f"{block}{idx}")
    if name in names:
        problems.append(Problem(path, line, "TFH002", f"{where}: duplicate matcher name {name!r}"))
        ok = False
    names.add(name)
    if mtype not in MATCHER_TYPES:
        problems.append(Problem(path, _line(raw, "type"), "TFH017", f"{where}: type must be one of {', '.join(MATCHER_TYPES)}"))
        ok = False
    if part not in PARTS:
        problems.append(Problem(path, _line(raw, "part"), "TFH017", f"{where}: part must be one of {', '.join(PARTS)}"))
        ok = False
    if not isinstance(value, str) or not value:
        problems.append(Problem(path, line, "TFH004", f"{where}: `value` must be a non-empty string"))
        return None
    case = raw.get("case", "insensitive")
    if case not in ("sensitive", "insensitive"):
        problems.append(Problem(path, _line(raw, "case"), "TFH017", f"{where}: case must be sensitive or insensitive"))
        ok = False
    threshold = raw.get("threshold", 90)
    if mtype == "fuzzy":
        if not isinstance(threshold, int) or not 50 <= threshold <= 100:
            problems.append(Problem(path, _line(raw, "threshold"), "TFH017", f"{where}: fuzzy threshold must be an integer 50-100"))
            ok = False
        elif threshold < 80:
            problems.append(Problem(path, _line(raw, "threshold"), "TFH101", f"{where}: fuzzy threshold {threshold} < 80 is weak"))
        if part not in ("line", "message"):
            problems.append(Problem(path, _line(raw, "part"), "TFH017", f"{where}: fuzzy matchers work on line or message"))
            ok = False
        if len(value) < 12:
            problems.append(Problem(path, line, "TFH101", f"{where}: fuzzy value shorter than 12 characters is weak"))
    if mtype == "regex":
        try:
            re.compile(value)
        except re.error as exc:
            problems.append(Problem(path, _line(raw, "value"), "TFH005", f"{where}: regex does not compile: {exc}"))
            return None
        risk = regex_risk(value)
        if risk:
            problems.append(Problem(path, _line(raw, "value"), "TFH014", f"{where}: {risk}"))
            ok = False
    if mtype == "literal" and len(value) < 6 and part != "exception":
        problems.append(Problem(path, line, "TFH101", f"{where}: literal {value!r} shorter than 6 characters is weak"))
    if not ok:
        return None
    return Matcher(name=name, type=mtype, part=part, value=value, case_sensitive=(case == "sensitive"),
                   threshold=int(threshold) if isinstance(threshold, int) else 90)


def derive_anchors(rule_all: list, rule_any: list) -> list:
    """Lowercase literals for the prefilter: a rule is a candidate when any of them occurs.

    Every literal of ``all`` is an anchor (any one suffices to make the rule a candidate, so a
    partly matching rule can still be reported as a near miss); when ``all`` has none, the
    literals of an all-literal ``any`` block are.
    """
    lits = sorted({m.value.lower() for m in rule_all if m.type == "literal"})
    if lits:
        return lits
    if rule_any and all(m.type == "literal" for m in rule_any):
        return sorted({m.value.lower() for m in rule_any})
    return []


def _parse_examples(raw, path, problems) -> tuple:
    match, no_match = [], []
    if not isinstance(raw, dict):
        problems.append(Problem(path, 1, "TFH004", "`examples` must be a mapping with `match` and `no_match`"))
        return match, no_match
    for key in raw:
        if key not in ("match", "no_match", "todo_match", "todo_no_match", "needs_context"):
            problems.append(Problem(path, _line(raw, key), "TFH003", f"unknown key `examples.{key}`"))
    nc = raw.get("needs_context")
    if nc is not None and (not isinstance(nc, str) or not nc.strip()):
        problems.append(Problem(path, _line(raw, "needs_context"), "TFH004",
                                "`examples.needs_context` must say why no single line identifies this problem"))
    for key, out in (("match", match), ("no_match", no_match)):
        items = raw.get(key) or []
        if not isinstance(items, list):
            problems.append(Problem(path, _line(raw, key), "TFH004", f"`examples.{key}` must be a list"))
            continue
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.append({"text": item, "line": _line(raw, key)})
            elif isinstance(item, dict) and (isinstance(item.get("text"), str) or isinstance(item.get("corpus"), str)):
                ex = {k: item[k] for k in ("text", "corpus", "env") if k in item}
                ex["line"] = _line(item)
                out.append(ex)
            else:
                problems.append(Problem(path, _line(raw, key), "TFH004",
                                        f"`examples.{key}[{i}]` must be a string, {{text: ...}} or {{corpus: ...}}"))
    if not match:
        problems.append(Problem(path, _line(raw, "match"), "TFH008", "no `examples.match`: add inputs the rule must match"))
    if not no_match:
        problems.append(Problem(path, _line(raw, "no_match"), "TFH009", "no `examples.no_match`: add a near-miss the rule must not match"))
    return match, no_match


def parse_rule(data, path: str, expected_id: Optional[str] = None,
               expected_category: Optional[str] = None) -> tuple:
    """Validate one rule's data. Returns ``(Rule or None, [Problem])``; never raises."""
    problems: list = []
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "TFH015", "a rule file must be a YAML mapping"))
        return None, problems
    for key in data:
        if key not in RULE_KEYS:
            problems.append(Problem(path, _line(data, key), "TFH003",
                                    f"unknown key `{key}` (allowed: {', '.join(sorted(RULE_KEYS))})"))
    for key in REQUIRED:
        if data.get(key) in (None, "", []):
            problems.append(Problem(path, _line(data), "TFH004", f"missing required field `{key}`"))
    rid = data.get("id")
    if isinstance(rid, str) and not ID_RE.match(rid):
        problems.append(Problem(path, _line(data, "id"), "TFH001", f"id {rid!r} must match {ID_RE.pattern}"))
    elif isinstance(rid, str) and expected_id is not None and rid != expected_id:
        problems.append(Problem(path, _line(data, "id"), "TFH001", f"id {rid!r} must equal the file name {expected_id!r}"))
    cat = data.get("category")
    if cat is not None and cat not in CATEGORIES:
        problems.append(Problem(path, _line(data, "category"), "TFH016", f"category {cat!r} is not one of {', '.join(CATEGORIES)}"))
    elif cat is not None and expected_category is not None and cat != expected_category:
        problems.append(Problem(path, _line(data, "category"), "TFH016",
                                f"category {cat!r} must equal the folder name {expected_category!r}"))
    sev = data.get("severity")
    if sev is not None and sev not in SEVERITIES:
        problems.append(Problem(path, _line(data, "severity"), "TFH017", f"severity must be one of {', '.join(SEVERITIES)}"))
    conf = data.get("confidence", "high")
    if conf not in CONFIDENCES:
        problems.append(Problem(path, _line(data, "confidence"), "TFH017", f"confidence must be one of {', '.join(CONFIDENCES)}"))
    title = data.get("title")
    if isinstance(title, str) and len(title) > 80:
        problems.append(Problem(path, _line(data, "title"), "TFH102", "title longer than 80 characters"))
    for key in ("title", "summary", "cause"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            problems.append(Problem(path, _line(data, key), "TFH004", f"`{key}` must be a string"))
    refs = _str_list(data.get("references")) or []
    if data.get("references") and not refs:
        problems.append(Problem(path, _line(data, "references"), "TFH007", "`references` must be a list of URLs"))
    for ref in refs:
        if not URL_RE.match(ref):
            problems.append(Problem(path, _line(data, "references"), "TFH007", f"reference {ref!r} is not an http(s) URL"))
        elif re.match(r"https://github\.com/[^/]+/[^/]+/blob/(?:main|master|develop)/", ref):
            problems.append(Problem(path, _line(data, "references"), "TFH103",
                                    f"reference {ref!r} points at a moving branch; prefer a tag or commit permalink"))
    symptom_of = _str_list(data.get("symptom_of") or []) or []
    related = _str_list(data.get("related") or []) or []
    tags = _str_list(data.get("tags") or []) or []
    priority = data.get("priority", 1000)
    if not isinstance(priority, int):
        problems.append(Problem(path, _line(data, "priority"), "TFH017", "priority must be an integer"))
        priority = 1000

    # Matchers
    match = data.get("match")
    all_m, any_m, none_m = [], [], []
    if match is not None:
        if not isinstance(match, dict):
            problems.append(Problem(path, _line(data, "match"), "TFH004", "`match` must be a mapping of all / any / none"))
        else:
            names: set = set()
            for key in match:
                if key not in ("all", "any", "none"):
                    problems.append(Problem(path, _line(match, key), "TFH003", f"unknown key `match.{key}` (allowed: all, any, none)"))
            for block, out in (("all", all_m), ("any", any_m), ("none", none_m)):
                items = match.get(block) or []
                if not isinstance(items, list):
                    problems.append(Problem(path, _line(match, block), "TFH004", f"`match.{block}` must be a list"))
                    continue
                for i, raw in enumerate(items):
                    m = _parse_matcher(raw, path, problems, block, i, names)
                    if m is not None:
                        out.append(m)
                    else:
                        out.append(None)
            if not (match.get("all") or match.get("any")):
                problems.append(Problem(path, _line(data, "match"), "TFH004", "`match` needs at least one of `all` / `any`"))
    broken_matchers = any(m is None for m in all_m + any_m + none_m)
    all_m = [m for m in all_m if m]
    any_m = [m for m in any_m if m]
    none_m = [m for m in none_m if m]

    anchors_raw = data.get("anchors")
    anchors = []
    if anchors_raw is not None:
        al = _str_list(anchors_raw)
        if not al or any(len(a) < 3 for a in al):
            problems.append(Problem(path, _line(data, "anchors"), "TFH013", "`anchors` must be a list of literals of 3+ characters"))
        else:
            anchors = sorted({a.lower() for a in al})
    if not anchors:
        anchors = derive_anchors(all_m, any_m)
    if not anchors and not broken_matchers and (all_m or any_m):
        problems.append(Problem(path, _line(data, "match"), "TFH013",
                                "no prefilter anchor: add `anchors:` (lowercase literals the text must contain) "
                                "or a literal matcher under `all`"))

    when = _check_when(data.get("when"), path, problems, "rule", _line(data, "when"))
    captures = set()
    for m in all_m + any_m:
        captures.update(m.captures)

    fixes = []
    raw_fixes = data.get("fixes")
    if raw_fixes is not None:
        if not isinstance(raw_fixes, list):
            problems.append(Problem(path, _line(data, "fixes"), "TFH004", "`fixes` must be a list"))
        else:
            for i, rf in enumerate(raw_fixes):
                where = f"fixes[{i}]"
                if not isinstance(rf, dict) or not isinstance(rf.get("title"), str):
                    problems.append(Problem(path, _line(data, "fixes"), "TFH004", f"{where}: needs `title` and `steps`"))
                    continue
                for key in rf:
                    if key not in ("title", "when", "steps"):
                        problems.append(Problem(path, _line(rf, key), "TFH003", f"{where}: unknown key `{key}`"))
                fw = _check_when(rf.get("when"), path, problems, where, _line(rf, "when"))
                steps = _check_steps(rf.get("steps"), captures, path, problems, where, _line(rf, "steps"))
                if steps is not None:
                    fixes.append(Fix(title=rf["title"], steps=steps, when=fw))
            if fixes and all(PLACEHOLDER_RE.search(repr(f.steps)) and f.when for f in fixes):
                problems.append(Problem(path, _line(data, "fixes"), "TFH104",
                                        "every fix depends on the environment; add a last fix that needs none"))

    ex_match, ex_no_match = _parse_examples(data.get("examples"), path, problems) if data.get("examples") is not None else ([], [])
    verified = bool(data.get("verified", False))

    if any(p.is_error for p in problems):
        return None, problems
    rule = Rule(
        id=rid, title=title, category=cat, severity=sev, summary=data["summary"].strip(),
        cause=data["cause"].strip(), references=refs, all=all_m, any=any_m, none=none_m, fixes=fixes,
        examples_match=ex_match, examples_no_match=ex_no_match, confidence=conf, priority=priority,
        symptom_of=symptom_of, related=related, tags=tags, anchors=anchors, when=when, verified=verified,
        path=path,
    )
    return rule, problems
