"""The interface of a version-control backend, and the choice of backend.

A backend works on one checkout (a :class:`RepoSpec`) and knows how to
clone, fetch, check out and patch it.  The policy (when to fetch, in
which order, what to log) lives in :mod:`kas.repos.fetch`,
:mod:`kas.repos.checkout` and :mod:`kas.repos.patches`.
"""

import logging
import os

from kas.errors import KasUserError, redact

log = logging.getLogger(__name__)


class FetchSettings:
    """What the environment and the command line say about fetching."""

    def __init__(self, ctx):
        from kas.repos.urls import clone_depth, premirror_rules

        self.depth = clone_depth(ctx.environ)                     # CLI-086
        self.premirrors = premirror_rules(ctx.environ)            # CLI-083
        ref_dir = ctx.environ.get("KAS_REPO_REF_DIR")
        self.ref_dir = os.path.abspath(ref_dir) if ref_dir else None
        if self.ref_dir and os.path.exists(self.ref_dir) and not os.path.isdir(self.ref_dir):
            raise KasUserError(f"KAS_REPO_REF_DIR {self.ref_dir} is not a directory")
        self.update = ctx.update
        self.force_checkout = bool(getattr(ctx.args, "force_checkout", False))


class Backend:
    """One checkout.  Subclasses implement the VCS specific commands."""

    def __init__(self, ctx, spec, settings):
        self.ctx = ctx
        self.spec = spec
        self.settings = settings
        self.path = spec.path

    @property
    def url(self):
        from kas.repos.urls import effective_url

        return effective_url(self.spec.url, self.settings.premirrors)

    @property
    def env(self):
        return self.ctx.tool_env()

    # The file or directory that marks the top of a checkout.
    MARKER = None

    def require_checkout(self):
        """Refuse to run VCS commands in a directory that is not the top of
        a checkout: they would act on an enclosing repository instead."""
        if not os.path.exists(self.path):
            raise KasUserError(f'Repository "{self.spec.name}" is not available: {self.path} '
                               "does not exist (was fetching skipped?)")
        if not os.path.lexists(os.path.join(self.path, self.MARKER)):
            raise KasUserError(
                f'Cannot use {self.path} for repository "{self.spec.name}": it exists but '
                f"is not a {self.spec.type} checkout. Move it away or fix the repo's path.")

    # The user-facing errors of §4, the same for every backend.

    def fetch_failed(self, output):
        return KasUserError(f'Fetching of repo: "{self.spec.name}" failed: '
                            f"{redact(output.strip())}")

    def not_found(self, kind, value):
        return KasUserError(f'{kind} "{value}" cannot be found in repository '
                            f'"{self.spec.name}"')

    def tag_mismatch(self, tag_commit):
        spec = self.spec
        return KasUserError(f'Provided tag "{spec.tag}" ("{tag_commit}") does not match '
                            f'provided commit "{spec.commit}" in repository "{spec.name}", '
                            "aborting!")

    def branch_lacks_commit(self):
        spec = self.spec
        return KasUserError(f'Branch "{spec.branch}" in repository "{spec.name}" does not '
                            f'contain commit "{spec.commit}"')

    def run(self, argv, check=True, input=None, env=None):
        return self.ctx.runner.run(argv, cwd=self.path, env=env or self.env, check=check,
                                   input=input)

    def output(self, argv):
        return self.run(argv).stdout.strip()

    def succeeds(self, argv):
        return self.run(argv, check=False).returncode == 0

    # Implemented by each backend:
    #   clone(into) -> bool (True if origin already equals self.url)
    #   sync_origin()
    #   present_ref() -> (ref text, object type) or None
    #   fetch()
    #   is_dirty() -> bool
    #   checkout() -> the revision text for the log
    #   head() -> full commit id of the work tree
    #   resolve_commit() -> full commit id of the configured ref
    #   patch_session(branch) -> context manager: switch to ``branch``,
    #                            restore the pre-patch state on failure
    #   apply_patch(path, message, date) -> None, or the tool's complaint


def backend_for(ctx, spec, settings):
    from kas.repos.git import GitBackend
    from kas.repos.hg import HgBackend

    if spec.type == "hg":
        return HgBackend(ctx, spec, settings)
    if spec.type == "git":
        return GitBackend(ctx, spec, settings)
    raise KasUserError(f'Repo type "{spec.type}" not supported.')


def verify_commit(backend, resolved, commit):
    """CLI-091: compare the resolved id with the configured commit."""
    if resolved == commit:
        return resolved
    if resolved.startswith(commit):
        warn_short_hash(backend, commit)
        return resolved
    raise KasUserError(f"Parsed commit {resolved} differs suspiciously from "
                       f"specified {commit}.")


def warn_short_hash(backend, commit):
    log.warning('%s is not a full-length hash for repo "%s".\n'
                "This eases supply chain attacks and will be an error in future "
                "versions.", commit, backend.spec.name)


def is_full_sha(text):
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
