"""tools/symbols/generate.py on tiny synthetic wheels: which names become rows. Private names are
tracked only in the modules PRIVATE_NAMES_FOR lists (libraries reach into those), never as
constants, never elsewhere; public removals and "too old" rows keep working beside them."""
import importlib.util
import zipfile

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("symbols_generate", ROOT / "tools" / "symbols" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def wheel(folder, version, files):
    path = folder / f"keras-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


OLD = {
    "keras/__init__.py": "from keras import backend\n",
    # tracked private module: helpers third-party code calls, plus a constant
    "keras/backend/__init__.py": "def _get_available_gpus():\n    pass\n_SESSION = None\ndef get_session():\n    pass\n",
    # not tracked for private names
    "keras/layers/__init__.py": "def _private_helper():\n    pass\nclass Dense:\n    pass\nclass Merge:\n    pass\n",
}
NEW = {
    "keras/__init__.py": "from keras import backend\n",
    "keras/backend/__init__.py": "def get_session():\n    pass\n",
    "keras/layers/__init__.py": "class Dense:\n    pass\n",
}


def rows_for(gen, tmp_path, monkeypatch):
    wheel(tmp_path, "2.3.1", OLD)
    wheel(tmp_path, "2.4.3", NEW)
    monkeypatch.setattr(gen, "CACHE", str(tmp_path))
    scans = [(v, gen.scan_wheel("keras", v, f"keras=={v}")) for v in ("2.3.1", "2.4.3")]
    return {r["name"]: r for r in gen.build("keras", scans)}


def test_private_helper_of_a_tracked_module_gets_a_removed_row(gen, tmp_path, monkeypatch):
    assert "keras.backend" in gen.PRIVATE_NAMES_FOR["keras"]
    rows = rows_for(gen, tmp_path, monkeypatch)
    r = rows["keras.backend._get_available_gpus"]
    assert (r["kind"], r["removed_in"], r["last_version_with_it"]) == ("symbol", "2.4.3", "2.3.1")


def test_constants_and_untracked_private_names_get_no_rows(gen, tmp_path, monkeypatch):
    rows = rows_for(gen, tmp_path, monkeypatch)
    assert "keras.backend._SESSION" not in rows          # module-level constant, not API
    assert "keras.layers._private_helper" not in rows    # keras.layers is not a tracked private module
    assert "keras.layers.Merge" in rows                   # public removals still reported
    assert "keras.backend.get_session" not in rows        # present in both: no row


def test_private_name_predicate(gen):
    assert gen._private_name("_TensorLike")
    assert not gen._private_name("__all__")
    assert not gen._private_name("_BACKEND")
    assert not gen._private_name("TensorLike")
