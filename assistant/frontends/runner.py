"""Run a child process transparently and keep a bounded record of what it printed.

``tfhelp run`` must be something a person can leave on for every run, so the relay is built
to be invisible:

* Each of the child's output streams goes to a pseudo-terminal when tfhelp's own stream is a
  terminal (so progress bars, colours and line buffering look exactly as they would) and to a
  plain pipe otherwise.  stdout and stderr stay separate, except when ours are one file or
  terminal: then the child gets one channel for both, so their interleaving is its own.
  The child's pty copies our terminal's size (and follows SIGWINCH) and settings, except that
  output post-processing is off there: our terminal does "\n" -> "\r\n" once, as it would for
  the child, so the bytes reaching it are the same as in a direct run.
* stdin is inherited: the child reads tfhelp's stdin directly.
* The child stays in tfhelp's process group, so a Ctrl-C typed at the terminal reaches it
  exactly as it would without tfhelp.  Signals sent to tfhelp by other processes (``kill``,
  a job scheduler's SIGTERM) are forwarded.  The two are told apart with ``sigtimedwait``'s
  ``si_code``: the kernel marks terminal-generated signals ``SI_KERNEL``; a child that already
  received a signal from the terminal must not get it a second time.
* Bytes are relayed with ``os.read``/``os.write`` in large blocks, one poll loop for all
  channels; the only per-block Python work is appending the block to a bounded ring of chunks.
  Nothing is decoded, split into lines, or inspected while the child runs.  A pty hands out at
  most 4095 bytes per read and holds only ~16 KiB, so a pty channel is drained in a burst of
  reads per wake-up and written to our terminal by a thread (a blocking write waits for the
  terminal inside the kernel while the loop keeps draining the child); see ``benchmarks/
  bench_run.py`` for what this costs against a direct run.
* The exit status is the child's; a child killed by signal N gives 128+N, as a shell does.

This module is POSIX-only (pty, termios, sigtimedwait).  On Windows, :func:`run_child` falls
back to pipes with the same bookkeeping but without pseudo-terminals or signal forwarding.

Why one module over 500 lines: the relay loop, the bounded output tail and signal forwarding
share one child's state and timing and are only understandable read together.
"""
from __future__ import annotations

import errno
import os
import select
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field

READ_SIZE = 1 << 20            # pipes are grown to 1 MiB (F_SETPIPE_SZ) where allowed
PIPE_SIZE = 1 << 20
# After a pipe read that returned data, wait this long before the next poll so that a fast
# writer's small writes coalesce into one large read (50 000 wake-ups a second become ~500); the
# grown pipe holds 1 MiB, so the writer doesn't block meanwhile.  Far below what a person can
# see.
COALESCE_S = 0.002
# A pty is different: Linux queues only ~16 KiB for its reader and hands out <= 4095 bytes per
# read.  So a pty's pause is short (a Python loop printing short lines, ~20 MB/s, fills 10 KiB
# meanwhile) and follows only a short read: a long one means the child is outrunning us.
PTY_COALESCE_S = 0.0005
PTY_COALESCE_BELOW = 8 << 10
FULL_PTY_READ = 4000           # a read about this long may have left more behind: read again
PTY_READ_SIZE = 16 << 10       # more than a pty ever hands out; a smaller buffer is cheaper
PTY_BATCH = 64 << 10           # at most this much per wake-up, then it goes to the terminal
PTY_BACKLOG = 1 << 20          # bytes waiting for our terminal before the child is held back
DEFAULT_TAIL_BYTES = 2 << 20   # combined stdout+stderr tail kept for diagnosis
DEFAULT_STDERR_BYTES = 1 << 20  # stderr kept separately so a traceback survives a stdout flood
STDERR_HEAD_BYTES = 256 << 10   # and its start: TensorFlow's start-up warnings name root causes

