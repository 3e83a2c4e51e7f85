"""Hostile inputs end to end, through every way text gets into tfhelp: piped stdin, --from-log,
triage, `tfhelp run` (its child's output and signals) and the REPL.

Every case runs tfhelp as a separate process and asserts four things: it ends within a time bound,
its peak memory (the child's own ru_maxrss from wait4, or VmHWM for the REPL) stays bounded (for
the 200 MB inputs: below the input's size, so the input was never held whole), it says something
clear, and its exit status follows the contract in docs/HELPERS.md (0 a known cause, 1 nothing
explained, 2 unreadable / bad input; `run`: the child's own status). Inputs are generated lazily
into the session's tmp folder and shared between the surfaces.
"""
from __future__ import annotations

import gzip
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="wait4, FIFOs, /dev/zero and signals are POSIX")

ERROR = b"ImportError: cannot import name 'np_utils' from 'keras.utils'"
RULE = "keras-np-utils-removed"
MB = 1 << 20
#: seconds and MiB allowed on a loaded 2-core machine (typical: under 2 s, under 100 MiB)
TIME_LIMIT = 60
RSS_LIMIT_MB = 400
BIG_RSS_LIMIT_MB = 180          # for the 200 MB inputs: less than the input itself


@dataclass
class Result:
    rc: int
    out: bytes
    err: str
    seconds: float
    rss_mb: float

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")


#: tfhelp is forked from this small launcher, not from pytest: Linux keeps the parent's RSS high-water
#: mark in a child across fork+exec, so wait4 from a big pytest process would report pytest's size.
WRAP = (
    "import os, signal, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.executable, [sys.executable, '-m', 'tfhelp', *sys.argv[1:]])\n"
    "for s in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(s, lambda n, f: os.kill(pid, n))\n"
    "_, st, ru = os.wait4(pid, 0)\n"
    "open(os.environ['TFHELP_TEST_RSS'], 'w').write(str(ru.ru_maxrss))\n"
    "code = os.waitstatus_to_exitcode(st)\n"
    "os._exit(code if code >= 0 else 128 - code)\n")


