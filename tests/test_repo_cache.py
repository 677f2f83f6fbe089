"""The managed repo cache (KAS_REPO_CACHE_DIR) and offline mode (KAS_OFFLINE),
issue 19.1 and 19.2.

Every test runs the real ``kas`` on real git or hg repositories made here.
A remote is made unreachable by renaming its directory: the tests run as
root, for whom ``chmod 000`` changes nothing.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from helpers.repos import INIT_SCRIPT, Project, git, make_git_repo, write
from helpers.run import clean_env

HG_ENV = {"HGPLAIN": "1", "HGRCPATH": ""}


def commit(repo, text):
    write(os.path.join(repo, "file.txt"), text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", text.strip())
    return git(repo, "rev-parse", "HEAD")


def hg(repo, *args):
    return subprocess.run(["hg", "--cwd", str(repo), *args], check=True, text=True,
                          env=clean_env(**HG_ENV), stdout=subprocess.PIPE).stdout.strip()


def make_hg_repo(path):
    os.makedirs(path)
    hg(path, "init")
    write(os.path.join(path, "a.txt"), "one\n")
    hg(path, "commit", "-q", "-A", "-u", "test", "-m", "one")
    return hg(path, "log", "-r", ".", "-T", "{node}")


def work_dir(root, name="work"):
    """A work dir (an empty directory, the top repo) with the init script."""
    return Project(os.path.join(str(root), name), git=False, init_script=INIT_SCRIPT)


def configure(project, repos):
    """kas.yml with ``repos`` besides the top repo."""
    project.config({"header": {"version": 14}, "repos": {"top": None, **repos}})


def cache_env(project, cache, **extra):
    """The environment of a run with the repo cache ``cache`` (None: none)."""
    values = {"KAS_WORK_DIR": str(project.path), **extra}
    if cache is not None:
        values["KAS_REPO_CACHE_DIR"] = str(cache)
    return project.env(**values)


def checkout(project, cache, **extra):
    return project.kas_ok("checkout", "kas.yml", env=cache_env(project, cache, **extra))


def head_of(project, name):
    return git(project.file(name), "rev-parse", "HEAD")


def cache_fetches(result):
    return result.stderr.count("into the repo cache")


def entries(cache, vcs="git"):
    base = os.path.join(str(cache), vcs)
    return sorted(n for n in os.listdir(base) if not n.endswith(".lock"))


def unreachable(path):
    """Rename ``path`` away (context manager): the remote is gone meanwhile."""
    class Away:
        def __enter__(self):
            os.rename(path, path + ".away")

        def __exit__(self, *exc):
            os.rename(path + ".away", path)
    return Away()


@pytest.fixture
def upstream(tmp_path):
    path = make_git_repo(tmp_path / "remotes" / "up")
    return os.path.realpath(path)


# --- 19.1: the cache ----------------------------------------------------------

def test_cache_entry_created_and_served_locally(tmp_path, upstream):
    """Issue 19.1: first use creates a bare entry (no credentials, no remote
    stored in it); the checkout owns its objects (no alternates) and its
    origin is the configured URL."""
    cache = tmp_path / "cache"
    url = "file://" + upstream
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": url, "branch": "main"}})
    result = checkout(project, cache)
    assert cache_fetches(result) == 1
    [entry] = entries(cache)
    entry_path = os.path.join(str(cache), "git", entry)
    assert git(entry_path, "rev-parse", "--is-bare-repository") == "true"
    with open(os.path.join(entry_path, "config")) as f:
        assert "url" not in f.read()
    repo = project.file("up")
    assert not os.path.exists(os.path.join(repo, ".git", "objects", "info", "alternates"))
    assert git(repo, "remote", "get-url", "origin") == url
    assert head_of(project, "up") == git(upstream, "rev-parse", "HEAD")


def test_no_credentials_in_cache_paths_or_config(tmp_path, upstream):
    """Issue 19.1: a URL with user:password@ leaves no credential in the cache."""
    cache = tmp_path / "cache"
    project = work_dir(tmp_path)
    # The premirror turns the credential URL into the reachable local one.
    url = "https://user:s3cret@example.invalid/up.git"
    configure(project, {"up": {"url": url, "branch": "main"}})
    checkout(project, cache, KAS_PREMIRRORS=f"https://.*/up.git file://{upstream}")
    for root, dirs, files in os.walk(str(cache)):
        for name in dirs + files:
            assert "s3cret" not in name and "user" not in name
            path = os.path.join(root, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    assert b"s3cret" not in f.read(), path
    # The work dir's origin is the effective URL, as without the cache.
    assert git(project.file("up"), "remote", "get-url", "origin") == \
        f"file://{upstream}"


def test_branch_refreshed_when_the_remote_moves(tmp_path, upstream):
    """Issue 19.1: a fresh work dir on a branch gets the remote's new tip
    through the cache (one remote fetch), and --update of an existing work
    dir too."""
    cache = tmp_path / "cache"
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"url": upstream, "branch": "main"}})
    checkout(first, cache)
    new = commit(upstream, "two\n")
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"url": upstream, "branch": "main"}})
    result = checkout(second, cache)
    assert cache_fetches(result) == 1
    assert head_of(second, "up") == new
    newer = commit(upstream, "three\n")
    result = first.kas_ok("checkout", "--update", "kas.yml", env=cache_env(first, cache))
    assert cache_fetches(result) == 1
    assert head_of(first, "up") == newer


def test_pinned_commit_needs_no_remote(tmp_path, upstream):
    """Issue 19.1: a commit the cache holds is served with the remote gone."""
    cache = tmp_path / "cache"
    pinned = git(upstream, "rev-parse", "HEAD")
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"url": upstream, "commit": pinned, "branch": "main"}})
    checkout(first, cache)
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"url": upstream, "commit": pinned, "branch": "main"}})
    with unreachable(upstream):
        result = checkout(second, cache)
    assert cache_fetches(result) == 0
    assert head_of(second, "up") == pinned


def test_cache_deleted_under_existing_work_dirs(tmp_path, upstream):
    """Issue 19.1: work dirs own their objects: after the cache is removed
    they still work (history, checkout of another commit) with the cache
    still configured and the remote gone, and the next run that needs the
    remote rebuilds the cache."""
    cache = tmp_path / "cache"
    old = git(upstream, "rev-parse", "HEAD")
    new = commit(upstream, "two\n")
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "commit": new, "branch": "main"}})
    checkout(project, cache)
    [entry] = entries(cache)
    shutil.rmtree(str(cache))
    repo = project.file("up")
    git(repo, "fsck", "--no-progress")
    configure(project, {"up": {"url": upstream, "commit": old, "branch": "main"}})
    with unreachable(upstream):
        checkout(project, cache)
    assert head_of(project, "up") == old
    newer = commit(upstream, "three\n")
    configure(project, {"up": {"url": upstream, "branch": "main"}})
    result = project.kas_ok("checkout", "--update", "kas.yml", env=cache_env(project, cache))
    assert cache_fetches(result) == 1
    assert entries(cache) == [entry]
    git(os.path.join(str(cache), "git", entry), "fsck", "--no-progress")
    assert git(os.path.join(str(cache), "git", entry), "rev-parse", "refs/heads/main") == newer
    assert head_of(project, "up") == newer


def corrupt_objects(entry_path):
    """Replace every object file of the entry by garbage (new files: the
    hard-linked copies in work dirs keep the good contents)."""
    for root, _, files in os.walk(os.path.join(entry_path, "objects")):
        for name in files:
            if name.endswith((".pack", ".idx")) or len(name) == 38:
                path = os.path.join(root, name)
                os.remove(path)
                with open(path, "w") as f:
                    f.write("garbage\n")


@pytest.mark.parametrize("pinned", [False, True])
def test_broken_entry_rebuilt(tmp_path, upstream, pinned):
    """Issue 19.1: an entry whose objects are corrupt is detected, reported
    as a warning and rebuilt from the remote; the run succeeds (for a
    branch, which asks the remote, and for a pinned commit the entry
    seemingly holds)."""
    cache = tmp_path / "cache"
    head = git(upstream, "rev-parse", "HEAD")
    ref = {"commit": head, "branch": "main"} if pinned else {"branch": "main"}
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"url": upstream, **ref}})
    checkout(first, cache)
    [entry] = entries(cache)
    corrupt_objects(os.path.join(str(cache), "git", entry))
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"url": upstream, **ref}})
    result = checkout(second, cache)
    assert any("is broken" in w and "rebuilding" in w for w in result.warnings()), result
    assert head_of(second, "up") == head
    git(os.path.join(str(cache), "git", entry), "fsck", "--no-progress")
    git(first.file("up"), "fsck", "--no-progress")


def test_interrupted_creation_is_not_an_entry(tmp_path, upstream):
    """Issue 19.1: a directory left by an interrupted first fetch (no
    completion stamp) is rebuilt, not used."""
    cache = tmp_path / "cache"
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "main"}})
    checkout(project, cache)
    [entry] = entries(cache)
    os.remove(os.path.join(str(cache), "git", entry, "kas-fetched"))
    shutil.rmtree(project.file("up"))
    result = checkout(project, cache)
    assert any("is broken" in w for w in result.warnings()), result


def test_ref_dir_ignored_with_a_warning(tmp_path, upstream):
    """Issue 19.1: with both variables set the cache wins, with one warning."""
    cache, refs = tmp_path / "cache", tmp_path / "refs"
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "main"},
                        "up2": {"url": upstream, "branch": "main", "path": "up2"}})
    result = checkout(project, cache, KAS_REPO_REF_DIR=str(refs))
    assert [w for w in result.warnings() if "KAS_REPO_REF_DIR" in w] == [
        "KAS_REPO_REF_DIR is ignored: KAS_REPO_CACHE_DIR is set and takes its place"]
    assert not refs.exists() or os.listdir(str(refs)) == []
    assert len(entries(cache)) == 1


CONCURRENT = r"""
import subprocess, sys
procs = [subprocess.Popen(sys.argv[1:], cwd=d, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) for d in ({dirs!r})]
for p in procs:
    out, err = p.communicate()
    sys.stdout.write(f"RC {{p.returncode}}\n" + err + "\n----\n")
