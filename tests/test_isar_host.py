"""The host check before a rootless Isar build (issue 25.1): `kas build`
with ``build_system: isar-rootless`` names every missing piece of the host
and its fix before anything is fetched and before bitbake starts, exit 2;
`kas shell` says the same as a warning and starts; KAS_ISAR_HOST_CHECK=0
skips the check.

The pieces are produced for real where this machine can: its util-linux
(2.38.1 on Debian 12) and its locales are what they are, mmdebstrap and
newuidmap are left off PATH, newuidmap is a copy without its setuid bit,
``kasci-nosub`` has no subordinate ids and a test namespace sets
user.max_user_namespaces to 0.  What the machine does not have (util-linux
2.39, mmdebstrap 1.4) is played by stand-ins printing versions, only for
the version probes; everything else they pass to the real programs.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest
from helpers.repos import Bitbake, Project, write
from helpers.run import REPO_ROOT, make_context
from helpers.users import copies_without_setuid, free_subid_fix, get_user
from test_kas_container_doctor import PATH, in_namespace, tool_dir_without

from kas.buildenv.isarhost import HostProbe, Missing, parse_version

pytestmark = pytest.mark.root

TITLE = "This host cannot do a rootless Isar build (build_system: isar-rootless):"
LAST_LINE = "Set KAS_ISAR_HOST_CHECK=0 to build anyway if this check misjudges the host."
NEWER = "Debian 13 and Ubuntu 24.04 have it"
CONTAINER = "or build in kas-container --isar-rootless"
MMDEBSTRAP_MISSING = (f"  - mmdebstrap is not installed. Fix: sudo apt-get install mmdebstrap "
                      f"(1.4 or newer; {NEWER}), {CONTAINER}")
LOCALE_MISSING = ("  - the en_US.UTF-8 locale is not available (bitbake refuses to start "
                  "without it). Fix: sudo apt-get install locales && echo 'en_US.UTF-8 "
                  "UTF-8' | sudo tee -a /etc/locale.gen && sudo locale-gen")

CONFIG = """\
header:
  version: 14
build_system: {build_system}
repos:
  this:
"""
REMOTE_REPO = """\
  remote:
    url: {url}
    branch: main
"""


# --- facts about this host, found independently of kas -----------------------

def util_linux_version():
    out = subprocess.run(["unshare", "--version"], check=False, capture_output=True,
                         text=True).stdout
    return parse_version(out), out.strip()


def has_en_us_utf8():
    """`locale -a` lists it (names normalised: en_US.utf8, en_US.UTF-8)."""
    out = subprocess.run(["locale", "-a"], check=False, capture_output=True, text=True).stdout
    return any(name.lower().replace("-", "") == "en_us.utf8" for name in out.split())


def expected_real_pieces():
    """The lines kas must print for this host's util-linux and locales."""
    lines = []
    version, banner = util_linux_version()
    if version is not None and version < (2, 39):
        lines.append(f"  - {banner} cannot map ids the way Isar does (unshare --map-users "
                     "inner:outer:count needs util-linux 2.39 or newer; ")
    return lines


# --- the project: a stand-in bitbake that records whether it ran -------------

def isar_project(user, path, build_system="isar-rootless", extra_repos=""):
    """``user``'s project in ``path``: kas.yml of ``build_system``, an Isar
    init script and a recording bitbake (``project.bitbake.runs()``)."""
    bitbake = Bitbake(os.path.join(path, "bin"), os.path.join(path, "rec"), user=user)
    project = Project(path, git=False, bitbake=bitbake, user=user)
    project.init_script(bitbake.init_script(), name="isar-init-build-env")
    project.config(CONFIG.format(build_system=build_system) + extra_repos)
    return project


@pytest.fixture
def kasci(rootless_user):
    return rootless_user


@pytest.fixture
def tools():
    """``tools(*names)``: a PATH directory with every program of the usual
    PATH except ``names``; removed after the test."""
    made = []

    def make(*names):
        made.append(tool_dir_without(set(names)))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path)


def check_message(result):
    """The lines of the host check's ERROR (or WARNING) record."""
    lines = result.stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith(TITLE)]
    assert len(starts) == 1, result
    body = []
    for line in lines[starts[0] + 1:]:
        if not line.startswith("  - "):
            body.append(line)
            break
        body.append(line)
    return body


