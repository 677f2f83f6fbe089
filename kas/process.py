"""Running external commands (git, hg, init scripts, user commands).

Every child started through a :class:`Runner` gets its own process group,
so a terminal Ctrl-C reaches only kas; on cancellation kas terminates the
groups it started and waits for them (CLI-340), so no git or bitbake is
left behind.  Interactive children use :func:`run_interactive` instead and
stay in the foreground group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import IO, Any, Callable, NoReturn, Optional, Union, final

from kas.errors import Cancelled, CommandError, format_command

# A command line, and the environment of a child (None: kas's own).
Argv = Sequence[str]
Env = Optional[Mapping[str, str]]
# A Python signal handler, and what signal.signal() returns (a handler,
# SIG_DFL/SIG_IGN, or None for one not installed from Python).
Handler = Callable[[int, Optional[FrameType]], None]
AnyHandler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]

log = logging.getLogger(__name__)

# Told each line (without its newline) a supervised child writes.
LineHandler = Callable[[str], None]

# How long a terminated child may take before it is killed.
TERMINATE_GRACE = 5.0


class Runner:
    """Starts children and can stop all of them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: set[subprocess.Popen[str]] = set()
        self.cancelled = threading.Event()

    def run(self, argv: Argv, cwd: str | None = None, env: Env = None, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` with captured output; returns CompletedProcess.

        With ``check`` a non-zero exit raises :class:`CommandError` carrying
        the command's stderr."""
        if self.cancelled.is_set():
            raise Cancelled()
        log_command(argv, cwd)
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=env, start_new_session=True,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as err:
            raise CommandError(argv, 127, stderr=str(err), cwd=cwd) from None
        with self._lock:
            self._children.add(proc)
            # cancel() may have taken its snapshot just before the add.
            cancelled = self.cancelled.is_set()
        if cancelled:
            _stop_group(proc)
            with self._lock:
                self._children.discard(proc)
            raise Cancelled()
        try:
            stdout, stderr = proc.communicate(input)
        except BaseException:
            # Interrupted while waiting (a signal in the main thread).
            _stop_group(proc)
            raise
        finally:
            with self._lock:
                self._children.discard(proc)
        if self.cancelled.is_set():
            raise Cancelled()
        result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
        if check and proc.returncode != 0:
            raise CommandError(argv, proc.returncode, stderr=stderr, cwd=cwd)
        return result

    def output(self, argv: Argv, cwd: str | None = None, env: Env = None) -> str:
        """stdout of ``argv`` without the trailing newline; raises on failure."""
        return self.run(argv, cwd=cwd, env=env).stdout.rstrip("\n")

    def succeeds(self, argv: Argv, cwd: str | None = None, env: Env = None) -> bool:
        return self.run(argv, cwd=cwd, env=env, check=False).returncode == 0

    def cancel(self) -> None:
        """Terminate every running child (SIGTERM to its group) and wait."""
        with self._lock:
            self.cancelled.set()
            children = list(self._children)
        for proc in children:       # all at once, so they stop in parallel
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE
        for proc in children:
            _stop_group(proc, deadline)


def _stop_group(proc: subprocess.Popen[str], deadline: float | None = None) -> None:
    """SIGTERM the child's group, SIGKILL it if it is still there at
    ``deadline``, and reap the child."""
    _signal_group(proc, signal.SIGTERM)
    if deadline is None:
        deadline = time.monotonic() + TERMINATE_GRACE
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(max(0.0, deadline - time.monotonic()))
    # Also sweeps helpers (ssh, transports) that outlived the leader.
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def log_command(argv: Argv, cwd: str | None) -> None:
    """CLI-013: every external command at debug level."""
    log.debug("%s$ %s", cwd or os.getcwd(), format_command(argv))


def _signal_group(proc: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


EXIT_INTERRUPTED = 130


def force_exit(signum: int | None = None, frame: FrameType | None = None) -> NoReturn:
    """CLI-341: a second SIGINT/SIGTERM ends kas at once."""
    log.error("kas terminated forcefully")
    os._exit(EXIT_INTERRUPTED)


@final
class _Handlers:
    """Temporarily replaced SIGINT/SIGTERM handlers.  Once kas has been
    interrupted (``escalate``), any further signal ends it at once, also
    after the block."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.escalated = False
        self.saved: dict[signal.Signals, AnyHandler] = {}

    def __enter__(self) -> _Handlers:
        self.saved = {sig: signal.signal(sig, self.handler)
                      for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def escalate(self) -> None:
        self.escalated = True
        for sig in self.saved:
            signal.signal(sig, force_exit)

    def __exit__(self, *exc: object) -> None:
        if not self.escalated:
            for sig, handler in self.saved.items():
                signal.signal(sig, handler)


def run_interactive(argv: Argv, cwd: str | None = None, env: Env = None,
                    shell_session: bool = False) -> int:
    """Run a child attached to the terminal, in kas's process group (CLI-342).

    Returns its exit status (negative for a signal, like subprocess).  A
    terminal Ctrl-C reaches the child directly.  For an interactive shell
    session (``shell_session``) that is the shell's business (a prompt
    clears its line), so kas ignores SIGINT meanwhile, like system(3).
    Otherwise a signal cancels kas too and the child is asked to stop."""
    log_command(argv, cwd)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not (shell_session and signum == signal.SIGINT):
            handlers.escalate()
            raise Cancelled(signum)

    with _Handlers(on_signal) as handlers:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env)
        except OSError as err:
            raise CommandError(argv, 127, stderr=str(err), cwd=cwd) from None
        try:
            return proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(TERMINATE_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise


def run_supervised(argv: Argv, cwd: str | None, env: Env, foreground: bool,
                   on_stdout: LineHandler | None = None,
                   on_stderr: LineHandler | None = None) -> int:
    """Run a long job (bitbake) that must shut down cleanly when kas is
    interrupted (CLI-340 ... CLI-342).

    ``foreground``: the child shares kas's terminal and process group, so a
    terminal Ctrl-C reaches it directly.  Otherwise it runs in its own
    session and its output lines are handed to ``on_stdout``/``on_stderr``
    as they come.  Returns the exit status; raises Cancelled once the child
    has ended if kas was interrupted.

    bitbake stops on SIGINT: the first one lets running tasks finish, the
    second kills them.  So a Ctrl-C is passed on once (unless the terminal
    already delivered it) and kas waits; SIGTERM, a request to end now, is
    passed on as both; a second signal is passed on and ends kas at once."""
    log_command(argv, cwd)
    received: list[int] = []
    proc: subprocess.Popen[str] | None = None

    def forward(signum: int) -> None:
        if proc is not None and not (foreground and signum == signal.SIGINT):
            _signal_process(proc, signal.SIGINT)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        forward(signum)
        if len(received) > 1:
            force_exit()
        if signum == signal.SIGTERM and proc is not None:
            threading.Timer(FORCED_STOP_DELAY, _signal_process,
                            (proc, signal.SIGINT)).start()

    with _Handlers(on_signal) as handlers:
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=env, start_new_session=not foreground,
                stdin=None if foreground else subprocess.DEVNULL,
                stdout=None if foreground else subprocess.PIPE,
                stderr=None if foreground else subprocess.PIPE,
                text=True, errors="replace", bufsize=1)
        except OSError as err:
            raise CommandError(argv, 127, stderr=str(err), cwd=cwd) from None
        if received:        # a signal arrived while the child was starting
            _signal_process(proc, signal.SIGINT)
        readers = [] if foreground else [
            _line_reader(proc.stdout, on_stdout), _line_reader(proc.stderr, on_stderr)]
        returncode = wait_for_exit(proc)
        for reader in readers:
            reader.join()
    if received:
        handlers.escalate()
        raise Cancelled(received[0])
    return returncode


# How often a main thread that waits for other threads or a child wakes up
# to run the Python signal handlers (see wait_for_exit).
SIGNAL_POLL = 0.1


def wait_for_exit(proc: subprocess.Popen[str]) -> int:
    """``proc.wait()``, but with the signal handlers running meanwhile.

    The kernel may deliver a SIGINT/SIGTERM to any thread of kas; Python
    runs its handlers only in the main thread, and only once that thread
    executes Python code again.  A main thread blocked in waitpid() while
    a reader thread took the signal would never notice it, so it waits in
    short steps instead."""
    while True:
        try:
            return proc.wait(SIGNAL_POLL)
        except subprocess.TimeoutExpired:
            continue


# Between the two SIGINTs that stop bitbake at once: its UI must have
# handled the first one.
FORCED_STOP_DELAY = 1.0


def _line_reader(stream: IO[str] | None, handle: LineHandler | None) -> threading.Thread:
    def pump() -> None:
        if stream is None:      # a child whose output is not piped: nothing to read
            return
        with stream:
            for line in stream:
                if handle is not None:
                    handle(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _signal_process(proc: subprocess.Popen[str], signum: int) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)
