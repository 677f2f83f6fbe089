"""``kas diff`` (cli.md §5.7 CLI-160 ... CLI-165; colors CLI-006, CLI-012).

Real kas runs on real git and hg repositories with fixed authors and
dates, so the text and JSON reports are compared byte for byte.
"""

import json
import os
import pty
import subprocess

import pytest
from helpers.repos import (
    AUTHOR,
    EMAIL,
    GIT_ENV,
    HG_DATE,
    HG_ENV,
    GitUpstream,
    HgUpstream,
    Project,
    kas_yaml,
    lock_yaml,
    repo_yaml,
    run,
)
from helpers.run import clean_env, kas_command

DATE = "2024-03-01 12:00:00"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """An upstream with three commits and a project whose old.yml and
    new.yml pin the first and the third (via lock files)."""
    base = tmp_path_factory.mktemp("diff")
    up = GitUpstream(base / "up")
    second = up.commit("second\n\nwith a body")
    third = up.commit("third")
    project = Project(base / "project")
    config = kas_yaml(repo_yaml("up", up, branch="main"), extra="machine: qemux86-64\n")
    project.write("old.yml", config)
    project.write("old.lock.yml", lock_yaml({"up": up.first}))
    project.write("new.yml", config.replace("qemux86-64", "qemuarm64"))
    project.write("new.lock.yml", lock_yaml({"up": third}))
    return project, up, second, third


def text_header(first="old.yml", second="new.yml"):
    """Issue 16.6: two spaces after the ``---`` and ``+++`` signs."""
    return f"kas diff {first} {second}\n---  {first}\n+++  {second}\n"


def test_text_report_byte_exact(history):
    """CLI-161, CLI-164: Issue 16.6: a changed string is a unified diff below its key."""
    project, up, second, third = history
    result = project.kas_ok("diff", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        "@@ config changed @@\n"
        "     machine:\n"
        "         @@ -1 +1 @@\n"
        "-        qemux86-64\n"
        "+        qemuarm64\n"
        "     repos.up.commit:\n"
        "         @@ -1 +1 @@\n"
        f"-        {up.first}\n"
        f"+        {third}\n"
        "@@ up commits diff @@\n"
        f"{third}: {AUTHOR} {DATE}\n"
        "    third\n"
        "    \n"
        f"{second}: {AUTHOR} {DATE}\n"
        "    second\n"
        "    \n"
        "    with a body\n"
        "    \n")


def test_oneline_and_commit_only(history):
    """CLI-164."""
    project, _, second, third = history
    result = project.kas_ok("diff", "--oneline", "--commit-only", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        f"@@ up commits diff @@\n{third[:7]} third\n{second[:7]} second\n")


def test_content_only(history):
    """CLI-164."""
    project, _, _, third = history
    result = project.kas_ok("diff", "--content-only", "old.yml", "new.yml")
    assert result.stdout.endswith(f"+        {third}\n")
    assert "commits diff" not in result.stdout


def test_json_report_byte_exact(history):
    """CLI-163: Issue 16.6: the message as git stores it, trailing newline included."""
    project, up, second, third = history
    result = project.kas_ok("diff", "--format", "json", "old.yml", "new.yml")

    def commit(sha, message):
        return {"commit": sha, "author": AUTHOR, "email": EMAIL, "commit_date": DATE,
                "message": message}

    assert result.stdout == json.dumps({
        "values_changed": {
            "machine": {"old_value": "qemux86-64", "new_value": "qemuarm64"},
            "repos.up.commit": {"old_value": up.first, "new_value": third}},
        "vcs": {"up": [commit(third, "third\n"), commit(second, "second\n\nwith a body\n")]},
    }, indent=4) + "\n"


def test_identical_configs_exit_0(history):
    """CLI-165."""
    project = history[0]
    result = project.kas_ok("diff", "old.yml", "old.yml")
    assert result.stdout == text_header("old.yml", "old.yml")
    json_result = project.kas_ok("diff", "--format", "json", "old.yml", "old.yml")
    assert json_result.stdout == '{\n    "values_changed": {}\n}\n'


A_YML = """header:
  version: 14
repos:
  this:
machine: ""
target: [one, two]
local_conf_header:
  x: |
    A = "1"

    B = "2"
    C = "3"
  gone: |
    OLD = "1"
    OLDER = "2"
distro: poky
env:
  KEPT: null
"""

