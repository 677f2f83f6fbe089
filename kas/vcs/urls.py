"""URL rewriting and fetch settings from the environment (CLI-083 ... CLI-086)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlparse

from kas.environment import switched_on
from kas.errors import KasUserError


def premirror_rules(environ: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """KAS_PREMIRRORS as (compiled regex, replacement) pairs; malformed
    lines are ignored."""
    rules: list[tuple[re.Pattern[str], str]] = []
    for line in (environ.get("KAS_PREMIRRORS") or "").splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            rules.append((re.compile(parts[0]), parts[1]))
        except re.error:
            continue
    return rules


def effective_url(url: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    """The URL kas clones from: the first matching premirror applied."""
    for regex, replacement in rules:
        if regex.match(url):
            return regex.sub(replacement, url, count=1)
    return url


def is_relative_path(url: str) -> bool:
    """Whether ``url`` is a relative file system path such as ``../example``:
    not absolute, and no ``:`` before the first ``/`` (which would make it a
    scheme, ``scheme://...``, or git's scp-like ``host:path``)."""
    if not url or os.path.isabs(url):
        return False
    colon, slash = url.find(":"), url.find("/")
    return colon < 0 or 0 <= slash < colon


def absolute_url(url: str, work_dir: str) -> str:
    """``url`` with a relative path made absolute against ``work_dir``, so
    that it means the same to git and hg whatever directory they run in
    (issue 24.1); any other URL unchanged.  ``..`` goes up from the real
    work directory, as it does for a command run in it, and the result is
    normalised as ``hg clone`` records it (so hg sees no changed URL)."""
    if not is_relative_path(url):
        return url
    return os.path.normpath(os.path.join(os.path.realpath(work_dir), url))


def qualified_name(url: str) -> str:
    """Name of the reference repository of ``url`` (CLI-084)."""
    parsed = urlparse(url)
    name = parsed.netloc + parsed.path
    if not parsed.netloc and not parsed.scheme:
        name = url              # scp-like "host:path" or a plain path
    for char in "@:/*":
        name = name.replace(char, ".")
    return name


def clone_depth(environ: Mapping[str, str]) -> int:
    """KAS_CLONE_DEPTH as an int; 0 means full clones."""
    value = environ.get("KAS_CLONE_DEPTH", "0") or "0"
    if not value.isdigit():
        raise KasUserError("KAS_CLONE_DEPTH must be a number")
    return int(value)


def offline_requested(environ: dict[str, str]) -> bool:
    """Whether KAS_OFFLINE asks for a run without network access."""
    return switched_on(environ, "KAS_OFFLINE")
