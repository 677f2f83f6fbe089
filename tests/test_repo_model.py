"""The repository model (config-format.md §8-§10, includes-and-merge.md §6).

Every test writes real config files, builds the effective configuration
like kas/pipeline.py does (:func:`kas.config.loop.resolve`) and turns it
into repository definitions with :func:`kas.repos.model.build_repos`.
A few tests run the real ``kas dump`` in a subprocess to check that the
warnings reach the user exactly once per run.

Layout of the in-process tests: the config files live in ``<tmp>/top`` (a
plain directory, so it is the top repository, INC-070 step 3), the work
directory ``KAS_WORK_DIR`` is a *different* directory ``<tmp>/work``; all
paths are real paths so that no symlink in the temporary directory blurs
the comparisons.

Remote repos of the in-process tests point at made-up URLs: the model does
not fetch anything.  The subprocess tests use real git repositories as
origins so that they stay valid once kas fetches.
"""

import logging
import os
import shutil
import subprocess

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import kas_ok, make_context, run_kas

from kas.config.loop import resolve
from kas.errors import KasUserError
from kas.repos.model import build_repos, repo_spec
from kas.repos.provider import LocalRepoProvider

real = os.path.realpath

C1 = "a111111111111111111111111111111111111111"
C2 = "b222222222222222222222222222222222222222"
C3 = "c333333333333333333333333333333333333333"

BRANCH_W = ('Using branch without commit for repository "{}" is unsafe. '
            "Either add a commit or use a lock file.")
TAG_W = 'Using tag without commit for repository "{}" is unsafe as tags are mutable.'
REFSPEC_W = ('Using deprecated refspec for repository "{}". '
             "You should migrate to commit/tag/branch.")
LAYER_W = 'Use of deprecated value "{}" for repo "{}", layer "{}". Replace with "disabled".'
ROOT_INFO = "Using {} as root for repository {}"


# --------------------------------------------------------------------------
# helpers


class Env:
    """The directories of one in-process test."""

    def __init__(self, tmp_path):
        base = real(str(tmp_path))
        self.top = os.path.join(base, "top")
        self.work = os.path.join(base, "work")
        os.makedirs(self.top, exist_ok=True)
        os.makedirs(self.work, exist_ok=True)

    def file(self, name, text):
        return write(os.path.join(self.top, name), text)

    def context(self, top_file, update=False):
        return make_context(self.work, update=update)

    def load(self, text, update=False, provider=None, name="kas.yml"):
        """(ctx, config) of the config file ``text`` written as ``name``."""
        path = self.file(name, text)
        ctx = self.context(path, update=update)
        return ctx, resolve(ctx, [path], provider or LocalRepoProvider())

    def repos(self, text, **kwargs):
        _ctx, config = self.load(text, **kwargs)
        return build_repos(config)

    def w(self, *parts):
        return os.path.join(self.work, *parts)

    def t(self, *parts):
        return os.path.join(self.top, *parts)


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def unpinned_of(caplog):
    return [m for m in warnings_of(caplog) if "without commit" in m]


def refs(spec):
    return {"commit": spec.commit, "branch": spec.branch, "tag": spec.tag,
            "refspec": spec.refspec}


def layers_of(spec):
    return [(layer.key, layer.path, layer.prio) for layer in spec.layers]


def dump(cwd, *args):
    return kas_ok("dump", *args, cwd=str(cwd))


# --------------------------------------------------------------------------
# CF-641 / CF-701: defaults


def test_branch_default_applies_to_repo_without_own_ref(env):
    """defaults.repos.branch applies to a repo without a ref of its own, not
    to one with a branch (CF-641)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: scarthgap
        repos:
          poky:
            url: https://git.example.org/poky.git
          own:
            url: https://git.example.org/own.git
            branch: main
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": "scarthgap", "tag": None,
                                   "refspec": None}
    assert refs(repos["own"]) == {"commit": None, "branch": "main", "tag": None,
                                  "refspec": None}


def test_tag_default_applies_to_repo_without_own_ref(env):
    """defaults.repos.tag applies to a repo without a ref of its own, not to
    one with a tag (CF-641)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            tag: v1.0
        repos:
          poky:
            url: https://git.example.org/poky.git
          own:
            url: https://git.example.org/own.git
            tag: v2.0
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": "v1.0",
                                   "refspec": None}
    assert repos["own"].tag == "v2.0"


def test_explicit_null_in_repo_drops_the_default(env):
    """CF-641: The example of config-format.md §9, plus the mirror case for tag."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: scarthgap
            tag: v9
        repos:
          poky:
            url: https://git.example.org/poky.git
            tag: null
          meta-tagged:
            url: https://git.example.org/meta-tagged.git
            branch: null
            tag: v1.2
          meta-pinned:
            url: https://git.example.org/meta-pinned.git
            branch:
            tag:
            commit: a111111111111111111111111111111111111111
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": "scarthgap", "tag": None,
                                   "refspec": None}
    assert refs(repos["meta-tagged"]) == {"commit": None, "branch": None, "tag": "v1.2",
                                          "refspec": None}
    assert refs(repos["meta-pinned"]) == {"commit": C1, "branch": None, "tag": None,
                                          "refspec": None}


def test_refspec_default(env, caplog):
    """A default refspec applies too, with the deprecation warning for each
    repo (CF-641)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            refspec: main
        repos:
          poky:
            url: https://git.example.org/poky.git
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": None,
                                   "refspec": "main"}
    assert warnings_of(caplog) == [REFSPEC_W.format("poky")]


