"""Fix commands can be copied from a terminal: outside panels, one line each however long, and no
code line shown as if from the user's file unless the input contained it."""
from __future__ import annotations

import io

from rich.console import Console

from tfhelp.kb.engine import Engine
from tfhelp.kb.loader import load_ruleset

NUMPY2 = ("A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.1.2 as it may crash.\n"
          "AttributeError: _ARRAY_API not found\n")
LONG_PY = "/home/someone/" + "very-long-folder-name/" * 6 + "venv/bin/python"


def _render(text, python="python", width=60, **kw):
    from tfhelp.assistant.render.diagnosis import render_report

    rep = Engine(load_ruleset()).diagnose(text)
    buf = io.StringIO()
    render_report(rep, Console(file=buf, width=width, color_system=None, markup=False, soft_wrap=False),
                  python=python, **kw)
    return rep, buf.getvalue()


def test_long_pip_command_is_one_line_outside_the_panel():
    rep, out = _render(NUMPY2, python=LONG_PY, width=60)
    lines = [ln for ln in out.splitlines() if "-m pip install" in ln]
    assert lines, out
    for ln in lines:
        assert "│" not in ln and ln.strip().startswith(LONG_PY) and ln.strip().endswith("'numpy<2'")


def test_every_fix_line_is_a_command_or_a_comment():
    _, out = _render(NUMPY2, width=100, all_fixes=True)
    block = out.split("╯\n", 1)[1].split("╭", 1)[0]
    body = [ln for ln in block.splitlines() if ln.startswith("  ")]
    assert body and all(ln.startswith("  # ") or not ln.lstrip().startswith(("-", "+", "│")) for ln in body)


def test_np_utils_fix_does_not_invent_a_line_of_the_users_file():
    text = "ImportError: cannot import name 'np_utils' from 'keras.utils' (/venv/lib/python3.11/site-packages/keras/utils/__init__.py)\n"
    rep, out = _render(text, width=120)
    assert rep.diagnoses and rep.diagnoses[0].id == "keras-np-utils-removed"
    assert "lines like" in out and "  #   - " not in out and "  #   + " not in out


def test_code_line_from_the_traceback_is_shown_as_a_diff():
    # the user pasted their code with the error: both lines the fix replaces are in the input
    text = ("from keras.utils import np_utils\ny = np_utils.to_categorical(y, num_classes)\n"
            'Traceback (most recent call last):\n  File "/home/u/train.py", line 1, in <module>\n'
            "    from keras.utils import np_utils\n"
            "ImportError: cannot import name 'np_utils' from 'keras.utils' (/venv/lib/python3.11/site-packages/keras/utils/__init__.py)\n")
    rep, out = _render(text, width=120)
    steps = [s for f in rep.diagnoses[0].fixes for s in f["steps"] if s["action"] == "code_change"]
    seen = [s for s in steps if s["seen_in_input"]]
    assert seen and "(these lines are from your traceback)" in _render(text, width=120, all_fixes=True)[1]


def test_no_shipped_code_change_is_rendered_as_a_diff_without_its_lines_in_the_input():
    from tfhelp.assistant.render.diagnosis import code_change_lines
    from tfhelp.kb.engine import Document, mark_seen_code

    doc = Document("Traceback (most recent call last):\nSomeError: nothing from any rule's code\n")
    checked = 0
    for rule in load_ruleset().rules:
        for fix in rule.fixes:
            steps = [dict(s) for s in fix.steps if s.get("action") == "code_change"]
            if not steps:
                continue
            mark_seen_code([{"steps": steps}], doc)
            for s in steps:
                checked += 1
                assert s["seen_in_input"] is False, rule.id
                lines = [t for _, t in code_change_lines(s)]
                assert not any(t.startswith(("  - ", "  + ")) for t in lines), rule.id
    assert checked >= 5


def test_doctor_commands_are_unwrapped(tmp_path):
    import json
    from pathlib import Path

    from tfhelp.assistant.environment.doctor import diagnose
    from tfhelp.assistant.environment.probe import ProbeResult
    from tfhelp.assistant.render.doctor import render_doctor

    raw = json.loads((Path(__file__).parent / "fixtures" / "probe" /
                      "linux-tf2.15-mixed-numpy2-keras3.constructed.json").read_text())
    raw["target_python"] = LONG_PY
    buf = io.StringIO()
    render_doctor(diagnose(ProbeResult.from_json(raw)), Console(file=buf, width=60, color_system=None, markup=False))
    cmds = [ln for ln in buf.getvalue().splitlines() if "-m pip" in ln]
    assert cmds and all(ln.strip().startswith(LONG_PY) for ln in cmds)
