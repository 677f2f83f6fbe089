"""Interrupting kas while it clones (CLI-340, CLI-343; issue: interruption),
and what a signal does at each moment of a run (issue 28.1).

The upstream is reached through git's ``ext::`` transport with a command
that first waits, so the clone is reliably in progress when the signal
arrives.  The transport is allowed through GITCONFIG_FILE, which kas
copies into its private HOME (CLI-072).  The moments of a run (before
kas's handler, during the run, once the outcome is known, as kas exits)
are held with kas's test pause points (tests/helpers/pause.py), so the
signal's timing is the test's, not the machine's.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers.pause import PATIENCE, PausePoint
from helpers.repos import MARKER, git, make_git_repo, slow_url, write
from helpers.run import clean_env, kas_command, kas_ok, run_kas


@pytest.fixture
def setup(tmp_path):
    upstream = make_git_repo(tmp_path / "upstream", {"README": "hello\n"})
    commit = git(upstream, "rev-parse", "HEAD")
    work = tmp_path / "work"
    work.mkdir()
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    gitconfig = write(tmp_path / "gitconfig", '[protocol "ext"]\n\tallow = always\n')
    env = clean_env(GITCONFIG_FILE=gitconfig, KAS_WORK_DIR=str(work))

    def config(url, extra=""):
        return write(work / "kas.yml", textwrap.dedent(f"""
            header:
              version: 23
            repos:
              this:
              slow:
                url: {url}
                commit: {commit}
            """) + extra)
    yield upstream, work, env, config
    # A failed test may have killed kas, orphaning its clone: stop it with
    # its process group (git and the transport's sleep).
    for pid in transport_processes(upstream):
        with contextlib.suppress(OSError):
            group = os.getpgid(int(pid))
            if group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)


def transport_processes(upstream):
    """Pids of the running slow transports to ``upstream`` (via /proc)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if MARKER.encode() in cmdline and upstream.encode() in cmdline:
                pids.append(pid)
        except OSError:
            continue
    return pids


def partials(work):
    """The private partial clone directories of the repo "slow"."""
    return list(work.glob(".slow.kas-partial*"))


# The clones to interrupt wait this long before they transfer anything:
# a kas that waited for the clone instead of stopping it would take an
# hour, which the much shorter safety timeouts below turn into a failure.
# No assert measures how long kas took (a busy machine may be slow).
FOREVER = 3600