"""


def test_two_processes_share_a_cold_cache(tmp_path):
    """Issue 19.3: two kas processes check out the same 20 repos through one
    cold cache at once: both succeed and each entry is fetched once."""
    cache = tmp_path / "cache"
    repos = {}
    for i in range(20):
        path = os.path.realpath(make_git_repo(tmp_path / "remotes" / f"r{i}"))
        repos[f"r{i}"] = {"url": path, "branch": "main"}
    projects = [work_dir(tmp_path, "w1"), work_dir(tmp_path, "w2")]
    for project in projects:
        configure(project, repos)
    from helpers.run import kas_command

    script = CONCURRENT.format(dirs=[str(p.path) for p in projects])
    env = clean_env(KAS_REPO_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", script, *kas_command(), "checkout",
                          "kas.yml"], env=env, capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert out.count("RC 0") == 2, out
    assert out.count("into the repo cache") == 20, out
    assert len(entries(cache)) == 20
    for project in projects:
        for name, repo in repos.items():
            assert head_of(project, name) == git(repo["url"], "rev-parse", "HEAD")


# --- Mercurial ----------------------------------------------------------------

def test_hg_cache_and_offline(tmp_path):
    """Issue 19.1/19.2 for hg: the entry is created, a fresh work dir is a
    local clone of it whose default path is the remote, and with the remote
    gone KAS_OFFLINE sets up another work dir from the cache."""
    cache = tmp_path / "cache"
    upstream = os.path.realpath(str(tmp_path / "remotes" / "hgup"))
    node = make_hg_repo(upstream)
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"type": "hg", "url": upstream, "commit": node}})
    result = checkout(first, cache)
    assert cache_fetches(result) == 1
    assert len(entries(cache, "hg")) == 1
    with open(first.file("up", ".hg", "hgrc")) as f:
        assert "default = " + upstream in f.read()
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"type": "hg", "url": upstream, "commit": node}})
    with unreachable(upstream):
        result = checkout(second, cache, KAS_OFFLINE="1")
    assert cache_fetches(result) == 0
    assert hg(second.file("up"), "log", "-r", ".", "-T", "{node}") == node


# --- 19.2: offline ------------------------------------------------------------

def test_offline_from_the_cache_with_branch_age_warning(tmp_path, upstream):
    """Issue 19.2: offline, a fresh work dir is set up from the cache; a
    branch resolves to the cached tip with a warning naming its age."""
    cache = tmp_path / "cache"
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"url": upstream, "branch": "main"}})
    checkout(first, cache)
    commit(upstream, "two\n")       # not in the cache
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"url": upstream, "branch": "main"}})
    with unreachable(upstream):
        result = checkout(second, cache, KAS_OFFLINE="1")
    assert "repo up: offline, branch main resolves to the cached copy fetched less than " \
        "a minute ago" in result.warnings()
    assert head_of(second, "up") == head_of(first, "up")


def test_offline_failure_lists_every_missing_repo_and_changes_nothing(tmp_path, upstream):
    """Issue 19.2: one error naming every missing item; no checkout touched."""
    cache = tmp_path / "cache"
    other = os.path.realpath(make_git_repo(tmp_path / "remotes" / "other"))
    pinned = git(upstream, "rev-parse", "HEAD")
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "commit": pinned, "branch": "main"}})
    checkout(project, cache)
    new = commit(upstream, "two\n")
    configure(project, {"up": {"url": upstream, "commit": new, "branch": "main"},
                        "meta-foo": {"url": other, "commit": "4601c83" + "0" * 33},
                        "poky": {"url": other, "branch": "scarthgap", "path": "poky"},
                        "bar": {"url": other, "tag": "v9", "path": "bar"}})
    before = sorted(os.listdir(project.path))
    result = project.kas("checkout", "kas.yml", env=cache_env(project, cache, KAS_OFFLINE="1"))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    [error] = result.errors()
    assert error == "KAS_OFFLINE is set, but not everything is available locally " \
        "(nothing was changed):"
    listed = result.stderr.split(error + "\n", 1)[1].splitlines()
    assert sorted(listed) == sorted([
        f"repo up: commit {new} not in the cache or the work dir",
        f"repo meta-foo: commit 4601c83{'0' * 33} not in the cache or the work dir",
        "repo poky: branch scarthgap cannot be resolved offline (no cached copy)",
        "repo bar: tag v9 not in the cache or the work dir"])
    assert sorted(os.listdir(project.path)) == before
    assert head_of(project, "up") == pinned


def test_offline_without_cache_uses_the_work_dirs(tmp_path, upstream):
    """Issue 19.2: existing checkouts suffice, without any cache."""
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "main"}})
    checkout(project, None)
    with unreachable(upstream):
        result = checkout(project, None, KAS_OFFLINE="1")
    assert any("resolves to the work dir's copy" in w for w in result.warnings())


def test_offline_lock_pins_what_the_cache_has(tmp_path, upstream):
    """Issue 19.2: kas lock offline pins the cached tip and says so."""
    cache = tmp_path / "cache"
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"url": upstream, "branch": "main"}})
    checkout(first, cache)
    cached = head_of(first, "up")
    commit(upstream, "two\n")
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"url": upstream, "branch": "main"}})
    with unreachable(upstream):
        result = second.kas_ok("lock", "kas.yml", env=cache_env(second, cache, KAS_OFFLINE="1"))
    assert any(w.startswith("KAS_OFFLINE is set: floating refs are resolved to what the "
                            "repo cache") for w in result.warnings()), result
    with open(second.file("kas.lock.yml")) as f:
        assert yaml.safe_load(f)["overrides"]["repos"]["up"]["commit"] == cached
    os.remove(second.file("kas.lock.yml"))
    with unreachable(upstream):
        result = second.kas_ok("dump", "--resolve-refs", "kas.yml",
                               env=cache_env(second, cache, KAS_OFFLINE="1"))
    assert any(w.startswith("KAS_OFFLINE is set: floating refs") for w in result.warnings())
    assert yaml.safe_load(result.stdout)["repos"]["up"]["commit"] == cached


def test_prune_removes_unused_entries(tmp_path, upstream):
    """Issue 19.1: python3 -m kas.cache prune --older-than removes entries
    not used for that long; the work dir keeps working."""
    cache = tmp_path / "cache"
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "main"}})
    checkout(project, cache)
    prune = [sys.executable, "-m", "kas.cache", "prune", "--cache-dir", str(cache)]
    out = subprocess.run(prune + ["--older-than", "30d"], check=True, text=True,
                         capture_output=True).stdout
    assert out == "" and len(entries(cache)) == 1
    [entry] = entries(cache)
    path = os.path.join(str(cache), "git", entry)
    for name in (path, os.path.join(path, "kas-used"), os.path.join(path, "kas-fetched")):
        os.utime(name, (0, 0))
    leftover = os.path.join(str(cache), "git", entry + ".new.123.456")
    os.makedirs(os.path.join(leftover, "objects"))
    os.utime(leftover, (0, 0))
    out = subprocess.run(prune + ["--older-than", "30d"], check=True, text=True,
                         capture_output=True).stdout
    assert out == (f"removed {path} ({upstream})\n"
                   f"removed {leftover} (left by an interrupted kas)\n")
    assert not os.path.exists(leftover)
    assert entries(cache) == []
    git(project.file("up"), "fsck", "--no-progress")


def test_purge_leaves_the_cache_alone(tmp_path, upstream):
    """Issue 19.1: kas purge removes the work dir's repos, not the cache."""
    cache = tmp_path / "cache"
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "main"}})
    checkout(project, cache)
    before = entries(cache)
    project.kas_ok("purge", "kas.yml", env=cache_env(project, cache))
    assert not os.path.exists(project.file("up"))
    assert entries(cache) == before
    git(os.path.join(str(cache), "git", before[0]), "fsck", "--no-progress")


