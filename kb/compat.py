"""Queries on the compatibility model in ``kb/data/compat.yaml``.

The model is data: tested builds (TF <-> Python <-> CUDA <-> cuDNN per OS), the NumPy / protobuf /
Keras pins each TF wheel declares (read from the wheels' own METADATA), tf-keras pins, NVIDIA driver
minimums per CUDA toolkit, minor-version compatibility floors, compute-capability floors and platform
events. Every row carries a ``source``. This module only answers questions about it; it never imports
TensorFlow, and it imports ``yaml`` and ``packaging`` lazily so that importing it costs nothing.

Versions are strings everywhere ("2.15.1", "12.2", "535.54.03"); answers are strings, dicts or lists,
and ``None`` whenever the model does not know.

Why one module of ~680 lines: it is the one reader of kb/data/compat.yaml; its query functions
are small and independent, and one home keeps every fact's lookup in one place.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Optional

_DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "compat.yaml")

#: OS names used by the model. ``wsl`` uses Linux wheels with the Windows driver.
OSES = ("linux", "windows", "wsl", "macos")


# ----------------------------------------------------------------------------------------- loading
@lru_cache(maxsize=1)
def data() -> dict:
    """The parsed model (loaded once per process).

    Parsing the YAML costs ~50 ms, more than a whole diagnosis, so the parsed dict is kept in the
    rule cache folder as JSON keyed by a hash of the file's content and tfhelp's version, read
    only when it is ours and nobody else can write it (:mod:`tfhelp.kb.cachefile`, like the
    rule base).  Any problem with the cache means parsing the YAML again."""
    import hashlib
    import json

    from tfhelp import __version__
    from tfhelp.kb.cachefile import read_trusted, write_private
    from tfhelp.kb.loader import cache_dir

    with open(_DATA_FILE, "rb") as fh:
        raw = fh.read()
    key = hashlib.sha256(__version__.encode() + b"\0" + raw).hexdigest()
    cached = cache_dir() / f"compat-{key[:32]}.json"
    blob = read_trusted(cached)
    if blob is not None:
        try:
            doc = json.loads(blob)
            if isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("data"), dict):
                return doc["data"]
        except ValueError:  # corrupt: parse the YAML again
            pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~7x faster on this 3k-line file
    obj = yaml.load(raw.decode("utf-8"), Loader=loader)  # noqa: S506 - a safe loader either way
    try:
        payload = json.dumps({"key": key, "data": obj}, separators=(",", ":"))
        if json.loads(payload)["data"] == obj:  # only data JSON keeps exactly (no dates, int keys)
            write_private(cached, payload.encode("utf-8"), stale_glob="compat-*.json")
    except (TypeError, ValueError):
        pass
    return obj


def _v(version):
    """packaging Version, or None when unparsable."""
    from packaging.version import InvalidVersion, Version

    if version is None:
        return None
    try:
        return Version(str(version).strip())
    except InvalidVersion:
        m = re.match(r"\s*(\d+(?:\.\d+)*)", str(version))
        if not m:
            return None
        try:
            return Version(m.group(1))
        except InvalidVersion:
            return None


def _minor(version) -> Optional[tuple]:
    v = _v(version)
    if v is None:
        return None
    rel = v.release + (0, 0)
    return rel[0], rel[1]


def _in_spec(version, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet

    v = _v(version)
    if v is None:
        return False
    # A nightly / rc of 2.16 counts as 2.16 for these release-range questions.
    base = _v(v.base_version)
    return SpecifierSet(spec).contains(base, prereleases=True)


def _norm_os(os_name: Optional[str]) -> str:
    os_name = (os_name or "linux").lower()
    if os_name in ("win32", "win", "nt"):
        return "windows"
    if os_name in ("darwin", "mac", "osx"):
        return "macos"
    return os_name


def _python_set(text: str) -> set:
    """'2.7, 3.5-3.7' -> {(2,7),(3,5),(3,6),(3,7)}."""
    out = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = (p.strip() for p in part.split("-", 1))
            lo_t = tuple(int(x) for x in lo.split("."))
            hi_t = tuple(int(x) for x in hi.split("."))
            if lo_t[0] == hi_t[0]:
                for minor in range(lo_t[1], hi_t[1] + 1):
                    out.add((lo_t[0], minor))
            else:
                out.update({lo_t, hi_t})
        else:
            t = tuple(int(x) for x in part.split("."))
            out.add(t[:2])
    return out


def _fmt_spec(spec) -> str:
    """Lower bounds first, then upper bounds, then exclusions: '>=1.23.5,<2.0.0'."""
    from packaging.specifiers import SpecifierSet

    order = {">=": 0, ">": 0, "~=": 0, "==": 1, "===": 1, "<=": 2, "<": 2, "!=": 3}
    items = list(SpecifierSet(str(spec)))
    items.sort(key=lambda s: (order.get(s.operator, 4), s.version))
    return ",".join(str(s) for s in items)


def _intersect(specs) -> Optional[str]:
    """Intersection of specifier strings, keeping only the tightest lower and upper bound."""
    from packaging.specifiers import SpecifierSet

    items = [s for spec in specs for s in SpecifierSet(str(spec))]
    lowers = [s for s in items if s.operator in (">=", ">")]
    uppers = [s for s in items if s.operator in ("<", "<=")]
    rest = {str(s) for s in items if s.operator not in (">=", ">", "<", "<=")}
    keep = set(rest)
    if lowers:
        keep.add(str(max(lowers, key=lambda s: (_v(s.version), s.operator == ">"))))
    if uppers:
        keep.add(str(min(uppers, key=lambda s: (_v(s.version), s.operator == "<="))))
    return _fmt_spec(",".join(sorted(keep))) if keep else None


# -------------------------------------------------------------------------------- tested builds
def tested_builds(os_name: str = "linux", device: Optional[str] = None) -> list:
    os_name = _norm_os(os_name)
    if os_name == "wsl":
        os_name = "linux"
    return [r for r in data().get("tested_builds", [])
            if r["os"] == os_name and (device is None or r["device"] == device)]


def _build_row(tf_version, os_name: str, device: str) -> Optional[dict]:
    mm = _minor(tf_version)
    if mm is None:
        return None
    for r in tested_builds(os_name, device):
        if _minor(r["tf"]) == mm and r["package"] in ("tensorflow", "tensorflow-gpu"):
            return r
    return None


def tf_minors() -> list:
    """Every TF 2.x minor the model knows (tested builds or wheels), oldest first, as 'X.Y'."""
    seen = set()
    for r in data().get("tested_builds", []):
        mm = _minor(r["tf"])
        if mm and mm[0] >= 2:
            seen.add(mm)
    for r in data().get("wheels", []):
        if r["dist"] in ("tensorflow", "tensorflow-cpu"):
            mm = _minor(r["version"])
            if mm:
                seen.add(mm)
    return [f"{a}.{b}" for a, b in sorted(seen)]


def latest_tf() -> str:
    return tf_minors()[-1]


# ----------------------------------------------------------------------------------------- wheels
def wheel_row(tf_version, dist: str = "tensorflow") -> Optional[dict]:
    """The wheel-METADATA row for this TF version: the exact release when known, else the highest
    known patch of the same minor that is not newer, else the oldest known patch of that minor."""
    v = _v(tf_version)
    mm = _minor(tf_version)
    if v is None:
        return None
    rows = [r for r in data().get("wheels", []) if r["dist"] == dist and _minor(r["version"]) == mm]
    if not rows and dist != "tensorflow":
        rows = [r for r in data().get("wheels", []) if r["dist"] == "tensorflow" and _minor(r["version"]) == mm]
    if not rows:
        if dist not in ("tensorflow", "tensorflow-cpu"):
            return None
        other = "tensorflow-cpu" if dist == "tensorflow" else "tensorflow"
        rows = [r for r in data().get("wheels", []) if r["dist"] == other and _minor(r["version"]) == mm]
        if not rows:
            return None
    if len(v.release) <= 2:
        # "2.12" means the minor: what `==2.12.*` installs, i.e. its newest patch (2.12.1 pins NumPy
        # <=1.24.3 where 2.12.0 said <1.24).
        return max(rows, key=lambda r: _v(r["version"]))
    base = _v(v.base_version)
    for r in rows:
        if _v(r["version"]) == v:
            return r
    older = [r for r in rows if _v(r["version"]) <= base]
    if older:
        return max(older, key=lambda r: _v(r["version"]))
    return min(rows, key=lambda r: _v(r["version"]))


def latest_release(tf_version, dist: str = "tensorflow") -> Optional[str]:
    """Newest known patch release of this TF minor ('2.14' -> '2.14.1'), what '==2.14.*' installs."""
    mm = _minor(tf_version)
    rows = [r for r in data().get("wheels", []) if r["dist"] == dist and _minor(r["version"]) == mm]
    if not rows:
        return None
    return str(max((_v(r["version"]) for r in rows)))


def sass_covers(tf_version, cc) -> Optional[bool]:
    """Do the wheels carry machine code (SASS) for this GPU, or must the driver JIT-compile PTX?

    SASS built for sm_XY runs on X.Y and later minors of the same major; anything else needs PTX."""
    r = _cc_row(tf_version)
    have = _minor(cc)
    if not r or not r.get("built_for") or have is None:
        return None
    for item in str(r["built_for"]).split(","):
        m = re.match(r"\s*sm_(\d)(\d+)", item)
        if m and int(m.group(1)) == have[0] and int(m.group(2)) <= have[1]:
            return True
    return False


def _requirement(row: Optional[dict], key: str, python: Optional[str] = None) -> Optional[str]:
    """A requirement spec from a wheel row, evaluating python_version markers when given."""
    if not row or key not in row:
        return None
    val = row[key]
    entries = val if isinstance(val, list) else [val]
    plain = [e for e in entries if isinstance(e, str)]
    marked = [e for e in entries if isinstance(e, dict)]
    if marked:
        if python is None:
            # Without the Python version: what every branch allows (their intersection).
            specs = [e["spec"] for e in marked] + plain
            return _intersect(specs)
        from packaging.markers import Marker

        pv = _minor(python)
        env = {"python_version": f"{pv[0]}.{pv[1]}" if pv else python,
               "python_full_version": str(python)}
        for e in marked:
            try:
                if Marker(e["marker"]).evaluate(env):
                    return _fmt_spec(e["spec"])
            except Exception:  # noqa: BLE001 - an unknown marker variable means "not this branch"
                continue
        return _fmt_spec(plain[0]) if plain else None
    if not plain:
        return None
    return _fmt_spec(plain[0]) if plain[0] else ""  # "" = the wheel names the package without a bound


def _older(tf_version, key: str) -> Optional[dict]:
    for r in data().get("older_requirements", []):
        if key in r and _in_spec(tf_version, r["tf"]):
            return r
    return None


def numpy_spec_for_tf(tf_version, python: Optional[str] = None, dist: str = "tensorflow") -> Optional[str]:
    """The NumPy requirement the TF wheel declares, e.g. '>=1.23.5,<2.0.0' for 2.15."""
    spec = _requirement(wheel_row(tf_version, dist), "numpy", python)
    if spec is None:
        r = _older(tf_version, "numpy")
        spec = _fmt_spec(r["numpy"]) if r else None
    return spec


def numpy_install_spec_for_tf(tf_version, python: Optional[str] = None, dist: str = "tensorflow") -> Optional[str]:
    """The NumPy range to *install* for this TF: its declared pin, capped below 2 for every release
    before 2.18. Several wheels declare no upper bound (2.10 - 2.11: numpy>=1.20, 2.14.0: >=1.23.5),
    so their own pin alone lets pip bring NumPy 2, which they were not built for."""
    spec = numpy_spec_for_tf(tf_version, python, dist)
    if spec is None:
        return None
    if numpy2_supported(tf_version) is False:
        return _intersect([spec, "<2"]) if spec else "<2"
    return spec


def numpy2_supported(tf_version) -> Optional[bool]:
    """True when this TF's declared NumPy range admits NumPy 2 *and* TF was built for it (>= 2.18)."""
    if _minor(tf_version) is None:
        return None
    return _in_spec(tf_version, ">=2.18")


