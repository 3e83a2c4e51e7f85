"""``tfhelp triage``: many job logs in nested folders, attributed right, merged associatively, and
the same JSON from local worker processes and from a Dask cluster."""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tfhelp.kb import triage
from tfhelp.kb.loader import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
TFHELP = [sys.executable, "-m", "tfhelp"]


def _corpus_cases() -> list:
    """(input bytes, expected ids, is_whole_log) for every corpus case with an expectation."""
    out = []
    for meta in sorted((ROOT / "corpus").glob("*/*/meta.yaml")):
        data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        inp = next((meta.parent / n for n in ("input.txt", "run.log") if (meta.parent / n).is_file()), None)
        if inp is None or data.get("expected") is None:
            continue
        out.append((f"{meta.parent.parent.name}/{meta.parent.name}", inp.read_bytes(), list(data["expected"]),
                    inp.name == "run.log" or data.get("kind") == "log"))
    return out


CASES = _corpus_cases()
JOB_HEADER = (b"+ srun python train.py --config cfg/%d.yaml\n"
              b"job %d started on node gpu-%02d at 2026-01-0%d 03:14:15\n")


def _attributed_right(ids_and_severity: list, expected: list, whole_log: bool) -> bool:
    ids = [i for i, _ in ids_and_severity]
    if not expected:  # a clean log: only harmless notices
        return all(sev == "harmless" for _, sev in ids_and_severity)
    if whole_log:  # every root cause of the log
        return all(e in ids for e in expected)
    return expected[0] in ids  # a pasted traceback: its top cause (the log scan finds it too)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """300 job logs in nested folders (day/node/job), every 5th gzip-compressed, each a corpus
    input behind a job header; plus files that can't be read."""
    base = tmp_path_factory.mktemp("fleet")
    expected = {}
    for i in range(300):
        name, data, exp, whole = CASES[i % len(CASES)]
        folder = base / f"2026-01-0{1 + i % 3}" / f"gpu-{i % 7:02d}" / f"job-{i:04d}"
        folder.mkdir(parents=True)
        body = JOB_HEADER % (i, i, i % 7, 1 + i % 3) + data
        if i % 5 == 0:
            p = folder / "stdout.log.gz"
            p.write_bytes(gzip.compress(body))
        else:
            p = folder / "stdout.log"
            p.write_bytes(body)
        expected[str(p.relative_to(base))] = (name, exp, whole)
    bad = base / "2026-01-01" / "broken"
    bad.mkdir()
    (bad / "empty.log").write_bytes(b"")
    os.symlink(bad / "gone.log", bad / "dangling.log")
    if hasattr(os, "mkfifo"):
        os.mkfifo(bad / "queue.fifo")
    (base / "2026-01-02" / ".hidden").mkdir()
    (base / "2026-01-02" / ".hidden" / "skip.log").write_bytes(b"never read\n")
    return base, expected


def _triage_json(args, cwd, timeout=240):
    r = subprocess.run(TFHELP + ["triage", *args, "--json"], capture_output=True, timeout=timeout, cwd=cwd)
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def test_300_job_logs_in_nested_folders_are_all_attributed_right(fleet):
    base, expected = fleet
    r, doc = _triage_json([".", "--jobs", "2"], cwd=base)
    assert r.returncode == 0, r.stderr.decode()
    by_path = {f["path"]: f for f in doc["files"]}
    wrong = []
    for rel, (name, exp, whole) in expected.items():
        f = by_path[rel]
        assert "error" not in f, (rel, f.get("error"))
        got = [(d["id"], d["severity"]) for d in f["diagnoses"]]
        if not _attributed_right(got, exp, whole):
            wrong.append((rel, name, exp, [i for i, _ in got]))
    assert not wrong, f"{len(wrong)} of {len(expected)} misattributed: {wrong[:5]}"
    # the unreadable ones are reported and skipped, never fatal
    errors = {e["path"]: e["error"] for e in doc["errors"]}
    broken = os.path.join("2026-01-01", "broken")
    assert errors[os.path.join(broken, "empty.log")] == "empty file"
    assert "no such file" in errors[os.path.join(broken, "dangling.log")]
    if hasattr(os, "mkfifo"):
        assert "named pipe" in errors[os.path.join(broken, "queue.fifo")]
    assert b"(skipped)" in r.stderr
    assert not any(".hidden" in p for p in by_path)
    assert doc["totals"]["files"] == len(expected) + len(errors)
    assert doc["totals"]["unreadable"] == len(errors)
    # summary: rule id -> number of files, consistent with the files list
    counted: dict = {}
    for f in doc["files"]:
        for rid in {d["id"] for d in f["diagnoses"]}:
            counted[rid] = counted.get(rid, 0) + 1
    assert doc["summary"] == counted
    assert list(doc["summary"].values()) == sorted(doc["summary"].values(), reverse=True)
    for rid, paths in doc["examples"].items():
        assert paths == sorted(paths)[:triage.EXAMPLES]
        assert all(rid in {d["id"] for d in by_path[p]["diagnoses"]} for p in paths)


