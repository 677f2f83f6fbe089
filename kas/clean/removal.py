"""Removing directory trees safely, as the caller, with sudo, or from a
user namespace (used by clean, cleansstate, cleanall and purge).

Three ways to remove, one per build system (CLI-173):

* :class:`PlainRemover` removes as the calling user (OpenEmbedded);
* :class:`SudoRemover` runs one ``sudo rm -rf`` for root-owned Isar trees;
* :class:`NamespaceRemover` removes what belongs to the caller's
  subordinate ids (an interrupted isar-rootless build) from inside
  ``unshare --map-auto --map-root-user``, then the rest as the caller.

Whatever the way, a :class:`Guard` checks every target first: it must lie
inside the directories kas may clean, it is never followed through a
symlink (a link is removed, not its target), and no file system may be
mounted below it.  A removal that leaves anything behind is an error that
says what is left.
"""

import logging
import os
import stat
from dataclasses import dataclass, field

from kas.errors import KasUserError
from kas.fsutil import find_program, require_program, within
from kas.userns import (
    SUBID_TABLES,
    lacking_ranges,
    mapping_failure,
    ranges_of,
    subid_fix,
    user_name,
    userns_blocker,
)

log = logging.getLogger(__name__)

# At most this many paths per unshare/sudo command line.
ARGV_BATCH = 500
# How many leftovers an error names.
LEFTOVER_EXAMPLES = 3

SUDO_PROMPT = "[sudo] enter password for %U to clean ISAR artifacts"
USERNS_COMMAND = ("unshare", "--map-auto", "--map-root-user", "--keep-caps")


class RemovalError(KasUserError):
    """A removal failed or left something behind.  The reference reports
    these as internal errors, with exit code 1 (CLI-173)."""

    exit_code = 1


# --- where kas may remove -------------------------------------------------

def resolved(path):
    """``path`` with its parent directories resolved, its last component
    kept: a symlink stays the link, never its target."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


class Guard:
    """The directories kas may remove below (the work and build directory,
    and directories the user named, e.g. SSTATE_DIR)."""

    def __init__(self, work_dir, roots):
        self.work_dir = os.path.realpath(work_dir)
        self.roots = [os.path.realpath(r) for r in roots]
        self._mount_points = None

    def check(self, path):
        """Raise unless ``path`` may be removed.  Returns its resolved form."""
        target = resolved(path)
        if not any(within(target, root) for root in self.roots):
            raise RemovalError(f"Refusing to remove {path}: it is outside of "
                               f"{' and '.join(self.roots)}")
        if within(self.work_dir, target):
            raise RemovalError(f"Refusing to remove {path}: it contains the work "
                               f"directory {self.work_dir}")
        if self._mount_points is None:
            self._mount_points = mount_points()
        mounts = [m for m in self._mount_points if within(m, target)]
        if mounts:
            raise RemovalError(
                f"Refusing to remove {path}: a file system is mounted at {mounts[0]}. "
                "Unmount it first (an interrupted Isar build can leave mounts behind), "
                f"e.g. with: sudo umount --recursive {mounts[0]}")
        return target

    def inside_work_dir(self, path):
        return within(resolved(path), self.work_dir)

    def may_enter(self, directory):
        """True if the resolved ``directory`` lies inside a root (its contents
        may be removed): false for a symlink pointing elsewhere."""
        real = os.path.realpath(directory)
        return any(within(real, root) for root in self.roots)


def _unescape_mountinfo(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points(mountinfo="/proc/self/mountinfo"):
    """The mount points of this process's mount namespace, in mount order."""
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [_unescape_mountinfo(fields[4]) for fields in map(str.split, lines)
            if len(fields) > 4]


# --- removing as the caller ----------------------------------------------

