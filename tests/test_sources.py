"""Inputs of --from-log / log / triage (tfhelp.kb.sources): regular files and - only, devices and
FIFOs refused (or read within a bound with --allow-special), gzip bounded.  Every case ends within
seconds with a message and a non-zero exit."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import threading
import time

import pytest

from tfhelp.kb import sources
from tfhelp.kb.sources import InputError, open_source, parse_size

TFHELP = [sys.executable, "-m", "tfhelp"]
posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX devices and FIFOs")


def _run(args, timeout=60, **kw):
    t = time.monotonic()
    r = subprocess.run(TFHELP + args, capture_output=True, timeout=timeout, **kw)
    return r, time.monotonic() - t


def _read_all(fh) -> bytes:
    out = []
    while True:
        part = fh.read(1 << 20)
        if not part:
            return b"".join(out)
        out.append(part)


@posix
def test_dev_zero_is_refused_within_seconds():
    r, took = _run(["--from-log", "/dev/zero"], timeout=30)
    assert r.returncode == 2
    assert b"character device" in r.stderr and b"--allow-special" in r.stderr
    assert b"Traceback" not in r.stderr
    assert took < 15


@posix
def test_a_fifo_with_no_writer_is_refused_within_seconds(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r, took = _run(["--from-log", str(fifo)], timeout=30)
    assert r.returncode == 2
    assert b"named pipe" in r.stderr
    assert took < 15


@posix
def test_a_fifo_with_no_writer_gives_up_even_with_allow_special(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    t = time.monotonic()
    with pytest.raises(InputError, match="no writer"):
        open_source(str(fifo), allow_special=True, fifo_wait=0.5)
    assert time.monotonic() - t < 5


@posix
def test_a_fifo_with_a_writer_is_read_with_allow_special(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = b"hello\nworld\n" * 1000

    def writer():
        with open(fifo, "wb") as fh:
            fh.write(payload)

    t = threading.Thread(target=writer)
    t.start()
    fh, size = open_source(str(fifo), allow_special=True, fifo_wait=10)
    assert size is None
    assert _read_all(fh) == payload
    t.join()
    assert fh.stopped is None


@posix
def test_dev_zero_with_allow_special_stops_at_the_byte_bound():
    fh, _ = open_source("/dev/zero", allow_special=True, max_bytes=3 << 20)
    data = _read_all(fh)
    assert len(data) == 3 << 20
    assert "--max-bytes" in fh.stopped
    r, took = _run(["--from-log", "/dev/zero", "--allow-special", "--max-bytes", "4M"], timeout=60)
    assert r.returncode == 2
    assert b"--max-bytes (4 MiB) reached" in r.stderr
    assert took < 30


@posix
def test_stdin_from_a_device_is_refused():
    with open("/dev/zero", "rb") as dev:
        r = subprocess.run(TFHELP + ["--from-log", "-"], stdin=dev, capture_output=True, timeout=30)
    assert r.returncode == 2
    assert b"standard input: is a character device" in r.stderr


def test_stdin_pipe_and_regular_files_are_read(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(b"line one\nline two\n")
    fh, size = open_source(str(p))
    assert size == p.stat().st_size and _read_all(fh) == p.read_bytes()
    fh, size = open_source("-", stdin=io.BytesIO(b"from stdin\n"))
    assert size is None and _read_all(fh) == b"from stdin\n"


def test_directories_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        open_source(str(tmp_path))
    with pytest.raises(InputError, match="no such file"):
        open_source(str(tmp_path / "nope"))


def _bomb(path, mib: int) -> None:
    zeros = b"\0" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(mib):
            fh.write(zeros)


def test_gzip_bomb_is_stopped_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "GZIP_FLOOR", 8 << 20)
    bomb = tmp_path / "bomb.gz"
    _bomb(bomb, 64)  # 64 MiB of zeros in ~64 KB: ~1000x
    fh, _ = open_source(str(bomb))
    data = _read_all(fh)
    assert len(data) < 16 << 20
    assert "gzip bomb" in fh.stopped


def test_gzip_bomb_via_the_cli_exits_2_within_seconds(tmp_path):
    bomb = tmp_path / "bomb.gz"
    _bomb(bomb, 300)  # past the 256 MiB floor at ~1000x
    r, took = _run(["--from-log", str(bomb)], timeout=120)
    assert r.returncode == 2, r.stderr
    assert b"gzip bomb" in r.stderr and b"--max-bytes" in r.stderr
    assert took < 60
    r, _ = _run(["--from-log", str(bomb), "--max-bytes", "2M"], timeout=60)
    assert r.returncode == 2
    assert b"more than --max-bytes (2 MiB)" in r.stderr


def test_ordinary_gzip_logs_are_read_whole(tmp_path):
    text = b"".join(b"epoch %d loss 0.%d\n" % (i, i) for i in range(200_000))
    p = tmp_path / "run.log.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(text)
    f, _ = open_source(str(p))
    assert _read_all(f) == text and f.stopped is None
    f, _ = open_source(str(p), max_bytes=len(text))  # exactly at the bound: still whole
    assert _read_all(f) == text and f.stopped is None
    f, _ = open_source(str(p), max_bytes=len(text) - 1)
    assert len(_read_all(f)) == len(text) - 1 and f.stopped


def test_max_bytes_on_a_regular_file(tmp_path):
    p = tmp_path / "big.log"
    p.write_bytes(b"x" * 10_000)
    f, _ = open_source(str(p), max_bytes=4096)
    assert len(_read_all(f)) == 4096 and "--max-bytes" in f.stopped


@pytest.mark.parametrize("text, n", [("4096", 4096), ("500M", 500 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29),
                                     ("64k", 64 << 10), ("10MB", 10 << 20)])
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "abc", "-1", "0", "1X"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)
