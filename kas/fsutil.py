"""Small file-system helpers shared by every layer (issue 17.4): the one
atomic file writer, the one way to build a directory (issue 26.4), the one
"is this path inside that directory" test and the one program lookup.

Bottom layer: imports nothing from kas but kas.errors and kas.fslock.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import Callable, TypeVar

from kas.errors import KasUserError
from kas.fslock import abandoned, own_directory

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".kas-tmp"

# A directory is built in a private sibling ``.<name>.kas-partial.<random>``
# (the temporary-name pattern of every directory kas builds: partial
# clones, repo cache entries, reference repositories) holding the
# builder's owner lock and the build itself, BUILD.
PARTIAL_INFIX = ".kas-partial."
BUILD = "repo"

T = TypeVar("T")


def write_atomic(path: str, text: str | bytes, mode: int | None = None,
                 backup: str | None = None, follow_symlinks: bool = True,
                 sync: bool = True) -> None:
    """Replace the file at ``path`` by ``text`` (UTF-8; bytes as they are).

    Readers see the old content or the new one, never a partial file: the
    text goes to a temporary sibling, is synced to disk (unless ``sync`` is
    false: a cache that may be lost in a crash), then renamed into
    place.  ``mode`` defaults to the mode of the existing file, else the
    umask default.  A symlink at ``path`` is followed (its target is
    replaced) unless ``follow_symlinks`` is false.  With ``backup``,
    whatever is there is first renamed to ``backup``.  On any error the
    temporary file is removed and an OSError naming ``path`` is raised.
    """
    with _staged(path, text, mode, follow_symlinks, sync) as (temp, target):
        try:
            if backup is not None and os.path.lexists(target):
                os.replace(target, backup)
            os.replace(temp, target)
        except OSError as err:
            raise _naming(err, path) from None


def replace_files(contents: Mapping[str, str], mode: int | None = None) -> None:
    """Write ``{path: text}`` as a group, symlinks followed: every file is
    staged first and only when all are written are they renamed into
    place, so a failure while writing (also a directory in the way of one
    of them) changes none of them.  Errors as :func:`write_atomic`."""
    with contextlib.ExitStack() as stack:
        staged: list[tuple[str, str, str]] = []
        for path, text in contents.items():
            if os.path.isdir(os.path.realpath(path)):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            staged.append((path, *stack.enter_context(_staged(path, text, mode, True))))
        for path, temp, target in staged:
            try:
                os.replace(temp, target)
            except OSError as err:
                raise _naming(err, path) from None


@contextlib.contextmanager
def _staged(path: str, text: str | bytes, mode: int | None,
            follow_symlinks: bool, sync: bool = True) -> Iterator[tuple[str, str]]:
    """Yield ``(temp, target)``: ``text`` written and synced to a temporary
    sibling of ``target`` (``path``, resolved if ``follow_symlinks``); the
    temporary file is removed when the block ends (after a successful
    rename it is gone already)."""
    target = os.path.realpath(path) if follow_symlinks else os.path.abspath(path)
    temp: str | None = None
    try:
        directory, name = os.path.split(target)
        file_mode = _mode_for(target) if mode is None else mode
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            f.flush()
            if sync:
                os.fsync(f.fileno())    # the rename must never expose an empty file
        os.chmod(temp, file_mode)
    except OSError as err:
        _remove(temp)
        raise _naming(err, path) from None
    except BaseException:
        _remove(temp)
        raise
    try:
        yield temp, target
    finally:
        _remove(temp)


def _remove(temp: str | None) -> None:
    if temp is not None and os.path.lexists(temp):
        os.remove(temp)


def _naming(err: OSError, path: str) -> OSError:
    """The same error (same errno, so the same OSError subclass), naming
    the file the caller asked for instead of a temporary file."""
    if err.errno is None:
        return err
    return OSError(err.errno, err.strerror or str(err), path)


def _mode_for(target: str) -> int:
    """Keep the mode of an existing file; a new one gets the umask default."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return default_mode()


