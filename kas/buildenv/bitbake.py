"""Running bitbake in the build environment (GEN-053, CLI-101, CLI-105)."""

import fcntl
import logging
import os
import shutil
import time

from kas.errors import ArgumentsError, CommandError, KasUserError, format_command
from kas.process import run_supervised

log = logging.getLogger(__name__)

# How long kas waits, after an interrupted bitbake, for its server to let go
# of bitbake.lock (it lingers about a second after the client).
SERVER_EXIT_TIMEOUT = 30.0


def bitbake_argv(ctx, task, targets, extra_args):
    """``bitbake -c <task> <extra args...> <targets...>``, bitbake looked up
    in the PATH of the build environment."""
    if ctx.bitbake_env is None:
        raise ArgumentsError("Running bitbake requires setup_environ")
    path = ctx.bitbake_env.get("PATH", "")
    executable = shutil.which("bitbake", path=path)
    if executable is None:
        raise KasUserError("bitbake was not found in the PATH set up by the init script: "
                           f"{path}")
    return [executable, "-c", task, *extra_args, *targets]


def run_bitbake(ctx, argv):
    """Run bitbake in the build directory; a failure is exit code 2 with the
    command line (the bitbake exit code is not forwarded, CLI-105)."""
    if ctx.journal is not None:
        ctx.journal.bitbake_started(argv)
    errors = []
    try:
        if ctx.stdout_isatty:
            log.info("%s$ %s", ctx.build_dir, format_command(argv))
            returncode = run_supervised(argv, ctx.build_dir, ctx.bitbake_env, foreground=True)
        else:
            returncode = run_supervised(argv, ctx.build_dir, ctx.bitbake_env, foreground=False,
                                        on_stdout=log.info,
                                        on_stderr=lambda line: log_error(line, errors))
    except BaseException:
        wait_for_server_exit(ctx.build_dir)
        raise
    if ctx.journal is not None:
        ctx.journal.bitbake_finished(returncode)
    if returncode != 0:
        # Without a terminal, kas 5.5 repeats bitbake's error output after
        # the failure, as for every failed command ("Command "<dir>$ ..."
        # failed:" and the lines).
        raise CommandError(argv, returncode, stderr="\n".join(errors) or None,
                           cwd=ctx.build_dir)


def log_error(line, collected):
    log.error(line)
    collected.append(line)


def wait_for_server_exit(build_dir, timeout=SERVER_EXIT_TIMEOUT):
    """After an interruption: wait until no bitbake server holds the build
    directory's lock, so kas never leaves one running behind it."""
    lock_path = os.path.join(build_dir, "bitbake.lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(lock_path) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
        except FileNotFoundError:
            return True
        except BlockingIOError:
            time.sleep(0.1)
    log.warning("The bitbake server still holds %s", lock_path)
    return False
