"""The effective configuration and typed access to it.

Environment overrides (the table ``ENV_OVERRIDES``: KAS_MACHINE,
KAS_DISTRO, KAS_TARGET, KAS_TASK) and defaults are applied here, so every
consumer gets the same answer; ``kas dump --explain`` shows them from the
same table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kas.config.includes import LoadedFile
    from kas.context import Context


@dataclass(frozen=True)
class EnvOverride:
    """A top-level key that a variable of the caller's environment sets,
    winning over the files; a key that neither sets has its default."""

    key: str
    variable: str
    default: str
    words: bool = False     # whitespace-separated words; none means "not set"

    def value(self, environ: Mapping[str, str]) -> str | list[str] | None:
        """The value the variable gives the key, None if it gives none: a
        plain variable counts even when empty, a list of words only with
        a word; one word is a string, as a file would write it."""
        if not self.words:
            return environ.get(self.variable)
        words = environ.get(self.variable, "").split()
        if not words:
            return None
        return words[0] if len(words) == 1 else words


# CF-400 ... CF-403: the keys the environment overrides, by key.
ENV_OVERRIDES = {override.key: override for override in (
    EnvOverride("machine", "KAS_MACHINE", "qemux86-64"),
    EnvOverride("distro", "KAS_DISTRO", "nodistro"),
    EnvOverride("target", "KAS_TARGET", "core-image-minimal", words=True),
    EnvOverride("task", "KAS_TASK", "build"),
)}

DEFAULT_BUILD_SYSTEM = "openembedded"

ISAR_BUILD_SYSTEMS = ("isar-privileged", "isar-rootless")


class Config:
    def __init__(self, ctx: Context, data: dict[str, Any], loaded_files: list[LoadedFile],
                 top_files: list[str], top_repo_path: str,
                 all_files: list[LoadedFile] | None = None) -> None:
        self.ctx = ctx
        self.data = data                    # the merged mapping
        self.loaded_files = loaded_files    # LoadedFile list, merge order
        # Every file loaded, lock files included even when --update leaves
        # them out of the merge (kas lock rewrites them).
        self.all_files = loaded_files if all_files is None else all_files
        self.top_files = top_files          # absolute paths from the command line
        self.top_repo_path = top_repo_path
        # (source mapping, read-only view of it), see repos()
        self._repos_cache: tuple[Any, Mapping[str, dict[str, Any]]] = (None, MappingProxyType({}))

    @property
    def environ(self) -> dict[str, str]:
        return self.ctx.caller_env

    def setting(self, key: str) -> Any:
        """The value of ``key`` of ENV_OVERRIDES: the variable's, else the
        files', else the default."""
        override = ENV_OVERRIDES[key]
        value = override.value(self.environ)
        return self.data.get(key, override.default) if value is None else value

    def machine(self) -> str:
        """CF-400: KAS_MACHINE (even empty) > machine > qemux86-64."""
        machine: str = self.setting("machine")     # the schema makes it a string
        return machine

    def distro(self) -> str:
        """CF-401: KAS_DISTRO (even empty) > distro > nodistro."""
        distro: str = self.setting("distro")       # the schema makes it a string
        return distro

    def targets(self, cli_targets: Sequence[str] | None = None) -> list[str]:
        """CF-402: --target > KAS_TARGET words > target > the default."""
        if cli_targets:
            return list(cli_targets)
        target = self.setting("target")
        return [target] if isinstance(target, str) else list(target)

    def task(self, cli_task: str | None = None) -> str:
        """CF-403: -c > KAS_TASK (even empty) > task > build."""
        if cli_task is not None:
            return cli_task
        task: str = self.setting("task")           # the schema makes it a string
        return task

    def build_system(self) -> str:
        """CF-301: normalised; ``isar`` means ``isar-privileged``."""
        value = self.data.get("build_system") or DEFAULT_BUILD_SYSTEM
        return "isar-privileged" if value == "isar" else value

    def is_isar(self) -> bool:
        return self.build_system() in ISAR_BUILD_SYSTEMS

    def env_defaults(self) -> dict[str, str | None]:
        """The ``env`` section: name -> default string or None."""
        return dict(self.data.get("env") or {})

    def resolved_env(self) -> dict[str, str | None]:
        """CF-501: the caller's value if set (even empty), else the default."""
        return {name: self.environ.get(name, default)
                for name, default in self.env_defaults().items()}

    def repos(self) -> Mapping[str, dict[str, Any]]:
        """repo id -> repo mapping (a null repo is an empty mapping), read-only.

        Built once per ``repos`` section: callers look repos up once per
        repo, and rebuilding the map on every call made loading quadratic
        in the number of repos (10,000 repos took a quarter of a minute).
        """
        source = self.data.get("repos") or {}
        cached_source, view = self._repos_cache
        if cached_source is not source or len(view) != len(source):
            view = MappingProxyType({rid: (value or {}) for rid, value in source.items()})
            self._repos_cache = (source, view)
        return view
