"""The ``kas`` command: argument parsing, dispatch, logging and exit codes.

The dispatcher knows no command by name: it asks :mod:`kas.plugins` for the
plugin modules and gives each one a sub-parser.

:func:`main` is the process's entry point and owns what SIGINT and SIGTERM
do (docs/repositories.md, "Interrupting kas").  What kas guarantees
depends on the moment the signal arrives:

* Before kas has installed its handler (while Python starts and imports
  kas, the first few ten milliseconds): Python's default.  The process
  ends by the signal (a shell shows 130 for SIGINT, 143 for SIGTERM; for
  SIGINT Python may print a ``KeyboardInterrupt`` traceback), unless kas
  was started with the signal ignored (SIGINT, for an asynchronous
  command of a script); kas has read nothing and changed nothing yet.
  The handler is the first thing ``main`` installs, also over an
  inherited "ignore", as kas always did.
* During the run, until the command's outcome is known: the first signal
  cancels the run (children stopped and waited for, cleanups run, the
  journal written with status ``cancelled``), one ERROR line
  ``kas execution cancelled``, exit 130.  A second signal ends kas at once
  (``kas terminated forcefully``, exit 130).
* Once the command has returned or failed, its outcome is kept: a signal
  no longer cancels.  A first one is ignored while kas runs its cleanups
  and writes the journal (a second one still ends kas at once, exit 130);
  when that is done, kas ignores both signals at the kernel level
  (``SIG_IGN``, which Python keeps through the interpreter's shutdown), so
  a signal that arrives while the process exits cannot kill it: kas exits
  with the outcome of its work.  A signal that comes too late to stop the
  work is not a failure.

Tests put a signal at each of these moments with the pause points of
:mod:`kas.testhook` (``start``, ``installed``, ``command``, ``finishing``,
``exit``).
"""

import argparse
import logging
import os
import signal
import sys

from kas import __version__, version_line
from kas import program_name as kas_program_name
from kas.errors import Cancelled, KasUserError
from kas.log import LEVELS, setup_logging
from kas.process import EXIT_INTERRUPTED, force_exit
from kas.testhook import pause_at

log = logging.getLogger(__name__)


def program_name(argv0=None):
    """The name argparse would derive, with ``python -m kas`` shown as kas."""
    return kas_program_name(argv0 if argv0 is not None else sys.argv[0])


def build_parser(prog, argv=None):
    """The parser of every command; given the command line ``argv``, only
    the command it names gets its options (issue 27: the others' cost as
    much as a trivial ``kas dump``), the others are listed in the help."""
    from kas import plugins

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Setup tool for bitbake based projects")
    parser.add_argument("--version", action="version", version=version_line("%(prog)s"))
    parser.add_argument(
        "-l", "--log-level", choices=LEVELS, default="info",
        help="Set log level (default: info)")
    parser.add_argument(
        "--no-color", action="store_true",
        help="Disable colored output (also honours NO_COLOR)")
    sub = parser.add_subparsers(dest="cmd", metavar="<command>",
                                title="commands")
    found = plugins.discover()
    chosen = _command_in(argv, {p.COMMAND for p in found}) if argv is not None else None
    if argv is not None:
        from kas.ssh import check_agent_conflict

        # An internal ssh-agent (SSH_PRIVATE_KEY*) cannot be combined with an
        # external one (SSH_AUTH_SOCK, CLI-060): checked once, while the
        # parser of a command line is built, whatever it asks for (--version
        # and --help too, as kas 5.5 does).
        check_agent_conflict(os.environ)
    for plugin in found:
        # The epilog's form is what kas.completion.model.example_of reads;
        # every command of ours has an EXAMPLE (tests/test_reference_docs.py).
        example = getattr(plugin, "EXAMPLE", None)
        sub_parser = sub.add_parser(plugin.COMMAND, help=plugin.HELP,
                                    description=plugin.HELP,
                                    epilog=f"Example: {example}" if example else None)
        if chosen in (None, plugin.COMMAND):
            plugin.setup_parser(sub_parser)
        sub_parser.set_defaults(plugin=plugin)
    return parser


def _command_in(argv, commands):
    """The command ``argv`` names, None if that is not certain."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in ("-l", "--log-level"):
            index += 2
        elif arg.startswith("-"):
            index += 1
        else:
            return arg if arg in commands else None
    return None


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


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _SignalPolicy:
    """What SIGINT and SIGTERM do during a run (the module docstring):
    cancel until the command's outcome is known, then leave that outcome
    alone; a second signal always ends kas at once.

    ``outcome_known`` is set by a plain assignment where the command has
    returned or failed, never by a method: Python runs a pending signal
    handler at a call, and the handler must not raise ``Cancelled`` after
    the work is done.  A signal handled just before the assignment still
    cancels; its handler installs ``force_exit`` first, so no second
    ``Cancelled`` can break into the ``finally`` that runs the cleanups."""

    def __init__(self):
        self.outcome_known = False

    def install(self):
        for signum in _SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        for other in _SIGNALS:
            signal.signal(other, force_exit)
        if not self.outcome_known:
            raise Cancelled(signum)

    def ignore_late_signals(self):
        """The run is over: ignore both signals in the kernel, so that one
        arriving during the interpreter's shutdown (when Python puts its
        own handlers back to the default) cannot kill the process.  After
        a first signal (``force_exit`` installed) a second one still ends
        kas at once."""
        self.outcome_known = True
        for signum in _SIGNALS:
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, signal.SIG_IGN)


def _fill_closed_descriptors():
    """Open /dev/null on a closed stdin, stdout or stderr (``>&-``).

    Otherwise the next file kas opens would get that number, and children
    (git, bitbake) would write their output into it.  What kas itself
    prints is reported as lost (:class:`_ClosedOutput`), not dropped; log
    records and input simply go to and come from /dev/null.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)   # noqa: SIM115 - lives as long as kas
    if sys.stderr is None:
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115


