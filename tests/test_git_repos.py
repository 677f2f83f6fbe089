"""git repositories used through the real ``kas`` command (cli.md §3.1,
§4.1 ... §4.4, CLI-020 ... CLI-023, CLI-142; environment.md ENV-012,
ENV-030, ENV-032).

Every test runs the installed ``kas`` in a subprocess against real git
repositories made in the temporary directory: no mocks, no network.

Layout: the work directory (cwd, hence ``KAS_WORK_DIR``) holds ``kas.yml``
and the init script ``oe-init-build-env``; it is outside version control,
so it is the local top repository ``this`` that provides the init script
(``kas checkout`` runs ``setup_environ``).  Remote repos point at an
upstream repository made by a module-scoped fixture:

    main:  C1 -- C2             README "one" / "two"
    side:   \\-- C3             (side.txt; not contained in main)
    tags:  light -> C1 (lightweight), annot -> C1 (annotated, object ANNOT)

Tests that change the upstream or delete it work on a private copy.
"""

import collections
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from helpers.repos import git, make_git_repo, read, write
from helpers.run import clean_env, kas_command, kas_ok, run_kas

INIT_SCRIPT = 'mkdir -p "$1/conf"\n'

BRANCH_WARNING = ('Using branch without commit for repository "{}" is unsafe. '
                  "Either add a commit or use a lock file.")
TAG_WARNING = 'Using tag without commit for repository "{}" is unsafe as tags are mutable.'

MIRRORED_URL = "https://user@git.invalid.example:8443/foo/up.git"
# CLI-084: <netloc><path> with every @ : / * replaced by "."
MIRRORED_QUALIFIED_NAME = "user.git.invalid.example.8443.foo.up.git"

Upstream = collections.namedtuple("Upstream", "path c1 c2 c3 annot")
# Only for the case names used in @pytest.mark.parametrize.
NO_UPSTREAM = Upstream("", "", "", "", "")


# --------------------------------------------------------------------------
# helpers


