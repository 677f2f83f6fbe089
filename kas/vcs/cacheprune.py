"""Pruning the repo cache: ``python3 -m kas.cache prune --older-than 30d``.

An entry counts as used when a work dir was set up from it or it was
fetched into (``kas-used`` / ``kas-fetched``).  Entries unused for longer
than the limit are removed under their exclusive lock, so no kas that is
using one loses it half-way; work dirs own their objects, so none of them
breaks.  Without ``KAS_REPO_CACHE_DIR`` or ``--cache-dir`` nothing is done.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import time
from typing import TextIO

from kas.errors import KasUserError
from kas.fslock import abandoned
from kas.fsutil import is_partial_name
from kas.vcs.cache import STAMP, URL_FILE, USED, entry_lock

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` or plain days."""
    match = re.fullmatch(r"(\d+)([smhdw]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30d, 12h)")
    return int(match.group(1)) * UNITS[match.group(2) or "d"]


def _entry_dirs(root: str) -> list[tuple[str, str]]:
    """(name, path) of every real directory below ``<root>/git`` and
    ``<root>/hg``, entries and temporary ones alike."""
    found = []
    for vcs_type in ("git", "hg"):
        base = os.path.join(root, vcs_type)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if os.path.isdir(path) and not os.path.islink(path):
                found.append((name, path))
    return found


# What kas before issue 26.4 appended to an entry's name while it created
# or rebuilt it: ``.new.<pid>.<thread>`` or ``.old.<pid>.<thread>`` (entry
# names come from URLs and may contain ".new." themselves).  Such leftovers
# of killed runs may still be in a cache.
OLD_TEMPORARY_SUFFIX = re.compile(r"\.(new|old)\.\d+\.\d+$")


def _is_temporary(name: str) -> bool:
    """A directory a kas run creates or rebuilds an entry in (entry names
    never start with a dot: kas.fsutil.is_partial_name)."""
    return is_partial_name(name) or OLD_TEMPORARY_SUFFIX.search(name) is not None


def entries(root: str) -> list[str]:
    """The entry directories below ``root`` (``<root>/<type>/<name>``)."""
    return [path for name, path in _entry_dirs(root) if not _is_temporary(name)]


def leftovers(root: str, limit: float) -> list[str]:
    """Temporary entry directories of kas runs killed while creating or
    rebuilding an entry, last changed before ``limit``."""
    return [path for name, path in _entry_dirs(root)
            if _is_temporary(name) and os.lstat(path).st_mtime < limit]


def last_used(path: str) -> float:
    times = [os.stat(path).st_mtime]
    for name in (USED, STAMP):
        with contextlib.suppress(OSError):
            times.append(os.stat(os.path.join(path, name)).st_mtime)
    return max(times)


def prune(root: str, older_than: float, dry_run: bool = False,
          out: TextIO = sys.stdout) -> list[str]:
    """Remove the entries not used for ``older_than`` seconds; their paths."""
    limit = time.time() - older_than
    removed = []
    for path in entries(root):
        if last_used(path) >= limit:
            continue
        with entry_lock(path + ".lock"):
            # Used while this one waited for the lock?
            if not os.path.isdir(path) or last_used(path) >= limit:
                continue
            url = _url(path)
            if not dry_run:
                shutil.rmtree(path)
            removed.append(path)
            print(f"{'would remove' if dry_run else 'removed'} {path}"
                  + (f" ({url})" if url else ""), file=out)
    for path in leftovers(root, limit):
        owner = None
        if is_partial_name(os.path.basename(path)):
            # One that a running kas still builds stays.
            owner = abandoned(path)
            if owner is None:
                continue
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
        if owner is not None:
            owner.release()
        removed.append(path)
        print(f"{'would remove' if dry_run else 'removed'} {path} (left by an interrupted "
              "kas)", file=out)
    return removed


def _url(path: str) -> str | None:
    try:
        with open(os.path.join(path, URL_FILE)) as f:
            return f.read().strip()
    except OSError:
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m kas.cache",
                                     description="Maintain the kas repo cache.")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("prune", help="remove entries not used for a while")
    cmd.add_argument("--older-than", type=duration, required=True, metavar="AGE",
                     help="e.g. 30d, 12h, 2w: entries not used for longer are removed")
    cmd.add_argument("--cache-dir", default=os.environ.get("KAS_REPO_CACHE_DIR"),
                     help="the cache (default: KAS_REPO_CACHE_DIR)")
    cmd.add_argument("--dry-run", action="store_true", help="only list what would go")
    args = parser.parse_args(argv)
    if not args.cache_dir:
        parser.error("no cache: set KAS_REPO_CACHE_DIR or pass --cache-dir")
    if not os.path.isdir(args.cache_dir):
        print(f"error: cache dir {args.cache_dir} does not exist", file=sys.stderr)
        return 2
    try:
        prune(os.path.abspath(args.cache_dir), args.older_than, args.dry_run)
    except KasUserError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    return 0
