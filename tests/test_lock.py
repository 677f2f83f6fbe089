"""``kas lock`` (cli.md §5.6 CLI-150 ... CLI-153; includes-and-merge.md
INC-080 ... INC-088; config-format.md CF-705 ... CF-709).

Every test runs the real ``kas`` on real git (and hg) repositories made
here and compares the lock files byte for byte.
"""

import json
import os
import shutil

import pytest
from helpers.repos import GitUpstream, HgUpstream, Project, kas_yaml, listing, lock_yaml, repo_yaml
from helpers.run import infos

NOT_COVERED = "The following repos are not covered by any lockfile. Adding to top lockfile: {}"


@pytest.fixture
def up(tmp_path):
    return GitUpstream(tmp_path / "up")


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "project")


# --- creating the top lock file ------------------------------------------------


def test_lock_pins_floating_repos_in_config_order_byte_exact(tmp_path, project, up):
    """CLI-151, CLI-152: Only managed repos without commit are pinned, in configuration order,
    in <first file stem>.lock.yml with header version 14 (INC-087)."""
    tagged = GitUpstream(tmp_path / "tagged")
    tag_commit = tagged.commit("for the tag")
    tagged.tag("v1", annotated=True)
    project.write("kas.yml", kas_yaml(
        "  this:\n",
        repo_yaml("pinned", up, branch="main", commit=up.first),
        repo_yaml("tagged", tagged, tag="v1"),
        repo_yaml("floating", up, branch="main")))
    result = project.kas_ok("lock", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"tagged": tag_commit,
                                                      "floating": up.first})
    assert result.warnings() == [NOT_COVERED.format("tagged, floating")]
    assert infos(result)[-3:] == [f"Adding lock of tagged: {tag_commit}",
                                  f"Adding lock of floating: {up.first}",
                                  "Updating lockfile kas.lock.yml"]
    assert result.stdout == ""


def test_no_unpinned_warnings_and_the_lock_then_pins(project, up):
    """CLI-150: lock suppresses CF-646; afterwards the repo counts as pinned."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    result = project.kas_ok("lock", "kas.yml")
    assert not any("unsafe" in w for w in result.warnings())
    dump = project.kas_ok("dump", "kas.yml")
    assert not any("unsafe" in w for w in dump.warnings())
    assert f"commit: {up.first}" in dump.stdout


def test_fully_pinned_config_writes_nothing(project, up):
    """kas lock of a config without floating repos writes no lock file
    (CLI-151)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, commit=up.first)))
    result = project.kas_ok("lock", "kas.yml")
    assert infos(result)[-1] == "No floating repos found. Nothing to lock."
    assert not os.path.exists(project.file("kas.lock.yml"))


def test_lock_again_leaves_the_file_alone(project, up):
    """Without --update a second kas lock leaves the lock file alone, even
    after the remote moved (CLI-151)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "kas.yml")
    before = os.stat(project.file("kas.lock.yml"))
    up.commit("second")         # without --update the lock holds
    result = project.kas_ok("lock", "kas.yml")
    assert infos(result)[-1] == "No floating repos found. Nothing to lock."
    assert os.stat(project.file("kas.lock.yml")).st_mtime_ns == before.st_mtime_ns
    assert project.read("kas.lock.yml") == lock_yaml({"up": up.first})


def test_json_config_gets_a_json_lock_file(project, up):
    """A JSON config gets a JSON lock file (INC-080)."""
    project.write("kas.json", json.dumps({"header": {"version": 14},
                                          "repos": {"up": {"url": up.path, "branch": "main"}}}))
    project.kas_ok("lock", "kas.json")
    assert project.read("kas.lock.json") == (
        '{\n  "header": {\n    "version": 14\n  },\n  "overrides": {\n    "repos": {\n'
        f'      "up": {{\n        "commit": "{up.first}"\n      }}\n    }}\n  }}\n}}\n')


def test_indent_and_sort_for_a_new_file(project, up):
    """--indent and --sort shape a new lock file (CLI-152)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "--indent", "4", "--sort", "kas.yml")
    assert project.read("kas.lock.yml") == (
        f"header:\n    version: 14\noverrides:\n    repos:\n        up:\n"
        f"            commit: {up.first}\n")


