"""Real fix transactions in throwaway venvs with tiny pure packages (offline from a wheel cache):
apply + verify + undo in a later process, a failure mid-way rolled back exactly, a failed
verification, and a crash between steps that the journal can still roll back."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv

import pytest

from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.assistant.fixes.journal import Journal, snapshot_distributions, versions
from tfhelp.assistant.fixes.plan import apply_plan, build_plan, undo_last

WHEELS = os.path.expanduser("~/.cache/tfhelp-wheels")
NEEDED = {"six-1.16.0-py2.py3-none-any.whl": "six==1.16.0", "six-1.17.0-py2.py3-none-any.whl": "six==1.17.0",
          "six-1.15.0-py2.py3-none-any.whl": "six==1.15.0", "idna-3.7-py3-none-any.whl": "idna==3.7"}
PIP_ARGS = ("--no-index", "--find-links", WHEELS)


@pytest.fixture(scope="session")
def wheels():
    missing = [req for f, req in NEEDED.items() if not os.path.exists(os.path.join(WHEELS, f))]
    # First run on a machine: fetch once, every later run is offline. One requirement per call:
    # pip refuses several versions of one package in a single download (ResolutionImpossible).
    for req in missing:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", WHEELS, req], check=True)
    return WHEELS


@pytest.fixture(scope="session")
def base_venv(tmp_path_factory, wheels):
    d = tmp_path_factory.mktemp("base") / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(d)
    py = str(d / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_ARGS, "six==1.16.0"],
                   check=True)
    return d


@pytest.fixture
def target(base_venv, tmp_path):
    d = tmp_path / "venv"
    shutil.copytree(base_venv, d, symlinks=True)
    return str(d / "bin" / "python")


@pytest.fixture
def journal(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path / "state"))
    return Journal(str(tmp_path / "state"))


def pip_list(py):
    out = subprocess.run([py, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {d["name"].lower(): d["version"] for d in json.loads(out)}


def test_apply_verify_then_undo_from_a_new_process_restores_exact_versions(target, journal, tmp_path):
    before = pip_list(target)
    c = ApplyContext(python=target, pip_args=PIP_ARGS)
    fix = {"title": "Upgrade six", "steps": [
        {"action": "pip_install", "packages": ["six==1.17.0", "idna==3.7"]},
        {"action": "verify", "check": "import", "code": "import six, idna; assert six.__version__ == '1.17.0'"}]}
    plan = build_plan(fix, c, rule_id="demo-rule", fix_index=0)
    out = apply_plan(plan, c, journal=journal)
    assert out.status == "applied" and out.verified == "passed" and out.ok
    assert out.changes == {"changed": {"six": ["1.16.0", "1.17.0"]}, "added": {"idna": "3.7"}, "removed": {}}
    entry = journal.get(out.entry_id)
    assert entry["snapshot"]["distributions"]["six"]["version"] == "1.16.0"
    assert entry["snapshot"]["distributions"]["six"]["installer"] == "pip"
    assert pip_list(target)["six"] == "1.17.0"
    # a later session: a fresh interpreter that knows only the journal on disk
    code = textwrap.dedent(f"""
        import json
        from tfhelp.assistant.fixes.actions import ApplyContext
        from tfhelp.assistant.fixes.plan import undo_last
        r = undo_last({target!r}, ApplyContext(python={target!r}))
        print(json.dumps({{"ok": r["ok"], "exact": r["exact"], "entry": r["entry"]["id"]}}))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout.strip().splitlines()[-1])
    assert r == {"ok": True, "exact": True, "entry": out.entry_id}
    assert pip_list(target) == before
    assert journal.get(out.entry_id)["status"] == "undone"
    assert undo_last(target, c, journal=journal)["entry"] is None       # nothing left to undo


def test_pip_failure_midway_rolls_back_to_exactly_the_snapshot(target, journal):
    before = pip_list(target)
    c = ApplyContext(python=target, pip_args=PIP_ARGS)
    fix = {"title": "Broken fix", "steps": [
        {"action": "pip_install", "packages": ["idna==3.7"]},
        {"action": "pip_install", "packages": ["six==1.17.0"]},
        {"action": "pip_install", "packages": ["tfhelp-no-such-package-zzz==1.0"]},
        {"action": "verify", "check": "import", "code": "import six"}]}
    out = apply_plan(build_plan(fix, c, rule_id="demo-rule", fix_index=1), c, journal=journal,
                     rollback_on_failure=True)
    assert [s.ok for s in out.steps] == [True, True, False]
    assert out.steps[2].returncode != 0 and "tfhelp-no-such-package-zzz" in out.steps[2].output
    assert out.verification == []                      # no verification of a half-applied fix
    assert out.status == "rolled-back" and out.rollback["exact"] is True and not out.ok
    assert pip_list(target) == before
    assert journal.get(out.entry_id)["status"] == "rolled-back"
    assert journal.failed_fixes(target, "demo-rule")[0]["fix_index"] == 1


