"""Tests for kas/schema-kas.json, the JSON schema of one kas config file.

The rules come from config-format.md (requirement ids CF-nnn). Every case
names the requirement it checks in its pytest id. The schema is read
straight from the repository (the kas package is not imported).
"""

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "kas" / "schema-kas.json"

FP40 = "0123456789ABCDEF0123456789ABCDEF01234567"
FP50 = "SHA256:" + "a" * 43
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def schema():
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def validator(schema):
    return Draft7Validator(schema)


def errors(validator, doc):
    return list(validator.iter_errors(doc))


def messages(validator, doc):
    return sorted(e.message for e in validator.iter_errors(doc))


def cfg(**top):
    """A config file with a valid header plus the given top-level keys."""
    doc = {"header": {"version": 23}}
    doc.update(top)
    return doc


def repo(**keys):
    """A config file with one repo 'r' made of the given keys."""
    return cfg(repos={"r": keys})


def layer(value):
    return repo(url="https://example.org/r.git", branch="main",
                layers={"meta-r": value})


def patch(value):
    return repo(patches={"p": value})


def signer(**keys):
    return cfg(signers={"s": keys})


def load(text):
    return yaml.safe_load(textwrap.dedent(text))


def case(doc, case_id):
    return pytest.param(doc, id=case_id)


def bad(doc, path, case_id):
    """An invalid document and the location (absolute path) of the error."""
    return pytest.param(doc, tuple(path), id=case_id)


# --------------------------------------------------------------------------
# the schema itself

def test_schema_is_valid_draft7(schema):
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_top_level_keys_match_spec(schema):
    # CF-012 / §3: exactly these top-level keys exist
    assert set(schema["properties"]) == {
        "header", "build_system", "defaults", "overrides", "machine",
        "distro", "target", "task", "env", "repos", "bblayers_conf_header",
        "local_conf_header", "proxy_config", "menu_configuration",
        "artifacts", "signers", "buildtools", "_source_dir",
        "_source_dir_host",
    }
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["header"]


def _resolve(schema, node):
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["definitions"][name]
    return node


def test_every_top_level_key_is_described(schema):
    for key, node in schema["properties"].items():
        assert node.get("description") or _resolve(schema, node).get(
            "description"), key


# --------------------------------------------------------------------------
# valid documents

FULL_REPO = {
    "name": "poky-renamed",
    "url": "https://git.example.org/poky.git",
    "type": "git",
    "commit": COMMIT,
    "branch": "scarthgap",
    "tag": None,
    "refspec": "refs/heads/main",
    "signed": True,
    "allowed_signers": ["release-key"],
    "path": "layers/poky",
    "layers": {"meta": None, "meta-poky": {"prio": 5},
               "meta-yocto-bsp": "disabled"},
    "patches": {"01": {"path": "p/01.patch", "repo": "r"}, "02": None},
}

