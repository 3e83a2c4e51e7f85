"""`tfhelp run`: transparent relay, exit status and signal propagation, diagnosis on failure."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tfhelp.assistant.frontends import runner

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and ptys are POSIX")

TFHELP = [sys.executable, "-m", "tfhelp"]


def _script(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


def _tfhelp(args, **kw):
    env = dict(os.environ, NO_COLOR="1", COLUMNS="100", TFHELP_USER_RULES="/nonexistent-tfhelp-rules")
    return subprocess.run(TFHELP + args, capture_output=True, env=env, timeout=60, **kw)


def test_exit_status_is_the_scripts(tmp_path):
    s = _script(tmp_path, "exit3.py", """
        import sys
        print("out line")
        sys.stderr.write("err line\\n")
        sys.exit(3)
    """)
    r = _tfhelp(["run", s])
    assert r.returncode == 3
    assert r.stdout == b"out line\n"
    assert r.stderr.startswith(b"err line\n")
    # a non-zero exit is a failure: the diagnosis (or the abstention) follows the child's output
    assert b"exited with status 3" in r.stderr


def test_success_prints_nothing_extra(tmp_path):
    s = _script(tmp_path, "ok.py", """
        import sys
        print("hello")
        sys.stderr.write("a warning\\n")
    """)
    r = _tfhelp(["run", s, "arg1", "--flag"])
    assert r.returncode == 0
    assert r.stdout == b"hello\n"
    assert r.stderr == b"a warning\n"


def test_script_arguments_pass_through(tmp_path):
    s = _script(tmp_path, "argv.py", "import sys; print(sys.argv[1:])\n")
    r = _tfhelp(["run", s, "--json", "-m", "x"])
    assert r.returncode == 0
    assert r.stdout == b"['--json', '-m', 'x']\n"


def test_module_and_raw_command_forms(tmp_path):
    r = _tfhelp(["run", "-m", "json.tool", "--sort-keys"], input=b'{"b": 1, "a": 2}')
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"a": 2, "b": 1}
    assert r.stdout.index(b'"a"') < r.stdout.index(b'"b"')
    r = _tfhelp(["run", "--", sys.executable, "-c", "import sys; sys.exit(7)"])
    assert r.returncode == 7


def test_stdin_passes_through(tmp_path):
    s = _script(tmp_path, "echo.py", "import sys; sys.stdout.write(sys.stdin.read().upper())\n")
    r = _tfhelp(["run", s], input=b"abc\ndef\n")
    assert r.returncode == 0 and r.stdout == b"ABC\nDEF\n"


def test_segfault_gives_139_and_shell_message(tmp_path):
    s = _script(tmp_path, "segv.py", """
        import os, signal
        print("before crash", flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    """)
    r = _tfhelp(["run", s])
    assert r.returncode == 139
    assert r.stdout == b"before crash\n"
    assert b"Segmentation fault" in r.stderr
    assert b"killed by SIGSEGV" in r.stderr


def test_illegal_instruction_is_diagnosed(tmp_path):
    # The shell's "Illegal instruction" line is added to the diagnosed text, so the rule for a
    # CPU without AVX fires even though the child printed nothing about it.
    s = _script(tmp_path, "sigill.py", """
        import os, signal
        print("importing tensorflow", flush=True)
        os.kill(os.getpid(), signal.SIGILL)
    """)
    out = tmp_path / "diag.json"
    r = _tfhelp(["run", "--json-out", str(out), s])
    assert r.returncode == 128 + signal.SIGILL
    assert b"Illegal instruction" in r.stderr
    doc = json.loads(out.read_text())
    assert doc["run"]["signal"] == "SIGILL"
    assert "cpu-illegal-instruction" in [d["id"] for d in doc["diagnoses"]]
    assert r.stdout == b"importing tensorflow\n"  # the JSON went to the file, stdout stays clean


def test_child_killed_by_sigint_gives_130_without_diagnosis(tmp_path):
    s = _script(tmp_path, "int.py", """
        import os, signal, time
        print("working", flush=True)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    """)
    r = _tfhelp(["run", s])
    assert r.returncode == 130
    assert b"tfhelp:" not in r.stderr  # an interrupt is not a failure to explain


def _start_wrapped_sleeper(tmp_path):
    s = _script(tmp_path, "sleeper.py", """
        import signal, sys, time
        def on_term(sig, frame):
            print("child got SIGTERM", flush=True)
            sys.exit(143)
        signal.signal(signal.SIGTERM, on_term)
        print("ready", flush=True)
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            print("child got KeyboardInterrupt", flush=True)
            raise
    """)
    env = dict(os.environ, NO_COLOR="1", TFHELP_USER_RULES="/nonexistent-tfhelp-rules")
    p = subprocess.Popen(TFHELP + ["run", s], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdout.readline() == b"ready\n"
    return p


def test_sigint_to_tfhelp_reaches_the_child(tmp_path):
    p = _start_wrapped_sleeper(tmp_path)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert b"child got KeyboardInterrupt" in out
    assert p.returncode == 130


def test_sigterm_to_tfhelp_reaches_the_child(tmp_path):
    p = _start_wrapped_sleeper(tmp_path)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert out.endswith(b"child got SIGTERM\n")
    assert p.returncode == 143


def test_output_bytes_identical_to_direct_run(tmp_path):
    s = _script(tmp_path, "noisy.py", """
        import sys
        out = sys.stdout.buffer
        for i in range(20000):
            out.write(b"line %d \\xff\\xfe invalid utf-8, \\x1b[32mcolour\\x1b[0m, cr\\r\\n" % i)
        out.write(b"no final newline")
    """)
    direct = subprocess.run([sys.executable, s], capture_output=True)
    wrapped = _tfhelp(["run", s])
    assert wrapped.returncode == direct.returncode == 0
    assert wrapped.stdout == direct.stdout
    assert len(wrapped.stdout) > 900_000


def test_failing_script_output_then_diagnosis(tmp_path):
    s = _script(tmp_path, "np_utils.py", """
        print("Epoch 1/1")
        raise ImportError("cannot import name 'np_utils' from 'keras.utils' (/usr/lib/python3.11/site-packages/keras/utils/__init__.py)")
    """)
    r = _tfhelp(["run", s])
    assert r.returncode == 1
    assert r.stdout == b"Epoch 1/1\n"
    err = r.stderr.decode()
    tb = err.index("Traceback (most recent call last)")
    diag = err.index("exited with status 1")
    assert tb < diag  # the child's own output first
    assert "np_utils" in err[diag:]
    assert "keras-np-utils-removed" in err[diag:]


def test_tail_is_bounded():
    # 8 MB of output through a 256 KB tail: memory stays bounded, the end is kept.
    code = "import sys\nw=sys.stdout.write\nfor i in range(400000): w('x'*15+'%05d\\n' % (i % 100000))\nsys.stderr.write('the end\\n')\nsys.exit(1)"
    r, w = os.pipe()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        res = runner.run_child([sys.executable, "-c", code], stdout_fd=devnull, stderr_fd=devnull,
                               use_pty=False, tail_bytes=256 << 10)
    finally:
        os.close(devnull)
        os.close(r)
        os.close(w)
    assert res.exit_status == 1
    assert res.combined.total == 400000 * 21 + len("the end\n")
    assert res.combined.size <= (256 << 10) + runner.READ_SIZE
    assert res.captured_text().rstrip().endswith(b"the end")


def test_pty_mode_child_sees_a_terminal(tmp_path):
    out = tmp_path / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        res = runner.run_child([sys.executable, "-c", "import os,sys; print(os.isatty(1), os.isatty(2)); print('a\\nb')"],
                               stdout_fd=fd, stderr_fd=fd, use_pty=True)
    finally:
        os.close(fd)
    assert res.exit_status == 0
    # the pty passes bytes through unchanged: no \r\n translation
    assert out.read_bytes() == b"True True\na\nb\n"


def test_command_not_found():
    r = _tfhelp(["run", "--", "/nonexistent/program-xyz"])
    assert r.returncode == 127
    assert b"command not found" in r.stderr
    assert b"Traceback" not in r.stderr


def test_usage_error_without_command():
    r = _tfhelp(["run"])
    assert r.returncode == 2
    assert b"Traceback" not in r.stderr


def test_wrapper_overhead_is_small(tmp_path):
    """A quick version of benchmarks/bench_run.py: 300k lines, wrapped vs direct (best of 3).

    CPU time (this process's children: tfhelp and the script) is the firm bound: on a machine
    shared with other jobs wall time mostly measures the load.  Wall time still catches a relay
    that stalls (sleeps instead of reading), with a generous bound."""
    import resource

    s = _script(tmp_path, "many.py", """
        import sys
        w = sys.stdout.write
        for i in range(300000):
            w("line %d of output\\n" % i)
    """)
    # The relay's own cost: the background probe of the interpreter (commands/run.py EnvPrefetch,
    # ~0.35 s CPU in other processes once a run passes 1 s) is switched off here and covered by
    # tests/test_run_prefetch.py.
    env = dict(os.environ, TFHELP_RUN_PROBE_AFTER="off")

    def best(cmd):
        walls, cpus = [], []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
            walls.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        return min(walls), min(cpus)
    direct, direct_cpu = best([sys.executable, s])
    wrapped, wrapped_cpu = best(TFHELP + ["run", s])
    # tfhelp's own start-up is ~0.1-0.3 s of CPU (more where bytecode isn't cached)
    assert wrapped_cpu < direct_cpu * 1.5 + 0.5
    assert wrapped < direct * 3 + 1.0


def test_pty_relay_keeps_up_with_a_fast_writer(tmp_path):
    """Under a pty the child blocks whenever the ~4 KB pty buffer is full: the relay must read
    without pausing (a regression once made this 10x slower than a direct run)."""
    code = "import sys\nw=sys.stdout.write\nfor i in range(200000): w('step %d - loss 0.1234\\n' % i)\n"
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], stdout=devnull, check=True)
        direct = time.perf_counter() - t
        t = time.perf_counter()
        res = runner.run_child([sys.executable, "-c", code], stdout_fd=devnull, stderr_fd=devnull, use_pty=True)
        wrapped = time.perf_counter() - t
    finally:
        os.close(devnull)
    assert res.exit_status == 0
    assert res.combined.total == sum(len("step %d - loss 0.1234\n" % i) for i in range(200000))
    assert wrapped < direct * 4 + 1.0


def test_shared_stdout_stderr_keeps_the_interleaving(tmp_path):
    """`> log 2>&1`: one channel for both streams, so the order is the child's own."""
    s = _script(tmp_path, "mix.py", """
        import sys
        for i in range(2000):
            print("out", i)
            if i % 100 == 0:
                print("err", i, file=sys.stderr)
    """)
    direct = tmp_path / "direct.log"
    wrapped = tmp_path / "wrapped.log"
    with open(direct, "wb") as fh:
        subprocess.run([sys.executable, s], stdout=fh, stderr=subprocess.STDOUT, check=True)
    env = dict(os.environ, TFHELP_USER_RULES="/nonexistent-tfhelp-rules")
    with open(wrapped, "wb") as fh:
        subprocess.run(TFHELP + ["run", "--python", sys.executable, s], stdout=fh, stderr=subprocess.STDOUT,
                       check=True, env=env)
    assert wrapped.read_bytes() == direct.read_bytes()


def test_thread_relay_used_without_posix_ptys(tmp_path):
    """The Windows relay (reader threads, no pty) keeps the same bookkeeping."""
    out = tmp_path / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        res = runner._run_child_threads(
            [sys.executable, "-c", "import sys; sys.stdout.write('x' * 100000); sys.stderr.write('boom\\n'); sys.exit(4)"],
            fd, fd, 1 << 20, 1 << 20, None, None)
    finally:
        os.close(fd)
    assert res.exit_status == 4 and res.failed and res.should_diagnose
    data = out.read_bytes()
    assert data.count(b"x") == 100000 and b"boom\n" in data
    assert res.captured_text().endswith(b"boom\n") or b"boom\n" in res.captured_text()


def test_summary_names_harmless_warnings_after_success(tmp_path):
    s = _script(tmp_path, "notice.py", """
        import sys
        sys.stderr.write("2024-11-25 11:36:31.203373: I tensorflow/core/util/port.cc:153] oneDNN custom operations "
                         "are on. You may see slightly different numerical results due to floating-point round-off "
                         "errors from different computation orders. To turn them off, set the environment variable "
                         "`TF_ENABLE_ONEDNN_OPTS=0`.\\n")
        print("trained")
    """)
    plain = _tfhelp(["run", s])
    assert plain.returncode == 0 and b"tfhelp" not in plain.stderr
    r = _tfhelp(["run", "--summary", s])
    assert r.returncode == 0
    assert r.stdout == b"trained\n"
    assert b"run succeeded" in r.stderr and b"onednn-custom-operations-notice (harmless)" in r.stderr


def test_startup_warning_survives_a_long_noisy_run():
    """A root cause printed at start-up (stderr) is still diagnosed after megabytes of output."""
    code = ("import sys\n"
            "sys.stderr.write(\"2022-07-10 15:08:09.276131: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] "
            "Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: "
            "No such file or directory\\n\")\n"
            "for i in range(100000):\n"
            "    sys.stderr.write('step %d: some per-step log line on stderr\\n' % i)\n"
            "    sys.stdout.write('progress %d\\n' % i)\n"
            "sys.exit(1)\n")
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        res = runner.run_child([sys.executable, "-c", code], stdout_fd=devnull, stderr_fd=devnull, use_pty=False,
                               tail_bytes=256 << 10, stderr_bytes=256 << 10)
    finally:
        os.close(devnull)
    assert res.stderr.dropped > 0
    text = res.captured_text()
    assert b"libcudnn.so.8" in text
    assert len(text) < 2 << 20
    assert b"step 99999" in text


def test_json_flag_puts_the_diagnosis_on_stderr_only(tmp_path):
    s = _script(tmp_path, "fail.py", """
        print("result line")
        raise ImportError("cannot import name 'np_utils' from 'keras.utils' (/x/site-packages/keras/utils/__init__.py)")
    """)
    r = _tfhelp(["run", "--json", s])
    assert r.returncode == 1
    assert r.stdout == b"result line\n"
    err = r.stderr.decode()
    doc = json.loads(err[err.index("\n{") + 1:])
    assert doc["run"]["exit_status"] == 1
    assert doc["diagnoses"][0]["id"] == "keras-np-utils-removed"
