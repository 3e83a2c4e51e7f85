"""Checks of the TensorFlow installation itself and of the Keras beside it; with the import
probe, whether ``import tensorflow`` really works."""
from __future__ import annotations

from typing import Optional

from tfhelp.assistant.environment.doctor.context import Doctor, conflicting_tf_distributions
from tfhelp.assistant.environment.doctor.report import ERROR, OK, RULE_IDS, WARNING, Check, Problem
from tfhelp.kb.versions import major_minor, spec_contains
from tfhelp.kb.versions import parse as V


def tensorflow_check(d: Doctor) -> Check:
    c = Check("tensorflow", "TensorFlow")
    if d.p.status("packages") != "ok":
        c.found = f"unknown (packages probe {d.p.status('packages')})"
        return c
    tb = d.p.data("tfbuild")
    if not d.tf_dists:
        return _no_distribution(d, c, tb)
    dist = d.tf_dists[0]
    found = f"{dist} {d.tf}"
    b = d.build
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
    loc = (d.p.package_details.get(dist) or {}).get("location")
    if loc:
        c.details.append(f"installed in {loc} by {(d.p.package_details.get(dist) or {}).get('installer') or '?'}")
    c.found = found
    c.status = OK
    _installation_problems(d, c, dist)
    if dist == "tensorflow-gpu":
        c.details.append("tensorflow-gpu is the old name; it stopped receiving releases after 2.11")
    return c


def _no_distribution(d: Doctor, c: Check, tb: dict) -> Check:
    """No TensorFlow distribution in pip's metadata: nothing, a leftover folder, or a bare package."""
    if tb.get("found") and tb.get("namespace_package"):
        c.found = "a 'tensorflow' folder without __init__.py (left over from an uninstall)"
        c.problem(ERROR, "`import tensorflow` resolves to an empty namespace package at "
                  f"{', '.join(tb.get('locations') or [])}; `tf.__version__` and everything else "
                  "will be missing.", None,
                  "Delete that folder, then reinstall TensorFlow.",
                  [d.pip("install", "--force-reinstall", "tensorflow")])
        return c
    if tb.get("found"):
        c.found = f"a 'tensorflow' package without pip metadata at {', '.join(tb.get('locations') or [])}"
        c.problem(WARNING, "`import tensorflow` finds a package that pip does not know about, so its version "
                  "and pins cannot be checked.", None, "Reinstall TensorFlow with pip into this interpreter.",
                  [d.pip("install", "--force-reinstall", "tensorflow")])
        return c
    c.found = "not installed"
    c.status = WARNING
    c.problems.append(Problem(WARNING, "No TensorFlow distribution is installed in this interpreter; "
                              "`import tensorflow` fails with ModuleNotFoundError.",
                              "no-module-named-tensorflow",
                              "Install TensorFlow into this interpreter (or point tfhelp at the right "
                              "one with --python).", [d.pip("install", "tensorflow")]))
    return c


def _installation_problems(d: Doctor, c: Check, dist: str) -> None:
    """Several TF distributions at once, doubled metadata, conda and pip both owning TensorFlow."""
    conflicting = conflicting_tf_distributions(d.p)
    backing = [x for x in d.tf_dists if x not in conflicting]
    if backing and len(conflicting) == 1:
        c.details.append(f"also installed, as a dependency of {conflicting[0]}: "
                         + ", ".join(f"{x} {d.pk[x]}" for x in backing))
    if len(conflicting) > 1:
        listing = ", ".join(f"{x} {d.pk[x]}" for x in conflicting)
        c.problem(ERROR, f"Several TensorFlow distributions are installed at once ({listing}). They all "
                  "write the same `tensorflow` package folder, so the files on disk are a mix of them.",
                  "multiple-tf-distributions",
                  "Uninstall every one of them, then install exactly one.",
                  [d.pip("uninstall", *d.tf_dists),
                   d.pip("install", f"{'tensorflow' if 'tensorflow' in conflicting else dist}=={d.tf}")])
    dups = {k: v for k, v in d.p.duplicate_packages.items()
            if k in ("tensorflow", "numpy", "keras", "protobuf", "tf-keras") or k in d.tf_dists}
    for name, versions in sorted(dups.items()):
        c.problem(WARNING, f"{name} has several metadata folders on sys.path ({', '.join(versions)}); "
                  "pip's view and what imports may differ.", None,
                  f"Reinstall {name} cleanly.", [d.pip("install", "--force-reinstall", "--no-deps",
                                                         f"{name}=={versions[0]}")])
    conda_tf = [x for x in d.p.data("packages").get("conda_packages") or [] if x.startswith("tensorflow")]
    pip_tf = (d.p.package_details.get(dist) or {}).get("installer") == "pip"
    if conda_tf and pip_tf:
        c.problem(WARNING, f"TensorFlow is installed by pip inside a conda environment that also has conda's "
                  f"{', '.join(conda_tf)}; the two package managers overwrite each other's files.",
                  "conda-pip-mixed-tensorflow",
                  "Keep one installer for TensorFlow: remove the conda package or the pip one.")


