"""Real Isar images through kas-container (issue 25): built rootless,
interrupted, cleaned and built again, as the unprivileged user ``kasci``
with rootless podman and the kas-isar image built from this tree.

* `kas-container --isar-rootless build examples/isar-rootless.yml` makes
  ``build/tmp/deploy/images/qemuamd64/*.wic`` without ever running sudo:
  a recording, failing ``sudo`` is first on the host PATH and replaces
  /usr/bin/sudo in the container (issue 25.1, 25.2).
* `kas-container doctor --isar-rootless` is content with this host, and
  names the fix when the image is missing (issue 25.2).
* A build interrupted by Ctrl-C (once, then twice) during the root file
  system step leaves entries owned by subordinate ids in ``build/tmp``;
  `kas-container --isar-rootless clean`, then the host's
  `kas clean --isar-rootless`, leave no ``tmp*`` entry, and the build
  succeeds again (issue 25.3).
* `kas-container --isar-privileged build examples/isar.yml` (sudo podman)
  builds too, or the test says exactly what stops it (issue 25.2).

All builds share one download directory and one sstate cache, so the
Debian packages are fetched once (tests/helpers/isar.py).  These tests
need the Debian mirror and the Isar bundle: in CI they fail without them,
elsewhere they skip; `-m 'not isar'` deselects them.
"""

import os
import signal
import subprocess
import time

import pytest
from helpers.containers import as_root, kas_images, podman_user, rootful_image
from helpers.isar import (
    IsarCache,
    example_project,
    foreign_owned,
    images_of,
    missing,
    recording_sudo,
    require,
    subordinate_owned,
    sudo_calls,
    tmp_entries,
)
from helpers.run import REPO_ROOT

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.isar,
              pytest.mark.root, pytest.mark.e2e]

KAS_CONTAINER = os.path.join(REPO_ROOT, "kas-container")
ROOTLESS = "examples/isar-rootless.yml"
PRIVILEGED = "examples/isar.yml"
BUILD_TIMEOUT = 3600
# The tasks whose start means the root file system of the image is being
# made in a user namespace: installed (cold), or unpacked from the sstate
# cache the builds share (setscene).  A Ctrl-C then leaves most behind.
ROOTFS_STARTED = ("isar-image-base-1.0-r0: task do_rootfs_install: Started",
                  "isar-image-base-1.0-r0: task do_rootfs_install_setscene: Started")
# The image step: the wic image is made from that root file system (in a
# namespace again).
IMAGE_STARTED = ("isar-image-base-1.0-r0: task do_image_wic: Started",)
# Seconds into that task before the Ctrl-C.
GRACE = 5
INTERRUPT_TIMEOUT = 1800
EXIT_TIMEOUT = 300


@pytest.fixture(scope="module")
def user():
    return require(podman_user)


