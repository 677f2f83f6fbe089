"""Pinning floating repositories in lock files (CLI-150 ... CLI-153, INC-088).

Runs after the setup pipeline has fetched and checked out every repo, so
each ref can be resolved locally.  Nothing is written before every repo
has been resolved, and files are replaced atomically (kas.lock.model).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.lock import lock_file_of
from kas.lock.model import LockFile, display_path, replace_files

if TYPE_CHECKING:
    from kas.config.model import Config
    from kas.context import Context
    from kas.repos.model import RepoSpec
    from kas.vcs import ResolvedRef
    from kas.vcs.base import Commit

log = logging.getLogger(__name__)


def managed_repos(ctx: Context) -> list[RepoSpec]:
    """Repos kas fetches (with a url), in configuration order."""
    return [spec for spec in ctx.repos.values() if not spec.is_local]


def floating_repos(ctx: Context) -> list[RepoSpec]:
    """CLI-151: managed repos whose effective commit is unset."""
    return [spec for spec in managed_repos(ctx) if not spec.commit]


def resolve_refs(ctx: Context, specs: list[RepoSpec]) -> dict[str, ResolvedRef]:
    """repo id -> ResolvedRef of the checked-out repositories."""
    from kas.vcs import fetch_settings, resolve_configured_ref
    from kas.vcs.cache import warn_offline_pins

    warn_offline_pins(ctx, specs, fetch_settings(ctx).offline)
    resolved: dict[str, ResolvedRef] = {}
    for spec in specs:
        ref = resolve_configured_ref(ctx, spec)
        if ref is None:     # not a pin to write (hg finds no changeset)
            raise KasUserError(f'Cannot resolve the ref of repository "{spec.name}" to a '
                               "commit")
        resolved[spec.id] = ref
    return resolved


def lock_files_in_use(config: Config) -> list[LockFile]:
    """The lock files the configuration loaded, in include order (once each)."""
    seen, found = set(), []
    for loaded in config.all_files:
        real = os.path.realpath(loaded.path)
        if loaded.is_lock and real not in seen:
            seen.add(real)
            found.append(LockFile.from_loaded(loaded))
    return found


def lock(ctx: Context, indent: int | None = None,
         sort: bool = False) -> dict[str, list[Commit]]:
    """``kas lock`` once the pipeline has run (CLI-151, CLI-152); returns
    the commits each updated pin moved over (repo name -> commits, newest
    first), for the command to print."""
    candidates = floating_repos(ctx)
    if not candidates:
        log.info("No floating repos found. Nothing to lock.")
        return {}
    config = ctx.config
    assert config is not None, "the setup pipeline loads the configuration first"
    resolved = resolve_refs(ctx, candidates)
    lock_files = lock_files_in_use(config)
    remaining, moved = update_existing_locks(ctx, lock_files, candidates, resolved)
    if remaining:
        top = add_to_top_lock(config, lock_files, remaining, resolved)
        if top.is_new:
            lock_files.append(top)
    write_lock_files(lock_files, indent, sort)
    return moved


def update_existing_locks(ctx: Context, lock_files: list[LockFile], candidates: list[RepoSpec],
                          resolved: dict[str, ResolvedRef]
                          ) -> tuple[list[RepoSpec], dict[str, list[Commit]]]:
    """CLI-152 step 1; returns the candidates no lock file covers and the
    commits each updated lock moves over (repo id -> commits).

    A repo pinned in several project lock files is updated in each of them
    (INC-088: "in the lock files where they are found"): updating only the
    first would leave a later, higher-priority pin in force (INC-086)."""
    handled: set[str] = set()
    moved: dict[str, list[Commit]] = {}
    for lock_file in lock_files:
        pins = lock_file.pins()
        for spec in [s for s in candidates if s.id in pins]:
            handled.add(spec.id)
            old, new = pins[spec.id], resolved[spec.id]
            if new.matches(old):
                log.info("Lock of %s is up-to-date: %s", spec.name, new.commit)
            elif lock_file.external:
                log.warning("Repo %s is locked in remote lockfile %s. Not updating.",
                            spec.name, lock_file.path)
            else:
                log.info("Updating lock of %s: %s -> %s", spec.name, old, new.commit)
                commits = commits_between(ctx, spec, old, new.commit)
                if commits is not None:
                    moved[spec.id] = commits
                lock_file.set_pin(spec.id, new.commit)
    return [s for s in candidates if s.id not in handled], moved


def add_to_top_lock(config: Config, lock_files: list[LockFile], specs: list[RepoSpec],
                    resolved: dict[str, ResolvedRef]) -> LockFile:
    """CLI-152 step 2: pins for uncovered repos go to the first file's lock."""
    log.warning("The following repos are not covered by any lockfile. Adding to top "
                "lockfile: %s", ", ".join(spec.name for spec in specs))
    path = lock_file_of(config.top_files[0])
    real = os.path.realpath(path)
    top = next((f for f in lock_files if os.path.realpath(f.path) == real), None)
    if top is None:
        top = LockFile.new(path)
    for spec in specs:
        log.info("Adding lock of %s: %s", spec.name, resolved[spec.id].commit)
        top.set_pin(spec.id, resolved[spec.id].commit)
    return top


def write_lock_files(lock_files: list[LockFile], indent: int | None, sort: bool) -> None:
    """CLI-152 steps 3 and 4: only files with changes are written."""
    contents: dict[str, str] = {}
    for lock_file in lock_files:
        if not lock_file.pins_set:
            continue
        lock_file.upgrade_version()
        log.info("Updating lockfile %s", display_path(lock_file.path))
        contents[lock_file.path] = lock_file.render(indent, sort)
    replace_files(contents)


def commits_between(ctx: Context, spec: RepoSpec, old: str, new: str) -> list[Commit] | None:
    """The commits from ``old`` to ``new``; None (with a warning) if ``old``
    is unknown to the checkout."""
    from kas.vcs.query import History

    history = History.of(ctx, spec.type, spec.path)
    old_id = history.resolve(old) if history else None
    if history is None or old_id is None:
        log.warning("Cannot list the commits of %s: %s is not in the repository",
                    spec.name, old)
        return None
    return history.commits(old_id, new)
