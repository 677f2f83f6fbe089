"""``kas shell`` (cli.md §5.3 CLI-120 ... CLI-124, §6 CLI-330, §7 CLI-342;
environment.md ENV-111).

Every test runs the real ``kas`` in a subprocess.  The project is a plain
directory (the ``workdir`` fixture) with ``kas.yml`` and a fake init script
that creates ``$1/conf`` and exports a variable.  ``SHELL`` usually points
at a small recording shell: it notes that it was used and execs
``/bin/sh +m`` (no job control, so an interactive session stays in kas's
process group and a terminal Ctrl-C reaches kas as well).  Interactive runs
happen on a pseudo terminal made by ``pty.fork()`` (the child's controlling
terminal, so typed Ctrl-C characters raise SIGINT).
"""

import os
import re
import time

import pytest
from helpers.repos import Project, read, write
from helpers.run import kas_command, parse_env
from helpers.terminal import Terminal

real = os.path.realpath

INIT_SCRIPT = ('mkdir -p "$1/conf"\n'
               "export FROM_INIT=1\n")

RECORDING_SHELL = """\
#!/bin/sh
printf '%s\\n' "$0" >> '{rec}/shell-used'
exec /bin/sh +m "$@"
"""

CONFIG = """
header:
  version: 23
target:
  - a
  - b
task: fetch
env:
  MYVAR: default
repos:
  this:
"""


class RecordingShell:
    """The stand-in ``SHELL``: notes every use in ``tmp_path/rec``."""

    def __init__(self, tmp_path):
        self.rec = tmp_path / "rec"
        self.rec.mkdir()
        self.path = write(tmp_path / "bin" / "recording-shell",
                          RECORDING_SHELL.format(rec=self.rec))
        os.chmod(self.path, 0o755)

    def uses(self):
        path = self.rec / "shell-used"
        return read(path).splitlines() if path.exists() else []


@pytest.fixture
def shell(tmp_path):
    return RecordingShell(tmp_path)


@pytest.fixture
def proj(workdir, shell):
    """The project; its kas runs get SHELL=the recording shell."""
    project = Project(workdir, git=False, init_script=INIT_SCRIPT, env={"SHELL": shell.path})
    project.config(CONFIG)
    return project


def histfile(proj):
    return proj.file(".kas_shell_history")


def info_lines(text):
    return [line.split(" - INFO     - ", 1)[1] for line in text.splitlines()
            if " - INFO     - " in line]


def kas_on_terminal(proj, *args, env=None):
    return Terminal(kas_command() + list(args), proj.path,
                    env if env is not None else proj.env(NO_COLOR="1"))


# --- kas shell -c (CLI-121, CLI-122, ENV-111) -------------------------------------------

def test_command_runs_in_the_build_environment(proj, shell, tmp_path):
    """kas shell -c runs the command in the build directory after the full
    pipeline, in an environment of the init script, the config's env and
    SHELL taken over from the caller, without KAS_* or other caller secrets;
    the info line names the default build (CLI-121, CLI-122)."""
    out = tmp_path / "cmd"
    result = proj.kas_ok("shell", "kas.yml", "-c", f'pwd > "{out}.cwd"; env > "{out}.env"',
                         KAS_MACHINE="m", FOO_SECRET="s3cret")
    assert real(read(f"{out}.cwd").strip()) == real(proj.build_dir())
    env = parse_env(read(f"{out}.env"))
    assert env["FROM_INIT"] == "1"                       # the init script's variable
    assert env["MYVAR"] == "default"                     # config env
    assert env["HISTFILE"] == histfile(proj)             # HISTFILE in the work dir (ENV-111)
    assert env["GIT_TERMINAL_PROMPT"] == "true"          # make_interactive
    assert env["SHELL"] == shell.path                    # taken over from the caller
    assert "FOO_SECRET" not in env
    assert [k for k in env if k.startswith("KAS_")] == []
    assert shell.uses() == [shell.path]
    assert "To start the default build, run: bitbake -c fetch a b" in info_lines(
        result.stderr)
    # The full pipeline ran before the shell.
    assert os.path.isfile(proj.build_dir("conf", "local.conf"))


