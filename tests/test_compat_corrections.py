"""Compatibility-model corrections from issue 11's review: Windows wheels, minor-version answers."""
from packaging.specifiers import SpecifierSet

from tfhelp.kb import compat


def test_a_minor_means_its_newest_patch():
    # "2.12" is what `==2.12.*` installs: 2.12.1, which allows NumPy 1.24.3 (2.12.0 said <1.24)
    assert compat.numpy_spec_for_tf("2.12") == compat.numpy_spec_for_tf("2.12.1") == ">=1.22,<=1.24.3"
    assert compat.numpy_spec_for_tf("2.12.0") == ">=1.22,<1.24"
    assert compat.wheel_row("2.15")["version"] == "2.15.1"


def test_windows_2_13_comes_from_its_wheels_not_from_linux():
    rows = [r for r in compat.data()["tested_builds"] if r["os"] == "windows" and r["tf"].startswith("2.13")]
    assert len(rows) == 1 and rows[0]["compiler"] is None and "wheel-index" in rows[0]["checked"]
    assert compat.python_versions_for_tf("2.13", "windows") == ["3.8", "3.9", "3.10", "3.11"]
    # a release the Windows table does not know is unknown there, not Linux's answer
    assert compat.python_versions_for_tf("0.12", "windows") == []


def test_tensorflow_intel_era_read_from_the_windows_wheels():
    ev = compat.event("windows-intel-builds")
    assert ev["tf"] == ">=2.10,<2.18.1" and "2.18.0" in ev["fact"] and "2.20" in ev["fact"]
    win = {(r["dist"], r["version"]): r.get("windows", "") for r in compat.data()["wheels"]}
    assert win[("tensorflow", "2.10.1")].startswith("full build")
    assert win[("tensorflow", "2.11.0")].startswith("shell over tensorflow-intel")
    assert win[("tensorflow", "2.18.0")].startswith("shell over tensorflow-intel")
    assert win[("tensorflow", "2.18.1")].startswith("full build")
    assert win[("tensorflow", "2.21.0")].startswith("full build")
    intel = [r for r in compat.data()["binary_wheels"]["rows"]
             if r["dist"] == "tensorflow-intel" and r["python"] == "3.10"][0]["versions"].split()
    assert intel[-1] == "2.18.0" and "2.10.0" in intel


def test_numpy_placeholder_never_admits_numpy2_before_tf_2_18():
    # TF 2.10 / 2.11 declare numpy>=1.20 and 2.14.0 numpy>=1.23.5: no upper bound in the wheel
    for tf in ("2.10.1", "2.11.0", "2.14.0", "2.17.1"):
        spec = SpecifierSet(compat.numpy_install_spec_for_tf(tf))
        assert "1.26.4" in spec or "1.24.3" in spec or "1.23.5" in spec
        assert "2.0.0" not in spec, tf
    assert "2.1.3" in SpecifierSet(compat.numpy_install_spec_for_tf("2.19.0"))


def test_tf_dependents_are_listed_with_their_source():
    deps = {r["dist"]: r for r in compat.data()["tf_dependents"]}
    assert {"tf-keras", "tensorflow-text", "tensorflow-hub"} <= set(deps)
    assert "tensorflow-io" not in deps  # only through its [tensorflow] extra
    assert all(r["source"].startswith("https://pypi.org/project/") for r in deps.values())
