#!/usr/bin/env python3
"""Rebuild the reproduced corpus cases in throwaway virtual environments.

Each case in ``cases.yaml`` names an environment (a list of pip install steps) and a shell
command that fails (or, for clean/log cases, succeeds).  For every selected case this script

1. creates the environment's venv under ``--root`` (default ``/tmp/tfhelp-repro``), reusing it
   for all selected cases that share the environment and deleting it afterwards (``--keep`` to
   keep it);
2. downloads the wheels into ``~/.cache/tfhelp-wheels`` with ``pip download`` and installs them
   with ``--find-links`` so that a rebuild does not fetch them again;
3. runs the case's ``setup`` (not captured) and ``run`` command in a fresh working directory,
   capturing stdout and stderr together (through a pseudo-terminal when ``pty: true``);
4. writes the raw output to ``corpus/<category>/<case>/input.txt`` (or ``run.log`` for
   ``kind: log``) and a ``meta.yaml`` with the exact command, the versions read from
   ``pip freeze`` inside the venv, platform, date, exit status and the expected rule ids.

It is never run by the test-suite (it needs the network and minutes per TensorFlow install);
the committed outputs are what the tests read.

Usage::

    python corpus/reproduce/reproduce.py --list
    python corpus/reproduce/reproduce.py --case keras3-np-utils
    python corpus/reproduce/reproduce.py --env tfcpu218        # every case of one environment
    python corpus/reproduce/reproduce.py --all [--root DIR] [--keep] [--dry-run]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import pty
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent
CASES_FILE = HERE / "cases.yaml"
WHEELS = Path(os.environ.get("TFHELP_WHEELS", Path.home() / ".cache" / "tfhelp-wheels"))

# Packages worth recording in meta.yaml `versions` when present in the venv.
RELEVANT = re.compile(
    r"^(pip|tensorflow.*|tf-keras|tf-nightly.*|keras.*|numpy|protobuf|h5py|ml-dtypes|tensorboard|"
    r"jax|jaxlib|torch|scipy|scikit-learn|nvidia-.*|tensorrt.*)$"
)
REQUIRED_META = ("kind", "source", "command", "versions", "platform", "date", "expected")


def base_env() -> dict:
    """The calling environment without this machine's pip configuration (config files, extra
    indexes, find-links): cases must see what a user with a plain pip sees."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TF_", "KERAS_", "PIP_FIND_LINKS",
                                "PIP_INDEX", "PIP_EXTRA", "PIP_CONSTRAINT"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def case_env() -> dict:
    env = base_env()
    env.pop("PIP_DISABLE_PIP_VERSION_CHECK", None)   # users see pip's upgrade notice
    return env


def load_cases(path: Path = CASES_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    envs = data.get("envs") or {}
    cases = data.get("cases") or []
    names = set()
    for case in cases:
        if case["name"] in names:
            raise SystemExit(f"duplicate case name {case['name']}")
        names.add(case["name"])
        if case["env"] not in envs:
            raise SystemExit(f"case {case['name']}: unknown env {case['env']}")
    return data


def case_dir(case: dict) -> Path:
    """corpus/<category>/<case>; cases marked `pending` (their expected rule does not exist yet)
    go to corpus/reproduce/pending/<category>/<case>, outside what the corpus tests read."""
    if case.get("pending"):
        return HERE / "pending" / case["category"] / case["name"]
    return CORPUS / case["category"] / case["name"]


def output_name(case: dict) -> str:
    return "run.log" if case.get("kind") == "log" else "input.txt"


# --------------------------------------------------------------------------------------------
# environments


def log(msg: str) -> None:
    print(f"[reproduce {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd: list[str], *, timeout: int, env: dict | None = None, cwd: Path | None = None,
       check: bool = True) -> subprocess.CompletedProcess:
    log("$ " + shlex.join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=env if env is not None else base_env(), cwd=cwd)
    if check and proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:])
        raise RuntimeError(f"command failed ({proc.returncode}): {shlex.join(cmd)}")
    return proc


