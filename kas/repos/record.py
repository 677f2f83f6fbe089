"""Reporting the repository work to the run journal (issue 18.2).

The fetch, checkout and patch tasks are wrapped only when ``ctx.journal``
exists: each wrapped task is timed, reports what it did (its return value
in the fetch phase: cloned, fetched or unchanged) and the commit the
checkout is at afterwards; the first fetch also notes the commit before.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TypeVar

from kas.errors import KasUserError
from kas.vcs import backend_for

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from kas.context import Context
    from kas.repos.model import RepoSpec

T = TypeVar("T")


def recorded(ctx: Context, phase: str, specs: Sequence[RepoSpec],
             tasks: Sequence[Callable[[], T]]) -> Sequence[Callable[[], T]]:
    """``tasks`` (one per spec) wrapped for the journal, or unchanged."""
    if ctx.journal is None:
        return tasks
    # zip(strict=True) needs Python 3.10; kas still runs on 3.9.
    if len(specs) != len(tasks):
        raise ValueError("recorded: one task per repository expected")
    return [recorded_task(ctx, phase, spec, task)
            for spec, task in zip(specs, tasks)]


def recorded_task(ctx: Context, phase: str, spec: RepoSpec,
                  task: Callable[[], T]) -> Callable[[], T]:
    """``task`` for ``spec`` wrapped for the journal, or unchanged."""
    journal = ctx.journal
    if journal is None:
        return task

    def run() -> T:
        record = journal.repo(spec)
        if phase == "fetch" and not record.fetch_seen:
            record.fetch_seen = True
            record.commit_before = _head(ctx, spec)
        started = time.monotonic()
        try:
            result = task()
        except BaseException:
            record.failed = record.failed or phase
            raise
        finally:
            record.duration += time.monotonic() - started
        if phase == "fetch":        # a fetch task returns its action (or None)
            record.add_action(result if isinstance(result, str) else None)
        elif phase == "patch":
            record.add_action("patched")
        record.commit_after = _head(ctx, spec)
        return result

    return run


def _head(ctx: Context, spec: RepoSpec) -> str | None:
    """The commit the checkout of ``spec`` is at, None if there is none."""
    try:
        backend = backend_for(ctx, spec)
        if not os.path.exists(os.path.join(spec.path, backend.MARKER)):
            return None
        return backend.head()
    except KasUserError:
        return None
