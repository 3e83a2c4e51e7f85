"""$TFHELP_PREFILTER forces the log scanner's back-end from outside (benchmarks, a machine where
hyperscan misbehaves) for every front end that scans, including ``tfhelp --from-log`` which has
no ``--prefilter`` flag of its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tfhelp.kb.anchors import BackendError, MultiLiteral, requested_backend

LOG = (b"2024-05-02 10:00:00.000001: W tensorflow/core/common_runtime/bfc_allocator.cc:291] Allocator "
       b"(GPU_0_bfc) ran out of memory trying to allocate 1.02GiB with freed_by_count=0. The caller indicates "
       b"that this is not a failure, but may mean that there could be performance gains if more memory were "
       b"available.\n")


def run_from_log(tmp_path, value):
    path = tmp_path / "run.log"
    path.write_bytes(LOG * 10)
    env = dict(os.environ, TFHELP_PREFILTER=value)
    return subprocess.run([sys.executable, "-m", "tfhelp", "--from-log", str(path), "--json"],
                          capture_output=True, env=env, timeout=120)


def test_env_forces_the_pure_fallback_for_from_log(tmp_path):
    proc = run_from_log(tmp_path, "ahocorasick")
    assert proc.returncode in (0, 1), proc.stderr.decode()   # 1: a warning alone explains no crash
    doc = json.loads(proc.stdout)
    assert doc["scan"]["prefilter"] == "ahocorasick"
    assert doc["diagnoses"][0]["id"] == "gpu-allocator-ran-out-warning"


def test_unknown_value_is_a_one_line_usage_error(tmp_path):
    proc = run_from_log(tmp_path, "fastest")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "TFHELP_PREFILTER='fastest'" in err and "Traceback" not in err


def test_explicit_backend_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("TFHELP_PREFILTER", "ahocorasick")
    assert requested_backend("hyperscan") == "hyperscan"
    assert requested_backend(None) == "ahocorasick"
    assert MultiLiteral(["oom"]).backend == "ahocorasick"
    monkeypatch.setenv("TFHELP_PREFILTER", "auto")
    assert requested_backend(None) is None
    monkeypatch.setenv("TFHELP_PREFILTER", "bogus")
    with pytest.raises(BackendError):
        MultiLiteral(["oom"])
