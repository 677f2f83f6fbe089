"""kas-container on a real engine: rootless podman as ``kasci``, our images
built from the Dockerfile (issue 8, layer c).

* OpenEmbedded: `kas-container build` of the example runs a real bitbake in
  the container, and the build directory belongs to the caller (KC-062).
* isar-rootless: as ``builder`` in the container, nested user namespaces with
  the subordinate ids the entrypoint computed, and mounts inside them
  (KC-061, KC-106, KC-120); `kas-container --isar-rootless clean` removes
  what such a build leaves behind (KC-027).
* isar-privileged: `sudo podman run --privileged` (KC-060, KC-065).

The engine commands are those of kas-container itself; tests/
test_kas_container.py checks every argument against recording stand-ins.
"""

import os
import shutil

import pytest
from helpers.containers import bitbake_test_image, kas_images, podman_user, rootful_image
from helpers.repos import write
from helpers.run import REPO_ROOT

# Real engine, real images, real builds as the test user kasci.
pytestmark = [pytest.mark.container, pytest.mark.root, pytest.mark.e2e]

KAS_CONTAINER = os.path.join(REPO_ROOT, "kas-container")
RUN_TIMEOUT = 600

ISAR_INIT_SCRIPT = """\
# shellcheck shell=bash
# Stand-in for isar's init script: the build directory, nothing else.
BUILDDIR=$(mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
export BUILDDIR
mkdir -p "$BUILDDIR/conf"
cd "$BUILDDIR" || return 1
"""

ISAR_CONFIG = """\
header:
  version: 23
build_system: {mode}
machine: qemuamd64
target: isar-image-base
repos:
  isar:
    path: isar
"""


@pytest.fixture(scope="module")
def user():
    return podman_user()


@pytest.fixture(scope="module")
def images(user):
    return kas_images(user)


@pytest.fixture
def project(user):
    """A git repository owned by the user; removed afterwards, including
    what subordinate ids own."""
    path = user.mkdtemp(prefix="kas-container-project-")
    yield path
    user.rmtree(path)


def commit_all(user, path):
    user.sh("git init -q . && git add -A && git -c user.name=t -c user.email=t@e "
            "commit -qm init", cwd=path)


def isar_project(user, path, mode):
    write(os.path.join(path, "isar", "isar-init-build-env"), ISAR_INIT_SCRIPT)
    write(os.path.join(path, "isar.yml"), ISAR_CONFIG.format(mode=mode))
    chown_tree(user, path)
    commit_all(user, path)


def chown_tree(user, path):
    if user.is_me:
        return
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), user.uid, user.gid)


def kas_container(user, project, *args, **env):
    """Run kas-container as ``user`` in ``project``; podman explicitly (this
    machine may have a docker client without a daemon)."""
    env.setdefault("KAS_CONTAINER_ENGINE", "podman")
    return user.run([KAS_CONTAINER, *args], cwd=project, env=user.env(**env),
                    timeout=RUN_TIMEOUT)


def assert_ok(result):
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    assert "ERROR" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_openembedded_build_with_real_bitbake(user, images, project):
    """A real bitbake build of examples/hello.yml in the kas image: the
    result is the caller's on the host, the repository is /repo in the
    container (KC-062)."""
    image = bitbake_test_image(user)
    shutil.copytree(os.path.join(REPO_ROOT, "examples"), os.path.join(project, "examples"),
                    ignore=shutil.ignore_patterns(".bitbake-python", "__pycache__"))
    chown_tree(user, project)
    commit_all(user, project)

    result = kas_container(user, project, "build", "examples/hello.yml",
                           KAS_CONTAINER_IMAGE=image)

    assert_ok(result)
    deployed = os.path.join(project, "build", "tmp", "deploy", "hello-qemux86-64.txt")
    with open(deployed) as f:
        assert "Hello from kas" in f.read()
    # --userns=keep-id: what builder wrote is the caller's on the host.
    assert os.stat(deployed).st_uid == user.uid
    # The config's repository is /repo in the container, the work dir /work.
    with open(os.path.join(project, "build", "conf", "bblayers.conf")) as f:
        bblayers = f.read()
    assert "${TOPDIR}/../../repo/examples/meta-hello" in bblayers
    assert "${TOPDIR}/../examples/bitbake" in bblayers
    assert "kas 5.5 started on" in result.stderr
    # kas-container passes its version and kas agrees (ENV-063).
    assert "versions do not match" not in result.stderr


def test_default_image_is_localhost_kas(user, images, project):
    """Without KAS_CONTAINER_IMAGE kas-container uses the localhost/kas
    image built here (KC-040)."""
    os.makedirs(os.path.join(project, "conf"))
    write(os.path.join(project, "kas.yml"), "header:\n  version: 23\n")
    chown_tree(user, project)
    commit_all(user, project)

    result = kas_container(user, project, "dump", "kas.yml")

    assert_ok(result)
    assert result.stdout.startswith("header:\n  version: 23\n"), result.stdout


NESTED_USERNS = r"""
set -e
echo "uid=$(id -u) user=$(id -un)"
echo "subuid=$(cat /etc/subuid)"
echo "subgid=$(cat /etc/subgid)"
echo "uid_map=$(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')"
grep -q 'ISAR_ROOTLESS ?= "1"' "$BUILDDIR/conf/local.conf" && echo rootless-conf
unshare --map-auto --map-root-user --mount --pid --fork sh -ec '
    mount -t proc proc /proc
    test -r /proc/1/status
    echo "nested-proc pid1=$(cat /proc/1/comm)"
    mount -t tmpfs tmpfs /mnt
    mkdir /mnt/owned
    chown 1000:1000 /mnt/owned
    echo "nested-chown $(stat -c %u:%g /mnt/owned)"
'
"""