# What bash prints when a foreground job dies of a signal.  tfhelp prints the same line (its
# parent shell only sees tfhelp exit with 128+N and so stays quiet) and adds it to the text it
# diagnoses, so rules written for pasted shell output ("Illegal instruction (core dumped)") fire.
SHELL_SIGNAL_MESSAGES = {
    "SIGSEGV": "Segmentation fault",
    "SIGILL": "Illegal instruction",
    "SIGABRT": "Aborted",
    "SIGBUS": "Bus error",
    "SIGFPE": "Floating point exception",
    "SIGKILL": "Killed",
    "SIGTERM": "Terminated",
    "SIGQUIT": "Quit",
    "SIGTRAP": "Trace/breakpoint trap",
    "SIGSYS": "Bad system call",
    "SIGXCPU": "CPU time limit exceeded",
    "SIGXFSZ": "File size limit exceeded",
    "SIGHUP": "Hangup",
    "SIGALRM": "Alarm clock",
    "SIGUSR1": "User defined signal 1",
    "SIGUSR2": "User defined signal 2",
}
# Deaths that mean "someone stopped it", not "it broke": no diagnosis for these.
INTERRUPT_SIGNALS = frozenset({"SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"})
# Signals tfhelp relays to the child while it waits.
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
SI_KERNEL = 0x80  # si_code of signals generated by the kernel (e.g. the tty driver's Ctrl-C)


class Tail:
    """The last ``limit`` bytes (approximately: whole chunks) of a stream, in arrival order,
    and optionally its first ``head_limit`` bytes (start-up messages often name the root cause
    of a crash an hour later)."""

    __slots__ = ("limit", "chunks", "size", "dropped", "total", "head_limit", "head")

    def __init__(self, limit: int, head_limit: int = 0):
        self.limit = limit
        self.chunks: deque = deque()
        self.size = 0
        self.dropped = 0
        self.total = 0
        self.head_limit = head_limit
        self.head = bytearray()

    def append(self, item, nbytes: int) -> None:
        if len(self.head) < self.head_limit:
            raw = item[1] if isinstance(item, tuple) else item
            self.head += raw[: self.head_limit - len(self.head)]
        self.chunks.append(item)
        self.size += nbytes
        self.total += nbytes
        chunks = self.chunks
        while self.size > self.limit and len(chunks) > 1:
            old = chunks.popleft()
            n = len(old[1]) if isinstance(old, tuple) else len(old)
            self.size -= n
            self.dropped += n

    def bytes_with_head(self) -> bytes:
        """Head and tail of a bytes stream joined without overlap (a marker line where bytes
        were left out)."""
        tail = b"".join(c[1] if isinstance(c, tuple) else c for c in self.chunks)
        if not self.dropped:
            return tail
        head = bytes(self.head)
        if self.dropped < len(head):
            return head[: self.dropped] + tail
        gap = b"" if not head or head.endswith(b"\n") else b"\n"
        return head + gap + b"[... output left out by tfhelp ...]\n" + tail


@dataclass
class RunResult:
    argv: list
    returncode: int               # Popen convention: negative N for "killed by signal N"
    exit_status: int              # shell convention: 128+N for a signal
    signal_name: str | None
    core_dumped: bool
    duration: float
    combined: Tail = field(repr=False)
    stderr: Tail = field(repr=False)
    interrupted: bool = False     # tfhelp itself received SIGINT/SIGTERM while waiting

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    @property
    def shell_message(self) -> str | None:
        """The line a shell would print for this death, or None."""
        if not self.signal_name or self.signal_name in ("SIGINT", "SIGPIPE"):
            return None
        msg = SHELL_SIGNAL_MESSAGES.get(self.signal_name, self.signal_name)
        return msg + (" (core dumped)" if self.core_dumped else "")

    @property
    def should_diagnose(self) -> bool:
        if not self.failed:
            return False
        if self.signal_name in INTERRUPT_SIGNALS:
            return False
        if self.interrupted and self.exit_status == 130:
            return False
        return True

    def captured_text(self) -> bytes:
        """The bytes to diagnose: the combined tail when it is complete; otherwise the stderr
        tail (whole tracebacks live there) after the end of stdout.  Progress-bar redraws are
        reduced to what the terminal kept (:func:`as_shown`)."""
        if self.combined.dropped == 0:
            data = b"".join(chunk for _, chunk in self.combined.chunks)
        else:
            out = b"".join(chunk for name, chunk in self.combined.chunks if name == 1)  # none if shared
            err = self.stderr.bytes_with_head()
            out = out[-(256 << 10):]
            data = out + (b"" if not out or out.endswith(b"\n") else b"\n") + err
        data = as_shown(data)
        msg = self.shell_message
        if msg:
            if data and not data.endswith(b"\n"):
                data += b"\n"
            data += msg.encode() + b"\n"
        return data


