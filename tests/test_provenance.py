"""``kas build --provenance`` (cli.md CLI-106, CLI-023; config-format.md CF-760,
CLI-083 for the identity of a mirrored repo).

Every test runs the real ``kas`` in a subprocess.  The project has a fake
init script that puts a fake ``bitbake`` on ``PATH``; the fake bitbake
(helpers.repos.Bitbake) notes that it ran and sources
``<record dir>/control.sh``, which by default writes artifact files under
the build directory (its cwd).  Repositories fetched by kas are real git
repositories made by the tests.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import time

import pytest
from helpers.repos import Bitbake, Project, git, make_git_repo, read, write
from helpers.run import clean_env

# What the stand-in init script sets beside bitbake's PATH.
INIT_VARIABLES = "export BB_ENV_PASSTHROUGH_ADDITIONS=FOO_INIT\n"

ARTIFACTS = {
    "tmp/deploy/images/qemu/core.wic": b"image-1\n",
    "tmp/deploy/images/qemu/core.ext4": b"image-2\n",
    "tmp/deploy/images/qemu/core.manifest": b"not an artifact\n",
    "tmp/deploy/sdk/x86_64/sdk.sh": b"sdk\n",
    "tmp/top.sh": b"top\n",
}

MAKE_ARTIFACTS = "".join(
    f"mkdir -p '{os.path.dirname(path)}'; printf '{data.decode()[:-1]}\\n' > '{path}'\n"
    for path, data in ARTIFACTS.items())

ARTIFACTS_CONFIG = """
artifacts:
  image: tmp/deploy/images/*/core.wic
  rootfs: tmp/deploy/images/qemu/core.ext4
  sdk: "tmp/**/*.sh"
"""

# (name, sha256) of every file the globs above match.
EXPECTED_SUBJECTS = sorted(
    (os.path.basename(path), hashlib.sha256(ARTIFACTS[path]).hexdigest())
    for path in ("tmp/deploy/images/qemu/core.wic", "tmp/deploy/images/qemu/core.ext4",
                 "tmp/deploy/sdk/x86_64/sdk.sh", "tmp/top.sh"))

MINIMAL = """
header:
  version: 23
repos:
  this:
