"""The streaming log scanner (`tfhelp --from-log`): findings, counts, order, odd input, memory."""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfhelp.kb.anchors import MultiLiteral
from tfhelp.kb.loader import load_ruleset
from tfhelp.kb.scan import LogError, LogScanner, open_log, scan_file
from conftest import prefilter_backends

ROOT = Path(__file__).resolve().parent.parent
FIT_LOG = ROOT / "corpus" / "logs" / "keras-fit-clean" / "run.log"
TFHELP = [sys.executable, "-m", "tfhelp"]



@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(user_rules=False)


# Texts planted into the real log.  Formats follow the TensorFlow messages cited by the rules.
CUDNN_MISSING = (b"2022-07-10 15:08:09.276131: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] "
                 b"Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared "
                 b"object file: No such file or directory\n")
CONV_FAILED = (b"Traceback (most recent call last):\n"
               b"  File \"/home/u/train.py\", line 40, in <module>\n"
               b"    model.fit(x, y, epochs=100)\n"
               b"  File \"/usr/lib/python3.10/site-packages/keras/engine/training.py\", line 1184, in fit\n"
               b"    tmp_logs = self.train_function(iterator)\n"
               b"tensorflow.python.framework.errors_impl.UnknownError:  Failed to get convolution algorithm. "
               b"This is probably because cuDNN failed to initialize, so try looking to see if a warning log "
               b"message was printed above.\n")
OOM = (b"2024-05-02 10:11:12.123456: W tensorflow/core/framework/op_kernel.cc:1828] OP_REQUIRES failed at "
       b"conv_ops.cc:1068 : RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[256,64,112,112] and type "
       b"float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n"
       b"Traceback (most recent call last):\n"
       b"  File \"/home/u/train.py\", line 52, in <module>\n"
       b"    model.fit(ds, epochs=30)\n"
       b"  File \"/usr/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py\", line 122, in error_handler\n"
       b"    raise e.with_traceback(filtered_tb) from None\n"
       b"tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:\n"
       b"OOM when allocating tensor with shape[256,64,112,112] and type float on "
       b"/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n")


def retracing(i: int) -> bytes:
    return (b"WARNING:tensorflow:5 out of the last %d calls to <function Model.make_predict_function."
            b"<locals>.predict_function at 0x7f%06x> triggered tf.function retracing. Tracing is expensive.\n"
            % (9 + i % 3, i))


def fit_parts():
    """The real captured Keras fit log (pty: CRLF, ANSI, backspaces, \\r progress bars), split
    into its start-up header and one epoch block."""
    data = FIT_LOG.read_bytes()
    head, rest = data.split(b"Epoch 1/3", 1)
    epoch = b"Epoch 1/3" + rest.split(b"Epoch 2/3", 1)[0]
    return head, epoch


def build_log(epochs=400, plant_at=200, planted=OOM, warn_every=0, extra_head=b"", interleave=True):
    """A long real-looking training log: the real header, ``epochs`` real epoch blocks, an error
    planted after epoch ``plant_at`` (written straight after a progress bar, with no newline,
    as stderr interleaves with a \\r progress bar on a terminal).  Returns (bytes, planted line)."""
    head, epoch = fit_parts()
    progress = epoch.split(b"\r\n")[1]  # the \r-redrawn progress bar line of the epoch
    out = io.BytesIO()
    out.write(head + extra_head)
    planted_line = None
    for i in range(epochs):
        out.write(epoch.replace(b"Epoch 1/3", b"Epoch %d/%d" % (i + 1, epochs)))
        if warn_every and i % warn_every == 0:
            out.write(retracing(i))
        if i == plant_at:
            if interleave:
                out.write(progress)  # no newline: the traceback starts on the progress bar's line
            planted_line = out.getvalue().count(b"\n") + 1
            out.write(planted)
    return out.getvalue(), planted_line


def scan_bytes(data: bytes, ruleset, backend=None, chunk=1 << 16):
    return scan_file(io.BytesIO(data), ruleset, backend=backend, chunk=chunk)


def ids(report):
    return [d.id for d in report.diagnoses]


