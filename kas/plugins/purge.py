"""``kas purge``: ``cleanall``, then remove the repos kas manages, the
build directory and kas's other managed files (CLI-180/181)."""

from kas.clean.cleaner import add_clean_options

COMMAND = "purge"
HELP = "Remove all data managed by kas: build directory, repos and caches"
HELP_ORDER = 60
EXAMPLE = "kas purge --dry-run kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    parser.add_argument(
        "--preserve-repo-refs", action="store_true",
        help="Keep the reference repositories in KAS_REPO_REF_DIR")
    add_clean_options(parser)


def run(ctx, args):
    from kas.clean.purge import purge

    purge(ctx, args)
