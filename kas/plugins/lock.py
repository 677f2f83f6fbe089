"""``kas lock``: pin floating repos in lock files (CLI-150 ... CLI-153)."""


from kas.pipeline import add_setup_options, run_lock

COMMAND = "lock"
HELP = "Create or update lock files pinning the floating repos to commits"
HELP_ORDER = 100
EXAMPLE = "kas lock --update kas.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def add_lock_format_options(parser, indent_default=None):
    """--indent and --sort as lock and dump share them."""
    parser.add_argument("--indent", type=int, default=indent_default,
                        help="Line indent (number of spaces, default: 2; for an existing "
                             "lock file: as the file has it)")
    parser.add_argument("--sort", action="store_true",
                        help="Sort keys alphanumerically at all levels")


def setup_parser(parser):
    add_lock_format_options(parser)
    add_setup_options(parser)


def run(ctx, args):
    from kas.difftext import moved_commits_text
    from kas.docio.writer import write_stdout

    moved = run_lock(ctx, args)
    write_stdout(moved_commits_text(moved, not ctx.no_color))
