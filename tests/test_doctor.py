"""tfhelp doctor: findings per recorded/constructed machine, rule ids, JSON schema, rendering, --report."""
from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from tfhelp.assistant.environment.doctor import (DOCTOR_JSON_SCHEMA, RULE_IDS, Compat, conflicting_tf_distributions,
                                     declared_requirements, diagnose, parse_sm)
from tfhelp.assistant.environment.probe import ProbeResult
from tfhelp.assistant.render.doctor import doctor_markdown, doctor_text, redactor, render_doctor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "probe"


def load(name: str) -> ProbeResult:
    return ProbeResult.from_json(json.loads((FIXTURES / name).read_text()))


def rules_of(report) -> list:
    return sorted(p.rule for _, p in report.problems if p.rule)


def check(report, cid):
    return next(c for c in report.checks if c.id == cid)


# ------------------------------------------------------------------ a tiny JSON Schema validator
def validate(obj, schema, path="$"):
    """Checks the subset DOCTOR_JSON_SCHEMA uses: type, enum, required, properties, items."""
    types = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int,
             "boolean": bool, "null": type(None)}
    if "enum" in schema:
        assert obj in schema["enum"], f"{path}: {obj!r} not in {schema['enum']}"
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(isinstance(obj, types[t]) and not (t == "number" and isinstance(obj, bool)) for t in allowed), \
            f"{path}: {type(obj).__name__} is not {allowed}"
    if isinstance(obj, dict):
        for key in schema.get("required", []):
            assert key in obj, f"{path}: missing {key!r}"
        for key, sub in schema.get("properties", {}).items():
            if key in obj:
                validate(obj[key], sub, f"{path}.{key}")
    if isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            validate(item, schema["items"], f"{path}[{i}]")


# ------------------------------------------------------------------ rule ids
def catalog_ids() -> set:
    """Ids planned in docs/rule-catalog.md plus those that already exist as rule files."""
    text = (ROOT / "docs" / "rule-catalog.md").read_text()
    ids = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", text.split("## A.", 1)[1]))
    ids |= {p.stem for p in (ROOT / "rules").glob("*/*.yaml")}
    return ids


def test_every_rule_id_the_doctor_names_is_in_the_catalogue():
    missing = RULE_IDS - catalog_ids()
    assert not missing, f"doctor names ids that docs/rule-catalog.md lacks: {sorted(missing)}"


def test_unregistered_rule_id_is_refused():
    from tfhelp.assistant.environment.doctor import Check
    with pytest.raises(ValueError):
        Check("x", "X").problem("error", "m", "not-a-rule-id")


# ------------------------------------------------------------------ findings per machine
EXPECTED = {
    "linux-venv-tf-cpu-2.21.json": [],
    "linux-system-py311-no-tf.json": ["no-module-named-tensorflow"],
    "linux-py36-no-tf.json": ["no-module-named-tensorflow"],
    "gpu-linux-tf2.15-a100-healthy.constructed.json": [],
    "gpu-linux-tf2.15-k80-old-driver.constructed.json": ["cuda-driver-insufficient", "gpu-compute-capability-too-low"],
    "windows-native-tf2.15-rtx3060.constructed.json": ["windows-native-gpu-after-2-10"],
    "linux-tf2.15-mixed-numpy2-keras3.constructed.json": ["keras3-under-old-tf", "multiple-tf-distributions",
                                                          "numpy2-abi-compiled-numpy1"],
}


@pytest.mark.parametrize("name,want", sorted(EXPECTED.items()))
def test_doctor_findings_per_machine(name, want):
    rep = diagnose(load(name))
    assert rules_of(rep) == sorted(want)
    validate(rep.to_json(), DOCTOR_JSON_SCHEMA)
    # every problem says how to fix it
    assert all(p.fix for _, p in rep.problems)


def test_healthy_gpu_box_reports_each_component():
    rep = diagnose(load("gpu-linux-tf2.15-a100-healthy.constructed.json"))
    assert rep.status == "ok"
    assert "CUDA 12.2, cuDNN 8" in check(rep, "tensorflow").found
    assert "A100" in check(rep, "gpu").found and "535.104.05" in check(rep, "gpu").found
    assert "cudnn 8.9.4" in check(rep, "cuda-libs").found


def test_windows_tensorflow_intel_is_a_dependency_not_a_second_tf():
    r = load("windows-native-tf2.15-rtx3060.constructed.json")
    assert conflicting_tf_distributions(r) == ["tensorflow"]
    rep = diagnose(r)
    assert check(rep, "cpu").status == "unknown"  # no /proc/cpuinfo on Windows: say unknown, not OK
    win = next(p for _, p in rep.problems if p.rule == "windows-native-gpu-after-2-10")
    assert "Python 3.7-3.10" in win.fix and not win.commands  # tensorflow<2.11 has no cp311 wheel


