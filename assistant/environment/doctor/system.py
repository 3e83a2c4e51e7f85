"""Checks of the machine and the interpreter: platform, Python, CPU, environment variables, and
the probe's own health."""
from __future__ import annotations

from typing import Optional

import os

from tfhelp.assistant.environment.doctor.context import Doctor
from tfhelp.assistant.environment.doctor.report import ERROR, INFO, OK, UNKNOWN, WARNING, Check


def platform_check(d: Doctor) -> Check:
    c = Check("platform", "Platform")
    o = d.p.os_info
    if not o:
        c.found = "unknown (basic probe failed)"
        return c
    parts = []
    if d.platform == "wsl":
        parts.append(f"WSL{(o.get('wsl_version') or '')} on Windows ({o.get('distro') or 'Linux'})")
    elif d.platform == "linux":
        parts.append(o.get("distro") or "Linux")
    elif d.platform == "macos":
        parts.append(f"macOS {o.get('mac_ver') or ''}".strip())
    elif d.platform == "windows":
        parts.append(f"Windows {o.get('release') or ''}".strip())
    else:
        parts.append(o.get("system") or "?")
    parts.append(o.get("machine") or "")
    if o.get("libc"):
        parts.append(o["libc"])
    cont = d.p.data("basic").get("container")
    if cont:
        parts.append(f"in a {cont} container")
    c.found = ", ".join(x for x in parts if x)
    c.status = OK
    return c


def python_check(d: Doctor) -> Check:
    c = Check("python", "Python")
    pyinfo = d.p.data("basic").get("python") or {}
    ver = pyinfo.get("version")
    if not ver:
        c.found = f"unknown ({d.py}: basic probe {d.p.status('basic')})"
        return c
    kind = pyinfo.get("env_kind") or "?"
    if kind == "conda" and pyinfo.get("conda_env"):
        kind = f"conda env {pyinfo['conda_env']}"
    c.found = f"{ver} ({pyinfo.get('bits', '?')}-bit, {kind}) at {pyinfo.get('executable') or d.py}"
    c.status = OK
    if pyinfo.get("bits") == 32:
        c.problem(ERROR, "This is a 32-bit Python; TensorFlow publishes 64-bit wheels only, so pip finds "
                  "no TensorFlow for it.", "pip-tensorflow-32bit-python",
                  "Install a 64-bit Python (python.org 'Windows installer (64-bit)', or conda) and "
                  "recreate the environment with it.")
    supported = d.c.tf_versions_for_python(ver, d.platform)
    if supported is not None:
        if not supported:
            sev = ERROR if not d.tf_dists else WARNING
            c.problem(sev, f"No TensorFlow release in tfhelp's compatibility table supports Python "
                      f"{'.'.join(ver.split('.')[:2])}; pip will report no matching distribution.",
                      "pip-no-matching-tensorflow",
                      "Create an environment with a Python that TensorFlow supports "
                      "(see `tfhelp plan`).")
        else:
            c.details.append(f"TensorFlow releases for this Python: {supported[0]} ... {supported[-1]}"
                             if len(supported) > 1 else f"TensorFlow release for this Python: {supported[0]}")
    if pyinfo.get("user_site_exists") and pyinfo.get("user_site_enabled") and kind == "system":
        user_site = pyinfo.get("user_site") or ""
        in_user = [n for n, dd in d.p.package_details.items()
                   if (dd.get("location") or "").startswith(user_site) and user_site]
        if in_user:
            c.found = c.found.replace(", system)", ", system + user site-packages)")
            c.details.append(f"installed with --user into {user_site} (these come before the system "
                             "site-packages): " + ", ".join(sorted(in_user)[:6]))
    return c


