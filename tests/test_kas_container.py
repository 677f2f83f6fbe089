"""kas-container argument matrix (layer a): the real script against recording
stand-ins for docker/podman/sudo/run0 (KC-160), in real git/hg trees with
real config files.  Every test asserts the exact argv (or exact argument
units and their order) the engine receives, per kas-container.md (KC-nnn)
and environment.md §2.7/§5 (ENV-nnn).

No test needs a real engine: PATH contains only the stand-ins a test asks
for plus symlinks to basic tools (tests/helpers/containerfakes.py).  stdout is a
pipe, so no ``-t -i`` (KC-092) unless a test uses a pseudo terminal.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from helpers.containerfakes import DOCKER_SOCKET, PODMAN_VERSION, controlled_path, read_log
from helpers.repos import make_git_repo, write
from helpers.run import REPO_ROOT
from helpers.terminal import run_on_terminal

SCRIPT = os.path.join(REPO_ROOT, "kas-container")
VERSION = "5.5"
IMAGE_OE = f"localhost/kas/kas:{VERSION}"
IMAGE_ISAR = f"localhost/kas/kas-isar:{VERSION}"
UID, GID = os.getuid(), os.getgid()
KAS_YML = "header:\n  version: 14\n"

ISAR_WARNING = ("The semantic of '--isar' might change in the future. "
                "Please use '--isar-privileged' instead.")
ROOTLESS_WARNING = "Rootless docker used, only limited functionality available."
ROOTLESS_WORK_WARNING = ("On docker rootless a exclusive KAS_WORK_DIR should be used as kas "
                         "temporarily changes the ownership of this directory.")
ROOT_ERROR = ("Running as root - may break certain recipes. Better give a regular user "
              "docker access. Set KAS_ALLOW_ROOT=yes to override.")
ROOTFUL_ISAR_ROOTLESS = [("--security-opt", "seccomp=unconfined"),
                         ("--security-opt", "apparmor=unconfined"),
                         ("--security-opt", "systempaths=unconfined"),
                         ("--cap-add=SYS_ADMIN",)]

APPARMOR_WARNING = ("AppArmor restricts unprivileged userns but no suitable apparmor profile "
                    "found. Consider setting apparmor_restrict_unprivileged_userns=0")


def host_apparmor_state():
    """KC-031 on this host: None (no restriction), "profile" or "warn"."""
    try:
        with open("/etc/os-release") as f:
            ubuntu = 'NAME="Ubuntu"' in f.read().splitlines()
        with open("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") as f:
            restricted = f.read().strip() == "1"
    except OSError:
        return None
    if not (ubuntu and restricted):
        return None
    return "profile" if os.path.exists("/etc/apparmor.d/rootlesskit") else "warn"


APPARMOR = host_apparmor_state()

# docker-run options whose value is the next argument.
VALUE_OPTS = ("-v", "--volume", "-e", "--env", "--security-opt", "--device", "--mount")

pytestmark = pytest.mark.skipif(not os.path.exists(SCRIPT), reason="kas-container missing")


def split_run(argv):
    """Split ``<engine> run`` arguments into option units (tuples, an option
    with its separate value), the image and the kas command line."""
    units = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_OPTS:
            units.append((arg, argv[i + 1]))
            i += 2
        elif arg.startswith("-"):
            units.append((arg,))
            i += 1
        else:
            return units, arg, argv[i + 1:]
    raise AssertionError(f"no image in {argv}")


def git_tree(path, files):
    """A real (uncommitted) git work tree: enough for rev-parse --show-toplevel
    and one git process instead of five.  Returns the canonical path."""
    for name, text in files.items():
        write(os.path.join(str(path), name), text)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return os.path.realpath(str(path))


def generated(repo, work, mode="ro", uid=UID, gid=GID):
    """The always generated leading units of KC-071."""
    return [("-v", f"{repo}:/repo:{mode}"), ("-v", f"{work}:/work:rw"),
            ("-e", "KAS_WORK_DIR=/work"), ("--workdir=/repo",),
            ("-e", f"KAS_CONTAINER_SCRIPT_VERSION={VERSION}"),
            ("-e", f"USER_ID={uid}"), ("-e", f"GROUP_ID={gid}"), ("--rm",), ("--init",)]


class Result:
    def __init__(self, proc_rc, stdout, stderr, records, path):
        self.returncode = proc_rc
        self.stdout = stdout
        self.stderr = stderr
        self.records = records
        self.path = path

    def __repr__(self):
        return (f"Result(rc={self.returncode}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r}, records={self.records!r})")

    @property
    def runs(self):
        return [r for r in self.records
                if r["prog"] in ("docker", "podman") and r["argv"][:1] == ["run"]]

    @property
    def run(self):
        assert self.returncode == 0, self
        assert len(self.runs) == 1, self
        return self.runs[0]

    @property
    def argv(self):
        """Arguments after ``<engine> run``."""
        return self.run["argv"][1:]

    @property
    def engine(self):
        return self.run["prog"]

    @property
    def units(self):
        return split_run(self.argv)[0]

    @property
    def image(self):
        return split_run(self.argv)[1]

    @property
    def kas(self):
        return split_run(self.argv)[2]

    @property
    def env(self):
        """The ``-e NAME=value`` arguments as a dict (each name once)."""
        names = [u[1].split("=", 1)[0] for u in self.units if u[0] == "-e"]
        assert len(names) == len(set(names)), self.units
        return dict(u[1].split("=", 1) for u in self.units if u[0] == "-e")

    def mount(self, target):
        """(source, options) of the -v mount at ``target``, None if absent."""
        found = [u[1].split(":") for u in self.units
                 if u[0] == "-v" and u[1].split(":")[1] == target]
        assert len(found) <= 1, self.units
        if not found:
            return None
        return found[0][0], ":".join(found[0][2:])

    def prefixes(self):
        return [r for r in self.records if r["prog"] in ("sudo", "run0")]

    def _messages(self, kind):
        head = f"kas-container: {kind}: "
        return [line[len(head):] for line in self.stderr.splitlines() if line.startswith(head)]

    def warnings(self):
        return self._messages("Warning")

    def errors(self):
        return self._messages("Error")

    def debug(self):
        return self._messages("Debug")


class KasContainer:
    """Runs the real script with a controlled PATH and environment."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.count = 0
        self.paths = {}
        self.home = tmp_path / "home"
        self.home.mkdir()

    def env(self, path, log, env=None, allow_root=True):
        base = {"PATH": path, "HOME": str(self.home), "FAKE_LOG": log, "SHELL": "/bin/bash",
                "LC_ALL": "C"}
        # The stand-in host legitimately fails the preflight (issue 20): the
        # stand-in docker has no daemon socket, and binfmt_misc and the free
        # disk space are this machine's.  tests/test_kas_container_doctor.py
        # runs these stand-ins with the preflight on.
        base["KAS_CONTAINER_SKIP_PREFLIGHT"] = "1"
        if allow_root:
            base["KAS_ALLOW_ROOT"] = "yes"
        for key, value in (env or {}).items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        return base

    def __call__(self, *args, cwd, fakes=("docker", "sudo"), env=None, allow_root=True,
                 script=SCRIPT, tty=False, wrap=()):
        self.count += 1
        log = str(self.tmp / f"fake{self.count}.log")
        if fakes not in self.paths:     # one PATH directory per set of stand-ins
            bin_dir = self.tmp / f"bin{len(self.paths)}"
            self.paths[fakes] = controlled_path(bin_dir, fakes=fakes)
        path = self.paths[fakes]
        full_env = self.env(path, log, env, allow_root)
        argv = list(wrap) + [script] + [str(a) for a in args]
        if tty:
            rc, output = run_on_terminal(argv, cwd=str(cwd), env=full_env, timeout=30)
            return Result(rc, output, output, read_log(log), path)
        proc = subprocess.run(argv, cwd=str(cwd), env=full_env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr, read_log(log), path)


@pytest.fixture
def kc(tmp_path):
    return KasContainer(tmp_path)


@pytest.fixture
def repo(tmp_path):
    """A real git repository (the project) holding kas.yml."""
    return git_tree(tmp_path / "proj", files={"kas.yml": KAS_YML})


@pytest.fixture
def work(tmp_path):
    """A separate work directory (KAS_WORK_DIR)."""
    d = tmp_path / "work"
    d.mkdir()
    return os.path.realpath(str(d))


def failed(result, message):
    """The script stopped with ``message`` as error, exit 1, no engine run."""
    assert result.returncode == 1, result
    assert message in result.errors(), result
    assert result.runs == [], result


def short_socket():
    """A listening unix socket with a short path (sun_path is 108 bytes)."""
    d = tempfile.mkdtemp(prefix="kc", dir="/tmp")
    path = os.path.join(d, "s")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    return sock, d, path


@pytest.fixture
def unix_socket():
    sock, d, path = short_socket()
    yield os.path.realpath(path)
    sock.close()
    shutil.rmtree(d)


# ---------------------------------------------------------------------------
# KC-003/004/005: help, usage errors, version

def help_text(kc, tmp_path):
    r = kc("--help", cwd=tmp_path, fakes=())
    assert r.returncode == 0, r
    return r.stdout


@pytest.mark.parametrize("opt", ["-h", "--help"])
def test_help_without_engine_creates_no_dirs(kc, tmp_path, opt):
    """KC-003/KC-070: usage on stdout, exit 0, no engine, no directories."""
    build = tmp_path / "newbuild"
    dl = tmp_path / "dl" / "x"
    r = kc(opt, "build", cwd=tmp_path, fakes=(),
           env={"KAS_BUILD_DIR": str(build), "DL_DIR": str(dl)})
    assert r.returncode == 0, r
    words = set(re.findall(r"[\w=-]+", r.stdout))
    for word in ("build", "checkout", "clean", "cleansstate", "cleanall", "purge", "diff",
                 "dump", "for-all-repos", "lock", "menu", "shell", "--isar-privileged",
                 "--isar-rootless", "--runtime-args", "--ssh-dir", "--ssh-agent", "--aws-dir",
                 "--git-credential-store", "--git-credential-socket", "--no-proxy-from-env",
                 "--repo-ro", "--repo-rw", "--kvm", "--log-level",
                 "KAS_CONTAINER_ENGINE=podman"):
        assert word in words, word
    assert not build.exists()
    assert not (tmp_path / "dl").exists()


def test_help_needs_no_engine_at_all(kc, tmp_path):
    """KC-003: with fakes installed, --help does not call any of them."""
    r = kc("--help", cwd=tmp_path, fakes=("docker", "podman", "sudo"))
    assert r.returncode == 0, r
    assert r.records == []


