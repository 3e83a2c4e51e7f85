"""Check of the CUDA / cuDNN libraries TensorFlow's build needs against those that load."""
from __future__ import annotations

from typing import Optional

from tfhelp.assistant.environment.doctor.context import Doctor, soname_major
from tfhelp.assistant.environment.doctor.report import ERROR, INFO, OK, WARNING, Check, Problem
from tfhelp.kb.versions import parse as V


def cuda_libs_check(d: Doctor) -> Optional[Check]:
    c = Check("cuda-libs", "CUDA / cuDNN libraries")
    st = d.p.status("cudalibs")
    libs = d.p.cuda_libraries
    is_cuda = bool(d.build.get("is_cuda_build"))
    relevant = is_cuda and d.gpus and d.platform in ("linux", "wsl", "windows")
    if st != "ok":
        c.found = f"unknown: the library probe {st}"
        if st == "crashed":
            c.problems.append(Problem(WARNING, f"Loading the CUDA libraries crashed the probe process "
                                      f"({d.p.probes['cudalibs'].signal}); a broken CUDA/cuDNN install is "
                                      "likely.", None, "Reinstall the CUDA libraries (pip: tensorflow[and-cuda])."))
            c.status = WARNING
        return c
    if not d.p.data("cudalibs").get("supported", True):
        if not d.tf_dists:
            return None
        c.found = d.p.data("cudalibs").get("reason") or "not applicable"
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
        if is_cuda and not d.gpus:
            c.details.append("not checked against TensorFlow's needs: no NVIDIA GPU")
        elif d.tf_dists and not is_cuda:
            c.details.append("this TensorFlow does not use them (not a CUDA build)")
        return c
    tf_cuda = d.build.get("cuda_version")
    tf_cudnn = d.build.get("cudnn_version")
    if not libs.get("cuda", {}).get("loaded"):
        c.problem(ERROR, "libcuda (the driver's CUDA library) cannot be loaded although NVML sees the GPU"
                  + (": on WSL it lives in /usr/lib/wsl/lib" if d.platform == "wsl" else "") + ".",
                  "libcuda-not-found", "Add the folder holding libcuda.so.1 to the loader path "
                  "(ldconfig or LD_LIBRARY_PATH), or reinstall the driver.")
    cuda_major = (tf_cuda or "").split(".")[0]
    if cuda_major:
        need_family(d, c, libs, "cudart", cuda_major, f"CUDA {tf_cuda} runtime", "cuda-cudart-not-loaded",
                          None)
        need_family(d, c, libs, "cublas", cuda_major, f"cuBLAS for CUDA {cuda_major}",
                          "cuda-math-library-not-loaded", None)
    if tf_cudnn:
        need_family(d, c, libs, "cudnn", tf_cudnn.split(".")[0], f"cuDNN {tf_cudnn}",
                          "cudnn-library-not-loaded", "cudnn-version-mismatch")
    return c


def need_family(d: Doctor, c: Check, libs: dict, fam: str, major: str, what: str, missing_rule: str,
                 mismatch_rule: Optional[str]) -> None:
    e = libs.get(fam) or {}
    copies = e.get("copies") or []
    majors = {(x.get("version") or soname_major(x.get("name")) or "").split(".")[0] for x in copies}
    if fam == "cudart" or fam == "cublas":
        # file name majors: libcudart.so.11.0 -> 11, libcublas.so.12 -> 12
        majors |= {soname_major(x.get("name")) for x in copies}
    majors.discard("")
    majors.discard(None)
    if major in majors:
        return
    if d.platform in ("linux", "wsl") and d.tfv is not None and d.tfv >= V("2.14"):
        hint = f"install the pip CUDA wheels: {d.pip('install', f'tensorflow[and-cuda]=={d.tf}')}"
        cmds = [d.pip("install", f"tensorflow[and-cuda]=={d.tf}")]
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
