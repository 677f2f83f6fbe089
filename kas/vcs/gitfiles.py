"""Answering kas's read-only git queries from git's files, without a git
process (issue 27: a re-run with nothing to do costs almost nothing).

A repository already at its wanted commit costs kas a handful of git
processes per run (does the commit exist, which commit is it, is the work
tree clean).  :class:`GitFiles` answers those queries by reading what git
keeps on disk: HEAD, loose and packed refs, the ``.git`` file of a linked
work tree, loose and packed objects, and the index.

It answers only when the files make the answer certain, and only with
the answer git itself would give on success; everything else is
``None``, and the caller runs git as before.  Never certain are, among
others: a reftable or otherwise extended repository, replace refs, an
operation in progress (merge, rebase, cherry-pick, revert, bisect, an
index or HEAD lock, kas's own interrupted-checkout marker), a work tree
elsewhere (core.worktree), git variables in the environment that change
where git looks, an index with entries git would look at more closely
(racily clean, assume-unchanged, skip-worktree, intent-to-add, unmerged,
submodules, a split or sparse index), and any error reading a file.
A failure (an unknown object, a dirty tree) is never answered: git says
it, with its own message.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from kas.vcs.base import CHECKOUT_MARKER

# Present while git is in the middle of something, or a git is running.
PENDING = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "BISECT_START", "AUTO_MERGE",
           "rebase-merge", "rebase-apply", "sequencer", "index.lock", "HEAD.lock",
           "reftable", CHECKOUT_MARKER)

# Repository extensions that change nothing read here.
HARMLESS_EXTENSIONS = {"noop", "partialclone", "preciousobjects"}

# git variables that only concern talking to remotes and identities; any
# other GIT_* variable may change where git looks for its files.
HARMLESS_ENV_PREFIXES = ("GIT_TERMINAL_PROMPT", "GIT_SSH", "GIT_ASKPASS", "GIT_PROXY",
                         "GIT_SSL", "GIT_HTTP", "GIT_CURL", "GIT_TRACE", "GIT_AUTHOR_",
                         "GIT_COMMITTER_")

HEX40 = re.compile(r"[0-9a-f]{40}\Z")
REF_NAMES = ("refs/heads/", "refs/tags/", "refs/remotes/")
OBJECT_TYPES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
OFS_DELTA, REF_DELTA = 6, 7
# Commits and tags are small; anything larger is left to git.
MAX_OBJECT = 1 << 20
MAX_DELTA_CHAIN = 64
# Above this many tracked files, git's own (multi-threaded) status is
# faster than stat-ing them here one by one: about 8 us a file against 2 to
# 4 ms for starting git plus 1.3 us a file (20,000 files: 164 ms against
# 27 ms, measured on 2 cores).
MAX_STATUS_ENTRIES = 500


@dataclass(frozen=True)
class Answer:
    """What git would have printed on success (exit status 0)."""

    stdout: str


class Unsure(Exception):
    """The files do not make the answer certain: ask git."""


class GitFiles:
    """Read-only view of the git files of the checkout at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.packs = PackCache()

    # -- the queries -----------------------------------------------------

    def answer(self, argv: Sequence[str], env: Mapping[str, str]) -> Answer | None:
        """git's successful answer to ``argv``, if the files make it
        certain; None: run git."""
        if _changes_git(env):
            return None
        try:
            return _answer(lambda: Layout.of(self.path, self.packs), list(argv[1:]))
        except (Unsure, OSError, ValueError, IndexError, struct.error, zlib.error):
            return None

    def head_branch(self, env: Mapping[str, str]) -> tuple[str, str] | None:
        """(local branch ref, commit) if HEAD is on a branch; None if
        detached or not certain."""
        if _changes_git(env):
            return None
        try:
            layout = Layout.of(self.path, self.packs)
            target = layout.head_symref()
            if target is None:
                return None
            return target, layout.resolve(target)
        except (Unsure, OSError, ValueError):
            return None


@dataclass(frozen=True)
class TopLevel:
    """What ``git rev-parse --show-toplevel --show-superproject-working-tree``
    finds for a directory: the root, or None outside any git work tree."""

    root: str | None


