"""container-entrypoint (KC-100..124): the subordinate id ranges it derives
from the container's id maps, and the real images started by rootless podman
the way kas-container starts them.

The mapping tests source the script (``KAS_ENTRYPOINT_LIBRARY=1``) and run
its functions on synthetic ``uid_map``/``gid_map`` files below a temporary
root.  The image tests (see tests/helpers/containers.py) run the entrypoint in
the images built from this tree; where the test needs to see what the
entrypoint hands over to kas (user, environment, working directory) a small
``kas`` script put first on PATH reports it: the entrypoint itself is real.
"""

import os
import subprocess

import pytest
from helpers.containers import kas_images, podman_user
from helpers.run import REPO_ROOT, parse_env
from helpers.users import subordinate_ranges

ENTRYPOINT = os.path.join(REPO_ROOT, "container-entrypoint")


def kernel_map(*lines):
    """An id map as the kernel prints it: right-aligned in 10 columns."""
    return "".join(f"{a:>10} {b:>10} {n:>10}\n" for a, b, n in lines)


def plain_map(*lines):
    return "".join(f"{a} {b} {n}\n" for a, b, n in lines)


def source_and_run(script, *args):
    """Source the entrypoint in library mode, then run ``script`` with
    ``args`` as positional parameters."""
    return subprocess.run(["sh", "-c", f'. "$0"; {script}', ENTRYPOINT, *args],
                          check=False, capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, KAS_ENTRYPOINT_LIBRARY="1"))


def write_subids(tmp_path, uid_map, gid_map, uid, gid):
    """Run write_subid_files on ``tmp_path`` as root prefix; returns
    (subuid, subgid) file contents."""
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "proc" / "self" / "uid_map").write_text(uid_map)
    (tmp_path / "proc" / "self" / "gid_map").write_text(gid_map)
    # stale content must be replaced, not appended to
    (tmp_path / "etc" / "subuid").write_text("builder:1:2\nother:3:4\n")
    result = source_and_run('write_subid_files "$@"', str(tmp_path), str(uid), str(gid))
    assert result.returncode == 0, result
    assert result.stdout == "" and result.stderr == "", result
    return ((tmp_path / "etc" / "subuid").read_text(),
            (tmp_path / "etc" / "subgid").read_text())


MAPPINGS = {
    # KC-122: podman --userns=keep-id, host user 1000, 65536 subordinate ids
    "podman-keep-id-1000": ([(0, 1, 1000), (1000, 0, 1), (1001, 1001, 64536)], 1000,
                            "builder:1001:64536"),
    # containers.md: the same for kasci (uid 1001)
    "podman-keep-id-1001": ([(0, 1, 1001), (1001, 0, 1), (1002, 1002, 64535)], 1001,
                            "builder:1002:64535"),
    # KC-123: rootless docker, the direct mapping
    "rootless-docker": ([(0, 1000, 1), (1, 100000, 65536)], 1000, "builder:1001:64535"),
    # KC-123: a larger subordinate range makes nobody/nogroup mappable
    "rootless-docker-large": ([(0, 1000, 1), (1, 100000, 1000000)], 1000,
                              "builder:1001:998999"),
    # KC-123 edge: builder's id + 1 >= N leaves the count at N
    "rootless-docker-small": ([(0, 1000, 1), (1, 100000, 1000)], 1000, "builder:1001:1000"),
    "rootless-docker-id-plus-one-is-n": ([(0, 1000, 1), (1, 100000, 1001)], 1000,
                                         "builder:1001:1001"),
    # Project deviation from KC-124 (system docker, rootful podman): the range
    # must not contain the container's uid 0, or nested mounts fail.
    "system-docker": ([(0, 0, 4294967295)], 1000, "builder:1001:4294966294"),
    "system-docker-default-builder": ([(0, 0, 4294967295)], 30000,
                                      "builder:30001:4294937294"),
}


@pytest.mark.parametrize("layout", [kernel_map, plain_map], ids=["kernel", "unaligned"])
@pytest.mark.parametrize("case", sorted(MAPPINGS))
def test_subid_files_from_id_maps(tmp_path, case, layout):
    lines, builder_id, expected = MAPPINGS[case]
    subuid, subgid = write_subids(tmp_path, layout(*lines), layout(*lines),
                                  builder_id, builder_id)
    assert subuid == expected + "\n"
    assert subgid == expected + "\n"