def protobuf_spec_for_tf(tf_version, python: Optional[str] = None, dist: str = "tensorflow") -> Optional[str]:
    spec = _requirement(wheel_row(tf_version, dist), "protobuf", python)
    if spec is None:
        r = _older(tf_version, "protobuf")
        spec = _fmt_spec(r["protobuf"]) if r else None
    return spec


def keras_spec_for_tf(tf_version, dist: str = "tensorflow") -> Optional[str]:
    """The `keras` distribution that fits this TF: the wheel's own pin (2.6+), else the model's rows."""
    row = wheel_row(tf_version, dist)
    spec = _requirement(row, "keras")
    if spec:
        return spec
    for r in data().get("keras_tf", []):
        if _in_spec(tf_version, r["tf"]):
            return _fmt_spec(r["keras"])
    return None


def tf_keras_spec_for_tf(tf_version) -> Optional[str]:
    """tf-keras releases pin tensorflow to their own minor (from 2.15.1); answer '>=X.Y.0,<X.(Y+1)'."""
    mm = _minor(tf_version)
    if mm is None:
        return None
    candidates = []
    for r in data().get("wheels", []):
        if r["dist"] != "tf-keras":
            continue
        if _minor(r["version"]) == mm:
            candidates.append(r)
    if not candidates:
        return None
    lo = min(_v(r["version"]) for r in candidates)
    return f">={lo},<{mm[0]}.{mm[1] + 1}"