def assert_refused(result, project, pieces):
    """exit 2, one ERROR (the check), bitbake not started; ``pieces`` are
    the starts of the piece lines, in order."""
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    assert result.errors() == [TITLE], result
    body = check_message(result)
    assert body[-1] == LAST_LINE, result
    assert len(body) - 1 == len(pieces), body
    for line, start in zip(body, pieces):
        assert line.startswith(start), (line, start)
    assert project.bitbake.runs() == []
    return body


# --- this host, for real ------------------------------------------------------

def test_build_refuses_before_fetching_and_before_bitbake(kasci, user_dir, tools):
    """issue 25.1: this host (util-linux and locales as they are, no
    mmdebstrap on PATH): kas build names every missing piece in one error
    and exits 2; bitbake never started, the remote repo never cloned."""
    base = user_dir(kasci)
    remote = os.path.join(user_dir(kasci), "remote")
    kasci.sh(f"git init -q -b main {remote} && cd {remote} && "
             "git -c user.name=t -c user.email=t@e commit -q --allow-empty -m one", cwd=base)
    project = isar_project(kasci, base, extra_repos=REMOTE_REPO.format(url=remote))
    result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap"))
    pieces = expected_real_pieces() + [MMDEBSTRAP_MISSING]
    if not has_en_us_utf8():
        pieces.append(LOCALE_MISSING)
    body = assert_refused(result, project, pieces)
    assert MMDEBSTRAP_MISSING in body and (LOCALE_MISSING in body) != has_en_us_utf8()
    assert not os.path.exists(os.path.join(base, "remote"))


def test_the_shipped_example_is_refused_before_isar_is_fetched(kasci, user_dir, tools):
    """issue 25.1: `kas build examples/isar-rootless.yml` as a user would
    run it on this host (the example and its patch in the user's own git
    checkout): the host check stops it with exit 2 before Isar is cloned
    from github.com, so the user learns at once instead of from a task
    log (or, here without network, from a failed fetch)."""
    base = user_dir(kasci)
    patch = "0001-rootfs-do-not-bind-mount-over-symlinked-top-level-dirs.patch"
    for name in ("examples/isar-rootless.yml", f"examples/patches/isar/{patch}"):
        target = os.path.join(base, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(REPO_ROOT, name), target)
    for root, dirs, files in os.walk(base):
        for name in dirs + files:
            os.chown(os.path.join(root, name), kasci.uid, kasci.gid)
    kasci.sh("git init -q -b main . && git add . && "
             "git -c user.name=t -c user.email=t@e commit -q -m example", cwd=base)
    result = kasci.kas("build", "examples/isar-rootless.yml", cwd=base,
                       env=kasci.env(PATH=tools("mmdebstrap")))
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    assert result.errors() == [TITLE], result
    assert MMDEBSTRAP_MISSING in check_message(result), result
    assert not os.path.exists(os.path.join(base, "isar")), os.listdir(base)
    assert not os.path.exists(os.path.join(base, "build", "conf")), result


def test_util_linux_of_this_host_is_named_with_its_own_words(kasci, user_dir, tools):
    """issue 25.1: Debian 12's util-linux 2.38.1 cannot parse Isar's
    ``--map-users 1:100001:65534``: the line names the version and what
    unshare itself says."""
    version, banner = util_linux_version()
    if version is None or version >= (2, 39):
        pytest.skip(f"this host's util-linux takes --map-users inner:outer:count: {banner}")
    project = isar_project(kasci, user_dir(kasci))
    result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap"))
    line = check_message(result)[0]
    assert line == (
        f"  - {banner} cannot map ids the way Isar does (unshare --map-users "
        "inner:outer:count needs util-linux 2.39 or newer; "
        f"{tools_unshare(result)} says: unshare: could not parse ID: '1:100001:65534'). "
        f"Fix: install util-linux 2.39 or newer ({NEWER}), {CONTAINER}")


def tools_unshare(result):
    """The unshare kas found (first on the PATH the test gave)."""
    match = re.search(r"; (/\S+/unshare) says:", result.stderr)
    assert match, result
    return match.group(1)