def test_uid_and_gid_maps_are_read_separately(tmp_path):
    """The subuid range comes from uid_map and builder's uid, the subgid
    range from gid_map and builder's gid."""
    subuid, subgid = write_subids(
        tmp_path,
        kernel_map((0, 1, 1000), (1000, 0, 1), (1001, 1001, 64536)),
        kernel_map((0, 2000, 1), (1, 200000, 65536)),
        1000, 100)
    assert subuid == "builder:1001:64536\n"
    assert subgid == "builder:101:65435\n"


@pytest.mark.parametrize("order", ["ascending", "descending", "mixed"])
def test_line_with_largest_first_column_wins(order):
    """Unaligned maps: the largest first column numerically, wherever the
    line is (a text sort would take 999 over 1001)."""
    lines = {"ascending": [(0, 1, 999), (999, 0, 1), (1001, 5000, 7)],
             "descending": [(1001, 5000, 7), (999, 0, 1), (0, 1, 999)],
             "mixed": [(999, 0, 1), (1001, 5000, 7), (0, 1, 999)]}[order]
    result = subprocess.run(["sh", "-c", '. "$0"; subid_range /dev/stdin 999', ENTRYPOINT],
                            input=plain_map(*lines), check=False, capture_output=True,
                            text=True, env=dict(os.environ, KAS_ENTRYPOINT_LIBRARY="1"),
                            timeout=30)
    assert (result.returncode, result.stdout) == (0, "5000:7\n"), result


def test_empty_map_is_an_error(tmp_path):
    empty = tmp_path / "uid_map"
    empty.write_text("")
    result = source_and_run('subid_range "$1" 1000', str(empty))
    assert result.returncode != 0
    assert result.stdout == ""


def test_sourcing_does_not_run_main():
    """Library mode: no dispatch (main would run kas or bash and print)."""
    result = source_and_run("echo sourced", "build")
    assert (result.returncode, result.stdout, result.stderr) == (0, "sourced\n", ""), result


# ---------------------------------------------------------------------------
# The real images, started like kas-container starts them.

FAKE_KAS = r"""#!/bin/sh
# Reports what container-entrypoint handed over; `shell -c CMD` runs CMD.
if [ "$1" = shell ] && [ "$2" = -c ]; then
    exec sh -c "$3"
fi
echo "args=$*"
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "user=$(id -un)"
echo "home_owner=$(stat -c %u:%g /builder)"
echo "pwd=$(pwd)"
echo "TERM=${TERM-unset}"
echo "timezone=$(cat /etc/timezone 2>/dev/null)"
echo "localtime=$(readlink /etc/localtime)"
echo "date_zone=$(date +%Z)"
echo "subuid=$(cat /etc/subuid 2>/dev/null)"
echo "subgid=$(cat /etc/subgid 2>/dev/null)"
"""
FAKE_PATH = "/opt/fake-kas:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="session")
def images():
    return kas_images(podman_user())


@pytest.fixture(scope="session")
def user():
    return podman_user()


@pytest.fixture
def fake_kas(user):
    """Options that put the reporting ``kas`` first on PATH."""
    path = user.mkdtemp(prefix="kas-fake-")
    script = os.path.join(path, "kas")
    with open(script, "w") as f:
        f.write(FAKE_KAS)
    os.chmod(script, 0o755)
    yield ["-v", f"{path}:/opt/fake-kas:ro", "-e", f"PATH={FAKE_PATH}"]
    user.rmtree(path)


def kas_container_options(user, isar=False, extra=()):
    """What kas-container passes in OE mode (KC-060) resp. isar-rootless mode
    with rootless podman (KC-061)."""
    options = ["--user=root", "--userns=keep-id"]
    if isar:
        options.append("--privileged")
    return [*options, "-e", f"USER_ID={user.uid}", "-e", f"GROUP_ID={user.gid}", *extra]


def subordinate_range(user, table):
    """(start, count) of ``user``'s entry in /etc/subuid resp. /etc/subgid."""
    ranges = subordinate_ranges(user.name, user.uid, table)
    assert ranges, f"no {table} entry for {user.name}"
    return ranges[0]


def report(user, image, options, *args):
    result = user.podman_run(image, *(args or ("build", "kas.yml")), options=options)
    assert result.returncode == 0, result
    return parse_env(result.stdout)