def requires_python_for_tf(tf_version, dist: str = "tensorflow") -> Optional[str]:
    row = wheel_row(tf_version, dist)
    return _fmt_spec(row["requires_python"]) if row and row.get("requires_python") else None


def and_cuda_pins(tf_version) -> Optional[dict]:
    """The CUDA runtime / cuDNN wheels that `tensorflow[and-cuda]` pins for this release."""
    row = wheel_row(tf_version, "tensorflow")
    return dict(row["and_cuda"]) if row and row.get("and_cuda") else None


# ---------------------------------------------------------------------------------- python support
def python_versions_for_tf(tf_version, os_name: str = "linux") -> list:
    """Python 'X.Y' versions TF's tested-build table lists for this release on this OS."""
    os_name = _norm_os(os_name)
    row = None
    if os_name == "windows":
        row = _build_row(tf_version, "windows", "cpu") or _build_row(tf_version, "windows", "gpu")
        if row is None:
            return []  # unknown: Windows support is not Linux support (never fill it from the Linux row)
    elif os_name == "macos":
        row = _build_row(tf_version, "macos", "cpu")
    if row is None:
        row = _build_row(tf_version, "linux", "cpu") or _build_row(tf_version, "linux", "gpu")
    if row is None:
        # No tested-build row (e.g. a new release): fall back to Requires-Python of the wheel, bounded
        # by the previous release's newest Python + 1.
        return []
    return [f"{a}.{b}" for a, b in sorted(_python_set(row["python"]))]


