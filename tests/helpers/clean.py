"""Shared helpers of the clean and purge tests (CLI-170 ... CLI-181)."""

import hashlib
import os
import stat
import subprocess

from helpers.repos import write
from helpers.run import clean_env

SUDO_PROMPT = "[sudo] enter password for %U to clean ISAR artifacts"
DRY_RUN_WARNING = "Dry run, not removing anything"
MUTEX_ERROR = ("argument --isar-rootless: not allowed with argument "
               "--isar-privileged/--isar")


def snapshot(root):
    """Everything observable of the tree at ``root``: relative path, file
    type and mode, owner, file contents and symlink targets."""
    root = str(root)
    state = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    detail = hashlib.sha256(f.read()).hexdigest()
            else:
                detail = None
            state[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_gid, detail)
    return state


def infos(result):
    """The INFO messages of a run, without the start banner."""
    return [line.split(" - INFO     - ", 1)[1] for line in result.stderr.splitlines()
            if " - INFO     - " in line and " started on " not in line]


def debugs(result):
    return [line.split(" - DEBUG    - ", 1)[1] for line in result.stderr.splitlines()
            if " - DEBUG    - " in line]


def removing(*paths):
    return [f"Removing {p}" for p in paths]


def make_sudo(tmp_path, exit_code=None):
    """A recording ``sudo`` stand-in; returns (PATH value, log file).

    Each call appends a ``--- call`` line and its arguments, one per line,
    to the log; then it drops ``--prompt <text>`` and runs the command (or
    exits with ``exit_code``)."""
    bindir = tmp_path / "sudo-bin"
    log = tmp_path / "sudo.log"
    tail = f"exit {exit_code}" if exit_code is not None else 'exec "$@"'
    script = write(bindir / "sudo", f"""\
        #!/bin/sh
        {{ echo '--- call'; for arg in "$@"; do printf '%s\\n' "$arg"; done; }} >> {log}
        if [ "$1" = --prompt ]; then shift 2; fi
        {tail}
        """)
    os.chmod(script, 0o755)
    return f"{bindir}{os.pathsep}{os.environ['PATH']}", log


def sudo_calls(log):
    """The argument lists the sudo stand-in was called with."""
    if not log.exists():
        return []
    calls = []
    for line in log.read_text().splitlines():
        if line == "--- call":
            calls.append([])
        else:
            calls[-1].append(line)
    return calls


def userns_mount_available():
    return subprocess.run(["unshare", "-r", "-m", "true"], check=False,
                          capture_output=True).returncode == 0


def run_in_mount_namespace(script, cwd):
    """``sh -c script`` as root of new user and mount namespaces."""
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], cwd=cwd,
                          env=clean_env(), capture_output=True, text=True, check=False,
                          timeout=60)


def assert_config_error(result, expected):
    """A config file kas cannot use: exit 2 and nothing removed; one ERROR
    starting with ``expected``, or (``expected`` None) a validation report."""
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result
    errors = result.errors()
    if expected is not None:
        assert len(errors) == 1, result
        assert errors[0].startswith(expected), result
    else:
        assert errors[0] == "Config file validation Error:", result
        assert errors[-1].startswith("Error(s) occured while validating the config file: "), \
            result
    assert "Removing" not in result.stderr
