"""Ctrl-C during ``kas checkout --update`` never leaves repos stuck
(issue 21.2).

Big repos whose every file changes between commits make each ``git
checkout`` take long enough to be interrupted for real: SIGINT goes to the
kas process group, as a terminal sends it, while git writes the trees.
"""

import contextlib
import os
import signal
import subprocess
import time

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_command, kas_ok

FILES = 2000
BIG = ("a", "b", "c", "d")
MARKER = "kas-checkout-target"


def commit_everything(repo, round_):
    """A commit that changes every file of ``repo``."""
    for i in range(FILES):
        with open(os.path.join(repo, f"f{i:04}"), "w") as f:
            f.write(f"file {i} of round {round_}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"round {round_}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def project(tmp_path):
    """Upstreams a..d with FILES files each, "mine" with one file, and a
    work directory checked out at their first commits."""
    upstreams = {}
    for name in BIG:
        upstreams[name] = make_git_repo(tmp_path / "up" / name)
        commit_everything(upstreams[name], 0)
    upstreams["mine"] = make_git_repo(tmp_path / "up" / "mine", {"notes": "v0\n"})
    work = tmp_path / "work"
    work.mkdir()
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    repos = "".join(f"  {name}:\n    url: {url}\n    branch: main\n"
                    for name, url in upstreams.items())
    write(work / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n" + repos)
    env = clean_env(KAS_WORK_DIR=str(work))
    kas_ok("checkout", "kas.yml", cwd=work, env=env)
    return upstreams, work, env


def git_dir_files(work, name):
    return {n for n in (MARKER, "index.lock") if os.path.exists(work / name / ".git" / n)}


def interrupt_checkout(work, env, delay, signum=signal.SIGINT, kill_git=False):
    """Start ``kas checkout --update``; once a big repo's checkout runs
    (git holds its index.lock, or kas's marker is there), wait ``delay``
    and send ``signum`` to kas's process group (with ``kill_git`` also to
    the git processes, which run in groups of their own)."""
    proc = subprocess.Popen(kas_command() + ["checkout", "--update", "kas.yml"], cwd=work,
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(git_dir_files(work, name) for name in BIG):
            assert proc.poll() is None, "kas ended before any checkout was seen"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        if kill_git:
            for pid in git_processes_in(work):
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, stderr


def git_processes_in(work):
    top = os.path.realpath(work)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if comm.startswith("git") and cwd.startswith(top + os.sep):
            pids.append(int(pid))
    return pids


def left_behind(work):
    """The big repos an interruption left with kas's marker or changes."""
    return [name for name in BIG
            if git_dir_files(work, name) or git(work / name, "status", "--porcelain")]


@pytest.mark.slow
def test_sigint_during_checkout_update_is_finished_by_the_next_run(project):
    """Issue 21.2: SIGINT to the process group at several points during
    ``kas checkout --update`` while the remotes moved; the next run
    finishes the interrupted checkouts: every repo at the new head and
    clean.  A repo the user edited by hand stays untouched."""
    upstreams, work, env = project
    write(work / "mine" / "notes", "my own change\n")
    mine_before = git(work / "mine", "rev-parse", "HEAD")
    interrupted = []
    for round_, delay in enumerate((0.0, 0.05, 0.2), start=1):
        heads = {name: commit_everything(upstreams[name], round_) for name in BIG}
        write(os.path.join(upstreams["mine"], "notes"), f"v{round_}\n")
        git(upstreams["mine"], "commit", "-q", "-am", f"round {round_}")
        returncode, stderr = interrupt_checkout(work, env, delay)
        # On a busy machine kas may finish before the signal arrives; the
        # rounds that were cut short are counted below.
        assert returncode in (0, 130), stderr
        interrupted += left_behind(work)
        result = kas_ok("checkout", "--update", "kas.yml", cwd=work, env=env)
        for name in BIG:
            assert git(work / name, "rev-parse", "HEAD") == heads[name], (name, result.stderr)
            assert git(work / name, "status", "--porcelain") == "", name
            assert git_dir_files(work, name) == set()
        assert "Repo mine is dirty - no checkout" in result.warnings()
        assert (work / "mine" / "notes").read_text() == "my own change\n"
        assert git(work / "mine", "rev-parse", "HEAD") == mine_before
    # The test proves something only if checkouts were really cut short.
    assert interrupted, "no round interrupted a checkout"


@pytest.mark.slow
def test_git_killed_hard_leaves_index_lock_that_the_next_run_removes(project):
    """Issue 21.2: kas and its git checkouts killed with SIGKILL leave
    git's index.lock behind; the next run, finding kas's marker and no git
    at work there, removes the lock with a warning and finishes the
    checkout."""
    upstreams, work, env = project
    heads = {name: commit_everything(upstreams[name], 1) for name in BIG}
    returncode, _ = interrupt_checkout(work, env, 0.05, signal.SIGKILL, kill_git=True)
    assert returncode == -signal.SIGKILL
    stale = [name for name in BIG if git_dir_files(work, name) == {MARKER, "index.lock"}]
    assert stale, "no checkout was killed while git held its index.lock"
    result = kas_ok("checkout", "--update", "kas.yml", cwd=work, env=env)
    for name in stale:
        lock = work / name / ".git" / "index.lock"
        assert f"Removing {lock} left by an interrupted git in repository {name}" \
            in result.warnings()
    for name in BIG:
        assert git(work / name, "rev-parse", "HEAD") == heads[name]
        assert git(work / name, "status", "--porcelain") == ""
        assert git_dir_files(work, name) == set()
