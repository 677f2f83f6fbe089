"""A re-run with nothing to do runs no git process per repository, and
every case the files do not make certain is still asked of git (issue 27).

The unit tests compare kas.vcs.gitfiles' answers with real git's on real
repositories: an answer is either git's own output or None (ask git).
The kas tests put a recording ``git`` first on PATH, next to the real one,
and check which repositories git was run in.
"""

import os
import shutil
import stat
import subprocess
import time

import pytest
from helpers.repos import git, isolated_git_env, make_git_repo, write
from helpers.run import clean_env, infos, kas_ok

from kas.vcs import gitfiles
from kas.vcs.gitfiles import MAX_STATUS_ENTRIES, Answer, GitFiles

STATUS = ["git", "status", "--porcelain", "--untracked-files=no"]
ENV = {"PATH": os.environ.get("PATH", os.defpath), "GIT_TERMINAL_PROMPT": "false"}


def commit(repo, name, text, message):
    write(os.path.join(repo, name), text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def settle(repo):
    """Let the clock move past the index's time stamp, then let git
    refresh the index: no entry is "racily clean" any more."""
    time.sleep(0.05)
    git(repo, "status", "--porcelain")


def real_git(repo, argv):
    """(exit status, stdout) of real git for ``argv``."""
    proc = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False,
                          env=isolated_git_env())
    return proc.returncode, proc.stdout


def assert_agrees(repo, argv):
    """The files' answer is git's, or there is none; returns it."""
    answer = GitFiles(str(repo)).answer(argv, ENV)
    if answer is not None:
        assert real_git(repo, argv) == (0, answer.stdout), argv
    return answer


