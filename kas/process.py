"""Running external commands (git, hg, init scripts, user commands).

Every child started through a :class:`Runner` gets its own process group,
so a terminal Ctrl-C reaches only kas; on cancellation kas terminates the
groups it started and waits for them (CLI-340), so no git or bitbake is
left behind.  Interactive children use :func:`run_interactive` instead and
stay in the foreground group.
"""

import logging
import os
import signal
import subprocess
import threading
import time

from kas.errors import Cancelled, CommandError, format_command

log = logging.getLogger(__name__)

# How long a terminated child may take before it is killed.
TERMINATE_GRACE = 5.0


class Runner:
    """Starts children and can stop all of them at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self._children = set()
        self.cancelled = threading.Event()

    def run(self, argv, cwd=None, env=None, check=True, input=None):
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

    def output(self, argv, cwd=None, env=None):
        """stdout of ``argv`` without the trailing newline; raises on failure."""
        return self.run(argv, cwd=cwd, env=env).stdout.rstrip("\n")

    def succeeds(self, argv, cwd=None, env=None):
        return self.run(argv, cwd=cwd, env=env, check=False).returncode == 0

    def cancel(self):
        """Terminate every running child (SIGTERM to its group) and wait."""
        with self._lock:
            self.cancelled.set()
            children = list(self._children)
        for proc in children:       # all at once, so they stop in parallel
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE
        for proc in children:
            _stop_group(proc, deadline)


def _stop_group(proc, deadline=None):
    """SIGTERM the child's group, SIGKILL it if it is still there at
    ``deadline``, and reap the child."""
    _signal_group(proc, signal.SIGTERM)
    if deadline is None:
        deadline = time.monotonic() + TERMINATE_GRACE
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    # Also sweeps helpers (ssh, transports) that outlived the leader.
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def log_command(argv, cwd):
    """CLI-013: every external command at debug level."""
    log.debug("%s$ %s", cwd or os.getcwd(), format_command(argv))


def _signal_group(proc, signum):
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def run_interactive(argv, cwd=None, env=None):
    """Run a child attached to the terminal, in kas's process group (CLI-342).

    Returns its exit status (negative for a signal, like subprocess).  A
    terminal Ctrl-C reaches the child directly; when kas is cancelled the
    child is asked to stop too before kas goes on."""
    log_command(argv, cwd)
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
