"""Version planner behind ``tfhelp plan``: from the machine to a working set of versions.

Given the OS, the Python version, the NVIDIA driver and the GPU's compute capability (any of them
may be unknown), :func:`make_plan` picks the newest TensorFlow that can work, the Keras / tf-keras,
NumPy and protobuf ranges that go with it, the CUDA / cuDNN route (pip ``tensorflow[and-cuda]``,
conda, native Windows 2.10, WSL2 or CPU-only), the exact install commands as argv lists for the
target interpreter, and every constraint that decided it, each with its reason and source.

All knowledge comes from :mod:`tfhelp.kb.compat` (``kb/data/compat.yaml``); this module only
reasons over it. Nothing here imports TensorFlow, rich, or runs a process.

Why one module of ~630 lines: it is one decision procedure (route -> versions -> commands) whose
steps append to one shared list of constraints and reasons; split up, that chain of reasoning
would have to be read across files.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from tfhelp.kb import compat

PLAN_SCHEMA = 1

ROUTES = ("pip-and-cuda", "conda-cudatoolkit", "windows-native-conda", "wsl2", "cpu", "macos-cpu", "none")

TESTED_BUILDS_URL = "https://www.tensorflow.org/install/source#tested_build_configurations"
TESTED_BUILDS_WIN_URL = "https://www.tensorflow.org/install/source_windows#tested_build_configurations"
PIP_DOCS_URL = "https://www.tensorflow.org/install/pip"
NVIDIA_COMPAT_URL = "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
NVIDIA_DRIVER_TABLE_URL = "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#cuda-driver"

VERIFY_GPU = "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"
VERIFY_CPU = "import tensorflow as tf; print(tf.reduce_sum(tf.random.normal([1000, 1000])))"


@dataclass
class Constraint:
    what: str  # short name: python, driver, compute-capability, os, numpy, keras, protobuf, ...
    reason: str  # one sentence: the fact and what it decided
    source: str  # URL or artefact the fact comes from
    decisive: bool = False  # True when this constraint changed the choice (ruled something out)


@dataclass
class Command:
    argv: list  # exact argv; the first element is the interpreter / tool
    why: str
    where: str = "target"  # target | conda | wsl | shell


@dataclass
class Route:
    route: str
    summary: str
    tensorflow: Optional[str] = None  # "2.20"
    gpu: bool = False
    commands: list = field(default_factory=list)  # [Command]
    notes: list = field(default_factory=list)


@dataclass
class Plan:
    inputs: dict  # os, python, driver, compute_capability, gpu, interpreter + where each came from
    ok: bool  # False when no TensorFlow release fits the Python at all
    route: str  # one of ROUTES
    gpu: bool  # does the recommended route use the GPU
    tensorflow: Optional[str] = None  # "2.20" (minor; install picks the newest patch)
    tf_dist: Optional[str] = None  # tensorflow | tensorflow-cpu
    tf_requirement: Optional[str] = None  # "tensorflow[and-cuda]==2.20.*"
    python_supported: list = field(default_factory=list)  # Python X.Y the chosen TF lists
    keras: Optional[str] = None  # specifier for `keras`
    tf_keras: Optional[str] = None  # specifier for `tf-keras` (Keras 2 on TF >= 2.16)
    numpy: Optional[str] = None
    protobuf: Optional[str] = None
    cuda: Optional[str] = None  # what the chosen TF was built and tested with
    cudnn: Optional[str] = None
    cuda_wheels: Optional[dict] = None  # and-cuda pins
    min_driver: Optional[str] = None
    min_compute_capability: Optional[str] = None
    cpu_reason: Optional[str] = None  # why no GPU build can work, when the route is CPU
    commands: list = field(default_factory=list)  # [Command]
    constraints: list = field(default_factory=list)  # [Constraint]
    notes: list = field(default_factory=list)
    alternatives: list = field(default_factory=list)  # [Route]

    def to_json(self) -> dict:
        d = asdict(self)
        d["schema"] = PLAN_SCHEMA
        return d


# --------------------------------------------------------------------------------------- helpers
def _minor(v) -> Optional[str]:
    mm = compat._minor(v)
    return f"{mm[0]}.{mm[1]}" if mm else None


def _tuple(v) -> tuple:
    mm = compat._minor(v)
    return mm if mm else (0, 0)


def _tested_url(os_name: str) -> str:
    return TESTED_BUILDS_WIN_URL if os_name == "windows" else TESTED_BUILDS_URL


def _pip(py: str, *packages: str) -> list:
    return [py, "-m", "pip", "install", *packages]


def _numpy_extra(tf: str, python: Optional[str]) -> tuple:
    """(requirement or None, reason): pin numpy<2 where the wheel allows NumPy 2 but TF < 2.18 was
    built against NumPy 1 (2.7 - 2.11 and 2.14.0 have no upper bound)."""
    tf = compat.latest_release(tf) or tf
    spec = compat.numpy_spec_for_tf(tf, python)
    if compat.numpy2_supported(tf) or spec is None:
        return None, None
    from packaging.specifiers import SpecifierSet

    if SpecifierSet(spec).contains("2.0.0"):
        return "numpy<2", (f"TF {tf}'s wheel accepts NumPy {spec or 'any'} but was compiled against NumPy 1.x; "
                           "NumPy 2 would fail at import, so pin numpy<2")
    return None, None


def _cc_floor_overall() -> Optional[str]:
    floors = [r["min_cc"] for r in compat.data().get("compute_capability", [])]
    return min(floors, key=lambda s: compat._v(s)) if floors else None


def _event_source(event_id: str, default: str = PIP_DOCS_URL) -> str:
    e = compat.event(event_id)
    return e["source"] if e else default


# ------------------------------------------------------------------------------------- the plan
def make_plan(os_name: Optional[str] = "linux", python: Optional[str] = None, driver: Optional[str] = None,
              compute_capability: Optional[str] = None, gpu: Optional[bool] = None,
              interpreter: str = "python", input_sources: Optional[dict] = None) -> Plan:
    """Recommend a working TensorFlow set for this machine. See the module docstring."""
    os_name = compat._norm_os(os_name)
    if os_name not in compat.OSES:
        raise ValueError(f"unknown OS {os_name!r}; expected one of {', '.join(compat.OSES)}")
    py = _minor(python) if python else None
    gpu_known = driver is not None or compute_capability is not None
    want_gpu = gpu if gpu is not None else gpu_known
    inputs = {"os": os_name, "python": py, "driver": driver, "compute_capability": compute_capability,
              "gpu": want_gpu, "interpreter": interpreter, "sources": dict(input_sources or {})}
    constraints: list = []
    notes: list = []

    if py is None:
        raise ValueError("the Python version is needed (give --python-version or a --python interpreter)")
    if driver is not None and compat._drv(driver) is None:
        raise ValueError(f"not an NVIDIA driver version: {driver!r} (expected e.g. 535.54.03)")
    if compute_capability is not None and compat._minor(compute_capability) is None:
        raise ValueError(f"not a compute capability: {compute_capability!r} (expected e.g. 8.6)")

    # 1. Python decides the TF releases in play.
    table_os = "linux" if os_name == "wsl" else os_name
    candidates = compat.tf_versions_for_python(py, table_os)
    if not candidates:
        latest = compat.latest_tf()
        supported = compat.python_versions_for_tf(latest, table_os)
        constraints.append(Constraint(
            "python", f"No TensorFlow release lists Python {py} in its tested builds; the newest, TF {latest}, "
            f"supports Python {supported[0]}-{supported[-1]}.", _tested_url(table_os), True))
        notes.append(f"Create an environment with Python {supported[-1]} (or any of {', '.join(supported)}) "
                     "and run tfhelp plan against it.")
        return Plan(inputs=inputs, ok=False, route="none", gpu=False, constraints=constraints, notes=notes,
                    cpu_reason=None)
    newest = candidates[-1]
    constraints.append(Constraint(
        "python", f"Python {py} is listed for TF {candidates[0]} to {newest} on {table_os}.",
        _tested_url(table_os), newest != compat.latest_tf()))
    if newest != compat.latest_tf():
        minors = compat.tf_minors()
        dropped = minors[minors.index(newest) + 1]
        constraints[-1].reason += (f" TF {dropped} dropped it, so {newest} is the newest release "
                                   "this Python can get.")

    # 2. GPU route selection.
    if not want_gpu:
        plan = _cpu_plan(newest, os_name, py, interpreter, inputs, constraints, notes, reason=None)
        if os_name == "macos":
            plan.route = "macos-cpu"
            _intel_mac_note(plan, newest, py, interpreter)
            if gpu is None:
                _metal_route(plan, py, interpreter)
        if gpu is None and not gpu_known:
            plan.notes.append("No GPU information given (use --driver / --compute-capability, or --gpu): "
                              "planned for CPU.")
        return plan

    if os_name == "macos":
        src = compat.data().get("macos", [{}])[0].get("source", PIP_DOCS_URL + "#macos")
        constraints.append(Constraint("os", "TensorFlow has no official GPU (CUDA) build for macOS.", src, True))
        plan = _cpu_plan(newest, os_name, py, interpreter, inputs, constraints, notes,
                         reason="No CUDA build of TensorFlow exists for macOS.")
        plan.route = "macos-cpu"
        _intel_mac_note(plan, newest, py, interpreter)
        if metal_pair(py) is not None:
            plan.notes.append("On Apple silicon, Apple's tensorflow-metal plugin can use the GPU "
                              "(https://developer.apple.com/metal/tensorflow-plugin/); it is not part of TensorFlow: "
                              "the first alternative below is the pair to install.")
        _metal_route(plan, py, interpreter)
        return plan

    if os_name == "windows":
        return _windows_plan(candidates, py, driver, compute_capability, interpreter, inputs, constraints, notes)

    choice, rejected = _pick_gpu_release(candidates, os_name, driver, compute_capability, constraints)
    if choice is None:
        reason = _no_gpu_reason(rejected, candidates, py, os_name, driver, compute_capability)
        plan = _cpu_plan(newest, os_name, py, interpreter, inputs, constraints, notes, reason=reason)
        return plan
    return _linux_gpu_plan(choice, os_name, py, driver, compute_capability, interpreter, inputs, constraints,
                           notes)


#: Apple's tensorflow-metal GPU plugin, newest first: (TensorFlow minors, plugin version, macOS
#: minimum, Python X.Y with arm64 wheels). From the table in the wheels' METADATA (the PyPI page):
#: tensorflow-metal 1.1.0 lists TF 2.14 and 1.2.0 adds "Fixes compatibility with 2.18+"; TF 2.18
#: with 1.1.0 fails to load the plugin (tensorflow#84167, #81987). Wheels checked with
#: `pip download tensorflow-metal==V --platform macosx_12_0_arm64 --python-version X.Y`: 1.2.0 has
#: cp39-cp312 (none for 3.13), 1.1.0 cp39-cp311.
METAL_PAIRS = (
    (("2.18",), "1.2.0", "12.1", ("3.9", "3.10", "3.11", "3.12")),
    (("2.14", "2.15", "2.16", "2.17"), "1.1.0", "12.1", ("3.9", "3.10", "3.11")),
    (("2.13",), "1.0.0", "12.1", ("3.8", "3.9", "3.10", "3.11")),
)
METAL_SOURCES = ("https://pypi.org/project/tensorflow-metal/ (table in the 1.1.0 and 1.2.0 wheel METADATA) ; "
                 "https://developer.apple.com/metal/tensorflow-plugin/ ; "
                 "https://github.com/tensorflow/tensorflow/issues/84167")


def metal_pair(py: str) -> Optional[tuple]:
    """(tensorflow minor, tensorflow-metal version, macOS minimum) newest first for Python ``py``."""
    for tfs, metal, macos_min, pythons in METAL_PAIRS:
        if py in pythons:
            tf = next((t for t in reversed(tfs) if py in compat.python_versions_for_tf(t, "macos")), None)
            if tf:
                return tf, metal, macos_min
    return None


def _metal_route(plan: Plan, py: str, py_exe: str) -> None:
    """The Apple-silicon GPU alternative: a TensorFlow / tensorflow-metal pair from Apple's table."""
    pair = metal_pair(py)
    if pair is None:
        plan.notes.append(f"No tensorflow-metal wheel exists for Python {py} (tensorflow-metal 1.2.0 has wheels "
                          "for Python 3.9-3.12): use the CPU, or an environment with Python 3.12 for the Mac GPU.")
        plan.constraints.append(Constraint("gpu", f"tensorflow-metal publishes no wheel for Python {py}.",
                                           METAL_SOURCES, False))
        return
    tf, metal, macos_min = pair
    plan.alternatives.insert(0, Route(
        "cpu", f"Apple silicon GPU: TensorFlow {tf} with Apple's tensorflow-metal {metal} plugin "
               f"(macOS {macos_min}+)", tf, True,
        [Command(_pip(py_exe, f"tensorflow=={tf}.*", f"tensorflow-metal=={metal}"),
                 "TensorFlow and the matching Metal plugin"),
         Command([py_exe, "-c", VERIFY_GPU], "verify: the Mac GPU is listed")],
        [f"tensorflow-metal declares no TensorFlow version: keep tensorflow at {tf}.* (a newer TensorFlow "
         "fails to load the plugin with 'Symbol not found').", "Source: " + METAL_SOURCES]))
    plan.constraints.append(Constraint(
        "gpu", f"On Apple silicon the GPU needs the tensorflow-metal plugin: {metal} is the release listed for "
               f"TensorFlow {tf} with Python {py}.", METAL_SOURCES, False))