def test_hg_branch_refreshed_when_the_remote_moves(tmp_path):
    """Issue 19.1 for hg: a fresh work dir on a branch gets the remote's new
    head through the cache entry (one pull into the cache)."""
    cache = tmp_path / "cache"
    upstream = os.path.realpath(str(tmp_path / "remotes" / "hgup"))
    make_hg_repo(upstream)
    first = work_dir(tmp_path, "w1")
    configure(first, {"up": {"type": "hg", "url": upstream, "branch": "default"}})
    checkout(first, cache)
    write(os.path.join(upstream, "a.txt"), "two\n")
    hg(upstream, "commit", "-q", "-u", "test", "-m", "two")
    new = hg(upstream, "log", "-r", ".", "-T", "{node}")
    second = work_dir(tmp_path, "w2")
    configure(second, {"up": {"type": "hg", "url": upstream, "branch": "default"}})
    result = checkout(second, cache)
    assert cache_fetches(result) == 1
    assert hg(second.file("up"), "log", "-r", ".", "-T", "{node}") == new


def test_insteadof_rewrite_applies_and_the_key_is_the_configured_url(tmp_path, upstream):
    """Issue 19.1: git's insteadOf rewrites (GITCONFIG_FILE) apply to the
    fetch into the cache as without it; the entry is named after the URL
    the configuration names."""
    cache = tmp_path / "cache"
    gitconfig = write(tmp_path / "gitconfig",
                      f'[url "file://{os.path.dirname(upstream)}/"]\n'
                      "\tinsteadOf = https://example.invalid/\n")
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": "https://example.invalid/up", "branch": "main"}})
    checkout(project, cache, GITCONFIG_FILE=gitconfig)
    [entry] = entries(cache)
    assert entry.startswith("example.invalid.up-")
    assert head_of(project, "up") == git(upstream, "rev-parse", "HEAD")


