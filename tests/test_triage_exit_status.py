"""``tfhelp triage`` exit statuses follow ``--from-log``'s contract (docs/HELPERS.md): a bad input
(unreadable, special, empty, or only partly read such as a gzip bomb) inside a run is listed and
skipped, never fatal; every input bad -> 2, as ``tfhelp --from-log`` says for that one file; some
bad and some with a known cause -> 0 with the bad ones listed; readable but nothing explained -> 1.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib

import pytest

from tfhelp.kb import triage

TFHELP = [sys.executable, "-m", "tfhelp"]
KNOWN = "ImportError: cannot import name 'np_utils' from 'keras.utils'\n"
posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("exit")
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    chunk = b"\0" * (1 << 20)
    blob = b"".join(c.compress(chunk) for _ in range(300)) + c.flush()  # 300 MiB of zeros in ~300 KB
    (d / "bomb.gz").write_bytes(blob)
    (d / "known.log").write_text("epoch 1 loss 0.5\n" + KNOWN)
    (d / "clean.log").write_text("epoch 1 loss 0.5\nepoch 2 loss 0.4\ndone\n")
    (d / "empty.log").write_bytes(b"")
    (d / "cut.log.gz").write_bytes(gzip.compress((KNOWN * 40).encode())[:-12])
    if hasattr(os, "mkfifo"):
        os.mkfifo(d / "pipe.fifo")
    return d


def _run(d, *names, extra=()):
    r = subprocess.run(TFHELP + ["triage", *names, "--no-user-rules", "--jobs", "1", *extra], capture_output=True,
                       timeout=120, cwd=d)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_a_gzip_bomb_alone_exits_2_like_from_log(files):
    rc, _out, err = _run(files, "bomb.gz")
    assert rc == 2 and "gzip bomb" in err and "bomb.gz" in err
    one = subprocess.run(TFHELP + ["--from-log", "bomb.gz", "--no-user-rules"], capture_output=True, timeout=120,
                         cwd=files)
    assert one.returncode == rc


@pytest.mark.parametrize("names", [
    ("empty.log",),
    ("cut.log.gz",),   # read in part, and the part read names a cause: still bad input, as --from-log
    ("missing.log",),
    ("empty.log", "cut.log.gz", "missing.log"),
    pytest.param(("pipe.fifo",), marks=posix),
    pytest.param(("pipe.fifo", "empty.log"), marks=posix),
])
def test_every_input_bad_exits_2_and_matches_from_log_for_one_file(files, names):
    rc, _out, err = _run(files, *names)
    assert rc == 2, err
    for n in names:
        assert n in err
    if len(names) == 1:
        one = subprocess.run(TFHELP + ["--from-log", names[0], "--no-user-rules"], capture_output=True,
                             timeout=60, cwd=files)
        assert one.returncode == 2


@pytest.mark.parametrize("bad", ["bomb.gz", "empty.log", "cut.log.gz",
                                 pytest.param("pipe.fifo", marks=posix)])
def test_bad_inputs_beside_a_known_cause_exit_0_and_are_listed(files, bad):
    rc, out, err = _run(files, bad, "known.log", extra=["--json"])
    assert rc == 0, err
    doc = json.loads(out)
    listed = [e["path"] for e in doc["errors"]] + [e["path"] for e in doc["incomplete"]]
    assert listed == [bad]
    assert bad in err and ("(skipped)" in err or "(partly read" in err)
    assert doc["summary"].get("keras-np-utils-removed") == (2 if bad == "cut.log.gz" else 1)


@pytest.mark.parametrize("bad", ["bomb.gz", "empty.log"])
def test_bad_inputs_beside_files_that_explain_nothing_exit_1(files, bad):
    rc, _out, err = _run(files, bad, "clean.log")
    assert rc == 1, err
    assert bad in err


def test_the_status_rule_on_totals():
    e = triage.exit_status
    assert e({"files": 3, "explained": 0, "unreadable": 2, "incomplete": 1}) == 2
    assert e({"files": 1, "explained": 1, "unreadable": 0, "incomplete": 1}) == 2  # partly read alone
    assert e({"files": 3, "explained": 1, "unreadable": 1, "incomplete": 1}) == 0
    assert e({"files": 2, "explained": 0, "unreadable": 1, "incomplete": 0}) == 1
    assert e({"files": 0}) == 2


def test_help_documents_the_statuses():
    r = subprocess.run(TFHELP + ["triage", "--help"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, COLUMNS="200"))
    text = " ".join(r.stdout.split())
    assert "every file was bad input" in text and "gzip bomb" in text and "partly read" in text