class _ClosedOutput:
    """``sys.stdout`` when kas was started with it closed: printing fails
    with one clear error instead of an AttributeError."""

    encoding = "utf-8"

    def write(self, text):
        if text:
            from kas.errors import OutputError
            raise OutputError("Cannot write the output: standard output is closed")
        return 0

    def flush(self):
        pass

    def isatty(self):
        return False


def _isatty(stream):
    return stream is not None and stream.isatty()


def main(argv=None):
    pause_at("start")
    signals = _SignalPolicy()
    signals.install()
    status = _main(sys.argv[1:] if argv is None else argv, signals)
    signals.outcome_known = True        # an assignment: see _SignalPolicy
    signals.ignore_late_signals()
    pause_at("exit")
    return status


def _main(argv, signals):
    # Everything after the handlers were installed is inside the try: a
    # signal at any moment is a cancelled run, never a traceback.
    try:
        pause_at("installed")
        prog = program_name()
        _fill_closed_descriptors()
        if os.environ.get("NO_COLOR") == "":
            del os.environ["NO_COLOR"]
        try:
            parser = build_parser(prog, argv)
        except KasUserError as err:
            # Raised before logging is configured (e.g. CLI-060's check).
            setup_logging("info", False)
            for line in err.log_lines():
                log.error("%s", line)
            return err.exit_code
        args = parser.parse_args(argv)
        color = (not args.no_color and not os.environ.get("NO_COLOR")
                 and _isatty(sys.stderr))
        setup_logging(args.log_level, color)
        log.info(start_line(prog))
        warn_container_version_mismatch()
        if args.cmd is None:
            parser.print_help()
            return 0
        return _run_command(args, [prog, *argv], signals)
    except (Cancelled, KeyboardInterrupt):
        log.error("kas execution cancelled")
        return EXIT_INTERRUPTED
    except KasUserError as err:     # printing --help or --version to a closed stdout
        for line in err.log_lines():
            log.error("%s", line)
        return err.exit_code
    except SystemExit as exit_:
        # argparse ends --help, --version and a usage error this way; the
        # status is returned so that main still settles the signals.
        return 0 if exit_.code is None else exit_.code


def work_dir_lock_mode(plugin, args):
    """The work directory lock the command takes: its ``WORK_DIR_LOCK``
    ("exclusive", "shared" or None), which may depend on the arguments."""
    mode = getattr(plugin, "WORK_DIR_LOCK", None)
    return mode(args) if callable(mode) else mode


def _run_command(args, argv, signals):
    from kas.context import Context
    from kas.pipeline import lock_work_dir

    ctx = None
    journal = None
    if os.environ.get("KAS_JOURNAL"):       # only then is the journal loaded
        from kas.journal import Journal
        journal = Journal.from_environ(os.environ, argv)
    outcome = [1, "failed", None]       # exit status, status, error message
    try:
        ctx = Context(args, stdout_isatty=_isatty(sys.stdout))
        ctx.journal = journal
        lock_work_dir(ctx, work_dir_lock_mode(args.plugin, args))
        pause_at("command")
        status = args.plugin.run(ctx, args) or 0
        from kas.docio.writer import write_stdout
        write_stdout("")    # flush: a lost output must not pass as success
        signals.outcome_known = True
        outcome[:2] = [status, "success"]
        return status
    except KasUserError as err:
        signals.outcome_known = True
        for line in err.log_lines():
            log.error("%s", line)
        outcome[:] = [err.exit_code, "failed", "\n".join(err.log_lines())]
        return err.exit_code
    except (Cancelled, KeyboardInterrupt):
        signals.outcome_known = True
        outcome[:] = [EXIT_INTERRUPTED, "cancelled", "kas execution cancelled"]
        if ctx is not None:
            ctx.runner.cancel()
        raise
    except OSError as err:
        signals.outcome_known = True
        # The file system said no (permissions, a file where a directory
        # should be, disk full): the user's to fix, not a bug.
        log.debug("Details:", exc_info=True)
        log.error("%s", describe_os_error(err))
        outcome[:] = [KasUserError.exit_code, "failed", describe_os_error(err)]
        return KasUserError.exit_code
    except Exception as err:
        signals.outcome_known = True
        log.exception("%s: %s", type(err).__name__, err)  # noqa: TRY401 - message first
        log.error("This is a bug in kas, not in your configuration: "
                  "please report it together with the output above.")
        outcome[:] = [1, "failed", f"{type(err).__name__}: {err}"]
        return 1
    finally:
        pause_at("finishing")
        if ctx is not None:
            ctx.run_cleanups()
        if journal is not None and (journal.pipeline or hasattr(args, "skip")):
            # Commands with the setup options write one even when they
            # fail before the pipeline starts (issue 18.2).
            journal.write(*outcome, top_files=_top_files(args))


def _top_files(args):
    """The config files named on the command line, for a journal written
    before the configuration was loaded."""
    from kas.config.includes import split_config_argument

    if not hasattr(args, "config"):
        return []
    try:
        work_dir = os.environ.get("KAS_WORK_DIR") or os.getcwd()
        return split_config_argument(args.config or "", os.path.abspath(work_dir))
    except OSError:
        return []