def test_fix_commands_target_the_probed_interpreter_and_fit_the_pins():
    rep = diagnose(load("linux-tf2.15-mixed-numpy2-keras3.constructed.json"))
    np_fix = next(p for _, p in rep.problems if p.rule == "numpy2-abi-compiled-numpy1")
    assert np_fix.commands == ["/home/alice/venvs/tf215/bin/python -m pip install 'numpy>=1.23.5,<2.0.0'"]
    keras_fix = next(p for _, p in rep.problems if p.rule == "keras3-under-old-tf")
    assert "keras<2.16,>=2.15.0" in keras_fix.commands[0] or "keras>=2.15.0,<2.16" in keras_fix.commands[0]


def test_declared_requirements_evaluate_markers():
    r = load("gpu-linux-tf2.15-a100-healthy.constructed.json")
    dec = declared_requirements(r)
    assert dec["numpy"] == "<2.0.0,>=1.23.5" or set(dec["numpy"].split(",")) == {"<2.0.0", ">=1.23.5"}
    assert "nvidia-cudnn-cu12" not in dec          # extra == 'and-cuda' lines are not unconditional
    assert "tensorflow-intel" not in dec           # platform_system == "Windows"


def test_parse_sm():
    assert parse_sm(["sm_60", "sm_70", "compute_90"]) == "6.0"
    assert parse_sm(["compute_50", "sm_35"]) == "3.5" and parse_sm([]) is None


def test_doctor_degrades_without_the_compatibility_model():
    rep = diagnose(load("linux-tf2.15-mixed-numpy2-keras3.constructed.json"), compat=Compat(module=object()))
    assert "numpy2-abi-compiled-numpy1" in rules_of(rep)  # from the wheel's pins and the 2.18 fallback
    assert "numpy_spec_for_tf" in rep.compat_missing
    assert "compatibility model lacks" in doctor_text(rep)


def test_driver_check_without_model_uses_cuda_major():
    rep = diagnose(load("gpu-linux-tf2.15-k80-old-driver.constructed.json"), compat=Compat(module=object()))
    assert "cuda-driver-insufficient" in rules_of(rep)


def test_missing_cudnn_and_wrong_major_are_told_apart():
    raw = json.loads((FIXTURES / "gpu-linux-tf2.15-a100-healthy.constructed.json").read_text())
    libs = raw["probes"]["cudalibs"]["data"]["libraries"]
    cudnn = next(x for x in libs if x["family"] == "cudnn")
    cudnn["attempts"] = [{"family": "cudnn", "name": "libcudnn.so.9", "via": "system", "loaded": True,
                          "path": "/usr/lib/x86_64-linux-gnu/libcudnn.so.9", "version": {"version": "9.1.0"}}]
    assert "cudnn-version-mismatch" in rules_of(diagnose(ProbeResult.from_json(raw)))
    cudnn["attempts"] = []
    cudnn["loaded"] = False
    rep = diagnose(ProbeResult.from_json(raw))
    assert "cudnn-library-not-loaded" in rules_of(rep)
    fix = next(p for _, p in rep.problems if p.rule == "cudnn-library-not-loaded")
    assert "tensorflow[and-cuda]==2.15.0" in fix.commands[0]


def test_env_and_cpu_findings():
    raw = json.loads((FIXTURES / "gpu-linux-tf2.15-a100-healthy.constructed.json").read_text())
    raw["probes"]["basic"]["data"]["env"] = {"CUDA_VISIBLE_DEVICES": "-1", "TF_USE_LEGACY_KERAS": "1"}
    raw["probes"]["cpu"]["data"]["flags"]["avx"] = False
    rep = diagnose(ProbeResult.from_json(raw))
    assert {"gpu-list-empty", "cpu-illegal-instruction"} <= set(rules_of(rep))
    # TF 2.15 with TF_USE_LEGACY_KERAS is harmless: tf-keras only matters from 2.16
    assert "tf-keras-missing-legacy-keras" not in rules_of(rep)


def test_probe_failures_are_shown_not_hidden():
    rep = diagnose(load("linux-probe-faults.json"))
    c = check(rep, "probe")
    assert "selftest-hang: timeout" in c.found and "selftest-segv: crashed" in c.found
    assert check(rep, "python").status == "ok"  # the rest still checked


# ------------------------------------------------------------------ rendering
def test_render_never_interprets_markup_and_handles_ascii_terminals():
    from rich.console import Console

    raw = json.loads((FIXTURES / "linux-venv-tf-cpu-2.21.json").read_text())
    raw["target_python"] = "/tmp/[bold red]evil[/bold red]/python"
    raw["probes"]["basic"]["data"]["python"]["executable"] = "/tmp/[link=x]y[/link]/python\x1b[31m"
    rep = diagnose(ProbeResult.from_json(raw))
    buf = io.StringIO()
    render_doctor(rep, Console(file=buf, width=200, color_system=None, markup=False))
    out = buf.getvalue()
    assert "[bold red]evil[/bold red]" in out and "[link=x]y[/link]" in out and "\x1b" not in out

    class Ascii(io.StringIO):
        encoding = "ascii"

    abuf = Ascii()
    render_doctor(rep, Console(file=abuf, width=200, color_system=None, markup=False))
    abuf.getvalue().encode("ascii")  # no ✓ / ✗ that an ASCII console cannot print
    assert "[+] Platform" in abuf.getvalue()