USAGE_ERRORS = [
    [],
    ["foo"],
    ["--bogus", "build"],
    ["--with-loop-dev", "build"],
    ["-d", "build"],
    ["-v", "build"],
    ["--isar-privileged"],
    ["--runtime-args"],
    ["--docker-args"],
    ["--ssh-dir"],
    ["--aws-dir"],
    ["--git-credential-store"],
    ["--git-credential-socket"],
    ["-l"],
    ["--log-level"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "none")
def test_usage_errors(kc, tmp_path, repo, args):
    """KC-004: usage text, exit 1, no engine needed, no directories made."""
    usage = help_text(kc, tmp_path)
    build = tmp_path / "newbuild"
    r = kc(*args, cwd=repo, fakes=(), env={"KAS_BUILD_DIR": str(build)})
    assert r.returncode == 1, r
    assert usage in r.stdout or usage in r.stderr, r
    assert not build.exists()


def test_usage_errors_call_no_engine(kc, repo):
    """A usage error stops before any engine, sudo or podman runs (KC-004)."""
    r = kc("--bogus", "build", "kas.yml", cwd=repo, fakes=("docker", "podman", "sudo"))
    assert r.returncode == 1, r
    assert r.runs == []


def test_with_loop_dev_named_as_removed(kc, repo):
    """KC-004: Project decision: --with-loop-dev also prints an error naming it."""
    r = kc("--with-loop-dev", "build", cwd=repo, fakes=())
    assert r.returncode == 1, r
    assert any("--with-loop-dev" in e for e in r.errors()), r


def test_version(kc, tmp_path):
    """KC-005/KC-070: `kas-container 5.5`, exit 0, no engine, no directories."""
    r = kc("--version", "build", cwd=tmp_path, fakes=("docker", "podman", "sudo"),
           env={"KAS_BUILD_DIR": str(tmp_path / "b"), "SSTATE_DIR": str(tmp_path / "s")})
    assert r.returncode == 0, r
    assert r.stdout == f"kas-container {VERSION}\n"
    assert r.records == []
    assert not (tmp_path / "b").exists() and not (tmp_path / "s").exists()


def test_basename_of_argv0(kc, tmp_path, repo):
    """KC-005/KC-002: the program name is the basename of $0."""
    link = tmp_path / "my-kc"
    os.symlink(SCRIPT, str(link))
    r = kc("--version", cwd=tmp_path, script=str(link))
    assert r.stdout == f"my-kc {VERSION}\n", r
    r = kc("build", "missing.yml", cwd=repo, script=str(link))
    assert r.returncode == 1, r
    assert "my-kc: Error: configuration file 'missing.yml' not found" in r.stderr.splitlines()


# ---------------------------------------------------------------------------
# KC-097: the worked example, literally (uid/gid 1000 by a fake `id`)

def test_worked_example(kc, repo):
    """The documented example: the exact docker run command line of
    `kas-container build kas.yml -- -k` as uid 1000 (KC-097)."""
    r = kc("build", "kas.yml", "--", "-k", cwd=repo, fakes=("docker", "id"),
           allow_root=False)
    assert r.engine == "docker"
    assert r.argv == [
        "-v", f"{repo}:/repo:ro", "-v", f"{repo}:/work:rw", "-e", "KAS_WORK_DIR=/work",
        "--workdir=/repo", "-e", f"KAS_CONTAINER_SCRIPT_VERSION={VERSION}",
        "-e", "USER_ID=1000", "-e", "GROUP_ID=1000", "--rm", "--init",
        "-e", "SHELL=/bin/bash", "--log-driver=none", "--user=root",
        IMAGE_OE, "build", "/repo/kas.yml", "--", "-k"]
    assert r.warnings() == []
    assert r.prefixes() == []


# ---------------------------------------------------------------------------
# The matrix: mode x engine (KC-060..064, KC-071)

MODES = {
    # name: (kas-container options, build_system line in kas.yml, kind)
    "oe": ([], None, "oe"),
    "flag-isar-privileged": (["--isar-privileged"], None, "priv"),
    "flag-isar": (["--isar"], None, "priv"),
    "config-isar": ([], "isar", "priv"),
    "config-isar-privileged": ([], "isar-privileged", "priv"),
    "flag-isar-rootless": (["--isar-rootless"], None, "rootless"),
    "config-isar-rootless": ([], "isar-rootless", "rootless"),
}

MODE_ARGS = {
    ("docker", "oe"): [],
    ("docker", "priv"): [("--privileged",)],
    ("docker", "rootless"): ROOTFUL_ISAR_ROOTLESS,
    ("docker-rootless", "oe"): [("-e", "KAS_DOCKER_ROOTLESS=1")],
    ("docker-rootless", "priv"): [("--privileged",)],
    ("docker-rootless", "rootless"): [("--privileged",), ("-e", "KAS_DOCKER_ROOTLESS=1")],
    ("podman", "oe"): [("--security-opt", "label=disable"), ("--userns=keep-id",)],
    ("podman", "priv"): [("--privileged",), ("--security-opt", "label=disable")],
    ("podman", "rootless"): [("--security-opt", "label=disable"), ("--userns=keep-id",),
                             ("--privileged",)],
}


@pytest.mark.parametrize("engine", ["docker", "docker-rootless", "podman"])
@pytest.mark.parametrize("mode", list(MODES))
def test_mode_engine_matrix(kc, tmp_path, work, engine, mode):
    """Every mode (flag or build_system) with docker, rootless docker and
    podman: the image, the generated options, the mode's and the engine's
    options in their place, sudo for the privileged mode where needed and
    the PATH and DOCKER_HOST the engine gets (KC-060/061/062/063/064/065/071,
    KC-010/010a/010b, KC-026, KC-040)."""
    opts, build_system, kind = MODES[mode]
    text = KAS_YML + (f"build_system: {build_system}\n" if build_system else "")
    repo = git_tree(tmp_path / "proj", files={"kas.yml": text})
    fake_engine = "podman" if engine == "podman" else "docker"
    env = {"KAS_WORK_DIR": work}
    if engine == "docker-rootless":
        env["FAKE_DOCKER_CONTEXT"] = "rootless"
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=(fake_engine, "sudo"), env=env)

    assert r.engine == fake_engine
    units, image, kas = split_run(r.argv)
    assert image == (IMAGE_OE if kind == "oe" else IMAGE_ISAR)
    assert kas == ["build", "/repo/kas.yml"]
    gen = generated(repo, work)
    assert units[:len(gen)] == gen
    rest = units[len(gen):]
    assert rest[0] == ("-e", "SHELL=/bin/bash")
    # KC-071: <mode args> --log-driver=none --user=root <engine/mode specific
    # args> [-e KAS_DOCKER_ROOTLESS=1]; the mode arg is KC-060's --privileged.
    before = [("--privileged",)] if kind == "priv" else []
    assert rest[1:1 + len(before)] == before
    after = rest[1 + len(before):]
    assert after[:2] == [("--log-driver=none",), ("--user=root",)]
    mode_units = after[2:]
    expected = list(MODE_ARGS[(engine, kind)])
    rootless = engine == "docker-rootless" and kind != "priv"
    if rootless and APPARMOR == "profile":  # restricted userns: rootlesskit profile (KC-031)
        expected.append(("--security-opt", "apparmor=rootlesskit"))
    assert sorted(before + mode_units) == sorted(expected)
    if ("-e", "KAS_DOCKER_ROOTLESS=1") in expected:     # KC-071: last before dirs
        assert mode_units[-1] == ("-e", "KAS_DOCKER_ROOTLESS=1")

    sudo_expected = kind == "priv" and engine != "docker"
    if sudo_expected:  # privileged engine through sudo (KC-060, KC-065)
        (sudo,) = r.prefixes()
        assert sudo["prog"] == "sudo"
        assert sudo["argv"] == ["--preserve-env", fake_engine] + r.run["argv"]
        assert r.run["pid"] == sudo["pid"]               # the engine ran via sudo
    else:
        assert r.prefixes() == []
    if engine == "podman" and kind == "priv":
        assert r.run["env"]["PATH"] == r.path + ":/usr/sbin"
    else:
        assert r.run["env"]["PATH"] == r.path
    if engine == "docker-rootless" and kind == "priv":   # system docker (ENV-093)
        assert r.run["env"]["DOCKER_HOST"] == DOCKER_SOCKET
    else:
        assert r.run["env"]["DOCKER_HOST"] is None

    warnings = []
    if opts == ["--isar"]:
        warnings.append(ISAR_WARNING)
    if rootless:
        warnings.append(ROOTLESS_WARNING)
        if APPARMOR == "warn":
            warnings.append(APPARMOR_WARNING)
    assert sorted(r.warnings()) == sorted(warnings)