B_YML = """header:
  version: 14
repos:
  this:
target: [one]
local_conf_header:
  x: |
    A = "1"

    B = "changed"
    C = "3"
  y: |
    NEW = "1"
    MORE = "2"
task: fetch
env:
  KEPT: null
  ADDED: null
"""


def test_missing_keys_lists_and_multiline_strings(tmp_path):
    """CLI-161, CLI-164: Issue 16.6 text layout: string diffs with hunk headers in column 10
    and the text in column 10, after the sign or a space (issue 24.4: also
    an empty line); other changes as ``-    key: value``, a list in Python's
    form, a multi-line one continuing with the sign (issue 24.4: also after
    its final line break); null or empty sides (machine "", env.ADDED null)
    are left out."""
    project = Project(tmp_path / "p")
    project.write("a.yml", A_YML)
    project.write("b.yml", B_YML)
    result = project.kas_ok("diff", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        "@@ config changed @@\n"
        "-    target: ['one', 'two']\n"
        "+    target: ['one']\n"
        "     local_conf_header.x:\n"
        "         @@ -1,4 +1,4 @@\n"
        '         A = "1"\n'
        "         \n"
        '-        B = "2"\n'
        '+        B = "changed"\n'
        '         C = "3"\n'
        '-    local_conf_header.gone: OLD = "1"\n'
        '-OLDER = "2"\n'
        "-\n"
        '+    local_conf_header.y: NEW = "1"\n'
        '+MORE = "2"\n'
        "+\n"
        "-    distro: poky\n"
        "+    task: fetch\n")


def test_json_one_sided_keys_are_reported_with_null(tmp_path):
    """CLI-161, CLI-163: Issue 16.6: every key only one side has is in values_changed with
    null on the other side, also when its own value is null."""
    project = Project(tmp_path / "p")
    project.write("a.yml", A_YML)
    project.write("b.yml", B_YML)
    result = project.kas_ok("diff", "--format", "json", "a.yml", "b.yml")

    def change(old, new):
        return {"old_value": old, "new_value": new}

    assert result.stdout == json.dumps({"values_changed": {
        "machine": change("", None),
        "target": change(["one", "two"], ["one"]),
        "local_conf_header.x": change('A = "1"\n\nB = "2"\nC = "3"\n',
                                      'A = "1"\n\nB = "changed"\nC = "3"\n'),
        "local_conf_header.gone": change('OLD = "1"\nOLDER = "2"\n', None),
        "local_conf_header.y": change(None, 'NEW = "1"\nMORE = "2"\n'),
        "distro": change("poky", None),
        "env.ADDED": change(None, None),
        "task": change(None, "fetch"),
    }}, indent=4) + "\n"


def test_unknown_commit_is_one_clear_error(history):
    """CLI-162."""
    project, up, _, _ = history
    bogus = "feedfacefeedfacefeedfacefeedfacefeedface"
    project.write("bad.yml", kas_yaml(repo_yaml("up", up, branch="main"))
                  + f"overrides:\n  repos:\n    up:\n      commit: {bogus}\n")
    # Without the checkout (which would already fail) only the diff notices.
    result = project.kas("diff", "--skip", "repos_checkout", "bad.yml", "new.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [
        f'Could not compute diff for repository "up": First commit ({bogus}) is not valid']


def test_hg_commits(tmp_path):
    """CLI-162."""
    hg_up = HgUpstream(tmp_path / "hgup")
    second = hg_up.commit("second")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", hg_up, branch="default"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": hg_up.first}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": second}))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{second}: {AUTHOR} {DATE}\n    second\n")


# --- tags, fresh work dirs, several repos (issue 16.6) -------------------------------


def git_commit_dated(up, message, author_date, committer_date):
    """A commit by Alice, committed by Bob at another date and time zone."""
    with open(os.path.join(up.path, "file.txt"), "a") as f:
        f.write(message)
    env = dict(GIT_ENV, GIT_AUTHOR_DATE=author_date, GIT_COMMITTER_DATE=committer_date,
               GIT_COMMITTER_NAME="Bob Committer", GIT_COMMITTER_EMAIL="bob@example.com")
    run(["git", "commit", "-q", "-a", "-m", message], up.path, env)
    return up.head()


