"""The repository loop (INC-040 ... INC-048): load, find the repositories
that includes need, make them available, load again.

The loop only talks to repositories through a *provider*: an object with

    provide(config, repo_ids) -> {repo id: directory}

that makes the named repositories of the partial configuration available
on disk (fetch, verify, check out) and returns the directories of those it
handled.  Ids it cannot handle are left out; the loop then stops with the
"Could not fetch all repos" error once a pass makes no progress.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable, Protocol

from kas.config.includes import ConfigLoader
from kas.config.merge import merge
from kas.config.model import Config
from kas.errors import IncludeError

if TYPE_CHECKING:
    from kas.config.includes import LoadedFile
    from kas.context import Context


class Provider(Protocol):
    """Makes repositories of a partial configuration available on disk."""

    def provide(self, config: Config, repo_ids: list[str]) -> dict[str, str]:
        """{repo id: directory} of the ids of ``repo_ids`` it handled."""
        ...


class ConfigResolver:
    """Runs the passes for one command line; yields the final Config."""

    def __init__(self, ctx: Context, top_files: Iterable[str], provider: Provider) -> None:
        self.ctx = ctx
        self.loader = ConfigLoader(ctx, top_files)
        self.provider = provider
        self.known: dict[str, str] = {}      # repo id -> directory
        self.config: Config | None = None
        self.missing: list[str] = []

    def first_pass(self) -> Config:
        """Step ``init_setup_repos``: load with no repository known."""
        return self._pass()

    def complete(self) -> Config:
        """Step ``repo_setup_loop``: provide missing repos until none is."""
        assert self.config is not None, "first_pass() comes first"
        previous = None
        while self.missing:
            if self.missing == previous:
                raise IncludeError(
                    "Could not fetch all repos needed by includes. Missing repos: {}"
                    .format(", ".join(self.missing)))
            defined = self.config.repos()
            wanted = [rid for rid in self.missing if rid in defined]
            if wanted:
                self.known.update(self.provider.provide(self.config, wanted))
            previous = self.missing
            self._pass()
        return self.config

    def _pass(self) -> Config:
        loaded, self.missing = self.loader.run_pass(self.known)
        self.config = build_config(self.ctx, loaded, self.loader)
        return self.config


def build_config(ctx: Context, loaded: list[LoadedFile], loader: ConfigLoader) -> Config:
    """Fold the loaded files into the effective configuration (INC-050)."""
    # --update: lock files take no part in the merge (INC-085).
    used = [f for f in loaded if not (ctx.update and f.in_lock)]
    data = merge_files(used)
    if used:
        header = dict(data.get("header") or {})
        # The highest version of the files merged (INC-063).
        header["version"] = max(f.version for f in used)
        data["header"] = header
    return Config(ctx, data, used, loader.top_files, loader.top_repo_path, all_files=loaded)


def merge_files(files: Iterable[LoadedFile],
                on_set: Callable[[LoadedFile, tuple[str, ...], Any], None] | None = None,
                ) -> dict[str, Any]:
    """The files' data merged in order, later files winning (INC-050);
    ``on_set(file, key path, value)`` is told every value a file sets."""
    data: dict[str, Any] = {}
    for loaded_file in files:
        data = merge(data, loaded_file.data,
                     None if on_set is None else functools.partial(on_set, loaded_file))
    return data


def resolve(ctx: Context, top_files: Iterable[str], provider: Provider) -> Config:
    """Load the complete configuration in one call."""
    resolver = ConfigResolver(ctx, top_files, provider)
    resolver.first_pass()
    return resolver.complete()
