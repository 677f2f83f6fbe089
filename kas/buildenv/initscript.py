"""Finding and sourcing the init script (GEN-040, GEN-041, ENV-102)."""

import logging
import os
import tempfile

from kas.errors import CommandError, KasUserError

log = logging.getLogger(__name__)

MINIMAL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def script_name(config):
    return "isar-init-build-env" if config.is_isar() else "oe-init-build-env"


def find_init_script(config, repos):
    """(RepoSpec, script name) of the one repo providing the init script."""
    name = script_name(config)
    found = [spec for spec in repos.values()
             if os.path.isfile(os.path.join(spec.path, name))]
    if not found:
        raise KasUserError("Did not find any init-build-env script")
    if len(found) > 1:
        raise KasUserError(f"Multiple init scripts found ({found[1].name} vs. "
                           f"{found[0].name}). Resolve ambiguity by removing one of "
                           "the repos")
    return found[0], name


def _wrapper(name, buildtools_setup=None):
    lines = ["set -e"]
    if buildtools_setup:
        lines.append(f'source "{buildtools_setup}" || true')
    # The script's own output goes to stderr, the environment to stdout.
    lines += [f'source {name} "$1" 1>&2', "env"]
    return "\n".join(lines) + "\n"


def source_init_script(ctx, spec, name, buildtools_setup=None):
    """Run the init script in a clean bash; returns the environment it left."""
    with tempfile.NamedTemporaryFile("w", prefix="kas-init-", suffix=".sh") as wrapper:
        wrapper.write(_wrapper(name, buildtools_setup))
        wrapper.flush()
        argv = ["bash", wrapper.name, ctx.build_dir]
        result = ctx.runner.run(argv, cwd=spec.path, env={"PATH": MINIMAL_PATH},
                                check=False)
    script = os.path.join(spec.path, name)
    if result.returncode != 0:
        raise CommandError([script, ctx.build_dir], result.returncode,
                           stderr=result.stderr or "(no output)", cwd=spec.path)
    if result.stderr:
        log.debug("%s output:\n%s", script, result.stderr.rstrip("\n"))
    env = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key] = value
    return env