@pytest.fixture
def clone(tmp_path):
    """A clone of an upstream with two commits and an annotated tag, on
    branch main, its index settled."""
    upstream = make_git_repo(tmp_path / "up", {"a.txt": "one\n", "dir/b.txt": "b\n"})
    git(upstream, "tag", "-a", "-m", "tag one", "v1")
    commit(upstream, "a.txt", "two\n", "second")
    path = str(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", upstream, path], check=True, env=isolated_git_env())
    settle(path)
    return path


QUERIES = [
    ["git", "cat-file", "-t", "HEAD"],
    ["git", "cat-file", "-t", "refs/remotes/origin/main"],
    ["git", "cat-file", "-t", "refs/tags/v1"],
    ["git", "rev-parse", "HEAD"],
    ["git", "rev-parse", "--verify", "-q", "refs/tags/v1"],
    ["git", "rev-parse", "refs/tags/v1^{commit}"],
    ["git", "rev-parse", "--verify", "-q", "--end-of-options", "refs/remotes/origin/main"],
    ["git", "rev-parse", "-q", "--verify", "HEAD"],
    STATUS,
]


def test_plain_clone_is_answered_like_git(clone):
    for argv in QUERIES:
        assert assert_agrees(clone, argv) is not None, argv
    head = git(clone, "rev-parse", "HEAD")
    assert assert_agrees(clone, ["git", "cat-file", "-t", head]).stdout == "commit\n"
    answer = assert_agrees(clone, ["git", "rev-parse", "--verify", "-q", "--end-of-options",
                                   f"{head}^{{commit}}"])
    assert answer.stdout == head + "\n"
    assert assert_agrees(clone, ["git", "merge-base", "--is-ancestor", head,
                                 "refs/remotes/origin/main"]) is not None


def test_packed_objects_and_refs_are_answered_like_git(clone):
    git(clone, "gc", "-q", "--aggressive")
    git(clone, "pack-refs", "--all")
    assert not os.path.exists(os.path.join(clone, ".git", "refs", "tags", "v1"))
    settle(clone)
    for argv in QUERIES:
        assert assert_agrees(clone, argv) is not None, argv


def test_a_loose_ref_wins_over_its_packed_value(clone):
    git(clone, "pack-refs", "--all")
    first = git(clone, "rev-parse", "HEAD~1")
    # A loose ref written after packing (as git does on update) wins.
    write(os.path.join(clone, ".git", "refs", "remotes", "origin", "main"), first + "\n")
    answer = assert_agrees(clone, ["git", "rev-parse", "--verify", "-q",
                                   "refs/remotes/origin/main"])
    assert answer.stdout == first + "\n"


def test_detached_head_and_branches(clone):
    head = git(clone, "rev-parse", "HEAD")
    assert GitFiles(clone).head_branch(ENV) == ("refs/heads/main", head)
    git(clone, "checkout", "-q", "--detach")
    assert GitFiles(clone).head_branch(ENV) is None
    assert assert_agrees(clone, ["git", "rev-parse", "HEAD"]).stdout == head + "\n"


def test_index_version_4_and_a_linked_worktree(clone, tmp_path):
    git(clone, "update-index", "--index-version", "4")
    settle(clone)
    assert assert_agrees(clone, STATUS) is not None
    linked = str(tmp_path / "linked")
    git(clone, "worktree", "add", "-q", "--detach", linked)
    settle(linked)
    assert os.path.isfile(os.path.join(linked, ".git"))
    for argv in QUERIES:
        assert assert_agrees(linked, argv) is not None, argv


@pytest.mark.parametrize("change", [
    "modified", "same size and time", "staged", "deleted", "mode", "unmerged",
    "intent to add", "assume unchanged", "racily clean"])
def test_anything_but_a_clean_tree_is_asked_of_git(clone, change):
    path = os.path.join(clone, "a.txt")
    if change == "modified":
        write(path, "changed\n")
    elif change == "same size and time":
        st = os.stat(path)
        write(path, "owt\n")        # same length as "two\n"
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "staged":
        write(path, "staged\n")
        git(clone, "add", "a.txt")
        settle(clone)
    elif change == "deleted":
        os.unlink(path)
    elif change == "mode":
        os.chmod(path, 0o755)
    elif change == "unmerged":
        git(clone, "checkout", "-q", "-b", "other", "HEAD~1")
        commit(clone, "a.txt", "other\n", "other")
        subprocess.run(["git", "-C", clone, "merge", "-q", "main"], capture_output=True,
                       check=False, env=isolated_git_env())
    elif change == "intent to add":
        write(os.path.join(clone, "new.txt"), "new\n")
        git(clone, "add", "-N", "new.txt")
        settle(clone)
    elif change == "assume unchanged":
        git(clone, "update-index", "--assume-unchanged", "a.txt")
    elif change == "racily clean":
        # Written in the same instant as the index: git compares contents.
        write(path, "owt\n")
        git(clone, "update-index", "a.txt")
        index = os.path.join(clone, ".git", "index")
        mtime = os.stat(index).st_mtime_ns
        os.utime(path, ns=(mtime, mtime))
    assert GitFiles(clone).answer(STATUS, ENV) is None


@pytest.mark.parametrize("state", [
    "checkout marker", "index.lock", "merge", "rebase", "cherry-pick", "reftable",
    "refStorage extension", "unknown extension", "core.worktree", "replace ref",
    "GIT_DIR in the environment"])
def test_unusual_repositories_are_asked_of_git(clone, state):
    dot_git = os.path.join(clone, ".git")
    env = dict(ENV)
    head = git(clone, "rev-parse", "HEAD")
    if state == "checkout marker":
        write(os.path.join(dot_git, "kas-checkout-target"), f"target {head}\n")
    elif state == "index.lock":
        write(os.path.join(dot_git, "index.lock"), "")
    elif state == "merge":
        write(os.path.join(dot_git, "MERGE_HEAD"), head + "\n")
    elif state == "rebase":
        os.mkdir(os.path.join(dot_git, "rebase-merge"))
    elif state == "cherry-pick":
        write(os.path.join(dot_git, "CHERRY_PICK_HEAD"), head + "\n")
    elif state == "reftable":
        os.mkdir(os.path.join(dot_git, "reftable"))
    elif state == "refStorage extension":
        with open(os.path.join(dot_git, "config"), "a") as f:
            f.write("[extensions]\n\trefStorage = reftable\n")
    elif state == "unknown extension":
        with open(os.path.join(dot_git, "config"), "a") as f:
            f.write("[extensions]\n\tsomethingNew = true\n")
    elif state == "core.worktree":
        git(clone, "config", "core.worktree", clone)
    elif state == "replace ref":
        git(clone, "replace", head, git(clone, "rev-parse", "HEAD~1"))
    elif state == "GIT_DIR in the environment":
        env["GIT_DIR"] = dot_git
    files = GitFiles(clone)
    for argv in [*QUERIES, ["git", "cat-file", "-t", head]]:
        assert files.answer(argv, env) is None, argv
    assert files.head_branch(env) is None


def test_failures_and_other_queries_are_left_to_git(clone):
    files = GitFiles(clone)
    for argv in (["git", "cat-file", "-t", "0" * 40],                 # missing object
                 ["git", "rev-parse", "--verify", "-q", "refs/tags/none"],
                 ["git", "rev-parse", "--verify", "-q", "HEAD~1"],    # revision syntax
                 ["git", "rev-parse", "--verify", "-q", "abc123"],    # short id
                 ["git", "merge-base", "--is-ancestor", "refs/tags/v1", "HEAD"],
                 ["git", "fetch", "-q"],
                 ["git", "status"]):
        assert files.answer(argv, ENV) is None, argv


def test_a_big_index_is_left_to_git(clone):
    """Above MAX_STATUS_ENTRIES tracked files git's own status is faster
    than stat-ing each file here: the files give no answer, git does."""
    for i in range(MAX_STATUS_ENTRIES):
        write(os.path.join(clone, "many", f"f{i}"), f"{i}\n")
    git(clone, "add", "many")
    git(clone, "commit", "-q", "-m", "many")
    settle(clone)
    assert GitFiles(clone).answer(STATUS, ENV) is None
    git(clone, "rm", "-q", "-r", "many/f0", "many/f1", "many/f2")
    git(clone, "commit", "-q", "-m", "fewer")
    settle(clone)
    assert assert_agrees(clone, STATUS) == Answer("")


def test_other_commands_do_not_read_the_files():
    """A git command the files cannot answer (most of what kas runs: fetch,
    checkout, am...) costs no file reading: the layout is never made."""
    def layout_of():
        raise AssertionError("the files were read")

    for argv in (["fetch", "-q"], ["checkout", "-q", "main"], ["status"],
                 ["rev-parse", "--show-toplevel"], ["merge-base", "a", "b"]):
        assert gitfiles._answer(layout_of, argv) is None, argv


# -- kas itself, with a recording git --------------------------------------

@pytest.fixture
def recorder(tmp_path):
    """(bin directory with a recording git, log file): each git run
    appends its working directory and arguments to the log."""
    bindir = tmp_path / "recording-bin"
    bindir.mkdir()
    log = tmp_path / "git.log"
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s %s\\n" "$PWD" "$*" >> {log}\n'
                       f'exec {shutil.which("git")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(bindir), log


@pytest.fixture
def project(tmp_path):
    """A work dir with repos pinned to a commit, a branch and a tag,
    checked out and re-run once (which settles their indexes)."""
    upstream = make_git_repo(tmp_path / "up", {"a.txt": "one\n"})
    git(upstream, "tag", "-a", "-m", "tag", "v1")
    pinned = commit(upstream, "a.txt", "two\n", "second")
    work = tmp_path / "work"
    work.mkdir()
    write(work / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    write(work / "kas.yml", f"""
        header:
          version: 23
        repos:
          this:
          pinned:
            url: {upstream}
            commit: {pinned}
          onbranch:
            url: {upstream}
            branch: main
          tagged:
            url: {upstream}
            tag: v1
        """)
    kas_ok("checkout", "kas.yml", cwd=work)
    time.sleep(0.05)
    kas_ok("checkout", "kas.yml", cwd=work)
    return upstream, work


def kas_recorded(recorder, work, *args):
    bindir, log = recorder
    if log.exists():
        log.unlink()
    env = clean_env(PATH=bindir + os.pathsep + os.environ["PATH"])
    result = kas_ok(*args, cwd=work, env=env)
    runs = log.read_text().splitlines() if log.exists() else []
    return result, runs


def runs_in(runs, work, name):
    return [line for line in runs if line.split(" ", 1)[0] == str(work / name)]


def test_noop_rerun_runs_no_git_in_the_repos(project, recorder):
    _, work = project
    # A run whose every query goes to git: a reftable directory makes the
    # files uncertain (git 2.39 itself ignores it).
    for name in ("pinned", "onbranch", "tagged"):
        (work / name / ".git" / "reftable").mkdir()
    before, asked = kas_recorded(recorder, work, "checkout", "kas.yml")
    for name in ("pinned", "onbranch", "tagged"):
        assert runs_in(asked, work, name)
        (work / name / ".git" / "reftable").rmdir()
    result, runs = kas_recorded(recorder, work, "checkout", "kas.yml")
    for name in ("pinned", "onbranch", "tagged"):
        assert runs_in(runs, work, name) == [], runs
    # The same messages as a run that asked git (fetch messages come in
    # the order the repos finish).
    assert sorted(infos(result)) == sorted(infos(before))
    assert any("Repository onbranch checked out to" in line for line in infos(result))


def test_a_detached_head_on_a_branch_repo_is_checked_out_by_git(project, recorder):
    _, work = project
    repo = work / "onbranch"
    git(repo, "checkout", "-q", "--detach")
    _, runs = kas_recorded(recorder, work, "checkout", "kas.yml")
    assert any("checkout -q -B main" in line for line in runs_in(runs, work, "onbranch"))
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"


def test_a_branch_moved_on_the_remote_is_fetched_and_checked_out_with_update(
        project, recorder):
    upstream, work = project
    new = commit(upstream, "a.txt", "three\n", "third")
    _, runs = kas_recorded(recorder, work, "checkout", "--update", "kas.yml")
    assert any(" fetch " in line for line in runs_in(runs, work, "onbranch"))
    assert git(work / "onbranch", "rev-parse", "HEAD") == new
    # The pinned repo does not move.
    assert git(work / "pinned", "rev-parse", "HEAD") != new


def test_a_repo_left_mid_checkout_is_finished_by_git(project, recorder):
    _, work = project
    repo = work / "pinned"
    head = git(repo, "rev-parse", "HEAD")
    first = git(repo, "rev-parse", "HEAD~1")
    # An interrupted checkout of kas towards the configured commit, which
    # left the tree half-way (the file of the older commit).
    git(repo, "checkout", "-q", "--detach", first)
    write(repo / "a.txt", "two\n")
    write(repo / ".git" / "kas-checkout-target", f"target {head}\n")
    result, runs = kas_recorded(recorder, work, "checkout", "kas.yml")
    assert runs_in(runs, work, "pinned"), runs
    assert git(repo, "rev-parse", "HEAD") == head
    assert not os.path.exists(repo / ".git" / "kas-checkout-target")
    assert "completed the checkout" in result.stderr


@pytest.mark.parametrize("state", ["reftable", "unknown extension"])
def test_an_unknown_repository_format_is_asked_of_git(project, recorder, state):
    _, work = project
    dot_git = work / "pinned" / ".git"
    if state == "reftable":
        (dot_git / "reftable").mkdir()
    else:
        with open(dot_git / "config", "a") as f:
            f.write("[extensions]\n\tsomethingNew = true\n")
    _, runs = kas_recorded(recorder, work, "checkout", "kas.yml")
    asked = runs_in(runs, work, "pinned")
    assert any(" status " in line for line in asked), asked
    assert any("cat-file" in line for line in asked), asked


@pytest.mark.parametrize("change", ["modified", "staged", "same size and time"])
def test_a_dirty_repo_is_reported_as_before(project, recorder, change):
    _, work = project
    path = work / "pinned" / "a.txt"
    st = os.stat(path)
    write(path, "owt\n")
    if change == "staged":
        git(work / "pinned", "add", "a.txt")
    elif change == "same size and time":
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    result, runs = kas_recorded(recorder, work, "checkout", "kas.yml")
    assert any(" status " in line for line in runs_in(runs, work, "pinned"))
    assert "Repo pinned is dirty - no checkout" in result.stderr


# -- the top repository of a configuration ---------------------------------

def git_top_level(directory):
    """vcs_root's question, asked of real git: the root or None."""
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel",
                           "--show-superproject-working-tree"], cwd=directory,
                          capture_output=True, text=True, check=False)
    paths = [line for line in proc.stdout.splitlines() if line]
    return min(paths) if proc.returncode == 0 and paths else None


