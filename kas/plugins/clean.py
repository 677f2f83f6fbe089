"""``kas clean``: remove the build artifacts, keep sstate cache, downloads
and repos (CLI-170 ... CLI-173)."""

from kas.clean.cleaner import Cleaner, add_clean_options

COMMAND = "clean"
HELP = "Clean build artifacts, keep sstate cache and downloads"
HELP_ORDER = 30
EXAMPLE = "kas clean kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_clean_options(parser)


def run(ctx, args):
    Cleaner(ctx, args).clean()
