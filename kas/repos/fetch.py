"""Fetching repositories in parallel (CLI-087, CLI-088).

Each repository is one task on a bounded thread pool (kas.repos.parallel);
the first failure cancels the others.
A clone is built like every directory kas builds (kas.fsutil.build_dir):
in a temporary sibling directory that is renamed into place only when
complete, so an interrupted clone never looks like a good repo.  That
directory is private to the kas process making it: its name is unique and
the process holds a lock in it while it clones, so a leftover is removed
only once its owner is gone, never while another kas still clones into it.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING

from kas.fsutil import build_dir, remove_abandoned
from kas.repos.parallel import run_parallel
from kas.repos.record import recorded
from kas.repos.status import progress_for
from kas.vcs import backend_for, fetch_settings

if TYPE_CHECKING:
    from kas.context import Context
    from kas.repos.model import RepoSpec
    from kas.repos.status import Progress
    from kas.vcs import Backend

log = logging.getLogger(__name__)

# What a partial clone is, for the error about a foreign file at its name.
CLONE_PURPOSE = "clones a repository"


def fetch_all(ctx: Context, specs: list[RepoSpec]) -> None:
    """Fetch the remote repos among ``specs`` concurrently."""
    settings = fetch_settings(ctx)
    remote = [s for s in specs if not s.is_local]
    if not remote:
        return
    if settings.offline:
        from kas.vcs.cache import offline_check

        # Issue 19.2: everything or nothing, before any checkout is touched.
        offline_check(ctx, [backend_for(ctx, s) for s in remote])
    with progress_for(ctx) as progress:
        tasks = [functools.partial(fetch_repo, ctx, s, progress) for s in remote]
        run_parallel(ctx, recorded(ctx, "fetch", remote, tasks))


def fetch_repo(ctx: Context, spec: RepoSpec, progress: Progress) -> str:
    """CLI-088 for one repository; returns cloned, fetched or unchanged."""
    backend = backend_for(ctx, spec)
    settings = backend.settings
    if settings.depth and spec.refspec is not None:
        ctx.warn_once(("shallow-refspec", spec.name),
                      'Shallow cloning is not supported for legacy refspec on repository '
                      '"%s". Performing full clone.', spec.name)
    origin_ok = False
    remove_abandoned(spec.path, CLONE_PURPOSE)
    if not os.path.exists(spec.path) or _is_empty_dir(spec.path):
        log.info("Cloning repository %s", spec.name)
        progress.start(spec.name, "cloning")
        cloned, origin_ok = clone_atomically(backend)
        if cloned:
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


def clone_atomically(backend: Backend) -> tuple[bool, bool]:
    """Clone into a private temporary sibling and rename it to the repo
    path.  Returns (whether this clone is the repo now, whether its origin
    already is the effective URL)."""
    cloned, origin_ok = build_dir(backend.path, backend.clone, CLONE_PURPOSE)
    if not cloned:
        # Another kas reading the same work directory (which needs only a
        # shared lock) was faster: its clone is as good.
        log.debug("Repository %s was cloned by another kas meanwhile", backend.spec.name)
        return False, False
    return True, origin_ok