def test_commit_has_no_default(env, caplog):
    """CF-641: A commit of one repo is never used for another one; defaults cannot
    carry a commit at all (CF-700), so a repo without its own commit has none."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
        repos:
          pinned:
            url: https://git.example.org/pinned.git
            commit: a111111111111111111111111111111111111111
          floating:
            url: https://git.example.org/floating.git
        """)
    assert refs(repos["pinned"]) == {"commit": C1, "branch": "main", "tag": None,
                                     "refspec": None}
    assert refs(repos["floating"]) == {"commit": None, "branch": "main", "tag": None,
                                       "refspec": None}
    assert unpinned_of(caplog) == [BRANCH_W.format("floating")]


def test_defaults_from_an_include_apply_to_repos_of_the_top_file(env):
    """CF-641: Defaults are evaluated on the merged configuration (CF-603)."""
    env.file("common.yml", """
        header:
          version: 16
        defaults:
          repos:
            tag: v3
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - common.yml
        repos:
          poky:
            url: https://git.example.org/poky.git
        """)
    assert repos["poky"].tag == "v3"


def test_defaults_apply_to_local_repos_without_tag_branch_error(env, caplog):
    """CF-701: Tag and branch both defaulted: no CF-644 error for local repos; remote
    repos drop one of them; local repos never get unpinned warnings."""
    os.makedirs(env.w("lib"))
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
            tag: v1
        repos:
          this:
          lib:
            path: lib
          remote:
            url: https://git.example.org/remote.git
            tag: null
            commit: a111111111111111111111111111111111111111
        """)
    assert list(repos) == ["this", "lib", "remote"]
    assert repos["this"].is_local and repos["lib"].is_local
    assert refs(repos["remote"]) == {"commit": C1, "branch": "main", "tag": None,
                                     "refspec": None}
    assert warnings_of(caplog) == []


def test_remote_repo_needs_no_own_ref_when_a_default_exists(env):
    """With a default ref, remote repos need no ref of their own (CF-701)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
        repos:
          a:
            url: https://git.example.org/a.git
          b:
            url: https://git.example.org/b.git
        """)
    assert [r.branch for r in repos.values()] == ["main", "main"]
    assert not any(r.is_local for r in repos.values())


def test_refspec_default_also_warns_for_a_local_repo(env, caplog):
    """A default refspec warns also for a local repo (CF-701)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            refspec: main
        repos:
          this:
        """)
    assert repos["this"].is_local
    assert warnings_of(caplog) == [REFSPEC_W.format("this")]


# --------------------------------------------------------------------------
# CF-706 ... CF-709: overrides


def test_commit_override_replaces_commit(env, caplog):
    """A commit override replaces the repo's commit; branch and URL stay, no
    unpinned warning (CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            poky:
              commit: b222222222222222222222222222222222222222
        """)
    assert refs(repos["poky"]) == {"commit": C2, "branch": "main", "tag": None,
                                   "refspec": None}
    assert repos["poky"].url == "https://git.example.org/poky.git"
    assert unpinned_of(caplog) == []


@pytest.mark.parametrize("ref", ["branch: main", "tag: v1"])
def test_commit_override_pins_a_floating_repo(env, caplog, ref):
    """A commit override pins a repo that only had a branch or tag, which it
    keeps (CF-709)."""
    repos = env.repos(f"""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            {ref}
        overrides:
          repos:
            poky:
              commit: b222222222222222222222222222222222222222
        """)
    assert repos["poky"].commit == C2
    key, value = ref.split(": ")
    assert getattr(repos["poky"], key) == value
    assert unpinned_of(caplog) == []


def test_commit_null_override_removes_commit_branch_head_is_used(env, caplog):
    """A null commit override removes the commit: the branch head is used,
    with the unpinned-branch warning (CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            poky:
              commit: null
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": "main", "tag": None,
                                   "refspec": None}
    # the effective commit (after overrides) is unset: unpinned (CF-646)
    assert unpinned_of(caplog) == [BRANCH_W.format("poky")]


def test_commit_null_cannot_make_a_valid_repo_invalid(env, caplog):
    """CF-706: CF-642 is checked before overrides: a commit-only repo stays valid."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            poky:
              commit:
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": None,
                                   "refspec": None}
    assert not repos["poky"].is_local
    assert unpinned_of(caplog) == []


def test_branch_override_replaces_branch(env):
    """A branch override replaces the repo's own and the defaulted branch
    (CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
        repos:
          own:
            url: https://git.example.org/own.git
            branch: stable
            commit: a111111111111111111111111111111111111111
          defaulted:
            url: https://git.example.org/defaulted.git
        overrides:
          repos:
            own:
              branch: dev
            defaulted:
              branch: next
        """)
    assert refs(repos["own"]) == {"commit": C1, "branch": "dev", "tag": None,
                                  "refspec": None}
    assert repos["defaulted"].branch == "next"


def test_branch_null_override_removes_branch(env, caplog):
    """A null branch override removes the branch; the commit stays (CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            poky:
              branch: null
        """)
    assert refs(repos["poky"]) == {"commit": C1, "branch": None, "tag": None,
                                   "refspec": None}
    assert unpinned_of(caplog) == []


def test_branch_null_override_removes_a_defaulted_branch_next_to_a_tag(env, caplog):
    """CF-706: The default branch plus the repo's tag would be CF-644; the override
    removes the effective (defaulted) branch, leaving a tag-only repo."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
        repos:
          poky:
            url: https://git.example.org/poky.git
            tag: v1
        overrides:
          repos:
            poky:
              branch: null
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": "v1",
                                   "refspec": None}
    assert unpinned_of(caplog) == [TAG_W.format("poky")]


def test_url_override_replaces_url_directory_unchanged(env):
    """A URL override replaces the URL; the checkout directory stays where
    it was (CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            name: poky-src
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
          meta:
            url: https://git.example.org/meta.git
            commit: a111111111111111111111111111111111111111
            path: layers/meta
        overrides:
          repos:
            poky:
              url: https://mirror.example.org/poky.git
            meta:
              url: https://mirror.example.org/meta.git
        """)
    assert repos["poky"].url == "https://mirror.example.org/poky.git"
    assert repos["poky"].path == env.w("poky-src")
    assert repos["poky"].commit == C1
    assert repos["meta"].url == "https://mirror.example.org/meta.git"
    assert repos["meta"].path == env.w("layers", "meta")


def test_url_override_turns_a_local_repo_remote(env, caplog):
    """A URL override turns a local repo into a remote one, in the default
    directory of its id (CF-620, CF-706)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          lib:
            branch: main
          other:
            path: other-dir
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            lib:
              url: https://git.example.org/lib.git
            other:
              url: https://git.example.org/other.git
        """)
    lib, other = repos["lib"], repos["other"]
    assert not lib.is_local and not other.is_local
    assert lib.url == "https://git.example.org/lib.git"
    assert lib.path == env.w("lib")                       # CF-622 default
    assert other.path == env.w("other-dir")
    assert refs(lib) == {"commit": None, "branch": "main", "tag": None, "refspec": None}
    assert unpinned_of(caplog) == [BRANCH_W.format("lib")]


