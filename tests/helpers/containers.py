"""Tests with the real container engine: rootless podman as ``kasci``.

`.ci/setup-test-users` creates ``kasci`` (subordinate ids, sudo) and
`.ci/setup-containers` sets up rootless podman for it with the Debian base
image ``localhost/debian-base:trixie`` in its storage (Debian 13: the
kas-isar image needs its util-linux and mmdebstrap for rootless Isar).  When the tests run
as root they switch to ``kasci``; a non-root developer with rootless podman
and that base image is used directly.  Whatever is missing is named in the
skip reason.

The images are built from this tree's Dockerfile with contrib/build-images,
once per test session (``kas_images``); the layer cache makes a rebuild
after a source change take seconds.  Use them from a session fixture of the
test module, e.g.::

    @pytest.fixture(scope="session")
    def images():
        return kas_images(podman_user())
"""

import atexit
import contextlib
import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import textwrap
import time

import pytest

from helpers.run import REPO_ROOT
from helpers.users import User, get_user

PODMAN_USER = "kasci"
BASE_IMAGE = "localhost/debian-base:trixie"
SETUP_HINT = "run `sudo sh .ci/setup-test-users && sudo sh .ci/setup-containers` once"
PREFIX = "localhost/kas"
BUILD_TIMEOUT = 3600