def commit_file(repo, name, text, message):
    """Commit ``text`` as ``name`` in ``repo``; returns the new commit id."""
    write(os.path.join(str(repo), name), text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def make_upstream(path):
    """The upstream repository described in the module docstring."""
    make_git_repo(path, {"README": "one\n"})
    c1 = git(path, "rev-parse", "HEAD")
    git(path, "tag", "light")
    git(path, "tag", "-a", "-m", "annotated", "annot")
    c2 = commit_file(path, "README", "two\n", "second")
    git(path, "checkout", "-q", "-b", "side", c1)
    c3 = commit_file(path, "side.txt", "side\n", "side")
    git(path, "checkout", "-q", "main")
    return Upstream(str(path), c1, c2, c3, git(path, "rev-parse", "annot"))


def copy_upstream(upstream, path):
    """A private copy of ``upstream`` (same commit ids) at ``path``."""
    shutil.copytree(upstream.path, str(path))
    return upstream._replace(path=str(path))


def setup_project(workdir, repos, overrides=None):
    """Write the init script and ``kas.yml``: the local top repo ``this``
    followed by ``repos`` (name -> repo dict)."""
    write(os.path.join(str(workdir), "oe-init-build-env"), INIT_SCRIPT)
    config = {"header": {"version": 14}, "repos": {"this": None, **repos}}
    if overrides:
        config["overrides"] = {"repos": overrides}
    with open(os.path.join(str(workdir), "kas.yml"), "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)


def remote(url, **refs):
    """One repo entry: ``url`` plus the given commit/branch/tag/refspec/path."""
    return {"url": str(url), **refs}


def checkout(workdir, *args, env=None):
    """``kas checkout [args] kas.yml`` in ``workdir``, expecting success."""
    return kas_ok("checkout", *args, "kas.yml", cwd=workdir, env=env)


def checkout_fails(workdir, *args, env=None):
    """``kas checkout [args] kas.yml`` expecting a user error (CLI-020/021)."""
    result = run_kas("checkout", *args, "kas.yml", cwd=workdir, env=env)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    return result


def infos(result):
    return [line.split(" - INFO     - ", 1)[1]
            for line in result.stderr.splitlines() if " - INFO     - " in line]


def head(repo):
    return git(repo, "rev-parse", "HEAD")


def local_branch(repo):
    """The checked out local branch, or None for a detached HEAD."""
    proc = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "-q", "--short", "HEAD"],
                          check=False, stdout=subprocess.PIPE, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def is_shallow(repo):
    return git(repo, "rev-parse", "--is-shallow-repository") == "true"


def partials(workdir, name):
    """The temporary clone directories of repo ``name`` (kas/repos/fetch.py)."""
    return glob.glob(os.path.join(glob.escape(str(workdir)), f".{name}.kas-partial*"))


def premirror_env(target, **extra):
    """KAS_PREMIRRORS sending MIRRORED_URL to ``target``."""
    rule = f"^https://user@git\\.invalid\\.example:8443/foo/up\\.git$ {target}"
    return clean_env(KAS_PREMIRRORS=rule, **extra)


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The shared upstream; tests must not change it."""
    return make_upstream(tmp_path_factory.mktemp("upstream") / "up")


@pytest.fixture
def own_upstream(upstream, tmp_path):
    """A private copy of the upstream that the test may change or delete."""
    return copy_upstream(upstream, tmp_path / "own-up")


def ref_kinds(up):
    """repo name -> (repo entry, expected HEAD, expected local branch)."""
    return {
        "commit_only": (remote(up.path, commit=up.c1), up.c1, None),
        "branch_only": (remote(up.path, branch="side"), up.c3, "side"),
        "branch_commit": (remote(up.path, branch="main", commit=up.c1), up.c1, "main"),
        "light_tag": (remote(up.path, tag="light"), up.c1, None),
        "annotated_tag": (remote(up.path, tag="annot"), up.c1, None),
        "tag_and_commit": (remote(up.path, tag="annot", commit=up.c1), up.c1, None),
        "tag_and_tag_object": (remote(up.path, tag="annot", commit=up.annot), up.c1, None),
        "refs_heads_branch": (remote(up.path, branch="refs/heads/side"), up.c3, "side"),
        "legacy_refspec": (remote(up.path, refspec="main"), up.c2, "main"),
        # the ``overrides`` commit C1 (set in ref_kinds_run) wins over C2
        "overridden": (remote(up.path, branch="main", commit=up.c2), up.c1, "main"),
    }


REF_KIND_NAMES = tuple(ref_kinds(NO_UPSTREAM))


@pytest.fixture(scope="module")
def ref_kinds_run(upstream, tmp_path_factory):
    """One ``kas checkout`` of a project with every kind of reference."""
    workdir = tmp_path_factory.mktemp("refkinds")
    kinds = ref_kinds(upstream)
    setup_project(workdir, {name: entry for name, (entry, _, _) in kinds.items()},
                  overrides={"overridden": {"commit": upstream.c1}})
    return workdir, checkout(workdir)


# --------------------------------------------------------------------------
# CLI-080, CLI-088: where repos are cloned; the second run clones and fetches nothing


def test_clone_to_work_dir_then_no_clone_no_fetch(workdir, own_upstream):
    """CLI-080: cloned to <KAS_WORK_DIR>/<name>; CLI-088 step 5: a later run
    finds commit, tag and branch locally ("already contains") and does not
    touch the upstream, which is proven by deleting it."""
    up = own_upstream
    setup_project(workdir, {"up": remote(up.path, commit=up.c2),
                            "tagged": remote(up.path, tag="annot"),
                            "tracking": remote(up.path, branch="main")})
    first = checkout(workdir)
    for name in ("up", "tagged", "tracking"):
        assert f"Cloning repository {name}" in infos(first)
        assert os.path.isdir(workdir / name / ".git")
        assert partials(workdir, name) == []
    assert head(workdir / "up") == up.c2

    shutil.rmtree(up.path)
    second = checkout(workdir)
    assert not [line for line in infos(second) if line.startswith("Cloning")]
    assert not [line for line in infos(second) if line.endswith(" updated")]
    assert f"Repository up already contains {up.c2} as commit" in infos(second)
    assert "Repository tagged already contains annot as tag" in infos(second)
    assert "Repository tracking already contains main as commit" in infos(second)
    assert head(workdir / "up") == up.c2
    assert head(workdir / "tagged") == up.c1
    assert head(workdir / "tracking") == up.c2


def test_clone_to_relative_and_absolute_path(workdir, upstream, tmp_path):
    """CLI-080: ``path`` relative to KAS_WORK_DIR, or absolute."""
    absolute = tmp_path / "elsewhere" / "abs"
    setup_project(workdir, {"rel": remote(upstream.path, commit=upstream.c1,
                                          path="sub/dir/rel-copy"),
                            "abs": remote(upstream.path, commit=upstream.c2,
                                          path=str(absolute))})
    checkout(workdir)
    assert head(workdir / "sub" / "dir" / "rel-copy") == upstream.c1
    assert head(absolute) == upstream.c2
    assert not os.path.exists(workdir / "rel")
    assert not os.path.exists(workdir / "abs")
    assert partials(workdir / "sub" / "dir", "rel-copy") == []
    assert partials(tmp_path / "elsewhere", "abs") == []


# --------------------------------------------------------------------------
# CLI-090: what each kind of reference checks out


@pytest.mark.parametrize("name", REF_KIND_NAMES)
def test_checkout_of_reference_kind(ref_kinds_run, upstream, name):
    """CLI-090 steps 4-7: tags and commits detached (an annotated tag at
    its commit; tag+commit accepts the commit id and the tag object id),
    branches on a local branch made at origin/<branch> (``refs/heads/``
    removed from its name), legacy refspec checked out as given, an
    ``overrides`` commit applied; CLI-090 step 9 log line."""
    workdir, result = ref_kinds_run
    _, expected_head, expected_branch = ref_kinds(upstream)[name]
    assert head(workdir / name) == expected_head
    assert local_branch(workdir / name) == expected_branch
    if expected_branch:
        assert git(workdir / name, "rev-parse", expected_branch) == expected_head
    assert [line for line in infos(result)
            if line.startswith(f"Repository {name} checked out to ")]


def test_reference_kind_warnings(ref_kinds_run):
    """CLI-082: unpinned and legacy refspec warnings, once per repo."""
    _, result = ref_kinds_run
    expected = [
        BRANCH_WARNING.format("branch_only"),
        TAG_WARNING.format("light_tag"),
        TAG_WARNING.format("annotated_tag"),
        BRANCH_WARNING.format("refs_heads_branch"),
        ('Using deprecated refspec for repository "legacy_refspec". '
         "You should migrate to commit/tag/branch."),
    ]
    assert sorted(result.warnings()) == sorted(expected)


def test_dump_resolve_refs(ref_kinds_run, upstream):
    """CLI-142: every managed repo gets the full commit id of its ref in
    ``commit:`` (branch/tag kept; legacy refspec replaced by the id), the
    ``overrides`` section is dropped, the local repo is left alone."""
    workdir, _ = ref_kinds_run
    data = yaml.safe_load(kas_ok("dump", "--resolve-refs", "kas.yml", cwd=workdir).stdout)
    assert "overrides" not in data
    assert data["repos"]["this"] is None
    for name, (entry, expected_head, _) in ref_kinds(upstream).items():
        dumped = data["repos"][name]
        if "refspec" in entry:
            assert dumped == {"url": upstream.path, "refspec": expected_head}
            continue
        assert dumped == dict(entry, commit=expected_head), name


def test_branch_named_like_a_commit_id_step8(workdir, tmp_path):
    """CLI-090 step 8: a branch whose name is the 40-hex id of another
    commit can be checked out, and a commit pin with that id checks out
    the commit, not the (now local) branch of that name."""
    up = str(tmp_path / "sha-up")
    make_git_repo(up)
    older = head(up)
    newer = commit_file(up, "README", "newer\n", "newer")
    git(up, "branch", older, newer)
    setup_project(workdir, {"up": remote(up, branch=older)})
    checkout(workdir)
    assert local_branch(workdir / "up") == older
    assert head(workdir / "up") == newer

    setup_project(workdir, {"up": remote(up, commit=older)})
    checkout(workdir)
    assert local_branch(workdir / "up") is None
    assert head(workdir / "up") == older


# --------------------------------------------------------------------------
# §4.4 errors and CLI-091 warnings


def error_cases(up):
    """name -> (repo entry, the one expected ERROR message)."""
    return {
        "branch_missing": (remote(up.path, branch="nope"),
                           'Branch "nope" cannot be found in repository "up"'),
        "branch_lacks_commit": (
            remote(up.path, branch="main", commit=up.c3),
            f'Branch "main" in repository "up" does not contain commit "{up.c3}"'),
        "tag_commit_mismatch": (
            remote(up.path, tag="annot", commit=up.c2),
            (f'Provided tag "annot" ("{up.c1}") does not match provided commit "{up.c2}" '
             'in repository "up", aborting!')),
        "suspicious_commit": (
            remote(up.path, commit="main"),
            f"Parsed commit {up.c2} differs suspiciously from specified main."),
        "tag_and_branch": (
            remote(up.path, tag="light", branch="main"),
            'Both tag "light" and branch "main" cannot be specified for repository "up"'),
    }


@pytest.mark.parametrize("name", tuple(error_cases(NO_UPSTREAM)))
def test_checkout_errors(workdir, upstream, name):
    """CLI-090 steps 3-5, CLI-091: one ERROR with the exact text, exit 2,
    no traceback (CLI-020, CLI-021)."""
    entry, message = error_cases(upstream)[name]
    setup_project(workdir, {"up": entry})
    assert checkout_fails(workdir).errors() == [message]


def test_tag_not_found_step4(workdir, upstream):
    """CLI-090 step 4: a tag missing from the (existing) work copy; the
    fetch step is skipped so the checkout step sees it first."""
    subprocess.run(["git", "clone", "-q", upstream.path, str(workdir / "up")], check=True)
    setup_project(workdir, {"up": remote(upstream.path, tag="nope")})
    result = checkout_fails(workdir, "--skip", "finish_setup_repos")
    assert result.errors() == ['Tag "nope" cannot be found in repository "up"']


def test_short_commit_warning(workdir, upstream):
    """CLI-091: an abbreviated commit id works but warns on two lines."""
    short = upstream.c1[:12]
    setup_project(workdir, {"up": remote(upstream.path, commit=short)})
    result = checkout(workdir)
    assert (f' - WARNING  - {short} is not a full-length hash for repo "up".\n'
            "This eases supply chain attacks and will be an error in future versions.\n"
            in result.stderr)
    assert head(workdir / "up") == upstream.c1


def test_fetch_failure_leaves_nothing_behind(workdir, tmp_path):
    """CLI-023/CLI-088: ``Fetching of repo: "<name>" failed: <git stderr>``
    for a URL that is not a repository, exit 2; the failed clone leaves
    neither the repo directory nor its partial clone."""
    missing = tmp_path / "no-such-repo"
    setup_project(workdir, {"bad": remote(missing, branch="main")})
    errors = checkout_fails(workdir).errors()
    assert len(errors) == 1
    assert errors[0].startswith('Fetching of repo: "bad" failed: ')
    assert str(missing) in errors[0]
    assert not os.path.exists(workdir / "bad")
    assert partials(workdir, "bad") == []


def test_fetch_failure_passes_git_error_on_verbatim(workdir, own_upstream):
    """CLI-023: a failed fetch of a cloned repo quotes git's error output as
    git wrote it, its final newline included (an empty line in the log, as
    in kas 5.5's; found by bench/parity)."""
    setup_project(workdir, {"up": remote(own_upstream.path, branch="main")})
    checkout(workdir)
    shutil.rmtree(own_upstream.path)
    result = checkout_fails(workdir, "--update")
    assert result.errors()[0].startswith('Fetching of repo: "up" failed: fatal: ')
    assert result.stderr.endswith("and the repository exists.\n\n"), result


def test_branch_commit_not_yet_in_local_branch_is_fetched_step5(workdir,
                                                                        own_upstream):
    """CLI-088 step 5: with branch and commit, a commit that exists locally
    but is not contained in the local origin/<branch> makes kas fetch
    (upstream merged ``side`` into ``main`` after the work copy was made)."""
    up = own_upstream
    subprocess.run(["git", "clone", "-q", up.path, str(workdir / "up")], check=True)
    git(up.path, "merge", "-q", "--no-edit", "side")
    setup_project(workdir, {"up": remote(up.path, branch="main", commit=up.c3)})
    result = checkout(workdir)
    assert "Repository up updated" in infos(result)
    assert git(workdir / "up", "rev-parse", "origin/main") == head(up.path)
    assert head(workdir / "up") == up.c3
    assert local_branch(workdir / "up") == "main"


# --------------------------------------------------------------------------
# CLI-085, CLI-086, CLI-088 step 6: the clone and fetch commands, seen by a
# ``git`` on PATH that logs its working directory and arguments before it
# runs the real git


def logging_git(directory, log_file):
    """Put a logging ``git`` wrapper into ``directory``; returns its PATH."""
    wrapper = os.path.join(str(directory), "git")
    write(wrapper, f"""
        #!/bin/sh
        printf '%s$ %s\\n' "$(pwd -P)" "$*" >> '{log_file}'
        exec '{shutil.which("git")}' "$@"
        """)
    os.chmod(wrapper, 0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


def command_cases(up):
    """name -> (repo entry, shallow?, expected ``git clone`` arguments up to
    the source URL, expected ``git fetch`` arguments)."""
    url, file_url = up.path, "file://" + up.path
    return {
        # CLI-088 writes "+<tag>:refs/tags/<tag>"; we name the source ref
        # fully so that a branch of the same name can never be fetched as
        # the tag (deliberate, documented deviation).
        "tag": (remote(url, tag="light"), False, f"-q -- {url}",
                "-q origin +refs/tags/light:refs/tags/light"),
        # issue 16.3: refs/heads/side is the branch side, kept where a
        # clone keeps side (CLI-088 would write .../origin/heads/side).
        "refs_branch": (remote(url, branch="refs/heads/side"), False, f"-q -- {url}",
                        "-q origin +refs/heads/side:refs/remotes/origin/side"),
        "plain_branch": (remote(url, branch="main"), False, f"-q -- {url}", "-q"),
        "shallow_commit": (remote(file_url, branch="main", commit=up.c1), True,
                           f"-q --depth 1 --branch main -- {file_url}",
                           f"-q --depth 1 origin {up.c1}"),
        "shallow_branch": (remote(file_url, branch="side"), True,
                           f"-q --depth 1 --branch side -- {file_url}",
                           "-q --depth 1 origin +side:refs/remotes/origin/side"),
    }


@pytest.fixture(scope="module")
def command_log(upstream, tmp_path_factory):
    """Two ``kas checkout --update`` runs (full and KAS_CLONE_DEPTH=1)
    through the logging git; returns (work dirs by depth, logged lines)."""
    base = tmp_path_factory.mktemp("commands")
    log_file = base / "git.log"
    (base / "bin").mkdir()
    path = logging_git(base / "bin", log_file)
    cases = command_cases(upstream)
    workdirs = {}
    for shallow in (False, True):
        workdir = workdirs[shallow] = base / f"work-{int(shallow)}"
        workdir.mkdir()
        setup_project(workdir, {name: entry for name, (entry, depth, _, _) in cases.items()
                                if depth == shallow})
        env = clean_env(PATH=path, KAS_CLONE_DEPTH="1" if shallow else "0")
        checkout(workdir, "--update", env=env)
    return workdirs, log_file.read_text().splitlines()


def git_calls(lines, cwd, command):
    """Arguments of the logged ``git <command> ...`` calls run in ``cwd``."""
    prefix = f"{os.path.realpath(str(cwd))}$ {command} "
    return [line[len(prefix):] for line in lines if line.startswith(prefix)]


@pytest.mark.parametrize("name", tuple(command_cases(NO_UPSTREAM)))
def test_fetch_command_step6(command_log, upstream, name):
    """CLI-088 step 6 / CLI-086: the refspec fetched for each kind of ref."""
    workdirs, lines = command_log
    _, shallow, _, fetch = command_cases(upstream)[name]
    assert git_calls(lines, workdirs[shallow] / name, "fetch") == [fetch]


def is_clone_target(path, name):
    """Whether git clones repo ``name`` into ``path``: the repo path or
    the clone in its private partial directory (issue 21.1)."""
    parent, base = os.path.split(path)
    return base == name or (base == "repo"
                            and os.path.basename(parent).startswith(f".{name}.kas-partial."))


@pytest.mark.parametrize("name", tuple(command_cases(NO_UPSTREAM)))
def test_clone_command(command_log, upstream, name):
    """CLI-085/CLI-086: ``git clone -q [--depth N --branch B] -- <url> <dir>``
    (the directory is the repo path or its temporary partial clone)."""
    workdirs, lines = command_log
    _, shallow, clone, _ = command_cases(upstream)[name]
    calls = [args for args in git_calls(lines, workdirs[shallow], "clone")
             if is_clone_target(args.rsplit(" ", 1)[-1], name)]
    assert [args.rsplit(" ", 1)[0] for args in calls] == [clone]


# --------------------------------------------------------------------------
# CLI-044, CLI-088: --update


def test_update_moves_only_unpinned_repos(workdir, own_upstream):
    """CLI-044, CLI-088: Upstream moves on (new commit on main, tag ``light`` moved to it).
    Without --update the branch and tag repos are "already contains" and
    stay; with --update they are fetched ("updated") and end at the new
    state, without the unpinned warnings (CLI-082); a commit-pinned repo
    is not updated and kas warns about it."""
    up = own_upstream
    setup_project(workdir, {"up": remote(up.path, branch="main"),
                            "tagged": remote(up.path, tag="light"),
                            "pinned": remote(up.path, commit=up.c1)})
    checkout(workdir)
    new_head = commit_file(up.path, "README", "three\n", "third")
    git(up.path, "tag", "-f", "light", new_head)

    stale = checkout(workdir)
    assert "Repository up already contains main as commit" in infos(stale)
    assert "Repository tagged already contains light as commit" in infos(stale)
    assert head(workdir / "up") == up.c2
    assert git(workdir / "up", "rev-parse", "origin/main") == up.c2
    assert head(workdir / "tagged") == up.c1
    assert not [w for w in stale.warnings() if w.startswith("Update of")]

    updated = checkout(workdir, "--update")
    assert "Repository up updated" in infos(updated)
    assert "Repository tagged updated" in infos(updated)
    assert head(workdir / "up") == new_head
    assert local_branch(workdir / "up") == "main"
    assert head(workdir / "tagged") == new_head
    assert updated.warnings() == [
        'Update of "pinned" requested, but repo is pinned to a fixed commit. Not updating.']
    assert head(workdir / "pinned") == up.c1


# --------------------------------------------------------------------------
# CLI-090 step 2, CLI-043: dirty work trees


def test_dirty_repo_kept_unless_force_checkout(workdir, upstream):
    """CLI-090 step 2: a modified tracked file blocks the checkout with a
    WARNING and is kept; CLI-043: --force-checkout discards it and checks
    out the configured commit."""
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c1)})
    checkout(workdir)
    readme = workdir / "up" / "README"
    readme.write_text("local change\n")
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c2)})

    result = checkout(workdir)
    assert "Repo up is dirty - no checkout" in result.warnings()
    assert readme.read_text() == "local change\n"
    assert head(workdir / "up") == upstream.c1

    forced = checkout(workdir, "--force-checkout")
    assert "Repo up is dirty - no checkout" not in forced.warnings()
    assert readme.read_text() == "two\n"
    assert head(workdir / "up") == upstream.c2


