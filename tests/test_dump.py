"""``kas dump`` output (cli.md §5.5, CLI-140 ... CLI-144) and the environment
overrides of project settings (environment.md §2.2, config-format.md §6-§7).

The dump tests run the real ``kas`` in a subprocess on real files and
compare stdout byte for byte.  The accessor tests build the effective
configuration with :func:`kas.config.loop.resolve` from a real file, like
kas/pipeline.py does, with an explicit environment.
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_ok, load_config, run_kas

real = os.path.realpath

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def wd(tmp_path):
    """cwd and config directory: an empty git repository (kas then finds the
    VCS root with one quick git call instead of also starting ``hg``)."""
    d = tmp_path / "wd"
    d.mkdir()
    subprocess.run(["git", "init", "-q", str(d)], check=True)
    return str(d)


def root_repo_warnings(res):
    """The CLI-143 warnings (other warnings, e.g. CF-646, are not checked here)."""
    return [w for w in res.warnings() if "(root repo)" in w]


def dump(cwd, *args, env=None):
    return kas_ok("dump", *args, cwd=cwd, env=env)


# --- the example used for the format tests --------------------------------------

COMMON_YML = """
header:
  version: 17
distro: poky
machine: common-machine
local_conf_header:
  first: A = "1"
"""

KAS_YML = """
header:
  version: 14
  includes:
    - common.yml
build_system: oe
machine: qemuarm64
target:
  - core-image-base
  - core-image-sato
env:
  SSTATE_MIRROR_URL: file:///srv/sstate
  BUILD_ID:
repos:
  this:
  meta-custom:
    path: meta-custom
    layers:
      meta-a:
      meta-b: disabled
local_conf_header:
  standard: |
    CONF_VERSION = "2"
    INHERIT += "rm_work"
  single: EXTRA = "1"
  nonl: "X = \\"1\\"\\nY = \\"2\\""
overrides:
  repos:
    meta-custom:
      commit: 0123456789abcdef0123456789abcdef01234567
"""

EXPECTED_YAML = """\
header:
  version: 17
distro: poky
machine: qemuarm64
local_conf_header:
  first: A = "1"
  standard: |
    CONF_VERSION = "2"
    INHERIT += "rm_work"
  single: EXTRA = "1"
  nonl: |-
    X = "1"
    Y = "2"
build_system: oe
target:
- core-image-base
- core-image-sato
env:
  SSTATE_MIRROR_URL: file:///srv/sstate
  BUILD_ID:
repos:
  this:
  meta-custom:
    path: meta-custom
    layers:
      meta-a:
      meta-b: disabled
overrides:
  repos:
    meta-custom:
      commit: 0123456789abcdef0123456789abcdef01234567
"""

EXPECTED_YAML_INDENT4 = """\
header:
    version: 17
distro: poky
machine: qemuarm64
local_conf_header:
    first: A = "1"
    standard: |
        CONF_VERSION = "2"
        INHERIT += "rm_work"
    single: EXTRA = "1"
    nonl: |-
        X = "1"
        Y = "2"
build_system: oe
target:
- core-image-base
- core-image-sato
env:
    SSTATE_MIRROR_URL: file:///srv/sstate
    BUILD_ID:
repos:
    this:
    meta-custom:
        path: meta-custom
        layers:
            meta-a:
            meta-b: disabled
overrides:
    repos:
        meta-custom:
            commit: 0123456789abcdef0123456789abcdef01234567
"""

EXPECTED_YAML_SORTED = """\
build_system: oe
distro: poky
env:
  BUILD_ID:
  SSTATE_MIRROR_URL: file:///srv/sstate
header:
  version: 17
local_conf_header:
  first: A = "1"
  nonl: |-
    X = "1"
    Y = "2"
  single: EXTRA = "1"
  standard: |
    CONF_VERSION = "2"
    INHERIT += "rm_work"
machine: qemuarm64
overrides:
  repos:
    meta-custom:
      commit: 0123456789abcdef0123456789abcdef01234567
repos:
  meta-custom:
    layers:
      meta-a:
      meta-b: disabled
    path: meta-custom
  this:
target:
- core-image-base
- core-image-sato
"""

EXPECTED_JSON = """\
{
  "header": {
    "version": 17
  },
  "distro": "poky",
  "machine": "qemuarm64",
  "local_conf_header": {
    "first": "A = \\"1\\"",
    "standard": "CONF_VERSION = \\"2\\"\\nINHERIT += \\"rm_work\\"\\n",
    "single": "EXTRA = \\"1\\"",
    "nonl": "X = \\"1\\"\\nY = \\"2\\""
  },
  "build_system": "oe",
  "target": [
    "core-image-base",
    "core-image-sato"
  ],
  "env": {
    "SSTATE_MIRROR_URL": "file:///srv/sstate",
    "BUILD_ID": null
  },
  "repos": {
    "this": null,
    "meta-custom": {
      "path": "meta-custom",
      "layers": {
        "meta-a": null,
        "meta-b": "disabled"
      }
    }
  },
  "overrides": {
    "repos": {
      "meta-custom": {
        "commit": "0123456789abcdef0123456789abcdef01234567"
      }
    }
  }
}
"""


@pytest.fixture
def example(wd):
    write(os.path.join(wd, "common.yml"), COMMON_YML)
    write(os.path.join(wd, "kas.yml"), KAS_YML)
    os.makedirs(os.path.join(wd, "meta-custom"))
    return wd


def test_default_yaml_output_is_byte_exact(example):
    """CLI-141: indent 2, `key:` for null, `|` blocks, no `---`, header.includes
    removed, merged version kept, overrides kept, key order = merge order."""
    res = dump(example, "kas.yml")
    assert res.stdout == EXPECTED_YAML


def test_no_document_markers(example):
    """The YAML output has no document markers and carries the same
    document, in the same key order, as the JSON output (CLI-141)."""
    out = dump(example, "kas.yml").stdout
    assert not out.startswith("---")
    assert "\n---" not in out and "\n..." not in out
    # JSON and YAML carry the same document, in the same key order
    as_json = json.loads(dump(example, "--format", "json", "kas.yml").stdout)
    as_yaml = yaml.safe_load(out)
    assert as_json == as_yaml
    assert list(as_json) == list(as_yaml)


def test_indent_4(example):
    """--indent 4 indents the YAML by four spaces (CLI-141)."""
    assert dump(example, "--indent", "4", "kas.yml").stdout == EXPECTED_YAML_INDENT4


def test_sort_sorts_keys_at_all_levels(example):
    """--sort sorts the keys at every level (CLI-141)."""
    assert dump(example, "--sort", "kas.yml").stdout == EXPECTED_YAML_SORTED


def test_json_output_is_byte_exact(example):
    """The JSON output is byte for byte kas 5.5's, ending in a newline
    (CLI-141)."""
    res = dump(example, "--format", "json", "kas.yml")
    assert res.stdout == EXPECTED_JSON
    assert res.stdout.endswith("}\n")


def test_json_with_indent_and_sort(example):
    """JSON with --indent and --sort is json.dumps with those settings
    (CLI-141)."""
    res = dump(example, "--format", "json", "--indent", "4", "--sort", "kas.yml")
    expected = json.loads(EXPECTED_JSON)
    assert res.stdout == json.dumps(expected, indent=4, sort_keys=True) + "\n"
    assert res.stdout.startswith('{\n    "build_system": "oe",\n    "distro": "poky",\n')


def test_stdout_carries_only_the_document(example):
    """CLI-140/CLI-010: logs (even at debug level) go to stderr only."""
    res = run_kas("-l", "debug", "dump", "kas.yml", cwd=example)
    assert res.returncode == 0, res
    assert res.stdout == EXPECTED_YAML
    assert " - INFO     - " in res.stderr
    assert " - DEBUG    - " in res.stderr


def test_small_document_byte_exact(wd):
    """A small document, as YAML and as JSON with two or one space indent,
    byte for byte (CLI-141)."""
    write(os.path.join(wd, "kas.yml"), """
        header:
          version: 5
        machine: m
        """)
    assert dump(wd, "kas.yml").stdout == "header:\n  version: 5\nmachine: m\n"
    assert dump(wd, "--format", "json", "kas.yml").stdout == \
        '{\n  "header": {\n    "version": 5\n  },\n  "machine": "m"\n}\n'
    assert dump(wd, "--format", "json", "--indent", "1", "kas.yml").stdout == \
        '{\n "header": {\n  "version": 5\n },\n "machine": "m"\n}\n'


def test_header_includes_removed_other_header_keys_kept(wd):
    """header.includes is left out of the dump, the other header keys stay
    (CLI-141)."""
    write(os.path.join(wd, "a.yml"), "header:\n  version: 3\n")
    write(os.path.join(wd, "kas.yml"), """
        header:
          version: 9
          includes:
          - a.yml
        """)
    assert dump(wd, "kas.yml").stdout == "header:\n  version: 9\n"


def test_top_file_without_header_includes_but_included_file_with(wd):
    """CLI-141: The merged header.includes (from whichever file) is always removed."""
    write(os.path.join(wd, "b.yml"), "header:\n  version: 3\n")
    write(os.path.join(wd, "a.yml"), "header:\n  version: 3\n  includes: [b.yml]\n")
    write(os.path.join(wd, "kas.yml"), "header:\n  version: 2\nmachine: x\n")
    assert dump(wd, "a.yml:kas.yml").stdout == "header:\n  version: 3\nmachine: x\n"


# --- --resolve-env (CLI-144, CF-501) ---------------------------------------------

ENV_YML = """
header:
  version: 14