def top_level(directory: str, env: Mapping[str, str]) -> TopLevel | None:
    """The work tree holding ``directory`` if the files make it certain:
    no ``.git`` in it or any parent (git finds nothing), or exactly one
    ``.git`` directory above it, on the same file system, owned by us, of
    a plain repository with no enclosing one (which could make it a
    submodule).  None: ask git."""
    if _changes_git(env):
        return None
    try:
        current = os.path.realpath(directory)
        device = os.stat(current).st_dev
        found = None
        while True:
            try:
                st = os.lstat(os.path.join(current, ".git"))
            except FileNotFoundError:
                pass
            else:
                if found is not None or not stat.S_ISDIR(st.st_mode):
                    return None     # nested repositories, linked work trees
                found = current
            if found is None and os.stat(current).st_dev != device:
                return None         # git stops at file system boundaries
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        if found is None:
            return TopLevel(None)
        uid = os.geteuid()
        if os.stat(found).st_uid != uid or os.stat(os.path.join(found, ".git")).st_uid != uid:
            return None             # git's safe.directory rules decide
        Layout.of(found, PackCache())
        return TopLevel(found)
    except (Unsure, OSError, ValueError):
        return None


def _changes_git(env: Mapping[str, str]) -> bool:
    """Whether ``env`` sets a GIT_* variable that changes what git reads
    (another git dir, index, object directory, config...)."""
    return any(name.startswith("GIT_") and not name.startswith(HARMLESS_ENV_PREFIXES)
               for name in env)


def _answer(layout_of: Callable[[], Layout], args: list[str]) -> Answer | None:
    """The answer to the git command ``args``; the files are looked at
    (``layout_of()``) only for a command answered here: every other git
    command the backend runs pays nothing."""
    if args[:2] == ["cat-file", "-t"] and len(args) == 3:
        layout = layout_of()
        return Answer(layout.object_type(layout.resolve(args[2])) + "\n")
    if args and args[0] == "rev-parse":
        name = _rev_parse_argument(args[1:])
        if name is None:
            return None
        layout = layout_of()
        peel = name.endswith("^{commit}")
        oid = layout.resolve(name.removesuffix("^{commit}"))
        oid = layout.peel_to_commit(oid) if peel else layout.existing(oid)
        return Answer(oid + "\n")
    if args == ["status", "--porcelain", "--untracked-files=no"]:
        layout_of().check_clean()
        return Answer("")
    if args[:2] == ["merge-base", "--is-ancestor"] and len(args) == 4:
        layout = layout_of()
        ancestor = layout.peel_to_commit(layout.resolve(args[2]))
        tip = layout.peel_to_commit(layout.resolve(args[3]))
        if ancestor != tip:
            # Walking the history is git's job (shallow and grafted
            # histories, commit graphs).
            raise Unsure
        return Answer("")
    return None


def _rev_parse_argument(args: list[str]) -> str | None:
    """The revision of ``rev-parse [--verify] [-q] [--end-of-options] REV``."""
    options = {"--verify", "-q", "--end-of-options"}
    if len(args) < 1 or not set(args[:-1]) <= options or args[-1].startswith("-"):
        return None
    return args[-1]


