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

from kas.environment import managed_ci
from kas.errors import KasUserError
from kas.fsutil import find_program

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
    ci = managed_ci(environ)
    if ci:
        log.info("Running on %s", ci)
    home = tempfile.mkdtemp(prefix="kas-home-")
    ctx.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    old_umask = os.umask(0o077)
    try:
        _write_netrc(environ, home)
        _copy_if_set(environ, "NPMRC_FILE", os.path.join(home, ".npmrc"))
        _write_registry_auth(environ, home)
        _write_gitconfig(environ, home, ci)
        _write_aws(environ, home)
    finally:
        os.umask(old_umask)
    return home


def real_home(environ):
    return environ.get("HOME") or os.path.expanduser("~")


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
        config = _registry_config(environ, target)
        config.setdefault("auths", {})[registry] = {
            "auth": base64.b64encode(token.encode()).decode()}
        with open(target, "w") as f:
            json.dump(config, f, indent=4)


def _registry_config(environ, target):
    """The copied registry auth file as a dict; a broken one is the
    caller's error, named without its (secret) content."""
    try:
        with open(target) as f:
            config = json.load(f)
    except ValueError as err:
        raise KasUserError(f"REGISTRY_AUTH_FILE {environ['REGISTRY_AUTH_FILE']} is not "
                           f"valid JSON (line {getattr(err, 'lineno', '?')})") from None
    if not isinstance(config, dict) or not isinstance(config.get("auths", {}), dict):
        raise KasUserError(f"REGISTRY_AUTH_FILE {environ['REGISTRY_AUTH_FILE']} is not a "
                           'JSON object with an "auths" object')
    return config


def git_value(value):
    """``value`` quoted for a gitconfig file, so a helper command with
    quotes, backslashes or ';' stays one value."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t"))
    return f'"{escaped}"'


def _write_gitconfig(environ, home, ci):
    """The private ``.gitconfig`` (CLI-072): a copy of GITCONFIG_FILE (or, in
    a managed CI, the real one), the credential helper, and on GitLab CI
    without a copied file the safe directory and the ssh-to-https rewrites."""
    target = os.path.join(home, ".gitconfig")
    copied = _copy_if_set(environ, "GITCONFIG_FILE", target)
    if not copied and ci:
        user_config = os.path.join(real_home(environ), ".gitconfig")
        if os.path.isfile(user_config):
            shutil.copyfile(user_config, target)
            copied = True
    lines = []
    helper = environ.get("GIT_CREDENTIAL_HELPER")
    if helper:
        lines += ["[credential]\n", f"\thelper = {git_value(helper)}\n"]
        if environ.get("GIT_CREDENTIAL_USEHTTPPATH"):
            use_path = git_value(environ["GIT_CREDENTIAL_USEHTTPPATH"])
            lines.append(f"\tuseHttpPath = {use_path}\n")
    if ci == "GitLab CI" and not copied:
        project_dir = existing_path(environ, "CI_PROJECT_DIR")
        if project_dir:
            lines += ["[safe]\n", f"\tdirectory = {git_value(project_dir)}\n"]
        if environ.get("CI_SERVER_HOST") and not ssh_configured(environ):
            lines += gitlab_rewrites(environ)
    if lines:
        with open(target, "a") as f:
            f.writelines(lines)


# What the patch step leaves in the private gitconfig for a key the user
# did not set (kas 5.5 behaviour), so commits made in `kas shell` work.
DEFAULT_GIT_IDENTITY = (("user.name", "kas User"), ("user.email", "kas@example.com"))


def complete_git_identity(ctx):
    """End of the patch step: the private gitconfig keeps the user's own
    ``user.name``/``user.email`` and gets kas's identity for a missing one.

    ``git config`` edits only the keys it sets, so everything else
    (multi-valued keys such as several ``insteadOf`` included) stays as
    copied, in order."""
    if find_program("git", ctx.caller_env) is None:
        return                  # hg-only hosts: nobody reads the gitconfig
    target = os.path.join(ctx.managed_env["HOME"], ".gitconfig")
    for key, value in DEFAULT_GIT_IDENTITY:
        found = ctx.runner.run(["git", "config", "--file", target, "--includes", "--get", key],
                               env=ctx.vcs_env(), check=False)
        if found.returncode == 1:          # the key is not set anywhere in the file
            _set_git_value(ctx, target, key, value)
        elif found.returncode != 0:
            raise KasUserError(f"The private gitconfig {target} cannot be read: "
                               f"{found.stderr.strip()}")


def _set_git_value(ctx, target, key, value):
    old_umask = os.umask(0o077)         # a new file is private like the rest of HOME
    try:
        ctx.runner.run(["git", "config", "--file", target, key, value], env=ctx.vcs_env())
    finally:
        os.umask(old_umask)


def ssh_configured(environ):
    """CLI-062: the caller has an ssh setup of its own."""
    return (os.path.exists(os.path.join(real_home(environ), ".ssh", "config"))
            or any(name in environ
                   for name in ("SSH_PRIVATE_KEY", "SSH_PRIVATE_KEY_FILE", "SSH_AUTH_SOCK")))


def gitlab_rewrites(environ):
    """CLI-073: fetch the CI server's ssh URLs over https with the job token."""
    host = environ["CI_SERVER_HOST"]
    port = environ.get("CI_SERVER_PORT") or "443"
    protocol = environ.get("CI_SERVER_PROTOCOL") or "https"
    ssh_host = environ.get("CI_SERVER_SHELL_SSH_HOST") or host
    ssh_port = environ.get("CI_SERVER_SHELL_SSH_PORT") or "22"
    sources = (f"git@{ssh_host}:", f"git@{ssh_host}:{ssh_port}", f"ssh://git@{ssh_host}/",
               f"ssh://git@{ssh_host}:{ssh_port}/")
    lines = []
    for base in (f"{protocol}://{host}/", f"{protocol}://{host}:{port}/"):
        lines.append(f'[url "{base}"]\n')
        lines += [f"\tinsteadOf = {source}\n" for source in sources]
    return lines