def test_staged_change_is_dirty_step2(workdir, upstream):
    """CLI-090 step 2 names ``git diff --stat`` (unstaged changes only); we
    also count staged changes as local modifications, so a staged file is
    never carried into or lost by a checkout (deliberate deviation)."""
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c1)})
    checkout(workdir)
    write(os.path.join(str(workdir / "up"), "staged.txt"), "staged\n")
    git(workdir / "up", "add", "staged.txt")
    assert git(workdir / "up", "diff", "--stat") == ""
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c2)})
    result = checkout(workdir)
    assert "Repo up is dirty - no checkout" in result.warnings()
    assert head(workdir / "up") == upstream.c1
    assert git(workdir / "up", "diff", "--cached", "--name-only") == "staged.txt"


# --------------------------------------------------------------------------
# CLI-083, CLI-085: origin URL


def test_origin_follows_configured_url(workdir, upstream, tmp_path):
    """CLI-085: a changed ``url`` (another clone of the same upstream)
    becomes the origin of the existing work copy."""
    setup_project(workdir, {"up": remote(upstream.path, branch="main")})
    checkout(workdir)
    assert git(workdir / "up", "remote", "get-url", "origin") == upstream.path

    mirror = str(tmp_path / "mirror.git")
    subprocess.run(["git", "clone", "-q", "--bare", upstream.path, mirror], check=True)
    setup_project(workdir, {"up": remote(mirror, branch="main")})
    checkout(workdir)
    assert git(workdir / "up", "remote", "get-url", "origin") == mirror


