"""Fixtures shared by the tests; the helpers are in the ``helpers`` package."""

import os

import pytest
from helpers.users import UserDirs, get_user, user_namespace_works


@pytest.fixture(autouse=True, scope="session")
def private_cache_home(tmp_path_factory):
    """The configuration cache of kas (issue 27) of this test run, not the
    user's: no test depends on what an earlier run left there."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def workdir(tmp_path):
    """An empty directory outside any VCS checkout, used as cwd and work dir."""
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def user_dir():
    """``user_dir(user)``: a new directory owned by ``user``, removed after
    the test."""
    dirs = UserDirs()
    yield dirs
    dirs.remove_all()


@pytest.fixture
def rootless_user():
    """``kasci`` (subordinate ids, .ci/setup-test-users), skipped where it
    cannot enter a user namespace with them (a kernel or AppArmor switch):
    what the rootless Isar tests expect of the host depends on that."""
    user = get_user("kasci", need_subids=True)
    problem = user_namespace_works(user)
    if problem:
        pytest.skip(problem)
    return user
