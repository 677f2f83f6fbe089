"""The setup pipeline shared by the commands (CLI-040): named steps that
run in a fixed order, each skippable with ``--skip``.

Steps take the context and store their results on it.  Commands add the
common options with :func:`add_setup_options` and run the steps with
:func:`run_setup`, naming the steps they leave out.  Cleanups registered
by steps (private HOME, ssh-agent) run in reverse order when kas exits,
whatever happened (see kas.cli).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Callable

from kas.errors import ArgumentsError, KasUserError

if TYPE_CHECKING:
    from kas.config.model import Config
    from kas.context import Context
    from kas.vcs.base import Commit

log = logging.getLogger(__name__)

# Commands build their parsers from this module on every start (even for
# --version), so the machinery is imported inside the steps.

CACHEDIR_TAG = """Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by kas.
# For information about cache directory tags, see:
# https://bford.info/cachedir/spec.html
#
# kas build directory
"""


# --- the work directory lock (issue 21.1) ---------------------------------
#
# Commands that change the work directory hold an exclusive lock on it for
# their whole run, read-only ones a shared one, so two kas runs (also one
# in kas-container, which mounts the work directory) never work on the
# same repos at once: the second one waits.  The lock is an flock, dropped
# by the kernel when kas ends, however it ends.

WORK_DIR_LOCK_FILE = ".kas.lock"

# Without a terminal nobody can press Ctrl-C: give up after an hour.
DEFAULT_LOCK_TIMEOUT = 3600.0


def lock_timeout(environ: Mapping[str, str], interactive: bool) -> float | None:
    """Seconds to wait for the work directory (None: forever), from
    KAS_LOCK_TIMEOUT or the default."""
    value = environ.get("KAS_LOCK_TIMEOUT", "").strip()
    if not value:
        return None if interactive else DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise KasUserError(f'KAS_LOCK_TIMEOUT must be a number of seconds, not "{value}"')
    return seconds


def lock_work_dir(ctx: Context, mode: str | None) -> None:
    """Hold the work directory lock ("exclusive" or "shared") until kas
    ends; nothing if ``mode`` is None or a lock is held already."""
    from kas.fslock import FileLock, LockTimeout

    if mode is None or ctx.work_dir_lock is not None:
        return
    work_dir = ctx.work_dir

    def waiting(pid: int | None) -> None:
        holder = f" (pid {pid})" if pid else ""
        log.info("Waiting for another kas%s using %s", holder, work_dir)

    lock = FileLock(os.path.join(work_dir, WORK_DIR_LOCK_FILE), shared=mode == "shared",
                    timeout=lock_timeout(ctx.caller_env, os.isatty(0)), on_wait=waiting)
    try:
        lock.acquire()
    except LockTimeout as err:
        holder = f" (pid {err.holder})" if err.holder else ""
        raise KasUserError(f"Another kas{holder} is still using {work_dir} after waiting "
                           f"{err.timeout:g} s (KAS_LOCK_TIMEOUT)") from None
    except OSError as err:
        # A work directory kas may not write to: nothing to protect here.
        log.debug("Work directory not locked: %s", err)
        return
    ctx.work_dir_lock = lock
    # The file goes with the last user: a work directory looks the same
    # before and after kas (a lock file left by a killed kas is harmless).
    ctx.add_cleanup(lambda: lock.release(remove=True))


def setup_dir(ctx: Context) -> None:
    """Create the build directory (one level) and its CACHEDIR.TAG."""
    try:
        os.mkdir(ctx.build_dir)
    except FileExistsError:
        if not os.path.isdir(ctx.build_dir):
            raise KasUserError(f"The build directory {ctx.build_dir} exists but is not a "
                               "directory") from None
    except FileNotFoundError:
        raise KasUserError("Cannot create the build directory "
                           f"{ctx.build_dir}: its parent does not exist") from None
    tag = os.path.join(ctx.build_dir, "CACHEDIR.TAG")
    if not os.path.exists(tag):
        with open(tag, "w") as f:
            f.write(CACHEDIR_TAG)


def setup_ssh_agent(ctx: Context) -> None:
    """Internal ssh-agent with the keys of SSH_PRIVATE_KEY(_FILE) (CLI-060)."""
    from kas.ssh import setup_ssh_agent as start

    start(ctx)


def setup_home(ctx: Context) -> None:
    """Private temporary HOME with the handed-over credentials (CLI-070)."""
    from kas.home import create_home

    environ = ctx.caller_env
    if ctx.preserve_env:
        environ = {k: v for k, v in environ.items() if k not in IGNORED_WITH_PRESERVED_ENV}
    ctx.managed_env["HOME"] = create_home(ctx, environ)


def make_non_interactive(ctx: Context) -> None:
    ctx.managed_env["GIT_TERMINAL_PROMPT"] = "false"


def init_setup_repos(ctx: Context) -> None:
    """Parse the configuration and find the repos that includes need."""
    from kas.config.includes import split_config_argument
    from kas.config.loop import ConfigResolver
    from kas.repos.provider import RepoProvider

    top_files = split_config_argument(ctx.args.config, ctx.work_dir)
    provider = ctx.repo_provider or RepoProvider(ctx)
    ctx.resolver = ConfigResolver(ctx, top_files, provider)
    ctx.config = ctx.resolver.first_pass()


def repo_setup_loop(ctx: Context) -> None:
    """Make the repos needed by includes available until the config is complete."""
    from kas.repos.model import build_repos

    if ctx.resolver is None:
        raise ArgumentsError("repo_setup_loop requires init_setup_repos")
    ctx.config = ctx.resolver.complete()
    # Every repo definition is checked, needed or not (CF-603).
    ctx.repos = build_repos(ctx.config)


def finish_setup_repos(ctx: Context) -> None:
    """Fetch every repo of the complete configuration, in parallel."""
    from kas.docio.writer import to_yaml
    from kas.errors import redact
    from kas.repos.fetch import fetch_all

    fetch_all(ctx, list(ctx.repos.values()))
    # Nothing is loaded when the loading steps were skipped: run_setup
    # then says that the command needs them.  Printing a large config takes
    # a while: only when it is shown.
    if ctx.config is not None and log.isEnabledFor(logging.DEBUG):
        log.debug("Configuration from config file:\n%s", redact(to_yaml(ctx.config.data)))


def repos_checkout(ctx: Context) -> None:
    from kas.repos.checkout import checkout_all

    checkout_all(ctx, list(ctx.repos.values()))


def repos_apply_patches(ctx: Context) -> None:
    from kas.home import complete_git_identity
    from kas.repos.patches import apply_all

    if "HOME" not in ctx.managed_env:
        raise ArgumentsError("Apply patches requires setup_home")
    apply_all(ctx, ctx.repos)
    complete_git_identity(ctx)


def setup_environ(ctx: Context) -> None:
    """Source the init script and compose the build environment."""
    from kas.buildenv.buildtools import prepare_buildtools
    from kas.buildenv.environ import build_environment
    from kas.buildenv.initscript import find_init_script, source_init_script

    spec, script = find_init_script(ctx.config, ctx.repos)
    buildtools_setup = prepare_buildtools(ctx)
    ctx.bitbake_env = build_environment(
        ctx, source_init_script(ctx, spec, script, buildtools_setup=buildtools_setup))


def write_bbconfig(ctx: Context) -> None:
    from kas.buildenv.bbconfig import write_bbconfig as write

    write(ctx)


# In execution order (CLI-040).
STEPS: tuple[tuple[str, Callable[[Context], None]], ...] = (
    ("setup_dir", setup_dir),
    ("setup_ssh_agent", setup_ssh_agent),
    ("setup_home", setup_home),
    ("make_non_interactive", make_non_interactive),
    ("init_setup_repos", init_setup_repos),
    ("repo_setup_loop", repo_setup_loop),
    ("finish_setup_repos", finish_setup_repos),
    ("repos_checkout", repos_checkout),
    ("repos_apply_patches", repos_apply_patches),
    ("setup_environ", setup_environ),
    ("write_bbconfig", write_bbconfig),
)

STEP_NAMES = tuple(name for name, _ in STEPS)


def steps_of_this_run(environ: Mapping[str, str]) -> tuple[str, ...]:
    """CLI-040/042: setup_ssh_agent exists only when a key variable is set."""
    from kas.ssh import agent_requested

    return tuple(name for name in STEP_NAMES
                 if name != "setup_ssh_agent" or agent_requested(environ))

# CLI-045: what -k/--keep-config-unchanged leaves out.
KEEP_CONFIG_SKIPS = ("setup_dir", "finish_setup_repos", "repos_checkout",
                     "repos_apply_patches", "write_bbconfig")


def add_setup_options(parser: argparse.ArgumentParser, keep_config: bool = False,
                      preserve_env: bool = False, config: bool = True) -> None:
    """--skip, --force-checkout, --update, optionally -k and -E, and (unless
    ``config`` is False: diff has two) the config argument."""
    steps = steps_of_this_run(os.environ)
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP", choices=steps,
        help="Skip the named setup step (repeatable). Choices: {}".format(", ".join(steps)))
    parser.add_argument(
        "--force-checkout", action="store_true",
        help="Always check out the configured revision, discarding local changes")
    parser.add_argument(
        "--update", action="store_true",
        help="Pull new upstream changes of unpinned repos; ignore lock files")
    if keep_config:
        parser.add_argument(
            "-k", "--keep-config-unchanged", action="store_true",
            help="Skip the steps that change the repos and the bitbake config files")
    if preserve_env:
        parser.add_argument(
            "-E", "--preserve-env", action="store_true",
            help="Keep the whole calling environment (only from a terminal)")
    if config:
        add_config_argument(parser)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", default="",
        help="Config file(s), separated by colons. Default: "
             "<KAS_WORK_DIR>/.config.yaml")


def requested_skips(args: argparse.Namespace) -> set[str]:
    """The steps the command line asks to skip (--skip and -k)."""
    skips = set(getattr(args, "skip", None) or ())
    if getattr(args, "keep_config_unchanged", False):
        skips.update(KEEP_CONFIG_SKIPS)
    return skips


# The configuration is complete after this step (run or skipped): checks
# that depend on it run here, before the repositories are fetched (only
# those that includes come from are fetched earlier).
CONFIG_COMPLETE_STEP = "repo_setup_loop"


def run_setup(ctx: Context, skip: Iterable[str] = (), default_skip: Collection[str] = (),
              after_config: Callable[[Context], object] | None = None) -> Config:
    """Run every step not in ``skip`` or ``default_skip``, in order;
    ``after_config(ctx)`` runs once the configuration is complete."""
    skipped = set(skip) | set(default_skip)
    if getattr(ctx.args, "preserve_env", False):
        preserve_environment(ctx)
    present = steps_of_this_run(ctx.caller_env)
    journal = ctx.journal
    for name, step in STEPS:
        if name in skipped or name not in present:
            if journal is not None and name in present:
                journal.skipped_step(name)
        else:
            log.debug("execute %s", name)
            if journal is None:
                step(ctx)
            else:
                journal.run_step(name, step, ctx)
        if name == CONFIG_COMPLETE_STEP and after_config is not None \
                and ctx.config is not None:
            after_config(ctx)
    if ctx.config is None:
        raise ArgumentsError("this command needs the init_setup_repos step")
    return ctx.config


# CLI-330: credential variables that -E makes meaningless.
IGNORED_WITH_PRESERVED_ENV = (
    "GIT_CREDENTIAL_HELPER", "GIT_CREDENTIAL_USEHTTPPATH", "GITCONFIG_FILE",
    "AWS_CONFIG_FILE", "AWS_ROLE_ARN", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "NETRC_FILE", "NPMRC_FILE", "REGISTRY_AUTH_FILE")


def preserve_environment(ctx: Context) -> None:
    """-E: the whole calling environment becomes the managed one."""
    for name in IGNORED_WITH_PRESERVED_ENV:
        if name in ctx.caller_env:
            log.warning('Environment variable "%s" ignored because user environment is '
                        "being used", name)
    if not ctx.stdout_isatty:
        raise KasUserError("--preserve-env can only be run from a tty")
    log.warning("Preserving the current environment block may have unintended side "
                "effects on the build.")
    ctx.managed_env = dict(ctx.caller_env)
    ctx.preserve_env = True


# --- kas build (also the Build button of kas menu) --------------------------

def add_build_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``kas build`` (CLI-100 ... CLI-106)."""
    add_setup_options(parser, keep_config=True)
    parser.add_argument(
        "--target", action="append", metavar="TARGET",
        help="Select target to build (repeatable; replaces the configured targets)")
    parser.add_argument(
        "-c", "--cmd", "--task", dest="task", metavar="TASK",
        help="Select which task should be executed")
    parser.add_argument(
        "--provenance", choices=("true", "mode=min", "mode=max"),
        help="Write a provenance attestation of the build (mode=min is the same as true)")
    parser.add_argument(
        "extra_bitbake_args", nargs=argparse.REMAINDER,
        help="Extra arguments to pass to bitbake (typically after --)")


