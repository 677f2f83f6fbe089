"""User namespaces with the caller's subordinate ids: what a rootless Isar
build and the cleaning of one both need (the host check of
:mod:`kas.buildenv.isarhost`, the removal of :mod:`kas.clean.removal`).

Facts about the host, read from ``/etc/subuid``, ``/etc/subgid`` and
``/proc/sys``, and the explanation of a failed ``unshare`` that maps the
subordinate ids, so both users say the same thing about the same problem.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kas.errors import KasUserError, format_command
from kas.fsutil import find_program

SUBID_TABLES = ("/etc/subuid", "/etc/subgid")

# The size of the range the fixes ask for: what useradd gives a new user
# and what Isar maps (it needs the ids of a whole Debian root file system).
SUBID_RANGE_SIZE = 65536
# Where useradd starts handing out subordinate ids.
SUBID_FIRST = 100000


@dataclass(frozen=True)
class SubidRange:
    """One line of /etc/subuid or /etc/subgid."""

    owner: str
    start: int
    count: int

    def __contains__(self, value: int) -> bool:
        return self.start <= value < self.start + self.count


def user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def read_ranges(table: str) -> list[SubidRange]:
    """Every well-formed line of ``table`` (missing file: none)."""
    try:
        with open(table, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        # Normally world-readable; an unreadable one cannot be judged.
        raise KasUserError(f"Cannot read {table}: {e.strerror}") from e
    ranges = []
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            ranges.append(SubidRange(fields[0], int(fields[1]), int(fields[2])))
    return ranges


def ranges_of(uid: int, table: str) -> list[SubidRange]:
    """The ranges of the user ``uid`` in ``table``; a line may name the
    user or its uid (newuidmap accepts both)."""
    owners = {str(uid)}
    name = user_name(uid)
    if name:
        owners.add(name)
    return [r for r in read_ranges(table) if r.owner in owners]


def lacking_ranges(uid: int, size: int = 1,
                   tables: Sequence[str] = SUBID_TABLES) -> list[tuple[str, str]]:
    """``(table, "uid" or "gid")`` for each of ``tables`` in which the user
    ``uid`` has no range of at least ``size`` ids."""
    return [(table, kind) for table, kind in zip(tables, ("uid", "gid"))
            if not any(r.count >= size for r in ranges_of(uid, table))]


def free_range(tables: Sequence[str] = SUBID_TABLES) -> str:
    """``FIRST-LAST``: a range of SUBID_RANGE_SIZE ids above every range of
    ``tables`` (the range `kas-container doctor` proposes too)."""
    top = max([r.start + r.count for t in tables for r in read_ranges(t)] + [SUBID_FIRST])
    return f"{top}-{top + SUBID_RANGE_SIZE - 1}"


def subid_fix(uid: int, tables: Sequence[str] = SUBID_TABLES) -> str:
    """The command that gives the user ``uid`` subordinate uids and gids."""
    id_range = free_range(tables)
    return (f"sudo usermod --add-subuids {id_range} --add-subgids {id_range} "
            f"{user_name(uid) or uid}")


# Kernel switches that forbid unprivileged user namespaces: (sysctl, the
# value that forbids them, the value that allows them).
USERNS_SWITCHES = (("user.max_user_namespaces", "0", "63000"),
                   ("kernel.unprivileged_userns_clone", "0", "1"),
                   ("kernel.apparmor_restrict_unprivileged_userns", "1", "0"))


def userns_switch(proc_sys: str = "/proc/sys") -> tuple[str, str, str] | None:
    """The entry of USERNS_SWITCHES that forbids user namespaces on this
    host, or None."""
    for name, forbids, allows in USERNS_SWITCHES:
        try:
            with open(os.path.join(proc_sys, *name.split(".")), encoding="utf-8") as f:
                value = f.read().strip()
        except OSError:
            continue
        if value == forbids:
            return name, forbids, allows
    return None


def sysctl_fix(name: str, allows: str) -> str:
    """The commands that set ``name`` to ``allows`` now and for every boot
    (as `kas-container doctor` names them)."""
    return (f"sudo sysctl -w {name}={allows} "
            f"&& echo '{name} = {allows}' | sudo tee /etc/sysctl.d/90-kas-{name}.conf")


def userns_blocker(proc_sys: str = "/proc/sys") -> str | None:
    """The switch that forbids user namespaces here and its fix, or None."""
    switch = userns_switch(proc_sys)
    if switch is None:
        return None
    name, forbids, allows = switch
    return f"{name} is {forbids} on this host. Fix: {sysctl_fix(name, allows)}"


IDMAP_TOOLS = ("newuidmap", "newgidmap")


def missing_idmap_tools(environ: Mapping[str, str]) -> list[str]:
    """Which of newuidmap and newgidmap are not on the PATH of ``environ``."""
    return [name for name in IDMAP_TOOLS if find_program(name, environ) is None]


def mapping_failure(argv: Sequence[str], stderr: str,
                    environ: Mapping[str, str]) -> tuple[str, str]:
    """(what failed, the fix) for ``argv``, an unshare that maps the
    subordinate ids, failing with ``stderr``.  The uidmap package is the
    fix only when newuidmap or newgidmap is really missing; when they are
    installed but fail (no setuid bit, a tracer, a nosuid mount), their own
    words and the command say what failed (issue 25.3).  The fix is empty
    when the failure names neither."""
    stderr = stderr.strip()
    command = f'Command "{format_command(argv)}" failed: {stderr or "no message"}'
    if "newuidmap" not in stderr and "newgidmap" not in stderr:
        return command, ""
    missing = missing_idmap_tools(environ)
    if missing:
        return (f"{' and '.join(missing)} not found on PATH: {command}",
                "install the uidmap package")
    paths = " and ".join(str(find_program(name, environ)) for name in IDMAP_TOOLS)
    fix = (f"{paths} are installed but could not map your subordinate ids: they must be "
           "setuid root (or have the cap_setuid/cap_setgid file capabilities) on a file "
           "system mounted without nosuid, and they do not work under a tracer such as "
           "strace")
    return command, fix
