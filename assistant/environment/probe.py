"""Environment probe: learn the target interpreter's machine without importing TensorFlow here.

Every sub-probe is ``python probe_target.py <name>`` in its own subprocess, run concurrently from
threads, each with its own timeout. A sub-probe that hangs is killed (with its process group) and
reported as ``timeout``; one that dies of a signal is ``crashed`` (with the signal's name); one that
raises is ``error`` with the exception. The others are unaffected.

Which interpreter runs which probe:

* the target interpreter (``--python``; default ``python`` on PATH, else tfhelp's own): basic,
  packages, tfbuild, cpu, cudalibs, cuinit, and on request tfimport;
* tfhelp's own interpreter: nvml, because nvidia-ml-py is one of tfhelp's dependencies and the
  driver is a property of the machine, not of the environment. (probe_target falls back to NVML
  through ctypes where pynvml is missing.)

:class:`ProbeResult` keeps the raw per-probe data (that is what the recorded fixtures hold) and
derives the facts the doctor and the engine use from it.

Why one module of ~500 lines: the recorded fixtures (tests/fixtures/probe) are ProbeResult JSON,
so the runner that produces the raw data and the class that reads facts out of it change together.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

MARKER = "@@TFHELP@@"
SCHEMA_VERSION = 1
TARGET_SCRIPT = Path(__file__).with_name("probe_target.py")

#: probe name -> (which interpreter runs it, default timeout in seconds)
DEFAULT_PROBES = {
    "basic": ("target", 15.0),
    "packages": ("target", 20.0),
    "tfbuild": ("target", 15.0),
    "cpu": ("target", 10.0),
    "nvml": ("self", 15.0),
    "cudalibs": ("target", 25.0),
    "cuinit": ("target", 20.0),
}
DEEP_PROBES = {"tfimport": ("target", 120.0)}

#: Packages that doctor reports on, in display order.
KEY_PACKAGES = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tensorflow-intel",
                "tensorflow-macos", "tensorflow-metal", "keras", "tf-keras", "numpy", "protobuf",
                "h5py", "ml-dtypes", "tensorboard")


# One resolver for every command; kept importable from here for the probe's callers.
from tfhelp.assistant.context import TargetNotFound, resolve_target_python  # noqa: E402,F401


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except (ValueError, AttributeError):
        return f"signal {num}"


#: Windows exit codes of crashed processes (NTSTATUS) that mean the same as POSIX signals.
WINDOWS_CRASH_CODES = {0xC000001D: "SIGILL", 0xC0000005: "SIGSEGV", 0xC0000409: "SIGABRT"}


def crash_signal(returncode: Optional[int]) -> Optional[str]:
    """Name of the signal that killed a child (POSIX negative code, or a Windows crash code)."""
    if returncode is None:
        return None
    if returncode < 0:
        return _signal_name(-returncode)
    if returncode & 0xFFFFFFFF in WINDOWS_CRASH_CODES:
        return WINDOWS_CRASH_CODES[returncode & 0xFFFFFFFF]
    return None


@dataclass
class ProcessOutcome:
    """One child process, whatever became of it."""
    returncode: Optional[int]
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    @property
    def signal(self) -> Optional[str]:
        return crash_signal(self.returncode)


def run_process(cmd: list, timeout: float, env: Optional[dict] = None, cwd: Optional[str] = None,
                stdin_text: Optional[str] = None) -> ProcessOutcome:
    """Run ``cmd`` with a hard timeout; on timeout kill its whole process group."""
    t0 = time.monotonic()
    kwargs = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True
    else:  # pragma: no cover - Windows
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, **kwargs)
    except OSError as e:
        return ProcessOutcome(None, "", f"{type(e).__name__}: {e}", time.monotonic() - t0, False)
    timed_out = False
    try:
        out, err = proc.communicate(stdin_text.encode() if stdin_text is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_tree(proc)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child that ignores SIGKILL
            out, err = b"", b""
    return ProcessOutcome(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                          time.monotonic() - t0, timed_out)


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass


def parse_marker(stdout: str) -> Optional[dict]:
    """The last ``@@TFHELP@@{json}`` line of a probe's stdout."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                obj = json.loads(line[len(MARKER):])
            except ValueError:
                return None
            return obj if isinstance(obj, dict) else None
    return None


