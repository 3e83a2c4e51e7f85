"""TFH018: pip steps checked against the compatibility model for every version their `when` allows.

A fix is offered to every environment its rule's and its own `when` do not contradict, so each
``pip_install`` step must be right for all of them, not only for the report it was written from.
For each TensorFlow release the conditions allow (the newest known patch of each minor, and the
first patch where the pins changed) and each Python that release supports, this module asks what
pip would do with the step:

* pip picks the newest release that matches the specifier and has a wheel for that Python
  (``binary_wheels`` in the model, read with pip itself by tools/compat/wheel_index.py); when the
  same step installs TensorFlow, the TF wheel's own pins take part too.
* ``numpy2``: the NumPy that step leaves is 2.x while that TF needs NumPy < 2 (every release
  before 2.18, whatever its wheel declares: 2.10 declares only numpy>=1.20). A step that installs
  another TF release without a NumPy pin counts too (pip then brings the newest NumPy that TF's
  loose pin admits); reinstalling the TF already there does not (pip keeps satisfied dependencies).
* ``protobuf``: the protobuf pip picks is outside the TF wheel's declared protobuf pins.
* ``pulls-tf``: a package that depends on tensorflow (tf-keras, tensorflow-text, ...) without a
  specifier, or with one whose newest match requires another TF than the one installed: pip
  then upgrades or downgrades TensorFlow itself.
* ``tf-unpinned``: a TensorFlow distribution without a specifier jumps to the newest release,
  unless the fix says TensorFlow is absent (``when: {packages: {tensorflow: absent}}``).
* ``no-wheel``: no release matching the specifier has a wheel for a Python the conditions allow
  (h5py==2.10.0 on Python 3.9+, numpy>=1.26.1 on 3.8).

Placeholders are resolved per environment exactly as the engine would; a step whose placeholders
can't be resolved there is not offered there and is not checked. Nothing here imports
TensorFlow; it reads ``kb/data/compat.yaml``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

from tfhelp.kb.environment import TF_DISTRIBUTIONS, Environment, canonical
from tfhelp.kb.model import PLACEHOLDER_RE, Problem

CODE = "TFH018"
#: Pythons considered when nothing narrows them (what tfhelp's probe supports and wheels exist for).
ALL_PYTHONS = ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
NUMPY2_FIRST_TF = "2.18"


def _V(s):
    from packaging.version import Version

    return Version(str(s))


def _spec(s):
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(str(s or ""))


@lru_cache(maxsize=None)
def _wheels(dist: str, python: str) -> Optional[tuple]:
    """Releases of ``dist`` with a manylinux x86_64 wheel for ``python``, oldest first; None = unknown."""
    from tfhelp.kb import compat

    for row in compat.data().get("binary_wheels", {}).get("rows", []):
        if row["dist"] == dist and row["python"] == python and row.get("platform", "manylinux_x86_64") == "manylinux_x86_64":
            return tuple(sorted((v for v in row["versions"].split()), key=_V))
    return None


@lru_cache(maxsize=None)
def _pick(dist: str, python: str, spec: str) -> Optional[str]:
    """What pip installs for ``dist<spec>`` on ``python``: newest matching release with a wheel."""
    vs = _wheels(dist, python)
    if vs is None:
        return None
    ss = _spec(spec)
    ok = [v for v in vs if ss.contains(_V(v), prereleases=False)]
    return ok[-1] if ok else ""


@lru_cache(maxsize=1)
def _tf_releases() -> tuple:
    """TF releases to check: every wheel row of `tensorflow` plus tested-build releases without one."""
    from tfhelp.kb import compat

    seen = {}
    for r in compat.data().get("wheels", []):
        if r["dist"] == "tensorflow":
            seen[r["version"]] = True
    minors_with_rows = {compat._minor(v) for v in seen}
    for r in compat.data().get("tested_builds", []):
        mm = compat._minor(r["tf"])
        if r["os"] == "linux" and mm and mm >= (1, 15) and mm not in minors_with_rows:
            seen[r["tf"]] = True
    return tuple(sorted(seen, key=_V))


@lru_cache(maxsize=None)
def _tf_pythons(tf: str) -> tuple:
    from tfhelp.kb import compat

    pys = compat.python_versions_for_tf(tf, "linux")
    rp = compat.requires_python_for_tf(tf)
    if rp:
        pys = [p for p in (pys or ALL_PYTHONS) if _spec(rp).contains(_V(p + ".0"))]
    return tuple(p for p in pys if p in ALL_PYTHONS)


def _tf_needs_numpy1(tf: str) -> bool:
    return _V(tf) < _V(NUMPY2_FIRST_TF)


def _merge_when(*whens) -> dict:
    """Combined conditions: TF specifiers joined, Pythons joined, 'absent' remembered."""
    tf_specs, py_specs, platforms, absent = [], [], None, False
    for w in whens:
        if not w:
            continue
        for dist, spec in (w.get("packages") or {}).items():
            if canonical(dist) in TF_DISTRIBUTIONS:
                if spec == "absent":
                    absent = True
                elif spec not in ("", "*"):
                    tf_specs.append(spec)
        if w.get("python"):
            py_specs.append(w["python"])
        if w.get("platform"):
            platforms = set(w["platform"]) if platforms is None else platforms & set(w["platform"])
    return {"tf": ",".join(tf_specs), "python": ",".join(py_specs), "platform": platforms, "absent": absent}


def _envs(scope: dict):
    """(tf or None, python) pairs a fix with these conditions can meet."""
    py_ok = _spec(scope["python"])
    if scope["absent"]:
        for p in ALL_PYTHONS:
            if py_ok.contains(_V(p + ".0")):
                yield None, p
        return
    tf_ok = _spec(scope["tf"])
    for tf in _tf_releases():
        if not tf_ok.contains(_V(tf), prereleases=True):
            continue
        for p in _tf_pythons(tf):
            if not py_ok.contains(_V(p + ".0")):
                continue
            # an environment that can't exist: that TF release has no wheel for that Python
            have = [w for w in (_wheels("tensorflow", p), _wheels("tensorflow-cpu", p)) if w is not None]
            if have and not any(tf in w for w in have):
                continue
            yield tf, p


def _resolve(req: str, tf: Optional[str], python: str, platform: Optional[str], captures: set):
    """The requirement as the engine would fill it in this environment; None = not offered / unknown."""
    from tfhelp.kb.templates import Unresolved, fill

    names = {m.group(1) for m in PLACEHOLDER_RE.finditer(req)}
    if any("." not in n and n in captures for n in names):
        return None  # depends on the user's text; can't be checked here
    env = Environment(packages={"tensorflow": tf} if tf else {}, python=python + ".0",
                      platform=platform or "linux", source="probe")
    try:
        return fill(req, {}, env, captures)
    except Unresolved:
        return None


def _parse(req: str):
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(req)
    except InvalidRequirement:
        return None


@lru_cache(maxsize=1)
def _dependents() -> dict:
    from tfhelp.kb import compat

    return {canonical(r["dist"]): r for r in compat.data().get("tf_dependents", [])}


def _tf_keras_tf_pin(version: str) -> Optional[str]:
    """tf-keras's tensorflow requirement for this release (wheel METADATA; X.Y convention after 2.15.1)."""
    from tfhelp.kb import compat

    for r in compat.data().get("wheels", []):
        if r["dist"] == "tf-keras" and r["version"] == version:
            return r.get("tensorflow")  # None: that release names no tensorflow
    v = _V(version)
    if v >= _V("2.15.1"):
        a, b = v.release[0], v.release[1]
        return f">={a}.{b},<{a}.{b + 1}"
    return None


