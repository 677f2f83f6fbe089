"""``kas diff`` (cli.md §5.7 CLI-160 ... CLI-165; colors CLI-006, CLI-012).

Real kas runs on real git and hg repositories with fixed authors and
dates, so the text and JSON reports are compared byte for byte.
"""

import json
import os
import pty
import subprocess

import pytest
from conftest import clean_env, kas_command
from lockhelpers import (
    AUTHOR,
    EMAIL,
    GitUpstream,
    HgUpstream,
    Project,
    kas_yaml,
    lock_yaml,
    repo_yaml,
)

DATE = "2024-03-01 12:00:00"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """An upstream with three commits and a project whose old.yml and
    new.yml pin the first and the third (via lock files)."""
    base = tmp_path_factory.mktemp("diff")
    up = GitUpstream(base / "up")
    second = up.commit("second\n\nwith a body")
    third = up.commit("third")
    project = Project(base / "project")
    config = kas_yaml(repo_yaml("up", up, branch="main"), extra="machine: qemux86-64\n")
    project.write("old.yml", config)
    project.write("old.lock.yml", lock_yaml({"up": up.first}))
    project.write("new.yml", config.replace("qemux86-64", "qemuarm64"))
    project.write("new.lock.yml", lock_yaml({"up": third}))
    return project, up, second, third


def text_header(first="old.yml", second="new.yml"):
    return f"kas diff {first} {second}\n--- {first}\n+++ {second}\n"


def test_cli161_164_text_report_byte_exact(history):
    project, up, second, third = history
    result = project.kas_ok("diff", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        "@@ config changed @@\n"
        "-    machine: qemux86-64\n"
        "+    machine: qemuarm64\n"
        f"-    repos.up.commit: {up.first}\n"
        f"+    repos.up.commit: {third}\n"
        "@@ up commits diff @@\n"
        f"{third}: {AUTHOR} {DATE}\n"
        "    third\n"
        f"{second}: {AUTHOR} {DATE}\n"
        "    second\n"
        "\n"
        "    with a body\n")


def test_cli164_oneline_and_commit_only(history):
    project, _, second, third = history
    result = project.kas_ok("diff", "--oneline", "--commit-only", "old.yml", "new.yml")
    assert result.stdout == text_header() + (
        f"@@ up commits diff @@\n{third[:7]} third\n{second[:7]} second\n")


def test_cli164_content_only(history):
    project, _, _, third = history
    result = project.kas_ok("diff", "--content-only", "old.yml", "new.yml")
    assert result.stdout.endswith(f"+    repos.up.commit: {third}\n")
    assert "commits diff" not in result.stdout


def test_cli163_json_report_byte_exact(history):
    project, up, second, third = history
    result = project.kas_ok("diff", "--format", "json", "old.yml", "new.yml")

    def commit(sha, message):
        return {"commit": sha, "author": AUTHOR, "email": EMAIL, "commit_date": DATE,
                "message": message}

    assert result.stdout == json.dumps({
        "values_changed": {
            "machine": {"old_value": "qemux86-64", "new_value": "qemuarm64"},
            "repos.up.commit": {"old_value": up.first, "new_value": third}},
        "vcs": {"up": [commit(third, "third"), commit(second, "second\n\nwith a body")]},
    }, indent=4) + "\n"


def test_cli165_identical_configs_exit_0(history):
    project = history[0]
    result = project.kas_ok("diff", "old.yml", "old.yml")
    assert result.stdout == text_header("old.yml", "old.yml")
    json_result = project.kas_ok("diff", "--format", "json", "old.yml", "old.yml")
    assert json_result.stdout == '{\n    "values_changed": {}\n}\n'


def test_cli161_missing_keys_lists_and_multiline_strings(tmp_path):
    project = Project(tmp_path / "p")
    project.write("a.yml", "header:\n  version: 14\nrepos:\n  this:\n"
                           "target: [one, two]\nlocal_conf_header:\n"
                           "  x: |\n    A = \"1\"\n    B = \"2\"\n    C = \"3\"\n"
                           "distro: poky\n")
    project.write("b.yml", "header:\n  version: 14\nrepos:\n  this:\n"
                           "target: [one]\nlocal_conf_header:\n"
                           "  x: |\n    A = \"1\"\n    B = \"changed\"\n    C = \"3\"\n"
                           "  y: |\n    NEW = \"1\"\n    MORE = \"2\"\n"
                           "task: fetch\n")
    result = project.kas_ok("diff", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        "@@ config changed @@\n"
        '-    target: ["one", "two"]\n'
        '+    target: ["one"]\n'
        "     local_conf_header.x:\n"
        "     @@ -1,3 +1,3 @@\n"
        '     A = "1"\n'
        '-    B = "2"\n'
        '+    B = "changed"\n'
        '     C = "3"\n'
        "     local_conf_header.y:\n"
        "     @@ -0,0 +1,2 @@\n"
        '+    NEW = "1"\n'
        '+    MORE = "2"\n'
        "-    distro: poky\n"
        "+    task: fetch\n")
    data = json.loads(project.kas_ok("diff", "--format", "json", "a.yml", "b.yml").stdout)
    assert data["values_changed"]["distro"] == {"old_value": "poky", "new_value": None}
    assert data["values_changed"]["task"] == {"old_value": None, "new_value": "fetch"}
    assert "vcs" not in data


