"""Real Isar image builds (tests/test_isar_build.py, issue 25).

The example configurations name Isar's public repository on github.com,
which these machines cannot reach; a premirror made from the git bundle
next to the clone (``../shared/isar/isar-rootless.bundle``, or
``KAS_TEST_ISAR_BUNDLE``) stands in for it, exactly as a user would point
kas at a local mirror.  The Debian packages come from the Debian mirror.

Everything that costs network or minutes is kept between runs in one cache
directory (``KAS_TEST_ISAR_CACHE``; default ``/var/cache/kas-ci`` when the
tests run as root, else ``~/.cache/kas-ci``):

* ``isar.git``: the mirror made from the bundle (``git clone --mirror``),
* ``isar-downloads``: the DL_DIR every build shares, so the Debian packages
  are fetched once.

Both belong to the build user (git refuses a repository of another owner,
and Isar writes into DL_DIR).

In CI (``CI=true``) nothing here may skip: a missing prerequisite is a
failure (``require``).  Elsewhere the tests skip naming what is missing,
and ``-m 'not isar'`` deselects them on a machine without network.
"""

import contextlib
import os
import shutil
import urllib.error
import urllib.request

import pytest

from helpers.run import REPO_ROOT
from helpers.users import subordinate_ranges

ISAR_URL = "https://github.com/ilbers/isar.git"
ISAR_COMMIT = "77cf2f7d987cb2790146f422701a3b311650a351"
DEFAULT_BUNDLE = os.path.join(os.path.dirname(REPO_ROOT), "shared", "isar",
                              "isar-rootless.bundle")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The suite of the examples' distro (debian-bookworm).
DEBIAN_RELEASE = f"{DEBIAN_MIRROR}/dists/bookworm/Release"
MACHINE = "qemuamd64"


