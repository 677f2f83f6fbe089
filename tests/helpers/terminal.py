"""Driving kas on a terminal: a pseudo terminal (``run_on_terminal``,
``Terminal``) or a private tmux server (``MenuTerminal``, for ``kas menu``)."""

import contextlib
import os
import pty
import select
import shlex
import shutil
import subprocess
import time
import uuid

from helpers.run import clean_env, kas_command


def run_on_terminal(argv, cwd, env, timeout=60):
    """Run ``argv`` with stdout and stderr on a pseudo terminal (not its
    controlling tty); returns (exit code, everything written to it)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 4096)
        except OSError:         # EIO: the child side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout), b"".join(chunks).decode(errors="replace")


class Terminal:
    """``argv`` running on a pseudo terminal that is its controlling tty."""

    def __init__(self, argv, cwd, env):
        pid, fd = pty.fork()
        if pid == 0:        # the child: exec kas, never return into pytest
            try:
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.data = b""
        self.closed = False

    @property
    def output(self):
        return self.data.decode(errors="replace").replace("\r\n", "\n")

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:         # EIO: no process has the terminal open any more
            chunk = b""
        if not chunk:
            self.closed = True
        self.data += chunk

    def appears(self, text, timeout):
        """Whether ``text`` is in the output within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return False
            self._read(remaining)
        return True

    def wait_for(self, text, timeout=20):
        if not self.appears(text, timeout):
            self.kill()
            raise AssertionError(f"{text!r} did not appear; output:\n{self.output}")

    def send(self, text):
        os.write(self.fd, text.encode())

    def kill(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, 9)

    def finish(self, timeout=20):
        """Read to the end; returns the exit code."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(f"kas did not finish; output:\n{self.output}")
            self._read(remaining)
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


class MenuTerminal:
    """``kas menu`` on a 100x30 terminal of a private tmux server.

    The command's exit code is printed as ``EXIT=<code>`` when it ends; the
    pane stays open so that the output can still be read."""

    def __init__(self, args, cwd, env=None, width=100, height=30, kas_options=()):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"kas-menu-test-{uuid.uuid4().hex[:12]}"
        argv = kas_command() + list(kas_options) + ["menu"] + list(args)
        command = " ".join(shlex.quote(a) for a in argv)
        # The trap keeps the shell alive on Ctrl-C (kas gets its own default).
        script = (f"trap : INT; cd {shlex.quote(str(cwd))} && {command}; "
                  "echo EXIT=$?; sleep 600")
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height),
                  "sh", "-c", script, env=env if env is not None else clean_env())

    def tmux(self, *args, env=None):
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args),
                              check=True, capture_output=True, text=True, env=env).stdout

    def screen(self, escapes=False):
        """The visible pane (with ``escapes``: including the SGR sequences)."""
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def history(self):
        """Everything written to the pane, scrolled-off lines included."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def wait_for(self, text, timeout=20, whole=False):
        """Poll until ``text`` is on the screen (or in the history)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.history() if whole else self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; screen:\n{shown}")
            time.sleep(0.1)

    def wait_gone(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text not in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not go away; screen:\n{shown}")
            time.sleep(0.1)

    def keys(self, *keys):
        """tmux key names (Enter, Escape, Tab, Space, Down ...) or literal text."""
        self.tmux("send-keys", *keys)

    def text(self, text):
        self.tmux("send-keys", "-l", text)

    def exit_code(self, timeout=60):
        out = self.wait_for("EXIT=", timeout=timeout, whole=True)
        return int(out.split("EXIT=")[1].split()[0])

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False,
                       capture_output=True)
