"""Providers of repositories for the include loop (see kas.config.loop).

:class:`RepoProvider` fetches and checks out the repositories an include
needs, using the definitions of the partial configuration (INC-042).
:class:`OnDiskRepoProvider` takes the repositories as they are on disk
and never fetches (``purge --dry-run``).
:class:`LocalRepoProvider` knows only repositories that need no fetching
(those without ``url``); tests that must not touch the network use it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.repos.model import repo_spec

if TYPE_CHECKING:
    from kas.config.model import Config
    from kas.context import Context


class RepoProvider:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def provide(self, config: Config, repo_ids: list[str]) -> dict[str, str]:
        from kas.repos.checkout import checkout_all
        from kas.repos.fetch import fetch_all

        specs = [repo_spec(config, repo_id) for repo_id in repo_ids]
        fetch_all(self.ctx, specs)
        checkout_all(self.ctx, specs)
        return {spec.id: spec.path for spec in specs}


class LocalRepoProvider:
    def provide(self, config: Config, repo_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for repo_id in repo_ids:
            spec = repo_spec(config, repo_id)
            if not spec.is_local:
                raise KasUserError(
                    f'Repository "{spec.name}" ({spec.url}) must be fetched to read an '
                    "include from it, which this provider does not do")
            found[repo_id] = spec.path
        return found


class OnDiskRepoProvider:
    def provide(self, config: Config, repo_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for repo_id in repo_ids:
            spec = repo_spec(config, repo_id)
            if not spec.is_local and not os.path.isdir(spec.path):
                raise KasUserError(
                    f'Repository "{spec.name}" is not on disk ({spec.path}), so the '
                    "configuration it includes cannot be read without fetching it")
            found[repo_id] = spec.path
        return found
