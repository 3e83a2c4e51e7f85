"""Throwaway interpreters for doctor / front-end tests, built in milliseconds with no downloads:
a real venv (``python -m venv --without-pip``) holding metadata-only distributions, and shell
scripts that pose as a Python but hang or print garbage."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

NUMPY_BANNER = """
A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.1.2 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.
"""


def venv(root: Path) -> Path:
    """A bare venv; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def add_dist(python: Path, name: str, version: str, requires=(), init: str | None = None) -> None:
    """A distribution with METADATA only (what pip and importlib.metadata read), and optionally a
    package folder whose __init__.py is ``init``."""
    sp = site_packages(python)
    info = sp / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    if init is not None:
        pkg = sp / name.replace("-", "_")
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").write_text(init)


def tf215_numpy2_venv(root: Path) -> Path:
    """TensorFlow 2.15.0 (its real numpy pin) beside NumPy 2.1.2; ``import tensorflow`` prints NumPy's
    ABI banner and fails as the real one does."""
    py = venv(root)
    add_dist(py, "numpy", "2.1.2", init="__version__ = '2.1.2'\n")
    add_dist(py, "tensorflow", "2.15.0", requires=["numpy<2.0.0,>=1.23.5", "protobuf>=3.20.3"],
             init="import sys\nsys.stderr.write(%r)\nraise AttributeError('_ARRAY_API not found')\n" % NUMPY_BANNER)
    add_dist(py, "protobuf", "4.25.3")
    return py


def script(root: Path, name: str, body: str) -> Path:
    p = root / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return p
