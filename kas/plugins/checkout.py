"""``kas checkout``: the whole setup pipeline, nothing more (CLI-110)."""

from kas.pipeline import add_setup_options, requested_skips, run_setup

COMMAND = "checkout"
HELP = "Checkout all necessary repositories and set up the build directory"
HELP_ORDER = 20
EXAMPLE = "kas checkout kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_setup_options(parser)


def run(ctx, args):
    run_setup(ctx, requested_skips(args))
