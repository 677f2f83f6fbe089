"""kas.fsutil (issue 17.4): the one atomic writer used by lock files,
``.config.yaml`` and the provenance attestation, the one ``within`` and the
one program lookup.  Real files in a temporary directory; the failures are
ones that also hit root (a directory in the way, text that cannot be
encoded), so the tests do not depend on the user they run as."""

import os
import stat

import pytest
from helpers.repos import read, write

from kas import fsutil
from kas.errors import KasUserError


def entries(directory):
    return sorted(os.listdir(directory))


# --- write_atomic -------------------------------------------------------------


def test_write_atomic_replaces_the_content_and_keeps_the_mode(tmp_path):
    target = write(tmp_path / "f.yml", "old\n")
    os.chmod(target, 0o640)
    fsutil.write_atomic(target, "new\n")
    assert read(target) == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert entries(tmp_path) == ["f.yml"]


def test_write_atomic_new_file_gets_the_given_mode(tmp_path):
    target = str(tmp_path / "new.json")
    fsutil.write_atomic(target, "{}\n", mode=0o644)
    assert read(target) == "{}\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_write_atomic_follows_a_symlink_unless_told_not_to(tmp_path):
    real = write(tmp_path / "real.yml", "old\n")
    os.symlink("real.yml", tmp_path / "link.yml")
    fsutil.write_atomic(str(tmp_path / "link.yml"), "followed\n")
    assert os.path.islink(tmp_path / "link.yml")
    assert read(real) == "followed\n"
    fsutil.write_atomic(str(tmp_path / "link.yml"), "own\n", follow_symlinks=False)
    assert not os.path.islink(tmp_path / "link.yml")
    assert read(real) == "followed\n"
    assert read(tmp_path / "link.yml") == "own\n"


def test_write_atomic_keeps_a_backup(tmp_path):
    target = write(tmp_path / ".config.yaml", "first\n")
    fsutil.write_atomic(target, "second\n", backup=target + ".old")
    assert read(target) == "second\n"
    assert read(target + ".old") == "first\n"
    assert entries(tmp_path) == [".config.yaml", ".config.yaml.old"]


def test_write_atomic_directory_at_the_target_leaves_no_temporary_file(tmp_path):
    """Issue 17.4: the rename fails; the temporary file is removed and the
    error names the target, not the temporary file."""
    target = tmp_path / "out.json"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as caught:
        fsutil.write_atomic(str(target), "{}\n", follow_symlinks=False)
    assert caught.value.filename == str(target)
    assert caught.value.filename2 is None
    assert entries(tmp_path) == ["out.json"]
    assert entries(target) == ["inside"]


def test_write_atomic_failed_backup_leaves_everything_as_it_was(tmp_path):
    """The backup cannot be made (a non-empty directory is in its place):
    the file keeps its content and no temporary file is left."""
    target = write(tmp_path / ".config.yaml", "first\n")
    write(tmp_path / ".config.yaml.old" / "x", "x\n")
    with pytest.raises(OSError) as caught:
        fsutil.write_atomic(target, "second\n", backup=target + ".old")
    assert caught.value.filename == target
    assert read(target) == "first\n"
    assert entries(tmp_path) == [".config.yaml", ".config.yaml.old"]


def test_write_atomic_failed_write_leaves_no_temporary_file(tmp_path):
    """Writing the text itself fails (a lone surrogate is no UTF-8): the
    error is raised as is, the old file is unchanged, no temporary left."""
    target = write(tmp_path / "f.yml", "old\n")
    with pytest.raises(UnicodeEncodeError):
        fsutil.write_atomic(target, "bad \udc80\n")
    assert read(target) == "old\n"
    assert entries(tmp_path) == ["f.yml"]


def test_write_atomic_missing_directory_names_the_target(tmp_path):
    target = str(tmp_path / "no" / "such" / "f.yml")
    with pytest.raises(FileNotFoundError) as caught:
        fsutil.write_atomic(target, "x\n")
    assert caught.value.filename == target
    assert entries(tmp_path) == []


# --- replace_files --------------------------------------------------------------


def test_replace_files_writes_every_file(tmp_path):
    one = write(tmp_path / "a.lock.yml", "a\n")
    two = str(tmp_path / "b.lock.json")
    fsutil.replace_files({one: "A\n", two: "B\n"})
    assert (read(one), read(two)) == ("A\n", "B\n")
    assert entries(tmp_path) == ["a.lock.yml", "b.lock.json"]


def test_replace_files_changes_nothing_when_one_file_cannot_be_written(tmp_path):
    """The group fails before any rename: the first file keeps its old
    content and neither temporary file is left."""
    one = write(tmp_path / "a.lock.yml", "a\n")
    two = tmp_path / "b.lock.yml"
    two.mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        fsutil.replace_files({one: "A\n", str(two): "B\n"})
    assert caught.value.filename == str(two)
    assert read(one) == "a\n"
    assert entries(tmp_path) == ["a.lock.yml", "b.lock.yml"]
    assert entries(two) == []


def test_replace_files_failed_write_removes_the_staged_files(tmp_path):
    one = write(tmp_path / "a.lock.yml", "a\n")
    two = write(tmp_path / "b.lock.yml", "b\n")
    with pytest.raises(UnicodeEncodeError):
        fsutil.replace_files({one: "A\n", two: "\udc80"})
    assert (read(one), read(two)) == ("a\n", "b\n")
    assert entries(tmp_path) == ["a.lock.yml", "b.lock.yml"]