def test_premirrors_rewrite_url(workdir, upstream):
    """ENV-030/CLI-083: the first rule whose regex matches at the start of
    the URL is applied; malformed lines (not exactly two fields) are
    ignored; origin is the effective URL."""
    url = "https://git.invalid.example/foo/up.git"
    rules = [
        "https://git\\.invalid\\.example/ /nonexistent too-many-fields",
        "lonely-field",
        "",
        "invalid\\.example /nonexistent-no-match-at-start",
        f"^https://git\\.invalid\\.example/foo/up\\.git$ {upstream.path}",
        "^https://.* /nonexistent-after-first-match",
    ]
    setup_project(workdir, {"up": remote(url, commit=upstream.c2)})
    checkout(workdir, env=clean_env(KAS_PREMIRRORS="\n".join(rules)))
    assert head(workdir / "up") == upstream.c2
    assert git(workdir / "up", "remote", "get-url", "origin") == upstream.path


# --------------------------------------------------------------------------
# CLI-084, ENV-012: reference repositories


def assert_uses_reference(repo, reference):
    alternates = os.path.join(str(repo), ".git", "objects", "info", "alternates")
    with open(alternates) as f:
        paths = [os.path.realpath(line.strip()) for line in f if line.strip()]
    assert os.path.realpath(os.path.join(reference, "objects")) in paths