def test_rootless_docker_keeps_existing_docker_host(kc, repo, work):
    """KC-060/ENV-093: a set DOCKER_HOST is kept for the system docker."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless",
                "DOCKER_HOST": "tcp://build-host:2375"})
    assert r.run["env"]["DOCKER_HOST"] == "tcp://build-host:2375"
    assert r.prefixes()[0]["argv"][:2] == ["--preserve-env", "docker"]
    assert not any(rec["argv"][:2] == ["context", "inspect"] for rec in r.records)


def test_rootless_docker_debug_note(kc, repo, work):
    """KC-060: debug note naming the system docker endpoint."""
    r = kc("-l", "debug", "--isar-privileged", "build", "kas.yml", cwd=repo,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    assert r.returncode == 0, r
    assert ("kas-isar does not support rootless docker. Using system docker in "
            f"{DOCKER_SOCKET}") in r.debug()


def test_rootless_docker_work_equals_repo_warning(kc, repo):
    """KC-064: exclusive work dir warning when <WORK> = <REPO>."""
    r = kc("build", "kas.yml", cwd=repo, env={"FAKE_DOCKER_CONTEXT": "rootless"})
    assert r.returncode == 0, r
    expected = [ROOTLESS_WARNING, ROOTLESS_WORK_WARNING]
    if APPARMOR == "warn":
        expected.append(APPARMOR_WARNING)
    assert sorted(r.warnings()) == sorted(expected)


def ubuntu_apparmor_wrapper(tmp_path, profile):
    """Run the script in a mount namespace that looks like an Ubuntu host
    restricting unprivileged user namespaces, with or without the
    rootlesskit AppArmor profile (KC-031)."""
    os_release = write(tmp_path / "os-release", 'NAME="Ubuntu"\nVERSION_ID="24.04"\n')
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    setup = (f"{mount} --bind {os_release} /etc/os-release && "
             f"{mount} -t tmpfs tmpfs /proc/sys/kernel && "
             "echo 1 > /proc/sys/kernel/apparmor_restrict_unprivileged_userns && "
             f"mkdir -p /etc/apparmor.d && {mount} -t tmpfs tmpfs /etc/apparmor.d")
    if profile:
        setup += " && echo 'profile rootlesskit {}' > /etc/apparmor.d/rootlesskit"
    probe = subprocess.run([unshare or "unshare", "-m", "/bin/sh", "-c", setup],
                           capture_output=True, check=False) if unshare and mount else None
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot fake an Ubuntu host (needs unshare -m as root)")
    return (unshare, "-m", "/bin/sh", "-c", setup + ' && exec "$@"', "sh")


@pytest.mark.root
@pytest.mark.parametrize("profile", [True, False])
def test_ubuntu_apparmor(kc, repo, work, tmp_path, profile):
    """Rootless docker on Ubuntu with the AppArmor user namespace
    restriction: the rootlesskit profile is used when it exists, else a
    warning says what to do (KC-031)."""
    wrap = ubuntu_apparmor_wrapper(tmp_path, profile)
    r = kc("build", "kas.yml", cwd=repo, wrap=wrap,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    assert r.returncode == 0, r
    if profile:
        assert ("--security-opt", "apparmor=rootlesskit") in r.units
        assert APPARMOR_WARNING not in r.warnings()
    else:
        assert ("--security-opt", "apparmor=rootlesskit") not in r.units
        assert APPARMOR_WARNING in r.warnings()


def test_no_apparmor_handling_for_rootful_docker(kc, repo):
    """Rootful docker gets no AppArmor option and no warning (KC-031)."""
    r = kc("build", "kas.yml", cwd=repo)
    assert ("--security-opt", "apparmor=rootlesskit") not in r.units
    assert r.warnings() == []


def test_rootless_docker_rejects_repo_rw(kc, repo, work):
    """Rootless docker refuses --repo-rw: the repository is mounted
    read-only there (KC-064)."""
    r = kc("--repo-rw", "build", "kas.yml", cwd=repo,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    failed(r, "Docker rootless requires read-only repo.")


@pytest.mark.parametrize("command", ["shell", "lock"])
def test_rootless_docker_defaults_to_read_only(kc, repo, work, command):
    """With rootless docker, shell and lock mount the repository read-only
    too (KC-022, KC-064)."""
    r = kc(command, "kas.yml", cwd=repo,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    assert r.mount("/repo") == (repo, "ro")


def test_rootless_off_for_system_docker_allows_repo_rw(kc, repo, work):
    """KC-060, KC-064: rootless handling is switched off for isar-privileged."""
    r = kc("--isar-privileged", "--repo-rw", "build", "kas.yml", cwd=repo,
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    assert r.mount("/repo") == (repo, "rw")
    assert "KAS_DOCKER_ROOTLESS" not in r.env


# ---------------------------------------------------------------------------
# KC-010c, KC-026, KC-027: build-system detection

def mode_of(result):
    """(image, mode units) of a rootful-docker run without forwarded dirs or
    variables: the units after the generated ones and SHELL, except
    --log-driver=none --user=root (placement is tested by the matrix)."""
    units = result.units
    assert units[:len(generated(None, None))][-2:] == [("--rm",), ("--init",)]
    rest = units[len(generated(None, None)):]
    assert rest[0] == ("-e", "SHELL=/bin/bash")
    return result.image, sorted(u for u in rest[1:]
                                if u not in (("--log-driver=none",), ("--user=root",)))


@pytest.mark.parametrize("opts, expected", [
    (["--isar-rootless", "--isar-privileged"], "priv"),
    (["--isar-privileged", "--isar-rootless"], "rootless"),
    (["--isar", "--isar-rootless"], "rootless"),
    (["--isar-rootless", "--isar"], "priv"),
])
def test_last_mode_flag_wins(kc, repo, opts, expected):
    """Of several mode flags the last one wins; --isar warns whenever it is
    given (KC-010c)."""
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=("docker",))
    image, mode = mode_of(r)
    assert image == IMAGE_ISAR
    assert mode == sorted(MODE_ARGS[("docker", expected)])
    # project decision: --isar warns whenever it is given (KC-010a)
    assert r.warnings() == ([ISAR_WARNING] if "--isar" in opts else [])


@pytest.mark.parametrize("flag, config, expected", [
    ("--isar-privileged", "isar-rootless", "priv"),
    ("--isar-rootless", "isar", "rootless"),
])
def test_flag_beats_config(kc, tmp_path, flag, config, expected):
    """A mode flag beats the build_system of the config (KC-010c)."""
    repo = git_tree(tmp_path / "p", files={"kas.yml": f"build_system: {config}\n"})
    r = kc(flag, "build", "kas.yml", cwd=repo, fakes=("docker",))
    image, mode = mode_of(r)
    assert image == IMAGE_ISAR
    assert mode == sorted(MODE_ARGS[("docker", expected)])


@pytest.mark.parametrize("first, second, isar", [
    ("header:\n  version: 14\n", "build_system: isar\n", False),
    ("build_system: isar\n", "header:\n  version: 14\n", True),
    ("header:\n  version: 14\n# build_system: isar\n", "", False),
    ("header:\n  version: 14\n  build_system: isar\n", "", False),
    ("header:\n  version: 14\nbuild_system: isar-rootless\nbuild_system: isar\n", "",
     "rootless"),
])
def test_detection_first_file_column_zero(kc, tmp_path, first, second, isar):
    """KC-026 step 3: the first matching line at column 0 of the first file
    of the first config argument only."""
    repo = git_tree(tmp_path / "p", files={"a.yml": first, "b.yml": second or "x: 1\n"})
    r = kc("build", "a.yml:b.yml", cwd=repo, fakes=("docker",))
    image, mode = mode_of(r)
    if isar == "rootless":
        assert (image, sorted(mode)) == (IMAGE_ISAR, sorted(ROOTFUL_ISAR_ROOTLESS))
    elif isar:
        assert (image, mode) == (IMAGE_ISAR, [("--privileged",)])
    else:
        assert (image, mode) == (IMAGE_OE, [])


def test_first_config_argument_only(kc, tmp_path):
    """Only the first config file decides the build system and image
    (KC-026)."""
    repo = git_tree(tmp_path / "p", files={"a.yml": KAS_YML,
                                                 "b.yml": "build_system: isar\n"})
    r = kc("diff", "a.yml", "b.yml", cwd=repo, fakes=("docker",))
    assert r.image == IMAGE_OE


def test_config_yaml_used_without_config(kc, repo):
    """KC-026: <WORK>/.config.yaml when no config argument is given."""
    write(os.path.join(repo, ".config.yaml"), "build_system: isar\n")
    r = kc("build", cwd=repo, fakes=("docker",))
    assert mode_of(r) == (IMAGE_ISAR, [("--privileged",)])
    assert r.kas == ["build"]


def test_config_yaml_ignored_with_config(kc, repo):
    """With a config file on the command line, .config.yaml is not read for
    the build system (KC-026)."""
    write(os.path.join(repo, ".config.yaml"), "build_system: isar\n")
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert mode_of(r) == (IMAGE_OE, [])


KCONFIG_ISAR = """\
mainmenu "Test"

config KAS_BUILD_SYSTEM
	string
	default "isar-rootless"
"""


def test_menu_default_kconfig(kc, tmp_path):
    """kas menu without arguments reads the build system from ./Kconfig
    (KC-026)."""
    repo = git_tree(tmp_path / "p", files={"Kconfig": KCONFIG_ISAR})
    r = kc("menu", cwd=repo, fakes=("docker",))
    image, mode = mode_of(r)
    assert (image, sorted(mode)) == (IMAGE_ISAR, sorted(ROOTFUL_ISAR_ROOTLESS))
    assert r.kas == ["menu"]


def test_menu_named_kconfig_inspected(kc, tmp_path):
    """KC-026: Project decision: a named Kconfig file IS inspected."""
    repo = git_tree(tmp_path / "p", files={
        "Kconfig": "config OTHER\n\tbool \"x\"\n", "sub/Kconfig.isar": KCONFIG_ISAR})
    r = kc("menu", "sub/Kconfig.isar", cwd=repo, fakes=("docker",))
    image, mode = mode_of(r)
    assert (image, sorted(mode)) == (IMAGE_ISAR, sorted(ROOTFUL_ISAR_ROOTLESS))
    assert r.kas == ["menu", "/repo/sub/Kconfig.isar"]


def test_menu_kconfig_without_build_system_is_oe(kc, tmp_path):
    """A Kconfig without a build_system default means openembedded (KC-026)."""
    repo = git_tree(tmp_path / "p", files={"Kconfig": "config FOO\n\tbool \"x\"\n"})
    r = kc("menu", cwd=repo, fakes=("docker",))
    assert mode_of(r) == (IMAGE_OE, [])


def test_menu_single_kconfig_only(kc, tmp_path):
    """kas menu takes one Kconfig file only; two are refused before the
    engine runs (KC-026)."""
    repo = git_tree(tmp_path / "p", files={"Kconfig": KCONFIG_ISAR,
                                                 "K2": KCONFIG_ISAR})
    r = kc("menu", "Kconfig", "K2", cwd=repo, fakes=("docker",))
    failed(r, "menu plugin only supports a single Kconfig file")


def test_menu_repo_dir_host(kc, repo, work):
    """ENV-094/KC-071: -e _KAS_REPO_DIR_HOST=<REPO> first when REPO != WORK."""
    write(os.path.join(repo, "Kconfig"), "config FOO\n\tbool \"x\"\n")
    r = kc("menu", cwd=repo, fakes=("docker",), env={"KAS_WORK_DIR": work})
    assert r.units[:1] == [("-e", f"_KAS_REPO_DIR_HOST={repo}")]
    assert r.units[1:1 + len(generated(repo, work))] == generated(repo, work)


def test_menu_no_repo_dir_host_when_work_is_repo(kc, repo):
    """When the work dir is the repository, kas menu gets no
    _KAS_REPO_DIR_HOST and no second mount (ENV-094)."""
    write(os.path.join(repo, "Kconfig"), "config FOO\n\tbool \"x\"\n")
    r = kc("menu", cwd=repo, fakes=("docker",))
    assert "_KAS_REPO_DIR_HOST" not in r.env
    assert r.units[:len(generated(repo, repo))] == generated(repo, repo)


@pytest.mark.parametrize("opts, command, expected_kas", [
    (["--isar", "--isar-rootless"], "clean", ["clean", "--isar-rootless"]),
    (["--isar-privileged"], "cleansstate", ["cleansstate", "--isar-privileged"]),
    (["--isar-rootless"], "cleanall", ["cleanall", "--isar-rootless"]),
    (["--isar-privileged"], "purge", ["purge", "--isar-privileged"]),
    ([], "clean", ["clean"]),
    (["--isar"], "clean", ["clean", "--isar-privileged"]),
    (["--isar"], "cleansstate", ["cleansstate", "--isar-privileged"]),
    (["--isar"], "cleanall", ["cleanall", "--isar-privileged"]),
    (["--isar"], "purge", ["purge", "--isar-privileged"]),
    (["--isar-rootless", "--isar"], "clean", ["clean", "--isar-privileged"]),
])
def test_clean_commands_get_build_system(kc, tmp_path, opts, command, expected_kas):
    """KC-027 (ERRATA, issue 16.9): the deprecated --isar flag means
    isar-privileged and is forwarded as --isar-privileged."""
    work = tmp_path / "w"
    work.mkdir()
    r = kc(*opts, command, cwd=work, fakes=("docker",))
    assert r.kas == expected_kas


def test_clean_from_config_yaml(kc, tmp_path):
    """clean without a config takes the build system from .config.yaml and
    passes it as the mode option (KC-027)."""
    work = tmp_path / "w"
    write(work / ".config.yaml", "build_system: isar\n")
    r = kc("clean", cwd=work, fakes=("docker",))
    assert r.kas == ["clean", "--isar"]
    assert r.image == IMAGE_ISAR


@pytest.mark.parametrize("local_conf, expected_kas, image", [
    ('ISAR_ROOTLESS ?= "1"\n', ["clean", "--isar-rootless"], IMAGE_ISAR),
    ("ISAR_ROOTLESS = 'Yes'\n", ["clean", "--isar-rootless"], IMAGE_ISAR),
    ('ISAR_ROOTLESS ??= "1"\nISAR_ROOTLESS = "0"\n', ["clean"], IMAGE_OE),
    ('ISAR_ROOTLESS ?= "0"\nISAR_ROOTLESS ?= "1"\n', ["clean"], IMAGE_OE),
    ('ISAR_ROOTLESSNESS = "1"\n', ["clean"], IMAGE_OE),
    ('MACHINE = "qemuamd64"\n', ["clean"], IMAGE_OE),
])
def test_clean_of_a_rootless_build_dir(kc, tmp_path, local_conf, expected_kas, image):
    """issue 25.3: clean without flag or config in a build dir whose
    local.conf sets ISAR_ROOTLESS (picked as bitbake picks it) runs the
    kas-isar image in isar-rootless mode, as kas itself would clean it."""
    work = tmp_path / "w"
    write(work / "build" / "conf" / "local.conf", local_conf)
    r = kc("clean", cwd=work, fakes=("docker",))
    assert r.kas == expected_kas
    assert r.image == image


def test_clean_of_a_rootless_build_dir_elsewhere(kc, tmp_path):
    """The build dir is KAS_BUILD_DIR's when set; a config's build_system
    beats the build dir."""
    work = tmp_path / "w"
    build = tmp_path / "b"
    write(build / "conf" / "local.conf", 'ISAR_ROOTLESS ?= "1"\n')
    write(work / "build" / "conf" / "local.conf", 'ISAR_ROOTLESS ?= "1"\n')
    r = kc("cleanall", cwd=work, env={"KAS_BUILD_DIR": str(build)}, fakes=("docker",))
    assert r.kas == ["cleanall", "--isar-rootless"]
    write(work / ".config.yaml", "build_system: isar-privileged\n")
    r = kc("clean", cwd=work, fakes=("docker",))
    assert r.kas == ["clean", "--isar-privileged"]


def test_clean_with_config_file(kc, tmp_path):
    """clean with a config file passes its build system as the mode option
    (KC-027)."""
    repo = git_tree(tmp_path / "p", files={"kas.yml": "build_system: isar-rootless\n"})
    r = kc("cleansstate", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["cleansstate", "--isar-rootless", "/repo/kas.yml"]


def test_not_for_build(kc, repo):
    """build gets no mode option on its command line (KC-027)."""
    r = kc("--isar-rootless", "build", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["build", "/repo/kas.yml"]


# ---------------------------------------------------------------------------
# KC-030: engine selection

@pytest.mark.parametrize("fakes, env, opts, expected", [
    (("docker", "podman"), {}, [], "docker"),
    (("docker", "podman"), {"KAS_CONTAINER_ENGINE": "podman"}, [], "podman"),
    (("docker", "podman"), {"KAS_DOCKER_ENGINE": "podman"}, [], "podman"),
    (("docker", "podman"), {"KAS_CONTAINER_ENGINE": "docker", "KAS_DOCKER_ENGINE": "podman"},
     [], "docker"),
    (("docker", "podman"), {"KAS_CONTAINER_ENGINE": "docker"}, ["--isar-rootless"], "docker"),
    (("docker", "podman"), {}, ["--isar-rootless"], "podman"),
    (("docker",), {}, ["--isar-rootless"], "docker"),
    (("podman",), {}, [], "podman"),
    (("docker", "podman"), {"FAKE_DOCKER_VERSION": PODMAN_VERSION}, [], "podman"),
])
def test_engine_selection(kc, repo, fakes, env, opts, expected):
    """The engine: docker before podman, KAS_CONTAINER_ENGINE over
    KAS_DOCKER_ENGINE, podman first for isar-rootless, and a docker that is
    podman's shim counts as podman (KC-030)."""
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=fakes, env=env)
    assert r.engine == expected
    assert [rec["prog"] for rec in r.runs] == [expected]