class Layout:
    """Where the files of one checkout are, checked to be the plain,
    unextended kind whose meaning is known."""

    def __init__(self, worktree: str, git_dir: str, common_dir: str,
                 packs: PackCache) -> None:
        self.worktree = worktree
        self.packs = packs
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.objects = os.path.join(common_dir, "objects")

    @classmethod
    def of(cls, worktree: str, packs: PackCache) -> Layout:
        dot_git = os.path.join(worktree, ".git")
        st = os.lstat(dot_git)
        if stat.S_ISDIR(st.st_mode):
            git_dir = dot_git
        elif stat.S_ISREG(st.st_mode):
            # A linked work tree (git worktree add) or a separate git dir.
            text = _read_text(dot_git)
            if not text.startswith("gitdir: "):
                raise Unsure
            git_dir = os.path.join(worktree, text[len("gitdir: "):].strip())
        else:
            raise Unsure
        common_dir = git_dir
        if os.path.exists(os.path.join(git_dir, "commondir")):
            common_dir = os.path.join(git_dir, _read_text(
                os.path.join(git_dir, "commondir")).strip())
        layout = cls(worktree, git_dir, common_dir, packs)
        layout._check()
        return layout

    def _check(self) -> None:
        for name in PENDING:
            if os.path.lexists(os.path.join(self.git_dir, name)):
                raise Unsure
        if os.path.lexists(os.path.join(self.common_dir, "reftable")):
            raise Unsure
        _check_config(_read_text(os.path.join(self.common_dir, "config")))
        if os.path.lexists(os.path.join(self.common_dir, "refs", "replace")) or any(
                name.startswith("refs/replace/") for name in self._packed_refs):
            raise Unsure            # objects replaced by others (git replace)

    # -- refs ------------------------------------------------------------

    def head_symref(self) -> str | None:
        """The branch HEAD is on, None if HEAD is detached."""
        text = _read_text(os.path.join(self.git_dir, "HEAD"))
        if text.startswith("ref: "):
            target = text[len("ref: "):].strip()
            if not target.startswith("refs/heads/"):
                raise Unsure
            return target
        if not HEX40.match(text.strip()):
            raise Unsure
        return None

    def resolve(self, name: str) -> str:
        """The object id ``name`` (a full id, HEAD or a full ref name below
        refs/heads, refs/tags or refs/remotes) stands for."""
        if HEX40.match(name):
            return name
        if name == "HEAD":
            target = self.head_symref()
            return _read_text(os.path.join(self.git_dir, "HEAD")).strip() \
                if target is None else self.resolve(target)
        if not name.startswith(REF_NAMES) or "/." in name or ".." in name \
                or name.endswith(("/", ".lock")):
            raise Unsure
        for _ in range(5):
            loose = os.path.join(self.common_dir, name)
            if os.path.isfile(loose):
                text = _read_text(loose).strip()
                if HEX40.match(text):
                    return text
                if text.startswith("ref: refs/"):
                    name = text[len("ref: "):]
                    continue
                raise Unsure
            packed = self._packed_refs.get(name)
            if packed is None:
                raise Unsure        # unknown here: git says what it is
            return packed
        raise Unsure

    @cached_property
    def _packed_refs(self) -> dict[str, str]:
        path = os.path.join(self.common_dir, "packed-refs")
        try:
            text = _read_text(path)
        except FileNotFoundError:
            return {}
        refs = {}
        for line in text.splitlines():
            if not line or line[0] in "#^":
                continue
            oid, _, name = line.partition(" ")
            if not HEX40.match(oid) or not name:
                raise Unsure
            refs[name] = oid
        return refs

    # -- objects ---------------------------------------------------------

    def object_type(self, oid: str) -> str:
        return self.read(oid, header_only=True)[0]

    def existing(self, oid: str) -> str:
        self.object_type(oid)
        return oid

    def peel_to_commit(self, oid: str) -> str:
        """The commit ``oid`` is or that a chain of tags points to."""
        for _ in range(10):
            kind, body = self.read(oid)
            if kind == "commit":
                return oid
            if kind != "tag" or not body.startswith(b"object "):
                raise Unsure
            oid = body[len(b"object "):len(b"object ") + 40].decode()
        raise Unsure

    def commit_tree(self, oid: str) -> str:
        kind, body = self.read(oid)
        if kind != "commit" or not body.startswith(b"tree "):
            raise Unsure
        return body[len(b"tree "):len(b"tree ") + 40].decode()

    def read(self, oid: str, header_only: bool = False) -> tuple[str, bytes]:
        """(type, content) of object ``oid``; with ``header_only`` the
        content may be empty."""
        if not HEX40.match(oid):
            raise Unsure
        for objects in self._object_dirs():
            found = _read_loose(objects, oid, header_only)
            if found is not None:
                return found
            for pack in self.packs.of(objects):
                found = pack.read(bytes.fromhex(oid), header_only)
                if found is not None:
                    return found
        raise Unsure                # missing here: maybe a promisor's, git knows

    def _object_dirs(self) -> list[str]:
        """objects/ and its alternates (recursively)."""
        dirs: list[str] = []
        todo = [self.objects]
        while todo:
            directory = todo.pop(0)
            if directory in dirs or len(dirs) > 5:
                continue
            dirs.append(directory)
            try:
                text = _read_text(os.path.join(directory, "info", "alternates"))
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith('"'):
                    raise Unsure    # quoted path
                todo.append(os.path.normpath(os.path.join(directory, line)))
        return dirs

    # -- the work tree -----------------------------------------------------

    def check_clean(self) -> None:
        """Return if ``git status --porcelain --untracked-files=no`` prints
        nothing for certain: the index is HEAD's tree and every tracked
        file is as the index records it; else raise :class:`Unsure`."""
        head_tree = self.commit_tree(self.resolve("HEAD"))
        index = os.path.join(self.git_dir, "index")
        with open(index, "rb") as f:
            index_stat = os.fstat(f.fileno())
            data = f.read()
        if len(data) < 12 or struct.unpack_from(">I", data, 8)[0] > MAX_STATUS_ENTRIES:
            raise Unsure
        entries, root_tree = _parse_index(data)
        # The cache tree is git's own record that the index holds this
        # tree; git keeps it up to date or drops it.
        if root_tree != (len(entries), head_tree):
            raise Unsure
        checked_dirs: set[str] = set()
        for entry in entries:
            _check_entry(self.worktree, entry, index_stat.st_mtime_ns, checked_dirs)