@pytest.mark.root
@pytest.mark.container
@pytest.mark.parametrize("flavour", ["kas", "kas-isar"])
def test_builder_gets_the_callers_ids(user, images, fake_kas, flavour):
    """KC-105/108/109: builder takes USER_ID/GROUP_ID, owns its home, kas
    runs as builder in /builder with all arguments."""
    info = report(user, images[flavour],
                  kas_container_options(user, isar=flavour == "kas-isar", extra=fake_kas),
                  "build", "--target", "x", "kas.yml")
    assert info["args"] == "build --target x kas.yml"
    assert (info["uid"], info["gid"], info["user"]) == (str(user.uid), str(user.gid), "builder")
    assert info["home_owner"] == f"{user.uid}:{user.gid}"
    assert info["pwd"] == "/builder"


@pytest.mark.root
@pytest.mark.container
@pytest.mark.parametrize("command", ["checkout", "clean", "cleanall", "cleansstate", "diff",
                                     "dump", "for-all-repos", "lock", "menu", "purge", "-l"])
def test_kas_commands_are_dispatched(user, images, fake_kas, command):
    info = report(user, images["kas"], kas_container_options(user, extra=fake_kas),
                  command, "arg")
    assert info["args"] == f"{command} arg"
    assert info["uid"] == str(user.uid)


@pytest.mark.root
@pytest.mark.container
@pytest.mark.parametrize("command", ["bitbake", "bash", "true"])
def test_other_commands_are_refused(user, images, command):
    """KC-109: a kas-container call (USER_ID set) runs nothing but kas."""
    result = user.podman_run(images["kas"], command, options=kas_container_options(user))
    assert result.returncode == 1, result
    assert f'kas-container: this container does not support "kas {command}"' \
        in result.stderr, result


@pytest.mark.root
@pytest.mark.container
def test_kas_version(user, images):
    """The real kas of the image, run through the entrypoint."""
    result = user.podman_run(images["kas"], "--version", options=kas_container_options(user))
    assert result.returncode == 0, result
    assert result.stdout.startswith("kas 5.5 "), result


@pytest.mark.root
@pytest.mark.container
def test_unknown_term_falls_back_to_xterm(user, images, fake_kas):
    """A TERM the image has no terminfo for falls back to xterm; a known one
    stays (KC-103)."""
    options = kas_container_options(user, extra=fake_kas)
    assert report(user, images["kas"], [*options, "-e", "TERM=no-such-terminal"])["TERM"] \
        == "xterm"
    assert report(user, images["kas"], [*options, "-e", "TERM=vt100"])["TERM"] == "vt100"


@pytest.mark.root
@pytest.mark.container
def test_host_timezone(user, images, fake_kas):
    """KC-105: KAS_HOST_TZ naming a zoneinfo file sets the container's zone;
    an unknown one is ignored."""
    options = kas_container_options(user, extra=fake_kas)
    info = report(user, images["kas"], [*options, "-e", "KAS_HOST_TZ=Asia/Tokyo"])
    assert info["timezone"] == "Asia/Tokyo"
    assert info["localtime"] == "/usr/share/zoneinfo/Asia/Tokyo"
    assert info["date_zone"] == "JST"
    info = report(user, images["kas"], [*options, "-e", "KAS_HOST_TZ=No/Such_Zone"])
    assert info["timezone"] != "No/Such_Zone"
    assert info["date_zone"] == "UTC"


@pytest.mark.root
@pytest.mark.container
def test_subids_under_keep_id(user, images, fake_kas):
    """KC-106/122: podman keep-id maps host uid+1.. (the subordinate ids)
    to the same ids in the container; builder gets them."""
    info = report(user, images["kas-isar"], kas_container_options(user, isar=True, extra=fake_kas))
    uids = subordinate_range(user, "/etc/subuid")[1] - user.uid
    gids = subordinate_range(user, "/etc/subgid")[1] - user.gid
    assert info["subuid"] == f"builder:{user.uid + 1}:{uids}"
    assert info["subgid"] == f"builder:{user.gid + 1}:{gids}"


@pytest.mark.root
@pytest.mark.container
def test_oe_image_has_no_subids(user, images, fake_kas):
    """The mapping and binfmt steps are kas-isar only."""
    info = report(user, images["kas"], kas_container_options(user, extra=fake_kas))
    built = user.podman_run(images["kas"], "/etc/subuid", options=["--entrypoint=cat"])
    assert built.returncode == 0, built
    assert info["subuid"] == built.stdout.strip()    # as useradd wrote it
    assert not info["subuid"].startswith(f"builder:{user.uid + 1}:")