def keras_check(d: Doctor) -> Optional[Check]:
    c = Check("keras", "Keras")
    keras = d.pk.get("keras")
    tfk = d.pk.get("tf-keras")
    legacy = str(d.p.env_vars.get("TF_USE_LEGACY_KERAS", "")).strip().lower() in ("1", "true", "yes")
    bits = []
    if keras:
        bits.append(f"keras {keras}")
    if tfk:
        bits.append(f"tf-keras {tfk}")
    if not bits:
        if not d.tf_dists:
            return None
        c.found = "no standalone keras (tf.keras comes from TensorFlow)"
        c.status = OK if not d.tf_at_least("2.16") else WARNING
        if d.tf_at_least("2.16"):
            c.problem(WARNING, f"TensorFlow {d.tf} expects the keras package (Keras 3) for tf.keras, and it "
                      "is not installed.", None, "Install keras.", [d.pip("install", "keras")])
        return c
    c.found = ", ".join(bits)
    if legacy:
        c.found += " (TF_USE_LEGACY_KERAS=1)"
    c.status = OK
    if not d.tf_dists:
        if keras and V(keras) and V(keras) >= V("2.4") and V(keras) < V("3"):
            c.problem(WARNING, f"keras {keras} is a thin layer over tf.keras and needs TensorFlow, which is "
                      "not installed.", "keras-requires-tf-2-2", "Install TensorFlow of the same minor version.",
                      [d.pip("install", f"tensorflow=={V(keras).major}.{V(keras).minor}.*")])
        return c
    kv = V(keras) if keras else None
    if kv is not None and d.tfv is not None:
        if kv.major >= 3 and d.tfv < V("2.16"):
            c.problem(ERROR, f"Keras 3 ({keras}) with TensorFlow {d.tf}: Keras 3 needs TF >= 2.16; older TF "
                      "expects Keras 2 of its own minor version.", "keras3-under-old-tf",
                      f"Install the Keras that matches TF {d.tfv.major}.{d.tfv.minor}.",
                      [d.pip("install", "keras" + (d.declared.get("keras")
                                                      or d.c.keras_spec(d.tf, d.tf_dists[0])
                                                      or f"=={d.tfv.major}.{d.tfv.minor}.*"))])
        elif kv >= V("2.4") and d.tfv < V("2.2"):
            c.problem(ERROR, f"keras {keras} redirects to tf.keras and needs TensorFlow >= 2.2 (found {d.tf}).",
                      "keras-requires-tf-2-2", "Use keras 2.3.1 with this TensorFlow, or upgrade TensorFlow.",
                      [d.pip("install", "keras==2.3.1")])
    spec = d.declared.get("keras") or d.c.keras_spec(d.tf, d.tf_dists[0])
    if keras and spec and spec_contains(spec, keras) is False and not c.problems:
        source = "the TensorFlow wheel requires" if d.declared.get("keras") else "the compatibility model says"
        c.problem(WARNING, f"keras {keras} is outside what {source} for TF {d.tf}: keras{spec}.", None,
                  "Install a matching keras.", [d.pip("install", f"keras{spec}")])
    if d.tf_at_least("2.16") and legacy and not tfk:
        c.problem(ERROR, "TF_USE_LEGACY_KERAS=1 is set but tf-keras is not installed, so tf.keras cannot load "
                  "the legacy Keras 2.", "tf-keras-missing-legacy-keras", "Install tf-keras matching TensorFlow.",
                  [d.pip("install", f"tf-keras~={d.tfv.major}.{d.tfv.minor}.0")])
    if tfk and d.tfv is not None and V(tfk) is not None and major_minor(tfk) != major_minor(d.tf):
        c.problem(WARNING, f"tf-keras {tfk} is built for TensorFlow {V(tfk).major}.{V(tfk).minor}, not {d.tf}.",
                  None, "Install the tf-keras of TensorFlow's minor version.",
                  [d.pip("install", f"tf-keras~={d.tfv.major}.{d.tfv.minor}.0")])
    return c