def hg_tag(up, name):
    """``hg tag``: a new changeset adding the tag to .hgtags; returns its id."""
    run(["hg", "tag", "-u", f"{AUTHOR} <{EMAIL}>", "-d", HG_DATE, name], up.path, HG_ENV)
    return up.head()


@pytest.fixture(scope="module")
def git_tags(tmp_path_factory):
    """v1 (lightweight) on the first commit, v2 (annotated) two commits on."""
    up = GitUpstream(tmp_path_factory.mktemp("tags") / "up")
    up.tag("v1")
    second = up.commit("second")
    third = git_commit_dated(up, "third\n\nwith a body\n", "2020-01-02 03:04:05 -0700",
                             "2024-05-06 07:08:09 +0530")
    up.tag("v2", annotated=True)
    return up, second, third


def tag_project(path, up):
    project = Project(path)
    project.write("a.yml", kas_yaml(repo_yaml("up", up, tag="v1")))
    project.write("b.yml", kas_yaml(repo_yaml("up", up, tag="v2")))
    return project


def test_git_tag_change_lists_commits_text(git_tags, tmp_path):
    """Issue 16.6 / CLI-162: a changed ``tag:`` gets its commit list; the
    repo is not in the work dir yet (kas clones it first).  The date is
    the committer's, in the committer's time zone."""
    up, second, third = git_tags
    project = tag_project(tmp_path / "p", up)
    result = project.kas_ok("diff", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        "@@ config changed @@\n"
        "     repos.up.tag:\n"
        "         @@ -1 +1 @@\n"
        "-        v1\n"
        "+        v2\n"
        "@@ up commits diff @@\n"
        f"{third}: {AUTHOR} 2024-05-06 07:08:09\n"
        "    third\n"
        "    \n"
        "    with a body\n"
        "    \n"
        f"{second}: {AUTHOR} {DATE}\n"
        "    second\n"
        "    \n")


def test_git_tag_change_lists_commits_json(git_tags, tmp_path):
    """Issue 16.6 / CLI-163: the exact vcs entries of a tag change; the
    message is git's, trailing newline included."""
    up, second, third = git_tags
    project = tag_project(tmp_path / "p", up)
    result = project.kas_ok("diff", "--format", "json", "a.yml", "b.yml")
    assert result.stdout == json.dumps({
        "values_changed": {"repos.up.tag": {"old_value": "v1", "new_value": "v2"}},
        "vcs": {"up": [
            {"commit": third, "author": AUTHOR, "email": EMAIL,
             "commit_date": "2024-05-06 07:08:09", "message": "third\n\nwith a body\n"},
            {"commit": second, "author": AUTHOR, "email": EMAIL, "commit_date": DATE,
             "message": "second\n"}]},
    }, indent=4) + "\n"


def test_hg_tag_change_lists_commits(tmp_path):
    """Issue 16.6 / CLI-162: a changed ``tag:`` of a Mercurial repo, not
    in the work dir yet; hg stores messages without a trailing newline."""
    up = HgUpstream(tmp_path / "up")
    tagged_v1 = hg_tag(up, "v1")
    second = up.commit("second")
    hg_tag(up, "v2")
    project = Project(tmp_path / "p")
    project.write("a.yml", kas_yaml(repo_yaml("up", up, tag="v1")))
    project.write("b.yml", kas_yaml(repo_yaml("up", up, tag="v2")))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        "@@ up commits diff @@\n"
        f"{second}: {AUTHOR} {DATE}\n"
        "    second\n"
        f"{tagged_v1}: {AUTHOR} {DATE}\n"
        f"    Added tag v1 for changeset {up.first[:12]}\n")
    data = json.loads(project.kas_ok("diff", "--format", "json", "a.yml", "b.yml").stdout)
    assert [c["message"] for c in data["vcs"]["up"]] == [
        "second", f"Added tag v1 for changeset {up.first[:12]}"]


