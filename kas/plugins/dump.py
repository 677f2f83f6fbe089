"""``kas dump``: print the effective configuration (CLI-140 ... CLI-147)."""

import copy
import logging
import sys

from kas.pipeline import add_setup_options, requested_skips, run_setup

log = logging.getLogger(__name__)

COMMAND = "dump"
HELP = "Print the flattened configuration"
HELP_ORDER = 80

# CLI-140: repos are fetched and checked out, nothing else is touched.
DUMP_SKIPS = ("setup_dir", "repos_apply_patches", "setup_environ", "write_bbconfig")


def setup_parser(parser):
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="Output format (default: yaml)")
    parser.add_argument("--indent", type=int, default=2,
                        help="Line indent (number of spaces, default: 2)")
    parser.add_argument("--sort", action="store_true",
                        help="Sort keys alphanumerically at all levels")
    parser.add_argument("--resolve-refs", action="store_true",
                        help="Replace branches and tags by the commits they resolve to")
    parser.add_argument("--resolve-local", action="store_true",
                        help="Add url and commit of the checkout of local repos")
    parser.add_argument("--resolve-env", action="store_true",
                        help="Replace env defaults by the values of the calling "
                             "environment")
    add_setup_options(parser)


def run(ctx, args):
    from kas.config.output import serialize

    config = run_setup(ctx, requested_skips(args), DUMP_SKIPS)
    data = copy.deepcopy(config.data)
    header = data.get("header")
    if isinstance(header, dict):
        header.pop("includes", None)
    if args.resolve_refs:
        resolve_refs(ctx, data)
    if args.resolve_local:
        resolve_local_repos(ctx, data)
    if args.resolve_env and data.get("env"):
        data["env"] = config.resolved_env()
    sys.stdout.write(serialize(data, args.format, indent=args.indent, sort=args.sort))


def resolve_local_repos(ctx, data):
    """CLI-143: pin url-less repos to the checkout that contains them."""
    from kas.repos.local import inspect

    for repo_id, spec in ctx.repos.items():
        if not spec.is_local:
            continue
        checkout = inspect(spec.path)
        if checkout is None:
            log.warning("Repository %s (root repo) is not under version control.",
                        spec.name)
            continue
        if checkout.dirty:
            log.warning("Repository %s (root repo) contains uncommitted changes.",
                        spec.name)
        entry = data["repos"][repo_id] or {}
        if checkout.url:
            entry["url"] = checkout.url
        if checkout.commit:
            entry["commit"] = checkout.commit
        data["repos"][repo_id] = entry


def resolve_refs(ctx, data):
    """CLI-142: pin every managed repo to the commit its ref resolves to."""
    from kas.repos.vcs import FetchSettings, backend_for

    settings = FetchSettings(ctx)
    for repo_id, spec in ctx.repos.items():
        if spec.is_local:
            continue
        entry = data["repos"][repo_id] or {}
        backend = backend_for(ctx, spec, settings)
        backend.require_checkout()
        commit = backend.resolve_commit()
        if spec.refspec is not None:
            entry["refspec"] = commit
        else:
            entry["commit"] = commit
        data["repos"][repo_id] = entry
    data.pop("overrides", None)
