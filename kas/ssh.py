"""The internal ssh-agent (CLI-060 ... CLI-062, step ``setup_ssh_agent``).

Started only when SSH_PRIVATE_KEY or SSH_PRIVATE_KEY_FILE is set; its
identities are deleted and the agent is killed when kas exits.  Key
material only ever travels on ssh-add's stdin, never on a command line.
"""

import logging
import os
import re

from kas.errors import ArgumentsError, KasUserError
from kas.fsutil import find_program

log = logging.getLogger(__name__)

KEY_VARIABLES = ("SSH_PRIVATE_KEY", "SSH_PRIVATE_KEY_FILE")
NO_HOST_KEY_CHECK = "Host *\n\tStrictHostKeyChecking no\n\n"


def agent_requested(environ):
    """Whether the internal agent is asked for (a key variable is set, even empty)."""
    return any(name in environ for name in KEY_VARIABLES)


def check_agent_conflict(environ):
    """CLI-060: an internal agent cannot be combined with an external one."""
    if agent_requested(environ) and "SSH_AUTH_SOCK" in environ:
        raise ArgumentsError('Internal SSH agent (e.g. for "SSH_PRIVATE_KEY") can only be '
                             "started if no external one is passed.")


def setup_ssh_agent(ctx):
    from kas.environment import managed_ci

    for tool in ("ssh", "ssh-add", "ssh-agent"):
        if find_program(tool, ctx.caller_env) is None:
            raise KasUserError(f'SSH setup requested but could not find "{tool}" in PATH')
    output = ctx.runner.output(["ssh-agent", "-s"], env=ctx.vcs_env())
    for name, value in re.findall(r"^(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]*);", output,
                                  re.MULTILINE):
        ctx.managed_env[name] = value
    ctx.add_cleanup(lambda: _stop_agent(ctx))
    _add_keys(ctx)
    if managed_ci(ctx.caller_env):
        _disable_host_key_check(ctx.caller_env)


def _add_keys(ctx):
    from kas.home import existing_path

    keys = []
    # ENV-004: a key file that is not there is an error, resolved like
    # the other credential files (relative to the current directory).
    path = existing_path(ctx.caller_env, "SSH_PRIVATE_KEY_FILE")
    if path:
        log.info("adding SSH key from file '%s'", path)
        try:
            with open(path) as f:
                keys.append(f.read())
        except OSError as err:
            raise KasUserError(f"Cannot read SSH_PRIVATE_KEY_FILE {path}: "
                               f"{err.strerror}") from None
    if ctx.caller_env.get("SSH_PRIVATE_KEY"):
        log.info("adding SSH key from env-var 'SSH_PRIVATE_KEY'")
        keys.append(ctx.caller_env["SSH_PRIVATE_KEY"])
    if not keys:
        log.warning("None of the following environment keys were set: %s",
                    ", ".join(KEY_VARIABLES))
    for key in keys:
        if not key.endswith("\n"):
            key += "\n"
        result = ctx.runner.run(["ssh-add", "-"], env=ctx.vcs_env(), input=key, check=False)
        if result.returncode != 0:
            log.error("failed to add ssh key: %s", result.stderr.strip())


def _disable_host_key_check(environ):
    """CLI-060 item 5: only in a managed CI environment, never overwriting."""
    ssh_dir = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".ssh")
    config = os.path.join(ssh_dir, "config")
    if os.path.exists(config):
        with open(config) as f:
            if f.read() != NO_HOST_KEY_CHECK:
                log.warning("%s already exists, not touching it to disable "
                            "StrictHostKeyChecking", config)
        return
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    with open(config, "w") as f:
        f.write(NO_HOST_KEY_CHECK)


def _stop_agent(ctx):
    """Step ``cleanup_ssh_agent``: delete the identities, kill the agent."""
    env = ctx.vcs_env()
    ctx.runner.run(["ssh-add", "-D"], env=env, check=False)
    ctx.runner.run(["ssh-agent", "-k"], env=env, check=False)
