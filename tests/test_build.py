"""``kas build`` (cli.md §5.1, CLI-100 ... CLI-105, CLI-035) and the files and
environment it prepares for bitbake (generated-files.md GEN-013 ... GEN-053,
environment.md ENV-103/104).

Every test runs the real ``kas`` in a subprocess.  The project is a plain
directory (the ``workdir`` fixture: top repository and work directory at
once) with ``kas.yml``, a fake init script and a ``bin/`` directory holding a
*recording fake bitbake*: the init script (sourced with the build directory
as ``$1``) creates ``$1/conf``, prepends ``bin/`` to ``PATH`` and exports
``BB_ENV_PASSTHROUGH_ADDITIONS``; the fake ``bitbake`` writes its argv (one
per line), its cwd, its environment and a copy of ``conf/local.conf`` to a
record directory outside the build directory, fails with exit 1 for the
target ``nosuch`` and otherwise sources ``<record dir>/control.sh`` (if a
test wrote one) to print lines or choose its exit code.
"""

import os
import re
import subprocess

import pytest
from helpers.repos import read, write
from helpers.run import clean_env, kas_command, kas_ok, parse_env, run_kas
from helpers.terminal import run_on_terminal

real = os.path.realpath

INIT_SCRIPT = """\
mkdir -p "$1/conf"
export PATH="{bin}:$PATH"
export BB_ENV_PASSTHROUGH_ADDITIONS=FOO_INIT
export FROM_INIT=1
"""

FAKE_BITBAKE = """\
#!/bin/sh
R='{rec}'
printf '%s\\n' "$0" > "$R/argv0"
printf '%s\\n' "$#" > "$R/argc"
: > "$R/argv"
for a in "$@"; do printf '%s\\n' "$a" >> "$R/argv"; done
pwd > "$R/cwd"
env > "$R/env"
if [ -t 1 ]; then echo yes > "$R/tty"; else echo no > "$R/tty"; fi
if [ -f conf/local.conf ]; then cp conf/local.conf "$R/local.conf.seen"; fi
echo run >> "$R/runs"
for a in "$@"; do
    if [ "$a" = nosuch ]; then
        echo "ERROR: Nothing PROVIDES 'nosuch'" >&2
        exit 1
    fi
done
if [ -f "$R/control.sh" ]; then . "$R/control.sh"; fi
exit 0
"""

MINIMAL = """
header:
  version: 23
repos:
  this:
"""


class Project:
    """The project directory, its fake init script and fake bitbake."""

    def __init__(self, tmp_path, workdir):
        self.work = workdir
        self.rec = tmp_path / "rec"
        self.rec.mkdir()
        self.bin = workdir / "bin"
        bitbake = write(self.bin / "bitbake", FAKE_BITBAKE.format(rec=self.rec))
        os.chmod(bitbake, 0o755)
        self.bitbake = bitbake
        self.init_script()

    def init_script(self, name="oe-init-build-env", extra="", directory=None):
        text = INIT_SCRIPT.format(bin=self.bin) + extra
        return write((directory or self.work) / name, text)

    def config(self, text=MINIMAL, name="kas.yml"):
        return write(self.work / name, text)

    def control(self, text):
        write(self.rec / "control.sh", text)

    def build_dir(self, *parts):
        return os.path.join(str(self.work), "build", *parts)

    def kas(self, *args, env=None, ok=True):
        env = clean_env() if env is None else env
        if ok:
            return kas_ok(*args, cwd=self.work, env=env)
        return run_kas(*args, cwd=self.work, env=env)

    def ran(self):
        return (self.rec / "runs").exists()

    def runs(self):
        return len(read(self.rec / "runs").splitlines()) if self.ran() else 0

    def argv(self):
        """The arguments bitbake got (without argv[0])."""
        count = int(read(self.rec / "argc"))
        args = read(self.rec / "argv").split("\n")[:count]
        assert len(args) == count
        return args

    def argv0(self):
        return read(self.rec / "argv0").rstrip("\n")

    def cwd(self):
        return read(self.rec / "cwd").rstrip("\n")

    def env(self):
        return parse_env(read(self.rec / "env"))


@pytest.fixture
def proj(tmp_path, workdir):
    return Project(tmp_path, workdir)