VALID = [
    # CF-004 / CF-100 header and version
    case({"header": {"version": 1}}, "CF-100-minimal-version-1"),
    case({"header": {"version": 23}}, "CF-100-version-23"),
    case({"header": {"version": 14}}, "CF-100-version-14"),
    case({"header": {"version": "0.10"}}, "CF-102-version-string-0.10"),
    case({"header": {"version": 5.0}}, "CF-014-CF-100-version-integral-float"),
    # CF-110 includes
    case({"header": {"version": 1, "includes": []}}, "CF-110-includes-empty"),
    case({"header": {"version": 1, "includes": ["a.yml", "kas/b.yml"]}},
         "CF-110-includes-strings"),
    case({"header": {"version": 1, "includes": [
        {"repo": "meta-vendor", "file": "kas/board.yml"}]}},
         "CF-110-includes-dict"),
    case({"header": {"version": 1, "includes": [
        "a.yml", {"repo": "r", "file": "b.yml"}]}},
         "CF-110-includes-mixed"),
    # CF-103 no feature gating
    case({"header": {"version": 1}, "build_system": "isar-rootless",
          "overrides": {"repos": {"r": {"commit": None}}},
          "signers": {"s": {"gpg_keyserver": "k", "fingerprint": FP40}},
          "buildtools": {"version": "5.0", "sha256sum": "x"}},
         "CF-103-version-1-with-format-23-keys"),
    # CF-300 build_system
    case(cfg(build_system="openembedded"), "CF-300-openembedded"),
    case(cfg(build_system="oe"), "CF-300-oe"),
    case(cfg(build_system="isar"), "CF-300-isar"),
    case(cfg(build_system="isar-privileged"), "CF-300-isar-privileged"),
    case(cfg(build_system="isar-rootless"), "CF-300-isar-rootless"),
    # machine, distro, target and task (CF-400..CF-403)
    case(cfg(machine="qemuarm64"), "CF-400-machine"),
    case(cfg(machine=""), "CF-400-machine-empty-string"),
    case(cfg(distro="poky"), "CF-401-distro"),
    case(cfg(target="core-image-minimal"), "CF-402-target-string"),
    case(cfg(target=[]), "CF-402-target-empty-list"),
    case(cfg(target=["a", "mc:x:b", "multiconfig:y:c"]),
         "CF-402-target-list"),
    case(cfg(task="populate_sdk"), "CF-403-task"),
    # CF-500 env
    case(cfg(env={}), "CF-500-env-empty"),
    case(cfg(env={"A": "x", "B": ""}), "CF-500-env-strings"),
    case(cfg(env={"A": None}), "CF-500-env-null"),
    case(cfg(env={"A": "null"}), "CF-500-env-string-null"),
    # CF-600..CF-602 repos
    case(cfg(repos={}), "CF-600-repos-empty"),
    case(cfg(repos={"r": None}), "CF-601-repo-null"),
    case(cfg(repos={"r": {}}), "CF-601-repo-empty-object"),
    case(cfg(repos={"r": FULL_REPO}), "CF-602-repo-all-keys"),
    case(repo(name="x"), "CF-610-name"),
    case(repo(url=None), "CF-623-url-null"),
    case(repo(path=None), "CF-623-path-null"),
    case(repo(path="/abs/path"), "CF-621-path-absolute"),
    case(repo(type="git"), "CF-630-type-git"),
    case(repo(type="hg"), "CF-630-type-hg"),
    case(repo(commit=COMMIT), "CF-640-commit-string"),
    case(repo(branch=None, tag=None), "CF-640-branch-tag-null"),
    case(repo(branch="main", tag="v1"), "CF-640-branch-tag-strings"),
    case(repo(refspec="main"), "CF-640-refspec-string"),
    case(repo(signed=False), "CF-650-signed-false"),
    case(repo(signed=True, allowed_signers=["a", "b"]),
         "CF-650-signed-true-allowed-signers"),
    case(repo(allowed_signers=[]), "CF-650-allowed-signers-empty"),
    # CF-660 / CF-661 layers
    case(repo(layers={}), "CF-663-layers-empty"),
    case(repo(layers={".": None, "": None, "meta-foo/sub": None}),
         "CF-660-layer-paths"),
    case(layer(None), "CF-661-layer-null"),
    case(layer({}), "CF-661-layer-empty-mapping"),
    case(layer({"prio": 0}), "CF-661-layer-prio-0"),
    case(layer({"prio": 99}), "CF-661-layer-prio-99"),
    case(layer({"prio": -99}), "CF-661-layer-prio-minus-99"),
    case(layer({"prio": 10.0}), "CF-014-CF-661-layer-prio-integral-float"),
    case(layer("disabled"), "CF-661-layer-disabled"),
    case(layer("excluded"), "CF-661-layer-deprecated-excluded"),
    case(layer("n"), "CF-661-layer-deprecated-n"),
    case(layer("no"), "CF-661-layer-deprecated-no"),
    case(layer("0"), "CF-661-layer-deprecated-string-0"),
    case(layer("false"), "CF-661-layer-deprecated-string-false"),
    case(layer(0), "CF-661-layer-deprecated-int-0"),
    case(layer(False), "CF-661-layer-deprecated-bool-false"),
    # CF-670 patches
    case(repo(patches={}), "CF-670-patches-empty"),
    case(patch(None), "CF-671-patch-null"),
    case(patch({"path": "a.patch"}), "CF-670-patch-path-only"),
    case(patch({"path": "dir", "repo": "other"}), "CF-670-patch-path-repo"),
    # CF-700 defaults
    case(cfg(defaults={}), "CF-700-defaults-empty"),
    case(cfg(defaults={"repos": {}}), "CF-700-defaults-repos-empty"),
    case(cfg(defaults={"repos": {"branch": "b", "tag": "t", "refspec": "r",
                                 "patches": {"repo": "p"}}}),
         "CF-700-defaults-all-keys"),
    case(cfg(defaults={"repos": {"patches": {}}}),
         "CF-700-defaults-patches-empty"),
    # CF-705 overrides
    case(cfg(overrides={}), "CF-705-overrides-empty"),
    case(cfg(overrides={"repos": {}}), "CF-705-overrides-repos-empty"),
    case(cfg(overrides={"repos": {"r": {}}}), "CF-705-override-empty"),
    case(cfg(overrides={"repos": {"r": {"commit": COMMIT}}}),
         "CF-705-override-commit"),
    case(cfg(overrides={"repos": {"r": {"commit": None}}}),
         "CF-705-override-commit-null"),
    case(cfg(overrides={"repos": {"r": {"branch": "b"}}}),
         "CF-705-override-branch"),
    case(cfg(overrides={"repos": {"r": {"branch": None}}}),
         "CF-705-override-branch-null"),
    case(cfg(overrides={"repos": {"r": {"url": "https://x/y.git"}}}),
         "CF-705-override-url"),
    case(cfg(overrides={"repos": {"r": {"commit": COMMIT, "branch": "b",
                                        "url": "u"}}}),
         "CF-705-override-all-keys"),
    # CF-720 headers
    case(cfg(local_conf_header={}), "CF-720-local-conf-header-empty"),
    case(cfg(local_conf_header={"a": "X = \"1\"\n", "b": ""}),
         "CF-720-local-conf-header-strings"),
    case(cfg(bblayers_conf_header={"standard": "V = \"2\"\n"}),
         "CF-720-bblayers-conf-header"),
    # CF-740 proxy_config
    case(cfg(proxy_config={}), "CF-740-proxy-config-empty"),
    case(cfg(proxy_config={"http_proxy": "h", "https_proxy": "s",
                           "ftp_proxy": "f", "no_proxy": "n"}),
         "CF-740-proxy-config-all-keys"),
    # CF-750 menu_configuration
    case(cfg(menu_configuration={}), "CF-750-menu-empty"),
    case(cfg(menu_configuration={"A": True, "B": False, "C": "s", "D": "",
                                 "E": 5, "F": -3}),
         "CF-750-menu-bool-string-int"),
    case(cfg(menu_configuration={"A": 5.0}),
         "CF-014-CF-750-menu-integral-float"),
    # CF-760 artifacts
    case(cfg(artifacts={}), "CF-760-artifacts-empty"),
    case(cfg(artifacts={"image": "tmp/deploy/**/*.wic", "x": ""}),
         "CF-760-artifacts-strings"),
    # CF-800 / CF-801 signers
    case(cfg(signers={}), "CF-800-signers-empty"),
    case(signer(repo="r", path="k.asc"), "CF-801-gpg-path-repo"),
    case(signer(type="gpg", repo="r", path="k.asc", fingerprint=FP40),
         "CF-800-gpg-path-repo-fingerprint"),
    case(signer(gpg_keyserver="keys.example.org", fingerprint=FP40),
         "CF-801-gpg-keyserver-fingerprint"),
    case(signer(type="ssh", repo="r", path="ci.pub"), "CF-801-ssh-path-repo"),
    case(signer(type="ssh", repo="r", path="ci.pub", fingerprint=FP50),
         "CF-800-ssh-fingerprint-50"),
    case(signer(repo=5, path="k.asc"), "CF-800-repo-any-type-int"),
    case(signer(repo=None, path="k.asc"), "CF-800-repo-any-type-null"),
    case(signer(repo=["r"], path="k.asc"), "CF-800-repo-any-type-list"),
    # CF-900 buildtools
    case(cfg(buildtools={"version": "5.0", "sha256sum": "abc"}),
         "CF-900-buildtools-required"),
    case(cfg(buildtools={"version": "5.0", "sha256sum": "abc",
                         "base_url": "https://x", "filename": "bt.sh"}),
         "CF-900-buildtools-all-keys"),
    case(cfg(buildtools={"version": "5.0", "sha256sum": "abc",
                         "future_key": [1, None], "other": None}),
         "CF-012-CF-900-buildtools-open"),
    # _source_dir and _source_dir_host (CF-950 / CF-951)
    case(cfg(_source_dir="/src"), "CF-950-source-dir"),
    case(cfg(_source_dir_host="/host/src"), "CF-951-source-dir-host"),
    # CF-013 open maps accept arbitrary names
    case(cfg(repos={"any name/with.dots ü": None},
             env={"lower_case-1": "x"},
             local_conf_header={"ZZ top": ""},
             bblayers_conf_header={"": ""},
             menu_configuration={"CONFIG_X": True},
             artifacts={"a b": "c"},
             signers={"key 1": {"gpg_keyserver": "k", "fingerprint": FP40}},
             overrides={"repos": {"unknown-repo": {"commit": COMMIT}}}),
         "CF-013-open-maps-arbitrary-names"),
]


@pytest.mark.parametrize("doc", VALID)
def test_valid(validator, doc):
    assert messages(validator, doc) == []