def as_shown(data: bytes) -> bytes:
    """Each line as the terminal left it: of a line redrawn with carriage returns (a progress
    bar: Keras redraws after every step, tqdm several times a second) only the last drawing.

    The diagnosis reads what a person would have seen and pasted.  Every redraw as a line of
    its own made a Keras fit's kept 1.3 MB some 35,000 lines, and the engine's time grows with
    lines; kept as shown they are one line per epoch.  A message that ends its line (a warning
    printed in the middle of a bar ends with "\n") is in the last drawing and stays.  The "\r"
    of a "\r\n" line end stays too."""
    if b"\r" not in data:
        return data
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        drawn = line.rstrip(b"\r")  # a final "\r" (half of "\r\n") moves the cursor, draws nothing
        cut = drawn.rfind(b"\r")
        if cut >= 0:
            lines[i] = drawn[cut + 1:] + line[len(drawn):]
    return b"\n".join(lines)


def _signum(name: str):
    return getattr(signal, name, None)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
        view = view[n:]


class _TermWriter:
    """Writes one pty channel's bytes to our terminal from its own thread.

    A pty holds only ~16 KiB, so relaying child -> our pty -> tfhelp -> the user's terminal in
    one thread runs the three in lock-step: while tfhelp waits for the terminal to take a block,
    the child fills its pty and stops too.  Here the blocking write waits inside the kernel (no
    Python wake-up per 4 KiB the terminal takes) while the poll loop keeps draining the child.
    The hand-over is a ``SimpleQueue``; each counter has one writer, so no lock is needed.  The
    thread must be started after the relayed signals are blocked: it inherits the mask, so a
    signal sent to tfhelp is never delivered to it."""

    def __init__(self, fd: int):
        import queue
        import threading

        self.fd = fd
        self.broken = False
        self.put_bytes = 0    # added to by the poll loop only
        self.done_bytes = 0   # added to by the thread only
        self._q = queue.SimpleQueue()
        self._empty = queue.Empty
        self._t = threading.Thread(target=self._run, name="tfhelp-term-writer", daemon=True)
        self._t.start()

    @property
    def pending(self) -> int:
        return self.put_bytes - self.done_bytes

    def put(self, data) -> None:
        self.put_bytes += len(data)
        self._q.put(data)

    def _run(self) -> None:
        q, empty = self._q, self._empty
        last = False
        while not last:
            data = q.get()
            if data is None:
                return
            parts = [data]
            while True:  # everything queued meanwhile goes in the same write
                try:
                    more = q.get_nowait()
                except empty:
                    break
                if more is None:
                    last = True
                    break
                parts.append(more)
            blob = data if len(parts) == 1 else b"".join(parts)
            if not self.broken:
                try:
                    _write_all(self.fd, blob)
                except OSError:  # the terminal hung up: keep draining the child, drop the bytes
                    self.broken = True
            self.done_bytes += len(blob)

    def close(self, give_up=None) -> None:
        """Write what is left, then stop the thread.  ``give_up()`` is asked every 50 ms while
        the terminal doesn't take it (stopped with Ctrl-S): True leaves the rest unwritten."""
        self._q.put(None)
        while self._t.is_alive():
            self._t.join(0.05)
            if self._t.is_alive() and give_up is not None and give_up():
                self.broken = True
                return


