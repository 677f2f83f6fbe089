"""Version control: the backends kas drives (git, Mercurial) and the
read-only queries on checkouts.

This layer sits below both the configuration loader and the repository
engine: it knows how to run VCS commands on one directory, but nothing
about configuration files or about when to fetch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.vcs.base import Backend, CheckoutSpec, FetchSettings
from kas.vcs.git import GitBackend
from kas.vcs.hg import HgBackend

if TYPE_CHECKING:
    from kas.context import Context

# The backend class of each repository type a configuration may name.
BACKENDS: dict[str, type[Backend]] = {"git": GitBackend, "hg": HgBackend}


def backend_for(ctx: Context, spec: CheckoutSpec, settings: FetchSettings) -> Backend:
    """The backend working on the checkout of ``spec``."""
    try:
        backend_class = BACKENDS[spec.type]
    except KeyError:
        raise KasUserError(f'Repo type "{spec.type}" not supported.') from None
    return backend_class(ctx, spec, settings)


__all__ = ["BACKENDS", "Backend", "CheckoutSpec", "FetchSettings", "backend_for"]