# -- config --------------------------------------------------------------

SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"(?:[^"\\]|\\.)*")?\s*\]')


def _check_config(text: str) -> None:
    """Refuse a repository whose config changes what the files mean."""
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = SECTION.match(line)
            if match is None or match.end() != len(line):
                raise Unsure
            section = match.group(1).lower()
            if section in ("include", "includeif"):
                raise Unsure
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if section == "extensions" and key not in HARMLESS_EXTENSIONS:
            raise Unsure
        if section == "core" and (
                key == "worktree"
                or (key == "bare" and value not in ("false", "no", "off", "0"))
                or (key == "repositoryformatversion" and value not in ("0", "1"))):
            raise Unsure


# -- objects -------------------------------------------------------------

def _read_loose(objects: str, oid: str, header_only: bool) -> tuple[str, bytes] | None:
    try:
        with open(os.path.join(objects, oid[:2], oid[2:]), "rb") as f:
            raw = f.read(MAX_OBJECT)
    except FileNotFoundError:
        return None
    inflater = zlib.decompressobj()
    data = inflater.decompress(raw, 64 if header_only else MAX_OBJECT + 64)
    header, sep, body = data.partition(b"\0")
    if not sep:
        raise Unsure
    kind, _, size = header.decode().partition(" ")
    if kind not in OBJECT_TYPES.values():
        raise Unsure
    if not header_only and len(body) != int(size):
        raise Unsure
    return kind, body


class PackCache:
    """The packs of each object directory, re-listed when the directory
    changes (a fetch adds packs; a pack itself never changes)."""

    def __init__(self) -> None:
        self._dirs: dict[str, tuple[tuple[int, int], list[Pack]]] = {}

    def of(self, objects: str) -> list[Pack]:
        directory = os.path.join(objects, "pack")
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            return []
        key = (st.st_mtime_ns, st.st_ino)
        cached = self._dirs.get(directory)
        if cached is not None and cached[0] == key:
            return cached[1]
        old = {p.idx_path: p for p in cached[1]} if cached else {}
        packs = [old.get(path) or Pack(path)
                 for path in (os.path.join(directory, name)
                              for name in sorted(os.listdir(directory)))
                 if path.endswith(".idx")]
        self._dirs[directory] = (key, packs)
        return packs