def test_skip_variable_lets_the_build_go_on(kasci, user_dir, tools):
    """issue 25.1: KAS_ISAR_HOST_CHECK=0 (or no/false/off) skips the check."""
    project = isar_project(kasci, user_dir(kasci))
    for value in ("0", "off"):
        result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap"),
                             KAS_ISAR_HOST_CHECK=value)
        assert result.returncode == 0, result
        assert result.errors() == [] and result.warnings() == [], result
    assert project.bitbake.runs() == ["-c build core-image-minimal"] * 2


def test_shell_warns_and_starts(kasci, user_dir, tools):
    """issue 25.1: a shell is where a build is investigated: the same
    findings as one warning, then the shell runs."""
    project = isar_project(kasci, user_dir(kasci))
    result = project.kas("shell", "kas.yml", "-c", "echo in-the-shell",
                         PATH=tools("mmdebstrap"))
    assert result.returncode == 0, result
    assert result.errors() == [] and result.warnings() == [TITLE], result
    body = check_message(result)
    assert MMDEBSTRAP_MISSING in body
    assert body[-1] == ("bitbake will fail in this shell until they are fixed "
                        "(KAS_ISAR_HOST_CHECK=0 skips this check).")
    assert "in-the-shell" in result.stdout


@pytest.mark.parametrize("build_system", ["isar-privileged", "openembedded"])
def test_no_check_for_other_build_systems(kasci, user_dir, tools, build_system):
    """issue 25.1: only isar-rootless is checked."""
    project = isar_project(kasci, user_dir(kasci), build_system=build_system)
    if build_system == "openembedded":
        os.rename(os.path.join(project.path, "isar-init-build-env"),
                  os.path.join(project.path, "oe-init-build-env"))
    result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap"))
    assert result.returncode == 0, result
    assert project.bitbake.runs() == ["-c build core-image-minimal"]


def test_user_without_subordinate_ids(user_dir, tools):
    """issue 25.1: kasci-nosub: the fix gives a range free in both tables."""
    user = get_user("kasci-nosub", need_subids=False)
    project = isar_project(user, user_dir(user))
    result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap"))
    expected = (f"  - {user.name} has no subordinate uid and gid range in /etc/subuid and "
                "/etc/subgid (Isar maps the ids of the root file system onto them). Fix: "
                f"{free_subid_fix(user.name)}")
    body = check_message(result)
    assert expected in body, body
    assert not any("mapping your subordinate ids" in line for line in body)
    assert project.bitbake.runs() == []


def test_newuidmap_not_installed(kasci, user_dir, tools):
    """issue 25.1: newuidmap/newgidmap not on PATH."""
    project = isar_project(kasci, user_dir(kasci))
    result = project.kas("build", "kas.yml", PATH=tools("mmdebstrap", "newuidmap", "newgidmap"))
    body = check_message(result)
    assert ("  - newuidmap and newgidmap not installed (unshare needs them to map your "
            "subordinate ids). Fix: sudo apt-get install uidmap") in body, body
    assert project.bitbake.runs() == []


def test_newuidmap_that_cannot_map_is_named_with_its_own_words(kasci, user_dir, tools):
    """issue 25.1/25.3: newuidmap is installed but cannot work (no setuid
    bit): the command and newuidmap's own message, not "install uidmap"."""
    bin_dir = tools("mmdebstrap", "newuidmap", "newgidmap")
    copies_without_setuid(bin_dir, PATH)
    project = isar_project(kasci, user_dir(kasci))
    result = project.kas("build", "kas.yml", PATH=bin_dir)
    body = check_message(result)
    expected = (f'  - mapping your subordinate ids into a user namespace failed: Command '
                f'"{bin_dir}/unshare --user --map-auto --map-root-user true" failed: '
                "newuidmap: write to uid_map failed: Operation not permitted. Fix: "
                f"{bin_dir}/newuidmap and {bin_dir}/newgidmap are installed but could not "
                "map your subordinate ids: they must be setuid root (or have the "
                "cap_setuid/cap_setgid file capabilities) on a file system mounted without "
                "nosuid, and they do not work under a tracer such as strace")
    assert expected in body, body
    assert "uidmap package" not in result.stderr and "apt-get install uidmap" not in body
    assert project.bitbake.runs() == []