def install_step_args(step) -> list[str]:
    """A step is a string ("pkg==1 other==2" or "--no-deps pkg==1") or a list of args."""
    return shlex.split(step) if isinstance(step, str) else list(step)


class Venv:
    def __init__(self, root: Path, name: str, spec: dict):
        self.name = name
        self.spec = spec
        self.path = root / "venvs" / name
        self.python = self.path / "bin" / "python"
        self.log: list[str] = []
        self.build_seconds = 0.0

    def create(self, timeout: int) -> None:
        start = time.monotonic()
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        base = self.spec.get("python", "python3")
        sh([base, "-m", "venv", str(self.path)], timeout=300)
        WHEELS.mkdir(parents=True, exist_ok=True)
        for step in self.spec.get("install", []):
            args = install_step_args(step)
            # Fill the wheel cache first (pip download resolves like install does), then
            # install from it.  A download failure is not fatal: install reports the real error.
            dl = sh([str(self.python), "-m", "pip", "download", "-q", "-d", str(WHEELS), *args],
                    timeout=timeout, check=False)
            if dl.returncode != 0 and dl.stdout.strip():
                self.log.append(f"pip download {' '.join(args)} failed: "
                                + dl.stdout.strip().splitlines()[-1])
            inst = sh([str(self.python), "-m", "pip", "install", "--find-links", str(WHEELS),
                       *args], timeout=timeout, check=False)
            tail = [ln for ln in inst.stdout.splitlines() if "is ignored" not in ln]
            # keep resolver complaints (they are part of the story for mismatch cases)
            for ln in tail:
                if ln.startswith("ERROR") or "incompatible" in ln or "requires" in ln:
                    self.log.append(ln.strip())
            if inst.returncode != 0:
                sys.stdout.write("\n".join(tail[-40:]) + "\n")
                raise RuntimeError(f"venv {self.name}: install step failed: {args}")
        self.build_seconds = time.monotonic() - start

    def freeze(self) -> dict[str, str]:
        out = sh([str(self.python), "-m", "pip", "freeze", "--all"], timeout=120).stdout
        pkgs = {}
        for line in out.splitlines():
            if "==" in line:
                name, ver = line.split("==", 1)
                pkgs[re.sub(r"[-_.]+", "-", name).lower()] = ver.strip()
        return pkgs

    def python_version(self) -> str:
        return sh([str(self.python), "-c", "import platform; print(platform.python_version())"],
                  timeout=60).stdout.strip()

    def remove(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)

    def shell_env(self, extra: dict | None) -> dict:
        env = case_env()
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.path / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env.setdefault("LANG", "C.UTF-8")
        for k, v in (extra or {}).items():
            env[k] = str(v)
        return env

    def human_command(self) -> str:
        """The environment as a copy-pasteable command (V = the venv folder)."""
        parts = [f"{self.spec.get('python', 'python3')} -m venv V", ". V/bin/activate"]
        for step in self.spec.get("install", []):
            parts.append("pip install " + shlex.join(install_step_args(step)))
        return " && ".join(parts)


# --------------------------------------------------------------------------------------------
# running a case


def run_captured(cmd: str, *, env: dict, cwd: Path, timeout: int, use_pty: bool,
                 columns: int = 100) -> tuple[bytes, int | str]:
    """Run `cmd` with bash; return (combined output bytes, exit status or 'timeout')."""
    argv = ["bash", "-c", cmd]
    if not use_pty:
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  env=env, cwd=cwd, timeout=timeout, start_new_session=True)
            return proc.stdout, proc.returncode
        except subprocess.TimeoutExpired as exc:
            return exc.stdout or b"", "timeout"
    master, slave = pty.openpty()
    import fcntl
    import termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    env = dict(env, TERM=env.get("TERM", "xterm-256color"), COLUMNS=str(columns))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    status: int | str | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.killpg(proc.pid, signal.SIGKILL)
            status = "timeout"
            break
        r, _, _ = select.select([master], [], [], min(left, 1.0))
        if master in r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            # drain whatever is left
            try:
                while True:
                    r, _, _ = select.select([master], [], [], 0.2)
                    if not r:
                        break
                    data = os.read(master, 65536)
                    if not data:
                        break
                    chunks.append(data)
            except OSError:
                pass
            break
    os.close(master)
    rc = proc.wait()
    return b"".join(chunks), (status or rc)


