"""The merge of configuration files (includes-and-merge.md §4, INC-050 ... INC-058).

Unit tests of :func:`kas.config.merge.merge` for every rule, then the INC-058
example end to end: real files on disk, the real ``kas dump`` in a
subprocess, its output parsed and compared to the effective result the
specification gives.
"""

import copy
import functools
import os

import pytest
import yaml
from helpers.repos import write
from helpers.run import run_kas

from kas.config.merge import merge


def fold(*docs):
    """INC-050: fold the files from left to right, later files win."""
    return functools.reduce(merge, docs, {})


# --- INC-051 deep merge ---------------------------------------------------

def test_disjoint_keys_are_united():
    """INC-051."""
    assert merge({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}


def test_nested_mappings_merge_recursively():
    """INC-051."""
    base = {"repos": {"r1": {"url": "u", "layers": {"l1": None}}}}
    update = {"repos": {"r1": {"layers": {"l2": None}}, "r2": None}}
    assert merge(base, update) == {
        "repos": {"r1": {"url": "u", "layers": {"l1": None, "l2": None}}, "r2": None}}


def test_deep_merge_at_many_levels():
    """INC-051."""
    base = {"a": {"b": {"c": {"d": 1, "e": 2}, "f": 3}, "g": 4}}
    update = {"a": {"b": {"c": {"e": 20, "h": 5}}}}
    assert merge(base, update) == {"a": {"b": {"c": {"d": 1, "e": 20, "h": 5}, "f": 3}, "g": 4}}


def test_keys_only_in_the_accumulated_result_are_kept_unchanged():
    """INC-051."""
    base = {"machine": "m", "env": {"A": "1", "B": None}}
    assert merge(base, {"distro": "d"}) == {"machine": "m", "env": {"A": "1", "B": None},
                                           "distro": "d"}


def test_empty_mapping_merges_as_nothing():
    """INC-051."""
    base = {"env": {"A": "1"}}
    assert merge(base, {"env": {}}) == {"env": {"A": "1"}}
    assert merge(base, {}) == base
    assert merge({}, base) == base


def test_produces_a_new_mapping_without_changing_the_inputs():
    """INC-051."""
    base = {"repos": {"r1": {"layers": {"l1": None}}}, "target": ["a"]}
    update = {"repos": {"r1": {"layers": {"l2": "disabled"}}}, "target": ["b"]}
    base_copy, update_copy = copy.deepcopy(base), copy.deepcopy(update)
    result = merge(base, update)
    assert result is not base
    assert base == base_copy
    assert update == update_copy


# --- INC-052 lists and scalars ----------------------------------------------

def test_later_list_replaces_earlier_list():
    """INC-052."""
    assert merge({"target": ["a", "b", "c"]}, {"target": ["d"]}) == {"target": ["d"]}


def test_lists_are_never_concatenated_or_merged_elementwise():
    """INC-052."""
    result = merge({"target": ["a", "b"]}, {"target": ["b", "x"]})
    assert result["target"] == ["b", "x"]


def test_empty_list_replaces():
    """INC-052."""
    assert merge({"target": ["a"]}, {"target": []}) == {"target": []}


def test_header_includes_and_allowed_signers_lists_replace():
    """INC-052."""
    base = {"header": {"version": 14, "includes": ["a.yml", "b.yml"]},
            "repos": {"r": {"allowed_signers": ["s1", "s2"]}}}
    update = {"header": {"version": 14, "includes": ["c.yml"]},
              "repos": {"r": {"allowed_signers": ["s3"]}}}
    result = merge(base, update)
    assert result["header"]["includes"] == ["c.yml"]
    assert result["repos"]["r"]["allowed_signers"] == ["s3"]


def test_lists_of_mappings_are_not_merged():
    """INC-052."""
    base = {"header": {"includes": [{"repo": "a", "file": "x.yml"}]}}
    update = {"header": {"includes": [{"repo": "b", "file": "y.yml"}]}}
    assert merge(base, update)["header"]["includes"] == [{"repo": "b", "file": "y.yml"}]


@pytest.mark.parametrize("old, new", [
    ("m1", "m2"), (1, 2), (True, False), ("x", ""), (14, 5),
])
def test_scalars_are_replaced(old, new):
    """INC-052."""
    assert merge({"k": old}, {"k": new}) == {"k": new}


# --- INC-053 null replaces --------------------------------------------------

def test_null_replaces_a_whole_mapping():
    """INC-053."""
    base = {"repos": {"r1": {"url": "https://x/r1.git", "branch": "main",
                             "layers": {"meta-a": None}, "patches": {"p": {"path": "a.patch"}}}}}
    assert merge(base, {"repos": {"r1": None}}) == {"repos": {"r1": None}}


def test_null_replaces_scalars_and_lists():
    """INC-053."""
    base = {"repos": {"r": {"url": "u", "path": "p", "branch": "b", "tag": "t",
                            "layers": {"meta-x": "disabled"}, "patches": {"p1": {}}}},
            "target": ["a"]}
    update = {"repos": {"r": {"url": None, "path": None, "branch": None, "tag": None,
                              "layers": {"meta-x": None}, "patches": {"p1": None}}},
              "target": None}
    assert merge(base, update) == {
        "repos": {"r": {"url": None, "path": None, "branch": None, "tag": None,
                        "layers": {"meta-x": None}, "patches": {"p1": None}}},
        "target": None}


def test_mapping_after_null_is_taken_as_is():
    """INC-053."""
    assert merge({"repos": {"r": None}}, {"repos": {"r": {"path": "/p"}}}) == \
        {"repos": {"r": {"path": "/p"}}}


def test_not_mentioning_a_repo_keeps_its_definition():
    """INC-053."""
    base = {"repos": {"r1": {"url": "u", "branch": "b"}}}
    assert merge(base, {"repos": {"r2": None}}) == \
        {"repos": {"r1": {"url": "u", "branch": "b"}, "r2": None}}


def test_empty_mapping_keeps_the_definition_but_null_discards_it():
    """INC-053."""
    base = {"repos": {"r1": {"url": "u"}}}
    assert merge(base, {"repos": {"r1": {}}}) == base
    assert merge(base, {"repos": {"r1": None}}) == {"repos": {"r1": None}}


# --- INC-054 type changes ---------------------------------------------------

def test_mapping_replaced_by_scalar():
    """INC-054."""
    base = {"layers": {"meta-x": {"prio": 5}}}
    assert merge(base, {"layers": {"meta-x": "disabled"}}) == {"layers": {"meta-x": "disabled"}}


def test_scalar_replaced_by_mapping():
    """INC-054."""
    base = {"layers": {"meta-x": "disabled"}}
    assert merge(base, {"layers": {"meta-x": {"prio": 5}}}) == {"layers": {"meta-x": {"prio": 5}}}


def test_string_replaced_by_list_and_back():
    """INC-054."""
    assert merge({"target": "a"}, {"target": ["b", "c"]}) == {"target": ["b", "c"]}
    assert merge({"target": ["b", "c"]}, {"target": "a"}) == {"target": "a"}


def test_list_replaced_by_mapping_and_back():
    """INC-054."""
    assert merge({"k": [1, 2]}, {"k": {"a": 1}}) == {"k": {"a": 1}}
    assert merge({"k": {"a": 1}}, {"k": [1, 2]}) == {"k": [1, 2]}


# --- INC-055 key order ------------------------------------------------------

def test_existing_keys_keep_their_position_when_replaced():
    """INC-055."""
    base = {"a": 1, "b": 2, "c": 3}
    result = merge(base, {"c": 30, "a": 10})
    assert list(result) == ["a", "b", "c"]
    assert result == {"a": 10, "b": 2, "c": 30}


def test_new_keys_are_appended_in_the_order_of_the_later_file():
    """INC-055."""
    result = merge({"m": 1, "a": 2}, {"z": 3, "a": 20, "b": 4, "c": 5})
    assert list(result) == ["m", "a", "z", "b", "c"]


def test_key_order_applies_at_nested_levels():
    """INC-055."""
    base = {"local_conf_header": {"zeta": "Z", "alpha": "A"}}
    update = {"local_conf_header": {"beta": "B", "zeta": "Z2"}}
    result = merge(base, update)
    assert list(result["local_conf_header"]) == ["zeta", "alpha", "beta"]


def test_replaced_by_null_or_other_type_keeps_position():
    """INC-055."""
    base = {"a": {"x": 1}, "b": "s", "c": [1]}
    result = merge(base, {"c": None, "a": "scalar", "b": {"y": 2}})
    assert list(result) == ["a", "b", "c"]
    assert result == {"a": "scalar", "b": {"y": 2}, "c": None}


def test_key_order_reflects_first_appearance_over_a_fold():
    """INC-055."""
    result = fold({"b": 1}, {"a": 1, "b": 2}, {"c": 1, "a": 2}, {"b": 3, "d": 1})
    assert list(result) == ["b", "a", "c", "d"]
    assert result == {"b": 3, "a": 2, "c": 1, "d": 1}


# --- INC-056 header ---------------------------------------------------------

def test_header_merges_like_any_mapping():
    """INC-056."""
    result = merge({"header": {"version": 14, "includes": ["a.yml"]}},
                   {"header": {"version": 5}})
    # The plain merge keeps the later scalar; INC-063 (max) is applied by the loader.
    assert result == {"header": {"version": 5, "includes": ["a.yml"]}}


def test_header_includes_is_the_last_given_list():
    """INC-056."""
    result = fold({"header": {"version": 1, "includes": ["a.yml", "b.yml"]}},
                  {"header": {"version": 1, "includes": ["c.yml"]}},
                  {"header": {"version": 1}})
    assert result["header"]["includes"] == ["c.yml"]
    assert list(result["header"]) == ["version", "includes"]


# --- INC-050 fold order ----------------------------------------------------

def test_later_files_win_in_a_fold():
    """INC-050."""
    assert fold({"machine": "a"}, {"machine": "b"}, {"machine": "c"}) == {"machine": "c"}
    assert fold({"machine": "a", "distro": "x"}, {"machine": "b"}, {}) == \
        {"machine": "b", "distro": "x"}


# --- INC-058 the example, end to end -----------------------------------------

INC058_BASE = """\
header: {version: 14}
machine: base-machine
target: [a, b]
local_conf_header: {zeta: 'Z = "base"', alpha: 'A = "base"'}
repos:
  r1: {path: /src/r1, layers: {l1: , l2: }}
  r2: {path: /src/r2}
"""

INC058_MID = """\
header: {version: 5}
target: c
local_conf_header: {beta: 'B = "mid"', zeta: 'Z = "mid"'}
repos:
  r1: {layers: {l2: disabled, l3: }}
  r2:
"""

INC058_TOP = """\
header:
  version: 10
  includes:
    - base.yml
    - mid.yml
machine: top-machine
"""

INC058_EFFECTIVE = """\
header: {version: 14}
machine: top-machine
target: c
local_conf_header: {zeta: 'Z = "mid"', alpha: 'A = "base"', beta: 'B = "mid"'}
repos:
  r1: {path: /src/r1, layers: {l1: , l2: disabled, l3: }}
  r2:
"""


@pytest.fixture(scope="module")
def inc058_dump(tmp_path_factory):
    """``kas dump top.yml`` of the INC-058 files (run once for this module)."""
    d = str(tmp_path_factory.mktemp("inc058"))
    write(os.path.join(d, "base.yml"), INC058_BASE)
    write(os.path.join(d, "mid.yml"), INC058_MID)
    top = write(os.path.join(d, "top.yml"), INC058_TOP)
    res = run_kas("dump", top, cwd=d)
    assert res.returncode == 0, res
    return res


def test_example_effective_result(inc058_dump):
    """INC-058: base.yml < mid.yml < top.yml, dumped and compared to the spec."""
    assert yaml.safe_load(inc058_dump.stdout) == yaml.safe_load(INC058_EFFECTIVE)


def test_example_key_order(inc058_dump):
    """INC-055 on the INC-058 example: key order is first appearance in merge order."""
    out = yaml.safe_load(inc058_dump.stdout)
    assert list(out) == ["header", "machine", "target", "local_conf_header", "repos"]
    assert list(out["header"]) == ["version"]
    assert list(out["local_conf_header"]) == ["zeta", "alpha", "beta"]
    assert list(out["repos"]) == ["r1", "r2"]
    assert list(out["repos"]["r1"]) == ["path", "layers"]
    assert list(out["repos"]["r1"]["layers"]) == ["l1", "l2", "l3"]


def test_example_dump_text(inc058_dump):
    """INC-058 + CLI-141: the exact text of the dump of the example."""
    assert inc058_dump.stdout == (
        "header:\n"
        "  version: 14\n"
        "machine: top-machine\n"
        "target: c\n"
        "local_conf_header:\n"
        "  zeta: Z = \"mid\"\n"
        "  alpha: A = \"base\"\n"
        "  beta: B = \"mid\"\n"
        "repos:\n"
        "  r1:\n"
        "    path: /src/r1\n"
        "    layers:\n"
        "      l1:\n"
        "      l2: disabled\n"
        "      l3:\n"
        "  r2:\n"
    )


# --- the hook of dump --explain ------------------------------------------------

def test_on_set_is_told_every_value_put_in_place():
    """Issue 26.2: ``kas dump --explain`` learns from the merge itself which
    values a file sets: a mapping merged into a mapping is not set itself,
    its new values are; a value replacing a mapping (or a mapping replacing
    a value) is set as a whole."""
    base = {"env": {"A": "1"}, "repos": {"r": {"path": "x"}}, "target": "t"}
    update = {"env": {"A": "2", "B": None}, "repos": {"r": None}, "target": {"x": 1},
              "distro": "d"}
    told = []
    result = merge(base, update, on_set=lambda path, value: told.append((path, value)))
    assert result == merge(base, update)
    assert told == [(("env", "A"), "2"), (("env", "B"), None), (("repos", "r"), None),
                    (("target",), {"x": 1}), (("distro",), "d")]
