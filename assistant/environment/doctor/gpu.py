"""Checks of the NVIDIA side: driver, GPUs, compute capability, cuInit."""
from __future__ import annotations

from typing import Optional

from tfhelp.assistant.environment.doctor.context import Doctor, gib, parse_sm
from tfhelp.assistant.environment.doctor.report import ERROR, INFO, OK, UNKNOWN, WARNING, Check, Problem
from tfhelp.kb.versions import major_minor
from tfhelp.kb.versions import parse as V

#: CUresult codes (cuda.h) that cuInit returns in the situations the rules describe.
CU_ERRORS = {100: ("CUDA_ERROR_NO_DEVICE", "cuinit-no-device"),
             35: ("CUDA_ERROR_INSUFFICIENT_DRIVER", "cuda-driver-insufficient"),
             303: ("CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "cuinit-unknown-error-303"),
             999: ("CUDA_ERROR_UNKNOWN", "cuinit-unknown-error-303"),
             803: ("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", None),
             804: ("CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", None)}


def gpu_check(d: Doctor) -> Check:
    c = Check("gpu", "NVIDIA driver and GPU")
    if d.p.status("nvml") != "ok":
        return _nvml_failed(d, c)
    if d.p.nvml.get("error") or not d.gpus:
        return _no_driver(d, c)
    drv = d.p.driver_version or "?"
    names = ", ".join(f"{g.get('name', '?')} (CC {g.get('compute_capability', '?')}, "
                      f"{gib(g.get('memory_total_mib'))})" for g in d.gpus)
    c.found = f"driver {drv} (supports CUDA {d.p.driver_cuda_version or '?'}); {len(d.gpus)} GPU: {names}"
    c.status = OK
    if not d.tf_dists:
        return c
    if d.platform == "windows" and d.c.windows_native_gpu(d.tf) is False:
        _windows_native(d, c)
        return c
    if d.build.get("raw") and not d.build.get("is_cuda_build") and d.platform in ("linux", "wsl", "windows"):
        c.problem(ERROR, f"{d.tf_dists[0]} {d.tf} is a CPU-only build; it will never use the GPU.",
                  "tf-cpu-only-build",
                  "Replace it with the CUDA build (on Linux/WSL2: tensorflow[and-cuda]).",
                  [d.pip("uninstall", *d.tf_dists),
                   d.pip("install", f"tensorflow[and-cuda]=={d.tf}")])
        return c
    _driver_vs_cuda(d, c, drv)
    _compute_capability(d, c)
    cvd = d.p.env_vars.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1", "none", "NoDevFiles"):
        c.problem(WARNING, f"CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU from CUDA programs.",
                  "gpu-list-empty", "Unset CUDA_VISIBLE_DEVICES (or set it to the GPU index, e.g. 0).")
    cu = d.p.data("cuinit")
    rc = cu.get("cuInit")
    if cu.get("library_found") and rc not in (None, 0):
        name, rule = CU_ERRORS.get(rc, (cu.get("cuInit_error") or f"error {rc}", None))
        c.problem(ERROR, f"cuInit(0) failed with {cu.get('cuInit_error') or name} ({rc}): the CUDA driver API "
                  "cannot start.", rule, cuinit_fix(rc))
    return c


def _nvml_failed(d: Doctor, c: Check) -> Check:
    st = d.p.status("nvml")
    c.found = f"unknown: the NVML probe {st}" + (f" ({d.p.probes['nvml'].error})"
                                                 if st in ("error", "crashed", "timeout") else "")
    c.status = WARNING if st in ("crashed", "timeout") else UNKNOWN
    if st in ("crashed", "timeout"):
        c.problems.append(Problem(WARNING, "Querying the NVIDIA driver through NVML " +
                                  ("hung" if st == "timeout" else "crashed") +
                                  "; the driver installation is probably broken.", None,
                                  "Reinstall the NVIDIA driver, then run `nvidia-smi`."))
    return c


def _no_driver(d: Doctor, c: Check) -> Check:
    nv = d.p.nvml
    if d.pci_nvidia:
        c.found = f"NVIDIA GPU on the PCI bus ({d.pci_nvidia[0]}) but no working driver"
        c.problem(ERROR if d.build.get("is_cuda_build") else WARNING,
                  "An NVIDIA GPU is present but the NVIDIA driver is not loaded"
                  + (f" ({nv['error']})" if nv.get("error") else "") + ".",
                  "cuda-drivers-not-found",
                  ("Inside a container the host's driver must be passed in: run it with the NVIDIA "
                   "Container Toolkit (docker run --gpus all ...)." if d.p.data("basic").get("container")
                   else "Install the NVIDIA driver for this GPU and reboot; `nvidia-smi` must list the "
                   "GPU before TensorFlow can use it."))
        return c
    c.found = "no NVIDIA driver or GPU found" + (f" ({nv['error'].split(':')[0]})" if nv.get("error") else "")
    c.status = INFO
    if d.platform == "macos":
        c.found = "no NVIDIA/CUDA on macOS (tensorflow-metal is the GPU route)"
    c.details.append("TensorFlow will run on the CPU" if d.tf_dists else "CPU only")
    return c


def _windows_native(d: Doctor, c: Check) -> None:
    """Native Windows lost GPU support after TF 2.10: WSL2, or TF 2.10 with CUDA 11.2 / cuDNN 8.1 and
    NumPy 1.x (TF 2.10 predates NumPy 2). https://www.tensorflow.org/install/pip#windows-native"""
    pyv = major_minor(d.p.python_version)
    old_python_ok = not pyv or pyv <= (3, 10)
    native = ("install TensorFlow 2.10 with NumPy 1.x and the CUDA 11.2 / cuDNN 8.1 libraries natively"
              + ("" if old_python_ok else " (that needs Python 3.7-3.10: create such an environment first)"))
    c.problem(ERROR, f"TensorFlow {d.tf} on native Windows has no GPU support (2.10 was the last).",
              "windows-native-gpu-after-2-10",
              f"Use TensorFlow in WSL2 (pip install \"tensorflow[and-cuda]\" there), or {native}.",
              [d.pip("install", "tensorflow<2.11", "numpy<2")] if old_python_ok else [])


def _driver_vs_cuda(d: Doctor, c: Check, drv: str) -> None:
    tf_cuda = d.build.get("cuda_version") or d.c.cuda_cudnn(d.tf, d.platform)[0]
    if not tf_cuda:
        return
    cuda_drv = d.p.driver_cuda_version
    need = d.c.min_driver(tf_cuda, d.platform or "linux")
    drv_mm, tf_mm = major_minor(cuda_drv), major_minor(tf_cuda)
    if need and V(drv) is not None and V(need) is not None and V(drv) < V(need):
        c.problem(ERROR, f"Driver {drv} is older than the {need} that CUDA {tf_cuda} (used by TF {d.tf}) "
                  "needs.", "cuda-driver-insufficient",
                  f"Update the NVIDIA driver to {need} or newer, or install a TensorFlow built for an "
                  f"older CUDA (see `tfhelp plan`).")
    elif drv_mm and tf_mm and drv_mm[0] < tf_mm[0]:
        c.problem(ERROR, f"The driver supports CUDA up to {cuda_drv}; TF {d.tf} is built for CUDA "
                  f"{tf_cuda}, a newer major version.", "cuda-driver-insufficient",
                  "Update the NVIDIA driver, or install a TensorFlow built for the driver's CUDA major "
                  "version (see `tfhelp plan`).")
    elif drv_mm and tf_mm and drv_mm < tf_mm:
        c.details.append(f"driver CUDA {cuda_drv} < TF's CUDA {tf_cuda}: runs through CUDA minor-version "
                         "compatibility (PTX JIT of newer code is not available)")


def _compute_capability(d: Doctor, c: Check) -> None:
    floor = parse_sm(d.build.get("cuda_compute_capabilities")) or d.c.min_compute_capability(d.tf)
    if not floor or V(floor) is None:
        return
    for g in d.gpus:
        cc = g.get("compute_capability")
        if cc and V(cc) is not None and V(cc) < V(floor):
            c.problem(ERROR, f"GPU {g.get('index')} {g.get('name')} has compute capability {cc}; TF "
                      f"{d.tf} is built for {floor} and newer, so TensorFlow ignores this GPU.",
                      "gpu-compute-capability-too-low",
                      "Install an older TensorFlow whose wheels still include this architecture (see "
                      "`tfhelp plan`), or build TensorFlow from source for it.")


def cuinit_fix(rc: int) -> str:
    if rc == 100:
        return ("No device is visible to CUDA: check CUDA_VISIBLE_DEVICES, that `nvidia-smi` lists the GPU, and "
                "in containers that the GPU was passed in (--gpus all).")
    if rc == 35:
        return "Update the NVIDIA driver: it is older than the CUDA runtime in use."
    if rc in (303, 999):
        return ("Often fixed by reloading the driver's unified-memory module (sudo modprobe -r nvidia_uvm && "
                "sudo modprobe nvidia_uvm) or a reboot; after suspend/resume this is common.")
    return "Reinstall the NVIDIA driver and reboot."