def default_mode() -> int:
    """The mode a new regular file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def partial_prefix(path: str) -> str:
    """The name prefix of the private directories in which ``path`` is
    built (``.<name>.kas-partial.<random>``, next to ``path``)."""
    parent, name = os.path.split(path)
    return os.path.join(parent, f".{name}{PARTIAL_INFIX}")


def is_partial_name(name: str) -> bool:
    """Whether ``name`` is that of a directory in which kas builds another."""
    return name.startswith(".") and PARTIAL_INFIX in name


def build_dir(path: str, build: Callable[[str], T], purpose: str,
              replace: bool = False) -> tuple[bool, T]:
    """Build the directory ``path`` so that nobody sees it half-made: what
    killed runs left of earlier builds of ``path`` is removed, then
    ``build(into)`` makes the not yet existing directory ``into`` inside a
    private sibling, which is renamed to ``path`` when complete.

    If ``path`` exists by then, ``replace`` swaps it out (removed after);
    otherwise another process was faster, its copy is kept and this build
    dropped.  Returns (whether this build is ``path`` now, what ``build``
    returned).  ``purpose`` ("clones a repository") names the work in the
    error about a foreign file at a private directory's name."""
    remove_abandoned(path, purpose)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temp = tempfile.mkdtemp(prefix=os.path.basename(partial_prefix(path)), dir=parent)
    owner = own_directory(temp)
    try:
        into = os.path.join(temp, BUILD)
        result = build(into)
        if replace and os.path.lexists(path):
            # The old one goes into the private directory, removed with it.
            os.rename(path, os.path.join(temp, "old"))
        try:
            os.rename(into, path)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            return False, result
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        owner.release()
    return True, result


def remove_abandoned(path: str, purpose: str) -> None:
    """Remove the private build directories of ``path`` whose owners are
    gone (killed runs'); those of running builds stay."""
    prefix = partial_prefix(path)
    parent, start = os.path.dirname(prefix), os.path.basename(prefix)
    try:
        names = sorted(os.listdir(parent))
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(start):
            remove_if_abandoned(os.path.join(parent, name), purpose)


def remove_if_abandoned(temp: str, purpose: str) -> bool:
    """Remove the private build directory ``temp`` if its owner is gone;
    whether it did."""
    if not os.path.lexists(temp):
        return False        # gone since it was listed: its owner finished
    refuse_foreign_partial(temp, purpose)
    owner = abandoned(temp)
    if owner is None:
        return False        # still being built, or not provably abandoned
    try:
        log.debug("Removing %s, left by an interrupted kas", temp)
        shutil.rmtree(temp, ignore_errors=True)
    finally:
        owner.release()
    return True


def refuse_foreign_partial(temp: str, purpose: str) -> None:
    """Only a real directory at a private build name is kas's to delete: a
    symlink or a file there was put by someone else, and following or
    deleting it could destroy data that is not kas's."""
    if os.path.islink(temp) or not os.path.isdir(temp):
        kind = "a symbolic link" if os.path.islink(temp) else "not a directory"
        raise KasUserError(
            f"{temp} is where kas {purpose} before moving it into place, "
            f"but it is {kind}: remove or rename it and run kas again")


def within(path: str, root: str, *, resolve: bool = False) -> bool:
    """True if ``path`` is ``root`` or lies below it.

    The test is on the path names (made absolute and normalized), so a
    sibling such as ``/a/bc`` is not inside ``/a/b``.  With ``resolve``
    both are resolved first, so a symlink pointing elsewhere is outside;
    without it callers resolve what their rule needs themselves.
    """
    if resolve:
        path, root = os.path.realpath(path), os.path.realpath(root)
    else:
        path, root = os.path.abspath(path), os.path.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def find_program(name: str, environ: Mapping[str, str]) -> str | None:
    """The path of program ``name`` on the PATH of ``environ`` (the
    system's default path if it has none), or None."""
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def require_program(name: str, environ: Mapping[str, str], purpose: str) -> str:
    """The path of program ``name`` on the PATH of ``environ``, else an
    error naming ``purpose``."""
    program = find_program(name, environ)
    if program is None:
        raise KasUserError(f'Program "{name}" is required for: {purpose}')
    return program