def _intel_mac_note(plan: Plan, tf: str, py: str, py_exe: str) -> None:
    """macOS wheels after 2.16 are arm64 only: an Intel Mac stops at 2.16."""
    e = compat.event("macos-x86-last")
    if not e or not compat._in_spec(tf, ">2.16.99"):
        return
    if py in compat.python_versions_for_tf("2.16", "macos"):
        plan.alternatives.append(Route("cpu", "Intel (x86_64) Mac: TensorFlow 2.16 is the last release with x86 "
                                       "macOS wheels.", "2.16", False,
                                       [Command(_pip(py_exe, "tensorflow==2.16.*"), "last Intel-Mac release")]))
    plan.constraints.append(Constraint("os", e["fact"], e["source"], False))


def _pick_gpu_release(candidates, os_name, driver, cc, constraints):
    """Newest candidate whose CUDA the driver runs and whose wheels cover the GPU's CC."""
    rejected = []  # (tf, kind, need)
    for tf in reversed(candidates):
        build = compat.cuda_cudnn_for_tf(tf, "linux")
        if build is None:
            rejected.append((tf, "no-gpu-build", None))
            continue
        if driver is not None:
            ok = compat.driver_supports_cuda(driver, build["cuda"], os_name)
            if ok is False:
                rejected.append((tf, "driver", compat.min_driver_for_cuda(build["cuda"], os_name)))
                continue
        if cc is not None:
            ok = compat.compute_capability_ok(tf, cc)
            if ok is False:
                rejected.append((tf, "cc", compat.min_compute_capability(tf)))
                continue
        _explain_rejections(rejected, os_name, driver, cc, constraints, chosen=tf)
        return tf, rejected
    _explain_rejections(rejected, os_name, driver, cc, constraints, chosen=None)
    return None, rejected


