"""What ``kas purge`` removes beyond ``cleanall``: the repos kas manages,
the build directory and kas's other managed files (CLI-180/181)."""

import logging
import os

from kas.clean.cleaner import Cleaner, first_config_file
from kas.errors import KasUserError

log = logging.getLogger(__name__)

# Locating the repos needs the configuration and the repos it includes
# from, nothing more: no build directory, no checkout, no build environment.
# (The reference also clones the remaining repos, only to remove them.)
LOCATE_SKIPS = ("setup_dir", "finish_setup_repos", "repos_checkout",
                "repos_apply_patches", "setup_environ", "write_bbconfig")


def purge(ctx, args):
    """``cleanall``, then the managed repos (and, unless
    --preserve-repo-refs, their reference repositories), the build
    directory, KAS_BUILDTOOLS_DIR and kas's files in the work directory."""
    cleaner = Cleaner(ctx, args, named_dirs=("KAS_BUILDTOOLS_DIR", "KAS_REPO_REF_DIR"))
    cleaner.clean()
    cleaner.clean_sstate()
    cleaner.clean_downloads()
    if first_config_file(ctx, args) is None:
        raise KasUserError("Purge requires a config file to locate managed repos.")
    for spec in locate_repos(ctx, args.dry_run):
        remove_repo(ctx, cleaner, spec, keep_refs=args.preserve_repo_refs)
    cleaner.empty(ctx.build_dir)
    buildtools = cleaner.env_dir("KAS_BUILDTOOLS_DIR")
    if buildtools:
        cleaner.remove(buildtools)
    cleaner.remove(os.path.join(ctx.work_dir, ".config.yaml"))
    if not ctx.caller_env.get("KAS_BUILD_DIR"):
        cleaner.remove(ctx.build_dir)
    for name in (".kas_gnupg", ".kas_ssh-handler", ".kas_shell_history"):
        cleaner.remove(os.path.join(ctx.work_dir, name))


def locate_repos(ctx, dry_run):
    """The repos of the configuration; a dry run fetches nothing."""
    from kas.pipeline import run_setup
    from kas.repos.provider import OnDiskRepoProvider

    if dry_run:
        ctx.repo_provider = OnDiskRepoProvider()
    run_setup(ctx, LOCATE_SKIPS)
    return list(ctx.repos.values())


def remove_repo(ctx, cleaner, spec, keep_refs):
    """CLI-181 step 4: a managed repo and its reference repository."""
    from kas.clean.removal import resolved
    from kas.vcs.urls import qualified_name

    if spec.is_local:
        log.debug("Skipping %s as not managed by kas", spec.name)
        return
    if not cleaner.guard.inside_work_dir(spec.path):
        log.warning("Not removing repository %s: its path %s is outside of the work "
                    "directory %s", spec.name, resolved(spec.path), ctx.work_dir)
    else:
        cleaner.remove(spec.path)
    ref_dir = cleaner.env_dir("KAS_REPO_REF_DIR")
    if ref_dir and not keep_refs:
        cleaner.remove(os.path.join(ref_dir, qualified_name(spec.url)))
