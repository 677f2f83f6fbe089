"""Includes, lock files, the top repository and the repository loop
(includes-and-merge.md, INC-001 ... INC-090; config-format.md CF-102, CF-950).

Behaviour tests use real files, real git repositories and the real ``kas
dump`` in a subprocess.  The merge order is made visible by letting every
file add its own name to ``local_conf_header``: as new keys are appended
(INC-055), the key order of the dumped ``local_conf_header`` is the order in
which the files were merged.  Where the internals are clearer (top repository
path, number of passes) :func:`kas.config.loop.resolve` is called directly.
"""

import copy
import json
import os
import shutil
import subprocess

import pytest
import yaml
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_ok, load_config, make_context, run_kas

from kas.config.loop import ConfigResolver
from kas.repos.model import repo_spec
from kas.repos.provider import LocalRepoProvider

real = os.path.realpath

FALLBACK_WARNINGS = [
    'Falling back to file-relative addressing of local include "{}"',
    "Update your layer to repo-relative addressing to avoid this warning",
]


# --- helpers ------------------------------------------------------------------

def fallback_warnings(res):
    """The INC-013 warnings among the WARNING records."""
    return [w for w in res.warnings()
            if w.startswith("Falling back to file-relative") or w == FALLBACK_WARNINGS[1]]


def conf(path, name=None, version=14, includes=None, **keys):
    """Write a config file (YAML, or JSON for ``.json``); returns its path.

    ``name`` is recorded in ``local_conf_header`` to make the merge order
    visible.
    """
    doc = {"header": {"version": version}}
    if includes is not None:
        doc["header"]["includes"] = includes
    if name is not None:
        doc["local_conf_header"] = {name: name}
    doc.update(keys)
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if path.endswith(".json"):
            json.dump(doc, f, indent=2)
        else:
            yaml.safe_dump(doc, f, sort_keys=False)
    return path


def dump(config, cwd, *options, env=None):
    """Run ``kas dump`` successfully; returns the parsed document."""
    return yaml.safe_load(kas_ok("dump", *options, config, cwd=cwd, env=env).stdout)


def dump_fails(config, cwd, *options, env=None):
    """Run ``kas dump`` expecting a user error; returns the KasResult."""
    res = run_kas("dump", *options, config, cwd=cwd, env=env)
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr, res
    assert res.stdout == ""
    return res


def order(doc):
    """Names of the merged files, in merge order."""
    return list(doc.get("local_conf_header") or {})


def load(top_files, work_dir, provider=None, **kw):
    """The effective Config built like ``kas dump`` does (kas/pipeline.py)."""
    return load_config(top_files, work_dir, provider=provider, **kw)


def effective(config, cwd, update=False):
    """In-process equivalent of :func:`dump` (faster, no subprocess): the
    effective configuration as kas/pipeline.py builds it, header.includes
    removed like ``kas dump`` does."""
    top_files = [os.path.join(str(cwd), name) for name in config.split(":")]
    data = load(top_files, cwd, update=update).data
    data = dict(data, header={k: v for k, v in data["header"].items() if k != "includes"})
    return copy.deepcopy(data)


@pytest.fixture
def wd(tmp_path):
    """Config directory and cwd for tests where version control does not
    matter: an empty git repository, so that kas finds its VCS root quickly
    (outside git it also asks ``hg``, which is slow to start)."""
    d = tmp_path / "wd"
    d.mkdir()
    subprocess.run(["git", "init", "-q", str(d)], check=True)
    return d


@pytest.fixture
def tmp(tmp_path):
    """tmp_path with symbolic links resolved, so expected paths match."""
    return real(str(tmp_path))


# --- INC-010 / INC-050: merge order with locks and includes ------------------

CHAIN = ["Tl", "Al", "A1", "A", "Bl", "B1", "B", "T"]


def _pair_keys(index):
    """env keys shared by neighbours in CHAIN: file i sets K<i-1> and K<i>."""
    keys = {}
    if index > 0:
        keys[f"K{index - 1}"] = CHAIN[index]
    if index < len(CHAIN) - 1:
        keys[f"K{index}"] = CHAIN[index]
    return keys


def test_priority_chain_of_one_top_file(wd):
    """INC-010/INC-050: Tl < A's lock < A's includes < A < B's lock < B's includes < B < T."""
    d = str(wd)
    files = {
        "Tl": ("kas.lock.yml", None),
        "Al": ("a.lock.yml", None),
        "A1": ("a1.yml", None),
        "A": ("a.yml", ["a1.yml"]),
        "Bl": ("b.lock.yml", None),
        "B1": ("b1.yml", None),
        "B": ("b.yml", ["b1.yml"]),
        "T": ("kas.yml", ["a.yml", "b.yml"]),
    }
    for index, name in enumerate(CHAIN):
        filename, includes = files[name]
        conf(os.path.join(d, filename), name=name, includes=includes,
             machine=name, env=_pair_keys(index))
    out = dump(os.path.join(d, "kas.yml"), wd)
    assert order(out) == CHAIN
    assert out["machine"] == "T"
    # each file wins over its predecessor in the chain
    assert out["env"] == {f"K{i}": CHAIN[i + 1] for i in range(len(CHAIN) - 1)}


def test_colon_separated_files_are_merged_group_by_group(wd):
    """INC-004/INC-041/INC-050: T1's group (lock, includes, T1) before T2's group."""
    d = str(wd)
    conf(os.path.join(d, "t1.lock.yml"), name="T1l", machine="T1l", distro="T1l")
    conf(os.path.join(d, "c1.yml"), name="C1", machine="C1")
    conf(os.path.join(d, "t1.yml"), name="T1", includes=["c1.yml"], machine="T1",
         task="T1")
    conf(os.path.join(d, "t2.lock.yml"), name="T2l", distro="T2l")
    conf(os.path.join(d, "c2.yml"), name="C2", machine="C2")
    conf(os.path.join(d, "t2.yml"), name="T2", includes=["c2.yml"])
    out = dump("t1.yml:t2.yml", wd)
    assert order(out) == ["T1l", "C1", "T1", "T2l", "C2", "T2"]
    assert out["machine"] == "C2"     # T2's include wins over T1
    assert out["distro"] == "T2l"     # T2's lock wins over T1's lock
    assert out["task"] == "T1"        # only T1 sets it