def test_reference_repo(workdir, upstream, tmp_path):
    """CLI-084: The reference dir is created if missing (ENV-012); the bare, full
    reference clone is named after the configured (not the mirrored) URL
    and is not shallow even with KAS_CLONE_DEPTH; the work copy borrows
    its objects and has the effective URL as origin (CLI-083)."""
    ref_dir = tmp_path / "refs" / "nested"
    effective = "file://" + upstream.path   # a transport where --depth is honoured
    setup_project(workdir, {"up": remote(MIRRORED_URL, branch="main")})
    checkout(workdir, env=premirror_env(effective, KAS_REPO_REF_DIR=str(ref_dir),
                                        KAS_CLONE_DEPTH="1"))
    assert os.listdir(ref_dir) == [MIRRORED_QUALIFIED_NAME]
    reference = str(ref_dir / MIRRORED_QUALIFIED_NAME)
    assert git(reference, "rev-parse", "--is-bare-repository") == "true"
    assert not is_shallow(reference)
    assert_uses_reference(workdir / "up", reference)
    assert git(workdir / "up", "remote", "get-url", "origin") == effective
    assert head(workdir / "up") == upstream.c2


def test_reference_dir_shared_by_concurrent_runs(upstream, tmp_path):
    """CLI-084: Two kas instances creating the same reference repo at once both
    succeed and leave exactly one reference repo, no temporary clones."""
    ref_dir = tmp_path / "refs"
    ref_dir.mkdir()
    env = premirror_env(upstream.path, KAS_REPO_REF_DIR=str(ref_dir))
    workdirs = [tmp_path / "w1", tmp_path / "w2"]
    procs = []
    for workdir in workdirs:
        workdir.mkdir()
        setup_project(workdir, {"up": remote(MIRRORED_URL, commit=upstream.c1)})
        procs.append(subprocess.Popen(kas_command() + ["checkout", "kas.yml"], cwd=workdir,
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert os.listdir(ref_dir) == [MIRRORED_QUALIFIED_NAME]
    for workdir in workdirs:
        assert_uses_reference(workdir / "up", str(ref_dir / MIRRORED_QUALIFIED_NAME))
        assert head(workdir / "up") == upstream.c1


# Stands in for git on the PATH: the bare clone of a reference repository
# kills the kas that started it (as kill -9 or a crash would); anything
# else is the real git.
KILLING_GIT = """#!/bin/sh
case " $* " in
    *" --bare "*) kill -9 "$PPID"; exit 1 ;;
esac
exec {git} "$@"
"""


def test_reference_clone_left_by_a_killed_run_is_removed(workdir, upstream, tmp_path):
    """Issue 26.4: a run killed while it clones the reference repository
    leaves its temporary clone in KAS_REPO_REF_DIR; the next run removes
    it, so only the reference repository remains."""
    ref_dir = tmp_path / "refs"
    fake_bin = tmp_path / "bin"
    write(fake_bin / "git", KILLING_GIT.format(git=shutil.which("git")))
    os.chmod(fake_bin / "git", 0o755)
    setup_project(workdir, {"up": remote(MIRRORED_URL, commit=upstream.c1)})
    env = premirror_env(upstream.path, KAS_REPO_REF_DIR=str(ref_dir))
    killed = run_kas("checkout", "kas.yml", cwd=workdir,
                     env=dict(env, PATH=f"{fake_bin}{os.pathsep}{env['PATH']}"))
    assert killed.returncode == -9, killed
    left = os.listdir(ref_dir)
    assert left and MIRRORED_QUALIFIED_NAME not in left, left
    checkout(workdir, env=env)
    assert os.listdir(ref_dir) == [MIRRORED_QUALIFIED_NAME]
    assert_uses_reference(workdir / "up", str(ref_dir / MIRRORED_QUALIFIED_NAME))
    assert head(workdir / "up") == upstream.c1


# --------------------------------------------------------------------------
# CLI-086, ENV-032: shallow clones


def test_clone_depth_shallow(workdir, upstream):
    """CLI-086, ENV-032: KAS_CLONE_DEPTH=1: shallow clones; branch+commit with a commit
    below the (shallow) branch head works because the contains check is
    skipped; legacy refspec repos are cloned in full with a warning."""
    url = "file://" + upstream.path      # local paths would ignore --depth
    setup_project(workdir, {"tip": remote(url, branch="main"),
                            "pinned": remote(url, branch="main", commit=upstream.c1),
                            "legacy": remote(url, refspec="main")})
    result = checkout(workdir, env=clean_env(KAS_CLONE_DEPTH="1"))
    assert is_shallow(workdir / "tip")
    assert head(workdir / "tip") == upstream.c2
    assert is_shallow(workdir / "pinned")
    assert head(workdir / "pinned") == upstream.c1
    assert local_branch(workdir / "pinned") == "main"
    assert not is_shallow(workdir / "legacy")
    assert ('Shallow cloning is not supported for legacy refspec on repository "legacy". '
            "Performing full clone." in result.warnings())


@pytest.mark.parametrize("depth", ["one", "-1"])
def test_clone_depth_not_a_number(workdir, upstream, depth):
    """CLI-086: ENV-032/CLI-023: only non-negative integers are accepted."""
    setup_project(workdir, {"up": remote(upstream.path, branch="main")})
    result = checkout_fails(workdir, env=clean_env(KAS_CLONE_DEPTH=depth))
    assert result.errors() == ["KAS_CLONE_DEPTH must be a number"]


# --------------------------------------------------------------------------
# atomic clones and parallel fetch (CLI-087, CLI-088 step 2)


def test_stale_partial_clone_is_replaced(workdir, upstream):
    """CLI-088, issue 21.1: a partial clone left by a killed run (nobody
    holds its owner lock) is removed, the clone succeeds and no partial
    directory remains."""
    stale = workdir / ".up.kas-partial.killed"
    write(stale / "repo" / "junk", "left over\n")
    write(stale / "owner.lock", "999999\n")
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c2)})
    checkout(workdir)
    assert partials(workdir, "up") == []
    assert head(workdir / "up") == upstream.c2
    assert not os.path.exists(workdir / "up" / "junk")


