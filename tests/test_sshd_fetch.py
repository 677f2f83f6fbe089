"""Fetching over ssh from a real OpenSSH server (cli.md §3.2: CLI-060,
CLI-061; environment.md ENV-040 ... ENV-042).

A module fixture runs ``sshd`` on 127.0.0.1 (a free high port, the current
user, its own host key and config in the temporary directory) that
accepts only the test's client key.  git reaches it through
``core.sshCommand`` from ``GITCONFIG_FILE`` with a private known_hosts
file, so neither the real ~/.ssh nor the machine's ssh config matter.
"""

import os
import signal
import subprocess

import pytest
from helpers.creds import SshKey, SshServer, agents_with_marker, marked_path, require, sshd_program
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, run_kas

STEPS = ["--skip", "setup_environ", "--skip", "write_bbconfig"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require("ssh", "ssh-agent", "ssh-add", "ssh-keygen", "git")
    if sshd_program() is None:
        pytest.skip("needs sshd (openssh-server)")
    if os.getuid() == 0 and not os.path.isdir("/run/sshd"):
        # sshd run by root insists on its privilege separation directory,
        # which the openssh-server package makes only when its service starts.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    directory = tmp_path_factory.mktemp("sshd")
    client = SshKey(directory, "client")
    sshd = SshServer(directory, client).start()
    upstream = str(directory / "served" / "up")
    make_git_repo(upstream, {"README": "served over ssh\n"})
    sshd.commit = git(upstream, "rev-parse", "HEAD")
    sshd.upstream = upstream
    sshd.client = client
    yield sshd
    sshd.stop()


def ssh_command(known_hosts, config="/dev/null"):
    return (f"ssh -F {config} -o UserKnownHostsFile={known_hosts} -o BatchMode=yes "
            "-o StrictHostKeyChecking=yes")


@pytest.fixture
def project(workdir, tmp_path, server):
    """kas.yml with repo ``r`` on the server; a gitconfig that makes git
    use a known_hosts file that knows the server."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(server.known_hosts_line())
    gitconfig = write(tmp_path / "gitconfig",
                      f"[core]\n\tsshCommand = {ssh_command(known_hosts)}\n")
    write(workdir / "kas.yml", f"""\
        header:
          version: 23
        repos:
          this:
          r:
            url: {server.url(server.upstream)}
            commit: {server.commit}
            branch: main
        """)
    env = clean_env(GITCONFIG_FILE=gitconfig, KAS_WORK_DIR=str(workdir), PATH=marked_path())
    return workdir, env


def checkout(workdir, env):
    return run_kas("checkout", *STEPS, "kas.yml", cwd=workdir, env=env)


def assert_fetched(result, workdir, server):
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 0, (result, server.read_log())
    assert git(workdir / "r", "rev-parse", "HEAD") == server.commit
    assert (workdir / "r" / "README").read_text() == "served over ssh\n"


def test_fetch_with_ssh_private_key(project, server):
    """SSH_PRIVATE_KEY is added to an agent of kas's own, which fetches over
    ssh and is stopped afterwards (CLI-060)."""
    workdir, env = project
    env["SSH_PRIVATE_KEY"] = server.client.text()
    result = checkout(workdir, env)
    assert_fetched(result, workdir, server)
    assert "adding SSH key from env-var 'SSH_PRIVATE_KEY'" in result.stderr
    assert agents_with_marker(env) == []             # cleanup_ssh_agent ran


def test_fetch_with_ssh_private_key_file(project, server, tmp_path):
    """SSH_PRIVATE_KEY_FILE works the same (CLI-060)."""
    workdir, env = project
    env["SSH_PRIVATE_KEY_FILE"] = server.client.private
    result = checkout(workdir, env)
    assert_fetched(result, workdir, server)
    assert f"adding SSH key from file '{server.client.private}'" in result.stderr
    assert agents_with_marker(env) == []


def test_fetch_with_an_external_agent(project, server):
    """The caller's own agent is used and left alone, its keys included
    (CLI-061)."""
    workdir, env = project
    agent_env = dict(os.environ)
    output = subprocess.run(["ssh-agent", "-s"], check=True, capture_output=True,
                            text=True).stdout
    for line in output.splitlines():
        if line.startswith(("SSH_AUTH_SOCK=", "SSH_AGENT_PID=")):
            name, value = line.split(";", 1)[0].split("=", 1)
            agent_env[name] = value
    try:
        subprocess.run(["ssh-add", "-q", server.client.private], env=agent_env, check=True,
                       capture_output=True)
        env["SSH_AUTH_SOCK"] = agent_env["SSH_AUTH_SOCK"]
        result = checkout(workdir, env)
        assert_fetched(result, workdir, server)
        # kas uses the caller's agent but leaves it (and its keys) alone.
        listed = subprocess.run(["ssh-add", "-l"], env=agent_env, capture_output=True,
                                text=True, check=False)
        assert "client-key" in listed.stdout
    finally:
        os.kill(int(agent_env["SSH_AGENT_PID"]), signal.SIGTERM)


def test_without_a_key_the_fetch_is_one_clear_error(project, server):
    """Without a key the fetch fails with one clear error and no clone
    (CLI-060)."""
    workdir, env = project
    result = checkout(workdir, env)
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    [error] = result.errors()
    assert error.startswith('Fetching of repo: "r" failed: ')
    assert "Permission denied" in error
    assert not os.path.exists(workdir / "r")


def test_agent_stopped_when_the_fetch_fails(project, server):
    """kas's agent is stopped also when the fetch fails (CLI-060)."""
    workdir, env = project
    env["SSH_PRIVATE_KEY"] = server.client.text()
    text = (workdir / "kas.yml").read_text().replace(server.upstream, "/no/such/repo")
    write(workdir / "kas.yml", text)
    result = checkout(workdir, env)
    assert result.returncode == 2, result
    assert result.errors()[0].startswith('Fetching of repo: "r" failed: ')
    assert agents_with_marker(env) == []


# --------------------------------------------------------------------------
# CLI-060 item 5: host key checking off only in a managed CI environment


@pytest.fixture
def unknown_host(project, tmp_path):
    """git's ssh reads its config from the fake real HOME kas is told about
    and has an empty known_hosts: only a config that disables host key
    checking lets it connect."""
    workdir, env = project
    home = tmp_path / "realhome"
    home.mkdir()
    ssh_config = home / ".ssh" / "config"
    empty = tmp_path / "empty_known_hosts"
    gitconfig = write(tmp_path / "gitconfig-unknown-host",
                      f"[core]\n\tsshCommand = ssh -F {ssh_config} -o "
                      f"UserKnownHostsFile={empty} -o BatchMode=yes\n")
    env.update(HOME=str(home), GITCONFIG_FILE=gitconfig)
    return workdir, env, ssh_config


def test_host_key_check_disabled_on_gitlab_ci(unknown_host, server):
    """In GitLab CI an unknown host key is accepted: kas writes an ssh
    config without StrictHostKeyChecking (CLI-060)."""
    workdir, env, ssh_config = unknown_host
    env.update(GITLAB_CI="true", SSH_PRIVATE_KEY=server.client.text())
    result = checkout(workdir, env)
    assert_fetched(result, workdir, server)
    assert ssh_config.read_text() == "Host *\n\tStrictHostKeyChecking no\n\n"


def test_host_key_check_stays_on_outside_ci(unknown_host, server):
    """Outside CI the host key check stays on (CLI-060)."""
    workdir, env, ssh_config = unknown_host
    ssh_config.parent.mkdir()
    ssh_config.write_text("")      # so ssh -F finds a file: the default, checking on
    env["SSH_PRIVATE_KEY"] = server.client.text()
    result = checkout(workdir, env)
    assert result.returncode == 2, result
    assert "Host key verification failed" in result.errors()[0]
    assert ssh_config.read_text() == ""


def test_an_existing_ssh_config_is_never_overwritten(unknown_host, server):
    """An existing ssh config is never overwritten, with a warning
    (CLI-060)."""
    workdir, env, ssh_config = unknown_host
    ssh_config.parent.mkdir()
    ssh_config.write_text("# mine\n")
    env.update(GITHUB_ACTIONS="true", SSH_PRIVATE_KEY=server.client.text())
    result = checkout(workdir, env)
    assert result.returncode == 2, result
    assert (f"{ssh_config} already exists, not touching it to disable "
            "StrictHostKeyChecking") in result.warnings()
    assert ssh_config.read_text() == "# mine\n"