def test_first_of_several_top_files_gets_the_lock(project, up):
    """Of several top files only the first gets the lock file (INC-003)."""
    project.write("base.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("extra.yml", "header:\n  version: 14\nmachine: qemuarm64\n")
    project.kas_ok("lock", "base.yml:extra.yml")
    assert project.read("base.lock.yml") == lock_yaml({"up": up.first})
    assert not os.path.exists(project.file("extra.lock.yml"))


# --- --update --------------------------------------------------------------------


def test_update_moves_pins_and_prints_the_commits(project, up):
    """kas lock --update moves the pins, logs each move and prints the new
    commits, newest first (CLI-152, CLI-153)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "kas.yml")
    second = up.commit("second")
    third = up.commit("third\n\nwith a body")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert result.stdout == (f"@@ up commits diff @@\n{third[:7]} third\n"
                             f"{second[:7]} second\n")
    assert f"Updating lock of up: {up.first} -> {third}" in infos(result)
    assert infos(result)[-1] == "Updating lockfile kas.lock.yml"
    assert project.read("kas.lock.yml") == lock_yaml({"up": third})
    assert result.warnings() == []


def test_update_when_nothing_moved(project, up):
    """kas lock --update with nothing moved says so and leaves the file
    alone (CLI-152)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "kas.yml")
    before = os.stat(project.file("kas.lock.yml")).st_mtime_ns
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert infos(result)[-1] == f"Lock of up is up-to-date: {up.first}"
    assert os.stat(project.file("kas.lock.yml")).st_mtime_ns == before
    assert result.stdout == ""


def test_annotated_tag_object_id_counts_as_up_to_date(project, up):
    """A pin to an annotated tag's object id counts as up to date with the
    tag's commit (CLI-152)."""
    tag_object = up.tag("v1", annotated=True)
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, tag="v1")))
    project.write("kas.lock.yml", lock_yaml({"up": tag_object}))
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert infos(result)[-1] == f"Lock of up is up-to-date: {up.first}"
    assert project.read("kas.lock.yml") == lock_yaml({"up": tag_object})


def test_update_of_several_repos_lists_commits_without_separator(project, up,
                                                                         tmp_path):
    """CLI-152: Issue 16.6: unlike ``kas diff``, no ``---`` line between the repos."""
    other = GitUpstream(tmp_path / "other")
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main"),
                                      repo_yaml("other", other, branch="main")))
    project.kas_ok("lock", "kas.yml")
    up_new, other_new = up.commit("up moved"), other.commit("other moved")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert result.stdout == (f"@@ up commits diff @@\n{up_new[:7]} up moved\n"
                             f"@@ other commits diff @@\n{other_new[:7]} other moved\n")
    assert project.read("kas.lock.yml") == lock_yaml({"up": up_new, "other": other_new})