def wait_for(predicate, timeout=PATIENCE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def interrupt_clone(setup, send):
    """Start ``kas checkout`` of a slow clone; once the clone runs, call
    ``send(kas_pid)``.  Returns (exit code, stderr)."""
    upstream, work, env, config = setup
    config(slow_url(upstream, FOREVER))
    proc = subprocess.Popen(kas_command() + ["checkout", "kas.yml"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: transport_processes(upstream) and partials(work)), \
            "the clone never started"
        send(proc.pid)
        _, stderr = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stderr


def assert_cancelled_promptly(setup, returncode, stderr):
    """CLI-340: exit 130, one message, children stopped (kas did not wait
    for the clone: interrupt_clone's timeout), nothing left."""
    upstream, work, _, _ = setup
    assert returncode == 130, stderr
    assert "kas execution cancelled" in stderr
    assert "Traceback" not in stderr
    assert not (work / "slow").exists()
    assert partials(work) == []
    assert wait_for(lambda: not transport_processes(upstream)), "clone left running"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_clone_exits_promptly_and_leaves_no_repo(setup, signum):
    """CLI-340: exit 130, children stopped, no half-cloned directory."""
    result = interrupt_clone(setup, lambda pid: os.kill(pid, signum))
    assert_cancelled_promptly(setup, *result)


# The tgkill system call's number; Python has no wrapper for it.
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}


def tgkill(pid, tid, signum):
    """Send ``signum`` to one thread of process ``pid`` (Linux tgkill)."""
    number = SYS_TGKILL.get(os.uname().machine)
    if number is None:
        pytest.skip(f"tgkill's system call number on {os.uname().machine} is not known here")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_taken_by_a_worker_thread_still_cancels(setup, signum):
    """CLI-340: the kernel may hand a process-directed SIGINT/SIGTERM to
    any thread; Python runs handlers only in the main thread.  Here the
    signal goes to the thread that runs the clone, as it sometimes does
    by chance: kas still stops at once instead of when the clone ends."""

    def to_a_worker(pid):
        workers = [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid]
        assert workers, "kas runs the clone in a worker thread"
        tgkill(pid, workers[0], signum)

    assert_cancelled_promptly(setup, *interrupt_clone(setup, to_a_worker))


def test_run_after_interruption_clones_a_good_repo(setup):
    upstream, work, env, config = setup
    config(slow_url(upstream, FOREVER))
    proc = subprocess.Popen(kas_command() + ["checkout", "kas.yml"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: transport_processes(upstream))
        proc.send_signal(signal.SIGINT)
        # Promptness is the test above's; this one is about the next run
        # (a stalled disk on a busy machine must not fail it).
        proc.wait(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
    config(slow_url(upstream, 0))
    kas_ok("checkout", "kas.yml", cwd=work, env=env)
    assert git(work / "slow", "rev-parse", "HEAD") == git(upstream, "rev-parse", "HEAD")
    assert (work / "slow" / "README").read_text() == "hello\n"


def test_first_failure_cancels_the_other_fetches(setup, tmp_path):
    """CLI-087: a failing repo stops a slow clone at once; nothing is left."""
    upstream, work, env, config = setup
    config(slow_url(upstream, FOREVER), extra=f"""
  broken:
    url: {tmp_path / "no-such-repo"}
    commit: {git(upstream, "rev-parse", "HEAD")}
""")
    result = run_kas("checkout", "kas.yml", cwd=work, env=env, timeout=PATIENCE)
    assert result.returncode == 2, result
    assert len(result.errors()) == 1, result
    assert result.errors()[0].startswith('Fetching of repo: "broken" failed: ')
    assert not (work / "slow").exists()
    assert partials(work) == []
    assert wait_for(lambda: not transport_processes(upstream))


# --- the moment a signal arrives (kas/cli.py's docstring, issue 28.1) --------


@pytest.fixture
def quick(tmp_path):
    """A project whose `kas checkout` has no repository to fetch, with a
    journal: (work directory, environment, journal path)."""
    work = tmp_path / "work"
    work.mkdir()
    write(work / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n")
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    journal = tmp_path / "journal.json"
    return work, clean_env(KAS_WORK_DIR=str(work), KAS_JOURNAL=str(journal)), journal


def ignored_signals(pid):
    """The signals the kernel discards for ``pid`` (SigIgn in /proc)."""
    with open(f"/proc/{pid}/status") as f:
        mask = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
    return {signum for signum in signal.Signals if mask & (1 << (signum - 1))}


# Runs argv[1:] with SIGINT and SIGTERM as a terminal's shell leaves them:
# a test run started as an asynchronous command of a script (``pytest &``)
# inherits SIGINT ignored, and Python, like every Unix program, keeps it
# ignored until kas installs its handler.
WITH_DEFAULT_SIGNALS = [sys.executable, "-c", (
    "import os, signal, sys\n"
    "for signum in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(signum, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n")]


def signal_at(tmp_path, quick, point, signals, config="kas.yml"):
    """Run ``kas checkout CONFIG``, hold it at ``point``, send ``signals``
    there, let it go on.  Returns (exit status, stderr, the signals kas
    ignored at the point)."""
    work, env, _ = quick
    pause = PausePoint(tmp_path, point)
    proc = subprocess.Popen(WITH_DEFAULT_SIGNALS + kas_command() + ["checkout", config],
                            cwd=work, env={**env, **pause.env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pause.wait(proc)
        ignored = ignored_signals(proc.pid)
        for signum in signals:
            os.kill(proc.pid, signum)
        pause.release()
        _, stderr = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stderr, ignored


def journal_status(path):
    with open(path) as f:
        document = json.load(f)
    return document["status"], document["exit_status"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_before_the_handler_ends_kas_by_the_signal_having_done_nothing(
        tmp_path, quick, signum):
    """Issue 28.1 (a): before kas installs its handler, Python's default
    holds: the process dies of the signal, and kas has done nothing (no
    work directory lock, no journal)."""
    work, _, journal = quick
    returncode, stderr, _ = signal_at(tmp_path, quick, "start", [signum])
    assert returncode == -signum, stderr
    assert "kas execution cancelled" not in stderr
    assert sorted(os.listdir(work)) == ["kas.yml", "oe-init-build-env"]
    assert not journal.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_right_after_the_handler_is_a_cancelled_run(tmp_path, quick, signum):
    """Issue 28.1 (b): from the moment the handler is installed, before the
    command line is even read, a signal cancels the run: exit 130, "kas
    execution cancelled" (logging is not set up yet: the bare message), no
    traceback, nothing done."""
    work, _, journal = quick
    returncode, stderr, _ = signal_at(tmp_path, quick, "installed", [signum])
    assert returncode == 130, stderr
    assert "kas execution cancelled" in stderr
    assert "Traceback" not in stderr
    assert sorted(os.listdir(work)) == ["kas.yml", "oe-init-build-env"]
    assert not journal.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_the_run_cancels_it(tmp_path, quick, signum):
    """Issue 28.1 (b), CLI-340: a signal while the command runs cancels it:
    exit 130, one ERROR line, the cleanups run (the work directory lock is
    gone) and the journal says so."""
    work, _, journal = quick
    returncode, stderr, _ = signal_at(tmp_path, quick, "command", [signum])
    assert returncode == 130, stderr
    assert [line.split(" - ERROR    - ")[1] for line in stderr.splitlines()
            if " - ERROR    - " in line] == ["kas execution cancelled"], stderr
    assert "Traceback" not in stderr
    assert not (work / ".kas.lock").exists()
    assert journal_status(journal) == ("cancelled", 130)


@pytest.mark.parametrize("config, outcome", [("kas.yml", ("success", 0)),
                                             ("missing.yml", ("failed", 2))])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_once_the_outcome_is_known_leaves_it_alone(tmp_path, quick, signum,
                                                          config, outcome):
    """Issue 28.1 (c): the command has returned (or failed) when the signal
    comes: kas still runs its cleanups, writes the journal and exits with
    the command's own status."""
    work, _, journal = quick
    returncode, stderr, _ = signal_at(tmp_path, quick, "finishing", [signum], config)
    assert returncode == outcome[1], stderr
    assert "kas execution cancelled" not in stderr
    assert "Traceback" not in stderr
    assert not (work / ".kas.lock").exists()
    assert journal_status(journal) == outcome


def test_a_second_signal_while_kas_finishes_ends_it_at_once(tmp_path, quick):
    """CLI-341 after the work: the first signal is ignored while kas cleans
    up, a second one (here SIGTERM, which the kernel does not merge with the
    pending SIGINT) still ends kas at once, as a stuck cleanup must be
    stoppable."""
    returncode, stderr, _ = signal_at(tmp_path, quick, "finishing",
                                      [signal.SIGINT, signal.SIGTERM])
    assert returncode == 130, stderr
    assert "kas terminated forcefully" in stderr
    assert "kas execution cancelled" not in stderr


def test_signals_as_kas_exits_do_not_fail_the_run(tmp_path, quick):
    """Issue 28.1 (c): once the run is over kas ignores SIGINT and SIGTERM
    in the kernel, which Python leaves alone while the interpreter shuts
    down (it puts back the default only where it had a handler of its
    own): a signal then cannot kill the process, which exits 0."""
    returncode, stderr, ignored = signal_at(tmp_path, quick, "exit",
                                            [signal.SIGINT, signal.SIGTERM])
    assert {signal.SIGINT, signal.SIGTERM} <= ignored
    assert returncode == 0, stderr
    assert "ERROR" not in stderr
    assert journal_status(quick[2]) == ("success", 0)

