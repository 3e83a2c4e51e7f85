"""``tfhelp doctor``: check a probed environment component by component.

Input: a :class:`~tfhelp.assistant.environment.probe.ProbeResult`. Output: a :class:`DoctorReport`, one
:class:`Check` per component (platform, Python, TensorFlow, Keras, NumPy, protobuf, other pinned
dependencies, CPU, NVIDIA driver and GPUs, CUDA libraries, environment variables, the probe's own
health, and with ``--deep`` a real ``import tensorflow``). Each problem names the rule id from
docs/rule-catalog.md that the same situation produces as an error message, and a fix.

Two sources of version truth, used together:

* the installed TensorFlow wheel's own ``Requires-Dist`` pins (read from its metadata by the
  probe): what pip was told, exact for that build;
* the compatibility model :mod:`tfhelp.kb.compat`, which also knows where the pins were too loose
  (TF 2.14 allows NumPy 2 and then fails to import with it) and the CUDA / driver / compute
  capability facts that no pin expresses.

Nothing here prints; rendering lives in :mod:`tfhelp.assistant.render.doctor`.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Optional

from tfhelp.assistant.environment.probe import ProbeResult

OK, WARNING, ERROR, INFO, UNKNOWN = "ok", "warning", "error", "info", "unknown"
_RANK = {OK: 0, INFO: 0, UNKNOWN: 1, WARNING: 2, ERROR: 3}

#: Every rule id this module can name (each must exist in docs/rule-catalog.md; a test checks).
RULE_IDS = frozenset({
    "multiple-tf-distributions", "conda-pip-mixed-tensorflow", "pip-tensorflow-32bit-python",
    "pip-no-matching-tensorflow", "no-module-named-tensorflow", "keras3-under-old-tf",
    "keras-requires-tf-2-2", "tf-keras-missing-legacy-keras", "numpy2-abi-compiled-numpy1",
    "numpy-api-version-too-old", "protobuf-descriptors-cannot-be-created", "protobuf-builder-missing",
    "protobuf-gencode-runtime-mismatch", "cpu-illegal-instruction", "cpu-avx-required-abort",
    "cuda-drivers-not-found", "libcuda-not-found", "cuda-driver-insufficient",
    "gpu-compute-capability-too-low", "tf-cpu-only-build", "windows-native-gpu-after-2-10",
    "gpu-list-empty", "cuda-cudart-not-loaded", "cudnn-library-not-loaded", "cudnn-version-mismatch",
    "cuda-math-library-not-loaded", "cuinit-no-device", "cuinit-unknown-error-303",
})

#: CUresult codes (cuda.h) that cuInit returns in the situations the rules describe.
CU_ERRORS = {100: ("CUDA_ERROR_NO_DEVICE", "cuinit-no-device"),
             35: ("CUDA_ERROR_INSUFFICIENT_DRIVER", "cuda-driver-insufficient"),
             303: ("CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "cuinit-unknown-error-303"),
             999: ("CUDA_ERROR_UNKNOWN", "cuinit-unknown-error-303"),
             803: ("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", None),
             804: ("CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", None)}


@dataclass
class Problem:
    severity: str  # error | warning
    message: str
    rule: Optional[str] = None
    fix: Optional[str] = None
    commands: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "message": self.message, "fix": self.fix,
                "commands": list(self.commands)}


@dataclass
class Check:
    id: str
    title: str
    status: str = UNKNOWN
    found: str = ""
    details: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def problem(self, severity: str, message: str, rule: Optional[str] = None, fix: Optional[str] = None,
                commands=()) -> Problem:
        if rule is not None and rule not in RULE_IDS:
            raise ValueError(f"doctor names an unregistered rule id {rule!r}")
        p = Problem(severity, message, rule, fix, list(commands))
        self.problems.append(p)
        self._raise(ERROR if severity == ERROR else WARNING)
        return p

    def _raise(self, status: str) -> None:
        if self.status in (UNKNOWN, INFO, OK) or _RANK[status] > _RANK[self.status]:
            self.status = status

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "status": self.status, "found": self.found,
                "details": list(self.details), "problems": [p.to_json() for p in self.problems]}


@dataclass
class DoctorReport:
    probe: ProbeResult
    checks: list
    seconds: float = 0.0
    compat_missing: list = field(default_factory=list)
    deep: Optional[dict] = None

    @property
    def status(self) -> str:
        worst = OK
        for c in self.checks:
            if c.status in (ERROR, WARNING) and _RANK[c.status] > _RANK[worst]:
                worst = c.status
        return worst

    @property
    def problems(self) -> list:
        return [(c, p) for c in self.checks for p in c.problems]

    def to_json(self) -> dict:
        import tfhelp

        try:
            env = self.probe.to_environment().to_json()
        except Exception as e:  # pragma: no cover - defensive: the report must still come out
            env = {"error": f"{type(e).__name__}: {e}"}
        return {
            "tfhelp_version": tfhelp.__version__,
            "schema": 1,
            "target_python": self.probe.target_python,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "probe_seconds": round(self.probe.seconds, 3),
            "checks": [c.to_json() for c in self.checks],
            "problems": [dict(p.to_json(), check=c.id) for c, p in self.problems],
            "compat_missing": list(self.compat_missing),
            "environment": env,
            "deep": self.deep,
            "probe": self.probe.to_json(),
        }


# ---------------------------------------------------------------------------------------------
# versions

def V(s):
    """packaging Version or None."""
    from packaging.version import InvalidVersion, Version
    if s is None:
        return None
    try:
        return Version(str(s))
    except InvalidVersion:
        return None


def _spec_str(spec) -> Optional[str]:
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec.strip() or None
    for attr in ("spec", "specifier"):
        if hasattr(spec, attr):
            return str(getattr(spec, attr)) or None
    return str(spec) or None


def spec_contains(spec, version) -> Optional[bool]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    s = _spec_str(spec)
    v = V(version)
    if not s or v is None:
        return None
    try:
        return SpecifierSet(s).contains(v, prereleases=True)
    except InvalidSpecifier:
        return None


def _mm(version) -> Optional[tuple]:
    v = V(version)
    return (v.major, v.minor) if v is not None else None


# ---------------------------------------------------------------------------------------------
# compatibility model adapter

class Compat:
    """Thin, tolerant wrapper over :mod:`tfhelp.kb.compat` (written in parallel by another part of
    the project). A function that is missing or raises answers ``None`` and is listed in
    :attr:`missing`, so the doctor degrades to the wheel's own pins instead of failing."""

    def __init__(self, module=None):
        self.missing: list = []
        if module is None:
            try:
                from tfhelp.kb import compat as module
            except Exception:
                module = None
        self.module = module

    def _call(self, name, *args):
        fn = getattr(self.module, name, None) if self.module is not None else None
        if fn is None:
            if name not in self.missing:
                self.missing.append(name)
            return None
        try:
            return fn(*args)
        except (LookupError, ValueError, TypeError):
            return None

    def numpy_spec(self, tf, python=None, dist="tensorflow"):
        return _spec_str(self._call("numpy_spec_for_tf", tf, python, _wheel_dist(dist)))

    def protobuf_spec(self, tf, python=None, dist="tensorflow"):
        return _spec_str(self._call("protobuf_spec_for_tf", tf, python, _wheel_dist(dist)))

    def keras_spec(self, tf, dist="tensorflow"):
        return _spec_str(self._call("keras_spec_for_tf", tf, _wheel_dist(dist)))

    def numpy2_supported(self, tf) -> Optional[bool]:
        r = self._call("numpy2_supported", tf)
        if r is None:
            v = V(tf)
            return None if v is None else v >= V("2.18")
        return bool(r)

    def windows_native_gpu(self, tf) -> Optional[bool]:
        r = self._call("windows_native_gpu", tf)
        if r is None:
            v = V(tf)
            return None if v is None else v < V("2.11")
        return bool(r)

    def cpu_requirements(self, tf) -> list:
        r = self._call("cpu_requirements", tf)
        return [str(x).lower() for x in r] if r else []

    def cuda_cudnn(self, tf, os_name):
        """(cuda, cudnn) strings or (None, None)."""
        r = self._call("cuda_cudnn_for_tf", tf, os_name)
        if r is None:
            return None, None
        if isinstance(r, dict):
            return (str(r["cuda"]) if r.get("cuda") else None, str(r["cudnn"]) if r.get("cudnn") else None)
        if isinstance(r, (tuple, list)) and len(r) >= 2:
            return (str(r[0]) if r[0] else None, str(r[1]) if r[1] else None)
        return (getattr(r, "cuda", None), getattr(r, "cudnn", None))

    def min_driver(self, cuda, os_name):
        r = self._call("min_driver_for_cuda", cuda, os_name)
        if isinstance(r, dict):
            r = r.get("driver") or r.get("min_driver") or r.get(os_name)
        return str(r) if r else None

    def tf_versions_for_python(self, py, os_name="linux"):
        r = self._call("tf_versions_for_python", py, os_name or "linux")
        if r is None:
            return None
        return [str(x) for x in r]

    def min_compute_capability(self, tf):
        r = self._call("min_compute_capability", tf)
        if r is None:
            return None
        if isinstance(r, (tuple, list)):
            return "%s.%s" % (r[0], r[1])
        return str(r)


