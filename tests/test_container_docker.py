"""kas-container on a real system (rootful) docker, as ``kasci`` in the
docker group, with the images built for tests/test_container_engine.py
(copied from kasci's podman storage into docker).

* isar-rootless: kas-container runs docker with ``--cap-add=SYS_ADMIN`` and
  seccomp, apparmor and systempaths unconfined (KC-061, KC-063).  Without a
  user namespace the container's uid_map is ``0 0 4294967295``; our
  entrypoint then writes ``builder:<uid+1>:<4294967295-uid-1>``, a range
  without the container's uid 0, and builder can mount proc and tmpfs in
  nested namespaces (what Isar's rootless chroots do).  The control test
  shows that the reference's range ``builder:0:4294967295`` (KC-124) breaks
  those mounts here: that is why the entrypoint deviates.
* `kas-container --isar-rootless clean` removes what nested ids left behind
  (on system docker they own the files on the host directly) (KC-027).
* OpenEmbedded: a real bitbake build; no user namespace, the entrypoint
  gives builder the caller's uid, so the host files are the caller's (KC-062).

Needs `sudo sh .ci/setup-docker` (docker.io, the runc-capfilter runtime,
kasci in the docker group); the tests start dockerd for the session when
none answers and stop it at the end.
"""

import os
import re
import shutil

import pytest
import test_container_engine as engine
import test_kas_container_doctor as doctor
from helpers.containers import (
    bitbake_test_image,
    docker_image,
    docker_user,
    kas_images,
    stop_system_docker,
    system_docker,
)
from helpers.run import REPO_ROOT

# The system docker daemon, real images, real builds.
pytestmark = [pytest.mark.container, pytest.mark.root, pytest.mark.e2e]

KAS_CONTAINER = engine.KAS_CONTAINER
RUN_TIMEOUT = 600
FULL_RANGE = 4294967295

ROOTFUL_ISAR_ROOTLESS_ARGS = [
    "--security-opt seccomp=unconfined", "--security-opt apparmor=unconfined",
    "--security-opt systempaths=unconfined", "--cap-add=SYS_ADMIN",
]


@pytest.fixture(scope="session")
def dockerd():
    """A system dockerd for the session; stopped at the end if started here."""
    yield system_docker()
    stop_system_docker()


@pytest.fixture(scope="module")
def user(dockerd):
    return docker_user()


@pytest.fixture(scope="module")
def images(user):
    return kas_images(user)


@pytest.fixture(scope="module")
def isar_image(user, images):
    return docker_image(user, images["kas-isar"])


@pytest.fixture
def project(user):
    """A git repository owned by the user; removed afterwards, including
    what the container's nested ids own (plain host uids on system docker)."""
    path = user.mkdtemp(prefix="kas-docker-project-")
    yield path
    user.rmtree(path)
    if os.path.exists(path):        # not root: remove the rest in a container
        user.docker("run", "--rm", "--user=root", "--entrypoint", "sh",
                    "-v", f"{path}:/target", engine.KAS_ISAR_IMAGE, "-c",
                    "rm -rf /target/* /target/.[!.]*")
        user.rmtree(path)


def kas_container(user, project, *args, **env):
    """Run kas-container as ``user`` in ``project`` with the system docker."""
    env.setdefault("KAS_CONTAINER_ENGINE", "docker")
    return user.run([KAS_CONTAINER, *args], cwd=project, env=user.env(**env),
                    timeout=RUN_TIMEOUT)


