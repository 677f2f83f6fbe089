"""Shallow clones of every kind of ref and absolute ``refs/...`` names
(issue 16 points 2 and 3; cli.md CLI-086, CLI-088, CLI-090, CLI-142,
CLI-151, CLI-162; environment.md ENV-032).

Every test runs the installed ``kas`` against real git repositories made
in the temporary directory.  Repos use ``file://`` URLs: git ignores
``--depth`` for a plain local path, so only these really are shallow.

Upstream:

    main:  C0 -- C1 -- C2
    side:          \\-- C3
    tags:  3.0.1 -> C1 (lightweight), 4.3 -> C1 (annotated, object ANNOT),
           4.4 -> C2 (annotated)

Every target has history below it, so ``git rev-list --count HEAD`` is 1
only in a shallow clone.
"""

import collections
import json
import os
import shutil

import pytest
import yaml
from helpers.repos import git, make_git_repo, read, write
from helpers.run import clean_env, kas_ok, run_kas

Upstream = collections.namedtuple("Upstream", "path url c0 c1 c2 c3 annot")
NO_UPSTREAM = Upstream(*[""] * 7)

SHALLOW = {"KAS_CLONE_DEPTH": "1"}


def commit_file(repo, text, message):
    write(os.path.join(str(repo), "README"), text)
    git(repo, "commit", "-q", "-a", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_upstream(path):
    make_git_repo(path, {"README": "zero\n"})
    c0 = git(path, "rev-parse", "HEAD")
    c1 = commit_file(path, "one\n", "one")
    git(path, "tag", "3.0.1")
    git(path, "tag", "-a", "-m", "release 4.3", "4.3")
    c2 = commit_file(path, "two\n", "two")
    git(path, "tag", "-a", "-m", "release 4.4", "4.4")
    git(path, "checkout", "-q", "-b", "side", c1)
    c3 = commit_file(path, "three\n", "three")
    git(path, "checkout", "-q", "main")
    return Upstream(str(path), "file://" + str(path), c0, c1, c2, c3,
                    git(path, "rev-parse", "4.3"))


def copy_upstream(up, path):
    shutil.copytree(up.path, str(path))
    return up._replace(path=str(path), url="file://" + str(path))


def setup_project(workdir, repos, name="kas.yml"):
    """The init script and a config ``name`` with the local top repo
    ``this`` followed by ``repos`` (name -> repo dict)."""
    write(os.path.join(str(workdir), "oe-init-build-env"), 'mkdir -p "$1/conf"\n')
    config = {"header": {"version": 14}, "repos": {"this": None, **repos}}
    with open(os.path.join(str(workdir), name), "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)


def remote(url, **refs):
    return {"url": url, **refs}


def env(**extra):
    return clean_env(**extra)


def infos(result):
    return [line.split(" - INFO     - ", 1)[1]
            for line in result.stderr.splitlines() if " - INFO     - " in line]


def head(repo):
    return git(repo, "rev-parse", "HEAD")


def depth_of(repo):
    return int(git(repo, "rev-list", "--count", "HEAD"))


def local_branch(repo):
    name = git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    return None if name == "HEAD" else name


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The shared upstream; tests must not change it."""
    return make_upstream(tmp_path_factory.mktemp("upstream") / "up")


# --------------------------------------------------------------------------
# issue 16.2: KAS_CLONE_DEPTH with every kind of ref


def shallow_kinds(up):
    """repo name -> (repo entry, expected HEAD, expected local branch)."""
    url = up.url
    return {
        "light_tag": (remote(url, tag="3.0.1"), up.c1, None),
        "annotated_tag": (remote(url, tag="4.3"), up.c1, None),
        "light_tag_commit": (remote(url, tag="3.0.1", commit=up.c1), up.c1, None),
        "annotated_tag_commit": (remote(url, tag="4.3", commit=up.c1), up.c1, None),
        "annotated_tag_object": (remote(url, tag="4.3", commit=up.annot), up.c1, None),
        "absolute_tag_commit": (remote(url, tag="refs/tags/4.4", commit=up.c2), up.c2, None),
        "branch": (remote(url, branch="side"), up.c3, "side"),
        "branch_commit": (remote(url, branch="main", commit=up.c1), up.c1, "main"),
        "absolute_branch_commit": (remote(url, branch="refs/heads/side", commit=up.c3),
                                   up.c3, "side"),
        "commit": (remote(url, commit=up.c1), up.c1, None),
    }


SHALLOW_KINDS = tuple(shallow_kinds(NO_UPSTREAM))


@pytest.fixture(scope="module")
def shallow_runs(upstream, tmp_path_factory):
    """Two ``kas checkout`` runs with KAS_CLONE_DEPTH=1 of a project with
    every kind of ref; returns (work dir, first result, second result)."""
    workdir = tmp_path_factory.mktemp("shallow")
    setup_project(workdir, {name: entry for name, (entry, _, _)
                            in shallow_kinds(upstream).items()})
    first = kas_ok("checkout", "kas.yml", cwd=workdir, env=env(**SHALLOW))
    second = kas_ok("checkout", "kas.yml", cwd=workdir, env=env(**SHALLOW))
    return workdir, first, second


@pytest.mark.parametrize("name", SHALLOW_KINDS)
def test_shallow_clone_of_every_ref_kind(shallow_runs, upstream, name):
    """Issue 16.2 / CLI-086: with KAS_CLONE_DEPTH=1 repos pinned by tag
    (with or without commit), branch (with or without commit) and commit
    alone all check out, each with one commit of history."""
    workdir, _, _ = shallow_runs
    _, expected_head, expected_branch = shallow_kinds(upstream)[name]
    repo = workdir / name
    assert head(repo) == expected_head
    assert local_branch(repo) == expected_branch
    assert git(repo, "rev-parse", "--is-shallow-repository") == "true"
    assert depth_of(repo) == 1


def test_shallow_rerun_fetches_nothing(shallow_runs, upstream):
    """Issue 16.2 / CLI-088 step 5: a second run on the shallow clones
    clones and fetches nothing and leaves them as they were."""
    workdir, _, second = shallow_runs
    lines = infos(second)
    assert not [line for line in lines if line.startswith("Cloning")]
    assert not [line for line in lines if line.endswith(" updated")]
    for name in shallow_kinds(upstream):
        assert [line for line in lines
                if line.startswith(f"Repository {name} already contains ")], (name, lines)
    for name, (_, expected_head, _) in shallow_kinds(upstream).items():
        assert head(workdir / name) == expected_head
        assert depth_of(workdir / name) == 1


def test_shallow_update_moves_tags_and_branches(tmp_path, upstream):
    """Issue 16.2 / CLI-044: ``kas checkout --update`` on existing shallow
    clones after upstream moved on: tag and branch repos (short and
    ``refs/...`` forms) move to the new commit and stay shallow, the
    commit-pinned repo stays."""
    up = copy_upstream(upstream, tmp_path / "own-up")
    workdir = tmp_path / "work"
    repos = {"tag": remote(up.url, tag="3.0.1"),
             "absolute_tag": remote(up.url, tag="refs/tags/4.3"),
             "branch": remote(up.url, branch="side"),
             "absolute_branch": remote(up.url, branch="refs/heads/side"),
             "commit": remote(up.url, commit=up.c1)}
    setup_project(workdir, repos)
    kas_ok("checkout", "kas.yml", cwd=workdir, env=env(**SHALLOW))

    git(up.path, "checkout", "-q", "side")
    c4 = commit_file(up.path, "four\n", "four")
    git(up.path, "tag", "-f", "3.0.1", c4)
    git(up.path, "tag", "-f", "-a", "-m", "moved", "4.3", c4)
    result = kas_ok("checkout", "--update", "kas.yml", cwd=workdir, env=env(**SHALLOW))
    for name in ("tag", "absolute_tag", "branch", "absolute_branch"):
        assert f"Repository {name} updated" in infos(result)
        assert head(workdir / name) == c4, name
        assert depth_of(workdir / name) == 1, name
    assert local_branch(workdir / "absolute_branch") == "side"
    assert head(workdir / "commit") == up.c1


def test_shallow_tag_commit_mismatch(workdir, upstream):
    """Issue 16.2 / CLI-090 step 4: in a shallow clone a commit that is
    not the tag's is the tag/commit mismatch error (not a missing tag)."""
    setup_project(workdir, {"up": remote(upstream.url, tag="4.3", commit=upstream.c2)})
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=env(**SHALLOW))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.errors() == [
        (f'Provided tag "4.3" ("{upstream.c1}") does not match provided commit '
         f'"{upstream.c2}" in repository "up", aborting!')]


def test_shallow_legacy_refspec_is_full_clone(workdir, upstream):
    """Issue 16.2 / CLI-086: a legacy refspec repo keeps its warning and
    is cloned in full next to a shallow tag + commit repo.  (A non-numeric
    depth: test_git_repos.py::test_clone_depth_not_a_number.)"""
    setup_project(workdir, {"legacy": remote(upstream.url, refspec="main"),
                            "tag": remote(upstream.url, tag="4.4", commit=upstream.c2)})
    result = kas_ok("checkout", "kas.yml", cwd=workdir, env=env(**SHALLOW))
    assert ('Shallow cloning is not supported for legacy refspec on repository "legacy". '
            "Performing full clone." in result.warnings())
    assert depth_of(workdir / "legacy") == 3
    assert depth_of(workdir / "tag") == 1


# --------------------------------------------------------------------------
# issue 16.3: refs/heads/<name> and refs/tags/<name>


def ref_pairs(up):
    """pair name -> (short form entry, absolute form entry, HEAD, local branch)."""
    url = up.url
    return {
        "light_tag": (remote(url, tag="3.0.1"), remote(url, tag="refs/tags/3.0.1"),
                      up.c1, None),
        "annotated_tag": (remote(url, tag="4.3"), remote(url, tag="refs/tags/4.3"),
                          up.c1, None),
        "tag_commit": (remote(url, tag="4.4", commit=up.c2),
                       remote(url, tag="refs/tags/4.4", commit=up.c2), up.c2, None),
        "branch": (remote(url, branch="side"), remote(url, branch="refs/heads/side"),
                   up.c3, "side"),
        "branch_commit": (remote(url, branch="main", commit=up.c1),
                          remote(url, branch="refs/heads/main", commit=up.c1), up.c1, "main"),
    }


PAIRS = tuple(ref_pairs(NO_UPSTREAM))


def pair_repos(up):
    repos = {}
    for pair, (short, absolute, _, _) in ref_pairs(up).items():
        repos[f"short_{pair}"] = short
        repos[f"abs_{pair}"] = absolute
    return repos


@pytest.fixture(scope="module", params=["0", "1"], ids=["full", "shallow"])
def pairs_run(request, upstream, tmp_path_factory):
    """One ``kas checkout`` (full, then shallow) of every pair of repos."""
    workdir = tmp_path_factory.mktemp(f"pairs-{request.param}")
    setup_project(workdir, pair_repos(upstream))
    kas_ok("checkout", "kas.yml", cwd=workdir, env=env(KAS_CLONE_DEPTH=request.param))
    return workdir, request.param


@pytest.mark.parametrize("pair", PAIRS)
def test_absolute_ref_checks_out_like_short_form(pairs_run, upstream, pair):
    """Issue 16.3 / CLI-090: ``refs/tags/<t>`` and ``refs/heads/<b>`` check
    out exactly what ``<t>`` and ``<b>`` do (same commit, same local
    branch), in full and in shallow clones."""
    workdir, _ = pairs_run
    _, _, expected_head, expected_branch = ref_pairs(upstream)[pair]
    for repo in (workdir / f"short_{pair}", workdir / f"abs_{pair}"):
        assert head(repo) == expected_head, repo
        assert local_branch(repo) == expected_branch, repo


def test_absolute_ref_dump_resolve_refs(pairs_run, upstream):
    """Issue 16.3 / CLI-142: ``dump --resolve-refs`` adds the same commit
    to both forms and keeps the configured ``refs/...`` text."""
    workdir, depth = pairs_run
    result = kas_ok("dump", "--resolve-refs", "kas.yml", cwd=workdir,
                    env=env(KAS_CLONE_DEPTH=depth))
    dumped = yaml.safe_load(result.stdout)["repos"]
    for pair, (short, absolute, expected_head, _) in ref_pairs(upstream).items():
        assert dumped[f"short_{pair}"] == dict(short, commit=expected_head)
        assert dumped[f"abs_{pair}"] == dict(absolute, commit=expected_head)


def test_absolute_ref_update(tmp_path, upstream):
    """Issue 16.3 / CLI-044: ``--update`` moves absolute-form repos exactly
    like the short forms when upstream moves branch and tag."""
    up = copy_upstream(upstream, tmp_path / "own-up")
    workdir = tmp_path / "work"
    repos = {"short_tag": remote(up.url, tag="3.0.1"),
             "abs_tag": remote(up.url, tag="refs/tags/3.0.1"),
             "short_branch": remote(up.url, branch="side"),
             "abs_branch": remote(up.url, branch="refs/heads/side")}
    setup_project(workdir, repos)
    kas_ok("checkout", "kas.yml", cwd=workdir)
    git(up.path, "checkout", "-q", "side")
    c4 = commit_file(up.path, "four\n", "four")
    git(up.path, "tag", "-f", "3.0.1", c4)
    result = kas_ok("checkout", "--update", "kas.yml", cwd=workdir)
    for name in repos:
        assert f"Repository {name} updated" in infos(result)
        assert head(workdir / name) == c4, name
    assert local_branch(workdir / "abs_branch") == "side"


def test_absolute_ref_lock(tmp_path, upstream):
    """Issue 16.3 / CLI-151, CLI-152: ``kas lock`` pins absolute-form repos
    to the same commits as the short forms, writes the usual lock file,
    leaves the configured refs alone, and ``lock --update`` moves them."""
    up = copy_upstream(upstream, tmp_path / "own-up")
    workdir = tmp_path / "work"
    setup_project(workdir, {"short_tag": remote(up.url, tag="4.3"),
                            "abs_tag": remote(up.url, tag="refs/tags/4.3"),
                            "abs_branch": remote(up.url, branch="refs/heads/side")})
    config_text = read(workdir / "kas.yml")
    kas_ok("lock", "kas.yml", cwd=workdir)
    assert read(workdir / "kas.lock.yml") == (
        "header:\n  version: 14\noverrides:\n  repos:\n"
        f"    short_tag:\n      commit: {up.c1}\n"
        f"    abs_tag:\n      commit: {up.c1}\n"
        f"    abs_branch:\n      commit: {up.c3}\n")
    assert read(workdir / "kas.yml") == config_text

    git(up.path, "checkout", "-q", "side")
    c4 = commit_file(up.path, "four\n", "four")
    git(up.path, "tag", "-f", "-a", "-m", "moved", "4.3", c4)
    kas_ok("lock", "--update", "kas.yml", cwd=workdir)
    pins = yaml.safe_load(read(workdir / "kas.lock.yml"))["overrides"]["repos"]
    assert pins == {name: {"commit": c4} for name in ("short_tag", "abs_tag", "abs_branch")}
    kas_ok("checkout", "kas.yml", cwd=workdir)
    assert head(workdir / "abs_tag") == c4


def vcs_commit_ids(report):
    """repo -> commit ids of the ``vcs`` part of a ``diff --format json``."""
    return {repo: [entry["commit"] for entry in commits]
            for repo, commits in report.get("vcs", {}).items()}


def test_absolute_ref_diff(workdir, upstream):
    """Issue 16.3 / CLI-162: ``kas diff`` of a tag change 4.3 -> 4.4 lists
    the same commits whether the tags are written short or absolute."""
    url = upstream.url
    setup_project(workdir, {"short": remote(url, tag="4.3"),
                            "absolute": remote(url, tag="refs/tags/4.3"),
                            "branch": remote(url, branch="refs/heads/main",
                                             commit=upstream.c1)}, name="old.yml")
    setup_project(workdir, {"short": remote(url, tag="4.4"),
                            "absolute": remote(url, tag="refs/tags/4.4"),
                            "branch": remote(url, branch="refs/heads/main",
                                             commit=upstream.c2)}, name="new.yml")
    result = kas_ok("diff", "--format", "json", "old.yml", "new.yml", cwd=workdir)
    commits = vcs_commit_ids(json.loads(result.stdout))
    assert commits == {"short": [upstream.c2], "absolute": [upstream.c2],
                       "branch": [upstream.c2]}
