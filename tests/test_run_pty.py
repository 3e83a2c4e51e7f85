"""`tfhelp run` on a terminal: what reaches the terminal is byte for byte what the script alone
puts there, the child sees the same terminal, the exit status is the child's, and a stopped
terminal still stops the child.

Each case runs the script twice on a pseudo-terminal this test owns (a terminal with the usual
output processing, "\\n" -> "\\r\\n"), once directly and once through the runner, and compares
everything read from the terminal's master side.
"""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time

import pytest

from tfhelp.assistant.frontends import runner

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")

# A process whose stdout/stderr are the terminal and which relays its argv through run_child:
# the runner alone, without the CLI's start-up.
RELAY = ("import sys\n"
         "from tfhelp.assistant.frontends import runner\n"
         "sys.exit(runner.run_child(sys.argv[1:]).exit_status)\n")
ENV = dict(os.environ, NO_COLOR="1", TFHELP_USER_RULES="/nonexistent-tfhelp-rules")


def _script(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


def _terminal(rows=31, cols=97):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


def _drain(master, proc, timeout=60.0, hold_s=0.0):
    """Everything the terminal received until the last writer closed it; reading starts only
    after ``hold_s`` seconds (a terminal that isn't read, as after Ctrl-S)."""
    if hold_s:
        time.sleep(hold_s)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every slave fd is closed
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def on_terminal(argv, env=ENV, **kw):
    """(bytes the terminal got, exit status) for ``argv`` with stdout and stderr on a fresh pty."""
    master, slave = _terminal()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        slave = None
        out = _drain(master, proc, **kw)
        return out, proc.wait(timeout=30)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)


def direct_and_relayed(script, *args):
    direct = on_terminal([sys.executable, script, *args])
    relayed = on_terminal([sys.executable, "-c", RELAY, sys.executable, script, *args])
    return direct, relayed


PROGRESS = """
    import sys
    out = sys.stdout.buffer
    prev = 0
    for epoch in range(1, 4):
        out.write(b"Epoch %d/3\\n" % epoch)
        for step in range(1, 201):
            line = b"%3d/200 [" % step + b"=" * (step * 30 // 200) + b"." * (30 - step * 30 // 200) + b"] - loss: 0.%04d" % step
            out.write(b"\\b" * prev + b"\\r" + line)
            out.flush()
            prev = len(line)
        out.write(b"\\n")
    out.write(b"\\x1b[32mcolour\\x1b[0m and invalid UTF-8: \\xff\\xfe\\xc3( \\xed\\xa0\\x80 \\x80\\n")
    out.write(b"tab\\there, CRLF\\r\\n, NUL \\x00 and a lone CR\\rover it\\n")
    sys.stderr.write("a warning on stderr between stdout lines\\n")
    out.write(b"x" * 70000 + b"\\n")
    out.write(b"no final newline")
"""


def test_progress_bars_and_invalid_utf8_reach_the_terminal_unchanged(tmp_path):
    s = _script(tmp_path, "progress.py", PROGRESS)
    (d_out, d_rc), (r_out, r_rc) = direct_and_relayed(s)
    assert d_rc == r_rc == 0
    assert r_out == d_out  # byte for byte, and nothing added at the end
    # the terminal did its "\n" -> "\r\n" exactly once, and the bytes tfhelp can't decode are there
    assert b"Epoch 1/3\r\n" in r_out and b"\r\r\n" not in r_out.replace(b"CRLF\r\r\n", b"")
    assert b"\xff\xfe\xc3( \xed\xa0\x80 \x80" in r_out
    assert r_out.endswith(b"no final newline")


def test_a_flood_of_short_lines_is_identical(tmp_path):
    s = _script(tmp_path, "flood.py", """
        import sys
        w = sys.stdout.write
        for i in range(60000):
            w("step %d - loss: 0.%04d\\n" % (i, i % 10000))
    """)
    (d_out, d_rc), (r_out, r_rc) = direct_and_relayed(s)
    assert d_rc == r_rc == 0
    assert len(d_out) > 1_000_000
    assert r_out == d_out


def test_child_sees_the_same_terminal(tmp_path):
    """Size, line discipline and input settings as on our terminal; only output processing is
    left to our terminal (else "\\n" would become "\\r\\r\\n")."""
    s = _script(tmp_path, "tty.py", """
        import os, sys, termios
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(1)
        print(os.isatty(1), os.isatty(2), os.get_terminal_size(1), iflag, cflag, lflag, cc[termios.VMIN])
        print("OPOST", bool(oflag & termios.OPOST))
    """)
    (d_out, _), (r_out, _) = direct_and_relayed(s)
    d_first, r_first = d_out.split(b"\r\n")[0], r_out.split(b"\r\n")[0]
    assert r_first == d_first
    assert b"True True os.terminal_size(columns=97, lines=31)" in r_first
    assert b"OPOST True" in d_out and b"OPOST False" in r_out


@pytest.mark.parametrize("code, status", [("sys.exit(0)", 0), ("sys.exit(3)", 3),
                                          ("raise SystemExit(255)", 255),
                                          ("os.kill(os.getpid(), signal.SIGTERM)", 128 + signal.SIGTERM)])