def test_later_top_file_wins(wd):
    """Of several top files the later one wins, key by key (INC-004)."""
    d = str(wd)
    conf(os.path.join(d, "a.yml"), machine="a", distro="a")
    conf(os.path.join(d, "b.yml"), machine="b")
    conf(os.path.join(d, "c.yml"), machine="c", target=["c"])
    out = effective("a.yml:b.yml:c.yml", wd)
    assert (out["machine"], out["distro"], out["target"]) == ("c", "a", ["c"])
    out = effective("c.yml:b.yml:a.yml", wd)
    assert (out["machine"], out["distro"], out["target"]) == ("a", "a", ["c"])


def test_top_files_are_relative_to_cwd_not_kas_work_dir(tmp):
    """INC-001: each name is made absolute relative to the current directory."""
    cwd = os.path.join(tmp, "cwd")
    work = os.path.join(tmp, "kaswork")
    for base in (cwd, work):
        conf(os.path.join(base, "a.yml"), name="a-" + os.path.basename(base))
        conf(os.path.join(base, "sub", "b.yml"), name="b-" + os.path.basename(base))
    out = dump("a.yml:sub/b.yml", cwd, env=clean_env(KAS_WORK_DIR=work))
    assert order(out) == ["a-cwd", "b-cwd"]


def test_relative_names_with_parent_directories(tmp):
    """Top file names relative to the current directory may climb with ../
    (INC-001)."""
    cwd = os.path.join(tmp, "x", "cwd")
    os.makedirs(cwd)
    conf(os.path.join(tmp, "x", "a.yml"), name="a")
    conf(os.path.join(tmp, "y", "b.yml"), name="b")
    out = dump("../a.yml:../../y/b.yml", cwd)
    assert order(out) == ["a", "b"]


def test_default_is_config_yaml_in_kas_work_dir(tmp):
    """INC-002: no argument → <KAS_WORK_DIR>/.config.yaml (not the cwd's)."""
    cwd = os.path.join(tmp, "cwd")
    work = os.path.join(tmp, "kaswork")
    conf(os.path.join(cwd, ".config.yaml"), name="cwd")
    conf(os.path.join(work, ".config.yaml"), name="work")
    res = run_kas("dump", cwd=cwd, env=clean_env(KAS_WORK_DIR=work))
    assert res.returncode == 0, res
    assert order(yaml.safe_load(res.stdout)) == ["work"]


def test_default_is_config_yaml_in_cwd_without_kas_work_dir(wd):
    """Without a config argument kas reads .config.yaml in the current
    directory (INC-002)."""
    conf(os.path.join(str(wd), ".config.yaml"), name="cfg")
    res = run_kas("dump", cwd=wd)
    assert res.returncode == 0, res
    assert order(yaml.safe_load(res.stdout)) == ["cfg"]


def test_missing_default_file(tmp):
    """Without a config argument and no .config.yaml in KAS_WORK_DIR, the
    missing default file is the error (INC-002/INC-E09)."""
    work = os.path.join(tmp, "kaswork")
    os.makedirs(work)
    res = dump_fails("", tmp, env=clean_env(KAS_WORK_DIR=work))
    assert res.errors() == [
        "Configuration file not found: {}".format(os.path.join(work, ".config.yaml"))]


def test_empty_argument_means_default(wd):
    """An empty config argument means the default .config.yaml (INC-002)."""
    conf(os.path.join(str(wd), ".config.yaml"), name="cfg")
    res = run_kas("dump", "", cwd=wd)
    assert res.returncode == 0, res
    assert order(yaml.safe_load(res.stdout)) == ["cfg"]


# --- INC-030 duplicates ----------------------------------------------------------

def test_example_duplicates_are_not_removed(wd):
    """INC-030 example: includes [base.yml, mid.yml, base.yml]."""
    d = str(wd)
    conf(os.path.join(d, "base.yml"), name="base", machine="base-m", distro="base-d")
    conf(os.path.join(d, "mid.yml"), name="mid", machine="mid-m", distro="mid-d",
         task="mid-t")
    conf(os.path.join(d, "top.yml"), includes=["base.yml", "mid.yml", "base.yml"])
    out = dump("top.yml", wd)
    assert (out["machine"], out["distro"], out["task"]) == ("base-m", "base-d", "mid-t")
    assert order(out) == ["base", "mid"]


def test_diamond_includes_load_the_shared_file_twice(wd):
    """INC-030: top → [x, y], x → common, y → common: common's 2nd copy beats x."""
    d = str(wd)
    conf(os.path.join(d, "common.yml"), machine="common")
    conf(os.path.join(d, "x.yml"), includes=["common.yml"], machine="x", distro="x")
    conf(os.path.join(d, "y.yml"), includes=["common.yml"])
    conf(os.path.join(d, "top.yml"), includes=["x.yml", "y.yml"])
    out = effective("top.yml", wd)
    assert out["machine"] == "common"
    assert out["distro"] == "x"


def test_same_file_on_the_command_line_twice(wd):
    """A file given twice on the command line is loaded once, at its first
    place (INC-030)."""
    d = str(wd)
    conf(os.path.join(d, "a.yml"), machine="a")
    conf(os.path.join(d, "b.yml"), machine="b")
    assert effective("a.yml:b.yml:a.yml", wd)["machine"] == "a"


# --- INC-011 ... INC-016: string includes ---------------------------------------

@pytest.fixture
def product(tmp):
    """A git repo; the including files live in the sub-directory kas/."""
    path = os.path.join(tmp, "product")
    make_git_repo(path, {
        "common.yml": "header:\n  version: 14\nmachine: root-common\n",
        "kas/common.yml": "header:\n  version: 14\nmachine: kas-common\n",
        "kas/only-here.yml": "header:\n  version: 14\nmachine: only-here\n",
        "kas/inc/common.yml": "header:\n  version: 14\nmachine: inc-common\n",
        "kas/inc/mid.yml": "header:\n  version: 14\n  includes:\n  - common.yml\n",
    })
    return path


