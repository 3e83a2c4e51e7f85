"""Runs INSIDE the target interpreter: ``python probe_target.py <probe> [args...]``.

Standard library only, syntax valid on Python 3.6+, never imports tensorflow or keras except in the
``tfimport`` probe (which tfhelp only runs when asked, in its own subprocess). Each probe prints one
JSON object on a line starting with ``@@TFHELP@@`` so that anything else the interpreter prints
(sitecustomize chatter, library logs) cannot corrupt the result.

Probes:
  basic     OS, WSL, container, Python version and bitness, env kind, env vars, sys.path
  packages  every installed distribution with its version; TF-related ones with location,
            installer and declared requirements; pip CUDA wheel library folders
  tfbuild   where ``import tensorflow`` would load from, and its build_info.py, parsed with ast
  cpu       CPU model and instruction-set flags (/proc/cpuinfo on Linux, else unknown)
  nvml      NVIDIA driver, GPUs, memory, compute capability (pynvml if importable, else ctypes NVML)
  cudalibs  which CUDA / cuDNN / cuBLAS libraries load with ctypes, from where, and their versions
  cuinit    CUDA driver API: cuInit(0), cuDriverGetVersion, cuDeviceGetCount
  tfimport  a real ``import tensorflow`` (slow, may crash; doctor runs it when TF is installed)
  selftest-hang / selftest-segv / selftest-raise   fault-injection probes used by tfhelp's tests

Why one file of ~740 lines: the target interpreter runs it as a lone script, with no tfhelp
installed there, so everything a probe needs has to be in this file.
"""
import ast
import glob
import json
import os
import platform
import re
import struct
import sys
import time

MARKER = "@@TFHELP@@"

ENV_VARS = (
    "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL",
    "TF_CPP_MAX_VLOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_FLAGS",
    "CUDA_HOME", "CUDA_PATH", "CUDNN_PATH", "KERAS_BACKEND", "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION",
    "PYTHONPATH", "PYTHONNOUSERSITE", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
    "CUDA_CACHE_MAXSIZE", "CUDA_FORCE_PTX_JIT", "DYLD_LIBRARY_PATH",
)

#: Distributions whose location, installer and requirements are worth recording.
RELEVANT = re.compile(
    r"^(tensorflow.*|tf-nightly.*|tf-keras|intel-tensorflow|keras.*|numpy|protobuf|h5py|ml-dtypes"
    r"|tensorboard|nvidia-.*|jax|jaxlib|torch|tensorrt.*)$")

CPU_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16",
             "amx_tile")


def canonical(name):
    return re.sub(r"[-_.]+", "-", (name or "").strip()).lower()


def emit(obj):
    sys.stdout.write("\n" + MARKER + json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def _read(path, limit=200000):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, IOError):
        return None


def site_dirs():
    """site-packages folders of this interpreter, in sys.path order, user site included."""
    out = []
    try:
        import site
        cands = list(getattr(site, "getsitepackages", lambda: [])())
        if getattr(site, "ENABLE_USER_SITE", False):
            cands.append(site.getusersitepackages())
    except Exception:
        cands = []
    for p in sys.path:
        if p and os.path.basename(p.rstrip("/\\")) in ("site-packages", "dist-packages"):
            cands.append(p)
    for p in cands:
        if p and os.path.isdir(p) and p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------
# basic

def pci_nvidia():
    """NVIDIA display / 3D controllers on the PCI bus (Linux sysfs): hardware seen even without a driver."""
    out = []
    for dev in sorted(glob.glob("/sys/bus/pci/devices/*")):
        vendor = (_read(os.path.join(dev, "vendor")) or "").strip().lower()
        klass = (_read(os.path.join(dev, "class")) or "").strip().lower()
        if vendor == "0x10de" and klass.startswith("0x03"):
            device = (_read(os.path.join(dev, "device")) or "").strip()
            driver = os.path.basename(os.path.realpath(os.path.join(dev, "driver"))) \
                if os.path.exists(os.path.join(dev, "driver")) else None
            out.append("%s device %s driver %s" % (os.path.basename(dev), device, driver or "none"))
    return out


