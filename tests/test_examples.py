"""The examples a kas user expects (issue: build environment, item 7).

The network examples cannot be built here; their configuration is loaded
and validated like kas does it (no fetch is needed for that), and their
key settings are checked.  The self-contained example is built for real
in test_real_bitbake.py."""

import os

import pytest
from helpers.run import REPO_ROOT, load_config


def example(name):
    return os.path.join(REPO_ROOT, "examples", name)


@pytest.mark.parametrize(("name", "build_system", "script_repo", "targets"), [
    ("poky.yml", "openembedded", "poky", ["core-image-minimal"]),
    ("oe-core.yml", "openembedded", "openembedded-core", ["core-image-minimal"]),
    ("isar.yml", "isar-privileged", "isar", ["mc:qemuamd64-bookworm:isar-image-base"]),
    ("isar-rootless.yml", "isar-rootless", "isar", ["isar-image-base"]),
])
def test_network_examples_are_valid(name, build_system, script_repo, targets):
    config = load_config([example(name)], REPO_ROOT, environ={})
    assert config.build_system() == build_system
    assert config.targets() == targets
    repos = config.data["repos"]
    assert script_repo in repos and repos[script_repo]["url"].startswith("https://")


def test_oe_core_example_nodistro_and_bitbake_layer_disabled():
    config = load_config([example("oe-core.yml")], REPO_ROOT, environ={})
    assert config.distro() == "nodistro"
    assert config.data["repos"]["bitbake"]["layers"] == {".": "disabled"}


def test_self_contained_example_has_its_own_bitbake_tree():
    config = load_config([example("hello.yml")], REPO_ROOT, environ={})
    assert config.data["repos"]["bitbake"] == {"path": "examples/bitbake"}
    assert os.path.isfile(example("bitbake/oe-init-build-env"))
