"""The internal ssh-agent step (CLI-040 row 2, CLI-060) with a real
ssh-agent and a real key."""

import os
import shutil
import subprocess

import pytest
from helpers.repos import write
from helpers.run import clean_env, kas_ok, run_kas

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("ssh", "ssh-add", "ssh-agent", "ssh-keygen")),
    reason="needs OpenSSH client tools (ssh, ssh-add, ssh-agent, ssh-keygen)")


@pytest.fixture
def project(workdir, tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kas-test-key",
                    "-f", str(key)], check=True)
    write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n")
    env = {k: v for k, v in clean_env().items() if not k.startswith("SSH_")}
    return workdir, key, env


def agent_report(workdir, env):
    """Run for-all-repos; returns (keys listed by the agent, agent pid)."""
    command = 'ssh-add -l > agent.txt; echo "$SSH_AGENT_PID" > agent.pid'
    kas_ok("for-all-repos", "--skip", "setup_environ", "kas.yml", command, cwd=workdir,
           env=env)
    return (workdir / "agent.txt").read_text(), int((workdir / "agent.pid").read_text())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"     # zombies are gone too
    except OSError:
        return False


def test_key_from_variable_is_loaded_and_agent_stopped_afterwards(project):
    workdir, key, env = project
    env["SSH_PRIVATE_KEY"] = key.read_text().rstrip("\n")   # newline gets appended
    keys, pid = agent_report(workdir, env)
    assert "kas-test-key" in keys
    assert not alive(pid)


def test_key_from_file_is_loaded(project):
    workdir, key, env = project
    env["SSH_PRIVATE_KEY_FILE"] = str(key)
    keys, _ = agent_report(workdir, env)
    assert "kas-test-key" in keys


def test_empty_variables_warn(project):
    workdir, _, env = project
    env["SSH_PRIVATE_KEY"] = ""
    result = run_kas("dump", "kas.yml", cwd=workdir, env=env)
    assert result.returncode == 0, result
    assert ("None of the following environment keys were set: SSH_PRIVATE_KEY, "
            "SSH_PRIVATE_KEY_FILE") in result.warnings()


def test_bad_key_is_logged_not_fatal(project):
    workdir, _, env = project
    env["SSH_PRIVATE_KEY"] = "not a key"
    result = run_kas("dump", "kas.yml", cwd=workdir, env=env)
    assert result.returncode == 0, result
    assert [e for e in result.errors() if e.startswith("failed to add ssh key: ")]
    assert "not a key" not in result.stderr


def test_external_agent_conflicts_with_internal_one(project):
    """CLI-060: checked while the parser is built, even for --help and
    --version (as kas 5.5 does: its exit status is 2 there too; the fast
    --version path leaves this case to the full command line)."""
    workdir, _, env = project
    env.update(SSH_PRIVATE_KEY="", SSH_AUTH_SOCK=os.path.join(str(workdir), "sock"))
    for args in (["dump", "kas.yml"], ["checkout", "--help"], ["--version"], ["--help"],
                 ["-l", "info", "--version"]):
        result = run_kas(*args, cwd=workdir, env=env)
        assert result.returncode == 2, result
        assert result.errors() == [
            ('Invalid combination of arguments: Internal SSH agent (e.g. for '
            '"SSH_PRIVATE_KEY") can only be started if no external one is passed.')]

