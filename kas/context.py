"""The state of one kas run, passed explicitly to every step.

The context knows the work and build directories, the effective color
state, the warnings already given once, the cleanups to run when kas
exits, and the four environments of a run, which must not be confused:

``ctx.caller_env``
    Snapshot of the environment kas was started in.  Read for kas's own
    settings (KAS_*, NO_COLOR, the variables of ``env:``) and to find the
    programs the caller would find on its PATH; never passed to children
    as a whole (ENV-001).
``ctx.managed_env``
    The small managed environment (ENV-100): locale, allow-listed caller
    variables, later HOME and the git settings of the setup steps
    (ENV-101).  With ``-E`` it is the whole caller environment.
``ctx.vcs_env()``
    The environment of git, hg and their helpers (ssh, gpg) before the
    build environment exists: the managed one plus the caller's PATH.
``ctx.bitbake_env``
    The environment of bitbake and of commands run in the build
    environment (shell, for-all-repos), composed by ``setup_environ``
    from the init script's; None before that step.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Callable

from kas.environment import managed_environment, vcs_environment
from kas.errors import KasUserError
from kas.process import Runner

if TYPE_CHECKING:
    # The objects the steps store here; the context only holds them.
    from kas.config.loop import ConfigResolver, Provider
    from kas.config.model import Config
    from kas.fslock import FileLock
    from kas.journal import Journal
    from kas.repos.model import RepoSpec
    from kas.vcs import FetchSettings

log = logging.getLogger(__name__)


def _current_directory() -> str:
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise KasUserError("The current directory does not exist any more") from None


class Context:
    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str] | None = None,
                 stdout_isatty: bool = False) -> None:
        self.args = args
        # The four environments are described in the module docstring.
        self.caller_env = dict(os.environ if environ is None else environ)
        if self.caller_env.get("NO_COLOR") == "":
            # An empty NO_COLOR counts as unset (CLI-012).
            del self.caller_env["NO_COLOR"]
        self.stdout_isatty = stdout_isatty
        self.no_color = (getattr(args, "no_color", False)
                         or bool(self.caller_env.get("NO_COLOR"))
                         or not stdout_isatty)
        self.work_dir = self._dir_from_env("KAS_WORK_DIR", _current_directory())
        if not os.path.isdir(self.work_dir):
            raise KasUserError(f"The work directory {self.work_dir} (KAS_WORK_DIR) does not "
                               "exist or is not a directory")
        self.build_dir = self._dir_from_env(
            "KAS_BUILD_DIR", os.path.join(self.work_dir, "build"))
        self.update = bool(getattr(args, "update", False))
        # `kas lock` resolves floating repos on purpose: no unpinned warnings.
        self.suppress_unpinned_warnings = False
        self.resolver: ConfigResolver | None = None    # the configuration loop of this run
        # Repos for includes; None: kas.repos.provider.RepoProvider.
        self.repo_provider: Provider | None = None
        self.config: Config | None = None       # once loaded
        self.repos: dict[str, RepoSpec] = {}    # repo id -> its spec
        self.runner = Runner()     # starts (and on cancellation stops) children
        # The managed environment (ENV-100); steps add HOME etc. (ENV-101).
        self.managed_env = managed_environment(self.caller_env, self.no_color)
        self.preserve_env = False  # -E: managed_env is the whole caller environment
        # The environment of bitbake, after setup_environ.
        self.bitbake_env: dict[str, str] | None = None
        self.fresh_clones: set[str] = set()     # repo directories cloned by this run
        self.journal: Journal | None = None     # when KAS_JOURNAL is set
        self.work_dir_lock: FileLock | None = None  # held on the work directory
        # The run's fetch settings, made by kas.vcs.fetch_settings on first use.
        self.fetch_settings: FetchSettings | None = None
        self._warned: set[Hashable] = set()
        self._cleanups: list[Callable[[], object]] = []

    def _dir_from_env(self, name: str, default: str) -> str:
        # Relative values are taken relative to the current directory (ENV-003).
        return os.path.abspath(self.caller_env.get(name) or default)

    def vcs_env(self) -> dict[str, str]:
        """The environment for git and hg: managed, plus the caller's PATH."""
        return vcs_environment(self.managed_env, self.caller_env)

    def warn_once(self, key: Hashable, message: str, *args: object) -> None:
        """Log a WARNING only the first time ``key`` is seen in this process."""
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(message, *args)

    def add_cleanup(self, func: Callable[[], object]) -> None:
        """Register ``func()`` to run when kas exits (in reverse order)."""
        self._cleanups.append(func)

    def run_cleanups(self) -> None:
        # Cleanups may run commands even after a cancellation stopped the
        # children of the failed step.
        self.runner.cancelled.clear()
        while self._cleanups:
            func = self._cleanups.pop()
            try:
                func()
            except Exception as err:  # noqa: BLE001 - a failing cleanup must not hide the result
                log.warning("Cleanup failed: %s", err)