def measure(argv, tmp_path, *, stdin=None, stdin_cmd=None, timeout=TIME_LIMIT, env=None, on_start=None) -> Result:
    """Run ``python -m tfhelp ARGV``; stdout/stderr go to files (no pipe to fill), stdin is a file
    path, or the stdout of ``stdin_cmd`` (a real pipe). Peak RSS comes from wait4 on that child."""
    n = len(list(tmp_path.glob("out-*")))
    out_p, err_p = tmp_path / f"out-{n}", tmp_path / f"err-{n}"
    feeder = None
    with open(out_p, "wb") as fo, open(err_p, "wb") as fe:
        if stdin_cmd is not None:
            feeder = subprocess.Popen(stdin_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            fin = feeder.stdout
        else:
            fin = open(stdin, "rb") if stdin is not None else subprocess.DEVNULL
        t0 = time.monotonic()
        rss_file = tmp_path / f"rss-{n}"
        p = subprocess.Popen([sys.executable, "-c", WRAP, *argv], stdin=fin, stdout=fo, stderr=fe,
                             env=dict(os.environ, TFHELP_TEST_RSS=str(rss_file), **(env or {})))
        if feeder is not None:
            feeder.stdout.close()           # tfhelp holds the read end now
        elif stdin is not None:
            fin.close()
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        try:
            if on_start is not None:
                on_start(p)
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        elapsed = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    if feeder is not None:
        feeder.kill()
        feeder.wait()
    assert elapsed < timeout, f"tfhelp {argv} still running after {timeout}s: killed"
    return Result(p.returncode, out_p.read_bytes(), err_p.read_bytes().decode("utf-8", "replace"), elapsed,
                  int(rss_file.read_text()) / 1024)


def _own_dirs() -> tuple:
    import tfhelp.assistant
    import tfhelp.kb

    return tuple(os.path.dirname(m.__file__) for m in (tfhelp.assistant, tfhelp.kb))


OWN_DIRS = _own_dirs()


def assert_bounded(r: Result, rss_mb=RSS_LIMIT_MB, seconds=TIME_LIMIT, child_tracebacks=False):
    """Time, memory, and no traceback of tfhelp's own (a `run` child may print its own)."""
    assert r.seconds < seconds, f"{r.seconds:.1f}s"
    assert r.rss_mb < rss_mb, f"peak RSS {r.rss_mb:.0f} MiB"
    if not child_tracebacks:
        assert "Traceback (most recent call last)" not in r.err, r.err[-3000:]
    assert not any(d in r.err for d in OWN_DIRS), r.err[-3000:]


def assert_inert(r: Result):
    """Nothing from the input can drive the terminal: no ESC, BEL, C1 controls or NUL come out."""
    for bad in (b"\x1b", b"\x07", b"\x00", "\u009b".encode(), "\u009d".encode()):
        assert bad not in r.out, bad
        assert bad.decode("utf-8") not in r.err, bad


# --- inputs, made once per session on first use ---------------------------------------------


class Inputs:
    def __init__(self, root):
        self.root = root

    def _make(self, name, write):
        p = self.root / name
        if not p.exists():
            tmp = self.root / (name + ".part")
            with open(tmp, "wb") as fh:
                write(fh)
            tmp.rename(p)
        return p

    def line200(self):            # a 200 MB single line, no newline at all
        return self._make("line200.txt", lambda fh: [fh.write(b"A" * (8 * MB)) for _ in range(25)])

    def random10(self):           # 10 MB of random bytes (seeded: the same every run)
        return self._make("random10.bin", lambda fh: fh.write(random.Random(14).randbytes(10 * MB)))

    def invalid_utf8(self):
        junk = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80"
        return self._make("invalid-utf8.txt", lambda fh: fh.write(
            (junk + b" W tensorflow noise \xc0\xaf\n") * 5000 + junk + ERROR + b"\xff\n" + junk * 100 + b"\n"))

    def escapes(self):            # CSI colours, OSC title / clipboard / hyperlink, C1 CSI, cursor moves
        seq = (b"\x1b]0;pwned title\x07\x1b]52;c;ZWNobyBoaQ==\x07\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"
               b"\x1b[2J\x1b[H\x1b[31;1m" + "\u009b31m\u009d0;c1 title\u009c".encode())
        return self._make("escapes.txt", lambda fh: fh.write(
            (seq + b"noise\x1b[0m\r\n") * 2000 + seq + ERROR + b"\x1b[0m\x07\n"))

    def markup(self):
        return self._make("markup.txt", lambda fh: fh.write(
            b"[bold red]Epoch 1/10[/bold red] [link=http://evil.example]click[/link] [/] [blink]\n" * 2000
            + b"[bold red]" + ERROR + b"[/bold red] [/link][/][[/]]\n"))

    def nul(self):
        return self._make("nul.txt", lambda fh: fh.write(
            b"\x00" * (2 * MB) + b"\x00".join(bytes([c]) for c in ERROR) + b"\n" + ERROR + b"\x00\x00\n"))

    def fifo(self):
        p = self.root / "writerless.fifo"
        if not p.exists():
            os.mkfifo(p)
        return p

    def gzip_bomb(self):          # 2 GiB of zeros in 2 MB: 256 gzip members of 8 MiB each
        def write(fh):
            c = zlib.compressobj(9, zlib.DEFLATED, 31)
            member = c.compress(b"\0" * (8 * MB)) + c.flush()
            fh.write(member * 256)
        return self._make("bomb.log.gz", write)

    def real_gz(self):            # an honest compressed log with the error in it
        return self._make("real.log.gz", lambda fh: fh.write(gzip.compress(
            b"I tensorflow/core/platform/cpu_feature_guard.cc:182] noise\n" * 20000 + ERROR + b"\n")))

    def bad_rules(self):
        d = self.root / "bad-rules"
        if d.exists():
            return d
        (d / "import").mkdir(parents=True)
        (d / "import" / "broken-yaml.yaml").write_bytes(b"id: [unclosed\n  : : :\n")
        (d / "import" / "python-tag.yaml").write_text(
            f'!!python/object/apply:os.system ["touch {self.root}/PWNED"]\n')
        (d / "import" / "binary-junk.yaml").write_bytes(random.Random(3).randbytes(5000))
        (d / "import" / "wrong-types.yaml").write_text("id: wrong-types\ntitle: 5\ncategory: import\nmatch: 5\nfixes: no\n")
        (d / "import" / "redos.yaml").write_text(
            "id: redos\ntitle: A Catastrophic Regex\ncategory: import\nseverity: fatal\nconfidence: high\n"
            "summary: x\ncause: x\nreferences: [https://example.org/x]\nanchors: ['aaaa']\n"
            "match:\n  all:\n    - {name: r, type: regex, value: '(a+)+$'}\n"
            "fixes:\n  - title: t\n    steps:\n      - {action: manual, text: x}\n"
            "examples:\n  match: ['aaaa']\n  no_match: ['b']\n")
        (d / "import" / "shell-fix.yaml").write_text(
            "id: shell-fix\ntitle: A Rule That Wants A Shell\ncategory: import\nseverity: fatal\nconfidence: high\n"
            "summary: x\ncause: x\nreferences: [https://example.org/x]\n"
            "match:\n  all:\n    - {name: m, type: literal, value: \"cannot import name 'np_utils'\"}\n"
            "fixes:\n  - title: t\n    steps:\n      - {action: shell, command: 'touch PWNED2'}\n"
            "examples:\n  match: [\"cannot import name 'np_utils'\"]\n  no_match: ['b']\n")
        (d / "import" / "huge.yaml").write_bytes(b"id: huge\ntitle: " + b"x" * (5 * MB) + b"\n")
        return d

    def redos_text(self):
        return self._make("redos.txt", lambda fh: fh.write((b"a" * 4000 + b"!\n") * 200 + ERROR + b"\n"))


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    return Inputs(tmp_path_factory.mktemp("hostile"))


# (input name, expected exit, the rule that must be found or None, big input?)
DATA_CASES = [
    ("line200", 1, None, True),
    ("random10", 1, None, False),
    ("invalid_utf8", 0, RULE, False),
    ("escapes", 0, RULE, False),
    ("markup", 0, RULE, False),
    ("nul", 0, RULE, False),
]
SURFACES = ["stdin-pipe", "from-log", "triage"]


def run_surface(surface, path, tmp_path, extra=()):
    if surface == "stdin-pipe":
        return measure([*extra], tmp_path, stdin_cmd=["cat", str(path)])
    if surface == "from-log":
        return measure(["--from-log", str(path), *extra], tmp_path)
    return measure(["triage", str(path), "--no-progress", "--width", "300", *extra], tmp_path)


# triage scans each file exactly as --from-log does: the small inputs through it in the slow suite only
GRID = [pytest.param(surface, *case, id=f"{case[0]}-{surface}",
                     marks=[pytest.mark.slow] if surface == "triage" and not case[3] else [])
        for case in DATA_CASES for surface in SURFACES]


@pytest.mark.parametrize("surface,name,code,rule,big", GRID)
def test_hostile_data_gets_a_bounded_clear_answer(surface, name, code, rule, big, inputs, tmp_path):
    path = getattr(inputs, name)()
    r = run_surface(surface, path, tmp_path)
    assert_bounded(r, rss_mb=BIG_RSS_LIMIT_MB if big else RSS_LIMIT_MB)
    assert r.rc == code, (r.rc, r.text[-2000:], r.err[-2000:])
    if rule:
        assert rule in r.text, r.text[-3000:]
    else:
        assert "No known cause matched" in r.text, r.text[-2000:]
    assert_inert(r)


def test_large_stdin_says_it_is_scanned_as_a_log(inputs, tmp_path):
    r = measure([], tmp_path, stdin_cmd=["cat", str(inputs.line200())])
    assert "scanning it as a log" in r.err and r.rc == 1


SPECIAL_CASES = [
    ("dev-zero", "from-log", lambda i: "/dev/zero", "character device"),
    ("dev-zero", "triage", lambda i: "/dev/zero", "character device"),
    ("fifo", "from-log", lambda i: i.fifo(), "named pipe"),
    ("fifo", "triage", lambda i: i.fifo(), "named pipe"),
    ("gzip-bomb", "from-log", lambda i: i.gzip_bomb(), "gzip bomb"),
    ("gzip-bomb", "triage", lambda i: i.gzip_bomb(), None),
    ("directory", "from-log", lambda i: i.root, "directory"),
]


@pytest.mark.parametrize("name,surface,make,says", SPECIAL_CASES, ids=[f"{c[0]}-{c[1]}" for c in SPECIAL_CASES])
def test_devices_fifos_and_bombs_end_within_seconds_with_a_message(name, surface, make, says, inputs, tmp_path):
    r = run_surface(surface, make(inputs), tmp_path)
    assert_bounded(r, rss_mb=BIG_RSS_LIMIT_MB, seconds=20)
    assert r.rc != 0, (r.text, r.err)
    if surface == "from-log":
        assert r.rc == 2
    if says:
        assert says in r.err, r.err
    else:  # triage: the file is reported as not fully read
        assert "partly read" in r.text + r.err or "bomb" in r.text + r.err, (r.text, r.err)


def test_an_honest_gz_log_is_still_read(inputs, tmp_path):
    r = measure(["--from-log", str(inputs.real_gz())], tmp_path)
    assert_bounded(r)
    assert r.rc == 0 and "np_utils Is No Longer Importable" in r.text


@pytest.mark.parametrize("argv,stdin,says", [
    (["--from-log", "-"], "/dev/zero", "character device"),
    pytest.param([], "/dev/zero", "character device"),
    pytest.param(["diagnose", "FIFO"], None, "named pipe"),
    (["diagnose", "/dev/zero"], None, "character device"),
], ids=["from-log-stdin-dev-zero", "stdin-dev-zero", "diagnose-fifo", "diagnose-dev-zero"])
def test_special_files_on_the_diagnose_paths_end_with_a_message(argv, stdin, says, inputs, tmp_path):
    """`tfhelp < /dev/zero`, `tfhelp diagnose FIFO` ... must not run or block until killed."""
    argv = [str(inputs.fifo()) if a == "FIFO" else a for a in argv]
    r = measure(argv, tmp_path, stdin=stdin, timeout=10)
    assert_bounded(r, rss_mb=BIG_RSS_LIMIT_MB, seconds=10)
    assert r.rc == 2 and says in r.err, (r.rc, r.err[-500:])


@pytest.mark.parametrize("surface", SURFACES)
def test_malformed_rules_are_skipped_with_a_warning_and_never_run_code(surface, inputs, tmp_path):
    rules = inputs.bad_rules()
    r = run_surface(surface, inputs.redos_text(), tmp_path, extra=("--rules", str(rules)))
    assert_bounded(r, seconds=30)
    assert r.rc == 0 and RULE in r.text, (r.text[-2000:], r.err[-2000:])
    assert "skipped" in r.err and "broken rule file" in r.err
    assert not (inputs.root / "PWNED").exists() and not os.path.exists("PWNED2")


def test_rules_lint_reports_every_malformed_rule_without_crashing(inputs, tmp_path):
    r = measure(["rules", "lint", str(inputs.bad_rules())], tmp_path)
    assert_bounded(r, seconds=30)
    assert r.rc == 1, (r.text, r.err)
    for name in ("broken-yaml", "python-tag", "binary-junk", "wrong-types", "redos", "shell-fix", "huge"):
        assert name in r.text + r.err, name
    assert not (inputs.root / "PWNED").exists()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=200), st.sampled_from([
    ERROR, b"\x1b]52;c;AAAA\x07", b"\x1b[6n", b"[bold]", b"[/]", b"\x00", b"\r", b"\xff\xfe", "\u009b".encode(),
    b"Traceback (most recent call last):\n", b'  File "x.py", line 1, in <module>\n', b"\n"])), max_size=30))