def _explain_rejections(rejected, os_name, driver, cc, constraints, chosen):
    """One constraint per reason, naming the newest release it ruled out."""
    by_kind = {}
    for tf, kind, need in rejected:
        by_kind.setdefault(kind, []).append((tf, need))
    if "driver" in by_kind:
        tfs = by_kind["driver"]
        newest_tf, need = tfs[0]
        build = compat.cuda_cudnn_for_tf(newest_tf, "linux")
        col = "Windows (WSL2)" if os_name == "wsl" else "Linux"
        constraints.append(Constraint(
            "driver", f"Driver {driver} is older than {need}, the {col} minimum for CUDA {build['cuda']} "
            f"(TF {newest_tf}); it rules out TF {tfs[-1][0]}-{newest_tf}.",
            f"{NVIDIA_COMPAT_URL} ; {PIP_DOCS_URL}#software_requirements", True))
    if "cc" in by_kind:
        tfs = by_kind["cc"]
        newest_tf, need = tfs[0]
        constraints.append(Constraint(
            "compute-capability", f"GPU compute capability {cc} is below {need}, the lowest the TF {newest_tf} "
            f"wheels support; it rules out TF {tfs[-1][0]}-{newest_tf}.",
            _cc_source(newest_tf), True))
    if chosen is not None:
        build = compat.cuda_cudnn_for_tf(chosen, "linux")
        if driver is not None:
            need = compat.min_driver_for_cuda(build["cuda"], os_name)
            full = compat.toolkit_min_driver(build["cuda"], os_name)
            text = f"Driver {driver} runs CUDA {build['cuda']} programs (needs {need} or newer)"
            if full and not compat._drv_ge(driver, full):
                text += (f" through CUDA minor-version compatibility; the CUDA {build['cuda']} toolkit's own "
                         f"driver is {full}")
            constraints.append(Constraint("driver", text + ".", NVIDIA_COMPAT_URL, False))
        if cc is not None:
            constraints.append(Constraint(
                "compute-capability", f"Compute capability {cc} meets TF {chosen}'s floor of "
                f"{compat.min_compute_capability(chosen)}.", _cc_source(chosen), False))


