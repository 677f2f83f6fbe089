"""The build attestation of ``kas build --provenance`` (CLI-106, CF-760):
an in-toto v1 statement with a SLSA v1 provenance predicate, written to
``<build dir>/attestation/kas-build.provenance.json``."""

import base64
import datetime
import glob
import hashlib
import json
import logging
import os
import re
import urllib.parse

from kas import __version__, fsutil
from kas.errors import KasUserError, redact

log = logging.getLogger(__name__)

BUILD_TYPE = f"https://kas.readthedocs.io/en/{__version__}/userguide/project-configuration.html"
BUILDER_ID = "https://github.com/siemens/kas"
ATTESTATION = os.path.join("attestation", "kas-build.provenance.json")


# env names whose values are credentials (CI_JOB_TOKEN, GITHUB_TOKEN,
# AWS_SECRET_ACCESS_KEY, ...): mode=max records them as "***".
SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIALS?|PRIVATE_KEY|API_KEY)(_|$)",
    re.IGNORECASE)


def recorded_env(config):
    """The ``env`` entries with their values, secrets masked: an attestation
    is published, a token in it would be leaked."""
    recorded = {}
    for name, value in config.resolved_env().items():
        if value is not None and SECRET_NAME.search(name):
            value = "***"
        elif isinstance(value, str):
            value = redact(value)       # user:password@ in URLs
        recorded[name] = value
    return recorded


def timestamp(moment):
    """RFC 3339, UTC, microseconds, ``Z``."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def find_artifacts(config, build_dir, started, finished):
    """Subjects for every file the ``artifacts`` globs match (CF-760)."""
    artifacts = config.data.get("artifacts") or {}
    if not artifacts:
        log.warning("Attestation does not contain any artifacts.")
    subjects = []
    for name, pattern in artifacts.items():
        matches = sorted(path for path in glob.glob(os.path.join(build_dir, pattern),
                                                    recursive=True)
                         if os.path.isfile(path))
        if not matches:
            raise KasUserError(f'No artifact found for {name}:"{pattern}"')
        for path in matches:
            _check_mtime(name, path, build_dir, started, finished)
            subjects.append({"name": os.path.basename(path),
                             "digest": {"sha256": _sha256(path)}})
    return subjects


def _check_mtime(name, path, build_dir, started, finished):
    mtime = os.stat(path).st_mtime
    # File systems store coarse times: allow a second of slack.
    if not started.timestamp() - 1 <= mtime <= finished.timestamp() + 1:
        log.warning('Artifact %s:"%s" was not written by this build (modified %s)',
                    name, os.path.relpath(path, build_dir),
                    timestamp(datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def public_uri(vcs, url):
    """``<type>+<url>`` with user name and password removed and a scheme
    added to scp-like and plain-path URLs."""
    if "://" not in url:
        host, sep, path = url.partition(":")
        if sep and "/" not in host and not url.startswith("/"):
            url = f"ssh://{host}/{path.lstrip('/')}"     # user@host:path
        else:
            url = "file://" + os.path.abspath(url)
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{vcs}+" + urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def repo_dependencies(ctx, repos):
    """One resolved dependency per repo whose revision is known."""
    from kas.vcs.query import inspect

    dependencies = []
    for spec in repos.values():
        checkout = inspect(ctx, spec.path)
        if checkout is None or checkout.commit is None:
            continue
        url = spec.url or checkout.url or spec.path
        dependencies.append({
            "name": spec.name,
            "uri": public_uri(checkout.vcs, url),
            "digest": {f"{checkout.vcs}Commit": pinned_commit(ctx, spec, checkout)},
            "annotations": {
                "dirty": checkout.dirty,
                "layers": [os.path.relpath(layer.path, spec.path) for layer in spec.layers],
            },
        })
    return dependencies


def pinned_commit(ctx, spec, checkout):
    """The commit a repo is pinned to: for a patched repo the one the
    patches were applied on (its HEAD is kas's patch commit, which is
    nothing upstream knows), else the checked-out HEAD."""
    if spec.is_local or not spec.patches:
        return checkout.commit
    from kas.vcs import resolve_configured_ref

    ref = resolve_configured_ref(ctx, spec)
    return ref.commit if ref is not None else None


def config_dependencies(ctx):
    """The config files of the command line, by content (as kas 5.5: also
    when a repo tracks them; included and lock files are not listed)."""
    dependencies = []
    for path in ctx.config.top_files:
        with open(path, "rb") as f:
            content = base64.b64encode(f.read()).decode("ascii")
        kind = "json" if path.endswith(".json") else "yaml"
        dependencies.append({"name": os.path.relpath(path, ctx.work_dir),
                             "content": content,
                             "mediaType": f"application/vnd.kas+{kind}"})
    return dependencies


def statement(ctx, args, started, finished):
    import distro

    mode = args.provenance
    repo_deps = repo_dependencies(ctx, ctx.repos)
    internal = {}
    if mode == "mode=max":
        internal = {"env": recorded_env(ctx.config)}
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": find_artifacts(ctx.config, ctx.build_dir, started, finished),
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "command": args.cmd,
                    "config": [os.path.relpath(path, ctx.work_dir)
                               for path in ctx.config.top_files],
                    "target": args.target,
                    "task": args.task,
                    "extra_bitbake_args": list(args.extra_bitbake_args),
                },
                "internalParameters": internal,
                "resolvedDependencies": repo_deps + config_dependencies(ctx),
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    # The id (debian, ubuntu, ...), not the pretty name.
                    "version": {"kas": __version__, "distro.name": distro.id(),
                                "distro.version": distro.version()},
                },
                "metadata": {
                    "invocationId": ctx.caller_env.get("CI_JOB_URL", ""),
                    "startedOn": timestamp(started),
                    "finishedOn": timestamp(finished),
                },
                "byproducts": [],
            },
        },
    }


def write_attestation(ctx, args, started, finished):
    """Write the statement atomically; returns its path."""
    document = statement(ctx, args, started, finished)
    path = os.path.join(ctx.build_dir, ATTESTATION)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fsutil.write_atomic(path, json.dumps(document, indent=4) + "\n", mode=0o644,
                        follow_symlinks=False)
    log.info("Provenance attestation written to %s", path)
    return path
