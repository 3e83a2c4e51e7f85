"""What every check reads: the probed facts, the compatibility model, and small helpers
(copy-paste pip commands for the target, the TF wheel's own pins, library file names)."""
from __future__ import annotations

import re
import shlex
from typing import Optional

from tfhelp.assistant.environment.doctor.compat import Compat
from tfhelp.kb.versions import parse as V


class Doctor:
    """The facts one doctor run shares between its checks (``d`` in every check function)."""

    def __init__(self, probe, compat: Compat, deep: Optional[dict]):
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
        self._env = None

    def pip(self, verb: str, *reqs: str) -> str:
        return pip_cmd(self.py, verb, *reqs, platform=self.platform)

    def tf_at_least(self, v: str) -> Optional[bool]:
        return None if self.tfv is None else self.tfv >= V(v)

    @property
    def has_nvidia_hw(self) -> bool:
        return bool(self.gpus) or bool(self.pci_nvidia)

    @property
    def environment(self):
        """The probe as a kb Environment (for the shared fix ordering), computed once."""
        if self._env is None:
            self._env = self.p.to_environment()
        return self._env


def pip_cmd(python: str, verb: str, *reqs: str, platform: Optional[str] = None) -> str:
    """A copy-paste pip command for the target interpreter, quoted for the target's shell."""
    argv = [python, "-m", "pip", verb] + (["-y"] if verb == "uninstall" else []) + list(reqs)
    try:
        from tfhelp.assistant.fixes.argv import quote
        return quote(argv, platform)
    except ImportError:  # pragma: no cover - argv is part of the same package
        return " ".join(shlex.quote(a) for a in argv)


def declared_requirements(probe) -> dict:
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


def conflicting_tf_distributions(probe) -> list:
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


def gib(mib) -> str:
    if not mib:
        return "? GiB"
    return f"{mib / 1024:.0f} GiB" if mib >= 1024 else f"{mib} MiB"


def soname_major(name) -> Optional[str]:
    """The major version in a library file name: libcudart.so.11.0 -> 11, cudart64_110.dll -> 11."""
    if not name:
        return None
    m = re.search(r"\.so\.(\d+)", name) or re.search(r"64_(\d+)\.dll$", name)
    if not m:
        return None
    digits = m.group(1)
    if ".dll" in name and len(digits) == 3:  # cudart64_110.dll
        return digits[:-1]
    return digits
