"""The interfaces of a version-control kind: the local repository and the
backend.

A :class:`LocalRepo` is one repository on disk (a checkout or a repo
cache entry) of one VCS kind, queried: the commit a revision names, its
refs, history and status.  Whoever needs that knowledge (the backend, the
cache, signature checks, ``kas diff``) asks the kind's LocalRepo instead
of spelling the VCS commands again.

A backend works on one checkout (anything shaped like :class:`CheckoutSpec`,
in practice the repository engine's ``RepoSpec``) and knows how to clone,
fetch, check out and patch it.  The policy (when to fetch, in which order,
what to log) lives in the repository engine (:mod:`kas.repos`); the choice
of backend is the registry in :mod:`kas.vcs`.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from kas.errors import CommandError, KasUserError, redact

if TYPE_CHECKING:
    import re
    import subprocess

    from kas.context import Context
    from kas.vcs.cache import RepoCache

    # Runs one command in a repository: ``run(argv, check=...)``.
    RunCommand = Callable[..., subprocess.CompletedProcess[str]]

log = logging.getLogger(__name__)

# In the VCS's own directory (.git, .hg) while kas changes the work tree:
# the revision kas is checking out.  A run that finds it knows that the
# changes in the tree are an interrupted checkout's, not the user's
# (issue 21.2).
CHECKOUT_MARKER = "kas-checkout-target"


class CheckoutSpec(Protocol):
    """What a backend needs to know of one repository."""

    id: str
    name: str
    type: str               # "git" or "hg"
    url: str | None      # as configured (premirrors are applied by the backend)
    path: str               # absolute directory of the checkout
    commit: str | None
    branch: str | None
    tag: str | None
    refspec: str | None  # legacy ref, mutually exclusive with the above
    signed: bool


class FetchError(KasUserError):
    """Getting a repository's revisions failed."""


class RemoteFetchFailed(FetchError):
    """The VCS could not clone or fetch (the remote unreachable or refusing,
    or a local repository it reads from broken)."""


class RefNotFound(FetchError):
    """A configured revision (commit, tag, branch) is not in the repository:
    the configuration's mistake, which no refetch or rebuild mends."""


@dataclass(frozen=True)
class Target:
    """What :meth:`Backend.checkout` checks out (CLI-090)."""

    rev: str                    # commit id, or the legacy refspec as written
    branch: str | None = None   # git: local branch reset to ``rev``; None: detached


DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Commit:
    """One commit of a history listing."""

    commit: str         # full id
    author: str         # name only
    email: str
    commit_date: str    # YYYY-MM-DD HH:MM:SS, in the commit's own time zone
    message: str        # full message as stored (git: trailing newline kept)

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]

    @classmethod
    def from_record(cls, record: str) -> Commit:
        """A commit from the fields the kinds' log formats print, split by
        US (the message last, so a stray separator in it cannot shift
        fields)."""
        commit, author, email, date, message = record.lstrip("\n").split("\x1f", 4)
        # hg prints "YYYY-MM-DD HH:MM:SS +ZZZZ": keep date and time only.  The
        # message stays byte for byte as the VCS stores it: git's %B is the raw
        # message; hg stores descriptions already stripped.
        return cls(commit, author, email, date[:19], message)


class LocalRepo(abc.ABC):
    """One local repository of a VCS kind: what it says about itself.

    Queries answer None (or nothing) when the VCS finds no answer; only
    :meth:`is_dirty` raises when the VCS cannot tell.  ``run``, if given,
    runs the commands instead of the context's runner (a backend passes its
    own, so its checkout is asked the same way)."""

    # The file or directory that marks the top of a repository.
    MARKER: str
    # Files below MARKER that every fetch rewrites (the first one present
    # tells when the repository was last fetched into).
    FETCH_STAMPS: tuple[tuple[str, ...], ...]

    def __init__(self, ctx: Context, path: str, run: RunCommand | None = None) -> None:
        self.ctx = ctx
        self.path = path
        self._runner = run

    @classmethod
    def at(cls, ctx: Context, path: str) -> LocalRepo | None:
        """The repository at ``path``, or None if it is none of this kind."""
        if not os.path.lexists(os.path.join(path, cls.MARKER)):
            return None
        return cls(ctx, path)

    def run(self, argv: list[str], check: bool = False) -> subprocess.CompletedProcess[str]:
        """``argv`` run in the repository; with ``check`` a non-zero exit
        raises CommandError."""
        if self._runner is not None:
            return self._runner(argv, check=check)
        return self.ctx.runner.run(argv, cwd=self.path, env=self.ctx.vcs_env(), check=check)

    @abc.abstractmethod
    def commit_of(self, rev: str) -> str | None:
        """Full id of the one commit ``rev`` names (commit id, tag, branch;
        a tag is followed to its commit), or None."""

    @abc.abstractmethod
    def head(self) -> str | None:
        """Full commit id of the work tree, None if there is none."""

    @abc.abstractmethod
    def is_dirty(self) -> bool:
        """Whether tracked files differ from the work tree's commit
        (CommandError if the VCS cannot tell)."""

    @abc.abstractmethod
    def commits(self, old: str, new: str) -> list[Commit]:
        """Commits reachable from ``new`` but not from ``old``, newest
        first; both full ids."""

    @abc.abstractmethod
    def unshallow(self) -> None:
        """Fetch the history a shallow clone lacks (CLI-162)."""


