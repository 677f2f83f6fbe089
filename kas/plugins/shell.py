"""``kas shell``: the setup pipeline, then a shell in the build environment
(CLI-120 ... CLI-124, ENV-111)."""

import logging
import os

from kas.pipeline import add_setup_options, requested_skips, run_setup

log = logging.getLogger(__name__)

COMMAND = "shell"
HELP = "Run a shell in the build environment"
HELP_ORDER = 120
EXAMPLE = "kas shell kas.yml -c 'bitbake -e | grep ^MACHINE='"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_setup_options(parser, keep_config=True, preserve_env=True)
    parser.add_argument(
        "-c", "--command", default="",
        help="Run a command in the shell instead of an interactive session")


def shell_environment(ctx):
    """The build environment (or the managed one if setup_environ was
    skipped) with the settings of an interactive session."""
    env = dict(ctx.bitbake_env if ctx.bitbake_env is not None else ctx.managed_env)
    env["GIT_TERMINAL_PROMPT"] = "true"         # step make_interactive
    env["HISTFILE"] = os.path.join(ctx.work_dir, ".kas_shell_history")
    return env


def run(ctx, args):
    from kas.buildenv.isarhost import check_isar_host
    from kas.errors import CommandError
    from kas.process import run_interactive

    # A shell is also where a build is investigated: a host that cannot do
    # a rootless Isar build is told, not refused (issue 25.1).
    run_setup(ctx, requested_skips(args),
              after_config=lambda ctx: check_isar_host(ctx, refuse=False))
    config = ctx.config
    log.info("To start the default build, run: bitbake -c %s %s",
             config.task(), " ".join(config.targets()))
    env = shell_environment(ctx)
    shell = env.get("SHELL") or ctx.caller_env.get("SHELL") or "/bin/sh"
    argv = [shell, "-c", args.command] if args.command else [shell]
    returncode = run_interactive(argv, cwd=ctx.build_dir, env=env, shell_session=True)
    if returncode < 0:
        returncode = 128 - returncode       # killed by a signal, as a shell reports it
    if returncode != 0:
        log.error("Shell returned non-zero exit status")
        err = CommandError(argv, returncode)
        err.exit_code = returncode
        raise err
    return 0