def _fmt_envs(pairs) -> str:
    by_tf: dict = {}
    for tf, p in pairs:
        by_tf.setdefault(tf, []).append(p)
    parts = []
    for tf, ps in list(by_tf.items())[:4]:
        ps = sorted(set(ps), key=_V)
        runs, run = [], []
        for q in ps:  # contiguous runs over ALL_PYTHONS: 3.7-3.8, 3.13
            if run and ALL_PYTHONS.index(q) != ALL_PYTHONS.index(run[-1]) + 1:
                runs.append(run)
                run = []
            run.append(q)
        runs.append(run)
        py = ", ".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
        parts.append(f"TF {tf} / Python {py}" if tf else f"Python {py}")
    more = len(by_tf) - 4
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _line_of(path: str, req: str, fix_index: int) -> int:
    """Line of the requirement in the rule file: the first quoted / listed occurrence after the
    fix's own entry under `fixes:` (best effort; 1 when not found)."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, UnicodeDecodeError):
        return 1
    start = next((i for i, l in enumerate(lines) if l.startswith("fixes:")), 0)
    seen = -1
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("- title:"):
            seen += 1
            if seen == fix_index:
                start = i
                break
    needles = (f'"{req}"', f"'{req}'", f"[{req}]", f"[{req},", f" {req}]", f"- {req}")
    for i in range(start, len(lines)):
        if any(n in lines[i] for n in needles):
            return i + 1
    return start + 1 if start else 1


def check_step(reqs: list, scope: dict, captures: set) -> list:
    """Problems of one pip_install step under ``scope``: [(reason, requirement, message)]."""
    from tfhelp.kb import compat

    found: dict = {}

    def add(reason, req, msg, env):
        """Group by (reason, requirement): one problem per step and class, the first concrete
        case spelled out, the environments where it happens listed after it."""
        entry = found.setdefault((reason, req), [msg, []])
        entry[1].append(env)

    platform = sorted(scope["platform"])[0] if scope["platform"] else None
    linux_wheels = scope["platform"] is None or bool(scope["platform"] & {"linux", "wsl"})
    # Class checks that need no environment.
    for raw in reqs:
        r = _parse(PLACEHOLDER_RE.sub("1.0", raw)) if PLACEHOLDER_RE.search(raw) else _parse(raw)
        if r is None:
            continue
        name = canonical(r.name)
        has_spec = bool(str(r.specifier)) or bool(PLACEHOLDER_RE.search(raw.split(";")[0][len(r.name):]))
        if name in TF_DISTRIBUTIONS and not has_spec and not scope["absent"]:
            add("tf-unpinned", raw, f"`{raw}` has no version: pip installs the newest TensorFlow, which may "
                "not fit the user's Python, CUDA or code; pin it (e.g. ==X.Y.* or a {compat.*} / {env.*} "
                "placeholder) or say `when: {packages: {tensorflow: absent}}`", None)
        if name in _dependents() and not has_spec:
            dep = _dependents()[name]
            add("pulls-tf", raw, f"`{raw}` has no version: its newest release requires {dep['requires']} "
                "so pip upgrades TensorFlow itself; pin it to the installed TF minor "
                "(e.g. tf-keras{compat.tf_keras_for_tf})", None)
    for tf0, py in _envs(scope):
        filled = []
        for raw in reqs:
            val = _resolve(raw, tf0, py, platform, captures)
            if val is None:
                filled = None
                break
            r = _parse(val)
            if r is not None:
                filled.append((raw, r))
        if not filled:
            continue
        by_name = {canonical(r.name): (raw, r) for raw, r in filled}
        tf_req = next(((raw, r) for raw, r in filled if canonical(r.name) in TF_DISTRIBUTIONS), None)
        tf = tf0
        if tf_req is not None:
            pick = _pick("tensorflow", py, str(tf_req[1].specifier))
            tf = pick or None
        # no-wheel
        if linux_wheels:
            for raw, r in filled:
                name = canonical(r.name)
                if r.marker is not None and not r.marker.evaluate({"python_version": py, "python_full_version": py + ".0"}):
                    continue
                if not str(r.specifier):
                    continue  # only pins can name a release that does not exist for this Python
                wdist = "tensorflow" if name in TF_DISTRIBUTIONS and name != "tensorflow-cpu" else name
                if _wheels(wdist, py) is None:
                    continue
                if _pick(wdist, py, str(r.specifier)) == "":
                    add("no-wheel", raw, f"no {name} release matching `{r.specifier}` has a wheel for this "
                        "Python; add a `python` condition to the fix or change the pin", (tf0, py))
        if tf is None:
            continue
        # numpy2
        if _tf_needs_numpy1(tf):
            if "numpy" in by_name:
                raw, r = by_name["numpy"]
                spec = str(r.specifier)
                if tf_req is not None:
                    spec = ",".join(s for s in (spec, compat.numpy_spec_for_tf(tf, py) or "") if s)
                np_pick = _pick("numpy", py, spec)
                if np_pick and _V(np_pick).major >= 2:
                    add("numpy2", raw, f"`{raw}` lets pip pick NumPy {np_pick}, but TensorFlow {tf} needs "
                        "NumPy < 2 (use numpy{compat.numpy_for_tf} or add <2)", (tf0 or tf, py))
            elif tf_req is not None and tf != tf0:
                # (reinstalling the TF that is already there, e.g. ==\{env.tensorflow\}[and-cuda],
                # keeps the NumPy that TF already runs with: pip leaves satisfied dependencies alone)
                spec = compat.numpy_spec_for_tf(tf, py) or ""
                np_pick = _pick("numpy", py, spec)
                if np_pick and _V(np_pick).major >= 2:
                    add("numpy2", tf_req[0], f"installing `{tf_req[0]}` gives TensorFlow {tf}, whose wheel declares "
                        f"numpy{spec or ' without a bound'}: pip brings NumPy {np_pick} and the import fails; "
                        "add \"numpy<2\" to the same step", (tf0, py))
        # protobuf
        if "protobuf" in by_name:
            raw, r = by_name["protobuf"]
            need = compat.protobuf_spec_for_tf(tf, py)
            if need:
                spec = str(r.specifier)
                if tf_req is not None:
                    spec = ",".join(s for s in (spec, need) if s)
                pb = _pick("protobuf", py, spec)
                if pb == "" or (pb and not _spec(need).contains(_V(pb), prereleases=True)):
                    got = f"protobuf {pb}" if pb else "no protobuf release at all"
                    add("protobuf", raw, f"`{raw}` gives {got}, outside TensorFlow {tf}'s declared "
                        f"protobuf{need} (use protobuf{{compat.protobuf_for_tf}} or a `when` per TF range)",
                        (tf0 or tf, py))
        # pulls-tf with a specifier: the newest matching tf-keras must require this TF
        if "tf-keras" in by_name and tf_req is None:
            raw, r = by_name["tf-keras"]
            if str(r.specifier):
                tk = _pick("tf-keras", py, str(r.specifier))
                pin = _tf_keras_tf_pin(tk) if tk else None
                if pin and not _spec(pin).contains(_V(tf), prereleases=True):
                    add("pulls-tf", raw, f"`{raw}` gives tf-keras {tk}, which requires tensorflow{pin}: pip "
                        f"replaces TensorFlow {tf}; pin tf-keras to the TF minor (tf-keras{{compat.tf_keras_for_tf}})",
                        (tf0, py))
    out = []
    for (reason, req), (msg, envs) in found.items():
        envs = [e for e in envs if e is not None]
        where = f" (for {_fmt_envs(envs)})" if envs else ""
        out.append((reason, req, f"{reason}: {msg}{where}"))
    return out


def check_rule(rule) -> list:
    """TFH018 problems of one loaded rule."""
    problems = []
    captures = rule.captures
    for i, fix in enumerate(rule.fixes):
        scope = _merge_when(rule.when, fix.when)
        for j, step in enumerate(fix.steps):
            if step.get("action") != "pip_install":
                continue
            reqs = [p for p in step.get("packages") or [] if isinstance(p, str)]
            for reason, req, msg in check_step(reqs, scope, captures):
                line = _line_of(rule.path, req, i) if rule.path else 1
                problems.append(Problem(rule.path, line, CODE, f"fixes[{i}] step {j + 1}: {msg}"))
    return problems


def check_rules(rules) -> list:
    problems = []
    for rule in rules:
        try:
            problems.extend(check_rule(rule))
        except Exception as exc:  # noqa: BLE001 - a broken model row must not crash `rules lint`
            problems.append(Problem(rule.path, 1, CODE, f"could not check pip steps: {type(exc).__name__}: {exc}"))
    return problems


__all__ = ["CODE", "check_rule", "check_rules", "check_step"]
