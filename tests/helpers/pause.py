"""Holding kas at a named point of its run (kas/testhook.py).

``_KAS_TEST_PAUSE=<point>:<fifo>`` makes kas announce ``<point>`` in the
FIFO and wait there until the test lets it go on (opens the FIFO for
writing and closes it), so that a test can act (send a signal, look at
/proc) at exactly that moment instead of sleeping and hoping.  The points
are listed in tests/README.md.  Anything that uses kas.testhook.pause_at
(the smudge filter of tests/test_interrupted_checkout.py) is held the
same way.
"""

import errno
import os
import select
import time

# Only a safety net for a kas that hangs: no test waits this long unless
# something is broken.
PATIENCE = 120.0


class PausePoint:
    """One pause point of one kas run::

        pause = PausePoint(tmp_path, "exit")
        proc = subprocess.Popen(kas_command() + [...], env={**env, **pause.env()})
        pause.wait(proc)            # kas is now at "exit"
        os.kill(proc.pid, signal.SIGINT)
        pause.release()             # kas goes on (or has ended meanwhile)
    """

    def __init__(self, directory, point):
        self.point = point
        self.fifo = os.path.join(directory, f"kas-pause-{point}")
        os.mkfifo(self.fifo)
        os.mkfifo(f"{self.fifo}.release")
        # Open before kas starts: kas announces only to a reader.
        self.reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)

    def env(self):
        return {"_KAS_TEST_PAUSE": f"{self.point}:{self.fifo}"}

    def wait(self, proc):
        """Until kas has announced the point; fails if kas ends first."""
        data = b""
        deadline = time.monotonic() + PATIENCE
        try:
            while not data.endswith(b"\n"):
                readable, _, _ = select.select([self.reader], [], [], 0.05)
                chunk = os.read(self.reader, 64) if readable else b""
                data += chunk
                if chunk:
                    continue
                assert proc.poll() is None, \
                    f"kas ended ({proc.returncode}) before it reached {self.point!r}"
                assert time.monotonic() < deadline, f"kas never reached {self.point!r}"
                time.sleep(0.01)
        finally:
            os.close(self.reader)
        assert data == f"{self.point}\n".encode(), data

    def release(self):
        """Let kas go on: open the release FIFO for writing and close it.
        Does nothing if kas has ended instead (e.g. cancelled by a signal):
        then no one reads it."""
        try:
            os.close(os.open(f"{self.fifo}.release", os.O_WRONLY | os.O_NONBLOCK))
        except OSError as err:
            if err.errno != errno.ENXIO:        # ENXIO: kas no longer waits
                raise