def _ptx_check(plan: Plan, tf, cc, driver, os_name, build) -> None:
    """A GPU without SASS in the wheel runs TF's kernels by JIT-compiling PTX, which minor-version
    compatibility does not allow: then the driver must be at least the toolkit's own driver."""
    if cc is None or compat.sass_covers(tf, cc) is not False:
        return
    full = compat.toolkit_min_driver(build["cuda"], os_name)
    text = (f"TF {tf} wheels carry no machine code for compute capability {cc}; its kernels are JIT-compiled "
            "from PTX at first use (slow first start).")
    decisive = False
    if driver is not None and full and not compat._drv_ge(driver, full):
        text += (f" PTX JIT is not covered by CUDA minor-version compatibility: driver {driver} is older than "
                 f"{full} (CUDA {build['cuda']}'s own driver), so upgrade the driver to at least {full}.")
        decisive = True
        plan.notes.append(f"Upgrade the NVIDIA driver to {full} or newer before installing: the GPU needs PTX JIT.")
    plan.constraints.append(Constraint("compute-capability", text, f"{_cc_source(tf)} ; {NVIDIA_COMPAT_URL}",
                                       decisive))


def _cc_source(tf) -> str:
    r = compat._cc_row(tf)
    return r["source"] if r else PIP_DOCS_URL + "#hardware_requirements"