# --------------------------------------------------------------------------
# invalid documents: (document, expected error location)

INVALID = [
    # CF-004 top-level type
    bad(None, [], "CF-004-empty-file-null"),
    bad([], [], "CF-004-list"),
    bad("header", [], "CF-004-scalar-string"),
    bad(5, [], "CF-004-scalar-int"),
    # CF-100 header / version
    bad({}, [], "CF-100-header-missing"),
    bad({"machine": "x"}, [], "CF-100-header-missing-other-keys"),
    bad({"header": None}, ["header"], "CF-100-header-null"),
    bad({"header": []}, ["header"], "CF-100-header-list"),
    bad({"header": {}}, ["header"], "CF-100-version-missing"),
    bad({"header": {"includes": []}}, ["header"],
        "CF-100-version-missing-with-includes"),
    bad({"header": {"version": 0}}, ["header", "version"], "CF-100-version-0"),
    bad({"header": {"version": 24}}, ["header", "version"],
        "CF-100-version-24"),
    bad({"header": {"version": -1}}, ["header", "version"],
        "CF-100-version-negative"),
    bad({"header": {"version": "5"}}, ["header", "version"],
        "CF-100-version-string-5"),
    bad({"header": {"version": "1"}}, ["header", "version"],
        "CF-100-version-string-1"),
    bad({"header": {"version": "0.1"}}, ["header", "version"],
        "CF-100-version-string-0.1"),
    bad({"header": {"version": "0.10 "}}, ["header", "version"],
        "CF-100-version-string-0.10-space"),
    bad({"header": {"version": 0.1}}, ["header", "version"],
        "CF-102-version-float-0.10"),
    bad({"header": {"version": 1.5}}, ["header", "version"],
        "CF-100-version-non-integral-float"),
    bad({"header": {"version": True}}, ["header", "version"],
        "CF-100-version-bool-true"),
    bad({"header": {"version": False}}, ["header", "version"],
        "CF-100-version-bool-false"),
    bad({"header": {"version": None}}, ["header", "version"],
        "CF-100-version-null"),
    bad({"header": {"version": [1]}}, ["header", "version"],
        "CF-100-version-list"),
    bad({"header": {"version": 1, "name": "x"}}, ["header"],
        "CF-012-header-unknown-key"),
    # CF-110 includes
    bad({"header": {"version": 1, "includes": None}},
        ["header", "includes"], "CF-110-includes-null"),
    bad({"header": {"version": 1, "includes": "a.yml"}},
        ["header", "includes"], "CF-110-includes-string-not-list"),
    bad({"header": {"version": 1, "includes": {"repo": "r", "file": "f"}}},
        ["header", "includes"], "CF-110-includes-dict-not-list"),
    bad({"header": {"version": 1, "includes": [5]}},
        ["header", "includes", 0], "CF-110-include-item-int"),
    bad({"header": {"version": 1, "includes": [None]}},
        ["header", "includes", 0], "CF-110-include-item-null"),
    bad({"header": {"version": 1, "includes": [["a.yml"]]}},
        ["header", "includes", 0], "CF-110-include-item-list"),
    bad({"header": {"version": 1, "includes": [{}]}},
        ["header", "includes", 0], "CF-110-include-dict-empty"),
    bad({"header": {"version": 1, "includes": ["a.yml", {"repo": "r"}]}},
        ["header", "includes", 1], "CF-110-include-dict-missing-file"),
    bad({"header": {"version": 1, "includes": [{"file": "f"}]}},
        ["header", "includes", 0], "CF-110-include-dict-missing-repo"),
    bad({"header": {"version": 1, "includes": [
        {"repo": "r", "file": "f", "path": "x"}]}},
        ["header", "includes", 0], "CF-012-CF-110-include-dict-extra-key"),
    bad({"header": {"version": 1, "includes": [{"repo": 5, "file": "f"}]}},
        ["header", "includes", 0, "repo"], "CF-110-include-repo-not-string"),
    bad({"header": {"version": 1, "includes": [{"repo": "r", "file": None}]}},
        ["header", "includes", 0, "file"], "CF-110-include-file-null"),
    # CF-012 top level is closed
    bad(cfg(machines="x"), [], "CF-012-top-level-unknown-key"),
    bad(cfg(version=23), [], "CF-012-top-level-version-outside-header"),
    bad(cfg(includes=["a.yml"]), [], "CF-012-top-level-includes"),
    # CF-300 build_system
    bad(cfg(build_system="OE"), ["build_system"], "CF-300-upper-case-OE"),
    bad(cfg(build_system="Isar"), ["build_system"], "CF-300-capitalised-isar"),
    bad(cfg(build_system="bitbake"), ["build_system"], "CF-300-unknown"),
    bad(cfg(build_system=None), ["build_system"], "CF-300-null"),
    bad(cfg(build_system=1), ["build_system"], "CF-300-int"),
    # Wrong types and nulls of machine ... task (CF-400..CF-403, CF-014)
    bad(cfg(machine=5), ["machine"], "CF-014-CF-400-machine-int"),
    bad(cfg(machine=None), ["machine"], "CF-400-machine-null"),
    bad(cfg(machine=True), ["machine"], "CF-014-CF-400-machine-bool"),
    bad(cfg(machine=["a"]), ["machine"], "CF-400-machine-list"),
    bad(cfg(distro=1.0), ["distro"], "CF-014-CF-401-distro-float"),
    bad(cfg(distro=None), ["distro"], "CF-401-distro-null"),
    bad(cfg(task=None), ["task"], "CF-403-task-null"),
    bad(cfg(task=["build"]), ["task"], "CF-403-task-list"),
    bad(cfg(target=5), ["target"], "CF-402-target-int"),
    bad(cfg(target=None), ["target"], "CF-402-target-null"),
    bad(cfg(target={"a": "b"}), ["target"], "CF-402-target-mapping"),
    bad(cfg(target=["a", 1]), ["target", 1], "CF-402-target-item-int"),
    bad(cfg(target=[None]), ["target", 0], "CF-402-target-item-null"),
    bad(cfg(target=[["a"]]), ["target", 0], "CF-402-target-item-list"),
    # CF-500 env
    bad(cfg(env=None), ["env"], "CF-500-env-null"),
    bad(cfg(env=["A"]), ["env"], "CF-500-env-list"),
    bad(cfg(env={"A": 1}), ["env", "A"], "CF-014-CF-500-env-int"),
    bad(cfg(env={"A": 1.5}), ["env", "A"], "CF-014-CF-500-env-float"),
    bad(cfg(env={"A": True}), ["env", "A"], "CF-014-CF-500-env-bool"),
    bad(cfg(env={"A": ["x"]}), ["env", "A"], "CF-500-env-list-value"),
    bad(cfg(env={"A": {}}), ["env", "A"], "CF-500-env-mapping-value"),
    # CF-600 / CF-602 repos
    bad(cfg(repos=None), ["repos"], "CF-600-repos-null"),
    bad(cfg(repos=["r"]), ["repos"], "CF-600-repos-list"),
    bad(cfg(repos={"r": "https://x"}), ["repos", "r"],
        "CF-600-repo-string"),
    bad(cfg(repos={"r": []}), ["repos", "r"], "CF-600-repo-list"),
    bad(repo(sha="x"), ["repos", "r"], "CF-012-CF-602-repo-unknown-key"),
    bad(repo(prio=1), ["repos", "r"], "CF-012-CF-602-repo-prio-key"),
    bad(repo(name=None), ["repos", "r", "name"], "CF-610-name-null"),
    bad(repo(name=1), ["repos", "r", "name"], "CF-610-name-int"),
    bad(repo(url=1), ["repos", "r", "url"], "CF-620-url-int"),
    bad(repo(url=True), ["repos", "r", "url"], "CF-620-url-bool"),
    bad(repo(path=1), ["repos", "r", "path"], "CF-621-path-int"),
    bad(repo(type="svn"), ["repos", "r", "type"], "CF-630-type-svn"),
    bad(repo(type="Git"), ["repos", "r", "type"], "CF-630-type-Git"),
    bad(repo(type=None), ["repos", "r", "type"], "CF-630-type-null"),
    bad(repo(commit=None), ["repos", "r", "commit"], "CF-640-commit-null"),
    bad(repo(commit=1234567), ["repos", "r", "commit"], "CF-640-commit-int"),
    bad(repo(commit=True), ["repos", "r", "commit"], "CF-640-commit-bool"),
    bad(repo(branch=1), ["repos", "r", "branch"], "CF-640-branch-int"),
    bad(repo(branch=False), ["repos", "r", "branch"], "CF-640-branch-bool"),
    bad(repo(tag=1.5), ["repos", "r", "tag"], "CF-640-tag-float"),
    bad(repo(tag=["v1"]), ["repos", "r", "tag"], "CF-640-tag-list"),
    bad(repo(refspec=None), ["repos", "r", "refspec"], "CF-640-refspec-null"),
    bad(repo(refspec=1), ["repos", "r", "refspec"], "CF-640-refspec-int"),
    bad(repo(signed="yes"), ["repos", "r", "signed"], "CF-650-signed-string"),
    bad(repo(signed=None), ["repos", "r", "signed"], "CF-650-signed-null"),
    bad(repo(signed=1), ["repos", "r", "signed"], "CF-650-signed-int"),
    bad(repo(allowed_signers="a"), ["repos", "r", "allowed_signers"],
        "CF-650-allowed-signers-string"),
    bad(repo(allowed_signers=None), ["repos", "r", "allowed_signers"],
        "CF-650-allowed-signers-null"),
    bad(repo(allowed_signers=["a", 1]), ["repos", "r", "allowed_signers", 1],
        "CF-650-allowed-signers-item-int"),
    # CF-660 / CF-661 layers
    bad(repo(layers=None), ["repos", "r", "layers"], "CF-660-layers-null"),
    bad(repo(layers=["meta"]), ["repos", "r", "layers"], "CF-660-layers-list"),
    bad(repo(layers="meta"), ["repos", "r", "layers"], "CF-660-layers-string"),
    bad(layer("enabled"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-enabled"),
    bad(layer(True), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-bool-true"),
    bad(layer(1), ["repos", "r", "layers", "meta-r"], "CF-661-layer-int-1"),
    bad(layer(-1), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-int-minus-1"),
    bad(layer(0.5), ["repos", "r", "layers", "meta-r"], "CF-661-layer-float"),
    bad(layer("False"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-string-False"),
    bad(layer("true"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-string-true"),
    bad(layer("yes"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-string-yes"),
    bad(layer("N"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-string-N"),
    bad(layer("Disabled"), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-string-Disabled"),
    bad(layer(""), ["repos", "r", "layers", "meta-r"],
        "CF-661-layer-empty-string"),
    bad(layer([]), ["repos", "r", "layers", "meta-r"], "CF-661-layer-list"),
    bad(layer({"prio": 100}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-661-layer-prio-100"),
    bad(layer({"prio": -100}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-661-layer-prio-minus-100"),
    bad(layer({"prio": "10"}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-661-layer-prio-string"),
    bad(layer({"prio": None}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-661-layer-prio-null"),
    bad(layer({"prio": True}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-014-CF-661-layer-prio-bool"),
    bad(layer({"prio": 1.5}), ["repos", "r", "layers", "meta-r", "prio"],
        "CF-661-layer-prio-non-integral-float"),
    bad(layer({"priority": 1}), ["repos", "r", "layers", "meta-r"],
        "CF-012-CF-661-layer-unknown-key"),
    bad(layer({"prio": 1, "x": 2}), ["repos", "r", "layers", "meta-r"],
        "CF-012-CF-661-layer-prio-and-unknown-key"),
    # CF-670 patches
    bad(repo(patches=None), ["repos", "r", "patches"], "CF-670-patches-null"),
    bad(repo(patches=["a.patch"]), ["repos", "r", "patches"],
        "CF-670-patches-list"),
    bad(patch("a.patch"), ["repos", "r", "patches", "p"],
        "CF-670-patch-string"),
    bad(patch({}), ["repos", "r", "patches", "p"], "CF-670-patch-empty"),
    bad(patch({"repo": "r"}), ["repos", "r", "patches", "p"],
        "CF-670-patch-missing-path"),
    bad(patch({"path": "a", "apply": True}), ["repos", "r", "patches", "p"],
        "CF-012-CF-670-patch-unknown-key"),
    bad(patch({"path": None}), ["repos", "r", "patches", "p", "path"],
        "CF-670-patch-path-null"),
    bad(patch({"path": 1}), ["repos", "r", "patches", "p", "path"],
        "CF-670-patch-path-int"),
    bad(patch({"path": "a", "repo": None}),
        ["repos", "r", "patches", "p", "repo"], "CF-670-patch-repo-null"),
    bad(patch({"path": "a", "repo": 1}),
        ["repos", "r", "patches", "p", "repo"], "CF-670-patch-repo-int"),
    # CF-700 defaults
    bad(cfg(defaults=None), ["defaults"], "CF-700-defaults-null"),
    bad(cfg(defaults={"layers": {}}), ["defaults"],
        "CF-012-CF-700-defaults-unknown-key"),
    bad(cfg(defaults={"repos": None}), ["defaults", "repos"],
        "CF-700-defaults-repos-null"),
    bad(cfg(defaults={"repos": {"branch": None}}),
        ["defaults", "repos", "branch"], "CF-700-defaults-branch-null"),
    bad(cfg(defaults={"repos": {"tag": None}}),
        ["defaults", "repos", "tag"], "CF-700-defaults-tag-null"),
    bad(cfg(defaults={"repos": {"refspec": None}}),
        ["defaults", "repos", "refspec"], "CF-700-defaults-refspec-null"),
    bad(cfg(defaults={"repos": {"branch": 1}}),
        ["defaults", "repos", "branch"], "CF-700-defaults-branch-int"),
    bad(cfg(defaults={"repos": {"commit": COMMIT}}), ["defaults", "repos"],
        "CF-700-defaults-commit"),
    bad(cfg(defaults={"repos": {"url": "u"}}), ["defaults", "repos"],
        "CF-700-defaults-url"),
    bad(cfg(defaults={"repos": {"path": "p"}}), ["defaults", "repos"],
        "CF-700-defaults-path"),
    bad(cfg(defaults={"repos": {"patches": None}}),
        ["defaults", "repos", "patches"], "CF-700-defaults-patches-null"),
    bad(cfg(defaults={"repos": {"patches": {"path": "x"}}}),
        ["defaults", "repos", "patches"], "CF-700-defaults-patches-path"),
    bad(cfg(defaults={"repos": {"patches": {"repo": None}}}),
        ["defaults", "repos", "patches", "repo"],
        "CF-700-defaults-patches-repo-null"),
    # CF-705 overrides
    bad(cfg(overrides=None), ["overrides"], "CF-705-overrides-null"),
    bad(cfg(overrides={"layers": {}}), ["overrides"],
        "CF-012-CF-705-overrides-unknown-key"),
    bad(cfg(overrides={"repos": None}), ["overrides", "repos"],
        "CF-705-overrides-repos-null"),
    bad(cfg(overrides={"repos": {"r": None}}), ["overrides", "repos", "r"],
        "CF-705-override-null"),
    bad(cfg(overrides={"repos": {"r": COMMIT}}), ["overrides", "repos", "r"],
        "CF-705-override-string"),
    bad(cfg(overrides={"repos": {"r": {"tag": "v1"}}}),
        ["overrides", "repos", "r"], "CF-705-override-tag"),
    bad(cfg(overrides={"repos": {"r": {"path": "p"}}}),
        ["overrides", "repos", "r"], "CF-705-override-path"),
    bad(cfg(overrides={"repos": {"r": {"url": None}}}),
        ["overrides", "repos", "r", "url"], "CF-705-override-url-null"),
    bad(cfg(overrides={"repos": {"r": {"url": 1}}}),
        ["overrides", "repos", "r", "url"], "CF-705-override-url-int"),
    bad(cfg(overrides={"repos": {"r": {"commit": 1}}}),
        ["overrides", "repos", "r", "commit"], "CF-705-override-commit-int"),
    bad(cfg(overrides={"repos": {"r": {"branch": True}}}),
        ["overrides", "repos", "r", "branch"], "CF-705-override-branch-bool"),
    # CF-740 proxy_config
    bad(cfg(proxy_config=None), ["proxy_config"], "CF-740-null"),
    bad(cfg(proxy_config={"HTTP_PROXY": "x"}), ["proxy_config"],
        "CF-012-CF-740-unknown-key"),
    bad(cfg(proxy_config={"http_proxy": None}), ["proxy_config", "http_proxy"],
        "CF-740-http-proxy-null"),
    bad(cfg(proxy_config={"no_proxy": ["a"]}), ["proxy_config", "no_proxy"],
        "CF-740-no-proxy-list"),
    # CF-750 menu_configuration
    bad(cfg(menu_configuration=None), ["menu_configuration"],
        "CF-750-menu-null"),
    bad(cfg(menu_configuration={"A": None}), ["menu_configuration", "A"],
        "CF-750-menu-value-null"),
    bad(cfg(menu_configuration={"A": 1.5}), ["menu_configuration", "A"],
        "CF-750-menu-value-float"),
    bad(cfg(menu_configuration={"A": [1]}), ["menu_configuration", "A"],
        "CF-750-menu-value-list"),
    bad(cfg(menu_configuration={"A": {}}), ["menu_configuration", "A"],
        "CF-750-menu-value-mapping"),
    # CF-760 artifacts
    bad(cfg(artifacts=None), ["artifacts"], "CF-760-artifacts-null"),
    bad(cfg(artifacts=["*.wic"]), ["artifacts"], "CF-760-artifacts-list"),
    bad(cfg(artifacts={"img": None}), ["artifacts", "img"],
        "CF-760-artifact-null"),
    bad(cfg(artifacts={"img": 1}), ["artifacts", "img"],
        "CF-760-artifact-int"),
    bad(cfg(artifacts={"img": ["a", "b"]}), ["artifacts", "img"],
        "CF-760-artifact-list"),
    # CF-800 / CF-801 signers
    bad(cfg(signers=None), ["signers"], "CF-800-signers-null"),
    bad(cfg(signers=[]), ["signers"], "CF-800-signers-list"),
    bad(cfg(signers={"s": None}), ["signers", "s"], "CF-800-signer-null"),
    bad(cfg(signers={"s": "k.asc"}), ["signers", "s"],
        "CF-800-signer-string"),
    bad(signer(repo="r", path="k", key="x"), ["signers", "s"],
        "CF-012-CF-800-signer-unknown-key"),
    bad(signer(type="x509", repo="r", path="k"), ["signers", "s", "type"],
        "CF-800-type-unknown"),
    bad(signer(type="GPG", repo="r", path="k"), ["signers", "s", "type"],
        "CF-800-type-upper-case"),
    bad(signer(type=None, repo="r", path="k"), ["signers", "s", "type"],
        "CF-800-type-null"),
    bad(signer(repo="r", path=None), ["signers", "s", "path"],
        "CF-800-path-null"),
    bad(signer(repo="r", path=1), ["signers", "s", "path"],
        "CF-800-path-int"),
    bad(signer(gpg_keyserver=None, fingerprint=FP40),
        ["signers", "s", "gpg_keyserver"], "CF-800-gpg-keyserver-null"),
    bad(signer(repo="r", path="k", fingerprint=FP40[:-1]),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-39"),
    bad(signer(repo="r", path="k", fingerprint=FP40 + "0"),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-41"),
    bad(signer(repo="r", path="k", fingerprint="a" * 45),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-45"),
    bad(signer(repo="r", path="k", fingerprint=FP50[:-1]),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-49"),
    bad(signer(repo="r", path="k", fingerprint=FP50 + "a"),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-51"),
    bad(signer(repo="r", path="k", fingerprint=""),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-empty"),
    bad(signer(repo="r", path="k", fingerprint=int("1" * 40)),
        ["signers", "s", "fingerprint"], "CF-800-fingerprint-int"),
    bad(signer(), ["signers", "s"], "CF-801-neither-path-nor-keyserver"),
    bad(signer(type="gpg", fingerprint=FP40), ["signers", "s"],
        "CF-801-fingerprint-only"),
    bad(signer(repo="r", path="k", gpg_keyserver="ks", fingerprint=FP40),
        ["signers", "s"], "CF-801-both-path-and-keyserver"),
    bad(signer(path="k"), ["signers", "s"], "CF-801-path-without-repo"),
    bad(signer(gpg_keyserver="ks"), ["signers", "s"],
        "CF-801-keyserver-without-fingerprint"),
    bad(signer(type="ssh", gpg_keyserver="ks", fingerprint=FP50),
        ["signers", "s"], "CF-801-ssh-with-keyserver"),
    bad(signer(type="ssh", path="k"), ["signers", "s"],
        "CF-801-ssh-path-without-repo"),
    # CF-900 buildtools
    bad(cfg(buildtools=None), ["buildtools"], "CF-900-null"),
    bad(cfg(buildtools="5.0"), ["buildtools"], "CF-900-string"),
    bad(cfg(buildtools={}), ["buildtools"], "CF-900-empty"),
    bad(cfg(buildtools={"version": "5.0"}), ["buildtools"],
        "CF-900-missing-sha256sum"),
    bad(cfg(buildtools={"sha256sum": "abc"}), ["buildtools"],
        "CF-900-missing-version"),
    bad(cfg(buildtools={"version": 5.0, "sha256sum": "abc"}),
        ["buildtools", "version"], "CF-014-CF-900-version-float"),
    bad(cfg(buildtools={"version": None, "sha256sum": "abc"}),
        ["buildtools", "version"], "CF-900-version-null"),
    bad(cfg(buildtools={"version": "5.0", "sha256sum": None}),
        ["buildtools", "sha256sum"], "CF-900-sha256sum-null"),
    bad(cfg(buildtools={"version": "5.0", "sha256sum": "a", "base_url": 1}),
        ["buildtools", "base_url"], "CF-900-base-url-int"),
    bad(cfg(buildtools={"version": "5.0", "sha256sum": "a", "filename": None}),
        ["buildtools", "filename"], "CF-900-filename-null"),
    # CF-720 headers are done in a separate table below
    # _source_dir and _source_dir_host (CF-950 / CF-951)
    bad(cfg(_source_dir=None), ["_source_dir"], "CF-950-source-dir-null"),
    bad(cfg(_source_dir=1), ["_source_dir"], "CF-950-source-dir-int"),
    bad(cfg(_source_dir_host=None), ["_source_dir_host"],
        "CF-951-source-dir-host-null"),
    bad(cfg(_source_dir_host=["/x"]), ["_source_dir_host"],
        "CF-951-source-dir-host-list"),
    # CF-005 non-string user names (a MAY in the spec; the schema rejects)
    bad(cfg(repos={42: None}), ["repos"], "CF-005-repo-id-int"),
    bad(cfg(env={True: "x"}), ["env"], "CF-005-env-name-bool"),
    bad(repo(layers={1: None}), ["repos", "r", "layers"],
        "CF-005-layer-path-int"),
    bad(cfg(local_conf_header={10: "x"}), ["local_conf_header"],
        "CF-005-header-name-int"),
]

for _key in ("bblayers_conf_header", "local_conf_header"):
    INVALID += [
        bad(cfg(**{_key: None}), [_key], f"CF-720-{_key}-null"),
        bad(cfg(**{_key: ["a"]}), [_key], f"CF-720-{_key}-list"),
        bad(cfg(**{_key: "a"}), [_key], f"CF-720-{_key}-string"),
        bad(cfg(**{_key: {"a": None}}), [_key, "a"],
            f"CF-720-CF-722-{_key}-entry-null"),
        bad(cfg(**{_key: {"a": 1}}), [_key, "a"],
            f"CF-014-CF-720-{_key}-entry-int"),
        bad(cfg(**{_key: {"a": ["x"]}}), [_key, "a"],
            f"CF-720-{_key}-entry-list"),
    ]


@pytest.mark.parametrize(("doc", "path"), INVALID)
def test_invalid(validator, doc, path):
    errs = errors(validator, doc)
    assert errs, "document unexpectedly valid"
    locations = [tuple(e.absolute_path) for e in errs]
    assert path in locations, [(loc, e.message) for loc, e in
                               zip(locations, errs)]


# --------------------------------------------------------------------------
# CF-012: unknown keys in closed objects give the "Additional properties"
# message at the location of the object

CLOSED = [
    pytest.param(cfg(bogus=1), [], id="CF-012-top-level"),
    pytest.param({"header": {"version": 1, "bogus": 1}}, ["header"],
                 id="CF-012-header"),
    pytest.param({"header": {"version": 1, "includes": [
        {"repo": "r", "file": "f", "bogus": 1}]}},
        ["header", "includes", 0], id="CF-012-include-dict"),
    pytest.param(cfg(defaults={"bogus": 1}), ["defaults"],
                 id="CF-012-defaults"),
    pytest.param(cfg(defaults={"repos": {"bogus": 1}}), ["defaults", "repos"],
                 id="CF-012-defaults-repos"),
    pytest.param(cfg(defaults={"repos": {"patches": {"bogus": 1}}}),
                 ["defaults", "repos", "patches"],
                 id="CF-012-defaults-repos-patches"),
    pytest.param(repo(bogus=1), ["repos", "r"], id="CF-012-repo"),
    pytest.param(patch({"path": "p", "bogus": 1}),
                 ["repos", "r", "patches", "p"], id="CF-012-patch"),
    pytest.param(layer({"bogus": 1}), ["repos", "r", "layers", "meta-r"],
                 id="CF-012-layer-properties"),
    pytest.param(cfg(overrides={"bogus": 1}), ["overrides"],
                 id="CF-012-overrides"),
    pytest.param(cfg(overrides={"repos": {"r": {"bogus": 1}}}),
                 ["overrides", "repos", "r"], id="CF-012-override-repo"),
    pytest.param(cfg(proxy_config={"bogus": "x"}), ["proxy_config"],
                 id="CF-012-proxy-config"),
    pytest.param(signer(repo="r", path="k", bogus=1), ["signers", "s"],
                 id="CF-012-signer"),
]


@pytest.mark.parametrize(("doc", "path"), CLOSED)
def test_closed_objects(validator, doc, path):
    errs = errors(validator, doc)
    expected = "Additional properties are not allowed ('bogus' was unexpected)"
    assert [(tuple(e.absolute_path), e.message) for e in errs] == [
        (tuple(path), expected)]


# --------------------------------------------------------------------------
# YAML 1.1 snippets (CF-002): the parser's typing decides validity

def top(text):
    """YAML text of a config file: a valid header plus the given lines."""
    return "header:\n  version: 23\n" + text + "\n"


def in_layers(text):
    """YAML text of a config file with the given lines below repo layers."""
    return top("repos:\n  r:\n    layers:\n" + textwrap.indent(text, " " * 6))


def in_repo(text):
    """YAML text of a config file with the given lines in a repo object."""
    return top("repos:\n  r:\n    url: u\n" + textwrap.indent(text, " " * 4))


def yaml_case(text, expected, case_id):
    return pytest.param(text, expected, id=case_id)


YAML_CASES = [
    # header.version
    yaml_case("header:\n  version: '0.10'\n", True, "CF-102-quoted-0.10"),
    yaml_case('header:\n  version: "0.10"\n', True,
              "CF-102-double-quoted-0.10"),
    yaml_case("header:\n  version: 0.10\n", False,
              "CF-102-unquoted-0.10-is-float"),
    yaml_case("header:\n  version: 5.0\n", True, "CF-014-CF-100-version-5.0"),
    yaml_case("header:\n  version: '5'\n", False, "CF-100-quoted-5"),
    yaml_case("header:\n  version: yes\n", False,
              "CF-002-CF-100-version-yes-is-bool"),
    yaml_case("header:\n  version:\n", False,
              "CF-002-CF-100-version-empty-is-null"),
    yaml_case("", False, "CF-004-empty-file"),
    yaml_case("- header\n", False, "CF-004-yaml-list"),
    # CF-661 layer values
    yaml_case(in_layers("meta: no"), True, "CF-661-yaml-no-is-bool-false"),
    yaml_case(in_layers("meta: off"), True, "CF-661-yaml-off-is-bool-false"),
    yaml_case(in_layers("meta: false"), True, "CF-661-yaml-false"),
    yaml_case(in_layers("meta: False"), True,
              "CF-661-yaml-False-is-bool-false"),
    yaml_case(in_layers("meta: n"), True, "CF-661-yaml-n-is-string"),
    yaml_case(in_layers("meta: '0'"), True, "CF-661-yaml-quoted-0"),
    yaml_case(in_layers("meta: 0"), True, "CF-661-yaml-int-0"),
    yaml_case(in_layers("meta: 00"), True, "CF-002-CF-661-yaml-00-is-int-0"),
    yaml_case(in_layers('meta: "no"'), True, "CF-661-yaml-quoted-no"),
    yaml_case(in_layers("meta: excluded"), True, "CF-661-yaml-excluded"),
    yaml_case(in_layers("meta: disabled"), True, "CF-661-yaml-disabled"),
    yaml_case(in_layers("meta:"), True, "CF-661-yaml-empty-is-null"),
    yaml_case(in_layers("meta: ~"), True, "CF-661-yaml-tilde-is-null"),
    yaml_case(in_layers("meta: {prio: 10}"), True, "CF-661-yaml-prio"),
    yaml_case(in_layers("meta: 'False'"), False, "CF-661-yaml-quoted-False"),
    yaml_case(in_layers("meta: yes"), False, "CF-661-yaml-yes-is-bool-true"),
    yaml_case(in_layers("meta: on"), False, "CF-661-yaml-on-is-bool-true"),
    yaml_case(in_layers("meta: true"), False, "CF-661-yaml-true"),
    yaml_case(in_layers("meta: 1"), False, "CF-661-yaml-int-1"),
    yaml_case(in_layers("meta: N"), False,
              "CF-661-yaml-N-is-string-not-a-deprecated-token"),
    yaml_case(in_layers("meta: enabled"), False, "CF-661-yaml-enabled"),
    # CF-640 commits (CF-002 integer typing)
    yaml_case(in_repo("commit: '1234567890123456789012345678901234567890'"),
              True, "CF-640-yaml-quoted-digit-commit"),
    yaml_case(in_repo("commit: 1234567890123456789012345678901234567890"),
              False, "CF-002-CF-640-yaml-unquoted-digit-commit-is-int"),
    yaml_case(in_repo("commit: 0123456"), False,
              "CF-002-CF-640-yaml-octal-commit-is-int"),
    yaml_case(in_repo("commit: 0123456789"), True,
              "CF-002-CF-640-yaml-0123456789-is-string-not-octal"),
    yaml_case(in_repo("commit: 0123456789abcdef0123456789abcdef01234567"),
              True, "CF-640-yaml-hex-commit"),
    # other scalars
    yaml_case(top("env:\n  A: 1"), False, "CF-500-yaml-env-int"),
    yaml_case(top("env:\n  A: '1'"), True, "CF-500-yaml-env-quoted"),
    yaml_case(top("env:\n  A:"), True, "CF-500-yaml-env-empty-is-null"),
    yaml_case(top("env:\n  A: null"), True, "CF-500-yaml-env-null"),
    yaml_case(top("env:\n  A: off"), False, "CF-500-yaml-env-bool"),
    yaml_case(top("machine: 5"), False, "CF-014-yaml-machine-int"),
    yaml_case(top("distro: no"), False, "CF-014-yaml-distro-bool"),
    yaml_case(top("build_system: OE"), False, "CF-300-yaml-OE"),
    yaml_case(top("target:\n  - 123"), False, "CF-402-yaml-target-item-int"),
    yaml_case(top("buildtools:\n  version: 5.0\n  sha256sum: abc"), False,
              "CF-900-yaml-unquoted-version-is-float"),
    yaml_case(top("buildtools:\n  version: '5.0'\n  sha256sum: abc"), True,
              "CF-900-yaml-quoted-version"),
    yaml_case(top("menu_configuration:\n  A: y"), True,
              "CF-750-yaml-y-is-string"),
    yaml_case(top("menu_configuration:\n  A: yes"), True,
              "CF-750-yaml-yes-is-bool"),
    yaml_case(top("menu_configuration:\n  A: 0x1f"), True,
              "CF-750-yaml-hex-int"),
    yaml_case(top("menu_configuration:\n  A: 1.5"), False,
              "CF-750-yaml-float"),
    yaml_case(top("menu_configuration:\n  A:"), False, "CF-750-yaml-null"),
    yaml_case(top("repos:\n  42:"), False, "CF-005-yaml-int-repo-id"),
    yaml_case(top("repos:\n  '42':"), True, "CF-005-yaml-quoted-repo-id"),
    yaml_case(in_layers("1:"), False, "CF-005-yaml-int-layer-path"),
]


@pytest.mark.parametrize(("text", "expected"), YAML_CASES)
def test_yaml_snippets(validator, text, expected):
    doc = yaml.safe_load(text)
    assert (messages(validator, doc) == []) is expected, doc


# --------------------------------------------------------------------------
# error messages

LOCK_FILE = """\
header:
  version: 14
overrides:
  repos:
    poky:
      commit: 1234567890123456789012345678901234567890
"""


@pytest.mark.parametrize(("doc", "message"), [
    pytest.param(None, "None is not of type 'object'",
                 id="CF-004-message-null-document"),
    pytest.param(cfg(foo=1),
                 "Additional properties are not allowed ('foo' was unexpected)",
                 id="CF-012-message-additional-properties"),
    pytest.param(load(LOCK_FILE),
                 "1234567890123456789012345678901234567890 is not of type "
                 "'string', 'null'",
                 id="INC-084-CF-705-message-numeric-lock-commit"),
    pytest.param(cfg(env={"A": 1}), "1 is not of type 'string', 'null'",
                 id="CF-500-message-env-int"),
    pytest.param({"header": {"version": 1, "includes": None}},
                 "None is not of type 'array'",
                 id="CF-110-message-includes-null"),
    pytest.param({"header": {}}, "'version' is a required property",
                 id="CF-100-message-version-missing"),
    pytest.param({"header": {"version": 24}},
                 "24 is greater than the maximum of 23",
                 id="CF-100-message-version-too-high"),
    pytest.param(layer({"prio": 100}), "100 is greater than the maximum of 99",
                 id="CF-661-message-prio-too-high"),
    pytest.param(cfg(buildtools={"version": "5.0"}),
                 "'sha256sum' is a required property",
                 id="CF-900-message-sha256sum-missing"),
    pytest.param(signer(path="k"), "'repo' is a dependency of 'path'",
                 id="CF-801-message-path-requires-repo"),
])
def test_messages(validator, doc, message):
    assert message in messages(validator, doc)


def test_all_errors_reported(validator):
    # CF-011: every violation of a file is reported, not only the first
    doc = {"header": {"version": 0}, "machine": 5, "bogus": 1,
           "repos": {"r": {"commit": None, "layers": {"m": "enabled"}}}}
    locations = sorted(tuple(e.absolute_path) for e in errors(validator, doc))
    assert locations == [
        (), ("header", "version"), ("machine",), ("repos", "r", "commit"),
        ("repos", "r", "layers", "m"),
    ]


# --------------------------------------------------------------------------
# examples from config-format.md

SPEC_EXAMPLES = {
    "CF-110": """\
        header:
          version: 23
          includes:
            - kas/common.yml              # same repo as this file
            - repo: meta-vendor            # another repo, defined in repos:
              file: kas/board-x.yml
        """,
    "CF-300": "build_system: isar-rootless\n",
    "CF-501": """\
        env:
          SSTATE_MIRROR_URL: "file:///srv/sstate"   # default
          BUILD_ID:                                  # only if set
        """,
    "CF-646": """\
        repos:
          poky:
            url: https://git.example.org/poky.git
            branch: scarthgap
            commit: 0123456789abcdef0123456789abcdef01234567
            layers:
              meta:
              meta-poky:
        """,
    "CF-666": """\
        repos:
          meta-foo:
            url: https://git.example.org/meta-foo.git
            branch: main
            path: layers/meta-foo
            layers:
              .:
              contrib:
                prio: 10
              experimental: disabled
        """,
    "CF-675": """\
        defaults:
          repos:
            patches:
              repo: meta-custom
        repos:
          meta-custom:
          poky:
            url: https://git.example.org/poky.git
            commit: 0123456789abcdef0123456789abcdef01234567
            patches:
              01-fix-foo:
                path: patches/poky/0001-fix-foo.patch
              02-quilt-stack:
                path: patches/poky/series-dir
        """,
    "CF-701": """\
        defaults:
          repos:
            branch: scarthgap
        repos:
          poky:
            url: https://git.example.org/poky.git
          meta-tagged:
            url: https://git.example.org/meta-tagged.git
            branch: null          # drop the default
            tag: v1.2
        """,
    "CF-709": """\
        header:
          version: 14
        overrides:
          repos:
            poky:
              commit: 0123456789abcdef0123456789abcdef01234567
        """,
    "CF-723": """\
        local_conf_header:
          10-mirrors: |
            SSTATE_MIRRORS = "file://.* file:///srv/sstate/PATH"
          20-features: |
            EXTRA_IMAGE_FEATURES += "debug-tweaks"
        """,
    "CF-802": """\
        signers:
          release-key:
            repo: meta-custom
            path: keys/release.asc
            fingerprint: 0123456789ABCDEF0123456789ABCDEF01234567
          ci-ssh:
            type: ssh
            repo: meta-custom
            path: keys/ci.pub
        repos:
          meta-custom:
          meta-signed:
            url: https://git.example.org/meta-signed.git
            tag: v1.0
            signed: true
            allowed_signers: [release-key]
        """,
}


@pytest.mark.parametrize("text", [
    pytest.param(t, id=f"{k}-spec-example") for k, t in SPEC_EXAMPLES.items()])
def test_spec_examples(validator, text):
    doc = load(text)
    doc.setdefault("header", {"version": 23})
    assert messages(validator, doc) == []


# config-format.md §15, verbatim
COMPLETE_EXAMPLE = """\
header:
  version: 23
  includes:
    - kas/base.yml
    - repo: meta-bsp
      file: kas/board.yml
build_system: openembedded
machine: qemuarm64
distro: poky
target:
  - core-image-minimal
  - mc:initramfs:core-image-initramfs
task: build
env:
  SSTATE_DIR: /srv/sstate
  CI_JOB_ID:
defaults:
  repos:
    branch: scarthgap
repos:
  meta-custom:                   # the top repo (no url): its root is a layer
  poky:
    url: https://git.example.org/poky.git
    commit: 0123456789abcdef0123456789abcdef01234567
    layers:
      meta:
      meta-poky:
      meta-yocto-bsp: disabled
  meta-bsp:
    url: https://git.example.org/meta-bsp.git
    path: layers/meta-bsp
    layers:
      .:
        prio: 10
    patches:
      fix-1:
        repo: meta-custom
        path: patches/meta-bsp/fix-1.patch
bblayers_conf_header:
  standard: |
    POKY_BBLAYERS_CONF_VERSION = "2"
local_conf_header:
  standard: |
    CONF_VERSION = "2"
artifacts:
  image: tmp/deploy/images/qemuarm64/*.wic
"""


def test_complete_example(validator):
    # The complete example of config-format.md §15 is valid.
    doc = yaml.safe_load(COMPLETE_EXAMPLE)
    assert messages(validator, doc) == []


def test_menu_generated_config(validator):
    # CF-751: the shape of a .config.yaml written by "kas menu"
    doc = load("""\
        #
        # Automatically generated by kas 5.5
        #
        header:
          version: 23
          includes:
          - kas/base.yml
        menu_configuration:
          KAS_TARGET_MINIMAL: true
          KAS_BUILD_SYSTEM: openembedded
          SOME_NUMBER: 3
        _source_dir: /repo
        _source_dir_host: /home/user/repo
        build_system: openembedded
        target:
        - core-image-minimal
        local_conf_header:
          __menu_config_vars: FOO = "bar"
        """)
    assert messages(validator, doc) == []
