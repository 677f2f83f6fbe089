"""A pause at a named point of a kas run, for kas's own tests only.

Some behaviour depends on *when* something happens to kas, e.g. which
moment of a run a SIGINT hits.  A test that sleeps and hopes fails by
chance on a busy machine; this hook puts the moment under the test's
control instead.  With ``_KAS_TEST_PAUSE=<point>:<fifo>`` in the
environment, kas, on reaching ``<point>``, writes the point's name and a
newline into the FIFO ``<fifo>`` (announcing that it is there), then
waits until the test has opened the FIFO ``<fifo>.release`` for writing
and closed it again, and goes on.  While kas waits there the test does
what it wants to do at that moment, e.g. sends a signal.

Harmless when misused: nothing happens unless the variable names the
point being passed, both FIFOs exist and a test has ``<fifo>`` open for
reading; kas never waits longer than :data:`PATIENCE` (a test that died
must not leave a kas behind that waits forever).  The points are listed
in tests/README.md.
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Mapping

# Only for a test that died while kas waited: a live test lets kas go on
# within moments.
PATIENCE = 600.0


def pause_at(point: str, environ: Mapping[str, str] | None = None) -> None:
    """Wait at ``point`` if the test hook asks for it (see the module's
    docstring); otherwise return at once."""
    environ = os.environ if environ is None else environ
    wanted, _, fifo = environ.get("_KAS_TEST_PAUSE", "").partition(":")
    if wanted != point or not fifo:
        return
    # Opened before the announcement, so that no release can come too early
    # to be seen: a FIFO opened for reading this way polls readable (hang-up)
    # once a writer has opened it after us and closed it again, and no one
    # writes data into it.
    release = _open_fifo(f"{fifo}.release", os.O_RDONLY)
    if release is None:
        return
    try:
        # Fails (ENXIO) unless a test has the FIFO open for reading.
        announce = _open_fifo(fifo, os.O_WRONLY)
        if announce is None:
            return
        try:
            os.write(announce, f"{point}\n".encode())
        finally:
            os.close(announce)
        # A signal's handler runs while we wait (and may raise, e.g.
        # Cancelled); the wait goes on if it returns.
        select.select([release], [], [], PATIENCE)
    finally:
        os.close(release)


def _open_fifo(path: str, mode: int) -> int | None:
    """``path`` opened without blocking, or None if that fails or it is not
    a FIFO (nothing is created or truncated)."""
    try:
        fd = os.open(path, mode | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd
