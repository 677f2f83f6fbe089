"""The managed repository cache (``KAS_REPO_CACHE_DIR``) and offline mode
(``KAS_OFFLINE``).

One cache *entry* per repository URL: a bare git repository or an hg
repository without a work tree.  The remote is fetched into the entry
first; work-dir checkouts are then cloned or fetched from the entry, which
is a local operation.  A fresh checkout is a plain local ``git clone`` /
``hg clone`` of the entry: git and Mercurial hard-link the immutable object
files (pack files, revlogs) when the cache is on the same file system and
copy them otherwise, so a checkout never depends on the cache for its
objects (no alternates): removing, pruning or rebuilding an entry breaks
no existing checkout.

Sharing: readers (clone or fetch from an entry, presence checks) hold a
shared lock on ``<entry>.lock``, writers (fetch into an entry, creation,
rebuild) an exclusive one.  A new or rebuilt entry is made in a temporary
directory and renamed into place, so nobody sees a half-written one.

No credential is written into the cache: an entry's name comes from the
configured URL without its user-info part, the remote's URL is given on
the command line only (``git fetch <url>``, ``hg pull <url>``) and never
stored in the entry's configuration, and ``FETCH_HEAD`` is not written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit, urlunsplit

from kas.errors import CommandError, KasUserError
from kas.fslock import FileLock, LockTimeout
from kas.vcs.urls import qualified_name

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from kas.context import Context
    from kas.vcs.base import Backend, CheckoutSpec
    from kas.vcs.git import GitBackend

log = logging.getLogger(__name__)

# Written after every completed fetch from the remote: its mtime is the
# age of the cached copy (offline warnings, freshness, pruning).
STAMP = "kas-fetched"
# The configured URL without credentials, for people listing the cache.
URL_FILE = "kas-url"
# A file touched whenever a work dir is set up from the entry (pruning).
USED = "kas-used"

# How long a kas waits for another one that holds an entry.
LOCK_TIMEOUT = 3600.0

OFF_VALUES = ("", "0", "false", "no", "off")


# --- the lock ---------------------------------------------------------------

@contextlib.contextmanager
def entry_lock(path: str, shared: bool = False,
               timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold a flock on ``path`` (created if missing), shared or exclusive
    (kas.fslock, which polls, so a cancelled kas still stops promptly)."""
    def waiting(pid: int | None) -> None:
        log.debug("Waiting for %s (another kas uses this cache entry)", path)

    lock = FileLock(path, shared=shared, timeout=timeout, on_wait=waiting)
    try:
        lock.acquire()
    except LockTimeout:
        raise KasUserError(f"Timed out waiting for the cache lock {path}") from None
    except OSError as err:
        # A cache only readable for us (a read-only mount, another user's):
        # nobody can change it through us, so readers need no lock there.
        if not shared:
            raise KasUserError(f"Cannot lock the repo cache entry {path}: "
                               f"{err.strerror}") from None
        yield
        return
    try:
        yield
    finally:
        lock.release()


# --- names ------------------------------------------------------------------

