"""``kas dump``: print the effective configuration (CLI-140 ... CLI-147)."""

import argparse
import copy
import logging
import sys

from kas.errors import ArgumentsError
from kas.pipeline import add_setup_options, requested_skips, run_lock, run_setup

log = logging.getLogger(__name__)

COMMAND = "dump"
HELP = "Print the flattened configuration"
HELP_ORDER = 80
EXAMPLE = "kas dump --resolve-refs --format json kas.yml"


def work_dir_lock(args):
    """Reading only, unless --update moves the repos or --inplace writes
    lock files (issue 21.1)."""
    return "exclusive" if args.update or args.inplace else "shared"


WORK_DIR_LOCK = work_dir_lock

# CLI-140: repos are fetched and checked out, nothing else is touched.
DUMP_SKIPS = ("setup_dir", "repos_apply_patches", "setup_environ", "write_bbconfig")


def setup_parser(parser):
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="Output format (default: yaml)")
    # None: 2, or with --lock --inplace the indentation of the lock file.
    parser.add_argument("--indent", type=int, default=None,
                        help="Line indent (number of spaces, default: 2)")
    parser.add_argument("--sort", action="store_true",
                        help="Sort keys alphanumerically at all levels")
    parser.add_argument("--resolve-refs", action="store_true",
                        help="Replace branches and tags by the commits they resolve to")
    parser.add_argument("--resolve-local", action="store_true",
                        help="Add url and commit of the checkout of local repos")
    exclusive = parser.add_mutually_exclusive_group()
    exclusive.add_argument("--resolve-env", action="store_true",
                           help="Replace env defaults by the values of the calling "
                                "environment")
    exclusive.add_argument("--lock", action="store_true",
                           help="Print a lock file pinning every repo to its commit")
    parser.add_argument("--explain", nargs="?", metavar="KEY", default=None,
                        help="Comment every value with where it was set; with "
                             "--explain=KEY print only the settings of KEY "
                             "(a dotted path, e.g. repos.poky.commit)")
    _explain_value_after_equals_only(parser)
    # CLI-146: deprecated and hidden; `kas lock` replaces it.
    parser.add_argument("-i", "--inplace", action="store_true", help=argparse.SUPPRESS)
    add_setup_options(parser)


def _explain_value_after_equals_only(parser):
    """``--explain CONFIG`` must not take CONFIG as the key: a bare
    --explain (or an abbreviation) becomes ``--explain=`` before parsing."""
    parse = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        args = sys.argv[1:] if args is None else args
        args = ["--explain=" if a.startswith("--e") and "--explain".startswith(a) else a
                for a in args]
        return parse(args, namespace)

    parser.parse_known_args = parse_known_args


def check_arguments(args):
    """CLI-145/CLI-146: combinations argparse cannot express."""
    if args.inplace and not args.lock:
        raise ArgumentsError("--inplace requires --lock")
    if args.lock and args.resolve_local:
        raise ArgumentsError("--resolve-local cannot be used with --lock")
    if args.explain is not None and args.lock:
        raise ArgumentsError("--explain cannot be used with --lock")
    if args.explain == "" and args.format == "json":
        raise ArgumentsError("--explain prints YAML with comments: use --explain=KEY "
                             "for JSON output")


def run(ctx, args):
    from kas.docio.writer import print_config, write_stdout

    check_arguments(args)
    if args.inplace:
        from kas.difftext import moved_commits_text

        log.warning('The --inplace option is deprecated. Migrate to the "lock" command.')
        write_stdout(moved_commits_text(run_lock(ctx, args), not ctx.no_color))
        return
    config = run_setup(ctx, requested_skips(args), DUMP_SKIPS)
    indent = 2 if args.indent is None else args.indent
    if args.lock:
        print_config(lock_data(ctx), args.format, indent=indent, sort=args.sort)
        return
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
    if args.explain is not None:
        write_stdout(explained(ctx, config, data, args, indent))
        return
    print_config(data, args.format, indent=indent, sort=args.sort)
    return


def explained(ctx, config, data, args, indent):
    """Issue 18.1: the document with its sources, or one key's settings."""
    from kas.config.explain import render

    options = [f"--{name.replace('_', '-')}"
               for name in ("resolve_refs", "resolve_local", "resolve_env")
               if getattr(args, name)]
    return render(ctx, config, data, key=args.explain, fmt=args.format, indent=indent,
                  sort=args.sort, option=" or ".join(options) or None)


def lock_data(ctx):
    """CLI-145: a lock document pinning every managed repo (INC-087)."""
    from kas.lock.model import lock_document
    from kas.lock.pins import managed_repos, resolve_refs

    resolved = resolve_refs(ctx, managed_repos(ctx))
    return lock_document({rid: ref.commit for rid, ref in resolved.items()})


def resolve_local_repos(ctx, data):
    """CLI-143: pin url-less repos to the checkout that contains them."""
    from kas.vcs.query import inspect

    for repo_id, spec in ctx.repos.items():
        if not spec.is_local:
            continue
        checkout = inspect(ctx, spec.path)
        if checkout is None:
            log.warning("Repository %s (root repo) is not under version control.",
                        spec.name)
            continue
        if checkout.dirty:
            log.warning("Repository %s (root repo) contains uncommitted changes.",
                        spec.name)
        entry = data["repos"][repo_id] or {}
        # kas 5.5 writes the url also when the checkout has no origin: null.
        entry["url"] = checkout.url or None
        if checkout.commit:
            entry["commit"] = checkout.commit
        data["repos"][repo_id] = entry


def resolve_refs(ctx, data):
    """CLI-142: pin every managed repo to the commit its ref resolves to."""
    from kas.vcs import fetch_settings, resolve_configured_ref
    from kas.vcs.cache import warn_offline_pins

    # Offline, floating refs resolve to local state: say so (issue 19.2).
    warn_offline_pins(ctx, [s for s in ctx.repos.values() if not s.is_local],
                      fetch_settings(ctx).offline)
    for repo_id, spec in ctx.repos.items():
        if spec.is_local:
            continue
        entry = data["repos"][repo_id] or {}
        ref = resolve_configured_ref(ctx, spec)
        commit = ref.commit if ref is not None else None
        if spec.refspec is not None:
            entry["refspec"] = commit
        else:
            entry["commit"] = commit
            entry.update(effective_overrides(data, repo_id))
        data["repos"][repo_id] = entry
    data.pop("overrides", None)


def effective_overrides(data, repo_id):
    """The url/branch overrides of a repo (CF-706): they must survive the
    removal of ``overrides``, or the branch would not contain the commit."""
    override = ((data.get("overrides") or {}).get("repos") or {}).get(repo_id) or {}
    return {key: override[key] for key in ("url", "branch") if key in override}
