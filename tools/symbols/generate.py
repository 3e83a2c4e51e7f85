"""Build kb/data/symbols.json: public modules and names that moved, were removed or were added,
per package and version, read from the packages' real wheels.

Nothing is imported from the wheels: each wheel is opened as a zip and

* every ``*.py`` file / package folder becomes a module name (tests left out; TF's generated API
  folders ``tensorflow/_api/v2/X`` -> ``tensorflow.X``, TF 1.15's ``tensorflow_core`` ->
  ``tensorflow``; ``tensorflow.keras`` from the Keras wheel TF loads it from);
* the names a module binds at top level (``def``, ``class``, assignments, ``import ... as``,
  ``from ... import``, ``__all__``, same-wheel ``import *``) are read with :mod:`ast`; NumPy's
  tables of removed names (``__former_attrs__``, ``__expired_functions__``,
  ``_expired_attrs_2_0.__expired_attributes__``) give both presence and replacement text.

Then consecutive examined versions are compared. A row per module or name that is missing from
the newest examined version (``removed``) or from the oldest ones (``added``, kept only where a
"too old" error is common: see ``ADDED_FOR``). Whole removed subtrees collapse into their top
module. Replacements: the same name elsewhere in the newest public API (or, for a module, the
newest module holding most of its names), else the curated file ``overrides.yaml``.

Why one file of ~800 lines: it is a stand-alone script run by hand, outside the installed
package, and its three stages (read wheels, diff versions, apply curation) share one data shape.

Usage (network once, then the wheel cache)::

    python tools/symbols/generate.py --download     # pip download --no-deps into ~/.cache/tfhelp-wheels
    python tools/symbols/generate.py                # writes kb/data/symbols.json
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import glob
import json
import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "kb", "data", "symbols.json")
CACHE = os.path.expanduser(os.environ.get("TFHELP_WHEELS", "~/.cache/tfhelp-wheels"))

#: package -> [(version, pip requirement, extra pip download options)], oldest first.
VERSIONS = {
    "keras": [(v, f"keras=={v}", []) for v in (
        "2.2.5", "2.3.1", "2.4.3", "2.6.0", "2.9.0", "2.12.0", "2.13.1", "2.15.0",
        "3.0.0", "3.3.3", "3.6.0", "3.8.0", "3.10.0", "3.12.0", "3.15.1")],
    "tf-keras": [(v, f"tf-keras=={v}", []) for v in ("2.15.0", "2.17.0", "2.18.0", "2.21.0")],
    "tensorflow": [
        ("1.15.5", "tensorflow==1.15.5", ["--only-binary=:all:", "--python-version", "3.7",
                                          "--platform", "manylinux2010_x86_64"]),
        ("2.4.4", "tensorflow-cpu==2.4.4", ["--only-binary=:all:", "--python-version", "3.8",
                                            "--platform", "manylinux2010_x86_64"]),
        ("2.9.3", "tensorflow-cpu==2.9.3", ["--only-binary=:all:", "--python-version", "3.9",
                                            "--platform", "manylinux2014_x86_64"]),
        ("2.12.1", "tensorflow-cpu==2.12.1", []),
        ("2.13.1", "tensorflow-cpu==2.13.1", []),
        ("2.14.1", "tensorflow-cpu==2.14.1", []),
        ("2.15.1", "tensorflow-cpu==2.15.1", []),
        ("2.16.2", "tensorflow-cpu==2.16.2", []),
        ("2.18.1", "tensorflow-cpu==2.18.1", []),
        ("2.20.0", "tensorflow-cpu==2.20.0", []),
        ("2.21.0", "tensorflow-cpu==2.21.0", []),
    ],
    "numpy": [(v, f"numpy=={v}", []) for v in ("1.23.5", "1.24.4", "1.26.4", "2.0.2", "2.2.6", "2.4.6")],
    "protobuf": [(v, f"protobuf=={v}", []) for v in ("3.19.6", "3.20.3", "4.21.12", "4.25.9", "5.29.6", "6.33.6")],
    "ml-dtypes": [(v, f"ml-dtypes=={v}", []) for v in ("0.2.0", "0.3.2", "0.4.1", "0.5.4", "0.7.0")],
    "h5py": [("2.10.0", "h5py==2.10.0", ["--only-binary=:all:", "--python-version", "3.8",
                                          "--platform", "manylinux1_x86_64"])]
    + [("3.1.0", "h5py==3.1.0", ["--only-binary=:all:", "--python-version", "3.9",
                                 "--platform", "manylinux2014_x86_64"])]
    + [(v, f"h5py=={v}", []) for v in ("3.11.0", "3.16.0")],
    "tensorflow-addons": [
        ("0.16.1", "tensorflow-addons==0.16.1", ["--only-binary=:all:", "--python-version", "3.9",
                                                 "--platform", "manylinux2014_x86_64"]),
        ("0.20.0", "tensorflow-addons==0.20.0", []),
        ("0.23.0", "tensorflow-addons==0.23.0", []),
    ],
}

#: The Keras wheel each examined TF loads ``tf.keras`` from (TF 2.6-2.15 pin keras to their own
#: minor in METADATA; 2.16+ require keras>=3 and load ``keras._tf_keras.keras``). Before 2.6
#: tf.keras lives in the TF wheel itself.
TF_KERAS_FROM = {"2.9.3": ("keras", "2.9.0", "keras/api/_v2/keras"),
                 "2.12.1": ("keras", "2.12.0", "keras/api/_v2/keras"),
                 "2.13.1": ("keras", "2.13.1", "keras/api/_v2/keras"),
                 "2.14.1": ("keras", "2.14.0", "keras/api/_v2/keras"),
                 "2.15.1": ("keras", "2.15.0", "keras/api/_v2/keras"),
                 "2.16.2": ("keras", "3.3.3", "keras/_tf_keras/keras"),
                 "2.18.1": ("keras", "3.8.0", "keras/_tf_keras/keras"),
                 "2.20.0": ("keras", "3.10.0", "keras/_tf_keras/keras"),
                 "2.21.0": ("keras", "3.12.0", "keras/_tf_keras/keras")}

#: import roots per package (the first path segment inside the wheel)
ROOTS = {"keras": ["keras"], "tf-keras": ["tf_keras"], "tensorflow": ["tensorflow", "tensorflow_core"],
         "numpy": ["numpy"], "protobuf": ["google/protobuf"], "ml-dtypes": ["ml_dtypes"],
         "h5py": ["h5py"], "tensorflow-addons": ["tensorflow_addons"]}

#: Modules whose top-level names are tracked (others: presence only). fnmatch patterns.
NAMES_FOR = {
    "keras": ["keras", "keras.*"],
    "tf-keras": ["tf_keras", "tf_keras.*"],
    "tensorflow": ["tensorflow", "tensorflow.compat.v1", "tensorflow.compat.v1.*", "tensorflow.keras",
                   "tensorflow.keras.*"] + [f"tensorflow.{m}" for m in (
                       "nn", "math", "train", "data", "io", "image", "linalg", "random", "summary", "config",
                       "experimental", "saved_model", "lite", "distribute", "estimator", "losses", "layers",
                       "metrics", "strings", "sparse", "signal", "test", "errors", "dtypes", "initializers",
                       "logging", "gfile", "app", "flags", "compat", "contrib", "feature_column", "autograph",
                       "graph_util", "python_io", "sysconfig", "debugging", "ragged", "nest", "types", "queue")],
    "numpy": ["numpy", "numpy.linalg", "numpy.random", "numpy.fft", "numpy.lib", "numpy.ma", "numpy.testing",
              "numpy.core", "numpy._core", "numpy.exceptions", "numpy.dtypes", "numpy.typing"],
    "protobuf": ["google.protobuf", "google.protobuf.*"],
    "ml-dtypes": ["ml_dtypes"],
    "h5py": ["h5py"],
    "tensorflow-addons": ["tensorflow_addons.*"],
}

#: Private modules that third-party libraries commonly reach into (old standalone Keras, tensorlayer,
#: Mask R-CNN ports, keras-vis, ...): their names are tracked *including* single-underscore ones, so
#: ``module 'tensorflow.python.framework.ops' has no attribute '_TensorLike'`` gets a row. Each
#: entry is here because public reports show third-party code failing on it:
#: ops._TensorLike https://github.com/tensorflow/tensorflow/issues/38589,
#: context.get_config https://github.com/qqwweee/keras-yolo3/issues/763,
#: control_flow_ops.case https://github.com/tensorflow/tensorflow/issues/63515,
#: tensorflow.python.keras.backend https://github.com/xuxping/finetune_bert/issues/1,
#: generic_utils https://github.com/tensorflow/tensorflow/issues/38012,
#: keras.backend.tensorflow_backend https://github.com/keras-team/keras/issues/13442.
PRIVATE_NAMES_FOR = {
    "tensorflow": ["tensorflow.python.framework.ops", "tensorflow.python.eager.context",
                   "tensorflow.python.ops.control_flow_ops", "tensorflow.python.framework.tensor_util",
                   "tensorflow.python.keras.backend", "tensorflow.python.keras.utils.generic_utils"],
    "keras": ["keras.backend", "keras.backend.tensorflow_backend", "keras.utils.generic_utils"],
}

#: "Too old" rows (a name that only newer versions have) are kept for these packages' modules,
#: where the error usually means the installed release predates the name.
ADDED_FOR = {"protobuf": ["google.protobuf", "google.protobuf.*"],
             "ml-dtypes": ["ml_dtypes"],
             "numpy": ["numpy", "numpy.exceptions", "numpy.dtypes"],
             "keras": ["keras", "keras.ops", "keras.saving", "keras.utils", "keras.layers", "keras.config",
                       "keras.random", "keras.optimizers", "keras.src"],
             "tensorflow": ["tensorflow", "tensorflow.experimental", "tensorflow.config",
                            "tensorflow.config.experimental", "tensorflow.python.eager.context"],
             "h5py": ["h5py"]}

#: Private modules that saved files and pickles name (each object's class module is recorded) and
#: that libraries written for the newer release import: a Keras 3 `.keras` file or joblib dump read
#: where Keras 2.13-2.15 is installed fails on "No module named 'keras.src.models.functional'"
#: (https://github.com/tensorflow/tensorflow/issues/70866, https://github.com/keras-team/keras/issues/18878).
#: A module is kept when its parent package already existed in the release before, because Python
#: names the first missing module of a dotted path, so the error names exactly that module.
ADDED_PRIVATE_FOR = {"keras": ["keras.src.*"]}

#: Class attributes tracked for "'X' object has no attribute 'Y'": package -> {public class:
#: [classes whose bodies together give its attributes (its own bases inside the wheel)]}. A
#: release where none of those classes is found (keras 2.4 only redirects to tf.keras) is unknown.
CLASS_TRACK = {
    "keras": {"Model": ["Model", "Sequential", "Functional", "Network", "Trainer", "TensorFlowTrainer", "Layer",
                        "Operation", "Container"]},
    "h5py": {"Dataset": ["Dataset", "HLObject"], "File": ["File", "Group", "HLObject"],
             "Group": ["Group", "HLObject"]},
}
#: error messages name the concrete class: these share the row of the tracked one
CLASS_ALIASES = {"keras": {"Sequential": "Model", "Functional": "Model"}, "h5py": {}}

NOTES = {
    "keras": "https://github.com/keras-team/keras/releases",
    "tf-keras": "https://github.com/keras-team/tf-keras/releases",
    "tensorflow": "https://github.com/tensorflow/tensorflow/blob/master/RELEASE.md",
    "numpy": "https://numpy.org/doc/stable/release.html",
    "protobuf": "https://github.com/protocolbuffers/protobuf/releases",
    "ml-dtypes": "https://github.com/jax-ml/ml_dtypes/blob/main/CHANGELOG.md",
    "h5py": "https://docs.h5py.org/en/stable/whatsnew/index.html",
    "tensorflow-addons": "https://github.com/tensorflow/addons/releases",
}

_SKIP_SEG = {"tests", "test_util", "_vendor", "benchmarks", "testdata", "docs", "examples"}


def vkey(v: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


# ------------------------------------------------------------------------------------- wheels
def wheel_path(req: str) -> str:
    name, ver = req.split("==")
    stems = {name.replace("-", "_").lower(), name.lower()}
    for p in sorted(glob.glob(os.path.join(CACHE, "*.whl"))):
        base = os.path.basename(p)
        dist, _, rest = base.partition("-")
        if dist.lower() in stems and rest.split("-", 1)[0] == ver:
            return p
    raise FileNotFoundError(f"no wheel for {req} in {CACHE} (run with --download)")


def download() -> None:
    os.makedirs(CACHE, exist_ok=True)
    for pkg, rows in VERSIONS.items():
        for _ver, req, extra in rows:  # one at a time: TF wheels are ~250 MB
            try:
                wheel_path(req)
                continue
            except FileNotFoundError:
                pass
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", req, "-d", CACHE, *extra],
                           check=True)


_NUMPY_PROBE = r"""
import json, sys, numpy
out = {"names": sorted(n for n in dir(numpy) if not n.startswith("_"))}
dep = getattr(numpy, "__deprecated_attrs__", {}) or {}
out["names"] = sorted(set(out["names"]) | set(dep))
for d in ("__former_attrs__", "__expired_functions__"):
    v = getattr(numpy, d, None)
    if isinstance(v, dict):
        out[d] = {k: (m if isinstance(m, str) else str(m)) for k, m in v.items()}
