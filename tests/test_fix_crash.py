"""Fix and undo transactions under kill -9, a second process, a full disk and a tampered journal.

Each crash test runs a real `tfhelp fix` / `tfhelp undo` process with TFHELP_FAULT naming one
point of the transaction (see assistant/fixes/journal.py: fault), which makes that process SIGKILL
itself (and its pip, as `kill -9 -PGID` would) right there. Afterwards: the process did die by
SIGKILL, the journal reads back whole, the next start reports the half-done fix, and `tfhelp undo`
puts the environment back exactly as it was. The default-suite matrix uses steps that need no
packages (a shell-profile block, a code edit); the slow one adds real pip steps in a throwaway
venv from the offline wheel cache.
"""
from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import venv

import pytest

from conftest import write_rule
from tfhelp.assistant.context import Context
from tfhelp.assistant.fixes import journal as jmod
from tfhelp.assistant.fixes.actions import ApplyContext
from tfhelp.assistant.fixes.journal import Journal
from tfhelp.assistant.fixes.plan import apply_plan, build_plan, undo_last
from tfhelp.assistant.frontends import cli

from test_fix_transaction import PIP_ARGS, base_venv, pip_list, target, wheels  # noqa: F401,E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and process groups are POSIX")

EXIT_BUSY = 75

FILE_RULE = """\
id: demo-crash-files
title: Demo Crash Test With Files
category: tf1-api
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for the crash tests: two profile blocks and a code edit, no packages.
references: [https://www.tensorflow.org/api_docs/python/tf/random/normal]
match:
  all:
    - {name: m, type: literal, value: "has no attribute 'random_normal_crash'"}
fixes:
  - title: Rename and set two variables
    steps:
      - {action: set_env, name: TFHELP_DEMO_A, value: "1", scope: user-profile}
      - {action: code_change, before: "tf.random_normal_crash(", after: "tf.random.normal("}
      - {action: set_env, name: TFHELP_DEMO_B, value: "2", scope: user-profile}
      - {action: verify, check: import, code: "import sys"}
examples:
  match: ["AttributeError: module 'tensorflow' has no attribute 'random_normal_crash'"]
  no_match: ["AttributeError: module 'tensorflow' has no attribute 'random'"]
verified: false
"""