class Pack:
    """One pack file with its version 2 index, read through mmap."""

    def __init__(self, idx_path: str) -> None:
        self.idx_path = idx_path
        self.pack_path = idx_path[:-len(".idx")] + ".pack"
        self._idx: mmap.mmap | None = None
        self._pack: mmap.mmap | None = None

    def _maps(self) -> tuple[mmap.mmap, mmap.mmap]:
        if self._idx is None or self._pack is None:
            with open(self.idx_path, "rb") as f:
                self._idx = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            with open(self.pack_path, "rb") as f:
                self._pack = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if self._idx[:8] != b"\377tOc\0\0\0\2" or self._pack[:4] != b"PACK":
                raise Unsure
        return self._idx, self._pack

    def offset_of(self, oid: bytes) -> int | None:
        idx, _ = self._maps()
        first = oid[0]
        lo = struct.unpack_from(">I", idx, 8 + 4 * (first - 1))[0] if first else 0
        hi = struct.unpack_from(">I", idx, 8 + 4 * first)[0]
        total = struct.unpack_from(">I", idx, 8 + 4 * 255)[0]
        names = 8 + 256 * 4
        while lo < hi:
            mid = (lo + hi) // 2
            name = idx[names + 20 * mid:names + 20 * mid + 20]
            if name == oid:
                offsets = names + 24 * total        # after the names and CRCs
                offset = struct.unpack_from(">I", idx, offsets + 4 * mid)[0]
                if offset & 0x80000000:
                    large = offsets + 4 * total + 8 * (offset & 0x7FFFFFFF)
                    offset = struct.unpack_from(">Q", idx, large)[0]
                return int(offset)
            if name < oid:
                lo = mid + 1
            else:
                hi = mid
        return None

    def read(self, oid: bytes, header_only: bool) -> tuple[str, bytes] | None:
        offset = self.offset_of(oid)
        if offset is None:
            return None
        return self._read_at(offset, header_only, 0)

    def _read_at(self, offset: int, header_only: bool, depth: int) -> tuple[str, bytes]:
        if depth > MAX_DELTA_CHAIN:
            raise Unsure
        _, pack = self._maps()
        kind, size, pos = _pack_entry_header(pack, offset)
        if kind in OBJECT_TYPES:
            if header_only:
                return OBJECT_TYPES[kind], b""
            return OBJECT_TYPES[kind], _inflate(pack, pos, size)
        if kind == OFS_DELTA:
            # The distance back to the base uses the index's offset varint.
            distance, pos = _varint(pack, pos)
            base_kind, base = self._read_at(offset - distance, header_only, depth + 1)
        elif kind == REF_DELTA:
            base_offset = self.offset_of(bytes(pack[pos:pos + 20]))
            if base_offset is None:
                raise Unsure        # thin pack base elsewhere: git knows
            pos += 20
            base_kind, base = self._read_at(base_offset, header_only, depth + 1)
        else:
            raise Unsure
        if header_only:
            return base_kind, b""
        return base_kind, _apply_delta(base, _inflate(pack, pos, size))


def _pack_entry_header(pack: mmap.mmap, offset: int) -> tuple[int, int, int]:
    byte = pack[offset]
    kind, size, shift, pos = (byte >> 4) & 7, byte & 0x0F, 4, offset + 1
    while byte & 0x80:
        byte = pack[pos]
        pos += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    return kind, size, pos


def _inflate(pack: mmap.mmap, pos: int, size: int) -> bytes:
    if size > MAX_OBJECT:
        raise Unsure
    inflater = zlib.decompressobj()
    out = b""
    while len(out) < size and not inflater.eof:
        chunk = pack[pos:pos + 65536]
        if not chunk:
            raise Unsure
        pos += len(chunk)
        out += inflater.decompress(chunk, size + 1 - len(out))
    if len(out) != size:
        raise Unsure
    return out


def _delta_size(delta: bytes, pos: int) -> tuple[int, int]:
    size = shift = 0
    while True:
        byte = delta[pos]
        pos += 1
        size |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return size, pos


def _apply_delta(base: bytes, delta: bytes) -> bytes:
    base_size, pos = _delta_size(delta, 0)
    result_size, pos = _delta_size(delta, pos)
    if base_size != len(base):
        raise Unsure
    out = bytearray()
    while pos < len(delta):
        op = delta[pos]
        pos += 1
        if op & 0x80:
            start = length = 0
            for bit in range(4):
                if op & (1 << bit):
                    start |= delta[pos] << (8 * bit)
                    pos += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    length |= delta[pos] << (8 * bit)
                    pos += 1
            length = length or 0x10000
            if start + length > len(base):
                raise Unsure
            out += base[start:start + length]
        elif op:
            out += delta[pos:pos + op]
            pos += op
        else:
            raise Unsure
    if len(out) != result_size:
        raise Unsure
    return bytes(out)


# -- the index -----------------------------------------------------------

@dataclass(frozen=True)
class IndexEntry:
    ctime: tuple[int, int]
    mtime: tuple[int, int]
    ino: int
    mode: int
    uid: int
    gid: int
    size: int
    path: str


ENTRY = struct.Struct(">10I20sH")
# Flags that make git look at an entry more closely than its stat data.
ASSUME_VALID, EXTENDED, STAGE = 0x8000, 0x4000, 0x3000
REGULAR, EXECUTABLE, SYMLINK = 0o100644, 0o100755, 0o120000