class _Channel:
    """One of the child's output channels: where tfhelp reads it and where it goes."""

    __slots__ = ("kind", "src", "out", "is_pty", "writer", "eof", "reading")

    def __init__(self, kind: int, src: int, out: int, is_pty: bool):
        self.kind, self.src, self.out, self.is_pty = kind, src, out, is_pty
        self.writer: _TermWriter | None = None
        self.eof = False
        self.reading = True  # registered in the poll set

    def read(self):
        """The bytes waiting in ``src``: b"" at the end of the stream, None when nothing was
        there after all.  A pty is drained in a burst (up to PTY_BATCH) while its reads come
        back full, so the terminal gets one large write instead of many small ones."""
        try:
            data = os.read(self.src, PTY_READ_SIZE if self.is_pty else READ_SIZE)
        except BlockingIOError:
            return None  # spurious readiness on the non-blocking pty master
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: pty slave closed (child gone)
                raise
            return b""
        if not (self.is_pty and len(data) >= FULL_PTY_READ):
            return data
        parts, size = [data], len(data)
        while size < PTY_BATCH:
            try:
                more = os.read(self.src, PTY_READ_SIZE)
            except OSError:  # EAGAIN: drained; EIO: the next poll reports the end
                break
            if not more:
                break
            parts.append(more)
            size += len(more)
            if len(more) < FULL_PTY_READ:
                break  # a short read: nothing more is waiting
        return b"".join(parts)

    def send(self, data) -> bool:
        """Pass ``data`` on; False when our reader is gone for good (a pipe's), so the caller
        stops reading and the child meets the broken pipe itself, as it would without tfhelp."""
        if self.writer is not None:
            self.writer.put(data)
            return True
        try:
            _write_all(self.out, data)
        except BrokenPipeError:
            return False
        return True

    @property
    def backlog(self) -> int:
        return self.writer.pending if self.writer is not None else 0


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (OSError, ImportError):
        pass


