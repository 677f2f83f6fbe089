"""``kas dump --lock``, ``--inplace`` and ``--resolve-refs`` (cli.md §5.5
CLI-142, CLI-145 ... CLI-147; INC-085, INC-087) on real git and hg repos."""

import json

import pytest
import yaml
from helpers.repos import GitUpstream, HgUpstream, Project, kas_yaml, listing, lock_yaml, repo_yaml


@pytest.fixture
def up(tmp_path):
    return GitUpstream(tmp_path / "up")


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "project")


@pytest.fixture
def two_repos(tmp_path, project, up):
    """``up`` pinned by a commit, ``hgup`` floating on its branch, plus a local repo."""
    hg_up = HgUpstream(tmp_path / "hgup")
    up.commit("second")
    project.write("kas.yml", kas_yaml("  this:\n",
                                      repo_yaml("up", up, branch="main", commit=up.first),
                                      repo_yaml("hgup", hg_up, branch="default")))
    return project, up, hg_up


def test_dump_lock_byte_exact(two_repos):
    """CLI-145: All managed repos, pinned or not, in config order; local repos left out."""
    project, up, hg_up = two_repos
    result = project.kas_ok("dump", "--lock", "kas.yml")
    assert result.stdout == lock_yaml({"up": up.first, "hgup": hg_up.first})
    assert "kas.lock.yml" not in listing(project.path)     # dump only prints


def test_dump_lock_json_indent_sort(two_repos):
    """dump --lock prints the lock document, here as JSON with --indent and
    --sort (CLI-145)."""
    project, up, hg_up = two_repos
    result = project.kas_ok("dump", "--lock", "--format", "json", "--indent", "3", "--sort",
                            "kas.yml")
    assert result.stdout == json.dumps(
        {"header": {"version": 14},
         "overrides": {"repos": {"hgup": {"commit": hg_up.first},
                                 "up": {"commit": up.first}}}}, indent=3) + "\n"


def test_dump_lock_follows_the_lock_file_unless_update(project, up):
    """dump --lock prints the lock file's pins unless --update (CLI-145)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.write("kas.lock.yml", lock_yaml({"up": up.first}))
    new = up.commit("second")
    assert project.kas_ok("dump", "--lock", "kas.yml").stdout == lock_yaml({"up": up.first})
    assert (project.kas_ok("dump", "--lock", "--update", "kas.yml").stdout
            == lock_yaml({"up": new}))


@pytest.mark.parametrize(("args", "message"), [
    (["--lock", "--resolve-local"],
     "Invalid combination of arguments: --resolve-local cannot be used with --lock"),
    (["--inplace"], "Invalid combination of arguments: --inplace requires --lock"),
    (["-i", "--resolve-env"], "Invalid combination of arguments: --inplace requires --lock"),
])
def test_invalid_combinations(project, up, args, message):
    """--resolve-local with --lock, and --inplace without --lock, are
    invalid combinations and write nothing (CLI-145, CLI-146)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    result = project.kas("dump", *args, "kas.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [message]
    assert listing(project.path) == [
        ".git", "kas.yml"]      # checked before anything is fetched


def test_resolve_env_and_lock_exclude_each_other(project):
    """--lock and --resolve-env exclude each other (CLI-144)."""
    result = project.kas("dump", "--lock", "--resolve-env", "kas.yml")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_help_hides_inplace(project):
    """--help does not show the deprecated --inplace (CLI-146)."""
    assert "--inplace" not in project.kas_ok("dump", "--help").stdout


def test_inplace_behaves_like_lock(project, up):
    """dump --lock --inplace writes the lock file as kas lock does, with a
    deprecation warning (CLI-146)."""
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    result = project.kas_ok("dump", "--lock", "--inplace", "kas.yml")
    assert result.warnings()[0] == ('The --inplace option is deprecated. Migrate to the '
                                    '"lock" command.')
    assert result.stdout == ""
    assert project.read("kas.lock.yml") == lock_yaml({"up": up.first})


# --- --resolve-refs (CLI-142) for every kind of repo ------------------------------


def test_resolve_refs_every_repo_kind(tmp_path, project, up):
    """CLI-142: git branch / tag / legacy refspec, hg branch / legacy refspec, and a
    repo whose branch and url come from overrides."""
    hg_up = HgUpstream(tmp_path / "hgup")
    up.tag("v1", annotated=True)
    second = up.commit("second")
    up.git("branch", "side", up.first)
    side = GitUpstream(tmp_path / "mirror")     # the override's url
    project.write("kas.yml", kas_yaml(
        repo_yaml("branch", up, branch="main"),
        repo_yaml("tag", up, tag="v1"),
        repo_yaml("legacy", up, refspec="main"),
        repo_yaml("hgbranch", hg_up, branch="default"),
        repo_yaml("hglegacy", hg_up, refspec="default"),
        repo_yaml("overridden", up, branch="main"),
        extra=f"overrides:\n  repos:\n    overridden:\n      url: {side.path}\n"
              "      branch: main\n"))
    project.write("kas.yml", project.read("kas.yml").replace("version: 14", "version: 23"))
    result = project.kas_ok("dump", "--resolve-refs", "kas.yml")
    repos = yaml.safe_load(result.stdout)["repos"]
    assert "overrides" not in yaml.safe_load(result.stdout)
    assert repos["branch"] == {"url": up.path, "branch": "main", "commit": second}
    assert repos["tag"] == {"url": up.path, "tag": "v1", "commit": up.first}
    assert repos["legacy"] == {"url": up.path, "refspec": second}
    assert repos["hgbranch"] == {"url": hg_up.path, "type": "hg", "branch": "default",
                                 "commit": hg_up.first}
    assert repos["hglegacy"] == {"url": hg_up.path, "type": "hg", "refspec": hg_up.first}
    assert repos["overridden"] == {"url": side.path, "branch": "main",
                                   "commit": side.first}


def test_lock_and_diff_are_listed_around_dump(project):
    """CLI-002: ... diff, dump, ..., lock ... in the help listing."""
    text = project.kas_ok("--help").stdout
    assert text.index("    diff ") < text.index("    dump ") < text.index("    lock ")
