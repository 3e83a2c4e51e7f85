"""Requires-Dist of the Windows (win_amd64) tensorflow / tensorflow-cpu wheels, 2.10 - 2.21.

The METADATA files in tools/compat/metadata/ come from the Linux wheels; their
`tensorflow-intel ; platform_system == "Windows"` line says nothing reliable about what the
Windows wheels themselves need (2.18.1 and 2.19.x name a tensorflow-intel release that was never
published). This reads the Windows wheels' own metadata with pip:
`pip install --dry-run --report FILE --no-deps --only-binary=:all: --platform win_amd64
--python-version 3.10|3.11 --target DIR tensorflow==X` (pip fetches only the .metadata file,
PEP 658). Writes tools/compat/windows_metadata.yaml; gen.py reads it for the
`windows-intel-builds` event and the wheel rows' `windows_requires` field.
Run: python tools/compat/windows_metadata.py   (network to PyPI; ~2 minutes)
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "windows_metadata.yaml")
RELEASES = ["2.10.0", "2.10.1", "2.11.0", "2.11.1", "2.12.0", "2.12.1", "2.13.0", "2.13.1", "2.14.0", "2.14.1",
            "2.15.0", "2.15.1", "2.16.1", "2.16.2", "2.17.0", "2.17.1", "2.18.0", "2.18.1", "2.19.0", "2.19.1",
            "2.20.0", "2.21.0"]


def metadata(spec, python):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", report, "--no-deps",
               "--ignore-installed", "--only-binary=:all:", "--platform", "win_amd64", "--python-version", python,
               "--target", os.path.join(tmp, "t"), "--disable-pip-version-check", spec]
        if subprocess.run(cmd, capture_output=True, text=True, timeout=300).returncode != 0:
            return None
        item = json.load(open(report))["install"][0]
    return item["download_info"]["url"].rsplit("/", 1)[-1], item["metadata"]


def main():
    rows = []
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel"):
        for ver in RELEASES:
            got = metadata(f"{dist}=={ver}", "3.10") or metadata(f"{dist}=={ver}", "3.11")
            if got is None:
                rows.append({"dist": dist, "version": ver, "wheel": None})
                continue
            wheel, md = got
            reqs = md.get("requires_dist") or []
            keep = [r for r in reqs if r.split(";")[0].strip().lower().replace("_", "-").startswith(
                ("tensorflow-intel", "numpy", "protobuf", "keras", "ml-dtypes"))]
            rows.append({"dist": dist, "version": ver, "wheel": wheel, "requires_python": md.get("requires_python"),
                         "requires_dist": keep})
            print(dist, ver, wheel, file=sys.stderr)
    doc = {"read": datetime.date.today().isoformat(),
           "how": "pip install --dry-run --report --no-deps --only-binary=:all: --platform win_amd64 "
                  "--python-version 3.10 (3.11 when no 3.10 wheel) DIST==X (pip 23.2.1, PyPI)",
           "source": "https://pypi.org/project/tensorflow-intel/#history ; https://pypi.org/project/tensorflow/#files",
           "rows": rows}
    with open(OUT, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, width=100000)


if __name__ == "__main__":
    main()