def test_failed_verification_is_reported_and_rollback_is_offered(target, journal):
    before = pip_list(target)
    c = ApplyContext(python=target, pip_args=PIP_ARGS)
    fix = {"title": "Wrong fix", "steps": [
        {"action": "pip_install", "packages": ["six==1.17.0"]},
        {"action": "verify", "check": "import", "code": "import six; assert six.__version__ == '0.1', six.__version__"}]}
    asked = []
    out = apply_plan(build_plan(fix, c, rule_id="demo-rule", fix_index=0), c, journal=journal,
                     ask_rollback=lambda o: asked.append(o.verified) or False)
    assert asked == ["failed"]
    assert out.status == "applied" and out.verified == "failed" and not out.ok
    assert "AssertionError: 1.17.0" in out.verification[0].output
    assert pip_list(target)["six"] == "1.17.0"          # declined: left as is, but undoable
    assert journal.failed_fixes(target, "demo-rule")
    r = undo_last(target, c, journal=journal)
    assert r["ok"] and r["exact"] and pip_list(target) == before


CRASHER = textwrap.dedent("""
    import os, sys
    from tfhelp.assistant.fixes import actions
    from tfhelp.assistant.fixes.actions import ApplyContext
    from tfhelp.assistant.fixes.plan import apply_plan, build_plan
    real = actions.apply_step
    def apply_then_die(planned, ctx):
        res = real(planned, ctx)
        if planned.index == 1:
            os._exit(9)        # the power goes out between step 2 and step 3
        return res
    actions.apply_step = apply_then_die
    py, find_links = sys.argv[1], sys.argv[2]
    c = ApplyContext(python=py, pip_args=("--no-index", "--find-links", find_links))
    fix = {"title": "t", "steps": [{"action": "pip_install", "packages": ["idna==3.7"]},
                                   {"action": "pip_install", "packages": ["six==1.17.0"]},
                                   {"action": "pip_uninstall", "packages": ["six"]}]}
    apply_plan(build_plan(fix, c, rule_id="demo-rule", fix_index=0), c)
""")


def test_journal_survives_a_crash_between_steps_and_undo_restores(target, journal):
    before = pip_list(target)
    p = subprocess.run([sys.executable, "-c", CRASHER, target, WHEELS], env=dict(os.environ))
    assert p.returncode == 9
    (entry,) = journal.entries(target)
    # step 2 ran but died before its result was recorded: the snapshot is all undo can trust
    assert entry["status"] == "applying" and len(entry["steps"]) == 1 and entry["changes"] is None
    assert pip_list(target) != before
    c = ApplyContext(python=target, pip_args=PIP_ARGS)
    r = undo_last(target, c, journal=journal)
    assert r["ok"] and r["exact"], r
    assert pip_list(target) == before


def test_undo_refuses_when_the_user_changed_a_package_later_unless_forced(target, journal):
    before = pip_list(target)
    c = ApplyContext(python=target, pip_args=PIP_ARGS)
    out = apply_plan(build_plan({"title": "t", "steps": [{"action": "pip_install", "packages": ["idna==3.7", "six==1.17.0"]}]},
                                c), c, journal=journal)
    assert out.ok and out.verified == "none"
    subprocess.run([target, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_ARGS, "six==1.15.0"],
                   check=True)
    r = undo_last(target, c, journal=journal)
    assert not r["ok"] and r["refused"] and r["drift"] == [{"what": "six", "after": "1.17.0", "now": "1.15.0"}]
    assert "six: 1.17.0 after the fix, 1.15.0 now" in r["messages"]
    assert pip_list(target)["six"] == "1.15.0" and pip_list(target)["idna"] == "3.7"   # nothing touched
    assert journal.get(out.entry_id)["status"] == "applied"
    r = undo_last(target, c, journal=journal, force=True)
    assert r["ok"] and r["exact"] and pip_list(target) == before


def test_snapshot_reads_exact_versions_and_installer(target):
    snap = snapshot_distributions(target)
    assert versions(snap)["six"] == "1.16.0"
    assert snap["six"]["installer"] == "pip" and snap["six"]["direct_url"] is None