def find(report, rule_id):
    return next(d for d in report.diagnoses if d.id == rule_id)


# -- the prefilter ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", prefilter_backends())
def test_prefilter_reports_first_hit_per_line(backend):
    ml = MultiLiteral(["oom when allocating", "cudnn", "héllo"], backend=backend)
    buf = b"nothing\nfoo OOM When Allocating x cudnn\nabc\nCUDNN and cudnn\nh\xc3\xa9llo\n"
    hits = ml.line_hits(buf)
    lines = [buf.count(b"\n", 0, h) for h in hits]
    assert lines == [1, 3, 4]
    assert buf[hits[0] - len("oom when allocating"):hits[0]].lower() == b"oom when allocating"
    # a sub-range only reports hits inside it
    assert ml.line_hits(buf, buf.index(b"abc"), len(buf)) == hits[1:]


def test_prefilter_without_literals_finds_nothing():
    assert MultiLiteral([]).line_hits(b"anything\n") == []


# -- findings in a real training log -----------------------------------------------------------
@pytest.mark.parametrize("backend", prefilter_backends())
def test_error_planted_in_real_keras_fit_log(ruleset, backend):
    data, line = build_log(epochs=400, plant_at=200)
    report, stats = scan_bytes(data, ruleset, backend=backend)
    assert stats.backend == backend
    oom = find(report, "gpu-oom-resource-exhausted")
    assert oom.first_line == line
    assert oom.count == 1
    assert any("OOM when allocating" in e.text for e in oom.evidence)
    assert all(abs(e.line - line) < 12 for e in oom.evidence)
    assert oom.fixes
    # the real log's start-up notices are found too, labelled harmless and listed last
    order = ids(report)
    assert order[0] == "gpu-oom-resource-exhausted"
    harmless = [d.id for d in report.diagnoses if d.rule.severity == "harmless"]
    assert "onednn-custom-operations-notice" in harmless
    assert order[-len(harmless):] == harmless
    assert stats.lines == data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def test_clean_real_log_has_no_fatal_finding(ruleset):
    data, _ = build_log(epochs=50, plant_at=-1)
    report, _ = scan_bytes(data, ruleset)
    assert not [d for d in report.diagnoses if d.rule.severity == "fatal"]


def test_repeated_warning_collapses_with_count(ruleset):
    data, _ = build_log(epochs=300, plant_at=150, warn_every=3)
    report, stats = scan_bytes(data, ruleset)
    warn = find(report, "tf-function-retracing-warning")
    assert warn.count == 100
    first = data.split(b"triggered tf.function retracing", 1)[0].count(b"\n") + 1
    assert warn.first_line == first
    assert stats.windows < 40  # repeats reuse the first result instead of re-running the engine


def test_root_cause_before_symptom_and_every_cause_reported(ruleset):
    data, conv_line = build_log(epochs=300, plant_at=250, planted=CONV_FAILED, extra_head=CUDNN_MISSING,
                                warn_every=50, interleave=False)
    report, _ = scan_bytes(data, ruleset)
    order = ids(report)
    assert "cudnn-library-not-loaded" in order and "cudnn-conv-algorithm-failed" in order
    assert order.index("cudnn-library-not-loaded") < order.index("cudnn-conv-algorithm-failed")
    conv = find(report, "cudnn-conv-algorithm-failed")
    assert conv.symptom == "cudnn-library-not-loaded"
    assert conv.first_line == conv_line + 5
    assert "tf-function-retracing-warning" in order  # an independent finding is kept too
    # harmless notices come after everything that needs action
    sev = [d.rule.severity for d in report.diagnoses]
    assert sev.index("harmless") > max(i for i, s in enumerate(sev) if s != "harmless")


def test_two_separate_occurrences_of_one_error_are_counted(ruleset):
    data1, line1 = build_log(epochs=100, plant_at=20)
    data = data1 + b"restarting\n" + OOM
    report, _ = scan_bytes(data, ruleset)
    oom = find(report, "gpu-oom-resource-exhausted")
    assert oom.first_line == line1
    assert oom.count == 2