def top_in(repo, includes, name="top.yml", **keys):
    return conf(os.path.join(repo, "kas", name), includes=includes, **keys)


def test_repo_relative_wins_over_file_relative(product, wd):
    """An include relative to the repository root wins over one relative to
    the including file, without a warning (INC-011, INC-014)."""
    top = top_in(product, ["common.yml"])
    res = run_kas("dump", top, cwd=wd)
    assert res.returncode == 0, res
    assert yaml.safe_load(res.stdout)["machine"] == "root-common"
    assert fallback_warnings(res) == []


def test_file_relative_fallback_with_warnings(product, wd):
    """An include found only relative to the including file is used, with
    the fallback warnings (INC-013)."""
    top = top_in(product, ["only-here.yml"])
    res = run_kas("dump", top, cwd=wd)
    assert res.returncode == 0, res
    assert yaml.safe_load(res.stdout)["machine"] == "only-here"
    warnings = fallback_warnings(res)
    assert [w.format("only-here.yml") for w in FALLBACK_WARNINGS] == warnings[:2]
    assert set(warnings) == {w.format("only-here.yml") for w in FALLBACK_WARNINGS}


def test_neither_exists_reports_the_primary_candidate(product, wd):
    """An include found nowhere is reported by its repository-relative path
    (INC-013)."""
    top = top_in(product, ["nothere.yml"])
    res = dump_fails(top, wd)
    assert res.errors() == [
        "Configuration file not found: {}".format(os.path.join(product, "nothere.yml"))]


def test_escape_is_an_error_even_if_file_relative_would_be_inside(product, wd):
    """INC-011: ``../kas/only-here.yml`` leaves the repo root (checked first)."""
    top = top_in(product, ["../kas/only-here.yml"])
    res = dump_fails(top, wd)
    candidate = os.path.join(os.path.dirname(product), "kas", "only-here.yml")
    assert res.errors() == [f"include {candidate} resolves outside repository {product}"]


def test_absolute_include_inside_the_repository(product, wd):
    """An absolute include inside the repository is used (INC-011)."""
    top = top_in(product, [os.path.join(product, "kas", "only-here.yml")])
    assert dump(top, wd)["machine"] == "only-here"


def test_absolute_include_outside_the_repository(product, tmp, wd):
    """An absolute include outside the repository is an error (INC-011)."""
    outside = conf(os.path.join(tmp, "outside.yml"), machine="outside")
    top = top_in(product, [outside])
    res = dump_fails(top, wd)
    assert res.errors() == [f"include {outside} resolves outside repository {product}"]


def test_fallback_must_stay_within_the_including_directory(product, tmp, wd):
    """INC-013: the alternate (here through a symlink) must be within dir(F)."""
    conf(os.path.join(tmp, "elsewhere", "x.yml"), machine="elsewhere")
    os.symlink(os.path.join(tmp, "elsewhere"), os.path.join(product, "kas", "lnk"))
    top = top_in(product, ["lnk/x.yml"])
    res = dump_fails(top, wd)
    assert res.errors() == ["include {} resolves outside repository {}".format(
        os.path.join(tmp, "elsewhere", "x.yml"), os.path.join(product, "kas"))]


def test_string_includes_inherit_the_repo_root(product, wd):
    """INC-012: kas/inc/mid.yml's ``common.yml`` is the repo root's, not kas/inc's."""
    top = top_in(product, ["kas/inc/mid.yml"])
    assert dump(top, wd)["machine"] == "root-common"


def test_fallback_of_a_nested_include_is_relative_to_that_file(product, wd):
    """A nested include falls back to the directory of the file that
    includes it (INC-012)."""
    conf(os.path.join(product, "kas", "inc", "deep-only.yml"), machine="deep-only")
    conf(os.path.join(product, "kas", "inc", "mid2.yml"), includes=["deep-only.yml"])
    top = top_in(product, ["kas/inc/mid2.yml"])
    res = run_kas("dump", top, cwd=wd)
    assert res.returncode == 0, res
    assert yaml.safe_load(res.stdout)["machine"] == "deep-only"
    assert FALLBACK_WARNINGS[0].format("deep-only.yml") in res.warnings()


def test_outside_vcs_includes_are_relative_to_the_first_files_directory(tmp, wd):
    """Outside a VCS checkout includes are relative to the first file's
    directory, without a warning (INC-015)."""
    cfg = os.path.join(tmp, "cfg")
    conf(os.path.join(cfg, "inc", "x.yml"), machine="x")
    top = conf(os.path.join(cfg, "top.yml"), includes=["inc/x.yml"])
    res = run_kas("dump", top, cwd=wd)
    assert res.returncode == 0, res
    assert yaml.safe_load(res.stdout)["machine"] == "x"
    assert fallback_warnings(res) == []


def test_later_top_file_resolves_against_the_first_files_directory(tmp, wd):
    """INC-012/INC-015: R of every top file is the top repository path, i.e. here
    dir(first file); the second file's own directory is only the fallback."""
    first = conf(os.path.join(tmp, "cfg", "first.yml"), name="first")
    conf(os.path.join(tmp, "cfg", "common.yml"), machine="cfg-common")
    conf(os.path.join(tmp, "other", "common.yml"), machine="other-common")
    conf(os.path.join(tmp, "other", "own.yml"), distro="other-own")
    second = conf(os.path.join(tmp, "other", "second.yml"),
                  includes=["common.yml", "own.yml"])
    res = run_kas("dump", first + ":" + second, cwd=wd)
    assert res.returncode == 0, res
    out = yaml.safe_load(res.stdout)
    assert out["machine"] == "cfg-common"
    assert out["distro"] == "other-own"
    assert FALLBACK_WARNINGS[0].format("own.yml") in res.warnings()


