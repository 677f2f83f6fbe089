"""Fetch progress: a live status line per repository on a terminal, plain
log lines otherwise, per-repo timings at debug level (issue: repositories,
item 6)."""


import pytest
from helpers.repos import git, make_git_repo, slow_url, write
from helpers.run import clean_env, kas_command, run_kas
from helpers.terminal import run_on_terminal


@pytest.fixture
def slow_setup(tmp_path):
    """Two repos whose clones take about a second each."""
    work = tmp_path / "work"
    work.mkdir()
    gitconfig = write(tmp_path / "gitconfig", '[protocol "ext"]\n\tallow = always\n')
    repos = []
    for name in ("alpha", "beta"):
        upstream = make_git_repo(tmp_path / f"up-{name}")
        repos.append(f"""
              {name}:
                url: {slow_url(upstream, 1)}
                commit: {git(upstream, "rev-parse", "HEAD")}""")
    write(work / "kas.yml", "header:\n  version: 23\nrepos:" + "".join(repos) + "\n")
    return work, clean_env(GITCONFIG_FILE=gitconfig, KAS_WORK_DIR=str(work))


def test_terminal_shows_live_status_lines(slow_setup):
    work, env = slow_setup
    code, output = run_on_terminal(kas_command() + ["dump", "kas.yml"], work, env)
    assert code == 0, output
    assert "  alpha: cloning (" in output
    assert "  beta: cloning (" in output
    assert "\033[J" in output            # the block is redrawn in place
    assert "Repository alpha already contains" in output


def test_no_color_gives_plain_lines_only(slow_setup):
    work, env = slow_setup
    env["NO_COLOR"] = "1"
    code, output = run_on_terminal(kas_command() + ["dump", "kas.yml"], work, env)
    assert code == 0, output
    assert ": cloning (" not in output
    assert "\033[" not in output
    assert "Cloning repository alpha" in output


def test_not_a_terminal_gives_plain_lines_and_debug_timings(slow_setup):
    work, env = slow_setup
    result = run_kas("-l", "debug", "dump", "kas.yml", cwd=work, env=env)
    assert result.returncode == 0, result
    assert ": cloning (" not in result.stderr
    assert "\033[" not in result.stderr
    for name in ("alpha", "beta"):
        assert f"Cloning repository {name}" in result.stderr
        assert f"Repository {name}: up to date after " in result.stderr
