"""The kas command line itself: version, help, logging, colors, exit codes
and signals (cli.md §1, CLI-001 ... CLI-021, CLI-340)."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from helpers.repos import write
from helpers.run import assert_user_error, clean_env, kas_command, run_kas

VERSION_LINE = "kas 5.5 (configuration format version 23, earliest compatible version 1)\n"
START_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO     - kas 5\.5 started on \S.*\S$")


def minimal_config(directory, extra=""):
    return write(os.path.join(str(directory), "kas.yml"),
                 "header:\n  version: 14\n" + extra)


def test_version_is_exact():
    """kas --version prints exactly kas 5.5's version line (CLI-004)."""
    result = run_kas("--version")
    assert result.returncode == 0
    assert result.stdout == VERSION_LINE


def test_python_m_kas_behaves_identically(workdir):
    """python3 -m kas behaves as the kas command (CLI-001)."""
    minimal_config(workdir, "machine: m\n")
    via_module = subprocess.run([sys.executable, "-m", "kas", "--version"], check=False,
                                stdout=subprocess.PIPE, text=True,
                                env=clean_env())
    assert via_module.stdout == VERSION_LINE
    dumped = subprocess.run([sys.executable, "-m", "kas", "dump", "kas.yml"], check=False,
                            cwd=str(workdir), capture_output=True,
                            text=True,
                            env=clean_env())
    assert dumped.returncode == 0
    assert dumped.stdout == run_kas("dump", "kas.yml", cwd=workdir).stdout
    assert "kas 5.5 started on" in dumped.stderr


def test_help_lists_commands_on_stdout():
    """kas --help lists the commands on stdout, nothing on stderr (CLI-003)."""
    result = run_kas("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: kas ")
    assert "dump" in result.stdout
    assert result.stderr == ""


def test_command_help():
    """A command's --help lists its options (CLI-003)."""
    result = run_kas("dump", "--help")
    assert result.returncode == 0
    for option in ("--format", "--indent", "--sort", "--resolve-env", "--resolve-local",
                   "--skip", "--update", "--force-checkout"):
        assert option in result.stdout


def test_no_command_prints_help_after_start_line():
    """kas without a command prints the help after the start line, exit 0
    (CLI-008)."""
    result = run_kas()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: kas ")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and START_LINE.match(lines[0]), result.stderr


def test_start_line_is_first_record(workdir):
    """The start line is the first log record (CLI-011)."""
    minimal_config(workdir)
    result = run_kas("dump", "kas.yml", cwd=workdir)
    assert START_LINE.match(result.stderr.splitlines()[0]), result.stderr


@pytest.mark.parametrize("argv", [
    ["-l", "verbose", "dump"],
    ["-l", "DEBUG", "dump"],
    ["-d", "dump"],
    ["--preserve-env", "dump"],
    ["nosuchcommand"],
    ["dump", "--format", "xml"],
    ["dump", "--skip", "nosuchstep"],
], ids=["bad-level", "upper-case-level", "no-debug-flag-CLI-007",
        "no-global-preserve-env-CLI-007", "unknown-command-CLI-002", "bad-format-CLI-147",
        "bad-skip-step-CLI-042"])
def test_argument_errors_exit_2_with_usage(argv):
    """Bad arguments are a usage error: exit 2, the usage, no traceback
    (CLI-021)."""
    result = run_kas(*argv)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_level_logs_steps(workdir):
    """-l debug logs each step as it runs (CLI-013)."""
    minimal_config(workdir)
    result = run_kas("-l", "debug", "dump", "kas.yml", cwd=workdir)
    assert result.returncode == 0
    assert "DEBUG    - execute init_setup_repos" in result.stderr


def test_warning_level_hides_info(workdir):
    """-l warning hides the INFO records (CLI-005)."""
    minimal_config(workdir)
    result = run_kas("-l", "warning", "dump", "kas.yml", cwd=workdir)
    assert result.returncode == 0
    assert result.stderr == ""


def test_user_error_is_one_error_line_exit_2(workdir):
    """A user error is one ERROR line and exit 2, nothing on stdout
    (CLI-020)."""
    result = run_kas("dump", "missing.yml", cwd=workdir)
    assert_user_error(result, "Configuration file not found: {}".format(workdir / "missing.yml"))
    assert result.stdout == ""


def test_internal_error_prints_traceback_and_bug_line(tmp_path):
    """An unexpected exception in a plugin, run through the real dispatcher:
    exit 1, the exception, its traceback, and a last line saying it is a bug
    in kas (CLI-020)."""
    driver = write(tmp_path / "driver.py", """
        import sys
        import types
        import kas.plugins
        from kas.cli import main

        def run(ctx, args):
            raise RuntimeError("boom")

        broken = types.SimpleNamespace(
            COMMAND="broken", HELP="raises", HELP_ORDER=0,
            setup_parser=lambda parser: None, run=run)
        kas.plugins.discover = lambda: [broken]
        sys.exit(main(["broken"]))
        """)
    proc = subprocess.run([sys.executable, driver], check=False, capture_output=True,
                          text=True,
                          env=clean_env())
    assert proc.returncode == 1
    assert "ERROR    - RuntimeError: boom" in proc.stderr
    assert "Traceback (most recent call last):" in proc.stderr
    assert "This is a bug in kas" in proc.stderr.splitlines()[-1]


