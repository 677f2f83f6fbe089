"""Yocto buildtools (config-format.md CF-900, CF-901; environment.md ENV-013,
ENV-105; generated-files.md GEN-041 item 2).

:func:`prepare_buildtools` makes the configured buildtools installation
available in ``KAS_BUILDTOOLS_DIR`` (default ``<KAS_BUILD_DIR>/buildtools``)
and returns its ``environment-setup-*`` file, which the init script wrapper
sources first.

An installation is used as it is when its ``version-*`` file reports the
configured ``Distro Version``.  Otherwise the installer is downloaded (to a
temporary file next to the installation directory), checked against
``sha256sum`` and run with ``-d <dir> -y``.  The installer relocates the
SDK to the directory it is given, so it has to run in the final directory;
a marker file there says "installation in progress" until it succeeded.
A failed or interrupted installation is removed, and one that was cut short
harder (killed, power loss) still carries the marker, so the next run
removes it and installs again instead of using it.
"""

import contextlib
import glob
import logging
import os
import platform
import shutil
import tempfile
import urllib.parse

# hashlib, netrc and urllib.request (with ssl) are imported where a
# download needs them: every build and shell loads this module, and they
# would cost more memory than the rest of a no-op run (issue 27).
from kas.buildenv.initscript import MINIMAL_PATH
from kas.errors import CommandError, KasUserError

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://downloads.yoctoproject.org/releases/yocto"
MARKER = ".kas-buildtools-incomplete"
DOWNLOAD_TIMEOUT = 60  # seconds without progress before a download fails
CHUNK = 1 << 20


def prepare_buildtools(ctx):
    """Path of the ``environment-setup-*`` file of the configured buildtools,
    installed first if needed; None when the config has no ``buildtools``."""
    conf = ctx.config.data.get("buildtools")
    if conf is None:
        return None
    version = conf["version"]
    install_dir = buildtools_dir(ctx)
    file_name = installer_name(conf)
    if _needs_install(install_dir, version):
        _refuse_offline(ctx, version, install_dir)
        _install(ctx, conf, install_dir, download_url(conf, file_name))
    else:
        log.debug("Buildtools %s found in %s", version, install_dir)
    return environment_setup(install_dir)


def _refuse_offline(ctx, version, install_dir):
    """Issue 19.2: KAS_OFFLINE forbids the download."""
    from kas.vcs.urls import offline_requested

    if offline_requested(ctx.caller_env):
        raise KasUserError(f"KAS_OFFLINE is set, but buildtools {version} are not installed "
                           f"in {install_dir} and cannot be downloaded offline")


def buildtools_dir(ctx):
    """KAS_BUILDTOOLS_DIR (relative to the current directory) or the default."""
    value = ctx.caller_env.get("KAS_BUILDTOOLS_DIR")
    return os.path.abspath(value or os.path.join(ctx.build_dir, "buildtools"))


def installer_name(conf):
    return conf.get("filename") or (
        f"{platform.machine()}-buildtools-extended-nativesdk-standalone-"
        f"{conf['version']}.sh")


def download_url(conf, file_name):
    quoted = urllib.parse.quote(file_name)
    base_url = conf.get("base_url")
    if base_url:
        return f"{base_url}/{quoted}"
    # The double slash is what the reference produces (CF-901).
    return f"{DEFAULT_BASE}/yocto-{conf['version']}/buildtools//{quoted}"


