"""A pause at a named point of a kas run, for kas's own tests only.

Some behaviour depends on *when* something happens to kas, e.g. which
moment of a run a SIGINT hits.  A test that sleeps and hopes fails by
chance on a busy machine; this hook puts the moment under the test's
control instead.  With ``_KAS_TEST_PAUSE=<point>:<fifo>`` in the
environment, kas, on reaching ``<point>``, writes the point's name and a
newline into the FIFO ``<fifo>`` (announcing that it is there) and then
reads the FIFO until end-of-file (waiting for the test to open it for
writing and close it again) before it goes on.  While kas waits there the
test does what it wants to do at that moment, e.g. sends a signal.

Harmless when misused: nothing happens unless the variable names the
point being passed and ``<fifo>`` is an existing FIFO.  The points are
listed in tests/README.md.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping


def pause_at(point: str, environ: Mapping[str, str] | None = None) -> None:
    """Wait at ``point`` if the test hook asks for it (see the module's
    docstring); otherwise return at once."""
    environ = os.environ if environ is None else environ
    wanted, _, fifo = environ.get("_KAS_TEST_PAUSE", "").partition(":")
    if wanted != point or not _is_fifo(fifo):
        return
    # Opening a FIFO blocks until the other side opens it too: the test
    # reads the announcement, then opens it for writing to let kas go on.
    with open(fifo, "w") as announce:
        announce.write(point + "\n")
    with open(fifo, "rb") as release:
        release.read()


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False
