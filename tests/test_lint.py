"""The code base passes ruff (developers' guide: Python passes `ruff check`)."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers.run import REPO_ROOT


def tool_command(name):
    """``name`` from the running Python's environment, else from PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(candidate):
        return [candidate]
    if shutil.which(name):
        return [name]
    pytest.fail(f"{name} is not installed: install the project with its 'test' extra")


def ruff_command():
    return tool_command("ruff")


def test_ruff_check_is_clean():
    # Every bench script (no .py suffix, so named one by one).
    bench = sorted(os.path.join("bench", name)
                   for name in os.listdir(os.path.join(REPO_ROOT, "bench"))
                   if not name.startswith("__"))
    paths = ["kas", "tests", *bench,
             "examples/bitbake/lib",
             "examples/bitbake/lib/bitbake-main", "examples/bitbake/lib/bitbake-server",
             "examples/bitbake/lib/bitbake-worker"]
    proc = subprocess.run(ruff_command() + ["check", *paths], check=False, cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout


def test_mypy_is_clean():
    """Issue 17.5: the typed core (kas/config, kas/vcs, kas/repos, kas/lock)
    passes mypy with the settings of pyproject.toml, which name the files."""
    proc = subprocess.run(tool_command("mypy"), check=False, cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout


SHELL_SCRIPTS = [(".ci/run", "sh"), (".ci/setup-test-users", "sh"),
                 (".ci/setup-containers", "sh"), (".ci/podman-overlay", "sh"),
                 (".ci/setup-docker", "sh"),
                 ("kas-container", "sh"), ("container-entrypoint", "sh"),
                 ("contrib/build-images", "sh"), ("contrib/oe-git-proxy", "sh"),
                 ("examples/bitbake/bin/bitbake", "sh"),
                 ("examples/bitbake/oe-init-build-env", "bash")]


@pytest.mark.parametrize(("path", "shell"), SHELL_SCRIPTS)
def test_shellcheck_is_clean(path, shell):
    """Developers' guide: shell scripts pass shellcheck (.ci/run installs it)."""
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (apt-get install shellcheck)")
    proc = subprocess.run(["shellcheck", "-s", shell, path], check=False, cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
