"""Run the checks: probe the target (twice when TensorFlow is there: the real import goes second,
once we know there is something to import), then every check in display order."""
from __future__ import annotations

from typing import Optional

from tfhelp.assistant.environment.doctor import cudalibs, deps, gpu, system, tensorflow
from tfhelp.assistant.environment.doctor.compat import Compat
from tfhelp.assistant.environment.doctor.context import Doctor
from tfhelp.assistant.environment.doctor.report import ERROR, RULE_IDS, UNKNOWN, Check, DoctorReport

#: Display order. Each check takes the shared :class:`Doctor` and returns a Check or None (not
#: applicable here).
CHECKS = (system.platform_check, system.python_check, tensorflow.tensorflow_check, tensorflow.keras_check,
          deps.numpy_check, deps.protobuf_check, deps.other_pins_check, system.cpu_check, gpu.gpu_check,
          cudalibs.cuda_libs_check, system.env_check, system.probe_check, tensorflow.import_check)


def diagnose(probe, compat: Optional[Compat] = None, seconds: float = 0.0,
             deep: Optional[dict] = None) -> DoctorReport:
    """Check a :class:`~tfhelp.assistant.environment.probe.ProbeResult` (no processes started)."""
    compat = compat or Compat()
    d = Doctor(probe, compat, deep)
    checks = []
    for fn in CHECKS:
        try:
            c = fn(d)
        except Exception as e:  # one broken check must not hide the others
            name = fn.__name__.replace("_check", "")
            c = Check(name, name.title(), UNKNOWN, f"check failed inside tfhelp: {type(e).__name__}: {e}")
        if c is not None:
            checks.append(c)
    _import_failure_marks_tensorflow(checks)
    align_commands_with_rules(d, checks)
    return DoctorReport(probe=probe, checks=checks, seconds=seconds, compat_missing=list(compat.missing), deep=deep)


def _import_failure_marks_tensorflow(checks: list) -> None:
    """A TensorFlow that is installed but does not import is not [ok]."""
    imp = next((c for c in checks if c.id == "import"), None)
    tf = next((c for c in checks if c.id == "tensorflow"), None)
    if imp is None or tf is None or imp.status != ERROR:
        return
    tf.raise_status(ERROR)
    tf.found += "; `import tensorflow` fails (see below)"


def align_commands_with_rules(d: Doctor, checks: list, ruleset=None) -> None:
    """Give a problem that names a rule the same first fix that ``diagnose``, ``run``, ``fix`` and the
    REPL offer for that rule in this environment: :func:`tfhelp.kb.engine.resolve_fixes` orders the
    alternatives for every front end. The doctor's own advice stays where the rule's first fix runs
    nothing in the target (only manual steps: the doctor, which has already measured the
    environment, is more specific there) or no fix resolves with the probe's facts."""
    named = [p for c in checks for p in c.problems if p.rule]
    if not named:
        return
    try:
        from tfhelp.kb.engine import resolve_fixes
        if ruleset is None:
            from tfhelp.kb.loader import load_ruleset
            ruleset = load_ruleset()
        env = d.environment
    except Exception:  # no rules: the doctor's own commands stand
        return
    for p in named:
        rule = ruleset.get(p.rule) if hasattr(ruleset, "get") else None
        if rule is None:
            continue
        fixes = resolve_fixes(rule, env, probe_captures(d))
        runnable = bool(fixes) and any(s.get("action") in ("pip_install", "pip_uninstall") for s in fixes[0]["steps"])
        commands = tensorflow.fix_commands(d, fixes[0]) if runnable else []
        if commands:
            p.commands = commands
            p.fix = fixes[0]["title"] + "."


def probe_captures(d: Doctor) -> dict:
    """The values a rule would capture from an error message, known here from the probe (so a fix
    such as "reinstall tensorflow=={tf_version} alone" resolves exactly as for the message)."""
    from tfhelp.assistant.environment.doctor.context import conflicting_tf_distributions

    out = {}
    if d.tf:
        out["tf_version"] = d.tf
    others = [x for x in conflicting_tf_distributions(d.p) if x != "tensorflow"]
    if others and "tensorflow" in d.tf_dists:
        out["other_dist"] = others[0]
    for dist in ("keras", "numpy", "protobuf"):
        if d.pk.get(dist):
            out[f"{dist}_version"] = d.pk[dist]
    if d.p.python_version:
        out["python_version"] = d.p.python_version
    return out


def needs_import_probe(probe) -> bool:
    """Is there a TensorFlow to import (a distribution, or a package folder without one)?"""
    return bool(probe.tf_distributions) or bool(probe.data("tfbuild").get("found"))


def run_doctor(target_python: Optional[str] = None, deep: bool = False, timeout: Optional[float] = None,
               compat: Optional[Compat] = None, import_tf: bool = True) -> DoctorReport:
    """Probe, then check. When TensorFlow is installed, a real ``import tensorflow`` runs in its own
    subprocess (``import_tf``) and its failure output is diagnosed by the rule engine."""
    import time

    from tfhelp.assistant.environment.probe import DEEP_PROBES
    from tfhelp.assistant.environment.probe import probe as run_probe

    t0 = time.monotonic()
    pr = run_probe(target_python, timeout=timeout)
    deep_info = None
    if (deep or import_tf) and needs_import_probe(pr):
        extra = run_probe(pr.target_python, only=[], extra=DEEP_PROBES, timeout=timeout)
        pr.probes.update(extra.probes)
        pr.seconds = time.monotonic() - t0
        r = pr.probes.get("tfimport")
        deep_info = {"status": r.status if r else "not-run"}
        if r is not None and not r.ok:
            text = (r.stderr_tail or "") + "\n" + (r.error or "")
            if r.signal:
                from tfhelp.assistant.environment.gpu_test import shell_signal_line
                text += "\n" + shell_signal_line(r.signal)
            deep_info["diagnoses"] = diagnose_text(text, pr)
    return diagnose(pr, compat=compat, seconds=time.monotonic() - t0, deep=deep_info)


def diagnose_text(text: str, probe=None) -> Optional[list]:
    """Run the rule engine on captured output; ``None`` if the engine is unavailable."""
    try:
        from tfhelp.kb.engine import Engine
        from tfhelp.kb.loader import load_ruleset
    except Exception:
        return None
    try:
        env = probe.to_environment() if probe is not None else None
        report = Engine(load_ruleset()).diagnose(text, env=env)
        js = report.to_json()
    except Exception as e:
        return [{"id": None, "title": f"diagnosis failed inside tfhelp: {type(e).__name__}: {e}", "summary": ""}]
    return [{"id": d.get("id"), "title": d.get("title"), "summary": d.get("summary"), "severity": d.get("severity"),
             "score": d.get("score"), "fixes": d.get("fixes")} for d in js.get("diagnoses") or []]


__all__ = ["CHECKS", "diagnose", "run_doctor", "diagnose_text", "align_commands_with_rules", "RULE_IDS"]