def test_isar_rootless_from_config_prefers_podman(kc, tmp_path):
    """build_system: isar-rootless in the config prefers podman too
    (KC-030)."""
    repo = git_tree(tmp_path / "p", files={"kas.yml": "build_system: isar-rootless\n"})
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "podman"))
    assert r.engine == "podman"


@pytest.mark.parametrize("var", ["KAS_CONTAINER_ENGINE", "KAS_DOCKER_ENGINE"])
def test_unknown_engine(kc, repo, var):
    """An unknown engine name is refused (KC-030)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "podman"), env={var: "lxc"})
    failed(r, "unknown container engine 'lxc'")


@pytest.mark.parametrize("fakes, env", [
    ((), {}),
    (("sudo",), {}),
    (("docker",), {"FAKE_DOCKER_VERSION": PODMAN_VERSION}),
])
def test_no_engine_found(kc, repo, fakes, env):
    """No docker or podman (or only podman's docker shim without podman) is
    an error (KC-030)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=fakes, env=env)
    failed(r, "no container engine found, need docker or podman")


# ---------------------------------------------------------------------------
# KC-033: root

def test_root_refused_by_uid(kc, repo):
    """KC-033: A fake `id` reporting uid 0; KAS_ALLOW_ROOT unset or not `yes`."""
    for env in ({"FAKE_UID": "0", "FAKE_GID": "0"},
                {"FAKE_UID": "0", "FAKE_GID": "0", "KAS_ALLOW_ROOT": "1"}):
        r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "id"), env=env,
               allow_root=False)
        failed(r, ROOT_ERROR)


def test_root_allowed_with_yes(kc, repo):
    """As root with KAS_ALLOW_ROOT=yes, the run goes on with uid 0 (KC-033)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "id"),
           env={"FAKE_UID": "0", "FAKE_GID": "0", "KAS_ALLOW_ROOT": "yes"}, allow_root=False)
    assert ("-e", "USER_ID=0") in r.units


@pytest.mark.root
@pytest.mark.skipif(os.getuid() != 0, reason="needs to run as root")
def test_real_root_refused(kc, repo):
    """As root without KAS_ALLOW_ROOT=yes, kas-container refuses to run
    (KC-033)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), allow_root=False)
    failed(r, ROOT_ERROR)


# ---------------------------------------------------------------------------
# KC-040: image

@pytest.mark.parametrize("opts, env, expected", [
    ([], {"KAS_CONTAINER_IMAGE": "reg.example/x/y:7"}, "reg.example/x/y:7"),
    (["--isar-privileged"], {"KAS_CONTAINER_IMAGE": "reg.example/x/y:7",
                             "KAS_IMAGE_VERSION": "9"}, "reg.example/x/y:7"),
    ([], {"KAS_CONTAINER_IMAGE_PATH": "ghcr.io/siemens/kas", "KAS_IMAGE_VERSION": "5.1",
          "KAS_CONTAINER_IMAGE_DISTRO": "debian-bookworm"},
     "ghcr.io/siemens/kas/kas:5.1-debian-bookworm"),
    (["--isar-rootless"], {"KAS_CONTAINER_IMAGE_DISTRO": "debian-trixie"},
     "localhost/kas/kas-isar:5.5-debian-trixie"),
    ([], {"KAS_CONTAINER_IMAGE_NAME": "custom"}, "localhost/kas/custom:5.5"),
    (["--isar-privileged"], {"KAS_CONTAINER_IMAGE_NAME": "custom"}, "localhost/kas/custom:5.5"),
    ([], {"KAS_CONTAINER_IMAGE_DISTRO": ""}, IMAGE_OE),
])
def test_image(kc, repo, opts, env, expected):
    """The image name from KAS_CONTAINER_IMAGE, or from the path, name,
    version and distro variables (KC-040)."""
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=("docker",), env=env)
    assert r.image == expected


# ---------------------------------------------------------------------------
# KC-065: privileged executor (podman, isar-privileged)

def test_sudo(kc, repo):
    """--isar-privileged with podman runs podman through sudo --preserve-env
    (KC-065)."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("podman", "sudo", "run0"),
           env={"KAS_SUDO_CMD": "sudo"})
    (sudo,) = r.prefixes()
    assert (sudo["prog"], sudo["argv"]) == ("sudo", ["--preserve-env", "podman"] + r.run["argv"])


@pytest.mark.parametrize("env", [{"KAS_SUDO_CMD": "run0"}, {}], ids=["explicit", "fallback"])
def test_run0(kc, repo, env):
    """KAS_SUDO_CMD=run0, or run0 when sudo is missing, runs the engine as a
    run0 unit of its own (KC-065)."""
    fakes = ("podman", "run0", "sudo") if env else ("podman", "run0")
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=fakes, env=env)
    (run0,) = r.prefixes()
    assert run0["prog"] == "run0"
    assert run0["argv"][0] == "--background="
    assert re.fullmatch(r"--unit=kas-container@[0-9]+", run0["argv"][1]), run0
    assert run0["argv"][2:] == ["podman"] + r.run["argv"]


def test_run0_unit_names_script_pid(kc, repo):
    """KC-065: the unit is kas-container@<pid of the script>."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("podman", "run0"),
           env={"KAS_SUDO_CMD": "run0"}, wrap=("sh", "-c", 'echo $$ > pid; exec "$@"', "sh"))
    with open(os.path.join(repo, "pid")) as f:
        pid = f.read().strip()
    assert r.prefixes()[0]["argv"][1] == f"--unit=kas-container@{pid}"


def test_no_executor(kc, repo):
    """--isar-privileged with podman and neither sudo nor run0 is an error
    (KC-065)."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("podman",))
    failed(r, "No privileged executor found, need sudo or run0.")


def test_unsupported_executor(kc, repo):
    """A KAS_SUDO_CMD other than sudo or run0 is refused (KC-065)."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("podman", "sudo"),
           env={"KAS_SUDO_CMD": "doas"})
    failed(r, "Unsupported KAS_SUDO_CMD ('doas'), use sudo or run0.")


@pytest.mark.parametrize("opts", [[], ["--isar-rootless"]])
def test_no_executor_needed_without_privileged_mode(kc, repo, opts):
    """Without a privileged mode KAS_SUDO_CMD is not looked at and nothing
    runs through sudo (KC-065)."""
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=("podman", "sudo"),
           env={"KAS_SUDO_CMD": "doas"})
    assert r.engine == "podman"
    assert r.prefixes() == []