def _wheel_dist(dist: str) -> str:
    """The model keeps wheel pins for tensorflow and tensorflow-cpu; other aliases share tensorflow's."""
    return dist if dist in ("tensorflow", "tensorflow-cpu") else "tensorflow"


# ---------------------------------------------------------------------------------------------

def pip_cmd(python: str, verb: str, *reqs: str, platform: Optional[str] = None) -> str:
    """A copy-paste pip command for the target interpreter, quoted for the target's shell."""
    argv = [python, "-m", "pip", verb] + (["-y"] if verb == "uninstall" else []) + list(reqs)
    try:
        from tfhelp.assistant.fixes.argv import quote
        return quote(argv, platform)
    except ImportError:  # pragma: no cover - commandline is part of the same package
        return " ".join(shlex.quote(a) for a in argv)


def declared_requirements(probe: ProbeResult) -> dict:
    """{canonical dist: specifier string} from the TF wheel's Requires-Dist, unconditional ones."""
    from packaging.requirements import InvalidRequirement, Requirement
    from tfhelp.kb.environment import canonical

    out = {}
    py = probe.python_version or "3"
    menv = {"python_version": ".".join(py.split(".")[:2]), "python_full_version": py,
            "sys_platform": {"windows": "win32", "macos": "darwin"}.get(probe.platform or "", "linux"),
            "platform_system": {"windows": "Windows", "macos": "Darwin"}.get(probe.platform or "", "Linux"),
            "platform_machine": probe.os_info.get("machine") or "x86_64", "extra": ""}
    for line in probe.tf_requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                if not req.marker.evaluate(menv):
                    continue
            except Exception:
                continue
        out[canonical(req.name)] = str(req.specifier)
    return out


def conflicting_tf_distributions(probe: ProbeResult) -> list:
    """TF distributions installed side by side that are *not* there as another one's dependency.

    ``tensorflow`` on Windows 2.11-2.15 depends on ``tensorflow-intel`` and on macOS arm64 on
    ``tensorflow-macos`` (its Requires-Dist says so, with a platform marker): such pairs are one
    installation, not a conflict. Anything else doubled up is.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from tfhelp.kb.environment import canonical

    dists = probe.tf_distributions
    details = probe.package_details
    required = set()
    for d in dists:
        for line in (details.get(d) or {}).get("requires") or []:
            try:
                name = canonical(Requirement(line).name)
            except InvalidRequirement:
                continue
            if name in dists and name != d:
                required.add(name)
    return [d for d in dists if d not in required]


def parse_sm(caps) -> Optional[str]:
    """Lowest compute capability in build_info's list ('sm_60', 'compute_90') -> '6.0'."""
    best = None
    for c in caps or []:
        digits = "".join(ch for ch in str(c).split("_")[-1] if ch.isdigit())
        if len(digits) >= 2:
            val = (int(digits[:-1]), int(digits[-1]))
            best = val if best is None or val < best else best
    return f"{best[0]}.{best[1]}" if best else None


def diagnose(probe: ProbeResult, compat: Optional[Compat] = None, seconds: float = 0.0,
             deep: Optional[dict] = None) -> DoctorReport:
    compat = compat or Compat()
    d = _Doctor(probe, compat, deep)
    checks = d.run()
    return DoctorReport(probe=probe, checks=checks, seconds=seconds, compat_missing=list(compat.missing), deep=deep)