def test_two_repos_separated_by_a_dashes_line(tmp_path):
    """Issue 16.6 / CLI-164: ``---`` between the commit lists of a git and
    an hg repo (neither in the work dir yet), with and without --oneline."""
    git_up, hg_up = GitUpstream(tmp_path / "gitup"), HgUpstream(tmp_path / "hgup")
    git_new, hg_new = git_up.commit("git moved"), hg_up.commit("hg moved")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("g", git_up, branch="main"),
                      repo_yaml("h", hg_up, branch="default"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"g": git_up.first, "h": hg_up.first}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"g": git_new, "h": hg_new}))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ g commits diff @@\n{git_new}: {AUTHOR} {DATE}\n    git moved\n    \n"
        "---\n"
        f"@@ h commits diff @@\n{hg_new}: {AUTHOR} {DATE}\n    hg moved\n")
    result = project.kas_ok("diff", "--oneline", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        "@@ config changed @@\n"
        "     repos.g.commit:\n"
        "         @@ -1 +1 @@\n"
        f"-        {git_up.first}\n"
        f"+        {git_new}\n"
        "     repos.h.commit:\n"
        "         @@ -1 +1 @@\n"
        f"-        {hg_up.first}\n"
        f"+        {hg_new}\n"
        f"@@ g commits diff @@\n{git_new[:7]} git moved\n"
        "---\n"
        f"@@ h commits diff @@\n{hg_new[:7]} hg moved\n")


def test_hg_commits_given_as_rev_node(tmp_path):
    """CLI-162: Issue 16.4: an hg ``commit:`` may be ``<rev>:<node>``; the diff
    resolves it like a node."""
    hg_up = HgUpstream(tmp_path / "hgup")
    second = hg_up.commit("second")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", hg_up, branch="default"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": f"0:{hg_up.first}"}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": f"1:{second}"}))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{second}: {AUTHOR} {DATE}\n    second\n")


def test_diff_after_lock_update_shows_the_new_commits(tmp_path):
    """The whole story: lock, keep a copy, upstream moves, lock --update,
    diff the copy against the updated config."""
    up = GitUpstream(tmp_path / "up")
    project = Project(tmp_path / "p")
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "kas.yml")
    project.write("old.yml", project.read("kas.yml"))
    project.write("old.lock.yml", project.read("kas.lock.yml"))
    new = up.commit("upstream fix")
    project.kas_ok("lock", "--update", "kas.yml")
    result = project.kas_ok("diff", "--oneline", "old.yml", "kas.yml")
    assert result.stdout == text_header("old.yml", "kas.yml") + (
        "@@ config changed @@\n"
        "     repos.up.commit:\n"
        "         @@ -1 +1 @@\n"
        f"-        {up.first}\n"
        f"+        {new}\n"
        f"@@ up commits diff @@\n{new[:7]} upstream fix\n")


# --- colors (CLI-012, CLI-164) ------------------------------------------------------


def run_on_terminal(project, *args, **env):
    """Run kas with stdout on a pseudo terminal; returns what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.run(kas_command() + list(args), cwd=project.path, stdout=slave,
                          stderr=subprocess.PIPE, env=clean_env(**env), check=False,
                          timeout=60)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.returncode == 0, proc.stderr
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_colors_on_a_terminal(history):
    """CLI-164, issue 24.4: kas 5.5's colored bytes: a diff line is colored
    together with its line break (the reset begins the next line), a
    commit's "<sha>: " is yellow."""
    project, up, second, third = history
    out = run_on_terminal(project, "diff", "--oneline", "old.yml", "new.yml")
    assert out == text_header() + (
        "\033[34m@@ config changed @@\033[0m\n"
        "     machine:\n"
        "\033[34m         @@ -1 +1 @@\n\033[0m"
        "\033[31m-        qemux86-64\n\033[0m"
        "\033[32m+        qemuarm64\n\033[0m"
        "     repos.up.commit:\n"
        "\033[34m         @@ -1 +1 @@\n\033[0m"
        f"\033[31m-        {up.first}\n\033[0m"
        f"\033[32m+        {third}\n\033[0m"
        "\033[34m@@ up commits diff @@\033[0m\n"
        f"\033[33m{third[:7]}\033[0m third\n"
        f"\033[33m{second[:7]}\033[0m second\n")
    out = run_on_terminal(project, "diff", "--commit-only", "old.yml", "new.yml")
    assert out == text_header() + (
        "\033[34m@@ up commits diff @@\033[0m\n"
        f"\033[33m{third}: \033[0m{AUTHOR} {DATE}\n"
        "    third\n    \n"
        f"\033[33m{second}: \033[0m{AUTHOR} {DATE}\n"
        "    second\n    \n    with a body\n    \n")


