"""Structural knowledge: understand the *shape* of an error and answer it from data.

Most install / version errors have one of a few shapes whatever the exact wording:
``cannot import name X from Y``, ``No module named 'Y.Z'``, ``module 'Y' has no attribute 'X'``,
``'X' object has no attribute 'Y'``, ``undefined symbol: S`` in a named library, or a pip
pin conflict. :func:`parse_facts` turns the input into such facts; :func:`diagnose` answers
the ones that name a module or symbol listed in ``kb/data/symbols.json`` (public names that were
removed, moved or added per package version, generated from the real wheels by
``tools/symbols/generate.py``) and pip conflicts that the compatibility model can settle.

The engine calls :func:`diagnose` only when no dedicated rule fired, so a rule always wins. The
table is loaded lazily, the first time a fact names a package it covers (start-up cost matters).
A diagnosis is a synthetic :class:`~tfhelp.kb.model.Rule` with ``origin == "symbol-table"`` and
tag ``symbol-table``, so it renders and serialises like any other.

Why one module of ~800 lines: the fact parsers and the symbol-table lookup are one pipeline
over the same fact types; each parser is a short function.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Optional

_DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "symbols.json")
SYMBOLS_DOC = "kb/data/symbols.json (generated from the packages' wheels by tools/symbols/generate.py)"

#: Cheap substrings: without one of them no fact can be parsed (checked before importing this).
TRIGGERS = ("cannot import name", "no module named", "has no attribute", "undefined symbol",
            "symbol not found", "which is incompatible", "conflicting dependencies", "conflict is caused by")

#: import root -> distribution in the table
ROOT_DIST = {"keras": "keras", "tensorflow": "tensorflow", "tf_keras": "tf-keras", "numpy": "numpy",
             "google.protobuf": "protobuf", "ml_dtypes": "ml-dtypes", "h5py": "h5py",
             "tensorflow_addons": "tensorflow-addons"}
#: what people call the package in prose
DISPLAY = {"keras": "Keras", "tensorflow": "TensorFlow", "tf-keras": "tf-keras", "numpy": "NumPy",
           "protobuf": "protobuf", "ml-dtypes": "ml_dtypes", "h5py": "h5py",
           "tensorflow-addons": "TensorFlow Addons"}
#: TensorFlow add-ons whose native ops are built against one TensorFlow minor
ADDON_LIBS = {"tensorflow_io": ("tensorflow-io", "https://github.com/tensorflow/io#tensorflow-version-compatibility"),
              "tensorflow_text": ("tensorflow-text", "https://github.com/tensorflow/text#compatibility"),
              "tensorflow_addons": ("tensorflow-addons", "https://github.com/tensorflow/addons#python-op-compatibility-matrix"),
              "tensorflow_decision_forests": ("tensorflow-decision-forests",
                                              "https://github.com/tensorflow/decision-forests/blob/main/documentation/known_issues.md"),
              "tensorflow_recommenders_addons": ("tensorflow-recommenders-addons",
                                                 "https://github.com/tensorflow/recommenders-addons#compatibility-with-tensorflow")}

class _Lazy:
    """A regex compiled on first use: importing this module stays cheap."""

    __slots__ = ("_args", "_rx")

    def __init__(self, *args):
        self._args, self._rx = args, None

    def __getattr__(self, name):
        if self._rx is None:
            self._rx = re.compile(*self._args)
        return getattr(self._rx, name)


_IDENT = r"[A-Za-z_][\w]*"
_DOTTED = rf"{_IDENT}(?:\.{_IDENT})*"
_Q = r"['\"]"
_CANNOT_IMPORT = _Lazy(
    rf"cannot import name {_Q}?(?P<name>{_IDENT}){_Q}?(?: from {_Q}?(?P<module>{_DOTTED}){_Q}?)?"
    r"(?: \((?P<path>[^)]*)\))?", re.I)
_NO_MODULE = _Lazy(rf"No module named {_Q}?(?P<module>{_DOTTED}){_Q}?", re.I)
_MODULE_ATTR = _Lazy(rf"module {_Q}(?P<module>{_DOTTED}){_Q} has no attribute {_Q}(?P<name>{_IDENT}){_Q}")
_OBJECT_ATTR = _Lazy(rf"{_Q}(?P<cls>{_DOTTED}){_Q} object has no attribute {_Q}(?P<name>{_IDENT}){_Q}")
_UNDEF = _Lazy(r"(?:undefined symbol|Symbol not found):\s*(?P<sym>[^\s,;'\"]+)")
_LIB_PATH = _Lazy(r"(?P<path>(?:[A-Za-z]:)?[^\s:'\"()]*[/\\](?P<file>[^/\\\s:'\"()]+\.(?:so(?:\.[\d.]+)?|dylib|pyd)))")
_REQUIRES = _Lazy(
    # pip >= 20.3: "X 1.0 requires Y<2, but you have Y 3"; older pip: "X 1.0 has requirement Y<2, but you'll have Y 3"
    r"^(?:ERROR: |[`>\s]+)?(?P<who>[A-Za-z0-9][\w.\-]*) (?P<whover>\d[\w.+!]*) (?:requires|has requirement) (?P<req>[A-Za-z0-9][\w.\-\[\]]*)"
    r"(?P<spec>[<>=!~][^,]*(?:,[<>=!~][^,]*)*)?, but you(?: have|'ll have) (?P<have>[A-Za-z0-9][\w.\-]*) (?P<havever>\d[\w.+!]*)"
    r" which is incompatible", re.M)
_CANNOT_INSTALL = _Lazy(r"Cannot install (?P<what>.+?) because these package versions have conflicting dependencies")
_DEPENDS = _Lazy(r"^\s*(?P<who>[A-Za-z0-9][\w.\-]*) (?P<whover>\d[\w.+!]*) depends on (?P<req>[A-Za-z0-9][\w.\-]*)"
                      r"(?:\[[^\]]*\])?(?P<spec>[<>=!~][^\s;]*)?", re.M)
_USER_REQ = _Lazy(r"^\s*The user requested (?P<req>[A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?(?P<spec>[<>=!~][^\s;]*)?", re.M)
_KERAS3_PATH = _Lazy(r"[/\\]keras[/\\](?:src[/\\](?:backend|ops|models|trainers|layers[/\\]layer\.py)|_tf_keras[/\\]|api[/\\]_tf_keras)")
_KERAS2_PATH = _Lazy(r"[/\\]keras[/\\](?:src[/\\]engine[/\\]|engine[/\\]|api[/\\]_v2[/\\])")


@dataclass
class Fact:
    kind: str                 # cannot-import | no-module | module-attr | object-attr | undefined-symbol | pin-conflict
    line: int                 # 0-based line index
    text: str
    module: Optional[str] = None
    name: Optional[str] = None
    path: Optional[str] = None
    library: Optional[str] = None
    conflicts: list = field(default_factory=list)  # [{"requirer", "requirer_version", "package", "spec", "installed"}]
    confirmed: Optional[bool] = None  # the installed version (or the paths) agree with the table row
    env_reason: str = ""

    def to_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items()
               if v not in (None, [], "") and k not in ("confirmed", "env_reason")}
        out["line"] = self.line + 1
        return out


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_facts(lines: list) -> list:
    """Structured facts from cleaned lines; at most one fact per line and per distinct content."""
    facts, seen = [], set()

    def add(f: Fact):
        key = (f.kind, f.module, f.name, f.library)
        if key not in seen:
            seen.add(key)
            facts.append(f)

    for i, line in enumerate(lines):
        if len(line) > 4096:
            line = line[:4096]
        low = line.lower()
        if "cannot import name" in low:
            m = _CANNOT_IMPORT.search(line)
            if m:
                add(Fact("cannot-import", i, line.strip(), module=m.group("module"), name=m.group("name"),
                         path=m.group("path")))
                continue
        if "no module named" in low:
            m = _NO_MODULE.search(line)
            if m:
                add(Fact("no-module", i, line.strip(), module=m.group("module")))
                continue
        if "has no attribute" in low:
            m = _MODULE_ATTR.search(line)
            if m:
                add(Fact("module-attr", i, line.strip(), module=m.group("module"), name=m.group("name")))
                continue
            m = _OBJECT_ATTR.search(line)
            if m:
                add(Fact("object-attr", i, line.strip(), module=m.group("cls"), name=m.group("name")))
                continue
        if "undefined symbol" in low or "symbol not found" in low:
            m = _UNDEF.search(line)
            if m:
                lib = _LIB_PATH.search(line)
                if lib is None:  # macOS prints the library on the next lines ("Referenced from: ...")
                    for nxt in lines[i + 1:i + 4]:
                        lib = _LIB_PATH.search(nxt)
                        if lib:
                            break
                add(Fact("undefined-symbol", i, line.strip(), name=m.group("sym"),
                         path=lib.group("path") if lib else None, library=lib.group("file") if lib else None))
    text = "\n".join(lines)
    if "which is incompatible" in text:
        for m in _REQUIRES.finditer(text):
            i = text.count("\n", 0, m.start())
            add(Fact("pin-conflict", i, m.group(0), name=_canon(m.group("req")), conflicts=[{
                "requirer": _canon(m.group("who")), "requirer_version": m.group("whover"),
                "package": _canon(m.group("req")), "spec": (m.group("spec") or "").strip(),
                "installed": m.group("havever")}]))
    if "conflicting dependencies" in text or "conflict is caused by" in text.lower():
        m = _CANNOT_INSTALL.search(text)
        deps = list(_DEPENDS.finditer(text))
        users = list(_USER_REQ.finditer(text))
        if m or deps:
            i = text.count("\n", 0, (m or deps[0]).start())
            conflicts = [{"requirer": _canon(d.group("who")), "requirer_version": d.group("whover"),
                          "package": _canon(d.group("req")), "spec": d.group("spec") or ""} for d in deps]
            conflicts += [{"requirer": "user", "requirer_version": "", "package": _canon(u.group("req")),
                           "spec": u.group("spec") or ""} for u in users]
            add(Fact("pin-conflict", i, (m.group(0) if m else deps[0].group(0)).strip(),
                     name=conflicts[0]["package"] if conflicts else None, conflicts=conflicts))
    return facts


def versions_from_paths(text: str) -> dict:
    """Package generations the traceback's paths give away, as PEP 440 specs: {'keras': '>=3'}."""
    out = {}
    if _KERAS3_PATH.search(text):
        out["keras"] = ">=3"
    elif _KERAS2_PATH.search(text):
        out["keras"] = "<3"
    return out


