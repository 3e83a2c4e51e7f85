"""`tfhelp run` probes the child's interpreter in the background (issue 12: the probe was most
of the 0.4 s a failing run added after the child's end).  These tests pin what makes that safe:
a quick success never starts a probe, a failure gets exactly the probe's Environment (one probe,
same diagnosis bytes as probing afterwards), the relayed signals stay blocked in the probe
thread (else SIGINT would land there instead of reaching the child), and the knob parses."""
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from tfhelp.assistant.frontends.commands import run as run_cmd


@pytest.fixture
def probes(monkeypatch):
    calls = []

    def fake(python):
        calls.append((python, threading.current_thread().name,
                      signal.pthread_sigmask(signal.SIG_BLOCK, [])))
        return {"env-of": python}

    monkeypatch.setattr(run_cmd, "probe_environment", fake)
    return calls


def test_quick_success_never_probes(probes):
    warmed = []
    pf = run_cmd.EnvPrefetch("/some/python", delay=30, warm=lambda: warmed.append(1))
    pf.child_ended(failed=False)
    pf._thread.join(5)
    assert not pf._thread.is_alive() and not pf.started and probes == [] and warmed == []


def test_rules_load_in_the_thread_only_when_probing_during_the_run(probes):
    warmed = []
    pf = run_cmd.EnvPrefetch("/some/python", delay=0, warm=lambda: warmed.append(threading.current_thread().name))
    pf._thread.join(5)
    pf.child_ended(failed=True)
    pf.environment()
    assert pf.early and warmed == ["tfhelp-run-probe"]
    # a failure before the delay: the main thread loads the rules while the probe runs
    late = run_cmd.EnvPrefetch("/some/python", delay=30, warm=lambda: warmed.append("late"))
    late.child_ended(failed=True)
    late.environment()
    assert not late.early and late.started and warmed == ["tfhelp-run-probe"]


def test_failure_before_the_delay_probes_once(probes):
    pf = run_cmd.EnvPrefetch("/some/python", delay=30)
    pf.child_ended(failed=True)
    pf.child_ended(failed=False)   # a later call changes nothing
    assert pf.environment() == {"env-of": "/some/python"}
    assert pf.environment() == {"env-of": "/some/python"}
    assert len(probes) == 1 and probes[0][1] == "tfhelp-run-probe"


def test_long_run_probes_while_running_with_relayed_signals_blocked(probes):
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    pf = run_cmd.EnvPrefetch("/some/python", delay=0)
    pf._thread.join(5)
    assert pf.started and len(probes) == 1          # started before the child ended
    blocked = probes[0][2]
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= set(blocked)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before  # the caller's mask is back
    pf.child_ended(failed=True)
    assert pf.environment() == {"env-of": "/some/python"} and len(probes) == 1


@pytest.mark.parametrize("raw,want", [("", run_cmd.PROBE_AFTER_S), ("2.5", 2.5), ("0", 0.0),
                                      ("off", float("inf")), ("-1", float("inf")), ("junk", run_cmd.PROBE_AFTER_S)])
def test_delay_knob(raw, want):
    assert run_cmd.probe_delay({run_cmd.PROBE_AFTER_ENV: raw}) == want


def test_failing_run_report_is_the_same_with_and_without_the_background_probe(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        print("epoch 1/1 - loss: 0.5")
        time.sleep(0.3)
        sys.stderr.write("Traceback (most recent call last):\\n  File \\"train.py\\", line 3, in <module>\\n"
                         "ModuleNotFoundError: No module named 'tensorflow'\\n")
        sys.exit(1)
    """))

    def run(after):
        env = dict(os.environ, NO_COLOR="1", COLUMNS="100", TFHELP_RUN_PROBE_AFTER=after)
        return subprocess.run([sys.executable, "-m", "tfhelp", "run", str(script)],
                              capture_output=True, env=env, timeout=120)

    early, late = run("0"), run("off")
    assert early.returncode == late.returncode == 1
    assert early.stdout == late.stdout == b"epoch 1/1 - loss: 0.5\n"
    # the probed Environment reached the diagnosis (the rule checks that tensorflow is absent)
    assert b"no-module-named-tensorflow" in early.stderr
    assert b"confirmed by the probed environment" in early.stderr
    assert early.stderr == late.stderr