def _no_gpu_reason(rejected, candidates, py, os_name, driver, cc) -> str:
    kinds = {k for _, k, _ in rejected}
    parts = []
    if cc is not None:
        floor = _cc_floor_overall()
        if floor and compat._v(cc) is not None and compat._v(cc) < compat._v(floor):
            return (f"GPU compute capability {cc} is below {floor}, the lowest any official TensorFlow GPU "
                    "wheel supports.")
    if "driver" in kinds:
        oldest = candidates[0]
        build = compat.cuda_cudnn_for_tf(oldest, "linux")
        parts.append(f"driver {driver} is too old for CUDA {build['cuda']}, the oldest CUDA used by a TF release "
                     f"that supports Python {py} (TF {oldest} needs driver "
                     f"{compat.min_driver_for_cuda(build['cuda'], os_name)} or newer)")
    if "cc" in kinds:
        parts.append(f"compute capability {cc} is below the floor of every TF release that fits the driver "
                     "and Python")
    if not parts:
        parts.append("no TF release with a GPU build fits this Python")
    return "No GPU build can work: " + "; ".join(parts) + "."


def _common_specs(plan: Plan, tf: str, py: str, dist: str = "tensorflow") -> None:
    """NumPy / protobuf / Keras for the newest patch of ``tf`` (what ``==X.Y.*`` installs)."""
    tf_minor = tf
    tf = compat.latest_release(tf_minor, dist) or compat.latest_release(tf_minor) or tf_minor
    plan.python_supported = compat.python_versions_for_tf(tf, "linux" if plan.inputs["os"] == "wsl"
                                                          else plan.inputs["os"])
    plan.numpy = compat.numpy_spec_for_tf(tf, py, dist)
    plan.protobuf = compat.protobuf_spec_for_tf(tf, py, dist)
    plan.keras = compat.keras_spec_for_tf(tf, dist)
    plan.tf_keras = compat.tf_keras_spec_for_tf(tf) if compat._in_spec(tf, ">=2.16") else None
    wheel = compat.wheel_row(tf, dist)
    src = wheel["source"] if wheel else "kb/data/compat.yaml older_requirements"
    np_extra, np_reason = _numpy_extra(tf, py)
    if plan.numpy:
        reason = f"TF {tf} declares numpy{plan.numpy}"
        if compat.numpy2_supported(tf):
            reason += "; it is built against NumPy 2 (TF 2.18+), so NumPy 1.26 or 2.x both work within that range."
        else:
            reason += "; TF releases before 2.18 were compiled against NumPy 1.x and need numpy<2."
        constraints = plan.constraints
        constraints.append(Constraint("numpy", reason, src, False))
        if np_extra:
            constraints.append(Constraint("numpy", np_reason, _event_source("numpy2"), True))
    if plan.keras:
        if compat._in_spec(tf, ">=2.16"):
            r = (f"TF {tf} uses Keras 3 (keras{plan.keras}); code written for Keras 2 / tf.keras can use "
                 f"tf-keras{plan.tf_keras or ''} with TF_USE_LEGACY_KERAS=1.")
            s = f"{src} ; {_event_source('keras3-default')}"
        else:
            r = f"TF {tf} pairs with keras{plan.keras} (Keras 2 of the same minor version)."
            s = src
        plan.constraints.append(Constraint("keras", r, s, False))
    if plan.protobuf:
        plan.constraints.append(Constraint("protobuf", f"TF {tf} declares protobuf{plan.protobuf}.", src, False))
    for ev in ("glibc-2.27",):
        e = compat.event(ev)
        if e and compat._in_spec(tf, e["tf"]) and plan.inputs["os"] in ("linux", "wsl"):
            plan.constraints.append(Constraint("os", e["fact"], e["source"], False))


def _keras2_alternative(plan: Plan, tf: str, py_exe: str, dist_req: str) -> None:
    if plan.tf_keras and compat._in_spec(tf, ">=2.16"):
        plan.alternatives.append(Route(
            route="keras2-legacy", tensorflow=tf, gpu=plan.gpu,
            summary=f"Keep Keras 2 code: add tf-keras{plan.tf_keras} and set TF_USE_LEGACY_KERAS=1 before "
                    "TensorFlow is imported.",
            commands=[Command(_pip(py_exe, dist_req, f"tf-keras{plan.tf_keras}"),
                              "tf-keras of the same minor as TensorFlow")],
            notes=["Set TF_USE_LEGACY_KERAS=1 in the environment (or os.environ before importing tensorflow)."]))