def cpu_check(d: Doctor) -> Check:
    c = Check("cpu", "CPU")
    cpu = d.p.cpu
    if not cpu:
        c.found = f"unknown (cpu probe {d.p.status('cpu')})"
        return c
    flags = cpu.get("flags")
    model = cpu.get("model") or cpu.get("machine") or "?"
    if flags is None:
        c.found = f"{model}; instruction-set flags unknown on this OS"
        c.status = UNKNOWN if (cpu.get("machine") or "").lower() in ("x86_64", "amd64", "i386", "i686") else INFO
        if c.status == INFO:
            c.found = f"{model} ({cpu.get('machine')}); AVX does not apply"
        return c
    have = [f.upper() for f in ("avx", "avx2", "fma", "avx512f") if flags.get(f)]
    lack = [f.upper() for f in ("avx", "avx2", "fma") if not flags.get(f)]
    c.found = f"{model}; " + (" ".join(have) if have else "no AVX")
    c.status = OK
    needs = set(d.c.cpu_requirements(d.tf)) if d.tf_dists else set()
    if d.tf_dists and not flags.get("avx"):
        c.problem(ERROR, "This CPU has no AVX. Every official TensorFlow x86 wheel since 1.6 uses AVX, so "
                  "`import tensorflow` dies with 'Illegal instruction' or an abort.", "cpu-illegal-instruction",
                  "Use a TensorFlow built without AVX (build from source, or a community no-AVX wheel / conda "
                  "build), or run on a CPU with AVX.")
    elif d.tf_dists and (d.tf == "2.4.0" or "avx2" in needs) and not flags.get("avx2"):
        c.problem(ERROR, f"TensorFlow {d.tf} wheels require AVX2 and this CPU lacks it (2.4.0 needed it "
                  "by accident; 2.4.1 removed the requirement).", "cpu-illegal-instruction",
                  "Install a release without that requirement.",
                  [d.pip("install", "tensorflow>=2.4.1,<2.5")] if d.tf == "2.4.0" else [])
    elif lack and d.tf_dists:
        c.details.append("missing " + " ".join(lack) + ": TensorFlow runs, just without those kernels")
    return c


def env_check(d: Doctor) -> Check:
    c = Check("env", "Environment variables")
    ev = d.p.env_vars
    shown = [k for k in ("CUDA_VISIBLE_DEVICES", "TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS",
                         "CUDA_HOME", "CUDA_PATH", "KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS",
                         "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION") if k in ev]
    c.found = ", ".join(f"{k}={ev[k]}" for k in shown) if shown else "none of the TensorFlow-related ones set"
    if ev.get("LD_LIBRARY_PATH"):
        c.details.append(f"LD_LIBRARY_PATH={ev['LD_LIBRARY_PATH']}")
    cuda_path = d.p.data("basic").get("path_cuda_entries") or []
    if cuda_path:
        c.details.append("PATH has CUDA folders: " + os.pathsep.join(cuda_path))
    c.status = OK
    kb = ev.get("KERAS_BACKEND")
    if kb and kb.lower() not in ("tensorflow",) and d.tf_dists:
        c.problem(WARNING, f"KERAS_BACKEND={kb}: Keras 3 will not use TensorFlow as its backend.", None,
                  "Unset KERAS_BACKEND or set it to tensorflow.")
    if str(ev.get("TF_CPP_MIN_LOG_LEVEL", "")).strip() in ("2", "3"):
        c.details.append("TF_CPP_MIN_LOG_LEVEL hides TensorFlow's warnings; unset it while debugging")
    return c


def probe_check(d: Doctor) -> Optional[Check]:
    bad = [r for r in d.p.failed_probes() if r.name != "tfimport"]  # the import check reports that one
    if not bad:
        return None
    c = Check("probe", "tfhelp probe")
    c.found = ", ".join(f"{r.name}: {r.status}" for r in bad)
    for r in bad:
        what = {"timeout": "did not answer in time and was killed", "crashed": f"crashed ({r.signal})",
                "error": f"failed: {r.error}", "unavailable": f"could not start: {r.error}"}.get(r.status, r.status)
        c.problem(WARNING, f"The {r.name} probe {what}.", None,
                  "The rest of the report is still valid; what that probe covers is unknown.")
    return c