def _copy_winsize(src_fd: int, dst_fd: int) -> None:
    try:
        import fcntl
        import termios
        size = fcntl.ioctl(src_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst_fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _open_pty(our_fd: int):
    """A pseudo-terminal pair whose slave looks like ``our_fd`` (its size and settings, so the
    child behaves as it would there) but passes bytes through unchanged: output
    post-processing off, so the "\\n" -> "\\r\\n" our own terminal does is not done twice."""
    import pty
    import termios
    master, slave = pty.openpty()
    try:
        try:
            attrs = termios.tcgetattr(our_fd)
        except termios.error:  # use_pty=True on a file: the pty's own defaults
            attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    except termios.error:
        pass
    _copy_winsize(our_fd, slave)
    return master, slave


def exit_status_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _open_channels(stdout_fd: int, stderr_fd: int, use_pty):
    """[(channel, child's write end)], one per output channel of the child."""
    # When our stdout and stderr are the same file or terminal (a console, `> log 2>&1`), the
    # child gets one channel for both, so their interleaving is exactly what it would write
    # there itself; two channels read separately could reorder it.
    pairs = ((1, stdout_fd), (2, stderr_fd))
    if _same_file(stdout_fd, stderr_fd):
        pairs = ((2, stdout_fd),)  # kind 2: kept in the stderr tail as well
    opened = []
    for kind, our_fd in pairs:
        want_pty = use_pty if use_pty is not None else _isatty(our_fd)
        if want_pty:
            try:
                r, w = _open_pty(our_fd)
                os.set_blocking(r, False)
            except OSError:
                r, w = os.pipe()
                want_pty = False
        else:
            r, w = os.pipe()
            _grow_pipe(w)
        opened.append((_Channel(kind, r, our_fd, want_pty), _above_stdio(w)))
    return opened


def run_child(argv, *, stdout_fd: int = 1, stderr_fd: int = 2, use_pty: bool | None = None,
              tail_bytes: int = DEFAULT_TAIL_BYTES, stderr_bytes: int = DEFAULT_STDERR_BYTES,
              env=None, cwd=None) -> RunResult:
    """Run ``argv``, relaying its output to ``stdout_fd``/``stderr_fd`` unchanged, and return
    its exit status with a bounded tail of what it printed.

    ``use_pty``: None = per stream, a pty exactly when our own fd is a terminal; False = pipes.
    Raises FileNotFoundError / PermissionError when the program cannot be started.
    """
    if os.name != "posix":
        return _run_child_threads(argv, stdout_fd, stderr_fd, tail_bytes, stderr_bytes, env, cwd)
    opened = _open_channels(stdout_fd, stderr_fd, use_pty)
    channels = [ch for ch, _ in opened]
    signums = [s for s in (_signum(n) for n in FORWARDED) if s is not None]
    can_wait_info = hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask")
    old_mask = None
    if can_wait_info:
        # Block the signals we relay before the child exists, so none is lost in between; the
        # child starts with the original mask.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signums)

    start = time.perf_counter()
    try:
        pid = _spawn(argv, opened[0][1], opened[-1][1], env, cwd, old_mask)
    except BaseException:
        for ch, w in opened:
            os.close(ch.src)
            os.close(w)
        if old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        raise
    for _, w in opened:
        os.close(w)

    combined = Tail(tail_bytes)
    err_tail = Tail(stderr_bytes, STDERR_HEAD_BYTES)
    state = {"status": None, "interrupted": False}
    waiting = signums if can_wait_info else None

    def _interrupted() -> bool:
        if waiting is not None:
            state["interrupted"] |= _relay_pending_signals(pid, waiting)
        return state["interrupted"]

    winch_old = _follow_window_size(channels)
    try:
        for ch in channels:  # after the mask and the fork: see _TermWriter
            if ch.is_pty:
                ch.writer = _TermWriter(ch.out)
        _relay(channels, pid, waiting, combined, err_tail, state)
        for ch in channels:
            if ch.writer is not None:
                ch.writer.close(give_up=_interrupted)
        while state["status"] is None:
            state["status"] = _wait(pid, waiting)
            if state["status"] is None:
                _interrupted()
    finally:
        for ch in channels:
            if ch.writer is not None:
                ch.writer.close(give_up=lambda: True)
            if not ch.eof:
                os.close(ch.src)
        if winch_old is not None:
            signal.signal(signal.SIGWINCH, winch_old)
        if state["status"] is None:  # an exception escaped the loop: don't leave the child behind
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            state["status"] = _wait(pid, None)
        if old_mask is not None:
            # Drop relayed signals still pending before unblocking, so they don't hit tfhelp.
            if can_wait_info:
                state["interrupted"] |= _relay_pending_signals(None, signums)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    returncode, core = state["status"]
    sig_name = None
    if returncode < 0:
        try:
            sig_name = signal.Signals(-returncode).name
        except ValueError:
            sig_name = f"SIG{-returncode}"
    return RunResult(argv=list(argv), returncode=returncode,
                     exit_status=exit_status_of(returncode), signal_name=sig_name,
                     core_dumped=core, duration=time.perf_counter() - start,
                     combined=combined, stderr=err_tail, interrupted=state["interrupted"])


def _spawn(argv, out_w: int, err_w: int, env, cwd, mask) -> int:
    """Start ``argv`` with stdout/stderr on ``out_w``/``err_w`` and signal mask ``mask``; its pid.

    ``os.posix_spawn`` (vfork + exec: ~0.2 ms here) rather than ``subprocess.Popen`` with a
    preexec_fn, which forks the whole interpreter and runs Python in the child (~15 ms, unsafe
    with threads) and costs an import on every start.  SIGPIPE and SIGXFSZ go back to their
    default, as Popen does (Python ignores both and an ignored signal survives exec).  Open
    inheritable descriptors stay open, as they would for the command run directly; tfhelp's own
    are all close-on-exec.  The program is looked up on ``env``'s PATH, as Popen does."""
    if cwd is not None or not hasattr(os, "posix_spawn"):
        import subprocess

        setup = (lambda: signal.pthread_sigmask(signal.SIG_SETMASK, mask)) if mask is not None else None
        proc = subprocess.Popen(argv, stdout=out_w, stderr=err_w, env=env, cwd=cwd, close_fds=True,
                                preexec_fn=setup)
        proc.returncode = 0  # reaped by us (os.waitpid), never by Popen
        return proc.pid
    options = {"file_actions": [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)],
               "setsigdef": [s for s in (_signum("SIGPIPE"), _signum("SIGXFSZ")) if s is not None]}
    if mask is not None:
        options["setsigmask"] = mask
    return os.posix_spawn(_find_program(argv[0], env), list(argv), os.environ if env is None else env,
                          **options)