def _parse_index(data: bytes) -> tuple[list[IndexEntry], tuple[int, str] | None]:
    """The entries of a version 2-4 index and its cache tree's root
    (entry count, tree id) if valid."""
    if data[:4] != b"DIRC":
        raise Unsure
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        raise Unsure
    pos, entries, previous = 12, [], b""
    end = len(data) - 20            # the checksum
    for _ in range(count):
        (ctime_s, ctime_ns, mtime_s, mtime_ns, _dev, ino, mode, uid, gid, size, _oid,
         flags) = ENTRY.unpack_from(data, pos)
        pos += ENTRY.size
        if flags & (ASSUME_VALID | STAGE):
            raise Unsure
        if flags & EXTENDED:
            if version < 3 or struct.unpack_from(">H", data, pos)[0]:
                raise Unsure        # skip-worktree, intent-to-add
            pos += 2
        if version == 4:
            strip, pos = _varint(data, pos)
            name_end = data.index(b"\0", pos)
            name = previous[:len(previous) - strip] + data[pos:name_end]
            pos = name_end + 1
        else:
            start = pos
            name_end = data.index(b"\0", pos)
            name = data[pos:name_end]
            # Entries are padded with NULs to a multiple of 8 bytes.
            entry_start = start - ENTRY.size - (2 if flags & EXTENDED else 0)
            pos = entry_start + ((ENTRY.size + (2 if flags & EXTENDED else 0)
                                  + len(name) + 8) & ~7)
        previous = name
        if mode not in (REGULAR, EXECUTABLE, SYMLINK):
            raise Unsure            # submodules, sparse directories
        entries.append(IndexEntry((ctime_s, ctime_ns), (mtime_s, mtime_ns), ino, mode,
                                  uid, gid, size, os.fsdecode(name)))
    root = None
    while pos + 8 <= end:
        signature = data[pos:pos + 4]
        length = struct.unpack_from(">I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + length]
        pos += 8 + length
        if signature == b"TREE":
            root = _cache_tree_root(body)
        elif not b"A" <= signature[:1] <= b"Z":
            raise Unsure            # a required extension (split or sparse index)
    if pos != end:
        raise Unsure
    return entries, root


def _varint(data: bytes | mmap.mmap, pos: int) -> tuple[int, int]:
    byte = data[pos]
    pos += 1
    value = byte & 0x7F
    while byte & 0x80:
        byte = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, pos


def _cache_tree_root(body: bytes) -> tuple[int, str] | None:
    """(entry count, tree id) of the cache tree's root, None if invalid."""
    if body[:1] != b"\0":
        return None
    line_end = body.index(b"\n", 1)
    count, _subtrees = (int(x) for x in body[1:line_end].split(b" "))
    if count < 0:
        return None
    return count, body[line_end + 1:line_end + 21].hex()


def _check_entry(worktree: str, entry: IndexEntry, index_mtime_ns: int,
                 checked_dirs: set[str]) -> None:
    """Raise :class:`Unsure` unless ``entry`` is certainly unchanged in the
    work tree: every stat field git records matches, and the file was not
    written in the same instant as the index (git would then compare the
    contents: "racily clean")."""
    parent = os.path.dirname(entry.path)
    while parent and parent not in checked_dirs:
        # A directory replaced by a symlink would show the files beyond it.
        if not stat.S_ISDIR(os.lstat(os.path.join(worktree, parent)).st_mode):
            raise Unsure
        checked_dirs.add(parent)
        parent = os.path.dirname(parent)
    st = os.lstat(os.path.join(worktree, entry.path))
    if entry.mode == SYMLINK:
        if not stat.S_ISLNK(st.st_mode):
            raise Unsure
    elif not stat.S_ISREG(st.st_mode) or bool(st.st_mode & 0o111) != (entry.mode == EXECUTABLE):
        raise Unsure
    mtime = divmod(st.st_mtime_ns, 1_000_000_000)
    ctime = divmod(st.st_ctime_ns, 1_000_000_000)
    if ((mtime[0] & 0xFFFFFFFF, mtime[1]) != entry.mtime
            or (ctime[0] & 0xFFFFFFFF, ctime[1]) != entry.ctime
            or st.st_ino & 0xFFFFFFFF != entry.ino
            or st.st_uid & 0xFFFFFFFF != entry.uid
            or st.st_gid & 0xFFFFFFFF != entry.gid
            or st.st_size & 0xFFFFFFFF != entry.size):
        raise Unsure
    if st.st_mtime_ns >= index_mtime_ns:
        raise Unsure


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()