HOLD_LOCK = """
import sys, time
from kas.fslock import FileLock
FileLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_partial_clone_of_a_live_process_is_left_alone(workdir, upstream):
    """Issue 21.1: a partial clone is private to the process making it:
    while its owner (here a real process holding the owner lock) lives,
    another run leaves it alone; once the owner is gone, the next run
    removes it."""
    live = workdir / ".up.kas-partial.live"
    write(live / "repo" / "junk", "being cloned\n")
    owner = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(live / "owner.lock")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline() == "locked\n"
        setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c2)})
        checkout(workdir)
        assert head(workdir / "up") == upstream.c2
        assert read(live / "repo" / "junk") == "being cloned\n"
    finally:
        owner.kill()
        owner.wait()
    checkout(workdir)
    assert partials(workdir, "up") == []


def test_parallel_fetch_reports_the_failing_repo(workdir, upstream, tmp_path):
    """CLI-087: one bad URL among several repos fails the run with that
    repo's fetch error (CLI-023), exit 2."""
    missing = tmp_path / "no-such-repo"
    setup_project(workdir, {"a": remote(upstream.path, commit=upstream.c1),
                            "bad": remote(missing, commit=upstream.c1),
                            "b": remote(upstream.path, tag="light"),
                            "c": remote(upstream.path, branch="side")})
    errors = checkout_fails(workdir).errors()
    assert len(errors) == 1, errors
    assert errors[0].startswith('Fetching of repo: "bad" failed: ')
    assert not os.path.exists(workdir / "bad")