def _find_program(name: str, env) -> str:
    """``name`` as exec would find it: as given when it has a slash, else the first executable
    file of that name on PATH.  FileNotFoundError / PermissionError as from Popen."""
    if os.sep in name or (os.altsep and os.altsep in name):
        return name
    denied = None
    for folder in os.get_exec_path(env):
        path = os.path.join(folder, name)
        if name and os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = denied or path
    if denied:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), denied)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


def _above_stdio(fd: int) -> int:
    """``fd`` moved to 3 or above (close-on-exec): with tfhelp's own stdin and stdout closed a
    new pipe can be (0, 1), and whether posix_spawn's dup2(1, 1) clears close-on-exec is left
    to the C library (glibc does; POSIX only recently asks for it)."""
    if fd > 2:
        return fd
    import fcntl
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _follow_window_size(channels):
    """Resize the child's ptys with our terminal (SIGWINCH); returns the old handler."""
    pairs = [(ch.out, ch.src) for ch in channels if ch.is_pty]
    if not pairs or not hasattr(signal, "SIGWINCH"):
        return None

    def _on_winch(_sig, _frame):
        for our, master in pairs:
            _copy_winsize(our, master)
    try:
        return signal.signal(signal.SIGWINCH, _on_winch)
    except ValueError:  # not the main thread
        return None


class _ReadPoller:
    """Which of a few descriptors can be read: ``select.poll`` on Linux (no per-call Python
    work); elsewhere the selectors module's choice, since macOS's poll() does not work on
    terminal devices (kqueue does)."""

    def __init__(self):
        if sys.platform.startswith("linux"):
            self._poll = select.poll()
            self._sel = None
        else:
            import selectors
            self._poll = None
            self._sel = selectors.DefaultSelector()

    def register(self, fd: int) -> None:
        if self._poll is not None:
            self._poll.register(fd, select.POLLIN)
        else:
            import selectors
            self._sel.register(fd, selectors.EVENT_READ)

    def unregister(self, fd: int) -> None:
        (self._poll or self._sel).unregister(fd)

    def poll(self, timeout_ms: int) -> list:
        if self._poll is not None:
            return [fd for fd, _ in self._poll.poll(timeout_ms)]
        return [key.fd for key, _ in self._sel.select(timeout_ms / 1000)]


def _relay(channels, pid: int, signums, combined: Tail, err_tail: Tail, state: dict) -> None:
    """Copy the child's output until every channel has ended, or the child is gone and a
    grandchild still holds a channel open.

    A pty channel is polled only while less than PTY_BACKLOG bytes wait for its terminal, so a
    terminal stopped with Ctrl-S stops the child, as it would without tfhelp."""
    poller = _ReadPoller()
    for ch in channels:
        poller.register(ch.src)
    owner = {ch.src: ch for ch in channels}
    exit_deadline = None
    next_signal_check = 0.0
    idle_ms = 50 if signums is not None else 200
    while not all(ch.eof for ch in channels):
        held = any(not ch.reading and not ch.eof for ch in channels)
        if held and state["interrupted"]:
            return  # a stopped terminal and a Ctrl-C: nobody wants the rest
        events = poller.poll(5 if held else idle_ms)  # held back: look at the backlog again soon
        pause = 0.0
        for fd in events:
            ch = owner[fd]
            data = ch.read()
            if data is None:
                continue
            if not data:
                _stop_reading(ch, poller)
                continue
            n = len(data)
            combined.append((ch.kind, data), n)
            if ch.kind == 2:
                err_tail.append(data, n)
            if not ch.send(data):
                _stop_reading(ch, poller)
            # Let a fast writer's small writes pile up before the next read (see COALESCE_S).
            if not ch.is_pty:
                pause = COALESCE_S
            elif n < PTY_COALESCE_BELOW:
                pause = max(pause, PTY_COALESCE_S)
        for ch in channels:
            want = not ch.eof and ch.backlog < PTY_BACKLOG
            if want != ch.reading:
                if want:
                    poller.register(ch.src)
                else:
                    poller.unregister(ch.src)
                ch.reading = want
        if signums is not None:
            now = time.monotonic()
            if not events or now >= next_signal_check:  # a syscall: at most every 10 ms
                state["interrupted"] |= _relay_pending_signals(pid, signums)
                next_signal_check = now + 0.01
        if pause:
            time.sleep(pause)
        elif not events and not held:
            # Idle: a grandchild may hold our channels open after the child exits; stop
            # waiting for their end a little while after the child itself is gone.
            if state["status"] is None:
                state["status"] = _poll(pid)
                if state["status"] is not None:
                    exit_deadline = time.monotonic() + 0.5
            elif time.monotonic() > exit_deadline:
                return