# -- awkward input ------------------------------------------------------------------------------
def test_crlf_ansi_and_invalid_utf8_give_the_same_findings(ruleset):
    plain, line = build_log(epochs=60, plant_at=30, interleave=False)
    plain = plain.replace(b"\r\n", b"\n")
    variants = {
        "crlf": plain.replace(b"\n", b"\r\n"),
        "ansi": plain.replace(b"OOM when", b"\x1b[31mOOM\x1b[0m when").replace(b"Traceback", b"\x1b[1mTraceback\x1b[0m"),
        "bad-utf8": plain.replace(b"Epoch", b"\xff\xfeEpoch\xc3"),
    }
    base, _ = scan_bytes(plain, ruleset)
    want = find(base, "gpu-oom-resource-exhausted").first_line
    assert want == line
    for name, data in variants.items():
        report, _ = scan_bytes(data, ruleset)
        if name == "ansi":
            # colour codes inside the anchor hide that line from the prefilter; the traceback's
            # final exception line still carries it
            assert "gpu-oom-resource-exhausted" in ids(report), name
            continue
        assert find(report, "gpu-oom-resource-exhausted").first_line == want, name


def test_truncated_final_traceback(ruleset):
    data, line = build_log(epochs=40, plant_at=39, planted=OOM[: OOM.rindex(b"GPU:0 by allocator")])
    assert not data.endswith(b"\n")
    report, _ = scan_bytes(data, ruleset)
    assert find(report, "gpu-oom-resource-exhausted").first_line == line


def test_megabyte_lines(ruleset):
    head, epoch = fit_parts()
    bar = b"\r".join(b" %d/100000 [=====>....] - ETA: 1s - loss: 0.31" % i for i in range(60000))  # ~3 MB
    data = head + bar + OOM + b"x" * (20 << 20) + b" OOM when allocating tensor in a huge line " + b"y" * 1000
    report, stats = scan_file(io.BytesIO(data), ruleset)
    oom = find(report, "gpu-oom-resource-exhausted")
    assert oom.first_line == head.count(b"\n") + 1
    assert stats.lines == data.count(b"\n") + 1


def test_chunk_boundaries_do_not_change_the_result(ruleset):
    data, line = build_log(epochs=120, plant_at=60, warn_every=7)
    results = []
    for chunk in (997, 1 << 14, 1 << 23):
        report, _ = scan_file(io.BytesIO(data), ruleset, chunk=chunk)
        results.append([(d.id, d.first_line, d.count) for d in report.diagnoses])
    assert results[0] == results[1] == results[2]


def test_incremental_feed_matches_whole_scan(ruleset):
    data, _ = build_log(epochs=50, plant_at=10, warn_every=5)
    sc = LogScanner(ruleset)
    for i in range(0, len(data), 4093):
        sc.feed(data[i:i + 4093])
    a = sc.finish()
    b, _ = scan_bytes(data, ruleset)
    assert [(d.id, d.first_line, d.count) for d in a.diagnoses] == [(d.id, d.first_line, d.count) for d in b.diagnoses]


# -- files, gzip, streams, errors ---------------------------------------------------------------
def test_gzip_input_detected_by_content(ruleset, tmp_path):
    data, line = build_log(epochs=80, plant_at=40)
    p = tmp_path / "train.log.1"  # no .gz suffix: detected by magic bytes
    p.write_bytes(gzip.compress(data))
    fh, size = open_log(str(p))
    report, stats = scan_file(fh, ruleset)
    assert stats.bytes == len(data)
    assert find(report, "gpu-oom-resource-exhausted").first_line == line


