"""Which releases of the packages that rule fixes install have a binary wheel for each Python.

`tfhelp rules lint` (TFH018) uses this to tell what pip would pick for a fix step ("the newest
release matching the specifier that has a wheel for this Python") and whether a pinned version
exists for the Pythons a fix may run under (h5py==2.10.0 has no wheel for Python 3.9+).

Read with pip's own client, nothing else: for each package and Python,
`pip install --dry-run --no-deps --only-binary=:all: --python-version X.Y [--platform TAG]
--target DIR "PKG==0.0.0.dev0"` fails with "Could not find a version that satisfies the
requirement ... (from versions: ...)", and that list is every release that has a wheel pip would
accept for that interpreter and platform (Requires-Python included; pip reads only the index).
Writes tools/compat/wheel_index.yaml; gen.py copies it into kb/data/compat.yaml (`binary_wheels`).
Run: python tools/compat/wheel_index.py   (network to PyPI; ~2 minutes)
"""
import datetime
import os
import re
import subprocess
import sys

import yaml
from packaging.version import Version

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "wheel_index.yaml")
PYTHONS = ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
# (distribution, platform tag or None for this machine's manylinux x86_64)
TARGETS = [(d, None) for d in ("numpy", "h5py", "protobuf", "ml-dtypes", "tensorflow", "tensorflow-cpu", "tf-keras", "keras",
                               "typing-extensions")]
TARGETS += [(d, "win_amd64") for d in ("tensorflow", "tensorflow-intel", "tensorflow-cpu")]


def wheel_versions(dist, python, platform):
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
           "--only-binary=:all:", "--python-version", python, "--target", "/tmp/tfhelp-wheel-index-target",
           "--disable-pip-version-check", f"{dist}==0.0.0.dev0"]
    if platform:
        cmd += ["--platform", platform]
    err = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stderr
    m = re.search(r"\(from versions: ([^)]*)\)", err)
    if m is None:
        raise SystemExit(f"unexpected pip output for {dist} / Python {python}:\n{err}")
    vs = [v.strip() for v in m.group(1).split(",") if v.strip() and v.strip() != "none"]
    return sorted(vs, key=Version)


def main():
    rows = []
    for dist, platform in TARGETS:
        for py in PYTHONS:
            vs = wheel_versions(dist, py, platform)
            rows.append({"dist": dist, "python": py, "platform": platform or "manylinux_x86_64",
                         "versions": " ".join(vs)})
            print(dist, platform or "linux", py, len(vs), file=sys.stderr)
    doc = {"read": datetime.date.today().isoformat(),
           "how": "pip install --dry-run --no-deps --only-binary=:all: --python-version X.Y [--platform win_amd64] "
                  "DIST==0.0.0.dev0 -> the (from versions: ...) list (pip 23.2.1, PyPI); see tools/compat/wheel_index.py",
           "source": "https://pypi.org/simple/ (PEP 503 index, read with pip)",
           "rows": rows}
    with open(OUT, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, width=100000)


if __name__ == "__main__":
    main()
