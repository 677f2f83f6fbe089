"""``kas for-all-repos``: run a shell command in every repository
(CLI-130 ... CLI-132)."""

import logging

from kas.errors import KasUserError, format_command
from kas.pipeline import add_setup_options, requested_skips, run_setup

log = logging.getLogger(__name__)

COMMAND = "for-all-repos"
HELP = "Run a command in each repository"
HELP_ORDER = 90
EXAMPLE = "kas for-all-repos kas.yml 'git log -1 --oneline'"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_setup_options(parser, keep_config=True, preserve_env=True)
    parser.add_argument("command", help="Command to be executed as a string")


def repo_variables(spec):
    """CLI-131: the configured values, not resolved ones."""
    return {
        "KAS_REPO_NAME": spec.name,
        "KAS_REPO_PATH": spec.path,
        "KAS_REPO_URL": spec.url or "",
        "KAS_REPO_COMMIT": (spec.commit or "") if not spec.is_local else "",
        "KAS_REPO_BRANCH": spec.branch or "",
        "KAS_REPO_TAG": spec.tag or "",
        "KAS_REPO_REFSPEC": spec.refspec or "",
    }


def run(ctx, args):
    from kas.process import run_interactive

    run_setup(ctx, requested_skips(args))
    # Without setup_environ the managed environment, which has no PATH yet
    # (ENV-100): /bin/sh then uses its default search path.
    base = ctx.bitbake_env if ctx.bitbake_env is not None else ctx.managed_env
    for spec in ctx.repos.values():
        log.info("%s$ %s", spec.path, args.command)
        env = dict(base, **repo_variables(spec))
        returncode = run_interactive(["/bin/sh", "-c", args.command], cwd=spec.path, env=env)
        if returncode != 0:
            # Quoted like every failed command (kas 5.5: "'git log -1'").
            raise KasUserError(f'Command "{format_command([args.command])}" failed with error '
                               f'{returncode}')
