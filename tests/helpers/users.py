"""Running kas as another, unprivileged user (the Isar cleaning tests).

`.ci/setup-test-users` creates ``kasci`` (subordinate ids 100000-165535,
passwordless sudo) and ``kasci-nosub`` (no subordinate ids).  When the
tests run as root they switch to those users; a non-root developer with
subordinate ids is used directly.  Whatever is missing is named in the
skip reason.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest

from helpers.run import REPO_ROOT, KasResult, clean_env

SETUP_HINT = "run `sudo sh .ci/setup-test-users` once"


class User:
    """A user the tests run commands as."""

    def __init__(self, entry, python=None):
        self.name = entry.pw_name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.home = entry.pw_dir
        self.python = python

    @property
    def is_me(self):
        return self.uid == os.getuid()

    def run(self, argv, cwd=None, env=None, check=False, timeout=60):
        """Run ``argv`` as this user (no controlling terminal)."""
        switch = {} if self.is_me else {"user": self.uid, "group": self.gid,
                                        "extra_groups": []}
        return subprocess.run([str(a) for a in argv], cwd=cwd, env=env or self.env(),
                              check=check, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True, **switch)

    def sh(self, script, cwd):
        """Run a shell script as this user; it must succeed."""
        result = self.run(["sh", "-ec", script], cwd=cwd)
        assert result.returncode == 0, result
        return result

    def env(self, **extra):
        env = clean_env(HOME=self.home, USER=self.name, LOGNAME=self.name,
                        PYTHONPATH=os.pathsep.join([REPO_ROOT, *_site_dirs()]))
        env.update(extra)
        return env

    def kas(self, *args, cwd, env=None, timeout=60):
        """Run kas as this user; returns a KasResult."""
        proc = self.run([self.python, "-m", "kas", *args], cwd=cwd,
                        env=env or self.env(), timeout=timeout)
        return KasResult(proc)


def _site_dirs():
    import site

    return [d for d in site.getsitepackages() if os.path.isdir(d)]


def _python_for(user):
    """An interpreter ``user`` can run kas with: this one, or the system
    one of the same version (this one may live in root's home)."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [sys.executable, f"/usr/bin/python{version}", "/usr/bin/python3"]
    probe = "import sys, kas.cli, yaml, jsonschema, distro, git; print(sys.version)"
    for python in dict.fromkeys(candidates):
        if not os.path.exists(python):
            continue
        try:
            result = user.run([python, "-c", probe], cwd="/")
        except OSError:         # not executable for the user
            continue
        if result.returncode == 0 and result.stdout.startswith(version):
            return python
    return None


SUBID_TABLES = ("/etc/subuid", "/etc/subgid")


def subid_lines(table):
    """``(owner, start, count)`` of each well-formed line of ``table``
    (/etc/subuid or /etc/subgid; none if it does not exist)."""
    lines = []
    try:
        with open(table) as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                    lines.append((fields[0], int(fields[1]), int(fields[2])))
    except FileNotFoundError:
        pass
    return lines


def subordinate_ranges(name, uid, table="/etc/subuid"):
    """The ``(start, count)`` ranges of the user ``name``/``uid`` in
    ``table``."""
    return [(start, count) for owner, start, count in subid_lines(table)
            if owner in (name, str(uid))]


def has_subordinate_ids(name, uid):
    return all(subordinate_ranges(name, uid, table) for table in SUBID_TABLES)


def free_subid_fix(name):
    """The command kas proposes to give ``name`` subordinate ids: 65536 of
    them above every range of both tables (100000 on an empty host)."""
    top = max([start + count for table in SUBID_TABLES
               for _, start, count in subid_lines(table)] + [100000])
    return (f"sudo usermod --add-subuids {top}-{top + 65535} "
            f"--add-subgids {top}-{top + 65535} {name}")


def copies_without_setuid(directory, path=None):
    """This host's newuidmap and newgidmap (found on ``path``, default the
    PATH) copied into ``directory``: the same programs without their setuid
    bit, which cannot map ids.  Returns their paths."""
    copies = []
    for name in ("newuidmap", "newgidmap"):
        real = shutil.which(name, path=path)
        if real is None:
            pytest.skip(f"{name} is not installed: run `sudo sh .ci/setup-test-users`")
        copies.append(os.path.join(directory, name))
        shutil.copy(real, copies[-1])
        os.chmod(copies[-1], 0o755)
    return copies


def get_user(name, need_subids):
    """The user ``name`` (when running as root) or the current user, ready
    to run kas, or skip naming what is missing."""
    if os.getuid() == 0:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            pytest.skip(f"test user {name} does not exist: {SETUP_HINT}")
    else:
        entry = pwd.getpwuid(os.getuid())
        if need_subids is False:
            pytest.skip("needs a user without subordinate ids: run the tests as root "
                        f"after {SETUP_HINT}")
    user = User(entry)
    if need_subids and not has_subordinate_ids(user.name, user.uid):
        pytest.skip(f"user {user.name} has no range in /etc/subuid and /etc/subgid: "
                    f"{SETUP_HINT}")
    if need_subids is False and has_subordinate_ids(user.name, user.uid):
        pytest.skip(f"user {user.name} has subordinate ids: {SETUP_HINT}")
    user.python = _python_for(user)
    if user.python is None:
        pytest.skip(f"user {user.name} cannot run {sys.executable} or a system python "
                    f"of the same version with {REPO_ROOT} and this venv's packages "
                    "(directory permissions)")
    return user


def user_namespace_works(user):
    """None if ``user`` can enter a namespace with its subordinate ids,
    else why not."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    result = user.run(["unshare", "--map-auto", "--map-root-user", "true"], cwd="/")
    if result.returncode != 0:
        return ("unshare --map-auto --map-root-user fails here "
                f"(kernel or newuidmap): {result.stderr.strip()}")
    return None


class UserDirs:
    """Directories owned by test users, removed (as root) by ``remove_all``."""

    def __init__(self):
        self.made = []

    def __call__(self, user):
        path = tempfile.mkdtemp(prefix="kas-clean-")
        os.chmod(path, 0o755)
        if not user.is_me:
            os.chown(path, user.uid, user.gid)
        self.made.append(path)
        return path

    def remove_all(self):
        for path in self.made:
            subprocess.run(["rm", "-rf", path], check=False, capture_output=True)
            if os.path.exists(path):    # not root: subordinate-owned leftovers
                subprocess.run(["unshare", "--map-auto", "--map-root-user", "rm", "-rf", path],
                               check=False, capture_output=True)