def in_ci():
    """True in a CI run (CI=true, as GitHub, GitLab and .ci/run set it)."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require(make):
    """``make()``; a skip it raises becomes a failure in CI, where the Isar
    builds must run on every submission."""
    try:
        return make()
    except pytest.skip.Exception as why:
        if in_ci():
            pytest.fail(f"CI=true: the real Isar builds cannot run: {why}", pytrace=False)
        raise


def missing(reason):
    """Skip naming ``reason``; fail in CI."""
    if in_ci():
        pytest.fail(f"CI=true: the real Isar builds cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def bundle_path():
    return os.environ.get("KAS_TEST_ISAR_BUNDLE") or DEFAULT_BUNDLE


def cache_dir(user):
    default = ("/var/cache/kas-ci" if os.getuid() == 0
               else os.path.join(user.home, ".cache", "kas-ci"))
    return os.environ.get("KAS_TEST_ISAR_CACHE") or default


def debian_mirror_problem():
    """None if the Debian mirror answers, else why not."""
    try:
        with urllib.request.urlopen(urllib.request.Request(DEBIAN_RELEASE, method="HEAD"),
                                    timeout=20):
            return None
    except (urllib.error.URLError, OSError) as err:
        return f"the Debian mirror does not answer ({DEBIAN_RELEASE}: {err})"


def _owned_dir(user, path):
    """``path`` as a directory of ``user`` (created as needed)."""
    os.makedirs(path, exist_ok=True)
    if not user.is_me and os.stat(path).st_uid != user.uid:
        os.chown(path, user.uid, user.gid)


def _has_commit(user, mirror):
    result = user.run(["git", "-C", mirror, "cat-file", "-e", f"{ISAR_COMMIT}^{{commit}}"])
    return result.returncode == 0


def make_mirror(user, bundle, mirror):
    """The premirror: ``git clone --mirror BUNDLE`` as ``user``, kept while
    it has the pinned commit.  (Made by the user: git refuses to clone from
    a repository of another owner.)"""
    if os.path.isdir(mirror) and _has_commit(user, mirror):
        return
    shutil.rmtree(mirror, ignore_errors=True)
    _owned_dir(user, mirror)
    result = user.run(["git", "clone", "-q", "--mirror", bundle, mirror], timeout=300)
    assert result.returncode == 0, f"git clone --mirror {bundle}: {result.stderr}"
    assert _has_commit(user, mirror), f"{bundle} lacks commit {ISAR_COMMIT}"


class IsarCache:
    """The premirror and the shared download directory of ``user``."""

    def __init__(self, user):
        bundle = bundle_path()
        if not os.path.isfile(bundle):
            missing(f"no Isar bundle at {bundle} (only the CI machines have ../shared next "
                    "to the clone): set KAS_TEST_ISAR_BUNDLE to a git bundle of "
                    f"{ISAR_URL} with commit {ISAR_COMMIT}, or deselect with -m 'not isar'")
        problem = debian_mirror_problem()
        if problem:
            missing(f"{problem}: the Isar builds need it (deselect with -m 'not isar')")
        base = cache_dir(user)
        os.makedirs(base, exist_ok=True)
        self.mirror = os.path.join(base, "isar.git")
        self.downloads = os.path.join(base, "isar-downloads")
        _owned_dir(user, self.downloads)
        make_mirror(user, bundle, self.mirror)

    @property
    def premirrors(self):
        """KAS_PREMIRRORS: the github URL of the examples to the mirror."""
        return f"{ISAR_URL} {self.mirror}"


def example_project(user, path):
    """``path``: a git repository of ``user`` holding a copy of examples/
    (the configurations and the patch they apply to Isar)."""
    shutil.copytree(os.path.join(REPO_ROOT, "examples"), os.path.join(path, "examples"),
                    ignore=shutil.ignore_patterns(".bitbake-python", "__pycache__"))
    if not user.is_me:
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), user.uid, user.gid)
    user.sh("git init -q . && git add -A && git -c user.name=t -c user.email=t@e "
            "commit -qm init", cwd=path)


def tmp_entries(build_dir):
    """Every entry below the ``tmp*`` entries of ``build_dir`` (and those
    entries themselves), without following symlinks: lstat results by path."""
    found = {}
    try:
        names = [n for n in os.listdir(build_dir) if n.startswith("tmp")]
    except FileNotFoundError:
        return found
    for name in names:
        top = os.path.join(build_dir, name)
        found[top] = os.lstat(top)
        for root, dirs, files in os.walk(top):
            for entry in dirs + files:
                path = os.path.join(root, entry)
                with contextlib.suppress(FileNotFoundError):
                    found[path] = os.lstat(path)
    return found


def subordinate_owned(user, entries):
    """The paths in ``entries`` owned by a uid of ``user``'s subordinate
    ranges (not the user's own uid)."""
    ranges = subordinate_ranges(user.name, user.uid)
    return sorted(path for path, st in entries.items()
                  if st.st_uid != user.uid
                  and any(start <= st.st_uid < start + count for start, count in ranges))


def foreign_owned(user, top):
    """The paths below ``top`` that do not belong to ``user`` (at most 20)."""
    found = []
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.lstat(path).st_uid != user.uid:
                found.append(path)
                if len(found) == 20:
                    return found
    return found


def images_of(build_dir):
    """The ``*.wic`` files of the deploy directory of MACHINE."""
    deploy = os.path.join(build_dir, "tmp", "deploy", "images", MACHINE)
    try:
        return sorted(n for n in os.listdir(deploy) if n.endswith(".wic"))
    except FileNotFoundError:
        return []


RECORDING_SUDO = """\
#!/bin/sh
# Stand-in for sudo: records the call and fails (a rootless build must
# never run sudo).
printf '%s\\n' "sudo $*" >> {log}
echo "sudo stand-in: refusing $*" >&2
exit 1
"""


def recording_sudo(user, bindir, log):
    """``bindir/sudo``: records every call in ``log`` and fails."""
    os.makedirs(bindir, exist_ok=True)
    script = os.path.join(bindir, "sudo")
    with open(script, "w") as f:
        f.write(RECORDING_SUDO.format(log=log))
    os.chmod(script, 0o755)
    if not user.is_me:
        os.chown(bindir, user.uid, user.gid)
        os.chown(script, user.uid, user.gid)
    return script


def sudo_calls(log):
    try:
        with open(log) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
