"""Mercurial repositories (cli.md CLI-081, CLI-088 step 7, CLI-090, CLI-091,
CLI-093, CLI-142; config-format.md CF-630, CF-645, CF-675).

Every test runs the real ``kas`` on real hg repositories made here.  The
work directory is an empty directory outside any VCS checkout, so it is the
top repository and holds the init script and the patch files.  The
upstream repository ``up`` (built once per module) has this history::

    rev 0  A   default  a.txt = "one"        (tagged v1)
    rev 1      default  "Added tag v1 ..."
    rev 2  F1  feat     a.txt = "feat1"
    rev 3  F2  feat     a.txt = "feat2"      (head of feat)

Tests that change or move the upstream work on their own copy of it.
"""

import os
import re
import shutil
import subprocess

import pytest
import yaml
from helpers.repos import git, make_git_repo, read, write
from helpers.run import clean_env, kas_ok, run_kas

HG_ENV = clean_env(HGPLAIN="1", HGRCPATH="")
DATE = "1600000000 0"
MTIME = 1_500_000_000


# --------------------------------------------------------------------------
# helpers


def hg(repo, *args):
    return subprocess.run(["hg", "--cwd", str(repo)] + list(args), check=True, env=HG_ENV,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def hg_commit(repo, files, message):
    """Write ``files``, commit them as user ``test``; returns the full node."""
    for name, text in files.items():
        write(os.path.join(str(repo), name), text)
    hg(repo, "commit", "-q", "-A", "-u", "test", "-d", DATE, "-m", message)
    return hg(repo, "log", "-r", ".", "-T", "{node}")


class Upstream:
    def __init__(self, path):
        self.path = str(path)
        hg("/", "init", self.path)
        self.a = hg_commit(self.path, {"a.txt": "one\n"}, "one")
        hg(self.path, "tag", "-q", "-u", "test", "-d", DATE, "-r", self.a, "v1")
        hg(self.path, "branch", "-q", "feat")
        self.f1 = hg_commit(self.path, {"a.txt": "feat1\n"}, "feat one")
        self.f2 = hg_commit(self.path, {"a.txt": "feat2\n"}, "feat two")

    def copy(self, dest):
        shutil.copytree(self.path, str(dest))
        return str(dest)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    return Upstream(tmp_path_factory.mktemp("hg") / "up")


class Project:
    """A work dir whose kas.yml has the hg repo ``up`` (plus ``top``)."""

    def __init__(self, workdir, url):
        self.work = os.path.realpath(str(workdir))
        self.url = url
        self.repo = os.path.join(self.work, "up")
        write(os.path.join(self.work, "oe-init-build-env"), 'mkdir -p "$1/conf"\n')

    def config(self, url=None, **ref):
        up = {"type": "hg", "url": url or self.url, **ref}
        data = {"header": {"version": 23}, "repos": {"top": None, "up": up}}
        with open(os.path.join(self.work, "kas.yml"), "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)

    def run(self, *args, env=None):
        return run_kas(*args, "kas.yml", cwd=self.work, env=env)

    def checkout_ok(self, *options):
        return kas_ok("checkout", *options, "kas.yml", cwd=self.work)

    def parent(self, template="{node}"):
        return hg(self.repo, "log", "-r", ".", "-T", template)


@pytest.fixture
def project(workdir, upstream):
    return Project(workdir, upstream.path)


def failed(result):
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    return result.errors()


# --------------------------------------------------------------------------
# checkout of the configured revision


@pytest.mark.parametrize("ref, expected, branch", [
    ({"commit": "A"}, "A", "default"),
    ({"tag": "v1"}, "A", "default"),
    ({"branch": "feat"}, "F2", "feat"),
    ({"branch": "feat", "commit": "F1"}, "F1", "feat"),
], ids=["commit", "tag", "branch", "branch+commit"])
def test_clone_and_checkout(project, upstream, ref, expected, branch):
    """CLI-088, CLI-090."""
    nodes = {"A": upstream.a, "F1": upstream.f1, "F2": upstream.f2}
    project.config(**{key: nodes.get(value, value) for key, value in ref.items()})
    result = project.checkout_ok()
    assert "Cloning repository up" in result.stderr
    assert project.parent() == nodes[expected]
    assert hg(project.repo, "branch") == branch
    assert hg(project.repo, "status", "-mard") == ""
    assert f"Repository up checked out to {nodes[expected]}" in result.stderr


@pytest.mark.parametrize("ref, message", [
    ({"tag": "nope"}, 'Tag "nope" cannot be found in repository "up"'),
    ({"branch": "nope"}, 'Branch "nope" cannot be found in repository "up"'),
], ids=["tag", "branch"])
def test_missing_tag_or_branch(project, ref, message):
    """CLI-090."""
    project.config(**ref)
    assert failed(project.run("checkout")) == [message]


def test_short_commit_warns(project, upstream):
    """CLI-091."""
    short = upstream.a[:12]
    project.config(commit=short)
    result = project.checkout_ok()
    assert (f' - WARNING  - {short} is not a full-length hash for repo "up".\n'
            "This eases supply chain attacks and will be an error in future versions.\n"
            ) in result.stderr
    assert project.parent() == upstream.a


@pytest.mark.parametrize("commit", ["v1", "feat"], ids=["tag-name", "branch-name"])
def test_suspicious_commit_is_an_error(project, upstream, commit):
    """CLI-091."""
    resolved = upstream.a if commit == "v1" else upstream.f2
    project.config(commit=commit)
    assert failed(project.run("checkout")) == [
        f"Parsed commit {resolved} differs suspiciously from specified {commit}."]


# --------------------------------------------------------------------------
# later runs


def test_pinned_commit_needs_no_upstream_on_second_run(project, upstream, tmp_path):
    """CLI-088."""
    project.url = upstream.copy(tmp_path / "copy")
    project.config(commit=upstream.f1)
    project.checkout_ok()
    shutil.move(project.url, str(tmp_path / "gone"))

    result = project.checkout_ok()
    assert f"Repository up already contains {upstream.f1} as commit" in result.stderr
    assert project.parent() == upstream.f1


def test_branch_follows_upstream_only_with_update(project, upstream,
                                                                  tmp_path):
    """CLI-044, CLI-088."""
    project.url = upstream.copy(tmp_path / "copy")
    project.config(branch="feat")
    project.checkout_ok()
    assert project.parent() == upstream.f2
    f3 = hg_commit(project.url, {"a.txt": "feat3\n"}, "feat three")

    project.checkout_ok()
    assert project.parent() == upstream.f2
    project.checkout_ok("--update")
    assert project.parent() == f3
    assert read(os.path.join(project.repo, "a.txt")) == "feat3\n"


def test_dirty_repo_kept_unless_force_checkout(project, upstream):
    """CLI-090, CLI-043."""
    project.config(commit=upstream.f1)
    project.checkout_ok()
    a_txt = write(os.path.join(project.repo, "a.txt"), "local change\n")

    project.config(commit=upstream.f2)
    result = project.checkout_ok()
    assert "Repo up is dirty - no checkout" in result.warnings()
    assert project.parent() == upstream.f1
    assert read(a_txt) == "local change\n"

    result = project.checkout_ok("--force-checkout")
    assert "Repo up is dirty - no checkout" not in result.warnings()
    assert project.parent() == upstream.f2
    assert read(a_txt) == "feat2\n"
    assert hg(project.repo, "status", "-mard") == ""


def test_changed_url_is_not_applied_but_warned(project, upstream, tmp_path):
    """CLI-088."""
    warning = "Repo implementation does not support changing the remote url."
    project.config(commit=upstream.a)
    assert warning not in project.checkout_ok().warnings()

    project.config(url=upstream.copy(tmp_path / "moved"), commit=upstream.a)
    result = project.checkout_ok()
    assert result.warnings().count(warning) == 1
    assert project.parent() == upstream.a


# --------------------------------------------------------------------------
# environment, dump, patches


def test_hg_missing_from_path(project, tmp_path):
    """CLI-081, CF-630."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("git"), str(bindir / "git"))
    project.config(branch="feat")
    result = project.run("checkout", env=clean_env(PATH=str(bindir)))
    assert failed(result) == ["hg is required for Mercurial repositories"]
    assert not os.path.exists(project.repo)


def test_dump_resolve_refs(workdir, upstream):
    """CLI-142."""
    data = {"header": {"version": 23},
            "repos": {"by-branch": {"type": "hg", "url": upstream.path, "branch": "feat"},
                      "by-tag": {"type": "hg", "url": upstream.path, "tag": "v1"}}}
    write(os.path.join(str(workdir), "kas.yml"), yaml.safe_dump(data, sort_keys=False))
    result = kas_ok("dump", "--resolve-refs", "kas.yml", cwd=workdir)
    repos = yaml.safe_load(result.stdout)["repos"]
    assert repos["by-branch"] == {"type": "hg", "url": upstream.path, "branch": "feat",
                                  "commit": upstream.f2}
    assert repos["by-tag"] == {"type": "hg", "url": upstream.path, "tag": "v1",
                               "commit": upstream.a}


def test_patches_are_committed_by_kas_on_patched_branch(project, upstream):
    """CLI-093, CF-675."""
    plain = write(os.path.join(project.work, "fix.patch"),
                  "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-feat1\n+patched\n")
    os.utime(plain, (MTIME, MTIME))
    mail = write(os.path.join(project.work, "0001-b.patch"),
                 "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
                 "From: Dev <dev@example.com>\n"
                 "Date: Sun, 13 Sep 2020 12:26:40 +0200\n"
                 "Subject: [PATCH] add b\n\n---\n"
                 "--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+bee\n")
    os.utime(mail, (MTIME, MTIME))
    project.config(commit=upstream.f1, patches={"p1": {"repo": "top", "path": "fix.patch"},
                                                "p2": {"repo": "top", "path": "0001-b.patch"}})
    result = project.checkout_ok()

    branch = f"patched-{upstream.f1}"
    template = "{author}|{branch}|{p1node}|{date|hgdate}\n{desc}"
    first = hg(project.repo, "log", "-r", ".^", "-T", template)
    second = project.parent(template)
    assert first.split("|")[:3] == ["kas <kas@example.com>", branch, upstream.f1]
    assert first.split("|")[3].split()[0] == str(MTIME)            # file mtime
    assert first.endswith(f"\nkas: p1\n\npatch {plain} applied by kas")
    assert second.split("|")[:2] == ["kas <kas@example.com>", branch]
    assert second.split("|")[3].split()[0] == "1599992800"         # Date: header
    assert second.endswith(f"\nkas: p2\n\npatch {mail} applied by kas")
    assert read(os.path.join(project.repo, "a.txt")) == "patched\n"
    assert read(os.path.join(project.repo, "b.txt")) == "bee\n"
    assert hg(project.repo, "status", "-mard") == ""
    assert re.search(r"INFO     - Patch applied\. \(patch path: \S*fix\.patch, repo: up, "
                     r"patch entry: p1\)$", result.stderr, re.MULTILINE), result


# --------------------------------------------------------------------------
# revisions as Mercurial prints them (issue 16.4)


def rev_node(repo, node):
    """``<rev>:<node>``, the form ``hg log --template '{rev}:{node}'`` prints."""
    return hg(repo, "log", "-r", node, "-T", "{rev}:{node}")


def test_rev_node_commit_with_patches_and_later_runs(project, upstream):
    """Issue 16.4: ``commit: 0:<node>`` checks out that changeset, a patch
    applies on top, and later runs (plain and ``--update``) find it present,
    need no pull and end on the same patched state."""
    write(os.path.join(project.work, "fix.patch"),
          "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+patched\n")
    commit = rev_node(upstream.path, upstream.a)
    assert commit == f"0:{upstream.a}"
    project.config(commit=commit, patches={"p1": {"repo": "top", "path": "fix.patch"}})
    result = project.checkout_ok()
    assert f"Repository up checked out to {upstream.a}" in result.stderr
    assert project.parent("{p1node}") == upstream.a
    assert read(os.path.join(project.repo, "a.txt")) == "patched\n"
    patched = project.parent()
    assert hg(project.repo, "status", "-mard") == ""

    for options in ((), ("--update",)):
        result = project.checkout_ok(*options)
        assert f"Repository up already contains {commit} as commit" in result.stderr
        assert "Repository up updated" not in result.stderr
        assert project.parent() == patched
        assert read(os.path.join(project.repo, "a.txt")) == "patched\n"
    assert 'Update of "up" requested, but repo is pinned' in result.stderr


def test_rev_node_commit_not_yet_present_is_pulled(project, upstream, tmp_path):
    """issue 16.4: A ``rev:node`` pin the clone does not have yet makes kas pull, on a
    branch too (the branch must contain it)."""
    project.url = upstream.copy(tmp_path / "copy")
    project.config(branch="feat", commit=rev_node(project.url, upstream.f1))
    project.checkout_ok()
    assert project.parent() == upstream.f1
    f3 = hg_commit(project.url, {"a.txt": "feat3\n"}, "feat three")
    commit = rev_node(project.url, f3)
    assert commit.startswith("4:")
    project.config(branch="feat", commit=commit)
    result = project.checkout_ok()
    assert "Repository up updated" in result.stderr
    assert project.parent() == f3
    assert hg(project.repo, "branch") == "feat"


def test_revision_that_does_not_resolve_to_one_changeset(project, upstream):
    """issue 16.4: Several changesets (a range over the whole history) or none: one
    clear error naming the repo, and the checkout stays where it was."""
    project.config(commit=upstream.f1)
    project.checkout_ok()
    several = f"0:{upstream.f2}"
    project.config(commit=several)
    assert failed(project.run("checkout")) == [
        f'Commit "{several}" resolves to 4 changesets in repository "up", not to one']
    missing = "0:" + "e" * 40
    project.config(commit=missing)
    assert failed(project.run("checkout")) == [
        f'Commit "{missing}" cannot be found in repository "up"']
    assert project.parent() == upstream.f1
    assert hg(project.repo, "status", "-mard") == ""


def test_short_node_in_rev_node_form_warns(project, upstream):
    """CLI-091."""
    short = f"0:{upstream.a[:12]}"
    project.config(commit=short)
    result = project.checkout_ok()
    assert (f' - WARNING  - {short} is not a full-length hash for repo "up".\n'
            ) in result.stderr
    assert project.parent() == upstream.a


# --------------------------------------------------------------------------
# relative URLs (issue 24.1)


def relative_url_config(work):
    """Three hg and two git repos with ``../`` URLs, two of them at a nested
    ``path``: every URL is relative to KAS_WORK_DIR, whatever the path."""
    repos = {"top": None}
    for name in ("h1", "h2", "h3"):
        repos[name] = {"type": "hg", "url": "../hg-example", "branch": "feat"}
    repos["h4"] = {"type": "hg", "url": "../hg-example", "branch": "feat",
                   "path": "sub/deep/h4"}
    repos["g1"] = {"url": "../git-example", "branch": "main"}
    repos["g2"] = {"url": "../git-example", "branch": "main", "path": "sub/deep/g2"}
    data = {"header": {"version": 23}, "repos": repos}
    write(os.path.join(work, "kas.yml"), yaml.safe_dump(data, sort_keys=False))
    write(os.path.join(work, "oe-init-build-env"), 'mkdir -p "$1/conf"\n')


CHECKOUTS = {"h1": "h1", "h2": "h2", "h3": "h3", "h4": "sub/deep/h4", "g1": "g1",
             "g2": "sub/deep/g2"}


@pytest.mark.parametrize("via", ["cwd", "KAS_WORK_DIR"])
def test_relative_urls_mean_the_same_for_hg_and_git(tmp_path, upstream, via):
    """Issue 24.1: several hg repos with ``url: ../hg-example`` in one config
    are all cloned, run after run, whichever thread clones them and wherever
    the partial clone is made; like git repos, ``../`` is relative to the
    work directory (also for a nested ``path``), and later runs pull from
    the same place without a changed-URL warning."""
    hg_example = upstream.copy(tmp_path / "hg-example")
    git_example = make_git_repo(tmp_path / "git-example")
    work = os.path.realpath(str(tmp_path / "work"))
    os.makedirs(work)
    relative_url_config(work)
    # With KAS_WORK_DIR, kas runs from a directory where ../ means elsewhere.
    cwd = work if via == "cwd" else str(tmp_path / "work" / "sub")
    os.makedirs(cwd, exist_ok=True)
    env = clean_env(KAS_WORK_DIR=work) if via == "KAS_WORK_DIR" else None
    for _ in range(2):
        result = kas_ok("checkout", os.path.join(work, "kas.yml"), cwd=cwd, env=env)
        for name, path in CHECKOUTS.items():
            assert f"Repository {name} checked out to" in result.stderr, result
            where = os.path.join(work, path)
            if name.startswith("h"):
                assert hg(where, "log", "-r", ".", "-T", "{node}") == upstream.f2
                assert hg(where, "paths", "default") == hg_example
            else:
                assert git(where, "remote", "get-url", "origin") == git_example
        for path in CHECKOUTS.values():
            shutil.rmtree(os.path.join(work, path))
    kas_ok("checkout", os.path.join(work, "kas.yml"), cwd=cwd, env=env)
    # Later runs use the recorded absolute URL: --update finds new commits.
    f3 = hg_commit(hg_example, {"a.txt": "feat3\n"}, "feat three")
    git(git_example, "commit", "-q", "--allow-empty", "-m", "more")
    result = kas_ok("checkout", "--update", os.path.join(work, "kas.yml"), cwd=cwd, env=env)
    assert "does not support changing the remote url" not in result.stderr
    for name, path in CHECKOUTS.items():
        where = os.path.join(work, path)
        if name.startswith("h"):
            assert hg(where, "log", "-r", ".", "-T", "{node}") == f3
        else:
            assert git(where, "rev-parse", "HEAD") == git(git_example, "rev-parse", "HEAD")