def test_formats_can_be_mixed(wd):
    """YAML and JSON files may include each other (INC-016)."""
    d = str(wd)
    conf(os.path.join(d, "c.yaml"), name="c")
    conf(os.path.join(d, "b.json"), name="b", includes=["c.yaml"])
    conf(os.path.join(d, "a.yml"), name="a", includes=["b.json"])
    assert order(effective("a.yml", wd)) == ["c", "b", "a"]


# --- INC-005: same repository ------------------------------------------------------

def test_files_in_different_subdirectories_of_one_repo(product, wd):
    """Top files in different directories of one repository are fine
    (INC-005)."""
    a = top_in(product, [], name="a.yml", machine="a")
    b = conf(os.path.join(product, "other", "b.yml"), distro="b")
    out = dump(a + ":" + b, wd)
    assert (out["machine"], out["distro"]) == ("a", "b")


def test_unrelated_directories_outside_vcs(tmp, wd):
    """Top files in unrelated directories outside any checkout are fine
    (INC-005)."""
    a = conf(os.path.join(tmp, "one", "a.yml"), machine="a")
    b = conf(os.path.join(tmp, "two", "b.yml"), distro="b")
    out = dump(a + ":" + b, wd)
    assert (out["machine"], out["distro"]) == ("a", "b")


def test_files_in_different_repositories(tmp, wd):
    """Top files in different repositories are refused (INC-005)."""
    make_git_repo(os.path.join(tmp, "r1"))
    make_git_repo(os.path.join(tmp, "r2"))
    a = conf(os.path.join(tmp, "r1", "a.yml"))
    b = conf(os.path.join(tmp, "r2", "b.yml"))
    res = dump_fails(a + ":" + b, wd)
    assert res.errors() == [(
        "All concatenated config files must belong to the same repository or all "
        "must be outside of versioning control")]


# --- INC-070 / INC-071: the top repository ------------------------------------------

def test_git_root_is_the_top_repository(product, wd):
    """The git top level is the top repository, whatever directory the file
    is in (INC-071)."""
    top = conf(os.path.join(product, "kas", "deep", "er", "top.yml"), includes=["common.yml"])
    assert dump(top, wd)["machine"] == "root-common"
    config = load([top], wd)
    assert config.top_repo_path == product


