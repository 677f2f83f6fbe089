"""The configuration part of ``kas diff`` (CLI-160 ... CLI-162)."""

from __future__ import annotations

import copy
from typing import Any

from kas.config.merge import merge

# (key path, old value, new value) of one changed leaf.
Change = tuple[tuple[str, ...], Any, Any]

# CLI-162: changed keys that name a revision of a repo.
REVISION_KEYS = ("commit", "tag")


def comparable(data: dict[str, Any]) -> dict[str, Any]:
    """CLI-160: the merged config with includes removed and the overrides
    applied to the repos they name (CF-706/CF-707), without ``overrides``."""
    data = copy.deepcopy(data)
    header = data.get("header")
    if isinstance(header, dict):
        header.pop("includes", None)
    overrides = (data.pop("overrides", None) or {}).get("repos") or {}
    repos = data.get("repos") or {}
    for repo_id, override in overrides.items():
        if repo_id in repos and override:
            repos[repo_id] = merge(repos[repo_id] or {}, override)
    return data


def changed_values(old: dict[str, Any], new: dict[str, Any],
                   path: tuple[str, ...] = ()) -> list[Change]:
    """CLI-161: [(path tuple, old, new)] for every differing leaf, in the
    order of ``old`` then keys only ``new`` has.

    A key only one side has is a change even when its value is null
    (issue 16.6): the missing side is reported as None all the same."""
    changes: list[Change] = []
    for key in list(old) + [k for k in new if k not in old]:
        if key not in old or key not in new:
            changes.append((path + (key,), old.get(key), new.get(key)))
            continue
        before, after = old[key], new[key]
        if isinstance(before, dict) and isinstance(after, dict):
            changes += changed_values(before, after, path + (key,))
        elif before != after or type(before) is not type(after):
            changes.append((path + (key,), before, after))
    return changes


def changed_revisions(changes: list[Change]) -> dict[str, tuple[str, str]]:
    """CLI-162: repo id -> (old, new) revision, in the order of ``changes``,
    for repos whose commit (else tag) changed and is set on both sides."""
    per_repo: dict[str, dict[str, tuple[str, str]]] = {}
    for path, old, new in changes:
        if len(path) == 3 and path[0] == "repos" and path[2] in REVISION_KEYS \
                and old is not None and new is not None:
            per_repo.setdefault(path[1], {})[path[2]] = (str(old), str(new))
    return {repo: keys.get("commit") or keys["tag"] for repo, keys in per_repo.items()}
