"""``tfhelp triage`` gives one answer however the work is split: ``--jobs 1`` (one process),
``--jobs 2`` (a pool, results in completion order) and a Dask-shaped run (batches scanned with the
rule bundle the client scatters, merged in any order) print byte-identical JSON, in processes
with different hash seeds.  Also: the compiled prefilter is built once per worker, not per file.

The benchmark (benchmarks/bench_triage.py) once saw ``--jobs 1`` and ``--jobs 2`` differ on 10,000
files; that run compared two runs of a live checkout minutes apart while rule files were being
edited.  These tests pin what triage itself promises, on a frozen tree, in the default suite.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tfhelp.kb import scan, triage
from tfhelp.kb.loader import load_ruleset, rule_bundle

ROOT = Path(__file__).resolve().parent.parent
TFHELP = [sys.executable, "-m", "tfhelp"]


def _inputs(n: int) -> list:
    """``n`` small corpus inputs (causes and clean runs), a fixed pick across categories."""
    found = []
    for meta in sorted((ROOT / "corpus").glob("*/*/meta.yaml")):
        inp = next((meta.parent / x for x in ("input.txt", "run.log") if (meta.parent / x).is_file()), None)
        if inp is None or inp.stat().st_size > 64 << 10:
            continue
        found.append(inp.read_bytes())
    rnd = random.Random(12)  # fixed: the same tree every run
    rnd.shuffle(found)
    return found[:n]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Two dozen job logs in nested folders (some gzip), a crash no rule knows, an empty file, a
    truncated gzip (read in part) and a named pipe (refused)."""
    base = tmp_path_factory.mktemp("det")
    for i, data in enumerate(_inputs(24)):
        d = base / f"day-{i % 2}" / f"node-{i % 3}" / f"job-{i:03d}"
        d.mkdir(parents=True)
        body = b"+ srun python train.py --seed %d\nEpoch 1/3\n" % i + data
        if i % 4 == 0:
            (d / "out.log.gz").write_bytes(gzip.compress(body))
        else:
            (d / "out.log").write_bytes(body)
    odd = base / "day-0" / "odd"
    odd.mkdir()
    (odd / "crash.log").write_text("Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n"
                                   "    import zzq_lab_only\nModuleNotFoundError: No module named 'zzq_lab_only'\n")
    (odd / "empty.log").write_bytes(b"")
    whole = gzip.compress(b"ImportError: cannot import name 'np_utils' from 'keras.utils'\n" * 50)
    (odd / "cut.log.gz").write_bytes(whole[:-12])
    if hasattr(os, "mkfifo"):
        os.mkfifo(odd / "pipe.fifo")
    return base


def _cli(base: Path, *args: str, seed: str) -> bytes:
    env = dict(os.environ, PYTHONHASHSEED=seed, NO_COLOR="1", TFHELP_USER_RULES=str(base / ".no-user-rules"))
    r = subprocess.run(TFHELP + ["triage", ".", "--json", "--no-user-rules", *args], capture_output=True,
                       timeout=240, cwd=base, env=env)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r.stdout


def _dask_shaped(base: Path, monkeypatch) -> tuple:
    """What ``--dask`` does, without a cluster: the client's rule bundle, ``scan_paths_encoded``
    over the command's batches, each batch in a "fresh worker" (no rule base, no prefilter yet),
    results gathered in a shuffled completion order, then ``document_json``.  Also returns the
    reference: ``json.dumps(document(...))`` of plain ``scan_path`` results."""
    from tfhelp.assistant.frontends.commands.triage import _batches

    monkeypatch.chdir(base)
    paths, problems = triage.expand(["."])
    pairs = [(p, os.path.abspath(p)) for p in paths]
    bundle = json.loads(json.dumps(rule_bundle(user_rules=False)))  # as it travels: plain data
    batches = _batches(pairs, 3)
    random.Random(5).shuffle(batches)
    entries = []
    for batch in batches:
        monkeypatch.setattr(triage, "_STATE", {"key": None, "ruleset": None})
        scan._PREFILTERS.last = None
        entries.extend(reversed(triage.scan_paths_encoded(batch, triage.Options(user_rules=False), bundle)))
    shaped = (triage.document_json(entries, problems) + "\n").encode()
    plain = [triage.scan_path(p, triage.Options(user_rules=False), bundle, open_as=o) for p, o in pairs]
    reference = (json.dumps(triage.document(plain, problems), indent=2, ensure_ascii=False) + "\n").encode()
    return shaped, reference


def test_jobs_1_jobs_2_and_a_dask_shaped_merge_print_identical_json(tree, monkeypatch):
    one = _cli(tree, "--jobs", "1", seed="1")
    two = _cli(tree, "--jobs", "2", seed="2")
    assert one == two
    shaped, reference = _dask_shaped(tree, monkeypatch)
    assert shaped == one
    assert reference == one  # the pre-encoded document is byte for byte json.dumps(document(...))
    doc = json.loads(one)
    # the tree really exercises every kind of entry, so the equality covers them all
    assert doc["summary"] and doc["unexplained_crashes"]
    assert {e["path"] for e in doc["errors"]} >= {os.path.join("day-0", "odd", "empty.log")}
    assert [e["path"] for e in doc["incomplete"]] == [os.path.join("day-0", "odd", "cut.log.gz")]
    assert doc["totals"]["incomplete"] == 1
    assert all(not os.path.isabs(f["path"]) for f in doc["files"])  # shown as given, opened absolute


def test_per_file_results_do_not_depend_on_what_the_process_scanned_before(tree):
    """A worker scans whichever files it is handed, in any order, after any others."""
    options = triage.Options(user_rules=False)
    triage.use_ruleset(load_ruleset(user_rules=False), options)
    paths, _ = triage.expand([str(tree)])
    forward = {p: triage.scan_path(p, options) for p in paths}
    backward = {p: triage.scan_path(p, options) for p in reversed(paths)}
    assert forward == backward


def test_a_worker_builds_the_prefilter_once_for_many_files_and_once_per_thread(tree, monkeypatch):
    built = []
    real = scan.MultiLiteral

    def counting(*a, **kw):
        built.append(threading.get_ident())
        return real(*a, **kw)

    monkeypatch.setattr(scan, "MultiLiteral", counting)
    options = triage.Options(user_rules=False)
    triage.use_ruleset(load_ruleset(user_rules=False), options)
    scan._PREFILTERS.last = None
    paths, _ = triage.expand([str(tree)])
    first = [triage.scan_path(p, options) for p in paths]
    assert len(built) == 1
    again = []
    t = threading.Thread(target=lambda: again.extend(triage.scan_path(p, options) for p in paths))
    t.start()
    t.join()
    assert len(built) == 2 and built[1] != built[0]  # a thread gets its own (hyperscan scratch)
    assert again == first
    rs2 = load_ruleset(user_rules=False)  # another rule base: another prefilter
    triage.use_ruleset(rs2, triage.Options(user_rules=False, backend="ahocorasick"))
    triage.scan_path(paths[0], triage.Options(user_rules=False, backend="ahocorasick"))
    assert len(built) == 3


def test_document_json_without_files_is_json_dumps_of_the_document():
    problems = [("nope/*.log", "no file matches")]
    assert triage.document_json([], problems) == json.dumps(triage.document([], problems), indent=2,
                                                            ensure_ascii=False)
