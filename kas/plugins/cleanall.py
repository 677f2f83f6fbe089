"""``kas cleanall``: ``cleansstate``, then empty the downloads (CLI-175)."""

from kas.clean.cleaner import Cleaner, add_clean_options

COMMAND = "cleanall"
HELP = "Clean build artifacts, sstate cache and downloads"
HELP_ORDER = 50
EXAMPLE = "kas cleanall kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_clean_options(parser)


def run(ctx, args):
    cleaner = Cleaner(ctx, args)
    cleaner.clean()
    cleaner.clean_sstate()
    cleaner.clean_downloads()