def test_rootless_docker_uses_run0(kc, repo, work):
    """Rootless docker with --isar-privileged uses the system docker through
    run0 (KC-065)."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("docker", "run0"),
           env={"KAS_WORK_DIR": work, "FAKE_DOCKER_CONTEXT": "rootless"})
    (run0,) = r.prefixes()
    assert run0["argv"][2:] == ["docker"] + r.run["argv"]
    assert r.run["env"]["DOCKER_HOST"] == DOCKER_SOCKET


# ---------------------------------------------------------------------------
# KC-011, KC-012: log level and runtime args

def test_log_level_before_command(kc, repo):
    """--log-level goes to kas before its command; only debug traces the
    engine command (KC-011)."""
    r = kc("--log-level", "info", "build", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["-l", "info", "build", "/repo/kas.yml"]
    assert not any(line.startswith("+ ") for line in r.stderr.splitlines())
    assert r.debug() == []


def test_debug_trace(kc, repo):
    """KC-011: `-l debug` prints one `+ <engine command line>` line."""
    r = kc("-l", "debug", "build", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["-l", "debug", "build", "/repo/kas.yml"]
    traces = [line for line in r.stderr.splitlines() if line.startswith("+ ")]
    assert len(traces) == 1, r.stderr
    assert shlex.split(traces[0][2:]) == ["docker"] + r.run["argv"]


def test_debug_trace_quotes_special_words(kc, tmp_path, work):
    """KC-011: the trace is the command line: words with spaces and quotes
    survive shell word splitting unchanged."""
    repo = git_tree(tmp_path / "my proj", files={"kas.yml": KAS_YML})
    r = kc("-l", "debug", "shell", "kas.yml", "-c", "echo 'a  b' \"$HOME\" \\x", cwd=repo,
           fakes=("docker",), env={"KAS_WORK_DIR": work})
    traces = [line for line in r.stderr.splitlines() if line.startswith("+ ")]
    assert len(traces) == 1, r.stderr
    assert shlex.split(traces[0][2:]) == ["docker"] + r.run["argv"]


def test_debug_trace_includes_executor(kc, repo):
    """The debug trace shows the whole command, the privileged executor
    included (KC-011)."""
    r = kc("-l", "debug", "--isar-privileged", "build", "kas.yml", cwd=repo,
           fakes=("podman", "sudo"))
    traces = [line for line in r.stderr.splitlines() if line.startswith("+ ")]
    assert len(traces) == 1, r.stderr
    assert shlex.split(traces[0][2:]) == ["sudo", "--preserve-env", "podman"] + r.run["argv"]


def test_arguments_with_quotes_and_specials_unchanged(kc, tmp_path, work):
    """KC-021/KC-023/KC-012: no argument is re-split, globbed or unquoted."""
    repo = git_tree(tmp_path / "dir with 'quote' & $x", files={"conf/my kas.yml": KAS_YML})
    value = "bitbake -e 'a b' \"c\" $HOME `id` * \\n"
    r = kc("--runtime-args", "-e X=*", "shell", "--target", "it's", "-c", value,
           "conf/my kas.yml", "--", "it's", "*", "", cwd=repo, fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.mount("/repo") == (repo, "rw")
    assert r.units[-1] == ("-e", "X=*")
    assert r.kas == ["shell", "--target", "it's", "-c", value, "/repo/conf/my kas.yml",
                     "--", "it's", "*", ""]


@pytest.mark.parametrize("value", ["a\nb\n", "it's\n", "'\n\n"])
def test_trailing_newlines_kept(kc, repo, value):
    """KC-021: -c values and `--` extras are passed unchanged, even with a
    quote and trailing newlines."""
    r = kc("shell", "-c", value, "kas.yml", "--", value, cwd=repo, fakes=("docker",))
    assert r.kas == ["shell", "-c", value, "/repo/kas.yml", "--", value]


def test_runtime_args_before_image(kc, repo, work, tmp_path):
    """--runtime-args and --docker-args come last before the image, after
    the generated options (KC-012)."""
    dl = tmp_path / "dl"
    r = kc("--runtime-args", "--network=host -e FOO=1", "--docker-args", "--cpus=2",
           "build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"KAS_WORK_DIR": work, "DL_DIR": str(dl)})
    units = r.units
    assert units[-3:] == [("--network=host",), ("-e", "FOO=1"), ("--cpus=2",)]
    assert units[-5:-3] == [("-v", f"{dl}:/downloads:rw"), ("-e", "DL_DIR=/downloads")]
    assert r.image == IMAGE_OE


def test_inherited_runtime_args_ignored(kc, repo):
    """A KAS_RUNTIME_ARGS inherited from the environment is ignored
    (ENV-089)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"KAS_RUNTIME_ARGS": "--bogus-inherited"})
    assert ("--bogus-inherited",) not in r.units


def test_inherited_docker_rootless_ignored(kc, repo):
    """A KAS_DOCKER_ROOTLESS inherited from the environment is ignored
    (ENV-090)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_DOCKER_ROOTLESS": "1"})
    assert "KAS_DOCKER_ROOTLESS" not in r.env
    assert r.warnings() == []


# ---------------------------------------------------------------------------
# KC-013..019a: options

def pre_mode(result):
    """The units between the generated ones and --log-driver=none (KC-085..097)."""
    units = result.units
    return units[units.index(("--init",)) + 1:units.index(("--log-driver=none",))]


@pytest.mark.parametrize("how", ["option", "env"])
def test_ssh_dir(kc, repo, tmp_path, how):
    """--ssh-dir or KAS_SSH_DIR mounts the directory (its symlink resolved)
    read-only as the user's .ssh (KC-013)."""
    ssh = tmp_path / "ssh"
    ssh.mkdir()
    link = tmp_path / "ssh-link"
    os.symlink(str(ssh), str(link))
    if how == "option":
        r = kc("--ssh-dir", str(link), "build", "kas.yml", cwd=repo, fakes=("docker",))
    else:
        r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_SSH_DIR": str(link)})
    assert ("-v", f"{ssh}:/var/kas/userdata/.ssh:ro") in pre_mode(r)


def test_ssh_dir_not_a_directory(kc, repo, tmp_path):
    """An SSH directory that does not exist is an error (KC-013)."""
    missing = str(tmp_path / "nossh")
    r = kc("--ssh-dir", missing, "build", "kas.yml", cwd=repo, fakes=("docker",))
    failed(r, f'Variable KAS_SSH_DIR set, but "{missing}" is not a directory.')


def test_ssh_agent(kc, repo, tmp_path, unix_socket):
    """--ssh-agent mounts the agent socket (its symlink resolved) and points
    SSH_AUTH_SOCK at it (KC-014)."""
    link = tmp_path / "agent-link"
    os.symlink(unix_socket, str(link))
    r = kc("--ssh-agent", "build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"SSH_AUTH_SOCK": str(link)})
    src, _ = r.mount("/ssh-agent/ssh-auth-sock")
    assert src == unix_socket
    assert r.env["SSH_AUTH_SOCK"] == "/ssh-agent/ssh-auth-sock"
    assert all(u in pre_mode(r) for u in r.units if u[0] in ("-v", "-e")
               and "ssh-auth-sock" in u[1])


def test_agent_not_forwarded_without_option(kc, repo, unix_socket):
    """Without --ssh-agent the agent is not forwarded (KC-014)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"SSH_AUTH_SOCK": unix_socket})
    assert r.mount("/ssh-agent/ssh-auth-sock") is None
    assert "SSH_AUTH_SOCK" not in r.env


def test_no_agent(kc, repo):
    """--ssh-agent without SSH_AUTH_SOCK is an error (KC-014)."""
    r = kc("--ssh-agent", "build", "kas.yml", cwd=repo, fakes=("docker",))
    failed(r, "no SSH agent running")


def test_agent_not_a_socket(kc, repo, tmp_path):
    """--ssh-agent with an SSH_AUTH_SOCK that is no socket is an error
    (KC-014)."""
    fake = os.path.realpath(write(tmp_path / "notsock", "x\n"))
    r = kc("--ssh-agent", "build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"SSH_AUTH_SOCK": fake})
    failed(r, f"passed SSH_AUTH_SOCK '{fake}' is not a socket")


@pytest.mark.parametrize("how", ["option", "env"])
def test_aws_dir(kc, repo, tmp_path, how):
    """--aws-dir or KAS_AWS_DIR mounts the directory read-only and points
    the AWS file variables into it (KC-015)."""
    aws = os.path.realpath(str(tmp_path))
    aws = os.path.join(aws, "aws")
    os.mkdir(aws)
    if how == "option":
        r = kc("--aws-dir", aws, "build", "kas.yml", cwd=repo, fakes=("docker",))
    else:
        r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_AWS_DIR": aws})
    assert ("-v", f"{aws}:/var/kas/userdata/.aws:ro") in pre_mode(r)
    assert r.env["AWS_CONFIG_FILE"] == "/var/kas/userdata/.aws/config"
    assert r.env["AWS_SHARED_CREDENTIALS_FILE"] == "/var/kas/userdata/.aws/credentials"


def test_aws_dir_keeps_host_file_variables(kc, repo, tmp_path):
    """AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE given by the caller
    are kept (KC-015)."""
    aws = tmp_path / "aws"
    aws.mkdir()
    r = kc("--aws-dir", str(aws), "build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"AWS_CONFIG_FILE": "/x/config", "AWS_SHARED_CREDENTIALS_FILE": "/x/creds"})
    assert r.env["AWS_CONFIG_FILE"] == "/x/config"
    assert r.env["AWS_SHARED_CREDENTIALS_FILE"] == "/x/creds"


def test_aws_dir_not_a_directory(kc, repo, tmp_path):
    """An AWS directory that does not exist stops kas-container before the
    engine (KC-015)."""
    missing = str(tmp_path / "noaws")
    r = kc("--aws-dir", missing, "build", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.returncode == 1, r
    assert r.runs == []


def test_aws_web_identity_token(kc, repo, tmp_path):
    """AWS_WEB_IDENTITY_TOKEN_FILE is mounted read-only and renamed;
    AWS_ROLE_ARN is passed (KC-090)."""
    token = os.path.realpath(write(tmp_path / "token", "tok\n"))
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": "arn:aws:iam::1:role/x"})
    assert ("-v", f"{token}:/var/kas/userdata/.aws/web_identity_token:ro") in pre_mode(r)
    assert r.env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/var/kas/userdata/.aws/web_identity_token"
    assert r.env["AWS_ROLE_ARN"] == "arn:aws:iam::1:role/x"


def test_aws_web_identity_token_not_a_file(kc, repo, tmp_path):
    """An AWS_WEB_IDENTITY_TOKEN_FILE that is no file stops kas-container
    before the engine (KC-090)."""
    missing = str(tmp_path / "notoken")
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"AWS_WEB_IDENTITY_TOKEN_FILE": missing})
    assert r.returncode == 1, r
    assert f"Passed AWS_WEB_IDENTITY_TOKEN_FILE '{missing}' is not a file" in r.stdout, r
    assert r.runs == []


@pytest.mark.parametrize("how", ["option", "env"])
def test_git_credential_store(kc, repo, tmp_path, how):
    """--git-credential-store or KAS_GIT_CREDENTIAL_STORE mounts the store
    read-only and sets the store credential helper (KC-016)."""
    store = os.path.realpath(write(tmp_path / "creds", "https://u:p@example.com\n"))
    if how == "option":
        r = kc("--git-credential-store", store, "build", "kas.yml", cwd=repo,
               fakes=("docker",))
    else:
        r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
               env={"KAS_GIT_CREDENTIAL_STORE": store})
    assert ("-v", f"{store}:/var/kas/userdata/.git-credentials:ro") in pre_mode(r)
    assert ("-e", "GIT_CREDENTIAL_HELPER=store --file=/var/kas/userdata/.git-credentials") \
        in pre_mode(r)


def test_git_credential_store_not_a_file(kc, repo, tmp_path):
    """A credential store that is no file is an error (KC-016)."""
    missing = str(tmp_path / "nocreds")
    r = kc("--git-credential-store", missing, "build", "kas.yml", cwd=repo, fakes=("docker",))
    failed(r, f"passed KAS_GIT_CREDENTIAL_STORE '{missing}' is not a file")


def test_git_credential_socket(kc, repo, tmp_path, unix_socket):
    """--git-credential-socket mounts the socket and makes it the cache
    credential helper (KC-017)."""
    store = write(tmp_path / "creds", "https://u:p@example.com\n")
    r = kc("--git-credential-store", store, "--git-credential-socket", unix_socket,
           "build", "kas.yml", cwd=repo, fakes=("docker",))
    src, opts = r.mount("/var/kas/userdata/.git-cache-socket")
    assert src == unix_socket
    assert opts in ("", "rw")
    assert r.env["GIT_CREDENTIAL_HELPER"] == \
        "cache --socket=/var/kas/userdata/.git-cache-socket"


def test_git_credential_socket_not_a_socket(kc, repo, tmp_path):
    """A credential socket that is no socket is an error (KC-017)."""
    plain = os.path.realpath(write(tmp_path / "plain", "x\n"))
    r = kc("--git-credential-socket", plain, "build", "kas.yml", cwd=repo, fakes=("docker",))
    failed(r, f"passed KAS_GIT_CREDENTIAL_SOCKET '{plain}' is not a socket")


def test_host_credential_helper_wins(kc, repo, tmp_path):
    """A GIT_CREDENTIAL_HELPER of the caller wins over the forwarded store
    (KC-090)."""
    store = write(tmp_path / "creds", "x\n")
    r = kc("--git-credential-store", store, "build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"GIT_CREDENTIAL_HELPER": "cache --timeout=1"})
    assert r.env["GIT_CREDENTIAL_HELPER"] == "cache --timeout=1"


def test_no_credential_helper_by_default(kc, repo):
    """No credential helper is set without one asked for (KC-090)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert "GIT_CREDENTIAL_HELPER" not in r.env


@pytest.mark.parametrize("var, target", [
    ("NETRC_FILE", "/var/kas/userdata/.netrc"),
    ("NPMRC_FILE", "/var/kas/userdata/.npmrc"),
    ("GITCONFIG_FILE", "/var/kas/userdata/.gitconfig"),
    ("REGISTRY_AUTH_FILE", "/var/kas/userdata/.docker/config.json"),
])
def test_credential_files(kc, repo, tmp_path, var, target):
    """NETRC_FILE, NPMRC_FILE, GITCONFIG_FILE and REGISTRY_AUTH_FILE are
    mounted read-only (symlinks resolved) and renamed; one that is not a
    file is silently left out (KC-090)."""
    real = os.path.realpath(write(tmp_path / "real" / "file", "data\n"))
    os.symlink(real, str(tmp_path / "link"))
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={var: str(tmp_path / "link")})
    assert ("-v", f"{real}:{target}:ro") in pre_mode(r)
    assert ("-e", f"{var}={target}") in pre_mode(r)
    # not a file: silently not forwarded
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={var: str(tmp_path / "real")})
    assert r.warnings() == [] and r.errors() == []
    assert var not in r.env
    assert r.mount(target) is None


