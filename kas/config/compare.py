"""The configuration part of ``kas diff`` (CLI-160 ... CLI-162)."""

from __future__ import annotations

import copy
from typing import Any

from kas.config.merge import merge

# (key path, old value, new value) of one changed leaf.
Change = tuple[tuple[str, ...], Any, Any]

# The keys that give a repo's revision on each side of ``kas diff`` (CLI-162),
# in order of preference.  As kas 5.5 does, the revision a repo comes from is
# its commit, else its tag; the revision it goes to may also be a branch (the
# second configuration's branch is what its checkout is on).
OLD_REVISION_KEYS = ("commit", "tag")
NEW_REVISION_KEYS = ("commit", "tag", "branch")


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
        elif before != after:
            # Equal values of different types (1 and true, 2 and 2.0) are
            # no change, as for kas 5.5.
            changes.append((path + (key,), before, after))
    return changes


def changed_revisions(changes: list[Change]) -> dict[str, tuple[str, str]]:
    """CLI-162: repo id -> (old, new) revision, in the order of ``changes``,
    for repos whose revision keys changed: from the changed commit (else
    tag) of the first configuration to the changed commit (else tag, else
    branch) of the second, as kas 5.5 pairs them (a tag replaced by a
    branch lists the commits in between too)."""
    old_values: dict[str, dict[str, str]] = {}
    new_values: dict[str, dict[str, str]] = {}
    for path, old, new in changes:
        if len(path) != 3 or path[0] != "repos" or path[2] not in NEW_REVISION_KEYS:
            continue
        repo, key = path[1], path[2]
        old_values.setdefault(repo, {})
        new_values.setdefault(repo, {})
        if old is not None and key in OLD_REVISION_KEYS:
            old_values[repo][key] = str(old)
        if new is not None:
            new_values[repo][key] = str(new)
    revisions: dict[str, tuple[str, str]] = {}
    for repo, old_keys in old_values.items():
        old_rev = first_of(old_keys, OLD_REVISION_KEYS)
        new_rev = first_of(new_values[repo], NEW_REVISION_KEYS)
        if old_rev and new_rev:
            revisions[repo] = (old_rev, new_rev)
    return revisions


def first_of(values: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The value of the first of ``keys`` that ``values`` has."""
    return next((values[key] for key in keys if key in values), None)