def _cpu_plan(tf, os_name, py, py_exe, inputs, constraints, notes, reason: Optional[str]) -> Plan:
    # tensorflow-cpu is the docs' CPU-only package on Linux; macOS only has `tensorflow`, and on native
    # Windows `tensorflow` is itself CPU-only from 2.11 (the docs' Windows CPU command installs it).
    dist = "tensorflow-cpu" if compat.wheel_row(tf, "tensorflow-cpu") else "tensorflow"
    if os_name == "macos" or (os_name == "windows" and not compat.windows_native_gpu(tf)):
        dist = "tensorflow"
    req = f"{dist}=={tf}.*"
    plan = Plan(inputs=inputs, ok=True, route="cpu", gpu=False, tensorflow=tf, tf_dist=dist, tf_requirement=req,
                cpu_reason=reason, constraints=constraints, notes=notes)
    _common_specs(plan, tf, py, dist if dist != "tensorflow-cpu" else "tensorflow-cpu")
    np_extra, _ = _numpy_extra(tf, py)
    pkgs = [req] + ([np_extra] if np_extra else [])
    plan.commands = [Command(_pip(py_exe, *pkgs), f"TensorFlow {tf} for CPU"
                             + (" with NumPy 1.x" if np_extra else "")),
                     Command([py_exe, "-c", VERIFY_CPU], "verify: a small computation runs")]
    cpu_req = compat.cpu_requirements(tf)
    if cpu_req and os_name != "macos":
        constraints.append(Constraint("cpu", f"The x86 wheels need a CPU with {', '.join(x.upper() for x in cpu_req)}; "
                                      "without it import aborts with 'Illegal instruction'.",
                                      _event_source("avx-baseline"), False))
    _keras2_alternative(plan, tf, py_exe, req)
    return plan


def _install_commands(tf: str, route: dict, py_exe: str, np_extra: Optional[str]) -> tuple:
    """(requirement, [Command]) for a Linux/WSL GPU route."""
    extra = [np_extra] if np_extra else []
    if route["route"] == "pip-and-cuda":
        req = f"tensorflow[and-cuda]=={tf}.*"
        return req, [Command(_pip(py_exe, req, *extra), "TensorFlow with NVIDIA's CUDA/cuDNN libraries as pip "
                             "wheels; only the driver comes from the system")]
    req = f"tensorflow=={tf}.*"
    conda_pkgs = list(route.get("conda") or [])
    build = compat.cuda_cudnn_for_tf(tf, "linux")
    if not conda_pkgs:
        conda_pkgs = [f"cudatoolkit={build['cuda']}", f"cudnn={build['cudnn']}"]
    cmds = [Command(["conda", "install", "-c", "conda-forge", *conda_pkgs],
                    f"CUDA {build['cuda']} runtime libraries in the active conda environment", where="conda"),
            Command(_pip(py_exe, *(route.get("pip") or []), req, *extra),
                    "TensorFlow (and cuDNN as a pip wheel where the docs used one)")]
    return req, cmds


