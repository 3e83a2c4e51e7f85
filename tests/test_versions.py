"""The fast specifier path agrees with packaging wherever it answers."""
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tfhelp.kb.versions import _fast, spec_contains

part = st.integers(min_value=0, max_value=12)
release = st.lists(part, min_size=1, max_size=4).map(lambda xs: ".".join(map(str, xs)))
op = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "~="])
clause = st.one_of(st.tuples(op, release, st.just("")),
                   st.tuples(st.sampled_from(["==", "!="]), release, st.just(".*")))


@settings(max_examples=2000, deadline=None)
@given(st.lists(clause, min_size=1, max_size=3), release)
def test_fast_path_agrees_with_packaging(clauses, version):
    spec = ",".join(f"{o}{v}{star}" for o, v, star in clauses)
    if any(o == "~=" and "." not in v for o, v, _ in clauses):
        return  # invalid PEP 440 (~= needs two components); packaging rejects it
    fast = _fast(spec, version)
    if fast is not None:
        assert fast == SpecifierSet(spec).contains(Version(version), prereleases=True), (spec, version)


def test_examples_and_fallback():
    assert spec_contains("<2.18", "2.15.0") is True
    assert spec_contains(">=2.16,<2.18", "2.18.1") is False
    assert spec_contains("~=2.15.0", "2.15.9") is True and spec_contains("~=2.15.0", "2.16.0") is False
    assert spec_contains("==2.15.*", "2.15.1") is True
    assert spec_contains("<2", "2.0.0rc1") is False  # packaging path: a 2.0 pre-release is not < 2
    assert spec_contains(">=1.26", "1.26.4+cu118") is True
    assert spec_contains("not a spec", "1.0") is None and spec_contains("<2", "banana") is None
