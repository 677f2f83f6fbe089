"""The managed environment (ENV-100, ENV-101): the small, explicit set of
variables kas gives to git, hg and later to bitbake, instead of the
caller's whole environment (ENV-001)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

_UTF8_LOCALE = {"LC_ALL": "en_US.UTF-8", "LANG": "en_US.UTF-8", "LANGUAGE": "en_US:en"}
_UTF8_LOCALE_LOWER = {"LC_ALL": "en_US.utf8", "LANG": "en_US.utf8", "LANGUAGE": "en_US"}

# Distro family (os-release ID or ID_LIKE entry) -> default locale.
LOCALES = {
    "fedora": _UTF8_LOCALE_LOWER,
    "suse": _UTF8_LOCALE_LOWER,
    "opensuse": _UTF8_LOCALE_LOWER,
    "debian": _UTF8_LOCALE,
    "ubuntu": _UTF8_LOCALE,
    "gentoo": _UTF8_LOCALE,
    "arch": _UTF8_LOCALE,
}

# Copied from the caller when non-empty (ENV-100 item 2).
PASSED_IF_SET = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "SSH_AUTH_SOCK",
                 "BB_NUMBER_THREADS", "PARALLEL_MAKE")


# The managed CI environments, recognised by their variable being "true",
# checked in this order (ENV-060 ... ENV-062).
MANAGED_ENVIRONMENTS = (
    ("GITHUB_ACTIONS", "GitHub Actions"),
    ("GITLAB_CI", "GitLab CI"),
    ("REMOTE_CONTAINERS", "VSCode Remote Containers"),
)


# The values that turn a KAS_* switch off (in any case, blanks around them
# ignored).
OFF_WORDS = ("0", "false", "no", "off")


def switched_off(environ: Mapping[str, str], name: str) -> bool:
    """Whether ``name`` is set to turn something off (a switch that is on
    by default)."""
    return environ.get(name, "").strip().lower() in OFF_WORDS


def switched_on(environ: Mapping[str, str], name: str) -> bool:
    """Whether ``name`` is set, to anything but an off value (a switch that
    is off by default)."""
    value = environ.get(name, "").strip()
    return bool(value) and value.lower() not in OFF_WORDS


def managed_ci(environ: Mapping[str, str]) -> str | None:
    """The name of the managed CI environment kas runs in, or None."""
    for variable, name in MANAGED_ENVIRONMENTS:
        if environ.get(variable) == "true":
            return name
    return None


def distro_ids() -> list[str]:
    """The host's os-release ID_LIKE entries, else its ID, lower-cased."""
    import distro

    ids = distro.like().split() or [distro.id()]
    return [i.lower() for i in ids if i]


def default_locale() -> dict[str, str]:
    ids = distro_ids()
    for family in ids:
        if family in LOCALES:
            return dict(LOCALES[family])
    log.warning("kas: No supported distros found in %s. No default locales set.", ids)
    return {}


def managed_environment(environ: Mapping[str, str], no_color: bool) -> dict[str, str]:
    """The initial managed environment of a kas run (ENV-100)."""
    env = default_locale()
    for name in PASSED_IF_SET:
        if environ.get(name):
            env[name] = environ[name]
    if no_color:
        env["NO_COLOR"] = "1"
    if environ.get("REMOTE_CONTAINERS") == "true":
        env.update({k: v for k, v in environ.items() if k.startswith("REMOTE_CONTAINERS_")})
    return env


def vcs_environment(managed: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for git/hg before ``setup_environ``: the managed one
    plus the caller's PATH, so helpers such as ssh are found where the
    caller would find them."""
    env = dict(managed)
    env["PATH"] = environ.get("PATH", os.defpath)
    return env
