"""Checking out every repository at its configured revision (CLI-090)."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from kas.repos.parallel import run_in_order
from kas.repos.record import recorded
from kas.repos.signatures import SignatureVerifier
from kas.repos.status import progress_for
from kas.vcs import backend_for

if TYPE_CHECKING:
    from kas.context import Context
    from kas.repos.model import RepoSpec
    from kas.repos.status import Progress

log = logging.getLogger(__name__)


def checkout_all(ctx: Context, specs: list[RepoSpec]) -> None:
    """Check out the remote repos among ``specs``.  The work runs in
    parallel; messages and errors come in configuration order.  Signed
    repos without url are verified first (issue 24.2)."""
    verifier = SignatureVerifier(ctx)
    remote = [s for s in specs if not s.is_local]
    verifier.prepare(specs)
    for spec in specs:
        if spec.is_local and spec.signed:
            verifier.verify_local(backend_for(ctx, spec))
    with progress_for(ctx) as progress:
        tasks = [functools.partial(checkout_repo, ctx, s, progress, verifier)
                 for s in remote]
        run_in_order(ctx, recorded(ctx, "checkout", remote, tasks))


def checkout_repo(ctx: Context, spec: RepoSpec, progress: Progress,
                  verifier: SignatureVerifier) -> None:
    backend = backend_for(ctx, spec)
    backend.require_checkout()
    progress.start(spec.name, "checking out")
    # CLI-090 step 1: verify first, then check out exactly what was verified.
    target = verifier.verify(backend) if spec.signed else None
    # Changes an interrupted kas left are kas's own, not the user's.
    finished = backend.finish_interrupted_checkout()
    if finished is not None:
        log.info("Repo %s: completed the checkout to %s that an interrupted kas run had "
                 "begun", spec.name, finished)
    # A clone made by this run cannot hold local changes.
    fresh = spec.path in ctx.fresh_clones
    if not backend.settings.force_checkout and not fresh and backend.is_dirty():
        log.warning("Repo %s is dirty - no checkout", spec.name)
        progress.finish(spec.name, "dirty, not checked out")
        return
    rev = backend.checkout(target)
    log.info("Repository %s checked out to %s", spec.name, rev)
    progress.finish(spec.name, "checked out")
