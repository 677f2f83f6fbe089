"""The code base passes ruff (developers' guide: Python passes `ruff check`)."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers.run import REPO_ROOT


def ruff_command():
    candidate = os.path.join(os.path.dirname(sys.executable), "ruff")
    if os.path.exists(candidate):
        return [candidate]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.fail("ruff is not installed: install the project with its 'test' extra")


def test_ruff_check_is_clean():
    paths = ["kas", "tests", "bench/startup", "bench/checkout", "bench/build",
             "examples/bitbake/lib",
             "examples/bitbake/lib/bitbake-main", "examples/bitbake/lib/bitbake-server",
             "examples/bitbake/lib/bitbake-worker"]
    proc = subprocess.run(ruff_command() + ["check", *paths], check=False, cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout


SHELL_SCRIPTS = [(".ci/run", "sh"), (".ci/setup-test-users", "sh"),
                 (".ci/setup-containers", "sh"), (".ci/setup-docker", "sh"),
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