def probe_basic(args):
    info = {}
    uname = platform.uname()
    info["os"] = {"system": uname[0], "release": uname[2], "version": uname[3], "machine": uname[4],
                  "platform": platform.platform()}
    proc_version = _read("/proc/version") or ""
    info["os"]["wsl"] = "microsoft" in proc_version.lower()
    if info["os"]["wsl"]:
        info["os"]["wsl_version"] = 2 if "wsl2" in proc_version.lower() else 1
    osrel = _read("/etc/os-release")
    if osrel:
        m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', osrel, re.M)
        if m:
            info["os"]["distro"] = m.group(1)
    try:
        lib, ver = platform.libc_ver()
        if lib:
            info["os"]["libc"] = "%s %s" % (lib, ver)
    except Exception:
        pass
    if uname[0] == "Darwin":
        info["os"]["mac_ver"] = platform.mac_ver()[0]
    if uname[0] == "Windows":
        info["os"]["win_ver"] = list(platform.win32_ver())

    container = None
    if os.path.exists("/.dockerenv"):
        container = "docker"
    elif os.path.exists("/run/.containerenv"):
        container = "podman"
    else:
        cg = _read("/proc/1/cgroup") or ""
        for key in ("docker", "kubepods", "containerd", "lxc", "podman"):
            if key in cg:
                container = key
                break
    info["container"] = container
    info["pci_nvidia"] = pci_nvidia()

    prefix = sys.prefix
    base = getattr(sys, "base_prefix", prefix)
    real = getattr(sys, "real_prefix", None)
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        kind = "conda"
    elif real is not None or prefix != base:
        kind = "venv"
    else:
        kind = "system"
    user_site = None
    user_site_enabled = False
    try:
        import site
        user_site_enabled = bool(site.ENABLE_USER_SITE)
        user_site = site.getusersitepackages()
    except Exception:
        pass
    info["python"] = {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "version_full": sys.version,
        "implementation": platform.python_implementation(),
        "bits": struct.calcsize("P") * 8,
        "executable": sys.executable,
        "prefix": prefix,
        "base_prefix": base,
        "env_kind": kind,
        "conda_env": os.environ.get("CONDA_DEFAULT_ENV") if kind == "conda" else None,
        "user_site": user_site,
        "user_site_enabled": user_site_enabled,
        "user_site_exists": bool(user_site and os.path.isdir(user_site)),
        "site_packages": site_dirs(),
        "sys_path": list(sys.path),
    }
    env = {}
    for k in ENV_VARS:
        if k in os.environ:
            env[k] = os.environ[k]
    info["env"] = env
    info["path_cuda_entries"] = [p for p in os.environ.get("PATH", "").split(os.pathsep)
                                 if "cuda" in p.lower() or "cudnn" in p.lower()]
    return info


# ---------------------------------------------------------------------------------------------
# packages

def _iter_dists_fallback():
    """Python 3.6/3.7: read *.dist-info/METADATA and *.egg-info/PKG-INFO from sys.path."""
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        for meta in glob.glob(os.path.join(entry, "*.dist-info", "METADATA")) + \
                glob.glob(os.path.join(entry, "*.egg-info", "PKG-INFO")):
            text = _read(meta, 100000) or ""
            name = re.search(r"^Name:\s*(.+)$", text, re.M)
            ver = re.search(r"^Version:\s*(.+)$", text, re.M)
            if not name or not ver:
                continue
            reqs = re.findall(r"^Requires-Dist:\s*(.+)$", text, re.M)
            folder = os.path.dirname(meta)
            inst = _read(os.path.join(folder, "INSTALLER"))
            yield name.group(1).strip(), ver.group(1).strip(), entry, (inst or "").strip() or None, reqs


