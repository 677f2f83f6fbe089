"""In-process tests of the small pure functions of the repository engine."""

import os

import pytest

from kas.errors import KasUserError
from kas.repos.parallel import jobs
from kas.repos.patches import PatchDate, patch_date
from kas.vcs.base import is_full_sha
from kas.vcs.git import checkout_rev, local_branch_name, strip_refs
from kas.vcs.urls import (
    absolute_url,
    clone_depth,
    effective_url,
    premirror_rules,
    qualified_name,
)

SHA1 = "0123456789abcdef0123456789abcdef01234567"


def test_qualified_name_example_of_the_spec():
    """CLI-084."""
    assert (qualified_name("https://github.com/siemens/meta-iot2000.git")
            == "github.com.siemens.meta-iot2000.git")


@pytest.mark.parametrize("url,name", [
    ("ssh://git@example.org:2222/a/b.git", "git.example.org.2222.a.b.git"),
    ("git@example.org:a/b.git", "git.example.org.a.b.git"),
    ("https://example.org/a*b", "example.org.a.b"),
])
def test_qualified_name_replaces_separators(url, name):
    assert qualified_name(url) == name


def test_premirrors_first_match_at_start_wins_and_bad_lines_are_ignored():
    """CLI-083: re.match, first matching entry, malformed lines skipped."""
    lines = ("only-one-field",
             "three fields here",
             "([ invalid-regex",
             r"https://example\.org/(.*) file:///mirror/\1",
             r"https://.* file:///never")
    rules = premirror_rules({"KAS_PREMIRRORS": "\n".join(lines)})
    assert len(rules) == 2
    assert effective_url("https://example.org/x.git", rules) == "file:///mirror/x.git"
    assert effective_url("git://example.org/x.git", rules) == "git://example.org/x.git"
    # Not anchored at the end, only at the start.
    assert effective_url("xhttps://example.org/y", rules) == "xhttps://example.org/y"


@pytest.mark.parametrize("url,expected", [
    ("../example", "{parent}/example"),
    ("sub/../x/", "{work}/x"),
    ("./repo", "{work}/repo"),
    ("a/b:c", "{work}/a/b:c"),
    ("/abs/repo", "/abs/repo"),
    ("file:///abs/repo", "file:///abs/repo"),
    ("https://example.org/r.git", "https://example.org/r.git"),
    ("git@example.org:r.git", "git@example.org:r.git"),
    ("host:path/r", "host:path/r"),
])
def test_relative_urls_are_relative_to_the_real_work_dir(tmp_path, url, expected):
    """Issue 24.1: only a relative path is resolved, against the work dir
    with its symlinks resolved (as a command run in it sees ``..``)."""
    real = tmp_path / "real" / "work"
    real.mkdir(parents=True)
    os.symlink(real, tmp_path / "link")
    resolved = absolute_url(url, str(tmp_path / "link"))
    assert resolved == expected.format(parent=tmp_path / "real", work=real)


@pytest.mark.parametrize("value,depth", [(None, 0), ("", 0), ("0", 0), ("3", 3)])
def test_clone_depth(value, depth):
    environ = {} if value is None else {"KAS_CLONE_DEPTH": value}
    assert clone_depth(environ) == depth


@pytest.mark.parametrize("value", ["-1", "1.5", "abc", " 2"])
def test_clone_depth_must_be_a_number(value):
    """ENV-032."""
    with pytest.raises(KasUserError, match="^KAS_CLONE_DEPTH must be a number$"):
        clone_depth({"KAS_CLONE_DEPTH": value})


def test_fetch_jobs_default_and_override():
    default = jobs({})
    assert 8 <= default <= 64
    assert jobs({"KAS_FETCH_JOBS": "3"}) == 3
    assert jobs({"KAS_FETCH_JOBS": "0"}) == default
    assert jobs({"KAS_FETCH_JOBS": "many"}) == default


@pytest.mark.parametrize("branch,local,remote_part", [
    ("main", "main", "main"),
    ("refs/heads/feature/x", "feature/x", "heads/feature/x"),
    ("refs/other/y", "other/y", "other/y"),
])
def test_branch_names(branch, local, remote_part):
    """CLI-088 step 6 and CLI-090 step 5."""
    assert local_branch_name(branch) == local
    assert strip_refs(branch) == remote_part


def test_full_ids_are_always_checked_out_as_commits():
    """CLI-090 step 8."""
    assert is_full_sha(SHA1)
    assert is_full_sha("a" * 64)
    assert not is_full_sha(SHA1[:12])
    assert not is_full_sha(SHA1.upper())
    assert checkout_rev(SHA1) == SHA1 + "^{commit}"
    assert checkout_rev("v1.0") == "v1.0"


def test_patch_date_from_header(tmp_path):
    patch = tmp_path / "0001.patch"
    patch.write_text("From abc Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\n"
                     "Date: Tue, 2 Jan 2024 10:30:00 +0130\nSubject: x\n")
    date = patch_date(str(patch))
    assert date.git() == "@1704186000 +0130"
    assert date.hg() == "1704186000 -5400"


def test_patch_date_from_mtime_without_header(tmp_path):
    patch = tmp_path / "plain.patch"
    patch.write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n")
    os.utime(patch, (1600000000, 1600000000))
    assert patch_date(str(patch)).git() == "@1600000000 +0000"


def test_negative_offsets():
    date = PatchDate(100, -300)
    assert date.git() == "@100 -0500"
    assert date.hg() == "100 18000"