def test_exit_status_on_a_terminal_is_the_childs(tmp_path, code, status):
    s = _script(tmp_path, "st.py", f"import os, signal, sys\nprint('before', flush=True)\n{code}\n")
    (d_out, d_rc), (r_out, r_rc) = direct_and_relayed(s)
    assert r_rc == status
    assert r_out == d_out == b"before\r\n"


def test_cli_on_a_terminal_prints_the_scripts_bytes_then_its_report(tmp_path):
    s = _script(tmp_path, "fail.py", """
        import sys
        for i in range(1, 51):
            sys.stdout.write("\\r%d/50 [%s]" % (i, "=" * (i // 5)))
            sys.stdout.flush()
        sys.stdout.write("\\n")
        sys.stdout.buffer.write(b"\\xff not UTF-8\\n")
        sys.stdout.flush()
        raise ImportError("cannot import name 'np_utils' from 'keras.utils' (/usr/lib/python3/dist-packages/keras/utils/__init__.py)")
    """)
    d_out, d_rc = on_terminal([sys.executable, s])
    w_out, w_rc = on_terminal([sys.executable, "-m", "tfhelp", "run", "--python", sys.executable, s])
    assert d_rc == w_rc == 1
    assert w_out.startswith(d_out)  # the script's own bytes first, untouched
    report = w_out[len(d_out):].decode("utf-8", "replace")
    assert "exited with status 1" in report and "keras-np-utils-removed" in report


def test_a_terminal_that_stops_reading_stops_the_child(tmp_path):
    """Ctrl-S: the terminal takes nothing, so the child must block after a bounded backlog
    instead of finishing into tfhelp's memory; reading again lets it finish, nothing lost."""
    marker = tmp_path / "finished"
    s = _script(tmp_path, "big.py", f"""
        import sys
        block = ("y" * 99 + "\\n") * 1000
        for _ in range(80):          # 8 MB, far more than the backlog
            sys.stdout.write(block)
        sys.stdout.flush()
        open({str(marker)!r}, "w").close()
    """)
    master, slave = _terminal()
    try:
        proc = subprocess.Popen([sys.executable, "-c", RELAY, sys.executable, s], stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=slave, env=ENV)
        os.close(slave)
        slave = None
        time.sleep(1.5)
        assert not marker.exists(), "the child ran on while the terminal read nothing"
        out = _drain(master, proc)
        assert proc.wait(timeout=30) == 0
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert marker.exists()
    assert out == (b"y" * 99 + b"\r\n") * 80000


def test_as_shown_keeps_the_last_drawing_of_each_line():
    data = (b"Epoch 1/2\n" + b"".join(b"\b" * 20 + b"\r%d/5 [==>..]" % i for i in range(1, 6)) +
            b" - loss: nan\n"
            b"\r 3/9 [=>...]W tensorflow/core: a warning printed mid-bar\n"
            b"windows line\r\n"
            b"drawn twice\r\r\n"
            b"tail without newline\r")
    shown = runner.as_shown(data)
    assert shown == (b"Epoch 1/2\n5/5 [==>..] - loss: nan\n"
                     b" 3/9 [=>...]W tensorflow/core: a warning printed mid-bar\n"
                     b"windows line\r\n"
                     b"drawn twice\r\r\n"
                     b"tail without newline\r")
    plain = b"no carriage return at all\n" * 3
    assert runner.as_shown(plain) is plain


def test_diagnosed_text_of_a_progress_bar_run_is_small_and_keeps_the_traceback():
    """A fit's progress bar redraws thousands of times; the diagnosis gets one line per epoch
    and the traceback, whatever the size of the kept output."""
    bar = b"".join(b"\r%4d/938 [%s] - loss: 0.1234" % (i, b"=" * (i * 30 // 938)) for i in range(1, 939))
    body = b"".join(b"Epoch %d/40\n" % e + bar + b"\n" for e in range(1, 41))
    tb = (b"Traceback (most recent call last):\n  File \"train.py\", line 9, in <module>\n"
          b"tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor\n")
    tail = runner.Tail(1 << 20, runner.STDERR_HEAD_BYTES)
    for i in range(0, len(body + tb), 4095):
        piece = (body + tb)[i:i + 4095]
        tail.append((2, piece), len(piece))
    result = runner.RunResult(argv=["python", "train.py"], returncode=1, exit_status=1, signal_name=None,
                              core_dumped=False, duration=1.0, combined=tail, stderr=tail)
    text = result.captured_text()
    assert len(body) > 1_000_000 and len(text) < 10_000
    assert text.count(b"\n") < 100
    assert text.endswith(tb)


def test_relay_on_systems_without_a_usable_poll(tmp_path, monkeypatch):
    """macOS's poll() can't watch terminals, so there the relay waits through the selectors
    module (kqueue); the same relay run that way here gives the same bytes."""
    s = _script(tmp_path, "progress.py", PROGRESS)
    expected = subprocess.run([sys.executable, s], capture_output=True).stdout
    out = tmp_path / "out.bin"
    monkeypatch.setattr(sys, "platform", "darwin")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        res = runner.run_child([sys.executable, s], stdout_fd=fd, stderr_fd=fd, use_pty=True)
    finally:
        os.close(fd)
    monkeypatch.undo()
    assert res.exit_status == 0
    data = out.read_bytes()
    assert data.replace(b"a warning on stderr between stdout lines\n", b"") == expected
