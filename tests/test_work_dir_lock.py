"""Two kas processes in one work directory (issue 21.1).

Every test runs real kas processes (or a real process holding the lock)
at the same time on the same KAS_WORK_DIR.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_command, kas_ok, run_kas


def local_project(work):
    """A configuration without remote repos and a stand-in init script."""
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    return write(work / "kas.yml", """
        header:
          version: 23
        repos:
          this:
        """)


def start_kas(work, *args, env=None):
    return subprocess.Popen(kas_command() + list(args), cwd=work, text=True,
                            env=env or clean_env(KAS_WORK_DIR=str(work)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def wait_for_file(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture
def holder(tmp_path):
    """``kas for-all-repos`` holding the exclusive lock on a work directory
    while its command runs; the command's file ``holding`` says it runs."""
    work = tmp_path / "work"
    work.mkdir()
    local_project(work)
    procs = []

    def start(seconds):
        proc = start_kas(work, "for-all-repos", "kas.yml", f"touch holding; sleep {seconds}")
        procs.append(proc)
        wait_for_file(work / "holding")
        return proc
    yield work, start
    for proc in procs:
        # Also the command kas runs, which would keep the output pipes open.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_second_kas_waits_then_proceeds(holder):
    """Issue 21.1: a second kas waits, says once for whom, and runs when
    the first is done."""
    work, start = holder
    first = start(3)
    second = start_kas(work, "checkout", "kas.yml")
    _, stderr = second.communicate(timeout=60)
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, stderr
    waiting = [line for line in stderr.splitlines() if "Waiting for another kas" in line]
    assert len(waiting) == 1, stderr
    assert waiting[0].endswith(f"Waiting for another kas (pid {first.pid}) using {work}")
    assert not os.path.exists(work / ".kas.lock")


def test_lock_timeout_is_a_clear_error(holder):
    """Issue 21.1: KAS_LOCK_TIMEOUT turns the wait into an error naming
    the other kas and the work directory (exit 2, no traceback)."""
    work, start = holder
    # The holder outlasts any plausible run of the second kas (it is killed
    # at the end of the test): had KAS_LOCK_TIMEOUT been ignored, the second
    # kas would wait for it and succeed, so the exit status alone tells.
    first = start(600)
    result = run_kas("dump", "kas.yml", cwd=work,
                     env=clean_env(KAS_WORK_DIR=str(work), KAS_LOCK_TIMEOUT="1"))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    busy = (f"Another kas (pid {first.pid}) is still using {work} after waiting 1 s "
            "(KAS_LOCK_TIMEOUT)")
    assert result.errors() == [busy]


def test_bad_lock_timeout_is_refused(tmp_path):
    """Issue 21.1: a KAS_LOCK_TIMEOUT that is no number of seconds is an error."""
    local_project(tmp_path)
    result = run_kas("checkout", "kas.yml", cwd=tmp_path,
                     env=clean_env(KAS_WORK_DIR=str(tmp_path), KAS_LOCK_TIMEOUT="soon"))
    assert result.returncode == 2, result
    assert result.errors() == ['KAS_LOCK_TIMEOUT must be a number of seconds, not "soon"']


def test_the_lock_dies_with_its_process(holder):
    """Issue 21.1: a kas killed hard leaves no lock that needs removing,
    also while the command it started still runs (children do not
    inherit the lock)."""
    work, start = holder
    first = start(60)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert os.path.exists(work / ".kas.lock")
    kas_ok("checkout", "kas.yml", cwd=work,
           env=clean_env(KAS_WORK_DIR=str(work), KAS_LOCK_TIMEOUT="0"))


HOLD = """
import sys, time
from kas.fslock import FileLock
FileLock(sys.argv[1], shared=sys.argv[2] == "shared").acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("held", ["shared", "exclusive"])
def test_readers_share_the_work_dir_writers_do_not(tmp_path, held):
    """Issue 21.1: ``dump`` (reading) runs beside another reader but not
    beside a writer; ``checkout`` (writing) runs beside neither."""
    local_project(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / ".kas.lock"), held],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        env = clean_env(KAS_WORK_DIR=str(tmp_path), KAS_LOCK_TIMEOUT="0.5")
        dump = run_kas("dump", "kas.yml", cwd=tmp_path, env=env)
        checkout = run_kas("checkout", "kas.yml", cwd=tmp_path, env=env)
        update = run_kas("dump", "--update", "kas.yml", cwd=tmp_path, env=env)
        # kas removes the lock file at its end only when nobody else holds it.
        assert os.path.exists(tmp_path / ".kas.lock")
    finally:
        proc.kill()
        proc.wait()
    assert dump.returncode == (0 if held == "shared" else 2), dump
    busy = f"Another kas (pid {proc.pid}) is still using {tmp_path} after waiting 0.5 s"
    assert checkout.returncode == 2, checkout
    assert checkout.errors()[0].startswith(busy)
    assert update.returncode == 2, update


def test_purge_with_the_build_dir_as_work_dir(tmp_path):
    """Issue 21.1: purge empties a build directory that is the work
    directory, where kas holds its lock file, without an error."""
    local_project(tmp_path)
    write(tmp_path / "tmp" / "junk", "x\n")
    env = clean_env(KAS_WORK_DIR=str(tmp_path), KAS_BUILD_DIR=str(tmp_path))
    result = kas_ok("purge", "kas.yml", cwd=tmp_path, env=env)
    assert "Removing" in result.stderr
    assert not os.path.exists(tmp_path / "tmp")


# --- two real kas runs on 30 repos ---------------------------------------------

REPOS = 30
ROUNDS = 5


def project(work, upstream):
    repos = "".join(f"  r{i}:\n    url: {upstream}\n    branch: main\n" for i in range(REPOS))
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    write(work / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n" + repos)


@pytest.mark.slow
def test_two_concurrent_checkouts_of_30_repos(tmp_path):
    """Issue 21.1: two ``kas checkout --update`` of the same config in the
    same work directory, started together, five times (the remote moves
    and repos go missing between the rounds): both succeed, one after the
    other, and every repo is at the remote's head, clean and fsck-clean."""
    upstream = make_git_repo(tmp_path / "upstream", {"README": "round 0\n"})
    work = tmp_path / "work"
    work.mkdir()
    project(work, upstream)
    env = clean_env(KAS_WORK_DIR=str(work))
    waited = 0
    for round_ in range(ROUNDS):
        if round_:
            write(os.path.join(upstream, "README"), f"round {round_}\n")
            git(upstream, "commit", "-q", "-am", f"round {round_}")
            for i in range(round_ % 2, REPOS, 2):      # half of them cloned again
                subprocess.run(["rm", "-rf", str(work / f"r{i}")], check=True)
        procs = [start_kas(work, "checkout", "--update", "kas.yml", env=env)
                 for _ in range(2)]
        results = [proc.communicate(timeout=300) for proc in procs]
        for proc, (_, stderr) in zip(procs, results):
            assert proc.returncode == 0, stderr
            assert "Traceback" not in stderr
        waited += sum("Waiting for another kas (pid" in stderr for _, stderr in results)
        head = git(upstream, "rev-parse", "HEAD")
        for i in range(REPOS):
            repo = work / f"r{i}"
            assert git(repo, "rev-parse", "HEAD") == head, f"r{i} in round {round_}"
            assert git(repo, "status", "--porcelain") == ""
            subprocess.run(["git", "-C", str(repo), "fsck", "--no-progress"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert not list(work.glob(".*.kas-partial*"))
    assert waited >= 1, "the two runs never overlapped"
