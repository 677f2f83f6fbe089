"""The environment of bitbake, the shell and for-all-repos commands
(ENV-103, GEN-050 ... GEN-052)."""

# Names bitbake is told to let through, before the config's env names.
PASSTHROUGH_BASE = ("SSTATE_DIR", "SSTATE_MIRRORS", "BB_HASHSERVE_DB_DIR", "BB_HASHSERVE",
                    "BB_HASHSERVE_UPSTREAM", "DL_DIR", "TMPDIR")

# Taken from kas's own environment when present there, even empty.
FROM_CALLER = PASSTHROUGH_BASE + ("SSH_AUTH_SOCK", "SHELL", "TERM", "GIT_PROXY_COMMAND",
                                  "NO_PROXY")


def build_environment(ctx, script_env):
    """Compose the build environment over the managed one."""
    from kas.vcs.urls import offline_requested

    config_env = ctx.config.env_defaults()
    # Issue 19.2: offline, bitbake must not fetch either (environment only,
    # local.conf stays as it is).
    offline = ("BB_NO_NETWORK",) if offline_requested(ctx.caller_env) else ()
    env = dict(script_env)
    env.update(ctx.config.resolved_env())
    for name in ("BB_ENV_PASSTHROUGH_ADDITIONS", "BB_ENV_EXTRAWHITE"):
        if env.get(name) is not None:
            env[name] = " ".join([env[name], *PASSTHROUGH_BASE, *offline, *config_env])
            break
    for name in (*FROM_CALLER, *config_env):
        if name in ctx.caller_env:
            env[name] = ctx.caller_env[name]
    if offline:
        env["BB_NO_NETWORK"] = "1"
    result = dict(ctx.managed_env)
    result.update(env)
    return {k: v for k, v in result.items() if v is not None}
