"""Version control: the backends kas drives (git, Mercurial) and the
read-only queries on checkouts.

This layer sits below both the configuration loader and the repository
engine: it knows how to run VCS commands on one directory, but nothing
about configuration files or about when to fetch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.vcs.base import Backend, CheckoutSpec, FetchSettings, LocalRepo, ResolvedRef
from kas.vcs.git import GitBackend
from kas.vcs.hg import HgBackend

if TYPE_CHECKING:
    from kas.context import Context

# The backend class of each repository type a configuration may name; its
# REPO is the kind's local repository.
BACKENDS: dict[str, type[Backend]] = {"git": GitBackend, "hg": HgBackend}


def local_repo(ctx: Context, vcs_type: str, path: str) -> LocalRepo | None:
    """The repository of kind ``vcs_type`` at ``path``, or None if there is
    none of that kind."""
    return BACKENDS[vcs_type].REPO.at(ctx, path)


def fetch_settings(ctx: Context) -> FetchSettings:
    """The fetch settings of this run, made on first use and then kept on
    the context: every step (fetch, checkout, patch, lock, dump,
    provenance) sees the same ones, and the cache is set up once."""
    if ctx.fetch_settings is None:
        ctx.fetch_settings = _read_fetch_settings(ctx)
    return ctx.fetch_settings


def _read_fetch_settings(ctx: Context) -> FetchSettings:
    from kas.vcs.cache import repo_cache
    from kas.vcs.urls import clone_depth, offline_requested, premirror_rules

    depth = clone_depth(ctx.caller_env)
    premirrors = premirror_rules(ctx.caller_env)
    ref_dir = ctx.caller_env.get("KAS_REPO_REF_DIR")
    ref_dir = os.path.abspath(ref_dir) if ref_dir else None
    if ref_dir and os.path.exists(ref_dir) and not os.path.isdir(ref_dir):
        raise KasUserError(f"KAS_REPO_REF_DIR {ref_dir} is not a directory")
    # Issue 19: KAS_OFFLINE and the managed cache, which replaces the
    # reference repositories when both are set.
    offline = offline_requested(ctx.caller_env)
    cache = repo_cache(ctx, offline)
    return FetchSettings(
        depth=depth,
        premirrors=premirrors,
        ref_dir=None if cache is not None else ref_dir,
        update=ctx.update,
        offline=offline,
        cache=cache,
        force_checkout=bool(getattr(ctx.args, "force_checkout", False)))


def backend_for(ctx: Context, spec: CheckoutSpec) -> Backend:
    """The backend working on the checkout of ``spec``, with the run's
    fetch settings."""
    try:
        backend_class = BACKENDS[spec.type]
    except KeyError:
        raise KasUserError(f'Repo type "{spec.type}" not supported.') from None
    return backend_class(ctx, spec, fetch_settings(ctx))


def resolve_configured_ref(ctx: Context, spec: CheckoutSpec) -> ResolvedRef | None:
    """What the configured ref of ``spec`` names in its checkout now (None
    if it names no single commit, as an hg revision may): the one
    resolution that ``kas lock``, ``dump --resolve-refs`` and the
    provenance attestation share."""
    backend = backend_for(ctx, spec)
    backend.require_checkout()
    tag_object = backend.tag_object() if spec.tag else None
    commit = backend.resolve_commit()
    return ResolvedRef(commit, tag_object) if commit is not None else None


__all__ = ["BACKENDS", "Backend", "CheckoutSpec", "FetchSettings", "LocalRepo", "ResolvedRef",
           "backend_for", "fetch_settings", "local_repo", "resolve_configured_ref"]