@pytest.fixture
def superproject(tmp):
    """A git superproject with a real submodule at ``sub``."""
    sub_origin = make_git_repo(os.path.join(tmp, "sub-origin"), {
        "marker.yml": "header:\n  version: 14\nmachine: submodule-root\n",
        "kas/marker.yml": "header:\n  version: 14\nmachine: submodule-kas\n",
        "kas/top.yml": "header:\n  version: 14\n  includes:\n  - marker.yml\n",
    })
    sup = make_git_repo(os.path.join(tmp, "super"), {
        "marker.yml": "header:\n  version: 14\nmachine: superproject-root\n",
        "other.yml": "header:\n  version: 14\ndistro: super-other\n",
    })
    subprocess.run(["git", "-C", sup, "-c", "protocol.file.allow=always", "submodule",
                    "add", "-q", sub_origin, "sub"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    git(sup, "commit", "-q", "-m", "add submodule")
    return sup


def test_submodule_counts_as_its_superproject(superproject, wd):
    """A file in a submodule belongs to the superproject's top repository
    (INC-071)."""
    top = os.path.join(superproject, "sub", "kas", "top.yml")
    assert os.path.isfile(top)
    assert dump(top, wd)["machine"] == "superproject-root"
    assert load([top], wd).top_repo_path == superproject


def test_submodule_and_superproject_are_one_repository(superproject, wd):
    """Files in a submodule and its superproject count as one repository
    (INC-005)."""
    top = os.path.join(superproject, "sub", "kas", "top.yml")
    out = dump(top + ":" + os.path.join(superproject, "other.yml"), wd)
    assert (out["machine"], out["distro"]) == ("superproject-root", "super-other")


@pytest.mark.skipif(shutil.which("hg") is None,
                    reason="hg (Mercurial) is not installed")
def test_hg_root_is_the_top_repository(tmp, wd):
    """The hg root is the top repository (INC-071)."""
    repo = os.path.join(tmp, "hgrepo")
    os.makedirs(repo)
    subprocess.run(["hg", "init", repo], check=True)
    conf(os.path.join(repo, "marker.yml"), machine="hg-root")
    conf(os.path.join(repo, "kas", "marker.yml"), machine="hg-kas")
    top = conf(os.path.join(repo, "kas", "top.yml"), includes=["marker.yml"])
    assert dump(top, wd)["machine"] == "hg-root"
    assert load([top], wd).top_repo_path == repo


def test_directory_fallback_outside_vcs(tmp, wd):
    """Outside a checkout the first file's directory is the top repository
    (INC-070)."""
    top = conf(os.path.join(tmp, "plain", "sub", "top.yml"), repos={"this": None})
    config = load([top], wd)
    assert config.top_repo_path == os.path.join(tmp, "plain", "sub")
    assert repo_spec(config, "this").path == os.path.join(tmp, "plain", "sub")


def test_url_less_repos_are_the_top_repository(product, wd):
    """INC-072/INC-073: any id without url and path denotes the top repository."""
    top = top_in(product, [], repos={"this": None, "other-name": {"layers": {"meta": None}}})
    config = load([top], wd)
    assert repo_spec(config, "this").path == product
    assert repo_spec(config, "other-name").path == product


# --- _source_dir (CF-950, INC-032) -------------------------------------------------

@pytest.fixture
def source_dir(tmp):
    src = make_git_repo(os.path.join(tmp, "src"), {
        "kas/inc.yml": "header:\n  version: 14\nmachine: from-src\n",
        "kas/other.yml": "header:\n  version: 14\ndistro: other-from-src\n",
    })
    return src


def test_source_dir_is_the_root_for_the_first_files_includes(source_dir, tmp):
    """_source_dir is the root for the first file's includes and the top
    repo (CF-950)."""
    work = os.path.join(tmp, "kaswork")
    conf(os.path.join(work, ".config.yaml"), includes=["kas/inc.yml"],
         _source_dir=source_dir, repos={"this": None})
    res = run_kas("dump", cwd=work)
    assert res.returncode == 0, res
    out = yaml.safe_load(res.stdout)
    assert out["machine"] == "from-src"
    assert out["_source_dir"] == source_dir
    config = load([os.path.join(work, ".config.yaml")], work)
    assert config.top_repo_path == source_dir
    assert repo_spec(config, "this").path == source_dir


def test_relative_source_dir_is_relative_to_the_file(source_dir, tmp):
    """CF-950: The spec is silent; a relative value is read against the directory of
    the file that holds it (like an include), not the current directory."""
    work = os.path.join(tmp, "kaswork")
    top = conf(os.path.join(work, ".config.yaml"), includes=["kas/inc.yml"],
               _source_dir="../src", repos={"this": None})
    config = load([top], os.path.join(tmp))
    assert config.top_repo_path == source_dir
    assert config.data["machine"] == "from-src"


def test_source_dir_applies_to_later_top_files(source_dir, tmp):
    """_source_dir of the first file applies to the includes of later top
    files (INC-032)."""
    work = os.path.join(tmp, "kaswork")
    first = conf(os.path.join(work, "first.yml"), _source_dir=source_dir)
    second = conf(os.path.join(work, "second.yml"), includes=["kas/other.yml"])
    out = dump(first + ":" + second, work)
    assert out["distro"] == "other-from-src"


def test_source_dir_in_an_include_is_rejected(source_dir, tmp):
    """_source_dir in an include is refused (INC-032)."""
    work = os.path.join(tmp, "kaswork")
    inc = conf(os.path.join(work, "inc.yml"), _source_dir=source_dir)
    top = conf(os.path.join(work, "top.yml"), includes=["inc.yml"])
    res = dump_fails(top, work)
    assert res.errors() == [
        f"'_source_dir' is only allowed in the top-level kas configuration: {inc}"]


# --- INC-080 lock file names ------------------------------------------------------

@pytest.mark.parametrize("name, lock", [
    ("kas.yml", "kas.lock.yml"),
    ("kas.yaml", "kas.lock.yaml"),
    ("kas.json", "kas.lock.json"),
    ("a.b.yml", "a.b.lock.yml"),
    (".config.yaml", ".config.lock.yaml"),
])
def test_lock_file_name(wd, name, lock):
    """The lock file of NAME.EXT is NAME.lock.EXT; it is loaded before its
    owner, which wins (INC-080)."""
    d = str(wd)
    conf(os.path.join(d, name), name="owner", machine="owner")
    conf(os.path.join(d, lock), name="lock", machine="lock", distro="from-lock")
    out = effective(name, wd)
    assert order(out) == ["lock", "owner"]
    assert (out["machine"], out["distro"]) == ("owner", "from-lock")


def test_lock_of_the_default_config_yaml(wd):
    """.config.yaml has its lock file .config.lock.yaml (INC-080)."""
    d = str(wd)
    conf(os.path.join(d, ".config.yaml"), name="owner")
    conf(os.path.join(d, ".config.lock.yaml"), name="lock")
    res = run_kas("dump", cwd=wd)
    assert res.returncode == 0, res
    assert order(yaml.safe_load(res.stdout)) == ["lock", "owner"]


def test_lock_of_an_included_file(wd):
    """An included file's lock file is loaded before it (INC-080)."""
    d = str(wd)
    conf(os.path.join(d, "inc.yaml"), name="inc")
    conf(os.path.join(d, "inc.lock.yaml"), name="inc-lock")
    conf(os.path.join(d, "kas.yml"), name="top", includes=["inc.yaml"])
    assert order(dump("kas.yml", wd)) == ["inc-lock", "inc", "top"]


def test_lock_of_a_lock_file(wd):
    """INC-080: kas.lock.yml → kas.lock.lock.yml, loaded before its owner."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    conf(os.path.join(d, "kas.lock.yml"), name="lock", machine="lock")
    conf(os.path.join(d, "kas.lock.lock.yml"), name="locklock", machine="locklock",
         distro="locklock")
    out = dump("kas.yml", wd)
    assert order(out) == ["locklock", "lock", "kas"]
    assert (out["machine"], out["distro"]) == ("lock", "locklock")


def test_other_names_are_not_lock_files(wd):
    """Other names are not lock files (INC-080)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    for other in ("kas.lock.yaml", "kas.yml.lock.yml", "kas-lock.yml", "kas.lock.json"):
        conf(os.path.join(d, other), name=other)
    assert order(effective("kas.yml", wd)) == ["kas"]


def test_a_directory_is_not_a_lock_file(wd):
    """A directory named like a lock file is not one (INC-080)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    os.makedirs(os.path.join(d, "kas.lock.yml"))
    assert order(effective("kas.yml", wd)) == ["kas"]


def test_lock_file_may_include_files(wd):
    """A lock file may include files, loaded before it (INC-081)."""
    d = str(wd)
    conf(os.path.join(d, "pins.yml"), name="pins")
    conf(os.path.join(d, "kas.lock.yml"), name="lock", includes=["pins.yml"])
    conf(os.path.join(d, "kas.yml"), name="kas")
    assert order(effective("kas.yml", wd)) == ["pins", "lock", "kas"]


def test_owner_overrides_win_over_its_lock_file(wd):
    """The owner's overrides win over those of its lock file (INC-082)."""
    d = str(wd)
    commit_a, commit_b = "a" * 40, "b" * 40
    conf(os.path.join(d, "kas.lock.yml"),
         overrides={"repos": {"poky": {"commit": commit_a}}})
    conf(os.path.join(d, "kas.yml"),
         overrides={"repos": {"poky": {"commit": commit_b}}})
    assert effective("kas.yml", wd)["overrides"] == {"repos": {"poky": {"commit": commit_b}}}


# --- INC-085 --update ---------------------------------------------------------------

@pytest.fixture
def locked(wd):
    d = str(wd)
    conf(os.path.join(d, "inc.yml"), name="inc", version=12)
    conf(os.path.join(d, "inc.lock.yml"), name="inc-lock", version=18, task="inc-lock")
    conf(os.path.join(d, "kas.lock.lock.yml"), name="locklock", version=19)
    conf(os.path.join(d, "kas.lock.yml"), name="lock", version=17,
         overrides={"repos": {"poky": {"commit": "c" * 40}}}, distro="from-lock")
    conf(os.path.join(d, "kas.yml"), name="kas", version=10, includes=["inc.yml"])
    return wd


def test_lock_files_take_part_without_update(locked):
    """Without --update lock files, and locks of lock files, take part in
    the merge and the version (INC-085)."""
    out = dump("kas.yml", locked)
    assert order(out) == ["locklock", "lock", "inc-lock", "inc", "kas"]
    assert out["header"] == {"version": 19}
    assert out["overrides"] == {"repos": {"poky": {"commit": "c" * 40}}}
    assert (out["distro"], out["task"]) == ("from-lock", "inc-lock")


def test_update_excludes_lock_files_from_merge_and_version(locked):
    """INC-085/INC-063: lock files (and locks of locks) are left out with --update."""
    out = dump("kas.yml", locked, "--update")
    assert order(out) == ["inc", "kas"]
    assert out["header"] == {"version": 12}
    assert "overrides" not in out
    assert "distro" not in out and "task" not in out


def test_update_still_validates_lock_files(wd):
    """With --update lock files are still validated (INC-085)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    lock = write(os.path.join(d, "kas.lock.yml"), """
        overrides:
          repos:
            poky:
              commit: 0123456789abcdef0123456789abcdef01234567
        """)
    res = dump_fails("kas.yml", wd, "--update")
    assert res.errors()[-1] == \
        f"Error(s) occured while validating the config file: {lock}"


def test_update_still_parses_lock_files(wd):
    """With --update lock files are still parsed (INC-085)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    lock = write(os.path.join(d, "kas.lock.yml"), "header: [unclosed\n")
    res = dump_fails("kas.yml", wd, "--update")
    assert lock in res.errors()[-1]
    assert res.errors()[-1].startswith("Configuration file is not valid YAML")


def test_update_still_loads_includes_of_lock_files(wd):
    """With --update a lock file's includes are still loaded (INC-085)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), name="kas")
    conf(os.path.join(d, "kas.lock.yml"), includes=["missing.yml"])
    res = dump_fails("kas.yml", wd, "--update")
    assert res.errors() == ["Configuration file not found: {}".format(
        os.path.join(d, "missing.yml"))]


# --- INC-086 several lock files -------------------------------------------------------

@pytest.fixture
def poky(tmp):
    """A real repository with two commits; returns (path, first, second)."""
    path = make_git_repo(os.path.join(tmp, "poky-origin"), {"README": "one\n"})
    first = git(path, "rev-parse", "HEAD")
    write(os.path.join(path, "README"), "two\n")
    git(path, "commit", "-q", "-a", "-m", "second")
    return path, first, git(path, "rev-parse", "HEAD")


def _poky_pin(commit):
    return {"repos": {"poky": {"commit": commit}}}


def test_example_pin_of_the_included_files_lock_wins(wd, poky):
    """INC-086: kas.lock.yml and vendor.lock.yml both pin poky → vendor's pin wins."""
    url, first, second = poky
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), includes=["vendor.yml"],
         repos={"poky": {"url": url, "branch": "main"}})
    conf(os.path.join(d, "kas.lock.yml"), overrides=_poky_pin(first))
    conf(os.path.join(d, "vendor.yml"), machine="vendor")
    conf(os.path.join(d, "vendor.lock.yml"), overrides=_poky_pin(second))
    out = dump("kas.yml", wd)
    assert out["overrides"] == _poky_pin(second)


