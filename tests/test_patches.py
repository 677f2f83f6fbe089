"""Patches of git repositories (cli.md CLI-093, CLI-042; config-format.md
CF-670 ... CF-675; environment.md ENV-112).

Every test runs the real ``kas checkout`` on a configuration in an empty
work directory outside any VCS checkout (so the work directory is the top
repository ``top``, which holds the patch files and the init script).  The
patched repository ``meta-up`` is cloned from a real git repository next
to the work directory.
"""

import os
import re
import subprocess

import pytest
import yaml
from helpers.repos import git, make_git_repo, read, write
from helpers.run import clean_env, kas_ok, run_kas

KAS_AUTHOR = "kas <kas@example.com>"
# Issue 16.1: kas 5.5's committer is the identity of the private gitconfig.
KAS_COMMITTER = "kas User <kas@example.com>"
MTIME = 1_500_000_000
UPSTREAM_FILES = {"a.txt": "one\n", "b.txt": "alpha\n"}


# --------------------------------------------------------------------------
# helpers


def replace_patch(name, old, new):
    """A unified diff replacing the single line ``old`` of ``name`` by ``new``."""
    return f"--- a/{name}\n+++ b/{name}\n@@ -1 +1 @@\n-{old}\n+{new}\n"


def new_file_patch(name, text):
    return f"--- /dev/null\n+++ b/{name}\n@@ -0,0 +1 @@\n+{text}\n"


def error_text(result):
    """Everything from the first ERROR record on (messages may span lines)."""
    marker = " - ERROR    - "
    assert marker in result.stderr, result
    return result.stderr.split(marker, 1)[1]


def strip_paths(text):
    return re.sub(r"/\S*", "", text)


def head_state(repo):
    """(HEAD commit, symbolic ref or "" when detached)."""
    symbolic = subprocess.run(["git", "-C", repo, "symbolic-ref", "-q", "HEAD"],
                              stdout=subprocess.PIPE, text=True, check=False).stdout.strip()
    return git(repo, "rev-parse", "HEAD"), symbolic


def commit_info(repo, rev="HEAD"):
    fmt = "%an <%ae>%x00%cn <%ce>%x00%at%x00%ct%x00%P%x00%B"
    author, committer, adate, cdate, parents, body = git(
        repo, "log", "-1", f"--format={fmt}", rev).split("\0")
    return {"author": author, "committer": committer, "author_date": int(adate),
            "committer_date": int(cdate), "parents": parents.split(), "message": body.strip()}


def kas_messages(repo, base):
    """Subjects of the commits on top of ``base``, oldest first."""
    return git(repo, "log", "--reverse", "--format=%s", f"{base}..HEAD").splitlines()


def patch_info(result):
    """(patch path, repo, entry) of every ``Patch applied.`` INFO record."""
    return re.findall(r" - INFO     - Patch applied\. \(patch path: (.+), repo: (.+), "
                      r"patch entry: (.+)\)$", result.stderr, re.MULTILINE)


class Project:
    """Work dir (top repo) + upstream git repo ``meta-up`` checked out by kas."""

    def __init__(self, tmp_path, workdir):
        self.tmp = str(tmp_path)
        self.work = os.path.realpath(str(workdir))
        self.upstream = make_git_repo(os.path.join(self.tmp, "upstream"), UPSTREAM_FILES)
        self.base = git(self.upstream, "rev-parse", "HEAD")
        git(self.upstream, "tag", "v1")
        self.repo = os.path.join(self.work, "meta-up")
        write(os.path.join(self.work, "oe-init-build-env"), 'mkdir -p "$1/conf"\n')

    def patch(self, rel, text, mtime=MTIME):
        """Write a patch file below the work dir; returns its absolute path."""
        path = write(os.path.join(self.work, rel), text)
        os.utime(path, (mtime, mtime))
        return path

    def config(self, patches, ref=None, repos=None, defaults=None):
        up = {"url": self.upstream}
        up.update(ref or {"commit": self.base})
        up["patches"] = patches
        data = {"header": {"version": 23}}
        if defaults:
            data["defaults"] = {"repos": {"patches": {"repo": defaults}}}
        data["repos"] = {"top": None, "meta-up": up, **(repos or {})}
        with open(os.path.join(self.work, "kas.yml"), "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)

    def checkout(self, *options):
        return run_kas("checkout", *options, "kas.yml", cwd=self.work)

    def checkout_ok(self, *options):
        return kas_ok("checkout", *options, "kas.yml", cwd=self.work)


@pytest.fixture
def project(tmp_path, workdir):
    return Project(tmp_path, workdir)


def top_patch(rel):
    return {"repo": "top", "path": rel}


# --------------------------------------------------------------------------
# applying


def test_single_patch_is_committed_by_kas(project):
    """CLI-093, CF-675, ENV-112."""
    path = project.patch("patches/fix.patch", replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("patches/fix.patch")})
    result = project.checkout_ok()

    assert read(os.path.join(project.repo, "a.txt")) == "two\n"
    info = commit_info(project.repo)
    assert info["author"] == KAS_AUTHOR
    assert info["committer"] == KAS_COMMITTER
    assert info["message"] == f"kas: p1\n\npatch {path} applied by kas"
    assert info["parents"] == [project.base]
    # No Date: header -> the file's mtime, also as committer date (ENV-112).
    assert info["author_date"] == MTIME
    assert info["committer_date"] == MTIME
    assert git(project.repo, "status", "--porcelain") == ""

    # The full path of the file, as kas 5.5 logs it (found by bench/parity).
    assert patch_info(result) == [(path, "meta-up", "p1")]