def tf_versions_for_python(python: str, os_name: str = "linux") -> list:
    """TF minors ('2.15', ...) whose tested builds on this OS list this Python, oldest first."""
    pv = _minor(python)
    if pv is None:
        return []
    want = f"{pv[0]}.{pv[1]}"
    return [m for m in tf_minors() if want in python_versions_for_tf(m, os_name)]


def tf_spec_for_python(python: str, os_name: str = "linux") -> Optional[str]:
    """A specifier over TF releases that support this Python, e.g. '>=2.16' for 3.12."""
    minors = tf_versions_for_python(python, os_name)
    if not minors:
        return None
    lo, hi = minors[0], minors[-1]
    if hi == latest_tf():
        return f">={lo}"
    a, b = (int(x) for x in hi.split("."))
    return f">={lo},<{a}.{b + 1}"


# ------------------------------------------------------------------------------------- CUDA / cuDNN
def cuda_cudnn_for_tf(tf_version, os_name: str = "linux") -> Optional[dict]:
    """{'cuda', 'cudnn', 'source'} TF was built and tested with on this OS; None for no GPU build
    (native Windows after 2.10, macOS)."""
    os_name = _norm_os(os_name)
    if os_name == "macos":
        return None
    if os_name == "windows":
        row = _build_row(tf_version, "windows", "gpu")
    else:
        row = _build_row(tf_version, "linux", "gpu")
    if row is None:
        return None
    return {"tf": row["tf"], "cuda": str(row["cuda"]), "cudnn": str(row["cudnn"]), "python": row["python"],
            "package": row["package"], "source": row["source"]}