def test_update_goes_to_the_lock_file_that_has_the_entry(project, up, tmp_path):
    """INC-088: Step 1 updates vendor.lock.yml; step 2 adds the uncovered repo to the
    first file's lock file."""
    other = GitUpstream(tmp_path / "other")
    project.write("kas.yml", "header:\n  version: 14\n  includes:\n    - vendor.yml\n"
                             "repos:\n" + repo_yaml("other", other, branch="main"))
    project.write("vendor.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("vendor.lock.yml", lock_yaml({"up": up.first}))
    new = up.commit("second")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert project.read("vendor.lock.yml") == lock_yaml({"up": new})
    assert project.read("kas.lock.yml") == lock_yaml({"other": other.first})
    assert result.warnings() == [NOT_COVERED.format("other")]
    assert "Updating lockfile vendor.lock.yml" in infos(result)
    assert "Updating lockfile kas.lock.yml" in infos(result)


def test_pin_in_two_lock_files_is_updated_in_both(project, up):
    """INC-086, INC-088: kas.lock.yml and vendor.lock.yml both pin up; the vendor pin wins in
    the merge, so updating only the first would change nothing."""
    project.write("kas.yml", "header:\n  version: 14\n  includes:\n    - vendor.yml\n")
    project.write("vendor.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    for name in ("kas.lock.yml", "vendor.lock.yml"):
        project.write(name, lock_yaml({"up": up.first}))
    new = up.commit("second")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert result.stdout == f"@@ up commits diff @@\n{new[:7]} second\n"
    for name in ("kas.lock.yml", "vendor.lock.yml"):
        assert project.read(name) == lock_yaml({"up": new})
    assert f"commit: {new}" in project.kas_ok("dump", "kas.yml").stdout


def test_update_ignores_lock_files_while_resolving(project, up):
    """With --update lock files take no part in resolving; --lock then pins
    the new commit (INC-085)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", lock_yaml({"up": up.first}))
    new = up.commit("second")
    assert f"commit: {up.first}" in project.kas_ok("dump", "kas.yml").stdout
    updated = project.kas_ok("dump", "--update", "kas.yml").stdout
    assert "commit:" not in updated and "overrides" not in updated
    assert f"commit: {new}" in project.kas_ok("dump", "--update", "--lock", "kas.yml").stdout


def test_remote_lock_file_is_not_updated(project, up, tmp_path):
    """CLI-152: A lock file reached through another repository's include is left
    alone with a warning, and its repo is not added to the top lock file."""
    layer = GitUpstream(tmp_path / "layer")
    with open(os.path.join(layer.path, "layer.yml"), "w") as f:
        f.write(kas_yaml(repo_yaml("up", up, branch="main")))
    with open(os.path.join(layer.path, "layer.lock.yml"), "w") as f:
        f.write(lock_yaml({"up": up.first}))
    layer.git("add", "-A")
    layer.git("commit", "-q", "-m", "layer config")
    project.write("kas.yml", "header:\n  version: 14\n  includes:\n"
                             "    - repo: layer\n      file: layer.yml\n"
                             "repos:\n" + repo_yaml("layer", layer, commit=layer.head()))
    up.commit("second")
    result = project.kas_ok("lock", "--update", "kas.yml")
    remote = os.path.join(project.path, "layer", "layer.lock.yml")
    assert result.warnings() == [
        'Update of "layer" requested, but repo is pinned to a fixed commit. Not updating.',
        f"Repo up is locked in remote lockfile {remote}. Not updating."]
    assert not os.path.exists(project.file("kas.lock.yml"))
    with open(remote) as f:
        assert f.read() == lock_yaml({"up": up.first})


def test_old_lock_version_is_raised_to_14(project, up, tmp_path):
    """A lock file with a version below 14 is raised to 14, with a warning
    (CLI-152)."""
    other = GitUpstream(tmp_path / "other")
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main"),
                                      repo_yaml("other", other, branch="main")))
    project.write("kas.lock.yml", lock_yaml({"up": up.first}, version=10))
    result = project.kas_ok("lock", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"up": up.first, "other": other.first})
    assert ("Lockfile kas.lock.yml has header version 10. Updating it to version 14."
            in result.warnings())


def test_hg_repository_lock_and_update(project, tmp_path):
    """Mercurial repos are locked and updated the same way (CLI-152)."""
    hg_up = HgUpstream(tmp_path / "hgup")
    project.write("kas.yml", kas_yaml(repo_yaml("up", hg_up, branch="default")))
    project.kas_ok("lock", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"up": hg_up.first})
    new = hg_up.commit("second")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"up": new})
    assert result.stdout == f"@@ up commits diff @@\n{new[:7]} second\n"


# --- keeping the user's layout (beyond the reference) ------------------------------

COMMENTED_LOCK = """\
# Pins reviewed by the release team.
header:
  version: 14   # lock format

overrides:
  repos:
    # the base layer
    up:
      commit: "{first}"  # 2024 release
    gone:
      commit: deadbeefdeadbeefdeadbeefdeadbeefdeadbeef
# end of pins
"""


def test_lock_update_keeps_comments_order_and_stale_entries(project, up, tmp_path):
    """Only the changed value is rewritten; a new repo is appended to the
    repos block; the entry of a repo that left the config stays (CF-707)."""
    other = GitUpstream(tmp_path / "other")
    project.write("kas.yml", kas_yaml(repo_yaml("other", other, branch="main"),
                                      repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", COMMENTED_LOCK.format(first=up.first))
    new = up.commit("second")
    project.kas_ok("lock", "--update", "kas.yml")
    expected = COMMENTED_LOCK.format(first=up.first).replace(
        f'"{up.first}"', new).replace(
        "# end of pins", f"    other:\n      commit: {other.first}\n# end of pins")
    assert project.read("kas.lock.yml") == expected


def test_lock_flow_style_file_is_rewritten_in_full_with_a_note(project, up):
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", "# flow\n{header: {version: 14}, overrides: {repos: "
                                  "{up: {commit: " + up.first + "}}}}\n")
    new = up.commit("second")
    result = project.kas_ok("lock", "--update", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"up": new})
    assert ("Rewriting lockfile kas.lock.yml in full (comments are not kept): "
            "the document is not a block mapping") in infos(result)


def test_lock_explicit_indent_different_from_the_file_rewrites(project, up):
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", "# note\n" + lock_yaml({"up": up.first}))
    new = up.commit("second")
    project.kas_ok("lock", "--update", "--indent", "4", "kas.yml")
    assert project.read("kas.lock.yml") == (
        f"header:\n    version: 14\noverrides:\n    repos:\n        up:\n"
        f"            commit: {new}\n")


# --- errors: one message, exit 2, files untouched ---------------------------------


def test_lock_pinning_a_commit_missing_upstream(project, up):
    missing = "1234567890abcdef1234567890abcdef12345678"
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    lock_text = lock_yaml({"up": missing})
    project.write("kas.lock.yml", lock_text)
    for command in ("checkout", "lock"):
        result = project.kas(command, "kas.yml")
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        assert result.errors() == [f'Commit "{missing}" cannot be found in repository "up"']
        assert project.read("kas.lock.yml") == lock_text
    # --update ignores the broken pin and repairs the lock file.
    project.kas_ok("lock", "--update", "kas.yml")
    assert project.read("kas.lock.yml") == lock_yaml({"up": up.first})


def test_lock_pinning_a_commit_the_branch_does_not_contain(project, up):
    """CLI-090: The pin exists upstream, but only on another branch (e.g. after a
    force push): the spec's branch error, and the lock file stays."""
    up.git("checkout", "-q", "-b", "side")
    side = up.commit("only on side")
    up.git("checkout", "-q", "main")
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    lock_text = lock_yaml({"up": side})
    project.write("kas.lock.yml", lock_text)
    result = project.kas("lock", "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [
        f'Branch "main" in repository "up" does not contain commit "{side}"']
    assert project.read("kas.lock.yml") == lock_text


def test_lock_entry_for_a_repo_not_in_the_config(project, up):
    """A lock entry for a repo the config does not have is kept, and
    harmless (CF-707)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, commit=up.first)))
    lock_text = lock_yaml({"removed": "0123456789abcdef0123456789abcdef01234567"})
    project.write("kas.lock.yml", lock_text)
    dump = project.kas_ok("dump", "kas.yml")
    assert "removed" in dump.stdout and "unsafe" not in dump.stderr
    result = project.kas_ok("lock", "kas.yml")
    assert infos(result)[-1] == "No floating repos found. Nothing to lock."
    assert project.read("kas.lock.yml") == lock_text


def test_lock_upstream_repository_gone(project, up):
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    shutil.rmtree(up.path)
    result = project.kas("lock", "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.errors()) == 1
    assert result.errors()[0].startswith('Fetching of repo: "up" failed: ')
    assert listing(project.path) == [".git", "kas.yml"]


def test_lock_unresolvable_repo_writes_nothing(project, up):
    """Every repo is resolved before any file is written."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    result = project.kas("lock", "--skip", "finish_setup_repos", "--skip", "repos_checkout",
                         "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [(f'Repository "up" is not available: {project.file("up")} '
                                "does not exist (was fetching skipped?)")]
    assert listing(project.path) == [".git", "kas.yml"]