ORIGINAL_CODE = "import tensorflow as tf\na = tf.random_normal_crash((3, 3))\n"
ORIGINAL_PROFILE = "# my bashrc\nexport PATH=$PATH:/opt/bin\n"


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory):
    """A venv without pip: a real separate environment, made in a fraction of a second."""
    d = tmp_path_factory.mktemp("bare") / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(d)
    return str(d / "bin" / "python")


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A home folder with a .bashrc, a script to edit, a rules folder; env for child processes."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(ORIGINAL_PROFILE)
    code = tmp_path / "model.py"
    code.write_text(ORIGINAL_CODE)
    write_rule(tmp_path / "rules", "tf1-api", "demo-crash-files", FILE_RULE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/bash")
    return {"home": home, "profile": home / ".bashrc", "code": code, "rules": str(tmp_path / "rules"),
            "state": os.environ["TFHELP_STATE_DIR"]}


def cli_in_process(argv):
    ctx = Context(stdin=io.StringIO(""), stdout=io.StringIO(), stderr=io.StringIO(), width=200, color=False)
    rc = cli.main(argv, ctx)
    return rc, ctx.stdout.getvalue(), ctx.stderr.getvalue()


def cli_process(argv, fault=None, delay=None, timeout=180, **kw):
    """`python -m tfhelp ARGV` in its own process group (so a fault can take pip down with it)."""
    env = dict(os.environ)
    env.pop("TFHELP_FAULT", None)
    if fault:
        env["TFHELP_FAULT"] = fault
    if delay is not None:
        env["TFHELP_FAULT_DELAY"] = str(delay)
    return subprocess.run([sys.executable, "-m", "tfhelp", *argv], env=env, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True, **kw)


def file_fix_argv(world, python):
    return ["fix", "demo-crash-files", "--rules", world["rules"], "--python", python, "--file",
            str(world["code"]), "--yes"]


def journal_files(state):
    d = os.path.join(state, "journal")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def assert_journal_whole(state):
    """Every entry on disk parses and is valid; nothing was set aside."""
    j = Journal(state)
    entries = j.entries()
    assert j.problems == [], j.problems
    return entries


def assert_files_original(world):
    assert world["profile"].read_text() == ORIGINAL_PROFILE
    assert world["code"].read_text() == ORIGINAL_CODE


# journal writes of the file fix: 1 applying+snapshot, 2 before step 1 (write-ahead), 3 after step 1,
# 4 before step 2, 5 after step 2, 6 before step 3, 7 after step 3, 8 applied, 9 final (verified)
# (the write-ahead and "applied" writes are near twins of the points beside them: slow suite only)
FIX_POINTS = ["after-snapshot", "before-step:1", "after-step:1", "after-save:1", "after-step:2", "after-save:2",
              "after-step:3", "before-verify", "before-final-save", "during-journal-write:1",
              "during-journal-write:3", "during-journal-write:9"] + [
    pytest.param(f"during-journal-write:{n}", marks=pytest.mark.slow) for n in (2, 4, 5, 6, 7, 8)]


@pytest.mark.parametrize("point", FIX_POINTS)
def test_kill_9_at_each_point_of_a_fix_leaves_a_journal_that_undo_restores_from(point, world, bare_venv):
    p = cli_process(file_fix_argv(world, bare_venv), fault=point)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    entries = assert_journal_whole(world["state"])
    if point == "during-journal-write:1":
        # died writing the first entry: nothing was changed, nothing is recorded, nothing to undo
        assert entries == [] and [n for n in journal_files(world["state"]) if not n.startswith(".")] == []
        assert_files_original(world)
        rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
        assert rc == 0 and "Nothing to undo" in out
        assert journal_files(world["state"]) == []          # the half-written temporary file was cleaned up
        return
    (entry,) = entries
    finished = point in ("before-final-save", "during-journal-write:9")
    assert entry["status"] == ("applied" if finished else "applying")
    assert entry["snapshot"]["files"][str(world["code"])]["existed"] is True
    # the next start reports the half-done fix (and marks it, so it is only "new" once)
    rc, out, err = cli_in_process(["history", "--python", bare_venv])
    assert rc == 0
    if finished:
        assert "interrupted" not in err
    else:
        assert "was interrupted before it finished" in err and "tfhelp undo" in err
        assert Journal(world["state"]).get(entry["id"])["status"] == "interrupted"
        assert Journal(world["state"]).recover(bare_venv)[0]["new"] is False
    assert not [n for n in journal_files(world["state"]) if n.endswith(".tmp")]
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0, out + err
    assert_files_original(world)
    (entry,) = assert_journal_whole(world["state"])
    assert entry["status"] == "undone"
    rc, out, _ = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0 and "Nothing to undo" in out


UNDO_POINTS = ["undo-start", "undo-after-step:1", "undo-after-step:2", "undo-after-restore",
               "during-journal-write:1", "during-journal-write:2"]


@pytest.mark.parametrize("point", UNDO_POINTS)
def test_kill_9_during_undo_is_reported_and_the_next_undo_finishes_it(point, world, bare_venv):
    rc, out, err = cli_in_process(file_fix_argv(world, bare_venv))
    assert rc == 0, out + err
    assert "TFHELP_DEMO_A" in world["profile"].read_text() and "random.normal" in world["code"].read_text()
    p = cli_process(["undo", "--python", bare_venv, "--yes"], fault=point)
    assert p.returncode == -signal.SIGKILL, (p.stdout, p.stderr)
    (entry,) = assert_journal_whole(world["state"])
    if point == "during-journal-write:1":   # died marking it "undoing": nothing undone yet
        assert entry["status"] == "applied"
    elif point == "during-journal-write:2":  # died recording "undone": all was put back already
        assert entry["status"] == "undoing"
        assert_files_original(world)
    else:
        assert entry["status"] == "undoing"
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0, out + err
    if entry["status"] == "undoing":
        assert "an undo of Rename and set two variables" in err and "Run `tfhelp undo` again" in err
    assert_files_original(world)
    (entry,) = assert_journal_whole(world["state"])
    assert entry["status"] == "undone"


WAIT_RULE = """\
id: demo-crash-wait
title: Demo Crash Test That Waits
category: import
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for the concurrency test: its check waits until the test lets it finish.
references: [https://docs.python.org/3/library/fcntl.html]
match:
  all:
    - {name: m, type: literal, value: "demo wait signature"}
fixes:
  - title: Set a variable and wait
    steps:
      - {action: set_env, name: TFHELP_DEMO_WAIT, value: "1", scope: user-profile}
      - {action: verify, check: import, code: "import os, time; open(os.environ['TFHELP_TEST_STARTED'], 'w').close(); [time.sleep(0.05) for _ in range(2400) if not os.path.exists(os.environ['TFHELP_TEST_GO'])]"}
examples:
  match: ["demo wait signature"]
  no_match: ["demo nothing"]
verified: false
"""


def test_a_second_fix_or_undo_on_the_same_env_is_refused_with_the_lock_message(world, bare_venv, tmp_path, monkeypatch):
    write_rule(tmp_path / "rules", "import", "demo-crash-wait", WAIT_RULE)
    started, go = tmp_path / "started", tmp_path / "go"
    monkeypatch.setenv("TFHELP_TEST_STARTED", str(started))
    monkeypatch.setenv("TFHELP_TEST_GO", str(go))
    argv = ["fix", "demo-crash-wait", "--rules", world["rules"], "--python", bare_venv, "--yes"]
    first = subprocess.Popen([sys.executable, "-m", "tfhelp", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        # the first one holds the environment's lock: a second fix (even through another name of
        # the same environment's interpreter) and an undo are refused, nothing is changed
        profile = world["profile"].read_text()
        other_name = os.path.join(os.path.dirname(bare_venv), "python3")
        for args in (argv, ["fix", "demo-crash-wait", "--rules", world["rules"], "--python", other_name, "--yes"],
                     ["undo", "--python", bare_venv, "--yes"]):
            t0 = time.monotonic()
            p = cli_process(args, timeout=60)
            assert p.returncode == EXIT_BUSY, (args, p.returncode, p.stdout, p.stderr)
            assert f"another tfhelp process {first.pid} is changing" in p.stderr
            assert "nothing was changed: wait for it to finish, then try again" in p.stderr
            assert time.monotonic() - t0 < 30
        assert world["profile"].read_text() == profile
        assert len(assert_journal_whole(world["state"])) == 1
        go.write_text("")
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, out + err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    (entry,) = assert_journal_whole(world["state"])
    assert entry["status"] == "applied" and entry["verification"]["status"] == "passed"
    # the lock is free again: undo works
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0 and world["profile"].read_text() == ORIGINAL_PROFILE


HOLDER = textwrap.dedent("""
    import sys, time
    from tfhelp.assistant.fixes.journal import Journal
    j = Journal(sys.argv[1])
    lock = j.transaction_lock(sys.argv[2]).acquire(blocking=False)
    e = j.new_entry(sys.argv[2], rule_id="r", fix_index=0, fix_title="slow fix")
    e["status"] = "applying"; e["snapshot"] = {"distributions": {}, "env": {}, "files": {}}
    j.save(e)
    print(e["id"], flush=True)
    time.sleep(60)
""")


def test_recovery_leaves_a_fix_in_progress_alone_and_reports_it_once_its_process_is_dead(tmp_path):
    state, py = str(tmp_path / "st"), "/envs/x/bin/python"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, state, py], stdout=subprocess.PIPE, text=True)
    try:
        entry_id = holder.stdout.readline().strip()
        j = Journal(state)
        assert j.recover() == [] and j.get(entry_id)["status"] == "applying"   # alive: not ours to touch
    finally:
        holder.kill()
        holder.wait()
    (n,) = j.recover()
    assert n["entry"] == entry_id and n["new"] and n["was"] == "applying" and n["status"] == "interrupted"
    assert "slow fix" in n["message"] and "`tfhelp undo`" in n["message"]
    assert j.get(entry_id)["status"] == "interrupted" and j.get(entry_id)["recovered"]["was"] == "applying"
    assert j.last_undoable(py)["id"] == entry_id


# --- a full disk ----------------------------------------------------------------------------


def _save_one(j, steps_output="x"):
    e = j.new_entry("/envs/a/bin/python", rule_id="r", fix_index=0, fix_title="t")
    e["status"] = "applied"
    e["snapshot"] = {"distributions": {"six": {"name": "six", "version": "1.16.0"}}}
    e["steps"] = [{"index": 0, "action": "pip_install", "ok": True, "output": steps_output}]
    j.save(e)
    return e


@pytest.mark.parametrize("fail", ["write", "fsync"])
def test_enospc_during_a_journal_write_leaves_the_previous_entry_intact(tmp_path, monkeypatch, fail):
    j = Journal(str(tmp_path))
    e = _save_one(j)
    path = os.path.join(j.dir, e["id"] + ".json")
    good = open(path, "rb").read()
    real_write = os.write

    def full_write(fd, data):  # the disk fills up half-way through the entry
        real_write(fd, bytes(data[: max(1, len(data) // 2)]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    e["status"] = "undone"
    e["steps"][0]["output"] = "y" * 100_000
    with monkeypatch.context() as m:
        m.setattr(jmod.os, "write" if fail == "write" else "fsync", full_write if fail == "write" else full_fsync)
        with pytest.raises(OSError) as exc:
            j.save(e)
    assert exc.value.errno == errno.ENOSPC
    assert open(path, "rb").read() == good                       # the old entry, byte for byte
    assert sorted(os.listdir(j.dir)) == [e["id"] + ".json"]      # no temporary file left behind
    assert j.get(e["id"])["status"] == "applied" and j.problems == []


def test_a_fix_stops_before_the_next_step_when_the_journal_cannot_be_written(world, monkeypatch):
    j = Journal(world["state"])
    c = ApplyContext(python=sys.executable, profile_path=str(world["profile"]), code_file=str(world["code"]))
    fix = {"title": "t", "steps": [
        {"action": "set_env", "name": "TFHELP_DEMO_A", "value": "1", "scope": "user-profile"},
        {"action": "code_change", "before": "tf.random_normal_crash(", "after": "tf.random.normal("}]}
    plan = build_plan(fix, c, rule_id="r", fix_index=0)
    real = jmod.atomic_write_json
    calls = []

    def fail_third(path, data):  # 1: applying, 2: before step 1, 3: after step 1 -> disk full
        calls.append(data["status"])
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(jmod, "atomic_write_json", fail_third)
    out = apply_plan(plan, c, journal=j)
    assert out.status == "failed" and not out.ok
    assert any("No space left on device" in m for m in out.messages)
    assert any("stopped after step 1" in m for m in out.messages)
    assert world["code"].read_text() == ORIGINAL_CODE             # step 2 never ran
    monkeypatch.setattr(jmod, "atomic_write_json", real)
    # space is back: the write-ahead record of step 1 is enough to undo it
    r = undo_last(sys.executable, c, journal=j)
    assert r["ok"], r
    assert_files_original(world)


def test_a_fix_whose_first_journal_write_fails_changes_nothing(world, monkeypatch):
    j = Journal(world["state"])
    c = ApplyContext(python=sys.executable, profile_path=str(world["profile"]))
    plan = build_plan({"title": "t", "steps": [{"action": "set_env", "name": "TFHELP_DEMO_A", "value": "1",
                                                "scope": "user-profile"}]}, c)

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jmod, "atomic_write_json", full)
    out = apply_plan(plan, c, journal=j)
    assert out.status == "not-run" and out.entry_id is None and out.steps == []
    assert any("nothing was changed" in m for m in out.messages)
    assert world["profile"].read_text() == ORIGINAL_PROFILE


FSIZE = textwrap.dedent("""
    import resource, signal, sys
    from tfhelp.assistant.fixes.journal import Journal
    j = Journal(sys.argv[1])
    e = j.new_entry("/envs/a/bin/python", rule_id="r", fix_index=0, fix_title="t")
    e["status"] = "applied"; e["snapshot"] = {"distributions": {}}
    j.save(e)
    print(e["id"], flush=True)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # get EFBIG from write() instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    e["status"] = "undone"; e["steps"] = [{"output": "z" * 50000}]
    try:
        j.save(e)
    except OSError as exc:
        print("error", exc.errno, flush=True)
""")


def test_a_real_write_failure_from_the_kernel_keeps_the_old_entry(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write part-way (EFBIG): no mocks involved."""
    p = subprocess.run([sys.executable, "-c", FSIZE, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    entry_id, err = p.stdout.split("\n")[:2]
    assert err == f"error {errno.EFBIG}"
    j = Journal(str(tmp_path))
    assert j.get(entry_id)["status"] == "applied" and j.problems == []
    assert sorted(os.listdir(j.dir)) == [entry_id + ".json"]


# --- a truncated or hand-edited journal ----------------------------------------------------


def _applied_entry(world, python):
    rc, out, err = cli_in_process(file_fix_argv(world, python))
    assert rc == 0, out + err
    (entry,) = assert_journal_whole(world["state"])
    return entry, os.path.join(world["state"], "journal", entry["id"] + ".json")


def test_a_truncated_entry_is_set_aside_whole_and_reported_clearly(world, bare_venv):
    entry, path = _applied_entry(world, bare_venv)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])
    rc, out, err = cli_in_process(["history", "--python", bare_venv])
    assert rc == 0 and "Traceback" not in out + err
    assert f"set aside unreadable journal file {entry['id']}.json (JSONDecodeError)" in " ".join((out + err).split())
    (aside,) = [n for n in journal_files(world["state"]) if ".corrupt-" in n]
    assert open(os.path.join(world["state"], "journal", aside), "rb").read() == data[: len(data) // 3]   # kept
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0 and "Nothing to undo" in out                   # no crash; the torn entry is not guessed at


HAND_EDITS = [
    ("status", lambda e: e.update(status="done-ish"), "unknown status 'done-ish'"),
    ("fields removed", lambda e: [e.pop(k) for k in ("python", "python_key")], "field 'python' missing"),
    ("version number", lambda e: e["snapshot"].update(distributions={"six": {"name": "six", "version": 1.16}}),
     "snapshot.distributions is not"),
    ("pip option as a name", lambda e: e["snapshot"].update(
        distributions={"--index-url=http://evil.example/simple": {"name": "x", "version": "1.0"}}),
     "snapshot.distributions is not"),
    ("steps text", lambda e: e.update(steps="all of them"), "field 'steps' is not a list"),
    ("undo of a file", lambda e: e["steps"][1].update(undo={"kind": "file", "file": 5}), "file step's undo"),
    ("changes shape", lambda e: e.update(changes={"changed": {"six": "1.16.0"}}), "changes.changed is not"),
]


@pytest.mark.parametrize("name,edit,why", HAND_EDITS, ids=[h[0] for h in HAND_EDITS])
def test_a_hand_edited_entry_that_undo_cannot_trust_is_set_aside_with_the_reason(name, edit, why, world, bare_venv):
    entry, path = _applied_entry(world, bare_venv)
    data = json.load(open(path))
    edit(data)
    json.dump(data, open(path, "w"))
    edited = open(path, "rb").read()
    for argv in (["history", "--python", bare_venv], ["undo", "--python", bare_venv, "--yes"]):
        rc, out, err = cli_in_process(argv)
        assert rc == 0 and "Traceback" not in out + err, (argv, out, err)
    text = " ".join((out + err).split())
    assert "Nothing to undo" in text
    (aside,) = [n for n in journal_files(world["state"]) if ".corrupt-" in n]
    assert open(os.path.join(world["state"], "journal", aside), "rb").read() == edited    # nothing lost
    rc, out, err = cli_in_process(["history", "--python", bare_venv, "--json"])
    assert json.loads(out)["entries"] == []
    # the reason was given when it was set aside
    j = Journal(world["state"])
    os.replace(os.path.join(j.dir, aside), path)
    j.entries()
    assert any(why in p for p in j.problems), j.problems


def test_a_harmless_hand_edit_is_accepted_and_undo_still_works(world, bare_venv):
    entry, path = _applied_entry(world, bare_venv)
    data = json.load(open(path))
    data["fix_title"] = "renamed by me"
    json.dump(data, open(path, "w"), indent=4)
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    assert rc == 0 and "renamed by me" in out
    assert_files_original(world)


def test_undo_refuses_with_the_difference_when_a_file_was_edited_by_hand(world, bare_venv):
    _applied_entry(world, bare_venv)
    world["code"].write_text("# rewritten by hand\n")
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes"])
    flat = " ".join(out.split())
    assert rc == 1 and f"{world['code']} was edited after the fix" in flat and "tfhelp undo --force" in flat
    assert "TFHELP_DEMO_A" in world["profile"].read_text()          # refused: nothing at all was undone
    rc, out, err = cli_in_process(["undo", "--python", bare_venv, "--yes", "--force"])
    assert rc == 0, out + err
    assert_files_original(world)


# --- the same with real pip steps in a throwaway venv (slow) --------------------------------

PIP_RULE = """\
id: demo-crash-pip
title: Demo Crash Test With Packages
category: import
severity: fatal
confidence: high
summary: demo
cause: |
  A rule for the crash tests: two pip steps and a profile block.
references: [https://pypi.org/project/six/]
match:
  all:
    - {name: m, type: literal, value: "demo crash pip signature"}
fixes:
  - title: Upgrade six and add idna
    steps:
      - {action: pip_install, packages: ["idna==3.7"]}
      - {action: pip_install, packages: ["six==1.17.0", "numpy==1.26.4"]}
      - {action: set_env, name: TFHELP_DEMO_P, value: "1", scope: user-profile}
      - {action: verify, check: import, code: "import six, idna; assert six.__version__ == '1.17.0'"}
examples:
  match: ["demo crash pip signature"]
  no_match: ["demo nothing"]
verified: false
"""

# A kill "during" a pip step needs pip to still be running at the delay. Step 2 brings NumPy
# (thousands of files, about 4 s offline here, 2 s on a fast idle machine) so that 1.0 s lands
# inside pip's install on any machine; one small wheel alone finished before 0.8 s on CI.
PIP_FIX_POINTS = [("after-snapshot", None), ("after-step:1", None), ("after-save:1", None), ("before-step:2", None),
                  ("during-step:2", 1.0), ("after-step:2", None),
                  ("during-journal-write:3", None), ("before-verify", None), ("before-final-save", None)]
PIP_UNDO_POINTS = [("undo-start", None), ("during-undo", 1.0), ("undo-after-restore", None)]


@pytest.fixture(scope="session")
def numpy_wheel(wheels):
    if not any(f.startswith("numpy-1.26.4-cp") for f in os.listdir(wheels)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", wheels, "numpy==1.26.4"],
                       check=True)
    return wheels


@pytest.fixture
def pip_world(world, tmp_path, numpy_wheel):
    write_rule(tmp_path / "rules", "import", "demo-crash-pip", PIP_RULE)
    return world


@pytest.mark.slow
@pytest.mark.parametrize("point,delay", PIP_FIX_POINTS, ids=[f"{p}@{d}" if d else p for p, d in PIP_FIX_POINTS])
def test_kill_9_during_a_pip_fix_then_undo_restores_the_exact_packages(point, delay, pip_world, target):
    before = pip_list(target)
    argv = ["fix", "demo-crash-pip", "--rules", pip_world["rules"], "--python", target, "--yes",
            *[f"--pip-arg={a}" for a in PIP_ARGS]]
    p = cli_process(argv, fault=point, delay=delay)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    time.sleep(0.2)
    (entry,) = assert_journal_whole(pip_world["state"])
    assert entry["snapshot"]["distributions"]["six"]["version"] == "1.16.0"
    rc, out, err = cli_in_process(["history", "--python", target])
    assert rc == 0
    assert ("was interrupted" in err) == (point != "before-final-save")
    rc, out, err = cli_in_process(["undo", "--python", target, "--yes", "--json"])
    assert rc == 0, out + err
    assert json.loads(out)["exact"] is True
    assert pip_list(target) == before
    assert pip_world["profile"].read_text() == ORIGINAL_PROFILE
    assert assert_journal_whole(pip_world["state"])[0]["status"] == "undone"


@pytest.mark.slow
@pytest.mark.parametrize("point,delay", PIP_UNDO_POINTS, ids=[p for p, _ in PIP_UNDO_POINTS])
def test_kill_9_during_a_pip_undo_then_undo_again_finishes_it(point, delay, pip_world, target):
    before = pip_list(target)
    rc, out, err = cli_in_process(["fix", "demo-crash-pip", "--rules", pip_world["rules"], "--python", target,
                                   "--yes", *[f"--pip-arg={a}" for a in PIP_ARGS]])
    assert rc == 0, out + err
    assert pip_list(target)["six"] == "1.17.0"
    p = cli_process(["undo", "--python", target, "--yes"], fault=point, delay=delay)
    assert p.returncode == -signal.SIGKILL, (p.stdout, p.stderr)
    time.sleep(0.2)
    (entry,) = assert_journal_whole(pip_world["state"])
    assert entry["status"] == "undoing"
    rc, out, err = cli_in_process(["undo", "--python", target, "--yes"])
    assert rc == 0, out + err
    assert "Run `tfhelp undo` again" in err
    assert pip_list(target) == before
    assert assert_journal_whole(pip_world["state"])[0]["status"] == "undone"


@pytest.mark.slow
def test_undo_after_a_hand_change_shows_the_version_diff_and_needs_force(pip_world, target):
    before = pip_list(target)
    rc, out, err = cli_in_process(["fix", "demo-crash-pip", "--rules", pip_world["rules"], "--python", target,
                                   "--yes", *[f"--pip-arg={a}" for a in PIP_ARGS]])
    assert rc == 0, out + err
    subprocess.run([target, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_ARGS, "six==1.15.0"],
                   check=True)
    rc, out, err = cli_in_process(["undo", "--python", target, "--yes"])
    flat = " ".join(out.split())
    assert rc == 1 and "six: 1.17.0 after the fix, 1.15.0 now" in flat and "--force" in flat
    assert pip_list(target)["six"] == "1.15.0" and pip_list(target)["idna"] == "3.7"
    rc, out, err = cli_in_process(["undo", "--python", target, "--yes", "--json"])
    assert rc == 1 and json.loads(out)["drift"] == [{"what": "six", "after": "1.17.0", "now": "1.15.0"}]
    rc, out, err = cli_in_process(["undo", "--python", target, "--yes", "--force"])
    assert rc == 0, out + err
    assert pip_list(target) == before and pip_world["profile"].read_text() == ORIGINAL_PROFILE
