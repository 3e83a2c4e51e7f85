"""``tfhelp gpu-test``: climb from the driver to a cuDNN convolution, one subprocess per rung.

Rungs (GPU rungs marked G, CPU rungs C), in order:

  G nvml          NVIDIA driver answers through NVML and lists at least one GPU
  G cuda-driver   the CUDA driver API starts: cuInit(0) == 0 and cuDeviceGetCount > 0
  G tf-cuda-libs  the CUDA runtime, cuBLAS and cuDNN versions TensorFlow was built for load
  C import-tf     ``import tensorflow`` succeeds
  G gpu-list      tf.config.list_physical_devices('GPU') is not empty
  G gpu-matmul    a matrix product placed on /GPU:0 ran there and equals the CPU result
  G gpu-conv      a small conv2d (cuDNN) ran on /GPU:0 and equals the CPU result
  C cpu-matmul    a matrix product on /CPU:0 equals NumPy's

The first failing GPU rung stops the GPU part; later GPU rungs are *skipped* with the reason, and a
skipped rung is never counted as passed. The CPU rungs still run (a machine without a GPU still
learns whether TensorFlow works), unless ``import tensorflow`` itself failed. Each failure's output
is diagnosed by the rule engine.

TensorFlow only ever loads in the throwaway rung processes, never in tfhelp.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from tfhelp.assistant.environment.probe import MARKER, ProbeResult, crash_signal, parse_marker, probe, run_process, run_subprobe

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class Rung:
    id: str
    title: str
    kind: str  # gpu | cpu
    timeout: float


RUNGS = (
    Rung("nvml", "NVIDIA driver and GPUs visible (NVML)", "gpu", 20),
    Rung("cuda-driver", "CUDA driver API initialises (cuInit)", "gpu", 30),
    Rung("tf-cuda-libs", "TensorFlow's CUDA / cuBLAS / cuDNN libraries load", "gpu", 60),
    Rung("import-tf", "import tensorflow", "cpu", 240),
    Rung("gpu-list", "TensorFlow lists a GPU", "gpu", 240),
    Rung("gpu-matmul", "matmul on /GPU:0 equals the CPU result", "gpu", 600),
    Rung("gpu-conv", "conv2d (cuDNN) on /GPU:0 equals the CPU result", "gpu", 600),
    Rung("cpu-matmul", "matmul on /CPU:0 equals NumPy", "cpu", 240),
)
TF_RUNGS = ("import-tf", "gpu-list", "gpu-matmul", "gpu-conv", "cpu-matmul")

# Scripts run with ``python -c`` in the target interpreter. Each prints one MARKER line with its
# findings and exits 0 only when the rung's condition was seen to hold.
_PRELUDE = r"""
import json, sys, time
def emit(d):
    sys.stdout.write("\n@@TFHELP@@" + json.dumps(d, default=str) + "\n"); sys.stdout.flush()
t0 = time.time()
import tensorflow as tf
out = {"tf_version": getattr(tf, "__version__", None), "import_seconds": round(time.time() - t0, 3)}
"""
def _gpu_vs_cpu(setup: str) -> str:
    """A rung script: run ``op(*args)`` (defined by ``setup``) on /GPU:0 and on /CPU:0, and pass
    only when the results agree and the GPU result really came from the GPU (TensorFlow silently
    falls back to the CPU otherwise). Exit 3: no GPU visible; 4: wrong result or wrong device."""
    return _PRELUDE + r"""
import numpy as np
try:
    tf.config.experimental.enable_tensor_float_32_execution(False)  # compare full fp32 results
except Exception:
    pass
if not tf.config.list_physical_devices("GPU"):
    out["error"] = "no GPU visible to TensorFlow"; emit(out); sys.exit(3)
""" + setup + r"""
t1 = time.time()
with tf.device("/GPU:0"):
    y = op(*args)
got = y.numpy()
out["op_seconds"] = round(time.time() - t1, 3)
out["device"] = y.device
with tf.device("/CPU:0"):
    ref = op(*args).numpy()
out["max_abs_diff"] = float(np.max(np.abs(got - ref)))
out["close"] = bool(np.allclose(got, ref, rtol=1e-4, atol=1e-3))
out["on_gpu"] = "GPU:0" in (y.device or "")
emit(out)
sys.exit(0 if out["close"] and out["on_gpu"] else 4)
"""


TF_SCRIPTS = {
    "import-tf": _PRELUDE + r"""