def windows_native_gpu(tf_version) -> Optional[bool]:
    if _minor(tf_version) is None:
        return None
    return _in_spec(tf_version, "<2.11")


def _cuda_key(cuda) -> Optional[tuple]:
    mm = _minor(cuda)
    return mm


def _drv(driver) -> Optional[tuple]:
    """'535.54.03' -> (535, 54, 3); '470.82' -> (470, 82)."""
    if driver is None:
        return None
    nums = re.findall(r"\d+", str(driver))
    return tuple(int(n) for n in nums) if nums else None


def _drv_ge(a, b) -> bool:
    a, b = _drv(a), _drv(b)
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)) >= b + (0,) * (n - len(b))


def _driver_col(os_name: str) -> str:
    os_name = _norm_os(os_name)
    return "windows" if os_name in ("windows", "wsl") else "linux"


def toolkit_min_driver(cuda, os_name: str = "linux") -> Optional[str]:
    """Driver that ships with / is required in full by the CUDA toolkit X.Y (its first release)."""
    key = _cuda_key(cuda)
    col = _driver_col(os_name)
    rows = [r for r in data().get("cuda_toolkit_min_driver", []) if _cuda_key(r["cuda"]) == key and r.get(col)]
    if not rows:
        return None
    # the GA row is the smallest driver of that X.Y
    return min((r[col] for r in rows), key=_drv)


def min_driver_for_cuda(cuda, os_name: str = "linux", minor_compat: bool = True) -> Optional[str]:
    """Lowest NVIDIA driver that runs programs built with CUDA ``cuda`` (X.Y).

    With ``minor_compat`` (the default) CUDA 11+ programs run on the major family's floor
    (450.80.02 / 525.60.13 on Linux), as NVIDIA's minor-version compatibility allows and the TF
    docs state; without it, the toolkit's own driver."""
    key = _cuda_key(cuda)
    if key is None:
        return None
    if minor_compat and key[0] >= 11:
        col = _driver_col(os_name)
        for r in data().get("cuda_minor_version_compat", []):
            if int(r["cuda_major"]) == key[0]:
                return str(r[col])
    return toolkit_min_driver(cuda, os_name)


def max_cuda_for_driver(driver, os_name: str = "linux") -> Optional[str]:
    """Newest CUDA toolkit X.Y whose full driver requirement this driver meets (what nvidia-smi
    reports as 'CUDA Version'). Minor-version compatibility can run newer X.Y of the same major."""
    if _drv(driver) is None:
        return None
    col = _driver_col(os_name)
    best = None
    for r in data().get("cuda_toolkit_min_driver", []):
        need = r.get(col)
        if need and _drv_ge(driver, need):
            k = _cuda_key(r["cuda"])
            if best is None or k > best:
                best = k
    return f"{best[0]}.{best[1]}" if best else None


