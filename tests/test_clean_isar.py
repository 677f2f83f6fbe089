"""Cleaning interrupted Isar builds for real (CLI-173): files owned by
subordinate ids removed from a user namespace (isar-rootless), root-owned
files removed with sudo (isar-privileged), and the errors that name the fix.

The rootless tests run kas as an unprivileged user with subordinate ids
(``kasci`` when the tests run as root, see .ci/setup-test-users), on a tree
that user made inside ``unshare --map-auto --map-root-user`` with chown,
exactly what an interrupted isar-rootless build leaves behind.
"""

import os
import shutil

import pytest
from helpers.clean import snapshot
from helpers.repos import write
from helpers.run import assert_user_error
from helpers.users import copies_without_setuid, free_subid_fix, get_user, subordinate_ranges

# As the test users kasci / kasci-nosub, with sudo and unshare.
pytestmark = pytest.mark.root

UNSHARE_RM = "unshare --map-auto --map-root-user --keep-caps rm -rf"

# What an interrupted isar-rootless build leaves in tmp: a rootfs owned by
# the namespace's root and other mapped ids, read-only directories, and a
# symlink out of the tree (a rootfs has plenty).  Run as the build user
# inside `unshare --map-auto --map-root-user` (ns uid 0 is the user).
ROOTFS_SCRIPT = """
mkdir -p "$1/work/rootfs/etc" "$1/work/rootfs/usr/bin" "$1/work/rootfs/var/lib" "$1/deploy"
echo root:x:0:0 > "$1/work/rootfs/etc/passwd"
echo tool > "$1/work/rootfs/usr/bin/tool"
echo state > "$1/work/rootfs/var/lib/state"
echo image > "$1/deploy/image.wic"
ln -s "$2" "$1/work/rootfs/outside"
chown -R 1000:1000 "$1/work/rootfs/usr"
chown -R 100:101 "$1/work/rootfs/var"
chown 65534:65534 "$1/work/rootfs/etc/passwd"
chmod 0500 "$1/work/rootfs/usr/bin"
chmod 0700 "$1/work/rootfs/var/lib"
"""


def make_rootless_leftovers(user, base, tmp_name, outside):
    """``base/tmp_name``: a tree with entries owned by subordinate ids."""
    user.sh(f'unshare --map-auto --map-root-user sh -ec \'{ROOTFS_SCRIPT}\' - '
            f'"{tmp_name}" "{outside}"', cwd=base)


def owners(path):
    """uids of everything below ``path``, without following symlinks."""
    found = set()
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            found.add(os.lstat(os.path.join(root, name)).st_uid)
    return found


def build_dir_with(user, base, outside):
    """A work dir with a build dir holding conf, sstate, downloads and the
    rootless leftovers in tmp."""
    user.sh("mkdir -p build/conf build/sstate-cache/aa build/downloads && "
            "echo 'MACHINE = \"qemuarm64\"' > build/conf/local.conf && "
            "echo s > build/sstate-cache/aa/sstate.tgz && echo d > build/downloads/src.tgz",
            cwd=base)
    make_rootless_leftovers(user, os.path.join(base, "build"), "tmp", outside)


def test_rootless_clean_removes_subordinate_owned_files(rootless_user, user_dir):
    """Rootless clean removes files owned by subordinate ids, which plain rm
    as the user cannot, and nothing outside the build dir (CLI-173)."""
    user = rootless_user
    base = user_dir(user)
    outside = user_dir(user)
    user.sh("echo keep > sentinel", cwd=outside)
    build_dir_with(user, base, outside)
    tmp = os.path.join(base, "build", "tmp")
    assert owners(tmp) - {user.uid}, "the tree must hold files of subordinate ids"

    # The same tree cannot be removed by plain rm as the user...
    make_rootless_leftovers(user, base, "plain", outside)
    plain = user.run(["rm", "-rf", "plain"], cwd=base)
    assert plain.returncode != 0 and "Permission denied" in plain.stderr
    assert os.path.isdir(os.path.join(base, "plain", "work", "rootfs"))

    # ...but kas clean --isar-rootless removes it, without sudo.
    result = user.kas("-l", "debug", "clean", "--isar-rootless", cwd=base)
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    assert f"Removing {tmp}" in result.stderr
    assert UNSHARE_RM in result.stderr
    assert "sudo" not in result.stderr
    assert not os.path.lexists(tmp)
    assert os.path.isfile(os.path.join(base, "build", "conf", "local.conf"))
    assert os.path.isfile(os.path.join(base, "build", "sstate-cache", "aa", "sstate.tgz"))
    # The symlink out of the tree went, its target stayed.
    assert os.path.isfile(os.path.join(outside, "sentinel"))


