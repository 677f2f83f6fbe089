"""The preflight of kas-container judges the docker endpoint docker itself
will use, and says what matters for the command (issue 24.5).

Docker contexts are made by the real docker client (``docker context
create``/``use`` in a private DOCKER_CONFIG), so kas-container reads the
files docker wrote; the engine is the recording stand-in of
tests/helpers/containerfakes.py, and the daemon sockets are real listening
unix sockets made by the test.  The namespace tests hide the system socket
/var/run/docker.sock (a mount over it), as on a host with no system docker,
and put a 64 MB file system under the work directory.
tests/test_container_docker.py runs the same through a context with the real
docker daemon.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
import test_kas_container as tkc
from helpers.containerfakes import BASIC_TOOLS, controlled_path
from helpers.ns import HELPER

SEARCH = "/usr/local/bin:/usr/bin:/bin"
DOCKER_CLI = shutil.which("docker", path=SEARCH)
FAKES = ("docker", "sudo")
# What the endpoint and the disk checks use beyond the basic tools.
TOOLS = BASIC_TOOLS + ("sha256sum", "df")
MOUNT = shutil.which("mount", path=SEARCH + ":/usr/sbin:/sbin") or "mount"
# In a namespace: nothing at the system socket's path (when it exists).
HIDE_SYSTEM_SOCKET = ("if [ -e /var/run/docker.sock ]; then "
                      f"{MOUNT} --bind /dev/null /var/run/docker.sock; fi")
NOT_RUNNING = "the docker daemon is not running"


@pytest.fixture
def docker_config(tmp_path):
    """A DOCKER_CONFIG directory for the real docker client."""
    if DOCKER_CLI is None:
        pytest.skip("no docker client: run `sudo sh .ci/setup-docker`")
    path = tmp_path / "docker-config"
    path.mkdir()
    return str(path)


def docker(config, *args):
    """The real docker client on ``config`` (no daemon needed)."""
    env = {"PATH": SEARCH, "HOME": os.path.dirname(config), "DOCKER_CONFIG": config}
    subprocess.run([DOCKER_CLI, *args], env=env, check=True, capture_output=True,
                   timeout=30)


def context(config, name, host, use=True):
    docker(config, "context", "create", name, "--docker", f"host={host}")
    if use:
        docker(config, "context", "use", name)


@pytest.fixture
def sockets():
    """Listening unix sockets with short paths, closed at the end."""
    made = []

    def make():
        sock, directory, path = tkc.short_socket()
        made.append((sock, directory))
        return os.path.realpath(path)

    yield make
    for sock, directory in made:
        sock.close()
        shutil.rmtree(directory)


@pytest.fixture
def kc(tmp_path):
    kc = tkc.KasContainer(tmp_path)
    kc.paths[FAKES] = controlled_path(tmp_path / "bin-preflight", fakes=FAKES, tools=TOOLS)
    return kc


@pytest.fixture
def repo(tmp_path):
    return tkc.git_tree(tmp_path / "proj", files={"kas.yml": tkc.KAS_YML})


def run(kc, repo, config, *args, wrap=(), **env):
    """kas-container with the stand-in docker and the preflight on."""
    env = {"KAS_CONTAINER_SKIP_PREFLIGHT": None, "KAS_CONTAINER_ENGINE": "docker",
           "DOCKER_CONFIG": config, **env}
    return kc(*args, cwd=repo, fakes=FAKES, env=env, wrap=wrap)


def daemon_lines(result):
    return [m for m in result.errors() + result.warnings() if m.startswith("docker-daemon")]


def doctor_daemon(kc, repo, config, **env):
    """The docker-daemon entry of `doctor --format json`, None if absent."""
    r = run(kc, repo, config, "doctor", "--format", "json", "kas.yml", **env)
    entries = [e for e in json.loads(r.stdout) if e["check"] == "docker-daemon"]
    assert len(entries) <= 1, r
    return entries[0] if entries else None


def in_namespace(setup):
    """``wrap`` for KasContainer: kas-container runs as root in a new user
    and mount namespace (every id mapped to itself) after ``setup``."""
    if os.getuid() != 0:
        pytest.skip("needs root: only root can map every id into a test namespace")
    return (sys.executable, HELPER, "sh", "-ec", f'{setup}\nexec "$@"', "sh")


# ---------------------------------------------------------------------------
# The endpoint: DOCKER_HOST, DOCKER_CONTEXT, the current context

def test_current_context_socket_is_checked_not_the_system_one(kc, repo, docker_config,
                                                              sockets):
    """The current context (`docker context use`) names a listening socket:
    the preflight passes and doctor names that socket and context."""
    sock = sockets()
    context(docker_config, "kc-desktop", f"unix://{sock}")
    r = run(kc, repo, docker_config, "build", "kas.yml")
    assert r.returncode == 0 and len(r.runs) == 1, r
    assert daemon_lines(r) == [], r
    assert doctor_daemon(kc, repo, docker_config) == {
        "check": "docker-daemon", "status": "ok", "fix": "",
        "found": f"socket {sock} (docker context kc-desktop)"}


@pytest.mark.root
def test_no_system_socket_current_context_runs(kc, repo, docker_config, sockets):
    """The reported case: no system docker socket, the current context names
    another one that listens; kas-container used to refuse with `no daemon
    socket /var/run/docker.sock`."""
    sock = sockets()
    context(docker_config, "desktop-linux", f"unix://{sock}")
    wrap = in_namespace(HIDE_SYSTEM_SOCKET)
    r = run(kc, repo, docker_config, "shell", "kas.yml", wrap=wrap)
    assert r.returncode == 0 and len(r.runs) == 1, r
    assert "/var/run/docker.sock" not in r.stderr, r
    # Without the context, the system socket is the endpoint: that refusal
    # is right.
    docker(docker_config, "context", "use", "default")
    r = run(kc, repo, docker_config, "shell", "kas.yml", wrap=wrap)
    assert r.returncode == 1 and r.runs == [], r
    assert daemon_lines(r)[0].startswith(
        f"docker-daemon: no daemon socket /var/run/docker.sock: {NOT_RUNNING} -- fix: "), r


def test_current_context_socket_missing_is_refused(kc, repo, docker_config, tmp_path):
    """What is known to fail stops the run: the context's socket is absent;
    the fix starts that daemon (Docker Desktop's user service here) or
    switches back."""
    missing = str(tmp_path / "none.sock")
    context(docker_config, "desktop-linux", f"unix://{missing}")
    r = run(kc, repo, docker_config, "checkout", "kas.yml")
    tkc.failed(r, f"docker-daemon: no daemon socket {missing} (docker context desktop-linux): "
                  f"{NOT_RUNNING} -- fix: systemctl --user start docker-desktop")
    context(docker_config, "kc-other", f"unix://{missing}")
    r = run(kc, repo, docker_config, "checkout", "kas.yml")
    tkc.failed(r, f"docker-daemon: no daemon socket {missing} (docker context kc-other): "
                  f"{NOT_RUNNING} -- fix: start the docker daemon of context kc-other, or: "
                  "docker context use default")


def test_rootless_context_uses_its_own_socket(kc, repo, docker_config, sockets):
    """`docker context use rootless`: the socket of that context, wherever
    it is (not a path guessed from XDG_RUNTIME_DIR)."""
    sock = sockets()
    context(docker_config, "rootless", f"unix://{sock}")
    env = {"FAKE_DOCKER_CONTEXT": "rootless", "XDG_RUNTIME_DIR": os.path.dirname(sock) + "/x"}
    r = run(kc, repo, docker_config, "build", "kas.yml", **env)
    assert r.returncode == 0 and len(r.runs) == 1, r
    assert tkc.ROOTLESS_WARNING in r.warnings()
    assert daemon_lines(r) == [], r
    assert doctor_daemon(kc, repo, docker_config, **env)["found"] == \
        f"socket {sock} (docker context rootless)"


def test_docker_context_variable_comes_before_the_current_context(kc, repo, docker_config,
                                                                  sockets, tmp_path):
    """DOCKER_CONTEXT names the context, whatever `docker context use` chose;
    DOCKER_HOST comes before both."""
    sock = sockets()
    missing = str(tmp_path / "none.sock")
    context(docker_config, "kc-broken", f"unix://{missing}")
    context(docker_config, "kc-good", f"unix://{sock}", use=False)
    r = run(kc, repo, docker_config, "build", "kas.yml", DOCKER_CONTEXT="kc-good")
    assert r.returncode == 0 and daemon_lines(r) == [], r
    r = run(kc, repo, docker_config, "build", "kas.yml", DOCKER_HOST=f"unix://{sock}")
    assert r.returncode == 0 and daemon_lines(r) == [], r
    assert doctor_daemon(kc, repo, docker_config, DOCKER_HOST=f"unix://{sock}")["found"] \
        == f"socket {sock}"
    r = run(kc, repo, docker_config, "build", "kas.yml", DOCKER_CONTEXT="kc-missing")
    tkc.failed(r, "docker-daemon: docker context kc-missing does not exist -- fix: "
                  "unset DOCKER_CONTEXT")


@pytest.mark.parametrize("host", ["ssh://builder@build-host", "tcp://build-host:2376"])
def test_remote_context_is_left_to_docker(kc, repo, docker_config, tmp_path, host):
    """What the preflight cannot know (a remote daemon) does not stop the
    run, and no system socket is looked at."""
    context(docker_config, "kc-remote", host)
    r = run(kc, repo, docker_config, "build", "kas.yml")
    assert r.returncode == 0 and len(r.runs) == 1, r
    assert daemon_lines(r) == [], r
    assert doctor_daemon(kc, repo, docker_config) is None


# ---------------------------------------------------------------------------
# The disk-space warning: for a build only

@pytest.mark.root
def test_disk_warning_only_before_a_build(kc, repo, docker_config, sockets, tmp_path):
    """A 64 MB work directory: `build` warns about the free space; shell,
    checkout and clean do not (they write next to nothing)."""
    work = tmp_path / "work"
    work.mkdir()
    wrap = in_namespace(f"{MOUNT} -t tmpfs -o size=64m tmpfs {shlex.quote(str(work))}")
    env = {"DOCKER_HOST": f"unix://{sockets()}", "KAS_WORK_DIR": str(work)}
    warning = (f"disk: 0 GB free on {work} ({work}), 100 GB recommended -- fix: free space "
               f"on {work} or set KAS_WORK_DIR/KAS_BUILD_DIR to a larger disk")
    for args in (["build", "kas.yml"], ["shell", "kas.yml"], ["checkout", "kas.yml"],
                 ["clean"]):
        r = run(kc, repo, docker_config, *args, wrap=wrap, **env)
        assert r.returncode == 0 and len(r.runs) == 1, r
        if args[0] == "build":
            assert r.warnings() == [warning], r
        else:
            assert r.warnings() == [], r


# ---------------------------------------------------------------------------
# The checks' own state

def test_check_state_is_not_taken_from_the_environment(kc, repo, docker_config, sockets,
                                                       tmp_path):
    """The checks keep their state in variables of their own that the
    caller's environment does not set (ENV-089/090): BINFMT_DIR and
    SUBID_FREE exported by the caller used to stop doctor (`BINFMT_NEEDED:
    parameter not set`, `Illegal number`) or skip the binfmt checks."""
    root = tmp_path / "root"
    for name, text in (("proc/sys/user/max_user_namespaces", "63000\n"),
                       ("proc/sys/fs/binfmt_misc/status", "enabled\n"),
                       ("etc/subuid", ""), ("etc/subgid", "")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    fakes = ("docker", "sudo", "id")
    kc.paths[fakes] = controlled_path(tmp_path / "bin-uid", fakes=fakes,
                                      tools=TOOLS + ("newuidmap", "newgidmap", "unshare"))
    env = {"KAS_CONTAINER_SKIP_PREFLIGHT": None, "KAS_CONTAINER_ENGINE": "docker",
           "DOCKER_CONFIG": docker_config, "DOCKER_HOST": f"unix://{sockets()}",
           "KAS_CONTAINER_TEST_ROOT": str(root), "FAKE_UID": "1000"}
    args = ("doctor", "--isar-rootless", "--format", "json", "kas.yml")

    def checks(**extra):
        r = kc(*args, cwd=repo, fakes=fakes, env={**env, **extra})
        assert r.stderr == "", r
        return [e for e in json.loads(r.stdout) if e["check"] != "disk"]

    clean = checks()
    assert {e["check"] for e in clean} >= {"subuid", "binfmt-handlers"}, clean
    assert checks(BINFMT_DIR="/nonexistent", SUBID_FREE="abc", BINFMT_NEEDED="x",
                  BINFMT_KNOWN="0") == clean
