"""The on-disk caches (rule base, compat model, hyperscan database) can't be poisoned or go stale.

Each poisoning test first shows that the planted file *would* be used when it were ours (so the
test can tell a rejected file from an unused one), then that the same file owned by another user,
writable by others, behind a symlink or corrupt is never used.  We run as root in CI: root can
chown a file to ``nobody`` (uid 65534) and must still refuse it.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from tfhelp.kb import cachefile, loader
from tfhelp.kb.loader import load_ruleset

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
posix = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX owners and modes")

RULE = loader.shipped_rules_dir() / "api-change"


@pytest.fixture
def rules_dir(tmp_path):
    src = sorted(RULE.glob("*.yaml"))[0]
    d = tmp_path / "rules" / "api-change"
    d.mkdir(parents=True)
    shutil.copy2(src, d / src.name)
    return tmp_path / "rules", d / src.name


def _load(rules_root):
    return load_ruleset(extra_dirs=[rules_root], user_rules=False, shipped=False, use_cache=True)


def _cache_files():
    return sorted(Path(os.environ["TFHELP_CACHE_DIR"]).glob("rules-*.json"))


def _poison(path: Path, summary: str) -> None:
    doc = json.loads(path.read_bytes())
    for r in doc["rules"]:
        r["summary"] = summary
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)


def test_cache_hit_equals_a_fresh_parse_of_every_shipped_rule():
    parsed = load_ruleset(user_rules=False, use_cache=False)
    first = load_ruleset(user_rules=False, use_cache=True)   # miss: parses and writes
    assert _cache_files(), "no cache file written"
    hit = load_ruleset(user_rules=False, use_cache=True)
    assert hit is not first
    assert hit.rules == parsed.rules == first.rules
    assert hit.problems == parsed.problems
    assert b"pickle" not in _cache_files()[0].read_bytes()[:100]
    json.loads(_cache_files()[0].read_bytes())  # plain JSON data


def test_an_edited_rule_with_the_same_size_and_mtime_is_used_at_once(rules_dir):
    root, path = rules_dir
    before = _load(root).rules[0]
    assert _load(root).rules[0].summary == before.summary  # served from the cache
    st = path.stat()
    text = path.read_text()
    old = before.summary
    assert len(old) > 3
    new = old[:-3] + ("XYZ" if not old.endswith("XYZ") else "ABC")
    edited = text.replace(old, new, 1)
    assert len(edited.encode()) == st.st_size
    path.write_text(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p or a sync tool would
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert _load(root).rules[0].summary == new


@posix
def test_our_own_private_cache_is_used(rules_dir):
    root, _ = rules_dir
    _load(root)
    (cache,) = _cache_files()
    _poison(cache, "POISONED")
    assert _load(root).rules[0].summary == "POISONED"  # the planted file is the one read


@needs_root
def test_a_cache_file_owned_by_another_user_is_never_loaded(rules_dir):
    root, _ = rules_dir
    real = _load(root).rules[0].summary
    (cache,) = _cache_files()
    _poison(cache, "POISONED")
    os.chown(cache, 65534, 65534)
    assert cachefile.untrusted_reason(str(cache)).startswith("owned by uid 65534")
    assert _load(root).rules[0].summary == real


@posix
@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_group_or_world_writable_cache_file_is_never_loaded(rules_dir, mode):
    root, _ = rules_dir
    real = _load(root).rules[0].summary
    (cache,) = _cache_files()
    _poison(cache, "POISONED")
    os.chmod(cache, mode)
    assert _load(root).rules[0].summary == real


@posix
def test_a_cache_in_a_folder_others_can_write_is_never_loaded(rules_dir, tmp_path, monkeypatch):
    root, _ = rules_dir
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    monkeypatch.setenv("TFHELP_CACHE_DIR", str(shared))
    real = _load(root).rules[0].summary
    (cache,) = _cache_files()
    _poison(cache, "POISONED")
    os.chmod(shared, 0o777)  # not sticky: anyone could have swapped the file
    assert _load(root).rules[0].summary == real
    os.chmod(shared, 0o1777)  # sticky, like /tmp: others can't replace our file
    assert _load(root).rules[0].summary == "POISONED"


@posix
def test_a_symlinked_cache_file_is_never_loaded(rules_dir, tmp_path):
    root, _ = rules_dir
    real = _load(root).rules[0].summary
    (cache,) = _cache_files()
    _poison(cache, "POISONED")
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(cache, elsewhere)
    os.symlink(elsewhere, cache)
    assert _load(root).rules[0].summary == real


@pytest.mark.parametrize("garbage", [b"", b"{", b"\x00\xff" * 100, b'{"format": 4}', b"[]"])
def test_a_corrupt_cache_falls_back_to_parsing_and_is_rewritten(rules_dir, garbage):
    root, _ = rules_dir
    real = _load(root).rules
    (cache,) = _cache_files()
    cache.write_bytes(garbage)
    assert _load(root).rules == real
    assert _load(root).rules == real
    (cache,) = _cache_files()
    assert json.loads(cache.read_bytes())["rules"]  # rewritten with good data


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["TFHELP_CACHE_DIR"] + "/PWNED",))


def test_a_pickle_planted_as_the_cache_runs_nothing(rules_dir):
    root, _ = rules_dir
    real = _load(root).rules
    (cache,) = _cache_files()
    cache.write_bytes(pickle.dumps(_Boom()))
    os.chmod(cache, 0o600)
    assert _load(root).rules == real
    assert not (cache.parent / "PWNED").exists()


def test_a_cache_for_another_key_is_not_used(rules_dir):
    """A file renamed to the expected name but built from other rules is a miss."""
    root, path = rules_dir
    _load(root)
    (cache,) = _cache_files()
    doc = json.loads(cache.read_bytes())
    doc["key"] = "0" * 64
    doc["rules"][0]["summary"] = "OTHER"
    cache.write_text(json.dumps(doc))
    os.chmod(cache, 0o600)
    assert _load(root).rules[0].summary != "OTHER"


# -- the compatibility model's cache -------------------------------------------------------------
@needs_root
def test_compat_cache_owned_by_another_user_is_never_loaded():
    from tfhelp.kb import compat

    compat.data.cache_clear()
    real = compat.data()
    compat.data.cache_clear()
    (cache,) = Path(os.environ["TFHELP_CACHE_DIR"]).glob("compat-*.json")
    doc = json.loads(cache.read_bytes())
    doc["data"] = {"poisoned": True}
    cache.write_text(json.dumps(doc))
    os.chmod(cache, 0o600)
    assert compat.data() == {"poisoned": True}  # ours: used
    compat.data.cache_clear()
    os.chown(cache, 65534, 65534)
    try:
        assert compat.data() == real
    finally:
        compat.data.cache_clear()


# -- the hyperscan database cache --------------------------------------------------------------

def _hyperscan():
    from tfhelp.kb.anchors import _hyperscan as find

    hs = find()
    if hs is None:
        pytest.skip("hyperscan not installed")
    return hs


class _Spy:
    """The hyperscan module with ``loadb`` counted."""

    def __init__(self, hs):
        self._hs, self.loads = hs, 0

    def __getattr__(self, name):
        return getattr(self._hs, name)

    def loadb(self, *a, **kw):
        self.loads += 1
        return self._hs.loadb(*a, **kw)


LITS = [b"oom when allocating", b"cudnn", b"illegal instruction"]


def _hsdb(tmp_path, spy):
    from tfhelp.kb.anchors import _load_or_compile

    db = _load_or_compile(spy, LITS, tmp_path)
    hits = []
    db.scan(b"x CUDNN y", match_event_handler=lambda i, f, t, fl, c: hits.append(i))
    assert hits == [1]
    return list(tmp_path.glob("anchors-*.hsdb"))


@posix
def test_hyperscan_cache_is_used_only_when_ours_and_intact(tmp_path):
    spy = _Spy(_hyperscan())
    (f,) = _hsdb(tmp_path, spy)
    assert spy.loads == 0
    _hsdb(tmp_path, spy)
    assert spy.loads == 1  # the cached database was loaded
    os.chmod(f, 0o666)
    _hsdb(tmp_path, spy)
    assert spy.loads == 1  # writable by others: compiled again instead
    os.chmod(f, 0o600)
    blob = bytearray(f.read_bytes())
    blob[-1] ^= 0xFF
    f.write_bytes(bytes(blob))
    _hsdb(tmp_path, spy)
    assert spy.loads == 1  # corrupted body: never handed to the native loader


@needs_root
def test_hyperscan_cache_owned_by_another_user_is_never_loaded(tmp_path):
    spy = _Spy(_hyperscan())
    (f,) = _hsdb(tmp_path, spy)
    os.chown(f, 65534, 65534)
    _hsdb(tmp_path, spy)
    assert spy.loads == 0
