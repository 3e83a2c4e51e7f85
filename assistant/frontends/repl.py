"""The interactive assistant: ``tfhelp`` on a terminal.

Two layers. :class:`Session` (here) is the logic: it takes one message (a typed line or a whole
pasted traceback) and prints its answer on a rich console; it knows the target interpreter (and
switches to the environment an error came from when that is on this machine), the current
diagnosis, the session's env changes and the journal, and asks yes/no questions through a
callback. It has no terminal code, so tests drive it directly. ``repl_terminal.run_repl`` is the
prompt_toolkit loop around it.

At start (``repl_terminal.run_repl``) :meth:`Session.recover_journal` reports fixes a killed tfhelp
left half-done, as ``tfhelp fix`` / ``tfhelp undo`` do. ``/undo [--force]`` and ``/log
[--max-bytes SIZE] [--allow-special] FILE`` take the CLI's options and give the CLI's messages
(drift, a busy environment, refused devices, a bound that cut a log short).

Size: about 800 lines, over the ~500 guideline, because Session is one conversation's state with
one method per command (/fix, /undo, /run, ...); splitting the class would scatter that shared
state across modules without making any part simpler. The terminal layer and the small pure
helpers (the /log argument parser, the draft-rule writer) are the separable parts and live apart
(repl_terminal.py) or at the end.
"""
from __future__ import annotations

import os
import re
import shlex
import threading
import time
from typing import Callable, Optional

from rich.text import Text

COMMANDS = {
    "/help": "this list",
    "/fix": "[N] [FILE]  plan and apply fix N (default 1) of the current diagnosis; FILE receives code changes",
    "/why": "the full cause, evidence and references of the current diagnosis",
    "/alt": "the other fixes, and related rules",
    "/env": "the target environment: interpreter, versions, session settings",
    "/doctor": "check the target's TensorFlow / CUDA / NumPy setup",
    "/gpu": "run the GPU test ladder on the target",
    "/run": "SCRIPT [ARGS]  run a script with the target interpreter and diagnose its output",
    "/log": "[--max-bytes SIZE] [--allow-special] FILE  scan a log file (or .gz) for root causes",
    "/undo": "[--force]  undo the last fix applied to the target (also from an earlier session)",
    "/history": "fixes applied to the target and their outcomes",
    "/report": "an issue-ready summary of this problem",
    "/python": "PATH  switch the target interpreter (or venv / conda env folder)",
    "/save": "[NAME]  save the last input as a draft rule in your rules folder",
    "/quit": "leave (Ctrl-D works too)",
}

#: Plain words that mean a command, only when they are the whole message.
PLAIN = {
    "fix it": "/fix", "fix": "/fix", "fix this": "/fix", "fix that": "/fix", "apply the fix": "/fix",
    "apply fix": "/fix", "apply it": "/fix",
    "gpu test": "/gpu", "test gpu": "/gpu", "test the gpu": "/gpu", "test my gpu": "/gpu", "gpu": "/gpu",
    "undo": "/undo", "undo it": "/undo", "undo that": "/undo", "undo the fix": "/undo", "revert": "/undo",
    "why": "/why", "explain": "/why", "why is that": "/why",
    "alternatives": "/alt", "other fixes": "/alt", "other options": "/alt",
    "env": "/env", "environment": "/env", "versions": "/env",
    "doctor": "/doctor", "check my setup": "/doctor",
    "history": "/history", "report": "/report",
    "help": "/help", "?": "/help",
    "quit": "/quit", "exit": "/quit", "bye": "/quit", "q": "/quit",
}

KEY_DISTS = (("tensorflow", "TensorFlow"), ("keras", "Keras"), ("numpy", "NumPy"))
MAX_PASTE = 8 * 1024 * 1024
HISTORY_MAX_ENTRY = 4000


def _safe(s) -> str:
    from tfhelp.assistant.render.diagnosis import safe

    return safe(s)


