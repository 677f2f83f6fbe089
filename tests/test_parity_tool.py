"""bench/parity, the side-by-side check (issue 24.6), without kas 5.5:
ours against ours must be identical, and a reference that behaves
differently must be reported with a unified diff."""

import json
import os
import subprocess
import sys

import pytest
from helpers.repos import write
from helpers.run import REPO_ROOT, clean_env, kas_command

pytestmark = pytest.mark.slow

PARITY = os.path.join(REPO_ROOT, "bench", "parity")


def parity(*args, cwd):
    return subprocess.run([sys.executable, PARITY, *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=600, check=False)


def test_lists_cases_of_every_command(tmp_path):
    proc = parity("--list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for command in ("build", "checkout", "clean", "cleansstate", "cleanall", "purge",
                    "diff", "dump", "for-all-repos", "lock", "shell"):
        assert any(f" kas {command} " in line for line in lines), command
    assert any(line.startswith("errors/") for line in lines)
    only = parity("--list", "-k", "lock/", cwd=tmp_path).stdout.splitlines()
    assert only and all(line.startswith("lock/") for line in only), only


def test_ours_against_ours_is_identical(tmp_path):
    """Also shows that the tool normalises what differs from run to run
    (times, temporary names, the order of parallel fetches)."""
    ours = kas_command()[0]
    summary = tmp_path / "summary.json"
    proc = parity("--reference-kas", ours, "--kas", ours, "-k", "checkout/plain",
                  "-k", "dump/resolve-refs", "--json", str(summary), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 commands compared, 4 identical, 0 differing" in proc.stdout, proc.stdout
    data = json.loads(summary.read_text())
    assert (data["compared"], data["identical"], data["differing"]) == (4, 4, 0)
    assert {c["case"] for c in data["commands"]} == {
        "checkout/plain", "dump/resolve-refs", "dump/resolve-refs-json"}


def test_a_difference_is_reported_with_a_unified_diff(tmp_path):
    """A reference that prints one more line and exits 3 on ``dump``."""
    ours = kas_command()[0]
    reference = write(tmp_path / "other-kas",
                      f'#!/bin/sh\n"{ours}" "$@"; status=$?\n'
                      'case " $* " in *" dump "*) echo "extra line"; exit 3;; esac\n'
                      'exit $status\n')
    os.chmod(reference, 0o755)
    summary = tmp_path / "summary.json"
    proc = parity("--reference-kas", str(reference), "--kas", ours, "-k", "dump/plain",
                  "-k", "help/version", "--json", str(summary), "--keep",
                  "--work", str(tmp_path / "work"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "same     help/version #1: kas --version" in proc.stdout
    assert "DIFFERS  dump/plain #1: PARITY_VAR=from-env kas dump kas.yml  " \
           "(exit status, stdout)" in proc.stdout
    assert "\n-3\n+0\n" in proc.stdout
    assert "\n-extra line\n" in proc.stdout
    assert "2 commands compared, 1 identical, 1 differing" in proc.stdout
    data = json.loads(summary.read_text())
    [differing] = [c for c in data["commands"] if c["differs_in"]]
    assert differing["differs_in"] == ["exit status", "stdout"]
    assert "-extra line" in differing["diff"]
    # --keep: each side's project, with the files kas wrote.
    for side in ("reference", "ours"):
        assert (tmp_path / "work" / "dump-plain" / side / "proj" / "kas.yml").is_file()