class _Doctor:
    def __init__(self, probe: ProbeResult, compat: Compat, deep: Optional[dict]):
        self.p = probe
        self.c = compat
        self.deep = deep
        self.py = probe.target_python or "python"
        self.pk = probe.packages
        self.tf_dists = probe.tf_distributions
        self.tf = probe.tf_version
        self.tfv = V(self.tf)
        self.declared = declared_requirements(probe) if self.tf_dists else {}
        self.build = probe.tf_build
        self.platform = probe.platform
        self.gpus = probe.gpus
        self.pci_nvidia = (probe.data("basic").get("pci_nvidia") or [])

    # -- helpers --
    def pip(self, verb: str, *reqs: str) -> str:
        return pip_cmd(self.py, verb, *reqs, platform=self.platform)

    def tf_at_least(self, v: str) -> Optional[bool]:
        return None if self.tfv is None else self.tfv >= V(v)

    @property
    def has_nvidia_hw(self) -> bool:
        return bool(self.gpus) or bool(self.pci_nvidia)

    def run(self) -> list:
        out = []
        for fn in (self.platform_check, self.python_check, self.tensorflow_check, self.keras_check,
                   self.numpy_check, self.protobuf_check, self.other_pins_check, self.cpu_check,
                   self.gpu_check, self.cuda_libs_check, self.env_check, self.probe_check, self.deep_check):
            try:
                c = fn()
            except Exception as e:  # one broken check must not hide the others
                c = Check(fn.__name__.replace("_check", ""), fn.__name__.replace("_check", "").title(),
                          UNKNOWN, f"check failed inside tfhelp: {type(e).__name__}: {e}")
            if c is not None:
                out.append(c)
        return out

    # -- platform --
    def platform_check(self) -> Check:
        c = Check("platform", "Platform")
        o = self.p.os_info
        if not o:
            c.found = "unknown (basic probe failed)"
            return c
        parts = []
        if self.platform == "wsl":
            parts.append(f"WSL{(o.get('wsl_version') or '')} on Windows ({o.get('distro') or 'Linux'})")
        elif self.platform == "linux":
            parts.append(o.get("distro") or "Linux")
        elif self.platform == "macos":
            parts.append(f"macOS {o.get('mac_ver') or ''}".strip())
        elif self.platform == "windows":
            parts.append(f"Windows {o.get('release') or ''}".strip())
        else:
            parts.append(o.get("system") or "?")
        parts.append(o.get("machine") or "")
        if o.get("libc"):
            parts.append(o["libc"])
        cont = self.p.data("basic").get("container")
        if cont:
            parts.append(f"in a {cont} container")
        c.found = ", ".join(x for x in parts if x)
        c.status = OK
        return c

    # -- python --
    def python_check(self) -> Check:
        c = Check("python", "Python")
        pyinfo = self.p.data("basic").get("python") or {}
        ver = pyinfo.get("version")
        if not ver:
            c.found = f"unknown ({self.py}: basic probe {self.p.status('basic')})"
            return c
        kind = pyinfo.get("env_kind") or "?"
        if kind == "conda" and pyinfo.get("conda_env"):
            kind = f"conda env {pyinfo['conda_env']}"
        c.found = f"{ver} ({pyinfo.get('bits', '?')}-bit, {kind}) at {pyinfo.get('executable') or self.py}"
        c.status = OK
        if pyinfo.get("bits") == 32:
            c.problem(ERROR, "This is a 32-bit Python; TensorFlow publishes 64-bit wheels only, so pip finds "
                      "no TensorFlow for it.", "pip-tensorflow-32bit-python",
                      "Install a 64-bit Python (python.org 'Windows installer (64-bit)', or conda) and "
                      "recreate the environment with it.")
        supported = self.c.tf_versions_for_python(ver, self.platform)
        if supported is not None:
            if not supported:
                sev = ERROR if not self.tf_dists else WARNING
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
            in_user = [n for n, dd in self.p.package_details.items()
                       if (dd.get("location") or "").startswith(user_site) and user_site]
            if in_user:
                c.found = c.found.replace(", system)", ", system + user site-packages)")
                c.details.append(f"installed with --user into {user_site} (these come before the system "
                                 "site-packages): " + ", ".join(sorted(in_user)[:6]))
        return c

    # -- tensorflow --
    def tensorflow_check(self) -> Check:
        c = Check("tensorflow", "TensorFlow")
        if self.p.status("packages") != "ok":
            c.found = f"unknown (packages probe {self.p.status('packages')})"
            return c
        tb = self.p.data("tfbuild")
        if not self.tf_dists:
            if tb.get("found") and tb.get("namespace_package"):
                c.found = "a 'tensorflow' folder without __init__.py (left over from an uninstall)"
                c.problem(ERROR, "`import tensorflow` resolves to an empty namespace package at "
                          f"{', '.join(tb.get('locations') or [])}; `tf.__version__` and everything else "
                          "will be missing.", None,
                          "Delete that folder, then reinstall TensorFlow.",
                          [self.pip("install", "--force-reinstall", "tensorflow")])
                return c
            c.found = "not installed"
            c.status = WARNING
            c.problems.append(Problem(WARNING, "No TensorFlow distribution is installed in this interpreter; "
                                      "`import tensorflow` fails with ModuleNotFoundError.",
                                      "no-module-named-tensorflow",
                                      "Install TensorFlow into this interpreter (or point tfhelp at the right "
                                      "one with --python).", [self.pip("install", "tensorflow")]))
            return c
        dist = self.tf_dists[0]
        found = f"{dist} {self.tf}"
        b = self.build
        if b.get("raw"):
            if b.get("is_cuda_build"):
                found += f", CUDA build (CUDA {b.get('cuda_version') or '?'}, cuDNN {b.get('cudnn_version') or '?'})"
            elif b.get("is_rocm_build"):
                found += ", ROCm build"
            else:
                found += ", CPU-only build"
        elif tb.get("build_info_error"):
            c.details.append(f"build_info.py unreadable: {tb['build_info_error']}")
        elif not tb.get("found"):
            c.details.append("`import tensorflow` would not find the package (broken install?)")
        loc = (self.p.package_details.get(dist) or {}).get("location")
        if loc:
            c.details.append(f"installed in {loc} by {(self.p.package_details.get(dist) or {}).get('installer') or '?'}")
        c.found = found
        c.status = OK
        conflicting = conflicting_tf_distributions(self.p)
        backing = [d for d in self.tf_dists if d not in conflicting]
        if backing and len(conflicting) == 1:
            c.details.append(f"also installed, as a dependency of {conflicting[0]}: "
                             + ", ".join(f"{d} {self.pk[d]}" for d in backing))
        if len(conflicting) > 1:
            listing = ", ".join(f"{d} {self.pk[d]}" for d in conflicting)
            c.problem(ERROR, f"Several TensorFlow distributions are installed at once ({listing}). They all "
                      "write the same `tensorflow` package folder, so the files on disk are a mix of them.",
                      "multiple-tf-distributions",
                      "Uninstall every one of them, then install exactly one.",
                      [self.pip("uninstall", *self.tf_dists),
                       self.pip("install", f"{'tensorflow' if 'tensorflow' in conflicting else dist}=={self.tf}")])
        dups = {k: v for k, v in self.p.duplicate_packages.items()
                if k in ("tensorflow", "numpy", "keras", "protobuf", "tf-keras") or k in self.tf_dists}
        for name, versions in sorted(dups.items()):
            c.problem(WARNING, f"{name} has several metadata folders on sys.path ({', '.join(versions)}); "
                      "pip's view and what imports may differ.", None,
                      f"Reinstall {name} cleanly.", [self.pip("install", "--force-reinstall", "--no-deps",
                                                             f"{name}=={versions[0]}")])
        conda_tf = [x for x in self.p.data("packages").get("conda_packages") or [] if x.startswith("tensorflow")]
        pip_tf = (self.p.package_details.get(dist) or {}).get("installer") == "pip"
        if conda_tf and pip_tf:
            c.problem(WARNING, f"TensorFlow is installed by pip inside a conda environment that also has conda's "
                      f"{', '.join(conda_tf)}; the two package managers overwrite each other's files.",
                      "conda-pip-mixed-tensorflow",
                      "Keep one installer for TensorFlow: remove the conda package or the pip one.")
        if dist == "tensorflow-gpu":
            c.details.append("tensorflow-gpu is the old name; it stopped receiving releases after 2.11")
        return c

    # -- keras --
    def keras_check(self) -> Optional[Check]:
        c = Check("keras", "Keras")
        keras = self.pk.get("keras")
        tfk = self.pk.get("tf-keras")
        legacy = str(self.p.env_vars.get("TF_USE_LEGACY_KERAS", "")).strip().lower() in ("1", "true", "yes")
        bits = []
        if keras:
            bits.append(f"keras {keras}")
        if tfk:
            bits.append(f"tf-keras {tfk}")
        if not bits:
            if not self.tf_dists:
                return None
            c.found = "no standalone keras (tf.keras comes from TensorFlow)"
            c.status = OK if not self.tf_at_least("2.16") else WARNING
            if self.tf_at_least("2.16"):
                c.problem(WARNING, f"TensorFlow {self.tf} expects the keras package (Keras 3) for tf.keras, and it "
                          "is not installed.", None, "Install keras.", [self.pip("install", "keras")])
            return c
        c.found = ", ".join(bits)
        if legacy:
            c.found += " (TF_USE_LEGACY_KERAS=1)"
        c.status = OK
        if not self.tf_dists:
            if keras and V(keras) and V(keras) >= V("2.4") and V(keras) < V("3"):
                c.problem(WARNING, f"keras {keras} is a thin layer over tf.keras and needs TensorFlow, which is "
                          "not installed.", "keras-requires-tf-2-2", "Install TensorFlow of the same minor version.",
                          [self.pip("install", f"tensorflow=={V(keras).major}.{V(keras).minor}.*")])
            return c
        kv = V(keras) if keras else None
        if kv is not None and self.tfv is not None:
            if kv.major >= 3 and self.tfv < V("2.16"):
                c.problem(ERROR, f"Keras 3 ({keras}) with TensorFlow {self.tf}: Keras 3 needs TF >= 2.16; older TF "
                          "expects Keras 2 of its own minor version.", "keras3-under-old-tf",
                          f"Install the Keras that matches TF {self.tfv.major}.{self.tfv.minor}.",
                          [self.pip("install", "keras" + (self.declared.get("keras")
                                                          or self.c.keras_spec(self.tf, self.tf_dists[0])
                                                          or f"=={self.tfv.major}.{self.tfv.minor}.*"))])
            elif kv >= V("2.4") and self.tfv < V("2.2"):
                c.problem(ERROR, f"keras {keras} redirects to tf.keras and needs TensorFlow >= 2.2 (found {self.tf}).",
                          "keras-requires-tf-2-2", "Use keras 2.3.1 with this TensorFlow, or upgrade TensorFlow.",
                          [self.pip("install", "keras==2.3.1")])
        spec = self.declared.get("keras") or self.c.keras_spec(self.tf, self.tf_dists[0])
        if keras and spec and spec_contains(spec, keras) is False and not c.problems:
            source = "the TensorFlow wheel requires" if self.declared.get("keras") else "the compatibility model says"
            c.problem(WARNING, f"keras {keras} is outside what {source} for TF {self.tf}: keras{spec}.", None,
                      "Install a matching keras.", [self.pip("install", f"keras{spec}")])
        if self.tf_at_least("2.16") and legacy and not tfk:
            c.problem(ERROR, "TF_USE_LEGACY_KERAS=1 is set but tf-keras is not installed, so tf.keras cannot load "
                      "the legacy Keras 2.", "tf-keras-missing-legacy-keras", "Install tf-keras matching TensorFlow.",
                      [self.pip("install", f"tf-keras~={self.tfv.major}.{self.tfv.minor}.0")])
        if tfk and self.tfv is not None and V(tfk) is not None and _mm(tfk) != _mm(self.tf):
            c.problem(WARNING, f"tf-keras {tfk} is built for TensorFlow {V(tfk).major}.{V(tfk).minor}, not {self.tf}.",
                      None, "Install the tf-keras of TensorFlow's minor version.",
                      [self.pip("install", f"tf-keras~={self.tfv.major}.{self.tfv.minor}.0")])
        return c

    # -- numpy --
    def numpy_check(self) -> Optional[Check]:
        c = Check("numpy", "NumPy")
        np_ver = self.pk.get("numpy")
        if not np_ver:
            if not self.tf_dists:
                return None
            c.found = "not installed"
            c.problem(ERROR, "NumPy is missing; TensorFlow cannot import without it.", None, "Install numpy.",
                      [self.pip("install", f"numpy{self.declared.get('numpy') or self.c.numpy_spec(self.tf, self.p.python_version, self.tf_dists[0]) or ''}")])
            return c
        c.found = f"numpy {np_ver}"
        c.status = OK
        if not self.tf_dists or self.tfv is None:
            return c
        npv = V(np_ver)
        declared = self.declared.get("numpy")
        model = self.c.numpy_spec(self.tf, self.p.python_version, self.tf_dists[0])
        if declared or model:
            c.details.append("TensorFlow wants numpy" + (declared or model) +
                             (" (wheel metadata)" if declared else " (compatibility model)"))
        if npv is not None and npv.major >= 2 and self.c.numpy2_supported(self.tf) is False:
            good = model or "<2"
            c.problem(ERROR, f"NumPy {np_ver} with TensorFlow {self.tf}: TF releases before 2.18 were compiled "
                      "against NumPy 1.x and fail to import under NumPy 2.", "numpy2-abi-compiled-numpy1",
                      f"Install a NumPy 1.x that TF {self.tf} supports.",
                      [self.pip("install", f"numpy{good}")])
            return c
        for spec, source in ((declared, "the TensorFlow wheel requires"), (model, "the compatibility model says")):
            if spec and spec_contains(spec, np_ver) is False:
                low = _lower_bound_violated(spec, np_ver)
                c.problem(ERROR if low else WARNING,
                          f"numpy {np_ver} is outside what {source} for TF {self.tf}: numpy{spec}.",
                          "numpy-api-version-too-old" if low else None,
                          "Install a matching NumPy.", [self.pip("install", f"numpy{spec}")])
                break
        return c

    # -- protobuf --
    def protobuf_check(self) -> Optional[Check]:
        c = Check("protobuf", "protobuf")
        pb = self.pk.get("protobuf")
        if not pb:
            if not self.tf_dists:
                return None
            c.found = "not installed"
            c.problem(ERROR, "protobuf is missing; TensorFlow cannot import without it.", None, "Install protobuf.",
                      [self.pip("install", f"protobuf{self.declared.get('protobuf') or ''}")])
            return c
        c.found = f"protobuf {pb}"
        if str(self.p.env_vars.get("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "")) == "python":
            c.found += " (pure-Python implementation forced)"
        c.status = OK
        if not self.tf_dists or self.tfv is None:
            return c
        declared = self.declared.get("protobuf")
        model = self.c.protobuf_spec(self.tf, self.p.python_version, self.tf_dists[0])
        pbv = V(pb)
        for spec, source in ((declared, "the TensorFlow wheel requires"), (model, "the compatibility model says")):
            if not spec or spec_contains(spec, pb) is not False:
                continue
            if _lower_bound_violated(spec, pb):
                rule = "protobuf-gencode-runtime-mismatch" if _spec_min_major(spec) >= 5 else "protobuf-builder-missing"
            elif pbv is not None and pbv >= V("4.21") and self.tfv < V("2.12"):
                rule = "protobuf-descriptors-cannot-be-created"
            else:
                rule = None
            c.problem(ERROR if rule else WARNING, f"protobuf {pb} is outside what {source} for TF {self.tf}: "
                      f"protobuf{spec}.", rule, "Install a matching protobuf.",
                      [self.pip("install", f"protobuf{spec}")])
            break
        if not c.problems and pbv is not None and pbv >= V("4.21") and self.tfv < V("2.12"):
            # Releases before the patch-release caps (2.6.5/2.7.3/2.8.2/2.9.1) declared no upper bound;
            # their generated *_pb2 code still cannot load under the upb-based protobuf 4.21+.
            c.problem(ERROR, f"protobuf {pb} (4.21 or newer) cannot load the generated code in TensorFlow "
                      f"{self.tf}, although its pins allow it.", "protobuf-descriptors-cannot-be-created",
                      "Install protobuf 3.20.x (or upgrade TensorFlow to a patch release that caps protobuf).",
                      [self.pip("install", "protobuf==3.20.3")])
        return c

    # -- other pinned deps --
    def other_pins_check(self) -> Optional[Check]:
        if not self.declared:
            return None
        c = Check("pins", "Other TensorFlow requirements")
        checked = []
        for name, spec in sorted(self.declared.items()):
            if name in ("numpy", "protobuf", "keras") or not spec:
                continue
            have = self.pk.get(name)
            if have is None:
                c.problem(WARNING, f"{name} (required {spec or 'any version'}) is not installed.", None,
                          f"Install {name}.", [self.pip("install", f"{name}{spec}")])
                continue
            checked.append(f"{name} {have}")
            if spec_contains(spec, have) is False:
                c.problem(WARNING, f"{name} {have} does not satisfy TensorFlow's requirement {name}{spec}.", None,
                          f"Install a matching {name}.", [self.pip("install", f"{name}{spec}")])
        c.found = (", ".join(checked[:8]) + (" ..." if len(checked) > 8 else "")) or "nothing pinned"
        if c.status == UNKNOWN:
            c.status = OK
            c.found += " - all within the wheel's pins"
        return c

    # -- cpu --
    def cpu_check(self) -> Check:
        c = Check("cpu", "CPU")
        cpu = self.p.cpu
        if not cpu:
            c.found = f"unknown (cpu probe {self.p.status('cpu')})"
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
        needs = set(self.c.cpu_requirements(self.tf)) if self.tf_dists else set()
        if self.tf_dists and not flags.get("avx"):
            c.problem(ERROR, "This CPU has no AVX. Every official TensorFlow x86 wheel since 1.6 uses AVX, so "
                      "`import tensorflow` dies with 'Illegal instruction' or an abort.", "cpu-illegal-instruction",
                      "Use a TensorFlow built without AVX (build from source, or a community no-AVX wheel / conda "
                      "build), or run on a CPU with AVX.")
        elif self.tf_dists and (self.tf == "2.4.0" or "avx2" in needs) and not flags.get("avx2"):
            c.problem(ERROR, f"TensorFlow {self.tf} wheels require AVX2 and this CPU lacks it (2.4.0 needed it "
                      "by accident; 2.4.1 removed the requirement).", "cpu-illegal-instruction",
                      "Install a release without that requirement.",
                      [self.pip("install", "tensorflow>=2.4.1,<2.5")] if self.tf == "2.4.0" else [])
        elif lack and self.tf_dists:
            c.details.append("missing " + " ".join(lack) + ": TensorFlow runs, just without those kernels")
        return c

    # -- gpu / driver --
    def gpu_check(self) -> Check:
        c = Check("gpu", "NVIDIA driver and GPU")
        nv = self.p.nvml
        st = self.p.status("nvml")
        is_cuda = bool(self.build.get("is_cuda_build"))
        if st != "ok":
            c.found = f"unknown: the NVML probe {st}" + (f" ({self.p.probes['nvml'].error})" if st in ("error", "crashed", "timeout") else "")
            c.status = WARNING if st in ("crashed", "timeout") else UNKNOWN
            if st in ("crashed", "timeout"):
                c.problems.append(Problem(WARNING, "Querying the NVIDIA driver through NVML " +
                                          ("hung" if st == "timeout" else "crashed") +
                                          "; the driver installation is probably broken.", None,
                                          "Reinstall the NVIDIA driver, then run `nvidia-smi`."))
            return c
        if nv.get("error") or not self.gpus:
            if self.pci_nvidia:
                c.found = f"NVIDIA GPU on the PCI bus ({self.pci_nvidia[0]}) but no working driver"
                c.problem(ERROR if is_cuda else WARNING,
                          "An NVIDIA GPU is present but the NVIDIA driver is not loaded"
                          + (f" ({nv['error']})" if nv.get("error") else "") + ".",
                          "cuda-drivers-not-found",
                          ("Inside a container the host's driver must be passed in: run it with the NVIDIA "
                           "Container Toolkit (docker run --gpus all ...)." if self.p.data("basic").get("container")
                           else "Install the NVIDIA driver for this GPU and reboot; `nvidia-smi` must list the "
                           "GPU before TensorFlow can use it."))
                return c
            c.found = "no NVIDIA driver or GPU found" + (f" ({nv['error'].split(':')[0]})" if nv.get("error") else "")
            c.status = INFO
            if self.platform == "macos":
                c.found = "no NVIDIA/CUDA on macOS (tensorflow-metal is the GPU route)"
            c.details.append("TensorFlow will run on the CPU" if self.tf_dists else "CPU only")
            return c
        drv = self.p.driver_version or "?"
        cuda_drv = self.p.driver_cuda_version
        names = ", ".join(f"{g.get('name', '?')} (CC {g.get('compute_capability', '?')}, "
                          f"{_gib(g.get('memory_total_mib'))})" for g in self.gpus)
        c.found = f"driver {drv} (supports CUDA {cuda_drv or '?'}); {len(self.gpus)} GPU: {names}"
        c.status = OK
        if not self.tf_dists:
            return c
        # Windows native: no GPU after 2.10
        if self.platform == "windows" and self.c.windows_native_gpu(self.tf) is False:
            pyv = _mm(self.p.python_version)
            native = ("install tensorflow<2.11 with CUDA 11.2 / cuDNN 8.1 natively"
                      + (" (that needs Python 3.7-3.10: create such an environment first)"
                         if pyv and pyv > (3, 10) else ""))
            c.problem(ERROR, f"TensorFlow {self.tf} on native Windows has no GPU support (2.10 was the last).",
                      "windows-native-gpu-after-2-10",
                      f"Use TensorFlow in WSL2 (pip install tensorflow[and-cuda] there), or {native}.",
                      [self.pip("install", "tensorflow<2.11")] if not pyv or pyv <= (3, 10) else [])
            return c
        if self.build.get("raw") and not is_cuda and self.platform in ("linux", "wsl", "windows"):
            c.problem(ERROR, f"{self.tf_dists[0]} {self.tf} is a CPU-only build; it will never use the GPU.",
                      "tf-cpu-only-build",
                      "Replace it with the CUDA build (on Linux/WSL2: tensorflow[and-cuda]).",
                      [self.pip("uninstall", *self.tf_dists),
                       self.pip("install", f"tensorflow[and-cuda]=={self.tf}")])
            return c
        tf_cuda = self.build.get("cuda_version")
        if not tf_cuda:
            tf_cuda, _ = self.c.cuda_cudnn(self.tf, self.platform)
        if tf_cuda:
            need = self.c.min_driver(tf_cuda, self.platform or "linux")
            if need and V(drv) is not None and V(need) is not None and V(drv) < V(need):
                c.problem(ERROR, f"Driver {drv} is older than the {need} that CUDA {tf_cuda} (used by TF {self.tf}) "
                          "needs.", "cuda-driver-insufficient",
                          f"Update the NVIDIA driver to {need} or newer, or install a TensorFlow built for an "
                          f"older CUDA (see `tfhelp plan`).")
            elif cuda_drv and _mm(cuda_drv) and _mm(tf_cuda) and _mm(cuda_drv)[0] < _mm(tf_cuda)[0]:
                c.problem(ERROR, f"The driver supports CUDA up to {cuda_drv}; TF {self.tf} is built for CUDA "
                          f"{tf_cuda}, a newer major version.", "cuda-driver-insufficient",
                          "Update the NVIDIA driver, or install a TensorFlow built for the driver's CUDA major "
                          "version (see `tfhelp plan`).")
            elif cuda_drv and _mm(cuda_drv) and _mm(tf_cuda) and _mm(cuda_drv) < _mm(tf_cuda):
                c.details.append(f"driver CUDA {cuda_drv} < TF's CUDA {tf_cuda}: runs through CUDA minor-version "
                                 "compatibility (PTX JIT of newer code is not available)")
        # compute capability
        floor = parse_sm(self.build.get("cuda_compute_capabilities")) or self.c.min_compute_capability(self.tf)
        if floor:
            for g in self.gpus:
                cc = g.get("compute_capability")
                if cc and V(cc) is not None and V(floor) is not None and V(cc) < V(floor):
                    c.problem(ERROR, f"GPU {g.get('index')} {g.get('name')} has compute capability {cc}; TF "
                              f"{self.tf} is built for {floor} and newer, so TensorFlow ignores this GPU.",
                              "gpu-compute-capability-too-low",
                              "Install an older TensorFlow whose wheels still include this architecture (see "
                              "`tfhelp plan`), or build TensorFlow from source for it.")
        cvd = self.p.env_vars.get("CUDA_VISIBLE_DEVICES")
        if cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles"):
            c.problem(WARNING, f"CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU from CUDA programs.",
                      "gpu-list-empty", "Unset CUDA_VISIBLE_DEVICES (or set it to the GPU index, e.g. 0).")
        cu = self.p.data("cuinit")
        rc = cu.get("cuInit")
        if cu.get("library_found") and rc not in (None, 0):
            name, rule = CU_ERRORS.get(rc, (cu.get("cuInit_error") or f"error {rc}", None))
            c.problem(ERROR, f"cuInit(0) failed with {cu.get('cuInit_error') or name} ({rc}): the CUDA driver API "
                      "cannot start.", rule, _cuinit_fix(rc))
        return c

    # -- CUDA libraries --
    def cuda_libs_check(self) -> Optional[Check]:
        c = Check("cuda-libs", "CUDA / cuDNN libraries")
        st = self.p.status("cudalibs")
        libs = self.p.cuda_libraries
        is_cuda = bool(self.build.get("is_cuda_build"))
        relevant = is_cuda and self.gpus and self.platform in ("linux", "wsl", "windows")
        if st != "ok":
            c.found = f"unknown: the library probe {st}"
            if st == "crashed":
                c.problems.append(Problem(WARNING, f"Loading the CUDA libraries crashed the probe process "
                                          f"({self.p.probes['cudalibs'].signal}); a broken CUDA/cuDNN install is "
                                          "likely.", None, "Reinstall the CUDA libraries (pip: tensorflow[and-cuda])."))
                c.status = WARNING
            return c
        if not self.p.data("cudalibs").get("supported", True):
            if not self.tf_dists:
                return None
            c.found = self.p.data("cudalibs").get("reason") or "not applicable"
            c.status = INFO
            return c
        loaded = []
        for fam in ("cuda", "cudart", "cublas", "cudnn"):
            e = libs.get(fam) or {}
            vers = sorted({x["version"] or "?" for x in e.get("copies") or []})
            if e.get("loaded"):
                label = "libcuda" if fam == "cuda" else fam
                loaded.append(f"{label} {'/'.join(vers)}")
        c.found = ", ".join(loaded) if loaded else "no CUDA libraries loadable"
        c.status = OK if relevant else INFO
        if not relevant:
            if is_cuda and not self.gpus:
                c.details.append("not checked against TensorFlow's needs: no NVIDIA GPU")
            elif self.tf_dists and not is_cuda:
                c.details.append("this TensorFlow does not use them (not a CUDA build)")
            return c
        tf_cuda = self.build.get("cuda_version")
        tf_cudnn = self.build.get("cudnn_version")
        if not libs.get("cuda", {}).get("loaded"):
            c.problem(ERROR, "libcuda (the driver's CUDA library) cannot be loaded although NVML sees the GPU"
                      + (": on WSL it lives in /usr/lib/wsl/lib" if self.platform == "wsl" else "") + ".",
                      "libcuda-not-found", "Add the folder holding libcuda.so.1 to the loader path "
                      "(ldconfig or LD_LIBRARY_PATH), or reinstall the driver.")
        cuda_major = (tf_cuda or "").split(".")[0]
        if cuda_major:
            self._need_family(c, libs, "cudart", cuda_major, f"CUDA {tf_cuda} runtime", "cuda-cudart-not-loaded",
                              None)
            self._need_family(c, libs, "cublas", cuda_major, f"cuBLAS for CUDA {cuda_major}",
                              "cuda-math-library-not-loaded", None)
        if tf_cudnn:
            self._need_family(c, libs, "cudnn", tf_cudnn.split(".")[0], f"cuDNN {tf_cudnn}",
                              "cudnn-library-not-loaded", "cudnn-version-mismatch")
        return c

    def _need_family(self, c: Check, libs: dict, fam: str, major: str, what: str, missing_rule: str,
                     mismatch_rule: Optional[str]) -> None:
        e = libs.get(fam) or {}
        copies = e.get("copies") or []
        majors = {(x.get("version") or _soname_major(x.get("name")) or "").split(".")[0] for x in copies}
        if fam == "cudart" or fam == "cublas":
            # file name majors: libcudart.so.11.0 -> 11, libcublas.so.12 -> 12
            majors |= {_soname_major(x.get("name")) for x in copies}
        majors.discard("")
        majors.discard(None)
        if major in majors:
            return
        if self.platform in ("linux", "wsl") and self.tfv is not None and self.tfv >= V("2.14"):
            hint = f"install the pip CUDA wheels: {self.pip('install', f'tensorflow[and-cuda]=={self.tf}')}"
            cmds = [self.pip("install", f"tensorflow[and-cuda]=={self.tf}")]
        else:
            hint = f"install {what} and put its library folder on the loader path"
            cmds = []
        if majors and mismatch_rule:
            c.problem(ERROR, f"TensorFlow needs {what} but only version {', '.join(sorted(majors))} loads.",
                      mismatch_rule, hint[0].upper() + hint[1:] + ".", cmds)
        else:
            extra = f" (found {', '.join(sorted(majors))} instead)" if majors else ""
            c.problem(ERROR, f"TensorFlow needs {what}, which cannot be loaded{extra}; TensorFlow will skip "
                      "the GPU.", missing_rule, hint[0].upper() + hint[1:] + ".", cmds)

    # -- environment variables --
    def env_check(self) -> Check:
        c = Check("env", "Environment variables")
        ev = self.p.env_vars
        shown = [k for k in ("CUDA_VISIBLE_DEVICES", "TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "XLA_FLAGS",
                             "CUDA_HOME", "CUDA_PATH", "KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS",
                             "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION") if k in ev]
        c.found = ", ".join(f"{k}={ev[k]}" for k in shown) if shown else "none of the TensorFlow-related ones set"
        if ev.get("LD_LIBRARY_PATH"):
            c.details.append(f"LD_LIBRARY_PATH={ev['LD_LIBRARY_PATH']}")
        cuda_path = self.p.data("basic").get("path_cuda_entries") or []
        if cuda_path:
            c.details.append("PATH has CUDA folders: " + os.pathsep.join(cuda_path))
        c.status = OK
        kb = ev.get("KERAS_BACKEND")
        if kb and kb.lower() not in ("tensorflow",) and self.tf_dists:
            c.problem(WARNING, f"KERAS_BACKEND={kb}: Keras 3 will not use TensorFlow as its backend.", None,
                      "Unset KERAS_BACKEND or set it to tensorflow.")
        if str(ev.get("TF_CPP_MIN_LOG_LEVEL", "")).strip() in ("2", "3"):
            c.details.append("TF_CPP_MIN_LOG_LEVEL hides TensorFlow's warnings; unset it while debugging")
        return c

    # -- the probe itself --
    def probe_check(self) -> Optional[Check]:
        bad = self.p.failed_probes()
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

    def deep_check(self) -> Optional[Check]:
        if self.deep is None and "tfimport" not in self.p.probes:
            return None
        r = self.p.probes.get("tfimport")
        c = Check("import", "import tensorflow")
        if r is None:
            return None
        if r.ok:
            dv = r.data
            devs = ", ".join(sorted({d.get("type", "?") for d in dv.get("devices") or []})) or "none"
            c.found = f"OK in {dv.get('import_seconds', '?')}s: TensorFlow {dv.get('version')}, devices: {devs}"
            c.status = OK
            if self.gpus and not any(d.get("type") == "GPU" for d in dv.get("devices") or []):
                c.problem(WARNING, "TensorFlow imports but lists no GPU although NVML sees one.", "gpu-list-empty",
                          "Run `tfhelp gpu-test` to find the failing step.")
            return c
        c.found = f"failed ({r.status}{': ' + r.signal if r.signal else ''})"
        c.status = ERROR
        diag = (self.deep or {}).get("diagnoses") or []
        if diag:
            for dg in diag[:3]:
                rule = dg.get("id")
                c.problems.append(Problem(ERROR, f"{dg.get('title')}: {dg.get('summary') or ''}".strip(),
                                          rule if rule in RULE_IDS else None,
                                          "See `tfhelp` on the output below for the fix."))
                if rule not in RULE_IDS:
                    c.details.append(f"diagnosis: {rule}")
        else:
            c.problems.append(Problem(ERROR, (r.error or "import failed"), None,
                                      "Run `tfhelp run python -c 'import tensorflow'` for a diagnosis."))
        tail = (r.stderr_tail or "").strip().splitlines()[-5:]
        c.details.extend(tail)
        return c


def _gib(mib) -> str:
    if not mib:
        return "? GiB"
    return f"{mib / 1024:.0f} GiB" if mib >= 1024 else f"{mib} MiB"


def _soname_major(name) -> Optional[str]:
    if not name:
        return None
    import re
    m = re.search(r"\.so\.(\d+)", name) or re.search(r"64_(\d+)\.dll$", name)
    if not m:
        return None
    digits = m.group(1)
    if ".dll" in name and len(digits) == 3:  # cudart64_110.dll
        return digits[:-1]
    return digits


def _lower_bound_violated(spec: str, version: str) -> bool:
    """True when ``version`` is below a >= / > / ~= / == bound of ``spec``."""
    from packaging.specifiers import SpecifierSet
    v = V(version)
    if v is None:
        return False
    for s in SpecifierSet(spec):
        bound = V(s.version.rstrip(".*"))
        if bound is None:
            continue
        if s.operator in (">=", ">", "~=", "==") and v < bound:
            return True
    return False


def _spec_min_major(spec: str) -> int:
    from packaging.specifiers import SpecifierSet
    majors = [V(s.version.rstrip(".*")).major for s in SpecifierSet(spec)
              if s.operator in (">=", ">", "~=", "==") and V(s.version.rstrip(".*")) is not None]
    return max(majors) if majors else 0


def _cuinit_fix(rc: int) -> str:
    if rc == 100:
        return ("No device is visible to CUDA: check CUDA_VISIBLE_DEVICES, that `nvidia-smi` lists the GPU, and "
                "in containers that the GPU was passed in (--gpus all).")
    if rc == 35:
        return "Update the NVIDIA driver: it is older than the CUDA runtime in use."
    if rc in (303, 999):
        return ("Often fixed by reloading the driver's unified-memory module (sudo modprobe -r nvidia_uvm && "
                "sudo modprobe nvidia_uvm) or a reboot; after suspend/resume this is common.")
    return "Reinstall the NVIDIA driver and reboot."


def run_doctor(target_python: Optional[str] = None, deep: bool = False, timeout: Optional[float] = None,
               compat: Optional[Compat] = None) -> DoctorReport:
    """Probe, then check. With ``deep``, the real ``import tensorflow`` output is diagnosed too."""
    import time

    from tfhelp.assistant.environment.probe import probe as run_probe
    t0 = time.monotonic()
    pr = run_probe(target_python, deep=deep, timeout=timeout)
    deep_info = None
    if deep:
        r = pr.probes.get("tfimport")
        deep_info = {"status": r.status if r else "not-run"}
        if r is not None and not r.ok:
            text = (r.stderr_tail or "") + "\n" + (r.error or "")
            if r.signal:
                from tfhelp.assistant.environment.gpu_test import shell_signal_line
                text += "\n" + shell_signal_line(r.signal)
            deep_info["diagnoses"] = diagnose_text(text, pr)
    return diagnose(pr, compat=compat, seconds=time.monotonic() - t0, deep=deep_info)


def diagnose_text(text: str, probe: Optional[ProbeResult] = None) -> Optional[list]:
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


#: JSON Schema (draft 2020-12 subset) of ``tfhelp doctor --json``; documented in docs/doctor-json.md.
_STR_OR_NULL = {"type": ["string", "null"]}
PROBLEM_SCHEMA = {
    "type": "object", "required": ["rule", "severity", "message", "fix", "commands"],
    "properties": {"rule": _STR_OR_NULL, "severity": {"enum": [ERROR, WARNING]}, "message": {"type": "string"},
                   "fix": _STR_OR_NULL, "commands": {"type": "array", "items": {"type": "string"}},
                   "check": {"type": "string"}},
}
DOCTOR_JSON_SCHEMA = {
    "type": "object",
    "required": ["tfhelp_version", "schema", "target_python", "status", "seconds", "probe_seconds", "checks",
                 "problems", "compat_missing", "environment", "deep", "probe"],
    "properties": {
        "tfhelp_version": {"type": "string"},
        "schema": {"enum": [1]},
        "target_python": {"type": "string"},
        "status": {"enum": [OK, WARNING, ERROR]},
        "seconds": {"type": "number"},
        "probe_seconds": {"type": "number"},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["id", "title", "status", "found", "details", "problems"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                           "status": {"enum": [OK, WARNING, ERROR, INFO, UNKNOWN]}, "found": {"type": "string"},
                           "details": {"type": "array", "items": {"type": "string"}},
                           "problems": {"type": "array", "items": PROBLEM_SCHEMA}}}},
        "problems": {"type": "array", "items": dict(PROBLEM_SCHEMA, required=PROBLEM_SCHEMA["required"] + ["check"])},
        "compat_missing": {"type": "array", "items": {"type": "string"}},
        "environment": {"type": "object", "required": ["source", "python", "platform", "packages", "facts"],
                        "properties": {"source": {"enum": ["probe"]}, "python": _STR_OR_NULL,
                                       "platform": {"enum": ["linux", "windows", "wsl", "macos", None]},
                                       "packages": {"type": "object"}, "facts": {"type": "object"}}},
        "deep": {"type": ["object", "null"]},
        "probe": {"type": "object", "required": ["schema", "target_python", "probes"],
                  "properties": {"probes": {"type": "object"}}},
    },
}