PROXIES = {"http_proxy": "http://p:1", "https_proxy": "http://p:2", "ftp_proxy": "http://p:3",
           "no_proxy": "localhost", "NO_PROXY": "*.local"}


def test_proxies_forwarded(kc, repo):
    """The proxy variables are forwarded (KC-095)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env=PROXIES)
    for name, value in PROXIES.items():
        assert ("-e", f"{name}={value}") in pre_mode(r)


@pytest.mark.parametrize("how", ["option", "env", "env-empty"])
def test_no_proxy_from_env(kc, repo, how):
    """--no-proxy-from-env or KAS_NO_PROXY_FROM_ENV (even empty) keeps the
    proxy variables out (KC-018)."""
    env = dict(PROXIES)
    opts = []
    if how == "option":
        opts = ["--no-proxy-from-env"]
    else:
        env["KAS_NO_PROXY_FROM_ENV"] = "1" if how == "env" else ""
    r = kc(*opts, "build", "kas.yml", cwd=repo, fakes=("docker",), env=env)
    assert not set(PROXIES) & set(r.env)


def test_empty_proxy_not_forwarded(kc, repo):
    """An empty proxy variable is not forwarded (KC-095)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"http_proxy": "", "https_proxy": "http://p:2"})
    assert "http_proxy" not in r.env
    assert r.env["https_proxy"] == "http://p:2"


@pytest.mark.parametrize("args, env, mode", [
    (["build", "kas.yml"], {}, "ro"),
    (["--repo-rw", "build", "kas.yml"], {}, "rw"),
    (["--repo-rw", "--repo-ro", "build", "kas.yml"], {}, "ro"),
    (["--repo-ro", "--repo-rw", "build", "kas.yml"], {}, "rw"),
    (["shell", "kas.yml"], {}, "rw"),
    (["--repo-ro", "shell", "kas.yml"], {}, "ro"),
    (["lock", "kas.yml"], {}, "rw"),
    (["dump", "kas.yml"], {}, "ro"),
    (["dump", "-i", "kas.yml"], {}, "rw"),
    (["dump", "--inplace", "kas.yml"], {}, "rw"),
    (["checkout", "kas.yml"], {}, "ro"),
    (["for-all-repos", "kas.yml", "true"], {}, "ro"),
    (["build", "kas.yml"], {"KAS_REPO_MOUNT_OPT": "rw"}, "rw"),
    (["--repo-ro", "build", "kas.yml"], {"KAS_REPO_MOUNT_OPT": "rw"}, "ro"),
    (["shell", "kas.yml"], {"KAS_REPO_MOUNT_OPT": "ro"}, "ro"),
])
def test_repo_mount_mode(kc, repo, work, args, env, mode):
    """The repository is mounted read-only, read-write for shell, lock and
    dump --inplace; --repo-ro/--repo-rw (last wins) and KAS_REPO_MOUNT_OPT
    choose otherwise (KC-019, KC-022, ENV-091)."""
    r = kc(*args, cwd=repo, fakes=("docker",), env={"KAS_WORK_DIR": work, **env})
    assert r.units[:len(generated(repo, work, mode))] == generated(repo, work, mode)


def kvm_hidden_wrapper(tmp_path):
    """Run the script in a mount namespace where /dev/kvm is a regular file."""
    dummy = write(tmp_path / "kvm-dummy", "")
    if not os.path.exists("/dev/kvm"):
        return ()
    unshare, mount = shutil.which("unshare"), shutil.which("mount")
    hide = f"{mount} --bind {dummy} /dev/kvm"
    probe = subprocess.run([unshare or "unshare", "-m", "/bin/sh", "-c", hide],
                           capture_output=True, check=False) if unshare and mount else None
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot hide /dev/kvm (needs unshare -m as root)")
    return (unshare, "-m", "/bin/sh", "-c", hide + ' && exec "$@"', "sh")


def test_kvm_absent_warns(kc, repo, tmp_path):
    """--kvm when the host has no /dev/kvm: a warning, no device (KC-019a)."""
    wrap = kvm_hidden_wrapper(tmp_path)
    r = kc("--kvm", "build", "kas.yml", cwd=repo, fakes=("docker",), wrap=wrap)
    assert "--kvm given but /dev/kvm not present on host; skipping" in r.warnings()
    assert not any("/dev/kvm" in " ".join(u) for u in r.units)


@pytest.mark.skipif(not os.path.exists("/dev/kvm"), reason="no /dev/kvm on this host")
def test_kvm_present(kc, repo):
    """--kvm (or KAS_KVM=1) passes /dev/kvm; nothing without it (KC-019a)."""
    r = kc("--kvm", "build", "kas.yml", cwd=repo, fakes=("docker",))
    kvm = [u for u in r.units if "/dev/kvm" in " ".join(u)]
    assert kvm in ([("--device=/dev/kvm",)], [("--device", "/dev/kvm")])
    assert r.warnings() == []
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert not any("/dev/kvm" in " ".join(u) for u in r.units)
    # KAS_KVM=1 means --kvm (ENV-091).
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_KVM": "1"})
    assert [u for u in r.units if "/dev/kvm" in " ".join(u)] == kvm


# ---------------------------------------------------------------------------
# KC-021: parsing after the command

def test_command_option_reordered_spaces_kept(kc, repo):
    """A command option after the config file moves before it, its value's
    spaces kept (KC-021)."""
    r = kc("shell", "kas.yml", "-c", "bitbake -e  virtual/kernel", "--update", cwd=repo,
           fakes=("docker",))
    assert r.kas == ["shell", "--update", "-c", "bitbake -e  virtual/kernel", "/repo/kas.yml"]