def run_in_pty(argv, cwd, env):
    """Run with stderr on a pseudo terminal; returns (rc, stderr text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=str(cwd), env=env, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 10)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode()


YELLOW = "\033[1;33m"
RED = "\033[1;31m"


@pytest.mark.parametrize("extra_args,extra_env,colored", [
    ([], {}, True),
    (["--no-color"], {}, False),
    ([], {"NO_COLOR": "1"}, False),
    ([], {"NO_COLOR": ""}, True),
], ids=["tty", "no-color-flag", "NO_COLOR", "empty-NO_COLOR-is-unset"])
def test_log_colors_on_a_tty(workdir, extra_args, extra_env, colored):
    """Log records are coloured on a terminal unless --no-color or a
    non-empty NO_COLOR says otherwise (CLI-012): a WARNING (proxy_config)
    and an ERROR (the missing second file) are checked."""
    minimal_config(workdir, "proxy_config:\n  http_proxy: http://p\n")
    argv = kas_command() + extra_args + ["dump", "kas.yml:missing.yml"]
    rc, text = run_in_pty(argv, workdir, clean_env(**extra_env))
    assert rc == 2
    assert "Obsolete proxy_config detected" in text
    assert (YELLOW in text) == colored
    assert (RED in text) == colored


def test_no_colors_when_stderr_is_not_a_tty(workdir):
    """No colours when stderr is not a terminal (CLI-012)."""
    minimal_config(workdir, "proxy_config:\n  http_proxy: http://p\n")
    result = run_kas("dump", "kas.yml", cwd=workdir)
    assert "Obsolete proxy_config detected" in result.stderr
    assert "\033[" not in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_cancels_with_exit_130(workdir, signum):
    """SIGINT and SIGTERM cancel kas with exit 130 and one ERROR line, no
    traceback, no output (CLI-340)."""
    # Parsing a big JSON config keeps kas busy until the signal arrives (a
    # FIFO is refused at once since issue 21.3).
    with open(workdir / "kas.json", "w") as f:
        f.write('{"header": {"version": 14}, "x": [' + "[]," * (2 << 20) + "[]]}")
    proc = subprocess.Popen(kas_command() + ["dump", "kas.json"], cwd=str(workdir),
                            env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    # The handlers are installed before the start line is logged.
    first_line = proc.stderr.readline()
    assert "started on" in first_line
    time.sleep(0.2)
    proc.send_signal(signum)
    out, rest = proc.communicate(timeout=20)
    err = first_line + rest
    assert proc.returncode == 130
    assert err.count("ERROR    - kas execution cancelled") == 1
    assert "Traceback" not in err
    assert out == ""



def test_deleted_current_directory_is_a_user_error(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    script = 'cd "$1" && rmdir "$1" && exec "$2" dump kas.yml'
    proc = subprocess.run(["sh", "-c", script, "sh", str(gone), kas_command()[0]],
                          capture_output=True, text=True, env=clean_env(), check=False)
    assert proc.returncode == 2
    assert "ERROR    - The current directory does not exist any more" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_commands_are_listed_in_the_spec_order():
    """CLI-002: the help lists the commands in the spec's order (the ones
    that exist so far)."""
    order = ["build", "checkout", "clean", "cleansstate", "cleanall", "purge", "diff", "dump",
             "for-all-repos", "lock", "menu", "shell"]
    proc = subprocess.run(kas_command() + ["--help"], check=False, capture_output=True,
                          text=True, env=clean_env())
    section = proc.stdout.split("commands:", 1)[1]
    listed = [line.split()[0] for line in section.splitlines()
              if line[:4] == "    " and line[4:5].strip() and line.split()[0] in order]
    assert listed == [name for name in order if name in listed]
    assert {"build", "shell", "for-all-repos", "lock", "diff"} <= set(listed)


@pytest.mark.parametrize(("script_version", "warned"),
                         [("5.4", True), ("5.5", False), ("", False)])
def test_container_script_version_mismatch_warns(workdir, script_version, warned):
    """A kas-container version different from kas's gives a warning
    (ENV-063)."""
    minimal_config(workdir)
    env = clean_env(KAS_CONTAINER_SCRIPT_VERSION=script_version)
    result = run_kas("dump", "kas.yml", cwd=workdir, env=env)
    assert result.returncode == 0, result
    expected = ["kas-container (5.4) and kas (5.5) versions do not match"] if warned else []
    assert result.warnings() == expected