def test_ref_check_is_made_before_overrides(env):
    """CF-642, CF-706: An override cannot make a ref-less remote repo valid; and a repo
    that only becomes remote through the url override is not checked."""
    _ctx, config = env.load("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
        overrides:
          repos:
            poky:
              commit: b222222222222222222222222222222222222222
              branch: main
        """)
    with pytest.raises(KasUserError) as err:
        build_repos(config)
    assert str(err.value) == ('No commit, tag or branch specified for repository "poky". '
                              "This is only allowed for local repositories.")
    repos = env.repos("""
        header:
          version: 23
        repos:
          bare:
            path: bare-dir
        overrides:
          repos:
            bare:
              url: https://git.example.org/bare.git
        """)
    assert not repos["bare"].is_local
    assert repos["bare"].path == env.w("bare-dir")


def test_override_of_unknown_repo_has_no_effect(env):
    """An override of a repo that is not configured adds nothing and changes
    nothing (CF-707)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            nothere:
              commit: b222222222222222222222222222222222222222
              branch: dev
              url: https://git.example.org/nothere.git
        """)
    assert list(repos) == ["poky"]
    assert refs(repos["poky"]) == {"commit": C1, "branch": "main", "tag": None,
                                   "refspec": None}
    assert repos["poky"].url == "https://git.example.org/poky.git"


def test_overrides_address_the_repo_id_not_the_name(env):
    """Overrides name the repo by its id, not its name: one by the name has
    no effect (CF-610)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            name: poky-src
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
        overrides:
          repos:
            poky-src:
              commit: b222222222222222222222222222222222222222
        """)
    assert list(repos) == ["poky"]
    assert repos["poky"].commit == C1


def test_overrides_merge_later_file_wins(env):
    """Overrides of several files merge; the later file wins (CF-708)."""
    env.file("pin.yml", """
        header:
          version: 14
        overrides:
          repos:
            a:
              commit: a111111111111111111111111111111111111111
            b:
              commit: a111111111111111111111111111111111111111
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - pin.yml
        repos:
          a:
            url: https://git.example.org/a.git
            branch: main
          b:
            url: https://git.example.org/b.git
            branch: main
        overrides:
          repos:
            b:
              commit: b222222222222222222222222222222222222222
        """)
    assert (repos["a"].commit, repos["b"].commit) == (C1, C2)


LOCKED_PROJECT = """
    header:
      version: 23
    repos:
      locked:
        url: https://git.example.org/locked.git
        branch: main
      overridden:
        url: https://git.example.org/overridden.git
        branch: main
    overrides:
      repos:
        overridden:
          commit: c333333333333333333333333333333333333333
    """

LOCK_FILE = """
    header:
      version: 14
    overrides:
      repos:
        locked:
          commit: a111111111111111111111111111111111111111
    """


def test_lock_file_pins_repo_no_unpinned_warning(env, caplog):
    """A lock file's overrides pin the repos it names, and their unpinned
    warnings go (CF-709, INC-083)."""
    env.file("kas.lock.yml", LOCK_FILE)
    repos = env.repos(LOCKED_PROJECT)
    assert refs(repos["locked"]) == {"commit": C1, "branch": "main", "tag": None,
                                     "refspec": None}
    assert repos["overridden"].commit == C3
    assert unpinned_of(caplog) == []


def test_update_ignores_lock_file_but_keeps_ordinary_overrides(env, caplog):
    """CF-708, INC-085: With --update the lock file does not count, so ``locked`` floats
    again; still no unpinned warning in that mode (CF-646)."""
    env.file("kas.lock.yml", LOCK_FILE)
    repos = env.repos(LOCKED_PROJECT, update=True)
    assert refs(repos["locked"]) == {"commit": None, "branch": "main", "tag": None,
                                     "refspec": None}
    assert repos["overridden"].commit == C3
    assert unpinned_of(caplog) == []


# --------------------------------------------------------------------------
# CF-643: legacy refspec repos


def test_legacy_repo_commit_override_replaces_refspec(env, caplog):
    """A commit override of a legacy refspec repo replaces the refspec
    (CF-643)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            refspec: main
        overrides:
          repos:
            poky:
              commit: b222222222222222222222222222222222222222
        """)
    assert refs(repos["poky"]) == {"commit": C2, "branch": None, "tag": None,
                                   "refspec": None}
    assert warnings_of(caplog) == [REFSPEC_W.format("poky")]


def test_legacy_repo_from_defaults_commit_override_replaces_refspec(env):
    """A commit override replaces a refspec from the defaults too (CF-643)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            refspec: main
        repos:
          poky:
            url: https://git.example.org/poky.git
        overrides:
          repos:
            poky:
              commit: b222222222222222222222222222222222222222
        """)
    assert refs(repos["poky"]) == {"commit": C2, "branch": None, "tag": None,
                                   "refspec": None}


def test_legacy_repo_ignores_branch_and_url_overrides(env, caplog):
    """A legacy refspec repo ignores branch and URL overrides (CF-643)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            refspec: refs/heads/main
          meta:
            name: meta-src
            url: https://git.example.org/meta.git
            refspec: main
        overrides:
          repos:
            poky:
              branch: dev
            meta:
              url: https://mirror.example.org/meta.git
              branch: null
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": None,
                                   "refspec": "refs/heads/main"}
    assert repos["poky"].url == "https://git.example.org/poky.git"
    assert refs(repos["meta"]) == {"commit": None, "branch": None, "tag": None,
                                   "refspec": "main"}
    assert repos["meta"].url == "https://git.example.org/meta.git"
    assert repos["meta"].path == env.w("meta-src")
    # refspec repos are not "tag/branch without commit" (CF-646)
    assert warnings_of(caplog) == [REFSPEC_W.format("poky"), REFSPEC_W.format("meta-src")]


