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
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from kas.errors import CommandError, KasUserError
from kas.fslock import FileLock, LockTimeout
from kas.fsutil import build_dir
from kas.vcs.base import RemoteFetchFailed
from kas.vcs.urls import absolute_url, qualified_name

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from kas.context import Context
    from kas.vcs.base import Backend, CheckoutSpec

log = logging.getLogger(__name__)

# Written after every completed fetch from the remote: its mtime is the
# age of the cached copy (offline warnings, freshness, pruning).
STAMP = "kas-fetched"
# The configured URL without credentials, for people listing the cache.
URL_FILE = "kas-url"
# A file touched whenever a work dir is set up from the entry (pruning).
USED = "kas-used"

# What an entry's temporary directory is, for the error about a foreign
# file at its name.
ENTRY_PURPOSE = "builds a repo cache entry"

# How long a kas waits for another one that holds an entry.
LOCK_TIMEOUT = 3600.0


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


def cache_url(backend: Backend) -> str:
    """The URL an entry is kept under: the configured one (not what
    KAS_PREMIRRORS or insteadOf make of it), a relative path made absolute
    against the work directory, so that ``../layer`` of two work dirs that
    means two repositories cannot share one entry."""
    assert backend.spec.url is not None
    return absolute_url(backend.spec.url, backend.ctx.work_dir)


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
        name = entry_name(backend.spec.type, cache_url(backend))
        return CacheEntry(self, os.path.join(self.root, name), backend)


class CacheEntry:
    """The entry of one repository, seen through that repository's backend."""

    def __init__(self, cache: RepoCache, path: str, backend: Backend) -> None:
        self.cache = cache
        self.path = path
        self.lock_path = path + ".lock"
        self.backend = backend
        self.ops = backend.cache_mechanics(path)

    # -- state --------------------------------------------------------

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def looks_valid(self) -> bool:
        """A repository, and a completed fetch from the remote."""
        return os.path.exists(os.path.join(self.path, STAMP)) and self.ops.is_repository()

    def fetched_at(self) -> float | None:
        try:
            return os.stat(os.path.join(self.path, STAMP)).st_mtime
        except OSError:
            return None

    def holds_ref(self) -> bool:
        """Whether the entry holds what the repo's configuration names."""
        return self.looks_valid() and self.ops.holds_ref()

    def usable(self) -> bool:
        """Holds the ref, and the files of its commit are all there (a
        local clone copies objects without reading them)."""
        return self.looks_valid() and self.ops.usable()

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
        except RemoteFetchFailed as err:
            # Perhaps the entry is what is broken; anything else (a
            # missing program, a lock) is not mended by a rebuild.
            problem = self.ops.health_problem()
            if problem is None:
                raise err from None
            self._rebuild(problem)
            return
        # A fetch trusts the refs it has, so objects lost from the entry
        # (an interrupted write, a deleted pack) may stay lost.  The full
        # check is slow on big repos: it runs only when the configured
        # ref is still not usable (missing upstream, or the entry broken).
        if not self.usable():
            problem = self.ops.health_problem()
            if problem is not None:
                self._rebuild(problem)

    def _fetch_remote(self, path: str) -> None:
        log.info("Fetching %s into the repo cache", self.backend.spec.name)
        self.backend.cache_mechanics(path).fetch_remote()
        with open(os.path.join(path, STAMP), "w"):
            pass
        with _fetched_guard:
            _fetched_by_us.add(self.path)

    def _build(self) -> None:
        """Create the entry in a temporary directory and rename it into
        place, replacing a broken one (the caller holds the entry's lock)."""
        def make(into: str) -> None:
            self.backend.cache_mechanics(into).init()
            with open(os.path.join(into, URL_FILE), "w") as f:
                f.write(anonymous_url(cache_url(self.backend)) + "\n")
            self._fetch_remote(into)

        build_dir(self.path, make, ENTRY_PURPOSE, replace=True)

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
                    self.ops.clone_into(into)
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
                    self.ops.fetch_into_checkout()
                    self.mark_used()
                return
            except CommandError as err:
                if attempt == 2:
                    raise self.backend.fetch_failed(err.stderr or "") from None
                self._repair_after(err)


def is_floating(spec: CheckoutSpec) -> bool:
    """A ref whose meaning changes upstream: a branch or refspec without commit."""
    return spec.commit is None and spec.tag is None and bool(spec.branch or spec.refspec)


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


def warn_offline_pins(ctx: Context, specs: Sequence[CheckoutSpec], offline: bool) -> None:
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
    for name in backend.REPO.FETCH_STAMPS:
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