def _linux_gpu_plan(tf, os_name, py, driver, cc, py_exe, inputs, constraints, notes) -> Plan:
    build = compat.cuda_cudnn_for_tf(tf, "linux")
    route = compat.gpu_install_route(tf, os_name)
    if route is None:  # releases before 2.5: the same conda recipe with the tested CUDA/cuDNN
        route = {"route": "conda-cudatoolkit", "conda": None, "pip": None,
                 "source": _tested_url("linux")}
    np_extra, _ = _numpy_extra(tf, py)
    req, cmds = _install_commands(tf, route, py_exe, np_extra)
    plan = Plan(inputs=inputs, ok=True, route=route["route"], gpu=True, tensorflow=tf, tf_dist="tensorflow",
                tf_requirement=req, cuda=build["cuda"], cudnn=build["cudnn"], cuda_wheels=compat.and_cuda_pins(tf),
                min_driver=compat.min_driver_for_cuda(build["cuda"], os_name),
                min_compute_capability=compat.min_compute_capability(tf), constraints=constraints, notes=notes)
    constraints.append(Constraint(
        "cuda", f"TF {tf} was built and tested with CUDA {build['cuda']} and cuDNN {build['cudnn']}.",
        build["source"], False))
    if route["route"] == "pip-and-cuda":
        constraints.append(Constraint("route", "From TF 2.14 the docs install the CUDA libraries with "
                                      "pip install tensorflow[and-cuda].", route["source"], False))
    else:
        constraints.append(Constraint("route", f"TF {tf} predates tensorflow[and-cuda]; the docs of that era "
                                      "installed CUDA with conda.", route["source"], True))
        if route.get("note"):
            notes.append(route["note"])
    if os_name == "wsl":
        constraints.append(Constraint("os", "In WSL2 the NVIDIA driver is the Windows one (install no Linux "
                                      "driver inside WSL); GPU support needs Windows 10 19044 or newer.",
                                      PIP_DOCS_URL + "#windows-wsl2", False))
    if driver is None:
        notes.append(f"Driver unknown: this plan needs NVIDIA driver {plan.min_driver} or newer "
                     f"({'Windows' if os_name == 'wsl' else 'Linux'}). Check with nvidia-smi.")
    if cc is None:
        notes.append(f"GPU compute capability unknown: TF {tf} wheels need {plan.min_compute_capability} or higher.")
    _ptx_check(plan, tf, cc, driver, os_name, build)
    plan.commands = cmds + [Command([py_exe, "-c", VERIFY_GPU], "verify: TensorFlow lists the GPU")]
    _common_specs(plan, tf, py)
    _keras2_alternative(plan, tf, py_exe, req)
    # a CPU-only fallback is always an alternative
    cpu_dist = "tensorflow-cpu" if compat.wheel_row(tf, "tensorflow-cpu") else "tensorflow"
    plan.alternatives.append(Route("cpu", f"CPU only: {cpu_dist} {tf}" + (
        " (smaller download, no CUDA)." if cpu_dist == "tensorflow-cpu" else "."), tf, False,
                                   [Command(_pip(py_exe, f"{cpu_dist}=={tf}.*", *([np_extra] if np_extra else [])),
                                            "CPU-only TensorFlow")]))
    return plan