def sanitize_rule_id(name: str) -> str:
    """A draft rule id that is a plain file stem: lowercase words joined by single dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", str(name or "").lower()).strip("-")
    s = re.sub(r"-{2,}", "-", s)[:60].strip("-")
    return s or "draft"


class Session:
    def __init__(self, ctx, console, *, ask: Optional[Callable[[str], bool]] = None,
                 python: Optional[str] = None, probe: bool = True, env=None, journal=None):
        from tfhelp.assistant.frontends.commands.fix import target_python

        self.ctx = ctx
        self.console = console
        self.ask = ask or (lambda question: False)
        self.python = os.path.abspath(python) if python else target_python(ctx)
        # --python (or /python) fixes the target; otherwise the environment an error came from,
        # when it is on this machine, becomes the target (see _pick_target)
        self.explicit = bool(python or ctx.target_python)
        self.target = None                 # tfhelp.assistant.context.Target of the current diagnosis
        self.env = env
        self.env_error: Optional[str] = None
        self.report = None
        self.last_input: Optional[str] = None
        self.child_env: dict = {}          # env set by session-scope fixes; applies to /run and verify
        self.last_script: Optional[str] = None
        self.last_script_args: tuple = ()
        self.on_env: Optional[Callable[[], None]] = None   # UI hook: the background probe finished
        self._journal = journal
        self._probe_thread: Optional[threading.Thread] = None
        self._probe_gen = 0
        if probe and env is None:
            self.start_probe()

    # --- environment ------------------------------------------------------------------------------
    @property
    def journal(self):
        if self._journal is None:
            from tfhelp.assistant.fixes.journal import Journal

            self._journal = Journal()
        return self._journal

    def start_probe(self) -> None:
        from tfhelp.assistant.frontends.commands.fix import target_environment

        self._probe_gen += 1
        gen, python = self._probe_gen, self.python

        def work():
            try:
                env = target_environment(python)
                err = None if env is not None else "could not list its packages"
            except Exception as exc:  # noqa: BLE001 - a broken target must not break the REPL
                env, err = None, f"{type(exc).__name__}: {exc}"
            if gen == self._probe_gen:
                self.env, self.env_error = env, err
                if self.on_env:
                    try:
                        self.on_env()
                    except Exception:  # noqa: BLE001
                        pass

        self.env, self.env_error = None, None
        self._probe_thread = threading.Thread(target=work, name="tfhelp-probe", daemon=True)
        self._probe_thread.start()

    def wait_probe(self, timeout: float) -> None:
        t = self._probe_thread
        if t is not None and t.is_alive():
            t.join(timeout)

    @property
    def probing(self) -> bool:
        return self._probe_thread is not None and self._probe_thread.is_alive()

    def versions_text(self) -> str:
        if self.env is None:
            return "probing versions..." if self.probing else f"versions unknown ({self.env_error or 'not probed'})"
        bits = []
        if self.env.python:
            bits.append(f"Python {self.env.python}")
        for dist, label in KEY_DISTS:
            v = self.env.version(dist)
            bits.append(f"{label} {v}" if v else f"no {label}")
        return " · ".join(bits)

    def greeting(self) -> Text:
        from tfhelp import __version__

        t = Text(f"tfhelp {__version__}", style="bold")
        t.append(f" · target {_safe(self.python)} · ")
        t.append(_safe(self.versions_text()), style="cyan")
        t.append(" · paste an error, or /help", style="dim")
        return t

    def env_line(self) -> Text:
        t = Text("target: ", style="dim")
        t.append(_safe(self.versions_text()), style="cyan")
        return t

    # --- dispatch ---------------------------------------------------------------------------------
    def handle(self, text: str) -> bool:
        """Answer one message. Returns False when the session should end."""
        if text is None:
            return True
        if len(text) > MAX_PASTE:
            text = text[-MAX_PASTE:]
        stripped = text.strip()
        if not stripped:
            return True
        cmd, arg = None, ""
        if stripped.startswith("/") and "\n" not in stripped:
            cmd, _, arg = stripped.partition(" ")
            cmd = cmd.lower()
        else:
            key = re.sub(r"[.!]+$", "", stripped.lower()).strip()
            key = re.sub(r"^(please|pls|ok|okay)\s+", "", key)
            if "\n" not in key and key in PLAIN:
                cmd = PLAIN[key]
        if cmd is None:
            self.diagnose(text)
            return True
        if cmd in ("/quit", "/exit", "/q"):
            return False
        handler = getattr(self, "cmd_" + cmd[1:], None) if cmd[1:].isidentifier() else None
        if handler is None or cmd not in COMMANDS:
            close = [c for c in COMMANDS if c.startswith(cmd)]
            self.say(f"Unknown command {cmd}." + (f" Did you mean {', '.join(close)}?" if close else "")
                     + " /help lists the commands.", "yellow")
            return True
        handler(arg.strip())
        return True

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(_safe(text), style=style))

    # --- diagnosis --------------------------------------------------------------------------------
    def _engine(self):
        from tfhelp.kb.engine import Engine

        return Engine(self.ctx.ruleset())

    def _failed_before(self):
        from tfhelp.assistant.frontends.commands.fix import failed_before_fn

        return failed_before_fn(self.python, self.journal)

    def _pick_target(self, text: str):
        """The Target for an answer about ``text``, and the environment to diagnose with (None:
        from the text alone). Switches the session to the error's environment when it is on this
        machine and no --python / /python chose the target."""
        from tfhelp.assistant.context import Target, find_origin, probe_disagrees, same_interpreter

        origin = find_origin(text, environ=self.ctx.environ)
        if origin.status == "here" and not self.explicit and not same_interpreter(origin.python, self.python):
            self.python = origin.python
            self.report = None
            self.start_probe()
            self.say(f"The error came from {origin.location}: the target is now {origin.python} "
                     "(/python PATH changes it).", "cyan")
            self.wait_probe(20.0)
        else:
            self.wait_probe(3.0)   # the versions pick the fix; don't wait long for them
        if self.explicit:
            source = "--python"
        elif origin.status == "here" and same_interpreter(origin.python, self.python):
            source = "error text"
        else:
            source = "default"
        t = Target(python=self.python, origin=origin, source=source, probed=self.env is not None)
        env = self.env
        if t.is_origin is False:
            env = None                     # the probe describes another environment
        elif origin.status != "here":
            t.disagreement = probe_disagrees(self.env, origin.hints, self.python)
            if t.disagreement:
                env = None
        return t, env

    def _commands_python(self) -> str:
        """The interpreter written into shown commands: the target, unless the error came from an
        environment that is not on this machine (then that environment's ``python``)."""
        t = self.target
        return self.python if t is None else t.commands_python()

    def diagnose(self, text: str, *, from_run: bool = False) -> None:
        from tfhelp.assistant.render.diagnosis import render_report

        self.target, env = self._pick_target(text)
        self.last_input = text
        self.report = self._engine().diagnose(text, env=env,
                                              failed_before=self._failed_before() if env is not None else None)
        line = self.target.describe()
        if line:
            self.say(line, "yellow" if self.target.is_origin is False else "dim")
        render_report(self.report, self.console, python=self._commands_python(), max_diagnoses=3)
        self._hint()

    def _hint(self) -> None:
        r = self.report
        if r is None:
            return
        if r.abstained:
            lines = len(self.last_input.splitlines()) if self.last_input else 0
            if lines <= 1 and len((self.last_input or "").split()) <= 3:
                self.say("(/help lists the commands; paste a whole traceback for a diagnosis.)", "dim")
            self.say("Nothing matched, so tfhelp won't guess. /save [NAME] keeps this input as a draft rule "
                     f"in {self._drafts_dir()} so it can be taught.", "dim")
            return
        d = r.diagnoses[0]
        if d.fixes:
            extra = f", /alt for {len(d.fixes) - 1} other fix(es)" if len(d.fixes) > 1 else ""
            self.say(f"Say 'fix it' (/fix) to apply fix 1 with a snapshot you can undo; /why for details{extra}.", "dim")

    def _current(self):
        if self.report is None or self.report.abstained:
            self.say("No current diagnosis: paste an error first (or /run SCRIPT).", "yellow")
            return None
        return self.report.diagnoses[0]

    def cmd_why(self, arg: str) -> None:
        from tfhelp.assistant.render.diagnosis import render_report

        d = self._current()
        if d is None:
            return
        one = type(self.report)(diagnoses=[d], related=[], lines=self.report.lines, exceptions=self.report.exceptions,
                                facts=self.report.facts, environment=self.report.environment, notes=[])
        render_report(one, self.console, python=self._commands_python(), verbose=True, max_diagnoses=1)

    def cmd_alt(self, arg: str) -> None:
        from tfhelp.assistant.render.diagnosis import render_report

        d = self._current()
        if d is None:
            return
        if len(d.fixes) <= 1:
            self.say("This diagnosis has no other fix for your versions.")
        else:
            one = type(self.report)(diagnoses=[d], related=[], lines=self.report.lines, exceptions=[],
                                    facts={}, environment=self.report.environment, notes=[])
            render_report(one, self.console, python=self._commands_python(), all_fixes=True, max_diagnoses=1)
            self.say("/fix N applies alternative N.", "dim")
        others = self.report.diagnoses[1:] + self.report.related
        if others:
            self.say("Related:", "bold")
            for o in others[:6]:
                self.say(f"  {o.id} - {o.rule.title}" + (f"  ({o.why_not})" if o.why_not else ""))

    # --- fixes ------------------------------------------------------------------------------------
    def _apply_context(self, code_file=None):
        from tfhelp.assistant.frontends.commands.fix import make_apply_context

        return make_apply_context(self.python, session_env=self.child_env, code_file=code_file,
                                  script=self.last_script, progress=lambda s: self.say(s, "dim"))

    def cmd_fix(self, arg: str) -> None:
        from tfhelp.assistant.fixes.plan import apply_plan, build_plan
        from tfhelp.assistant.render.fix import render_outcome, render_plan

        d = self._current()
        if d is None:
            return
        try:
            parts = shlex.split(arg)
        except ValueError:
            parts = arg.split()
        n, code_file = 1, None
        for p in parts:
            if p.isdigit():
                n = int(p)
            else:
                code_file = p
        if not d.fixes:
            self.say(f"{d.id} has no fix that fits this environment.", "yellow")
            return
        if not 1 <= n <= len(d.fixes):
            self.say(f"There are {len(d.fixes)} fix(es); /alt lists them.", "yellow")
            return
        fix = d.fixes[n - 1]
        actx = self._apply_context(code_file)
        order = next((i for i, f in enumerate(d.rule.fixes) if f.title == fix["title"]), n - 1)
        plan = build_plan(fix, actx, rule_id=d.id, fix_index=order,
                          previous_failures=self.journal.failed_fixes(self.python, d.id))
        render_plan(plan, self.console)
        if getattr(d, "matched_by", "") == "resemblance":  # kb/resemble.py: no rule pattern fired
            sim = getattr(d, "similarity", None)
            how = f" (similarity {round(sim)}%)" if isinstance(sim, (int, float)) else ""  # 0-100
            self.say(f"This diagnosis was matched by resemblance to a known report{how}, not by the rule's "
                     "own pattern: check that it is your error before applying its fix.", "yellow")
        if not plan.runnable:
            self.say("This fix can't be run as planned; nothing was changed.", "bold red")
            return
        if not plan.runs_anything and not plan.verifies:
            self.say("Nothing here for tfhelp to run: the steps above are for you.", "yellow")
            return
        warning = self.target.warning() if self.target is not None else None
        if warning:
            self.say(f"Warning: {warning}; this fix changes {self.python} only.", "bold yellow")
        if not self.ask(f"Apply this fix to {self.python}?"):
            self.say("Not applied.", "yellow")
            return
        out = apply_plan(plan, actx, journal=self.journal,
                         ask_rollback=lambda o: self.ask("It did not work. Roll back to the snapshot?"))
        if out.status == "locked":          # tfhelp fix's exit-75 message: nothing was changed
            self.say("tfhelp fix: " + out.messages[0], "red")
            return
        render_outcome(out, self.console)
        if out.ok and plan.touches_packages:
            self.start_probe()
        if out.ok and self.last_script and not any(v.detail.get("check") == "script" for v in plan.verifies):
            self.say(f"/run {self.last_script} to try your script again.", "dim")

    def cmd_undo(self, arg: str) -> None:
        """``/undo [--force]``: what ``tfhelp undo [--force]`` does, with the same refusals."""
        from tfhelp.assistant.frontends.commands.undo import last_undoable_in_env, other_targets_lines

        words = arg.split()
        bad = [w for w in words if w not in ("--force", "-f")]
        if bad:
            self.say(f"/undo: unknown option {bad[0]}; /undo [--force] (--force also restores what "
                     "changed by hand since the fix)", "yellow")
            return
        entry = last_undoable_in_env(self.journal, self.python)
        if entry is None:
            self.say(f"Nothing to undo for {self.python}.")
            lines = other_targets_lines(self.journal, self.python)
            if lines:
                self.say("Fixes that can be undone in other interpreters (/python PATH, then /undo):")
                for line in lines:
                    self.say(line)
            return
        ch = entry.get("changes") or {}
        what = [f"{k} {a} -> {b}" for k, (a, b) in sorted(ch.get("changed", {}).items())]
        what += [f"+{k} {v}" for k, v in sorted(ch.get("added", {}).items())]
        what += [f"-{k} {v}" for k, v in sorted(ch.get("removed", {}).items())]
        self.say(f"Last fix in {self.python}: {entry.get('fix_title')} ({entry.get('rule_id')}, {entry.get('created')}, "
                 f"{entry.get('status')})" + (f"; it changed {', '.join(what)}" if what else ""))
        if not self.ask(f"Undo it in {self.python}?"):
            self.say("Left as it is.", "yellow")
            return
        self._undo(entry, force=bool(words))   # words hold only --force / -f here

    def _undo(self, entry: dict, *, force: bool = False) -> None:
        """Run the undo of ``entry`` and say how it went. Busy and refused undos get the CLI's own
        messages (``tfhelp undo`` exit 75 / exit 1), so the two front ends can't drift apart."""
        from tfhelp.assistant.fixes.plan import undo_last
        from tfhelp.assistant.render.fix import render_undo

        res = undo_last(self.python, self._apply_context(), journal=self.journal, entry=entry, force=force)
        msgs = res.get("messages") or [""]
        if res.get("busy"):
            self.say(f"tfhelp undo: {msgs[0]}", "red")
            return
        if res.get("refused"):
            first, *rest = msgs
            self.say("Not undone: " + first + "".join(f"\n  {m}" for m in rest[:-1]) + ("\n" + rest[-1] if rest else ""),
                     "yellow")
            self.say("Here: /undo --force undoes it anyway.", "dim")
            return
        render_undo(res, self.console)
        if res.get("ok"):
            self.start_probe()

    def recover_journal(self, offer_undo: bool = True) -> list:
        """At start, as ``tfhelp fix`` and ``tfhelp undo`` do: find fixes and undos a killed tfhelp
        process left half-done (:meth:`Journal.recover`), say so, and offer to put the snapshot
        back when one is in the target's environment. Without this a half-changed environment went
        unnoticed until the user happened to type /undo. Returns the notices."""
        from tfhelp.assistant.fixes.journal import env_key

        try:
            notices = self.journal.recover()
        except OSError as exc:
            self.say(f"warning: cannot read the fix journal: {exc}", "yellow")
            return []
        for p in self.journal.problems:
            self.say(f"warning: {p}", "yellow")

        def here(n) -> bool:
            try:
                return env_key(n.get("python") or "") == env_key(self.python)
            except Exception:  # noqa: BLE001 - an odd path in the journal: not this environment
                return False

        mine = None
        for n in notices:
            self.say(f"warning: {n['message']}", "bold yellow")
            if here(n):
                mine = mine or n
            else:
                self.say(f"  (it is another environment: /python {shlex.quote(str(n.get('python')))}, then /undo)",
                         "dim")
        if mine is not None and offer_undo:
            entry = self.journal.get(mine["entry"])
            if entry is not None and self.ask(f"Undo it now in {self.python} (puts back the snapshot from before it)?"):
                self._undo(entry)
            else:
                self.say("Left as it is; /undo puts the snapshot back later.", "dim")
        return notices

    def cmd_history(self, arg: str) -> None:
        from tfhelp.assistant.render.fix import render_history

        entries = self.journal.entries(self.python)[-10:]
        render_history(entries, self.console, self.journal.problems)

    # --- environment commands ---------------------------------------------------------------------
    def cmd_env(self, arg: str) -> None:
        self.wait_probe(10.0)
        self.say(f"interpreter: {self.python}", "bold")
        env = self.env
        if env is None:
            self.say(f"  (could not probe it: {self.env_error or 'unknown'})", "yellow")
        else:
            self.say(f"  Python {env.python or '?'} on {env.platform or '?'}")
            from tfhelp.kb.environment import TF_DISTRIBUTIONS

            shown = [d for d in TF_DISTRIBUTIONS if d in env.packages]
            shown += [d for d in ("keras", "tf-keras", "numpy", "protobuf", "h5py", "ml-dtypes", "tensorboard",
                                  "jax", "torch") if d in env.packages]
            for dname in shown:
                self.say(f"  {dname:<20} {env.packages[dname]}")
            self.say(f"  ({len(env.packages)} distributions installed)", "dim")
        if self.child_env:
            self.say("session settings (apply to /run and verification):", "bold")
            for k, v in sorted(self.child_env.items()):
                self.say(f"  {k}={v}")

    def _sub_ctx(self):
        import dataclasses

        return dataclasses.replace(self.ctx, stdout=self.console.file, stderr=self.console.file,
                                   stdin_isatty=False, target_python=self.python,
                                   width=self.console.width, color=self.console.color_system is not None)

    def _cli(self, argv: list) -> int:
        from tfhelp.assistant.frontends import cli

        return cli.main(argv, self._sub_ctx())

    def cmd_doctor(self, arg: str) -> None:
        from tfhelp.assistant.frontends import cli

        if "doctor" not in cli.COMMANDS:
            self.say("The doctor is not part of this build.", "yellow")
            return
        self._cli(["doctor", "--python", self.python])

    def cmd_gpu(self, arg: str) -> None:
        from tfhelp.assistant.frontends import cli

        for name in ("gpu_test", "gpu-test"):
            if name in cli.COMMANDS:
                self._cli(["gpu-test", "--python", self.python])
                return
        try:
            from tfhelp.assistant.environment import gpu_test
        except ImportError:
            self.say("The GPU test ladder is not part of this build.", "yellow")
            return
        res = gpu_test.run_ladder(self.python, on_rung=lambda r: self.say(
            f"  {'✓' if r.status == 'passed' else '✗' if r.status == 'failed' else '-'} {r.title}: {r.status}"
            + (f" ({r.reason})" if r.reason else ""), "green" if r.status == "passed" else "red" if r.status == "failed" else "dim"))
        self.say("GPU works." if res.gpu_ok else "GPU test failed." if res.first_failure else "GPU not usable.",
                 "bold green" if res.gpu_ok else "bold red")

    def cmd_python(self, arg: str) -> None:
        from tfhelp.assistant.context import TargetNotFound, resolve_target_python

        if not arg:
            self.say(f"target: {self.python}")
            return
        try:
            p = os.path.abspath(resolve_target_python(arg))
        except TargetNotFound:
            self.say(f"No Python interpreter at {os.path.abspath(os.path.expanduser(arg))}.", "red")
            return
        self.python = p
        self.explicit = True               # chosen by hand: errors from elsewhere no longer switch it
        self.report = None
        self.start_probe()
        self.say(f"Target is now {p}; probing its versions...")

    # --- running and logs -------------------------------------------------------------------------
    def cmd_run(self, arg: str) -> None:
        import subprocess

        try:
            parts = shlex.split(arg)
        except ValueError as exc:
            self.say(f"/run: {exc}", "red")
            return
        if not parts:
            self.say("/run SCRIPT [ARGS]: which script?", "yellow")
            return
        script = os.path.expanduser(parts[0])
        if not os.path.isfile(script):
            self.say(f"/run: no such file: {script}", "red")
            return
        self.last_script, self.last_script_args = os.path.abspath(script), tuple(parts[1:])
        argv = [self.python, self.last_script, *self.last_script_args]
        env = dict(os.environ)
        env.update(self.child_env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.say("$ " + shlex.join(argv), "dim")
        keep, size = [], 0
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env)
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.console.print(Text(_safe(line)))
                keep.append(line)
                size += len(line)
                while size > (2 << 20) and len(keep) > 1:
                    size -= len(keep.pop(0))
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
            raise
        took = time.monotonic() - t0
        if rc == 0:
            self.say(f"{os.path.basename(script)} finished OK in {took:.1f}s.", "green")
            text = "\n".join(keep)
            rep = self._engine().diagnose(text, env=self.env, failed_before=self._failed_before())
            if not rep.abstained:
                self.say("Its output still mentions known issues:", "bold")
                self.last_input, self.report = text, rep
                from tfhelp.assistant.render.diagnosis import render_report

                render_report(rep, self.console, python=self.python, max_diagnoses=3)
            return
        self.say(f"{os.path.basename(script)} failed (exit status {rc}) after {took:.1f}s; diagnosing its output:",
                 "bold red")
        self.diagnose("\n".join(keep), from_run=True)

    def cmd_log(self, arg: str) -> None:
        """``/log [--max-bytes SIZE] [--allow-special] FILE``: ``tfhelp --from-log`` in the session.

        The same opener (kb.sources) with the same options, so devices and FIFOs are refused the
        same way, and the same words when a bound ends the read early: the user learns which bound
        (``--max-bytes``, the gzip expansion limit) cut the log and how to lift it."""
        from tfhelp.kb.scan import LogError, open_log, scan_file
        from tfhelp.kb.sources import parse_size

        opts, path = parse_log_arg(arg, parse_size)
        if isinstance(opts, str):
            self.say(f"/log: {opts}", "red")
            return
        if not path:
            self.say("/log [--max-bytes SIZE] [--allow-special] FILE: which file?", "yellow")
            return
        if path == "-":  # standard input is this terminal: reading it would swallow the session
            self.say("/log -: standard input is this terminal here; paste the text, or give a file", "yellow")
            return
        try:
            fh, _size = open_log(path, **opts)
        except LogError as exc:
            self.say(f"/log: {exc}", "red")
            if "--allow-special" in str(exc):
                self.say("Here: /log --allow-special [--max-bytes SIZE] FILE reads it anyway.", "dim")
            return
        try:
            report, stats = scan_file(fh, self.ctx.ruleset(), env=self.env)
        finally:
            try:
                fh.close()
            except OSError:
                pass
        if not stats.bytes and not stats.truncated:
            self.say(f"/log: {path} is empty: nothing to scan", "yellow")
            return
        from tfhelp.assistant.render.scan import render_scan

        render_scan(report, stats, self.console, path=path, python=self.python)
        if stats.truncated:
            self.say(f"/log: {path}: {stats.truncated}", "red")
        stopped = getattr(fh, "stopped", None)   # a bound of kb.sources was reached
        if stopped:
            self.say(f"/log: {path}: {stopped}; the findings above cover the part that was read", "yellow")
        self.report, self.last_input = report, None
        self._hint()

    # --- sharing ----------------------------------------------------------------------------------
    def cmd_report(self, arg: str) -> None:
        from tfhelp import __version__

        lines = ["### Environment", f"- tfhelp {__version__}; interpreter `{self.python}`"]
        env = self.env
        if env is not None:
            lines.append(f"- Python {env.python or '?'} on {env.platform or '?'}")
            pk = [f"{d} {env.packages[d]}" for d in sorted(env.packages)
                  if d in ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "keras", "tf-keras", "numpy",
                           "protobuf", "h5py", "ml-dtypes", "tensorflow-intel", "tf-nightly")]
            if pk:
                lines.append("- " + ", ".join(pk))
            gpu = (env.facts or {}).get("nvidia")
            if gpu:
                lines.append(f"- NVIDIA driver {gpu.get('driver_version')}")
        if self.last_input:
            src = self.last_input.strip("\n").splitlines()
            if len(src) > 120:
                src = src[:60] + [f"... ({len(src) - 120} lines left out) ..."] + src[-60:]
            lines += ["", "### Error", "```text", *src, "```"]
        if self.report is not None:
            lines += ["", "### tfhelp's diagnosis"]
            if self.report.abstained:
                lines.append("- no known cause matched")
            for d in self.report.diagnoses[:3]:
                lines.append(f"- `{d.id}`: {d.rule.title} (score {d.score})")
                if d.rule.references:
                    lines.append(f"  - see {d.rule.references[0]}")
        tried = self.journal.entries(self.python)[-5:]
        if tried:
            lines += ["", "### Fixes tried"]
            for e in tried:
                ver = (e.get("verification") or {}).get("status", "-")
                lines.append(f"- {e.get('created')}: {e.get('rule_id')} / {e.get('fix_title')}: {e.get('status')}, "
                             f"verification {ver}")
        self.say("Copy this into an issue:", "dim")
        self.console.print(Text(_safe("\n".join(lines))))

    def _drafts_dir(self) -> str:
        from tfhelp.kb.loader import user_rules_dir

        return os.path.join(str(user_rules_dir()), "drafts")

    def cmd_save(self, arg: str) -> None:
        if not self.last_input:
            self.say("Nothing to save: paste the error first.", "yellow")
            return
        path = save_draft_rule(self.last_input, arg, self._drafts_dir(), self.report)
        self.say(f"Saved a draft rule: {path}", "green")
        self.say("Fill in the TODOs (matchers, cause, fix, a reference), rename it to "
                 "<rules folder>/<category>/<id>.yaml and run `tfhelp rules lint` and `tfhelp rules test`.", "dim")

    def cmd_help(self, arg: str) -> None:
        self.say("Paste an error or traceback (any length) and tfhelp diagnoses it. Commands:", "bold")
        for c, h in COMMANDS.items():
            self.say(f"  {c:<9} {h}")
        self.say("Plain words work too: 'fix it', 'why', 'undo', 'gpu test', 'history', 'quit'. "
                 "Ctrl-C cancels what is running; Ctrl-D leaves.", "dim")


