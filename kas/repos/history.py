"""Commit logs between two revisions of one checkout (CLI-152 step 1, CLI-162).

Used by ``kas lock --update`` (what moved) and ``kas diff`` (what differs).
Works on git and Mercurial checkouts; revisions are validated first so the
caller can say which one is unknown.
"""

from __future__ import annotations

import os
from typing import NamedTuple

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# git log record: fields split by US, records ended by NUL (-z); the
# message comes last so a stray separator in it cannot shift fields.
_GIT_FORMAT = "%H%x1f%an%x1f%ae%x1f%cd%x1f%B"
_HG_TEMPLATE = ("{node}\\x1f{person(author)}\\x1f{email(author)}\\x1f"
                "{date|isodatesec}\\x1f{desc}\\x00")


class Commit(NamedTuple):
    commit: str         # full id
    author: str         # name only
    email: str
    commit_date: str    # YYYY-MM-DD HH:MM:SS, in the commit's own time zone
    message: str        # full message as stored (git: trailing newline kept)

    def as_json(self):
        return self._asdict()

    @property
    def subject(self):
        return self.message.split("\n", 1)[0]


class History:
    """Read-only history queries on the checkout at ``path``."""

    def __init__(self, ctx, vcs_type, path):
        self.ctx = ctx
        self.type = vcs_type
        self.path = path

    @classmethod
    def of(cls, ctx, vcs_type, path):
        """The History of ``path``, or None if it is no checkout of that type."""
        marker = ".hg" if vcs_type == "hg" else ".git"
        if not os.path.lexists(os.path.join(path, marker)):
            return None
        return cls(ctx, vcs_type, path)

    def _run(self, argv):
        return self.ctx.runner.run(argv, cwd=self.path, env=self.ctx.tool_env(), check=False)

    def resolve(self, rev):
        """Full commit id of ``rev`` (commit id, tag or branch; for hg any
        revision naming one changeset), or None."""
        if not rev or rev.startswith("-"):
            return None
        if self.type == "hg":
            from kas.repos.hg import resolve_nodes

            nodes = resolve_nodes(self._run, rev)
            return nodes[0] if len(nodes) == 1 else None
        result = self._run(["git", "rev-parse", "--verify", "-q", "--end-of-options",
                            f"{rev}^{{commit}}"])
        ids = result.stdout.split() if result.returncode == 0 else []
        return ids[-1] if ids else None

    def unshallow(self):
        """A shallow git clone lacks the history in between (CLI-162)."""
        if self.type != "git":
            return
        result = self._run(["git", "rev-parse", "--is-shallow-repository"])
        if result.stdout.strip() == "true":
            self._run(["git", "fetch", "-q", "--unshallow"])

    def commits(self, old, new):
        """Commits reachable from ``new`` but not from ``old``, newest first.

        Both must be full ids returned by :meth:`resolve`."""
        if self.type == "hg":
            argv = ["hg", "log", "-r", f"reverse(only({new}, {old}))",
                    "--template", _HG_TEMPLATE]
        else:
            argv = ["git", "log", "-z", f"--format={_GIT_FORMAT}",
                    f"--date=format:{DATE_FORMAT}", f"{old}..{new}", "--"]
        result = self._run(argv)
        if result.returncode != 0:
            return []
        return [_commit(record) for record in result.stdout.split("\0") if record.strip()]


def _commit(record):
    commit, author, email, date, message = record.lstrip("\n").split("\x1f", 4)
    # hg prints "YYYY-MM-DD HH:MM:SS +ZZZZ": keep date and time only.  The
    # message stays byte for byte as the VCS stores it (issue 16.6): git's
    # %B is the raw message; hg stores descriptions already stripped.
    return Commit(commit, author, email, date[:19], message)