# --- within -----------------------------------------------------------------------


def test_within_compares_path_names():
    assert fsutil.within("/a/b", "/a/b")
    assert fsutil.within("/a/b/c", "/a/b/")
    assert fsutil.within("/a/b/../b/c", "/a/b")
    assert not fsutil.within("/a/bc", "/a/b")
    assert not fsutil.within("/a", "/a/b")
    assert fsutil.within("/anything", "/")


def test_within_resolve_follows_symlinks(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink("../outside", tmp_path / "repo" / "escape")
    inside_by_name = str(tmp_path / "repo" / "escape" / "x")
    assert fsutil.within(inside_by_name, str(tmp_path / "repo"))
    assert not fsutil.within(inside_by_name, str(tmp_path / "repo"), resolve=True)
    os.symlink("repo", tmp_path / "alias")
    assert fsutil.within(str(tmp_path / "repo" / "x"), str(tmp_path / "alias"), resolve=True)


# --- find_program -----------------------------------------------------------------


def test_find_program_uses_the_given_path_only(tmp_path):
    program = write(tmp_path / "bin" / "mytool", "#!/bin/sh\n")
    os.chmod(program, 0o755)
    assert fsutil.find_program("mytool", {"PATH": str(tmp_path / "bin")}) == program
    assert fsutil.find_program("mytool", {"PATH": "/nonexistent"}) is None
    assert fsutil.find_program("mytool", {"PATH": ""}) is None
    assert fsutil.find_program("sh", {}) is not None      # the system's default path


def test_require_program_names_the_purpose(tmp_path):
    from kas.errors import KasUserError

    with pytest.raises(KasUserError) as caught:
        fsutil.require_program("no-such-tool", {"PATH": str(tmp_path)}, "testing")
    assert caught.value.message == 'Program "no-such-tool" is required for: testing'
    assert fsutil.require_program("sh", {}, "testing").endswith("/sh")


# --- build_dir ----------------------------------------------------------------
# The one way kas builds a directory (issue 26.4): partial clones, repo
# cache entries and reference repositories.


def make(content):
    """A build function writing ``content`` into the new directory."""
    def build(into):
        os.mkdir(into)
        write(os.path.join(into, "data"), content)
        return content
    return build


def test_build_dir_renames_the_finished_build_into_place(tmp_path):
    target = tmp_path / "sub" / "repo"
    assert fsutil.build_dir(str(target), make("new\n"), "builds a test") == (True, "new\n")
    assert read(target / "data") == "new\n"
    assert entries(tmp_path / "sub") == ["repo"]


def test_build_dir_keeps_what_another_process_built_first(tmp_path):
    target = tmp_path / "repo"

    def faster(into):
        write(target / "data", "theirs\n")       # another kas finished meanwhile
        return make("mine\n")(into)

    assert fsutil.build_dir(str(target), faster, "builds a test") == (False, "mine\n")
    assert read(target / "data") == "theirs\n"
    assert entries(tmp_path) == ["repo"]


def test_build_dir_replaces_an_existing_directory_when_asked(tmp_path):
    target = tmp_path / "repo"
    write(target / "data", "old\n")
    assert fsutil.build_dir(str(target), make("new\n"), "builds a test", replace=True)[0]
    assert read(target / "data") == "new\n"
    assert entries(tmp_path) == ["repo"]


def test_build_dir_failure_leaves_nothing_behind(tmp_path):
    def broken(into):
        os.mkdir(into)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fsutil.build_dir(str(tmp_path / "repo"), broken, "builds a test")
    assert entries(tmp_path) == []


def test_abandoned_builds_are_removed_live_ones_kept(tmp_path):
    """A private directory whose owner lock nobody holds (a killed run's)
    goes; one whose owner lives stays."""
    from kas.fslock import own_directory

    target = tmp_path / "repo"
    prefix = os.path.basename(fsutil.partial_prefix(str(target)))
    killed = tmp_path / (prefix + "killed")
    write(killed / "repo" / "junk", "x\n")
    write(killed / "owner.lock", "999999\n")
    live = tmp_path / (prefix + "live")
    live.mkdir()
    owner = own_directory(str(live))
    try:
        fsutil.remove_abandoned(str(target), "builds a test")
        assert entries(tmp_path) == [prefix + "live"]
    finally:
        owner.release()
    assert fsutil.is_partial_name(prefix + "live") and not fsutil.is_partial_name("repo")


def test_a_foreign_file_at_a_build_name_is_refused(tmp_path):
    target = tmp_path / "repo"
    foreign = tmp_path / (os.path.basename(fsutil.partial_prefix(str(target))) + "x")
    os.symlink(tmp_path, foreign)
    with pytest.raises(KasUserError, match="is where kas builds a test before moving it "
                                           "into place, but it is a symbolic link"):
        fsutil.build_dir(str(target), make("new\n"), "builds a test")
    assert os.path.islink(foreign)


def test_a_build_dir_gone_since_it_was_listed_is_no_error(tmp_path):
    """Another kas may finish (or remove a killed run's leftover) between
    the listing and the removal: a name that is gone is not a foreign
    file, nothing to do."""
    target = tmp_path / "repo"
    gone = tmp_path / (os.path.basename(fsutil.partial_prefix(str(target))) + "gone")
    assert fsutil.remove_if_abandoned(str(gone), "builds a test") is False
    assert entries(tmp_path) == []
