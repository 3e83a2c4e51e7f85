"""Throwaway venvs for tests that install real packages, from one wheel cache, and applying a
diagnosis' fix in them the way `tfhelp fix --yes` does.

Wheels land in ~/.cache/tfhelp-wheels (downloaded once per machine); installs run offline from
there, so a re-run costs no network and the same versions every time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv

from tfhelp.kb.environment import Environment

WHEELS = os.path.expanduser("~/.cache/tfhelp-wheels")
PIP_ARGS = ("--no-index", "--find-links", WHEELS)


def pip_install(py: str, *args: str) -> None:
    """Install offline from the cache; on a first run on this machine, fill the cache, then retry."""
    cmd = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_ARGS, *args]
    if subprocess.run(cmd).returncode == 0:
        return
    os.makedirs(WHEELS, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", WHEELS, *args], check=True)
    subprocess.run(cmd, check=True)


def ensure_cached(*requirements: str) -> None:
    """Make sure the wheel cache can satisfy ``requirements`` (with their dependencies) offline;
    download what is missing once. Pinning every version a test relies on keeps a newer release
    on PyPI (ml-dtypes 0.7.0 arrived after the cases were recorded) out of a fresh machine's run."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        offline = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", *PIP_ARGS,
                   "-d", scratch, *requirements]
        if subprocess.run(offline, capture_output=True).returncode == 0:
            return
    os.makedirs(WHEELS, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", WHEELS, *requirements], check=True)


def cached_venv(path, *requirements: str) -> str:
    """A venv at ``path`` with ``requirements`` installed from the wheel cache."""
    venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
    py = str(path / "bin" / "python")
    if requirements:
        pip_install(py, *requirements)
    return py


def pip_list(py: str) -> dict:
    out = subprocess.run([py, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {d["name"].lower(): d["version"] for d in json.loads(out)}


def probed_env(py: str) -> Environment:
    """What the probe would report for packages and Python, read directly (no tfhelp code involved)."""
    pv = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                        capture_output=True, text=True, check=True).stdout.strip()
    return Environment(packages=pip_list(py), python=pv, platform="linux", source="probe")


def apply_first_fix(diagnosis, ctx, state_dir, verified=("passed",)):
    """Plan and apply ``diagnosis``' first offered fix through tfhelp's applier; assert that it ran,
    and that verification ended in one of ``verified`` (None/"none": the fix has no check)."""
    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.fixes.plan import apply_plan, build_plan

    fix = diagnosis.fixes[0]
    plan = build_plan(fix, ctx, rule_id=diagnosis.id, fix_index=0)
    assert plan.runnable, plan.errors
    out = apply_plan(plan, ctx, journal=Journal(str(state_dir)))
    assert out.status == "applied" and out.ok and out.verified in verified, (fix, out.messages)
    return fix
