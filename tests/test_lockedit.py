"""The line-level lock file editor (kas/lock/edit.py): only the
changed values are rewritten; layouts it cannot edit safely are refused
(CannotEdit) so that ``kas lock`` rewrites the file in full instead.
In-process unit tests: the editor is a pure text function."""

import pytest
import yaml

from kas.lock.edit import CannotEdit, edit_lock_text

OLD = "a" * 40
NEW = "b" * 40


def edit(text, pins, set_version=False, indent=None):
    """Edit ``text``; the expected data is derived like LockFile does."""
    expected = yaml.safe_load(text)
    if set_version:
        expected["header"]["version"] = 14
    for repo_id, commit in pins.items():
        overrides = expected.setdefault("overrides", {})
        overrides.setdefault("repos", {}).setdefault(repo_id, {})["commit"] = commit
    return edit_lock_text(text, expected, pins, set_version, indent)


def test_replaces_only_the_value_keeping_quotes_out_and_comments_in():
    text = (f"header:\n  version: 14\noverrides:\n  repos:\n    up:\n"
            f"      commit: '{OLD}'   # reviewed\n")
    assert edit(text, {"up": NEW}) == text.replace(f"'{OLD}'", NEW)


def test_empty_commit_value_gets_its_space():
    text = "header:\n  version: 14\noverrides:\n  repos:\n    up:\n      commit:\n"
    assert edit(text, {"up": NEW}) == text.replace("commit:", f"commit: {NEW}")


def test_new_entry_follows_the_file_indentation_and_quotes_digits():
    """INC-084: an all-digit id must be quoted to stay a string."""
    text = (f"header:\n    version: 14\noverrides:\n    repos:\n        up:\n"
            f"            commit: {OLD}\n")
    assert edit(text, {"new": "0123"}) == text + "        new:\n            commit: '0123'\n"


def test_file_without_final_newline():
    text = f"header:\n  version: 14\noverrides:\n  repos:\n    up:\n      commit: {OLD}"
    assert edit(text, {"x": NEW}) == text + f"\n    x:\n      commit: {NEW}\n"


def test_file_without_overrides_gets_a_new_block():
    text = "# only a header so far\nheader:\n  version: 14\n"
    assert edit(text, {"up": NEW}) == text + f"overrides:\n  repos:\n    up:\n      commit: {NEW}\n"


def test_header_version_is_raised_in_place():
    text = f"header:\n  version: 9  # old\noverrides:\n  repos:\n    up:\n      commit: {OLD}\n"
    assert edit(text, {}, set_version=True) == text.replace("version: 9", "version: 14")


@pytest.mark.parametrize(("text", "pins", "reason"), [
    ("{header: {version: 14}}\n", {"up": NEW}, "the document is not a block mapping"),
    ("header:\n  version: 14\noverrides:\n  repos:\n    up:\n      branch: x\n",
     {"up": NEW}, "overrides.repos.up has no commit to replace"),
    ("header:\n  version: 14\noverrides:\n  repos: {}\n", {"up": NEW},
     "overrides.repos is not a block mapping"),
    ("header:\n  version: 14\noverrides:\n  repos:\n    up:\n      commit: |\n        x\n",
     {"up": NEW}, "overrides.repos.up.commit is not a one-line scalar"),
    ("header:\n  version: 14\n---\nheader:\n  version: 14\n", {"up": NEW},
     "the file cannot be parsed for editing"),
])
def test_unsafe_layouts_are_refused(text, pins, reason):
    with pytest.raises(CannotEdit, match=reason.replace(".", r"\.")):
        edit_lock_text(text, {}, pins, False)


def test_explicit_indent_must_match_the_file():
    text = f"header:\n  version: 14\noverrides:\n  repos:\n    up:\n      commit: {OLD}\n"
    with pytest.raises(CannotEdit, match="--indent 4 differs"):
        edit(text, {"up": NEW}, indent=4)
    assert edit(text, {"up": NEW}, indent=2) == text.replace(OLD, NEW)


def test_result_that_reads_back_differently_is_refused():
    text = f"header:\n  version: 14\noverrides:\n  repos:\n    up:\n      commit: {OLD}\n"
    with pytest.raises(CannotEdit, match="would not read back as intended"):
        edit_lock_text(text, {"something": "else"}, {"up": NEW}, False)