try:
    from numpy import _expired_attrs_2_0 as e
    out["__expired_attributes__"] = dict(e.__expired_attributes__)
except Exception:
    pass
gone = set(out.get("__former_attrs__", {})) | set(out.get("__expired_attributes__", {})) | set(out.get("__expired_functions__", {}))
out["names"] = sorted(set(out["names"]) - gone)
json.dump(out, sys.stdout)
"""


def _numpy_runtime(wheel: str, ver: str) -> dict:
    """dir(numpy) and NumPy's tables of removed names, read by importing the unpacked wheel in a
    child interpreter (the wheels are built for this Python; nothing is installed)."""
    target = os.path.join("/tmp", "tfhelp-symbols", f"numpy-{ver}")
    if not os.path.isdir(os.path.join(target, "numpy")):
        os.makedirs(target, exist_ok=True)
        zipfile.ZipFile(wheel).extractall(target)
    res = subprocess.run([sys.executable, "-c", _NUMPY_PROBE], cwd=target, capture_output=True, text=True,
                         env={"PYTHONPATH": target, "PATH": os.environ.get("PATH", "")}, timeout=120, check=True)
    data = json.loads(res.stdout)
    data["names"] = set(data["names"])
    return data


def _mod_name(path: str, pkg: str):
    """Module name for a file path inside the wheel, or None for tests / non-modules."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or any(p in _SKIP_SEG or p.endswith("_test") or "-" in p or "." in p for p in parts):
        return None
    if pkg == "tensorflow":
        if parts[0] == "tensorflow_core":
            parts = ["tensorflow"] + parts[1:]
        if parts[0] != "tensorflow":
            return None
        if parts[1:3] in (["_api", "v2"], ["_api", "v1"]):
            parts = ["tensorflow"] + parts[3:]
            if len(parts) == 1 or parts[1:] in (["v1"], ["v2"]):
                return None  # _api/vN/__init__.py and vN.py mirror the real root module
    return ".".join(parts)