def test_truncated_gzip_reports_findings_and_exits_2(tmp_path):
    data, line = build_log(epochs=300, plant_at=20)
    gz = gzip.compress(data)
    p = tmp_path / "cut.log.gz"
    p.write_bytes(gz[: len(gz) * 2 // 3])
    r = subprocess.run(TFHELP + ["--from-log", str(p), "--json"], capture_output=True, timeout=60)
    assert r.returncode == 2
    assert b"truncated gzip" in r.stderr
    assert b"Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    assert doc["scan"]["truncated"]
    oom = next(d for d in doc["diagnoses"] if d["id"] == "gpu-oom-resource-exhausted")
    assert oom["first_line"] == line and oom["count"] == 1


def test_json_output_has_first_line_and_count(tmp_path):
    data, line = build_log(epochs=60, plant_at=30, warn_every=10)
    p = tmp_path / "run.log"
    p.write_bytes(data)
    r = subprocess.run(TFHELP + ["--from-log", str(p), "--json"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by_id = {d["id"]: d for d in doc["diagnoses"]}
    assert by_id["gpu-oom-resource-exhausted"]["first_line"] == line
    assert by_id["tf-function-retracing-warning"]["count"] == 6
    assert doc["scan"]["lines"] == doc["input"]["lines"]


def test_stdin_and_subcommand(tmp_path):
    data, line = build_log(epochs=30, plant_at=10)
    r = subprocess.run(TFHELP + ["log", "-", "--json"], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert any(d["id"] == "gpu-oom-resource-exhausted" and d["first_line"] == line for d in doc["diagnoses"])


def test_human_output_names_counts_and_harmless(tmp_path):
    data, _ = build_log(epochs=60, plant_at=30, warn_every=10)
    p = tmp_path / "run.log"
    p.write_bytes(data)
    env = dict(os.environ, NO_COLOR="1", COLUMNS="120")
    r = subprocess.run(TFHELP + ["--from-log", str(p)], capture_output=True, timeout=60, env=env)
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "6 times" in out
    assert "harmless" in out
    assert "\r" not in out and "\x1b" not in out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_read_as_a_stream(ruleset, tmp_path):
    import threading

    data, line = build_log(epochs=40, plant_at=20)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=writer)
    t.start()
    fh, size = open_log(str(fifo), allow_special=True)  # FIFOs are refused without it
    assert size is None
    report, _ = scan_file(fh, ruleset)
    t.join()
    assert find(report, "gpu-oom-resource-exhausted").first_line == line


@pytest.mark.parametrize("kind", ["directory", "missing", "unreadable"])
def test_unreadable_inputs_are_clear_errors(tmp_path, kind, monkeypatch):
    if kind == "directory":
        path, word = str(tmp_path), "directory"
    elif kind == "missing":
        path, word = str(tmp_path / "nope.log"), "no such file"
    else:
        path, word = str(tmp_path / "secret.log"), "permission denied"
        Path(path).write_text("x\n")
        real_open = open

        def deny(p, *a, **k):
            if str(p) == path:
                raise PermissionError(13, "Permission denied", p)
            return real_open(p, *a, **k)

        monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(LogError) as exc:
        open_log(path)
    assert word in str(exc.value)
    if kind != "unreadable":
        r = subprocess.run(TFHELP + ["--from-log", path], capture_output=True, timeout=60)
        assert r.returncode == 2
        assert word.encode() in r.stderr
        assert b"Traceback" not in r.stderr


# -- memory -------------------------------------------------------------------------------------
def test_memory_stays_bounded_on_a_log_larger_than_the_bound(tmp_path):
    """A 300 MB log (larger than the 200 MB bound) with one error in the middle is streamed by a
    child process whose peak RSS stays under 200 MB."""
    block, _ = build_log(epochs=2000, plant_at=-1, warn_every=100)
    assert len(block) > 500_000
    p = tmp_path / "big.log"
    target = 300 << 20
    with open(p, "wb") as fh:
        written, planted = 0, False
        while written < target:
            if not planted and written >= target // 2:
                fh.write(OOM)
                written += len(OOM)
                planted = True
            fh.write(block)
            written += len(block)
    code = (
        "import resource, sys\n"
        "from tfhelp.kb.loader import load_ruleset\n"
        "from tfhelp.kb.scan import open_log, scan_file\n"
        "fh, _ = open_log(sys.argv[1])\n"
        "report, stats = scan_file(fh, load_ruleset(user_rules=False))\n"
        "print([d.id for d in report.diagnoses], stats.bytes)\n"
        # VmHWM is this process image's own peak; ru_maxrss on Linux keeps the peak of the
        # (large) pytest process this child was forked from.
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')] if sys.platform == 'linux' else []\n"
        "print(int(peak[0].split()[1]) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
        " // (1 if sys.platform != 'darwin' else 1024))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, timeout=300, text=True)
    assert r.returncode == 0, r.stderr
    ids_line, rss_kb = r.stdout.strip().splitlines()
    assert "gpu-oom-resource-exhausted" in ids_line
    assert int(rss_kb) < 200 * 1024, f"peak RSS {int(rss_kb) // 1024} MB"


@pytest.mark.skipif("hyperscan" not in prefilter_backends(), reason="the database cache is hyperscan's")
def test_compiled_prefilter_is_cached_and_survives_corruption(tmp_path):
    lits = ["oom when allocating", "cudnn", "illegal instruction"]
    buf = b"a\nCUDNN x\nnothing\nIllegal instruction (core dumped)\n"
    first = MultiLiteral(lits, backend="hyperscan", cache_dir=tmp_path)
    files = list(tmp_path.glob("anchors-*.hsdb"))
    assert len(files) == 1
    again = MultiLiteral(lits, backend="hyperscan", cache_dir=tmp_path)
    assert again.line_hits(buf) == first.line_hits(buf) == [buf.index(b"CUDNN") + 5, buf.index(b"Illegal") + 19]
    files[0].write_bytes(b"garbage")
    rebuilt = MultiLiteral(lits, backend="hyperscan", cache_dir=tmp_path)
    assert rebuilt.line_hits(buf) == first.line_hits(buf)


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tmp_path, tty):
    from tfhelp.assistant.frontends import cli
    from tfhelp.assistant.frontends.commands import log as log_cmd
    from tfhelp.assistant.context import Context

    block, _ = build_log(epochs=200, plant_at=-1)
    p = tmp_path / "big.log"
    with open(p, "wb") as fh:
        for _ in range(log_cmd.PROGRESS_MIN_BYTES // len(block) + 1):
            fh.write(block)
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, stdout_isatty=False, stderr_isatty=tty,
                  environ={"TERM": "xterm"}, width=100)
    assert cli.main(["--from-log", str(p), "--json"], ctx) == 0
    assert json.loads(out.getvalue())["scan"]["bytes"] == p.stat().st_size
    assert ("scanning" in err.getvalue()) == tty


def test_repeated_line_in_a_new_context_is_rechecked(tmp_path):
    """A rule needing two lines (`all`) whose anchor line first appears alone: the repeat of
    that line next to the second line still fires (near misses are re-run on repeats)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "two-line-test.yaml").write_text(
        "id: two-line-test\n"
        "title: Two-line test rule\n"
        "category: noise\n"
        "severity: fatal\n"
        "confidence: high\n"
        "summary: Fires only when both lines are present.\n"
        "cause: |\n  Test rule.\n"
        "references:\n  - https://github.com/tensorflow/tensorflow/issues/1\n"
        "anchors: [\"zeta subsystem reported a fault\"]\n"
        "match:\n  all:\n"
        "    - {name: a, type: literal, value: \"zeta subsystem reported a fault\"}\n"
        "    - {name: b, type: literal, value: \"omega details\"}\n"
        "fixes:\n  - title: Nothing\n    steps:\n      - {action: manual, text: Nothing to do.}\n"
        "examples:\n  match: [\"zeta subsystem reported a fault\\nomega details\"]\n  no_match: [\"x\"]\n")
    rs = load_ruleset(extra_dirs=[str(rules)], user_rules=False)
    assert rs.get("two-line-test") is not None
    filler = b"".join(b"INFO step %d ok\n" % i for i in range(300))
    data = filler + b"zeta subsystem reported a fault\n" + filler + b"zeta subsystem reported a fault\nomega details\n" + filler
    report, _ = scan_bytes(data, rs)
    d = find(report, "two-line-test")
    assert d.first_line == 300 + 1 + 300 + 1
