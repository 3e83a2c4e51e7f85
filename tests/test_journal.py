"""The fix journal: atomic entries, corruption set aside, two processes at once, failed fixes."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tfhelp.assistant.fixes import journal as jmod
from tfhelp.assistant.fixes.journal import Journal, LockBusy


def make(j, python="/envs/a/bin/python", rule="numpy2-abi", status="applied", verification=None, title="Pin NumPy"):
    e = j.new_entry(python, rule_id=rule, fix_index=0, fix_title=title)
    e["status"] = status
    e["snapshot"] = {"distributions": {"six": {"name": "six", "version": "1.16.0"}}}
    if verification:
        e["verification"] = {"status": verification}
    j.save(e)
    return e


def test_state_dir_override_and_platformdirs_default(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHELP_STATE_DIR", str(tmp_path))
    assert jmod.state_dir() == str(tmp_path)
    monkeypatch.delenv("TFHELP_STATE_DIR")
    import platformdirs
    assert jmod.state_dir() == platformdirs.user_state_dir("tfhelp")


def test_entries_round_trip_and_leave_no_temporary_files(tmp_path):
    j = Journal(str(tmp_path))
    a = make(j)
    b = make(j, python="/envs/b/bin/python")
    assert [e["id"] for e in j.entries()] == [a["id"], b["id"]]
    assert [e["id"] for e in j.entries("/envs/b/bin/python")] == [b["id"]]
    assert sorted(os.listdir(j.dir)) == sorted([a["id"] + ".json", b["id"] + ".json"])
    assert j.last_undoable("/envs/a/bin/python")["id"] == a["id"]


def test_corrupt_entry_is_set_aside_and_the_rest_survive(tmp_path):
    j = Journal(str(tmp_path))
    good = make(j)
    bad = make(j)
    path = os.path.join(j.dir, bad["id"] + ".json")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])          # a torn write
    with open(os.path.join(j.dir, "20990101T000000000000-zzzzzz.json"), "w") as fh:
        json.dump(["not", "an", "entry"], fh)
    entries = j.entries()
    assert [e["id"] for e in entries] == [good["id"]]
    assert len(j.problems) == 2 and all("set aside" in p for p in j.problems)
    aside = [n for n in os.listdir(j.dir) if ".corrupt-" in n]
    assert len(aside) == 2
    again = make(j)                                         # rebuilt: new entries still work
    assert [e["id"] for e in j.entries()] == [good["id"], again["id"]]
    assert j.problems == []


def test_binary_garbage_entry_is_set_aside(tmp_path):
    j = Journal(str(tmp_path))
    os.makedirs(j.dir)
    with open(os.path.join(j.dir, "20200101T000000000000-abcdef.json"), "wb") as fh:
        fh.write(b"\xff\xfe\x00garbage")
    assert j.entries() == [] and j.problems


def test_bad_entry_ids_cannot_escape_the_journal(tmp_path):
    j = Journal(str(tmp_path))
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            j._path(bad)


def test_failed_fixes_lists_only_failures_for_that_interpreter_and_rule(tmp_path):
    j = Journal(str(tmp_path))
    make(j, status="applied", verification="passed")
    f1 = make(j, status="rolled-back")
    f2 = make(j, status="applied", verification="failed", title="Other")
    make(j, python="/envs/other/bin/python", status="failed")
    make(j, rule="another-rule", status="failed")
    got = jmod.failed_fixes("/envs/a/bin/python", "numpy2-abi", journal=j)
    assert [g["entry"] for g in got] == [f2["id"], f1["id"]]
    assert got[0]["verification"] == "failed" and got[1]["status"] == "rolled-back"


WRITER = textwrap.dedent("""
    import sys
    from tfhelp.assistant.fixes.journal import Journal
    j = Journal(sys.argv[1])
    for i in range(40):
        e = j.new_entry("/envs/p%s/bin/python" % sys.argv[2], rule_id="r", fix_index=i, fix_title="t")
        e["status"] = "applied"; e["snapshot"] = {"distributions": {}}
        e["steps"] = [{"output": "x" * 2000}]
        j.save(e)
        j.entries()
""")


def test_two_processes_writing_and_reading_at_once_never_see_a_torn_entry(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)]) for n in (1, 2)]
    j = Journal(str(tmp_path))
    seen_problems = []
    while any(p.poll() is None for p in procs):
        j.entries()
        seen_problems.extend(j.problems)
    assert [p.returncode for p in procs] == [0, 0]
    assert seen_problems == []
    assert len(j.entries()) == 80 and j.problems == []


HOLDER = textwrap.dedent("""
    import sys, time
    from tfhelp.assistant.fixes.journal import Journal
    lock = Journal(sys.argv[1]).transaction_lock(sys.argv[2]).acquire(blocking=False)
    print("locked", flush=True)
    time.sleep(30)
""")


def test_a_second_process_cannot_change_the_same_interpreter(tmp_path):
    from tfhelp.assistant.fixes.actions import ApplyContext
    from tfhelp.assistant.fixes.plan import apply_plan, build_plan

    py = "/envs/locked/bin/python"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), py], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        j = Journal(str(tmp_path))
        with pytest.raises(LockBusy):
            j.transaction_lock(py).acquire(blocking=False)
        c = ApplyContext(python=py)
        plan = build_plan({"title": "m", "steps": [{"action": "manual", "text": "do it"}]}, c)
        out = apply_plan(plan, c, journal=j)
        assert out.status == "locked" and "another tfhelp process" in out.messages[0]
        j.transaction_lock("/envs/other/bin/python").acquire(blocking=False).release()  # others unaffected
    finally:
        holder.kill()
        holder.wait()
    Journal(str(tmp_path)).transaction_lock(py).acquire(blocking=False).release()  # freed when the holder died
