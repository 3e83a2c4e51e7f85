"""The doctor's view of the compatibility model (:mod:`tfhelp.kb.compat`), tolerant of gaps."""
from __future__ import annotations

from tfhelp.kb.versions import parse as V
from tfhelp.kb.versions import spec_str


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
        return spec_str(self._call("numpy_spec_for_tf", tf, python, _wheel_dist(dist)))

    def protobuf_spec(self, tf, python=None, dist="tensorflow"):
        return spec_str(self._call("protobuf_spec_for_tf", tf, python, _wheel_dist(dist)))

    def keras_spec(self, tf, dist="tensorflow"):
        return spec_str(self._call("keras_spec_for_tf", tf, _wheel_dist(dist)))

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
