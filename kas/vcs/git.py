"""git backend: clone, fetch, checkout and patch one checkout (CLI spec §4,
repository handling)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cached_property

from kas.errors import CommandError, format_command
from kas.fsutil import build_dir, remove_abandoned
from kas.vcs.base import (
    DATE_FORMAT,
    Backend,
    CacheMechanics,
    Commit,
    LocalRepo,
    PatchDate,
    PatchFailure,
    Target,
    is_full_sha,
    verify_commit,
)
from kas.vcs.gitfiles import GitFiles

log = logging.getLogger(__name__)

# kas 5.5 commits as author "kas" but takes the committer from the private
# gitconfig, which holds "kas User" while patching: the same identities give
# the same commit ids as kas 5.5 (they end up in lock files and provenance).
PATCH_IDENTITY = {"GIT_AUTHOR_NAME": "kas", "GIT_AUTHOR_EMAIL": "kas@example.com",
                  "GIT_COMMITTER_NAME": "kas User", "GIT_COMMITTER_EMAIL": "kas@example.com"}


# Where HEAD of a --no-checkout clone of a signed repo points until checkout.
UNVERIFIED_HEAD = "refs/heads/kas-unverified"


HEADS, TAGS = "refs/heads/", "refs/tags/"

# What a reference repository's temporary directory is, for the error
# about a foreign file at its name.
REFERENCE_PURPOSE = "clones a reference repository"


def strip_refs(name: str) -> str:
    """``refs/heads/x`` -> ``heads/x``: the part kept below refs/remotes/origin."""
    return name.removeprefix("refs/")


def tag_ref(tag: str) -> str:
    """The full ref of a configured tag: ``4.3`` and ``refs/tags/4.3`` are
    the same tag (issue 16.3)."""
    return tag if tag.startswith(TAGS) else TAGS + tag


def cache_branch_ref(branch: str) -> str:
    """Where a repo cache entry keeps the remote's ``branch``: it mirrors
    the remote's refs/heads and refs/tags."""
    if branch.startswith("refs/"):
        return branch
    return HEADS + branch


def remote_branch_ref(branch: str) -> str:
    """Where origin's ``branch`` is kept: ``refs/heads/x`` is the same
    branch as ``x`` (issue 16.3), any other ``refs/...`` name lives below
    refs/remotes/origin/ without its ``refs/``."""
    name = branch[len(HEADS):] if branch.startswith(HEADS) else strip_refs(branch)
    return f"refs/remotes/origin/{name}"


def outside_heads(branch: str) -> bool:
    """Whether ``branch`` is a full ref outside refs/heads (refs/changes/...,
    refs/pull/...): no ``refs/heads/*`` refspec brings it, it is fetched by
    a refspec of its own."""
    return branch.startswith("refs/") and not branch.startswith(HEADS)


def local_branch_name(branch: str) -> str:
    """CLI-090 step 5: a leading ``refs/`` and then ``heads/`` are removed."""
    name = strip_refs(branch)
    return name.removeprefix("heads/")


def peeled(rev: str) -> str:
    """The revision naming the commit ``rev`` points to (a tag is followed
    to its commit): git's one spelling of it for kas."""
    return f"{rev}^{{commit}}"


def checkout_rev(rev: str) -> str:
    """CLI-090 step 8: a full id can never be taken for a branch name."""
    return peeled(rev) if is_full_sha(rev) else rev


# git log record: fields split by US, records ended by NUL (-z); the
# message comes last so a stray separator in it cannot shift fields.
LOG_FORMAT = "%H%x1f%an%x1f%ae%x1f%cd%x1f%B"