def test_relative_urls_of_two_work_dirs_do_not_share_an_entry(tmp_path):
    """A relative ``url`` means a path below the work directory: the same
    ``../layer`` in two work dirs names two repositories, and each gets
    the commit of its own from a shared cache (the entry used to be keyed
    by the configured text, so the second work dir got the first's repo)."""
    cache = tmp_path / "cache"
    heads = []
    for name in ("a", "b"):
        layer = make_git_repo(tmp_path / name / "layer")
        heads.append(commit(layer, f"layer of {name}\n"))
        project = work_dir(tmp_path / name, "work")
        configure(project, {"layer": {"url": "../layer", "branch": "main"}})
        checkout(project, cache)
        assert head_of(project, "layer") == heads[-1]
    assert heads[0] != heads[1]
    assert len(entries(cache)) == 2


def test_other_refs_branch_through_the_cache(tmp_path, upstream):
    """Issue 19.1 with issue 16.3: a refs/... branch that is no head is kept
    in the entry and reaches a fresh work dir as refs/remotes/origin/..."""
    cache = tmp_path / "cache"
    change = commit(upstream, "review\n")
    git(upstream, "update-ref", "refs/changes/1", change)
    git(upstream, "reset", "-q", "--hard", "HEAD~1")
    project = work_dir(tmp_path)
    configure(project, {"up": {"url": upstream, "branch": "refs/changes/1"}})
    checkout(project, cache)
    assert head_of(project, "up") == change
    assert git(project.file("up"), "rev-parse",
               "refs/remotes/origin/changes/1") == change


def test_prune_tells_entries_named_like_temporaries_from_leftovers(tmp_path):
    """Issue 19.1: an entry whose URL contains ".old." (``poky.old.git``)
    is an entry, not the leftover of a killed kas run; only kas's own
    ``.new.<pid>.<thread>`` / ``.old.<pid>.<thread>`` suffix marks those."""
    from kas.vcs.cacheprune import entries, leftovers

    entry = tmp_path / "git" / "example.com.mirrors.poky.old.git-f2d3090bfa39"
    temporary = tmp_path / "git" / "example.com.poky.git-0123456789ab.new.4242.140001"
    entry.mkdir(parents=True)
    temporary.mkdir()
    assert entries(str(tmp_path)) == [str(entry)]
    assert leftovers(str(tmp_path), limit=time.time() + 60) == [str(temporary)]