def test_later_overrides_win_over_an_included_files_lock(wd, poky):
    """The overrides of the including file win over the lock file of the
    file it includes (INC-086)."""
    url, first, second = poky
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), includes=["vendor.yml"],
         repos={"poky": {"url": url, "branch": "main"}}, overrides=_poky_pin(first))
    conf(os.path.join(d, "vendor.yml"), machine="vendor")
    conf(os.path.join(d, "vendor.lock.yml"), overrides=_poky_pin(second))
    assert effective("kas.yml", wd)["overrides"] == _poky_pin(first)


def test_later_include_wins_over_an_earlier_includes_lock(wd, poky):
    """A later include's overrides win over an earlier include's lock file
    (INC-086)."""
    url, first, second = poky
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), includes=["vendor.yml", "product.yml"],
         repos={"poky": {"url": url, "branch": "main"}})
    conf(os.path.join(d, "vendor.yml"), machine="vendor")
    conf(os.path.join(d, "vendor.lock.yml"), overrides=_poky_pin(second))
    conf(os.path.join(d, "product.yml"), overrides=_poky_pin(first))
    assert effective("kas.yml", wd)["overrides"] == _poky_pin(first)


# --- INC-063 / CF-102 merged version -------------------------------------------------

def test_version_is_the_maximum_of_all_files(wd):
    """The effective version is the highest of all files (INC-063)."""
    d = str(wd)
    conf(os.path.join(d, "a.yml"), version=20)
    conf(os.path.join(d, "b.yml"), version=3)
    conf(os.path.join(d, "top.yml"), version=5, includes=["a.yml", "b.yml"])
    assert effective("top.yml", wd)["header"] == {"version": 20}


def test_version_of_colon_separated_files(wd):
    """INC-004, INC-063: the header versions of all top files count."""
    d = str(wd)
    conf(os.path.join(d, "a.yml"), version=21)
    conf(os.path.join(d, "b.yml"), version=2)
    assert dump("a.yml:b.yml", wd)["header"] == {"version": 21}
    assert dump("b.yml:a.yml", wd)["header"] == {"version": 21}


