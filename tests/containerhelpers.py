"""Tests with the real container engine: rootless podman as ``kasci``.

`.ci/setup-test-users` creates ``kasci`` (subordinate ids, sudo) and
`.ci/setup-containers` sets up rootless podman for it with the Debian base
image ``localhost/debian-base:bookworm`` in its storage.  When the tests run
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

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import textwrap

import pytest
from conftest import REPO_ROOT
from userhelpers import User, get_user

PODMAN_USER = "kasci"
BASE_IMAGE = "localhost/debian-base:bookworm"
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
    result = user.podman("image", "exists", BASE_IMAGE, timeout=120)
    if result.returncode != 0:
        return (f"base image {BASE_IMAGE} is not in the podman storage of {user.name} "
                f"({result.stderr.strip() or 'podman image exists failed'}): {SETUP_HINT}")
    return None


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
