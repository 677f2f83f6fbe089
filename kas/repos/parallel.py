"""Running per-repository work on a bounded thread pool.

The work itself is done by git/hg child processes, so threads are enough.
Children of cancelled tasks are terminated through the context's runner.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from kas.errors import Cancelled
from kas.process import SIGNAL_POLL

if TYPE_CHECKING:
    from kas.context import Context

    # What a held task returns: its log records and its error, if any.
    # (An alias is evaluated as code: no "X | None" before Python 3.10.)
    HeldResult = tuple[list[logging.LogRecord], Optional[Exception]]

T = TypeVar("T")

JOBS_VARIABLE = "KAS_FETCH_JOBS"


def jobs(environ: Mapping[str, str]) -> int:
    """How many repositories are worked on at once (KAS_FETCH_JOBS).

    Default: eight per CPU, at least 8 and at most 64.  The work waits on
    the network or the disk far more than on the CPU: on a 2-core machine
    cloning 200 local repositories took 2.7 s with 8 jobs and 1.9 s with
    16 (bench/checkout).  The reference kas does not bound it at all."""
    value = environ.get(JOBS_VARIABLE, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(8, min(64, 8 * (os.cpu_count() or 1)))


def run_parallel(ctx: Context, tasks: Sequence[Callable[[], object]]) -> None:
    """Run ``tasks``; the first exception cancels the rest (their children
    are terminated) and is raised."""
    pool, futures = _start(ctx, tasks)
    try:
        _wait(futures, first_exception=True)
    except BaseException:
        _stop(ctx, pool, futures)
        raise
    failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
    if failed:
        _stop(ctx, pool, futures)
        # The first real error in configuration order; the others were
        # mostly cancelled by it.
        errors = [error for error in (f.exception() for f in failed) if error is not None]
        raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
    pool.shutdown(wait=True)


def run_in_order(ctx: Context, tasks: Sequence[Callable[[], object]]) -> None:
    """Run ``tasks`` concurrently but log and fail as if one after another:
    the log records of each task are held back and emitted in task order,
    and the first failing task (in that order) raises its error."""
    held = _HeldRecords()
    pool, futures = _start(ctx, [held.wrap(task) for task in tasks])
    try:
        _wait(futures, first_exception=False)
    except BaseException:
        _stop(ctx, pool, futures)
        raise
    finally:
        held.remove()
    pool.shutdown(wait=True)
    for future in futures:
        records, error = future.result()
        for record in records:
            logging.getLogger(record.name).handle(record)
        if error is not None:
            raise error


def _wait(futures: Sequence[concurrent.futures.Future[T]], first_exception: bool) -> None:
    """Wait until every future is done (or, with ``first_exception``, one
    has failed), in short steps: a SIGINT/SIGTERM the kernel hands to a
    worker thread is handled by Python only when the main thread runs
    Python code, which a wait without timeout would delay until the end."""
    when = (concurrent.futures.FIRST_EXCEPTION if first_exception
            else concurrent.futures.ALL_COMPLETED)
    while True:
        done, pending = concurrent.futures.wait(futures, timeout=SIGNAL_POLL,
                                                return_when=when)
        if not pending:
            return
        if first_exception and any(not f.cancelled() and f.exception() is not None
                                   for f in done):
            return


def _start(ctx: Context, tasks: Sequence[Callable[[], T]]
           ) -> tuple[concurrent.futures.ThreadPoolExecutor, list[concurrent.futures.Future[T]]]:
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, min(jobs(ctx.caller_env), len(tasks))))
    return pool, [pool.submit(task) for task in tasks]


def _stop(ctx: Context, pool: concurrent.futures.ThreadPoolExecutor,
          futures: Sequence[concurrent.futures.Future[T]]) -> None:
    for future in futures:
        future.cancel()
    ctx.runner.cancel()
    pool.shutdown(wait=True)
    ctx.runner.cancelled.clear()


class _HeldRecords(logging.Filter):
    """A filter on the root handlers that keeps the records of worker
    threads running a wrapped task."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()
        self.handlers = list(logging.getLogger().handlers)
        for handler in self.handlers:
            handler.addFilter(self)

    def remove(self) -> None:
        for handler in self.handlers:
            handler.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        records = getattr(self.local, "records", None)
        if records is None:
            return True
        records.append(record)
        return False

    def wrap(self, task: Callable[[], object]) -> Callable[[], HeldResult]:
        def held_task() -> HeldResult:
            records: list[logging.LogRecord] = []
            self.local.records = records
            try:
                task()
            except Exception as err:  # noqa: BLE001 - re-raised in task order
                return records, err
            finally:
                self.local.records = None
            return records, None
        return held_task
