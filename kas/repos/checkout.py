"""Checking out every repository at its configured revision (CLI-090)."""

import logging

from kas.repos.vcs import FetchSettings, backend_for

log = logging.getLogger(__name__)


def checkout_all(ctx, specs):
    """Check out the remote repos among ``specs``, in configuration order."""
    settings = FetchSettings(ctx)
    for spec in specs:
        if not spec.is_local:
            checkout_repo(ctx, spec, settings)


def checkout_repo(ctx, spec, settings):
    backend = backend_for(ctx, spec, settings)
    # Signature verification (credentials issue) goes here: before anything
    # unverified is checked out.
    if not settings.force_checkout and backend.is_dirty():
        log.warning("Repo %s is dirty - no checkout", spec.name)
        return
    rev = backend.checkout()
    log.info("Repository %s checked out to %s", spec.name, rev)