def test_per_file_diagnoses_are_exactly_what_from_log_json_gives(fleet):
    base, expected = fleet
    picks = sorted(set(sorted(expected)[:4] + [p for p in sorted(expected) if p.endswith(".gz")][:2]))
    r, doc = _triage_json(picks, cwd=base)
    assert r.returncode == 0
    assert [f["path"] for f in doc["files"]] == picks
    for rel, f in zip(picks, doc["files"]):
        one = subprocess.run(TFHELP + ["--from-log", rel, "--json"], capture_output=True, timeout=60, cwd=base)
        assert json.loads(one.stdout)["diagnoses"] == f["diagnoses"]


def test_text_output_is_a_table_of_causes_with_counts_and_examples(fleet):
    base, expected = fleet
    r = subprocess.run(TFHELP + ["triage", "2026-01-01", "--jobs", "1", "--width", "160"], capture_output=True,
                       timeout=240, cwd=base)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert out.startswith("Triage: ")
    assert "root cause" in out and "examples" in out
    top = next(exp[0] for rel, (_n, exp, _w) in sorted(expected.items()) if rel.startswith("2026-01-01") and exp)
    assert top in out
    assert "\x1b[" not in out  # not a terminal: no colours, no progress bar
    assert "triage" not in r.stderr.decode().replace("(skipped)", "").split("tfhelp:")[0]


def test_the_dask_path_gives_identical_json_to_the_local_path(fleet):
    import distributed  # in the [test] extra: a missing Dask is a failure, not a skip

    base, expected = fleet
    subset = [p for p in sorted(expected)][:40] + [os.path.join("2026-01-01", "broken")]
    local, ldoc = _triage_json(subset + ["--jobs", "2"], cwd=base)
    assert local.returncode == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit="1GiB") as cluster:
        remote, ddoc = _triage_json(subset + ["--dask", cluster.scheduler_address], cwd=base)
        assert remote.returncode == 0, remote.stderr.decode()
        # and the library entry point with a client of our own
        from tfhelp.assistant.frontends.commands.triage import run_dask

        paths, problems = triage.expand([str(base / p) for p in subset[:10]])
        with distributed.Client(cluster) as client:
            results = run_dask("", [(p, p) for p in paths], triage.Options(user_rules=False), client=client,
                               ruleset_args=((), False))
    assert json.dumps(ddoc, sort_keys=False) == json.dumps(ldoc, sort_keys=False)
    assert ddoc["errors"] and ddoc["summary"]
    local_results = [triage.scan_path(p, triage.Options(user_rules=False)) for p in paths]
    assert triage.document_json(results) == json.dumps(triage.document(local_results), indent=2,
                                                       ensure_ascii=False)


