"""End to end with a real bitbake (issue: build environment, item 6).

bitbake is the bb library of the bitbake-setup package, run through the
launcher, server and worker of ``examples/bitbake`` (ours).  Each test
makes git repositories from that tree and from a small layer of its own,
and lets ``kas build`` / ``kas shell`` clone them and run bitbake on the
files kas wrote (GEN-000 ... GEN-053, CLI-101 ... CLI-123, CLI-340 ...).
"""

import fcntl
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers.repos import git, make_git_repo, read, write
from helpers.run import REPO_ROOT, clean_env, kas_command, kas_ok, run_kas
from helpers.terminal import Terminal

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.bitbake,
    pytest.mark.skipif(importlib.util.find_spec("bb") is None,
                       reason="the bb library is missing: pip install bitbake-setup"),
]

EXAMPLE_TREE = os.path.join(REPO_ROOT, "examples", "bitbake")

RECIPES = {
    "conf/layer.conf": """
        BBPATH .= ":${LAYERDIR}"
        BBFILES += "${LAYERDIR}/recipes/*.bb"
        BBFILE_COLLECTIONS += "test"
        BBFILE_PATTERN_test = "^${LAYERDIR}/"
        BBFILE_PRIORITY_test = "6"
        LAYERSERIES_COMPAT_test = "example"
        """,
    # Writes what arrived from local.conf and from the environment.
    "recipes/report.bb": """
        do_build[nostamp] = "1"
        do_build() {
            mkdir -p "${DEPLOY_DIR}"
            cat > "${DEPLOY_DIR}/report.txt" <<EOF
        machine=${MACHINE}
        distro=${DISTRO}
        greeting=${GREETING}
        from_env=${@d.getVar('FROM_ENV') or 'unset'}
        null_env=${@d.getVar('NULL_ENV') or 'unset'}
        EOF
        }
        """,
    "recipes/fail.bb": """
        do_build() {
            echo "this task fails on purpose" >&2
            exit 1
        }
        """,
    # Records its pid, then sleeps: for the interruption tests.
    "recipes/slow.bb": """
        SLOW_SECONDS ??= "120"
        do_build() {
            echo $$ > "${TOPDIR}/slow.pid"
            sleep ${SLOW_SECONDS}
            touch "${TOPDIR}/slow.done"
        }
        """,
}