@pytest.mark.parametrize("opt", ["--cmd", "--command"])
def test_command_long_forms(kc, repo, opt):
    """--cmd and --command become -c (KC-021)."""
    r = kc("shell", opt, "ls -l", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["shell", "-c", "ls -l", "/repo/kas.yml"]


@pytest.mark.parametrize("opt", ["-E", "--preserve-env"])
def test_preserve_env_rejected(kc, repo, opt):
    """-E/--preserve-env cannot work in a container and is refused (KC-021)."""
    r = kc("shell", opt, "kas.yml", cwd=repo, fakes=("docker",))
    failed(r, f"{opt} is not supported with kas-container")


def test_value_options_passed_with_value(kc, repo):
    """Options with a value keep it, whatever their order around the config
    file (KC-021)."""
    r = kc("build", "--skip", "repos_checkout", "--target", "core-image minimal", "kas.yml",
           "--task", "fetch", "--force-checkout", cwd=repo, fakes=("docker",))
    assert r.kas == ["build", "--skip", "repos_checkout", "--target", "core-image minimal",
                     "--task", "fetch", "--force-checkout", "/repo/kas.yml"]


def test_dump_value_options(kc, repo):
    """dump's options with values keep them (KC-021)."""
    r = kc("dump", "--format", "json", "--indent", "4", "kas.yml", "--provenance", "mode=max",
           cwd=repo, fakes=("docker",))
    assert r.kas == ["dump", "--format", "json", "--indent", "4", "--provenance", "mode=max",
                     "/repo/kas.yml"]


@pytest.mark.parametrize("opt", ["--target", "--skip", "--task", "--format"])
def test_missing_value_calls_kas_help(kc, repo, opt):
    """An option missing its value makes kas print its help instead of
    guessing (KC-021)."""
    r = kc("build", "kas.yml", opt, cwd=repo, fakes=("docker",))
    assert "--help" in r.kas, r.kas
    assert r.kas[0] == "build"


def test_double_dash_extras_at_the_end(kc, repo):
    """Arguments after -- stay at the end, unparsed (KC-021)."""
    r = kc("build", "kas.yml", "--", "-k", "-c", "x y", "--target", cwd=repo, fakes=("docker",))
    assert r.kas == ["build", "/repo/kas.yml", "--", "-k", "-c", "x y", "--target"]


def test_double_dash_after_command_option(kc, repo):
    """-- after a command option still ends the parsed arguments (KC-021)."""
    r = kc("shell", "-c", "true", "kas.yml", "--", "extra", cwd=repo, fakes=("docker",))
    assert r.kas == ["shell", "-c", "true", "/repo/kas.yml", "--", "extra"]


@pytest.mark.parametrize("args, expected", [
    (["--update", "kas.yml", "git status --short"],
     ["--update", "/repo/kas.yml", "git status --short"]),
    (["kas.yml", "git status --short", "--update"],
     ["--update", "/repo/kas.yml", "git status --short"]),
    (["kas.yml", "git log", "--", "x y"], ["/repo/kas.yml", "git log", "--", "x y"]),
    (["-l", "git log"], ["-l", "git log"]),
])
def test_for_all_repos_config_and_command(kc, repo, args, expected):
    """KC-021/KC-071: kas options, config, COMMAND, then `--` extras."""
    r = kc("for-all-repos", *args, cwd=repo, fakes=("docker",))
    assert r.kas == ["for-all-repos"] + expected


def test_for_all_repos_without_config(kc, repo, work):
    """KC-161: the command only; cwd (a git top level) is /repo."""
    r = kc("for-all-repos", "git log -1", cwd=repo, fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.kas == ["for-all-repos", "git log -1"]
    assert r.mount("/repo") == (repo, "ro")


def test_for_all_repos_without_config_plain_dir(kc, work):
    """for-all-repos without a config in a plain directory mounts it as
    /repo (KC-161)."""
    r = kc("for-all-repos", "ls", cwd=work, fakes=("docker",))
    assert r.kas == ["for-all-repos", "ls"]
    assert r.mount("/repo") == (work, "ro")


def test_full_order(kc, repo, work, tmp_path):
    """KC-071: every group in order, kas part exactly."""
    sstate = tmp_path / "sstate"
    r = kc("-l", "warning", "--runtime-args", "--cpus=1", "--isar-rootless", "build",
           "--update", "kas.yml", "-c", "bitbake x", "--", "-k", cwd=repo,
           fakes=("docker", "timedatectl"),
           env={"KAS_WORK_DIR": work, "SSTATE_DIR": str(sstate), "TERM": "vt100",
                "KAS_MACHINE": "qemuarm"})
    units = r.units
    gen = generated(repo, work)
    assert units[:len(gen)] == gen
    i_log = units.index(("--log-driver=none",))
    assert units[i_log + 1] == ("--user=root",)
    env_block = units[len(gen):i_log]
    assert sorted(env_block) == sorted([("-e", "KAS_HOST_TZ=Europe/Berlin"),
                                        ("-e", "TERM=vt100"), ("-e", "KAS_MACHINE=qemuarm"),
                                        ("-e", "SHELL=/bin/bash")])
    mode = units[i_log + 2:i_log + 2 + len(ROOTFUL_ISAR_ROOTLESS)]
    assert sorted(mode) == sorted(ROOTFUL_ISAR_ROOTLESS)
    assert units[i_log + 2 + len(ROOTFUL_ISAR_ROOTLESS):] == [
        ("-v", f"{sstate}:/sstate:rw"), ("-e", "SSTATE_DIR=/sstate"), ("--cpus=1",)]
    assert r.image == IMAGE_ISAR
    assert r.kas == ["-l", "warning", "build", "--update", "-c", "bitbake x",
                     "/repo/kas.yml", "--", "-k"]


# ---------------------------------------------------------------------------
# KC-023/024/025: configs and repo dirs

def test_colon_list_rewritten(kc, repo):
    """Each file of a colon-separated config list is rewritten to its /repo
    path (KC-023)."""
    write(os.path.join(repo, "sub", "b.yml"), "x: 1\n")
    r = kc("build", "kas.yml:sub/b.yml", cwd=repo, fakes=("docker",))
    assert r.kas == ["build", "/repo/kas.yml:/repo/sub/b.yml"]


def test_relative_from_subdir_and_symlink(kc, repo):
    """Config paths relative to a subdirectory, through a symlink, become
    paths in /repo (KC-023)."""
    sub = os.path.join(repo, "sub")
    os.makedirs(sub)
    os.symlink("../kas.yml", os.path.join(sub, "link.yml"))
    r = kc("build", "link.yml:../kas.yml", cwd=sub, fakes=("docker",),
           env={"KAS_WORK_DIR": repo})
    assert r.kas == ["build", "/repo/kas.yml:/repo/kas.yml"]
    assert r.mount("/repo") == (repo, "ro")


def test_file_outside_repo_keeps_host_path(kc, repo, tmp_path):
    """A config file outside the repository keeps its host path (KC-023)."""
    other = os.path.realpath(write(tmp_path / "other" / "x.yml", "x: 1\n"))
    r = kc("build", f"kas.yml:{other}", cwd=repo, fakes=("docker",))
    assert r.kas == ["build", f"/repo/kas.yml:{other}"]


@pytest.mark.parametrize("arg, missing", [("nope.yml", "nope.yml"),
                                          ("kas.yml:sub/nope.yml", "sub/nope.yml")])
def test_missing_config(kc, repo, arg, missing):
    """A config file that does not exist, also in a list, is an error naming
    it (KC-023)."""
    r = kc("build", arg, cwd=repo, fakes=("docker",))
    failed(r, f"configuration file '{missing}' not found")


def test_git_toplevel(kc, repo, work):
    """The repository mounted as /repo is the git top level of the config
    file (KC-024)."""
    write(os.path.join(repo, "a", "b", "deep.yml"), KAS_YML)
    r = kc("build", "deep.yml", cwd=os.path.join(repo, "a", "b"), fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.units[:len(generated(repo, work))] == generated(repo, work)
    assert r.kas == ["build", "/repo/a/b/deep.yml"]


@pytest.mark.skipif(shutil.which("hg") is None, reason="needs mercurial")
def test_hg_root(kc, tmp_path, work):
    """In a Mercurial checkout the repository is hg's root (KC-024)."""
    root = tmp_path / "hgproj"
    subprocess.run(["hg", "init", str(root)], check=True, capture_output=True)
    root = os.path.realpath(str(root))
    write(os.path.join(root, "conf", "kas.yml"), KAS_YML)
    r = kc("build", "conf/kas.yml", cwd=root, fakes=("docker",), env={"KAS_WORK_DIR": work})
    assert r.mount("/repo") == (root, "ro")
    assert r.kas == ["build", "/repo/conf/kas.yml"]
    r = kc("build", "kas.yml", cwd=os.path.join(root, "conf"), fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.mount("/repo") == (root, "ro")


def test_plain_directory(kc, tmp_path, work):
    """Outside a checkout the repository is the config file's directory
    (KC-024)."""
    plain = os.path.realpath(str(tmp_path / "plain"))
    write(os.path.join(plain, "conf", "kas.yml"), KAS_YML)
    r = kc("build", "conf/kas.yml", cwd=plain, fakes=("docker",), env={"KAS_WORK_DIR": work})
    assert r.mount("/repo") == (os.path.join(plain, "conf"), "ro")
    assert r.kas == ["build", "/repo/kas.yml"]


def test_no_config_is_cwd(kc, tmp_path, work):
    """Without a config file the repository is the current directory
    (KC-024)."""
    plain = os.path.realpath(str(tmp_path / "plain"))
    os.makedirs(plain)
    r = kc("shell", cwd=plain, fakes=("docker",), env={"KAS_WORK_DIR": work})
    assert r.mount("/repo") == (plain, "rw")
    assert r.kas == ["shell"]


def test_source_dir_host_from_config_yaml(kc, tmp_path, repo, work):
    """Without a config file, .config.yaml's _source_dir_host names the
    repository (KC-024)."""
    write(os.path.join(work, ".config.yaml"),
          f"header:\n  version: 14\n_source_dir_host: {repo}\n")
    r = kc("build", cwd=work, fakes=("docker",))
    assert r.units[:len(generated(repo, work))] == generated(repo, work)
    assert r.kas == ["build"]


def test_diff_two_repos(kc, tmp_path, work):
    """diff of files in two repositories mounts the second as /repo2
    (KC-025)."""
    r1 = git_tree(tmp_path / "r1", files={"a.yml": KAS_YML})
    r2 = git_tree(tmp_path / "r2", files={"c/b.yml": KAS_YML})
    r = kc("diff", f"{r1}/a.yml", "r2/c/b.yml", cwd=tmp_path, fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.units[0] == ("-v", f"{r2}:/repo2:ro")
    assert r.units[1:1 + len(generated(r1, work))] == generated(r1, work)
    assert r.kas == ["diff", "/repo/a.yml", "/repo2/c/b.yml"]


def test_diff_repo2_follows_repo_mode(kc, tmp_path, work):
    """/repo2 gets the same mount mode as /repo (KC-025)."""
    r1 = git_tree(tmp_path / "r1", files={"a.yml": KAS_YML})
    r2 = git_tree(tmp_path / "r2", files={"b.yml": KAS_YML})
    r = kc("--repo-rw", "diff", "r1/a.yml", "r2/b.yml", cwd=tmp_path, fakes=("docker",),
           env={"KAS_WORK_DIR": work})
    assert r.mount("/repo2") == (r2, "rw")
    assert r.mount("/repo") == (r1, "rw")


# ---------------------------------------------------------------------------
# KC-070, KC-080: directories

def test_work_dir_must_exist(kc, repo, tmp_path):
    """A KAS_WORK_DIR that is not a directory is an error (KC-070)."""
    missing = str(tmp_path / "nowork")
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_WORK_DIR": missing})
    failed(r, f'Variable KAS_WORK_DIR set, but "{missing}" is not a directory.')


def test_relative_work_dir_canonical(kc, repo, work):
    """A relative KAS_WORK_DIR is mounted by its canonical path (KC-070)."""
    rel = os.path.relpath(work, repo)
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_WORK_DIR": rel})
    assert r.mount("/work") == (work, "rw")


def test_dirs_created_and_canonical(kc, repo, work, tmp_path):
    """The build, download, sstate, hash server and buildtools directories
    are created if missing and mounted by their canonical paths (KC-070)."""
    base = os.path.realpath(str(tmp_path))
    env = {"KAS_WORK_DIR": work,
           "KAS_BUILD_DIR": f"{base}/x/../build",
           "DL_DIR": f"{base}/dl/a/b",
           "SSTATE_DIR": f"{base}/s/t",
           "BB_HASHSERVE_DB_DIR": f"{base}/h/db",
           "KAS_BUILDTOOLS_DIR": f"{base}/bt/x"}
    os.mkdir(os.path.join(base, "x"))
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env=env)
    for path in ("build", "dl/a/b", "s/t", "h/db", "bt/x"):
        assert os.path.isdir(os.path.join(base, path)), path
    assert r.mount("/build") == (f"{base}/build", "rw")
    assert r.mount("/downloads") == (f"{base}/dl/a/b", "rw")


def test_build_dir_plain_mkdir(kc, repo, work, tmp_path):
    """KC-070: KAS_BUILD_DIR is created without parents."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"KAS_WORK_DIR": work, "KAS_BUILD_DIR": str(tmp_path / "no" / "build")})
    assert r.returncode != 0, r
    assert r.runs == []
    assert not (tmp_path / "no").exists()


def test_repo_ref_dir_must_exist(kc, repo, work, tmp_path):
    """A KAS_REPO_REF_DIR that does not exist stops kas-container before the
    engine, and is not created (KC-070)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"KAS_WORK_DIR": work, "KAS_REPO_REF_DIR": str(tmp_path / "noref")})
    assert r.returncode != 0, r
    assert r.runs == []
    assert not (tmp_path / "noref").exists()


DIR_VARS = [("KAS_BUILD_DIR", "/build"), ("DL_DIR", "/downloads"),
            ("KAS_REPO_REF_DIR", "/repo-ref"), ("KAS_REPO_CACHE_DIR", "/repo-cache"),
            ("SSTATE_DIR", "/sstate"),
            ("BB_HASHSERVE_DB_DIR", "/bb-hashserve-db"), ("KAS_BUILDTOOLS_DIR", "/buildtools")]


def run_with_dirs(kc, repo, work, parent):
    """Run with every KC-080 variable set to a new directory below ``parent``;
    returns (env, all units, the units after --user=root)."""
    env = {"KAS_WORK_DIR": work}
    for var, _ in DIR_VARS:
        path = os.path.join(parent, var.lower())
        os.makedirs(path)
        env[var] = path
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env=env)
    units = r.units
    return env, units, units[units.index(("--user=root",)) + 1:]


def test_forwarded_dirs_outside_work(kc, repo, work, tmp_path):
    """Directories outside the work dir are mounted and their variables
    point at the mount (KC-080)."""
    parent = os.path.join(os.path.realpath(str(tmp_path)), "dirs")
    env, _, tail = run_with_dirs(kc, repo, work, parent)
    assert len(tail) == 2 * len(DIR_VARS)
    for var, target in DIR_VARS:
        i = tail.index(("-v", f"{env[var]}:{target}:rw"))
        assert tail[i + 1] == ("-e", f"{var}={target}")


def test_forwarded_dirs_inside_work(kc, repo, work):
    """Directories inside the work dir are not mounted again: their
    variables point into /work (KC-080)."""
    _, units, tail = run_with_dirs(kc, repo, work, os.path.join(work, "in"))
    assert sorted(tail) == sorted(("-e", f"{var}=/work/in/{var.lower()}")
                                  for var, _ in DIR_VARS)
    assert [u for u in units if u[0] == "-v"] == [("-v", f"{repo}:/repo:ro"),
                                                    ("-v", f"{work}:/work:rw")]


def test_unset_dirs_not_passed(kc, repo):
    """Directory variables that are not set are not passed (KC-080)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert not {var for var, _ in DIR_VARS} & set(r.env)


@pytest.mark.parametrize("where", ["outside", "work", "below-work"])
def test_journal_path_mapped_into_the_container(kc, repo, work, tmp_path, where):
    """Issue 18.2: KAS_JOURNAL names the file inside the container; its
    directory is the work dir (or below it) or is mounted read-write, so
    kas writes it where the host asked.  A missing directory is created."""
    outside = os.path.join(os.path.realpath(str(tmp_path)), "ci", "out")
    path = {"outside": os.path.join(outside, "journal.json"),
            "work": os.path.join(work, "journal.json"),
            "below-work": os.path.join(work, "logs", "journal.json")}[where]
    env = {"KAS_WORK_DIR": work, "KAS_JOURNAL": path}
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env=env)
    assert r.returncode == 0, r
    expected = {"outside": "/kas-journal/journal.json", "work": "/work/journal.json",
                "below-work": "/work/logs/journal.json"}[where]
    assert r.env.get("KAS_JOURNAL") == expected
    mounts = [u for u in r.units if u[0] == "-v" and ":/kas-journal:" in u[1]]
    if where == "outside":
        assert os.path.isdir(outside)
        assert mounts == [("-v", f"{outside}:/kas-journal:rw")]
    else:
        assert mounts == []


# ---------------------------------------------------------------------------
# KC-085: git worktrees

@pytest.mark.parametrize("command, mode", [("build", "ro"), ("shell", "rw")])
def test_worktree(kc, tmp_path, command, mode):
    """In a git worktree the common .git directory is mounted as
    /repo-common and a temporary .git file pointing at it over the
    worktree's, removed afterwards (KC-085)."""
    main = os.path.realpath(make_git_repo(tmp_path / "main", files={"kas.yml": KAS_YML}))
    wt = os.path.join(os.path.realpath(str(tmp_path)), "wt")
    subprocess.run(["git", "-C", main, "worktree", "add", "-q", "-b", "feature", wt],
                   check=True, capture_output=True)
    r = kc(command, "kas.yml", cwd=wt, fakes=("docker",))     # <WORK> = <REPO>
    pre = pre_mode(r)
    assert ("-v", f"{main}/.git:/repo-common:{mode}") in pre
    gitfile, opts = r.mount("/repo/.git")
    assert opts == "ro"
    assert r.mount("/work/.git") == (gitfile, "ro")
    assert r.run["files"][gitfile] == "gitdir: /repo-common/worktrees/wt\n"
    assert r.mount("/repo") == (wt, mode)
    assert not os.path.exists(gitfile), "temporary .git file left behind"
    with open(os.path.join(wt, ".git")) as f:
        assert f.read() == f"gitdir: {main}/.git/worktrees/wt\n"


def test_worktree_separate_work(kc, tmp_path, work):
    """With a separate work dir the worktree's .git file is mounted over
    /repo only, and removed also when the engine fails (KC-085)."""
    main = os.path.realpath(make_git_repo(tmp_path / "main", files={"kas.yml": KAS_YML}))
    wt = os.path.join(os.path.realpath(str(tmp_path)), "wt")
    subprocess.run(["git", "-C", main, "worktree", "add", "-q", wt],
                   check=True, capture_output=True)
    r = kc("build", "kas.yml", cwd=wt, fakes=("docker",), env={"KAS_WORK_DIR": work,
                                                               "FAKE_EXIT_STATUS": "2"})
    assert r.returncode == 2
    (run,) = r.runs
    units = split_run(run["argv"][1:])[0]
    targets = [u[1].split(":")[1] for u in units if u[0] == "-v"]
    assert "/work/.git" not in targets
    gitfile = next(u[1].split(":")[0] for u in units
                   if u[0] == "-v" and u[1].split(":")[1] == "/repo/.git")
    assert not os.path.exists(gitfile)


@pytest.mark.parametrize("name", ["dots.and*star", "bracket[1]", "pipe|bar", "amp&x"])
def test_worktree_special_characters_in_path(kc, tmp_path, name):
    """KC-085: the common-dir prefix is replaced literally, whatever the path."""
    base = os.path.join(os.path.realpath(str(tmp_path)), name)
    main = os.path.realpath(make_git_repo(os.path.join(base, "main"),
                                          files={"kas.yml": KAS_YML}))
    wt = os.path.join(base, "wt")
    subprocess.run(["git", "-C", main, "worktree", "add", "-q", wt],
                   check=True, capture_output=True)
    r = kc("build", "kas.yml", cwd=wt, fakes=("docker",))
    assert r.mount("/repo-common") == (f"{main}/.git", "ro")
    gitfile, _ = r.mount("/repo/.git")
    assert r.run["files"][gitfile] == "gitdir: /repo-common/worktrees/wt\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_worktree_file_removed_on_signal(kc, tmp_path, sig):
    """KC-085: the temporary .git file is also deleted on INT/TERM."""
    main = os.path.realpath(make_git_repo(tmp_path / "main", files={"kas.yml": KAS_YML}))
    wt = os.path.join(os.path.realpath(str(tmp_path)), "wt")
    subprocess.run(["git", "-C", main, "worktree", "add", "-q", wt],
                   check=True, capture_output=True)
    path = controlled_path(tmp_path / "bin", fakes=("docker",))
    log = str(tmp_path / "fake.log")
    proc = subprocess.Popen([SCRIPT, "build", "kas.yml"], cwd=wt,
                            env=kc.env(path, log, {"FAKE_RUN_SLEEP": "0.5"}),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not [rec for rec in read_log(log, partial=True) if rec["argv"][:1] == ["run"]]:
            assert time.monotonic() < deadline, "engine not started"
            time.sleep(0.02)
        (run,) = [rec for rec in read_log(log) if rec["argv"][:1] == ["run"]]
        (gitfile,) = [v.split(":")[0] for u, v in zip(run["argv"], run["argv"][1:])
                      if u == "-v" and v.split(":")[1] == "/repo/.git"]
        assert os.path.exists(gitfile)
        proc.send_signal(sig)
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc != 0
    assert not os.path.exists(gitfile)


def test_main_checkout_not_a_worktree(kc, repo):
    """A main checkout needs no /repo-common and no .git file (KC-085)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert r.mount("/repo-common") is None
    assert r.mount("/repo/.git") is None


# ---------------------------------------------------------------------------
# KC-092..096: tty, environment, exit status

def test_tty(kc, repo):
    """On a terminal the engine gets -t -i before --log-driver (KC-092)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), tty=True)
    assert r.returncode == 0, r
    (run,) = r.runs
    units = split_run(run["argv"][1:])[0]
    i = units.index(("-t",))
    assert units[i + 1] == ("-i",)
    assert i < units.index(("--log-driver=none",))


