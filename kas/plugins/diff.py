"""``kas diff``: compare two configurations and the commits between the
revisions they pin (CLI-160 ... CLI-165)."""


from kas.errors import KasUserError
from kas.pipeline import add_setup_options, requested_skips, run_setup

COMMAND = "diff"
HELP = "Compare two configurations and the repo commits between them"
HELP_ORDER = 70
EXAMPLE = "kas diff release-1.yml release-2.yml"


def work_dir_lock(args):
    """Reading only, unless --update moves the repos (issue 21.1)."""
    return "exclusive" if args.update else "shared"


WORK_DIR_LOCK = work_dir_lock

# CLI-160: the repos are set up for both configs; no build environment.
FIRST_SKIPS = ("setup_environ", "write_bbconfig")
SECOND_SKIPS = FIRST_SKIPS + ("setup_dir", "setup_home", "setup_ssh_agent")


def setup_parser(parser):
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="Output format (default: text; json is the stable format)")
    parser.add_argument("--oneline", action="store_true",
                        help="Show each commit on one line (text format)")
    parser.add_argument("--commit-only", action="store_true",
                        help="Show only the commits between the repo revisions (text format)")
    parser.add_argument("--content-only", action="store_true",
                        help="Show only the configuration changes (text format)")
    add_setup_options(parser, config=False)
    parser.add_argument("config1", help="First config file(s), separated by colons")
    parser.add_argument("config2", help="Second config file(s), separated by colons")


def run(ctx, args):
    from kas.config.compare import changed_values, comparable
    from kas.difftext import Palette, render_json, render_text
    from kas.docio.writer import write_stdout

    first_data, first_repos = setup_config(ctx, args, args.config1, FIRST_SKIPS)
    second_data, second_repos = setup_config(ctx, args, args.config2, SECOND_SKIPS)
    changes = changed_values(comparable(first_data), comparable(second_data))
    vcs = {}
    if args.format == "json" or not args.content_only:
        vcs = repo_commits(ctx, changes, first_repos, second_repos)
    if args.format == "json":
        write_stdout(render_json(changes, vcs))
        return
    write_stdout(render_text((args.config1, args.config2), changes, vcs,
                             Palette(not ctx.no_color), oneline=args.oneline,
                             commit_only=args.commit_only, content_only=args.content_only))


def setup_config(ctx, args, config_argument, skips):
    """Run the pipeline for one side; returns (merged data, repo specs)."""
    args.config = config_argument
    ctx.resolver, ctx.config, ctx.repos = None, None, {}
    config = run_setup(ctx, requested_skips(args), skips)
    return config.data, ctx.repos


def repo_commits(ctx, changes, first_repos, second_repos):
    """CLI-162: repo id -> commits between the two revisions; as in kas
    5.5, a repo with none (the same commit) is left out (issue 24.3)."""
    from kas.config.compare import changed_revisions

    vcs = {}
    for repo_id, (old, new) in changed_revisions(changes).items():
        specs = [s for s in (second_repos.get(repo_id), first_repos.get(repo_id)) if s]
        commits = commits_in_either(ctx, specs, old, new)
        if commits:
            vcs[repo_id] = commits
    return vcs


def commits_in_either(ctx, specs, old, new):
    """The commits from ``old`` to ``new`` in the first checkout that knows
    both, or, when ``new`` is an ancestor of ``old`` (an older release),
    those from ``new`` to ``old``, as kas 5.5 lists them (issue 24.3); None
    if no side has a checkout at all."""
    from kas.vcs.query import History

    tried = None
    for spec in specs:
        history = History.of(ctx, spec.type, spec.path)
        if history is None:
            continue
        history.unshallow()
        old_id, new_id = history.resolve(old), history.resolve(new)
        if old_id and new_id:
            return history.commits(old_id, new_id) or history.commits(new_id, old_id)
        tried = (spec, old_id, new_id)
    if tried is None:
        return None
    raise invalid_revisions(tried, old, new)


def invalid_revisions(tried, old, new):
    spec, old_id, new_id = tried
    if not old_id and not new_id:
        what = f"Commits ({old} and {new}) are not valid"
    elif not old_id:
        what = f"First commit ({old}) is not valid"
    else:
        what = f"Second commit ({new}) is not valid"
    return KasUserError(f'Could not compute diff for repository "{spec.name}": {what}')