def test_refspec_with_defaulted_branch_cancelled_by_null_is_valid(env, caplog):
    """CF-643: The mixture check looks at the effective values: a default branch
    removed by ``branch: null`` does not mix with the repo's refspec; a url
    override does not turn a legacy local repo remote."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            branch: main
        repos:
          poky:
            url: https://git.example.org/poky.git
            refspec: master
            branch: null
          lib:
            path: lib
            refspec: master
            branch:
        overrides:
          repos:
            lib:
              url: https://git.example.org/lib.git
        """)
    assert refs(repos["poky"]) == {"commit": None, "branch": None, "tag": None,
                                   "refspec": "master"}
    assert repos["lib"].is_local
    assert repos["lib"].path == env.w("lib")
    assert warnings_of(caplog) == [REFSPEC_W.format("poky"), REFSPEC_W.format("lib")]


def test_refspec_warning_once_per_repo_name_per_process(env, caplog):
    """CF-643: Two builds of the same configuration (as in two passes) and two repo
    ids sharing one name: one warning per name."""
    _ctx, config = env.load("""
        header:
          version: 23
        repos:
          a:
            url: https://git.example.org/a.git
            refspec: main
          b:
            name: shared
            url: https://git.example.org/b.git
            refspec: main
          c:
            name: shared
            path: c-dir
            refspec: main
        """)
    build_repos(config)
    build_repos(config)
    repo_spec(config, "a")
    assert warnings_of(caplog) == [REFSPEC_W.format("a"), REFSPEC_W.format("shared")]


# --------------------------------------------------------------------------
# CF-610 / CF-621 / CF-622 / INC-070 ... INC-075: locations


def test_local_repo_without_path_is_the_top_repo_root(env, caplog):
    """A local repo without a path is the top repo's root, whatever its name
    (CF-621)."""
    caplog.set_level(logging.INFO)
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
          named:
            name: product
            layers:
              meta:
        """)
    assert repos["this"].path == env.top
    assert repos["named"].path == env.top
    assert repos["this"].is_local and repos["this"].url is None
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert ROOT_INFO.format(env.top, "this") in infos
    assert ROOT_INFO.format(env.top, "product") in infos


def test_top_repo_is_the_vcs_root_whoever_defines_the_repo(env, caplog):
    """INC-070, INC-073: First file in a sub-directory of a git checkout: the root is the
    checkout's top level, also for a path-less repo defined in an include
    that lives in yet another sub-directory."""
    caplog.set_level(logging.INFO)
    subprocess.run(["git", "init", "-q", env.top], check=True)
    env.file("sub/inc/vendor.yml", """
        header:
          version: 14
        repos:
          vendor-own-id:
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - sub/inc/vendor.yml
        repos:
          this:
        """, name="kas/kas.yml")
    assert repos["this"].path == env.top
    assert repos["vendor-own-id"].path == env.top
    assert ROOT_INFO.format(env.top, "vendor-own-id") in [r.getMessage()
                                                         for r in caplog.records]


def test_source_dir_is_the_top_repo(env, tmp_path):
    """_source_dir is the top repo's root (INC-070, CF-950)."""
    src = os.path.join(real(str(tmp_path)), "src")
    os.makedirs(src)
    repos = env.repos(f"""
        header:
          version: 23
        _source_dir: {src}
        repos:
          this:
        """)
    assert repos["this"].path == src
    assert layers_of(repos["this"]) == [(".", src, 0)]


def test_null_repo_in_later_file_becomes_the_top_repo(env):
    """A repo set to null in a later file becomes the top repo: local,
    without refs, layers beyond the root or patches (CF-601, INC-053)."""
    env.file("base.yml", """
        header:
          version: 14
        repos:
          this:
          r1:
            url: https://git.example.org/r1.git
            branch: main
            path: somewhere
            layers:
              meta-a:
            patches:
              fix:
                repo: this
                path: fix.patch
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - base.yml
        repos:
          r1:
        """)
    r1 = repos["r1"]
    assert r1.is_local and r1.path == env.top
    assert refs(r1) == {"commit": None, "branch": None, "tag": None, "refspec": None}
    assert layers_of(r1) == [(".", env.top, 0)]
    assert r1.patches == []