try:
    out["built_with_cuda"] = bool(tf.test.is_built_with_cuda())
except Exception as e:
    out["built_with_cuda_error"] = repr(e)
emit(out)
""",
    "gpu-list": _PRELUDE + r"""
gpus = tf.config.list_physical_devices("GPU")
out["gpus"] = [g.name for g in gpus]
try:
    out["details"] = [tf.config.experimental.get_device_details(g) for g in gpus]
except Exception:
    pass
emit(out)
sys.exit(0 if gpus else 3)
""",
    "gpu-matmul": _gpu_vs_cpu(
        "rs = np.random.RandomState(0)\n"
        "args = (rs.rand(512, 512).astype('float32'), rs.rand(512, 512).astype('float32'))\n"
        "op = lambda a, b: tf.matmul(a, b)"),
    "gpu-conv": _gpu_vs_cpu(
        "rs = np.random.RandomState(1)\n"
        "args = (rs.rand(2, 32, 32, 3).astype('float32'), rs.rand(3, 3, 3, 8).astype('float32'))\n"
        "op = lambda x, k: tf.nn.conv2d(x, k, strides=1, padding='SAME')"),
    "cpu-matmul": _PRELUDE + r"""
import numpy as np
rs = np.random.RandomState(0)
a = rs.rand(256, 256).astype("float32"); b = rs.rand(256, 256).astype("float32")
t1 = time.time()
with tf.device("/CPU:0"):
    c = tf.matmul(a, b)