# ------------------------------------------------------------------------------------- the table
@lru_cache(maxsize=1)
def table() -> dict:
    """{(package, name): row} plus the document's sources, loaded once, only when needed."""
    with open(_DATA_FILE, encoding="utf-8") as fh:
        doc = json.load(fh)
    rows, attrs = {}, {}
    for r in doc["rows"]:
        if "removed_in" not in r and "added_in" not in r:
            continue
        if r["kind"] == "attribute":
            for cls in [r["class"]] + list(r.get("aliases") or ()):
                attrs[(cls, r["name"].rsplit(".", 1)[1])] = r
        else:
            rows[r["name"]] = r
    return {"rows": rows, "attrs": attrs, "sources": doc.get("sources", {})}


def _dist_of(module: Optional[str]) -> Optional[str]:
    if not module:
        return None
    if module.startswith("google.protobuf"):
        return "protobuf"
    return ROOT_DIST.get(module.split(".", 1)[0])


#: Other spellings of a public namespace that error messages use: (prefix, replacement).
_ALIASES = (("keras._tf_keras.keras.", "tensorflow.keras."), ("keras._tf_keras.keras", "tensorflow.keras"),
            ("keras.api._v2.keras.", "keras."), ("keras.api._v2.keras", "keras"),
            ("keras.api._v1.keras.", "keras."), ("keras.api.", "keras."),
            ("tensorflow._api.v2.", "tensorflow."), ("tensorflow._api.v1.", "tensorflow."),
            ("tensorflow.compat.v2.", "tensorflow."), ("tensorflow_core.", "tensorflow."),
            ("tensorflow.python.keras.api._v2.keras.", "tensorflow.keras."),
            ("tf_keras.api._v2.keras.", "tf_keras."), ("tf_keras.api._v1.keras.", "tf_keras."),
            # last resort: tf.keras of TF 2.6-2.15 is the keras package, and Keras 3 from TF 2.16
            ("tensorflow.keras.", "keras."))