def test_no_tty(kc, repo):
    """Without a terminal no -t or -i (KC-092)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert ("-t",) not in r.units and ("-i",) not in r.units


def test_sstate_mirrors(kc, repo):
    """SSTATE_MIRRORS is forwarded; a local file:// path in it gets a
    warning that it must be made available in the container (KC-093)."""
    value = "file://.* file:///srv/sstate/PATH"
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"SSTATE_MIRRORS": value})
    assert ("-e", f"SSTATE_MIRRORS={value}") in pre_mode(r)
    assert r.warnings() == [("SSTATE_MIRRORS contains a local path. Make sure to make this "
                             "path available inside the container.")]
    value = "file://.* https://sstate.example.com/PATH"
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"SSTATE_MIRRORS": value})
    assert r.env["SSTATE_MIRRORS"] == value
    assert r.warnings() == []


FORWARDED = ["TERM", "KAS_DISTRO", "KAS_MACHINE", "KAS_TARGET", "KAS_TASK", "KAS_CLONE_DEPTH",
             "KAS_PREMIRRORS", "DISTRO_APT_PREMIRRORS", "BB_NUMBER_THREADS", "PARALLEL_MAKE",
             "GIT_CREDENTIAL_USEHTTPPATH", "BB_HASHSERVE", "BB_HASHSERVE_UPSTREAM", "NO_COLOR",
             "TZ", "KAS_LOCK_TIMEOUT", "KAS_ISAR_HOST_CHECK"]


def test_env_forwarding_exact(kc, repo):
    """KC-094/ENV-120: exactly these -e variables, nothing else from the host."""
    env = {name: f"value of {name}" for name in FORWARDED}
    env.update({"FOO": "bar", "TMPDIR": "/tmp", "GIT_PROXY_COMMAND": "x", "LANG": "C",
                "DOCKER_HOST": "unix:///x.sock"})
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "timedatectl"), env=env)
    expected = {name: f"value of {name}" for name in FORWARDED}
    expected.update({"KAS_WORK_DIR": "/work", "KAS_CONTAINER_SCRIPT_VERSION": VERSION,
                     "USER_ID": str(UID), "GROUP_ID": str(GID), "SHELL": "/bin/bash",
                     "KAS_HOST_TZ": "Europe/Berlin"})
    assert r.env == expected
    for name in FORWARDED + ["KAS_HOST_TZ", "SHELL"]:
        assert ("-e", f"{name}={expected[name]}") in pre_mode(r), name


@pytest.mark.parametrize("value, no_network", [("1", True), ("yes", True), ("0", False)])
def test_offline_forwarded_with_bb_no_network(kc, repo, value, no_network):
    """Issue 19.2: KAS_OFFLINE reaches kas in the container, and when it asks
    for offline mode, bitbake's BB_NO_NETWORK=1 is set there too."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"KAS_OFFLINE": value})
    assert r.env["KAS_OFFLINE"] == value
    assert r.env.get("BB_NO_NETWORK") == ("1" if no_network else None)


def test_empty_values_not_forwarded(kc, repo):
    """Empty values of the forwarded variables are not passed (KC-094)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={name: "" for name in FORWARDED})
    assert not set(FORWARDED) & set(r.env)


def test_timezone_needs_timedatectl(kc, repo):
    """KAS_HOST_TZ comes from timedatectl, and is not passed without it
    (KC-094)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",))
    assert "KAS_HOST_TZ" not in r.env
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker", "timedatectl"),
           env={"FAKE_TZ": "America/New_York"})
    assert r.env["KAS_HOST_TZ"] == "America/New_York"


@pytest.mark.parametrize("shell, expected", [
    ("/bin/sh", "/bin/sh"), ("/bin/bash", "/bin/bash"), ("/bin/dash", "/bin/dash"),
    ("/usr/bin/zsh", "/bin/bash"), ("/usr/bin/bash", "/bin/bash"), (None, "/bin/bash"),
])
def test_shell_normalised(kc, repo, shell, expected):
    """SHELL is passed as /bin/sh, /bin/bash or /bin/dash; any other or none
    becomes /bin/bash (KC-094)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",), env={"SHELL": shell})
    assert ("-e", f"SHELL={expected}") in pre_mode(r)


@pytest.mark.parametrize("status", [3, 125])
def test_exit_status(kc, repo, status):
    """The engine's exit status is kas-container's (KC-096)."""
    r = kc("build", "kas.yml", cwd=repo, fakes=("docker",),
           env={"FAKE_EXIT_STATUS": str(status)})
    assert r.returncode == status, r
    assert len(r.runs) == 1


def test_exit_status_through_sudo(kc, repo):
    """The engine's exit status comes back through sudo too (KC-096)."""
    r = kc("--isar-privileged", "build", "kas.yml", cwd=repo, fakes=("podman", "sudo"),
           env={"FAKE_EXIT_STATUS": "3"})
    assert r.returncode == 3, r
    assert [rec["prog"] for rec in r.prefixes()] == ["sudo"]
