"""Providers of repositories for the include loop (see kas.config.loop).

:class:`LocalRepoProvider` knows only repositories that need no fetching:
those without ``url`` (the top repository or a local ``path``).  A remote
repository needed by an include is a clear error until the fetch engine
provides it.
"""

from kas.errors import KasUserError
from kas.repos.model import repo_spec


class LocalRepoProvider:
    def provide(self, config, repo_ids):
        found = {}
        for repo_id in repo_ids:
            spec = repo_spec(config, repo_id)
            if not spec.is_local:
                raise KasUserError(
                    f'Repository "{spec.name}" ({spec.url}) must be fetched to read an '
                    "include from it, but this version of kas cannot fetch repositories yet")
            found[repo_id] = spec.path
        return found