"""

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def os_release():
    values = {}
    with open("/etc/os-release") as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            values[key] = value.strip('"')
    return values


def parse_time(text):
    assert TIMESTAMP.fullmatch(text), text
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


@pytest.fixture
def proj(tmp_path, workdir):
    """The project; its recording bitbake writes ARTIFACTS in the build
    directory.  The tests write the init script (``init_script``) after
    choosing what the project directory is."""
    bitbake = Bitbake(tmp_path / "bin", tmp_path / "rec")
    bitbake.control(MAKE_ARTIFACTS)
    return Project(workdir, git=False, bitbake=bitbake)


def init_script_text(proj):
    return proj.bitbake.init_script(INIT_VARIABLES)


def init_script(proj, directory=None):
    return proj.init_script(init_script_text(proj), directory=directory)


def attestation_path(proj):
    return proj.build_dir("attestation", "kas-build.provenance.json")


def attestation(proj):
    text = read(attestation_path(proj))
    document = json.loads(text)
    assert text == json.dumps(document, indent=4) + "\n"   # 4-space indent, newline
    return document


def subjects(document):
    for entry in document["subject"]:
        assert set(entry) == {"name", "digest"}, entry
        assert set(entry["digest"]) == {"sha256"}, entry
    return sorted((e["name"], e["digest"]["sha256"]) for e in document["subject"])


def content_entry(path, media_type):
    with open(path, "rb") as f:
        content = base64.b64encode(f.read()).decode()
    return {"content": content, "mediaType": media_type}


def config_entries(document):
    """The resolvedDependencies for config files, without their name."""
    deps = document["predicate"]["buildDefinition"]["resolvedDependencies"]
    entries = []
    for dep in deps:
        if "content" in dep:
            assert set(dep) == {"name", "content", "mediaType"}, dep
            entries.append((os.path.basename(dep["name"]),
                            {"content": dep["content"], "mediaType": dep["mediaType"]}))
    return entries


# --- the statement (CLI-106) -------------------------------------------------------

def test_attestation_of_a_build(proj, tmp_path):
    """CLI-106: --provenance true: every field of the statement."""
    upstream = make_git_repo(tmp_path / "upstream",
                             {"meta-x/conf/layer.conf": "# layer\n", "README": "up\n"})
    head = git(upstream, "rev-parse", "HEAD")
    init_script(proj)
    config = write(proj.path / "kas.yml", MINIMAL + (
        "  up:\n"
        f"    url: file://{upstream}\n"
        f"    commit: {head}\n"
        "    layers:\n"
        "      meta-x:\n"
        "target: from-config\n"
        "task: from-config\n") + ARTIFACTS_CONFIG)
    before = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.01)
    proj.kas_ok("build", "--provenance", "true", "kas.yml",
                env=clean_env(CI_JOB_URL="https://ci.example/jobs/42"))
    after = datetime.datetime.now(datetime.timezone.utc)
    doc = attestation(proj)

    assert set(doc) == {"_type", "subject", "predicateType", "predicate"}
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
    assert subjects(doc) == EXPECTED_SUBJECTS
    assert set(doc["predicate"]) == {"buildDefinition", "runDetails"}

    definition = doc["predicate"]["buildDefinition"]
    assert definition["buildType"] == (
        "https://kas.readthedocs.io/en/5.5/userguide/project-configuration.html")
    assert definition["externalParameters"] == {
        "command": "build", "config": ["kas.yml"], "target": None, "task": None,
        "extra_bitbake_args": []}
    assert definition["internalParameters"] == {}
    repo_deps = [d for d in definition["resolvedDependencies"] if "content" not in d]
    assert repo_deps == [{
        "name": "up",
        "uri": f"git+file://{upstream}",
        "digest": {"gitCommit": head},
        "annotations": {"dirty": False, "layers": ["meta-x"]},
    }]
    assert config_entries(doc) == [
        ("kas.yml", content_entry(config, "application/vnd.kas+yaml"))]
    # Repos first, then the config files.
    assert "content" in definition["resolvedDependencies"][-1]

    run = doc["predicate"]["runDetails"]
    release = os_release()
    assert run["builder"] == {"id": "https://github.com/siemens/kas",
                              "version": {"kas": "5.5", "distro.name": release["ID"],
                                          "distro.version": release["VERSION_ID"]}}
    assert run["byproducts"] == []
    metadata = run["metadata"]
    assert set(metadata) == {"invocationId", "startedOn", "finishedOn"}
    assert metadata["invocationId"] == "https://ci.example/jobs/42"
    started, finished = parse_time(metadata["startedOn"]), parse_time(metadata["finishedOn"])
    assert before <= started <= finished <= after


def test_cli_parameters_relative_configs_and_json(proj):
    """CLI-106: mode=min; target/task/extra args from the command line; config paths
    relative to the work dir; a .json config is application/vnd.kas+json."""
    configs = proj.path / "configs"
    init_script(proj, configs)
    first = write(configs / "kas.yml", MINIMAL + "target: from-config\n" + ARTIFACTS_CONFIG)
    second = write(configs / "extra.json", '{"header": {"version": 23}, "machine": "m"}\n')
    proj.kas_ok("build", "--provenance", "mode=min", "--target", "a", "--target", "b",
                "--task", "fetch", "configs/kas.yml:configs/extra.json", "--", "-k", "-v",
                env=clean_env(KAS_WORK_DIR=str(proj.path)))
    doc = attestation(proj)
    definition = doc["predicate"]["buildDefinition"]
    assert definition["externalParameters"] == {
        "command": "build", "config": ["configs/kas.yml", "configs/extra.json"],
        "target": ["a", "b"], "task": "fetch", "extra_bitbake_args": ["-k", "-v"]}
    assert definition["internalParameters"] == {}
    assert sorted(config_entries(doc)) == sorted([
        ("kas.yml", content_entry(first, "application/vnd.kas+yaml")),
        ("extra.json", content_entry(second, "application/vnd.kas+json"))])
    assert doc["predicate"]["runDetails"]["metadata"]["invocationId"] == ""


def test_mode_max_and_a_dirty_repo(proj, tmp_path):
    """CLI-106: internalParameters.env has the resolved env values; a clone with
    uncommitted changes is annotated dirty (and left alone, CLI-090)."""
    upstream = make_git_repo(tmp_path / "upstream", {"README": "up\n"})
    head = git(upstream, "rev-parse", "HEAD")
    clone = proj.path / "up"
    git(tmp_path, "clone", "-q", upstream, str(clone))
    write(clone / "README", "local change\n")
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + (
        "  up:\n"
        f"    url: {upstream}\n"
        f"    commit: {head}\n"
        "env:\n"
        "  MYVAR: default\n"
        '  OVERRIDDEN: "x"\n'
        "  NULLVAR: null\n") + ARTIFACTS_CONFIG)
    proj.kas_ok("build", "--provenance", "mode=max", "kas.yml",
                env=clean_env(OVERRIDDEN="fromenv"))
    doc = attestation(proj)
    internal = doc["predicate"]["buildDefinition"]["internalParameters"]
    assert set(internal) == {"env"}
    env = dict(internal["env"])
    assert env.pop("NULLVAR", None) is None       # unset null entry: null or left out
    assert env == {"MYVAR": "default", "OVERRIDDEN": "fromenv"}
    deps = {d["name"]: d for d in doc["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert deps["up"]["digest"] == {"gitCommit": head}
    assert deps["up"]["annotations"] == {"dirty": True, "layers": ["."]}
    assert read(clone / "README") == "local change\n"


def test_mode_max_never_records_secrets(proj):
    """Beyond the reference (issue: hardening): env entries named like
    credentials are recorded as ***, passwords in URL values are masked."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + (
        "env:\n"
        "  CI_JOB_TOKEN: null\n"
        "  AWS_SECRET_ACCESS_KEY: null\n"
        "  MY_PASSWORD: null\n"
        "  MIRROR: null\n"
        "  TOKENIZER: plain\n") + ARTIFACTS_CONFIG)
    result = proj.kas_ok("build", "--provenance", "mode=max", "kas.yml", env=clean_env(
        CI_JOB_TOKEN="glcbt-VALUE1", AWS_SECRET_ACCESS_KEY="VALUE2", MY_PASSWORD="VALUE3",
        MIRROR="https://ci:VALUE4@mirror.example/dl"))
    text = read(proj.build_dir("attestation", "kas-build.provenance.json"))
    for value in ("VALUE1", "VALUE2", "VALUE3", "VALUE4"):
        assert value not in text
        assert value not in result.stderr
    env = attestation(proj)["predicate"]["buildDefinition"]["internalParameters"]["env"]
    assert env == {"CI_JOB_TOKEN": "***", "AWS_SECRET_ACCESS_KEY": "***", "MY_PASSWORD": "***",
                   "MIRROR": "https://ci:***@mirror.example/dl", "TOKENIZER": "plain"}