def _under_roots(path: str, pkg: str) -> bool:
    return any(path == r or path.startswith(r + "/") for r in ROOTS[pkg])


class _Names(ast.NodeVisitor):
    """Top-level names bound by a module (descends into if / try / with, not into defs)."""

    def __init__(self):
        self.names, self.stars, self.all = set(), [], None
        self.modimports = set()
        self.dicts = {}

    def run(self, tree):
        for node in tree.body:
            self._stmt(node)
        return self

    def _stmt(self, node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.names.add(node.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                self.names.add(a.asname or a.name.split(".")[0])
                self.modimports.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name == "*":
                    self.stars.append((node.module or "", node.level))
                else:
                    self.names.add(a.asname or a.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        self.names.add(n.id)
                        if n.id == "__all__":
                            self.all = _literal_strings(node.value)
                        elif isinstance(getattr(node, "value", None), ast.Dict):
                            self.dicts[n.id] = node.value
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
                extra = _literal_strings(node.value)
                if extra and self.all is not None:
                    self.all = self.all + extra
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                for sub in getattr(node, part, []) or []:
                    self._stmt(sub)
            for h in getattr(node, "handlers", []) or []:
                for sub in h.body:
                    self._stmt(sub)
        elif hasattr(ast, "TryStar") and isinstance(node, ast.TryStar):
            for sub in node.body:
                self._stmt(sub)


def _literal_strings(node):
    if isinstance(node, (ast.List, ast.Tuple)):
        out = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return out
    return None


def _dict_keys(node) -> dict:
    out = {}
    for k, v in zip(node.keys, node.values):
        if isinstance(k, ast.Constant) and isinstance(k.value, str):
            text = None
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                text = v.value
            elif isinstance(v, ast.JoinedStr):
                text = "".join(p.value for p in v.values if isinstance(p, ast.Constant))
            elif isinstance(v, ast.BinOp):
                text = "".join(n.value for n in ast.walk(v) if isinstance(n, ast.Constant) and isinstance(n.value, str))
            out[k.value] = text
    return out


def _virtual_file_for(mod: str, files: dict):
    return files.get(mod)


def _class_attrs(z, files: dict, pkg: str) -> dict:
    """{public class: set(attribute names) or None} from the class bodies in the wheel."""
    wanted = {c for chain in CLASS_TRACK[pkg].values() for c in chain}
    found = defaultdict(set)
    seen = set()
    for mod, member in files.items():
        if member in seen or "/_api/" in member:
            continue
        seen.add(member)
        data = z.read(member)
        if not any(f"class {c}(".encode() in data or f"class {c}:".encode() in data for c in wanted):
            continue
        try:
            tree = ast.parse(data.decode("utf-8", "replace"))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name in wanted:
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        found[node.name].add(item.name)
                        for sub in ast.walk(item):  # instance attributes: self.name = ...
                            targets = sub.targets if isinstance(sub, ast.Assign) else \
                                [sub.target] if isinstance(sub, (ast.AnnAssign, ast.AugAssign)) else []
                            for t in targets:
                                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                                    found[node.name].add(t.attr)
                    elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                        for t in (item.targets if isinstance(item, ast.Assign) else [item.target]):
                            if isinstance(t, ast.Name):
                                found[node.name].add(t.id)
    out = {}
    for cls, chain in CLASS_TRACK[pkg].items():
        if not found.get(chain[0]):
            out[cls] = None  # not in this release's wheel: unknown, not absent
            continue
        names = set()
        for c in chain:
            names |= found.get(c, set())
        out[cls] = {n for n in names if not n.startswith("_")}
    return out


def scan_wheel(pkg: str, ver: str, req: str) -> dict:
    """{module: set(names) or None} for one wheel, plus ``__removed_text__`` (numpy messages)."""
    path = wheel_path(req)
    z = zipfile.ZipFile(path)
    files = {}  # module -> zip member
    for n in z.namelist():
        if not _under_roots(n, pkg):
            continue
        m = _mod_name(n, pkg)
        if m is None:
            continue
        if pkg == "protobuf" and not m.startswith("google.protobuf"):
            continue
        # A generated API file wins over a physical file of the same dotted name.
        if m in files and "/_api/" not in n and not n.startswith("tensorflow_core/"):
            continue
        files[m] = n
    if pkg == "keras" and "keras/api/__init__.py" in z.namelist() and \
            b"__path__.append" in z.read("keras/__init__.py"):
        # Keras 3.3 - 3.8 put keras/api on keras.__path__: keras/api/ops is `keras.ops`
        for m in [m for m in files if m.startswith("keras.api.")]:
            files.setdefault("keras." + m[len("keras.api."):], files[m])
    modules = {}
    parsed = {}

    def names_of(mod, depth=0):
        if mod in parsed:
            return parsed[mod]
        parsed[mod] = set()
        member = files.get(mod)
        if member is None:
            return set()
        try:
            tree = ast.parse(z.read(member).decode("utf-8", "replace"))
        except SyntaxError:
            return set()
        v = _Names().run(tree)
        bound[mod] = set(v.names) - v.modimports
        if "__getattr__" in v.names:
            dynamic.add(mod)
        names = set(v.all) if v.all else set(v.names) - v.modimports
        if v.all:
            names |= {n for n in v.names if not n.startswith("_")}
        for base, level in v.stars:
            if depth > 4:
                break
            target = base
            if level:
                parent = mod.split(".") if member.endswith("__init__.py") else mod.split(".")[:-1]
                parent = parent[:len(parent) - (level - 1)] if level > 1 else parent
                target = ".".join(parent + ([base] if base else []))
            if pkg == "tensorflow":
                target = re.sub(r"^tensorflow(_core)?\._api\.v[12]\.", "tensorflow.", target)
            names |= {n for n in names_of(target, depth + 1) if not n.startswith("_")}
        parsed[mod] = names
        if pkg == "numpy" and mod in ("numpy", "numpy._expired_attrs_2_0"):
            for d in ("__former_attrs__", "__expired_functions__", "__expired_attributes__", "__deprecated_attrs__"):
                if d in v.dicts:
                    keys = _dict_keys(v.dicts[d])
                    removed_text.setdefault(d, {}).update(keys)
                    if d == "__deprecated_attrs__":
                        names |= set(keys)  # still usable, with a DeprecationWarning
                    else:
                        gone.update(keys)  # only there to raise a helpful AttributeError
        return names

    removed_text = {}
    gone = set()
    dynamic = set()
    bound = {}  # module -> every name bound at top level (private ones too)
    pats = NAMES_FOR.get(pkg, [])
    private = PRIVATE_NAMES_FOR.get(pkg, [])
    for mod in files:
        if any(fnmatch.fnmatchcase(mod, p) for p in pats + private) or mod == "numpy._expired_attrs_2_0":
            modules[mod] = {n for n in names_of(mod) if not n.startswith("_")}
            if _match_any(mod, private):
                modules[mod] |= {n for n in bound.get(mod, ()) if _private_name(n)}
        else:
            modules[mod] = None
    # package folders without __init__.py files (namespace-like) still import
    for mod in list(modules):
        parts = mod.split(".")
        for i in range(1, len(parts)):
            modules.setdefault(".".join(parts[:i]), None)
    # a module's submodules are attributes of it once imported
    if pkg == "tensorflow" and ver in TF_KERAS_FROM:
        kpkg, kver, kroot = TF_KERAS_FROM[ver]
        kmods = scan_wheel(kpkg, kver, f"{kpkg}=={kver}")
        prefix = kroot.replace("/", ".")
        for m, names in kmods.items():
            if m == prefix or m.startswith(prefix + "."):
                modules["tensorflow.keras" + m[len(prefix):]] = names
        if "tensorflow" in modules and modules["tensorflow"] is not None:
            modules["tensorflow"].add("keras")
    if pkg == "tensorflow" and ver not in TF_KERAS_FROM:
        # TF before 2.6 carries tf.keras itself, generated under python/keras/api
        prefix = "tensorflow.python.keras.api." + ("_v1.keras" if vkey(ver) < (2,) else "_v2.keras")
        for m in [m for m in modules if m == prefix or m.startswith(prefix + ".")]:
            modules["tensorflow.keras" + m[len(prefix):]] = {n for n in names_of(m) if not n.startswith("_")}
        if modules.get("tensorflow") is not None and "tensorflow.keras" in modules:
            modules["tensorflow"].add("keras")
    for mod in list(modules):
        parent, _, leaf = mod.rpartition(".")
        if parent and modules.get(parent) is not None and not leaf.startswith("_"):
            modules[parent].add(leaf)
    if pkg == "numpy":
        rt = _numpy_runtime(path, ver)
        modules["numpy"] = rt["names"]
        for d in ("__former_attrs__", "__expired_attributes__", "__expired_functions__"):
            if rt.get(d):
                removed_text.setdefault(d, {}).update(rt[d])
    if removed_text:
        modules["__removed_text__"] = removed_text
    modules["__dynamic__"] = dynamic
    if pkg in CLASS_TRACK:
        modules["__classes__"] = _class_attrs(z, files, pkg)
    return modules


# ---------------------------------------------------------------------------------------- diff
_PRIVATE_SEG = {"src", "python", "internal", "legacy", "core", "contrib"}
import typing as _typing  # noqa: E402

_STDLIB = set(getattr(sys, "stdlib_module_names", ())) | {"absolute_import", "division", "print_function",
                                                       "unicode_literals", "np", "tf", "six", "keras",
                                                       "LooseVersion", "StrictVersion", "deprecated",
                                                       "keras_export", "tf_export"} | set(dir(_typing))


def _public(name: str) -> bool:
    parts = name.split(".")[1:]
    return not any(p.startswith("_") or p in _PRIVATE_SEG for p in parts)


def _noise(pkg: str, mod: str, name: str, leaves: set) -> bool:
    """Names that say nothing to a user: imported modules, stdlib names, constants, generated code."""
    if name in _STDLIB or name in leaves or (name.isupper() and len(name) > 3 and mod.count(".") > 0):
        return True
    if mod.endswith("_pb2") or "._" in mod or ".src." in mod or mod.endswith(".src"):
        return True
    return False


def _match_any(mod: str, pats) -> bool:
    return any(fnmatch.fnmatchcase(mod, p) for p in pats)


def _private_name(name: str) -> bool:
    """A single-underscore helper (``_TensorLike``), not a dunder, not a module-level constant."""
    return name.startswith("_") and not name.startswith("__") and not name[1:].isupper()


def _tracked_private(pkg: str, mod: str, name: str) -> bool:
    return _private_name(name) and _match_any(mod, PRIVATE_NAMES_FOR.get(pkg, []))


def build(pkg: str, scans: list) -> list:
    """Rows for one package from [(version, modules)] oldest first."""
    versions = [v for v, _ in scans]
    present_mod = defaultdict(list)   # module -> [bool per version]
    present_sym = defaultdict(list)   # (module, name) -> [bool per version]
    all_syms = set()
    for _v, mods in scans:
        for m, names in mods.items():
            if m.startswith("__"):
                continue
            if names:
                all_syms.update((m, n) for n in names)
    all_mods = {m for _v, mods in scans for m in mods if not m.startswith("__")}
    for _v, mods in scans:
        mods.setdefault("__dynamic__", set())
    for _v, mods in scans:
        for m in all_mods:
            present_mod[m].append(m in mods)
        for m, n in all_syms:
            names = mods.get(m)
            present_sym[(m, n)].append(bool(names) and n in names)
    newest = scans[-1][1]
    dynamic = newest.get("__dynamic__", set())
    leaves = {m.rsplit(".", 1)[-1] for m in all_mods}
    rows = []

    def last_true(flags):
        return max(i for i, f in enumerate(flags) if f)

    def first_true(flags):
        return min(i for i, f in enumerate(flags) if f)

    removed_mods = set()
    for m in sorted(all_mods):
        flags = present_mod[m]
        if flags[-1] or not any(flags):
            continue
        removed_mods.add(m)
    for m in sorted(removed_mods):
        parent = m.rpartition(".")[0]
        if parent in removed_mods and last_true(present_mod[parent]) >= last_true(present_mod[m]):
            continue  # the parent's row covers it
        i = last_true(present_mod[m])
        rows.append({"package": pkg, "kind": "module", "name": m, "removed_in": versions[i + 1],
                     "last_version_with_it": versions[i]})
    # A module that disappeared for some releases and came back (keras.legacy: Keras 2.2-2.3, then
    # again from Keras 3 with other contents): "No module named" in the gap names exactly it
    # (https://github.com/panchunguang/ccks_baidu_entity_link/issues/20); its row says when it was
    # back, so a release from then on is not blamed.
    for m in sorted(all_mods):
        flags = present_mod[m]
        if not flags[-1] or not flags[0] or m in removed_mods:
            continue
        gone = [i for i in range(1, len(flags)) if not flags[i]]
        if len(gone) < 2 or gone != list(range(gone[0], gone[-1] + 1)):
            continue  # present throughout, or absent from one examined release only, or several gaps
        parent = m.rpartition(".")[0]
        if parent and parent in present_mod and not all(present_mod[parent][i] for i in gone):
            continue
        rows.append({"package": pkg, "kind": "module", "name": m, "removed_in": versions[gone[0]],
                     "last_version_with_it": versions[gone[0] - 1], "back_in": versions[gone[-1] + 1]})
    added_pats = ADDED_FOR.get(pkg, [])
    for (m, n), flags in sorted(present_sym.items()):
        if m in removed_mods or (n.startswith("_") and not _tracked_private(pkg, m, n)) \
                or _noise(pkg, m, n, leaves - {m.rsplit(".", 1)[-1]}):
            continue
        if m in dynamic and not (pkg == "numpy" and m == "numpy"):
            continue  # a module-level __getattr__ may still provide it
        if flags[-1] is False and any(flags):
            if not present_mod[m][-1]:
                continue
            if f"{m}.{n}" in all_mods:
                continue  # a submodule: its module row (if any) speaks for it
            i = last_true(flags)
            # a name that only existed in the very oldest sample of a long history is kept too
            rows.append({"package": pkg, "kind": "symbol", "name": f"{m}.{n}", "removed_in": versions[i + 1],
                         "last_version_with_it": versions[i]})
        elif flags[-1] and not flags[0] and _match_any(m, added_pats) and (
                _public(f"{m}.{n}") or _match_any(m, PRIVATE_NAMES_FOR.get(pkg, []))):
            i = first_true(flags)
            if not all(flags[i:]):
                continue
            if not present_mod[m][0]:
                continue  # the whole module is new: reported below as a module
            rows.append({"package": pkg, "kind": "symbol", "name": f"{m}.{n}", "added_in": versions[i],
                         "last_version_without_it": versions[i - 1]})
    for m in sorted(all_mods):
        flags = present_mod[m]
        if flags[-1] and not flags[0] and _match_any(m, added_pats) and all(flags[first_true(flags):]):
            parent = m.rpartition(".")[0]
            if parent and not present_mod.get(parent, [True])[0]:
                continue
            i = first_true(flags)
            rows.append({"package": pkg, "kind": "module", "name": m, "added_in": versions[i],
                         "last_version_without_it": versions[i - 1]})
    private_pats = ADDED_PRIVATE_FOR.get(pkg, [])
    for m in sorted(all_mods):
        flags = present_mod[m]
        if not private_pats or not _match_any(m, private_pats) or _match_any(m, added_pats):
            continue
        if not flags[-1] or flags[0] or not all(flags[first_true(flags):]):
            continue
        i = first_true(flags)
        parent_flags = present_mod.get(m.rpartition(".")[0])
        if not parent_flags or not parent_flags[i - 1]:
            continue  # the parent is new too: the error would name the parent (or an ancestor)
        rows.append({"package": pkg, "kind": "module", "name": m, "added_in": versions[i],
                     "last_version_without_it": versions[i - 1]})
    rows.extend(_class_rows(pkg, scans))
    # replacements
    where = defaultdict(list)  # name -> [modules of the newest version exporting it]
    for m, names in newest.items():
        if m.startswith("__") or not names or not _public(m):
            continue
        for n in names:
            where[n].append(m)
    last_names = {}
    for _v, mods in scans:
        for m, names in mods.items():
            if names:
                last_names[m] = names
    for r in rows:
        if "removed_in" not in r:
            continue
        if r["kind"] == "symbol":
            m, _, n = r["name"].rpartition(".")
            # never a parallel namespace such as numpy.ma (masked arrays) for a plain numpy name
            cands = [c for c in where.get(n, []) if c != m and not (c.endswith(".ma") and not m.endswith(".ma"))]
            if cands:
                r["replacement"] = _closest(m, cands) + "." + n
        else:
            old = {n for n in (last_names.get(r["name"]) or ()) if not n.startswith("_")}
            old = {n for n in old if not _noise(pkg, r["name"], n, set())}
            if len(old) >= 2:
                best, score = None, 0
                for m, names in newest.items():
                    if m.startswith("__") or not names or not _public(m):
                        continue
                    s = len(old & names)
                    if s > score or (s == score and best and len(m) < len(best)):
                        best, score = m, s
                if best and score >= max(2, len(old) // 2):
                    r["replacement"] = best
                    r["replacement_note"] = f"{score} of its {len(old)} public names are in {best}"
    return rows


def _class_rows(pkg: str, scans: list) -> list:
    """Attributes of a tracked class that the newest release no longer has."""
    rows = []
    for cls in CLASS_TRACK.get(pkg, {}):
        seq = [(v, (mods.get("__classes__") or {}).get(cls)) for v, mods in scans]
        known = [(v, a) for v, a in seq if a is not None]
        if len(known) < 2:
            continue
        newest = known[-1][1]
        every = set().union(*(a for _v, a in known))
        for attr in sorted(every - newest):
            last = max(i for i, (_v, a) in enumerate(known) if attr in a)
            rows.append({"package": pkg, "kind": "attribute", "name": f"{ROOTS[pkg][0].replace('/', '.')}.{cls}.{attr}",
                         "class": cls, "aliases": sorted(k for k, v in CLASS_ALIASES.get(pkg, {}).items() if v == cls),
                         "removed_in": known[last + 1][0], "last_version_with_it": known[last][0]})
    return rows


def _closest(old_mod: str, cands: list) -> str:
    old = old_mod.split(".")

    def key(c):
        parts = c.split(".")
        common = sum(1 for a, b in zip(old[1:], parts[1:]) if a == b)
        shared = len(set(old) & set(parts))
        return (-("experimental" not in parts), -common, -shared, len(parts), c)

    return sorted(cands, key=key)[0]


def _numpy_former(scans) -> None:
    """NumPy 1.24 keeps the aliases it removed (np.float, np.int, ...) in ``__former_attrs__`` only
    to raise a helpful error; the releases before it still had them (deprecated, built lazily in
    ``__getattr__``, which ast can't see). Mark them present in those earlier releases."""
    for i, (_v, mods) in enumerate(scans):
        former = (mods.get("__removed_text__") or {}).get("__former_attrs__")
        if former:
            for _v0, older in scans[:i]:
                if older.get("numpy") is not None:
                    older["numpy"] |= set(former)
            return


def _numpy_texts(scans) -> dict:
    out = {}
    for _v, mods in scans:
        for d, entries in (mods.get("__removed_text__") or {}).items():
            for k, text in entries.items():
                if text:
                    out[f"numpy.{k}"] = " ".join(text.split())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--download", action="store_true", help="pip download the missing wheels first")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", nargs="*", help="packages to rebuild (others kept from --out)")
    args = ap.parse_args(argv)
    if args.download:
        download()
    import yaml

    with open(os.path.join(HERE, "overrides.yaml"), encoding="utf-8") as fh:
        overrides = yaml.safe_load(fh)
    all_rows, sources = [], {}
    old = {}
    if args.only and os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as fh:
            prev = json.load(fh)
        for r in prev["rows"]:
            if "removed_in" in r or "added_in" in r:  # rows only an old override made are rebuilt below
                old.setdefault(r["package"], []).append(r)
        sources = prev.get("sources", {})
    for pkg, vers in VERSIONS.items():
        if args.only and pkg not in args.only:
            all_rows.extend(old.get(pkg, []))
            continue
        scans = []
        for ver, req, _extra in vers:
            print(f"scan {pkg} {ver}", file=sys.stderr)
            scans.append((ver, scan_wheel(pkg, ver, req)))
        if pkg == "numpy":
            _numpy_former(scans)
        rows = build(pkg, scans)
        if pkg == "numpy":
            texts = _numpy_texts(scans)
            for r in rows:
                if r["name"] in texts:
                    r["message"] = texts[r["name"]]
        sources[pkg] = {"wheels": [os.path.basename(wheel_path(req)) for _v, req, _e in vers],
                        "release_notes": NOTES[pkg]}
        all_rows.extend(rows)
        print(f"  {pkg}: {len(rows)} rows", file=sys.stderr)
    # curated knowledge
    by_key = {(r["package"], r["name"]): r for r in all_rows}
    for o in overrides.get("rows", []):
        key = (o["package"], o["name"])
        r = by_key.get(key)
        if r is None:
            r = {"package": o["package"], "kind": o.get("kind", "symbol"), "name": o["name"]}
            all_rows.append(r)
            by_key[key] = r
        for k in ("kind", "removed_in", "last_version_with_it", "added_in", "last_version_without_it",
                  "replacement", "replacement_note", "fix", "message"):
            if k in o:
                r[k] = o[k]
        r["curated"] = o["source"]
        if "removed_in" not in r and "added_in" not in r:
            raise SystemExit(f"overrides.yaml: {o['name']} matches no generated row and gives no removed_in/added_in")
    for r in all_rows:
        r.setdefault("source", "wheels")
    all_rows.sort(key=lambda r: (r["package"], r["name"]))
    doc = {"schema": 1,
           "generated_by": "tools/symbols/generate.py",
           "how_to_read": "removed_in / added_in are the first EXAMINED version without / with the name "
                          "(see sources[package].wheels); the change happened after last_version_with_it "
                          "(or last_version_without_it) and no later than that version.",
           "sources": sources, "rows": all_rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"), sort_keys=True)
        fh.write("\n")
    print(f"wrote {args.out}: {len(all_rows)} rows, {os.path.getsize(args.out) // 1024} KB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
