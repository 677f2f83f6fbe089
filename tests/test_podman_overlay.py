"""The CI set-up leaves a test user's podman storage on overlay, whatever ran
before (issue 28.3).

podman records the graph driver in a user's storage database when it first
runs as that user; storage initialised on vfs stays on vfs after
/etc/containers/storage.conf asks for overlay, and every container start
then copies the whole image.  .ci/setup-containers runs .ci/podman-overlay
for its user; here it runs on a scratch storage of ``kasci`` (its own HOME
and runtime directory: kasci's real storage is never touched) that podman
first initialised with vfs.
"""

import os
import shutil
import subprocess

import pytest
from helpers.containers import scratch_podman_home
from helpers.run import REPO_ROOT
from helpers.users import get_user

PODMAN_OVERLAY = os.path.join(REPO_ROOT, ".ci", "podman-overlay")
SYSTEM_STORAGE_CONF = "/etc/containers/storage.conf"
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

pytestmark = [pytest.mark.root, pytest.mark.container]


@pytest.fixture
def kasci():
    if os.getuid() != 0:
        pytest.skip("needs root: .ci/podman-overlay runs podman as another user")
    if shutil.which("podman", path=PATH) is None:
        pytest.skip("podman is not installed: run `sudo sh .ci/setup-containers`")
    try:
        with open(SYSTEM_STORAGE_CONF) as f:
            overlay = 'driver = "overlay"' in f.read()
    except OSError:
        overlay = False
    if not overlay:
        pytest.skip(f"{SYSTEM_STORAGE_CONF} does not ask for overlay: run "
                    "`sudo sh .ci/setup-containers`")
    return get_user("kasci", need_subids=True)


def podman(user, env, *args):
    return user.run(["podman", *args], cwd="/", env={**user.env(), "PATH": PATH, **env},
                    timeout=300)


def graph_driver(user, env):
    result = podman(user, env, "info", "--format", "{{.Store.GraphDriverName}}")
    assert result.returncode == 0, result
    return result.stdout.strip()


def podman_overlay(user, env):
    return subprocess.run(["sh", PODMAN_OVERLAY, user.name, env["HOME"], env["XDG_RUNTIME_DIR"]],
                          capture_output=True, text=True, timeout=600, check=False)


def test_storage_first_used_with_vfs_is_reset_to_overlay(kasci):
    """Issue 28.3: the storage podman set up on vfs before overlay was
    configured is reset, with a line saying so, and ends on overlay; a
    second run finds overlay and changes nothing."""
    with scratch_podman_home(kasci) as env:
        # podman used before overlay was configured...
        assert podman(kasci, env, "--storage-driver", "vfs", "info").returncode == 0
        # ...keeps vfs although storage.conf now asks for overlay.
        assert graph_driver(kasci, env) == "vfs"
        result = podman_overlay(kasci, env)
        assert result.returncode == 0, result
        assert result.stdout.splitlines() == [
            ("podman storage of kasci: vfs, not overlay: resetting it, which removes all of "
             "kasci's podman images and containers"),
            "podman storage of kasci: overlay now"], result
        assert graph_driver(kasci, env) == "overlay"
        again = podman_overlay(kasci, env)
        assert (again.returncode, again.stdout) == (0, "podman storage of kasci: overlay\n")


def test_storage_that_cannot_be_overlay_fails_the_set_up(kasci):
    """Issue 28.3: a user's own storage.conf that insists on vfs survives
    the reset: the script says so and fails instead of leaving a slow
    storage behind silently."""
    with scratch_podman_home(kasci, '[storage]\ndriver = "vfs"\n') as env:
        result = podman_overlay(kasci, env)
        assert result.returncode == 1, result
        assert "podman storage of kasci: vfs, not overlay: resetting it" in result.stdout
        assert (f"podman-overlay: the podman storage of kasci still uses vfs after the reset: "
                f"see podman info as kasci and {env['HOME']}/.config/containers/storage.conf"
                ) in result.stderr.replace("\n", " "), result