def test_patch_commit_id_matches_kas_5_5_whatever_the_user_identity(
        project, tmp_path):
    """Issue 16.1: author ``kas``, committer ``kas User`` (both
    kas@example.com), also when GITCONFIG_FILE names the user: the commit id
    is the one git computes for that identity, date and message."""
    path = project.patch("fix.patch", replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("fix.patch")})
    gitconfig = write(tmp_path / "gitconfig", "[user]\n\tname = Jane\n\temail = j@x.org\n")
    kas_ok("checkout", "kas.yml", cwd=project.work, env=clean_env(GITCONFIG_FILE=gitconfig))

    tree = git(project.repo, "rev-parse", "HEAD^{tree}")
    identity = {"GIT_AUTHOR_NAME": "kas", "GIT_AUTHOR_EMAIL": "kas@example.com",
                "GIT_AUTHOR_DATE": f"@{MTIME} +0000", "GIT_COMMITTER_NAME": "kas User",
                "GIT_COMMITTER_EMAIL": "kas@example.com",
                "GIT_COMMITTER_DATE": f"@{MTIME} +0000"}
    expected = subprocess.run(
        ["git", "-C", project.repo, "commit-tree", tree, "-p", project.base,
         "-m", f"kas: p1\n\npatch {path} applied by kas"],
        env=clean_env(**identity), check=True, stdout=subprocess.PIPE,
        text=True).stdout.strip()
    assert git(project.repo, "rev-parse", "HEAD") == expected


def test_date_header_on_line_3_sets_author_and_committer_date(
        project, tmp_path):
    """CF-675, ENV-112."""
    scratch = str(tmp_path / "scratch")
    subprocess.run(["git", "clone", "-q", project.upstream, scratch], check=True)
    write(os.path.join(scratch, "a.txt"), "two\n")
    git(scratch, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q",
        "-a", "-m", "change a", "--date", "2020-09-13T12:26:40+0200")
    text = git(scratch, "format-patch", "-1", "--stdout") + "\n"
    assert text.splitlines()[2].startswith("Date: ")
    path = project.patch("patches/0001-change-a.patch", text)
    project.config({"p1": top_patch("patches/0001-change-a.patch")})
    project.checkout_ok()

    info = commit_info(project.repo)
    header_date = 1599992800        # 2020-09-13 10:26:40 UTC
    assert info["author_date"] == header_date
    assert info["committer_date"] == header_date
    assert info["author"] == KAS_AUTHOR
    assert info["committer"] == KAS_COMMITTER
    assert info["message"] == f"kas: p1\n\npatch {path} applied by kas"
    assert read(os.path.join(project.repo, "a.txt")) == "two\n"


def test_date_header_not_on_line_3_falls_back_to_mtime(project):
    """CF-675."""
    header = "From: Dev <dev@example.com>\nDate: Sun, 13 Sep 2020 12:26:40 +0200\n\n"
    project.patch("p.patch", header + replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("p.patch")})
    project.checkout_ok()
    info = commit_info(project.repo)
    assert (info["author_date"], info["committer_date"]) == (MTIME, MTIME)


def test_quilt_series_in_file_order_with_comments(project):
    """CF-674."""
    quilt = os.path.join(project.work, "patches", "quilt")
    first = project.patch("patches/quilt/zz-first.patch", replace_patch("a.txt", "one", "two"))
    second = project.patch("patches/quilt/aa-c#2.patch", replace_patch("a.txt", "two", "three"))
    project.patch("patches/quilt/broken.patch", replace_patch("a.txt", "nope", "never"))
    write(os.path.join(quilt, "series"),
          "# a comment line\n"
          "zz-first.patch # applied first\n"
          "#broken.patch\n"
          "# broken.patch\n"
          "aa-c#2.patch   \n")
    project.config({"stack": top_patch("patches/quilt")})
    result = project.checkout_ok()

    assert read(os.path.join(project.repo, "a.txt")) == "three\n"
    commits = git(project.repo, "rev-list", "--reverse", f"{project.base}..HEAD").split()
    assert [commit_info(project.repo, c)["message"] for c in commits] == [
        f"kas: stack\n\npatch {first} applied by kas",
        f"kas: stack\n\npatch {second} applied by kas",
    ]
    # One record per file of the series, as kas 5.5 logs them.
    assert patch_info(result) == [(first, "meta-up", "stack"), (second, "meta-up", "stack")]