def test_user_namespaces_disabled(kasci, user_dir):
    """issue 25.1: user.max_user_namespaces = 0 in a test namespace."""
    project = isar_project(kasci, user_dir(kasci))
    result = in_namespace(kasci, "echo 0 > /proc/sys/user/max_user_namespaces",
                          [kasci.python, "-m", "kas", "build", "kas.yml"], str(project.path),
                          PYTHONPATH=kasci.env()["PYTHONPATH"])
    body = check_message(result)
    assert ("  - unprivileged user namespaces are disabled (user.max_user_namespaces is 0). "
            "Fix: sudo sysctl -w user.max_user_namespaces=63000 && echo "
            "'user.max_user_namespaces = 63000' | sudo tee "
            "/etc/sysctl.d/90-kas-user.max_user_namespaces.conf") in body, body
    assert not any("mapping your subordinate ids" in line for line in body)
    assert result.returncode == 2
    assert project.bitbake.runs() == []


# --- a host that has everything ---------------------------------------------

# util-linux 2.39's answer to kas's probe (Isar's --map-users form, then
# --version); every other call is the real unshare's.
NEW_UNSHARE = """\
#!/bin/sh
case "$*" in
--map-users=*--version | --version) echo "unshare from util-linux 2.40.4"; exit 0;;
esac
exec {real} "$@"
"""
NEW_MMDEBSTRAP = """\
#!/bin/sh
echo "mmdebstrap {version}"
"""


def stand_ins(directory, mmdebstrap="1.5.7"):
    os.chmod(write(os.path.join(directory, "unshare"),
                   NEW_UNSHARE.format(real=shutil.which("unshare"))), 0o755)
    os.chmod(write(os.path.join(directory, "mmdebstrap"),
                   NEW_MMDEBSTRAP.format(version=mmdebstrap)), 0o755)
    return directory


@pytest.fixture(scope="module")
def en_us_locale(tmp_path_factory):
    """A directory holding a compiled en_US.UTF-8 locale (glibc's localedef)."""
    path = tmp_path_factory.mktemp("locale")
    os.chmod(path, 0o755)       # mounted for kasci: mktemp makes it private
    result = subprocess.run(["localedef", "--no-archive", "-i", "en_US", "-f", "UTF-8",
                             str(path / "en_US.UTF-8")], check=False, capture_output=True,
                            text=True)
    if not (path / "en_US.UTF-8" / "LC_CTYPE").exists():
        pytest.skip(f"localedef cannot compile en_US.UTF-8 here: {result.stderr.strip()}")
    return str(path)


def test_a_host_with_everything_passes(kasci, user_dir, tools, en_us_locale):
    """issue 25.1: new-enough versions (stand-ins for the version probes
    only), the locale (a real one, mounted where glibc looks in a test
    namespace), kasci's subordinate ids, the real newuidmap and user
    namespaces: no word from the check, bitbake runs."""
    project = isar_project(kasci, user_dir(kasci))
    bin_dir = stand_ins(tools("unshare", "mmdebstrap"))
    result = in_namespace(kasci, f"mount --bind {en_us_locale} /usr/lib/locale",
                          [kasci.python, "-m", "kas", "build", "kas.yml"], str(project.path),
                          PYTHONPATH=kasci.env()["PYTHONPATH"], PATH=bin_dir)
    assert result.returncode == 0, result
    assert " - ERROR " not in result.stderr and " - WARNING " not in result.stderr, result
    assert project.bitbake.runs() == ["-c build core-image-minimal"]


# --- the probes, in process -------------------------------------------------

def probe_in(tmp_path, path, **env):
    ctx = make_context(tmp_path, environ={"PATH": path, **env})
    probe = HostProbe(ctx)
    probe.env.update(env)
    return probe


OLD_UNSHARE = """\
#!/bin/sh
case "$1" in
--version) echo "unshare from util-linux 2.38.1"; exit 0;;
--map-users=*) echo "unshare: could not parse ID: '${1#--map-users=}'" >&2; exit 1;;
esac
echo "unshare: something else went wrong" >&2
exit 1
"""


def stand_in(tmp_path, name, script):
    """A new directory holding the program ``name`` running ``script``."""
    directory = tempfile.mkdtemp(dir=tmp_path)
    os.chmod(write(os.path.join(directory, name), script), 0o755)
    return directory


