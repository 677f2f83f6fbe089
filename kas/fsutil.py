"""Small file-system helpers shared by every layer (issue 17.4): the one
atomic file writer, the one "is this path inside that directory" test and
the one program lookup.

Bottom layer: imports nothing from kas but kas.errors.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping

from kas.errors import KasUserError

TEMP_SUFFIX = ".kas-tmp"


def write_atomic(path: str, text: str, mode: int | None = None, backup: str | None = None,
                 follow_symlinks: bool = True) -> None:
    """Replace the file at ``path`` by ``text`` (UTF-8).

    Readers see the old content or the new one, never a partial file: the
    text goes to a temporary sibling, is synced to disk, then renamed into
    place.  ``mode`` defaults to the mode of the existing file, else the
    umask default.  A symlink at ``path`` is followed (its target is
    replaced) unless ``follow_symlinks`` is false.  With ``backup``,
    whatever is there is first renamed to ``backup``.  On any error the
    temporary file is removed and an OSError naming ``path`` is raised.
    """
    with _staged(path, text, mode, follow_symlinks) as (temp, target):
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
def _staged(path: str, text: str, mode: int | None,
            follow_symlinks: bool) -> Iterator[tuple[str, str]]:
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
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
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