def _spellings(module: str) -> list:
    out = [module]
    for old, new in _ALIASES:
        if module.startswith(old) if old.endswith(".") else module == old:
            out.append(new + module[len(old):])
    return out


#: An object-attribute row only counts when the input mentions its package (a 'Model' or
#: 'Dataset' class exists in many libraries).
_ATTR_CONTEXT = {"keras": ("keras", "tensorflow"), "h5py": ("h5py",)}


def lookup(fact: Fact, text_lower: str = "") -> Optional[dict]:
    """The table row that explains this fact, or None."""
    if fact.kind == "object-attr":
        r = table()["attrs"].get(((fact.module or "").rsplit(".", 1)[-1], fact.name))
        if r and any(w in text_lower for w in _ATTR_CONTEXT.get(r["package"], ())):
            return r
        return None
    if fact.kind not in ("cannot-import", "no-module", "module-attr"):
        return None
    for module in _spellings(fact.module or ""):
        if fact.kind == "no-module" and module.startswith("keras.") and fact.module.startswith("tensorflow.keras."):
            continue  # a tf.keras submodule that never existed is not a moved Keras module
        r = _lookup(fact, module)
        if r is not None:
            return r
    return None


def _lookup(fact: Fact, module: str) -> Optional[dict]:
    dist = _dist_of(module)
    if dist is None:
        return None
    rows = table()["rows"]
    if fact.kind == "no-module":
        parts = module.split(".")
        if len(parts) < 2 and dist != "protobuf":
            return None  # the package itself is missing: not a moved name
        # the module itself, else the nearest removed ancestor (a removed subtree has one row)
        for n in range(len(parts), 1, -1):
            r = rows.get(".".join(parts[:n]))
            if r and r["kind"] == "module" and r["package"] == dist and ("removed_in" in r or n == len(parts)):
                return r
        return None
    for name in (f"{module}.{fact.name}",):
        r = rows.get(name)
        if r and r["package"] == dist:
            return r
    # `from keras.engine.topology import X` fails on the removed module too
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        r = rows.get(".".join(parts[:n]))
        if r and r["kind"] == "module" and r["package"] == dist and "removed_in" in r:
            return r
    return None


# -------------------------------------------------------------------------------- diagnoses
def _minor(v: Optional[str]) -> Optional[str]:
    m = re.match(r"(\d+)\.(\d+)", str(v or ""))
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _vt(v: Optional[str]) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", str(v or ""))[:3])


def _spec_ok(version: str, spec: Optional[str]) -> Optional[bool]:
    if not spec:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        return None