def write_case(case: dict, venv: Venv, output: bytes, status, elapsed: float,
               versions: dict, pyver: str, human: str, dry_run: bool) -> Path:
    folder = case_dir(case)
    meta = {
        "kind": case.get("kind", "traceback"),
        "source": "reproduced",
        "command": human,
        "versions": {"python": pyver, **versions},
        "platform": "linux",
        "date": _dt.date.today().isoformat(),
        "expected": list(case.get("expected") or []),
        "exit_status": status,
        "reproduce": f"python corpus/reproduce/reproduce.py --case {case['name']}",
        "platform_detail": f"{platform.system()} {platform.release()} {platform.machine()}, "
                           f"glibc {platform.libc_ver()[1]}",
        "elapsed_s": round(elapsed, 1),
        "venv_build_s": round(venv.build_seconds),
        "notes": (case.get("notes") or "").strip(),
    }
    if case.get("references"):
        meta["references"] = case["references"]
    if venv.log:
        meta["install_log"] = venv.log[-10:]
    if dry_run:
        log(f"dry run: would write {folder}")
        sys.stdout.write(output.decode("utf-8", "replace")[-3000:] + "\n")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / output_name(case)).write_bytes(output)
    with open(folder / "meta.yaml", "w", encoding="utf-8") as fh:
        yaml.safe_dump(meta, fh, sort_keys=False, allow_unicode=True, width=100)
    return folder


def human_command(case: dict, venv: "Venv") -> str:
    """The whole case as one copy-pasteable command line (V = the venv folder)."""
    parts = [venv.human_command()]
    for name in (case.get("files") or {}):
        parts.append(f"cat > {name} <<'EOF' (see cases.yaml: {case['name']}.files)")
    if case.get("setup"):
        parts.append(case["setup"])
    envs = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in (case.get("env_vars") or {}).items())
    parts.append((envs + " " if envs else "") + case["run"])
    return " && ".join(parts)


def run_case(case: dict, venv: Venv, root: Path, dry_run: bool) -> None:
    work = root / "work" / case["name"]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name, content in (case.get("files") or {}).items():
        (work / name).write_text(content, encoding="utf-8")
    env = venv.shell_env(case.get("env_vars"))
    if case.get("setup"):
        out, rc = run_captured(case["setup"], env=env, cwd=work,
                               timeout=case.get("timeout", 900), use_pty=False)
        if rc != 0:
            sys.stdout.write(out.decode("utf-8", "replace")[-3000:])
            raise RuntimeError(f"case {case['name']}: setup failed ({rc})")
    start = time.monotonic()
    out, status = run_captured(case["run"], env=env, cwd=work,
                               timeout=case.get("timeout", 900), use_pty=bool(case.get("pty")))
    elapsed = time.monotonic() - start
    if case.get("strip_prefix_lines"):
        # only used where the captured command prints unrelated set-up chatter first
        out = b"".join(out.splitlines(keepends=True)[case["strip_prefix_lines"]:])
    log(f"case {case['name']}: exit {status}, {len(out)} bytes, {elapsed:.1f}s")
    expect_rc = case.get("expect_exit", "nonzero")
    ok = (status == 0) if expect_rc == 0 else (status != 0)
    if expect_rc == "any":
        ok = True
    if not ok:
        log(f"WARNING case {case['name']}: exit status {status} not as expected ({expect_rc})")
    freeze = venv.freeze()
    pinned = set()
    for step in venv.spec.get("install", []):
        for tok in install_step_args(step):
            if "==" in tok:
                pinned.add(re.sub(r"[-_.]+", "-", tok.split("==", 1)[0]).lower())
    versions = {k: v for k, v in sorted(freeze.items()) if RELEVANT.match(k) or k in pinned}
    for extra in case.get("record", []):
        if extra in freeze:
            versions[extra] = freeze[extra]
    human = human_command(case, venv)
    folder = write_case(case, venv, out, status, elapsed, versions, venv.python_version(), human,
                        dry_run)
    log(f"wrote {folder}")


