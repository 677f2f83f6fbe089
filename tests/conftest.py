"""Shared test helpers: run the real ``kas`` command, make real repos."""

import argparse
import contextlib
import os
import pty
import select
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures")


def kas_command():
    """The installed ``kas`` console script next to this interpreter."""
    candidate = os.path.join(os.path.dirname(sys.executable), "kas")
    if os.path.exists(candidate):
        return [candidate]
    found = shutil.which("kas")
    if found:
        return [found]
    return [sys.executable, "-m", "kas"]


class KasResult:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def __repr__(self):
        return f"KasResult(rc={self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"

    def errors(self):
        """Messages of the ERROR records on stderr."""
        return [line.split(" - ERROR    - ", 1)[1]
                for line in self.stderr.splitlines() if " - ERROR    - " in line]

    def warnings(self):
        return [line.split(" - WARNING  - ", 1)[1]
                for line in self.stderr.splitlines() if " - WARNING  - " in line]


# Caller variables that change what kas does; no test inherits them.
SCRUBBED = ("NO_COLOR", "NETRC_FILE", "NPMRC_FILE", "REGISTRY_AUTH_FILE", "GITCONFIG_FILE",
            "GITHUB_ACTIONS", "GITLAB_CI", "http_proxy", "https_proxy", "ftp_proxy",
            "no_proxy", "NO_PROXY", "BB_NUMBER_THREADS", "PARALLEL_MAKE")
SCRUBBED_PREFIXES = ("KAS_", "CI_", "AWS_", "SSH_", "GIT_", "REMOTE_CONTAINERS")


def clean_env(**extra):
    """A predictable environment: nothing from the caller that kas reads
    (KAS_*, NO_COLOR, credential, CI, proxy and ssh variables)."""
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)}
    env.update(extra)
    return env


def run_kas(*args, cwd=None, env=None, input=None, timeout=60):
    """Run the real ``kas`` in a subprocess; returns a KasResult."""
    proc = subprocess.run(kas_command() + [str(a) for a in args], cwd=cwd, check=False,
                          env=env if env is not None else clean_env(),
                          input=input, capture_output=True, text=True, timeout=timeout)
    return KasResult(proc)


def kas_ok(*args, cwd=None, env=None):
    """Run the real ``kas`` expecting success: exit 0, no ERROR, no traceback."""
    result = run_kas(*args, cwd=cwd, env=env)
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 0, result
    assert result.errors() == [], result
    return result


def write(path, text):
    """Write dedented ``text`` to ``path`` (parents created); returns path."""
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo)] + list(args), check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def make_git_repo(path, files=None, origin=None):
    """A real git repository at ``path`` with one commit of ``files``."""
    os.makedirs(str(path), exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    for name, text in (files or {"README": "test\n"}).items():
        write(os.path.join(str(path), name), text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    if origin:
        git(path, "remote", "add", "origin", origin)
    return str(path)


MARKER = "kas-interrupt-test-transport"


def slow_url(upstream, seconds):
    """A URL to ``upstream`` whose transport first sleeps ``seconds``: git's
    ext:: transport, which needs ``protocol.ext.allow=always``."""
    # ext:: separates arguments by spaces; "% " is a literal space.  The
    # marker lets the test find leftover transport processes.
    script = f"sleep {seconds}; : {MARKER}; exec git-upload-pack {upstream}"
    return "ext::sh -c " + script.replace(" ", "% ")


def make_context(work_dir, environ=None, update=False):
    """A kas Context as the CLI builds it, for in-process tests."""
    from kas.context import Context

    environ = dict(environ or {})
    environ.setdefault("KAS_WORK_DIR", str(work_dir))
    args = argparse.Namespace(config="", update=update, force_checkout=False,
                              no_color=True, skip=[], log_level="info")
    return Context(args, environ=environ)


def load_config(top_files, work_dir, environ=None, update=False, provider=None):
    """The effective Config of ``top_files``, built like ``kas dump`` does."""
    from kas.config.loop import resolve
    from kas.repos.provider import LocalRepoProvider

    ctx = make_context(work_dir, environ=environ, update=update)
    return resolve(ctx, [str(f) for f in top_files], provider or LocalRepoProvider())


def read(path):
    with open(str(path)) as f:
        return f.read()


def parse_env(text):
    """``NAME=value`` lines (e.g. the output of ``env``) as a dict."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


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


@pytest.fixture
def workdir(tmp_path):
    """An empty directory outside any VCS checkout, used as cwd and work dir."""
    d = tmp_path / "work"
    d.mkdir()
    return d