def _write_aws(environ, home):
    """CLI-071: static credentials, SSO cache, web identity."""
    aws = os.path.join(home, ".aws")
    config_file = existing_path(environ, "AWS_CONFIG_FILE")
    credentials = existing_path(environ, "AWS_SHARED_CREDENTIALS_FILE")
    token = existing_path(environ, "AWS_WEB_IDENTITY_TOKEN_FILE")
    if config_file and credentials:
        os.makedirs(aws, exist_ok=True)
        shutil.copyfile(config_file, os.path.join(aws, "config"))
        shutil.copyfile(credentials, os.path.join(aws, "credentials"))
    if config_file:
        for cache in (os.path.join(os.path.dirname(config_file), "sso", "cache"),
                      os.path.join(real_home(environ), ".aws", "sso", "cache")):
            if os.path.isdir(cache):
                os.makedirs(aws, exist_ok=True)
                shutil.copyfile(config_file, os.path.join(aws, "config"))
                # copyfile, not copy2: the copies get the private 0600 mode.
                shutil.copytree(cache, os.path.join(aws, "sso", "cache"), dirs_exist_ok=True,
                                copy_function=shutil.copyfile)
                _make_private(os.path.join(aws, "sso"))
                break
    if token and environ.get("AWS_ROLE_ARN"):
        import configparser

        os.makedirs(aws, exist_ok=True)
        token_copy = os.path.join(aws, "web_identity_token")
        shutil.copyfile(token, token_copy)
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(os.path.join(aws, "config"))
        except configparser.Error as err:
            raise KasUserError(f"AWS_CONFIG_FILE {environ.get('AWS_CONFIG_FILE')} cannot be "
                               f"extended for AWS_ROLE_ARN: {type(err).__name__} "
                               f"(line {getattr(err, 'lineno', '?')})") from None
        if not parser.has_section("default"):
            parser.add_section("default")
        parser["default"]["role_arn"] = environ["AWS_ROLE_ARN"]
        parser["default"]["web_identity_token_file"] = token_copy
        with open(os.path.join(aws, "config"), "w") as f:
            parser.write(f)


def _make_private(top):
    """copytree copies the directory modes of the source: make them 0700."""
    for directory, _dirs, _files in os.walk(top):
        os.chmod(directory, 0o700)