def default_build_args(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments of ``kas build`` with no options and no config argument,
    keeping the global options of ``args`` (--log-level, --no-color): what
    the Build button of ``kas menu`` builds (CLI-193)."""
    parser = argparse.ArgumentParser(prog="kas build")
    add_build_options(parser)
    build_args = parser.parse_args([])
    build_args.no_color = getattr(args, "no_color", False)
    build_args.log_level = getattr(args, "log_level", "info")
    build_args.cmd = "build"
    return build_args


def build(ctx: Context, args: argparse.Namespace) -> None:
    """The setup steps, then bitbake with the task and targets of ``args``
    or the configured ones; with --provenance, the attestation of the
    build (CLI-100 ... CLI-106)."""
    from kas.buildenv.bitbake import bitbake_argv, run_bitbake
    from kas.buildenv.isarhost import check_isar_host

    # A host that cannot do the build is told before the repositories are
    # fetched (issue 25.1).
    config = run_setup(ctx, requested_skips(args), after_config=check_isar_host)
    argv = bitbake_argv(ctx, config.task(args.task), config.targets(args.target),
                        args.extra_bitbake_args)
    if not args.provenance:
        run_bitbake(ctx, argv)
        return
    from kas.provenance import now, write_attestation

    started = now()
    run_bitbake(ctx, argv)
    write_attestation(ctx, args, started, now())


def run_lock(ctx: Context, args: argparse.Namespace) -> dict[str, list[Commit]]:
    """``kas lock`` and the deprecated ``kas dump --lock --inplace``: the
    dump pipeline, then the floating repos pinned in the lock files.
    Returns the commits each updated pin moved over (repo -> commits)."""
    from kas.lock import LOCK_SKIPS
    from kas.lock.pins import lock

    ctx.suppress_unpinned_warnings = True
    run_setup(ctx, requested_skips(args), LOCK_SKIPS)
    return lock(ctx, indent=args.indent, sort=args.sort)
