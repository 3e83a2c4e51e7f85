"""Build kb/data/compat.yaml from primary sources read locally:
 - tensorflow/docs site/en/install/source.md, source_windows.md at commit 7c3650212 (tested builds),
   a git checkout given by TFHELP_DOCS_REPO (default: the workspace mirror)
 - wheel METADATA extracted from pip-downloaded TF wheels (tools/compat/metadata/, refreshed with
   `pip download --no-deps tensorflow==X` and `unzip -p *.whl '*/METADATA'`)
 - curated rows (events, drivers, compute capability) with their sources (curated.yaml).
 - wheel_index.yaml (wheel_index.py): releases with a wheel per Python, read with pip; it fills
   `binary_wheels` (lint TFH018) and the Windows tested-build rows the docs table lacks (2.13).
 - windows_metadata.yaml (windows_metadata.py): the win_amd64 wheels' own Requires-Dist.
The procedure is described in docs/compat.md.
"""
import glob, os, re, subprocess, sys
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

DOCS = os.environ.get("TFHELP_DOCS_REPO", "/work/.mirror/tensorflow+docs/repo")
DOCS_COMMIT = "7c3650212"
HERE = os.path.dirname(os.path.abspath(__file__))
META = os.environ.get("TFHELP_WHEEL_METADATA", os.path.join(HERE, "metadata"))
REF = yaml.safe_load(open(os.environ.get("TFHELP_REFERENCE", os.path.join(HERE, "..", "..", "..", "shared", "reference", "compat.yaml"))))

def docs_file(path, commit=DOCS_COMMIT):
    return subprocess.check_output(["git", "-C", DOCS, "show", f"{commit}:{path}"], text=True)

def tables(md):
    """Yield (heading, rows) for each html table in the markdown."""
    heading = None
    rows = []
    out = []
    for line in md.splitlines():
        if line.startswith("#"):
            heading = line.strip("# ").strip()
        m = re.findall(r"<td>(.*?)</td>", line)
        if m:
            rows.append((heading, m))
    return rows

def tested_builds():
    out = []
    src = {
        "linux": ("site/en/install/source.md", "https://www.tensorflow.org/install/source#tested_build_configurations"),
        "windows": ("site/en/install/source_windows.md", "https://www.tensorflow.org/install/source_windows#tested_build_configurations"),
    }
    for osname, (path, url) in src.items():
        md = docs_file(path)
        section = None
        sub = None
        for line in md.splitlines():
            if line.startswith("### "):
                sub = line[4:].strip()
            if line.startswith("## "):
                section = line[3:].strip()
            if section != "Tested build configurations":
                continue
            if "<th>" in line and "cuDNN" in line:
                sub_dev = "gpu"
            cells = re.findall(r"<td>(.*?)</td>", line)
            if not cells:
                continue
            name = cells[0]
            m = re.match(r"(tensorflow(?:_gpu)?)-([\d.]+)", name)
            if not m:
                continue
            device = "gpu" if len(cells) >= 6 else "cpu"
            if osname == "linux":
                os_ = {"Linux": "linux", "macOS": "macos"}.get(sub, sub)
            else:
                os_ = "windows"
            row = {"tf": m.group(2), "os": os_, "device": device, "package": m.group(1).replace("_", "-"),
                   "python": cells[1], "compiler": cells[2], "build_tool": cells[3]}
            if device == "gpu":
                row["cudnn"] = cells[4]
                row["cuda"] = cells[5]
            row["source"] = url
            row["checked"] = f"read from tensorflow/docs {path} @ {DOCS_COMMIT}"
            out.append(row)
    return out

KEYS = {"numpy", "protobuf", "keras", "ml-dtypes", "tensorboard", "tensorflow-intel",
        "keras-nightly", "tf-keras", "h5py", "tensorflow"}

def wheels():
    out = []
    for f in sorted(glob.glob(f"{META}/*.METADATA")):
        text = open(f).read()
        wheel = re.search(r"^# wheel: (\S+)", text, re.M).group(1)
        name = re.search(r"^Name: (\S+)", text, re.M).group(1)
        ver = re.search(r"^Version: (\S+)", text, re.M).group(1)
        rp = re.search(r"^Requires-Python: (.+)$", text, re.M)
        dist = name.lower().replace("_", "-")
        row = {"dist": dist, "version": ver, "wheel": wheel, "requires_python": rp.group(1).strip() if rp else None}
        reqs = {}
        and_cuda = {}
        for line in re.findall(r"^Requires-Dist: (.+)$", text, re.M):
            r = Requirement(line)
            rname = r.name.lower().replace("_", "-")
            marker = str(r.marker) if r.marker else ""
            if "extra ==" in marker:
                if "and-cuda" in marker:
                    if rname in ("nvidia-cudnn-cu12", "nvidia-cudnn-cu11"):
                        and_cuda["cudnn"] = f"{rname}{r.specifier}"
                    if rname in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11"):
                        and_cuda["cuda_runtime"] = f"{rname}{r.specifier}"
                continue
            if rname in KEYS:
                spec = str(r.specifier)
                entry = spec if not marker else {"spec": spec, "marker": marker}
                reqs.setdefault(rname, []).append(entry)
        for k, v in reqs.items():
            row[k.replace("-", "_")] = v[0] if len(v) == 1 else v
        if and_cuda:
            row["and_cuda"] = and_cuda
        row["source"] = f"wheel METADATA of {dist}=={ver} ({wheel}, downloaded from PyPI with pip download --no-deps)"
        row["checked"] = "wheel-metadata"
        out.append(row)
    out.sort(key=lambda r: (r["dist"], Version(r["version"])), reverse=True)
    return out