def _iter_dists():
    try:
        from importlib import metadata as md  # Python 3.8+
    except ImportError:
        for item in _iter_dists_fallback():
            yield item
        return
    for dist in md.distributions():
        try:
            name = dist.metadata["Name"]
            if not name:
                continue
            version = dist.version
            try:
                location = str(dist.locate_file(""))
            except Exception:
                location = None
            try:
                installer = (dist.read_text("INSTALLER") or "").strip() or None
            except Exception:
                installer = None
            reqs = None
            if RELEVANT.match(canonical(name)):
                try:
                    reqs = list(dist.requires or [])
                except Exception:
                    reqs = None
            yield name, version, location, installer, reqs
        except Exception:
            continue


def probe_packages(args):
    all_versions = {}
    relevant = []
    duplicates = {}
    for name, version, location, installer, reqs in _iter_dists():
        cname = canonical(name)
        if cname in all_versions:
            duplicates.setdefault(cname, [all_versions[cname]]).append(version)
            continue  # the first one on sys.path is the one that imports
        all_versions[cname] = version
        if RELEVANT.match(cname):
            relevant.append({"name": cname, "version": version, "location": location,
                             "installer": installer, "requires": reqs})
    nvidia_lib_dirs = []
    for sp in site_dirs():
        for d in sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib"))) + \
                sorted(glob.glob(os.path.join(sp, "nvidia", "*", "bin"))):
            nvidia_lib_dirs.append(d)
    conda_cuda = []
    if os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
        for pat in ("cudatoolkit-*.json", "cudnn-*.json", "cuda-runtime-*.json", "cuda-cudart-*.json",
                    "tensorflow-*.json", "numpy-*.json"):
            conda_cuda.extend(os.path.basename(p)[:-5]
                              for p in glob.glob(os.path.join(sys.prefix, "conda-meta", pat)))
    return {"all": all_versions, "relevant": relevant, "duplicates": duplicates,
            "nvidia_lib_dirs": nvidia_lib_dirs, "conda_packages": sorted(conda_cuda)}


# ---------------------------------------------------------------------------------------------
# tfbuild

def _literal(node):
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def parse_build_info(source):
    """Parse tensorflow/python/platform/build_info.py without executing it.

    Handles every known layout: ``build_info = {...}`` (TF 2.3-2.4),
    ``build_info = collections.OrderedDict([(k, v), ...])`` (later 2.x), ``build_info['k'] = v``
    and the old top-level constants ``is_cuda_build = True`` / ``cuda_version_number = '10.0'``.
    Returns a dict (possibly empty); raises SyntaxError when the file is not Python.
    """
    tree = ast.parse(source)
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name):
                value = node.value
                if target.id == "build_info":
                    if isinstance(value, ast.Dict):
                        d = _literal(value)
                        if isinstance(d, dict):
                            out.update(d)
                    elif isinstance(value, ast.Call) and value.args:
                        items = _literal(value.args[0])
                        if isinstance(items, (list, tuple)):
                            for pair in items:
                                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                                    out[pair[0]] = pair[1]
                        elif isinstance(items, dict):
                            out.update(items)
                    elif isinstance(value, ast.Call) and value.keywords:
                        for kw in value.keywords:
                            if kw.arg:
                                out[kw.arg] = _literal(kw.value)
                else:
                    try:
                        out[target.id] = ast.literal_eval(value)
                    except Exception:
                        pass  # imports, calls: not build facts
            elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
                    and target.value.id == "build_info":
                sl = target.slice
                key = _literal(sl.value if hasattr(ast, "Index") and isinstance(sl, ast.Index) else sl)
                if isinstance(key, str):
                    out[key] = _literal(node.value)
    # old names (TF <= 2.2)
    if "cuda_version" not in out and "cuda_version_number" in out:
        out["cuda_version"] = out["cuda_version_number"]
    if "cudnn_version" not in out and "cudnn_version_number" in out:
        out["cudnn_version"] = out["cudnn_version_number"]
    return out