def _env_version(env, dist: str) -> Optional[str]:
    if env is None:
        return None
    try:
        return env.version(dist)
    except Exception:  # noqa: BLE001
        return (getattr(env, "packages", None) or {}).get(dist)


def _tf_version(env) -> Optional[str]:
    return _env_version(env, "tensorflow")


def _pins_for_tf(tf: str, python: Optional[str]) -> dict:
    """{dist: spec} that this TF's wheel declares for the packages we may pin."""
    from tfhelp.kb import compat

    out = {}
    try:
        out["numpy"] = compat.numpy_spec_for_tf(tf, python)
        out["protobuf"] = compat.protobuf_spec_for_tf(tf, python)
        out["keras"] = compat.keras_spec_for_tf(tf)
        out["tf-keras"] = compat.tf_keras_spec_for_tf(tf)
    except Exception:  # noqa: BLE001 - unknown: no constraint rather than a crash
        pass
    return {k: v for k, v in out.items() if v}


def _numpy_guard(tf: Optional[str], python: Optional[str]) -> Optional[str]:
    """The NumPy range to install beside a TF release (numpy<2 before 2.18 and always for 1.x/unknown-2.x)."""
    if not tf:
        return None
    from tfhelp.kb import compat

    try:
        return compat.numpy_spec_for_tf(tf, python)
    except Exception:  # noqa: BLE001
        return None


def _fix(title: str, steps: list, fits=None) -> dict:
    return {"title": title, "steps": steps, "fits": fits, "failed_before": False}


