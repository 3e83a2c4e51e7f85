"""Checks of the packages TensorFlow pins: NumPy, protobuf and the rest of its Requires-Dist."""
from __future__ import annotations

from typing import Optional

from tfhelp.assistant.environment.doctor.context import Doctor
from tfhelp.assistant.environment.doctor.report import ERROR, OK, UNKNOWN, WARNING, Check
from tfhelp.kb.versions import below_lower_bound, lower_bound_major, spec_contains
from tfhelp.kb.versions import parse as V


def numpy_check(d: Doctor) -> Optional[Check]:
    c = Check("numpy", "NumPy")
    np_ver = d.pk.get("numpy")
    if not np_ver:
        if not d.tf_dists:
            return None
        c.found = "not installed"
        c.problem(ERROR, "NumPy is missing; TensorFlow cannot import without it.", None, "Install numpy.",
                  [d.pip("install", f"numpy{d.declared.get('numpy') or d.c.numpy_spec(d.tf, d.p.python_version, d.tf_dists[0]) or ''}")])
        return c
    c.found = f"numpy {np_ver}"
    c.status = OK
    if not d.tf_dists or d.tfv is None:
        return c
    npv = V(np_ver)
    declared = d.declared.get("numpy")
    model = d.c.numpy_spec(d.tf, d.p.python_version, d.tf_dists[0])
    if declared or model:
        c.details.append("TensorFlow wants numpy" + (declared or model) +
                         (" (wheel metadata)" if declared else " (compatibility model)"))
    if npv is not None and npv.major >= 2 and d.c.numpy2_supported(d.tf) is False:
        good = model or "<2"
        c.problem(ERROR, f"NumPy {np_ver} with TensorFlow {d.tf}: TF releases before 2.18 were compiled "
                  "against NumPy 1.x and fail to import under NumPy 2.", "numpy2-abi-compiled-numpy1",
                  f"Install a NumPy 1.x that TF {d.tf} supports.",
                  [d.pip("install", f"numpy{good}")])
        return c
    for spec, source in ((declared, "the TensorFlow wheel requires"), (model, "the compatibility model says")):
        if spec and spec_contains(spec, np_ver) is False:
            low = below_lower_bound(spec, np_ver)
            c.problem(ERROR if low else WARNING,
                      f"numpy {np_ver} is outside what {source} for TF {d.tf}: numpy{spec}.",
                      "numpy-api-version-too-old" if low else None,
                      "Install a matching NumPy.", [d.pip("install", f"numpy{spec}")])
            break
    return c


def protobuf_check(d: Doctor) -> Optional[Check]:
    c = Check("protobuf", "protobuf")
    pb = d.pk.get("protobuf")
    if not pb:
        if not d.tf_dists:
            return None
        c.found = "not installed"
        c.problem(ERROR, "protobuf is missing; TensorFlow cannot import without it.", None, "Install protobuf.",
                  [d.pip("install", f"protobuf{d.declared.get('protobuf') or ''}")])
        return c
    c.found = f"protobuf {pb}"
    if str(d.p.env_vars.get("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "")) == "python":
        c.found += " (pure-Python implementation forced)"
    c.status = OK
    if not d.tf_dists or d.tfv is None:
        return c
    declared = d.declared.get("protobuf")
    model = d.c.protobuf_spec(d.tf, d.p.python_version, d.tf_dists[0])
    pbv = V(pb)
    for spec, source in ((declared, "the TensorFlow wheel requires"), (model, "the compatibility model says")):
        if not spec or spec_contains(spec, pb) is not False:
            continue
        if below_lower_bound(spec, pb):
            rule = "protobuf-gencode-runtime-mismatch" if lower_bound_major(spec) >= 5 else "protobuf-builder-missing"
        elif pbv is not None and pbv >= V("4.21") and d.tfv < V("2.12"):
            rule = "protobuf-descriptors-cannot-be-created"
        else:
            rule = None
        c.problem(ERROR if rule else WARNING, f"protobuf {pb} is outside what {source} for TF {d.tf}: "
                  f"protobuf{spec}.", rule, "Install a matching protobuf.",
                  [d.pip("install", f"protobuf{spec}")])
        break
    if not c.problems and pbv is not None and pbv >= V("4.21") and d.tfv < V("2.12"):
        # Releases before the patch-release caps (2.6.5/2.7.3/2.8.2/2.9.1) declared no upper bound;
        # their generated *_pb2 code still cannot load under the upb-based protobuf 4.21+.
        c.problem(ERROR, f"protobuf {pb} (4.21 or newer) cannot load the generated code in TensorFlow "
                  f"{d.tf}, although its pins allow it.", "protobuf-descriptors-cannot-be-created",
                  "Install protobuf 3.20.x (or upgrade TensorFlow to a patch release that caps protobuf).",
                  [d.pip("install", "protobuf==3.20.3")])
    return c


def other_pins_check(d: Doctor) -> Optional[Check]:
    if not d.declared:
        return None
    c = Check("pins", "Other TensorFlow requirements")
    checked = []
    for name, spec in sorted(d.declared.items()):
        if name in ("numpy", "protobuf", "keras") or not spec:
            continue
        have = d.pk.get(name)
        if have is None:
            c.problem(WARNING, f"{name} (required {spec or 'any version'}) is not installed.", None,
                      f"Install {name}.", [d.pip("install", f"{name}{spec}")])
            continue
        checked.append(f"{name} {have}")
        if spec_contains(spec, have) is False:
            c.problem(WARNING, f"{name} {have} does not satisfy TensorFlow's requirement {name}{spec}.", None,
                      f"Install a matching {name}.", [d.pip("install", f"{name}{spec}")])
    c.found = (", ".join(checked[:8]) + (" ..." if len(checked) > 8 else "")) or "nothing pinned"
    if c.status == UNKNOWN:
        c.status = OK
        c.found += " - all within the wheel's pins"
    return c