def _windows_plan(candidates, py, driver, cc, py_exe, inputs, constraints, notes) -> Plan:
    ev = compat.event("windows-native-gpu-ends")
    ev_src = ev["source"] if ev else PIP_DOCS_URL + "#windows-native"
    native = [tf for tf in candidates if compat.windows_native_gpu(tf) and compat.cuda_cudnn_for_tf(tf, "windows")]
    native_ok = []
    native_rejected = []
    for tf in reversed(native):
        build = compat.cuda_cudnn_for_tf(tf, "windows")
        if driver is not None and compat.driver_supports_cuda(driver, build["cuda"], "windows") is False:
            native_rejected.append((tf, "driver", compat.min_driver_for_cuda(build["cuda"], "windows")))
            continue
        if cc is not None and compat.compute_capability_ok(tf, cc) is False:
            native_rejected.append((tf, "cc", compat.min_compute_capability(tf)))
            continue
        native_ok.append(tf)
    constraints.append(Constraint("os", "TF 2.10 is the last release with GPU support on native Windows; newer "
                                  "releases use the GPU only under WSL2.", ev_src, True))
    newest = candidates[-1]
    # WSL2 alternative: Linux wheels, Windows driver.
    wsl_cands = compat.tf_versions_for_python(py, "linux")
    wsl_tf = None
    for tf in reversed(wsl_cands):
        build = compat.cuda_cudnn_for_tf(tf, "linux")
        if build is None:
            continue
        if driver is not None and compat.driver_supports_cuda(driver, build["cuda"], "wsl") is False:
            continue
        if cc is not None and compat.compute_capability_ok(tf, cc) is False:
            continue
        wsl_tf = tf
        break
    wsl_route = None
    if wsl_tf:
        r = compat.gpu_install_route(wsl_tf, "wsl") or {}
        req = f"tensorflow[and-cuda]=={wsl_tf}.*" if r.get("route") == "pip-and-cuda" else f"tensorflow=={wsl_tf}.*"
        np_extra, _ = _numpy_extra(wsl_tf, py)
        wsl_route = Route("wsl2", f"GPU under WSL2: TensorFlow {wsl_tf} with Linux wheels, using the Windows "
                          "NVIDIA driver (Windows 10 19044 or newer).", wsl_tf, True,
                          [Command(["python3", "-m", "pip", "install", req, *([np_extra] if np_extra else [])],
                                   "TensorFlow with NVIDIA's CUDA/cuDNN libraries as pip wheels", where="wsl"),
                           Command(["python3", "-c", VERIFY_GPU], "verify: TensorFlow lists the GPU", where="wsl")],
                          [f"Needs Windows driver {compat.min_driver_for_tf(wsl_tf, 'wsl')} or newer."])

    if native_ok:
        tf = native_ok[0]
        build = compat.cuda_cudnn_for_tf(tf, "windows")
        np_extra, _ = _numpy_extra(tf, py)
        req = "tensorflow<2.11" if tf == "2.10" else f"tensorflow=={tf}.*"
        plan = Plan(inputs=inputs, ok=True, route="windows-native-conda", gpu=True, tensorflow=tf,
                    tf_dist="tensorflow", tf_requirement=req, cuda=build["cuda"], cudnn=build["cudnn"],
                    min_driver=compat.min_driver_for_cuda(build["cuda"], "windows"),
                    min_compute_capability=compat.min_compute_capability(tf), constraints=constraints, notes=notes)
        r = compat.gpu_install_route(tf, "windows") or {}
        conda_pkgs = r.get("conda") or [f"cudatoolkit={build['cuda']}", f"cudnn={build['cudnn']}"]
        plan.commands = [Command(["conda", "install", "-c", "conda-forge", *conda_pkgs],
                                 f"CUDA {build['cuda']} / cuDNN {build['cudnn']} in the conda environment",
                                 where="conda"),
                         Command(_pip(py_exe, req, *([np_extra] if np_extra else [])),
                                 f"TensorFlow {tf}, the last native-Windows GPU release"),
                         Command([py_exe, "-c", VERIFY_GPU], "verify: TensorFlow lists the GPU")]
        constraints.append(Constraint("cuda", f"TF {tf} on Windows was built with CUDA {build['cuda']} and cuDNN "
                                      f"{build['cudnn']}.", build["source"], False))
        if tf != newest:
            constraints.append(Constraint("tensorflow", f"Native Windows GPU caps TensorFlow at {tf} although Python "
                                          f"{py} could run TF {newest} on the CPU or under WSL2.", ev_src, True))
        if driver is None:
            notes.append(f"Driver unknown: needs NVIDIA driver {plan.min_driver} or newer.")
        _common_specs(plan, tf, py)
        if wsl_route:
            plan.alternatives.append(wsl_route)
        cpu = _cpu_plan(newest, "windows", py, py_exe, dict(inputs), [], [], None)
        plan.alternatives.append(Route("cpu", f"Native Windows, CPU only: {cpu.tf_dist} {newest}.", newest, False,
                                       cpu.commands[:1]))
        return plan

    # No native GPU build fits: explain, then recommend WSL2 (GPU) when it works, else CPU.
    if not native:
        lo_py = compat.python_versions_for_tf("2.10", "windows")
        reason = (f"Native Windows GPU needs TF 2.10 or older, which supports Python "
                  f"{lo_py[0]}-{lo_py[-1]}; Python {py} is not among them.")
    else:
        kinds = {k: need for _, k, need in native_rejected}
        bits = []
        if "driver" in kinds:
            bits.append(f"driver {driver} is older than {kinds['driver']} needed for CUDA 11.2 (TF 2.10)")
        if "cc" in kinds:
            bits.append(f"compute capability {cc} is below TF 2.10's floor of {kinds['cc']}")
        reason = "Native Windows GPU (TF 2.10 or older) cannot work: " + "; ".join(bits) + "."
    constraints.append(Constraint("os", reason, ev_src, True))
    if wsl_route:
        tf = wsl_tf
        build = compat.cuda_cudnn_for_tf(tf, "linux")
        plan = Plan(inputs=inputs, ok=True, route="wsl2", gpu=True, tensorflow=tf, tf_dist="tensorflow",
                    tf_requirement=wsl_route.commands[0].argv[4], cuda=build["cuda"], cudnn=build["cudnn"],
                    cuda_wheels=compat.and_cuda_pins(tf), min_driver=compat.min_driver_for_tf(tf, "wsl"),
                    min_compute_capability=compat.min_compute_capability(tf), constraints=constraints, notes=notes,
                    cpu_reason=None)
        plan.commands = list(wsl_route.commands)
        notes.append("These commands run inside WSL2 (Ubuntu or another distribution), not in Windows' Python.")
        notes.extend(wsl_route.notes)
        constraints.append(Constraint("cuda", f"TF {tf} (Linux wheels) was built with CUDA {build['cuda']} and "
                                      f"cuDNN {build['cudnn']}.", build["source"], False))
        inputs_wsl = dict(inputs)
        _common_specs(plan, tf, py)
        cpu = _cpu_plan(newest, "windows", py, py_exe, inputs_wsl, [], [], reason)
        plan.alternatives.append(Route("cpu", f"Native Windows, CPU only: {cpu.tf_dist} {newest}.", newest, False,
                                       cpu.commands[:1]))
        return plan
    plan = _cpu_plan(newest, "windows", py, py_exe, inputs, constraints, notes, reason=reason + (
        " WSL2 does not help either with this driver / GPU." if (driver or cc) else ""))
    return plan