def test_isar_rootless_nested_userns_and_mounts(user, images, project):
    """--isar-rootless: builder has the caller's uid, subordinate ids above
    it, and can make a nested user namespace with its own /proc and chown in
    it (KC-061, KC-120)."""
    isar_project(user, project, "isar-rootless")

    result = kas_container(user, project, "--isar-rootless", "shell", "isar.yml",
                           "-c", NESTED_USERNS)

    assert_ok(result)
    lines = result.stdout.splitlines()
    assert f"uid={user.uid} user=builder" in lines
    # podman keep-id: the entrypoint's range starts above builder's uid.
    start = user.uid + 1
    assert any(line.startswith(f"subuid=builder:{start}:") for line in lines), lines
    assert "rootless-conf" in lines
    assert "nested-proc pid1=sh" in lines
    assert "nested-chown 1000:1000" in lines


def test_isar_rootless_is_chosen_from_the_config(user, images, project):
    """Without a flag, build_system: isar-rootless of the first config
    selects the mode, the kas-isar image and, with no engine named, podman
    (KC-026)."""
    isar_project(user, project, "isar-rootless")

    result = kas_container(user, project, "shell", "isar.yml", "-c",
                           "cat /etc/subuid; command -v mmdebstrap",
                           KAS_CONTAINER_ENGINE="")

    assert_ok(result)
    assert result.stdout.startswith("builder:"), result.stdout
    assert "/usr/bin/mmdebstrap" in result.stdout


LEFTOVERS = r"""
set -e
unshare --map-auto --map-root-user sh -ec '
    mkdir -p /work/build/tmp/work/rootfs/etc /work/build/tmp-glibc
    echo root > /work/build/tmp/work/rootfs/etc/hostname
    chmod 0555 /work/build/tmp/work/rootfs/etc
    chown -R 1000:1000 /work/build/tmp/work /work/build/tmp-glibc
'
"""


def assert_user_cannot_remove(user, path):
    denied = user.run(["rm", "-rf", path])
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr


def assert_cleaned(result, project):
    """`kas-container ... clean` succeeded: tmp* gone, the rest kept."""
    assert_ok(result)
    assert not os.path.exists(os.path.join(project, "build", "tmp"))
    assert not os.path.exists(os.path.join(project, "build", "tmp-glibc"))
    assert os.path.isdir(os.path.join(project, "build", "conf"))


@pytest.mark.parametrize("mode", [["--isar-rootless"], []], ids=["flag", "build-dir"])
def test_isar_rootless_clean_removes_subordinate_owned_leftovers(user, images, project,
                                                                 mode):
    """kas-container --isar-rootless clean removes what a rootless build
    left owned by subordinate ids, which the user cannot remove (KC-027);
    without flag or config, the build dir's local.conf (ISAR_ROOTLESS, as
    kas wrote it) chooses the kas-isar image and rootless cleaning, as it
    does for kas itself (issue 25.3)."""
    isar_project(user, project, "isar-rootless")
    made = kas_container(user, project, "--isar-rootless", "shell", "isar.yml",
                         "-c", LEFTOVERS)
    assert_ok(made)
    tmp = os.path.join(project, "build", "tmp")
    owner = os.stat(os.path.join(tmp, "work")).st_uid
    assert owner != user.uid
    # What an interrupted rootless build leaves: the user cannot remove it.
    assert_user_cannot_remove(user, tmp)

    result = kas_container(user, project, *mode, "clean")

    assert_cleaned(result, project)


@pytest.fixture(scope="module")
def rootful_isar_image(user, images):
    """The kas-isar image in root's podman storage, where `sudo podman run`
    finds it."""
    if user.run(["sudo", "-n", "true"]).returncode != 0:
        pytest.skip(f"{user.name} has no passwordless sudo: run `sudo sh .ci/setup-test-users`")
    return rootful_image(user, images["kas-isar"])


ROOT_LEFTOVERS = r"""
set -e
echo "uid=$(id -u) user=$(id -un)"
sudo mkdir -p /work/build/tmp/work/rootfs/etc /work/build/tmp/stamps
echo root | sudo tee /work/build/tmp/work/rootfs/etc/hostname >/dev/null
sudo chmod 0700 /work/build/tmp/work/rootfs
"""


def test_isar_privileged_through_sudo_podman(user, rootful_isar_image, project):
    """--isar runs a privileged container through sudo podman, whose root is
    the host's root (KC-060)."""
    isar_project(user, project, "isar-privileged")

    made = kas_container(user, project, "--isar", "shell", "isar.yml", "-c", ROOT_LEFTOVERS)

    assert_ok(made)
    assert "The semantic of '--isar' might change in the future." in made.stderr
    assert f"uid={user.uid} user=builder" in made.stdout.splitlines()
    # A privileged container's root is the host's root.
    tmp = os.path.join(project, "build", "tmp")
    assert os.stat(os.path.join(tmp, "work", "rootfs")).st_uid == 0
    assert user.run(["rm", "-rf", tmp]).returncode != 0
    with open(os.path.join(project, "build", "conf", "local.conf")) as f:
        assert "ISAR_ROOTLESS" not in f.read()

    result = kas_container(user, project, "clean", "isar.yml")

    assert_ok(result)
    assert not os.path.exists(tmp)
