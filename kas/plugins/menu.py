"""``kas menu``: Kconfig-driven configuration (CLI-190 ... CLI-194).

The menu edits the symbols of a Kconfig file and writes the result as
``<KAS_WORK_DIR>/.config.yaml``; ``Build`` then builds it like ``kas build``
without a config argument.
"""

import argparse
import logging

COMMAND = "menu"
HELP = "Provides a menu-driven configuration frontend"
HELP_ORDER = 110

log = logging.getLogger(__name__)


def setup_parser(parser):
    # CLI-190: no common options (--skip, --update, ...).
    parser.add_argument("kconfig", nargs="?", default="Kconfig",
                        help="Kconfig file (default: Kconfig)")


def run(ctx, args):
    from kas.config import menuconfig

    kconf = menuconfig.load_kconfig(args.kconfig)
    state = menuconfig.state_path(ctx.work_dir)
    menuconfig.apply_menu_configuration(
        kconf, menuconfig.read_menu_configuration(state), state)

    from kas.menu_ui import run_menu

    action = run_menu(kconf, no_color=ctx.no_color)   # the screen is closed again
    menuconfig.log_kconfig_warnings(kconf)
    if action == "exit":
        return
    data = menuconfig.generate(kconf, args.kconfig, ctx)
    menuconfig.save(menuconfig.render(data), state)
    if action == "build":
        run_build(ctx, args)


def run_build(ctx, args):
    """CLI-193: ``kas build`` with no config argument, in this process.

    In-process rather than a new ``kas`` process: the build sees exactly
    the environment snapshot, work/build directories and color state of
    this run, logging stays one stream, and the cleanups (private HOME,
    ssh-agent) are the ones kas.cli runs when this command ends."""
    from kas.plugins import build

    parser = argparse.ArgumentParser(prog="kas build")
    build.setup_parser(parser)
    build_args = parser.parse_args([])
    build_args.no_color = getattr(args, "no_color", False)
    build_args.log_level = getattr(args, "log_level", "info")
    build_args.cmd = build.COMMAND
    build_args.plugin = build
    ctx.args = build_args
    build.run(ctx, build_args)