def test_fetch_jobs_one(workdir, upstream):
    """CLI-087: KAS_FETCH_JOBS=1 (one fetch at a time) still fetches every repo."""
    repos = {f"r{i}": remote(upstream.path, commit=upstream.c1) for i in range(4)}
    setup_project(workdir, repos)
    checkout(workdir, env=clean_env(KAS_FETCH_JOBS="1"))
    for name in repos:
        assert head(workdir / name) == upstream.c1


# --------------------------------------------------------------------------
# CLI-040, CLI-042: --skip


def test_skip_repos_checkout_leaves_default_branch(workdir, upstream):
    """CLI-040/CLI-042: ``--skip repos_checkout`` fetches but does not
    check out, so the fresh clone stays on the upstream default branch."""
    setup_project(workdir, {"up": remote(upstream.path, branch="side")})
    result = checkout(workdir, "--skip", "repos_checkout")
    assert local_branch(workdir / "up") == "main"
    assert head(workdir / "up") == upstream.c2
    assert not [line for line in infos(result) if " checked out to " in line]


def test_skip_unknown_step_is_argument_error(workdir, upstream):
    """CLI-042/CLI-021: an unknown step is an argparse error listing the
    choices, exit 2, before anything is fetched."""
    setup_project(workdir, {"up": remote(upstream.path, branch="side")})
    result = checkout_fails(workdir, "--skip", "no_such_step")
    assert "usage:" in result.stderr
    [error] = [line for line in result.stderr.splitlines()
               if line.startswith("kas checkout: error: ")]
    assert "invalid choice: 'no_such_step'" in error
    assert "repos_checkout" in error
    assert not os.path.exists(workdir / "up")