def driver_supports_cuda(driver, cuda, os_name: str = "linux") -> Optional[bool]:
    """Can a program built with CUDA X.Y run on this driver (minor-version compatibility included)?"""
    if _drv(driver) is None or _cuda_key(cuda) is None:
        return None
    need = min_driver_for_cuda(cuda, os_name, minor_compat=True)
    if need is None:
        return None
    return _drv_ge(driver, need)


def min_driver_for_tf(tf_version, os_name: str = "linux") -> Optional[str]:
    cc = cuda_cudnn_for_tf(tf_version, "linux" if _norm_os(os_name) == "wsl" else os_name)
    if not cc:
        return None
    return min_driver_for_cuda(cc["cuda"], os_name)


# ---------------------------------------------------------------------------- GPU / CPU hardware
def _cc_row(tf_version) -> Optional[dict]:
    for r in data().get("compute_capability", []):
        if _in_spec(tf_version, r["tf"]):
            return r
    return None


def min_compute_capability(tf_version) -> Optional[str]:
    """Lowest GPU compute capability the official TF wheels run on (e.g. '6.0' for 2.17+)."""
    r = _cc_row(tf_version)
    return str(r["min_cc"]) if r else None


def compute_capability_ok(tf_version, cc) -> Optional[bool]:
    need = min_compute_capability(tf_version)
    have = _v(cc)
    if need is None or have is None:
        return None
    return have >= _v(need)


def cpu_requirements(tf_version) -> list:
    """CPU instruction sets the official x86 wheels need (['avx'] since 1.6)."""
    out = []
    for r in data().get("cpu_baseline", []):
        if _in_spec(tf_version, r["tf"]):
            out = list(r["requires"])
    return out


def events_for_tf(tf_version) -> list:
    return [r for r in data().get("events", []) if _in_spec(tf_version, r["tf"])]


def event(event_id: str) -> Optional[dict]:
    for r in data().get("events", []):
        if r["id"] == event_id:
            return r
    return None


def gpu_install_route(tf_version, os_name: str = "linux") -> Optional[dict]:
    os_name = _norm_os(os_name)
    for r in data().get("gpu_install_routes", []):
        if os_name in r["os"] and _in_spec(tf_version, r["tf"]):
            return r
    return None


def tf_release(tf_version, os_name: str = "linux", python: Optional[str] = None) -> Optional[dict]:
    """Everything the model knows about one TF release, in one dict."""
    mm = _minor(tf_version)
    if mm is None or f"{mm[0]}.{mm[1]}" not in tf_minors():
        return None
    return {
        "version": str(tf_version),
        "minor": f"{mm[0]}.{mm[1]}",
        "python": python_versions_for_tf(tf_version, os_name),
        "requires_python": requires_python_for_tf(tf_version),
        "numpy": numpy_spec_for_tf(tf_version, python),
        "protobuf": protobuf_spec_for_tf(tf_version, python),
        "keras": keras_spec_for_tf(tf_version),
        "tf_keras": tf_keras_spec_for_tf(tf_version),
        "gpu_build": cuda_cudnn_for_tf(tf_version, os_name),
        "and_cuda": and_cuda_pins(tf_version),
        "min_compute_capability": min_compute_capability(tf_version),
        "min_driver": min_driver_for_tf(tf_version, os_name),
        "cpu_requires": cpu_requirements(tf_version),
        "events": [e["id"] for e in events_for_tf(tf_version)],
    }