def test_rootless_cleanall_with_build_system_from_config(rootless_user, user_dir):
    """cleanall takes isar-rootless from the config and removes through
    unshare, keeping conf, downloads and sstate-cache empty (CLI-172,
    CLI-175)."""
    user = rootless_user
    base = user_dir(user)
    outside = user_dir(user)
    build_dir_with(user, base, outside)
    user.sh("printf 'header:\\n  version: 14\\nbuild_system: isar-rootless\\n' > kas.yml",
            cwd=base)
    result = user.kas("-l", "debug", "cleanall", "kas.yml", cwd=base)
    assert result.returncode == 0, result
    assert UNSHARE_RM in result.stderr
    build = os.path.join(base, "build")
    assert sorted(os.listdir(build)) == ["conf", "downloads", "sstate-cache"]
    assert os.listdir(os.path.join(build, "sstate-cache")) == []
    assert os.listdir(os.path.join(build, "downloads")) == []


def test_rootless_dry_run_changes_nothing_and_enters_no_namespace(
        rootless_user, user_dir):
    """A rootless --dry-run changes nothing and enters no namespace
    (CLI-171)."""
    user = rootless_user
    base = user_dir(user)
    outside = user_dir(user)
    build_dir_with(user, base, outside)
    if os.getuid() != 0:
        pytest.skip("hashing a tree of subordinate ids needs root")
    before = snapshot(base)
    result = user.kas("-l", "debug", "cleanall", "--dry-run", "--isar-rootless", cwd=base)
    assert result.returncode == 0, result
    assert result.warnings() == ["Dry run, not removing anything"]
    assert "unshare" not in result.stderr
    assert snapshot(base) == before


def test_rootless_clean_reports_what_is_left(rootless_user, user_dir):
    """CLI-173: Files of an id outside the subordinate range (here real root) cannot
    go: kas says what is left and fails, it never claims success."""
    if os.getuid() != 0:
        pytest.skip("making files of another real user needs root")
    user = rootless_user
    base = user_dir(user)
    outside = user_dir(user)
    build_dir_with(user, base, outside)
    stuck = os.path.join(base, "build", "tmp", "work", "stuck")
    os.makedirs(os.path.join(stuck, "sub"))
    write(os.path.join(stuck, "sub", "file"), "root's\n")
    result = user.kas("clean", "--isar-rootless", cwd=base)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    [error] = result.errors()
    assert error.startswith(f"Could not remove everything in {base}/build/tmp")
    assert "5 entries are left" in error     # tmp, work, stuck, sub, file
    assert f"{stuck} (owner 0:0)" in error
    assert "subordinate ranges" in error
    # What could go, went.
    assert not os.path.exists(os.path.join(base, "build", "tmp", "deploy"))
    assert not os.path.exists(os.path.join(base, "build", "tmp", "work", "rootfs"))


def test_rootless_without_subordinate_ids_names_the_fix(user_dir):
    user = get_user("kasci-nosub", need_subids=False)
    base = user_dir(user)
    foreign = os.path.join(base, "build", "tmp", "rootfs")
    os.makedirs(foreign)
    write(os.path.join(foreign, "file"), "x\n")
    os.chown(os.path.join(base, "build"), user.uid, user.gid)
    os.chown(os.path.join(base, "build", "tmp"), user.uid, user.gid)
    os.chown(foreign, 100999, 100999)
    before = snapshot(base)
    result = user.kas("clean", "--isar-rootless", cwd=base)
    assert_user_error(result, (
        f"{user.name} has no subordinate uid range in /etc/subuid, which is needed to "
        "remove the files of an isar-rootless build. Ask an administrator to add one, "
        f"e.g.: {free_subid_fix(user.name)}"))
    assert snapshot(base) == before


def fake_program(directory, name, script):
    path = os.path.join(directory, name)
    write(path, "#!/bin/sh\n" + script)
    os.chmod(path, 0o755)
    return path


def test_rootless_with_unshare_lacking_map_auto_names_the_fix(rootless_user, user_dir):
    """util-linux before 2.38 has no --map-auto: a stand-in answers like it."""
    user = rootless_user
    base = user_dir(user)
    bin_dir = user_dir(user)
    fake_program(bin_dir, "unshare", """\
case "$1" in
--version) echo "unshare from util-linux 2.37.2"; exit 0;;
esac
echo "unshare: unrecognized option '--map-auto'" >&2
echo "Try 'unshare --help' for more information." >&2
exit 1
""")
    build_dir_with(user, base, bin_dir)
    env = user.env(PATH=f"{bin_dir}:/usr/bin:/bin")
    result = user.kas("clean", "--isar-rootless", cwd=base, env=env)
    assert_user_error(result, (
        f"{bin_dir}/unshare does not support --map-auto (unshare from util-linux 2.37.2), "
        "which is needed to remove the files of an isar-rootless build: install "
        "util-linux 2.38 or newer"))
    assert os.path.isdir(os.path.join(base, "build", "tmp", "work", "rootfs", "usr"))


