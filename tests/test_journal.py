"""The run journal for CI (issue 18.2): with KAS_JOURNAL set, a command that
runs the setup pipeline writes one JSON document when it ends - after a
success, a failed fetch, a failed bitbake and a Ctrl-C - and every
document is validated against the schema shipped in the package.
"""

import hashlib
import json
import os
import signal
import subprocess
import time

import jsonschema
import pytest
from helpers.repos import git, make_git_repo, slow_url, write
from helpers.run import clean_env, kas_command, run_kas

from kas.journal import SCHEMA_FILE

FAKE_BITBAKE = """\
#!/bin/sh
exit "$(cat {status})"
"""
PATCH = "--- a/README\n+++ b/README\n@@ -1 +1 @@\n-hello\n+patched\n"


def journal_of(path):
    """The journal at ``path``, checked against kas/journal-schema.json."""
    with open(SCHEMA_FILE) as f:
        schema = json.load(f)
    with open(path) as f:
        document = json.load(f)
    jsonschema.validate(document, schema)
    return document


def steps(document):
    return {step["name"]: step["status"] for step in document["steps"]}


@pytest.fixture
def project(tmp_path):
    """A work dir with a fake init script and bitbake and two upstreams:
    ``plain`` and ``patched`` (which gets a patch from the top repo)."""
    work = tmp_path / "work"
    upstream = make_git_repo(tmp_path / "upstream", {"README": "hello\n"})
    status = write(tmp_path / "bitbake-status", "0\n")
    bitbake = write(work / "bin" / "bitbake", FAKE_BITBAKE.format(status=status))
    os.chmod(bitbake, 0o755)
    write(work / "oe-init-build-env", f'mkdir -p "$1/conf"\nexport PATH="{work}/bin:$PATH"\n')
    write(work / "fix.patch", PATCH)
    commit = git(upstream, "rev-parse", "HEAD")
    write(work / "kas.yml", f"""\
        header:
          version: 14
        repos:
          this:
          plain:
            url: {upstream}
            commit: {commit}
          patched:
            url: {upstream}
            branch: main
            patches:
              fix:
                repo: this
                path: fix.patch
        """)
    journal = tmp_path / "ci" / "journal.json"
    journal.parent.mkdir()
    env = {k: v for k, v in clean_env(KAS_JOURNAL=str(journal)).items()
           if not k.startswith("GIT_")}
    return {"work": work, "upstream": upstream, "commit": commit, "journal": journal,
            "env": env, "status": status, "tmp": tmp_path}


