"""Mercurial backend (CLI-081, CLI-088 step 7): clone, pull, update, import."""

import contextlib
import logging
import os
import re

from kas.errors import CommandError
from kas.vcs.base import Backend, verify_commit

log = logging.getLogger(__name__)

PATCH_USER = "kas <kas@example.com>"


def revset_string(name):
    """A quoted revset string for ``name``."""
    return "'{}'".format(name.replace("\\", "\\\\").replace("'", "\\'"))


def _literal(name):
    """A revset pattern matching exactly ``name``."""
    return revset_string("literal:" + name)


class HgBackend(Backend):
    MARKER = ".hg"

    def _node(self, revset):
        result = self.run(["hg", "log", "-r", revset, "--template", "{node}\n"], check=False)
        nodes = result.stdout.split() if result.returncode == 0 else []
        return nodes[-1] if nodes else None

    # -- fetch ---------------------------------------------------------

    def clone(self, into):
        try:
            self.ctx.runner.run(["hg", "clone", "-q", "--", self.url, into],
                                cwd=os.path.dirname(into), env=self.env)
        except CommandError as err:
            raise self.fetch_failed(err.stderr or "") from None
        return True

    def sync_origin(self):
        if self._configured_origin() != self.url:
            self.ctx.warn_once(("hg-url", self.spec.id),
                               "Repo implementation does not support changing the remote url.")

    def _configured_origin(self):
        try:
            with open(os.path.join(self.path, ".hg", "hgrc")) as f:
                match = re.search(r"^default\s*=\s*(.*)$", f.read(), re.MULTILINE)
        except OSError:
            return None
        return match.group(1).strip() if match else None

    def present_ref(self):
        spec = self.spec
        if spec.commit:
            node = self._node(revset_string(spec.commit))
            if node and spec.tag and not self._node(f"tag({_literal(spec.tag)})"):
                return None
            return (spec.commit, "commit") if node else None
        if spec.tag:
            return (spec.tag, "tag") if self._node(f"tag({_literal(spec.tag)})") else None
        if spec.branch:
            return (spec.branch, "branch") if self._branch_head() else None
        return (spec.refspec, "commit") if self._node(revset_string(spec.refspec)) else None

    def _branch_head(self):
        return self._node(f"max(branch({_literal(self.spec.branch)}))")

    def fetch(self):
        result = self.run(["hg", "pull", "-q"], check=False)
        if result.returncode != 0:
            raise self.fetch_failed(result.stderr or result.stdout)

    # -- checkout ------------------------------------------------------

    def is_dirty(self):
        return bool(self.output(["hg", "status", "-mard"]))

    def verify(self, commit):
        node = self._node(revset_string(commit))
        if node is None:
            raise self.not_found("Commit", commit)
        return verify_commit(self, node, commit)

    def target(self):
        spec = self.spec
        if spec.tag:
            tag_commit = self._node(f"tag({_literal(spec.tag)})")
            if tag_commit is None:
                raise self.not_found("Tag", spec.tag)
            if spec.commit and self.verify(spec.commit) != tag_commit:
                raise self.tag_mismatch(tag_commit)
            return tag_commit
        if spec.branch:
            head = self._branch_head()
            if head is None:
                raise self.not_found("Branch", spec.branch)
            if not spec.commit:
                return head
            node = self.verify(spec.commit)
            if self.settings.depth == 0 and not self._node(
                    f"{node} and ancestors(branch({_literal(spec.branch)}))"):
                raise self.branch_lacks_commit()
            return node
        if spec.commit:
            return self.verify(spec.commit)
        return spec.refspec

    def tag_object(self):
        return None         # Mercurial tags name changesets, no tag objects

    def checkout(self, target=None):
        # Signed repos are git only (CF-652): ``target`` is never given here.
        rev = target or self.target()
        argv = ["hg", "checkout", "-q", rev]
        if self.settings.force_checkout:
            argv.append("--clean")
        self.run(argv)
        return rev

    def head(self):
        return self._node(".")

    def resolve_commit(self):
        return self._node(revset_string(self.target()))

    # -- patches -------------------------------------------------------

    def _untracked(self):
        return set(self.run(["hg", "status", "-un", "-0"]).stdout.split("\0")) - {""}

    @contextlib.contextmanager
    def patch_session(self, branch):
        before, untracked = self.head(), self._untracked()
        self.run(["hg", "branch", "-q", "-f", branch])
        try:
            yield self
        except BaseException:
            self.run(["hg", "update", "-q", "--clean", before])
            for name in self._untracked() - untracked:
                os.remove(os.path.join(self.path, name))
            raise

    def apply_patch(self, path, message, date):
        result = self.run(["hg", "import", "-q", "--no-commit", path], check=False)
        if result.returncode != 0:
            return (result.stderr or result.stdout).strip()
        self.run(["hg", "commit", "-q", "--user", PATCH_USER, "--date", date.hg(),
                  "-m", message])
        return None
