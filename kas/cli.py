"""The ``kas`` command: argument parsing, dispatch, logging and exit codes.

The dispatcher knows no command by name: it asks :mod:`kas.plugins` for the
plugin modules and gives each one a sub-parser.
"""

import argparse
import logging
import os
import signal
import sys

from kas import COMPAT_FORMAT_VERSION, CONFIG_FORMAT_VERSION, __version__
from kas.errors import Cancelled, KasUserError
from kas.log import LEVELS, setup_logging
from kas.process import EXIT_INTERRUPTED, force_exit

log = logging.getLogger(__name__)


def program_name(argv0=None):
    """The name argparse would derive, with ``python -m kas`` shown as kas."""
    name = os.path.basename(argv0 if argv0 is not None else sys.argv[0])
    return "kas" if name in ("__main__.py", "") else name


def build_parser(prog):
    from kas import plugins

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Setup tool for bitbake based projects")
    parser.add_argument(
        "--version", action="version",
        version=f"%(prog)s {__version__} (configuration format version "
                f"{CONFIG_FORMAT_VERSION}, earliest compatible version "
                f"{COMPAT_FORMAT_VERSION})")
    parser.add_argument(
        "-l", "--log-level", choices=LEVELS, default="info",
        help="Set log level (default: info)")
    parser.add_argument(
        "--no-color", action="store_true",
        help="Disable colored output (also honours NO_COLOR)")
    sub = parser.add_subparsers(dest="cmd", metavar="<command>",
                                title="commands")
    for plugin in plugins.discover():
        sub_parser = sub.add_parser(plugin.COMMAND, help=plugin.HELP,
                                    description=plugin.HELP)
        plugin.setup_parser(sub_parser)
        sub_parser.set_defaults(plugin=plugin)
    return parser


def start_line(prog):
    import distro

    release = distro.codename() or distro.version()
    return f"{prog} {__version__} started on {distro.name()} {release}"


def warn_container_version_mismatch():
    """kas-container passes its version; a mismatch is worth knowing (ENV-063)."""
    script_version = os.environ.get("KAS_CONTAINER_SCRIPT_VERSION")
    if script_version and script_version != __version__:
        log.warning("kas-container (%s) and kas (%s) versions do not match",
                    script_version, __version__)


def describe_os_error(err):
    paths = [p for p in (err.filename, err.filename2) if p is not None]
    where = " -> ".join(str(p) for p in paths)
    return f"{err.strerror or err}: {where}" if where else str(err.strerror or err)


def _install_signal_handlers():
    """First SIGINT/SIGTERM cancels gracefully, a second one exits at once."""

    def graceful(signum, frame):
        signal.signal(signal.SIGINT, force_exit)
        signal.signal(signal.SIGTERM, force_exit)
        raise Cancelled(signum)

    signal.signal(signal.SIGINT, graceful)
    signal.signal(signal.SIGTERM, graceful)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog = program_name()
    if os.environ.get("NO_COLOR") == "":
        del os.environ["NO_COLOR"]
    _install_signal_handlers()
    try:
        try:
            parser = build_parser(prog)
        except KasUserError as err:
            # Raised before logging is configured (e.g. CLI-060's check).
            setup_logging("info", False)
            for line in err.log_lines():
                log.error("%s", line)
            return err.exit_code
        args = parser.parse_args(argv)
        color = (not args.no_color and not os.environ.get("NO_COLOR")
                 and sys.stderr.isatty())
        setup_logging(args.log_level, color)
        log.info(start_line(prog))
        warn_container_version_mismatch()
        if args.cmd is None:
            parser.print_help()
            return 0
        return _run_command(args)
    except (Cancelled, KeyboardInterrupt):
        log.error("kas execution cancelled")
        return EXIT_INTERRUPTED


def work_dir_lock_mode(plugin, args):
    """The work directory lock the command takes: its ``WORK_DIR_LOCK``
    ("exclusive", "shared" or None), which may depend on the arguments."""
    mode = getattr(plugin, "WORK_DIR_LOCK", None)
    return mode(args) if callable(mode) else mode


def _run_command(args):
    from kas.context import Context
    from kas.pipeline import lock_work_dir

    ctx = None
    try:
        ctx = Context(args, stdout_isatty=sys.stdout.isatty())
        lock_work_dir(ctx, work_dir_lock_mode(args.plugin, args))
        return args.plugin.run(ctx, args) or 0
    except KasUserError as err:
        for line in err.log_lines():
            log.error("%s", line)
        return err.exit_code
    except (Cancelled, KeyboardInterrupt):
        if ctx is not None:
            ctx.runner.cancel()
        raise
    except OSError as err:
        # The file system said no (permissions, a file where a directory
        # should be, disk full): the user's to fix, not a bug.
        log.debug("Details:", exc_info=True)
        log.error("%s", describe_os_error(err))
        return KasUserError.exit_code
    except Exception as err:
        log.exception("%s: %s", type(err).__name__, err)  # noqa: TRY401 - message first
        log.error("This is a bug in kas, not in your configuration: "
                  "please report it together with the output above.")
        return 1
    finally:
        if ctx is not None:
            ctx.run_cleanups()