def test_successful_checkout(project):
    """issue 18.2: Command line, config files with sha256, steps with durations, each
    repository with its ref, commits before/after and what was done.
    ``kas --version`` runs no pipeline and writes none."""
    assert run_kas("--version", cwd=project["work"], env=project["env"]).returncode == 0
    assert not project["journal"].exists()
    res = run_kas("checkout", "kas.yml", cwd=project["work"], env=project["env"])
    assert res.returncode == 0, res
    doc = journal_of(project["journal"])
    assert (doc["status"], doc["exit_status"], doc["error"]) == ("success", 0, None)
    assert doc["argv"][1:] == ["checkout", "kas.yml"]
    kas_yml = os.path.join(project["work"], "kas.yml")
    with open(kas_yml, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert doc["config_files"] == [{"path": kas_yml, "sha256": digest}]
    assert steps(doc) == {"setup_dir": "ok", "setup_home": "ok", "make_non_interactive": "ok",
                          "init_setup_repos": "ok", "repo_setup_loop": "ok",
                          "finish_setup_repos": "ok", "repos_checkout": "ok",
                          "repos_apply_patches": "ok", "setup_environ": "ok",
                          "write_bbconfig": "ok"}
    plain, patched = doc["repos"]
    assert plain | {"duration_s": 0} == {
        "name": "plain", "url": project["upstream"], "vcs": "git",
        "ref": {"commit": project["commit"]}, "commit_before": None,
        "commit_after": project["commit"], "actions": ["cloned"], "duration_s": 0,
        "failed": None}
    head = git(project["work"] / "patched", "rev-parse", "HEAD")
    assert head != project["commit"]
    assert (patched["ref"], patched["actions"], patched["commit_after"]) == \
        ({"branch": "main"}, ["cloned", "patched"], head)
    assert doc["bitbake"] is None

    res = run_kas("checkout", "kas.yml", cwd=project["work"], env=project["env"])
    assert res.returncode == 0, res
    plain = journal_of(project["journal"])["repos"][0]
    assert (plain["actions"], plain["commit_before"], plain["commit_after"]) == \
        (["unchanged"], project["commit"], project["commit"])


def test_build_records_bitbake(project):
    """The journal records bitbake's command line and exit status
    (issue 18.2)."""
    res = run_kas("build", "kas.yml", "--", "-k", cwd=project["work"], env=project["env"])
    assert res.returncode == 0, res
    bitbake = journal_of(project["journal"])["bitbake"]
    assert bitbake["argv"][0] == os.path.join(project["work"], "bin", "bitbake")
    assert bitbake["argv"][1:] == ["-c", "build", "-k", "core-image-minimal"]
    assert bitbake["exit_status"] == 0


def test_failed_bitbake(project):
    """A failed bitbake is recorded with its status, and the run as failed
    with exit 2 (issue 18.2)."""
    write(project["status"], "3\n")
    res = run_kas("build", "kas.yml", cwd=project["work"], env=project["env"])
    assert res.returncode == 2, res
    doc = journal_of(project["journal"])
    assert (doc["status"], doc["exit_status"]) == ("failed", 2)
    assert doc["bitbake"]["exit_status"] == 3
    assert doc["error"].endswith("failed with error 3")
    assert all(step["status"] == "ok" for step in doc["steps"])


def test_failed_fetch_redacts_credentials(project):
    """issue 18.2: A fetch that fails: the repo and the step say so, the error is the
    one kas logged; the password of the URL appears nowhere."""
    write(project["work"] / "kas.yml", """\
        header:
          version: 14
        repos:
          broken:
            url: https://ci:s3cret@127.0.0.1:1/nothing.git
            branch: main
        """)
    res = run_kas("checkout", "kas.yml", cwd=project["work"], env=project["env"])
    assert res.returncode == 2, res
    doc = journal_of(project["journal"])
    assert (doc["status"], doc["exit_status"]) == ("failed", 2)
    assert doc["error"] and "Traceback" not in doc["error"]
    assert steps(doc)["finish_setup_repos"] == "failed"
    assert "repos_checkout" not in steps(doc)
    (repo,) = doc["repos"]
    assert (repo["name"], repo["failed"], repo["actions"]) == ("broken", "fetch", [])
    assert repo["url"] == "https://ci:***@127.0.0.1:1/nothing.git"
    assert "s3cret" not in project["journal"].read_text()


def test_sigint_during_checkout(project):
    """issue 18.2: Ctrl-C while a repository is being cloned: exit 130, and the
    journal says cancelled, in which step and for which repository."""
    gitconfig = write(project["tmp"] / "gitconfig", '[protocol "ext"]\n\tallow = always\n')
    write(project["work"] / "kas.yml", f"""\
        header:
          version: 14
        repos:
          slow:
            url: {slow_url(project["upstream"], 60)}
            commit: {project["commit"]}
        """)
    env = dict(project["env"], GITCONFIG_FILE=gitconfig)
    proc = subprocess.Popen(kas_command() + ["checkout", "kas.yml"], cwd=project["work"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while (not list(project["work"].glob(".slow.kas-partial.*"))
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert list(project["work"].glob(".slow.kas-partial.*")), "the clone never started"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    doc = journal_of(project["journal"])
    assert (doc["status"], doc["exit_status"], doc["error"]) == \
        ("cancelled", 130, "kas execution cancelled")
    assert steps(doc)["finish_setup_repos"] == "cancelled"
    (repo,) = doc["repos"]
    assert (repo["name"], repo["failed"], repo["commit_after"]) == ("slow", "fetch", None)


def test_journal_even_when_the_config_is_missing(project):
    """issue 18.2: A user error before anything was loaded still gets a journal."""
    res = run_kas("dump", "nosuch.yml", cwd=project["work"], env=project["env"])
    assert res.returncode == 2, res
    doc = journal_of(project["journal"])
    assert doc["status"] == "failed"
    assert doc["error"].startswith("Configuration file not found")
    assert doc["config_files"] == []


def test_failed_write_is_a_warning(project):
    """A journal that cannot be written is a warning, and no directory is
    created for it (issue 18.2)."""
    env = dict(project["env"], KAS_JOURNAL=str(project["tmp"] / "no" / "dir" / "j.json"))
    res = run_kas("dump", "kas.yml", "--skip", "finish_setup_repos", "--skip",
                  "repos_checkout", cwd=project["work"], env=env)
    assert res.returncode == 0, res
    assert [w for w in res.warnings() if w.startswith("Could not write the journal ")]
    assert not (project["tmp"] / "no").exists()

