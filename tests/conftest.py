"""Fixtures shared by the tests; the helpers are in the ``helpers`` package."""

import pytest


@pytest.fixture
def workdir(tmp_path):
    """An empty directory outside any VCS checkout, used as cwd and work dir."""
    d = tmp_path / "work"
    d.mkdir()
    return d