@pytest.mark.root
@pytest.mark.container
def test_binfmt_handlers_registered(user, images, fake_kas):
    """KC-101: the qemu handlers of the image are registered at start."""
    result = user.podman_run(
        images["kas-isar"], "shell", "-c",
        "cat /proc/sys/fs/binfmt_misc/qemu-aarch64 && ls /usr/lib/binfmt.d",
        options=kas_container_options(user, isar=True, extra=fake_kas))
    assert result.returncode == 0, result
    assert "enabled" in result.stdout.splitlines()[0], result
    assert "qemu-aarch64.conf" in result.stdout, result


NESTED = r"""
set -e
cd "$(mktemp -d)"
touch owned
unshare --map-auto --map-root-user --mount --pid --fork sh -ec '
    mount -t proc proc /proc
    mount -t tmpfs tmpfs /mnt
    echo inside > /mnt/file
    chown 1000:1000 owned
    echo "nested_owner=$(stat -c %u:%g owned)"
    echo "nested_pid1=$(cat /proc/1/comm)"
    echo "nested_uid_map=$(cat /proc/self/uid_map | wc -l)"
'
echo "outer_owner=$(stat -c %u:%g owned)"
echo "outer_subuid=$(cut -d: -f2 /etc/subuid)"
echo "outer_subgid=$(cut -d: -f2 /etc/subgid)"
"""


@pytest.mark.root
@pytest.mark.container
def test_nested_user_namespace_with_mounts(user, images, fake_kas):
    """KC-120 (isar-rootless with rootless podman): builder enters a nested
    user namespace with its subordinate ids, mounts proc and tmpfs there and
    chowns to a subordinate id."""
    result = user.podman_run(images["kas-isar"], "shell", "-c", NESTED,
                             options=kas_container_options(user, isar=True, extra=fake_kas))
    assert result.returncode == 0, result
    info = parse_env(result.stdout)
    assert info["nested_owner"] == "1000:1000"
    assert info["nested_pid1"] == "sh"
    assert info["nested_uid_map"] == "2"
    # nested uid 1 is the first subordinate id: 1000 is that + 999
    uid = int(info["outer_subuid"]) + 999
    gid = int(info["outer_subgid"]) + 999
    assert info["outer_owner"] == f"{uid}:{gid}"


@pytest.mark.root
@pytest.mark.container
@pytest.mark.parametrize("flavour", ["kas", "kas-isar"])
def test_image_used_directly_runs_any_command(user, images, flavour):
    """KC-100/109 without USER_ID (CI usage): the entrypoint runs as the
    image's user builder (uid 30000, sudo for the root parts) and any
    command runs, in /builder."""
    options = ["--privileged"] if flavour == "kas-isar" else []
    result = user.podman_run(images[flavour], "sh", "-c", "id -u; id -un; pwd",
                             options=options)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["30000", "builder", "/builder"]


@pytest.mark.root
@pytest.mark.container
def test_gitlab_ci_safe_directories(user, images):
    """KC-104: CI_PROJECT_DIR and GIT_CLONE_PATH become system safe.directory
    entries when the image is used directly."""
    result = user.podman_run(images["kas"], "git", "config", "--system", "--get-all",
                             "safe.directory",
                             options=["-e", "CI_PROJECT_DIR=/builds/group/project",
                                      "-e", "GIT_CLONE_PATH=/builds/clone"])
    assert result.returncode == 0, result
    assert result.stdout.split() == ["/builds/group/project", "/builds/clone"]


@pytest.mark.root
@pytest.mark.container
def test_no_arguments_start_bash(user, images):
    """KC-109: no arguments: an interactive bash as builder."""
    switch = {} if user.is_me else {"user": user.uid, "group": user.gid, "extra_groups": []}
    result = subprocess.run(
        ["podman", "run", "--rm", "-i", "--log-driver=none", *kas_container_options(user),
         images["kas"]],
        input='echo "$0 $(id -u)"\n', check=False, capture_output=True, text=True,
        env=user.env(), cwd=user.home, timeout=120, start_new_session=True, **switch)
    assert result.returncode == 0, result
    assert result.stdout == f"bash {user.uid}\n", result