def test_lock_invalid_lock_file_names_the_file(project, up):
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", "header:\n  version: 14\noverrides:\n  repos:\n"
                                  "    up:\n      commit: 1234\n")
    result = project.kas("lock", "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lock_path = project.file("kas.lock.yml")
    assert result.errors()[-1] == (
        f"Error(s) occured while validating the config file: {lock_path}")
    assert project.read("kas.lock.yml").endswith("commit: 1234\n")


def test_lock_target_is_a_directory_nothing_is_written(project, up, tmp_path):
    """A lock file that cannot be written fails before any file is replaced."""
    other = GitUpstream(tmp_path / "other")
    project.write("kas.yml", "header:\n  version: 14\n  includes:\n    - vendor.yml\n"
                             "repos:\n" + repo_yaml("other", other, branch="main"))
    project.write("vendor.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("vendor.lock.yml", lock_yaml({"up": up.first}))
    os.mkdir(project.file("kas.lock.yml"))
    up.commit("second")
    result = project.kas("lock", "--update", "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [
        f"Cannot write lockfile {project.file('kas.lock.yml')}: Is a directory"]
    assert project.read("vendor.lock.yml") == lock_yaml({"up": up.first})
    assert listing(project.path) == [".git", "kas.lock.yml", "kas.yml", "other", "up",
                                     "vendor.lock.yml", "vendor.yml"]