def test_random_mixtures_on_piped_stdin_never_crash_and_follow_the_contract(chunks):
    data = b"".join(chunks)
    p = subprocess.run([sys.executable, "-m", "tfhelp"], input=data, capture_output=True, timeout=TIME_LIMIT)
    if p.returncode == 2:  # only for input with nothing in it
        assert b"nothing to diagnose" in p.stderr and not data.strip(b" \t\r\n\x00"), (data, p.stderr)
        return
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-2000:])
    assert b"Traceback (most recent call last)" not in p.stderr
    for bad in (b"\x1b", b"\x07", b"\x00", "\u009b".encode()):
        assert bad not in p.stdout
    assert (p.returncode == 0) == (b"score " in p.stdout), p.stdout[-2000:]


# --- tfhelp run ---------------------------------------------------------------------------

FLOOD = """
import os, sys
buf = b"x" * (1 << 20)
for i in range(200):
    os.write(1, buf)
sys.stderr.write("Traceback (most recent call last):\\n  File \\"flood.py\\", line 1, in <module>\\n"
                 "ImportError: cannot import name 'np_utils' from 'keras.utils'\\n")
sys.exit(1)
"""
RANDOM_STDERR = """
import os, random, sys
data = random.Random(5).randbytes(10 << 20)
for i in range(0, len(data), 65536):
    os.write(2, data[i:i + 65536])
sys.exit(4)
"""
CLOSER = """
import os, sys, time
print("before close", flush=True)
os.close(1)
time.sleep(0.3)
sys.stderr.write("stderr still works\\n")
sys.exit(3)
"""
BOTH_CLOSED = """
import os, time
os.close(1); os.close(2)
time.sleep(0.5)
os._exit(5)
"""
HANDLER = """
import os, signal, sys, time
def on(sig, frame):
    os.write(2, ("child got %d\\n" % sig).encode())
    os._exit(40 + sig)
signal.signal(signal.SIGINT, on)
signal.signal(signal.SIGTERM, on)
print("ready", flush=True)
time.sleep(60)
sys.exit(0)
"""
DEFAULT_HANDLER = """
import time
print("ready", flush=True)
time.sleep(60)
"""


