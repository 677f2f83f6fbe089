"""Applying the configured patches (CF-670 ... CF-675, CLI-093).

All patch files of a repository are located (and every series file read)
before the repository is touched.  A failing patch rolls the repository
back to its exact pre-patch state and names the file, repo and entry.
"""

from __future__ import annotations

import email.utils
import logging
import os
from typing import TYPE_CHECKING

from kas.errors import KasUserError
from kas.fsutil import within
from kas.repos.record import recorded_task
from kas.vcs import backend_for
from kas.vcs.git import strip_refs

if TYPE_CHECKING:
    from kas.context import Context
    from kas.repos.model import PatchEntry, RepoSpec
    from kas.vcs import Backend, CheckoutSpec

    # Each patch entry of a repo with its files, in application order.
    PatchWork = list[tuple[PatchEntry, list[str]]]

log = logging.getLogger(__name__)


class PatchDate:
    """A commit date in the formats git and hg accept."""

    def __init__(self, timestamp: float, offset_minutes: int) -> None:
        self.timestamp = int(timestamp)
        self.offset = offset_minutes          # east of UTC

    def git(self) -> str:
        sign = "-" if self.offset < 0 else "+"
        hours, minutes = divmod(abs(self.offset), 60)
        return f"@{self.timestamp} {sign}{hours:02d}{minutes:02d}"

    def hg(self) -> str:
        return f"{self.timestamp} {-self.offset * 60}"


def patch_date(path: str) -> PatchDate:
    """The ``Date:`` header on line 3 of the patch, else the file's mtime."""
    try:
        with open(path, errors="replace") as f:
            lines = [f.readline() for _ in range(3)]
        if lines[2].startswith("Date: "):
            parsed = email.utils.parsedate_to_datetime(lines[2][len("Date: "):].strip())
            offset = parsed.utcoffset()
            minutes = int(offset.total_seconds() // 60) if offset else 0
            return PatchDate(parsed.timestamp(), minutes)
    except (TypeError, ValueError, IndexError):
        pass
    return PatchDate(os.path.getmtime(path), 0)


def _describe(path: str, spec: CheckoutSpec, entry: PatchEntry) -> str:
    return f"(patch path: {path}, repo: {spec.name}, patch entry: {entry.id})"


def inside_repo(path: str, spec: RepoSpec, entry: PatchEntry,
                repos: dict[str, RepoSpec]) -> str:
    """``path`` if it stays inside the repo that holds the patch entry,
    also after resolving symlinks; one clear error otherwise."""
    holder = repos[entry.repo_id]
    root = os.path.realpath(holder.path)
    if not within(path, root, resolve=True):
        raise KasUserError(f"Patch {path} resolves outside repository {holder.name} ({root}) "
                           f"(repo: {spec.name}, patch entry: {entry.id})")
    return path


def patch_files(spec: RepoSpec, entry: PatchEntry, repos: dict[str, RepoSpec]) -> list[str]:
    """The files of one patch entry, in application order (CF-674).
    Neither the entry nor a series line may leave the patch's repo."""
    path = inside_repo(os.path.join(repos[entry.repo_id].path, entry.path), spec, entry,
                       repos)
    if os.path.isfile(path):
        return [path]
    series = os.path.join(path, "series")
    if not os.path.isfile(series):
        raise KasUserError(f"Could not find patch. {_describe(path, spec, entry)}")
    files = []
    with open(series) as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#"):
                continue
            name = line.split(" #", 1)[0].rstrip()
            if not name:
                raise KasUserError(
                    f"Could not find patch. {_describe(path, spec, entry)}: "
                    f"line {number} of {series} is empty")
            file = inside_repo(os.path.join(path, name), spec, entry, repos)
            if not os.path.isfile(file):
                raise KasUserError(f"Could not find patch. {_describe(file, spec, entry)}")
            files.append(file)
    return files


def patch_branch(spec: CheckoutSpec) -> str:
    ref = spec.commit or spec.tag or spec.branch or spec.refspec
    assert ref is not None, "a remote repo has a ref (kas.repos.model)"
    return "patched-" + strip_refs(ref)


def apply_all(ctx: Context, repos: dict[str, RepoSpec]) -> None:
    """Apply the patches of every remote repo of ``repos`` (id -> RepoSpec).

    The patch files of all repos are located (and checked to stay inside
    their repo) before any repo is touched, so a bad entry leaves every
    repo as it was."""
    plan = [(spec, [(entry, patch_files(spec, entry, repos)) for entry in spec.patches])
            for spec in repos.values() if not spec.is_local and spec.patches]
    for spec, work in plan:
        backend = backend_for(ctx, spec)
        backend.require_checkout()
        if backend.is_dirty():
            log.warning("Repo %s is dirty - no patching", spec.name)
            continue
        recorded_task(ctx, "patch", spec,
                      lambda: apply_repo_patches(backend, work))()  # noqa: B023


def apply_repo_patches(backend: Backend, work: PatchWork) -> None:
    spec = backend.spec
    with backend.patch_session(patch_branch(spec)):
        for entry, files in work:
            for file in files:
                message = f"kas: {entry.id}\n\npatch {file} applied by kas"
                failure = backend.apply_patch(file, message, patch_date(file))
                if failure is not None:
                    # The layout of kas 5.5's message: one line per fact.
                    raise KasUserError(
                        "Could not apply patch. Please fix repos and patches:\n"
                        f"patch path: {file}, repo: {spec.name}, patch entry: {entry.id}\n"
                        f"vcs command: {failure.command}\nvcs error:\n{failure.error}")
                # One line per file with its full path, as kas 5.5 logs it.
                log.info("Patch applied. (patch path: %s, repo: %s, patch entry: %s)",
                         file, spec.name, entry.id)