@pytest.mark.parametrize("first, second", [("old.yml", "new.yml"), ("new.yml", "old.yml")])
def test_version_0_10_counts_as_1(wd, first, second):
    """CF-102/INC-063/INC-E06: "0.10" merged with version 5 gives 5, no traceback."""
    d = str(wd)
    write(os.path.join(d, "old.yml"), 'header:\n  version: "0.10"\nmachine: old\n')
    conf(os.path.join(d, "new.yml"), version=5, distro="new")
    out = dump(first + ":" + second, wd)
    assert out["header"] == {"version": 5}


def test_version_0_10_in_an_include(wd):
    """An include with version "0.10" counts as version 1 (INC-063, CF-102)."""
    d = str(wd)
    write(os.path.join(d, "old.yml"), 'header:\n  version: "0.10"\nmachine: old\n')
    conf(os.path.join(d, "top.yml"), version=5, includes=["old.yml"])
    out = effective("top.yml", wd)
    assert out["header"] == {"version": 5}
    assert out["machine"] == "old"


# --- INC-020 ... INC-022, INC-040 ... INC-044: repo includes -------------------------

def test_repo_include_of_the_top_repo(product, wd):
    """A repo include of the top repo is relative to the repository root
    (INC-021)."""
    conf(os.path.join(product, "kas", "extra.yml"), name="extra", includes=["common.yml"])
    top = top_in(product, [{"repo": "this", "file": "kas/extra.yml"}], name="kas.yml",
                 repos={"this": None}, local_conf_header={"top": "top"})
    out = dump(top, wd)
    assert order(out) == ["extra", "top"]
    assert out["machine"] == "root-common"   # extra.yml's R is the repo path


def test_repo_include_of_the_top_repo_outside_vcs(workdir):
    """A repo include of the top repo outside a checkout keeps its place
    among the includes (INC-021)."""
    d = str(workdir)
    conf(os.path.join(d, "sub", "extra.yml"), name="extra")
    conf(os.path.join(d, "kas.yml"), name="kas", repos={"me": None},
         includes=["first.yml", {"repo": "me", "file": "sub/extra.yml"}, "last.yml"])
    conf(os.path.join(d, "first.yml"), name="first")
    conf(os.path.join(d, "last.yml"), name="last")
    assert order(dump("kas.yml", workdir)) == ["first", "extra", "last", "kas"]


@pytest.fixture
def lib(tmp):
    """A local repository (a plain directory) used through ``path:``."""
    path = os.path.join(tmp, "lib")
    conf(os.path.join(path, "conf", "lib.yml"), name="lib", includes=["conf/common.yml"])
    conf(os.path.join(path, "conf", "common.yml"), machine="lib-common")
    return path


def test_repo_include_of_a_local_repo_with_absolute_path(product, lib, wd):
    """INC-020/INC-012: the included file's R is the repo path (lib), not the top repo."""
    conf(os.path.join(product, "conf", "common.yml"), machine="product-common")
    top = top_in(product, [{"repo": "lib", "file": "conf/lib.yml"}], name="kas.yml",
                 repos={"lib": {"path": lib}})
    out = dump(top, wd)
    assert order(out) == ["lib"]
    assert out["machine"] == "lib-common"


def test_relative_repo_path_is_relative_to_kas_work_dir(tmp, lib):
    """INC-074: ``path: lib`` is <KAS_WORK_DIR>/lib, not relative to the file or cwd."""
    cwd = os.path.join(tmp, "cwd")
    conf(os.path.join(cwd, "lib", "conf", "lib.yml"), name="wrong-lib")
    top = conf(os.path.join(cwd, "kas.yml"), repos={"lib": {"path": "lib"}},
               includes=[{"repo": "lib", "file": "conf/lib.yml"}])
    out = dump(top, cwd, env=clean_env(KAS_WORK_DIR=tmp))
    assert order(out) == ["lib"]


def test_repo_include_resolving_outside_the_repository(lib, wd):
    """A repo include that resolves outside its repository is an error
    (INC-020)."""
    d = real(str(wd))
    conf(os.path.join(d, "escape.yml"))
    conf(os.path.join(d, "kas.yml"), repos={"lib": {"path": lib}},
         includes=[{"repo": "lib", "file": os.path.relpath(os.path.join(d, "escape.yml"), lib)}])
    res = dump_fails("kas.yml", wd)
    assert res.errors() == ["include {} resolves outside repository {}".format(
        os.path.join(d, "escape.yml"), lib)]


def test_repo_include_of_a_missing_file(lib, wd):
    """A repo include of a missing file names the file in the repository
    (INC-022)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), repos={"lib": {"path": lib}},
         includes=[{"repo": "lib", "file": "conf/nothere.yml"}])
    res = dump_fails("kas.yml", wd)
    assert res.errors() == ["Configuration file not found: {}".format(
        os.path.join(lib, "conf", "nothere.yml"))]


def test_no_file_relative_fallback_for_repo_includes(lib, wd):
    """INC-020: only.yml next to the including file is not used for a repo include."""
    d = str(wd)
    conf(os.path.join(d, "only.yml"), machine="only")
    conf(os.path.join(d, "kas.yml"), repos={"lib": {"path": lib}},
         includes=[{"repo": "lib", "file": "only.yml"}])
    res = dump_fails("kas.yml", wd)
    assert res.errors() == ["Configuration file not found: {}".format(
        os.path.join(lib, "only.yml"))]


def test_undefined_repo(wd):
    """A repo include of a repo that is not configured is an error naming it
    (INC-044)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), includes=[{"repo": "nothere", "file": "x.yml"}])
    res = dump_fails("kas.yml", wd)
    assert res.errors() == [
        "Could not fetch all repos needed by includes. Missing repos: nothere"]