@dataclass
class SubprobeResult:
    name: str
    status: str  # ok | error | timeout | crashed | unavailable
    seconds: float
    interpreter: str
    data: dict = field(default_factory=dict)
    error: Optional[str] = None
    returncode: Optional[int] = None
    signal: Optional[str] = None
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3),
                "interpreter": self.interpreter, "data": self.data, "error": self.error,
                "returncode": self.returncode, "signal": self.signal, "stderr_tail": self.stderr_tail}

    @classmethod
    def from_json(cls, d: dict) -> "SubprobeResult":
        return cls(name=d["name"], status=d["status"], seconds=float(d.get("seconds") or 0.0),
                   interpreter=d.get("interpreter") or "", data=d.get("data") or {}, error=d.get("error"),
                   returncode=d.get("returncode"), signal=d.get("signal"), stderr_tail=d.get("stderr_tail") or "")


def run_subprobe(name: str, python: str, timeout: float, script: Optional[Path] = None,
                 env: Optional[dict] = None) -> SubprobeResult:
    """Run one probe of probe_target.py in ``python`` and classify what happened."""
    script = script or TARGET_SCRIPT
    # A neutral working folder: a stray tensorflow.py in the user's cwd must not shadow the import
    # of a probe; -c is not used because the script path keeps tracebacks readable.
    outcome = run_process([python, str(script), name], timeout=timeout, env=env, cwd=_neutral_cwd())
    tail = outcome.stderr[-4000:]
    if outcome.timed_out:
        return SubprobeResult(name, "timeout", outcome.seconds, python,
                              error=f"no answer within {timeout:g}s; killed", stderr_tail=tail)
    if outcome.returncode is None:
        return SubprobeResult(name, "unavailable", outcome.seconds, python, error=outcome.stderr.strip())
    sig = outcome.signal
    if sig:
        return SubprobeResult(name, "crashed", outcome.seconds, python, returncode=outcome.returncode,
                              signal=sig, error=f"the probe process died of {sig}", stderr_tail=tail)
    payload = parse_marker(outcome.stdout)
    if payload is None:
        msg = (outcome.stderr.strip().splitlines() or ["no result printed"])[-1]
        return SubprobeResult(name, "error", outcome.seconds, python, returncode=outcome.returncode,
                              error=msg[:500], stderr_tail=tail)
    if not payload.get("ok"):
        err = payload.get("error") or "probe failed"
        # what the target printed to stderr before failing (NumPy's ABI banner, loader warnings) is
        # evidence too: keep it ahead of the traceback
        both = (tail.rstrip() + "\n" if tail.strip() else "") + (payload.get("traceback") or "")
        return SubprobeResult(name, "error", outcome.seconds, python, returncode=outcome.returncode,
                              error=err, stderr_tail=both[-4000:])
    return SubprobeResult(name, "ok", outcome.seconds, python, data=payload.get("data") or {},
                          returncode=outcome.returncode, stderr_tail=tail)


def _neutral_cwd() -> str:
    import tempfile
    return tempfile.gettempdir()


# ---------------------------------------------------------------------------------------------

def _parse_cuda_version(value) -> Optional[str]:
    """TF build_info cuda_version -> "12.5". Linux gives "12.5.1", Windows "64_112" (= 11.2)."""
    if value is None:
        return None
    s = str(value).strip()
    if s.startswith("64_"):
        digits = s[3:]
        if digits.isdigit() and len(digits) >= 2:
            return f"{int(digits[:-1])}.{digits[-1]}" if len(digits) == 3 else f"{int(digits)}"
        return None
    parts = s.split(".")
    if parts and parts[0].isdigit():
        return ".".join(parts[:2])
    return None


def _parse_cudnn_version(value) -> Optional[str]:
    """TF build_info cudnn_version -> "9" / "8" ("64_8" on Windows)."""
    if value is None:
        return None
    s = str(value).strip()
    if s.startswith("64_"):
        s = s[3:]
    return s or None