@pytest.mark.parametrize(("args", "env"), [(["--no-color"], {}), ([], {"NO_COLOR": "1"})])
def test_no_color_on_a_terminal(history, args, env):
    """CLI-012."""
    project = history[0]
    out = run_on_terminal(project, *args, "diff", "old.yml", "new.yml", **env)
    assert "\033[" not in out
    assert "@@ config changed @@\n" in out


def test_json_always_carries_both_parts(history):
    """CLI-163: --commit-only/--content-only/--oneline shape the text report only."""
    project = history[0]
    data = json.loads(project.kas_ok("diff", "--format", "json", "--content-only",
                                     "old.yml", "new.yml").stdout)
    assert list(data) == ["values_changed", "vcs"]


def test_shallow_clone_is_deepened_first(tmp_path):
    """CLI-162: KAS_CLONE_DEPTH=1 (CLI-086) leaves out the commits in between."""
    up = GitUpstream(tmp_path / "up")
    second = up.commit("second")
    third = up.commit("third")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", up, branch="main").replace(up.path, f"file://{up.path}"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": up.first}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": third}))
    env = clean_env(KAS_CLONE_DEPTH="1")
    result = project.kas_ok("diff", "--oneline", "--commit-only", "a.yml", "b.yml", env=env)
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{third[:7]} third\n{second[:7]} second\n")


# --- a new revision older than the old one (issue 24.3) ------------------------------


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """v0.10-rc1 (lightweight) on the second commit, v0.10 (annotated) two
    commits later; ``same`` names v0.10's commit too."""
    up = GitUpstream(tmp_path_factory.mktemp("releases") / "up")
    up.commit("rc1\n\nwith a body")
    up.tag("v0.10-rc1")
    fix = up.commit("fix")
    release = up.commit("release")
    up.tag("v0.10", annotated=True)
    up.tag("same")
    return up, fix, release


def test_older_tag_lists_the_commits_in_between(releases, tmp_path):
    """Issue 24.3: ``tag: v0.10`` old, ``tag: v0.10-rc1`` new (an ancestor):
    like kas 5.5, the commits between the two, newest first, in text and
    JSON; a repo whose two tags name one commit has no section at all."""
    up, fix, release = releases
    project = Project(tmp_path / "p")
    project.write("old.yml", kas_yaml(repo_yaml("up", up, tag="v0.10"),
                                      repo_yaml("other", up, tag="v0.10", path="other")))
    project.write("new.yml", kas_yaml(repo_yaml("up", up, tag="v0.10-rc1"),
                                      repo_yaml("other", up, tag="same", path="other")))
    result = project.kas_ok("diff", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        "@@ config changed @@\n"
        "     repos.up.tag:\n"
        "         @@ -1 +1 @@\n"
        "-        v0.10\n"
        "+        v0.10-rc1\n"
        "     repos.other.tag:\n"
        "         @@ -1 +1 @@\n"
        "-        v0.10\n"
        "+        same\n"
        "@@ up commits diff @@\n"
        f"{release}: {AUTHOR} {DATE}\n"
        "    release\n"
        "    \n"
        f"{fix}: {AUTHOR} {DATE}\n"
        "    fix\n"
        "    \n")
    data = json.loads(project.kas_ok("diff", "--format", "json", "old.yml", "new.yml").stdout)
    assert data["vcs"] == {"up": [
        {"commit": release, "author": AUTHOR, "email": EMAIL, "commit_date": DATE,
         "message": "release\n"},
        {"commit": fix, "author": AUTHOR, "email": EMAIL, "commit_date": DATE,
         "message": "fix\n"}]}
    # Newer again: the same commits.
    result = project.kas_ok("diff", "--oneline", "--commit-only", "new.yml", "old.yml")
    assert result.stdout == text_header("new.yml", "old.yml") + (
        f"@@ up commits diff @@\n{release[:7]} release\n{fix[:7]} fix\n")