@pytest.mark.root
@pytest.mark.container
def test_rootless_docker_variant_gives_directories_back(user, images, fake_kas):
    """KC-107/109 with KAS_DOCKER_ROOTLESS=1 and a root-owned /repo: the
    mounted directories belong to the user while kas runs and to root (the
    host user of rootless docker) afterwards."""
    build = user.mkdtemp(prefix="kas-rootless-build-")
    try:
        options = kas_container_options(user, extra=[
            *fake_kas, "-e", "KAS_DOCKER_ROOTLESS=1", "--mount", "type=tmpfs,destination=/repo",
            "-v", f"{build}:/build"])
        result = user.podman_run(images["kas"], "shell", "-c",
                                 "stat -c %u:%g /build /repo; git config --system --get-all "
                                 "safe.directory", options=options)
        assert result.returncode == 0, result
        assert result.stdout.split() == [f"{user.uid}:{user.gid}", "0:0", "/repo"]
        # chowned back to 0:0: container root under keep-id is the user's
        # first subordinate id on the host
        owner = os.stat(build)
        assert (owner.st_uid, owner.st_gid) == (subordinate_range(user, "/etc/subuid")[0],
                                                subordinate_range(user, "/etc/subgid")[0])
    finally:
        user.rmtree(build)


# ---------------------------------------------------------------------------
# oe-git-proxy (GIT_PROXY_COMMAND of the images) against a CONNECT proxy.

CONNECT_PROXY = """\
import socket
import sys
import threading

log = open(sys.argv[2], "a")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen()


def pump(a, b):
    try:
        while True:
            data = a.recv(4096)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(conn):
    f = conn.makefile("rb")
    request = f.readline().decode().strip()
    auth = ""
    while True:
        line = f.readline().decode()
        if line in ("\\r\\n", "\\n", ""):
            break
        if line.lower().startswith("proxy-authorization:"):
            auth = line.split(":", 1)[1].strip()
    log.write(f"{request}|{auth}\\n")
    log.flush()
    host, port = request.split()[1].rsplit(":", 1)
    upstream = socket.create_connection((host, int(port)))
    conn.sendall(b"HTTP/1.0 200 Connection established\\r\\n\\r\\n")
    threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
    pump(conn, upstream)


while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
"""

PROXY_CHECK = r"""
socat TCP-LISTEN:9000,reuseaddr,fork SYSTEM:'echo hello' &
python3 /px/proxy.py 3128 /tmp/proxy.log &
sleep 1
for case in "$@"; do
    host=${case%%|*}
    : > /tmp/proxy.log
    out=$(eval "env ${case#*|} oe-git-proxy $host 9000" </dev/null 2>&1)
    echo "$case=$out|$(cat /tmp/proxy.log)"
done
"""

PROXY = "http_proxy=http://127.0.0.1:3128"
PROXY_CASES = {
    # the image's NO_PROXY=* keeps everything direct
    f"localhost|{PROXY}": "",
    f"localhost|NO_PROXY= {PROXY}": "CONNECT localhost:9000 HTTP/1.0|",
    "localhost|NO_PROXY= https_proxy=http://u:p@127.0.0.1:3128/":
        "CONNECT localhost:9000 HTTP/1.0|Basic dTpw",
    "localhost|NO_PROXY= ALL_PROXY=127.0.0.1:3128": "CONNECT localhost:9000 HTTP/1.0|",
    f"localhost|NO_PROXY= no_proxy=localhost {PROXY}": "",
    f"localhost|NO_PROXY=foo,.bar {PROXY}": "CONNECT localhost:9000 HTTP/1.0|",
    f"git.example.com|NO_PROXY=example.com {PROXY}": "",
    f"git.example.com|NO_PROXY=.example.com {PROXY}": "",
    f"git.example.com|NO_PROXY='ample.com, other' {PROXY}":
        "CONNECT git.example.com:9000 HTTP/1.0|",
    f"git.example.com|NO_PROXY='other , git.example.com' {PROXY}": "",
    "git.example.com|NO_PROXY=": "",
}


@pytest.mark.root
@pytest.mark.container
def test_oe_git_proxy(user, images):
    """Direct connections without a proxy or for NO_PROXY hosts, CONNECT
    through the proxy (with authorization) otherwise."""
    path = user.mkdtemp(prefix="kas-proxy-")
    try:
        with open(os.path.join(path, "proxy.py"), "w") as f:
            f.write(CONNECT_PROXY)
        os.chmod(os.path.join(path, "proxy.py"), 0o644)
        result = user.podman_run(
            images["kas"], "sh", "-c", PROXY_CHECK, "sh", *PROXY_CASES,
            options=["--add-host=git.example.com:127.0.0.1", "-v", f"{path}:/px:ro"])
    finally:
        user.rmtree(path)
    assert result.returncode == 0, result
    seen = dict(line.rsplit("=hello|", 1) for line in result.stdout.splitlines())
    assert seen == {case: proxied.strip() for case, proxied in PROXY_CASES.items()}, result