def test_a_dask_address_nobody_listens_on_is_a_clear_error(tmp_path):
    (tmp_path / "a.log").write_text("x\n")
    r = subprocess.run(TFHELP + ["triage", str(tmp_path), "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "2"], capture_output=True,
                       timeout=120)
    assert r.returncode == 2
    assert b"cannot reach the scheduler" in r.stderr


# -- exit statuses -----------------------------------------------------------------------------
def test_exit_statuses(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "ok.log").write_text("epoch 1 loss 0.5\nepoch 2 loss 0.4\ndone\n")
    r = subprocess.run(TFHELP + ["triage", str(clean), "--jobs", "1"], capture_output=True, timeout=60)
    assert r.returncode == 1  # ran fine, nothing explained
    r = subprocess.run(TFHELP + ["triage", str(tmp_path / "nope")], capture_output=True, timeout=60)
    assert r.returncode == 2 and b"no such file or folder" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.log").write_bytes(b"")
    r = subprocess.run(TFHELP + ["triage", str(empty)], capture_output=True, timeout=60)
    assert r.returncode == 2  # no readable file at all
    r = subprocess.run(TFHELP + ["triage", "--jobs", "-1", str(clean)], capture_output=True, timeout=60)
    assert r.returncode == 2


# -- which files -------------------------------------------------------------------------------
def test_expand_files_folders_globs_and_include(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ("a/x.log", "a/b/y.log", "a/b/z.out", "a/b/w.log.gz", "a/.git/config", "top.txt"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
    paths, problems = triage.expand([str(tmp_path / "a")])
    names = [os.path.relpath(p, tmp_path) for p in paths]
    assert names == sorted(["a/x.log", "a/b/y.log", "a/b/z.out", "a/b/w.log.gz"])
    paths, _ = triage.expand([str(tmp_path / "a")], include=["*.log", "*.gz"])
    assert sorted(os.path.basename(p) for p in paths) == ["w.log.gz", "x.log", "y.log"]
    paths, _ = triage.expand([str(tmp_path / "**" / "*.log")])
    assert sorted(os.path.basename(p) for p in paths) == ["x.log", "y.log"]
    paths, problems = triage.expand([str(tmp_path / "top.txt"), str(tmp_path / "top.txt"), str(tmp_path / "*.none"),
                                     str(tmp_path / "missing.log")])
    assert [os.path.basename(p) for p in paths] == ["top.txt"]
    assert [m for _, m in problems] == ["no file matches", "no such file or folder"]


# -- merging -----------------------------------------------------------------------------------
_ids = st.sampled_from(["a-rule", "b-rule", "c-rule", "d-rule"])
_result = st.builds(
    lambda path, ids, err: {"path": path, "diagnoses": [] if err else
                            [{"id": i, "title": i.upper(), "severity": "fatal", "category": "import"} for i in ids],
                            **({"error": "empty file"} if err else {})},
    st.text("abcdef/", min_size=1, max_size=8), st.lists(_ids, max_size=3, unique=True), st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(_result, max_size=25, unique_by=lambda r: r["path"]), st.randoms(use_true_random=False),
       st.integers(1, 6))
def test_tally_merge_is_associative_and_order_free(results, rnd, parts):
    whole = triage.tally(results)
    shuffled = list(results)
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.randint(0, len(shuffled)) for _ in range(parts - 1))
    groups = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    partials = [triage.tally(g) for g in groups]
    left = triage.Tally()
    for p in partials:
        left = left.merge(p)
    right = triage.Tally()
    for p in reversed(partials):
        right = p.merge(right)
    assert left == right == whole
    assert triage.document(shuffled) == triage.document(results)


def test_one_file_scanned_in_process_matches_the_engine(tmp_path):
    name, data, exp, whole = next(c for c in CASES if c[2])
    p = tmp_path / "one.log"
    p.write_bytes(data)
    from tfhelp.kb.scan import scan_file

    rs = load_ruleset(user_rules=False)
    triage.use_ruleset(rs, triage.Options(user_rules=False))
    res = triage.scan_path(str(p), triage.Options(user_rules=False))
    report, _ = scan_file(io.BytesIO(data), rs)
    assert res["diagnoses"] == report.to_json()["diagnoses"]
    assert res["path"] == str(p)


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tmp_path, tty):
    from tfhelp.assistant.context import Context
    from tfhelp.assistant.frontends import cli

    for i in range(3):
        (tmp_path / f"{i}.log").write_text("ImportError: cannot import name 'np_utils' from 'keras.utils'\n")
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, stdout_isatty=False, stderr_isatty=tty, environ={"TERM": "xterm"},
                  width=100)
    cli.main(["triage", str(tmp_path), "--jobs", "1", "--json"], ctx)
    assert json.loads(out.getvalue())["totals"]["files"] == 3
    assert ("files" in err.getvalue()) == tty


def test_a_crash_no_rule_knows_is_counted_and_explains_nothing(tmp_path):
    (tmp_path / "crash.log").write_text(
        "epoch 1 loss 0.5\nTraceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n"
        "    import zzq_private_lib\nModuleNotFoundError: No module named 'zzq_private_lib'\n")
    r, doc = _triage_json([str(tmp_path), "--jobs", "1"], cwd=tmp_path)
    assert r.returncode == 1, r.stderr.decode()  # ran fine, nothing explained
    (f,) = doc["files"]
    assert f["crash"] and not f["crash"]["explained"]
    assert doc["totals"]["unexplained_crashes"] == 1 and doc["totals"]["explained"] == 0
    assert doc["unexplained_crashes"] == [f["path"]]
    text = subprocess.run(TFHELP + ["triage", str(tmp_path)], capture_output=True, timeout=60).stdout.decode()
    assert "crash no rule explains" in text


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, /proc")
def test_sigterm_ends_the_worker_processes_too(tmp_path):
    import signal
    import time

    big = b"".join(b"step %d loss 0.1\n" % i for i in range(200_000))
    for i in range(40):
        (tmp_path / f"{i}.log").write_bytes(big)
    p = subprocess.Popen(TFHELP + ["triage", str(tmp_path), "--jobs", "2", "--json"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        kids = []
        while time.monotonic() < deadline and len(kids) < 2:
            time.sleep(0.2)
            kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        assert len(kids) >= 2, "no worker processes started"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) != 0
        time.sleep(0.5)
        alive = [k for k in kids if os.path.exists(f"/proc/{k}") and
                 "zombie" not in open(f"/proc/{k}/status").read().lower()]
        assert not alive, f"workers left running: {alive}"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
