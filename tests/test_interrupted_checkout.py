"""Ctrl-C during ``kas checkout --update`` never leaves repos stuck
(issue 21.2).

Repos whose every file changes between commits make each ``git
checkout`` write hundreds of files.  The test decides where it is cut
short: a git smudge filter on one file of one repository (configured in
that repository's own ``.git/config`` and ``.git/info/attributes``) holds
git in the middle of writing the tree, holding its ``index.lock``, until
the test has sent its signal (tests/helpers/pause.py), so no round depends
on how fast the machine is (issue 28.1).  SIGINT goes to the kas process
group, as a terminal sends it; kas stops its git processes itself.
"""

import contextlib
import functools
import os
import signal
import subprocess
import sys

import pytest
from helpers.pause import PausePoint
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, infos, kas_command, kas_ok

FILES = 300
FIRST, MIDDLE, LAST = (f"f{i:04}" for i in (0, FILES // 2, FILES - 1))
BIG = ("a", "b", "c", "d")
MARKER = "kas-checkout-target"

# The held git's helper (a smudge filter or a hook) waits at the pause
# point of the FIFO ``fifo`` (kas's own test hook: announce, then wait for
# the release, never longer than the hook's patience), once: the first
# helper that gets there while "<fifo>.armed" exists claims it.
HOLD_ONCE = """\
#!{python}
import os
import sys

from kas.testhook import pause_at


def hold_once(fifo):
    try:
        os.rename(fifo + ".armed", fifo + ".claimed")
    except OSError:
        return
    with open(fifo + ".pid", "w") as f:
        f.write(str(os.getpid()))
    pause_at("checkout", {{"_KAS_TEST_PAUSE": "checkout:" + fifo}})
"""

# A smudge filter gets a file's content on stdin and gives it back on
# stdout; this one holds first (its FIFO is argv[1]).
HOLDING_FILTER = HOLD_ONCE + """
hold_once(sys.argv[1])
sys.stdout.buffer.write(sys.stdin.buffer.read())
"""


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


class HeldCheckout:
    """Holds the next ``git checkout`` of ``repo`` in ``work`` when it
    writes ``path``: kas's marker and git's index.lock are there, the tree
    is half-written."""

    def __init__(self, tmp_path, work, repo, path):
        self.pause = PausePoint(tmp_path, "checkout")
        filter_script = write(tmp_path / "holding-filter",
                              HOLDING_FILTER.format(python=sys.executable))
        os.chmod(filter_script, 0o755)
        git(work / repo, "config", "filter.kas-test-hold.smudge",
            f"{filter_script} {self.pause.fifo}")
        write(work / repo / ".git" / "info" / "attributes", f"{path} filter=kas-test-hold\n")
        write(f"{self.pause.fifo}.armed", "")

    def process_group(self):
        """The process group of the held git (and its filter)."""
        with open(f"{self.pause.fifo}.pid") as f:
            return os.getpgid(int(f.read()))


# git runs the reference-transaction hook with "prepared" once it holds
# the lock files of the refs it is about to move (listed on stdin); this
# one waits there the first time a branch moves (not the fetch's
# refs/remotes), like the filter above.
HOLDING_REF_HOOK = HOLD_ONCE + """
moves_a_branch = " refs/heads/" in sys.stdin.read()
if sys.argv[1] == "prepared" and moves_a_branch:
    hold_once({fifo!r})
"""


class HeldRefUpdate(HeldCheckout):
    """Holds the next ``git checkout -B`` of ``repo`` in ``work`` after it
    wrote the tree, while it holds the locks of the refs it moves."""

    def __init__(self, tmp_path, work, repo):
        self.pause = PausePoint(tmp_path, "checkout")
        hook = write(work / repo / ".git" / "hooks" / "reference-transaction",
                     HOLDING_REF_HOOK.format(python=sys.executable, fifo=self.pause.fifo))
        os.chmod(hook, 0o755)
        write(f"{self.pause.fifo}.armed", "")


def run_checkout_update(work, env, pause):
    return subprocess.Popen(kas_command() + ["checkout", "--update", "kas.yml"], cwd=work,
                            env={**env, **(pause.env() if pause else {})},
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def interrupt(proc, pause, send):
    """Once ``pause`` holds the run, ``send()`` the signals; returns (exit
    status, stderr)."""
    try:
        pause.wait(proc)
        send()
        pause.release()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, stderr


def git_dir_files(work, name):
    return {n for n in (MARKER, "index.lock") if os.path.exists(work / name / ".git" / n)}


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


def new_round(upstreams, round_):
    """Move every upstream on; returns the new heads of the big repos."""
    heads = {name: commit_everything(upstreams[name], round_) for name in BIG}
    write(os.path.join(upstreams["mine"], "notes"), f"v{round_}\n")
    git(upstreams["mine"], "commit", "-q", "-am", f"round {round_}")
    return heads


@pytest.mark.slow
def test_sigint_during_checkout_update_is_finished_by_the_next_run(project, tmp_path):
    """Issue 21.2: SIGINT to the process group at several points of ``kas
    checkout --update`` while the remotes moved: with git held in the
    middle of a tree (first, middle and last file of different repos), and
    after kas has done all its work (issue 28.1: exit 0 then, nothing left
    to finish).  The next run finishes the interrupted checkouts: every repo
    at the new head and clean.  A repo the user edited by hand stays
    untouched."""
    upstreams, work, env = project
    write(work / "mine" / "notes", "my own change\n")
    mine_before = git(work / "mine", "rev-parse", "HEAD")
    where = [("a", FIRST), ("c", MIDDLE), ("d", LAST), (None, "exit")]
    for round_, (held_repo, point) in enumerate(where, start=1):
        heads = new_round(upstreams, round_)
        round_dir = tmp_path / f"round{round_}"
        round_dir.mkdir()
        if held_repo:
            pause = HeldCheckout(round_dir, work, held_repo, point).pause
            proc = run_checkout_update(work, env, None)
        else:
            pause = PausePoint(round_dir, point)
            proc = run_checkout_update(work, env, pause)
        returncode, stderr = interrupt(proc, pause,
                                       functools.partial(os.killpg, proc.pid, signal.SIGINT))
        if held_repo:
            assert returncode == 130, stderr
            assert "kas execution cancelled" in stderr
            assert held_repo in left_behind(work)
            assert git_dir_files(work, held_repo) == {MARKER}
        else:
            # Issue 28.1: a signal that comes after the work is not a failure.
            assert returncode == 0, stderr
            assert left_behind(work) == []
        result = kas_ok("checkout", "--update", "kas.yml", cwd=work, env=env)
        for name in BIG:
            assert git(work / name, "rev-parse", "HEAD") == heads[name], (name, result.stderr)
            assert git(work / name, "status", "--porcelain") == "", name
            assert git_dir_files(work, name) == set()
        finished = [line for line in infos(result) if "that an interrupted kas run" in line]
        if held_repo:
            assert f"Repo {held_repo}: completed the checkout to {heads[held_repo]} that an " \
                   "interrupted kas run had begun" in finished, result.stderr
        else:
            assert finished == [], result.stderr
        assert "Repo mine is dirty - no checkout" in result.warnings()
        assert (work / "mine" / "notes").read_text() == "my own change\n"
        assert git(work / "mine", "rev-parse", "HEAD") == mine_before


def kill_hard(work, held, proc):
    """Once ``held`` holds the run ``proc``: SIGKILL to the held git, to
    every git in ``work`` and to kas (a power cut, as far as the repos can
    tell)."""
    def kill_everything():
        os.killpg(held.process_group(), signal.SIGKILL)
        for pid in git_processes_in(work):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)

    returncode, _ = interrupt(proc, held.pause, kill_everything)
    assert returncode == -signal.SIGKILL


def assert_finished(work, heads):
    """Every big repo at its new head, clean, without marker or lock."""
    for name in BIG:
        assert git(work / name, "rev-parse", "HEAD") == heads[name]
        assert git(work / name, "status", "--porcelain") == ""
        assert git_dir_files(work, name) == set()


@pytest.mark.slow
def test_git_killed_hard_leaves_index_lock_that_the_next_run_removes(project, tmp_path):
    """Issue 21.2: kas and its git checkout killed with SIGKILL while git
    writes the tree leave git's index.lock behind; the next run, finding
    kas's marker and no git at work there, removes the lock with a warning
    and finishes the checkout."""
    upstreams, work, env = project
    heads = new_round(upstreams, 1)
    held = HeldCheckout(tmp_path, work, "b", MIDDLE)
    proc = run_checkout_update(work, env, None)

    kill_hard(work, held, proc)
    assert git_dir_files(work, "b") == {MARKER, "index.lock"}
    result = kas_ok("checkout", "--update", "kas.yml", cwd=work, env=env)
    lock = work / "b" / ".git" / "index.lock"
    assert f"Removing {lock} left by an interrupted git in repository b" in result.warnings()
    assert_finished(work, heads)


@pytest.mark.slow
def test_git_killed_hard_while_moving_the_branch_leaves_ref_locks_the_next_run_removes(
        project, tmp_path):
    """Issue 21.2: kas and its git killed with SIGKILL after git wrote the
    tree, while it holds the locks of the branch and HEAD it is moving
    (``refs/heads/main.lock``): the next run removes every lock the killed
    git left and finishes the checkout (it used to stop at git's "cannot
    lock ref")."""
    upstreams, work, env = project
    heads = new_round(upstreams, 1)
    held = HeldRefUpdate(tmp_path, work, "c")
    proc = run_checkout_update(work, env, None)

    kill_hard(work, held, proc)
    ref_lock = work / "c" / ".git" / "refs" / "heads" / "main.lock"
    assert ref_lock.exists()
    assert MARKER in git_dir_files(work, "c")
    os.unlink(work / "c" / ".git" / "hooks" / "reference-transaction")
    result = kas_ok("checkout", "--update", "kas.yml", cwd=work, env=env)
    assert (f"Removing {ref_lock} left by an interrupted git in repository c"
            in result.warnings()), result.stderr
    assert_finished(work, heads)
    assert list((work / "c" / ".git").rglob("*.lock")) == []