def test_info_line_uses_kas_target_and_kas_task(proj):
    """The info line's default build uses KAS_TARGET and KAS_TASK (CLI-121)."""
    result = proj.kas_ok("shell", "kas.yml", "-c", "true", KAS_TARGET="t1  t2",
                         KAS_TASK="compile")
    assert "To start the default build, run: bitbake -c compile t1 t2" in info_lines(
        result.stderr)


def test_nonzero_exit_code_is_forwarded(proj, shell):
    """The command's non-zero exit status is kas's, with the failed command
    as error (CLI-123)."""
    result = proj.kas("shell", "kas.yml", "-c", "exit 7")
    assert result.returncode == 7, result
    assert "Traceback" not in result.stderr, result
    assert result.errors() == ["Shell returned non-zero exit status",
                               f"Command \"{shell.path} -c 'exit 7'\" failed with error 7"]


def test_default_shell_is_bin_sh(proj, shell, tmp_path):
    """Without SHELL, kas shell starts /bin/sh (CLI-121)."""
    env = proj.env()
    del env["SHELL"]
    out = tmp_path / "exe"
    proj.kas_ok("shell", "kas.yml", "-c", f'readlink /proc/$$/exe > "{out}"', env=env)
    assert read(out).strip() == real("/bin/sh")
    assert shell.uses() == []


# --- git identity in the private HOME (issue 16.1) -------------------------------------

IDENTITY_QUERY = "git config --get user.name; git config --get user.email"


def shell_output(proj, command, **env):
    """What ``command`` prints in ``kas shell -c`` (kept in the build dir)."""
    out = proj.build_dir("shell-output")
    proj.kas_ok("shell", "kas.yml", "-c", f'{{ {command}; }} > "{out}"', **env)
    return read(out).splitlines()


def test_shell_git_identity_defaults_to_kas_user(proj):
    """Issue 16.1: with no identity configured anywhere, the private
    gitconfig ends the patch step with kas's identity."""
    assert shell_output(proj, IDENTITY_QUERY) == ["kas User", "kas@example.com"]


def test_shell_keeps_the_users_identity_and_multi_valued_keys(proj, tmp_path):
    """Issue 16.1: the user's name from GITCONFIG_FILE is kept, only the
    missing email is filled in; several insteadOf of one url section stay
    there in order."""
    gitconfig = write(tmp_path / "gitconfig",
                      '[user]\n\tname = Jane Doe\n'
                      '[url "https://mirror.example/"]\n'
                      '\tinsteadOf = git://a.example/\n\tinsteadOf = git://b.example/\n'
                      '\tinsteadOf = ssh://c.example/\n')
    lines = shell_output(proj, IDENTITY_QUERY + "; git config --get-all "
                         "url.https://mirror.example/.insteadof", GITCONFIG_FILE=gitconfig)
    assert lines == ["Jane Doe", "kas@example.com",
                     "git://a.example/", "git://b.example/", "ssh://c.example/"]


def test_shell_keeps_a_complete_user_identity(proj, tmp_path):
    """A user identity complete in GITCONFIG_FILE is kept as it is
    (issue 16.1)."""
    gitconfig = write(tmp_path / "gitconfig", "[user]\n\tname = Jane\n\temail = j@x.org\n")
    assert shell_output(proj, IDENTITY_QUERY, GITCONFIG_FILE=gitconfig) == ["Jane", "j@x.org"]