def test_relative_local_path_is_relative_to_work_dir(env):
    """A relative path of a local repo is relative to the work dir, also in
    an include (CF-621, INC-074)."""
    env.file("cfg/sub/dir/inc.yml", """
        header:
          version: 14
        repos:
          inc-lib:
            path: inc-lib
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - sub/dir/inc.yml
        repos:
          lib:
            path: layers/lib
          dotted:
            path: ./x/../y
        """, name="cfg/kas.yml")
    assert repos["lib"].path == env.w("layers", "lib")
    assert repos["inc-lib"].path == env.w("inc-lib")
    assert repos["dotted"].path == env.w("y")
    assert all(r.is_local for r in repos.values())


def test_absolute_path_used_as_is(env, tmp_path):
    """An absolute path is used as it is, for local and remote repos
    (CF-621, CF-622)."""
    elsewhere = os.path.join(real(str(tmp_path)), "elsewhere")
    repos = env.repos(f"""
        header:
          version: 23
        repos:
          local:
            path: {elsewhere}/local
          remote:
            url: https://git.example.org/remote.git
            branch: main
            path: {elsewhere}/remote
        """)
    assert repos["local"].path == os.path.join(elsewhere, "local")
    assert repos["remote"].path == os.path.join(elsewhere, "remote")
    assert repos["local"].is_local and not repos["remote"].is_local


def test_remote_repo_default_directory_uses_the_name(env):
    """A remote repo without a path is checked out in the work dir under its
    name (the id if it has none) (CF-622, CF-610)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
          meta-oe:
            name: meta-openembedded
            url: https://git.example.org/meta-openembedded.git
            branch: main
          bsp:
            name: ignored-for-path
            url: https://git.example.org/bsp.git
            branch: main
            path: layers/bsp
        """)
    assert repos["poky"].path == env.w("poky")
    assert (repos["meta-oe"].id, repos["meta-oe"].name) == ("meta-oe", "meta-openembedded")
    assert repos["meta-oe"].path == env.w("meta-openembedded")
    assert repos["bsp"].path == env.w("layers", "bsp")
    # the repo directory is the only layer (CF-662)
    assert layers_of(repos["meta-oe"]) == [(".", env.w("meta-openembedded"), 0)]


def test_later_file_turns_remote_repo_local_and_back(env):
    """A later file can turn a remote repo local and a local repo remote
    (CF-623)."""
    env.file("base.yml", """
        header:
          version: 14
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: main
          meta:
            path: meta-local
            branch: main
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - base.yml
        repos:
          poky:
            url: null
          meta:
            url: https://git.example.org/meta.git
            path: null
        """)
    assert repos["poky"].is_local
    assert repos["poky"].path == env.top
    assert not repos["meta"].is_local
    assert repos["meta"].path == env.w("meta")


def test_several_path_less_ids_denote_the_same_directory(env):
    """Several repos without a path and URL all denote the top repo's root
    (INC-072, CF-665)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
          also-this:
        """)
    assert [layers_of(r) for r in repos.values()] == [[(".", env.top, 0)]] * 2


# --------------------------------------------------------------------------
# CF-646: unpinned warnings


def test_unpinned_tag_and_branch_warnings(env, caplog):
    """A repo on a tag or branch without a commit gets the unpinned warning,
    naming it by its name (CF-646)."""
    env.repos("""
        header:
          version: 23
        repos:
          tagged:
            url: https://git.example.org/tagged.git
            tag: v1
          branched:
            name: branch-name
            url: https://git.example.org/branched.git
            branch: main
          pinned-branch:
            url: https://git.example.org/pb.git
            branch: main
            commit: a111111111111111111111111111111111111111
          pinned-tag:
            url: https://git.example.org/pt.git
            tag: v1
            commit: a111111111111111111111111111111111111111
          pinned-only:
            url: https://git.example.org/po.git
            commit: a111111111111111111111111111111111111111
          local-branch:
            branch: main
          local-tag:
            path: lt
            tag: v1
        """)
    assert warnings_of(caplog) == [TAG_W.format("tagged"), BRANCH_W.format("branch-name")]


class BuildingProvider:
    """Stands in for the fetch engine of INC-042: builds the repo object of
    every missing repo from the partial configuration and reports the
    directory it would have checked out to (the test created it)."""

    def __init__(self):
        self.provided = []

    def provide(self, config, repo_ids):
        found = {}
        for repo_id in repo_ids:
            found[repo_id] = repo_spec(config, repo_id).path
            self.provided.append(repo_id)
        return found


def test_unpinned_warning_once_per_repo_although_built_several_times(env, caplog):
    """CF-646: ``vendor`` (remote, branch only) is built for its include in the
    first pass, again after the loop, and again in a further build: one
    warning.  ``lib`` (local, needed by an include too) never warns."""
    write(env.w("vendor", "vendor.yml"), """
        header:
          version: 14
        machine: from-vendor
        """)
    write(env.w("lib", "lib.yml"), """
        header:
          version: 14
        distro: from-lib
        """)
    provider = BuildingProvider()
    _ctx, config = env.load("""
        header:
          version: 23
          includes:
            - repo: vendor
              file: vendor.yml
            - repo: lib
              file: lib.yml
        repos:
          vendor:
            url: https://git.example.org/vendor.git
            branch: main
          tagged:
            url: https://git.example.org/tagged.git
            tag: v1
          lib:
            path: lib
            branch: main
        """, provider=provider)
    assert provider.provided == ["vendor", "lib"]
    assert (config.machine(), config.distro()) == ("from-vendor", "from-lib")
    build_repos(config)
    build_repos(config)
    assert unpinned_of(caplog) == [BRANCH_W.format("vendor"), TAG_W.format("tagged")]


