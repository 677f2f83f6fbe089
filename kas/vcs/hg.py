"""Mercurial backend (CLI-081, CLI-088 step 7): clone, pull, update, import."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

from kas.errors import CommandError, KasUserError, format_command
from kas.vcs.base import (
    Backend,
    CacheMechanics,
    Commit,
    LocalRepo,
    PatchDate,
    PatchFailure,
    Target,
    verify_commit,
    warn_short_hash,
)

log = logging.getLogger(__name__)

PATCH_USER = "kas <kas@example.com>"

# ``<rev>:<node>``, the form ``hg log --template '{rev}:{node}'`` prints.
REV_NODE = re.compile(r"(\d+):([0-9a-f]+)")


def revset_string(name: str) -> str:
    """A quoted revset string for ``name``."""
    return "'{}'".format(name.replace("\\", "\\\\").replace("'", "\\'"))


def _literal(name: str) -> str:
    """A revset pattern matching exactly ``name``."""
    return revset_string("literal:" + name)


def branch_name(name: str) -> str:
    """``name`` as a Mercurial branch name: ':' is not allowed in one."""
    return name.replace(":", "-")


LOG_TEMPLATE = ("{node}\\x1f{person(author)}\\x1f{email(author)}\\x1f"
                "{date|isodatesec}\\x1f{desc}\\x00")


class HgRepo(LocalRepo):
    """A Mercurial repository (a checkout, or a repo cache entry)."""

    MARKER = ".hg"
    FETCH_STAMPS = (("store", "00changelog.i"),)

    def node(self, revset: str) -> str | None:
        """The last changeset of ``revset``, or None."""
        nodes = self._log(revset)
        return nodes[-1] if nodes else None

    def _log(self, revset: str) -> list[str]:
        result = self.run(["hg", "log", "-r", revset, "--template", "{node}\n"])
        return result.stdout.split() if result.returncode == 0 else []

    def nodes(self, rev: str | None) -> list[str]:
        """The nodes of the changesets Mercurial resolves ``rev`` to (none
        if it does not resolve).  ``rev`` is first looked up as one name or
        id, quoted so that no character of it is revset syntax; only if
        that finds nothing is it read as a revision expression such as
        ``0:3e52...``."""
        if not rev:
            return []
        # No name may contain ':', so ``0:3e52...`` needs only one hg process.
        revsets = (rev,) if ":" in rev else (revset_string(rev), rev)
        for revset in revsets:
            nodes = self._log(revset)
            if nodes:
                return nodes
        return []

    def commit_of(self, rev: str) -> str | None:
        nodes = self.nodes(rev)
        return nodes[0] if len(nodes) == 1 else None

    def head(self) -> str | None:
        return self.node(".")

    def is_dirty(self) -> bool:
        result = self.run(["hg", "status", "-mard"], check=True)
        return bool(result.stdout.strip())

    def commits(self, old: str, new: str) -> list[Commit]:
        result = self.run(["hg", "log", "-r", f"reverse(only({new}, {old}))",
                           "--template", LOG_TEMPLATE])
        if result.returncode != 0:
            return []
        return [Commit.from_record(record) for record in result.stdout.split("\0")
                if record.strip()]

    def unshallow(self) -> None:
        pass        # kas makes no shallow hg clones


class HgBackend(Backend):
    REPO = HgRepo
    CACHE_MECHANICS: type[HgCacheMechanics]
    MARKER = HgRepo.MARKER

    @property
    def repo(self) -> HgRepo:
        return HgRepo(self.ctx, self.path, self.run)

    def _node(self, revset: str) -> str | None:
        return self.repo.node(revset)

    def _nodes(self, rev: str) -> list[str]:
        return self.repo.nodes(rev)

    # -- fetch ---------------------------------------------------------

    def clone(self, into: str) -> bool:
        if self.clone_from_cache(into):
            return False
        try:
            self.ctx.runner.run(["hg", "clone", "-q", "--", self.url, into],
                                cwd=os.path.dirname(into), env=self.env)
        except CommandError as err:
            raise self.fetch_failed(err.stderr or "") from None
        return True

    def sync_origin(self) -> None:
        if self._configured_origin() != self.url:
            self.ctx.warn_once(("hg-url", self.spec.id),
                               "Repo implementation does not support changing the remote url.")

    def _configured_origin(self) -> str | None:
        try:
            with open(os.path.join(self.path, ".hg", "hgrc")) as f:
                match = re.search(r"^default\s*=\s*(.*)$", f.read(), re.MULTILINE)
        except OSError:
            return None
        return match.group(1).strip() if match else None

    def present_ref(self) -> tuple[str, str] | None:
        spec = self.spec
        if spec.commit:
            # Several changesets: fetching cannot help, but checkout says why.
            if len(self._nodes(spec.commit)) != 1:
                return None
            if spec.tag and not self._node(f"tag({_literal(spec.tag)})"):
                return None
            return spec.commit, "commit"
        if spec.tag:
            return (spec.tag, "tag") if self._node(f"tag({_literal(spec.tag)})") else None
        if spec.branch:
            return (spec.branch, "branch") if self._branch_head() else None
        refspec = self.legacy_refspec()
        return (refspec, "commit") if self._nodes(refspec) else None

    def _branch_head(self) -> str | None:
        assert self.spec.branch is not None
        return self._node(f"max(branch({_literal(self.spec.branch)}))")

    def fetch(self) -> None:
        if self.fetch_without_remote():
            return
        result = self.run(["hg", "pull", "-q"], check=False)
        if result.returncode != 0:
            raise self.fetch_failed(result.stderr or result.stdout)

    # -- checkout ------------------------------------------------------

    def verify(self, commit: str) -> str:
        """CLI-091 for any revision that names exactly one changeset."""
        nodes = self._nodes(commit)
        if not nodes:
            raise self.not_found("Commit", commit)
        if len(nodes) > 1:
            raise KasUserError(f'Commit "{commit}" resolves to {len(nodes)} changesets in '
                               f'repository "{self.spec.name}", not to one')
        node = nodes[0]
        match = REV_NODE.fullmatch(commit)
        if match and node.startswith(match.group(2)):
            # The range <rev>:<node> is one changeset only if both parts
            # name it, so the node part is what CLI-091 compares.
            if node != match.group(2):
                warn_short_hash(self, commit)
            return node
        return verify_commit(self, node, commit)

    def target(self) -> Target:
        spec = self.spec
        if spec.tag:
            tag_commit = self._node(f"tag({_literal(spec.tag)})")
            if tag_commit is None:
                raise self.not_found("Tag", spec.tag)
            if spec.commit and self.verify(spec.commit) != tag_commit:
                raise self.tag_mismatch(tag_commit)
            return Target(tag_commit)
        if spec.branch:
            head = self._branch_head()
            if head is None:
                raise self.not_found("Branch", spec.branch)
            if not spec.commit:
                return Target(head)
            node = self.verify(spec.commit)
            if self.settings.depth == 0 and not self._node(
                    f"{node} and ancestors(branch({_literal(spec.branch)}))"):
                raise self.branch_lacks_commit()
            return Target(node)
        if spec.commit:
            return Target(self.verify(spec.commit))
        return Target(self.legacy_refspec())

    def tag_object(self) -> str | None:
        return None         # Mercurial tags name changesets, no tag objects

    def checkout(self, target: Target | None = None) -> str:
        # Signed repos are git only (CF-652): ``target`` is never given here.
        rev = (target or self.target()).rev
        self._checkout(rev, self.settings.force_checkout)
        return rev

    def _checkout(self, rev: str, force: bool) -> None:
        argv = ["hg", "checkout", "-q", rev]
        if force:
            argv.append("--clean")
        self.changing_tree(argv, rev)

    def force_checkout(self, rev: str, branch: str | None) -> None:
        self._checkout(rev, True)

    def remove_stale_locks(self) -> None:
        pass        # hg breaks the lock of a process that is gone by itself

    def is_at(self, rev: str) -> bool:
        head = self._node(".")
        return head is not None and head == self._node(rev)

    def head(self) -> str | None:
        return self._node(".")

    def resolve_commit(self) -> str | None:
        nodes = self._nodes(self.target().rev)
        return nodes[-1] if nodes else None

    # -- patches -------------------------------------------------------

    def _untracked(self) -> set[str]:
        return set(self.run(["hg", "status", "-un", "-0"]).stdout.split("\0")) - {""}

    @contextlib.contextmanager
    def patch_session(self, branch: str) -> Iterator[HgBackend]:
        before, untracked = self.head(), self._untracked()
        # A checkout always has a parent (an empty one the null revision).
        assert before is not None, f"{self.path}: hg found no working directory parent"
        self.run(["hg", "branch", "-q", "-f", branch_name(branch)])
        try:
            yield self
        except BaseException:
            self.run(["hg", "update", "-q", "--clean", before])
            for name in self._untracked() - untracked:
                os.remove(os.path.join(self.path, name))
            raise

    def apply_patch(self, path: str, message: str, date: PatchDate) -> PatchFailure | None:
        argv = ["hg", "import", "-q", "--no-commit", path]
        result = self.run(argv, check=False)
        if result.returncode != 0:
            return PatchFailure(format_command(argv), (result.stderr or result.stdout).strip())
        self.run(["hg", "commit", "-q", "--user", PATCH_USER, "--date", date.hg(),
                  "-m", message])
        return None


class HgCacheMechanics(CacheMechanics):
    """An hg repository without work tree holding everything the remote has."""

    def is_repository(self) -> bool:
        return all(os.path.exists(os.path.join(self.path, name))
                   for name in (".hg/store", ".hg/requires"))

    def view(self) -> Backend:
        return self.backend.at(self.path)

    def usable(self) -> bool:
        # A missing revlog fails the clone, which repairs the entry.
        return self.holds_ref()

    def init(self) -> None:
        self.run(["hg", "init", self.path], os.path.dirname(self.path))

    def fetch_remote(self) -> None:
        result = self.run(["hg", "pull", "-q", "--", self.backend.url], check=False)
        if result.returncode != 0:
            raise self.backend.fetch_failed(result.stderr or result.stdout)

    def health_problem(self) -> str | None:
        return self.fails(["hg", "verify", "-q"])

    def clone_into(self, into: str) -> None:
        # A local hg clone hard-links the revlogs (Mercurial breaks the link
        # before it writes to one), or copies them across file systems.
        self.run(["hg", "clone", "-q", "-U", "--", self.path, into], os.path.dirname(into))
        # As if cloned from the remote: its URL is the default path.
        with open(os.path.join(into, ".hg", "hgrc"), "w") as f:
            f.write(f"[paths]\ndefault = {self.backend.url}\n")

    def fetch_into_checkout(self) -> None:
        self.run(["hg", "pull", "-q", "--", self.path], self.backend.path)


HgBackend.CACHE_MECHANICS = HgCacheMechanics