def _make_writable(directory):
    """Give the caller's own directory u+rwx (read-only trees, e.g. Go's
    module cache, otherwise cannot be emptied).  False if not ours."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
        return False
    wanted = stat.S_IMODE(st.st_mode) | stat.S_IRWXU
    if wanted == stat.S_IMODE(st.st_mode):
        return False
    os.chmod(directory, wanted)
    return True


def _retry_writable(func, path, parent):
    try:
        func(path)
    except PermissionError:
        if not _make_writable(parent):
            raise
        func(path)


def _list_dir(directory):
    try:
        return os.listdir(directory)
    except PermissionError:
        if not _make_writable(directory):
            raise
        return os.listdir(directory)


def _scan_dir(directory):
    """(path, is a directory) of each entry; d_type saves an lstat each."""
    try:
        entries = list(os.scandir(directory))
    except PermissionError:
        if not _make_writable(directory):
            raise
        entries = list(os.scandir(directory))
    return [(e.path, e.is_dir(follow_symlinks=False)) for e in entries]


def remove_tree(path):
    """``rm -rf path`` as the caller: symlinks are removed, never followed.

    Continues past entries it cannot remove and returns the errors
    (OSError objects); the caller reports what is left."""
    errors = []
    try:
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return errors
    # (path, is a directory, its entries are gone already)
    stack = [(path, is_dir, False)]
    while stack:
        current, is_dir, emptied = stack.pop()
        parent = os.path.dirname(current)
        try:
            if not is_dir:
                _retry_writable(os.unlink, current, parent)
            elif emptied:
                _retry_writable(os.rmdir, current, parent)
            else:
                stack.append((current, True, True))
                stack.extend((p, d, False) for p, d in _scan_dir(current))
        except FileNotFoundError:
            continue
        except OSError as err:
            errors.append(err)
    return errors


def remove_contents(directory):
    """Remove everything in ``directory``; the directory stays."""
    errors = []
    for name in _list_dir(directory):
        errors.extend(remove_tree(os.path.join(directory, name)))
    return errors


@dataclass
class Leftover:
    """What is left of one removed path."""

    path: str
    count: int = 0
    unreadable: bool = False    # some directory could not be read: maybe more
    examples: list = field(default_factory=list)   # paths with their owners
    owners: set = field(default_factory=set)       # uids of everything left


def leftovers(path, limit=LEFTOVER_EXAMPLES):
    """What is left at ``path`` (up to ``limit`` examples), without
    following symlinks."""
    left, stack = Leftover(path), [path]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except OSError:
            continue
        left.count += 1
        left.owners.add(st.st_uid)
        if len(left.examples) < limit:
            left.examples.append(f"{current} (owner {st.st_uid}:{st.st_gid})")
        if stat.S_ISDIR(st.st_mode):
            try:
                stack.extend(os.path.join(current, n) for n in os.listdir(current))
            except OSError:
                left.unreadable = True
    return left


def report_leftovers(paths, hint, errors=()):
    """Raise RemovalError if anything of ``paths`` still exists.  ``hint``
    is the advice, or a function of the uids of what is left giving it."""
    left = [leftovers(p) for p in paths if os.path.lexists(p)]
    if not left:
        return
    total = sum(item.count for item in left)
    at_least = "at least " if any(item.unreadable for item in left) else ""
    examples = [e for item in left for e in item.examples][:LEFTOVER_EXAMPLES]
    cause = f" ({errors[0].strerror})" if errors and errors[0].strerror else ""
    where = ", ".join(item.path for item in left)
    if callable(hint):
        hint = hint(set().union(*(item.owners for item in left)))
    raise RemovalError(
        f"Could not remove everything in {where}{cause}: {at_least}{total} "
        f"entr{'y is' if total == 1 else 'ies are'} left, e.g. {', '.join(examples)}. "
        f"{hint}")


# --- the three ways -------------------------------------------------------

class PlainRemover:
    """Removal by kas itself, as the calling user.  ``rootless_command``:
    the kas command line that removes files of the caller's subordinate
    ids, named when such files are left."""

    hint = "Check the permissions of what is left."

    def __init__(self, ctx, rootless_command=None):
        self.ctx = ctx
        self.rootless_command = rootless_command

    def remove(self, paths):
        for path in paths:
            errors = remove_tree(path)
            report_leftovers([path], self.hint_for, errors)

    def empty(self, directory):
        errors = remove_contents(directory)
        left = [os.path.join(directory, n) for n in _list_dir(directory)]
        report_leftovers(left, self.hint_for, errors)

    def hint_for(self, owners):
        """The advice for leftovers owned by ``owners``: files of the caller's
        subordinate ids are an interrupted isar-rootless build's, and the
        same command in rootless mode removes them (issue 25.3)."""
        mine = ranges_of(os.getuid(), SUBID_TABLES[0])
        subordinate = sorted(uid for uid in owners if any(uid in r for r in mine))
        if not subordinate or not self.rootless_command:
            return self.hint
        names = ", ".join(map(str, subordinate[:LEFTOVER_EXAMPLES]))
        more = " …" if len(subordinate) > LEFTOVER_EXAMPLES else ""
        return (f"Entries owned by {names}{more}, your subordinate "
                f"id{'s' if len(subordinate) > 1 else ''}, are what an interrupted "
                "isar-rootless build leaves; only a user namespace can remove them. "
                f"Run: {self.rootless_command}")


class SudoRemover(PlainRemover):
    """isar-privileged: the build created root-owned trees; one sudo call."""

    hint = "They belong to other users; remove them as root."

    def remove(self, paths):
        from kas.errors import CommandError
        from kas.process import run_interactive

        if os.getuid() == 0 and find_program("sudo", self.ctx.caller_env) is None:
            super().remove(paths)       # root needs no sudo (e.g. in a container)
            return
        require_program("sudo", self.ctx.caller_env, "cleaning an isar-privileged build")
        for start in range(0, len(paths), ARGV_BATCH):
            argv = ["sudo", "--prompt", SUDO_PROMPT, "rm", "-rf", *paths[start:start + ARGV_BATCH]]
            returncode = run_interactive(argv, env=self.ctx.vcs_env())
            if returncode != 0:
                failed = CommandError(argv, returncode).message
                report_leftovers(paths, failed)
                raise RemovalError(failed)
        report_leftovers(paths, self.hint)


class NamespaceRemover(PlainRemover):
    """isar-rootless: the build created trees owned by the caller's
    subordinate ids, which only a user namespace mapping them can remove.
    Never uses sudo."""

    hint = ("Entries owned by ids outside your subordinate ranges (/etc/subuid, "
            "/etc/subgid) can only be removed by root.")
    purpose = "cleaning an isar-rootless build"

    def __init__(self, ctx):
        super().__init__(ctx)
        self._usable = False

    def remove(self, paths):
        # Everything is checked before the first entry goes.
        foreign = {path: foreign_entries(path, os.getuid()) for path in paths}
        if os.getuid() == 0:            # root removes everything itself
            foreign = {}
        if any(foreign.values()):
            self._ensure_usable()
        for path in paths:
            if foreign.get(path):
                self._remove_in_namespace(foreign[path])
            errors = remove_tree(path)
            report_leftovers([path], self.hint, errors)

    def empty(self, directory):
        # Entry by entry: any of them may hold files of subordinate ids.
        self.remove(sorted(os.path.join(directory, n) for n in _list_dir(directory)))

    def _remove_in_namespace(self, entries):
        self._ensure_usable()
        for start in range(0, len(entries), ARGV_BATCH):
            argv = [*USERNS_COMMAND, "rm", "-rf", "--",
                    *entries[start:start + ARGV_BATCH]]
            result = self.ctx.runner.run(argv, env=self.ctx.vcs_env(), check=False)
            if result.returncode != 0:
                log.debug("%s", result.stderr.rstrip())
                # What could not go is reported with the leftovers.

    def _ensure_usable(self):
        """Check once that a user namespace with the subordinate ids can be
        entered, with an error that names the fix otherwise."""
        if not self._usable:
            unshare = require_program("unshare", self.ctx.caller_env,
                                      f"{self.purpose} (util-linux 2.38 or newer)")
            check_subordinate_ids(os.getuid())
            probe_user_namespace(self.ctx, unshare)
            self._usable = True


def foreign_entries(path, uid):
    """The topmost entries below (or at) ``path`` not owned by ``uid``;
    directories owned by others are not entered."""
    found, stack = [], [path]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            continue
        if st.st_uid != uid:
            found.append(current)
        elif stat.S_ISDIR(st.st_mode):
            stack.extend(os.path.join(current, name) for name in _list_dir(current))
    return sorted(found)


def check_subordinate_ids(uid):
    """The caller needs a range in both tables for ``--map-auto``."""
    lacking = lacking_ranges(uid)
    if lacking:
        table, kind = lacking[0]
        raise KasUserError(
            f"{user_name(uid) or f'uid {uid}'} has no subordinate {kind} range in {table}, "
            "which is needed to remove the files of an isar-rootless build. Ask an "
            f"administrator to add one, e.g.: {subid_fix(uid)}")


def probe_user_namespace(ctx, unshare):
    """Enter the namespace once with ``true`` and explain a failure."""
    blocker = userns_blocker()
    if blocker:     # not tried: unshare's id-mapping child would wait forever
        raise KasUserError(
            "Cannot enter a user namespace with your subordinate ids, which is needed to "
            f"remove the files of an isar-rootless build: {blocker}")
    argv = [*USERNS_COMMAND, "true"]
    env = ctx.vcs_env()
    result = ctx.runner.run(argv, env=env, check=False)
    if result.returncode == 0:
        return
    stderr = result.stderr.strip()
    if "map-auto" in stderr and ("unrecognized" in stderr or "invalid" in stderr):
        version = ctx.runner.run([unshare, "--version"], env=env, check=False)
        raise KasUserError(
            f"{unshare} does not support --map-auto ({version.stdout.strip() or 'old version'})"
            ", which is needed to remove the files of an isar-rootless build: install "
            "util-linux 2.38 or newer")
    if "newuidmap" in stderr or "newgidmap" in stderr:
        # Installed but failing (issue 25.3) is told apart from not installed.
        what, fix = mapping_failure(argv, stderr, env)
        raise KasUserError(
            "Cannot map your subordinate ids into a user namespace, which is needed to "
            f"remove the files of an isar-rootless build: {what}. Fix: {fix}")
    raise KasUserError(
        "Cannot enter a user namespace with your subordinate ids, which is needed to "
        f"remove the files of an isar-rootless build: {stderr or 'unshare failed'}. "
        "Check that unprivileged user namespaces are enabled "
        "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone).")


def remover_for(ctx, build_system, rootless_command=None):
    """The remover of build artifacts for ``build_system`` (CLI-173)."""
    if build_system == "isar-privileged":
        return SudoRemover(ctx)
    if build_system == "isar-rootless":
        return NamespaceRemover(ctx)
    return PlainRemover(ctx, rootless_command)