def test_no_unpinned_warnings_with_update(env, caplog):
    """With --update no unpinned warnings (CF-646)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          tagged:
            url: https://git.example.org/tagged.git
            tag: v1
          branched:
            url: https://git.example.org/branched.git
            branch: main
        """, update=True)
    assert repos["tagged"].commit is None and repos["branched"].commit is None
    assert warnings_of(caplog) == []


def test_no_unpinned_warnings_while_locking(env, caplog):
    """CF-646: ``kas lock`` resolves floating repos on purpose (the context flag)."""
    ctx, config = env.load("""
        header:
          version: 23
        repos:
          tagged:
            url: https://git.example.org/tagged.git
            tag: v1
        """)
    ctx.suppress_unpinned_warnings = True
    build_repos(config)
    assert warnings_of(caplog) == []


# --------------------------------------------------------------------------
# CF-646 / CF-643 / CF-709 through the real command


@pytest.fixture
def origins(tmp_path):
    """Two real git repositories to serve as remote origins: (path, head)."""
    out = {}
    for name in ("upstream", "tagged"):
        path = make_git_repo(real(str(tmp_path / "origins" / name)))
        git(path, "tag", "v1")
        out[name] = (path, git(path, "rev-parse", "HEAD"))
    return out


def test_kas_dump_warns_once_per_run(workdir, origins):
    """CF-646, CF-643: A repo include of a local repo makes the loop run two passes and
    builds ``lib`` twice; every warning still appears exactly once."""
    upstream, tagged = origins["upstream"][0], origins["tagged"][0]
    os.makedirs(workdir / "lib")
    write(workdir / "lib" / "lib.yml", """
        header:
          version: 14
        distro: from-lib
        """)
    write(workdir / "kas.yml", f"""
        header:
          version: 23
          includes:
            - repo: lib
              file: lib.yml
        repos:
          this:
          lib:
            path: lib
            refspec: main
          upstream:
            name: upstream-src
            url: {upstream}
            branch: main
          tagged:
            url: {tagged}
            tag: v1
        """)
    result = dump(workdir, "kas.yml")
    assert "distro: from-lib" in result.stdout      # the second pass happened
    assert sorted(result.warnings()) == sorted([
        REFSPEC_W.format("lib"),
        BRANCH_W.format("upstream-src"),
        TAG_W.format("tagged"),
    ]), result


