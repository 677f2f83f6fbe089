"""Directories that are not what kas needs: one clear error, exit 2, no
traceback, nothing changed (developers' guide: bad input never crashes)."""

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import assert_user_error, clean_env, run_kas


@pytest.fixture
def project(workdir, tmp_path):
    upstream = make_git_repo(tmp_path / "upstream")
    write(workdir / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    write(workdir / "kas.yml", f"""
        header:
          version: 23
        repos:
          this:
          up:
            url: {upstream}
            commit: {git(upstream, "rev-parse", "HEAD")}
        """)
    return workdir


def test_build_dir_that_is_a_file(project):
    """ENV-011: the build directory is created (one level) if missing."""
    (project / "build").write_text("precious\n")
    assert_user_error(run_kas("checkout", "kas.yml", cwd=project),
                      f"The build directory {project / 'build'} exists but is not a directory")
    assert (project / "build").read_text() == "precious\n"


def test_missing_work_dir(project, tmp_path):
    """ENV-010: KAS_WORK_DIR must exist."""
    missing = tmp_path / "nowhere"
    assert_user_error(run_kas("checkout", "kas.yml", cwd=project,
                              env=clean_env(KAS_WORK_DIR=str(missing))),
                      f"The work directory {missing} (KAS_WORK_DIR) does not exist or is not a "
                      "directory")
    assert not missing.exists()


def test_reference_dir_that_is_a_file(project, tmp_path):
    """A KAS_REPO_REF_DIR that is a file is a user error, before anything is
    cloned (ENV-012)."""
    ref = write(tmp_path / "refs", "not a directory\n")
    assert_user_error(run_kas("checkout", "kas.yml", cwd=project,
                              env=clean_env(KAS_REPO_REF_DIR=ref)),
                      f"KAS_REPO_REF_DIR {ref} is not a directory")
    assert not (project / "up").exists()


def test_file_system_refusal_is_one_clear_error(project):
    """An OSError of the file system (here: a repo path below a regular
    file) is the user's to fix: one ERROR line naming the path, exit 2."""
    (project / "kas.yml").write_text((project / "kas.yml").read_text().replace(
        "  up:\n", "  up:\n    path: afile/up\n"))
    (project / "afile").write_text("in the way\n")
    result = run_kas("checkout", "kas.yml", cwd=project)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    [error] = result.errors()
    assert str(project / "afile") in error, result
    assert (project / "afile").read_text() == "in the way\n"