# ------------------------------------------------------------------------- fix-template placeholders
#: Names usable as ``{compat.NAME}`` in rule fixes (see tfhelp.kb.templates).
PLACEHOLDERS = {
    "numpy_for_tf": "NumPy specifier declared by the installed TF, capped <2 before TF 2.18, e.g. '>=1.23.5,<2.0.0' (use as numpy{compat.numpy_for_tf})",
    "keras_for_tf": "keras specifier that fits the installed TF (keras 2.X for TF <= 2.15, keras>=3 after)",
    "tf_keras_for_tf": "tf-keras specifier of the installed TF's minor, e.g. '>=2.16.0,<2.17'",
    "protobuf_for_tf": "protobuf specifier declared by the installed TF",
    "tf_cuda": "CUDA version the installed TF was built with (probe build info, else the tested-build table)",
    "tf_cudnn": "cuDNN version the installed TF was built with",
    "tf_for_python": "specifier of TF releases whose tested builds list the environment's Python",
    "tf_dist": "installed TF distribution name (tensorflow, tensorflow-cpu, ...)",
    "tf_minor": "installed TF as 'X.Y'",
    "driver_for_tf": "lowest NVIDIA driver for the installed TF's CUDA on this platform",
    "min_cc_for_tf": "lowest GPU compute capability of the installed TF's wheels",
}


def _env_tf(env) -> Optional[str]:
    getter = getattr(env, "version", None)
    if callable(getter):
        try:
            return getter("tensorflow")
        except Exception:  # noqa: BLE001
            return None
    pk = getattr(env, "packages", None) or {}
    for d in data().get("tf_distributions", []):
        if d in pk:
            return pk[d]
    return None


def _env_tf_dist(env) -> Optional[str]:
    f = getattr(env, "tf_distributions", None)
    if callable(f):
        dists = f()
        return dists[0] if dists else None
    pk = getattr(env, "packages", None) or {}
    for d in data().get("tf_distributions", []):
        if d in pk:
            return d
    return None


def _build_fact(env, key: str) -> Optional[str]:
    """cuda_version / cudnn_version from the probe's TF build info, if the environment has it."""
    facts = getattr(env, "facts", None) or {}
    for container in (facts.get("tf_build"), facts.get("build_info"), facts.get("tf_build_info"), facts):
        if isinstance(container, dict) and container.get(key):
            return str(container[key])
    return None


def resolve_placeholder(name: str, env) -> Optional[str]:
    """Value of ``{compat.NAME}`` for this environment, or None when it cannot be known."""
    if env is None:
        return None
    name = name.strip()
    tf = _env_tf(env)
    python = getattr(env, "python", None)
    platform = getattr(env, "platform", None) or "linux"
    dist = _env_tf_dist(env) or "tensorflow"
    wheel_dist = dist if dist in ("tensorflow", "tensorflow-cpu") else "tensorflow"
    try:
        if name == "tf_dist":
            return _env_tf_dist(env)
        if name == "tf_for_python":
            return tf_spec_for_python(python, platform) if python else None
        if tf is None or _minor(tf) is None:
            return None
        if name == "numpy_for_tf":
            return numpy_install_spec_for_tf(tf, python, wheel_dist)
        if name == "protobuf_for_tf":
            return protobuf_spec_for_tf(tf, python, wheel_dist)
        if name == "keras_for_tf":
            return keras_spec_for_tf(tf, wheel_dist)
        if name == "tf_keras_for_tf":
            return tf_keras_spec_for_tf(tf)
        if name == "tf_minor":
            mm = _minor(tf)
            return f"{mm[0]}.{mm[1]}"
        if name in ("tf_cuda", "tf_cudnn"):
            fact = _build_fact(env, "cuda_version" if name == "tf_cuda" else "cudnn_version")
            if fact:
                return fact
            if dist.endswith("-cpu"):
                return None  # a CPU-only distribution has no CUDA build
            row = cuda_cudnn_for_tf(tf, platform)
            return (row["cuda"] if name == "tf_cuda" else row["cudnn"]) if row else None
        if name == "driver_for_tf":
            return min_driver_for_tf(tf, platform)
        if name == "min_cc_for_tf":
            return min_compute_capability(tf)
    except Exception:  # noqa: BLE001 - a broken row must not break a diagnosis; unknown instead
        return None
    return None
