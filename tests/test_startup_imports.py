"""A command loads only what it needs (issue 27): what `kas --version`, a
trivial `kas dump` and a no-op `kas checkout` import, read from Python's
own import log (-X importtime)."""

import subprocess
import sys

from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env

TRIVIAL = "header:\n  version: 14\nmachine: qemux86-64\nrepos:\n  this:\n"


def imported(cwd, *args, env=None):
    """(result, names of the modules imported) of ``kas ARGS``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kas", *args],
                          cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return proc, {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                  if line.startswith("import time:")}


def test_version_builds_no_command(tmp_path):
    proc, modules = imported(tmp_path, "--version")
    assert proc.stdout.startswith("kas ")
    assert "kas.plugins" not in modules and "kas.pipeline" not in modules


def test_a_repeated_dump_loads_neither_validator_nor_openssl(tmp_path):
    write(tmp_path / "kas.yml", TRIVIAL)
    imported(tmp_path, "dump", "kas.yml")
    _, modules = imported(tmp_path, "dump", "kas.yml")
    for heavy in ("jsonschema", "_hashlib", "_ssl", "urllib.request",
                  "configparser", "kas.journal"):
        assert heavy not in modules, heavy


def test_a_noop_checkout_loads_no_openssl(tmp_path):
    upstream = make_git_repo(tmp_path / "up")
    work = tmp_path / "work"
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    write(work / "kas.yml", TRIVIAL + f"  r:\n    url: {upstream}\n"
          f"    commit: {git(upstream, 'rev-parse', 'HEAD')}\n")
    imported(work, "checkout", "kas.yml")
    _, modules = imported(work, "checkout", "kas.yml")
    assert "_hashlib" not in modules and "_ssl" not in modules
