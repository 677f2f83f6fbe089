"""Progress of the repository work (issue: live status on a terminal).

On a terminal with colors allowed, a block at the bottom shows one line per
repository being worked on, with its state and elapsed time; log records
still appear above it.  Otherwise nothing extra is shown: the plain log
lines (``Cloning repository x`` ...) tell the story.  Per-repo timings are
logged at debug level either way.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from typing_extensions import Self

    from kas.context import Context

log = logging.getLogger(__name__)

REFRESH = 0.25      # seconds between redraws of the live block


class Progress:
    """Plain progress: only debug timings."""

    def __init__(self) -> None:
        self._started: dict[str, tuple[str, float]] = {}     # name -> (state, start time)
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return False

    def start(self, name: str, state: str) -> None:
        with self._lock:
            self._started[name] = (state, time.monotonic())

    def update(self, name: str, state: str) -> None:
        with self._lock:
            if name in self._started:
                self._started[name] = (state, self._started[name][1])

    def finish(self, name: str, result: str) -> None:
        with self._lock:
            _, started = self._started.pop(name, (None, time.monotonic()))
        log.debug("Repository %s: %s after %.2f s", name, result, time.monotonic() - started)


class LiveProgress(Progress):
    """Progress with a live block of running repositories on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._drawn = 0
        self._stop = threading.Event()
        self._handlers: list[logging.StreamHandler[TextIO]] = []
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Self:
        # Log records written while the block is shown must appear above it.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                handler.setStream(_AboveBlock(self))
                self._handlers.append(handler)
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self._stop.set()
        assert self._ticker is not None, "__exit__ without __enter__"
        self._ticker.join()
        with self._lock:
            self._erase()
            self.stream.flush()
        for handler in self._handlers:
            handler.setStream(self.stream)
        return False

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH):
            with self._lock:
                self._erase()
                self._draw()
                self.stream.flush()

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(f"\033[{self._drawn}F\033[J")
            self._drawn = 0

    def _draw(self) -> None:
        now = time.monotonic()
        for name, (state, started) in self._started.items():
            self.stream.write(f"  {name}: {state} ({now - started:.1f} s)\n")
        self._drawn = len(self._started)

    def write_above(self, text: str) -> None:
        with self._lock:
            self._erase()
            self.stream.write(text)
            self._draw()
            self.stream.flush()


class _AboveBlock:
    """A stream for logging handlers that writes above the live block."""

    def __init__(self, progress: LiveProgress) -> None:
        self.progress = progress

    def write(self, text: str) -> None:
        self.progress.write_above(text)

    def flush(self) -> None:
        pass


def progress_for(ctx: Context) -> Progress:
    """Live progress on a color terminal, plain progress otherwise."""
    if sys.stderr.isatty() and not ctx.no_color:
        return LiveProgress(sys.stderr)
    return Progress()