def test_entries_applied_in_sorted_id_order(project):
    """CF-673, CF-671."""
    project.patch("second.patch", replace_patch("a.txt", "two", "three"))
    project.patch("first.patch", replace_patch("a.txt", "one", "two"))
    # Defined "2-second" first; code-point order puts "10-first" before it.
    # A null entry is ignored (CF-671).
    project.config({"2-second": top_patch("second.patch"),
                    "10-first": top_patch("first.patch"),
                    "5-dropped": None})
    project.checkout_ok()
    assert kas_messages(project.repo, project.base) == ["kas: 10-first", "kas: 2-second"]
    assert read(os.path.join(project.repo, "a.txt")) == "three\n"


def test_patches_from_another_repo_and_default_repo(project):
    """CF-672."""
    patches_repo = make_git_repo(os.path.join(project.tmp, "patches-up"), {
        "p/one.patch": replace_patch("a.txt", "one", "two"),
        "p/two.patch": replace_patch("a.txt", "two", "three"),
    })
    project.patch("local.patch", replace_patch("b.txt", "alpha", "beta"))
    project.config(
        {"1-explicit": {"repo": "meta-patches", "path": "p/one.patch"},
         "2-default": {"path": "p/two.patch"},
         "3-top": top_patch("local.patch")},
        repos={"meta-patches": {"url": patches_repo,
                                "commit": git(patches_repo, "rev-parse", "HEAD")}},
        defaults="meta-patches")
    project.checkout_ok()

    checkout = os.path.join(project.work, "meta-patches")
    commits = git(project.repo, "rev-list", "--reverse", f"{project.base}..HEAD").split()
    assert [commit_info(project.repo, c)["message"] for c in commits] == [
        f"kas: 1-explicit\n\npatch {checkout}/p/one.patch applied by kas",
        f"kas: 2-default\n\npatch {checkout}/p/two.patch applied by kas",
        f"kas: 3-top\n\npatch {project.work}/local.patch applied by kas",
    ]
    assert read(os.path.join(project.repo, "a.txt")) == "three\n"
    assert read(os.path.join(project.repo, "b.txt")) == "beta\n"
    # The repo holding the patches is not patched itself.
    assert git(checkout, "rev-list", "--count", "HEAD") == "1"


@pytest.mark.parametrize("ref, branch", [
    ({"commit": "BASE"}, "patched-BASE"),
    ({"tag": "v1"}, "patched-v1"),
    ({"branch": "main"}, "patched-main"),
    ({"branch": "refs/heads/main"}, "patched-heads/main"),
    ({"branch": "main", "commit": "BASE"}, "patched-BASE"),
], ids=["commit", "tag", "branch", "refs-branch", "branch+commit"])
def test_patched_branch_name(project, ref, branch):
    """CLI-093, CF-675."""
    ref = {key: value.replace("BASE", project.base) for key, value in ref.items()}
    project.patch("fix.patch", replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("fix.patch")}, ref=ref)
    project.checkout_ok()
    assert git(project.repo, "symbolic-ref", "--short", "HEAD") == \
        branch.replace("BASE", project.base)
    assert commit_info(project.repo)["parents"] == [project.base]


def test_second_checkout_reapplies_cleanly(project):
    """CF-675."""
    project.patch("one.patch", replace_patch("a.txt", "one", "two"))
    project.patch("new.patch", new_file_patch("new.txt", "hello"))
    project.config({"p1": top_patch("one.patch"), "p2": top_patch("new.patch")})
    project.checkout_ok()
    tree = git(project.repo, "rev-parse", "HEAD^{tree}")

    project.checkout_ok()
    assert git(project.repo, "rev-parse", "HEAD^{tree}") == tree
    assert kas_messages(project.repo, project.base) == ["kas: p1", "kas: p2"]
    assert git(project.repo, "symbolic-ref", "--short", "HEAD") == f"patched-{project.base}"
    assert git(project.repo, "status", "--porcelain") == ""


# --------------------------------------------------------------------------
# not patching


