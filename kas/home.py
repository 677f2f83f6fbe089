"""The private temporary HOME (CLI-070 ... CLI-072, step ``setup_home``).

git and bitbake see a fresh HOME that holds only what the caller hands
over explicitly (NETRC_FILE, GITCONFIG_FILE, ...), never the real one.
It is created 0700, populated with umask 077 and removed when kas exits.
"""

import base64
import json
import logging
import os
import shutil
import tempfile

from kas.errors import KasUserError

log = logging.getLogger(__name__)


def existing_path(environ, name):
    """The absolute path named by ``name``, None if unset or empty.

    A value that names nothing is an error (ENV-004); a relative value is
    taken relative to the current directory."""
    value = environ.get(name)
    if not value:
        return None
    path = os.path.abspath(value)
    if not os.path.exists(path):
        raise KasUserError(
            f'Environment variable "{name}" is set, but the path does not exist: {path}')
    return path


def create_home(ctx, environ):
    """Create and populate the private HOME from the variables of
    ``environ``; returns its path."""
    home = tempfile.mkdtemp(prefix="kas-home-")
    ctx.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    old_umask = os.umask(0o077)
    try:
        _write_netrc(environ, home)
        _copy_if_set(environ, "NPMRC_FILE", os.path.join(home, ".npmrc"))
        _write_registry_auth(environ, home)
        _write_gitconfig(environ, home)
    finally:
        os.umask(old_umask)
    return home


def _copy_if_set(environ, name, target):
    source = existing_path(environ, name)
    if source is None:
        return False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)
    return True


def _write_netrc(environ, home):
    target = os.path.join(home, ".netrc")
    _copy_if_set(environ, "NETRC_FILE", target)
    host, token = environ.get("CI_SERVER_HOST"), environ.get("CI_JOB_TOKEN")
    if host and token:
        with open(target, "a") as f:
            f.write(f"machine {host}\nlogin gitlab-ci-token\npassword {token}\n")


def _write_registry_auth(environ, home):
    target = os.path.join(home, ".docker", "config.json")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not _copy_if_set(environ, "REGISTRY_AUTH_FILE", target):
        with open(target, "w") as f:
            f.write("{}")
    registry, token = environ.get("CI_REGISTRY"), environ.get("CI_JOB_TOKEN")
    if registry and token and environ.get("CI_REGISTRY_USER"):
        with open(target) as f:
            config = json.load(f)
        config.setdefault("auths", {})[registry] = {
            "auth": base64.b64encode(token.encode()).decode()}
        with open(target, "w") as f:
            json.dump(config, f, indent=4)


def _write_gitconfig(environ, home):
    target = os.path.join(home, ".gitconfig")
    _copy_if_set(environ, "GITCONFIG_FILE", target)
    helper = environ.get("GIT_CREDENTIAL_HELPER")
    if helper:
        lines = ["[credential]\n", f"\thelper = {helper}\n"]
        if environ.get("GIT_CREDENTIAL_USEHTTPPATH"):
            lines.append(f"\tuseHttpPath = {environ['GIT_CREDENTIAL_USEHTTPPATH']}\n")
        with open(target, "a") as f:
            f.writelines(lines)