def test_the_top_level_is_found_like_git(clone, tmp_path):
    from kas.vcs.gitfiles import top_level

    outside = tmp_path / "outside" / "deeper"
    outside.mkdir(parents=True)
    for directory in (clone, os.path.join(clone, "dir"), str(outside)):
        known = top_level(directory, ENV)
        assert known is not None, directory
        assert known.root == git_top_level(directory), directory


@pytest.mark.parametrize("layout", ["linked worktree", "nested", "submodule", "GIT_DIR"])
def test_an_unusual_top_level_is_asked_of_git(clone, tmp_path, layout):
    from kas.vcs.gitfiles import top_level

    env = dict(ENV)
    directory = clone
    if layout == "linked worktree":
        directory = str(tmp_path / "linked")
        git(clone, "worktree", "add", "-q", "--detach", directory)
    elif layout == "nested":
        directory = make_git_repo(os.path.join(clone, "inner"))
    elif layout == "submodule":
        inner = make_git_repo(tmp_path / "inner")
        subprocess.run(["git", "-C", clone, "-c", "protocol.file.allow=always", "submodule",
                        "add", "-q", inner, "sub"], check=True, env=isolated_git_env())
        directory = os.path.join(clone, "sub")
    else:
        env["GIT_DIR"] = os.path.join(clone, ".git")
    assert top_level(directory, env) is None