def failed_bitbake(result, args, code):
    """CLI-105/CLI-022: exit 2, the failed-command message, no traceback."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    pattern = rf'Command "(\S*/)?bitbake {re.escape(args)}" failed with error {code}'
    assert re.fullmatch(pattern, result.errors()[-1]), result


# --- generated files after a build (GEN-013, GEN-023 ... GEN-025) ----------------------

def test_bblayers_example_one_exact(proj):
    """GEN-013."""
    proj.config("""
        header:
          version: 23
        bblayers_conf_header:
          b: B = "1"
          a: |
            A = "1"
        repos:
          this:
            layers:
              meta-b/sub:
              meta-a:
                prio: -5
              .:
        """)
    proj.kas("build", "kas.yml")
    assert read(proj.build_dir("conf", "bblayers.conf")) == (
        '# a\n'
        'A = "1"\n'
        '\n'
        '# b\n'
        'B = "1"\n'
        'BBLAYERS ?= " \\\n'
        '    ${TOPDIR}/.. \\\n'
        '    ${TOPDIR}/../meta-b/sub \\\n'
        '    ${TOPDIR}/../meta-a"\n'
        'BBPATH ?= "${TOPDIR}"\n'
        'BBFILES ??= ""\n')
    assert proj.ran()


def test_bblayers_example_two_priorities_and_name(proj):
    """GEN-013."""
    for layer in ("l1", "l2"):
        (proj.work / "r2" / layer).mkdir(parents=True)
    proj.config(f"""
        header:
          version: 23
        repos:
          second:
            path: r2
            layers:
              l2:
                prio: 5
              l1:
                prio: 5
          third:
            path: {proj.work}/r2
            layers: {{}}
          fourth:
            name: zz
            path: r2
          main:
            layers:
              .: disabled
        """)
    proj.kas("build", "kas.yml")
    assert read(proj.build_dir("conf", "bblayers.conf")) == (
        'BBLAYERS ?= " \\\n'
        '    ${TOPDIR}/../r2/l1 \\\n'
        '    ${TOPDIR}/../r2/l2 \\\n'
        '    ${TOPDIR}/../r2"\n'
        'BBPATH ?= "${TOPDIR}"\n'
        'BBFILES ??= ""\n')


GEN023_CONFIG = """
header:
  version: 23
machine: mymach
distro: mydistro
target:
  - mc:foo:core-image-a
  - multiconfig:bar:core-image-b
  - plain
local_conf_header:
  zzz: |
    ZZZ = "1"
  aaa: AAA = "2"
  mmm: ""
repos:
  this:
"""


def gen023_local_conf(names):
    return ('# aaa\n'
            'AAA = "2"\n'
            '# mmm\n'
            '\n'
            '# zzz\n'
            'ZZZ = "1"\n'
            '\n'
            'MACHINE ??= "mymach"\n'
            'DISTRO ??= "mydistro"\n'
            f'BBMULTICONFIG ?= "{names}"\n')


def test_local_conf_example_and_targets(proj):
    """GEN-023, GEN-022, GEN-053."""
    proj.config(GEN023_CONFIG)
    proj.kas("build", "kas.yml")
    text = read(proj.build_dir("conf", "local.conf"))
    assert text in (gen023_local_conf("bar foo"), gen023_local_conf("foo bar")), text
    # GEN-022: the targets themselves are unchanged; GEN-053 example.
    assert proj.argv() == ["-c", "build", "mc:foo:core-image-a",
                           "multiconfig:bar:core-image-b", "plain"]


@pytest.mark.parametrize("build_system, rootless", [
    ("isar-rootless", True), ("isar", False), ("isar-privileged", False)])
def test_isar_local_conf(proj, build_system, rootless):
    """GEN-024."""
    os.remove(proj.work / "oe-init-build-env")
    proj.init_script("isar-init-build-env")
    proj.config(MINIMAL + f"build_system: {build_system}\n")
    # The host check (tests/test_isar_host.py) is not what this test is about.
    proj.kas("build", "kas.yml", env=clean_env(KAS_MACHINE="envmach", KAS_ISAR_HOST_CHECK="0"))
    expected = ('MACHINE ??= "envmach"\n'
                'DISTRO ??= "nodistro"\n'
                'BBMULTICONFIG ?= ""\n')
    if rootless:
        expected += 'ISAR_ROOTLESS ?= "1"\n'
    assert read(proj.build_dir("conf", "local.conf")) == expected
    assert proj.ran()


def test_minimal_local_conf_replaces_template_before_bitbake_runs(proj):
    """GEN-000/GEN-025: whatever the init script put there is replaced, and
    bitbake finds the generated file."""
    proj.init_script(extra='printf \'TEMPLATE = "1"\\n\' > "$1/conf/local.conf"\n')
    proj.config()
    proj.kas("build", "kas.yml")
    expected = ('MACHINE ??= "qemux86-64"\n'
                'DISTRO ??= "nodistro"\n'
                'BBMULTICONFIG ?= ""\n')
    assert read(proj.build_dir("conf", "local.conf")) == expected
    assert read(proj.rec / "local.conf.seen") == expected


# --- the environment of bitbake (GEN-050 ... GEN-052, ENV-103/104) ----------------------

GEN052_CONFIG = MINIMAL + """
env:
  MYVAR: default
  NULLVAR: null
  OVERRIDDEN: "x"
