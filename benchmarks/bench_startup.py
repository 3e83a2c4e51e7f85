"""Start-up: ``tfhelp < traceback.txt`` against importing tfhelp's own dependencies.

Target (issue 7): at most 2x ``python -c "import yaml, rich.console, rapidfuzz"`` - loading rules,
matching and rendering a typical 40-line traceback must cost no more than those imports.
The rule cache is warmed first (a first run after editing rules rebuilds it; that cost is
reported separately).
"""
from __future__ import annotations

import os
import sys
import tempfile

from common import ROOT, print_table, row, time_cmd

TRACEBACK = ROOT / "benchmarks" / "data" / "traceback-40.txt"


def run(repeat: int = 9) -> list:
    env = dict(os.environ)
    env["TFHELP_CACHE_DIR"] = tempfile.mkdtemp(prefix="tfhelp-bench-cache-")
    env["NO_COLOR"] = "1"
    tfhelp = [sys.executable, "-m", "tfhelp"]
    cold = time_cmd(tfhelp, TRACEBACK, repeat=1, env=env)  # builds the rule cache
    bare = time_cmd([sys.executable, "-c", "import yaml, rich.console, rapidfuzz"], repeat=repeat, env=env)
    warm = time_cmd(tfhelp, TRACEBACK, repeat=repeat, env=env)
    nothing = time_cmd([sys.executable, "-c", "pass"], repeat=repeat, env=env)
    return [
        row("startup: tfhelp < traceback (40 lines)", warm, bare, 2.0,
            note=f"python -c pass: {nothing:.3f} s; first run (cache build): {cold:.3f} s"),
    ]


if __name__ == "__main__":
    print_table(run())