def import_check(d: Doctor) -> Optional[Check]:
    """The real ``import tensorflow`` (run in its own subprocess by the tfimport probe)."""
    r = d.p.probes.get("tfimport")
    if r is None:
        return None
    c = Check("import", "import tensorflow")
    if r.ok:
        dv = r.data
        devs = ", ".join(sorted({dev.get("type", "?") for dev in dv.get("devices") or []})) or "none"
        c.found = f"OK in {dv.get('import_seconds', '?')}s: TensorFlow {dv.get('version')}, devices: {devs}"
        c.status = OK
        if d.gpus and not any(dev.get("type") == "GPU" for dev in dv.get("devices") or []):
            c.problem(WARNING, "TensorFlow imports but lists no GPU although NVML sees one.", "gpu-list-empty",
                      "Run `tfhelp gpu-test` to find the failing step.")
        return c
    how = {"timeout": "hung: no answer in time, killed", "crashed": f"crashed with {r.signal}"}.get(r.status)
    c.found = f"fails ({how or (r.error or r.status)})"
    c.status = ERROR
    diag = [dg for dg in (d.deep or {}).get("diagnoses") or [] if dg.get("id")]
    last = _user_tail(r.stderr_tail)
    if diag:  # one problem for the one failure: the engine's top diagnosis and its first fix
        top = diag[0]
        fix = (top.get("fixes") or [None])[0]
        c.problems.append(Problem(ERROR, f"`import tensorflow` fails: {top.get('title')}. "
                                  f"{top.get('summary') or ''}".strip(),
                                  top["id"] if top["id"] in RULE_IDS else None,
                                  fix["title"] + "." if fix else "See `tfhelp diagnose` on the output below.",
                                  fix_commands(d, fix)))
        c.details.append("diagnosis: " + ", ".join(dg["id"] for dg in diag[:3]))
    else:
        c.problems.append(Problem(ERROR, "`import tensorflow` " + (how or f"fails: {r.error or 'import failed'}"),
                                  None, "Run it under tfhelp for a diagnosis.",
                                  [quote_argv(d, ["tfhelp", "run", "--python", d.py, "--", d.py, "-c",
                                                  "import tensorflow"])]))
    c.details.extend(last)
    return c


def _user_tail(stderr_tail, n: int = 4) -> list:
    """The last lines of the import's output without tfhelp's own probe frames."""
    out, skipping = [], False
    for line in (stderr_tail or "").strip().splitlines():
        if line.lstrip().startswith("File "):
            skipping = "probe_target.py" in line
        elif not line.startswith(" "):
            skipping = False
        if not skipping and line.strip().strip("^~") and line.strip() != "Traceback (most recent call last):":
            out.append(line)
    return out[-n:]


def quote_argv(d: Doctor, argv: list) -> str:
    from tfhelp.assistant.fixes.argv import quote

    return quote(argv, d.platform)


def fix_commands(d: Doctor, fix: Optional[dict]) -> list:
    """Shell lines for one resolved fix (the engine's own fix dict): its pip steps for the target,
    and the commands its manual steps quote (conda recipes, exports)."""
    if not fix:
        return []
    from tfhelp.assistant.fixes.argv import pip_argv
    from tfhelp.kb.report import manual_commands

    out = []
    for s in fix.get("steps") or []:
        if s.get("action") in ("pip_install", "pip_uninstall"):
            out.append(quote_argv(d, pip_argv(d.py, s)))
        elif s.get("action") == "manual":
            out.extend(manual_commands(s.get("text")))
    return out