def probe_tfbuild(args):
    res = {"found": False}
    try:
        import importlib.util
        spec = importlib.util.find_spec("tensorflow")
    except Exception as e:  # a broken parent or meta path hook
        res["error"] = "%s: %s" % (type(e).__name__, e)
        return res
    if spec is None:
        return res
    res["found"] = True
    locs = list(spec.submodule_search_locations or [])
    res["origin"] = spec.origin if spec.origin not in (None, "namespace") else None
    res["locations"] = locs
    # An ``import tensorflow`` that resolves to a namespace package (no __init__.py) is what an
    # interrupted uninstall leaves behind: the import "works" and nothing is in it.
    res["namespace_package"] = not res["origin"]
    for loc in locs:
        path = os.path.join(loc, "python", "platform", "build_info.py")
        text = _read(path)
        if text is None:
            continue
        res["build_info_path"] = path
        try:
            res["build_info"] = parse_build_info(text)
        except SyntaxError as e:
            res["build_info_error"] = "SyntaxError: %s" % e
        break
    for loc in locs:
        # Native libraries shipped in the package: tells CUDA builds apart even without build_info.
        res["has_libtensorflow_framework"] = bool(
            glob.glob(os.path.join(loc, "libtensorflow_framework*")))
        break
    return res


# ---------------------------------------------------------------------------------------------
# cpu

def probe_cpu(args):
    res = {"machine": platform.machine(), "source": None, "model": None, "flags": None}
    text = _read("/proc/cpuinfo", 2000000)
    if text:
        res["source"] = "/proc/cpuinfo"
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            res["model"] = m.group(1).strip()
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        if m:
            have = set(m.group(1).split())
            res["flags"] = {f: (f in have) for f in CPU_FLAGS}
        else:
            m = re.search(r"^Features\s*:\s*(.+)$", text, re.M)
            if m:  # ARM: AVX does not apply
                res["arm_features"] = sorted(set(m.group(1).split()))[:64]
        res["count"] = len(re.findall(r"^processor\s*:", text, re.M)) or None
    else:
        proc = platform.processor()
        res["model"] = proc or None
    return res


# ---------------------------------------------------------------------------------------------
# nvml