def script(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(body)
    return str(p)


def test_run_relays_a_200_mb_flood_unchanged_with_bounded_memory(tmp_path):
    r = measure(["run", "--no-pty", script(tmp_path, "flood.py", FLOOD)], tmp_path)
    assert_bounded(r, rss_mb=BIG_RSS_LIMIT_MB, child_tracebacks=True)
    assert r.rc == 1
    assert len(r.out) == 200 * MB and r.out.count(b"x") == 200 * MB        # nothing lost, nothing added
    assert "np_utils Is No Longer Importable" in r.err and "200.0 MB of output" in r.err


def test_run_diagnoses_random_bytes_on_stderr_and_returns_the_childs_status(tmp_path):
    r = measure(["run", "--no-pty", script(tmp_path, "rnd.py", RANDOM_STDERR)], tmp_path)
    assert_bounded(r, child_tracebacks=True)
    assert r.rc == 4
    assert "rnd.py exited with status 4" in r.err


@pytest.mark.parametrize("body,code,says", [(CLOSER, 3, "stderr still works"), (BOTH_CLOSED, 5, "exited with status 5")],
                         ids=["stdout-closed", "both-closed"])
def test_run_child_that_closes_its_output_early(body, code, says, tmp_path):
    r = measure(["run", "--no-pty", script(tmp_path, "closer.py", body)], tmp_path, timeout=30)
    assert_bounded(r, seconds=30, child_tracebacks=True)
    assert r.rc == code and says in r.err, (r.rc, r.err)


def test_run_when_our_reader_goes_away_returns_the_childs_status(tmp_path):
    """`tfhelp run flood.py | head -c 100`: the child sees the broken pipe; tfhelp does not crash."""
    flood = script(tmp_path, "flood.py", FLOOD)
    t0 = time.monotonic()
    p = subprocess.Popen(f"{sys.executable} -m tfhelp run --no-pty {flood} | head -c 100 > /dev/null; "
                         "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", stderr=subprocess.PIPE)
    _, err = p.communicate(timeout=TIME_LIMIT)
    assert time.monotonic() - t0 < TIME_LIMIT
    assert p.returncode == 1, err[-2000:]
    assert not any(d.encode() in err for d in OWN_DIRS), err[-2000:]   # the only traceback is the child's own


def _send_when_ready(sig, tmp_path):
    def on_start(p):
        out = sorted(tmp_path.glob("out-*"))[-1]
        deadline = time.monotonic() + 30
        while b"ready" not in out.read_bytes():
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.05)
        os.kill(p.pid, sig)
    return on_start


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_forwards_signals_and_returns_the_childs_own_status(sig, tmp_path):
    r = measure(["run", "--no-pty", script(tmp_path, "h.py", HANDLER)], tmp_path, on_start=_send_when_ready(sig, tmp_path))
    assert_bounded(r, seconds=40, child_tracebacks=True)
    assert f"child got {int(sig)}" in r.err
    assert r.rc == 40 + int(sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_child_killed_by_a_forwarded_signal_gives_128_plus_n(sig, tmp_path):
    r = measure(["run", "--no-pty", script(tmp_path, "d.py", DEFAULT_HANDLER)], tmp_path,
                on_start=_send_when_ready(sig, tmp_path))
    assert_bounded(r, seconds=40, child_tracebacks=True)
    assert r.rc == 128 + int(sig)


# --- the REPL, through a real pseudo-terminal --------------------------------------------------


def _vmhwm_mb(pid) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?")


def test_repl_survives_hostile_pastes_and_hostile_log_files(inputs, tmp_path):
    import pexpect
    env = dict(os.environ, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "tfhelp", "--python", sys.executable, "--rules",
                                           str(inputs.bad_rules())],
                          env=env, timeout=60, dimensions=(40, 120))
    log = open(tmp_path / "transcript.bin", "wb")
    child.logfile_read = log
    steps = []

    def step(name, send, expect):
        t0 = time.monotonic()
        for part in (send if isinstance(send, list) else [send]):
            child.send(part)
            time.sleep(0.1)
        for e in expect:
            child.expect(e)
        child.expect(b"tfhelp>")
        steps.append((name, time.monotonic() - t0))
        time.sleep(0.2)

    def paste(data: bytes) -> list:  # one line pasted, then Enter (the REPL waits for it)
        return [b"\x1b[200~" + data.rstrip(b"\n") + b"\x1b[201~", b"\r"]

    try:
        # The session is ready once the probe has answered: on its own "target:" line when it
        # finishes after the greeting, or inside the greeting (" · target ... ") when it was fast.
        child.expect([b"target: ", "\u00b7 target ".encode()])
        child.expect(b"tfhelp>")
        time.sleep(0.3)
        esc = (b"\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07\x1b[31m" + ERROR + b"\x1b[0m\n")
        step("escapes paste", paste(esc), [b"No Longer Importable"])
        step("markup paste", paste(b"[bold red]" + ERROR + b"[/bold red] [link=http://evil.example]x[/link]\n"),
             [b"No Longer Importable"])
        step("invalid utf-8 paste", paste(b"\xff\xfe\xc3\x28 " + ERROR + b" \xa0\xa1\n"), [b"No Longer Importable"])
        step("C1 controls paste", paste("\u009b2J\u009d0;t\u009c".encode() + ERROR + b"\n"), [b"No Longer Importable"])
        step("256 KB single line paste", paste(b"B" * (256 * 1024) + b"\n"), [b"No known cause"])
        step("log: 200 MB line", f"/log {inputs.line200()}\r".encode(), [b"No known cause"])
        step("log: random bytes", f"/log {inputs.random10()}\r".encode(), [b"Scanned"])
        step("log: nul bytes", f"/log {inputs.nul()}\r".encode(), [b"No Longer Importable"])
        step("log: /dev/zero", b"/log /dev/zero\r", [b"character device"])
        step("log: fifo", f"/log {inputs.fifo()}\r".encode(), [b"named pipe"])
        # stopped at the decompression bound (256 MiB of the bomb's 2 GiB), and /log says why,
        # as --from-log does
        step("log: gzip bomb", f"/log {inputs.gzip_bomb()}\r".encode(), [b"gzip bomb; stopped there"])
        step("log: missing file", f"/log {tmp_path}/nope.log\r".encode(), [b"no such file"])
        rss = _vmhwm_mb(child.pid)
        child.sendcontrol("d")
        child.expect(b"bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
        log.close()
    assert child.exitstatus == 0
    assert rss < RSS_LIMIT_MB, rss
    assert all(s < 30 for _, s in steps), steps
    transcript = (tmp_path / "transcript.bin").read_bytes()
    # the pasted OSCs never came back out as escapes (the input line echoes them as inert ^[ text)
    assert b"\x1b]0;pwned" not in transcript and b"\x1b]52;" not in transcript
    assert "\u009b".encode() not in transcript
    assert b"Traceback (most recent call last)" not in ANSI.sub(b"", transcript)
    assert not (inputs.root / "PWNED").exists()
