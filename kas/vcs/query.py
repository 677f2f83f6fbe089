"""Read-only queries on checkouts, git or Mercurial.

* :func:`vcs_root` and :func:`inspect`: the checkout that holds a
  directory kas does not manage (the top repository of a configuration,
  url-less repos).  They never fail the run: a missing tool or a directory
  outside version control yields None.
* :class:`History`: resolving revisions and listing the commits between
  two of them, for ``kas lock --update`` (what moved) and ``kas diff``
  (what differs).  Revisions are validated first so the caller can say
  which one is unknown.

Every command runs through the context's runner, like the backends'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kas.errors import CommandError
from kas.fsutil import find_program
from kas.vcs import local_repo
from kas.vcs.base import Commit

if TYPE_CHECKING:
    from kas.context import Context
    from kas.vcs.base import LocalRepo


def _query(ctx: Context, argv: list[str], cwd: str) -> str | None:
    """stdout of ``argv`` run in ``cwd``, or None if it fails or is missing."""
    try:
        result = ctx.runner.run(argv, cwd=cwd, env=ctx.vcs_env(), check=False)
    except CommandError:        # the program is not installed
        return None
    return result.stdout if result.returncode == 0 else None


def vcs_root(ctx: Context, directory: str) -> str | None:
    """Root of the checkout containing ``directory`` (a submodule counts as
    its superproject), or None outside version control."""
    from kas.vcs.gitfiles import top_level

    known = top_level(directory, ctx.vcs_env())      # no git process if certain
    if known is not None:
        return known.root or hg_root(directory)
    out = _query(ctx, ["git", "rev-parse", "--show-toplevel",
                       "--show-superproject-working-tree"], directory)
    if out is not None:
        paths = [line for line in out.splitlines() if line]
        if paths:
            return min(paths)
    return hg_root(directory)


def hg_root(directory: str) -> str | None:
    """What ``hg root`` answers, without starting hg (slow) outside hg trees."""
    if find_program("hg", os.environ) is None:
        return None
    current = os.path.realpath(directory)
    while True:
        if os.path.isdir(os.path.join(current, ".hg")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


@dataclass(frozen=True)
class LocalCheckout:
    """What version control says about a local directory."""

    vcs: str                # "git" or "hg"
    url: str | None      # origin URL
    commit: str | None   # HEAD commit id
    dirty: bool             # tracked files differ from HEAD


def inspect(ctx: Context, directory: str) -> LocalCheckout | None:
    """The LocalCheckout of ``directory``, or None if not version controlled."""
    if not os.path.isdir(directory):
        return None
    commit = _query(ctx, ["git", "rev-parse", "--verify", "-q", "HEAD"], directory)
    if commit is not None or _query(ctx, ["git", "rev-parse", "--git-dir"], directory):
        url = _query(ctx, ["git", "remote", "get-url", "origin"], directory)
        status = _query(ctx, ["git", "status", "--porcelain", "--untracked-files=no"],
                        directory)
        return LocalCheckout("git", _strip(url), _strip(commit),
                             bool(status and status.strip()))
    if hg_root(directory) is None:
        return None
    commit = _query(ctx, ["hg", "log", "-r", ".", "--template", "{node}"], directory)
    if commit is not None:
        url = _query(ctx, ["hg", "paths", "default"], directory)
        status = _query(ctx, ["hg", "status", "-mard"], directory)
        return LocalCheckout("hg", _strip(url), _strip(commit),
                             bool(status and status.strip()))
    return None


def _strip(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


class History:
    """Read-only history queries on the checkout at ``path``, answered by
    its VCS kind (:class:`kas.vcs.base.LocalRepo`)."""

    def __init__(self, repo: LocalRepo) -> None:
        self.repo = repo

    @classmethod
    def of(cls, ctx: Context, vcs_type: str, path: str) -> History | None:
        """The History of ``path``, or None if it is no checkout of that type."""
        repo = local_repo(ctx, vcs_type, path)
        return cls(repo) if repo is not None else None

    def resolve(self, rev: str | None) -> str | None:
        """Full commit id of ``rev`` (commit id, tag or branch; for hg any
        revision naming one changeset), or None."""
        if not rev or rev.startswith("-"):
            return None
        return self.repo.commit_of(rev)

    def unshallow(self) -> None:
        """A shallow git clone lacks the history in between (CLI-162)."""
        self.repo.unshallow()

    def commits(self, old: str, new: str) -> list[Commit]:
        """Commits reachable from ``new`` but not from ``old``, newest first.

        Both must be full ids returned by :meth:`resolve`."""
        return self.repo.commits(old, new)