def test_credentials_removed_and_scp_url(proj, tmp_path):
    """CLI-106: The configured URL is the identity (CLI-083), reported without user
    name and password; ``user@host:path`` becomes ``ssh://host/path``."""
    upstream = make_git_repo(tmp_path / "upstream", {"README": "up\n"})
    head = git(upstream, "rev-parse", "HEAD")
    secret_url = "http://user:SECRETTOKEN@127.0.0.1:9/x.git"
    scp_url = "git@example.invalid:group/proj.git"
    make_git_repo(proj.path, {
        "oe-init-build-env": init_script_text(proj),
        "kas.yml": MINIMAL + (
            "  secret:\n"
            f"    url: {secret_url}\n"
            f"    commit: {head}\n"
            "  scp:\n"
            f"    url: {scp_url}\n"
            f"    commit: {head}\n") + ARTIFACTS_CONFIG})
    premirrors = (f"http://user:SECRETTOKEN@127\\.0\\.0\\.1:9/x\\.git file://{upstream}\n"
                  f"git@example\\.invalid:group/proj\\.git file://{upstream}\n")
    proj.kas_ok("build", "--provenance", "true", "kas.yml",
                env=clean_env(KAS_PREMIRRORS=premirrors))
    text = read(attestation_path(proj))
    assert "SECRETTOKEN" not in text
    assert "user:" not in text
    deps = {d["name"]: d for d in attestation(proj)["predicate"]["buildDefinition"][
        "resolvedDependencies"]}
    assert deps["secret"]["uri"] == "git+http://127.0.0.1:9/x.git"
    assert deps["scp"]["uri"] == "git+ssh://example.invalid/group/proj.git"
    assert deps["secret"]["digest"] == deps["scp"]["digest"] == {"gitCommit": head}
    # Tracked by the top repository, listed all the same (issue 16.8).
    assert config_entries(attestation(proj)) == [
        ("kas.yml", content_entry(proj.path / "kas.yml", "application/vnd.kas+yaml"))]


