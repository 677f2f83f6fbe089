"""``kas build``: the setup pipeline, then bitbake (CLI-100 ... CLI-106)."""

from kas.pipeline import add_build_options, build

COMMAND = "build"
HELP = ("Checkout all necessary repositories and build using bitbake as specified in the "
        "configuration file")
HELP_ORDER = 10
EXAMPLE = "kas build --target core-image-base kas.yml:debug.yml"
# Changes the repos or the build directory (issue 21.1).
WORK_DIR_LOCK = "exclusive"


def setup_parser(parser):
    add_build_options(parser)


def split_bitbake_args(args):
    """CLI-035/104: ``kas build -- -k`` puts ``-k`` into ``config``; a
    ``--`` before the extra arguments is not one of them."""
    extra = list(args.extra_bitbake_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.config.startswith("-"):
        extra.insert(0, args.config)
        args.config = ""
    args.extra_bitbake_args = extra


def run(ctx, args):
    split_bitbake_args(args)
    build(ctx, args)
