"""Fetching repositories in parallel (CLI-087, CLI-088).

Each repository is one task on a bounded thread pool (kas.repos.parallel);
the first failure cancels the others.
A clone goes to a temporary sibling directory that is renamed into place
only when complete, so an interrupted clone never looks like a good repo.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.repos.parallel import run_parallel
from kas.repos.record import recorded
from kas.repos.status import progress_for
from kas.vcs import FetchSettings, backend_for

if TYPE_CHECKING:
    from kas.context import Context
    from kas.repos.model import RepoSpec
    from kas.repos.status import Progress
    from kas.vcs import Backend

log = logging.getLogger(__name__)


def partial_path(path: str) -> str:
    """Where a clone of ``path`` is made before it is renamed into place."""
    parent, name = os.path.split(path)
    return os.path.join(parent, f".{name}.kas-partial")


def fetch_all(ctx: Context, specs: list[RepoSpec]) -> None:
    """Fetch the remote repos among ``specs`` concurrently."""
    settings = FetchSettings(ctx)
    remote = [s for s in specs if not s.is_local]
    if not remote:
        return
    with progress_for(ctx) as progress:
        tasks = [functools.partial(fetch_repo, ctx, s, settings, progress) for s in remote]
        run_parallel(ctx, recorded(ctx, "fetch", remote, tasks, settings))


def fetch_repo(ctx: Context, spec: RepoSpec, settings: FetchSettings,
               progress: Progress) -> str:
    """CLI-088 for one repository; returns cloned, fetched or unchanged."""
    backend = backend_for(ctx, spec, settings)
    if settings.depth and spec.refspec is not None:
        ctx.warn_once(("shallow-refspec", spec.name),
                      'Shallow cloning is not supported for legacy refspec on repository '
                      '"%s". Performing full clone.', spec.name)
    origin_ok = False
    if not os.path.exists(spec.path) or _is_empty_dir(spec.path):
        log.info("Cloning repository %s", spec.name)
        progress.start(spec.name, "cloning")
        origin_ok = clone_atomically(backend)
        ctx.fresh_clones.add(spec.path)
    else:
        backend.require_checkout()
        progress.start(spec.name, "checking")
    if not origin_ok:
        backend.sync_origin()
    if settings.update and spec.commit:
        ctx.warn_once(("update-pinned", spec.name),
                      'Update of "%s" requested, but repo is pinned to a fixed commit. '
                      "Not updating.", spec.name)
    if not settings.update or spec.commit:
        present = backend.present_ref()
        if present is not None:
            log.info("Repository %s already contains %s as %s", spec.name, *present)
            progress.finish(spec.name, "up to date")
            return "cloned" if spec.path in ctx.fresh_clones else "unchanged"
    progress.update(spec.name, "fetching")
    backend.fetch()
    log.info("Repository %s updated", spec.name)
    progress.finish(spec.name, "updated")
    return "cloned" if spec.path in ctx.fresh_clones else "fetched"


def _is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def remove_leftover_partial(temp: str) -> None:
    """Remove the partial clone ``temp`` an interrupted earlier run left.

    Only a real directory is ours to delete: a symlink or a file at that
    name was put there by someone else, and following or deleting it could
    destroy data that is not kas's.
    """
    if os.path.islink(temp) or (os.path.lexists(temp) and not os.path.isdir(temp)):
        kind = "a symbolic link" if os.path.islink(temp) else "not a directory"
        raise KasUserError(
            f"{temp} is where kas clones a repository before moving it into place, "
            f"but it is {kind}: remove or rename it and run kas again")
    if os.path.lexists(temp):
        shutil.rmtree(temp)


def clone_atomically(backend: Backend) -> bool:
    """Clone to a temporary sibling and rename it to the repo path."""
    path = backend.path
    temp = partial_path(path)
    remove_leftover_partial(temp)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        origin_ok = backend.clone(temp)
        os.rename(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return origin_ok
