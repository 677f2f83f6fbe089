"""``kas dump --explain`` (issue 18.1): every value of the effective
configuration with where it was set, and the settings of one key.

The tree: ``.config.yaml`` (as ``kas menu`` writes it) includes
``kas/product.yml`` (with its lock file), which includes ``kas/mid.yml``,
which includes ``kas/base.yml`` from the fetched repository ``bsp``, which
includes ``kas/inner.yml`` of the same repository: four include levels
across two repositories.  ``local_conf_header.10-hello`` is set three times.
"""

import json

import pytest
import yaml
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_ok, run_kas

BASE = """\
header:
  version: 14
  includes:
    - kas/inner.yml
machine: qemuarm
local_conf_header:
  10-hello: A
"""
INNER = """\
header:
  version: 14
bblayers_conf_header:
  inner: B = "1"
"""
MID = """\
header:
  version: 14
  includes:
    - repo: bsp
      file: kas/base.yml
machine: qemuarm64
local_conf_header:
  10-hello: B
"""
PRODUCT = """\
header:
  version: 14
  includes:
    - kas/mid.yml
repos:
  this:
  bsp:
    url: {url}
    branch: main
local_conf_header:
  10-hello: C
"""
LOCK = """\
header:
  version: 14
overrides:
  repos:
    bsp:
      commit: {commit}
"""
CONFIG_YAML = """\
header:
  version: 14
  includes:
    - kas/product.yml
target: core-image-base
"""


@pytest.fixture
def tree(tmp_path):
    bsp = make_git_repo(tmp_path / "upstream-bsp", {"kas/base.yml": BASE,
                                                    "kas/inner.yml": INNER})
    commit = git(bsp, "rev-parse", "HEAD")
    work = tmp_path / "work"
    make_git_repo(work, {"kas/mid.yml": MID,
                         "kas/product.yml": PRODUCT.format(url=bsp),
                         "kas/product.lock.yml": LOCK.format(commit=commit)})
    write(work / ".config.yaml", CONFIG_YAML)
    return {"work": work, "commit": commit}


def env(**extra):
    return {k: v for k, v in clean_env(**extra).items() if not k.startswith("GIT_")}


def explain(cwd, *args, **environ):
    return kas_ok("dump", *args, cwd=cwd, env=env(**environ)).stdout


def comments(text):
    """{line without its comment: comment} of every commented line."""
    result = {}
    for line in text.splitlines():
        if "  # " in line:
            value, note = line.split("  # ", 1)
            result[value] = note
    return result


def test_every_leaf_names_its_source(tree):
    """Issue 18.1: file:line relative to the work dir, repo:path:line for
    files of a repo include (at every depth), lock, env, default; replaced
    values listed in merge order."""
    out = explain(tree["work"], "--explain", KAS_MACHINE="qemux86-64")
    notes = comments(out)
    assert notes["machine: qemux86-64"] == (
        'env KAS_MACHINE (was "qemuarm" in bsp:kas/base.yml:5, '
        '"qemuarm64" in kas/mid.yml:6)')
    assert notes["  10-hello: C"] == (
        'kas/product.yml:11 (was "A" in bsp:kas/base.yml:7, "B" in kas/mid.yml:8)')
    assert notes['  inner: B = "1"'] == "bsp:kas/inner.yml:4"
    assert notes[f"      commit: {tree['commit']}"] == "lock kas/product.lock.yml:6"
    assert notes["    url: " + str(tree["work"].parent / "upstream-bsp")] == \
        "kas/product.yml:8"
    assert notes["target: core-image-base"] == ".config.yaml:5"
    assert notes["distro: nodistro"] == "default"
    assert notes["task: build"] == "default"
    assert notes["  this:"] == "kas/product.yml:6"
    assert notes["  version: 14"] == ".config.yaml:2 (the highest of 6 files)"


def test_explained_document_is_the_dump_plus_what_kas_fills_in(tree):
    """issue 18.1: The comments change nothing: the annotated document loads as the
    plain dump with the environment override and the defaults applied; the
    plain dump itself has no comments."""
    plain = explain(tree["work"], KAS_MACHINE="qemux86-64")
    assert "#" not in plain
    explained = yaml.safe_load(explain(tree["work"], "--explain", KAS_MACHINE="qemux86-64"))
    expected = dict(yaml.safe_load(plain), machine="qemux86-64", distro="nodistro",
                    task="build", build_system="openembedded")
    assert explained == expected


def test_key_set_three_times(tree):
    """issue 18.1: --explain=KEY: each file that set the key in merge order, then the
    final value; the config argument after it stays the config."""
    out = explain(tree["work"], "--explain=local_conf_header.10-hello", ".config.yaml")
    assert out == ("local_conf_header.10-hello\n"
                   '  bsp:kas/base.yml:7  "A"\n'
                   '  kas/mid.yml:8       "B"\n'
                   '  kas/product.yml:11  "C"\n'
                   '  = "C"\n')


