"""``kas build``: the setup pipeline, then bitbake (CLI-100 ... CLI-106)."""

import argparse

from kas.pipeline import add_setup_options, requested_skips, run_setup

COMMAND = "build"
HELP = ("Checkout all necessary repositories and build using bitbake as specified in the "
        "configuration file")
HELP_ORDER = 10


def setup_parser(parser):
    add_setup_options(parser, keep_config=True)
    parser.add_argument(
        "--target", action="append", metavar="TARGET",
        help="Select target to build (repeatable; replaces the configured targets)")
    parser.add_argument(
        "-c", "--cmd", "--task", dest="task", metavar="TASK",
        help="Select which task should be executed")
    parser.add_argument(
        "--provenance", choices=("true", "mode=min", "mode=max"),
        help="Write a provenance attestation of the build (mode=min is the same as true)")
    parser.add_argument(
        "extra_bitbake_args", nargs=argparse.REMAINDER,
        help="Extra arguments to pass to bitbake (typically after --)")


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
    from kas.buildenv.bitbake import bitbake_argv, run_bitbake

    split_bitbake_args(args)
    run_setup(ctx, requested_skips(args))
    config = ctx.config
    argv = bitbake_argv(ctx, config.task(args.task), config.targets(args.target),
                        args.extra_bitbake_args)
    if not args.provenance:
        run_bitbake(ctx, argv)
        return
    from kas.provenance import now, write_attestation

    started = now()
    run_bitbake(ctx, argv)
    write_attestation(ctx, args, started, now())