def engine_command(result):
    """The ``+ docker run ...`` trace line of ``kas-container -l debug``."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("+ docker run ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_docker_isar_rootless_subuid_excludes_uid_0_nested_mounts(
        user, isar_image, project):
    """--isar-rootless with rootful docker: the seccomp, AppArmor and
    systempaths options and SYS_ADMIN instead of --privileged or a user
    namespace, builder with the caller's uid, nested user namespaces and
    mounts working (KC-061)."""
    engine.isar_project(user, project, "isar-rootless")

    result = kas_container(user, project, "-l", "debug", "--isar-rootless", "shell",
                           "isar.yml", "-c", engine.NESTED_USERNS)

    assert_ok(result)
    # Rootful docker: no --privileged, no user namespace options (KC-063).
    command = engine_command(result)
    for arg in ROOTFUL_ISAR_ROOTLESS_ARGS:
        assert f" {arg} " in command, command
    assert "--privileged" not in command
    assert "--userns" not in command
    assert f" {isar_image} " in command
    lines = result.stdout.splitlines()
    assert f"uid={user.uid} user=builder" in lines
    # No user namespace: the container's ids are the host's.
    assert f"uid_map=0 0 {FULL_RANGE}" in lines
    # Our deviation from KC-124: the range starts after builder, never at 0.
    start = user.uid + 1
    assert f"subuid=builder:{start}:{FULL_RANGE - start}" in lines, lines
    assert f"subgid=builder:{user.gid + 1}:{FULL_RANGE - user.gid - 1}" in lines, lines
    assert "rootless-conf" in lines
    assert "nested-proc pid1=sh" in lines
    assert "nested-chown 1000:1000" in lines


# The same container: the entrypoint's range, then the reference's
# builder:0:4294967295, then ours again.  Each step reports; nothing aborts.
RANGE_CONTROL = r"""
ours_uid=$(cat /etc/subuid); ours_gid=$(cat /etc/subgid)
probe() {
    if unshare --map-auto --map-root-user true; then echo "$1-unshare=ok"
    else echo "$1-unshare=fail"; fi
    if unshare --map-auto --map-root-user --mount --pid --fork \
            sh -c 'mount -t proc proc /proc && test -r /proc/1/status'; then
        echo "$1-proc=ok"
    else
        echo "$1-proc=fail"
    fi
    if unshare --map-auto --map-root-user --mount sh -c 'mount -t tmpfs tmpfs /mnt'; then
        echo "$1-tmpfs=ok"
    else
        echo "$1-tmpfs=fail"
    fi
}
echo "ours=$ours_uid"
probe ours
echo builder:0:4294967295 | sudo tee /etc/subuid /etc/subgid >/dev/null
echo "reference=$(cat /etc/subuid) $(cat /etc/subgid)"
probe reference
echo "$ours_uid" | sudo tee /etc/subuid >/dev/null
echo "$ours_gid" | sudo tee /etc/subgid >/dev/null
probe again
"""


def test_docker_reference_subuid_range_breaks_nested_mounts(user, isar_image,
                                                                    project):
    """Why the entrypoint deviates from kas 5.5: with the container's uid 0
    in builder's subordinate range, unshare still works but every mount in
    the nested namespace fails ('must be superuser to use mount') (KC-124)."""
    engine.isar_project(user, project, "isar-rootless")

    result = kas_container(user, project, "--isar-rootless", "shell", "isar.yml",
                           "-c", RANGE_CONTROL)

    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert f"ours=builder:{user.uid + 1}:{FULL_RANGE - user.uid - 1}" in lines
    assert "reference=builder:0:4294967295 builder:0:4294967295" in lines
    for step, expected in (("ours", "ok"), ("reference", "fail"), ("again", "ok")):
        for probe in ("proc", "tmpfs"):
            assert f"{step}-{probe}={expected}" in lines, (step, probe, lines)
        assert f"{step}-unshare=ok" in lines, (step, lines)
    assert re.search(r"must be superuser to use mount", result.stderr), result.stderr


LEFTOVERS = engine.LEFTOVERS


def test_docker_isar_rootless_clean_removes_nested_owned_leftovers(
        user, isar_image, project):
    """With docker, kas-container --isar-rootless clean removes what the
    nested namespace left under host uids the user cannot remove (KC-027)."""
    engine.isar_project(user, project, "isar-rootless")
    made = kas_container(user, project, "--isar-rootless", "shell", "isar.yml",
                         "-c", LEFTOVERS)
    assert_ok(made)
    tmp = os.path.join(project, "build", "tmp")
    # Nested uid 1000 is container uid (uid + 1) + 999: a host uid as such.
    nested = user.uid + 1 + 999
    assert os.stat(os.path.join(tmp, "work")).st_uid == nested
    assert os.stat(os.path.join(project, "build", "tmp-glibc")).st_gid == user.gid + 1000
    engine.assert_user_cannot_remove(user, tmp)

    result = kas_container(user, project, "--isar-rootless", "clean")

    engine.assert_cleaned(result, project)


def test_docker_openembedded_build_with_real_bitbake(user, images, project):
    """A real bitbake build in the kas image with docker: no --privileged,
    no user namespace, the results owned by the caller (KC-062)."""
    image = docker_image(user, bitbake_test_image(user))
    shutil.copytree(os.path.join(REPO_ROOT, "examples"), os.path.join(project, "examples"),
                    ignore=shutil.ignore_patterns(".bitbake-python", "__pycache__"))
    engine.chown_tree(user, project)
    engine.commit_all(user, project)

    result = kas_container(user, project, "-l", "debug", "build", "examples/hello.yml",
                           KAS_CONTAINER_IMAGE=image)

    assert_ok(result)
    command = engine_command(result)
    assert "--privileged" not in command
    assert "--userns" not in command
    assert f" -e USER_ID={user.uid} " in command
    deployed = os.path.join(project, "build", "tmp", "deploy", "hello-qemux86-64.txt")
    with open(deployed) as f:
        assert "Hello from kas" in f.read()
    # No user namespace: builder got the caller's uid and gid.
    for path in (deployed, os.path.join(project, "build", "conf", "local.conf"),
                 os.path.join(project, "build", "tmp")):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid), path
    assert "kas 5.5 started on" in result.stderr
    assert "versions do not match" not in result.stderr


def test_docker_through_the_current_context_without_the_system_socket(user, images,
                                                                    project):
    """Issue 24.5: no socket at /var/run/docker.sock (hidden in a mount
    namespace), and `docker context use` names another socket of the same
    daemon: kas-container runs there instead of refusing the working docker."""
    image = docker_image(user, images["kas"])
    config = user.mkdtemp(prefix="kas-docker-config-")
    try:
        alias = os.path.join(config, "docker.sock")
        for argv in (["touch", alias],
                     ["docker", "--config", config, "context", "create", "kas-test",
                      "--docker", f"host=unix://{alias}"],
                     ["docker", "--config", config, "context", "use", "kas-test"]):
            made = user.run(argv, cwd=config)
            assert made.returncode == 0, made
        setup = (f"mount --bind /var/run/docker.sock {alias}\n"
                 "mount --bind /dev/null /var/run/docker.sock")
        result = doctor.in_namespace(user, setup, [KAS_CONTAINER, "-l", "debug", "clean"],
                                     project, DOCKER_CONFIG=config, KAS_CONTAINER_IMAGE=image,
                                     KAS_CONTAINER_ENGINE="docker")
    finally:
        user.rmtree(config)
    assert_ok(result)
    assert engine_command(result).startswith(f"+ docker run -v {project}:/repo:ro ")
    assert "kas 5.5 started on" in result.stderr        # kas ran in the container


def assert_ok(result):
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    # -l debug echoes the scripts; an error is logged as " - ERROR ".
    assert " - ERROR " not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