def test_kas_dump_lock_file_pins_no_warning(workdir, origins):
    """kas dump with a lock file that pins the repo: the commit, and no
    unpinned warning (CF-709)."""
    upstream, head = origins["upstream"]
    write(workdir / "kas.yml", f"""
        header:
          version: 23
        repos:
          upstream:
            url: {upstream}
            branch: main
        """)
    assert dump(workdir, "kas.yml").warnings() == [BRANCH_W.format("upstream")]
    write(workdir / "kas.lock.yml", f"""
        header:
          version: 14
        overrides:
          repos:
            upstream:
              commit: {head}
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [], result
    assert f"commit: {head}" in result.stdout


def test_kas_dump_update_ignores_lock_and_does_not_warn(workdir, origins):
    """kas dump --update ignores the lock file, and does not warn about
    unpinned repos (CF-646, INC-085)."""
    upstream, head = origins["upstream"]
    tagged = origins["tagged"][0]
    write(workdir / "kas.yml", f"""
        header:
          version: 23
        repos:
          upstream:
            url: {upstream}
            branch: main
          tagged:
            url: {tagged}
            tag: v1
        """)
    write(workdir / "kas.lock.yml", f"""
        header:
          version: 14
        overrides:
          repos:
            upstream:
              commit: {head}
        """)
    result = dump(workdir, "--update", "kas.yml")
    assert result.warnings() == [], result
    assert head not in result.stdout          # the lock file took no part
    assert "overrides" not in result.stdout


def test_kas_dump_logs_the_top_repo_root(workdir):
    """kas dump logs the top repo's root directory (CF-621)."""
    write(workdir / "kas.yml", """
        header:
          version: 23
        repos:
          this:
            name: product
        """)
    result = dump(workdir, "kas.yml")
    info = " - INFO     - " + ROOT_INFO.format(real(str(workdir)), "product")
    assert info in result.stderr or \
        " - INFO     - " + ROOT_INFO.format(str(workdir), "product") in result.stderr, result


# --------------------------------------------------------------------------
# CF-660 ... CF-666: layers


def test_absent_layers_the_repo_dir_is_the_only_layer(env):
    """Without layers the repo directory is its only layer (CF-662)."""
    os.makedirs(env.w("lib"))
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
          lib:
            path: lib
          remote:
            url: https://git.example.org/remote.git
            branch: main
        """)
    assert layers_of(repos["this"]) == [(".", env.top, 0)]
    assert layers_of(repos["lib"]) == [(".", env.w("lib"), 0)]
    assert layers_of(repos["remote"]) == [(".", env.w("remote"), 0)]


def test_empty_layers_and_all_disabled_give_no_layer(env, caplog):
    """Empty layers, or all of them disabled, give no layer, silently
    (CF-663)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          empty:
            url: https://git.example.org/empty.git
            commit: a111111111111111111111111111111111111111
            layers: {}
          disabled:
            url: https://git.example.org/disabled.git
            commit: a111111111111111111111111111111111111111
            layers:
              .: disabled
              meta-a: disabled
              meta-b: disabled
        """)
    assert repos["empty"].layers == []
    assert repos["disabled"].layers == []
    # the repositories themselves are still there (fetched / checked out)
    assert repos["empty"].path == env.w("empty")
    assert warnings_of(caplog) == []            # "disabled" is silent


def test_dot_and_empty_key_both_mean_the_repo_dir(env):
    """The layer keys '.' and '' both mean the repo directory (CF-660,
    CF-665)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
            layers:
              .:
              "":
        """)
    assert layers_of(repos["this"]) == [(".", env.top, 0), ("", env.top, 0)]


def test_nested_paths_and_prio(env):
    """Layer paths may be nested and normalised, each with its prio (default
    0) (CF-660, CF-661)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          meta-foo:
            url: https://git.example.org/meta-foo.git
            branch: main
            path: layers/meta-foo
            layers:
              .:
              contrib:
                prio: 10
              meta-foo/sub:
                prio: -99
              deep/er/layer: {}
              ./dotted/../meta-x:
              high:
                prio: 99
              experimental: disabled
        """)
    base = env.w("layers", "meta-foo")
    assert layers_of(repos["meta-foo"]) == [
        (".", base, 0),
        ("contrib", os.path.join(base, "contrib"), 10),
        ("meta-foo/sub", os.path.join(base, "meta-foo", "sub"), -99),
        ("deep/er/layer", os.path.join(base, "deep", "er", "layer"), 0),
        ("./dotted/../meta-x", os.path.join(base, "meta-x"), 0),   # normalised (GEN-011)
        ("high", os.path.join(base, "high"), 99),
    ]


def test_prio_float_with_zero_fraction_is_an_integer(env):
    """A prio of 5.0 is the integer 5 (CF-014, CF-661)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
            layers:
              meta:
                prio: 5.0
        """)
    (layer,) = repos["this"].layers
    assert layer.prio == 5 and isinstance(layer.prio, int)


@pytest.mark.parametrize("yaml_value, rendered", [
    pytest.param("excluded", "excluded", id="excluded"),
    pytest.param("n", "n", id="n-string"),
    pytest.param("'no'", "no", id="no-quoted-string"),
    pytest.param("no", "False", id="no-unquoted-bool"),
    pytest.param("off", "False", id="off-unquoted-bool"),
    pytest.param("false", "False", id="false-unquoted-bool"),
    pytest.param("'false'", "false", id="false-quoted-string"),
    pytest.param("'0'", "0", id="0-string"),
    pytest.param("0", "0", id="0-integer"),
])
def test_deprecated_disable_values_warn_and_disable(env, caplog, yaml_value, rendered):
    """The deprecated layer values that disable a layer (excluded, n, no,
    false, 0) disable it, with a warning naming the value as read (CF-661)."""
    repos = env.repos(f"""
        header:
          version: 23
        repos:
          meta:
            name: meta-name
            url: https://git.example.org/meta.git
            commit: a111111111111111111111111111111111111111
            layers:
              meta-keep:
              meta-old: {yaml_value}
        """)
    assert [layer.key for layer in repos["meta"].layers] == ["meta-keep"]
    assert warnings_of(caplog) == [LAYER_W.format(rendered, "meta-name", "meta-old")]


def test_kas_dump_reports_deprecated_layer_values(workdir):
    """kas dump warns about each deprecated disabling layer value (CF-661)."""
    write(workdir / "kas.yml", """
        header:
          version: 23
        repos:
          this:
            layers:
              a: excluded
              b: no
              c: 0
              d: n
              e: disabled
              f:
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [
        LAYER_W.format("excluded", "this", "a"),
        LAYER_W.format("False", "this", "b"),
        LAYER_W.format("0", "this", "c"),
        LAYER_W.format("n", "this", "d"),
    ], result


def test_later_file_re_enables_a_disabled_layer(env, caplog):
    """A later file re-enables a disabled layer, with its own prio (CF-664)."""
    env.file("base.yml", """
        header:
          version: 21
        repos:
          this:
            layers:
              meta-a:
                prio: 5
              meta-b:
              meta-c:
              meta-d:
        """)
    env.file("mid.yml", """
        header:
          version: 21
        repos:
          this:
            layers:
              meta-a: disabled
              meta-b: disabled
              meta-c: disabled
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - base.yml
            - mid.yml
        repos:
          this:
            layers:
              meta-a:
              meta-b:
                prio: 7
        """)
    assert layers_of(repos["this"]) == [
        ("meta-a", env.t("meta-a"), 0),
        ("meta-b", env.t("meta-b"), 7),
        ("meta-d", env.t("meta-d"), 0),
    ]
    assert warnings_of(caplog) == []


def test_layer_mappings_merge_key_wise(env):
    """CF-664, INC-051: An empty mapping merged into ``{prio: 5}`` keeps the prio; a null
    replaces it (prio 0 again)."""
    env.file("base.yml", """
        header:
          version: 21
        repos:
          this:
            layers:
              meta-a:
                prio: 5
              meta-b:
                prio: 5
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - base.yml
        repos:
          this:
            layers:
              meta-a: {}
              meta-b:
        """)
    assert layers_of(repos["this"]) == [("meta-a", env.t("meta-a"), 5),
                                        ("meta-b", env.t("meta-b"), 0)]


# --------------------------------------------------------------------------
# CF-670 ... CF-673: patches


def patches_of(spec):
    return [(p.id, p.repo_id, p.path) for p in spec.patches]


def test_patch_entries(env):
    """Patch entries in the order of their ids, their repo from
    defaults.repos.patches.repo or their own (CF-671, CF-672, CF-673)."""
    repos = env.repos("""
        header:
          version: 23
        defaults:
          repos:
            patches:
              repo: this
        repos:
          this:
          other:
            name: other-name
            path: other
          poky:
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
            patches:
              "9":
                path: p/nine.patch
              a:
                path: p/a.patch
                repo: other
              "10":
                path: p/ten.patch
              dropped:
              B:
                path: p/series-dir
              "01-first":
                path: p/first.patch
              "\u00e4":
                path: p/umlaut.patch
              zz:
                path: p/zz.patch
        """)
    assert patches_of(repos["poky"]) == [
        ("01-first", "this", "p/first.patch"),
        ("10", "this", "p/ten.patch"),
        ("9", "this", "p/nine.patch"),
        ("B", "this", "p/series-dir"),
        ("a", "other", "p/a.patch"),          # the repo id, not its name
        ("zz", "this", "p/zz.patch"),
        ("\u00e4", "this", "p/umlaut.patch"),   # U+00E4 sorts after "z"
    ]
    assert repos["this"].patches == [] and repos["other"].patches == []


def test_patch_repo_without_default_when_every_entry_names_its_repo(env):
    """No default patch repo is needed when every entry names its repo
    (CF-672)."""
    repos = env.repos("""
        header:
          version: 23
        repos:
          this:
          poky:
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
            patches:
              fix:
                repo: this
                path: fix.patch
        """)
    assert patches_of(repos["poky"]) == [("fix", "this", "fix.patch")]


def test_later_file_removes_a_patch_with_null(env):
    """A later file removes a patch by setting it to null (CF-671)."""
    env.file("base.yml", """
        header:
          version: 14
        repos:
          this:
          poky:
            url: https://git.example.org/poky.git
            commit: a111111111111111111111111111111111111111
            patches:
              p1:
                repo: this
                path: one.patch
              p2:
                repo: this
                path: two.patch
        """)
    repos = env.repos("""
        header:
          version: 23
          includes:
            - base.yml
        repos:
          poky:
            patches:
              p1:
              p3:
                repo: this
                path: three.patch
        """)
    assert patches_of(repos["poky"]) == [("p2", "this", "two.patch"),
                                         ("p3", "this", "three.patch")]


# --------------------------------------------------------------------------
# CF-650 ... CF-652: signing

SIGNERS = """
signers:
  release:
    repo: this
    path: keys/release.asc
  keyserver:
    type: gpg
    gpg_keyserver: hkps://keys.example.org
    fingerprint: 0123456789ABCDEF0123456789ABCDEF01234567
  ci-ssh:
    type: ssh
    repo: this
    path: keys/ci.pub
  ci-ssh-2:
    type: ssh
    repo: this
    path: keys/ci2.pub
"""


def signed_config(repo_body):
    return ("header:\n  version: 23\n" + SIGNERS +
            "repos:\n  this:\n  poky:\n    name: poky-src\n"
            "    url: https://git.example.org/poky.git\n    tag: v1\n" + repo_body)


def test_unsigned_repo_ignores_allowed_signers(env):
    """An unsigned repo ignores allowed_signers (CF-651)."""
    repos = env.repos(signed_config("    signed: false\n    allowed_signers: [nothere]\n"))
    assert repos["poky"].signed is False
    assert repos["poky"].allowed_signers == []
    repos = env.repos(signed_config("    allowed_signers: [nothere, ci-ssh, release]\n"))
    assert repos["poky"].signed is False
    assert repos["poky"].allowed_signers == []


@pytest.mark.parametrize("signers", [["release", "keyserver"], ["ci-ssh", "ci-ssh-2"],
                                     ["keyserver"]])
def test_signed_repo_keeps_its_allowed_signers(env, signers):
    """A signed repo keeps its allowed signers in order (CF-650)."""
    repos = env.repos(signed_config(
        f"    signed: true\n    allowed_signers: [{', '.join(signers)}]\n"))
    assert repos["poky"].signed is True
    assert repos["poky"].allowed_signers == signers


def test_unknown_allowed_signer(env):
    """An allowed signer not in the signers section is an error naming the
    repo (CF-652)."""
    _ctx, config = env.load(signed_config(
        "    signed: true\n    allowed_signers: [release, nothere]\n"))
    with pytest.raises(KasUserError) as err:
        build_repos(config)
    assert str(err.value) == \
        "Repository poky-src: Allowed signer \"'nothere'\" not found in config"


def test_mixed_signer_types(env):
    """GPG and SSH signers in one repo are refused (CF-652)."""
    _ctx, config = env.load(signed_config(
        "    signed: true\n    allowed_signers: [release, ci-ssh]\n"))
    with pytest.raises(KasUserError) as err:
        build_repos(config)
    assert str(err.value) == "Repository poky-src: Mixed signer types are not supported"


@pytest.mark.skipif(shutil.which("hg") is None, reason="hg (Mercurial) is not installed")
def test_signed_hg_repo(env):
    """Signed hg repos are refused: only git supports it (CF-652)."""
    _ctx, config = env.load(signed_config(
        "    type: hg\n    signed: true\n    allowed_signers: [release]\n"))
    with pytest.raises(KasUserError) as err:
        build_repos(config)
    assert "Only git repositories are supported" in str(err.value)


def test_kas_dump_reports_unknown_signer_as_user_error(workdir):
    """kas dump reports an unknown signer as a user error (exit 2, no
    output) (CF-652)."""
    write(workdir / "kas.yml", signed_config(
        "    signed: true\n    allowed_signers: [nothere]\n"))
    result = run_kas("dump", "kas.yml", cwd=str(workdir))
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.errors() == [
        "Repository poky-src: Allowed signer \"'nothere'\" not found in config"], result
