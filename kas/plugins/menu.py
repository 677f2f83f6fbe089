"""``kas menu``: Kconfig-driven configuration (CLI-190 ... CLI-194).

The menu edits the symbols of a Kconfig file and writes the result as
``<KAS_WORK_DIR>/.config.yaml``; ``Build`` then builds it like ``kas build``
without a config argument.
"""

COMMAND = "menu"
HELP = "Provides a menu-driven configuration frontend"
HELP_ORDER = 110
EXAMPLE = "kas menu examples/Kconfig"


def setup_parser(parser):
    # CLI-190: no common options (--skip, --update, ...).
    parser.add_argument("kconfig", nargs="?", default="Kconfig",
                        help="Kconfig file (default: Kconfig)")


def run(ctx, args):
    from kas.menu import edit

    if edit(ctx, args.kconfig) == "build":
        run_build(ctx, args)


def run_build(ctx, args):
    """CLI-193: ``kas build`` with no config argument, in this process.

    In-process rather than a new ``kas`` process: the build sees exactly
    the environment snapshot, work/build directories and color state of
    this run, logging stays one stream, and the cleanups (private HOME,
    ssh-agent) are the ones kas.cli runs when this command ends."""
    from kas.pipeline import build, default_build_args, lock_work_dir

    # Only the build: browsing the menu keeps nobody waiting (issue 21.1).
    lock_work_dir(ctx, "exclusive")
    ctx.args = default_build_args(args)
    build(ctx, ctx.args)
