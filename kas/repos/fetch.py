"""Fetching repositories in parallel (CLI-087, CLI-088).

Each repository is one task on a bounded thread pool (kas.repos.parallel);
the first failure cancels the others.
A clone goes to a temporary sibling directory that is renamed into place
only when complete, so an interrupted clone never looks like a good repo.
"""

import logging
import os
import shutil

from kas.repos.parallel import run_parallel
from kas.repos.status import progress_for
from kas.vcs import FetchSettings, backend_for

log = logging.getLogger(__name__)


def partial_path(path):
    """Where a clone of ``path`` is made before it is renamed into place."""
    parent, name = os.path.split(path)
    return os.path.join(parent, f".{name}.kas-partial")


def fetch_all(ctx, specs):
    """Fetch the remote repos among ``specs`` concurrently."""
    settings = FetchSettings(ctx)
    remote = [s for s in specs if not s.is_local]
    if not remote:
        return
    if settings.offline:
        from kas.vcs.cache import offline_check

        # Issue 19.2: everything or nothing, before any checkout is touched.
        offline_check(ctx, [backend_for(ctx, s, settings) for s in remote])
    with progress_for(ctx) as progress:
        run_parallel(ctx, [(lambda s=s: fetch_repo(ctx, s, settings, progress))
                           for s in remote])


def fetch_repo(ctx, spec, settings, progress):
    """CLI-088 for one repository."""
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
            return
    progress.update(spec.name, "fetching")
    backend.fetch()
    log.info("Repository %s updated", spec.name)
    progress.finish(spec.name, "updated")


def _is_empty_dir(path):
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def clone_atomically(backend):
    """Clone to a temporary sibling and rename it to the repo path."""
    path = backend.path
    temp = partial_path(path)
    if os.path.lexists(temp):
        shutil.rmtree(temp)     # left by an interrupted earlier run
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        origin_ok = backend.clone(temp)
        os.rename(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return origin_ok