@dataclass(frozen=True)
class ResolvedRef:
    """What a repo's configured ref points to now."""

    commit: str                     # full commit id
    tag_object: str | None = None   # id of an annotated tag object, or None

    def matches(self, locked: str) -> bool:
        return locked in (self.commit, self.tag_object)


@dataclass(frozen=True)
class FetchSettings:
    """What the environment and the command line say about fetching: one
    object per run, made by :func:`kas.vcs.fetch_settings`."""

    depth: int                      # KAS_CLONE_DEPTH (CLI-086)
    premirrors: list[tuple[re.Pattern[str], str]]     # KAS_PREMIRRORS (CLI-083)
    ref_dir: str | None             # KAS_REPO_REF_DIR (None while a repo cache is used)
    update: bool                    # --update
    offline: bool                   # KAS_OFFLINE (issue 19)
    cache: RepoCache | None         # KAS_REPO_CACHE_DIR (issue 19)
    force_checkout: bool            # --force-checkout


class Backend(abc.ABC):
    """One checkout.  Subclasses implement the VCS specific commands."""

    # The kind's local repository, and the file or directory that marks
    # the top of a checkout (REPO.MARKER).
    REPO: type[LocalRepo]
    MARKER: str
    # How the kind keeps a repo cache entry (kas.vcs.cache).
    CACHE_MECHANICS: type[CacheMechanics]

    def __init__(self, ctx: Context, spec: CheckoutSpec, settings: FetchSettings) -> None:
        self.ctx = ctx
        self.spec = spec
        self.settings = settings
        self.path = spec.path

    @property
    def url(self) -> str:
        """The URL clones and fetches use: the configured one after
        KAS_PREMIRRORS.  A relative path is relative to KAS_WORK_DIR, as
        kas 5.5 clones it; it is made absolute here because the VCS commands
        run in other directories (a private partial-clone directory, the
        checkout itself), where it would name another path (issue 24.1)."""
        from kas.vcs.urls import absolute_url, effective_url

        assert self.spec.url is not None, "local repositories have no backend"

        return absolute_url(effective_url(self.spec.url, self.settings.premirrors),
                            self.ctx.work_dir)

    @property
    def repo(self) -> LocalRepo:
        """The checkout as a local repository, asked through :meth:`run`."""
        return self.REPO(self.ctx, self.path, self.run)

    @property
    def env(self) -> dict[str, str]:
        """The environment of VCS commands (the managed one, non-interactive)."""
        return self.ctx.vcs_env()

    def require_checkout(self) -> None:
        """Refuse to run VCS commands in a directory that is not the top of
        a checkout: they would act on an enclosing repository instead."""
        if not os.path.exists(self.path):
            raise KasUserError(f'Repository "{self.spec.name}" is not available: {self.path} '
                               "does not exist (was fetching skipped?)")
        if not os.path.lexists(os.path.join(self.path, self.MARKER)):
            raise KasUserError(
                f'Cannot use {self.path} for repository "{self.spec.name}": it exists but '
                f"is not a {self.spec.type} checkout. Move it away or fix the repo's path.")

    # The user-facing errors of fetch and checkout (CLI spec §4, repository
    # handling), worded the same for every backend.

    def fetch_failed(self, output: str) -> RemoteFetchFailed:
        # The tool's output as it wrote it, final newline included (kas 5.5).
        return RemoteFetchFailed(f'Fetching of repo: "{self.spec.name}" failed: '
                                 f"{redact(output)}")

    def not_found(self, kind: str, value: str) -> RefNotFound:
        return RefNotFound(f'{kind} "{value}" cannot be found in repository '
                           f'"{self.spec.name}"')

    def tag_mismatch(self, tag_commit: str) -> KasUserError:
        spec = self.spec
        return KasUserError(f'Provided tag "{spec.tag}" ("{tag_commit}") does not match '
                            f'provided commit "{spec.commit}" in repository "{spec.name}", '
                            "aborting!")

    def branch_lacks_commit(self) -> KasUserError:
        spec = self.spec
        return KasUserError(f'Branch "{spec.branch}" in repository "{spec.name}" does not '
                            f'contain commit "{spec.commit}"')

    def run(self, argv: list[str], check: bool = True, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.ctx.runner.run(argv, cwd=self.path, env=env or self.env, check=check,
                                   input=input)

    def output(self, argv: list[str]) -> str:
        return self.run(argv).stdout.strip()

    def succeeds(self, argv: list[str]) -> bool:
        return self.run(argv, check=False).returncode == 0

    def legacy_refspec(self) -> str:
        """The legacy refspec, which a repo without commit, tag and branch has
        (kas.repos.model refuses a remote repo with none of them)."""
        assert self.spec.refspec is not None, f"{self.spec.name}: no ref configured"
        return self.spec.refspec

    # -- checkouts that may be interrupted (issue 21.2) ------------------

    def meta_dir(self) -> str:
        """The VCS's own directory of the checkout (.git, .hg)."""
        return os.path.join(self.path, self.MARKER)

    def _marker_path(self) -> str:
        return os.path.join(self.meta_dir(), CHECKOUT_MARKER)

    def changing_tree(self, argv: list[str], rev: str, branch: str | None = None) -> None:
        """Run ``argv``, the command that moves the work tree to ``rev``
        (on local ``branch``), with the marker recorded while it runs."""
        with open(self._marker_path(), "w") as f:
            f.write(f"target {rev}\n" + (f"branch {branch}\n" if branch else ""))
        try:
            self.run(argv)
        except CommandError as err:
            # The tool gave up by itself: unless it left changes behind, it
            # refused before touching the tree (files in the way, a lock),
            # and what is in the tree is the user's.  Killed, or kas
            # interrupted: the marker stays for the next run.
            if err.returncode > 0 and not self.is_dirty():
                self._clear_marker()
            raise
        self._clear_marker()

    def _clear_marker(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._marker_path())

    def interrupted_checkout(self) -> tuple[str, str | None] | None:
        """(revision, local branch or None) of a checkout kas started but
        did not finish, if any."""
        try:
            with open(self._marker_path()) as f:
                fields = dict(line.rstrip("\n").split(" ", 1) for line in f if " " in line)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if "target" not in fields:
            # Killed while writing the marker: the checkout never started.
            self._clear_marker()
            return None
        return fields["target"], fields.get("branch")

    def finish_interrupted_checkout(self) -> str | None:
        """Complete a checkout an earlier kas run started and could not
        finish, discarding the half-written tree it left; returns its
        revision, or None if there was none to finish."""
        recorded = self.interrupted_checkout()
        if recorded is None:
            return None
        rev, branch = recorded
        if self.is_at(rev):
            # The tool had finished (it moves HEAD last); only the marker
            # was left.  Any changes are the user's.
            self._clear_marker()
            return None
        self.remove_stale_locks()
        self.force_checkout(rev, branch)
        return rev

    # -- the repo cache and offline mode (kas.vcs.cache) -------------------

    def at(self, path: str) -> Backend:
        """The same repo's backend, working on the repository at ``path``."""
        other = type(self)(self.ctx, self.spec, self.settings)
        other.path = path
        return other

    def cache_mechanics(self, path: str) -> CacheMechanics:
        """The kind's mechanics for this repo's cache entry at ``path``."""
        return self.CACHE_MECHANICS(self, path)

    def clone_from_cache(self, into: str) -> bool:
        """Make the clone at ``into`` from the repo cache, if there is one;
        True if it did (origin then still names the cache)."""
        if self.settings.cache is None:
            return False
        self.settings.cache.entry(self).clone_into(into)
        return True

    def fetch_without_remote(self) -> bool:
        """Fetch through the repo cache, if there is one; offline without a
        cache there is nothing to fetch from (the offline check made sure
        the checkout has the ref).  True if the remote must not be asked."""
        cache, offline = self.settings.cache, self.settings.offline
        if cache is not None:
            entry = cache.entry(self)
            if not offline or entry.exists():
                entry.fetch_into(prepare=True)
                return True
        return offline

    # -- implemented by each backend -------------------------------------

    @abc.abstractmethod
    def remove_stale_locks(self) -> None:
        """Remove the locks an interrupted VCS command left, if the VCS
        does not handle them itself."""

    @abc.abstractmethod
    def is_at(self, rev: str) -> bool:
        """Whether the work tree's commit is ``rev``."""

    @abc.abstractmethod
    def force_checkout(self, rev: str, branch: str | None) -> None:
        """Check out ``rev`` (on local ``branch``), discarding changes."""

    @abc.abstractmethod
    def clone(self, into: str) -> bool:
        """Clone into the not yet existing directory ``into``; True if its
        origin already equals :attr:`url`."""

    @abc.abstractmethod
    def sync_origin(self) -> None:
        """Make the checkout's origin follow the effective URL."""

    @abc.abstractmethod
    def present_ref(self) -> tuple[str, str] | None:
        """(ref text, object type) if the configured ref needs no fetch."""

    @abc.abstractmethod
    def fetch(self) -> None:
        """Fetch what the configured ref needs from origin."""

    def is_dirty(self) -> bool:
        """Whether tracked files differ from HEAD."""
        return self.repo.is_dirty()

    @abc.abstractmethod
    def verify(self, commit: str) -> str:
        """The full id of ``commit``; a short or suspicious one is reported."""

    @abc.abstractmethod
    def target(self) -> Target:
        """What :meth:`checkout` checks out for the configured refs."""

    @abc.abstractmethod
    def tag_object(self) -> str | None:
        """Id of the object the configured tag names (for an annotated git
        tag the tag object, not the commit), or None where the VCS has none."""

    @abc.abstractmethod
    def checkout(self, target: Target | None = None) -> str:
        """Check out ``target`` (default: :meth:`target`); returns the
        revision text for the log."""

    @abc.abstractmethod
    def head(self) -> str | None:
        """Full commit id of the work tree."""

    @abc.abstractmethod
    def resolve_commit(self) -> str | None:
        """Full commit id the configured ref points to."""

    @abc.abstractmethod
    def patch_session(self, branch: str) -> AbstractContextManager[Backend]:
        """Switch to ``branch``; on failure restore the pre-patch state."""

    @abc.abstractmethod
    def apply_patch(self, path: str, message: str, date: PatchDate) -> PatchFailure | None:
        """Apply and commit one patch file; None, or what failed."""


@dataclass(frozen=True)
class PatchFailure:
    """A patch the VCS refused: its command line and the tool's complaint."""

    command: str
    error: str


class CacheMechanics(abc.ABC):
    """What a VCS kind does to keep one repo cache entry at ``path`` for the
    repo of ``backend``.  The cache (kas.vcs.cache) owns the policy: where
    entries live, when to refresh or rebuild one, the locking."""

    def __init__(self, backend: Backend, path: str) -> None:
        self.backend = backend
        self.path = path

    def run(self, argv: list[str], cwd: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """``argv`` in ``cwd`` (default: the entry)."""
        return self.backend.ctx.runner.run(argv, cwd=cwd or self.path, env=self.backend.env,
                                           check=check)

    def fails(self, argv: list[str], cwd: str | None = None) -> str | None:
        """None if ``argv`` succeeds, else its last line of complaint."""
        result = self.run(argv, cwd, check=False)
        if result.returncode == 0:
            return None
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        return lines[-1] if lines else f"{argv[0]} exited with {result.returncode}"

    def holds_ref(self) -> bool:
        """Whether the entry holds what the repo's configuration names."""
        return self.view().present_ref() is not None

    @abc.abstractmethod
    def is_repository(self) -> bool:
        """Whether the entry's directory has the files of a repository."""

    @abc.abstractmethod
    def view(self) -> Backend:
        """The repo's backend, working on the entry."""

    @abc.abstractmethod
    def usable(self) -> bool:
        """Holds the ref, and the files of its commit are all there (a
        local clone copies objects without reading them)."""

    @abc.abstractmethod
    def init(self) -> None:
        """Create the empty entry at ``path`` (not yet existing)."""

    @abc.abstractmethod
    def fetch_remote(self) -> None:
        """Fetch the remote into the entry (RemoteFetchFailed if it fails)."""

    @abc.abstractmethod
    def health_problem(self) -> str | None:
        """What makes the entry unusable (a full check: slow), or None."""

    @abc.abstractmethod
    def clone_into(self, into: str) -> None:
        """A fresh checkout at ``into`` from the entry (local; CommandError)."""

    @abc.abstractmethod
    def fetch_into_checkout(self) -> None:
        """Bring the configured ref from the entry into the backend's
        existing checkout (local; CommandError)."""


class PatchDate(Protocol):
    """A patch commit's date in each tool's notation."""

    def git(self) -> str: ...

    def hg(self) -> str: ...


def verify_commit(backend: Backend, resolved: str, commit: str) -> str:
    """CLI-091: compare the resolved id with the configured commit."""
    if resolved == commit:
        return resolved
    if resolved.startswith(commit):
        warn_short_hash(backend, commit)
        return resolved
    raise KasUserError(f"Parsed commit {resolved} differs suspiciously from "
                       f"specified {commit}.")


def warn_short_hash(backend: Backend, commit: str) -> None:
    """An abbreviated commit id pins less than it seems (CLI-091)."""
    log.warning('%s is not a full-length hash for repo "%s".\n'
                "This eases supply chain attacks and will be an error in future "
                "versions.", commit, backend.spec.name)


def is_full_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