def safe_url(url):
    """``url`` without user name and password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


# --- the installation ---------------------------------------------------------

def installed_version(install_dir):
    """The ``Distro Version`` of the installation's ``version-*`` file(s),
    None if there is none or it does not say."""
    for path in sorted(glob.glob(os.path.join(glob.escape(install_dir), "version-*"))):
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    key, sep, value = line.partition(":")
                    if sep and key.strip() == "Distro Version":
                        return value.strip()
        except OSError as err:
            log.debug("Cannot read %s: %s", path, err)
    return None


def _needs_install(install_dir, version):
    """Whether to install; an unusable existing installation is reported."""
    if os.path.lexists(install_dir) and not os.path.isdir(install_dir):
        raise KasUserError(f"The buildtools directory {install_dir} exists but is not a "
                           "directory")
    if not os.path.isdir(install_dir) or not os.listdir(install_dir):
        return True
    if os.path.lexists(os.path.join(install_dir, MARKER)):
        log.warning("Buildtools: removing the incomplete installation in %s", install_dir)
        return True
    if not glob.glob(os.path.join(glob.escape(install_dir), "version-*")):
        # Not made by kas: never delete somebody else's files.
        raise KasUserError(f"The buildtools directory {install_dir} is not empty but holds "
                           "no buildtools installation (no version-* file). Remove it or "
                           "choose another KAS_BUILDTOOLS_DIR")
    found = installed_version(install_dir)
    if found != version:
        log.warning("Buildtools: version mismatch (installed: %s, configured: %s), "
                    "reinstalling", found or "unknown", version)
        return True
    return False


def _clear(install_dir):
    """Remove everything inside ``install_dir`` (which may be a mount point)."""
    for name in os.listdir(install_dir):
        path = os.path.join(install_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _install(ctx, conf, install_dir, url):
    parent = os.path.dirname(install_dir)
    os.makedirs(parent, exist_ok=True)
    installer = _download(ctx, url, parent)
    try:
        _verify(installer, conf["sha256sum"])
        created = not os.path.isdir(install_dir)
        if created:
            os.mkdir(install_dir)
        else:
            _clear(install_dir)
        try:
            with open(os.path.join(install_dir, MARKER), "w") as f:
                f.write("kas is installing buildtools here; incomplete if this file exists\n")
            log.info("Installing buildtools %s (%s) into %s", conf["version"],
                     os.path.basename(urllib.parse.urlsplit(url).path), install_dir)
            _run_installer(ctx, installer, install_dir)
            os.unlink(os.path.join(install_dir, MARKER))
        except BaseException:
            _remove_failed(install_dir, created)
            raise
    finally:
        _unlink(installer)
    found = installed_version(install_dir)
    if found != conf["version"]:
        log.warning("Buildtools: the installer installed version %s, not the configured "
                    "%s; it will be reinstalled on every run", found or "unknown",
                    conf["version"])


def _remove_failed(install_dir, created):
    try:
        if created:
            shutil.rmtree(install_dir)
        else:
            _clear(install_dir)
    except OSError as err:
        log.warning("Could not remove the failed buildtools installation in %s: %s",
                    install_dir, err)


def _unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _run_installer(ctx, installer, install_dir):
    argv = ["sh", installer, "-d", install_dir, "-y"]
    cwd = os.path.dirname(installer)
    result = ctx.runner.run(argv, cwd=cwd, env={"PATH": MINIMAL_PATH}, check=False)
    if result.returncode != 0:
        output = "\n".join(part.rstrip("\n") for part in (result.stdout, result.stderr)
                           if part and part.strip())
        raise CommandError(argv, result.returncode, stderr=output or "(no output)", cwd=cwd)
    log.debug("Buildtools installer output:\n%s", (result.stdout or "").rstrip("\n"))


def environment_setup(install_dir):
    found = sorted(glob.glob(os.path.join(glob.escape(install_dir), "environment-setup-*")))
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise KasUserError(f"The buildtools installation in {install_dir} has {what} "
                           "environment-setup-* file")
    return found[0]


# --- download -----------------------------------------------------------------

def _verify(path, expected):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected.strip().lower():
        raise KasUserError("sha256sum mismatch: installer may be corrupted "
                           f"(expected {expected.strip()}, got {actual})")


def _temp_file(directory):
    try:
        return tempfile.mkstemp(prefix=".kas-buildtools-", suffix=".sh", dir=directory)
    except PermissionError:
        # e.g. KAS_BUILDTOOLS_DIR=/buildtools in a container: / is read-only.
        return tempfile.mkstemp(prefix="kas-buildtools-", suffix=".sh")


def _download(ctx, url, directory):
    """Download ``url`` to a temporary file in ``directory``; returns its path."""
    import urllib.error

    shown = safe_url(url)
    log.info("Downloading buildtools installer from %s", shown)
    fd, path = _temp_file(directory)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with _opener(ctx, url).open(_request(url), timeout=DOWNLOAD_TIMEOUT) as response:
                    shutil.copyfileobj(response, out, CHUNK)
            except (urllib.error.URLError, OSError, ValueError) as err:
                raise KasUserError("Could not download buildtools installer from "
                                   f"{shown}: {_reason(err)}") from None
    except BaseException:
        _unlink(path)
        raise
    return path


def _reason(err):
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP error {err.code}: {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err)


def _request(url):
    """The request for ``url`` with the user information taken out."""
    import urllib.request

    return urllib.request.Request(safe_url(url), headers={"User-Agent": "kas"})


def _opener(ctx, url):
    """An opener that answers auth challenges with the URL's credentials or,
    like wget would, with those of the private HOME's .netrc (CLI-070)."""
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    handlers = []
    user, password = parts.username, parts.password
    if user is None and parts.scheme in ("http", "https"):
        user, password = _netrc_credentials(ctx, parts.hostname)
    if user is not None:
        manager = urllib.request.HTTPPasswordMgrWithPriorAuth()
        # Credentials written into the URL are sent right away.
        manager.add_password(None, safe_url(url), urllib.parse.unquote(user),
                             urllib.parse.unquote(password or ""),
                             is_authenticated=parts.username is not None)
        handlers.append(urllib.request.HTTPBasicAuthHandler(manager))
    return urllib.request.build_opener(*handlers)


def _netrc_credentials(ctx, host):
    import netrc

    home = ctx.managed_env.get("HOME")
    path = os.path.join(home, ".netrc") if home else None
    if not path or not host or not os.path.isfile(path):
        return None, None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError) as err:
        log.debug("Cannot use %s: %s", path, err)
        return None, None
    if not entry:
        return None, None
    return entry[0], entry[2]