@pytest.mark.parametrize("vcs", ["git", "hg"])
def test_older_commit_lists_the_commits_in_between(tmp_path, vcs):
    """Issue 24.3: the same for ``commit:`` pins (from lock files), git and
    Mercurial; two pins of one commit list nothing, in JSON too."""
    up = GitUpstream(tmp_path / "up") if vcs == "git" else HgUpstream(tmp_path / "up")
    second = up.commit("second")
    third = up.commit("third")
    project = Project(tmp_path / "p")
    branch = "main" if vcs == "git" else "default"
    config = kas_yaml(repo_yaml("up", up, branch=branch))
    for name, pin in (("old", third), ("new", up.first), ("same", third)):
        project.write(f"{name}.yml", config)
        project.write(f"{name}.lock.yml", lock_yaml({"up": pin}))
    result = project.kas_ok("diff", "--oneline", "--commit-only", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        f"@@ up commits diff @@\n{third[:7]} third\n{second[:7]} second\n")
    data = json.loads(project.kas_ok("diff", "--format", "json", "old.yml", "new.yml").stdout)
    assert [c["commit"] for c in data["vcs"]["up"]] == [third, second]
    result = project.kas_ok("diff", "--format", "json", "old.yml", "same.yml")
    assert json.loads(result.stdout) == {"values_changed": {}}


# --- text details (issue 24.4) -------------------------------------------------------


def details_configs(project, up):
    project.write("a.yml", (
        "header:\n  version: 14\n"
        "env:\n  EMPTY: ''\n  SINGLE: x\n"
        "menu_configuration:\n  FLAG: true\n  COUNT: 0\n"
        "local_conf_header:\n  text: |\n    one\n\n    three\n"
        "repos:\n"
        "  gone:\n    path: gone\n    layers:\n      meta: null\n"))
    project.write("b.yml", (
        "header:\n  version: 14\n"
        "env:\n  EMPTY: qemu\n  SINGLE: \"x\\ny\"\n"
        "menu_configuration:\n  FLAG: false\n  COUNT: 4\n"
        "local_conf_header:\n  text: |\n    one\n\n    3\n"
        "repos:\n"
        f"  meta-bar:\n    url: {up.path}\n    branch: main\n    signed: false\n"))


DETAILS = (
    "@@ config changed @@\n"
    "     env.EMPTY:\n"
    "         @@ -1 +1 @@\n"
    "-        \n"
    "+        qemu\n"
    "     env.SINGLE:\n"
    "         @@ -1 +1,2 @@\n"
    "         x\n"
    "+        y\n"
    "-    menu_configuration.FLAG: True\n"
    "+    menu_configuration.COUNT: 4\n"
    "     local_conf_header.text:\n"
    "         @@ -1,3 +1,3 @@\n"
    "         one\n"
    "         \n"
    "-        three\n"
    "+        3\n"
    "-    repos.gone: {'path': 'gone', 'layers': {'meta': None}}\n"
    "+    repos.meta-bar: {'url': '{url}', 'branch': 'main', 'signed': False}\n")


def test_text_details_as_kas_5_5_prints_them(tmp_path):
    """Issue 24.4: dict and list values in Python's form (single quotes,
    None, True); a side that is false in Python's sense (False, 0, "") is
    left out; an empty string is one empty line of a string diff; context
    lines have 9 spaces before their text, also an empty one.  Unlike
    kas 5.5, a last line without a line break still ends the line."""
    up = GitUpstream(tmp_path / "bar")
    project = Project(tmp_path / "p")
    os.makedirs(project.file("gone"))
    details_configs(project, up)
    result = project.kas_ok("diff", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + DETAILS.replace("{url}", up.path)


def test_key_order_does_not_depend_on_the_hash_seed(tmp_path):
    """Issue 24.4: kas 5.5 orders the changed keys (and repos) by Python's
    hash seed; here they come in the order of the configuration, in every
    run (docs/deviations.md)."""
    up = GitUpstream(tmp_path / "bar")
    project = Project(tmp_path / "p")
    os.makedirs(project.file("gone"))
    details_configs(project, up)
    outputs = {project.kas_ok("diff", "a.yml", "b.yml",
                              env=clean_env(PYTHONHASHSEED=seed)).stdout
               for seed in ("0", "1", "2", "3")}
    assert outputs == {text_header("a.yml", "b.yml") + DETAILS.replace("{url}", up.path)}
    keys = {tuple(json.loads(project.kas_ok("diff", "--format", "json", "a.yml", "b.yml",
                                            env=clean_env(PYTHONHASHSEED=seed)).stdout)
                  ["values_changed"])
            for seed in ("0", "1", "2", "3")}
    assert keys == {("env.EMPTY", "env.SINGLE", "menu_configuration.FLAG",
                     "menu_configuration.COUNT", "local_conf_header.text", "repos.gone",
                     "repos.meta-bar")}
