"""Whether this host can do a rootless Isar build, checked before bitbake
starts (issue 25.1).

``build_system: isar-rootless`` makes Isar run its bootstrap, sbuild and
root file system steps in user namespaces that map the build user's
subordinate ids.  A host that lacks a piece of that fails minutes later in
a bitbake task log.  :func:`check_isar_host` runs once the configuration is
complete, before the repositories are fetched, and names every missing piece
with its fix in one message:

* ``unshare`` that takes Isar's ``--map-users inner:outer:count`` (util-linux
  2.39; Debian 12's 2.38.1 says "could not parse ID");
* ``mmdebstrap`` 1.4 or newer (1.3.5 leaves ``./dev`` out of the rootfs);
* the ``en_US.UTF-8`` locale (bitbake refuses to start without it);
* a range for the user in ``/etc/subuid`` and ``/etc/subgid`` (Isar reads
  these files itself, so ranges from other sources do not count);
* unprivileged user namespaces;
* ``newuidmap``/``newgidmap``, and that they really map the subordinate ids.

Each probe runs the real program where that is cheap and changes nothing
(``unshare`` parses Isar's mapping before ``--version`` exits; the locale
is set the way bitbake sets it; a namespace is entered with ``true``); a
probe that cannot tell never refuses.  ``KAS_ISAR_HOST_CHECK=0`` skips the
check for a host it misjudges.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kas.environment import switched_off
from kas.errors import CommandError, KasUserError, format_command
from kas.fsutil import find_program
from kas.userns import (
    lacking_ranges,
    mapping_failure,
    missing_idmap_tools,
    subid_fix,
    sysctl_fix,
    user_name,
    userns_switch,
)

if TYPE_CHECKING:
    from kas.context import Context

log = logging.getLogger(__name__)

SKIP_VARIABLE = "KAS_ISAR_HOST_CHECK"

# Isar's own form and numbers (base.bbclass: 1:<subuid base + 1>:<count - 2>);
# unshare parses the option before --version exits, so nothing is unshared.
MAP_USERS_PROBE = "--map-users=1:100001:65534"
MMDEBSTRAP_MINIMUM = (1, 4)
# bitbake's own test (bb.utils): it exits when this fails.
LOCALE_PROBE = "import locale; locale.setlocale(locale.LC_CTYPE, ('en_US', 'UTF-8'))"
MAPPING_PROBE = ("--user", "--map-auto", "--map-root-user", "true")
NEWER_HOSTS = "Debian 13 and Ubuntu 24.04 have it"
CONTAINER_WAY = "or build in kas-container --isar-rootless"


@dataclass(frozen=True)
class Missing:
    """A piece of the host that a rootless Isar build needs: what was
    found, and how to fix it."""

    found: str
    fix: str


class IsarHostError(KasUserError):
    """The host cannot do a rootless Isar build (exit 2, before bitbake)."""

    def __init__(self, missing: Sequence[Missing]):
        super().__init__(report(missing, f"Set {SKIP_VARIABLE}=0 to build anyway if this "
                                         "check misjudges the host."))
        self.missing = list(missing)


def report(missing: Sequence[Missing], last_line: str) -> str:
    lines = [f"  - {m.found}. Fix: {m.fix}" for m in missing]
    title = "This host cannot do a rootless Isar build (build_system: isar-rootless):"
    return "\n".join([title, *lines, last_line])


def check_requested(environ: Mapping[str, str]) -> bool:
    """False when KAS_ISAR_HOST_CHECK turns the check off."""
    return not switched_off(environ, SKIP_VARIABLE)


def check_isar_host(ctx: Context, refuse: bool = True) -> None:
    """For ``build_system: isar-rootless``: raise :class:`IsarHostError`
    (``refuse``) or log one warning naming every missing piece."""
    if ctx.config is None or ctx.config.build_system() != "isar-rootless":
        return
    if not check_requested(ctx.caller_env):
        log.debug("Isar host check skipped (%s)", SKIP_VARIABLE)
        return
    missing = HostProbe(ctx).missing()
    if not missing:
        return
    if refuse:
        raise IsarHostError(missing)
    log.warning("%s", report(missing, "bitbake will fail in this shell until they are fixed "
                                      f"({SKIP_VARIABLE}=0 skips this check)."))


class HostProbe:
    """The probes, in the environment kas gives its children (the
    caller's PATH: where bitbake will find the same programs)."""

    def __init__(self, ctx: Context, uid: int | None = None):
        self.ctx = ctx
        self.env = ctx.vcs_env()
        self.uid = os.getuid() if uid is None else uid

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess | None:
        try:
            return self.ctx.runner.run(list(argv), env=self.env, check=False)
        except CommandError as err:     # could not be started
            log.debug("%s", err.message)
            return None

    def missing(self) -> list[Missing]:
        unshare = find_program("unshare", self.env)
        found = [*self.unshare_maps_like_isar(unshare), *self.mmdebstrap(), *self.locale()]
        subids = self.subordinate_ids()
        userns = self.user_namespaces(unshare)
        idmap = self.idmap_tools()
        found += [*subids, *userns, *idmap]
        if unshare and not (subids or userns or idmap):
            found += self.mapping(unshare)
        return found

    def install_fix(self, package: str, rpm_package: str | None = None) -> str:
        """The install command for this host's package manager (as
        `kas-container doctor` words it)."""
        if find_program("apt-get", self.env):
            return f"sudo apt-get install {package}"
        for manager in ("dnf", "zypper"):
            if find_program(manager, self.env):
                return f"sudo {manager} install {rpm_package or package}"
        return f"install {package} with your package manager"

    def unshare_maps_like_isar(self, unshare: str | None) -> list[Missing]:
        if unshare is None:
            return [Missing("unshare (util-linux) is not installed",
                            f"{self.install_fix('util-linux')} (2.39 or newer)")]
        result = self.run([unshare, MAP_USERS_PROBE, "--version"])
        if result is None or result.returncode == 0:
            return []
        stderr = result.stderr.strip()
        if "could not parse" not in stderr and "unrecognized option" not in stderr:
            log.debug("Cannot tell whether %s takes --map-users inner:outer:count: %s",
                      unshare, stderr)
            return []
        version = self.run([unshare, "--version"])
        name = (version.stdout.strip().splitlines() or [unshare])[0] if version else unshare
        return [Missing(
            f"{name} cannot map ids the way Isar does (unshare --map-users "
            f"inner:outer:count needs util-linux 2.39 or newer; {unshare} says: "
            f"{stderr.splitlines()[0]})",
            f"install util-linux 2.39 or newer ({NEWER_HOSTS}), {CONTAINER_WAY}")]

    def mmdebstrap(self) -> list[Missing]:
        program = find_program("mmdebstrap", self.env)
        minimum = ".".join(map(str, MMDEBSTRAP_MINIMUM))
        if program is None:
            return [Missing("mmdebstrap is not installed",
                            f"{self.install_fix('mmdebstrap')} ({minimum} or newer; "
                            f"{NEWER_HOSTS}), {CONTAINER_WAY}")]
        result = self.run([program, "--version"])
        version = parse_version(result.stdout if result else "")
        if version is None:
            log.debug("Cannot tell the version of %s", program)
            return []
        if version >= MMDEBSTRAP_MINIMUM:
            return []
        return [Missing(
            f"{program} is version {'.'.join(map(str, version))}, Isar's rootless mode "
            f"needs {minimum} or newer (older ones leave ./dev out of the root file system)",
            f"install mmdebstrap {minimum} or newer ({NEWER_HOSTS}), {CONTAINER_WAY}")]

    def locale(self) -> list[Missing]:
        python = find_program("python3", self.env) or sys.executable
        result = self.run([python, "-c", LOCALE_PROBE])
        if result is None or result.returncode == 0:
            return []
        if "locale.Error" not in result.stderr:
            log.debug("Cannot tell whether the en_US.UTF-8 locale exists: %s", result.stderr)
            return []
        if find_program("apt-get", self.env):
            fix = ("sudo apt-get install locales && echo 'en_US.UTF-8 UTF-8' | "
                   "sudo tee -a /etc/locale.gen && sudo locale-gen")
        elif find_program("dnf", self.env):
            fix = "sudo dnf install glibc-langpack-en"
        else:
            fix = "generate it, e.g.: sudo localedef -i en_US -f UTF-8 en_US.UTF-8"
        return [Missing("the en_US.UTF-8 locale is not available (bitbake refuses to start "
                        "without it)", fix)]

    def subordinate_ids(self) -> list[Missing]:
        # Any range: Isar maps as many ids as the range has (inside
        # kas-container, builder's range is a little smaller than 65536).
        lacking = lacking_ranges(self.uid)
        if not lacking:
            return []
        who = user_name(self.uid) or f"uid {self.uid}"
        kinds = " and ".join(kind for _, kind in lacking)
        tables = " and ".join(table for table, _ in lacking)
        return [Missing(f"{who} has no subordinate {kinds} range in {tables} (Isar maps "
                        "the ids of the root file system onto them)",
                        subid_fix(self.uid))]

    def user_namespaces(self, unshare: str | None) -> list[Missing]:
        switch = userns_switch()
        if switch:
            name, forbids, allows = switch
            return [Missing(f"unprivileged user namespaces are disabled ({name} is "
                            f"{forbids})", sysctl_fix(name, allows))]
        if unshare is None:
            return []
        argv = [unshare, "--user", "true"]
        result = self.run(argv)
        if result is None or result.returncode == 0:
            return []
        return [Missing(
            f"cannot create a user namespace: {format_command(argv)} failed: "
            f"{result.stderr.strip() or 'no message'}",
            "allow unprivileged user namespaces (sysctl user.max_user_namespaces, "
            "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns; "
            "in a container: a seccomp profile that allows unshare)")]

    def idmap_tools(self) -> list[Missing]:
        missing = missing_idmap_tools(self.env)
        if not missing:
            return []
        return [Missing(f"{' and '.join(missing)} not installed (unshare needs "
                        f"{'them' if len(missing) > 1 else 'it'} to map your subordinate "
                        "ids)", self.install_fix("uidmap", "shadow-utils"))]

    def mapping(self, unshare: str) -> list[Missing]:
        """Enter a namespace that maps the subordinate ids, as Isar will:
        catches a newuidmap that is installed but cannot work."""
        argv = [unshare, *MAPPING_PROBE]
        result = self.run(argv)
        if result is None or result.returncode == 0:
            return []
        if "unrecognized option" in result.stderr:     # before util-linux 2.38
            log.debug("Cannot probe the id mapping: %s", result.stderr.strip())
            return []
        what, fix = mapping_failure(argv, result.stderr, self.env)
        return [Missing(f"mapping your subordinate ids into a user namespace failed: {what}",
                        fix or "check /etc/subuid, /etc/subgid and newuidmap/newgidmap")]


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first ``X.Y[.Z]`` of ``text`` as numbers, or None."""
    match = re.search(r"\b(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)