@pytest.fixture
def project(tmp_path):
    """A work dir with kas.yml pointing at git repos of the example bitbake
    tree and the test layer; returns (work dir, function writing kas.yml)."""
    tree = tmp_path / "bitbake-src"
    shutil.copytree(EXAMPLE_TREE, tree, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    # The tree's init script runs this interpreter (the one with bb).
    write(tree / ".bitbake-python", sys.executable + "\n")
    make_git_repo(tree, files={})
    layer = make_git_repo(tmp_path / "meta-test", files=RECIPES)
    work = tmp_path / "work"
    work.mkdir()

    def configure(extra="", target="report", build_system="openembedded"):
        write(work / "kas.yml", textwrap.dedent(f"""
            header:
              version: 23
            build_system: {build_system}
            target: {target}
            repos:
              bitbake:
                url: {tree}
                commit: {git(tree, "rev-parse", "HEAD")}
              meta-test:
                url: {layer}
                commit: {git(layer, "rev-parse", "HEAD")}
            """) + textwrap.dedent(extra))

    return work, configure


def kas_env(work, **extra):
    return clean_env(KAS_WORK_DIR=str(work), **extra)


def report(work):
    text = read(work / "build" / "tmp" / "deploy" / "report.txt")
    return dict(line.split("=", 1) for line in text.splitlines())


def test_build_runs_the_task_with_the_values_kas_wrote(project):
    work, configure = project
    configure("""
        machine: board-a
        distro: test-distro
        local_conf_header:
          greeting: |
            GREETING = "hello from local.conf"
        """)
    result = kas_ok("build", "kas.yml", cwd=work, env=kas_env(work))
    assert report(work) == {"machine": "board-a", "distro": "test-distro",
                            "greeting": "hello from local.conf",
                            "from_env": "unset", "null_env": "unset"}
    # Not on a terminal: bitbake's output comes back as kas log records.
    assert " - INFO     - NOTE: Tasks Summary: Attempted 1 tasks" in result.stderr


def test_env_keys_reach_bitbake_through_the_passthrough_list(project):
    work, configure = project
    configure("""
        env:
          FROM_ENV: config-default
          NULL_ENV:
        """)
    kas_ok("build", "kas.yml", cwd=work, env=kas_env(work))
    assert report(work)["from_env"] == "config-default"
    assert report(work)["null_env"] == "unset"

    kas_ok("build", "kas.yml", cwd=work,
           env=kas_env(work, FROM_ENV="from-caller", NULL_ENV="caller-null"))
    assert report(work)["from_env"] == "from-caller"
    assert report(work)["null_env"] == "caller-null"


def bitbake_e(work, env):
    out = work.parent / "bitbake-e.txt"
    kas_ok("shell", "kas.yml", "-c", f'bitbake -e > "{out}"', cwd=work, env=env)
    return read(out).splitlines()


def test_offline_tells_bitbake_no_network(project):
    """Issue 19.2: with KAS_OFFLINE=1 (repos already checked out), bitbake's
    datastore has BB_NO_NETWORK = "1" from the environment; local.conf is
    byte-identical to the online run's; online, BB_NO_NETWORK is unset."""
    work, configure = project
    configure()
    online = bitbake_e(work, kas_env(work))
    local_conf = read(work / "build" / "conf" / "local.conf")
    assert not [line for line in online if line.startswith("BB_NO_NETWORK=")]
    offline = bitbake_e(work, kas_env(work, KAS_OFFLINE="1"))
    assert 'BB_NO_NETWORK="1"' in offline
    assert read(work / "build" / "conf" / "local.conf") == local_conf


def test_isar_rootless_shows_isar_rootless_in_bitbake_e(project):
    work, configure = project
    configure(build_system="isar-rootless")
    lines = bitbake_e(work, kas_env(work))
    assert 'ISAR_ROOTLESS="1"' in lines
    assert 'MACHINE="qemux86-64"' in lines


def test_isar_privileged_has_no_isar_rootless(project):
    work, configure = project
    configure(build_system="isar-privileged")
    lines = bitbake_e(work, kas_env(work))
    assert not [line for line in lines if line.startswith("ISAR_ROOTLESS=")]
    assert 'DISTRO="nodistro"' in lines


def test_failing_task_is_exit_code_2_with_the_command(project):
    work, configure = project
    configure(target="fail")
    result = run_kas("build", "kas.yml", cwd=work, env=kas_env(work))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    message = result.errors()[-1]
    assert message.startswith('Command "'), result
    assert message.endswith('bitbake -c build fail" failed with error 1'), result
    assert "this task fails on purpose" in result.stderr, result


def test_unknown_target_is_one_clear_failure(project):
    work, configure = project
    configure(target="nosuch")
    result = run_kas("build", "kas.yml", cwd=work, env=kas_env(work))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "Nothing PROVIDES 'nosuch'" in result.stderr, result
    assert result.errors()[-1].endswith('bitbake -c build nosuch" failed with error 1')


def test_local_conf_header_bitbake_rejects(project):
    work, configure = project
    configure("""
        local_conf_header:
          broken: |
            THIS IS NOT BITBAKE SYNTAX
        """)
    result = run_kas("build", "kas.yml", cwd=work, env=kas_env(work))
    assert result.returncode == 2, result
    # bitbake's own report (its output is passed on as log records) names
    # the line; kas adds one error of its own.
    assert "conf/local.conf:2: unparsed line: 'THIS IS NOT BITBAKE SYNTAX'" in result.stderr
    assert len(result.errors()) == 1, result
    assert result.errors()[0].endswith('bitbake -c build report" failed with error 1')
    # The file stays as written, for the user to look at.
    assert "THIS IS NOT BITBAKE SYNTAX" in read(work / "build" / "conf" / "local.conf")


def test_task_and_extra_arguments_reach_bitbake(project):
    work, configure = project
    configure()
    # -n: dry run, so the recipe's task is not executed.
    kas_ok("build", "kas.yml", "-c", "build", "--", "-n", cwd=work, env=kas_env(work))
    assert not (work / "build" / "tmp" / "deploy" / "report.txt").exists()


# --- interruption (CLI-340 ... CLI-342) ----------------------------------------

def wait_for(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.1)
    return int(path.read_text())


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:          # a zombie counts as gone
        return f.read().split(")")[-1].split()[0] == "Z"


def lock_is_free(build):
    if not (build / "bitbake.lock").exists():      # the server removes it on exit
        return True
    with open(build / "bitbake.lock") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


def assert_bitbake_is_gone(work, task_pid):
    build = work / "build"
    assert process_gone(task_pid), "the running task was left behind"
    assert lock_is_free(build), "a bitbake server still holds bitbake.lock"
    assert not (build / "bitbake.sock").exists()


def slow_project(project, seconds):
    work, configure = project
    configure(f"""
        local_conf_header:
          slow: SLOW_SECONDS = "{seconds}"
        """, target="slow")
    return work


def start_build(work):
    return subprocess.Popen(kas_command() + ["build", "kas.yml"], cwd=work,
                            env=kas_env(work), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def interrupt(proc, work, *signals, timeout=60):
    """Signal kas once the task runs; returns (task pid, kas stderr)."""
    try:
        task_pid = wait_for(work / "build" / "slow.pid")
        for signum in signals:
            proc.send_signal(signum)
            time.sleep(1)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert "Traceback" not in stderr
    return task_pid, stderr


def test_ctrl_c_lets_the_running_task_finish_and_kas_waits(project):
    """The first SIGINT is bitbake's graceful stop: kas passes it on and
    exits only when bitbake is done (CLI-340)."""
    work = slow_project(project, 4)
    task_pid, stderr = interrupt(start_build(work), work, signal.SIGINT)
    assert (work / "build" / "slow.done").exists(), stderr
    assert "kas execution cancelled" in stderr
    assert_bitbake_is_gone(work, task_pid)


def test_sigterm_stops_bitbake_and_its_tasks(project):
    work = slow_project(project, 120)
    proc = start_build(work)
    task_pid, stderr = interrupt(proc, work, signal.SIGTERM, timeout=40)
    assert proc.returncode == 130, stderr
    assert "kas execution cancelled" in stderr
    assert not (work / "build" / "slow.done").exists()
    assert_bitbake_is_gone(work, task_pid)


def test_second_ctrl_c_ends_kas_at_once(project):
    """CLI-341; the second SIGINT also reaches bitbake, which then stops
    its tasks."""
    work = slow_project(project, 120)
    proc = start_build(work)
    task_pid, stderr = interrupt(proc, work, signal.SIGINT, signal.SIGINT, timeout=10)
    assert proc.returncode == 130, stderr
    assert "kas terminated forcefully" in stderr
    deadline = time.monotonic() + 30
    while not (process_gone(task_pid) and lock_is_free(work / "build")):
        assert time.monotonic() < deadline, "bitbake did not stop after the second Ctrl-C"
        time.sleep(0.2)


def test_ctrl_c_on_a_terminal_stops_bitbake_and_kas_waits(project):
    work = slow_project(project, 4)
    terminal = Terminal(kas_command() + ["build", "kas.yml"], work, kas_env(work))
    task_pid = wait_for(work / "build" / "slow.pid")
    terminal.send("\x03")          # Ctrl-C: the terminal signals kas and bitbake
    code = terminal.finish(timeout=60)
    assert code == 130, terminal.output
    # On a terminal bitbake ran attached to it: kas announced the command.
    assert f"{work / 'build'}$ " in terminal.output
    assert "kas execution cancelled" in terminal.output
    assert_bitbake_is_gone(work, task_pid)


# --- the bundled example (README main command) ---------------------------------

def test_bundled_example_builds(tmp_path):
    venv_python = os.path.join(REPO_ROOT, ".venv", "bin", "python3")
    if not os.path.exists(venv_python):
        pytest.skip("the example uses the README's .venv at the top of the checkout")
    build = tmp_path / "build"
    env = clean_env(KAS_WORK_DIR=REPO_ROOT, KAS_BUILD_DIR=str(build))
    kas_ok("build", "examples/hello.yml", cwd=REPO_ROOT, env=env)
    assert read(build / "tmp" / "deploy" / "hello-qemux86-64.txt") == (
        "Hello from kas: hello 1.0 built for qemux86-64 (nodistro)\n")