def test_shell_k_keeps_conf_files(proj, tmp_path):
    """kas shell -k keeps the user's local.conf and bblayers.conf and writes
    no CACHEDIR.TAG (CLI-045)."""
    files = {name: write(proj.build_dir("conf", name), f"# mine: {name}\n")
             for name in ("local.conf", "bblayers.conf")}
    out = tmp_path / "ran"
    proj.kas_ok("shell", "-k", "kas.yml", "-c", f'pwd > "{out}"')
    assert {name: read(path) for name, path in files.items()} == {
        name: f"# mine: {name}\n" for name in files}
    assert real(read(out).strip()) == real(proj.build_dir())
    assert not os.path.exists(proj.build_dir("CACHEDIR.TAG"))


# --- -E / --preserve-env (CLI-330) -------------------------------------------------

IGNORED_NETRC = ('Environment variable "NETRC_FILE" ignored because user environment is '
                 "being used")
PRESERVING = ("Preserving the current environment block may have unintended side effects "
              "on the build.")


def test_preserve_env_needs_a_tty(proj, shell, tmp_path):
    """-E without a terminal is a user error; the ignored NETRC_FILE is
    still warned about and no shell starts (CLI-330)."""
    netrc = write(tmp_path / "netrc", "machine example.org login me password pw\n")
    result = proj.kas("shell", "-E", "kas.yml", "-c", "true", NETRC_FILE=netrc)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert result.errors() == ["--preserve-env can only be run from a tty"]
    assert IGNORED_NETRC in result.warnings()
    assert shell.uses() == []


@pytest.mark.parametrize("option", ["-E", "--preserve-env"])
def test_preserve_env_on_a_terminal(proj, tmp_path, option):
    """-E/--preserve-env on a terminal keeps the caller's environment, with
    the home still set up by kas and a warning each for the ignored
    NETRC_FILE and the preserved environment (CLI-330)."""
    netrc = write(tmp_path / "netrc", "machine example.org login me password pw\n")
    env = proj.env(NO_COLOR="1", NETRC_FILE=netrc, CALLER_VAR="from-caller")
    term = kas_on_terminal(proj, "shell", option, "kas.yml", "-c",
                           "echo CALLER=$CALLER_VAR INIT=$FROM_INIT HOME=$HOME.", env=env)
    code = term.finish()
    output = term.output
    assert code == 0, output
    assert "CALLER=from-caller INIT=1 HOME=" in output
    assert f"HOME={env['HOME']}." not in output      # setup_home still ran
    assert f" - WARNING  - {IGNORED_NETRC}" in output
    assert f" - WARNING  - {PRESERVING}" in output


# --- interactive shell on a terminal (CLI-121, CLI-123, CLI-342) ------------------------

def test_interactive_shell(proj, shell):
    """Without -c, kas shell runs an interactive shell with HISTFILE set;
    its exit status ends kas with an error (CLI-121, CLI-123)."""
    term = kas_on_terminal(proj, "shell", "kas.yml")
    term.wait_for("To start the default build, run: bitbake -c fetch a b")
    term.send("echo $HISTFILE; exit 3\n")
    code = term.finish()
    assert code == 3, term.output
    assert histfile(proj) in term.output
    assert " - ERROR    - Shell returned non-zero exit status" in term.output
    assert shell.uses() == [shell.path]


def test_ctrl_c_at_the_shell_prompt_does_not_end_kas(proj):
    """Ctrl-C at the interactive shell's prompt reaches the shell, not kas:
    the shell goes on and kas ends normally (CLI-342)."""
    term = kas_on_terminal(proj, "shell", "kas.yml")
    term.wait_for("To start the default build")
    term.send("echo READY-$((1+1))\n")
    term.wait_for("READY-2")
    term.send("\x03")
    time.sleep(0.3)
    # The shell may drop a line typed while it handles the interrupt: retry.
    for _ in range(3):
        term.send("echo ALIVE-$((2+3))\n")
        if term.appears("ALIVE-5", 3) or term.closed:
            break
    term.wait_for("ALIVE-5", 0)
    term.send("exit 0\n")
    code = term.finish()
    assert code == 0, term.output
    assert "kas execution cancelled" not in term.output
    assert not re.search(r" - ERROR    - ", term.output), term.output