def anonymous_url(url: str) -> str:
    """``url`` without user name and password (``https://u:p@h/x`` -> ``https://h/x``)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def entry_name(vcs_type: str, url: str) -> str:
    """The entry directory of ``url``, relative to the cache root: readable
    (the reference-repo name) plus a hash of the URL, so that URLs that
    differ only in characters the name replaces cannot share an entry."""
    key = anonymous_url(url)
    import hashlib  # OpenSSL: only runs with a cache pay for it (issue 27)

    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return os.path.join(vcs_type, f"{qualified_name(key).lstrip('.')}-{digest}")


def age_text(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


# --- entries ----------------------------------------------------------------

# Entries this process fetched from their remote: one remote contact per
# repo and run, even when the include loop sets a repo up twice.
_fetched_by_us: set[str] = set()
_fetched_guard = threading.Lock()


def _process_start() -> float:
    """When this kas process started (Linux), else now: a fetch made into an
    entry since then is as fresh as one this run would make."""
    try:
        # Both counted from boot in 1/100 s (btime would only give seconds).
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


RUN_STARTED = _process_start()


class RepoCache:
    """The cache directory of this run."""

    def __init__(self, ctx: Context, root: str, offline: bool) -> None:
        self.ctx = ctx
        self.root = root
        self.offline = offline

    def entry(self, backend: Backend) -> CacheEntry:
        spec = backend.spec
        assert spec.url is not None
        return CacheEntry(self, os.path.join(self.root, entry_name(spec.type, spec.url)),
                          backend)


class CacheEntry:
    """The entry of one repository, seen through that repository's backend."""

    def __init__(self, cache: RepoCache, path: str, backend: Backend) -> None:
        self.cache = cache
        self.path = path
        self.lock_path = path + ".lock"
        self.backend = backend
        self.ops = GitOps() if backend.spec.type == "git" else HgOps()

    # -- state --------------------------------------------------------

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def looks_valid(self) -> bool:
        return self.ops.looks_valid(self.path)

    def fetched_at(self) -> float | None:
        try:
            return os.stat(os.path.join(self.path, STAMP)).st_mtime
        except OSError:
            return None

    def holds_ref(self) -> bool:
        """Whether the entry holds what the repo's configuration names."""
        if not self.looks_valid():
            return False
        return self.ops.view(self.backend, self.path).present_ref() is not None

    def usable(self) -> bool:
        """Holds the ref, and the files of its commit are all there (a
        local clone copies objects without reading them)."""
        spec = self.backend.spec
        if spec.commit and not spec.tag and spec.type == "git" and self.looks_valid():
            # The common pin, in fewer processes: the commit's files, then
            # (like present_ref) that the cached branch contains it.
            view = cast("GitBackend", self.ops.view(self.backend, self.path))
            if self.ops.ref_problem(self.backend, self.path, spec.commit) is not None:
                return False
            return not spec.branch or view.shallow() or view.succeeds(
                ["git", "merge-base", "--is-ancestor", spec.commit, view.remote_branch()])
        if not self.holds_ref():
            return False
        rev: str | None
        if spec.commit:
            rev = spec.commit
        elif spec.tag:
            rev = spec.tag if spec.tag.startswith("refs/") else "refs/tags/" + spec.tag
        elif spec.branch:
            rev = cache_branch_ref(spec.branch)
        else:
            rev = spec.refspec
        return self.ops.ref_problem(self.backend, self.path, rev) is None

    def mark_used(self) -> None:
        with contextlib.suppress(OSError), open(os.path.join(self.path, USED), "w"):
            pass

    # -- filling ------------------------------------------------------

    def prepare(self) -> None:
        """Make the entry hold the configured ref, asking the remote at
        most once per run and only if needed: always for a floating ref (a
        branch or refspec without commit), otherwise only if it is missing."""
        if self.cache.offline:
            return      # checked beforehand (offline_check)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with entry_lock(self.lock_path, shared=True):
            if self.exists() and self._fresh_enough():
                return
        with entry_lock(self.lock_path):
            if not self.exists():
                self._build()
                return
            if not self.looks_valid():
                self._rebuild("it is not a complete repository")
                return
            if self._fresh_enough():
                return
            self._refresh()

    def _fresh_enough(self) -> bool:
        """Whether the entry can serve the repo without asking the remote:
        it holds the ref, and for a floating ref it was fetched during
        this run (by this kas or by another one that ran meanwhile: that
        answer is as fresh as ours would be)."""
        if is_floating(self.backend.spec):
            stamp = self.fetched_at()
            if self.path not in _fetched_by_us and (stamp is None or stamp < RUN_STARTED):
                return False
        return self.usable()

    def _refresh(self) -> None:
        """Fetch from the remote into the entry; a broken entry is rebuilt."""
        try:
            self._fetch_remote(self.path)
        except KasUserError as err:
            problem = self.ops.health_problem(self.backend, self.path)
            if problem is None:
                raise err from None
            self._rebuild(problem)
            return
        # A fetch trusts the refs it has, so objects lost from the entry
        # (an interrupted write, a deleted pack) may stay lost.  The full
        # check is slow on big repos: it runs only when the configured
        # ref is still not usable (missing upstream, or the entry broken).
        if not self.usable():
            problem = self.ops.health_problem(self.backend, self.path)
            if problem is not None:
                self._rebuild(problem)

    def _fetch_remote(self, path: str) -> None:
        log.info("Fetching %s into the repo cache", self.backend.spec.name)
        self.ops.fetch_remote(self.backend, path)
        with open(os.path.join(path, STAMP), "w"):
            pass
        with _fetched_guard:
            _fetched_by_us.add(self.path)

    def _build(self) -> None:
        """Create the entry in a temporary directory and rename it into place."""
        temp = f"{self.path}.new.{os.getpid()}.{threading.get_ident()}"
        shutil.rmtree(temp, ignore_errors=True)
        try:
            self.ops.init(self.backend, temp)
            with open(os.path.join(temp, URL_FILE), "w") as f:
                f.write(anonymous_url(self.backend.spec.url or "") + "\n")
            self._fetch_remote(temp)
            if os.path.lexists(self.path):
                old = f"{self.path}.old.{os.getpid()}.{threading.get_ident()}"
                os.rename(self.path, old)
                os.rename(temp, self.path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(temp, self.path)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def _rebuild(self, problem: str) -> None:
        log.warning("Repo cache entry %s of repo %s is broken (%s); rebuilding it from "
                    "the remote", self.path, self.backend.spec.name, problem)
        self._build()

    def _repair_after(self, failure: CommandError) -> None:
        """A local operation on the entry failed: rebuild it, unless offline."""
        if self.cache.offline:
            raise KasUserError(f"Repo cache entry {self.path} of repo "
                               f"{self.backend.spec.name} is unusable and cannot be rebuilt "
                               f"offline: {(failure.stderr or '').strip()}") from None
        lines = (failure.stderr or "").strip().splitlines()
        with entry_lock(self.lock_path):
            self._rebuild(lines[-1] if lines else failure.message)

    # -- serving work dirs --------------------------------------------

    def clone_into(self, into: str) -> None:
        """A fresh checkout at ``into`` from the entry (local)."""
        self.prepare()
        for attempt in (1, 2):
            try:
                with entry_lock(self.lock_path, shared=True):
                    self.ops.clone_local(self.backend, self.path, into)
                    self.mark_used()
                break
            except CommandError as err:
                shutil.rmtree(into, ignore_errors=True)
                if attempt == 2:
                    raise self.backend.fetch_failed(err.stderr or "") from None
                self._repair_after(err)
        # Refs a clone does not copy (a refs/... branch) are fetched from
        # the entry when the fetch step finds them missing (fetch_into).

    def fetch_into(self, prepare: bool = False) -> None:
        """Bring the configured ref from the entry into the existing checkout."""
        if prepare:
            self.prepare()
        for attempt in (1, 2):
            try:
                with entry_lock(self.lock_path, shared=True):
                    self.ops.fetch_local(self.backend, self.path)
                    self.mark_used()
                return
            except CommandError as err:
                if attempt == 2:
                    raise self.backend.fetch_failed(err.stderr or "") from None
                self._repair_after(err)


def backend_at(backend: Backend, path: str) -> Backend:
    """The same repo's backend, working on the checkout at ``path``."""
    other = type(backend)(backend.ctx, backend.spec, backend.settings)
    other.path = path
    return other


def is_floating(spec: CheckoutSpec) -> bool:
    """A ref whose meaning changes upstream: a branch or refspec without commit."""
    return spec.commit is None and spec.tag is None and bool(spec.branch or spec.refspec)


# --- git and hg -------------------------------------------------------------

def _run(backend: Backend, argv: list[str], cwd: str) -> subprocess.CompletedProcess[str]:
    return backend.ctx.runner.run(argv, cwd=cwd, env=backend.env)


def _fails(backend: Backend, argv: list[str], cwd: str) -> str | None:
    """None if ``argv`` succeeds, else its last line of complaint."""
    result = backend.ctx.runner.run(argv, cwd=cwd, env=backend.env, check=False)
    if result.returncode == 0:
        return None
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"{argv[0]} exited with {result.returncode}"


class GitOps:
    """A bare repository whose refs/heads and refs/tags mirror the remote's."""

    @staticmethod
    def looks_valid(path: str) -> bool:
        return all(os.path.exists(os.path.join(path, name))
                   for name in ("HEAD", "objects", "refs", STAMP))

    @staticmethod
    def view(backend: Backend, path: str) -> Backend:
        class EntryView(type(backend)):  # type: ignore[misc]  # the git backend
            # In the entry, origin's branches are its own refs/heads.
            def remote_branch(self) -> str:
                return cache_branch_ref(self.spec.branch)

        view = EntryView(backend.ctx, backend.spec, backend.settings)
        view.path = path
        return view

    @staticmethod
    def ref_problem(backend: Backend, path: str, rev: str | None) -> str | None:
        """Why the files of ``rev``'s commit cannot all be read, or None."""
        return _fails(backend, ["git", "rev-list", "--objects", "--missing=error", "-n", "1",
                                "--end-of-options", rev or "HEAD"], path)

    @staticmethod
    def init(backend: Backend, path: str) -> None:
        _run(backend, ["git", "init", "-q", "--bare", path], os.path.dirname(path))
        for key, value in (("gc.autoDetach", "false"),
                           ("uploadpack.allowAnySHA1InWant", "true")):
            _run(backend, ["git", "config", key, value], path)

    @staticmethod
    def fetch_remote(backend: Backend, path: str) -> None:
        spec = backend.spec
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        if spec.branch and spec.branch.startswith("refs/") and \
                not spec.branch.startswith("refs/heads/"):
            refspecs.append(f"+{spec.branch}:{spec.branch}")
        argv = ["git", "fetch", "-q", "--no-write-fetch-head", "--", backend.url]
        result = backend.ctx.runner.run(argv + refspecs, cwd=path, env=backend.env,
                                        check=False)
        if result.returncode != 0:
            raise backend.fetch_failed(result.stderr)
        commit = spec.commit
        if commit and len(commit) in (40, 64) and \
                _fails(backend, ["git", "cat-file", "-e", f"{commit}^{{commit}}"], path):
            # A commit no branch or tag reaches: keep it under a ref of its own.
            backend.ctx.runner.run(argv + [f"+{commit}:refs/kas/commits/{commit}"],
                                   cwd=path, env=backend.env, check=False)

    @staticmethod
    def health_problem(backend: Backend, path: str) -> str | None:
        return _fails(backend, ["git", "fsck", "--connectivity-only", "--no-dangling",
                                "--no-progress"], path)

    @staticmethod
    def clone_local(backend: Backend, path: str, into: str) -> None:
        # A path clone hard-links the object files (or copies them across
        # file systems): no alternates, so the checkout owns its objects.
        _run(backend, ["git", "clone", "-q", "--no-checkout", "--", path, into],
             os.path.dirname(into))
        # The work tree is filled by the checkout step; an unborn HEAD keeps
        # the empty tree from looking dirty to a later run.
        with open(os.path.join(into, ".git", "HEAD"), "w") as f:
            f.write(f"ref: {cast('GitBackend', backend).UNBORN_HEAD}\n")

    @staticmethod
    def fetch_local(backend: Backend, path: str) -> None:
        git = cast("GitBackend", backend)
        spec = backend.spec
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        if spec.branch and spec.branch.startswith("refs/") and \
                not spec.branch.startswith("refs/heads/"):
            refspecs.append(f"+{spec.branch}:{git.remote_branch()}")
        _run(backend, ["git", "fetch", "-q", "--", path] + refspecs, backend.path)
        commit = spec.commit
        if commit and len(commit) in (40, 64) and git.object_type(commit) is None:
            backend.ctx.runner.run(["git", "fetch", "-q", "--", path, commit],
                                   cwd=backend.path, env=backend.env, check=False)


def cache_branch_ref(branch: str) -> str:
    """Where the entry keeps the remote's ``branch``."""
    if branch.startswith("refs/"):
        return branch
    return "refs/heads/" + branch


class HgOps:
    """An hg repository without work tree holding everything the remote has."""

    @staticmethod
    def looks_valid(path: str) -> bool:
        return all(os.path.exists(os.path.join(path, name))
                   for name in (".hg/store", ".hg/requires", STAMP))

    view = staticmethod(backend_at)

    @staticmethod
    def ref_problem(backend: Backend, path: str, rev: str | None) -> str | None:
        return None     # a missing revlog fails the clone, which repairs

    @staticmethod
    def init(backend: Backend, path: str) -> None:
        _run(backend, ["hg", "init", path], os.path.dirname(path))

    @staticmethod
    def fetch_remote(backend: Backend, path: str) -> None:
        result = backend.ctx.runner.run(["hg", "pull", "-q", "--", backend.url], cwd=path,
                                        env=backend.env, check=False)
        if result.returncode != 0:
            raise backend.fetch_failed(result.stderr or result.stdout)

    @staticmethod
    def health_problem(backend: Backend, path: str) -> str | None:
        return _fails(backend, ["hg", "verify", "-q"], path)

    @staticmethod
    def clone_local(backend: Backend, path: str, into: str) -> None:
        # A local hg clone hard-links the revlogs (Mercurial breaks the link
        # before it writes to one), or copies them across file systems.
        _run(backend, ["hg", "clone", "-q", "-U", "--", path, into], os.path.dirname(into))
        # As if cloned from the remote: its URL is the default path.
        with open(os.path.join(into, ".hg", "hgrc"), "w") as f:
            f.write(f"[paths]\ndefault = {backend.url}\n")

    @staticmethod
    def fetch_local(backend: Backend, path: str) -> None:
        _run(backend, ["hg", "pull", "-q", "--", path], backend.path)


# --- settings and offline ---------------------------------------------------

def repo_cache(ctx: Context, offline: bool) -> RepoCache | None:
    """The cache of this run, or None when KAS_REPO_CACHE_DIR is unset."""
    root = ctx.caller_env.get("KAS_REPO_CACHE_DIR")
    if not root:
        return None
    root = os.path.abspath(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise KasUserError(f"KAS_REPO_CACHE_DIR {root} is not a directory")
    if ctx.caller_env.get("KAS_REPO_REF_DIR"):
        ctx.warn_once(("cache-wins",), "KAS_REPO_REF_DIR is ignored: KAS_REPO_CACHE_DIR is "
                      "set and takes its place")
    if not offline:
        os.makedirs(root, exist_ok=True)
    return RepoCache(ctx, root, offline)


def warn_offline_pins(ctx: Context, specs: list, offline: bool) -> None:
    """``kas lock`` / ``dump --resolve-refs`` offline: say that floating
    refs are pinned to the local state, not the remotes' latest."""
    if offline and any(not spec.commit for spec in specs):
        ctx.warn_once(("offline-pins",), "KAS_OFFLINE is set: floating refs are resolved to "
                      "what the repo cache and the work dirs hold, which may be older than "
                      "the remotes' state")


class OfflineError(KasUserError):
    """KAS_OFFLINE is set and some repos cannot be set up from local copies."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("KAS_OFFLINE is set, but not everything is available locally "
                         "(nothing was changed):\n" + "\n".join(problems))


def offline_check(ctx: Context, backends: list[Backend]) -> None:
    """Offline: fail before any checkout is touched, naming every repo
    whose configured ref is neither in its work dir nor in the cache;
    a floating ref is taken as cached, with a warning naming its age."""
    if backends and backends[0].settings.update:
        ctx.warn_once(("offline-update",), "KAS_OFFLINE is set: --update takes what the "
                      "repo cache holds, no remote is asked")
    problems = []
    for backend in backends:
        source = _offline_source(backend)
        if source is None:
            problems.append(_offline_problem(backend))
        elif is_floating(backend.spec):
            _warn_age(ctx, backend, *source)
    if problems:
        raise OfflineError(problems)


def _offline_source(backend: Backend) -> tuple[str, float | None] | None:
    """(where the ref comes from, time of that copy's last fetch) or None."""
    marker = os.path.join(backend.path, backend.MARKER)
    if os.path.lexists(marker) and backend.present_ref() is not None:
        return "work dir", _checkout_fetched_at(backend)
    cache = backend.settings.cache
    if cache is not None:
        entry = cache.entry(backend)
        if entry.exists():
            with entry_lock(entry.lock_path, shared=True):
                if entry.holds_ref():
                    return "cache", entry.fetched_at()
    return None


def _checkout_fetched_at(backend: Backend) -> float | None:
    names = (("FETCH_HEAD",), ("packed-refs",), ("HEAD",)) if backend.MARKER == ".git" \
        else (("store", "00changelog.i"),)
    for name in names:
        with contextlib.suppress(OSError):
            return os.stat(os.path.join(backend.path, backend.MARKER, *name)).st_mtime
    return None


def _offline_problem(backend: Backend) -> str:
    spec = backend.spec
    if spec.commit:
        return f"repo {spec.name}: commit {spec.commit} not in the cache or the work dir"
    if spec.tag:
        return f"repo {spec.name}: tag {spec.tag} not in the cache or the work dir"
    if spec.branch:
        return (f"repo {spec.name}: branch {spec.branch} cannot be resolved offline "
                "(no cached copy)")
    return (f"repo {spec.name}: refspec {spec.refspec} cannot be resolved offline "
            "(no cached copy)")


def _warn_age(ctx: Context, backend: Backend, source: str, fetched: float | None) -> None:
    spec = backend.spec
    ref = f"branch {spec.branch}" if spec.branch else f"refspec {spec.refspec}"
    age = "of unknown age" if fetched is None else \
        f"fetched {age_text(max(0.0, time.time() - fetched))} ago"
    what = "the cached copy" if source == "cache" else "the work dir's copy"
    ctx.warn_once(("offline-age", spec.id),
                  "repo %s: offline, %s resolves to %s %s", spec.name, ref, what, age)