def test_missing_repos_are_listed_in_order(wd):
    """Missing repos are listed once each, in the order the includes name
    them (INC-044)."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), includes=[
        {"repo": "zz", "file": "x.yml"}, {"repo": "aa", "file": "y.yml"},
        {"repo": "zz", "file": "z.yml"}])
    res = dump_fails("kas.yml", wd)
    assert res.errors() == [
        "Could not fetch all repos needed by includes. Missing repos: zz, aa"]


@pytest.fixture
def chain(tmp):
    """INC-042 example with local repos: product → meta-vendor → meta-bsp."""
    vendor = os.path.join(tmp, "meta-vendor")
    bsp = os.path.join(tmp, "meta-bsp")
    conf(os.path.join(bsp, "kas", "bsp.yml"), name="bsp", machine="bsp-board")
    conf(os.path.join(vendor, "kas", "vendor.yml"), name="vendor", distro="vendor-distro",
         repos={"meta-bsp": {"path": bsp}},
         includes=[{"repo": "meta-bsp", "file": "kas/bsp.yml"}])
    product = os.path.join(tmp, "product")
    top = conf(os.path.join(product, "kas.yml"), name="product", version=23,
               includes=[{"repo": "meta-vendor", "file": "kas/vendor.yml"}],
               repos={"product": None, "meta-vendor": {"path": vendor}})
    return top, vendor, bsp


def test_three_pass_chain_of_local_repos(chain, wd):
    """A chain of repo includes over local repos resolves in three passes
    (INC-042)."""
    top, vendor, bsp = chain
    out = dump(top, wd)
    assert order(out) == ["bsp", "vendor", "product"]
    assert (out["machine"], out["distro"]) == ("bsp-board", "vendor-distro")
    assert out["repos"] == {"meta-bsp": {"path": bsp}, "product": None,
                            "meta-vendor": {"path": vendor}}


class RecordingProvider(LocalRepoProvider):
    def __init__(self):
        self.calls = []

    def provide(self, config, repo_ids):
        self.calls.append(list(repo_ids))
        return super().provide(config, repo_ids)


def test_passes_of_the_loop(chain, wd):
    """INC-042: pass 1 misses meta-vendor, pass 2 misses meta-bsp, pass 3 nothing."""
    top = chain[0]
    provider = RecordingProvider()
    resolver = ConfigResolver(make_context(wd), [top], provider)
    first = resolver.first_pass()
    assert resolver.missing == ["meta-vendor"]
    assert "meta-bsp" not in first.repos()
    final = resolver.complete()
    assert provider.calls == [["meta-vendor"], ["meta-bsp"]]
    assert resolver.missing == []
    assert final.data["machine"] == "bsp-board"


def test_repo_include_of_a_local_repo_costs_one_extra_pass(product, wd):
    """A repo include of a local repo costs one more pass, asking the
    provider for that repo only (INC-042)."""
    top = top_in(product, [{"repo": "this", "file": "common.yml"}], repos={"this": None})
    provider = RecordingProvider()
    config = load([top], wd, provider=provider)
    assert provider.calls == [["this"]]
    assert config.data["machine"] == "root-common"


def test_repo_include_of_a_remote_repo_is_a_clear_error(wd):
    """INC-020: Repos with url cannot be fetched yet: a clean user error, no traceback."""
    d = str(wd)
    conf(os.path.join(d, "kas.yml"),
         repos={"remote-layer": {"url": "https://example.invalid/remote-layer.git",
                                 "branch": "main"}},
         includes=[{"repo": "remote-layer", "file": "kas/x.yml"}])
    res = dump_fails("kas.yml", wd)
    assert res.errors(), res
    assert "remote-layer" in res.errors()[-1]


def test_repo_without_url_defined_in_another_repo_is_the_top_repo(chain, wd):
    """INC-073: ``vendor-self:`` declared inside meta-vendor still denotes the top repo."""
    top, vendor, _bsp = chain
    conf(os.path.join(vendor, "kas", "vendor.yml"), name="vendor",
         repos={"vendor-self": None})
    config = load([top], wd)
    assert repo_spec(config, "vendor-self").path == os.path.dirname(top)
    assert repo_spec(config, "meta-vendor").path == vendor


def test_include_changing_its_own_repo_does_not_crash(tmp, wd):
    """INC-045: unsupported, but it MUST NOT crash."""
    lib1 = os.path.join(tmp, "lib1")
    lib2 = os.path.join(tmp, "lib2")
    conf(os.path.join(lib1, "x.yml"), name="lib1", repos={"lib": {"path": lib2}})
    conf(os.path.join(lib2, "x.yml"), name="lib2")
    d = str(wd)
    conf(os.path.join(d, "kas.yml"), repos={"lib": {"path": lib1}},
         includes=[{"repo": "lib", "file": "x.yml"}])
    res = run_kas("dump", "kas.yml", cwd=wd)
    assert res.returncode in (0, 2), res
    assert "Traceback" not in res.stderr


def test_single_version_0_10_file_counts_as_1(wd):
    """A single file with version "0.10" has version 1 (INC-063, CF-102)."""
    write(os.path.join(str(wd), "old.yml"), 'header:\n  version: "0.10"\nmachine: old\n')
    assert dump("old.yml", wd)["header"] == {"version": 1}


ISAR_WARNING = ("The semantics of build_system: isar might change in the future. "
                "Please use 'isar-privileged' or 'isar-rootless'.")


def test_isar_warning_of_the_first_file_once_across_passes(product, wd):
    """INC-003/INC-047/CF-302: warned once per process although the repo include
    makes kas load the first file in two passes."""
    top = top_in(product, [{"repo": "this", "file": "common.yml"}], repos={"this": None},
                 build_system="isar")
    res = run_kas("dump", top, cwd=wd)
    assert res.returncode == 0, res
    assert res.warnings().count(ISAR_WARNING) == 1
    assert yaml.safe_load(res.stdout)["build_system"] == "isar"


def test_isar_in_an_include_or_a_later_top_file_is_not_warned(wd):
    """The warning about build_system: isar is only for the first top file,
    not for includes or later files (INC-003)."""
    d = str(wd)
    conf(os.path.join(d, "inc.yml"), build_system="isar")
    conf(os.path.join(d, "first.yml"), includes=["inc.yml"])
    conf(os.path.join(d, "second.yml"), build_system="isar")
    res = run_kas("dump", "first.yml:second.yml", cwd=wd)
    assert res.returncode == 0, res
    assert ISAR_WARNING not in res.warnings()