def test_patched_repo_digest_is_the_commit_before_the_patches(proj, tmp_path):
    """Issue 16.8: the digest of a patched repo is the commit its branch
    pinned it to, not kas's patch commit on top."""
    upstream = make_git_repo(tmp_path / "upstream", {"a.txt": "one\n"})
    head = git(upstream, "rev-parse", "HEAD")
    init_script(proj)
    write(proj.path / "fix.patch", "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n")
    write(proj.path / "kas.yml", MINIMAL + (
        "  up:\n"
        f"    url: {upstream}\n"
        "    branch: main\n"
        "    patches:\n"
        "      p1:\n"
        "        repo: this\n"
        "        path: fix.patch\n") + ARTIFACTS_CONFIG)
    proj.kas_ok("build", "--provenance", "true", "kas.yml")
    patched = git(proj.path / "up", "rev-parse", "HEAD")
    assert git(proj.path / "up", "rev-parse", "HEAD^") == head
    deps = {d["name"]: d for d in attestation(proj)["predicate"]["buildDefinition"][
        "resolvedDependencies"] if "content" not in d}
    assert deps["up"]["digest"] == {"gitCommit": head} != {"gitCommit": patched}
    assert deps["up"]["annotations"]["dirty"] is False


@pytest.mark.parametrize("in_git", [True, False], ids=["top-repo", "no-vcs"])
def test_only_command_line_configs_are_listed(proj, in_git):
    """Issue 16.8: the command-line config files are listed with their
    content, also inside the top repository; their includes never are."""
    files = {
        "oe-init-build-env": init_script_text(proj),
        "kas.yml": "header:\n  version: 23\n  includes: [inc/common.yml]\n"
                   "repos:\n  this:\n" + ARTIFACTS_CONFIG,
        "inc/common.yml": "header:\n  version: 23\nmachine: m\n",
        "extra.yml": "header:\n  version: 23\ndistro: d\n"}
    if in_git:
        make_git_repo(proj.path, files)
    else:
        for name, text in files.items():
            write(proj.path / name, text)
    proj.kas_ok("build", "--provenance", "true", "kas.yml:extra.yml")
    assert config_entries(attestation(proj)) == [
        ("kas.yml", content_entry(proj.path / "kas.yml", "application/vnd.kas+yaml")),
        ("extra.yml", content_entry(proj.path / "extra.yml", "application/vnd.kas+yaml"))]