def wheel_index():
    return yaml.safe_load(open(os.path.join(HERE, "wheel_index.yaml")))


def windows_gap_rows(builds, index):
    """Windows rows for TF minors the docs' Windows table skips (2.13), from the wheels that exist.

    The docs list no tested build for them, so the Pythons are the ones PyPI has a win_amd64 wheel
    of that minor's Windows build for, and compiler / build tool are unknown (None) rather than
    copied from the Linux row."""
    win = {tuple(int(x) for x in r["tf"].split(".")[:2]) for r in builds if r["os"] == "windows"}
    linux = sorted({tuple(int(x) for x in r["tf"].split(".")[:2]) for r in builds if r["os"] == "linux"})
    out = []
    for mm in linux:
        if mm in win or mm < (2, 10):
            continue
        # 2.11 - 2.18.0 Windows wheels are shells over tensorflow-intel: the real build is that one.
        dist = "tensorflow-intel" if (2, 11) <= mm <= (2, 18) else "tensorflow"
        first, pys = None, []
        for row in index["rows"]:
            if row["dist"] != dist or row["platform"] != "win_amd64":
                continue
            vs = [v for v in row["versions"].split() if re.fullmatch(rf"{mm[0]}\.{mm[1]}\.\d+", v)]
            if vs:
                pys.append(row["python"])
                first = min([first] + vs if first else vs, key=Version)
        if not pys:
            continue
        pys.sort(key=Version)
        out.append({"tf": first, "os": "windows", "device": "cpu", "package": "tensorflow",
                    "python": f"{pys[0]}-{pys[-1]}", "compiler": None, "build_tool": None,
                    "source": f"https://pypi.org/project/{dist}/{first}/#files",
                    "checked": f"wheel-index (not in the docs' Windows table; Pythons with a win_amd64 {dist} {mm[0]}.{mm[1]} "
                               "wheel, tools/compat/wheel_index.py; compiler and build tool unknown)"})
    return out


def main():
    data = yaml.safe_load(open(sys.argv[1]))  # curated part
    builds = tested_builds()
    index = wheel_index()
    data["tested_builds"] = builds + windows_gap_rows(builds, index)
    drv = []
    for r in REF["cuda_toolkit_min_driver"]:
        m = re.match(r"(\d+\.\d+)", r["cuda"])
        win = r["windows_x86_64_min"]
        drv.append({"cuda": m.group(1), "release": r["cuda"], "linux": r["linux_x86_64_min"],
                    "windows": win if re.match(r"^[\d.]+$", win) else None,
                    "source": "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#cuda-driver (Table 3)",
                    "checked": "search (all 58 rows compared with a verbatim copy of NVIDIA's CUDA 13.1 release notes, Table 3, found in the public code index; the same kind of copy the reference used)"})
    for row in drv:
        if row["cuda"] in ("10.0", "10.1", "10.2"):
            row["source"] += " ; https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html (Table 2)"
            row["checked"] = "search (NVIDIA minor-version-compatibility page, Table 2: CUDA 10.x minimum drivers)"
    data["cuda_toolkit_min_driver"] = drv
    data["wheels"] = wheels()
    win = yaml.safe_load(open(os.path.join(HERE, "windows_metadata.yaml")))
    by = {(r["dist"], r["version"]): r for r in win["rows"]}
    for row in data["wheels"]:
        w = by.get((row["dist"], row["version"]))
        if w is None:
            continue
        if w.get("wheel") is None:
            row["windows"] = "no win_amd64 wheel"
            continue
        intel = [r for r in w["requires_dist"] if r.lower().replace("_", "-").startswith("tensorflow-intel")]
        row["windows"] = (f"shell over {intel[0].split(';')[0].strip()}" if intel else "full build") + \
            f" ({w['wheel']}, read {win['read']})"
    data["binary_wheels"] = {"read": index["read"], "how": index["how"], "source": index["source"],
                             "platform": "manylinux_x86_64 unless a row says win_amd64",
                             "rows": index["rows"]}
    header = """# tfhelp compatibility model. Data, not code: kb/compat.py answers queries on it; docs/compat.md
# explains every section, how each was read and what is still uncertain.
#
# Sections: events (platform / packaging milestones), gpu_install_routes (what the TF docs prescribed
# per era), keras_tf (Keras pins where no wheel row says), tf_keras, older_requirements (NumPy /
# protobuf before 2.4, secondary), cuda_minor_version_compat and cuda_toolkit_min_driver (NVIDIA),
# compute_capability, cpu_baseline, macos, tested_builds (tensorflow/docs tables, verbatim) and
# wheels (Requires-Dist / Requires-Python / [and-cuda] pins from each wheel's own METADATA; `windows`: what
# the win_amd64 wheel is), tf_dependents and binary_wheels (releases with a wheel per Python, for lint TFH018).
# Every row has `source` (where the fact comes from) and `checked` (how it was confirmed).
"""
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        fh.write(header)
        yaml.safe_dump(data, fh, sort_keys=False, width=110, allow_unicode=True)

if __name__ == "__main__":
    main()