"""

PASSTHROUGH = ("FOO_INIT SSTATE_DIR SSTATE_MIRRORS BB_HASHSERVE_DB_DIR BB_HASHSERVE "
               "BB_HASHSERVE_UPSTREAM DL_DIR TMPDIR MYVAR NULLVAR OVERRIDDEN")


def test_passthrough_value_and_precedence(proj):
    """GEN-052, GEN-050: Caller value > config default > init script; null entries removed;
    allow-listed caller variables passed even when empty (step 5)."""
    proj.init_script(extra="export MYVAR=script\nexport OVERRIDDEN=script\n"
                           "export KEEPVAR=script\n")
    proj.config(GEN052_CONFIG)
    proj.kas("build", "kas.yml", env=clean_env(OVERRIDDEN="fromenv", FOO_SECRET="s3cret",
                                               SSTATE_DIR="/sstate", DL_DIR=""))
    env = proj.env()
    assert env["BB_ENV_PASSTHROUGH_ADDITIONS"] == PASSTHROUGH
    assert env["MYVAR"] == "default"
    assert env["OVERRIDDEN"] == "fromenv"
    assert "NULLVAR" not in env
    assert (env["FROM_INIT"], env["KEEPVAR"]) == ("1", "script")
    assert (env["SSTATE_DIR"], env["DL_DIR"]) == ("/sstate", "")
    assert "TMPDIR" not in env
    assert "FOO_SECRET" not in env       # neither an env name nor allow-listed
    assert env["NO_COLOR"] == "1"        # CLI-012: stdout is not a tty


def test_caller_value_for_a_null_entry_reaches_bitbake(proj):
    """GEN-050."""
    proj.config(GEN052_CONFIG)
    proj.kas("build", "kas.yml", env=clean_env(NULLVAR="given", MYVAR=""))
    env = proj.env()
    assert env["NULLVAR"] == "given"
    assert env["MYVAR"] == ""            # set in the caller, even empty
    assert env["OVERRIDDEN"] == "x"


BASE_NAMES = ("SSTATE_DIR SSTATE_MIRRORS BB_HASHSERVE_DB_DIR BB_HASHSERVE "
              "BB_HASHSERVE_UPSTREAM DL_DIR TMPDIR")


@pytest.mark.parametrize("script, env_entries, expected", [
    ("export BB_ENV_EXTRAWHITE=OLD\n", "  MYVAR: default\n",
     {"BB_ENV_EXTRAWHITE": f"OLD {BASE_NAMES} MYVAR"}),
    ("", "  MYVAR: default\n", {}),
    # An env entry for the variable itself makes it present.
    ("", "  MYVAR: default\n  BB_ENV_PASSTHROUGH_ADDITIONS: CFG\n",
     {"BB_ENV_PASSTHROUGH_ADDITIONS": f"CFG {BASE_NAMES} MYVAR BB_ENV_PASSTHROUGH_ADDITIONS"}),
], ids=["old-bitbake", "neither", "env-entry"])
def test_without_bb_env_passthrough_additions_from_the_script(
        proj, script, env_entries, expected):
    """GEN-052."""
    proj.init_script(extra="unset BB_ENV_PASSTHROUGH_ADDITIONS\n" + script)
    proj.config(MINIMAL + "env:\n" + env_entries)
    proj.kas("build", "kas.yml")
    env = proj.env()
    names = ("BB_ENV_PASSTHROUGH_ADDITIONS", "BB_ENV_EXTRAWHITE")
    assert {k: env[k] for k in names if k in env} == expected


KAS_VARIABLES = {"KAS_MACHINE": "m", "KAS_DISTRO": "d", "KAS_TASK": "build",
                 "KAS_TARGET": "core-image-minimal", "KAS_CLONE_DEPTH": "0",
                 "KAS_PREMIRRORS": "", "KAS_REPO_REF_DIR": ""}


def test_no_kas_variables_reach_bitbake_unless_listed_in_env(proj):
    """GEN-051."""
    proj.config(MINIMAL + "env:\n  KAS_MACHINE: null\n")
    proj.kas("build", "kas.yml", env=clean_env(KAS_WORK_DIR=str(proj.work),
                                               KAS_BUILD_DIR=proj.build_dir(),
                                               **KAS_VARIABLES))
    assert {k: v for k, v in proj.env().items() if k.startswith("KAS_")} == {
        "KAS_MACHINE": "m"}


# --- command line and cwd of bitbake (GEN-053, CLI-101 ... CLI-104, CLI-035) ------------

@pytest.mark.parametrize("config, options, extra, env, expected", [
    ("", (), (), {}, ["-c", "build", "core-image-minimal"]),
    ("target:\n  - a\n  - b\ntask: fetch\n", (), (), {}, ["-c", "fetch", "a", "b"]),
    ("target: []\n", (), (), {}, ["-c", "build"]),
    ("target:\n  - a\n  - b\ntask: fetch\n", (), (),
     {"KAS_TARGET": "t1  t2", "KAS_TASK": "compile"}, ["-c", "compile", "t1", "t2"]),
    ("target: single\n", (), (), {"KAS_TARGET": " \t "}, ["-c", "build", "single"]),
    ("task: fetch\n", (), (), {"KAS_TASK": ""}, ["-c", "", "core-image-minimal"]),
    ("target: a\ntask: fetch\n", ("--target", "x", "--target", "y", "-c", "unpack"), (),
     {"KAS_TARGET": "t1 t2", "KAS_TASK": "compile"}, ["-c", "unpack", "x", "y"]),
    ("target: a\n", (), ("--", "-k", "-v"), {}, ["-c", "build", "-k", "-v", "a"]),
    # CLI-104: everything after the config is for bitbake, even kas option names.
    ("target: a\n", (), ("-v", "--target", "x"), {},
     ["-c", "build", "-v", "--target", "x", "a"]),
    ("", ("--target", "x", "--cmd", "fetch"), ("--", "-k"), {}, ["-c", "fetch", "-k", "x"]),
], ids=["default", "config-list-and-task", "empty-target-list", "kas-target-and-task",
        "blank-kas-target", "empty-kas-task", "cli-beats-all", "extra-args",
        "extra-args-without-double-dash", "extra-args-with-options"])
def test_bitbake_arguments(proj, config, options, extra, env, expected):
    """GEN-053, CLI-101, CLI-104."""
    proj.config(MINIMAL + config)
    proj.kas("build", *options, "kas.yml", *extra, env=clean_env(**env))
    assert proj.argv() == expected
    assert real(proj.cwd()) == real(proj.build_dir())


def test_cli_targets_also_decide_bbmulticonfig(proj):
    """CLI-102."""
    proj.config(MINIMAL + "target: mc:foo:a\n")
    proj.kas("build", "--target", "mc:bar:x", "kas.yml")
    assert 'BBMULTICONFIG ?= "bar"\n' in read(proj.build_dir("conf", "local.conf"))
    assert proj.argv() == ["-c", "build", "mc:bar:x"]


def test_fallback_uses_the_work_dir(proj, tmp_path):
    """CLI-035."""
    proj.config(MINIMAL.replace("  this:\n", f"  this:\n    path: {proj.work}\n")
                + "target: t\n", name=".config.yaml")
    other = tmp_path / "elsewhere"
    other.mkdir()
    result = run_kas("build", "--", "-k", "-v", cwd=other,
                     env=clean_env(KAS_WORK_DIR=str(proj.work)))
    assert result.returncode == 0, result
    assert proj.argv() == ["-c", "build", "-k", "-v", "t"]


def test_runs_in_kas_build_dir(proj, tmp_path):
    """CLI-101."""
    proj.config()
    other = tmp_path / "otherbuild"
    proj.kas("build", "kas.yml", env=clean_env(KAS_BUILD_DIR=str(other)))
    assert real(proj.cwd()) == real(str(other))
    assert (other / "conf" / "local.conf").is_file()


def test_bitbake_is_looked_up_in_the_build_environment(proj, tmp_path):
    """CLI-101: A bitbake on the caller's PATH is not used; the init script's is."""
    decoy_dir = tmp_path / "decoy"
    decoy = write(decoy_dir / "bitbake", f"#!/bin/sh\ntouch '{tmp_path}/decoy-ran'\n")
    os.chmod(decoy, 0o755)
    proj.config()
    proj.kas("build", "kas.yml",
             env=clean_env(PATH=f"{decoy_dir}:{os.environ['PATH']}"))
    assert real(proj.argv0()) == real(proj.bitbake)
    assert not (tmp_path / "decoy-ran").exists()


# --- output and failures (CLI-105, CLI-022) -----------------------------------------

def test_non_tty_output_becomes_log_records(proj):
    """CLI-105."""
    proj.control("echo 'NOTE: out line 1'\necho 'WARNING: err line' >&2\n"
                 "echo 'NOTE: out line 2'\n")
    proj.config()
    result = run_kas("build", "kas.yml", cwd=proj.work, env=clean_env())
    assert result.returncode == 0, result
    assert " - INFO     - NOTE: out line 1" in result.stderr
    assert " - INFO     - NOTE: out line 2" in result.stderr
    assert "WARNING: err line" in result.errors()
    assert result.stdout == ""
    assert proj.argv() == ["-c", "build", "core-image-minimal"]
    assert read(proj.rec / "tty") == "no\n"


def test_non_tty_output_is_logged_live(proj):
    """CLI-105: The first line is logged while bitbake is still running: the fake
    waits (at most 10 s) until the test saw that line."""
    go = proj.rec / "go"
    proj.control("echo 'NOTE: first'\n"
                 "i=0\n"
                 f"while [ ! -f '{go}' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n"
                 f"[ -f '{go}' ] || echo 'NOTE: timed out'\n")
    proj.config()
    proc = subprocess.Popen(kas_command() + ["build", "kas.yml"], cwd=proj.work,
                            env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.rstrip("\n").endswith(" - INFO     - NOTE: first"):
            go.touch()
    assert proc.wait(30) == 0, lines
    assert go.exists(), lines
    assert not [line for line in lines if "NOTE: timed out" in line], lines


def test_failing_bitbake_is_exit_2(proj):
    """CLI-105, CLI-022."""
    proj.control("echo 'ERROR: task failed' >&2\nexit 3\n")
    proj.config()
    result = proj.kas("build", "kas.yml", "--", "-v", "a b", ok=False)
    failed_bitbake(result, "-c build -v 'a b' core-image-minimal", 3)
    # Logged live, then repeated with the command after the failure, as
    # kas 5.5 does (found by bench/parity).
    command = f"{proj.bitbake} -c build -v 'a b' core-image-minimal"
    assert result.errors() == ["ERROR: task failed",
                               f'Command "{proj.build_dir()}$ {command}" failed:',
                               f'Command "{command}" failed with error 3'], result
    assert ' failed:\nERROR: task failed\n' in result.stderr, result


def test_failing_bitbake_without_error_output(proj):
    """CLI-105: nothing on stderr, nothing repeated (kas 5.5 alike)."""
    proj.control("exit 4\n")
    proj.config()
    result = proj.kas("build", "kas.yml", ok=False)
    failed_bitbake(result, "-c build core-image-minimal", 4)
    assert len(result.errors()) == 1, result


def test_unknown_target(proj):
    """CLI-105."""
    proj.config()
    result = proj.kas("build", "--target", "nosuch", "kas.yml", ok=False)
    failed_bitbake(result, "-c build nosuch", 1)
    assert "ERROR: Nothing PROVIDES 'nosuch'" in result.errors()


def test_tty_logs_the_command_and_bitbake_writes_to_the_terminal(proj):
    """CLI-105."""
    proj.control("echo 'NOTE: direct line'\necho 'WARNING: direct err' >&2\n")
    proj.config()
    code, output = run_on_terminal(kas_command() + ["build", "kas.yml"], proj.work,
                                   clean_env())
    assert code == 0, output
    build = real(proj.build_dir())
    lines = output.replace("\r\n", "\n").splitlines()
    logged = [line for line in lines if " - INFO     - " in line
              and line.split(" - INFO     - ", 1)[1].startswith(f"{build}$ ")]
    assert len(logged) == 1, output
    command = logged[0].split(f"{build}$ ", 1)[1]
    assert re.fullmatch(r"(\S*/)?bitbake -c build core-image-minimal", command), command
    assert "NOTE: direct line" in lines        # not wrapped in a log record
    assert "WARNING: direct err" in lines
    assert read(proj.rec / "tty") == "yes\n"
    assert "NO_COLOR" not in proj.env()        # CLI-012: stdout is a tty
    assert output.index(logged[0]) < output.index("NOTE: direct line")


def test_tty_failure_is_exit_2(proj):
    """CLI-105."""
    proj.control("exit 5\n")
    proj.config()
    code, output = run_on_terminal(kas_command() + ["build", "kas.yml"], proj.work,
                                   clean_env())
    assert code == 2, output
    assert "Traceback" not in output
    assert re.search(r'Command "(\S*/)?bitbake -c build core-image-minimal" failed with '
                     r"error 5", output), output


# --- pipeline options with build (CLI-045, CLI-042) -----------------------------------

def test_k_keeps_conf_files_and_still_runs_bitbake(proj):
    """CLI-045."""
    proj.config(MINIMAL + "machine: other\n")
    files = {name: write(proj.build_dir("conf", name), f"# mine: {name}\n")
             for name in ("local.conf", "bblayers.conf")}
    proj.kas("build", "-k", "kas.yml")
    assert {name: read(path) for name, path in files.items()} == {
        name: f"# mine: {name}\n" for name in files}
    assert proj.argv() == ["-c", "build", "core-image-minimal"]
    assert real(proj.cwd()) == real(proj.build_dir())


def test_skip_setup_environ_is_an_invalid_combination(proj):
    """CLI-042."""
    proj.config()
    result = proj.kas("build", "--skip", "setup_environ", "kas.yml", ok=False)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert len(result.errors()) == 1, result
    assert result.errors()[0].startswith("Invalid combination of arguments: "), result
    assert not proj.ran()


def test_bitbake_not_on_the_build_path_is_one_clear_error(proj):
    """The init script does not extend PATH.  (CLI-101 calls this an internal
    error; the project asks for a clear user error instead.)"""
    write(proj.work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    proj.config()
    result = proj.kas("build", "kas.yml", ok=False)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert len(result.errors()) == 1, result
    assert "bitbake" in result.errors()[0]
    assert not proj.ran()


# --- bad input: the init script (GEN-040, GEN-041) ------------------------------------

def conf_snapshot(proj):
    return {name: read(proj.build_dir("conf", name)) for name in ("local.conf", "bblayers.conf")}


def init_script_problem(proj, problem):
    if problem == "missing":
        os.remove(proj.work / "oe-init-build-env")
        return "Did not find any init-build-env script"
    if problem == "two":
        other = proj.work / "other"
        proj.init_script(directory=other)
        proj.config(MINIMAL + "  other:\n    path: other\n")
        return ("Multiple init scripts found (other vs. this). Resolve ambiguity by "
                "removing one of the repos")
    proj.init_script(extra='echo "cannot set up: no sdk here" >&2\nfalse\n')
    return "cannot set up: no sdk here"


@pytest.mark.parametrize("command", ["build", "shell"])
@pytest.mark.parametrize("problem", ["missing", "two", "failing"])
def test_init_script_problems_stop_before_bitbake(proj, command, problem):
    """GEN-040, GEN-041: One clear error, exit 2; bitbake never runs and the conf files of the
    previous run stay as they were (write_bbconfig comes after setup_environ)."""
    proj.config()
    proj.kas("build", "kas.yml")
    before = conf_snapshot(proj)
    runs = proj.runs()
    expected = init_script_problem(proj, problem)
    args = ("build", "kas.yml") if command == "build" else ("shell", "kas.yml", "-c", "bitbake")
    result = proj.kas(*args, ok=False)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert expected in result.stderr, result
    assert len(result.errors()) == (2 if problem == "failing" else 1), result
    assert proj.runs() == runs
    assert conf_snapshot(proj) == before