env:
  FROM_ENV: default-a
  EMPTY_IN_ENV: default-b
  NULL_UNSET:
  UNSET: default-d
  NULL_SET:
"""


def test_resolve_env(wd):
    """--resolve-env replaces each env value by the caller's variable when
    it is set (also empty), else keeps the default (CLI-144)."""
    write(os.path.join(wd, "kas.yml"), ENV_YML)
    env = clean_env(FROM_ENV="from-environment", EMPTY_IN_ENV="", NULL_SET="set-value")
    env.pop("NULL_UNSET", None)
    env.pop("UNSET", None)
    res = dump(wd, "--resolve-env", "kas.yml", env=env)
    assert res.stdout == (
        "header:\n"
        "  version: 14\n"
        "env:\n"
        "  FROM_ENV: from-environment\n"
        "  EMPTY_IN_ENV: ''\n"
        "  NULL_UNSET:\n"
        "  UNSET: default-d\n"
        "  NULL_SET: set-value\n")


def test_without_resolve_env_the_defaults_are_printed(wd):
    """Without --resolve-env the env defaults are printed (CLI-144)."""
    write(os.path.join(wd, "kas.yml"), ENV_YML)
    env = clean_env(FROM_ENV="from-environment", EMPTY_IN_ENV="", NULL_SET="set-value")
    res = dump(wd, "kas.yml", env=env)
    assert yaml.safe_load(res.stdout)["env"] == {
        "FROM_ENV": "default-a", "EMPTY_IN_ENV": "default-b", "NULL_UNSET": None,
        "UNSET": "default-d", "NULL_SET": None}


def test_resolve_env_json(wd):
    """--resolve-env in JSON output (CLI-144)."""
    write(os.path.join(wd, "kas.yml"), ENV_YML)
    env = clean_env(FROM_ENV="x", EMPTY_IN_ENV="")
    env.pop("NULL_SET", None)
    res = dump(wd, "--resolve-env", "--format", "json", "kas.yml", env=env)
    assert json.loads(res.stdout)["env"] == {
        "FROM_ENV": "x", "EMPTY_IN_ENV": "", "NULL_UNSET": None,
        "UNSET": "default-d", "NULL_SET": None}


def test_resolve_env_without_env_section(wd):
    """--resolve-env without an env section changes nothing (CLI-144)."""
    write(os.path.join(wd, "kas.yml"), "header:\n  version: 14\nmachine: m\n")
    res = dump(wd, "--resolve-env", "kas.yml", env=clean_env(MACHINE="x"))
    assert res.stdout == "header:\n  version: 14\nmachine: m\n"


# --- --resolve-local (CLI-143, CF-624) ----------------------------------------------

ORIGIN = "https://example.org/product.git"
LIB_ORIGIN = "https://example.org/lib.git"


@pytest.fixture
def product(tmp_path):
    """A committed top repository with an origin remote, and a local ``lib``
    repository (own git repo with origin) referenced by absolute path."""
    lib = make_git_repo(real(str(tmp_path / "lib")), {"meta-lib/README": "lib\n"},
                        origin=LIB_ORIGIN)
    remote = make_git_repo(real(str(tmp_path / "remote-origin")))
    repo = real(str(tmp_path / "product"))
    make_git_repo(repo, {
        "README": "product\n",
        "kas.yml": f"""
            header:
              version: 14
            machine: m
            repos:
              product:
              lib:
                path: {lib}
                layers:
                  meta-lib:
              remote:
                url: {remote}
                branch: main
            """,
    }, origin=ORIGIN)
    return repo, lib, remote


def test_resolve_local_adds_url_and_commit(product, wd):
    """--resolve-local adds the URL and commit of each local repo, after its
    own keys, without warnings for clean repos (CLI-143)."""
    repo, lib, remote = product
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    out = yaml.safe_load(res.stdout)
    assert out["repos"] == {
        "product": {"url": ORIGIN, "commit": git(repo, "rev-parse", "HEAD")},
        "lib": {"path": lib, "layers": {"meta-lib": None}, "url": LIB_ORIGIN,
                "commit": git(lib, "rev-parse", "HEAD")},
        "remote": {"url": remote, "branch": "main"},
    }
    assert list(out["repos"]) == ["product", "lib", "remote"]
    assert list(out["repos"]["lib"])[:2] == ["path", "layers"]
    assert root_repo_warnings(res) == []


def test_resolve_local_null_entry_becomes_a_mapping_in_text(product, wd):
    """--resolve-local turns the top repo's null entry into a mapping in the
    text (CLI-143)."""
    repo = product[0]
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    head = git(repo, "rev-parse", "HEAD")
    assert (f"repos:\n  product:\n    url: {ORIGIN}\n    commit: {head}\n"
            in res.stdout) or \
        (f"repos:\n  product:\n    commit: {head}\n    url: {ORIGIN}\n"
         in res.stdout)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_resolve_local_without_origin_writes_url_null(tmp_path, wd, fmt):
    """CLI-143: Issue 16.7: a resolved checkout without an origin remote keeps an
    explicit null url next to its commit (YAML: empty value, CLI-141)."""
    repo = make_git_repo(real(str(tmp_path / "product")), {
        "kas.yml": "header:\n  version: 14\nrepos:\n  product:\n"})
    head = git(repo, "rev-parse", "HEAD")
    res = dump(wd, "--resolve-local", "--format", fmt, os.path.join(repo, "kas.yml"))
    if fmt == "json":
        assert json.loads(res.stdout)["repos"] == {"product": {"url": None, "commit": head}}
        assert '"url": null' in res.stdout
    else:
        assert res.stdout == (f"header:\n  version: 14\nrepos:\n  product:\n"
                              f"    url:\n    commit: {head}\n")


def test_without_resolve_local_nothing_is_added(product, wd):
    """Without --resolve-local the local repos are printed as configured
    (CLI-143)."""
    repo, lib, _remote = product
    out = yaml.safe_load(dump(wd, os.path.join(repo, "kas.yml")).stdout)
    assert out["repos"]["product"] is None
    assert out["repos"]["lib"] == {"path": lib, "layers": {"meta-lib": None}}


def test_resolve_local_dirty_repository_warns(product, wd):
    """--resolve-local warns about the top repo with uncommitted changes
    (CLI-143)."""
    repo = product[0]
    write(os.path.join(repo, "README"), "changed\n")
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    assert "Repository product (root repo) contains uncommitted changes." in res.warnings()
    assert not any("Repository lib" in w for w in res.warnings())
    out = yaml.safe_load(res.stdout)
    assert out["repos"]["product"] == {"url": ORIGIN, "commit": git(repo, "rev-parse", "HEAD")}


def test_resolve_local_dirty_local_path_repository_warns(product, wd):
    """--resolve-local warns about a local path repo with uncommitted
    changes (CLI-143)."""
    repo, lib, _remote = product
    write(os.path.join(lib, "meta-lib", "README"), "changed\n")
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    assert root_repo_warnings(res) == ["Repository lib (root repo) contains uncommitted changes."]


def test_resolve_local_outside_version_control(workdir):
    """CLI-143: not a VCS checkout → WARNING and the entry is unchanged."""
    d = str(workdir)
    write(os.path.join(d, "kas.yml"), """
        header:
          version: 14
        repos:
          this:
          plain:
            path: plain-dir
        """)
    os.makedirs(os.path.join(d, "plain-dir"))
    res = dump(d, "--resolve-local", "kas.yml")
    assert root_repo_warnings(res) == [
        "Repository this (root repo) is not under version control.",
        "Repository plain (root repo) is not under version control.",
    ]
    assert res.stdout == (
        "header:\n  version: 14\nrepos:\n  this:\n  plain:\n    path: plain-dir\n")


# --- environment overrides of project settings (ENV-020 ... ENV-023) -----------------

def config_of(tmp_path, text, environ=None):
    """Config built from a real file like kas/pipeline.py does."""
    d = tmp_path / "cfg"
    d.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(d)], check=True)
    path = write(str(d / "kas.yml"), "header:\n  version: 14\n" + text)
    return load_config([path], d, environ=environ)


@pytest.mark.parametrize("text, environ, expected", [
    ("", {}, "qemux86-64"),
    ("machine: cfg-machine\n", {}, "cfg-machine"),
    ("machine: cfg-machine\n", {"KAS_MACHINE": "env-machine"}, "env-machine"),
    ("machine: cfg-machine\n", {"KAS_MACHINE": ""}, ""),
    ("", {"KAS_MACHINE": "env-machine"}, "env-machine"),
])
def test_machine(tmp_path, text, environ, expected):
    """The machine: KAS_MACHINE (also empty) over the config, default
    qemux86-64 (ENV-020, CF-400)."""
    assert config_of(tmp_path, text, environ).machine() == expected


@pytest.mark.parametrize("text, environ, expected", [
    ("", {}, "nodistro"),
    ("distro: poky\n", {}, "poky"),
    ("distro: poky\n", {"KAS_DISTRO": "env-distro"}, "env-distro"),
    ("distro: poky\n", {"KAS_DISTRO": ""}, ""),
    ("", {"KAS_DISTRO": "env-distro"}, "env-distro"),
])
def test_distro(tmp_path, text, environ, expected):
    """The distro: KAS_DISTRO (also empty) over the config, default nodistro
    (ENV-021, CF-401)."""
    assert config_of(tmp_path, text, environ).distro() == expected


@pytest.mark.parametrize("text, environ, expected", [
    ("", {}, ["core-image-minimal"]),
    ("target: img\n", {}, ["img"]),
    ("target: [a, b]\n", {}, ["a", "b"]),
    ("target: []\n", {}, []),
    ("target: [a, b]\n", {"KAS_TARGET": "x"}, ["x"]),
    ("target: [a, b]\n", {"KAS_TARGET": " x\ty\n z "}, ["x", "y", "z"]),
    ("target: [a, b]\n", {"KAS_TARGET": ""}, ["a", "b"]),
    ("target: [a, b]\n", {"KAS_TARGET": "  \t "}, ["a", "b"]),
    ("", {"KAS_TARGET": ""}, ["core-image-minimal"]),
    ("target: []\n", {"KAS_TARGET": "x y"}, ["x", "y"]),
])
def test_targets(tmp_path, text, environ, expected):
    """The targets: a non-blank KAS_TARGET split at white space over the
    config, default core-image-minimal (ENV-022, CF-402)."""
    assert config_of(tmp_path, text, environ).targets() == expected


def test_command_line_targets_win(tmp_path):
    """Targets given on the command line win over KAS_TARGET and the config
    (ENV-022, CF-402)."""
    config = config_of(tmp_path, "target: [a]\n", {"KAS_TARGET": "x"})
    assert config.targets(["c1", "c2"]) == ["c1", "c2"]


@pytest.mark.parametrize("text, environ, expected", [
    ("", {}, "build"),
    ("task: fetch\n", {}, "fetch"),
    ("task: fetch\n", {"KAS_TASK": "populate_sdk"}, "populate_sdk"),
    ("task: fetch\n", {"KAS_TASK": ""}, ""),
    ("", {"KAS_TASK": "clean"}, "clean"),
])
def test_task(tmp_path, text, environ, expected):
    """The task: KAS_TASK (also empty) over the config, default build
    (ENV-023, CF-403)."""
    assert config_of(tmp_path, text, environ).task() == expected


def test_command_line_task_wins(tmp_path):
    """A task given on the command line wins over KAS_TASK and the config
    (ENV-023, CF-403)."""
    config = config_of(tmp_path, "task: fetch\n", {"KAS_TASK": "env"})
    assert config.task("cli") == "cli"


@pytest.mark.parametrize("text, expected", [
    ("", "openembedded"),
    ("build_system: openembedded\n", "openembedded"),
    ("build_system: oe\n", "oe"),
    ("build_system: isar\n", "isar-privileged"),
    ("build_system: isar-privileged\n", "isar-privileged"),
    ("build_system: isar-rootless\n", "isar-rootless"),
])
def test_build_system(tmp_path, text, expected):
    """The build system: default openembedded, isar means isar-privileged
    (CF-301)."""
    assert config_of(tmp_path, text).build_system() == expected


def test_settings_come_from_the_merged_configuration(tmp_path):
    """The settings come from the merged configuration, includes included
    (CF-400)."""
    d = tmp_path / "cfg"
    write(str(d / "inc.yml"), "header:\n  version: 14\nmachine: inc\ndistro: inc\n"
          "target: inc\ntask: inc\n")
    config = config_of(tmp_path, "  includes: [inc.yml]\nmachine: top\n",
                       {"KAS_DISTRO": "env"})
    assert (config.machine(), config.distro(), config.targets(), config.task()) == \
        ("top", "env", ["inc"], "inc")



@pytest.mark.skipif(shutil.which("hg") is None, reason="hg (Mercurial) is not installed")
def test_resolve_local_mercurial_repository(tmp_path, wd):
    """--resolve-local works for a Mercurial top repo too (CLI-143)."""
    repo = real(str(tmp_path / "hgproduct"))
    os.makedirs(repo)
    subprocess.run(["hg", "init", repo], check=True)
    write(os.path.join(repo, ".hg", "hgrc"), f"[paths]\ndefault = {ORIGIN}\n")
    write(os.path.join(repo, "kas.yml"), "header:\n  version: 14\nrepos:\n  product:\n")
    subprocess.run(["hg", "-R", repo, "commit", "-q", "-A", "-u", "Test <t@example.com>",
                    "-m", "initial"], check=True)
    node = subprocess.run(["hg", "-R", repo, "log", "-r", ".", "--template", "{node}"],
                          check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    assert yaml.safe_load(res.stdout)["repos"] == {"product": {"url": ORIGIN, "commit": node}}
    assert root_repo_warnings(res) == []
    write(os.path.join(repo, "kas.yml"), "header:\n  version: 14\nrepos:\n  product:\n# x\n")
    res = dump(wd, "--resolve-local", os.path.join(repo, "kas.yml"))
    assert root_repo_warnings(res) == [
        "Repository product (root repo) contains uncommitted changes."]


def test_strings_that_need_quotes_round_trip(wd):
    """CLI-141: Strings are unquoted unless the YAML writer needs quotes: the output
    must read back as the same strings (no int/bool/null/float confusion)."""
    values = {"A": "1", "B": "yes", "C": "null", "D": "", "E": "0x1f", "F": "~",
              "G": "a: b", "H": "- x", "I": "#c", "J": "1.0", "K": "0001",
              "L": "on", "M": "0123456789", "N": "'q'", "O": '"dq"', "P": "tab\there",
              "Q": " lead", "R": "trail "}
    write(os.path.join(wd, "kas.yml"), yaml.safe_dump(
        {"header": {"version": 14}, "env": values}, sort_keys=False))
    out = dump(wd, "kas.yml").stdout
    assert yaml.safe_load(out) == {"header": {"version": 14}, "env": values}
    assert "  G: 'a: b'\n" in out or '  G: "a: b"\n' in out