def parse_log_arg(arg: str, parse_size) -> tuple:
    """``/log``'s argument -> (open_source options, path), or (error message, None).

    Options come first (``--max-bytes SIZE`` or ``--max-bytes=SIZE``, ``--allow-special``); the
    rest is the path as typed, so a path with spaces needs no quotes (quotes around it are
    removed)."""
    opts = {"allow_special": False, "max_bytes": None}
    rest = (arg or "").strip()
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        if word == "--allow-special":
            opts["allow_special"] = True
        elif word == "--max-bytes" or word.startswith("--max-bytes="):
            value = word.partition("=")[2]
            if not value:
                value, _, tail = tail.strip().partition(" ")
            try:
                opts["max_bytes"] = parse_size(value)
            except ValueError as exc:
                return f"--max-bytes: {exc}", None
        elif word == "--":
            rest = tail.strip()
            break
        else:
            return f"unknown option {word} (/log [--max-bytes SIZE] [--allow-special] FILE)", None
        rest = tail.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "'\"":
        rest = rest[1:-1]
    return opts, os.path.expanduser(rest)


def save_draft_rule(text: str, name: str, folder: str, report=None) -> str:
    """Write a draft rule (YAML skeleton, the input as its first example) into ``folder``.

    The id is sanitised to ``[a-z0-9-]`` so it can't leave the folder; an existing draft is never
    overwritten. The file ends in ``.yaml.draft`` so the rule loader ignores it until finished."""
    import yaml

    exc = report.exceptions[-1] if report is not None and getattr(report, "exceptions", None) else None
    base = sanitize_rule_id(name or (f"{exc.type.split('.')[-1]} {exc.message[:40]}" if exc else "draft"))
    if not base.startswith("draft"):
        base = base
    key_line = (exc.message if exc else next((ln for ln in text.splitlines() if ln.strip()), "")).strip()[:160]
    skeleton = {
        "id": base,
        "title": "TODO Title Case, at most 80 characters",
        "category": "import",
        "severity": "fatal",
        "confidence": "low",
        "summary": "TODO one line",
        "cause": "TODO why this happens, in your own words (2-6 lines).\n",
        "references": ["https://TODO-a-public-page-that-shows-this-error"],
        "match": {"all": [{"name": "message", "type": "literal", "value": key_line.lower()}]},
        "fixes": [{"title": "TODO", "steps": [{"action": "manual", "text": "TODO what to do"}]}],
        "examples": {"match": [{"text": text}], "no_match": []},
        "verified": False,
    }
    os.makedirs(folder, exist_ok=True)
    real = os.path.realpath(folder)
    for n in range(1, 1000):
        stem = base if n == 1 else f"{base}-{n}"
        path = os.path.join(real, stem + ".yaml.draft")
        if os.path.dirname(os.path.realpath(path)) != real:
            raise ValueError("draft path escapes the rules folder")
        if not os.path.exists(path):
            skeleton["id"] = stem
            break
    else:
        raise OSError("too many drafts with this name")
    body = ("# Draft rule saved by tfhelp. Finish the TODOs, then move it to <rules>/<category>/<id>.yaml\n"
            "# (see rules/README.md) and prove it with `tfhelp rules lint` and `tfhelp rules test`.\n")
    body += yaml.safe_dump(skeleton, sort_keys=False, allow_unicode=True, width=100)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    return path


# ------------------------------------------------------------------------------------------------
# the terminal layer lives in repl_terminal.py; these names stay importable from here

from tfhelp.assistant.frontends.repl_terminal import (  # noqa: E402,F401
    PASTE_PAUSE, _completer, _history, _key_bindings, _NoEcho, is_command_line, run_repl)


def main(ctx) -> int:
    return run_repl(ctx)
