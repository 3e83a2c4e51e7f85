"""REPL ``/log``: the same opener and bounds as ``tfhelp --from-log`` (kb.sources), and the same
words when it refuses an input or a bound cuts the read short."""
import gzip
import io
import os
import sys
import time

import pytest
from rich.console import Console

from tfhelp.assistant.context import Context
from tfhelp.assistant.frontends.repl import Session, parse_log_arg
from tfhelp.kb import sources

ERROR = (b"Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n"
         b"    from keras.utils import np_utils\n"
         b"ImportError: cannot import name 'np_utils' from 'keras.utils' (/v/lib/python3.11/site-packages/keras/utils/__init__.py)\n")


def session():
    c = Console(file=io.StringIO(), width=300, color_system=None, force_terminal=False, markup=False,
                highlight=False, emoji=False)
    return Session(Context(), c, python=sys.executable, probe=False, env=None), c


def flat(c) -> str:
    return " ".join(c.file.getvalue().split())


def test_devices_are_refused_naming_the_bound_and_the_repl_spelling():
    s, c = session()
    t0 = time.monotonic()
    s.handle("/log /dev/zero")
    out = flat(c)
    assert time.monotonic() - t0 < 5
    assert "/log: /dev/zero: is a character device, not a log file" in out
    assert f"--max-bytes, default {sources.human(sources.SPECIAL_MAX_BYTES)}" in out
    assert "Here: /log --allow-special [--max-bytes SIZE] FILE reads it anyway." in out
    assert s.report is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    s, c = session()
    t0 = time.monotonic()
    s.handle(f"/log {fifo}")
    assert time.monotonic() - t0 < 5
    assert "is a named pipe (FIFO), not a log file" in flat(c)


def test_allow_special_reads_a_device_up_to_max_bytes_and_says_that_bound_stopped_it(run_cli):
    s, c = session()
    s.handle("/log --allow-special --max-bytes 1M /dev/zero")
    out = flat(c)
    assert "Scanned /dev/zero" in out
    msg = "--max-bytes (1 MiB) reached reading a character device; the findings above cover the part that was read"
    assert f"/log: /dev/zero: {msg}" in out
    code, _, err = run_cli(["--from-log", "/dev/zero", "--allow-special", "--max-bytes", "1M"])
    assert code == 2 and f"tfhelp: /dev/zero: {msg}" in " ".join(err.split())   # --from-log's words


def test_gzip_past_max_bytes_is_cut_there_and_the_findings_before_it_shown(tmp_path):
    log = tmp_path / "train.log.gz"
    log.write_bytes(gzip.compress(ERROR + b"step ok\n" * 200_000))
    s, c = session()
    s.handle(f"/log --max-bytes=64K {log}")
    out = flat(c)
    assert "gzip data decompresses to more than --max-bytes (64 KiB); stopped there" in out
    assert s.report is not None and s.report.diagnoses[0].id == "keras-np-utils-removed"


def test_a_gzip_bomb_is_stopped_at_the_expansion_bound_which_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "GZIP_FLOOR", 1 << 20)   # the real floor is 256 MiB: too slow for a test
    bomb = tmp_path / "bomb.log.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (40 << 20), 9))
    s, c = session()
    s.handle(f"/log {bomb}")
    out = flat(c)
    assert f"gzip data expands more than {sources.GZIP_RATIO}x" in out
    assert "looks like a gzip bomb; stopped there (pass --max-bytes to allow more)" in out


def test_a_regular_log_has_no_bound_and_no_warning(tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(b"epoch 1\n" * 1000 + ERROR)
    s, c = session()
    s.handle(f"/log {log}")
    out = flat(c)
    assert s.report.diagnoses[0].id == "keras-np-utils-removed"
    assert "--max-bytes" not in out and "/log:" not in out


def test_empty_missing_and_stdin_logs_get_a_message(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    s, c = session()
    s.handle(f"/log {empty}")
    s.handle(f"/log {tmp_path}/nope.log")
    s.handle("/log -")
    out = flat(c)
    assert f"/log: {empty} is empty: nothing to scan" in out
    assert "nope.log: no such file" in out
    assert "/log -: standard input is this terminal here" in out


def test_log_arguments_options_first_then_the_path_as_typed():
    size = sources.parse_size
    assert parse_log_arg("--max-bytes 2M my run.log", size) == ({"allow_special": False, "max_bytes": 2 << 20},
                                                                os.path.expanduser("my run.log"))
    assert parse_log_arg("--allow-special --max-bytes=1G '/tmp/a b.log'", size) == (
        {"allow_special": True, "max_bytes": 1 << 30}, "/tmp/a b.log")
    assert parse_log_arg("-- --odd-name.log", size)[1] == "--odd-name.log"
    assert parse_log_arg("--max-bytes lots x.log", size)[0].startswith("--max-bytes: not a size")
    assert parse_log_arg("--follow x.log", size)[0].startswith("unknown option --follow")


def test_bad_log_options_are_reported_not_run():
    s, c = session()
    s.handle("/log --max-bytes 0 /dev/zero")
    assert "/log: --max-bytes: size must be positive" in flat(c) and s.report is None
