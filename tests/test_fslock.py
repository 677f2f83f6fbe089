"""The lock file of kas.fslock between real processes: a holder that removes
the file on release (``release(remove=True)``, what kas does with the work
directory lock and the repo cache's entry locks), and a waiter whose file
was removed under it.  At no time may two processes hold conflicting locks
on the file at the path.

The other process is a real Python process that takes the lock with
kas.fslock and says on stdout when it waits and when it holds the lock.
"""

import os
import subprocess
import sys

import pytest

from kas.fslock import FileLock, read_holder, try_lock

# Takes the lock on argv[1] (shared if argv[2] == "shared"), says "waiting"
# when it has to wait and "locked" once it holds it, then holds it until
# its stdin closes, and releases it with remove=True if argv[3] == "remove".
HOLDER = """
import sys
from kas.fslock import FileLock
lock = FileLock(sys.argv[1], shared=sys.argv[2] == "shared",
                on_wait=lambda pid: print("waiting", pid, flush=True))
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
lock.release(remove=sys.argv[3] == "remove")
print("released", flush=True)
"""


class Holder:
    """Another process taking the lock on ``path``."""

    def __init__(self, path, mode="exclusive", release="keep"):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode, release],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def said(self):
        line = self.proc.stdout.readline()
        assert line, f"the holder ended: {self.proc.wait()}"
        return line.split()[0]

    def finish(self):
        """Let it release the lock and end; what it said last."""
        out, _ = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0
        return out.split()[-1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def holders():
    started = []

    def start(*args, **kwargs):
        holder = Holder(*args, **kwargs)
        started.append(holder)
        return holder
    yield start
    for holder in started:
        holder.kill()


def test_release_with_remove_deletes_the_file_of_the_only_holder(tmp_path):
    """Released with remove=True by its only holder, exclusive or shared,
    the lock file is gone; a plain release keeps it."""
    path = str(tmp_path / "x.lock")
    for shared in (False, True):
        FileLock(path, shared=shared).acquire().release(remove=True)
        assert not os.path.exists(path)
    FileLock(path).acquire().release()
    assert os.path.exists(path)


def test_release_with_remove_keeps_a_file_another_process_holds(tmp_path, holders):
    """Two shared holders: the one that releases first with remove=True
    leaves the file, which the other one still holds (a writer arriving
    now must wait for it, not lock a new file beside it)."""
    path = str(tmp_path / "x.lock")
    other = holders(path, "shared")
    assert other.said() == "locked"
    mine = FileLock(path, shared=True).acquire()
    mine.release(remove=True)
    assert os.path.exists(path)
    assert try_lock(path) is None
    assert read_holder(path) == other.proc.pid
    assert other.finish() == "released"


def test_release_with_remove_spares_a_new_file_at_the_path(tmp_path, holders):
    """The file was removed under its holder (as `kas purge` of a build
    directory that is the work directory does) and another process now
    holds a new one at the path: the old holder's release with
    remove=True must not delete that one."""
    path = str(tmp_path / "x.lock")
    mine = FileLock(path).acquire()
    os.unlink(path)
    other = holders(path)
    assert other.said() == "locked"
    mine.release(remove=True)
    assert os.path.exists(path)
    assert read_holder(path) == other.proc.pid
    assert try_lock(path) is None
    assert other.finish() == "released"


def test_waiter_locks_the_new_file_when_the_holder_removes_the_old(tmp_path, holders):
    """A waiter blocked on the file that its holder then removes on
    release gets the lock on that removed file first: it must notice and
    lock the file at the path instead, so that it really excludes whoever
    comes next."""
    path = str(tmp_path / "x.lock")
    mine = FileLock(path).acquire()
    waiter = holders(path)
    assert waiter.said() == "waiting"       # it has the old file open
    mine.release(remove=True)
    assert waiter.said() == "locked"
    assert os.path.exists(path), "the waiter holds a file that is no longer at the path"
    assert read_holder(path) == waiter.proc.pid
    assert try_lock(path) is None
    assert waiter.finish() == "released"