got = c.numpy()
out["op_seconds"] = round(time.time() - t1, 3)
out["device"] = c.device
ref = a.astype("float64") @ b.astype("float64")
out["max_abs_diff"] = float(np.max(np.abs(got - ref)))
out["close"] = bool(np.allclose(got, ref, rtol=1e-4, atol=1e-3))
out["on_cpu"] = "CPU:0" in (c.device or "")
emit(out)
sys.exit(0 if out["close"] and out["on_cpu"] else 4)
""",
}


def shell_signal_line(sig: str) -> str:
    """What a shell prints for a child killed by ``sig`` (rules match on these lines)."""
    try:
        from tfhelp.assistant.frontends.runner import SHELL_SIGNAL_MESSAGES
    except Exception:
        SHELL_SIGNAL_MESSAGES = {"SIGSEGV": "Segmentation fault", "SIGILL": "Illegal instruction",
                                 "SIGABRT": "Aborted", "SIGBUS": "Bus error", "SIGKILL": "Killed"}
    msg = SHELL_SIGNAL_MESSAGES.get(sig, sig)
    return msg + (" (core dumped)" if sig in ("SIGSEGV", "SIGILL", "SIGABRT", "SIGBUS", "SIGFPE") else "")


@dataclass
class RungResult:
    id: str
    title: str
    kind: str
    status: str  # passed | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    output: str = ""
    returncode: Optional[int] = None
    signal: Optional[str] = None
    details: dict = field(default_factory=dict)
    diagnoses: Optional[list] = None  # rule engine on the output, for failures

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "kind": self.kind, "status": self.status,
                "reason": self.reason, "seconds": round(self.seconds, 3), "output": self.output,
                "returncode": self.returncode, "signal": self.signal, "details": self.details,
                "diagnoses": self.diagnoses}


@dataclass
class LadderResult:
    target_python: str
    rungs: list
    seconds: float = 0.0
    gpu_present: Optional[bool] = None
    device: Optional[str] = None  # what the GPU rungs ran on, as TensorFlow named it

    @property
    def first_failure(self) -> Optional[RungResult]:
        for r in self.rungs:
            if r.status == FAILED:
                return r
        return None

    @property
    def gpu_ok(self) -> bool:
        gpu = [r for r in self.rungs if r.kind == "gpu"]
        return bool(gpu) and all(r.status == PASSED for r in gpu)

    @property
    def cpu_ok(self) -> bool:
        cpu = [r for r in self.rungs if r.kind == "cpu"]
        return bool(cpu) and all(r.status == PASSED for r in cpu)

    def exit_code(self, cpu_ok: bool = False) -> int:
        if cpu_ok:
            return 0 if self.cpu_ok else 1
        return 0 if self.gpu_ok and self.cpu_ok else 1

    def to_json(self) -> dict:
        import tfhelp
        ff = self.first_failure
        return {"tfhelp_version": tfhelp.__version__, "schema": 1, "target_python": self.target_python,
                "seconds": round(self.seconds, 3), "gpu_present": self.gpu_present, "device": self.device,
                "gpu_ok": self.gpu_ok, "cpu_ok": self.cpu_ok, "first_failure": ff.id if ff else None,
                "rungs": [r.to_json() for r in self.rungs]}


def _clean_output(stdout: str, stderr: str, limit: int = 6000) -> str:
    lines = [ln for ln in (stdout or "").splitlines() if not ln.startswith(MARKER)]
    text = "\n".join(x for x in (("\n".join(lines)).strip(), (stderr or "").strip()) if x)
    return text[-limit:]


class Ladder:
    """Runs the rungs. ``runner`` hooks exist so tests can replace a rung's execution."""

    def __init__(self, target_python: str, timeout: Optional[float] = None, diagnose: bool = True,
                 self_python: Optional[str] = None, on_rung=None, env: Optional[dict] = None):
        self.python = target_python
        self.env = env  # environment for the rung processes (None: inherit tfhelp's)
        self.timeout = timeout
        self.diagnose_failures = diagnose
        self.self_python = self_python or sys.executable
        self.on_rung = on_rung  # callback(RungResult) as each rung finishes (live display)
        self.base: Optional[ProbeResult] = None

    def _t(self, rung: Rung) -> float:
        return min(rung.timeout, self.timeout) if self.timeout else rung.timeout

    def run(self) -> LadderResult:
        t0 = time.monotonic()
        self.base = probe(self.python, only=["basic", "packages", "tfbuild"], timeout=self.timeout, env=self.env)
        results = []
        gpu_stop: Optional[str] = None
        tf_broken: Optional[str] = None
        gpu_present = None
        device = None
        for rung in RUNGS:
            if rung.id in TF_RUNGS and tf_broken:
                r = RungResult(rung.id, rung.title, rung.kind, SKIPPED, f"needs TensorFlow; '{tf_broken}' failed")
            elif rung.kind == "gpu" and gpu_stop:
                r = RungResult(rung.id, rung.title, rung.kind, SKIPPED, f"earlier GPU rung '{gpu_stop}' failed")
            else:
                r = self.run_rung(rung)
            results.append(r)
            if rung.id == "nvml":
                gpu_present = r.status == PASSED
            if r.status == FAILED:
                if rung.kind == "gpu" and not gpu_stop:
                    gpu_stop = rung.id
                if rung.id == "import-tf":
                    tf_broken = rung.id
            if rung.id == "gpu-matmul" and r.status == PASSED:
                device = r.details.get("device")
            if self.on_rung:
                self.on_rung(r)
        return LadderResult(self.python, results, time.monotonic() - t0, gpu_present, device)

    # -- rungs --
    def run_rung(self, rung: Rung) -> RungResult:
        fn = {"nvml": self._nvml, "cuda-driver": self._cuda_driver, "tf-cuda-libs": self._tf_cuda_libs}.get(rung.id)
        t0 = time.monotonic()
        try:
            r = fn(rung) if fn else self._tf_rung(rung)
        except Exception as e:  # a bug in tfhelp must read as "not verified", never as a pass
            r = RungResult(rung.id, rung.title, rung.kind, FAILED, f"tfhelp could not run this rung: "
                           f"{type(e).__name__}: {e}")
        if not r.seconds:
            r.seconds = time.monotonic() - t0
        if r.status == FAILED and self.diagnose_failures and r.diagnoses is None:
            text = r.output or r.reason
            if r.signal:
                text += "\n" + shell_signal_line(r.signal)
            from tfhelp.assistant.environment.doctor import diagnose_text
            r.diagnoses = diagnose_text(text, self.base)
        return r

    def _sub_failure(self, rung: Rung, sub) -> RungResult:
        reason = {"timeout": f"no answer within {self._t(rung):g}s (killed)",
                  "crashed": f"the process died of {sub.signal}"}.get(sub.status, sub.error or sub.status)
        return RungResult(rung.id, rung.title, rung.kind, FAILED, reason, sub.seconds,
                          output=(sub.stderr_tail or sub.error or "")[-6000:], returncode=sub.returncode,
                          signal=sub.signal)

    def _nvml(self, rung: Rung) -> RungResult:
        sub = run_subprobe("nvml", self.self_python, self._t(rung), env=self.env)
        if not sub.ok:
            return self._sub_failure(rung, sub)
        d = sub.data
        gpus = d.get("gpus") or []
        if d.get("error") or not gpus:
            pci = (self.base.data("basic").get("pci_nvidia") if self.base else None) or []
            if pci:
                why = (f"an NVIDIA GPU is on the PCI bus ({pci[0]}) but the NVIDIA driver does not answer: "
                       f"{d.get('error') or 'no GPUs listed'}")
            else:
                why = ("no NVIDIA driver/GPU on this machine" +
                       (f" ({d['error']})" if d.get("error") else " (NVML lists no GPUs)"))
            return RungResult(rung.id, rung.title, rung.kind, FAILED, why, sub.seconds,
                              output=d.get("error") or "", details=d)
        names = ", ".join(f"{g.get('name')} (CC {g.get('compute_capability')})" for g in gpus)
        return RungResult(rung.id, rung.title, rung.kind, PASSED,
                          f"driver {d.get('driver_version')}, {len(gpus)} GPU: {names}", sub.seconds, details=d)

    def _cuda_driver(self, rung: Rung) -> RungResult:
        sub = run_subprobe("cuinit", self.python, self._t(rung), env=self.env)
        if not sub.ok:
            return self._sub_failure(rung, sub)
        d = sub.data
        if not d.get("library_found"):
            return RungResult(rung.id, rung.title, rung.kind, FAILED, f"libcuda cannot be loaded: {d.get('error')}",
                              sub.seconds, output=d.get("error") or "", details=d)
        if d.get("cuInit") != 0:
            from tfhelp.assistant.environment.doctor import CU_ERRORS
            name = d.get("cuInit_error") or CU_ERRORS.get(d.get("cuInit"), (f"error {d.get('cuInit')}",))[0]
            return RungResult(rung.id, rung.title, rung.kind, FAILED, f"cuInit(0) returned {d.get('cuInit')} ({name})",
                              sub.seconds, output=f"failed call to cuInit: {name}", details=d)
        if not d.get("device_count"):
            return RungResult(rung.id, rung.title, rung.kind, FAILED, "cuInit succeeded but CUDA sees 0 devices",
                              sub.seconds, details=d)
        return RungResult(rung.id, rung.title, rung.kind, PASSED,
                          f"driver CUDA {d.get('driver_cuda_version')}, {d.get('device_count')} device(s)",
                          sub.seconds, details=d)

    def _tf_cuda_libs(self, rung: Rung) -> RungResult:
        base = self.base
        if base is None or not base.tf_distributions:
            why = "TensorFlow is not installed in the target interpreter"
            return RungResult(rung.id, rung.title, rung.kind, FAILED, why,
                              output="ModuleNotFoundError: No module named 'tensorflow'")
        tb = base.tf_build
        if not tb.get("raw"):
            return RungResult(rung.id, rung.title, rung.kind, FAILED,
                              "TensorFlow's build_info.py could not be read, so the CUDA version it needs is unknown")
        if not tb.get("is_cuda_build"):
            return RungResult(rung.id, rung.title, rung.kind, FAILED,
                              f"{base.tf_distributions[0]} {base.tf_version} is a CPU-only build (is_cuda_build False)",
                              details={"build": {k: v for k, v in tb.items() if k != "raw"}},
                              diagnoses=[{"id": "tf-cpu-only-build", "title": "Installed TensorFlow Is a CPU-Only Build",
                                          "summary": "this TensorFlow was built without CUDA and can never use a GPU"}])
        sub = run_subprobe("cudalibs", self.python, self._t(rung), env=self.env)
        if not sub.ok:
            return self._sub_failure(rung, sub)
        libs = ProbeResult(self.python, {"cudalibs": sub}).cuda_libraries
        need = {"cudart": (tb.get("cuda_version") or "").split(".")[0],
                "cublas": (tb.get("cuda_version") or "").split(".")[0],
                "cudnn": (tb.get("cudnn_version") or "").split(".")[0]}
        missing, found = [], []
        from tfhelp.assistant.environment.doctor import _soname_major
        for fam, major in need.items():
            copies = (libs.get(fam) or {}).get("copies") or []
            majors = {(c.get("version") or "").split(".")[0] or _soname_major(c.get("name")) for c in copies}
            majors |= {_soname_major(c.get("name")) for c in copies}
            if major and major in majors:
                ver = next((c.get("version") for c in copies if (c.get("version") or "").startswith(major)), major)
                found.append(f"{fam} {ver}")
            else:
                have = sorted(x for x in majors if x)
                missing.append(f"{fam} {major or '?'}" + (f" (found {', '.join(have)})" if have else ""))
        details = {"needed": need, "libraries": libs}
        if missing:
            # phrase the output the way TensorFlow's loader does, so the rules can name the cause
            out_lines = []
            for m in missing:
                fam = m.split()[0]
                soname = {"cudart": "libcudart.so", "cublas": "libcublas.so", "cudnn": "libcudnn.so"}[fam]
                out_lines.append(f"Could not load dynamic library '{soname}.{need[fam]}'; dlerror: "
                                 f"{soname}.{need[fam]}: cannot open shared object file: No such file or directory")
            return RungResult(rung.id, rung.title, rung.kind, FAILED, "cannot load: " + "; ".join(missing),
                              sub.seconds, output="\n".join(out_lines), details=details)
        return RungResult(rung.id, rung.title, rung.kind, PASSED, ", ".join(found), sub.seconds, details=details)

    def _tf_rung(self, rung: Rung) -> RungResult:
        from tempfile import gettempdir
        oc = run_process([self.python, "-c", TF_SCRIPTS[rung.id]], timeout=self._t(rung), cwd=gettempdir(),
                         env=self.env)
        output = _clean_output(oc.stdout, oc.stderr)
        payload = parse_marker(oc.stdout) or {}
        if oc.timed_out:
            extra = (" (a first GPU run can spend a long time JIT-compiling kernels for a GPU newer than the "
                     "wheel's architectures)") if rung.kind == "gpu" else ""
            return RungResult(rung.id, rung.title, rung.kind, FAILED,
                              f"no answer within {self._t(rung):g}s (killed){extra}", oc.seconds, output=output,
                              details=payload)
        sig = crash_signal(oc.returncode)
        if sig:
            return RungResult(rung.id, rung.title, rung.kind, FAILED, f"the process died of {sig}", oc.seconds,
                              output=output, returncode=oc.returncode, signal=sig, details=payload)
        if oc.returncode != 0 or not payload:
            last = (output.strip().splitlines() or ["(no output)"])[-1]
            why = payload.get("error") or last
            if rung.id == "gpu-list" and payload and not payload.get("gpus"):
                why = "tf.config.list_physical_devices('GPU') returned []"
            elif payload and payload.get("close") is False:
                why = f"result differs from the reference (max abs diff {payload.get('max_abs_diff')})"
            elif payload and rung.kind == "gpu" and payload.get("on_gpu") is False:
                why = f"the op ran on {payload.get('device')}, not on /GPU:0"
            return RungResult(rung.id, rung.title, rung.kind, FAILED, why, oc.seconds, output=output,
                              returncode=oc.returncode, details=payload)
        summary = {
            "import-tf": lambda p: f"TensorFlow {p.get('tf_version')} imported in {p.get('import_seconds')}s",
            "gpu-list": lambda p: ", ".join(p.get("gpus") or []),
            "gpu-matmul": lambda p: f"on {p.get('device')}, max abs diff {p.get('max_abs_diff'):.2g}, "
                                    f"{p.get('op_seconds')}s",
            "gpu-conv": lambda p: f"on {p.get('device')}, max abs diff {p.get('max_abs_diff'):.2g}, "
                                  f"{p.get('op_seconds')}s",
            "cpu-matmul": lambda p: f"on {p.get('device')}, max abs diff {p.get('max_abs_diff'):.2g}, "
                                    f"{p.get('op_seconds')}s",
        }[rung.id](payload)
        return RungResult(rung.id, rung.title, rung.kind, PASSED, summary, oc.seconds, output=output,
                          returncode=oc.returncode, details=payload)


def run_ladder(target_python: Optional[str] = None, timeout: Optional[float] = None, diagnose: bool = True,
               on_rung=None) -> LadderResult:
    from tfhelp.assistant.environment.probe import resolve_target_python
    return Ladder(resolve_target_python(target_python), timeout=timeout, diagnose=diagnose,
                  on_rung=on_rung).run()


def ladder_json(result: LadderResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str)