@pytest.fixture(scope="module")
def images(user):
    """The images of this tree, the kas-isar one under a tag of this test
    run: the builds take many minutes, and on a shared machine another test
    run may build and tag another tree's image meanwhile."""
    built = kas_images(user)
    own = f"{built['kas-isar']}-isar-test-{os.getpid()}"
    tagged = user.podman("tag", built["kas-isar"], own)
    assert tagged.returncode == 0, tagged.stderr
    yield {**built, "kas-isar": own}
    user.podman("rmi", own)
    # (the privileged test's copy in root's storage, if any)
    subprocess.run(as_root("podman", "rmi", "--ignore", own), check=False,
                   capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def cache(user):
    return require(lambda: IsarCache(user))


@pytest.fixture(scope="module")
def shared(user):
    """A directory of the user for this module: the sstate cache all builds
    share and the sudo stand-ins."""
    path = user.mkdtemp(prefix="kas-isar-build-")
    yield path
    user.rmtree(path)


class Runner:
    """kas-container as the test user, in one project, with the premirror,
    the shared downloads and sstate, and (``record_sudo``) sudo stand-ins
    on the host and in the container that record every call and fail."""

    def __init__(self, user, images, cache, shared, project):
        self.user = user
        self.project = project
        self.build = os.path.join(project, "build")
        self.image = images["kas-isar"]
        self.mirror = cache.mirror
        self.record_sudo = True
        self.env = {
            "KAS_CONTAINER_ENGINE": "podman",
            "KAS_CONTAINER_IMAGE": self.image,
            "KAS_PREMIRRORS": cache.premirrors,
            "DL_DIR": cache.downloads,
            "SSTATE_DIR": os.path.join(shared, "sstate"),
        }
        self.host_sudo_log = os.path.join(shared, "host-sudo.log")
        self.host_bin = os.path.join(shared, "host-bin")
        recording_sudo(user, self.host_bin, self.host_sudo_log)
        # /work in the container is the project (the work directory).
        self.container_sudo_log = os.path.join(project, "container-sudo.log")
        self.container_sudo = recording_sudo(user, os.path.join(shared, "container-bin"),
                                             "/work/container-sudo.log")

    def argv(self, *args):
        mounts = f"-v {self.mirror}:{self.mirror}:ro"
        if self.record_sudo:
            mounts += f" -v {self.container_sudo}:/usr/bin/sudo:ro"
        return [KAS_CONTAINER, "--runtime-args", mounts, *args]

    def user_env(self):
        env = self.user.env(**self.env)
        if self.record_sudo:
            env["PATH"] = f"{self.host_bin}:{env['PATH']}"
        return env

    def run(self, *args, timeout=BUILD_TIMEOUT):
        return self.user.run(self.argv(*args), cwd=self.project, env=self.user_env(),
                             timeout=timeout)

    def start(self, *args, log):
        """``kas-container ARGS`` in its own session (its own process group,
        like a shell's foreground job), output into ``log``."""
        switch = {} if self.user.is_me else {"user": self.user.uid, "group": self.user.gid,
                                             "extra_groups": []}
        with open(log, "wb") as out:
            return subprocess.Popen(self.argv(*args), cwd=self.project, env=self.user_env(),
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    **switch)

    def sudo_calls(self):
        return sudo_calls(self.host_sudo_log) + sudo_calls(self.container_sudo_log)


@pytest.fixture
def runner(user, cache, images, shared):
    project = user.mkdtemp(prefix="kas-isar-project-")
    example_project(user, project)
    yield Runner(user, images, cache, shared, project)
    user.rmtree(project)


def assert_ok(result):
    assert result.returncode == 0, \
        f"{result.args}\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-6000:]


def assert_built(runner, result):
    assert_ok(result)
    assert images_of(runner.build), (runner.build, result.stderr[-6000:])
    with open(os.path.join(runner.build, "conf", "local.conf")) as f:
        assert 'ISAR_ROOTLESS ?= "1"' in f.read()
    # Neither kas-container on the host nor anything in the container
    # (entrypoint, kas, bitbake, Isar) ran sudo.
    assert runner.sudo_calls() == []


def wait_for_line(proc, log, texts, timeout):
    """Wait until one of ``texts`` appears in ``log``; fail if ``proc``
    ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, errors="replace") as f:
            output = f.read()
        if any(text in output for text in texts):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    with open(log, errors="replace") as f:
        tail = f.read()[-6000:]
    pytest.fail(f"none of {texts!r} within {timeout} s (exit {proc.poll()}):\n{tail}")


def interrupt(runner, log, signals, step):
    """Start a rootless build, press Ctrl-C ``signals`` times once one of
    the tasks ``step`` started (SIGINT to the foreground process group, as
    a terminal does), and wait for kas-container."""
    proc = runner.start("--isar-rootless", "build", ROOTLESS, log=log)
    try:
        wait_for_line(proc, log, step, INTERRUPT_TIMEOUT)
        time.sleep(GRACE)
        for number in range(signals):
            if number:
                time.sleep(3)
            os.killpg(proc.pid, signal.SIGINT)
        returncode = proc.wait(timeout=EXIT_TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(log, errors="replace") as f:
        output = f.read()
    # kas's exit status for an interruption, passed on by podman and
    # kas-container; the image was not made.
    assert returncode == 130, output[-6000:]
    assert not images_of(runner.build), output[-6000:]
    return output


def assert_leftovers(runner, output):
    """The interrupted build left entries only subordinate ids own."""
    entries = tmp_entries(runner.build)
    foreign = subordinate_owned(runner.user, entries)
    assert foreign, (f"{len(entries)} entries in build/tmp*, none owned by a subordinate "
                     f"id:\n{output[-4000:]}")
    # What makes a plain rm fail for the user.
    denied = runner.user.run(["rm", "-rf", os.path.join(runner.build, "tmp")])
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    print(f"{len(foreign)} of {len(entries)} entries in build/tmp* owned by "
          "subordinate ids")


def assert_no_tmp(runner):
    left = sorted(tmp_entries(runner.build))
    assert left == [], left[:20]
    assert os.path.isdir(os.path.join(runner.build, "conf"))


def test_doctor_isar_rootless_is_content_with_this_host(runner):
    """issue 25.2: doctor --isar-rootless on the host the builds run on:
    no FAIL, exit 0, the image present, nested user namespaces work."""
    result = runner.run("doctor", "--isar-rootless", ROOTLESS, timeout=300)

    assert_ok(result)
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("FAIL")] == [], result.stdout
    for check in ("engine-answers", "mode", "image", "subuid", "subgid", "newuidmap",
                  "newgidmap", "nested-userns"):
        assert any(line.startswith("ok") and f" {check} " in line for line in lines), \
            (check, result.stdout)
    assert f"{runner.image} present" in result.stdout


def test_doctor_isar_rootless_names_the_fix_for_a_missing_image(runner):
    """issue 25.2: a missing piece is a FAIL with the command that fixes it
    (the other pieces: tests/test_kas_container_doctor.py)."""
    runner.env["KAS_CONTAINER_IMAGE"] = "localhost/kas/kas-isar:0.0-missing"

    result = runner.run("doctor", "--isar-rootless", ROOTLESS, timeout=300)

    assert result.returncode == 1, result
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert "localhost/kas/kas-isar:0.0-missing is not in the local storage" in line
    assert "fix: " in line and "contrib/build-images --target kas-isar --engine podman" \
        in line, line


def test_rootless_container_build_makes_the_image_without_sudo(runner):
    """issue 25.1, 25.2: the example as is, through kas-container."""
    result = runner.run("--isar-rootless", "build", ROOTLESS)

    assert_built(runner, result)


def test_interrupted_builds_cleaned_by_kas_container_and_by_host_kas(runner, tmp_path):
    """issue 25.3: one Ctrl-C during the image's rootfs step leaves entries
    of subordinate ids; `kas-container --isar-rootless clean` removes every
    tmp* entry.  The build starts again from there and two Ctrl-C stop it
    in the image step; the host's `kas clean --isar-rootless` as the user
    (no container, no sudo) removes it all; then the build succeeds.  (One
    project for both: the second build is also the proof that the first
    clean left a build directory bitbake can use.)"""
    output = interrupt(runner, str(tmp_path / "once.log"), signals=1, step=ROOTFS_STARTED)
    assert_leftovers(runner, output)

    result = runner.run("--isar-rootless", "clean", timeout=600)

    assert_ok(result)
    assert_no_tmp(runner)

    output = interrupt(runner, str(tmp_path / "twice.log"), signals=2, step=IMAGE_STARTED)
    assert_leftovers(runner, output)

    result = runner.user.kas("clean", "--isar-rootless", cwd=runner.project, timeout=600,
                             env=runner.user.env(PATH=runner.user_env()["PATH"]))

    assert result.returncode == 0, result
    assert result.errors() == [], result
    assert_no_tmp(runner)
    assert runner.sudo_calls() == []
    assert_built(runner, runner.run("--isar-rootless", "build", ROOTLESS))


def test_privileged_container_build(user, cache, images, runner):
    """issue 25.2: isar-privileged through `sudo podman` builds the other
    example here (the VM's rootful podman needs the runc/ulimit settings of
    .ci/setup-containers); real sudo on both sides, as the mode requires.
    The same downloads and sstate cache serve it: nothing in them becomes
    root's."""
    if user.run(["sudo", "-n", "true"]).returncode != 0:
        missing(f"{user.name} has no passwordless sudo (isar-privileged runs `sudo podman`): "
                "run `sudo sh .ci/setup-test-users`")
    rootful_image(user, images["kas-isar"])
    runner.record_sudo = False

    result = runner.run("--isar-privileged", "build", PRIVILEGED)

    assert_ok(result)
    assert images_of(runner.build), result.stderr[-6000:]
    with open(os.path.join(runner.build, "conf", "local.conf")) as f:
        assert "ISAR_ROOTLESS" not in f.read()
    # Privileged: the root file systems belong to the host's root.
    entries = tmp_entries(runner.build)
    assert any(st.st_uid == 0 for st in entries.values())
    for shared_dir in (runner.env["DL_DIR"], runner.env["SSTATE_DIR"]):
        assert foreign_owned(user, shared_dir) == [], shared_dir

    cleaned = runner.run("--isar-privileged", "clean", timeout=600)

    assert_ok(cleaned)
    assert_no_tmp(runner)