def test_dirty_repo_is_not_patched(project):
    """CF-675, CLI-093."""
    project.patch("fix.patch", replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("fix.patch")})
    project.checkout_ok("--skip", "repos_apply_patches")
    write(os.path.join(project.repo, "b.txt"), "local change\n")

    result = project.checkout_ok()
    assert "Repo meta-up is dirty - no patching" in result.warnings()
    assert head_state(project.repo) == (project.base, "")
    assert read(os.path.join(project.repo, "a.txt")) == "one\n"
    assert read(os.path.join(project.repo, "b.txt")) == "local change\n"
    assert git(project.repo, "branch", "--list", "patched-*") == ""
    assert patch_info(result) == []


def test_local_repo_is_never_patched(project):
    """CF-675."""
    local = make_git_repo(os.path.join(project.tmp, "local"), {"a.txt": "one\n"})
    before = head_state(local)
    project.patch("fix.patch", replace_patch("a.txt", "one", "two"))
    data = {"header": {"version": 23},
            "repos": {"top": None,
                      "local": {"path": local, "patches": {"p1": top_patch("fix.patch")}}}}
    with open(os.path.join(project.work, "kas.yml"), "w") as f:
        yaml.safe_dump(data, f)
    project.checkout_ok()
    assert head_state(local) == before
    assert read(os.path.join(local, "a.txt")) == "one\n"
    assert git(local, "branch", "--list", "patched-*") == ""


def test_skipping_setup_home_makes_patching_fail(project):
    """CLI-042."""
    project.patch("fix.patch", replace_patch("a.txt", "one", "two"))
    project.config({"p1": top_patch("fix.patch")})
    result = project.checkout("--skip", "setup_home")
    assert result.returncode == 2, result
    assert result.errors() == [
        "Invalid combination of arguments: Apply patches requires setup_home"]
    assert git(project.repo, "rev-parse", "HEAD") == project.base


# --------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("make_dir", [False, True], ids=["no-such-file", "dir-without-series"])
def test_missing_patch_file(project, make_dir):
    """CF-674."""
    if make_dir:
        os.makedirs(os.path.join(project.work, "patches", "nope.patch"))
    project.config({"p1": top_patch("patches/nope.patch")})
    result = project.checkout()
    assert result.returncode == 2, result
    assert len(result.errors()) == 1, result
    match = re.fullmatch(r"Could not find patch\. \(patch path: (.+), repo: meta-up, "
                         r"patch entry: p1\)", result.errors()[0])
    assert match, result
    assert match.group(1).endswith("patches/nope.patch")


def run_series(project, lines):
    """Check out with a quilt entry ``stack`` whose series has ``lines``."""
    project.patch("quilt/first.patch", replace_patch("a.txt", "one", "two"))
    project.patch("quilt/second.patch", replace_patch("a.txt", "two", "three"))
    series = write(os.path.join(project.work, "quilt", "series"), "\n".join(lines) + "\n")
    project.config({"stack": top_patch("quilt")})
    result = project.checkout()
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    return series, error_text(result)


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "whitespace"])
def test_blank_series_line_names_file_and_line(project, blank):
    """CF-674."""
    series, text = run_series(project, ["first.patch", blank, "second.patch"])
    assert series in text
    assert re.search(r"\b2\b", strip_paths(text)), text


def test_missing_file_listed_in_series(project):
    """CF-674."""
    _, text = run_series(project, ["first.patch", "gone.patch"])
    assert text.startswith("Could not find patch.")
    assert "gone.patch" in text


@pytest.mark.parametrize("ref", [{"commit": "BASE"}, {"branch": "main"}],
                         ids=["detached", "on-branch"])
def test_failing_patch_rolls_back_to_pre_patch_state(project, ref):
    """CLI-093."""
    ref = {key: value.replace("BASE", project.base) for key, value in ref.items()}
    project.patch("good.patch", replace_patch("a.txt", "one", "two")
                  + new_file_patch("added.txt", "new"))
    broken = project.patch("broken.patch", replace_patch("b.txt", "zzz", "yyy"))
    project.config({"10-good": top_patch("good.patch"),
                    "20-broken": top_patch("broken.patch")}, ref=ref)
    project.checkout_ok("--skip", "repos_apply_patches")
    before = head_state(project.repo)
    notes = write(os.path.join(project.repo, "notes.txt"), "my notes\n")

    result = project.checkout()
    assert result.returncode == 2, result
    # kas 5.5's layout: one line per fact, then the tool's own complaint.
    assert error_text(result).splitlines()[:5] == [
        "Could not apply patch. Please fix repos and patches:",
        f"patch path: {broken}, repo: meta-up, patch entry: 20-broken",
        f"vcs command: git apply --index --whitespace=nowarn {broken}",
        "vcs error:",
        "error: patch failed: b.txt:1"]

    assert head_state(project.repo) == before
    assert git(project.repo, "status", "--porcelain") == "?? notes.txt"
    assert read(notes) == "my notes\n"
    assert read(os.path.join(project.repo, "a.txt")) == "one\n"
    assert not os.path.exists(os.path.join(project.repo, "added.txt"))
