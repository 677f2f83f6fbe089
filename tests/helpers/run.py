"""Running the real ``kas`` command and asserting on its result."""

import argparse
import os
import shutil
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def assert_user_error(result, message):
    """A user error as kas reports it: exit 2, no traceback and exactly one
    ERROR record, ``message``; returns the result for further checks."""
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    assert result.errors() == [message], result
    return result


def infos(result):
    """The messages of the INFO records of a run."""
    return [line.split(" - INFO     - ", 1)[1]
            for line in result.stderr.splitlines() if " - INFO     - " in line]


def parse_env(text):
    """``NAME=value`` lines (e.g. the output of ``env``) as a dict."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


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