def test_rootless_without_unshare_names_the_fix(rootless_user, user_dir):
    user = rootless_user
    base = user_dir(user)
    empty_bin = user_dir(user)
    build_dir_with(user, base, empty_bin)
    result = user.kas("clean", "--isar-rootless", cwd=base,
                      env=user.env(PATH=empty_bin))
    assert_user_error(result, (
        'Program "unshare" is required for: cleaning an isar-rootless build '
        "(util-linux 2.38 or newer)"))
    assert os.path.isdir(os.path.join(base, "build", "tmp", "work", "rootfs", "usr"))


# --- without mode flag or config (issue 25.3) --------------------------------

# What kas writes for build_system isar-rootless (GEN-024).
ROOTLESS_LOCAL_CONF = ('MACHINE ??= "qemuamd64"\\nDISTRO ??= "debian-bookworm"\\n'
                       'BBMULTICONFIG ?= ""\\nISAR_ROOTLESS ?= "1"\\n')


def rootless_build_dir(user, base, outside):
    """A build dir kas set up for isar-rootless, interrupted: tmp holds
    entries of subordinate ids."""
    build_dir_with(user, base, outside)
    user.sh(f"printf '{ROOTLESS_LOCAL_CONF}' > build/conf/local.conf", cwd=base)
    tmp = os.path.join(base, "build", "tmp")
    assert owners(tmp) - {user.uid}, "the tree must hold files of subordinate ids"
    return tmp


@pytest.mark.parametrize("command", ["clean", "cleansstate", "cleanall"])
def test_clean_without_mode_recognises_a_rootless_build_dir(rootless_user, user_dir,
                                                            command):
    """issue 25.3: no flag, no config: local.conf says ISAR_ROOTLESS, so
    the build dir is cleaned rootless (today: "12 entries are left", exit 1)."""
    user = rootless_user
    base = user_dir(user)
    tmp = rootless_build_dir(user, base, user_dir(user))
    result = user.kas("-l", "debug", command, cwd=base)
    assert result.returncode == 0, result
    assert result.errors() == [], result
    assert (f"{base}/build/conf/local.conf sets ISAR_ROOTLESS: cleaning an isar-rootless "
            "build") in result.stderr
    assert UNSHARE_RM in result.stderr and "sudo" not in result.stderr
    assert not os.path.lexists(tmp)
    build = os.path.join(base, "build")
    emptied = {"clean": [], "cleansstate": ["sstate-cache"],
               "cleanall": ["sstate-cache", "downloads"]}[command]
    for name in ("sstate-cache", "downloads"):
        assert (os.listdir(os.path.join(build, name)) == []) == (name in emptied), name


def test_purge_without_mode_recognises_a_rootless_build_dir(rootless_user, user_dir):
    """issue 25.3: purge (its config names no build system) too."""
    user = rootless_user
    base = user_dir(user)
    rootless_build_dir(user, base, user_dir(user))
    user.sh("printf 'header:\\n  version: 14\\n' > kas.yml", cwd=base)
    result = user.kas("purge", "kas.yml", cwd=base)
    assert result.returncode == 0, result
    assert not os.path.lexists(os.path.join(base, "build"))


def test_plain_clean_names_the_owner_and_the_command(rootless_user, user_dir):
    """issue 25.3: a build dir kas cannot recognise (its local.conf says
    nothing of ISAR_ROOTLESS): one error naming what is left, its owners
    (subordinate ids) and the command that removes it, which then does."""
    user = rootless_user
    base = user_dir(user)
    build_dir_with(user, base, user_dir(user))
    user.sh("printf 'header:\\n  version: 14\\n' > kas.yml", cwd=base)
    tmp = os.path.join(base, "build", "tmp")
    result = user.kas("clean", "kas.yml", cwd=base)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    [error] = result.errors()
    assert error.startswith(f"Could not remove everything in {tmp} (Permission denied): ")
    subordinate = sorted(owners(tmp) - {user.uid})
    [(start, count)] = subordinate_ranges(user.name, user.uid)
    assert subordinate and all(start <= uid < start + count for uid in subordinate), subordinate
    shown = ", ".join(map(str, subordinate[:3])) + (" …" if len(subordinate) > 3 else "")
    plural = "s" if len(subordinate) > 1 else ""
    assert error.endswith(
        f"Entries owned by {shown}, your subordinate id{plural}, are what an interrupted "
        "isar-rootless build leaves; only a user namespace can remove them. "
        "Run: kas clean --isar-rootless kas.yml"), error
    again = user.kas("clean", "--isar-rootless", "kas.yml", cwd=base)
    assert again.returncode == 0, again
    assert not os.path.lexists(tmp)