def cuda_int_to_str(v) -> Optional[str]:
    """NVML / CUDA integer version 12020 -> "12.2"."""
    if v is None:
        return None
    try:
        v = int(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{v // 1000}.{(v % 1000) // 10}"


@dataclass
class ProbeResult:
    target_python: str
    probes: dict  # name -> SubprobeResult
    seconds: float = 0.0
    created: str = ""
    tfhelp_python: str = ""
    notes: list = field(default_factory=list)  # e.g. "constructed fixture", provenance
    schema: int = SCHEMA_VERSION

    # ---- (de)serialisation ----
    def to_json(self) -> dict:
        return {"schema": self.schema, "target_python": self.target_python,
                "tfhelp_python": self.tfhelp_python, "created": self.created,
                "seconds": round(self.seconds, 3), "notes": list(self.notes),
                "probes": {k: v.to_json() for k, v in self.probes.items()}}

    @classmethod
    def from_json(cls, d: dict) -> "ProbeResult":
        if not isinstance(d, dict) or "probes" not in d:
            raise ValueError("not a tfhelp probe result (no 'probes')")
        return cls(target_python=d.get("target_python") or "", tfhelp_python=d.get("tfhelp_python") or "",
                   created=d.get("created") or "", seconds=float(d.get("seconds") or 0.0),
                   notes=list(d.get("notes") or []), schema=int(d.get("schema") or SCHEMA_VERSION),
                   probes={k: SubprobeResult.from_json(v) for k, v in d["probes"].items()})

    # ---- raw access ----
    def data(self, name: str) -> dict:
        r = self.probes.get(name)
        return r.data if r is not None and r.ok else {}

    def status(self, name: str) -> str:
        r = self.probes.get(name)
        return r.status if r is not None else "not-run"

    def failed_probes(self) -> list:
        return [r for r in self.probes.values() if not r.ok]

    # ---- derived facts ----
    @property
    def python_version(self) -> Optional[str]:
        return (self.data("basic").get("python") or {}).get("version")

    @property
    def python_bits(self) -> Optional[int]:
        return (self.data("basic").get("python") or {}).get("bits")

    @property
    def env_kind(self) -> Optional[str]:
        return (self.data("basic").get("python") or {}).get("env_kind")

    @property
    def os_info(self) -> dict:
        return self.data("basic").get("os") or {}

    @property
    def platform(self) -> Optional[str]:
        """linux | windows | wsl | macos (the vocabulary of rules' ``when.platform``)."""
        o = self.os_info
        system = (o.get("system") or "").lower()
        if not system:
            return None
        if system == "linux":
            return "wsl" if o.get("wsl") else "linux"
        if system == "windows":
            return "windows"
        if system == "darwin":
            return "macos"
        return system

    @property
    def env_vars(self) -> dict:
        return self.data("basic").get("env") or {}

    @property
    def packages(self) -> dict:
        from tfhelp.kb.environment import canonical
        return {canonical(k): v for k, v in (self.data("packages").get("all") or {}).items()}

    @property
    def package_details(self) -> dict:
        return {p["name"]: p for p in self.data("packages").get("relevant") or []}

    @property
    def duplicate_packages(self) -> dict:
        return self.data("packages").get("duplicates") or {}

    @property
    def tf_distributions(self) -> list:
        from tfhelp.kb.environment import TF_DISTRIBUTIONS
        pk = self.packages
        return [d for d in TF_DISTRIBUTIONS if d in pk]

    @property
    def tf_version(self) -> Optional[str]:
        dists = self.tf_distributions
        if dists:
            return self.packages[dists[0]]
        deep = self.data("tfimport")
        return deep.get("version")

    @property
    def tf_requires(self) -> list:
        """Requires-Dist lines of the installed TF distribution (the wheel's own pins)."""
        details = self.package_details
        for d in self.tf_distributions:
            reqs = (details.get(d) or {}).get("requires")
            if reqs:
                return list(reqs)
        return []

    @property
    def tf_build(self) -> dict:
        """Normalised build facts: is_cuda_build, cuda_version ("12.5"), cudnn_version ("9"), ..."""
        tb = self.data("tfbuild")
        raw = dict(tb.get("build_info") or {})
        deep = self.data("tfimport").get("build_info")
        source = "build_info.py" if raw else None
        if not raw and deep:
            raw, source = dict(deep), "import tensorflow"
        out = {"source": source, "raw": raw}
        if not raw:
            return out
        out["is_cuda_build"] = bool(raw.get("is_cuda_build"))
        out["is_rocm_build"] = bool(raw.get("is_rocm_build"))
        out["cuda_version"] = _parse_cuda_version(raw.get("cuda_version"))
        out["cudnn_version"] = _parse_cudnn_version(raw.get("cudnn_version"))
        caps = raw.get("cuda_compute_capabilities")
        if caps:
            out["cuda_compute_capabilities"] = list(caps)
        return out

    @property
    def cpu(self) -> dict:
        return self.data("cpu")

    @property
    def cpu_flags(self) -> Optional[dict]:
        return self.cpu.get("flags")

    @property
    def nvml(self) -> dict:
        return self.data("nvml")

    @property
    def gpus(self) -> list:
        return list(self.nvml.get("gpus") or [])

    @property
    def driver_version(self) -> Optional[str]:
        return self.nvml.get("driver_version")

    @property
    def driver_cuda_version(self) -> Optional[str]:
        """Highest CUDA version the installed driver supports ("12.2")."""
        v = self.nvml.get("cuda_driver_version")
        if v is None:
            v = self.data("cuinit").get("driver_cuda_version")
            return v
        return cuda_int_to_str(v)

    @property
    def cuda_libraries(self) -> dict:
        """family -> {loaded, version, path, via, errors} summarising every attempt."""
        out = {}
        for lib in self.data("cudalibs").get("libraries") or []:
            fam = lib.get("family")
            loaded = [a for a in lib.get("attempts") or [] if a.get("loaded")]
            failed = [a for a in lib.get("attempts") or [] if not a.get("loaded")]
            entry = {"loaded": bool(loaded), "copies": []}
            for a in loaded:
                ver = (a.get("version") or {}).get("version")
                entry["copies"].append({"name": a.get("name"), "via": a.get("via"), "path": a.get("path"),
                                        "version": ver})
            entry["errors"] = [{"name": a.get("name"), "via": a.get("via"), "error": a.get("error")}
                               for a in failed]
            out[fam] = entry
        return out

    def to_environment(self):
        """The probe as a :class:`tfhelp.kb.environment.Environment` (source="probe")."""
        from tfhelp.kb.environment import Environment

        tb = self.tf_build
        facts = {
            "interpreter": self.target_python,
            "prefix": (self.data("basic").get("python") or {}).get("prefix"),
            "site_packages": (self.data("basic").get("python") or {}).get("site_packages"),
            "python_bits": self.python_bits,
            "env_kind": self.env_kind,
            "os": {k: v for k, v in self.os_info.items() if k in ("system", "release", "distro", "machine",
                                                                    "wsl", "libc")},
            "container": self.data("basic").get("container"),
            "tf_distributions": self.tf_distributions,
            "tf_build": {k: v for k, v in tb.items() if k != "raw"},
            "cpu": {"model": self.cpu.get("model"), "flags": self.cpu_flags},
            "nvidia": {"driver_version": self.driver_version, "cuda_driver_version": self.driver_cuda_version,
                       "gpus": self.gpus} if (self.driver_version or self.gpus) else None,
            "cuda_libraries": {k: {"loaded": v["loaded"],
                                   "versions": sorted({c["version"] for c in v["copies"] if c["version"]})}
                               for k, v in self.cuda_libraries.items()},
            "env_vars": self.env_vars,
            "probe_failures": {r.name: r.status for r in self.failed_probes()},
        }
        # flat aliases, the easiest for templates and rule authors
        if tb.get("cuda_version"):
            facts["tf_cuda_version"] = tb["cuda_version"]
        if tb.get("cudnn_version"):
            facts["tf_cudnn_version"] = tb["cudnn_version"]
        if self.driver_version:
            facts["driver_version"] = self.driver_version
        if self.driver_cuda_version:
            facts["driver_cuda_version"] = self.driver_cuda_version
        caps = [g.get("compute_capability") for g in self.gpus if g.get("compute_capability")]
        if caps:
            facts["compute_capability"] = min(caps, key=lambda c: tuple(int(x) for x in c.split(".")))
        facts = {k: v for k, v in facts.items() if v not in (None, {}, [])}
        return Environment(packages=self.packages, python=self.python_version, platform=self.platform,
                           source="probe", facts=facts)


def probe(target_python: Optional[str] = None, deep: bool = False, timeout: Optional[float] = None,
          only: Optional[list] = None, extra: Optional[dict] = None, script: Optional[Path] = None,
          self_python: Optional[str] = None, env: Optional[dict] = None) -> ProbeResult:
    """Probe ``target_python`` (see :func:`resolve_target_python`) and return what was learnt.

    ``timeout`` caps every sub-probe's own timeout; ``only`` restricts the standard probes; ``extra``
    adds probes ({name: ("target"|"self", timeout)}), which the tests use to inject faults.
    """
    target = resolve_target_python(target_python)
    plan = dict(DEFAULT_PROBES)
    if deep:
        plan.update(DEEP_PROBES)
    if only is not None:
        plan = {k: v for k, v in plan.items() if k in only or (deep and k in DEEP_PROBES)}
    if extra:
        plan.update(extra)
    me = self_python or sys.executable
    t0 = time.monotonic()
    results: dict = {}
    lock = threading.Lock()

    def one(item):
        name, (who, t) = item
        if timeout is not None:
            t = min(t, timeout)
        r = run_subprobe(name, target if who == "target" else me, t, script=script, env=env)
        with lock:
            results[name] = r

    with ThreadPoolExecutor(max_workers=max(1, len(plan))) as pool:
        list(pool.map(one, plan.items()))
    ordered = {k: results[k] for k in plan if k in results}
    return ProbeResult(target_python=target, probes=ordered, seconds=time.monotonic() - t0,
                       created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                       tfhelp_python=me)


def probe_environment(target_python: Optional[str] = None, timeout: Optional[float] = None):
    """Shortcut for the engine: probe and return an :class:`Environment` (source="probe")."""
    return probe(target_python, timeout=timeout).to_environment()
