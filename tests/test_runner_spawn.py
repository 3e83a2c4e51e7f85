"""How `tfhelp run` starts the child (os.posix_spawn): found on PATH as exec would, the errors
the CLI maps to 127 / 126, and the start state a direct run would have (signal mask and
dispositions, inherited descriptors, stdio never lost when tfhelp's own stdout is closed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tfhelp.assistant.frontends import runner

pytestmark = pytest.mark.skipif(os.name != "posix", reason="posix_spawn and signal masks are POSIX")

TFHELP = [sys.executable, "-m", "tfhelp"]
ENV = dict(os.environ, NO_COLOR="1", TFHELP_USER_RULES="/nonexistent-tfhelp-rules")


def _run(argv, **kw):
    r, w = os.pipe()
    try:
        res = runner.run_child(argv, stdout_fd=w, stderr_fd=w, use_pty=False, **kw)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as fh:
        return res, fh.read()


def test_program_is_found_on_the_path_of_the_given_environment(tmp_path):
    tool = tmp_path / "bin" / "only-here"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho found me \"$@\"\n")
    tool.chmod(0o755)
    res, out = _run(["only-here", "a b"], env=dict(os.environ, PATH=f"/nonexistent:{tool.parent}"))
    assert res.exit_status == 0 and out == b"found me a b\n"
    with pytest.raises(FileNotFoundError):
        runner.run_child(["only-here"], use_pty=False)  # not on our own PATH


def test_missing_and_non_executable_programs_raise_what_popen_raises(tmp_path):
    plain = tmp_path / "plain.sh"
    plain.write_text("echo never\n")
    with pytest.raises(FileNotFoundError):
        runner.run_child([str(tmp_path / "absent")], use_pty=False)
    with pytest.raises(PermissionError):
        runner.run_child([str(plain)], use_pty=False)
    # and the CLI turns them into the shell's statuses, without a traceback
    r = subprocess.run(TFHELP + ["run", "--", str(plain)], capture_output=True, env=ENV, timeout=60)
    assert r.returncode == 126 and b"permission denied" in r.stderr and b"Traceback" not in r.stderr


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/self/status")
def test_child_starts_with_the_signal_state_of_a_direct_run():
    """tfhelp blocks the signals it forwards, and Python ignores SIGPIPE: neither may leak into
    the child (a child ignoring SIGPIPE would go on writing into `| head` forever)."""
    res, out = _run(["sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status"])
    fields = dict(line.split(":\t") for line in out.decode().splitlines())
    assert res.exit_status == 0
    assert int(fields["SigBlk"], 16) == 0
    assert not int(fields["SigIgn"], 16) & (1 << (signal.SIGPIPE - 1))


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="uses bash's PIPESTATUS")
def test_a_child_writing_into_a_closed_pipe_dies_of_sigpipe_as_it_would_directly():
    """`yes | head`: yes is killed by SIGPIPE (status 141), not told EPIPE (an ignored SIGPIPE:
    "write error", status 1), and tfhelp passes that status on without a diagnosis."""
    cmd = f"{sys.executable} -m tfhelp run --no-pty -- yes | head -n 3; echo status=${{PIPESTATUS[0]}}"
    r = subprocess.run(["/bin/bash", "-c", cmd], capture_output=True, env=ENV, timeout=60)
    assert r.stdout == b"y\ny\ny\nstatus=141\n", (r.stdout, r.stderr)
    assert b"tfhelp:" not in r.stderr


def test_inherited_descriptors_reach_the_child_as_they_would_directly(tmp_path):
    """`tfhelp run script 3>log`: the script writes fd 3 exactly as when run directly."""
    log = tmp_path / "fd3.log"
    code = "import os; os.write(3, b'to fd 3\\n')"
    cmd = f"{sys.executable} -m tfhelp run -- {sys.executable} -c \"{code}\" 3>{log}"
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    assert log.read_bytes() == b"to fd 3\n"


def test_output_is_not_lost_when_tfhelp_itself_has_no_stdin_or_stdout():
    """With fds 0 and 1 closed the child's new pipe is (0, 1); its write end must be moved
    before it becomes the child's stdout, or exec would close it."""
    code = ("import os, sys\n"
            "from tfhelp.assistant.frontends import runner\n"
            "r, w = os.pipe()\n"
            "os.close(0)\n"
            "os.close(1)\n"
            "res = runner.run_child([sys.executable, '-c', 'print(42)'], stdout_fd=w, stderr_fd=2, use_pty=False)\n"
            "os.close(w)\n"
            "sys.stderr.write('got %r status %d' % (os.read(r, 100), res.exit_status))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV, timeout=60)
    assert b"got b'42\\n' status 0" in r.stderr, r.stderr