# --------------------------------------------------------------------------------------------
# OBSERVED.md: the key lines of every captured output, for rule authors

KEY_LINE = re.compile(
    r"^\s*(?:(?:ERROR|WARNING|error|note|hint)\b:?.*"                   # pip / absl
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] .*"               # TF C++ logging
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ .*"                              # absl C++ logging
    r"|.*(?:Illegal instruction|Aborted|core dumped|qemu:|exit status \d+"
    r"|compiled using NumPy|NumPy 2|downgrade to|Keras requires|has been removed"
    r"|rebuild TensorFlow|Could not find|Cannot dlopen|is_cuda_build|Num GPUs).*)$")
EXC_LINE = re.compile(r"^\s*(?:[A-Za-z_]\w*\.)*[A-Z]\w*:(?:\s.*)?$")
EXC_END = re.compile(r"^\s*$|^\s*(?:Traceback|File \"|During handling|The above exception|\[end of)")
TF_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def key_lines(text: str) -> list[str]:
    seen, out = set(), []
    text = ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n").replace("\b", "")
    raw = text.splitlines()
    i = 0
    while i < len(raw):
        line = raw[i]
        block = []
        if EXC_LINE.match(line) and not KEY_LINE.match(line):
            # an exception line and its message continuation lines
            block.append(line)
            j = i + 1
            while j < len(raw) and len(block) < 15 and not EXC_END.match(raw[j]):
                block.append(raw[j])
                j += 1
            i = j
        elif KEY_LINE.match(line):
            block.append(line)
            i += 1
        else:
            i += 1
            continue
        for ln in block:
            ln = TF_LOG_PREFIX.sub("<timestamp>: ", ln.rstrip())
            ln = re.sub(r"/tmp/tfhelp-repro/(venvs|work)/[^/\s]+", r"<\1>", ln)
            ln = re.sub(r"/tmp/pip-[\w-]+", "/tmp/pip-<tmp>", ln)
            if len(ln) > 600:
                ln = ln[:600] + " [...]"
            if ln not in seen:
                seen.add(ln)
                out.append(ln)
    return out


def write_observed(data: dict) -> Path:
    path = HERE / "OBSERVED.md"
    path.write_text(render_observed(data), encoding="utf-8")
    return path


def render_observed(data: dict) -> str:
    lines = [
        "# Observed error strings (reproduced cases)",
        "",
        "Generated by `python corpus/reproduce/reproduce.py --observed` from the committed",
        "outputs of the cases in `cases.yaml`.  Each block holds the key lines (exception lines,",
        "pip errors, TensorFlow C++ log lines, shell/qemu messages) of one captured output, in the",
        "order they appear; the full text is the case's input.txt / run.log.  Timestamps are shown",
        "as `<timestamp>`, venv and working paths as `<venvs>` / `<work>`.",
        "",
    ]
    for item in data.get("observations") or []:
        lines.append(f"- {item.strip()}")
    if data.get("observations"):
        lines.append("")
    lines += ["## Could not be reproduced here", ""]
    for item in data.get("not_reproduced") or []:
        lines.append(f"- **{item['what']}**: {item['why'].strip()}")
    lines.append("")
    for case in data["cases"]:
        folder = case_dir(case)
        meta_path = folder / "meta.yaml"
        out_path = folder / output_name(case)
        if not meta_path.is_file() or not out_path.is_file():
            lines += [f"## {case['category']}/{case['name']}", "", "(not captured yet)", ""]
            continue
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items()
                         if k in ("python", "tensorflow", "tensorflow-cpu", "keras", "tf-keras",
                                  "numpy", "protobuf", "tensorboard", "h5py", "pip"))
        lines += [f"## {case['category']}/{case['name']}", "",
                  f"{vers}; exit status {meta.get('exit_status')}; "
                  f"expected {meta['expected'] or '[] (clean)'}", ""]
        if case.get("notes"):
            lines += [" ".join(case["notes"].split()), ""]
        found = key_lines(out_path.read_bytes().decode("utf-8", "replace"))
        lines += ["```text", *(found or ["(no error lines: the command succeeded quietly)"]), "```", ""]
    return "\n".join(lines)


