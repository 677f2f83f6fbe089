"""The state of one kas run, passed explicitly to every step.

The context knows the caller's environment (a snapshot taken at start),
the work and build directories, the effective color state, the warnings
already given once, and the cleanups to run when kas exits.
"""

import logging
import os

from kas.environment import managed_environment, tool_environment
from kas.errors import KasUserError
from kas.process import Runner

log = logging.getLogger(__name__)


def _current_directory():
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise KasUserError("The current directory does not exist any more") from None


class Context:
    def __init__(self, args, environ=None, stdout_isatty=False):
        self.args = args
        # Snapshot of the environment kas was started in.  It is never
        # passed to children as a whole (ENV-001).
        self.environ = dict(os.environ if environ is None else environ)
        if self.environ.get("NO_COLOR") == "":
            # An empty NO_COLOR counts as unset (CLI-012).
            del self.environ["NO_COLOR"]
        self.stdout_isatty = stdout_isatty
        self.no_color = (getattr(args, "no_color", False)
                         or bool(self.environ.get("NO_COLOR"))
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
        self.resolver = None       # kas.config.loop.ConfigResolver of this run
        self.repo_provider = None  # repos for includes; None: kas.repos.provider.RepoProvider
        self.config = None         # kas.config.model.Config, once loaded
        self.repos = {}            # repo id -> kas.repos.model.RepoSpec
        self.runner = Runner()     # starts (and on cancellation stops) children
        # The managed environment (ENV-100); steps add HOME etc. (ENV-101).
        self.env = managed_environment(self.environ, self.no_color)
        self.preserve_env = False  # -E: self.env is the whole caller environment
        self.build_env = None      # the environment of bitbake, after setup_environ
        self.fresh_clones = set()  # repo directories cloned by this run
        self.work_dir_lock = None  # kas.fslock.FileLock held on the work directory
        self._warned = set()
        self._cleanups = []

    def _dir_from_env(self, name, default):
        # Relative values are taken relative to the current directory (ENV-003).
        return os.path.abspath(self.environ.get(name) or default)

    def tool_env(self):
        """The environment for git and hg: managed, plus the caller's PATH."""
        return tool_environment(self.env, self.environ)

    def warn_once(self, key, message, *args):
        """Log a WARNING only the first time ``key`` is seen in this process."""
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(message, *args)

    def add_cleanup(self, func):
        """Register ``func()`` to run when kas exits (in reverse order)."""
        self._cleanups.append(func)

    def run_cleanups(self):
        # Cleanups may run commands even after a cancellation stopped the
        # children of the failed step.
        self.runner.cancelled.clear()
        while self._cleanups:
            func = self._cleanups.pop()
            try:
                func()
            except Exception as err:  # noqa: BLE001 - a failing cleanup must not hide the result
                log.warning("Cleanup failed: %s", err)
