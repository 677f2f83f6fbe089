"""Loading the top files with their lock files and includes (INC-001 ...
INC-090): one *pass* of the repository loop.

A pass walks every top file depth-first and returns the ordered list of
loaded files (lowest merge priority first) plus the ids of repositories
whose includes could not be read yet because the repository is not on
disk.  :mod:`kas.config.loop` runs passes until nothing is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kas.config import schema
from kas.config.validcache import ValidationCache
from kas.errors import ConfigError, IncludeError
from kas.fsutil import within
from kas.lock import lock_file_of
from kas.vcs.query import vcs_root

if TYPE_CHECKING:
    from kas.context import Context

log = logging.getLogger(__name__)

# Only a backstop: cycles are detected, and the walk is not recursive.
MAX_INCLUDE_DEPTH = 10000

ISAR_DEPRECATION = ("The semantics of build_system: isar might change in the future. "
                    "Please use 'isar-privileged' or 'isar-rootless'.")


@dataclass(frozen=True, eq=False)
class LoadedFile:
    """One occurrence of a config file in the merge order (equal only to
    itself: the same file may occur twice)."""

    path: str               # absolute path
    data: dict[str, Any]    # parsed and validated content
    raw: bytes              # the bytes ``data`` was parsed from
    version: int            # integer format version
    is_lock: bool           # this file is a lock file
    in_lock: bool           # loaded as (part of) a lock file group
    external: bool          # reached through another repository (INC-076)
    repo_root: str          # root its string includes resolve against


def split_config_argument(argument: str | None, work_dir: str) -> list[str]:
    """INC-001/INC-002: the list of absolute top file paths."""
    if not argument:
        return [os.path.join(work_dir, ".config.yaml")]
    return [os.path.abspath(name) for name in argument.split(":")]


class ConfigLoader:
    """Loads the top files; keeps what stays the same across passes."""

    def __init__(self, ctx: Context, top_files: Iterable[str]) -> None:
        self.ctx = ctx
        self.top_files = list(top_files)
        self.validation_cache = ValidationCache.from_environ(ctx.caller_env, schema.SCHEMA_PATH)
        self._top_repo_path: str | None = None
        self._vcs_roots: dict[str, str | None] = {}
        self._check_same_repository()

    def _check_same_repository(self) -> None:
        """INC-005: all top files in one checkout, or all outside VCS."""
        if len(self.top_files) < 2:
            return
        roots = {self._vcs_root(os.path.dirname(f)) for f in self.top_files}
        if len(roots) > 1:
            raise ConfigError(
                "All concatenated config files must belong to the same repository "
                "or all must be outside of versioning control")

    @property
    def top_repo_path(self) -> str:
        """INC-070: ``_source_dir``, else the VCS root, else the directory."""
        if self._top_repo_path is None:
            first_dir = os.path.dirname(self.top_files[0])
            self._top_repo_path = self._vcs_root(first_dir) or first_dir
        return self._top_repo_path

    def _vcs_root(self, directory: str) -> str | None:
        if directory not in self._vcs_roots:
            self._vcs_roots[directory] = vcs_root(self.ctx, directory)
        return self._vcs_roots[directory]

    def run_pass(self, known_repos: Mapping[str, str]) -> tuple[list[LoadedFile], list[str]]:
        """Load all top files; returns (loaded files, missing repo ids)."""
        walk = _Pass(self, known_repos)
        for index, path in enumerate(self.top_files):
            walk.load(path, _Scope(None), stack=[], is_first=(index == 0))
        return walk.loaded, list(dict.fromkeys(walk.missing))

    def check_file_rules(self, data: dict[str, Any], path: str, is_first: bool) -> None:
        if "_source_dir" in data:
            if not is_first:
                raise ConfigError("'_source_dir' is only allowed in the top-level "
                                  f"kas configuration: {path}")
            self._top_repo_path = os.path.normpath(
                os.path.join(os.path.dirname(path), data["_source_dir"]))
        if is_first and data.get("build_system") == "isar":
            self.ctx.warn_once("build_system-isar", ISAR_DEPRECATION)
        if data.get("proxy_config"):
            log.warning("Obsolete proxy_config detected. This has no effect "
                        "and will be rejected soon.")

    @staticmethod
    def string_include(name: str, repo_root: str, including_file: str) -> str:
        """INC-011/INC-013: repo-relative, then the deprecated file-relative."""
        primary = os.path.realpath(os.path.join(repo_root, name))
        if not within(primary, repo_root, resolve=True):
            raise IncludeError(f"include {primary} resolves outside repository {repo_root}")
        if os.path.exists(primary):
            return primary
        file_dir = os.path.dirname(including_file)
        alternate = os.path.realpath(os.path.join(file_dir, name))
        if not within(alternate, file_dir, resolve=True):
            raise IncludeError(f"include {alternate} resolves outside repository {file_dir}")
        if os.path.exists(alternate):
            log.warning('Falling back to file-relative addressing of local include "%s"',
                        name)
            log.warning("Update your layer to repo-relative addressing to avoid "
                        "this warning")
            return alternate
        return primary

    @staticmethod
    def repo_include(item: dict[str, Any], repo_path: str) -> str:
        """INC-020: a file inside a known repository."""
        target = os.path.realpath(os.path.join(repo_path, item["file"]))
        if not within(target, repo_path, resolve=True):
            raise IncludeError(f"include {target} resolves outside repository {repo_path}")
        return target


@dataclass(frozen=True)
class _Scope:
    """What a file inherits from the file that brought it in."""

    repo_root: str | None       # None for top files: the top repository
    in_lock: bool = False       # part of a lock file group
    external: bool = False      # reached through another repository


# What a file brings in: (path, scope, is the first top file, is a lock file).
_Child = tuple[str, "_Scope", bool, bool]


class _Pass:
    """The state of one pass: the loaded files and the missing repo ids."""

    def __init__(self, loader: ConfigLoader, known_repos: Mapping[str, str]) -> None:
        self.loader = loader
        self.known_repos = known_repos
        self.loaded: list[LoadedFile] = []
        self.missing: list[str] = []

    def load(self, path: str, scope: _Scope, stack: list[str], is_first: bool = False,
             is_lock: bool = False) -> None:
        """INC-010: ``path``'s lock file, its includes, then ``path`` itself.

        Depth-first and post-order, but with an explicit stack instead of
        recursion: include chains may be deeper than Python's recursion
        limit.  ``stack`` is the chain of files (real paths) above ``path``.
        """
        chain = list(stack)             # real paths of the files being loaded
        frames: list[tuple[_OpenFile, Iterator[_Child]]] = []   # files and their pending children
        pending: _Child | None = (path, scope, is_first, is_lock)
        while True:
            if pending is not None:
                opened = self._open(*pending, chain)
                chain.append(opened.real)
                frames.append((opened, self._children(opened)))
            opened, children = frames[-1]
            pending = next(children, None)
            if pending is not None:
                continue
            frames.pop()
            chain.pop()
            self.loaded.append(LoadedFile(opened.path, opened.data, opened.raw, opened.version,
                                          opened.is_lock, opened.scope.in_lock,
                                          opened.scope.external, opened.repo_root))
            if not frames:
                return

    def _open(self, path: str, scope: _Scope, is_first: bool, is_lock: bool,
              chain: list[str]) -> _OpenFile:
        """Check for a cycle, parse and validate ``path``."""
        loader = self.loader
        real = os.path.realpath(path)
        if real in chain:
            cycle = " -> ".join(chain[chain.index(real):] + [real])
            raise IncludeError(f"Include cycle detected: {cycle}")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise IncludeError(
                f"Includes nested more than {MAX_INCLUDE_DEPTH} levels deep at {path}")
        data, raw, version = schema.read_config_file(path, self.loader.validation_cache)
        loader.check_file_rules(data, path, is_first)
        if scope.repo_root is None:     # known once _source_dir has been seen
            scope = replace(scope, repo_root=loader.top_repo_path)
        return _OpenFile(path, real, data, raw, version, scope, is_lock)

    def _children(self, opened: _OpenFile) -> Iterator[_Child]:
        """The files ``opened`` brings in, in load order, as arguments of
        :meth:`_open` (minus the chain).  A generator: each include is
        resolved only after the previous one has been loaded completely."""
        loader = self.loader
        path, scope = opened.path, opened.scope
        lock = lock_file_of(path)
        if os.path.isfile(lock):
            yield lock, replace(scope, in_lock=True), False, True
        for item in opened.data["header"].get("includes", []):
            if isinstance(item, str):
                yield loader.string_include(item, opened.repo_root, path), scope, False, False
                continue
            repo_path = self.known_repos.get(item["repo"])
            if repo_path is None:
                self.missing.append(item["repo"])
                continue
            external = scope.external or (os.path.realpath(repo_path)
                                          != os.path.realpath(loader.top_repo_path))
            yield (loader.repo_include(item, repo_path),
                   replace(scope, repo_root=repo_path, external=external), False, False)


@dataclass(frozen=True)
class _OpenFile:
    """A file whose includes are being loaded."""

    path: str
    real: str
    data: dict
    raw: bytes
    version: int
    scope: _Scope
    is_lock: bool

    @property
    def repo_root(self) -> str:
        """The root its string includes resolve against (always known once
        the file is open)."""
        assert self.scope.repo_root is not None
        return self.scope.repo_root