def test_unshare_versions(tmp_path):
    """issue 25.1: the --map-users probe: 2.38 refuses Isar's form, 2.40
    takes it, an unknown failure cannot tell (no refusal)."""
    old = stand_in(tmp_path, "unshare", OLD_UNSHARE)
    assert probe_in(tmp_path, old).unshare_maps_like_isar(f"{old}/unshare") == [Missing(
        "unshare from util-linux 2.38.1 cannot map ids the way Isar does (unshare "
        "--map-users inner:outer:count needs util-linux 2.39 or newer; "
        f"{old}/unshare says: unshare: could not parse ID: '1:100001:65534')",
        f"install util-linux 2.39 or newer ({NEWER}), {CONTAINER}")]
    new = stand_ins(str(tmp_path))
    assert probe_in(tmp_path, new).unshare_maps_like_isar(f"{new}/unshare") == []
    odd = stand_in(tmp_path, "unshare", "#!/bin/sh\necho 'unshare: odd' >&2\nexit 1\n")
    assert probe_in(tmp_path, odd).unshare_maps_like_isar(f"{odd}/unshare") == []


# A Debian 13 root file system (.ci/setup-containers debootstraps it for the
# kas-isar image's base): its util-linux is 2.39 or newer.
TRIXIE_ROOTFS = "/var/cache/kas-ci/rootfs-trixie"


def test_real_new_unshare_takes_isars_form(tmp_path):
    """issue 25.1: the probe against a real util-linux >= 2.39 (Debian 13's
    unshare, run in its own root file system): no refusal."""
    if os.getuid() != 0 or not os.path.isfile(f"{TRIXIE_ROOTFS}/usr/bin/unshare"):
        pytest.skip(f"needs root and a Debian 13 root file system in {TRIXIE_ROOTFS} "
                    "(.ci/setup-containers)")
    path = stand_in(tmp_path, "unshare",
                    f'#!/bin/sh\nexec chroot {TRIXIE_ROOTFS} /usr/bin/unshare "$@"\n')
    version = subprocess.run([f"{path}/unshare", "--version"], check=True,
                             capture_output=True, text=True).stdout
    assert parse_version(version) >= (2, 39), version
    assert probe_in(tmp_path, path).unshare_maps_like_isar(f"{path}/unshare") == []


@pytest.mark.parametrize("version, too_old", [
    ("1.3.5", True), ("1.4.0", False), ("1.5.7", False), ("0.8.4", True)])
def test_mmdebstrap_versions(tmp_path, version, too_old):
    """mmdebstrap older than 1.4 is named with its version and the fix;
    1.4 and newer pass (issue 25.1)."""
    path = stand_in(tmp_path, "mmdebstrap", NEW_MMDEBSTRAP.format(version=version))
    found = probe_in(tmp_path, f"{path}:/usr/bin:/bin").mmdebstrap()
    if too_old:
        assert found == [Missing(
            f"{path}/mmdebstrap is version {version}, Isar's rootless mode needs 1.4 or "
            "newer (older ones leave ./dev out of the root file system)",
            f"install mmdebstrap 1.4 or newer ({NEWER}), {CONTAINER}")]
    else:
        assert found == []


def test_mmdebstrap_without_a_version_is_not_refused(tmp_path):
    path = stand_in(tmp_path, "mmdebstrap", "#!/bin/sh\necho 'no idea'\n")
    assert probe_in(tmp_path, f"{path}:/usr/bin:/bin").mmdebstrap() == []


def test_locale_probe_finds_a_real_locale(tmp_path, en_us_locale):
    """issue 25.1: the probe is bitbake's own setlocale: a compiled
    en_US.UTF-8 on LOCPATH is found, this host's locales as they are."""
    assert probe_in(tmp_path, PATH, LOCPATH=en_us_locale).locale() == []
    missing = probe_in(tmp_path, PATH).locale()
    if has_en_us_utf8():
        assert missing == []
    else:
        assert [f"  - {m.found}. Fix: {m.fix}" for m in missing] == [LOCALE_MISSING]


@pytest.mark.parametrize("text, version", [
    ("mmdebstrap 1.3.5", (1, 3, 5)), ("unshare from util-linux 2.38.1", (2, 38, 1)),
    ("unshare from util-linux 2.40", (2, 40)), ("no version", None)])
def test_parse_version(text, version):
    assert parse_version(text) == version
