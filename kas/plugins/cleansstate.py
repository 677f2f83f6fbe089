"""``kas cleansstate``: ``clean``, then empty the sstate cache (CLI-174)."""

from kas.clean.cleaner import Cleaner, add_clean_options

COMMAND = "cleansstate"
HELP = "Clean build artifacts and sstate cache, keep downloads"
HELP_ORDER = 40
EXAMPLE = "kas cleansstate kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_clean_options(parser)


def run(ctx, args):
    cleaner = Cleaner(ctx, args)
    cleaner.clean()
    cleaner.clean_sstate()