def refresh_meta(data: dict) -> int:
    """Re-derive the judgement fields (expected, notes) of captured cases from cases.yaml.

    The captured output and the facts about the run (command, versions, exit status, date) are
    left alone; a case whose recorded command no longer matches cases.yaml must be re-run."""
    bad = 0
    for case in data["cases"]:
        meta_path = case_dir(case) / "meta.yaml"
        if not meta_path.is_file():
            continue
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        venv = Venv(Path("/nonexistent"), case["env"], data["envs"][case["env"]])
        if meta.get("command") != human_command(case, venv):
            log(f"{case['name']}: recorded command differs from cases.yaml; re-run it")
            bad += 1
            continue
        new_expected = list(case.get("expected") or [])
        new_notes = (case.get("notes") or "").strip()
        if meta.get("expected") != new_expected or meta.get("notes", "") != new_notes:
            meta["expected"] = new_expected
            meta["notes"] = new_notes
            with open(meta_path, "w", encoding="utf-8") as fh:
                yaml.safe_dump(meta, fh, sort_keys=False, allow_unicode=True, width=100)
            log(f"refreshed {meta_path.relative_to(CORPUS.parent)}")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sel = ap.add_mutually_exclusive_group(required=True)
    sel.add_argument("--case", action="append", help="case name (repeatable)")
    sel.add_argument("--env", action="append", help="every case of this environment")
    sel.add_argument("--all", action="store_true")
    sel.add_argument("--list", action="store_true")
    sel.add_argument("--refresh-meta", action="store_true",
                     help="rewrite only `expected` and `notes` of every captured case from "
                          "cases.yaml (no venvs; refuses where the recorded command differs)")
    sel.add_argument("--observed", action="store_true",
                     help="only regenerate OBSERVED.md from the committed outputs")
    ap.add_argument("--root", type=Path, default=Path("/tmp/tfhelp-repro"),
                    help="where venvs and working dirs go (default /tmp/tfhelp-repro)")
    ap.add_argument("--keep", action="store_true", help="keep the venvs afterwards")
    ap.add_argument("--dry-run", action="store_true", help="run but write nothing to the corpus")
    ap.add_argument("--install-timeout", type=int, default=1800)
    args = ap.parse_args(argv)

    data = load_cases()
    envs, cases = data["envs"], data["cases"]
    if args.refresh_meta:
        return refresh_meta(data)
    if args.observed:
        log(f"wrote {write_observed(data)}")
        return 0
    if args.list:
        for c in cases:
            print(f"{c['name']:40} {c['env']:14} {c['category']}/{c['name']}")
        return 0
    if args.all:
        chosen = list(cases)
    elif args.env:
        chosen = [c for c in cases if c["env"] in args.env]
    else:
        by_name = {c["name"]: c for c in cases}
        missing = [n for n in args.case if n not in by_name]
        if missing:
            ap.error(f"unknown case(s): {', '.join(missing)}")
        chosen = [by_name[n] for n in args.case]
    if not chosen:
        ap.error("nothing selected")

    # group by environment, in the order environments are declared
    order = list(envs)
    chosen.sort(key=lambda c: order.index(c["env"]))
    failures = []
    current: Venv | None = None
    for case in chosen:
        if case["name"] in failures:
            continue
        if current is None or current.name != case["env"]:
            if current is not None and not args.keep:
                current.remove()
            current = Venv(args.root, case["env"], envs[case["env"]])
            log(f"building venv {current.name}")
            try:
                current.create(args.install_timeout)
            except Exception as exc:  # report and go on with the other environments
                log(f"ERROR {exc}")
                failures.extend(c["name"] for c in chosen if c["env"] == case["env"])
                current.remove()
                current = None
                continue
        try:
            run_case(case, current, args.root, args.dry_run)
        except Exception as exc:
            log(f"ERROR case {case['name']}: {exc}")
            failures.append(case["name"])
    if current is not None and not args.keep:
        current.remove()
    if failures:
        log("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