def test_cli162_unknown_commit_is_one_clear_error(history):
    project, up, _, _ = history
    bogus = "feedfacefeedfacefeedfacefeedfacefeedface"
    project.write("bad.yml", kas_yaml(repo_yaml("up", up, branch="main"))
                  + f"overrides:\n  repos:\n    up:\n      commit: {bogus}\n")
    # Without the checkout (which would already fail) only the diff notices.
    result = project.kas("diff", "--skip", "repos_checkout", "bad.yml", "new.yml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.errors() == [
        f'Could not compute diff for repository "up": First commit ({bogus}) is not valid']


def test_cli162_hg_commits(tmp_path):
    hg_up = HgUpstream(tmp_path / "hgup")
    second = hg_up.commit("second")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", hg_up, branch="default"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": hg_up.first}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": second}))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{second}: {AUTHOR} {DATE}\n    second\n")


def test_cli162_hg_commits_given_as_rev_node(tmp_path):
    """Issue 16.4: an hg ``commit:`` may be ``<rev>:<node>``; the diff
    resolves it like a node."""
    hg_up = HgUpstream(tmp_path / "hgup")
    second = hg_up.commit("second")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", hg_up, branch="default"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": f"0:{hg_up.first}"}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": f"1:{second}"}))
    result = project.kas_ok("diff", "--commit-only", "a.yml", "b.yml")
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{second}: {AUTHOR} {DATE}\n    second\n")


def test_diff_after_lock_update_shows_the_new_commits(tmp_path):
    """The whole story: lock, keep a copy, upstream moves, lock --update,
    diff the copy against the updated config."""
    up = GitUpstream(tmp_path / "up")
    project = Project(tmp_path / "p")
    project.write("kas.yml", kas_yaml(repo_yaml("up", up, branch="main")))
    project.kas_ok("lock", "kas.yml")
    project.write("old.yml", project.read("kas.yml"))
    project.write("old.lock.yml", project.read("kas.lock.yml"))
    new = up.commit("upstream fix")
    project.kas_ok("lock", "--update", "kas.yml")
    result = project.kas_ok("diff", "--oneline", "old.yml", "kas.yml")
    assert result.stdout == text_header("old.yml", "kas.yml") + (
        "@@ config changed @@\n"
        f"-    repos.up.commit: {up.first}\n"
        f"+    repos.up.commit: {new}\n"
        f"@@ up commits diff @@\n{new[:7]} upstream fix\n")


# --- colors (CLI-012, CLI-164) ------------------------------------------------------


def run_on_terminal(project, *args, **env):
    """Run kas with stdout on a pseudo terminal; returns what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.run(kas_command() + list(args), cwd=project.path, stdout=slave,
                          stderr=subprocess.PIPE, env=clean_env(**env), check=False,
                          timeout=60)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.returncode == 0, proc.stderr
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_cli164_colors_on_a_terminal(history):
    project, up, _, third = history
    out = run_on_terminal(project, "diff", "--oneline", "old.yml", "new.yml")
    assert "\033[34m@@ config changed @@\033[0m\n" in out
    assert f"\033[31m-    repos.up.commit: {up.first}\033[0m\n" in out
    assert f"\033[32m+    repos.up.commit: {third}\033[0m\n" in out
    assert f"\033[33m{third[:7]}\033[0m third\n" in out


@pytest.mark.parametrize(("args", "env"), [(["--no-color"], {}), ([], {"NO_COLOR": "1"})])
def test_cli012_no_color_on_a_terminal(history, args, env):
    project = history[0]
    out = run_on_terminal(project, *args, "diff", "old.yml", "new.yml", **env)
    assert "\033[" not in out
    assert "@@ config changed @@\n" in out


def test_cli163_json_always_carries_both_parts(history):
    """--commit-only/--content-only/--oneline shape the text report only."""
    project = history[0]
    data = json.loads(project.kas_ok("diff", "--format", "json", "--content-only",
                                     "old.yml", "new.yml").stdout)
    assert list(data) == ["values_changed", "vcs"]


def test_cli162_shallow_clone_is_deepened_first(tmp_path):
    """KAS_CLONE_DEPTH=1 (CLI-086) leaves out the commits in between."""
    up = GitUpstream(tmp_path / "up")
    second = up.commit("second")
    third = up.commit("third")
    project = Project(tmp_path / "p")
    config = kas_yaml(repo_yaml("up", up, branch="main").replace(up.path, f"file://{up.path}"))
    project.write("a.yml", config)
    project.write("a.lock.yml", lock_yaml({"up": up.first}))
    project.write("b.yml", config)
    project.write("b.lock.yml", lock_yaml({"up": third}))
    env = clean_env(KAS_CLONE_DEPTH="1")
    result = project.kas_ok("diff", "--oneline", "--commit-only", "a.yml", "b.yml", env=env)
    assert result.stdout == text_header("a.yml", "b.yml") + (
        f"@@ up commits diff @@\n{third[:7]} third\n{second[:7]} second\n")