# --- newuidmap installed but failing (issue 25.3) -----------------------------

def newuidmap_fix(newuidmap, newgidmap):
    return (f"{newuidmap} and {newgidmap} are installed but could not map your subordinate "
            "ids: they must be setuid root (or have the cap_setuid/cap_setgid file "
            "capabilities) on a file system mounted without nosuid, and they do not work "
            "under a tracer such as strace")


NAMESPACE_FAILED = ("Cannot map your subordinate ids into a user namespace, which is needed "
                    "to remove the files of an isar-rootless build: ")
MAP_COMMAND = "unshare --map-auto --map-root-user --keep-caps true"


def test_rootless_clean_with_newuidmap_without_setuid(rootless_user, user_dir):
    """issue 25.3: the command and newuidmap's own words, not "install
    the uidmap package" (it is installed)."""
    user = rootless_user
    base = user_dir(user)
    bin_dir = user_dir(user)
    tools = copies_without_setuid(bin_dir)
    build_dir_with(user, base, bin_dir)
    result = user.kas("clean", "--isar-rootless", cwd=base,
                      env=user.env(PATH=f"{bin_dir}:/usr/bin:/bin"))
    assert_user_error(result, (
        f'{NAMESPACE_FAILED}Command "{MAP_COMMAND}" failed: newuidmap: write to uid_map '
        f"failed: Operation not permitted. Fix: {newuidmap_fix(*tools)}"))
    assert os.path.isdir(os.path.join(base, "build", "tmp", "work", "rootfs", "usr"))


def test_rootless_clean_under_strace(rootless_user, user_dir):
    """issue 25.3: under a tracer the setuid bit of newuidmap does nothing."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    user = rootless_user
    base = user_dir(user)
    build_dir_with(user, base, user_dir(user))
    result = user.run([strace, "-f", "-o", "/dev/null", user.python, "-m", "kas", "clean",
                       "--isar-rootless"], cwd=base)
    if "ptrace" in result.stderr and "kas" not in result.stderr:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()}")
    from helpers.run import KasResult

    tools = [shutil.which(name) for name in ("newuidmap", "newgidmap")]
    assert_user_error(KasResult(result), (
        f'{NAMESPACE_FAILED}Command "{MAP_COMMAND}" failed: newuidmap: write to uid_map '
        f"failed: Operation not permitted. Fix: {newuidmap_fix(*tools)}"))


def test_rootless_clean_without_newuidmap_names_the_package(rootless_user, user_dir):
    """Not installed: then the uidmap package is the fix."""
    user = rootless_user
    base = user_dir(user)
    bin_dir = user_dir(user)
    for name in ("unshare", "rm"):
        os.symlink(shutil.which(name), os.path.join(bin_dir, name))
    build_dir_with(user, base, bin_dir)
    result = user.kas("clean", "--isar-rootless", cwd=base, env=user.env(PATH=bin_dir))
    assert_user_error(result, (
        f"{NAMESPACE_FAILED}newuidmap and newgidmap not found on PATH: "
        f'Command "{MAP_COMMAND}" failed: unshare: failed to execute newuidmap: '
        "No such file or directory. Fix: install the uidmap package"))


def test_rootless_as_root_removes_without_a_namespace(workdir):
    """Root can remove any file itself (kas in a container runs as builder,
    not root; this is the bare-metal case)."""
    if os.getuid() != 0:
        pytest.skip("runs as root")
    from helpers.run import run_kas

    rootfs = workdir / "build" / "tmp" / "rootfs"
    rootfs.mkdir(parents=True)
    write(rootfs / "file", "x\n")
    os.chown(rootfs, 100999, 100999)
    result = run_kas("-l", "debug", "clean", "--isar-rootless", cwd=workdir)
    assert result.returncode == 0, result
    assert "unshare" not in result.stderr
    assert not (workdir / "build" / "tmp").exists()


# --- isar-privileged with the real sudo ----------------------------------

def make_root_owned_tree(base, name):
    """What an interrupted privileged Isar build leaves: root's files."""
    top = os.path.join(base, name)
    os.makedirs(os.path.join(top, "work", "rootfs", "etc"))
    write(os.path.join(top, "work", "rootfs", "etc", "shadow"), "root:*:\n")
    os.chmod(os.path.join(top, "work", "rootfs"), 0o700)