def _py_ident(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _code_fix(fact: Fact, row: dict) -> Optional[dict]:
    repl = row.get("replacement")
    if not repl:
        if row.get("fix"):
            return _fix("Change the code", [{"action": "manual", "text": row["fix"],
                                             "link": row.get("curated") or _notes_url(row)}])
        return None
    if " " in repl or "/" in repl or row.get("fix"):
        return _fix(f"Use {repl}", [{"action": "manual", "text": row.get("fix") or f"Use {repl} instead.",
                                     "link": row.get("curated") or _notes_url(row)}])
    old = row["name"]
    if row["kind"] == "symbol":
        new_mod, _, new_name = repl.rpartition(".")
        old_mod, _, old_name = old.rpartition(".")
        if fact.kind == "module-attr":
            before, after = _as_written(f"{old_mod}.{old_name}"), _as_written(repl)
        else:
            before = f"from {old_mod} import {old_name}"
            after = f"from {new_mod} import {new_name}"
    else:
        before, after = f"import {old}", f"import {repl}"
        if fact.kind == "cannot-import" and fact.module and fact.module.startswith(old):
            before = f"from {fact.module} import {fact.name}"
            after = f"from {repl} import {fact.name}"
    return _fix(f"Use {repl} instead of {old}", [{"action": "code_change", "before": before, "after": after},
                                                 {"action": "verify", "check": "script"}])


def _as_written(dotted: str) -> str:
    """How code usually spells a dotted name: np.float_, tf.Session."""
    for full, short in (("numpy.", "np."), ("tensorflow.", "tf.")):
        if dotted.startswith(full):
            return short + dotted[len(full):]
    return dotted


def _notes_url(row: dict) -> Optional[str]:
    src = table()["sources"].get(row["package"]) or {}
    return src.get("release_notes")


def _pin_fixes(row: dict, env) -> list:
    """Pins that bring back the last examined version that had the name, only where they fit
    TensorFlow's own pins (as the compatibility model knows them)."""
    pkg = row["package"]
    python = getattr(env, "python", None) if env is not None else None
    tf = _tf_version(env)
    out = []
    if "removed_in" in row:
        last = row.get("last_version_with_it")
        if not last:
            return out
        if pkg == "tensorflow":
            if _vt(last) < (2,):
                return out  # TF 1.x wheels stop at Python 3.7: migrate instead (tf.compat.v1)
            from tfhelp.kb import compat

            req_py = compat.requires_python_for_tf(last)
            if python and req_py and _spec_ok(python, req_py) is False:
                return out
            pkgs = [f"tensorflow=={_minor(last)}.*"]
            np_spec = _numpy_guard(last, python)
            if np_spec:
                pkgs.append(f"numpy{np_spec}")
            if row["name"].startswith("tensorflow.keras") and _vt(last) < (2, 16):
                kspec = compat.keras_spec_for_tf(last)
                if kspec:
                    pkgs.append(f"keras{kspec}")
            return [_fix(f"Go back to TensorFlow {_minor(last)} (the last examined release with it)",
                         [{"action": "pip_install", "packages": pkgs}, _verify_import(row)], fits=None)]
        if pkg == "keras":
            if tf and _vt(tf) >= (2, 16) and _vt(last) < (3,):
                spec = _pins_for_tf(tf, python).get("tf-keras")
                if spec:
                    return [_fix("Keep Keras 2 code on this TensorFlow with tf-keras",
                                 [{"action": "pip_install", "packages": [f"tf-keras{spec}"]},
                                  {"action": "set_env", "name": "TF_USE_LEGACY_KERAS", "value": "1", "scope": "session"},
                                  {"action": "verify", "check": "import", "code": "import tf_keras"}], fits=True)]
                return out
            if tf:
                kspec = _pins_for_tf(tf, python).get("keras")
                if kspec and _spec_ok(last, kspec) is False:
                    return out  # this TensorFlow needs a Keras without it
                return [_fix(f"Pin keras=={last} (the last examined release with it; it fits TensorFlow {tf})",
                             [{"action": "pip_install", "packages": [f"keras=={last}"]}, _verify_import(row)], fits=True)]
            if _vt(last) >= (2, 6) and _vt(last) < (3,):
                # Keras 2.6-2.15 go with the TensorFlow of the same minor; pin both (and its NumPy)
                tfm = _minor(last)
                pkgs = [f"keras=={last}", f"tensorflow=={tfm}.*"]
                np_spec = _numpy_guard(tfm + ".0", python)
                if np_spec:
                    pkgs.append(f"numpy{np_spec}")
                return [_fix(f"Go back to Keras {last} with TensorFlow {tfm}", [
                    {"action": "pip_install", "packages": pkgs}, _verify_import(row)])]
            return out
        if pkg in ("numpy", "protobuf", "ml-dtypes", "h5py", "tf-keras", "tensorflow-addons"):
            if pkg == "numpy" and _vt(last) >= (2,) and not tf and not _known_without_tf(env):
                return [_fix(f"Pin numpy=={last} only if no TensorFlow older than 2.18 shares the environment", [{
                    "action": "manual",
                    "text": f"numpy=={last} is a NumPy 2 release: TensorFlow before 2.18 needs numpy<2, so check "
                            "the installed TensorFlow first (tfhelp doctor) or change the code instead.",
                    "link": "https://github.com/tensorflow/tensorflow/releases/tag/v2.18.0"}])]
            if tf:
                spec = _pins_for_tf(tf, python).get(pkg)
                if spec and _spec_ok(last, spec) is False:
                    return out  # the installed TensorFlow doesn't accept that release
            return [_fix(f"Pin {pkg}=={last} (the last examined release with it)",
                         [{"action": "pip_install", "packages": [f"{pkg}=={last}"]}, _verify_import(row)],
                         fits=True if tf else None)]
        return out
    # added_in: the installed release is older than the name
    first = row.get("added_in")
    if not first:
        return out
    spec = f">={first}"
    if pkg == "numpy":
        if tf:
            tf_spec = _pins_for_tf(tf, python).get("numpy")
            if tf_spec and _spec_ok(first, tf_spec) is False:
                return [_fix(f"TensorFlow {tf} does not accept NumPy {first}", [{
                    "action": "manual",
                    "text": f"The code needs NumPy {first} or newer, but TensorFlow {tf} pins numpy{tf_spec}. "
                            "Upgrade TensorFlow to a release that accepts it, or use code written for the older NumPy.",
                    "link": "https://github.com/tensorflow/tensorflow/releases/tag/v2.18.0"}])]
            if tf_spec:
                spec = _intersect(spec, tf_spec)
        elif _vt(first) < (2,) and not _known_without_tf(env):
            spec += ",<2"  # NumPy 2 breaks every TensorFlow before 2.18; unknown TF: stay on 1.x
        elif not _known_without_tf(env):
            return [_fix(f"Upgrade NumPy to {first} or newer (check your TensorFlow accepts it)", [{
                "action": "manual",
                "text": f"NumPy {first} is needed; TensorFlow releases before 2.18 need numpy<2, so check the "
                        "installed TensorFlow first (tfhelp doctor).",
                "link": "https://numpy.org/devdocs/numpy_2_0_migration_guide.html"}])]
    elif pkg in ("protobuf", "keras", "tf-keras") and tf:
        tf_spec = _pins_for_tf(tf, python).get(pkg)
        if tf_spec:
            if _spec_ok(first, tf_spec) is False and not _upper_allows(tf_spec, first):
                return out
            spec = _intersect(spec, tf_spec)
    elif pkg in ("protobuf", "keras", "tf-keras") and not _known_without_tf(env):
        # TensorFlow unknown: an open-ended upgrade could leave its pins (Keras 3 needs TF 2.16+,
        # protobuf 5/6 break older TF), so say what is needed instead of installing blindly
        return [_fix(f"Upgrade {pkg} to {first} or newer, within your TensorFlow's pins", [{
            "action": "manual",
            "text": f"The code needs {pkg}>={first}. Check which {pkg} the installed TensorFlow accepts first "
                    f"(tfhelp doctor, or pip show tensorflow); if it doesn't accept {first}, upgrade TensorFlow "
                    f"together with {pkg}.",
            "link": _notes_url(row)}])]
    elif pkg == "tensorflow":
        return out  # a TensorFlow upgrade drags NumPy/Keras/protobuf along: leave it to a rule or doctor
    return [_fix(f"Upgrade {pkg} to {first} or newer", [
        {"action": "pip_install", "packages": [f"{pkg}{spec}"]}, _verify_import(row)], fits=True if tf else None)]


def _upper_allows(spec: str, version: str) -> bool:
    """True when a version >= ``version`` can still satisfy ``spec`` (no upper bound below it)."""
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("<") and _vt(part.lstrip("<=")) <= _vt(version):
            return False
        if part.startswith("=="):
            return _vt(part[2:].rstrip(".*")) >= _vt(version)
    return True


def _intersect(a: str, b: str) -> str:
    try:
        from tfhelp.kb.compat import _intersect as inter

        return inter([a, b]) or a
    except Exception:  # noqa: BLE001
        return f"{a},{b}"


def _verify_import(row: dict) -> dict:
    name = row["name"]
    if row["kind"] == "attribute":
        code = f"import {name.split('.', 1)[0]}; {name}"
    elif row["kind"] == "module":
        code = f"import {name}"
    else:
        mod, _, attr = name.rpartition(".")
        code = f"import {mod}; {mod}.{attr}"
    return {"action": "verify", "check": "import", "code": code}


def _rule(rid: str, title: str, category: str, summary: str, cause: str, refs: list, confidence="high",
          severity="fatal"):
    from tfhelp.kb.model import Rule

    return Rule(id=rid, title=title[:80], category=category, severity=severity, summary=summary, cause=cause,
                references=[r for r in refs if r], all=[], any=[], none=[], fixes=[], examples_match=[],
                examples_no_match=[], confidence=confidence, tags=["symbol-table"], path=SYMBOLS_DOC,
                origin="symbol-table")


def _describe(row: dict, fact: Fact) -> tuple:
    pkg = DISPLAY.get(row["package"], row["package"])
    what = {"module": "module", "attribute": f"attribute of {row.get('class')} objects"}.get(row["kind"], "name")
    name = row["name"]
    if row["kind"] == "attribute":
        name = name.split(".", 1)[1]  # Model.predict_classes
    if "removed_in" in row:
        last, gone = row.get("last_version_with_it"), row["removed_in"]
        moved = row.get("replacement")
        title = f"{name} is gone by {pkg} {_minor(gone) or gone}" + (f" (use {moved})" if moved else "")
        cause = (f"The {what} {name} is not in {pkg} {gone}: the newest examined release that still has it is "
                 f"{last}, so it was removed or moved after {last} (at the latest in {gone}).")
        if row.get("back_in"):
            cause += (f" A {what} of that name is back from {pkg} {row['back_in']}, with other contents: the "
                      f"installed release is one from {gone} up to before {row['back_in']}.")
        if moved:
            cause += f" The same name is now public as {moved}." if row["kind"] == "symbol" and " " not in moved \
                else f" Its replacement: {moved}."
        if row.get("message"):
            cause += f" NumPy's own note: {row['message']}"
        if _is_private(row["name"]):
            cause += (" It is a private internal (not in the documented API), which releases change without "
                      "notice: usually a third-party library written for the older release reaches it, so that "
                      "library's release for your version is the fix.")
        cause += (" Code (yours or a library's) written for the older release asks for it. "
                  f"From {SYMBOLS_DOC}.")
        summary = f"{name} no longer exists in {pkg} {_minor(gone) or gone}; " + \
            (f"use {moved}." if moved else f"change the code or pin {row['package']} {last}.")
        rid = {"module": "symbols-removed-module", "attribute": "symbols-removed-attribute"}.get(
            row["kind"], "symbols-removed-name")
        category = "import" if fact.kind in ("no-module", "cannot-import") else "api-change"
    else:
        first, before = row["added_in"], row.get("last_version_without_it")
        if before and _adjacent_minors(before, first):
            title = f"{name} needs {pkg} {_minor(first) or first} or newer"
        else:  # examined releases leave a gap: name only what is known (newer than the last without it)
            title = f"{name} needs {pkg} newer than {_minor(before) or before or '?'}"
        cause = (f"The {what} {name} first appears in {pkg} {first} among the examined releases ({before} "
                 f"does not have it). The installed {pkg} is older than the code expects. From {SYMBOLS_DOC}.")
        if row.get("fix"):
            cause += " " + row["fix"]
        summary = f"{name} only exists from {pkg} {_minor(first) or first}: the installed {pkg} is too old."
        rid = "symbols-package-too-old"
        category = "import" if fact.kind in ("no-module", "cannot-import") else "api-change"
    return rid, title, category, summary, cause


def _adjacent_minors(a: str, b: str) -> bool:
    """1.23 -> 1.24, 2.15 -> 2.16, 2.x -> 3.0: no unexamined minor release between them."""
    va, vb = _vt(a), _vt(b)
    if len(va) < 2 or len(vb) < 2:
        return False
    return (va[0] == vb[0] and vb[1] - va[1] <= 1) or (vb[0] == va[0] + 1 and vb[1] == 0)


def _is_private(dotted: str) -> bool:
    """tensorflow.python.*, keras.src.*, keras.backend._x: reached by libraries, never documented."""
    parts = dotted.split(".")[1:]
    return any(p.startswith("_") or p in ("python", "src") for p in parts)


def _row_refs(row: dict) -> list:
    refs = []
    if row.get("curated"):
        refs.append(row["curated"])
    notes = _notes_url(row)
    if notes:
        refs.append(notes)
    wheels = (table()["sources"].get(row["package"]) or {}).get("wheels") or []
    if wheels:
        refs.append(f"https://pypi.org/project/{row['package']}/#history")
    return refs


def consistent(row: dict, env, path_versions: dict) -> tuple:
    """(verdict, reason): does the installed release (or what the paths show) agree with the row?
    False means the table says the name should be there, so something else is going on."""
    pkg = row["package"]
    if env is not None:
        installed = _tf_version(env) if pkg == "tensorflow" else (getattr(env, "packages", None) or {}).get(pkg)
    else:
        installed = None
    label = "probed" if getattr(env, "source", "") == "probe" else "inferred"
    if installed:
        iv = _vt(installed)
        if "removed_in" in row:
            if iv <= _vt(row.get("last_version_with_it")):
                return False, f"{pkg} {installed} still has it according to the table"
            if row.get("back_in") and iv >= _vt(row["back_in"]):
                return False, f"{pkg} {installed} has it again according to the table (back in {row['back_in']})"
            if iv >= _vt(row["removed_in"]):
                return True, f"confirmed by the {label} environment: {pkg} {installed} (gone from {row['removed_in']})"
        elif "added_in" in row:
            if iv >= _vt(row["added_in"]):
                return False, f"{pkg} {installed} already has it according to the table"
            if iv <= _vt(row.get("last_version_without_it")):
                return True, f"confirmed by the {label} environment: {pkg} {installed} (needs {row['added_in']})"
        return None, ""
    seen = path_versions.get(pkg)
    if seen and "removed_in" in row and pkg == "keras":
        keras3 = seen == ">=3"
        gone_in_3 = _vt(row["removed_in"]) >= (3,) and _vt(row.get("last_version_with_it")) < (3,)
        if keras3 and row.get("back_in") and _vt(row["back_in"]) < (4,) and _vt(row["back_in"]) >= (3,):
            return False, "the traceback's paths show Keras 3, which has it again"
        if gone_in_3:
            return (True, "the traceback's paths show Keras 3") if keras3 else (False, "the paths show Keras 2")
    return None, ""


def _symbol_diagnosis(fact: Fact, row: dict, env) -> tuple:
    rid, title, category, summary, cause = _describe(row, fact)
    fixes = []
    code = _code_fix(fact, row) if "removed_in" in row else None
    if code:
        fixes.append(code)
    fixes.extend(_pin_fixes(row, env))
    if "removed_in" not in row and row.get("fix"):
        fixes.append(_fix("Make the installed releases fit the code", [{"action": "manual", "text": row["fix"],
                                               "link": row.get("curated")}]))
    if not fixes:
        fixes.append(_fix("Change the code for the installed release", [{
            "action": "manual", "text": f"{row['name']} is not in the installed {DISPLAY.get(row['package'])}: "
                                        "use the API of the installed release (see its release notes).",
            "link": _notes_url(row)}]))
    wheels = (table()["sources"].get(row["package"]) or {}).get("wheels") or []
    versions = [w.split("-")[1] for w in wheels if w.count("-") >= 2]
    cause += f" Releases compared: {', '.join(versions)}." if versions else ""
    rule = _rule(rid, title, category, summary, cause, _row_refs(row))
    return rule, fixes


def _addon_diagnosis(fact: Fact, env) -> Optional[tuple]:
    path = (fact.path or "").replace("\\", "/")
    hit = next(((k, v) for k, v in ADDON_LIBS.items() if f"/{k}/" in path), None)
    if hit is None:
        return None
    root, (dist, link) = hit
    tf = _tf_version(env)
    cause = (f"The native library {fact.library} of {dist} refers to a C++ symbol ({fact.name[:80]}) that the loaded "
             f"TensorFlow does not export. {dist}'s compiled ops are built against one TensorFlow release (its "
             "compatibility table lists which); with another TensorFlow installed the library fails to load.")
    steps = []
    mm = _minor(tf)
    if dist == "tensorflow-text" and mm:
        steps.append({"action": "pip_install", "packages": [f"tensorflow-text=={mm}.*"]})
    steps.append({"action": "manual", "text": f"Install the {dist} release listed for TensorFlow "
                                              f"{mm or 'of your environment'} in its compatibility table, or the "
                                              f"TensorFlow release that {dist} was built for.", "link": link})
    rule = _rule("symbols-addon-abi-mismatch", f"{dist} Was Built for Another TensorFlow", "import",
                 f"{dist}'s native ops do not match the installed TensorFlow.", cause, [link], confidence="medium")
    return rule, [_fix(f"Install the {dist} release built for your TensorFlow", steps)]


def _conflict_diagnosis(fact: Fact, env) -> Optional[tuple]:
    from tfhelp.kb import compat

    tf_dists = set(compat.data().get("tf_distributions", []))
    python = getattr(env, "python", None) if env is not None else None
    for c in fact.conflicts:
        who, pkg, spec = c["requirer"], c["package"], c.get("spec") or ""
        good = None
        if who in tf_dists and c.get("requirer_version") and pkg in ("numpy", "protobuf", "keras", "tf-keras",
                                                                      "ml-dtypes", "typing-extensions", "h5py"):
            tf = c["requirer_version"]
            pins = _pins_for_tf(tf, python)
            good = pins.get(pkg) or spec
            ctx = f"TensorFlow {tf} ({who}) declares {pkg}{good}"
        elif who == "tf-keras" and pkg in tf_dists and c.get("requirer_version"):
            tf_installed = c.get("installed") or _tf_version(env)
            tk = compat.tf_keras_spec_for_tf(tf_installed) if tf_installed else None
            if tk:
                rule = _rule("symbols-pip-pin-conflict", "tf-keras Does Not Match the Installed TensorFlow", "install",
                             f"tf-keras {c['requirer_version']} requires {pkg}{spec}; install the tf-keras of your TensorFlow.",
                             f"tf-keras releases pin TensorFlow to their own minor version; tf-keras "
                             f"{c['requirer_version']} wants {pkg}{spec} but TensorFlow {tf_installed} is installed. "
                             "Installing the tf-keras of the installed TensorFlow's minor keeps TensorFlow as it is.",
                             ["https://pypi.org/project/tf-keras/#history",
                              "https://github.com/tensorflow/tensorflow/releases/tag/v2.16.1"])
                return rule, [_fix(f"Install tf-keras{tk} (matches TensorFlow {tf_installed})", [
                    {"action": "pip_install", "packages": [f"tf-keras{tk}"]},
                    {"action": "verify", "check": "import", "code": "import tf_keras"}], fits=True)]
            continue
        elif spec and who != "user":
            good = spec
            tf = _tf_version(env)
            if tf and pkg in ("numpy", "protobuf"):
                tf_spec = _pins_for_tf(tf, python).get(pkg)
                if tf_spec:
                    good = _intersect(spec, tf_spec)
            ctx = f"{who} {c.get('requirer_version', '')} declares {pkg}{spec}".replace("  ", " ")
        if not good:
            continue
        if pkg == "numpy" and "<" not in good and not _numpy_safe_without_cap(env):
            good = _intersect(good, "<2")
        installed = f" (installed: {c['installed']})" if c.get("installed") else ""
        rule = _rule("symbols-pip-pin-conflict", f"pip Pin Conflict: {who} Needs {pkg}{good}"[:80], "install",
                     f"{ctx}; the environment has another {pkg}{installed}.",
                     f"pip reported that {who} {c.get('requirer_version', '')} cannot use the {pkg} being installed"
                     f"{installed}. {ctx}, so {pkg} has to be in that range for {who} to work. "
                     "Installing the range that both sides accept resolves it.",
                     ["https://pip.pypa.io/en/stable/topics/dependency-resolution/",
                      "https://github.com/tensorflow/tensorflow/releases"], confidence="medium")
        return rule, [_fix(f"Install {pkg}{good}", [{"action": "pip_install", "packages": [f"{pkg}{good}"]},
                                                    {"action": "verify", "check": "import",
                                                     "code": f"import {_import_name(pkg)}"}])]
    return None


#: distributions whose import name is not the distribution name with "-" -> "_"
IMPORT_NAME = {"protobuf": "google.protobuf", "grpcio": "grpc", "absl-py": "absl", "opencv-python": "cv2",
               "opencv-python-headless": "cv2", "pyyaml": "yaml", "pillow": "PIL", "scikit-learn": "sklearn"}


def _import_name(dist: str) -> str:
    """What ``import`` needs to check that ``dist`` works after a fix (``import protobuf`` fails)."""
    d = dist.lower()
    return IMPORT_NAME.get(d, d.replace("-", "_"))


def _known_without_tf(env) -> bool:
    """A probed environment that has no TensorFlow at all (so no TF pin can be broken)."""
    return env is not None and getattr(env, "source", "") == "probe" and not _tf_version(env)


def _numpy_safe_without_cap(env) -> bool:
    tf = _tf_version(env)
    return bool(tf) and _vt(tf) >= (2, 18)


def diagnose(doc, env) -> tuple:
    """``([(rule, fixes, evidence_line_indices, fact)], facts)``: the facts the table or the compat
    model explain, and every fact parsed (for the report's ``input.facts.structural``)."""
    facts = parse_facts(doc.lines)
    path_versions = None
    out = []
    for f in facts:
        try:
            if f.kind == "pin-conflict":
                res = _conflict_diagnosis(f, env)
            elif f.kind == "undefined-symbol":
                res = _addon_diagnosis(f, env)
            else:
                row = lookup(f, doc.lower)
                res = None
                if row:
                    if path_versions is None:
                        path_versions = versions_from_paths(doc.text)
                    f.confirmed, f.env_reason = consistent(row, env, path_versions)
                    if f.confirmed is not False:
                        res = _symbol_diagnosis(f, row, env)
        except (OSError, ValueError, KeyError) as exc:  # a broken table must not break a diagnosis
            res = None
            del exc
        if res:
            rule, fixes = res
            if any(o[0].id == rule.id and o[0].title == rule.title for o in out):
                continue
            out.append((rule, fixes, [f.line], f))
    return out, facts