def _stop_reading(ch: _Channel, poller) -> None:
    if ch.reading:
        poller.unregister(ch.src)
        ch.reading = False
    os.close(ch.src)
    ch.eof = True


def _run_child_threads(argv, stdout_fd, stderr_fd, tail_bytes, stderr_bytes, env, cwd) -> RunResult:
    """Non-POSIX relay (Windows): a reader thread per pipe, no pty, no signal forwarding (a
    console Ctrl-C reaches every process attached to the console anyway)."""
    import subprocess
    import threading

    combined, err_tail = Tail(tail_bytes), Tail(stderr_bytes, STDERR_HEAD_BYTES)
    lock = threading.Lock()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)

    def pump(pipe, kind, our_fd):
        broken = False
        while True:
            data = pipe.raw.read(READ_SIZE) if hasattr(pipe, "raw") else pipe.read(READ_SIZE)
            if not data:
                break
            if not broken:
                try:
                    _write_all(our_fd, data)
                except OSError:
                    broken = True
            with lock:
                combined.append((kind, data), len(data))
                if kind == 2:
                    err_tail.append(data, len(data))

    threads = [threading.Thread(target=pump, args=(proc.stdout, 1, stdout_fd), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, 2, stderr_fd), daemon=True)]
    for t in threads:
        t.start()
    interrupted = False
    while True:
        try:
            returncode = proc.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
    for t in threads:
        t.join(timeout=2.0)
    return RunResult(argv=list(argv), returncode=returncode, exit_status=exit_status_of(returncode),
                     signal_name=None, core_dumped=False, duration=time.perf_counter() - start,
                     combined=combined, stderr=err_tail, interrupted=interrupted)


def _same_file(a: int, b: int) -> bool:
    try:
        return os.path.samestat(os.fstat(a), os.fstat(b))
    except OSError:
        return False


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _decode_status(st: int):
    if os.WIFSIGNALED(st):
        return -os.WTERMSIG(st), bool(os.WCOREDUMP(st))
    if os.WIFEXITED(st):
        return os.WEXITSTATUS(st), False
    return None


def _poll(pid: int):
    try:
        got, st = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return (255, False)
    if got == 0:
        return None
    return _decode_status(st)


def _wait(pid: int, signums):
    """Wait for the child; with ``signums`` (relayed signals blocked) wake up every 50 ms so
    the caller can forward them."""
    if signums is None:
        while True:
            try:
                _, st = os.waitpid(pid, 0)
            except ChildProcessError:
                return (255, False)
            res = _decode_status(st)
            if res is not None:
                return res
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:
        res = _poll(pid)
        if res is not None:
            return res
        time.sleep(0.005)
    return None


def _relay_pending_signals(pid, signums) -> bool:
    """Forward each pending relayed signal to ``pid`` unless the terminal already delivered it
    to the whole foreground process group.  Returns True when SIGINT/SIGTERM arrived."""
    got_interrupt = False
    while True:
        info = signal.sigtimedwait(signums, 0)
        if info is None:
            return got_interrupt
        if info.si_signo in (signal.SIGINT, signal.SIGTERM):
            got_interrupt = True
        if pid is None:
            continue
        if info.si_code == SI_KERNEL:
            continue  # typed at the terminal: the child, in our process group, has it already
        try:
            os.kill(pid, info.si_signo)
        except ProcessLookupError:
            pass


def python_argv(python: str, script: str | None, module: str | None, args) -> list:
    if module:
        return [python, "-m", module, *args]
    return [python, script, *args]


def default_python() -> str:
    return sys.executable or "python3"