def test_repo_commit_shows_the_lock_pin(tree):
    """issue 18.1: A repo's commit comes from the lock file's override (CF-706)."""
    out = explain(tree["work"], "--explain=repos.bsp.commit", "--format", "json")
    assert json.loads(out) == {
        "key": ["repos", "bsp", "commit"],
        "settings": [{"source": "lock kas/product.lock.yml:6",
                      "path": ["overrides", "repos", "bsp", "commit"],
                      "value": tree["commit"]}],
        "value": tree["commit"]}


def test_env_override_and_default_chains(tree):
    """--explain=KEY shows the chain of files that set the value, then an
    environment override or the default, then the result (issue 18.1)."""
    out = explain(tree["work"], "--explain=machine", KAS_MACHINE="qemux86-64")
    assert out == ("machine\n"
                   '  bsp:kas/base.yml:5  "qemuarm"\n'
                   '  kas/mid.yml:6       "qemuarm64"\n'
                   '  env KAS_MACHINE     "qemux86-64"\n'
                   '  = "qemux86-64"\n')
    assert explain(tree["work"], "--explain=distro") == \
        'distro\n  default  "nodistro"\n  = "nodistro"\n'


def test_json_input(workdir):
    """issue 18.1: JSON files (tab-indented too, which YAML parsers refuse) get lines."""
    write(workdir / "kas.json", '{\n\t"header": {\n\t\t"version": 14,\n'
                                '\t\t"includes": ["inc.json"]\n\t},\n'
                                '\t"local_conf_header": {\n\t\t"a": "top",\n'
                                '\t\t"b": "x"\n\t}\n}\n')
    write(workdir / "inc.json", json.dumps({"header": {"version": 14},
                                            "local_conf_header": {"a": "inc"},
                                            "machine": "m"}, indent=2))
    notes = comments(explain(workdir, "--explain", "kas.json"))
    assert notes["  a: top"] == 'kas.json:7 (was "inc" in inc.json:6)'
    assert notes["  b: x"] == "kas.json:8"
    assert notes["machine: m"] == "inc.json:8"


def test_replaced_mapping_drops_earlier_leaves(workdir):
    """INC-053, issue 18.1: a null replaces a repo's mapping; its old keys are gone and
    the chain of the removed key shows the replacement."""
    write(workdir / "a.yml", "header:\n  version: 14\nrepos:\n  r:\n    path: x\n")
    write(workdir / "b.yml", "header:\n  version: 14\n  includes: [a.yml]\n"
                             "repos:\n  r:\n")
    out = explain(workdir, "--explain", "b.yml")
    assert comments(out)["  r:"] == 'b.yml:5 (was {"path": "x"} in a.yml:4)'
    assert explain(workdir, "--explain=repos.r.path", "b.yml") == (
        'repos.r.path\n  a.yml:5  "x"\n  b.yml:5  repos.r: null\n  = null\n')


def test_sort_and_indent_apply(workdir):
    """--sort and --indent apply to --explain's output (issue 18.1)."""
    write(workdir / "k.yml", "header:\n  version: 14\nmachine: m\nlocal_conf_header:\n"
                             "  z: '1'\n  a: '2'\n")
    out = explain(workdir, "--explain", "--sort", "--indent", "4", "k.yml")
    assert "    a: '2'  # k.yml:6\n    z: '1'  # k.yml:5\n" in out
    assert out.index("build_system:") < out.index("distro:") < out.index("header:")


@pytest.mark.parametrize("args, message", [
    (["--explain=no.such.key"], "--explain: the configuration has no key no.such.key"),
    (["--explain", "--format", "json"],
     ("Invalid combination of arguments: --explain prints YAML with comments: use "
      "--explain=KEY for JSON output")),
    (["--explain", "--lock"],
     "Invalid combination of arguments: --explain cannot be used with --lock"),
])
def test_bad_arguments(workdir, args, message):
    """A key the configuration does not have, --explain with JSON or with
    --lock, are errors (issue 18.1)."""
    write(workdir / "k.yml", "header:\n  version: 14\n")
    res = run_kas("dump", *args, "k.yml", cwd=workdir, env=env())
    assert res.returncode == 2, res
    assert res.errors() == [message]
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_positions_of_anchors_and_merge_keys(workdir):
    """issue 18.1: ``<<: *base`` takes the anchored keys' lines."""
    write(workdir / "k.yml", "header:\n  version: 14\nenv: &base\n  M1: one\n"
                             "local_conf_header:\n  <<: *base\n  m2: two\n")
    out = explain(workdir, "--explain", "k.yml")
    assert out.count("  M1: one  # k.yml:4\n") == 2
    assert "  m2: two  # k.yml:7\n" in out