class GitRepo(LocalRepo):
    """A git repository (a checkout, or a bare repo cache entry)."""

    MARKER = ".git"
    FETCH_STAMPS = (("FETCH_HEAD",), ("packed-refs",), ("HEAD",))

    def commit_of(self, rev: str) -> str | None:
        result = self.run(["git", "rev-parse", "--verify", "-q", "--end-of-options",
                           peeled(rev)])
        ids = result.stdout.split() if result.returncode == 0 else []
        return ids[-1] if ids else None

    def object_type(self, ref: str) -> str | None:
        """The type of the object ``ref`` names (commit, tag...), or None."""
        if ref.startswith("-"):
            return None
        result = self.run(["git", "cat-file", "-t", ref])
        return result.stdout.strip() if result.returncode == 0 else None

    def head(self) -> str | None:
        result = self.run(["git", "rev-parse", "-q", "--verify", "HEAD"])
        return result.stdout.strip() or None if result.returncode == 0 else None

    def is_dirty(self) -> bool:
        result = self.run(["git", "status", "--porcelain", "--untracked-files=no"],
                          check=True)
        return bool(result.stdout.strip())

    def commits(self, old: str, new: str) -> list[Commit]:
        result = self.run(["git", "log", "-z", f"--format={LOG_FORMAT}",
                           f"--date=format:{DATE_FORMAT}", f"{old}..{new}", "--"])
        if result.returncode != 0:
            return []
        return [Commit.from_record(record) for record in result.stdout.split("\0")
                if record.strip()]

    def unshallow(self) -> None:
        result = self.run(["git", "rev-parse", "--is-shallow-repository"])
        if result.stdout.strip() == "true":
            self.run(["git", "fetch", "-q", "--unshallow"])


def git_runs_in(path: str) -> bool:
    """Whether a git process of ours works in ``path`` (by its current
    directory, as /proc shows it)."""
    top = os.path.realpath(path)
    for pid in filter(str.isdigit, _list_proc()):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("git"):
                    continue
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:         # gone meanwhile, or another user's
            continue
        if cwd == top or cwd.startswith(top + os.sep):
            return True
    return False


def git_lock_files(meta_dir: str) -> list[str]:
    """The lock files git left in ``meta_dir``: index, HEAD, packed-refs
    and every ref (``<name>.lock`` next to the file it guards)."""
    locks = [os.path.join(meta_dir, name)
             for name in ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "packed-refs.lock")]
    found = [lock for lock in locks if os.path.lexists(lock)]
    for root, _dirs, files in os.walk(os.path.join(meta_dir, "refs")):
        found += sorted(os.path.join(root, name) for name in files if name.endswith(".lock"))
    return found


def _list_proc() -> list[str]:
    try:
        return os.listdir("/proc")
    except OSError:
        return []