@pytest.fixture
def sudo_user():
    if os.getuid() != 0:
        pytest.skip("making root-owned files needs root")
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed: run .ci/setup-test-users after installing sudo")
    user = get_user("kasci", need_subids=None)
    if user.run(["sudo", "-n", "true"], cwd="/").returncode != 0:
        pytest.skip(f"{user.name} may not use sudo without a password: "
                    "run `sudo sh .ci/setup-test-users`")
    return user


def test_privileged_clean_uses_sudo_for_root_owned_files(sudo_user, user_dir):
    """Privileged clean removes root-owned files through sudo (CLI-173)."""
    user = sudo_user
    base = user_dir(user)
    build = os.path.join(base, "build")
    user.sh("mkdir -p build/conf build/tmp-glibc", cwd=base)
    make_root_owned_tree(build, "tmp")
    make_root_owned_tree(base, "plain")
    plain = user.run(["rm", "-rf", "plain"], cwd=base)
    assert plain.returncode != 0 and "Permission denied" in plain.stderr

    result = user.kas("-l", "debug", "clean", "--isar-privileged", cwd=base)
    assert result.returncode == 0, result
    assert ("sudo --prompt '[sudo] enter password for %U to clean ISAR artifacts' rm -rf "
            f"{build}/tmp {build}/tmp-glibc") in result.stderr
    assert sorted(os.listdir(build)) == ["conf"]


def test_privileged_clean_failing_sudo_reports_what_is_left(user_dir):
    """A user without sudo rights: sudo fails, kas says so and what is left."""
    if os.getuid() != 0 or shutil.which("sudo") is None:
        pytest.skip("needs root and sudo")
    user = get_user("kasci-nosub", need_subids=None)
    base = user_dir(user)
    user.sh("mkdir build", cwd=base)
    make_root_owned_tree(os.path.join(base, "build"), "tmp")
    result = user.kas("clean", "--isar", cwd=base)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    [error] = result.errors()
    # tmp, work, rootfs; the user cannot look into rootfs (0700).
    assert error.startswith(
        f"Could not remove everything in {base}/build/tmp: at least 3 entries are left")
    assert "Command \"" in error and "sudo --prompt" in error
    assert os.path.isfile(os.path.join(base, "build", "tmp", "work", "rootfs", "etc",
                                       "shadow"))


def test_mount_below_a_target_is_refused(rootless_user, user_dir):
    """An interrupted Isar build can leave mounts in its rootfs; rm -rf
    would descend into them."""
    user = rootless_user
    base = user_dir(user)
    user.sh("mkdir -p build/tmp/work/rootfs/proc", cwd=base)
    script = ("mount -t tmpfs none build/tmp/work/rootfs/proc && "
              "echo data > build/tmp/work/rootfs/proc/keep && "
              f"exec {user.python} -m kas clean --isar-rootless")
    result = user.run(["unshare", "--map-root-user", "--mount", "sh", "-c", script],
                      cwd=base)
    if "mount:" in result.stderr and "kas" not in result.stderr:
        pytest.skip(f"cannot mount in a user namespace here: {result.stderr.strip()}")
    assert result.returncode == 1, result
    assert ("a file system is mounted at "
            f"{base}/build/tmp/work/rootfs/proc") in result.stderr
    assert os.path.isdir(os.path.join(base, "build", "tmp", "work", "rootfs"))



def test_read_only_trees_of_the_user_are_removed(user_dir):
    """CLI-173, CLI-175: As a non-root user (root ignores permissions): read-only trees of the
    user's own, like Go's module cache, in tmp and in the downloads, which
    plain rm -rf cannot remove."""
    user = get_user("kasci", need_subids=None)
    base = user_dir(user)
    script = ("mkdir -p {t}/go/pkg/mod/example.com/m@v1/sub && "
              "echo x > {t}/go/pkg/mod/example.com/m@v1/sub/file.go && "
              "chmod -R a-w {t}/go")
    user.sh(" && ".join(script.format(t=t) for t in
                        ("build/tmp/work", "build/downloads", "plain")), cwd=base)
    plain = user.run(["rm", "-rf", "plain"], cwd=base)
    assert plain.returncode != 0 and "Permission denied" in plain.stderr
    result = user.kas("cleanall", cwd=base)
    assert result.returncode == 0, result
    assert not os.path.lexists(os.path.join(base, "build", "tmp"))
    assert os.listdir(os.path.join(base, "build", "downloads")) == []