def test_debug_level_logs_every_command(workdir, upstream):
    """CLI-013: ``<cwd>$ <command>`` for each external command at debug level."""
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c1)})
    result = run_kas("-l", "debug", "checkout", "kas.yml", cwd=workdir)
    assert result.returncode == 0, result
    lines = [line.split(" - DEBUG    - ", 1)[1] for line in result.stderr.splitlines()
             if " - DEBUG    - " in line]
    clone = re.compile(re.escape(f"{workdir}$ git clone -q -- {upstream.path} {workdir}/")
                       + r"\.up\.kas-partial\.[^/]+/repo")
    assert [line for line in lines if clone.fullmatch(line)], lines
    assert f"{workdir / 'up'}$ git checkout -q {upstream.c1}^{{commit}}" in lines
    assert "execute repos_checkout" in lines


def test_directory_that_is_not_a_checkout_is_refused(tmp_path, upstream):
    """CLI-080: A plain directory at a repo's path inside the user's own git project
    must not make kas run git there: git would act on the user's project
    (set its origin, check out another commit)."""
    project = tmp_path / "project"
    make_git_repo(project, {"README": "mine\n"}, origin="https://example.org/mine.git")
    before = git(project, "rev-parse", "HEAD")
    write(project / "kas.yml", f"""
        header:
          version: 23
        repos:
          up:
            url: {upstream.path}
            commit: {upstream.c1}
        """)
    write(project / "up" / "notes.txt", "not a clone\n")
    result = run_kas("checkout", "kas.yml", cwd=project)
    assert result.returncode == 2, result
    assert result.errors() == [
        (f'Cannot use {project / "up"} for repository "up": it exists but is not a git '
        "checkout. Move it away or fix the repo's path.")]
    assert git(project, "remote", "get-url", "origin") == "https://example.org/mine.git"
    assert git(project, "rev-parse", "HEAD") == before
    assert (project / "up" / "notes.txt").read_text() == "not a clone\n"


def test_empty_directory_at_repo_path_is_cloned_into(workdir, upstream):
    setup_project(workdir, {"up": remote(upstream.path, commit=upstream.c1)})
    (workdir / "up").mkdir()
    kas_ok("checkout", "kas.yml", cwd=workdir)
    assert head(workdir / "up") == upstream.c1