class GitBackend(Backend):
    REPO = GitRepo
    CACHE_MECHANICS: type[GitCacheMechanics]
    MARKER = GitRepo.MARKER
    # Where HEAD points while nothing is checked out (the repo cache's clones).
    UNBORN_HEAD = UNVERIFIED_HEAD
    # Set on the view of a repo cache entry: origin's branches are its own
    # refs/heads there.
    in_cache_entry = False

    @cached_property
    def files(self) -> GitFiles:
        return GitFiles(self.path)

    def run(self, argv: list[str], check: bool = True, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Issue 27: the read-only queries whose answer git's files make
        certain are answered from them (no git process); all else runs git."""
        if input is None:
            answer = self.files.answer(argv, env or self.env)
            if answer is not None:
                return subprocess.CompletedProcess(argv, 0, answer.stdout, "")
        return super().run(argv, check=check, input=input, env=env)

    # -- fetch ---------------------------------------------------------

    def remote_branch(self) -> str:
        assert self.spec.branch is not None
        if self.in_cache_entry:
            return cache_branch_ref(self.spec.branch)
        return remote_branch_ref(self.spec.branch)

    def contains(self, commit: str) -> bool:
        """Whether the configured branch contains ``commit`` (a shallow
        clone cannot tell, and is trusted)."""
        return self.shallow() or self.succeeds(
            ["git", "merge-base", "--is-ancestor", commit, self.remote_branch()])

    def shallow(self) -> bool:
        return self.settings.depth > 0 and self.spec.refspec is None

    def clone(self, into: str) -> bool:
        """Clone into the (not yet existing) directory ``into``."""
        if self.clone_from_cache(into):
            return False
        options = ["-q"]
        branch = self.spec.branch
        if self.shallow():
            options += ["--depth", str(self.settings.depth)]
            if branch and not outside_heads(branch):
                options += ["--branch", local_branch_name(branch)]
        if self.spec.signed:
            # CLI-090 step 1: nothing unverified in the work tree, not even
            # the default branch a plain clone checks out.
            options.append("--no-checkout")
        if self.settings.ref_dir:
            reference = self._reference_repo()
            self._git_clone(options + ["--reference", reference, "--", reference, into],
                            os.path.dirname(self.path))
            origin_ok = False
        else:
            self._git_clone(options + ["--", self.url, into], os.path.dirname(self.path))
            origin_ok = True
        if self.spec.signed:
            # An unborn HEAD keeps the empty work tree clean, so a run whose
            # verification failed does not leave a "dirty" repo behind.
            self.ctx.runner.run(["git", "symbolic-ref", "HEAD", UNVERIFIED_HEAD], cwd=into,
                                env=self.env)
        return origin_ok

    def _git_clone(self, args: list[str], cwd: str) -> None:
        try:
            self.ctx.runner.run(["git", "clone"] + args, cwd=cwd, env=self.env)
        except CommandError as err:
            raise self.fetch_failed(err.stderr or "") from None

    def _reference_repo(self) -> str:
        """CLI-084: the shared bare clone, created race-free."""
        from kas.vcs.urls import qualified_name

        ref_dir, url = self.settings.ref_dir, self.spec.url
        assert ref_dir is not None and url is not None, "only called with KAS_REPO_REF_DIR"
        os.makedirs(ref_dir, exist_ok=True)
        target = os.path.join(ref_dir, qualified_name(url))
        # Also when the reference exists: a run killed while making it
        # left its temporary clone (issue 26.4).
        remove_abandoned(target, REFERENCE_PURPOSE)
        if os.path.isdir(target):
            return target
        # Another kas instance may be faster; its copy is as good.
        build_dir(target, lambda into: self._git_clone(["-q", "--bare", "--", self.url, into],
                                                       ref_dir), REFERENCE_PURPOSE)
        return target

    def sync_origin(self) -> None:
        """CLI-085: origin always matches the (effective) configured URL."""
        if self._configured_origin() != self.url:
            self.run(["git", "remote", "set-url", "origin", self.url])

    def _configured_origin(self) -> str | None:
        # Reading .git/config spares a git process per repo on no-op runs;
        # anything unusual just leads to a (harmless) set-url.
        try:
            with open(os.path.join(self.path, ".git", "config")) as f:
                text = f.read()
        except OSError:
            return None
        match = re.search(r'^\[remote "origin"\]\n\s*url = (.*)$', text, re.MULTILINE)
        return match.group(1) if match else None

    @property
    def repo(self) -> GitRepo:
        return GitRepo(self.ctx, self.path, self.run)

    def object_type(self, ref: str) -> str | None:
        return self.repo.object_type(ref)

    def present_ref(self) -> tuple[str, str] | None:
        """CLI-088 step 5: (ref, object type) if nothing needs fetching."""
        spec = self.spec
        if spec.commit:
            kind = self.object_type(spec.commit)
            if kind is None:
                return None
            if spec.tag and self.object_type(tag_ref(spec.tag)) is None:
                return None
            if spec.branch and not self.contains(spec.commit):
                return None
            return spec.commit, kind
        if spec.tag:
            kind = self.object_type(tag_ref(spec.tag))
            return (spec.tag, kind) if kind else None
        if spec.branch:
            kind = self.object_type(self.remote_branch())
            return (spec.branch, kind) if kind else None
        refspec = self.legacy_refspec()
        kind = self.object_type(refspec)
        return (refspec, kind) if kind else None

    def fetch(self) -> None:
        """Fetch from origin what the checkout needs: the tag, the commit or
        branch when shallow, else the default refs (CLI-088 step 6)."""
        if self.fetch_without_remote():
            return
        spec, depth = self.spec, self.settings.depth
        argv = ["git", "fetch", "-q"]
        if self.shallow():
            argv += ["--depth", str(depth)]
        if spec.tag:
            # Also with a commit: only the tag ref lets the checkout check
            # that tag and commit agree, and a shallow fetch of the commit
            # alone would not bring the tag (issue 16.2).
            argv += ["origin", f"+{tag_ref(spec.tag)}:{tag_ref(spec.tag)}"]
        elif spec.commit and self.shallow():
            argv += ["origin", spec.commit]
        elif spec.branch and (spec.branch.startswith("refs/") or self.shallow()):
            argv += ["origin", f"+{spec.branch}:{self.remote_branch()}"]
        result = self.run(argv, check=False)
        if result.returncode != 0:
            raise self.fetch_failed(result.stderr)

    # -- checkout ------------------------------------------------------

    def verify(self, commit: str) -> str:
        resolved = self.repo.commit_of(commit)
        if resolved is None:
            raise self.not_found("Commit", commit)
        return verify_commit(self, resolved, commit)

    def _pins_commit(self, commit: str, tag_commit: str) -> bool:
        """Whether the configured ``commit`` is ``tag_commit``.  A commit
        the clone lacks (a shallow clone has only the tag's history) is
        not the tag's commit: that is a mismatch, not a missing commit."""
        resolved = self.repo.commit_of(commit)
        if resolved is None:
            return False
        return verify_commit(self, resolved, commit) == tag_commit

    def tag_ids(self) -> tuple[str, str] | None:
        """(tag object id, commit id) of the configured tag, or None."""
        assert self.spec.tag is not None
        ref = tag_ref(self.spec.tag)
        result = self.run(["git", "rev-parse", "--verify", "-q", ref], check=False)
        if result.returncode != 0:
            return None
        commit = self.repo.commit_of(ref)
        return (result.stdout.strip(), commit) if commit is not None else None

    def tag_object(self) -> str | None:
        ids = self.tag_ids()
        return ids[0] if ids else None

    def target(self) -> Target:
        """The revision to check out and the local branch (if any) per CLI-090."""
        spec = self.spec
        if spec.tag:
            ids = self.tag_ids()
            if ids is None:
                raise self.not_found("Tag", spec.tag)
            tag_object, tag_commit = ids
            if spec.commit and not (tag_object.startswith(spec.commit)
                                    or self._pins_commit(spec.commit, tag_commit)):
                raise self.tag_mismatch(tag_commit)
            return Target(tag_commit)
        if spec.branch:
            remote = self.remote_branch()
            result = self.run(["git", "rev-parse", "--verify", "-q", remote], check=False)
            if result.returncode != 0:
                raise self.not_found("Branch", spec.branch)
            rev = result.stdout.strip()
            if spec.commit:
                rev = self.verify(spec.commit)
                if not self.contains(rev):
                    raise self.branch_lacks_commit()
            return Target(rev, local_branch_name(spec.branch))
        if spec.commit:
            return Target(self.verify(spec.commit))
        return Target(self.legacy_refspec())

    def _at_target(self, rev: str, branch: str | None) -> bool:
        """Whether HEAD already is ``rev`` (detached, or on local ``branch``
        at ``rev``) - the no-op fast path: checking out the commit HEAD is
        on, on the branch it is on, changes nothing in a tree the caller
        found clean."""
        if self.settings.force_checkout or not is_full_sha(rev):
            return False
        if branch is not None:
            return self.files.head_branch(self.env) == (f"refs/heads/{branch}", rev)
        try:
            with open(os.path.join(self.path, ".git", "HEAD")) as f:
                return f.read().strip() == rev
        except OSError:
            return False

    def checkout(self, target: Target | None = None) -> str:
        """Check out ``target`` (revision, local branch), by default the
        configured one; returns the revision text for the log."""
        target = target or self.target()
        rev, branch = target.rev, target.branch
        if self._at_target(rev, branch):
            return rev
        self._checkout(rev, branch, self.settings.force_checkout)
        return rev

    def _checkout(self, rev: str, branch: str | None, force: bool) -> None:
        argv = ["git", "checkout", "-q"]
        if branch is not None:
            argv += ["-B", branch]
        argv.append(checkout_rev(rev))
        if force:
            argv.append("--force")
        self.changing_tree(argv, rev, branch)

    def force_checkout(self, rev: str, branch: str | None) -> None:
        self._checkout(rev, branch, True)

    def meta_dir(self) -> str:
        """.git, or where a ``gitdir:`` file named .git points."""
        dot_git = os.path.join(self.path, ".git")
        if os.path.isfile(dot_git):
            with open(dot_git) as f:
                text = f.read()
            if text.startswith("gitdir:"):
                return os.path.join(self.path, text[len("gitdir:"):].strip())
        return dot_git

    def is_at(self, rev: str) -> bool:
        head = self.run(["git", "rev-parse", "-q", "--verify", "HEAD"], check=False)
        wanted = self.run(["git", "rev-parse", "-q", "--verify", "--end-of-options",
                           checkout_rev(rev)], check=False)
        return (head.returncode == 0 and wanted.returncode == 0
                and head.stdout.strip() == wanted.stdout.strip())

    def remove_stale_locks(self) -> None:
        """A git killed hard keeps the lock files it held, and every later
        git command that takes the same lock fails on it: ``index.lock``
        while it writes the tree, then ``HEAD.lock`` and the branch's
        ``refs/heads/<branch>.lock`` while ``checkout -B`` moves them.  Only
        called for a checkout kas's marker says was interrupted, and only
        when no git works in the repository."""
        locks = git_lock_files(self.meta_dir())
        if not locks or git_runs_in(self.path):
            return
        for lock in locks:
            log.warning("Removing %s left by an interrupted git in repository %s",
                        lock, self.spec.name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)

    def head(self) -> str:
        return self.output(["git", "rev-parse", "HEAD"])

    def resolve_commit(self) -> str:
        return self.commit_id(self.target().rev)

    def commit_id(self, rev: str) -> str:
        """The full commit id of a :meth:`target` revision."""
        if is_full_sha(rev):
            return rev
        commit = self.repo.commit_of(rev)
        if commit is None:
            raise self.not_found("Revision", rev)
        return commit

    # -- patches -------------------------------------------------------

    @contextlib.contextmanager
    def patch_session(self, branch: str) -> Iterator[GitBackend]:
        """Switch to ``branch`` at HEAD; on failure go back to the exact
        pre-patch state (commit, branch, clean tree)."""
        before = self.head()
        symbolic = self.run(["git", "symbolic-ref", "-q", "HEAD"], check=False).stdout.strip()
        self.run(["git", "checkout", "-q", "-B", branch])
        try:
            yield self
        except BaseException:
            restore = symbolic[len("refs/heads/"):] if symbolic else peeled(before)
            if symbolic:
                self.run(["git", "checkout", "-q", "-B", restore, before, "--force"])
            else:
                self.run(["git", "checkout", "-q", "--force", restore])
            if restore != branch:
                self.run(["git", "branch", "-D", branch], check=False)
            raise

    def apply_patch(self, path: str, message: str, date: PatchDate) -> PatchFailure | None:
        """Apply one patch file and commit it as kas (CLI-093).

        ``--index`` stages exactly what the patch touches, so files the
        user keeps untracked are neither committed nor lost on rollback."""
        argv = ["git", "apply", "--index", "--whitespace=nowarn", path]
        result = self.run(argv, check=False)
        if result.returncode != 0:
            return PatchFailure(format_command(argv), result.stderr.strip()
                                or f"git apply failed with error {result.returncode}")
        env = dict(self.env, **PATCH_IDENTITY, GIT_COMMITTER_DATE=date.git())
        self.run(["git", "commit", "-q", "--no-verify", "--allow-empty",
                  "--date", date.git(), "-m", message], env=env)
        return None


class GitCacheMechanics(CacheMechanics):
    """A bare repository whose refs/heads and refs/tags mirror the remote's."""

    backend: GitBackend

    def is_repository(self) -> bool:
        return all(os.path.exists(os.path.join(self.path, name))
                   for name in ("HEAD", "objects", "refs"))

    def view(self) -> GitBackend:
        view = GitBackend(self.backend.ctx, self.backend.spec, self.backend.settings)
        view.path = self.path
        view.in_cache_entry = True
        return view

    def ref_problem(self, rev: str | None) -> str | None:
        """Why the files of ``rev``'s commit cannot all be read, or None."""
        return self.fails(["git", "rev-list", "--objects", "--missing=error", "-n", "1",
                           "--end-of-options", rev or "HEAD"])

    def usable(self) -> bool:
        spec = self.backend.spec
        if spec.commit and not spec.tag:
            # The common pin, in fewer processes: the commit's files, then
            # (like present_ref) that the cached branch contains it.
            if self.ref_problem(spec.commit) is not None:
                return False
            return not spec.branch or self.view().contains(spec.commit)
        if not self.holds_ref():
            return False
        rev: str | None
        if spec.commit:
            rev = spec.commit
        elif spec.tag:
            rev = spec.tag if spec.tag.startswith("refs/") else TAGS + spec.tag
        elif spec.branch:
            rev = cache_branch_ref(spec.branch)
        else:
            rev = spec.refspec
        return self.ref_problem(rev) is None

    def init(self) -> None:
        self.run(["git", "init", "-q", "--bare", self.path], os.path.dirname(self.path))
        for key, value in (("gc.autoDetach", "false"),
                           ("uploadpack.allowAnySHA1InWant", "true")):
            self.run(["git", "config", key, value])

    def fetch_remote(self) -> None:
        backend, spec = self.backend, self.backend.spec
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        if spec.branch and outside_heads(spec.branch):
            refspecs.append(f"+{spec.branch}:{spec.branch}")
        argv = ["git", "fetch", "-q", "--no-write-fetch-head", "--", backend.url]
        result = self.run(argv + refspecs, check=False)
        if result.returncode != 0:
            raise backend.fetch_failed(result.stderr)
        commit = spec.commit
        if commit and is_full_sha(commit) and \
                GitRepo(backend.ctx, self.path).commit_of(commit) is None:
            # A commit no branch or tag reaches: keep it under a ref of its own.
            self.run(argv + [f"+{commit}:refs/kas/commits/{commit}"], check=False)

    def health_problem(self) -> str | None:
        return self.fails(["git", "fsck", "--connectivity-only", "--no-dangling",
                           "--no-progress"])

    def clone_into(self, into: str) -> None:
        # A path clone hard-links the object files (or copies them across
        # file systems): no alternates, so the checkout owns its objects.
        self.run(["git", "clone", "-q", "--no-checkout", "--", self.path, into],
                 os.path.dirname(into))
        # The work tree is filled by the checkout step; an unborn HEAD keeps
        # the empty tree from looking dirty to a later run.
        with open(os.path.join(into, ".git", "HEAD"), "w") as f:
            f.write(f"ref: {self.backend.UNBORN_HEAD}\n")

    def fetch_into_checkout(self) -> None:
        backend, spec = self.backend, self.backend.spec
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        if spec.branch and outside_heads(spec.branch):
            refspecs.append(f"+{spec.branch}:{backend.remote_branch()}")
        self.run(["git", "fetch", "-q", "--", self.path] + refspecs, backend.path)
        commit = spec.commit
        if commit and is_full_sha(commit) and backend.object_type(commit) is None:
            self.run(["git", "fetch", "-q", "--", self.path, commit], backend.path,
                     check=False)


GitBackend.CACHE_MECHANICS = GitCacheMechanics