def _nvml_via_pynvml():
    import pynvml as N

    def s(x):
        return x.decode() if isinstance(x, bytes) else x

    N.nvmlInit()
    try:
        out = {"backend": "pynvml", "driver_version": s(N.nvmlSystemGetDriverVersion())}
        try:
            v = N.nvmlSystemGetCudaDriverVersion_v2()
        except Exception:
            v = N.nvmlSystemGetCudaDriverVersion()
        out["cuda_driver_version"] = v
        gpus = []
        for i in range(N.nvmlDeviceGetCount()):
            h = N.nvmlDeviceGetHandleByIndex(i)
            g = {"index": i, "name": s(N.nvmlDeviceGetName(h))}
            try:
                mem = N.nvmlDeviceGetMemoryInfo(h)
                g["memory_total_mib"] = int(mem.total // (1024 * 1024))
                g["memory_used_mib"] = int(mem.used // (1024 * 1024))
            except Exception as e:
                g["memory_error"] = str(e)
            try:
                g["compute_capability"] = "%d.%d" % tuple(N.nvmlDeviceGetCudaComputeCapability(h))
            except Exception as e:
                g["compute_capability_error"] = str(e)
            try:
                g["uuid"] = s(N.nvmlDeviceGetUUID(h))
            except Exception:
                pass
            gpus.append(g)
        out["gpus"] = gpus
        return out
    finally:
        try:
            N.nvmlShutdown()
        except Exception:
            pass


def _nvml_via_ctypes():
    import ctypes
    names = ["nvml.dll"] if os.name == "nt" else ["libnvidia-ml.so.1", "libnvidia-ml.so"]
    lib = None
    errors = []
    for n in names:
        try:
            lib = ctypes.CDLL(n)
            break
        except OSError as e:
            errors.append(str(e))
    if lib is None:
        return {"backend": "ctypes", "library_found": False, "error": "; ".join(errors)}
    init = getattr(lib, "nvmlInit_v2", None) or lib.nvmlInit
    rc = init()
    if rc != 0:
        return {"backend": "ctypes", "library_found": True, "init_error_code": rc,
                "error": "nvmlInit failed with NVML return code %d" % rc}
    out = {"backend": "ctypes"}
    buf = ctypes.create_string_buffer(96)
    if lib.nvmlSystemGetDriverVersion(buf, 96) == 0:
        out["driver_version"] = buf.value.decode()
    v = ctypes.c_int()
    fn = getattr(lib, "nvmlSystemGetCudaDriverVersion_v2", None) or lib.nvmlSystemGetCudaDriverVersion
    if fn(ctypes.byref(v)) == 0:
        out["cuda_driver_version"] = v.value
    count = ctypes.c_uint()
    getcount = getattr(lib, "nvmlDeviceGetCount_v2", None) or lib.nvmlDeviceGetCount
    gpus = []
    if getcount(ctypes.byref(count)) == 0:
        gethandle = getattr(lib, "nvmlDeviceGetHandleByIndex_v2", None) or lib.nvmlDeviceGetHandleByIndex
        for i in range(count.value):
            h = ctypes.c_void_p()
            if gethandle(i, ctypes.byref(h)) != 0:
                continue
            g = {"index": i}
            if lib.nvmlDeviceGetName(h, buf, 96) == 0:
                g["name"] = buf.value.decode()

            class Mem(ctypes.Structure):
                _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                            ("used", ctypes.c_ulonglong)]
            mem = Mem()
            if lib.nvmlDeviceGetMemoryInfo(h, ctypes.byref(mem)) == 0:
                g["memory_total_mib"] = int(mem.total // (1024 * 1024))
                g["memory_used_mib"] = int(mem.used // (1024 * 1024))
            major, minor = ctypes.c_int(), ctypes.c_int()
            if lib.nvmlDeviceGetCudaComputeCapability(h, ctypes.byref(major), ctypes.byref(minor)) == 0:
                g["compute_capability"] = "%d.%d" % (major.value, minor.value)
            gpus.append(g)
    out["gpus"] = gpus
    try:
        lib.nvmlShutdown()
    except Exception:
        pass
    return out


def probe_nvml(args):
    try:
        import pynvml  # noqa: F401
    except ImportError:
        return _nvml_via_ctypes()
    try:
        return _nvml_via_pynvml()
    except Exception as e:
        # NVMLError_LibraryNotFound / DriverNotLoaded etc.: report the class name, it is the finding.
        return {"backend": "pynvml", "error": "%s: %s" % (type(e).__name__, e),
                "library_found": "LibraryNotFound" not in type(e).__name__}


# ---------------------------------------------------------------------------------------------
# cudalibs

LINUX_LIBS = [
    ("cuda", ["libcuda.so.1"]),
    ("cudart", ["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so.10.2",
                "libcudart.so.10.1", "libcudart.so.10.0"]),
    ("cublas", ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so.10"]),
    ("cublasLt", ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"]),
    ("cufft", ["libcufft.so.12", "libcufft.so.11", "libcufft.so.10"]),
    ("cusolver", ["libcusolver.so.12", "libcusolver.so.11", "libcusolver.so.10"]),
    ("cusparse", ["libcusparse.so.12", "libcusparse.so.11", "libcusparse.so.10"]),
    ("cudnn", ["libcudnn.so.9", "libcudnn.so.8", "libcudnn.so.7"]),
]
WINDOWS_LIBS = [
    ("cuda", ["nvcuda.dll"]),
    ("cudart", ["cudart64_13.dll", "cudart64_12.dll", "cudart64_110.dll", "cudart64_102.dll",
                "cudart64_101.dll", "cudart64_100.dll"]),
    ("cublas", ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll", "cublas64_10.dll"]),
    ("cudnn", ["cudnn64_9.dll", "cudnn64_8.dll", "cudnn64_7.dll"]),
]


def _loaded_path(fragment):
    maps = _read("/proc/self/maps", 20000000)
    if not maps:
        return None
    for line in maps.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and os.path.basename(parts[5]).startswith(fragment):
            return parts[5]
    return None


def _lib_version(ctypes, family, lib):
    if family == "cudart":
        v = ctypes.c_int()
        if lib.cudaRuntimeGetVersion(ctypes.byref(v)) == 0:
            return {"raw": v.value, "version": "%d.%d" % (v.value // 1000, (v.value % 1000) // 10)}
    elif family == "cudnn":
        lib.cudnnGetVersion.restype = ctypes.c_size_t
        v = int(lib.cudnnGetVersion())
        # cuDNN 9 encodes major*10000+minor*100+patch, cuDNN <= 8 major*1000+minor*100+patch.
        if v >= 90000:
            ver = "%d.%d.%d" % (v // 10000, (v % 10000) // 100, v % 100)
        else:
            ver = "%d.%d.%d" % (v // 1000, (v % 1000) // 100, v % 100)
        return {"raw": v, "version": ver}
    elif family in ("cublas", "cublasLt", "cufft", "cusolver", "cusparse"):
        fn = {"cublas": "cublasGetProperty", "cublasLt": None, "cufft": "cufftGetProperty",
              "cusolver": "cusolverGetProperty", "cusparse": "cusparseGetProperty"}[family]
        if fn and hasattr(lib, fn):
            parts = []
            for prop in (0, 1, 2):  # MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
                v = ctypes.c_int()
                if getattr(lib, fn)(prop, ctypes.byref(v)) != 0:
                    return None
                parts.append(v.value)
            return {"version": "%d.%d.%d" % tuple(parts)}
    elif family == "cuda":
        v = ctypes.c_int()
        if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
            return {"raw": v.value, "version": "%d.%d" % (v.value // 1000, (v.value % 1000) // 10)}
    return None


def _pip_lib_files(family, nvidia_dirs, windows):
    pat = ("%s64_*.dll" if windows else "lib%s.so.*") % family
    out = []
    for d in nvidia_dirs:
        for f in sorted(glob.glob(os.path.join(d, pat))):
            if family == "cublas" and "cublasLt" in os.path.basename(f):
                continue
            out.append(f)
    return out


def probe_cudalibs(args):
    import ctypes
    system = platform.system()
    if system == "Darwin":
        return {"supported": False, "reason": "no CUDA on macOS", "libraries": []}
    windows = system == "Windows"
    table = WINDOWS_LIBS if windows else LINUX_LIBS
    nvidia_dirs = []
    for sp in site_dirs():
        nvidia_dirs.extend(sorted(glob.glob(os.path.join(sp, "nvidia", "*", "bin" if windows else "lib"))))
    results = []
    for family, names in table:
        attempts = []
        loaded_any = False
        for name in names:
            entry = {"family": family, "name": name, "via": "system"}
            try:
                lib = ctypes.CDLL(name)
            except OSError as e:
                entry["loaded"] = False
                entry["error"] = str(e)[:300]
                # a missing major version is the normal case; keep only failures that say more
                if "cannot open shared object file: No such file" in str(e) or "could not be found" in str(e) \
                        or "Could not find module" in str(e):
                    continue
                attempts.append(entry)
                continue
            entry["loaded"] = True
            loaded_any = True
            entry["path"] = _loaded_path(name.split(".so")[0] + ".so") if not windows else None
            try:
                entry["version"] = _lib_version(ctypes, family, lib)
            except Exception as e:
                entry["version_error"] = "%s: %s" % (type(e).__name__, e)
            attempts.append(entry)
        if family != "cuda":
            for path in _pip_lib_files(family, nvidia_dirs, windows):
                entry = {"family": family, "name": os.path.basename(path), "via": "pip", "path": path}
                try:
                    lib = ctypes.CDLL(path)
                    entry["loaded"] = True
                    loaded_any = True
                    try:
                        entry["version"] = _lib_version(ctypes, family, lib)
                    except Exception as e:
                        entry["version_error"] = "%s: %s" % (type(e).__name__, e)
                except OSError as e:
                    entry["loaded"] = False
                    entry["error"] = str(e)[:300]
                attempts.append(entry)
        results.append({"family": family, "loaded": loaded_any, "attempts": attempts})
    return {"supported": True, "libraries": results, "nvidia_lib_dirs": nvidia_dirs,
            "ld_library_path": os.environ.get("LD_LIBRARY_PATH")}


# ---------------------------------------------------------------------------------------------
# cuinit

def probe_cuinit(args):
    import ctypes
    name = "nvcuda.dll" if os.name == "nt" else "libcuda.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        return {"library_found": False, "library": name, "error": str(e)[:300]}
    out = {"library_found": True, "library": name, "path": _loaded_path("libcuda.so")}
    v = ctypes.c_int()
    if lib.cuDriverGetVersion(ctypes.byref(v)) == 0:
        out["driver_cuda_version"] = "%d.%d" % (v.value // 1000, (v.value % 1000) // 10)
    rc = lib.cuInit(0)
    out["cuInit"] = rc
    if rc != 0:
        msg = ctypes.c_char_p()
        try:
            lib.cuGetErrorName(rc, ctypes.byref(msg))
            out["cuInit_error"] = (msg.value or b"").decode()
        except Exception:
            pass
        return out
    count = ctypes.c_int()
    rc = lib.cuDeviceGetCount(ctypes.byref(count))
    out["cuDeviceGetCount"] = rc
    out["device_count"] = count.value if rc == 0 else None
    return out


# ---------------------------------------------------------------------------------------------
# tfimport (slow; only on request)

def probe_tfimport(args):
    t0 = time.time()
    import tensorflow as tf  # noqa: the one place tfhelp lets TensorFlow load, in a throwaway process
    out = {"import_seconds": round(time.time() - t0, 3), "version": getattr(tf, "__version__", None),
           "file": getattr(tf, "__file__", None)}
    try:
        out["build_info"] = dict(tf.sysconfig.get_build_info())
    except Exception as e:
        out["build_info_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        out["built_with_cuda"] = bool(tf.test.is_built_with_cuda())
    except Exception:
        pass
    try:
        out["devices"] = [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
    except Exception as e:
        out["devices_error"] = "%s: %s" % (type(e).__name__, e)
    try:
        out["keras_version"] = tf.keras.__version__ if hasattr(tf.keras, "__version__") else None
    except Exception as e:
        out["keras_error"] = "%s: %s" % (type(e).__name__, e)
    return out


# ---------------------------------------------------------------------------------------------
# fault injection for tfhelp's own tests

def probe_selftest_hang(args):
    time.sleep(3600)


def probe_selftest_segv(args):
    import signal
    sys.stdout.flush()
    os.kill(os.getpid(), getattr(signal, "SIGSEGV", 11))
    time.sleep(5)


def probe_selftest_raise(args):
    raise RuntimeError("selftest probe raised on purpose")


PROBES = {
    "basic": probe_basic, "packages": probe_packages, "tfbuild": probe_tfbuild, "cpu": probe_cpu,
    "nvml": probe_nvml, "cudalibs": probe_cudalibs, "cuinit": probe_cuinit, "tfimport": probe_tfimport,
    "selftest-hang": probe_selftest_hang, "selftest-segv": probe_selftest_segv,
    "selftest-raise": probe_selftest_raise,
}


def main(argv):
    if len(argv) < 2 or argv[1] not in PROBES:
        emit({"ok": False, "error": "usage: probe_target.py {%s}" % ",".join(sorted(PROBES))})
        return 2
    t0 = time.time()
    try:
        data = PROBES[argv[1]](argv[2:])
        emit({"ok": True, "probe": argv[1], "seconds": round(time.time() - t0, 4), "data": data})
        return 0
    except BaseException as e:  # report, never die silently: the message is the finding
        import traceback
        emit({"ok": False, "probe": argv[1], "seconds": round(time.time() - t0, 4),
              "error": "%s: %s" % (type(e).__name__, e),
              "traceback": traceback.format_exc()[-4000:]})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
