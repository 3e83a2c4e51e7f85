"""The REPL's terminal layer: the prompt_toolkit loop around :class:`repl.Session`.

Bracketed paste (a 300-line traceback is one message), pastes from terminals without it (arriving
line by line: taken as one message once input pauses, with a command typed at its end split off),
completion, history in the state dir, Ctrl-C cancels the current action (not the session), Ctrl-D
exits; keys typed while tfhelp answers are not echoed by the terminal driver (prompt_toolkit shows
them once, at the next prompt). Works with ``TERM=dumb`` and without colours.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Optional

from rich.text import Text

from tfhelp.assistant.frontends.repl import COMMANDS, HISTORY_MAX_ENTRY, PLAIN, Session, _safe


def _history(path: str):
    from prompt_toolkit.history import FileHistory

    class _History(FileHistory):
        def store_string(self, string: str) -> None:
            if len(string) <= HISTORY_MAX_ENTRY and "\n" not in string:
                try:
                    super().store_string(string)
                except OSError:
                    pass

        def load_history_strings(self):
            try:
                yield from super().load_history_strings()
            except (OSError, ValueError):
                return

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError:
        pass
    return _History(path)


def _completer():
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    class _C(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            if "\n" in text or not text.startswith("/"):
                return
            if " " not in text:
                for c, h in COMMANDS.items():
                    if c.startswith(text.lower()):
                        yield Completion(c, start_position=-len(text), display_meta=h.split("  ")[-1][:50])
                return
            cmd, _, rest = text.partition(" ")
            if cmd in ("/run", "/log", "/python", "/fix"):
                sub = Document(rest.split(" ")[-1])
                yield from paths.get_completions(sub, complete_event)

    return _C()


#: How long input must pause before a typed line (or the end of a paste from a terminal without
#: bracketed paste, which arrives line by line) is taken as complete.
PASTE_PAUSE = 0.15


def is_command_line(line: str) -> bool:
    """Is this one line a REPL command (``/quit``, ``fix it``) rather than error text?"""
    s = (line or "").strip()
    if not s or "\n" in s:
        return False
    if s.startswith("/"):
        cmd = s.split()[0].lower()
        return cmd in COMMANDS or cmd in ("/exit", "/q")
    key = re.sub(r"[.!]+$", "", s.lower()).strip()
    key = re.sub(r"^(please|pls|ok|okay)\s+", "", key)
    return key in PLAIN


def _key_bindings(queued: Optional[list] = None):
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.keys import Keys

    kb = KeyBindings()
    queued = queued if queued is not None else []

    def submit_with_command(buf) -> bool:
        """A command on the last line of a pending paste (``/quit`` typed right after it) is its
        own message: submit the paste, queue the command. True when that happened."""
        head, sep, last = buf.text.rpartition("\n")
        if not sep or not is_command_line(last):
            return False
        if head.strip():
            queued.append(last.strip())
            buf.text = head
        else:
            buf.text = last
        buf.validate_and_handle()
        return True

    @kb.add(Keys.BracketedPaste, eager=True)
    def _paste(event):
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        buf = event.current_buffer
        buf.insert_text(data)
        if "\n" in data.strip("\n"):   # a multi-line paste is one message: answer it now
            buf.validate_and_handle()

    @kb.add("enter", eager=True)
    def _enter(event):
        buf = event.current_buffer
        text = buf.text
        if is_command_line(text):          # a command never waits, whatever else is queued
            buf.validate_and_handle()
            return
        if submit_with_command(buf):
            return
        if event.app.key_processor.input_queue:
            # more keys already waiting: a paste from a terminal without bracketed paste
            buf.insert_text("\n")
            return
        # A line of error text may be the first of a paste arriving line by line (each line its own
        # read): submit only once input pauses, so the whole paste is one message.
        snapshot = text + "\n"
        buf.insert_text("\n")

        def later():
            if buf.text == snapshot:
                buf.text = text
                buf.validate_and_handle()

        event.app.loop.call_later(PASTE_PAUSE, later)

    @kb.add("escape", "enter")
    def _newline(event):
        event.current_buffer.insert_text("\n")

    return kb


class _NoEcho:
    """While tfhelp answers, keys typed on the terminal are not echoed by the terminal driver
    (prompt_toolkit shows them once, at the next prompt; cooked-mode echo showed them twice)."""

    def __init__(self, stream):
        self.fd, self.old = None, None
        try:
            import termios

            fd = stream.fileno()
            if os.isatty(fd):
                self.fd, self.old = fd, termios.tcgetattr(fd)
        except (ImportError, AttributeError, OSError, ValueError):
            self.fd = None

    def __enter__(self):
        if self.fd is not None:
            import termios

            new = list(self.old)
            new[3] &= ~termios.ECHO
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, new)
            except OSError:
                self.fd = None
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self.old)
            except OSError:
                pass


def run_repl(ctx, *, pt_input=None, pt_output=None, console=None, session: Optional[Session] = None) -> int:
    """The prompt loop. ``pt_input``/``pt_output``/``console`` are injectable for tests."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.formatted_text import ANSI

    from tfhelp.assistant.fixes.journal import state_dir

    console = console or ctx.console()
    pending = []
    queued: list = []          # commands split off the end of a paste (see _key_bindings)
    shown = {"versions": None}
    pts = PromptSession(history=_history(os.path.join(state_dir(), "repl_history")), completer=_completer(),
                        complete_while_typing=False, key_bindings=_key_bindings(queued), enable_history_search=False,
                        input=pt_input, output=pt_output, multiline=True, mouse_support=False,
                        prompt_continuation="")
    asker = PromptSession(input=pt_input, output=pt_output)

    def ask(question: str) -> bool:
        try:
            ans = asker.prompt(f"{question} [y/N] ")
        except (KeyboardInterrupt, EOFError):
            return False
        return ans.strip().lower() in ("y", "yes")

    def on_env():
        # the background probe finished: show the versions above the prompt without disturbing it
        if session.versions_text() == shown["versions"]:
            return
        shown["versions"] = session.versions_text()
        line = session.env_line()
        app = pts.app
        if app.is_running and getattr(app, "loop", None) is not None:
            from prompt_toolkit.application import run_in_terminal

            app.loop.call_soon_threadsafe(lambda: run_in_terminal(lambda: console.print(line)))
        else:
            pending.append(line)

    if session is None:
        session = Session(ctx, console, ask=ask, probe=False)
        session.on_env = on_env
        session.start_probe()
    else:
        session.ask = session.ask if session.ask is not None else ask
        session.on_env = session.on_env or on_env
    session.wait_probe(0.25)   # usually enough for the versions to make the greeting line
    console.print(session.greeting())
    if session.env is not None:
        shown["versions"] = session.versions_text()
        pending.clear()
    try:  # a fix or undo a killed tfhelp left half-done: said (and offered for undo) before anything else
        session.recover_journal()
    except KeyboardInterrupt:
        console.print(Text("(cancelled)", style="yellow"))
    except Exception as exc:  # noqa: BLE001 - a broken journal must not keep the REPL from starting
        console.print(Text(f"tfhelp: warning: could not check the fix journal: {type(exc).__name__}: {_safe(exc)}",
                           style="yellow"))
    prompt = ANSI("\x1b[1mtfhelp>\x1b[0m ") if console.color_system else "tfhelp> "
    while True:
        while pending:
            console.print(pending.pop(0))
        if queued:
            text = queued.pop(0)
            console.print(Text(f"tfhelp> {_safe(text)}", style="dim"))
        else:
            try:
                text = pts.prompt(prompt)
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
        try:
            with _NoEcho(sys.stdin) if pt_input is None else _NoEcho(None):
                if not session.handle(text):
                    break
        except KeyboardInterrupt:
            console.print(Text("(cancelled)", style="yellow"))
        except Exception as exc:  # noqa: BLE001 - one bad message must not end the session
            console.print(Text(f"tfhelp: internal error while answering: {type(exc).__name__}: {_safe(exc)}",
                               style="red"))
    console.print(Text("bye", style="dim"))
    return 0