# --- artifacts (CF-760, CLI-023) ------------------------------------------------------

def test_missing_artifact_is_an_error(proj):
    """With --provenance an artifact glob that matches nothing is an error,
    after bitbake ran, and no attestation is written (CF-760)."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + ARTIFACTS_CONFIG + '  missing: "tmp/*.nothing"\n')
    result = proj.kas("build", "--provenance", "true", "kas.yml")
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert result.errors() == ['No artifact found for missing:"tmp/*.nothing"']
    assert proj.bitbake.ran()
    assert not os.path.exists(attestation_path(proj))


def test_missing_artifact_is_no_error_without_provenance(proj):
    """Without --provenance a missing artifact is no error and no
    attestation is written (CF-760)."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + '\nartifacts:\n  missing: "tmp/*.nothing"\n')
    proj.kas_ok("build", "kas.yml")
    assert proj.bitbake.ran()
    assert not os.path.exists(proj.build_dir("attestation"))


def test_no_artifacts_configured_is_a_warning(proj):
    """--provenance without artifacts configured warns and writes an
    attestation without subjects (CLI-106)."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL)
    result = proj.kas_ok("build", "--provenance", "mode=min", "kas.yml")
    assert "Attestation does not contain any artifacts." in result.warnings()
    assert attestation(proj)["subject"] == []


def test_artifact_older_than_the_build_is_a_warning(proj):
    """An artifact older than the build is warned about, and still listed
    (CF-760)."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + ARTIFACTS_CONFIG + "  old: tmp/old.bin\n")
    old = write(proj.build_dir("tmp", "old.bin"), "stale\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    result = proj.kas_ok("build", "--provenance", "true", "kas.yml")
    about_old = [w for w in result.warnings() if "old" in w]
    assert len(about_old) == 1, result
    assert not [w for w in result.warnings() if "core.wic" in w or "sdk" in w], result
    assert ("old.bin", hashlib.sha256(b"stale\n").hexdigest()) in subjects(attestation(proj))


def test_failing_bitbake_writes_no_attestation(proj):
    """A failing bitbake writes no attestation, and the artifacts are not
    looked at (CLI-106)."""
    init_script(proj)
    proj.bitbake.control("exit 1\n")
    write(proj.path / "kas.yml", MINIMAL + ARTIFACTS_CONFIG)
    result = proj.kas("build", "--provenance", "true", "kas.yml")
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert re.fullmatch(r'Command "(\S*/)?bitbake -c build core-image-minimal" failed with '
                        r"error 1", result.errors()[-1]), result
    assert not [e for e in result.errors() if "artifact" in e], result
    assert not os.path.exists(attestation_path(proj))


@pytest.mark.parametrize("value", ["false", "mode=full", "max"])
def test_provenance_accepts_only_the_three_modes(proj, value):
    """--provenance accepts only its three modes; anything else is a usage
    error before bitbake (CLI-100)."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL)
    result = proj.kas("build", "--provenance", value, "kas.yml")
    assert result.returncode == 2, result
    assert "usage: kas" in result.stderr, result
    assert not proj.bitbake.ran()


def test_failed_attestation_write_leaves_no_temporary_file(proj):
    """Issue 17.4: when the attestation cannot be written (here a directory
    is in its place) kas fails with one error naming the attestation, and
    no temporary file is left in the attestation directory."""
    init_script(proj)
    write(proj.path / "kas.yml", MINIMAL + ARTIFACTS_CONFIG)
    os.makedirs(attestation_path(proj))
    result = proj.kas("build", "--provenance", "true", "kas.yml")
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert proj.bitbake.ran()
    assert os.listdir(proj.build_dir("attestation")) == ["kas-build.provenance.json"]
    assert os.listdir(attestation_path(proj)) == []
    assert result.errors() == [f"Is a directory: {attestation_path(proj)}"], result
