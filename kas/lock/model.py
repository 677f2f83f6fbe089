"""Lock files as ``kas lock`` reads and writes them (INC-080, INC-087, CLI-152).

A :class:`LockFile` holds the parsed content of one lock file and the pins
set on it.  An existing YAML lock file is edited line by line, so the
user's comments, key order and quoting survive (see :mod:`kas.lock.edit`);
a new file, a JSON file, ``--sort``, a different ``--indent`` or a layout
the editor cannot handle safely get the full format of INC-087.
Files are replaced atomically: a failed run leaves them as they were.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kas import fsutil
from kas.docio import reader
from kas.docio.writer import to_json, to_yaml
from kas.errors import KasUserError
from kas.lock import LOCK_VERSION

if TYPE_CHECKING:
    from kas.config.includes import LoadedFile

log = logging.getLogger(__name__)

DEFAULT_INDENT = 2


def lock_document(pins: Mapping[str, str]) -> dict[str, Any]:
    """The content of a new lock file pinning ``pins`` (repo id -> commit)."""
    return {"header": {"version": LOCK_VERSION},
            "overrides": {"repos": {rid: {"commit": sha} for rid, sha in pins.items()}}}


def display_path(path: str) -> str:
    """Paths in lock messages are relative to the current directory (CLI-152)."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


class LockFile:
    """One lock file: its content, where it came from, the pins set on it."""

    def __init__(self, path: str, data: dict[str, Any], text: str | None, version: int | None,
                 external: bool) -> None:
        self.path = path            # absolute path
        self.data = data            # parsed content (changed in place by set_pin)
        self.text = text            # original text (YAML edits), None for a new file
        self.version = version      # integer header version, None for a new file
        self.external = external    # lives in another repository (INC-076)
        self.pins_set: dict[str, str] = {}  # repo id -> commit, in the order they were set
        self.upgraded_from: int | None = None  # old header version if raised to LOCK_VERSION
        self.is_new = False         # not on disk yet

    @classmethod
    def new(cls, path: str) -> LockFile:
        lock = cls(path, lock_document({}), None, None, external=False)
        lock.is_new = True
        return lock

    @classmethod
    def from_loaded(cls, loaded: LoadedFile) -> LockFile:
        """A LockFile from a :class:`kas.config.includes.LoadedFile`."""
        try:
            text = loaded.raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None             # the editor needs text; a rewrite does not
        return cls(loaded.path, copy.deepcopy(loaded.data), text, loaded.version,
                   loaded.external)

    @property
    def is_json(self) -> bool:
        return reader.file_format(self.path) == "json"

    def pins(self) -> dict[str, str]:
        """repo id -> locked commit (string entries only)."""
        repos = (self.data.get("overrides") or {}).get("repos") or {}
        return {rid: entry["commit"] for rid, entry in repos.items()
                if isinstance(entry, dict) and isinstance(entry.get("commit"), str)}

    def set_pin(self, repo_id: str, commit: str) -> None:
        overrides = self.data.get("overrides")
        if not isinstance(overrides, dict):
            overrides = self.data["overrides"] = {}
        repos = overrides.get("repos")
        if not isinstance(repos, dict):
            repos = overrides["repos"] = {}
        entry = repos.get(repo_id)
        if not isinstance(entry, dict):
            entry = repos[repo_id] = {}
        entry["commit"] = commit
        self.pins_set[repo_id] = commit

    def upgrade_version(self) -> None:
        """CLI-152 step 3: raise an old header version to the lock version."""
        if self.version is None or self.version >= LOCK_VERSION:
            return
        log.warning("Lockfile %s has header version %s. Updating it to version %s.",
                    display_path(self.path), self.version, LOCK_VERSION)
        self.upgraded_from = self.version
        header = self.data.get("header")
        if not isinstance(header, dict):
            header = self.data["header"] = {}
        header["version"] = LOCK_VERSION

    def render(self, indent: int | None = None, sort: bool = False) -> str:
        """The new text of the file; ``indent`` None means "as the file has it"."""
        size = DEFAULT_INDENT if indent is None else indent
        if self.is_json:
            return to_json(self.data, indent=size, sort=sort)
        full = to_yaml(self.data, indent=size, sort=sort)
        if self.is_new:
            return full
        from kas.lock.edit import CannotEdit, edit_lock_text

        try:
            if self.text is None:
                raise CannotEdit("the file is not UTF-8 text")
            if sort:
                raise CannotEdit("--sort was given")
            return edit_lock_text(self.text, self.data, self.pins_set,
                                  self.upgraded_from is not None, indent)
        except CannotEdit as why:
            log.info("Rewriting lockfile %s in full (comments are not kept): %s",
                     display_path(self.path), why)
            return full


def replace_files(contents: Mapping[str, str]) -> None:
    """Write ``{path: text}``: every file goes to a temporary sibling first,
    and only when all are written are they renamed into place."""
    try:
        fsutil.replace_files(contents)
    except OSError as err:
        raise KasUserError(f"Cannot write lockfile {err.filename}: {err.strerror or err}") from None
