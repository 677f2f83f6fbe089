"""Repository includes through the real setup pipeline
(includes-and-merge.md §3, INC-040 ... INC-046).

The included repositories are real git repositories made by the tests
(``layer-a`` and ``layer-b``, module fixtures that no test modifies); kas
clones them into the test's work directory like any remote repository.
``layer-a`` has these revisions of ``kas/common.yml``:

* ``c1`` (also tag ``v1``): ``machine: one``
* ``main`` (``c2``, the default branch): ``machine: two``
* ``feature`` (branched from ``c1``): ``machine: feat``

and, from ``c1`` on, ``kas/vendor.yml`` (defines repo ``b`` = ``layer-b`` and
includes ``kas/bsp.yml`` from it) and ``kas/ghost.yml`` (includes from an
undefined repo).
"""

import os

import pytest
import yaml
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_ok, run_kas

COMMON = "header:\n  version: 14\nmachine: {}\n"

PATCH = """\
--- a/kas/common.yml
+++ b/kas/common.yml
@@ -1,3 +1,3 @@
 header:
   version: 14
-machine: one
+machine: patched
"""

MISSING = "Could not fetch all repos needed by includes. Missing repos: {}"


# --- helpers ------------------------------------------------------------------

def kas_env():
    return {k: v for k, v in clean_env().items()
            if not k.startswith(("GIT_", "SSH_", "CI_"))}


def commit_file(repo, name, text, message):
    write(os.path.join(repo, name), text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    base = tmp_path_factory.mktemp("upstreams")
    b = make_git_repo(base / "layer-b", {"kas/bsp.yml": "header:\n  version: 14\n"
                                                        "distro: from-b\n"})
    b_commit = git(b, "rev-parse", "HEAD")
    a = make_git_repo(base / "layer-a", {
        "kas/common.yml": COMMON.format("one"),
        "kas/vendor.yml": f"""\
            header:
              version: 14
              includes:
                - repo: b
                  file: kas/bsp.yml
            machine: from-vendor
            repos:
              b:
                url: {b}
                commit: {b_commit}
            """,
        "kas/ghost.yml": "header:\n  version: 14\n  includes:\n"
                         "    - repo: ghost\n      file: x.yml\n",
    })
    c1 = git(a, "rev-parse", "HEAD")
    git(a, "tag", "v1")
    c2 = commit_file(a, "kas/common.yml", COMMON.format("two"), "two")
    git(a, "checkout", "-q", "-b", "feature", c1)
    commit_file(a, "kas/common.yml", COMMON.format("feat"), "feat")
    git(a, "checkout", "-q", "main")
    return {"a": a, "b": b, "b_commit": b_commit, "c1": c1, "c2": c2}


def top_config(workdir, repo_a, includes, extra=""):
    """kas.yml in ``workdir``: repos ``this`` and ``a`` (YAML lines of repo a)."""
    lines = "".join(f"    - repo: {repo}\n      file: {file}\n" for repo, file in includes)
    return write(workdir / "kas.yml",
                 "header:\n  version: 14\n  includes:\n" + lines
                 + "repos:\n  this:\n  a:\n" + repo_a + extra)


def pinned(layers):
    return f"    url: {layers['a']}\n    commit: {layers['c1']}\n"


def dump(workdir):
    return yaml.safe_load(kas_ok("dump", "kas.yml", cwd=workdir, env=kas_env()).stdout)


def head(workdir, repo):
    return git(workdir / repo, "rev-parse", "HEAD")


# --- remote repo includes (INC-040 ... INC-043) --------------------------------------

def test_include_from_a_remote_git_repo(workdir, layers):
    """An include from a remote git repo is read from its checkout at the
    pinned commit (INC-040)."""
    top_config(workdir, pinned(layers), [("a", "kas/common.yml")])
    out = dump(workdir)
    assert out["machine"] == "one"
    assert head(workdir, "a") == layers["c1"]


def test_transitive_repo_includes_three_passes(workdir, layers):
    """INC-042: Pass 1 misses a; pass 2 reads a's vendor.yml, which defines b and
    includes from it, and misses b; pass 3 misses nothing."""
    top_config(workdir, pinned(layers), [("a", "kas/vendor.yml")])
    result = kas_ok("dump", "kas.yml", cwd=workdir, env=kas_env())
    out = yaml.safe_load(result.stdout)
    assert (out["machine"], out["distro"]) == ("from-vendor", "from-b")
    assert out["repos"]["b"] == {"url": layers["b"], "commit": layers["b_commit"]}
    assert head(workdir, "b") == layers["b_commit"]
    clones = [line.rsplit(" ", 1)[1] for line in result.stderr.splitlines()
              if " - INFO     - Cloning repository " in line]
    assert clones == ["a", "b"]


@pytest.mark.parametrize("includes, missing", [
    ([("a", "kas/common.yml"), ("nothere", "kas/x.yml")], "nothere"),
    ([("a", "kas/ghost.yml")], "ghost"),
], ids=["in-top-file", "in-fetched-file"])
def test_include_from_an_undefined_repo(workdir, layers, includes, missing):
    """An include from a repo that is not configured, in the top file or in
    a fetched file, is an error naming it (INC-044)."""
    top_config(workdir, pinned(layers), includes)
    result = run_kas("dump", "kas.yml", cwd=workdir, env=kas_env())
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert result.errors() == [MISSING.format(missing)]


# --- which checkout the include is read from (INC-042, INC-045, INC-046) ---------------

@pytest.mark.parametrize("repo_a, extra, machine", [
    ("    commit: {c1}\n", "", "one"),
    ("    branch: main\n", "", "two"),
    ("    branch: feature\n", "", "feat"),
    ("    tag: v1\n", "", "one"),
    ("    branch: main\n", "overrides:\n  repos:\n    a:\n      commit: {c1}\n", "one"),
    ("", "defaults:\n  repos:\n    branch: feature\n", "feat"),
], ids=["commit", "branch-main", "branch-feature", "tag", "override", "defaults"])
def test_include_repo_is_checked_out_as_configured(workdir, layers, repo_a, extra,
                                                          machine):
    """INC-042: The repo is checked out according to the (partial) configuration,
    defaults and overrides included, before the include is read."""
    top_config(workdir, f"    url: {layers['a']}\n" + repo_a.format(**layers),
               [("a", "kas/common.yml")], extra.format(**layers))
    assert dump(workdir)["machine"] == machine


def test_moved_clone_is_checked_out_again_before_reading(workdir, layers):
    """A clone moved to another commit is checked out again before its
    include is read (INC-042)."""
    top_config(workdir, pinned(layers), [("a", "kas/common.yml")])
    assert dump(workdir)["machine"] == "one"
    git(workdir / "a", "checkout", "-q", layers["c2"])
    assert dump(workdir)["machine"] == "one"
    assert head(workdir, "a") == layers["c1"]


def test_include_files_are_read_from_the_unpatched_checkout(workdir, layers):
    """INC-046: The patch changes the included file; the configuration never sees it,
    also not in a second run that starts from the patched clone."""
    write(workdir / "oe-init-build-env", 'mkdir -p "$1/conf"\n')
    write(workdir / "patches" / "machine.patch", PATCH)
    top_config(workdir, pinned(layers) + "    patches:\n      p1:\n        repo: this\n"
               "        path: patches/machine.patch\n", [("a", "kas/common.yml")])
    patched = workdir / "a" / "kas" / "common.yml"
    for _run in range(2):
        kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env())
        assert patched.read_text() == COMMON.format("patched")
        local_conf = (workdir / "build" / "conf" / "local.conf").read_text()
        assert 'MACHINE ??= "one"\n' in local_conf