def test_report_markdown_redacts_home_user_and_host():
    rep = diagnose(load("linux-tf2.15-mixed-numpy2-keras3.constructed.json"))
    md = doctor_markdown(rep, fixes_tried=["pip install numpy==2.1.3 (alice's attempt on alicebox)"],
                         redact=redactor(home="/home/alice", user="alice", host="alicebox"))
    assert "alice" not in md and "alicebox" not in md
    assert "~/venvs/tf215/bin/python" in md or "/home/<user>" in md
    assert md.startswith("<details>") and md.rstrip().endswith("</details>")
    assert "`numpy2-abi-compiled-numpy1`" in md and "numpy==2.1.3" in md
    win = doctor_markdown(diagnose(load("windows-native-tf2.15-rtx3060.constructed.json")),
                          redact=redactor(home="/nonexistent", user="alice", host="h"))
    assert "alice" not in win and "C:\\Users\\<user>" in win


# ------------------------------------------------------------------ the real command here
def _cli(argv):
    from tfhelp.assistant.frontends.cli import main
    from tfhelp.assistant.context import Context

    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, width=120, color=False)
    code = main(argv, ctx)
    return code, out.getvalue(), err.getvalue()


def test_doctor_command_json_on_this_machine():
    code, out, err = _cli(["doctor", "--json", "--python", sys.executable])
    assert code == 0, err
    data = json.loads(out)
    validate(data, DOCTOR_JSON_SCHEMA)
    assert data["target_python"] == sys.executable and data["seconds"] < 15
    assert data["environment"]["python"] == "%d.%d.%d" % sys.version_info[:3]


def test_doctor_command_text_and_report():
    code, out, _ = _cli(["doctor", "--python", sys.executable])
    assert code == 0 and out.startswith("tfhelp doctor") and "[" in out and "Python:" in out
    code, md, _ = _cli(["doctor", "--report", "--python", sys.executable])
    assert code == 0 and md.startswith("<details>")
    code, _, err = _cli(["doctor", "--python", "/nonexistent/python"])
    assert code == 3 and "no Python interpreter" in err  # doctor: target unusable


def _variant(**pk):
    raw = json.loads((FIXTURES / "gpu-linux-tf2.15-a100-healthy.constructed.json").read_text())
    data = raw["probes"]["packages"]["data"]
    for k, v in pk.items():
        data["all"][k] = v
        for rel in data["relevant"]:
            if rel["name"] == k:
                rel["version"] = v
    return raw


def test_numpy_and_protobuf_bounds_map_to_their_rules():
    assert "numpy-api-version-too-old" in rules_of(diagnose(ProbeResult.from_json(_variant(numpy="1.21.6"))))
    assert "protobuf-builder-missing" in rules_of(diagnose(ProbeResult.from_json(_variant(protobuf="3.19.6"))))
    # an old TF without wheel pins: the model's <3.20 cap and protobuf 4.21 -> the Descriptors error
    raw = _variant(tensorflow="2.9.0", protobuf="4.21.12", keras="2.9.0", numpy="1.23.5")
    for rel in raw["probes"]["packages"]["data"]["relevant"]:
        rel["requires"] = []
    rep = diagnose(ProbeResult.from_json(raw))
    assert "protobuf-descriptors-cannot-be-created" in rules_of(rep)


def test_report_lists_fixes_tried_from_the_journal(tmp_path, monkeypatch):
    from tfhelp.assistant.fixes.journal import Journal
    from tfhelp.assistant.render.doctor import fixes_tried_from_journal

    j = Journal()
    e = j.new_entry(sys.executable, rule_id="numpy2-abi-compiled-numpy1", fix_index=0, fix_title="Install NumPy 1.x")
    e["status"] = "applied"
    j.save(e)
    tried = fixes_tried_from_journal(sys.executable)
    assert len(tried) == 1 and "numpy2-abi-compiled-numpy1: Install NumPy 1.x -> applied" in tried[0]
    assert fixes_tried_from_journal("/some/other/python") == []


def test_user_site_installs_are_named():
    raw = json.loads((FIXTURES / "gpu-linux-tf2.15-a100-healthy.constructed.json").read_text())
    py = raw["probes"]["basic"]["data"]["python"]
    py.update({"env_kind": "system", "user_site_enabled": True, "user_site_exists": True,
               "user_site": "/home/alice/.local/lib/python3.11/site-packages"})
    for rel in raw["probes"]["packages"]["data"]["relevant"]:
        if rel["name"] == "numpy":
            rel["location"] = py["user_site"]
    c = check(diagnose(ProbeResult.from_json(raw)), "python")
    assert "system + user site-packages" in c.found and any("numpy" in d for d in c.details)
