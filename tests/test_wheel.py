"""The wheel works on its own: built, installed in a fresh venv, run from outside the checkout.

This is what a user gets from ``pip install tfhelp``: the ``tfhelp`` namespace with kb,
assistant and the rules as package data, and nothing named ``kb`` or ``assistant`` at top level.
"""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    wheel = next(dist.glob("tfhelp-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return wheel, env_dir


def test_wheel_contents(installed):
    import zipfile

    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"tfhelp"}, tops
    assert any(n.startswith("tfhelp/rules/") and n.endswith(".yaml") for n in names)
    assert "tfhelp/kb/engine.py" in names and "tfhelp/assistant/frontends/cli.py" in names


def test_installed_tfhelp_runs_from_elsewhere(installed, tmp_path):
    _, env_dir = installed
    exe = env_dir / "bin" / "tfhelp"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["TFHELP_CACHE_DIR"] = str(tmp_path / "cache")
    r = subprocess.run([str(exe), "--json", "diagnose", str(ROOT / "examples" / "keras-np-utils.txt")],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["diagnoses"][0]["id"] == "keras-np-utils-removed"
    r = subprocess.run([str(exe), "rules", "list", "--json"], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=120)
    shipped = json.loads(r.stdout)
    assert len(shipped) >= 80 and all("site-packages" in x["path"] for x in shipped)
    r = subprocess.run([str(env_dir / "bin" / "python"), "-m", "tfhelp", "--version"], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("tfhelp ")
    r = subprocess.run([str(exe), "rules", "test"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
