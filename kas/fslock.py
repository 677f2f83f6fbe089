"""Advisory locks on files (flock), shared or exclusive, with a timeout.

A :class:`FileLock` belongs to the process that took it: the kernel drops
it when the process ends, however it ends, so a lock never needs manual
removal.  The holder writes its pid into the file, so that whoever has to
wait can say for whom.

The file may be removed by a holder of the exclusive lock only
(``release(remove=True)``): whoever then gets the lock on the removed file
notices (it is no longer the file at the path) and locks the new one
instead, so at no time do two processes hold conflicting locks on the
file at the path.

This module knows nothing about what is being protected; callers choose
the path, the mode and what to say while waiting.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from typing import Callable

# How often a waiting process tries again.
POLL_INTERVAL = 0.1

# How long a waiter looks for the holder's pid before it reports anyway
# (the holder writes it just after taking the lock).
PID_GRACE = 1.0


# Shared holders stop adding their pids to a lock file this big.
MAX_PID_LIST = 4096


class LockTimeout(Exception):
    """The lock was still held by someone else when the timeout expired."""

    def __init__(self, path: str, holder: int | None, timeout: float) -> None:
        super().__init__(f"{path} is still locked after {timeout:g} s")
        self.path = path
        self.holder = holder
        self.timeout = timeout


class FileLock:
    """A shared or exclusive flock on ``path`` (created if missing).

    ``timeout``: seconds to wait for a busy lock (None: forever, 0: not at
    all) before :class:`LockTimeout`.  ``on_wait(pid)`` is called once
    when the lock is busy, with the holder's pid if known, else None."""

    def __init__(self, path: str, shared: bool = False, timeout: float | None = None,
                 on_wait: Callable[[int | None], None] | None = None) -> None:
        self.path = path
        self.shared = shared
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> FileLock:
        """Take the lock, waiting as configured; returns self."""
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        started = time.monotonic()
        notified = False
        fd = _open(self.path)
        try:
            while True:
                if _try_lock(fd, mode):
                    if _is_current(fd, self.path):
                        break
                    # Removed or replaced while we waited: lock the new file.
                    os.close(fd)
                    fd = _open(self.path)
                    continue
                waited = time.monotonic() - started
                holder = read_holder(self.path)
                if not notified and (holder is not None or waited >= PID_GRACE
                                     or self.timeout is not None and waited >= self.timeout):
                    notified = True
                    if self.on_wait is not None:
                        self.on_wait(holder)
                if self.timeout is not None and waited >= self.timeout:
                    raise LockTimeout(self.path, holder, self.timeout)
                pause = POLL_INTERVAL
                if self.timeout is not None:
                    pause = min(pause, max(0.0, self.timeout - waited))
                time.sleep(pause)
        except BaseException:
            os.close(fd)
            raise
        _write_pid(fd, self.shared)
        self._fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        """Give the lock up (also done by the kernel when the process ends).

        ``remove``: also remove the file if no other process holds or
        waits for it (so it does not outlive its use)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Only as the sole holder: a shared lock becomes exclusive if
        # nobody else holds the file (and is simply dropped otherwise).  A
        # waiter that opened the file meanwhile starts over on a new one.
        if remove and _try_lock(fd, fcntl.LOCK_EX) and _is_current(fd, self.path):
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        os.close(fd)        # closing the last descriptor drops the flock


# In a directory private to the process building it (kas.fsutil.build_dir):
# the owner's lock, held while the directory is in use.
OWNER_LOCK = "owner.lock"


def own_directory(directory: str) -> FileLock:
    """Take the owner lock of ``directory``, made by the caller just now
    (so nobody else can hold it), until released or the process ends."""
    return FileLock(os.path.join(directory, OWNER_LOCK), timeout=0).acquire()


def abandoned(directory: str) -> FileLock | None:
    """The owner lock of ``directory``, taken, if its owner is gone (killed
    or finished); None while an owner lives or if there is no lock."""
    return try_lock(os.path.join(directory, OWNER_LOCK))


def try_lock(path: str) -> FileLock | None:
    """An exclusive lock on the existing file ``path`` if nobody holds it
    now, else None (also if the file does not exist)."""
    if not os.path.exists(path):
        return None
    lock = FileLock(path, timeout=0)
    try:
        return lock.acquire()
    except (LockTimeout, FileNotFoundError):
        return None


def read_holder(path: str) -> int | None:
    """A pid of a holder of ``path``: the first one written there that
    still runs, else the last one written, else None."""
    try:
        with open(path, "rb") as f:
            pids = [int(line) for line in f.read(4096).split() if line.isdigit()]
    except OSError:
        return None
    running = [pid for pid in pids if _runs(pid)]
    return (running or pids or [None])[0 if running else -1]


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _open(path: str) -> int:
    # O_CLOEXEC (os.open's default): children must not inherit the lock,
    # or a daemon started by the holder would keep it after the holder ends.
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        # A file we may not write (another user's, a read-only mount) can
        # still be locked, just not given our pid.
        if not os.path.exists(path):
            raise
        return os.open(path, os.O_RDONLY)


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_current(fd: int, path: str) -> bool:
    """Whether ``fd`` is still the file at ``path``."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _write_pid(fd: int, shared: bool) -> None:
    """An exclusive holder is the only one: its pid replaces the others.
    Shared holders add theirs; whoever waits names one that still runs."""
    with contextlib.suppress(OSError):
        line = f"{os.getpid()}\n".encode()
        if shared:
            # A long-lived lock file (a cache entry's) must not grow
            # without bound: the list only names a holder to wait for.
            if os.lseek(fd, 0, os.SEEK_END) < MAX_PID_LIST:
                os.write(fd, line)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, line, 0)
