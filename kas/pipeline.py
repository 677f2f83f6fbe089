"""The setup pipeline shared by the commands (CLI-040): named steps that
run in a fixed order, each skippable with ``--skip``.

Steps take the context and store their results on it.  Commands add the
common options with :func:`add_setup_options` and run the steps with
:func:`run_setup`, naming the steps they leave out.
"""

import logging

from kas.errors import ArgumentsError

log = logging.getLogger(__name__)


# Commands build their parsers from this module on every start (even for
# --version), so the configuration machinery is imported inside the steps.


def init_setup_repos(ctx):
    """Parse the configuration and find the repos that includes need."""
    from kas.config.includes import split_config_argument
    from kas.config.loop import ConfigResolver
    from kas.repos.provider import LocalRepoProvider

    top_files = split_config_argument(ctx.args.config, ctx.work_dir)
    ctx.resolver = ConfigResolver(ctx, top_files, LocalRepoProvider())
    ctx.config = ctx.resolver.first_pass()


def repo_setup_loop(ctx):
    """Make the repos needed by includes available until the config is complete."""
    from kas.repos.model import build_repos

    if ctx.resolver is None:
        raise ArgumentsError("repo_setup_loop requires init_setup_repos")
    ctx.config = ctx.resolver.complete()
    # Every repo definition is checked, needed or not (CF-603).
    ctx.repos = build_repos(ctx.config)


# In execution order.
STEPS = (
    ("init_setup_repos", init_setup_repos),
    ("repo_setup_loop", repo_setup_loop),
)

STEP_NAMES = tuple(name for name, _ in STEPS)


def add_setup_options(parser):
    """--skip, --force-checkout, --update and the config argument."""
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP", choices=STEP_NAMES,
        help="Skip the named setup step (repeatable). Choices: {}".format(
            ", ".join(STEP_NAMES)))
    parser.add_argument(
        "--force-checkout", action="store_true",
        help="Always check out the configured revision, discarding local changes")
    parser.add_argument(
        "--update", action="store_true",
        help="Pull new upstream changes of unpinned repos; ignore lock files")
    add_config_argument(parser)


def add_config_argument(parser):
    parser.add_argument(
        "config", nargs="?", default="",
        help="Config file(s), separated by colons. Default: "
             "<KAS_WORK_DIR>/.config.yaml")


def run_setup(ctx, skip=(), default_skip=()):
    """Run every step not in ``skip`` or ``default_skip``, in order."""
    skipped = set(skip) | set(default_skip)
    for name, step in STEPS:
        if name in skipped:
            continue
        log.debug("execute %s", name)
        step(ctx)
    if ctx.config is None:
        raise ArgumentsError("this command needs the init_setup_repos step")
    return ctx.config