def kas_version():
    """``__version__`` of this tree (the tag of the images)."""
    with open(os.path.join(REPO_ROOT, "kas", "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.MULTILINE).group(1)


VERSION = kas_version()
KAS_IMAGE = f"{PREFIX}/kas:{VERSION}"
KAS_ISAR_IMAGE = f"{PREFIX}/kas-isar:{VERSION}"
BITBAKE_TEST_IMAGE = f"{PREFIX}/kas-bitbake-test:{VERSION}"
BITBAKE_SETUP = "bitbake-setup==2.19.0"


class PodmanUser(User):
    """A user with rootless podman: ``run`` gets the podman environment."""

    @property
    def runtime_dir(self):
        return f"/run/user/{self.uid}"

    def env(self, **extra):
        env = super().env(XDG_RUNTIME_DIR=self.runtime_dir,
                          PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        env.pop("DOCKER_HOST", None)
        env.pop("CONTAINER_HOST", None)
        env.update(extra)
        return env

    def podman(self, *args, cwd=None, env=None, timeout=300):
        """``podman ARGS`` as this user; returns the CompletedProcess."""
        return self.run(["podman", *args], cwd=cwd or self.home, env=env, timeout=timeout)

    def podman_run(self, image, *args, options=(), timeout=300):
        """``podman run --rm --log-driver=none OPTIONS IMAGE ARGS``."""
        return self.podman("run", "--rm", "--log-driver=none", *options, image, *args,
                           timeout=timeout)

    def mkdtemp(self, prefix="kas-container-"):
        """A new directory owned by this user (remove it with ``rmtree``)."""
        path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(path, 0o755)
        if not self.is_me:
            os.chown(path, self.uid, self.gid)
        return path

    def rmtree(self, path):
        """Remove ``path``, also entries owned by this user's subordinate ids."""
        subprocess.run(["rm", "-rf", path], check=False, capture_output=True)
        if os.path.exists(path):
            self.podman("unshare", "rm", "-rf", path)


def podman_missing(user):
    """None if ``user`` can run rootless podman with the base image, else why not."""
    if shutil.which("podman") is None:
        return f"podman is not installed: {SETUP_HINT}"
    if not os.path.isdir(user.runtime_dir):
        return f"{user.runtime_dir} (XDG_RUNTIME_DIR of {user.name}) is missing: {SETUP_HINT}"
    # Rootless podman's network (slirp4netns) opens /dev/net/tun, which
    # this kind of VM gives mode 0600 until the container set-up runs.
    tun = user.run(["sh", "-c", "[ -r /dev/net/tun ] && [ -w /dev/net/tun ]"], cwd="/")
    if tun.returncode != 0:
        return f"/dev/net/tun is missing or not usable by {user.name}: {SETUP_HINT}"
    result = user.podman("image", "exists", BASE_IMAGE, timeout=120)
    if result.returncode != 0:
        return (f"base image {BASE_IMAGE} is not in the podman storage of {user.name} "
                f"({result.stderr.strip() or 'podman image exists failed'}): {SETUP_HINT}")
    return None


@contextlib.contextmanager
def scratch_podman_home(user, storage_conf=None):
    """A fresh HOME and XDG_RUNTIME_DIR for ``user``'s podman, so that a
    test can put podman's storage into any state without touching the
    user's real one; yields the environment variables that select it.
    ``storage_conf``: the text of that HOME's
    ``.config/containers/storage.conf``.  Afterwards the pause process
    podman started for the runtime directory is stopped and everything is
    removed (also files owned by the user's subordinate ids)."""
    home = tempfile.mkdtemp(prefix="kas-podman-home-")
    if storage_conf is not None:
        conf_dir = os.path.join(home, ".config", "containers")
        os.makedirs(conf_dir)
        with open(os.path.join(conf_dir, "storage.conf"), "w") as f:
            f.write(storage_conf)
    os.makedirs(os.path.join(home, "run"), mode=0o700)
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", home], check=True)
    os.chmod(home, 0o755)
    env = {"HOME": home, "XDG_RUNTIME_DIR": os.path.join(home, "run")}
    try:
        yield env
    finally:
        pid_file = os.path.join(home, "run", "libpod", "tmp", "pause.pid")
        with contextlib.suppress(OSError, ValueError):
            with open(pid_file) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0:
                os.kill(pid, 9)
        user.run(["podman", "unshare", "rm", "-rf", os.path.join(home, ".local")],
                 env={**user.env(), "PATH": "/usr/local/bin:/usr/bin:/bin", **env})
        shutil.rmtree(home, ignore_errors=True)


_USER = []


def podman_user():
    """The user that runs rootless podman (``kasci`` as root), or skip."""
    if not _USER:
        entry = get_user(PODMAN_USER, need_subids=True)
        user = PodmanUser(pwd.getpwuid(entry.uid), python=entry.python)
        _USER.append((user, podman_missing(user)))
    user, missing = _USER[0]
    if missing:
        pytest.skip(missing)
    return user


_BUILT = {}


def _once(key, build):
    """``build()`` once per session; a failure is remembered and repeated."""
    if key not in _BUILT:
        try:
            _BUILT[key] = (build(), None)
        except AssertionError as err:
            _BUILT[key] = (None, err)
    value, err = _BUILT[key]
    if err is not None:
        raise err
    return value


def kas_images(user):
    """Build both images from this tree (once per session) as ``user``;
    returns ``{"kas": name, "kas-isar": name}``."""
    def build():
        result = user.run([os.path.join(REPO_ROOT, "contrib", "build-images"),
                           "--base", BASE_IMAGE, "--target", "all", "--engine", "podman"],
                          cwd=user.home, timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, \
            f"contrib/build-images failed:\n{result.stderr[-6000:]}"
        names = result.stdout.split()
        assert names == [KAS_IMAGE, KAS_ISAR_IMAGE], result
        return {"kas": KAS_IMAGE, "kas-isar": KAS_ISAR_IMAGE}

    return _once("images", build)


def as_root(*argv):
    """``argv`` as root: directly when the tests run as root, else sudo -n."""
    return list(argv) if os.getuid() == 0 else ["sudo", "-n", *argv]


def _image_id(argv):
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    return result.stdout.strip() if result.returncode == 0 else None


def rootful_image(user, name):
    """``name`` from ``user``'s podman storage also in root's, where
    `sudo podman run` (isar-privileged) finds it; once per session: tagged
    when root has the same image under another name already, copied (2 GB)
    only when it has not."""
    def copy():
        inspect = ["podman", "image", "inspect", "--format", "{{.Id}}", name]
        wanted = user.podman(*inspect[1:]).stdout.strip()
        subprocess.run(as_root("podman", "tag", wanted, name), check=False,
                       capture_output=True, timeout=120)
        if _image_id(as_root(*inspect)) != wanted:
            save = subprocess.Popen(["podman", "save", name], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, env=user.env(),
                                    user=None if user.is_me else user.uid,
                                    group=None if user.is_me else user.gid,
                                    extra_groups=None if user.is_me else [], cwd=user.home)
            load = subprocess.run(as_root("podman", "load", "-q"), stdin=save.stdout,
                                  check=False, capture_output=True, text=True,
                                  timeout=BUILD_TIMEOUT)
            save.stdout.close()
            assert save.wait(timeout=60) == 0, f"podman save {name} failed"
            assert load.returncode == 0, load.stderr
        assert _image_id(as_root(*inspect)) == wanted
        return name

    return _once(("rootful", name), copy)


# examples/bitbake's launcher copies bitbake-server/-worker next to the bb
# package (<site-packages>/../bin) on its first run: that directory must be
# writable by builder, whatever uid kas-container gives it.
BITBAKE_DOCKERFILE = """\
FROM {base}
USER root
COPY *.whl /tmp/wheels/
RUN pip install -q --no-deps --break-system-packages --root-user-action=ignore \\
        /tmp/wheels/*.whl && rm -rf /tmp/wheels /root/.cache && \\
    install -d -m 0777 "$(python3 -c 'import bb, os; \\
print(os.path.realpath(os.path.join(os.path.dirname(bb.__file__), "..", "..", "bin")))')"
USER builder
"""


def bitbake_test_image(user):
    """``localhost/kas/kas-bitbake-test:<version>``: the kas image plus the
    bb library (the bitbake-setup wheel), built once per session."""
    def build():
        images = kas_images(user)
        context = user.mkdtemp(prefix="kas-bitbake-image-")
        try:
            pip = os.path.join(REPO_ROOT, ".venv", "bin", "pip")
            if not os.path.exists(pip):
                pip = shutil.which("pip3") or "pip3"
            download = subprocess.run(
                [pip, "download", "-q", "--no-deps", "-d", context, BITBAKE_SETUP],
                check=False, capture_output=True, text=True, timeout=600)
            assert download.returncode == 0, f"pip download {BITBAKE_SETUP}: {download.stderr}"
            with open(os.path.join(context, "Dockerfile"), "w") as f:
                f.write(textwrap.dedent(BITBAKE_DOCKERFILE.format(base=images["kas"])))
            for name in os.listdir(context):
                os.chmod(os.path.join(context, name), 0o644)
            result = user.podman("build", "-q", "-t", BITBAKE_TEST_IMAGE, context,
                                 timeout=BUILD_TIMEOUT)
            assert result.returncode == 0, f"building {BITBAKE_TEST_IMAGE}: {result.stderr}"
        finally:
            user.rmtree(context)
        return BITBAKE_TEST_IMAGE

    return _once("bitbake", build)


# ---------------------------------------------------------------------------
# System (rootful) docker as a second engine (tests/test_container_docker.py).
#
# `.ci/setup-docker` installs docker.io, the runc-capfilter runtime (docker
# --privileged on this kind of VM) and puts kasci into the docker group; it
# starts no daemon.  ``system_docker()`` uses a daemon that already answers;
# otherwise, as root, it starts /usr/sbin/dockerd once per session and
# ``stop_system_docker()`` (also registered with atexit) stops exactly that
# process.

DOCKER_HINT = "run `sudo sh .ci/setup-docker` once"
DOCKERD = "/usr/sbin/dockerd"
RUNC_CAPFILTER = "/usr/local/sbin/runc-capfilter"
DOCKER_GROUP = "docker"
DOCKERD_READY_TIMEOUT = 60

_DOCKERD = {}


def _docker_env():
    env = dict(os.environ)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
    return env


def _docker(*args, timeout=120, stdin=None):
    """``docker ARGS`` as the test process itself (root in CI)."""
    return subprocess.run(["docker", *args], check=False, capture_output=True, text=True,
                          timeout=timeout, env=_docker_env(), stdin=stdin)


def _docker_answers():
    try:
        return _docker("version", timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _log_tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _start_dockerd():
    """Start dockerd in its own session; returns once ``docker version``
    answers (AssertionError with the log tail if it does not)."""
    with tempfile.NamedTemporaryFile(prefix="kas-dockerd-", suffix=".log",
                                     delete=False) as log:
        proc = subprocess.Popen([DOCKERD], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=_docker_env())
    _DOCKERD.update(proc=proc, log=log.name)
    atexit.register(stop_system_docker)
    deadline = time.monotonic() + DOCKERD_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _DOCKERD.pop("proc", None)
            raise AssertionError(f"dockerd exited with {proc.returncode}:\n"
                                 f"{_log_tail(log.name)}")
        if _docker_answers():
            return
        time.sleep(0.25)
    stop_system_docker()
    raise AssertionError(f"dockerd (pid {proc.pid}) did not answer within "
                         f"{DOCKERD_READY_TIMEOUT} s:\n{_log_tail(log.name)}")


def stop_system_docker():
    """Stop the dockerd that ``system_docker`` started (that PID only), if any."""
    proc = _DOCKERD.pop("proc", None)
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    log = _DOCKERD.pop("log", None)
    if log and proc.returncode == 0:
        os.unlink(log)


def docker_missing():
    """None if a system docker daemon answers (started here if needed and
    possible), else why not."""
    if shutil.which("docker", path=_docker_env()["PATH"]) is None:
        return f"the docker client is not installed: {DOCKER_HINT}"
    if _docker_answers():
        return None
    if os.getuid() != 0:
        return ("no docker daemon answers (`docker version`) and only root can start one: "
                f"start the system dockerd ({DOCKER_HINT})")
    missing = [path for path in (DOCKERD, RUNC_CAPFILTER) if not os.path.exists(path)]
    if missing:
        return f"{' and '.join(missing)} not installed: {DOCKER_HINT}"
    _start_dockerd()
    return None


def system_docker():
    """Make sure a system (rootful) docker daemon answers for this session,
    or skip; returns the PID of the dockerd started here (None if one ran
    already)."""
    def check():
        missing = docker_missing()
        if missing is None:
            info = _docker("info", "--format", "{{json .SecurityOptions}}")
            if "rootless" in info.stdout:
                missing = "docker is rootless: these tests need the system docker"
        return missing

    missing = _once("dockerd", check)
    if missing:
        pytest.skip(missing)
    proc = _DOCKERD.get("proc")
    return proc.pid if proc else None


class DockerUser(PodmanUser):
    """The podman user, also in the docker group: ``run`` passes the group
    (helpers.users.User.run drops all supplementary groups)."""

    def __init__(self, entry, python=None, docker_gid=None):
        super().__init__(entry, python=python)
        self.docker_gid = docker_gid

    def env(self, **extra):
        env = super().env()
        if os.environ.get("DOCKER_HOST") and self.is_me:
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        env.update(extra)
        return env

    def run(self, argv, cwd=None, env=None, check=False, timeout=60):
        if self.is_me or self.docker_gid is None:
            return super().run(argv, cwd=cwd, env=env, check=check, timeout=timeout)
        return subprocess.run([str(a) for a in argv], cwd=cwd, env=env or self.env(),
                              check=check, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True,
                              user=self.uid, group=self.gid,
                              extra_groups=[self.docker_gid])

    def docker(self, *args, timeout=300):
        """``docker ARGS`` as this user; returns the CompletedProcess."""
        return self.run(["docker", *args], cwd=self.home, timeout=timeout)


def docker_user():
    """The podman user (``kasci`` as root) with access to the system docker
    (started by ``system_docker`` if needed), or skip."""
    user = podman_user()
    system_docker()
    gid = None
    if not user.is_me:
        try:
            group = grp.getgrnam(DOCKER_GROUP)
        except KeyError:
            pytest.skip(f"there is no group {DOCKER_GROUP}: {DOCKER_HINT}")
        if user.name not in group.gr_mem and user.gid != group.gr_gid:
            pytest.skip(f"{user.name} is not in the group {DOCKER_GROUP}: {DOCKER_HINT}")
        gid = group.gr_gid
    entry = pwd.getpwuid(user.uid)
    duser = DockerUser(entry, python=user.python, docker_gid=gid)
    version = duser.docker("version", "--format", "{{.Server.Version}}", timeout=60)
    if version.returncode != 0:
        pytest.skip(f"{user.name} cannot use the system docker "
                    f"({version.stderr.strip()}): {DOCKER_HINT}")
    return duser


def _bare_id(image_id):
    return image_id.strip().removeprefix("sha256:")


def docker_image(user, image):
    """Copy ``image`` from ``user``'s podman storage into docker (``podman
    save | docker load``), unless docker has an image of that name with the
    same ID already.  The ID is the digest of the image's config, which the
    docker-archive format of ``podman save`` carries unchanged."""
    def copy():
        inspect = ("image", "inspect", "--format", "{{.Id}}", image)
        wanted = user.podman(*inspect, timeout=120)
        assert wanted.returncode == 0, f"{image} is not in podman: {wanted.stderr}"
        wanted = _bare_id(wanted.stdout)
        if _bare_id(user.docker(*inspect, timeout=120).stdout) == wanted:
            return image
        result = user.run(["bash", "-o", "pipefail", "-c",
                           'podman save "$1" | docker load -q', "copy", image],
                          cwd=user.home, timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, f"copying {image} into docker: {result.stderr}"
        got = _bare_id(user.docker(*inspect, timeout=120).stdout)
        assert got == wanted, f"{image}: docker has ID {got}, podman {wanted}"
        return image

    return _once(("docker", image), copy)
