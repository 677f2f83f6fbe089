"""``kas purge`` through the real ``kas`` command (cli.md §5.9, CLI-180,
CLI-181).

The tests make real git repositories in the temporary directory: an
upstream repository that kas clones (the kas-managed repo ``upstream``) and
a plain local directory (the url-less repo ``local``, which also holds the
init script ``kas checkout`` needs).  ``kas checkout`` clones for real
before ``kas purge`` removes.  No mocks, no network.

isar-privileged removal goes through a recording ``sudo`` stand-in put
first on PATH (the test against the real sudo lives in test_clean_isar.py).
"""

import os
import pathlib
import shlex
import shutil
import subprocess

import pytest
from helpers.clean import (
    DRY_RUN_WARNING,
    MUTEX_ERROR,
    SUDO_PROMPT,
    assert_config_error,
    debugs,
    infos,
    make_sudo,
    removing,
    snapshot,
    sudo_calls,
    userns_mount_available,
)
from helpers.repos import INIT_SCRIPT, Project, make_git_repo, write
from helpers.run import assert_user_error, clean_env, kas_command, kas_ok, run_kas

NEEDS_CONFIG = "Purge requires a config file to locate managed repos."
TMP_ENTRIES = ("tmp", "tmp-glibc")
KAS_FILES = (".kas_gnupg", ".kas_ssh-handler", ".kas_shell_history")


# --------------------------------------------------------------------------
# helpers


def ref_name(path):
    """The qualified name (CLI-084) of a plain-path or file:// url: every
    ``/`` becomes ``.`` (the test paths have no ``@``, ``:`` or ``*``)."""
    return str(path).replace("/", ".")


# Below tmp_path: the real git repository kas clones for the managed repo
# ``upstream``, and the url-less repo ``local`` (which holds the init script).
UPSTREAM = "upstream.git"
LOCAL = "local"


def purge_project(tmp_path, workdir, upstream_extra="", extra="", url=None, includes=""):
    """kas.yml in the work dir with the managed repo ``upstream`` (cloned
    from UPSTREAM, or from ``url``) and the local repo ``local`` (LOCAL)."""
    upstream = make_git_repo(tmp_path / UPSTREAM,
                             {"README": "upstream\n",
                              "inc.yml": "header:\n  version: 14\nmachine: qemu\n"})
    local = Project(tmp_path / LOCAL, git=False, init_script=INIT_SCRIPT)
    project = Project(workdir, git=False)
    project.config(
        "header:\n  version: 14\n" + includes
        + f"repos:\n  upstream:\n    url: {url or f'file://{upstream}'}\n    branch: main\n"
        + upstream_extra + f"  local:\n    path: {local.path}\n" + extra)
    return project


def checkout(project, env=None):
    project.kas_ok("checkout", project.file("kas.yml"), env=env)
    assert os.path.isdir(project.file("upstream", ".git"))


def fill_build(build):
    """Artifacts, sstate cache and downloads in the build dir ``build``."""
    build = pathlib.Path(build)
    write(build / "tmp" / "work" / "log", "log\n")
    write(build / "tmp-glibc" / "deploy" / "image", "image\n")
    write(build / "conf" / "local.conf", "\n")
    write(build / "sstate-cache" / "ab" / "obj", "sstate\n")
    write(build / "downloads" / "src.tar.gz", "dl\n")
    return build


def kas_files(project):
    """The files kas keeps in the work dir besides repos and the build dir."""
    project.write(".kas_gnupg/pubring.kbx", "keys\n")
    project.write(".kas_ssh-handler/helper", "ssh\n")
    project.write(".kas_shell_history", "ls\n")


# --------------------------------------------------------------------------
# CLI-181: the full sequence


def full_setup(tmp_path, workdir):
    """A checked-out project with a build dir, reference repos, buildtools,
    .config.yaml and kas's other managed files; returns (project, env)."""
    refs = tmp_path / "refs"
    refs.mkdir()
    env = clean_env(KAS_REPO_REF_DIR=str(refs), KAS_BUILDTOOLS_DIR=str(tmp_path / "buildtools"))
    project = purge_project(tmp_path, workdir)
    checkout(project, env)
    assert os.path.isdir(refs / ref_name(tmp_path / UPSTREAM))
    write(refs / "other.example.com.repo.git" / "HEAD", "ref\n")
    write(tmp_path / "buildtools" / "environment-setup-x86_64", "export X=1\n")
    fill_build(project.build_dir())
    shutil.copy(project.file("kas.yml"), workdir / ".config.yaml")
    kas_files(project)
    write(workdir / "notes.txt", "mine\n")
    return project, env


def test_purge_removes_everything_kas_manages(tmp_path, workdir):
    """CLI-181 steps 1 and 3...8, in this order: cleanall, the managed repo
    and its reference repo, the build dir contents, KAS_BUILDTOOLS_DIR,
    .config.yaml, the defaulted build dir, .kas_gnupg, .kas_ssh-handler,
    .kas_shell_history.  The local repo, the config file, unrelated files
    and other reference repos stay."""
    project, env = full_setup(tmp_path, workdir)
    local_before = snapshot(tmp_path / LOCAL)
    upstream_before = snapshot(tmp_path / UPSTREAM)
    result = kas_ok("-l", "debug", "purge", project.file("kas.yml"), cwd=workdir, env=env)
    build, refs = workdir / "build", tmp_path / "refs"
    assert infos(result) == removing(
        build / "tmp", build / "tmp-glibc", f"{build}/sstate-cache/*", f"{build}/downloads/*",
        workdir / "upstream", refs / ref_name(tmp_path / UPSTREAM), f"{build}/*",
        tmp_path / "buildtools", workdir / ".config.yaml", build,
        *(workdir / name for name in KAS_FILES))
    assert "Skipping local as not managed by kas" in debugs(result)
    assert sorted(os.listdir(workdir)) == ["kas.yml", "notes.txt"]
    assert os.listdir(refs) == ["other.example.com.repo.git"]
    assert not os.path.exists(tmp_path / "buildtools")
    assert snapshot(tmp_path / LOCAL) == local_before
    assert snapshot(tmp_path / UPSTREAM) == upstream_before


def test_preserve_repo_refs_keeps_the_reference_repo(tmp_path, workdir):
    """CLI-180/181 step 4: --preserve-repo-refs keeps <KAS_REPO_REF_DIR>/<name>."""
    project, env = full_setup(tmp_path, workdir)
    refs = tmp_path / "refs"
    before = snapshot(refs)
    result = kas_ok("purge", "--preserve-repo-refs", project.file("kas.yml"), cwd=workdir, env=env)
    assert f"Removing {refs / ref_name(tmp_path / UPSTREAM)}" not in infos(result)
    assert f"Removing {workdir / 'upstream'}" in infos(result)
    assert snapshot(refs) == before
    assert sorted(os.listdir(workdir)) == ["kas.yml", "notes.txt"]


@pytest.mark.parametrize("command", [["purge"], ["purge", "--preserve-repo-refs"]])
def test_dry_run_logs_the_same_and_changes_nothing(tmp_path, workdir, command):
    """CLI-171/181: purge --dry-run logs the same INFO lines as the real
    purge plus the dry-run WARNING and leaves the whole tree unchanged."""
    project, env = full_setup(tmp_path, workdir)
    before = snapshot(tmp_path)
    dry = kas_ok(*command, "--dry-run", project.file("kas.yml"), cwd=workdir, env=env)
    assert snapshot(tmp_path) == before
    assert DRY_RUN_WARNING in dry.warnings()
    real = kas_ok(*command, project.file("kas.yml"), cwd=workdir, env=env)
    assert DRY_RUN_WARNING not in real.warnings()
    assert infos(dry) == infos(real)
    assert len(infos(real)) >= 11
    assert sorted(os.listdir(workdir)) == ["kas.yml", "notes.txt"]


def test_config_yaml_is_the_fallback_config(tmp_path, workdir):
    """CLI-181: without a config argument <KAS_WORK_DIR>/.config.yaml locates
    the repos (and is removed at the end)."""
    project = purge_project(tmp_path, workdir)
    checkout(project)
    fill_build(project.build_dir())
    os.rename(project.file("kas.yml"), workdir / ".config.yaml")
    result = kas_ok("purge", cwd=workdir)
    assert f"Removing {workdir / 'upstream'}" in infos(result)
    assert os.listdir(workdir) == []


@pytest.mark.parametrize("inside", [True, False])
def test_given_build_dir_is_emptied_not_removed(tmp_path, workdir, inside):
    """CLI-181 steps 5/8: a build dir given by KAS_BUILD_DIR (inside or
    outside the work dir) is emptied, the directory itself stays."""
    build = workdir / "mybuild" if inside else tmp_path / "elsewhere" / "out"
    build.parent.mkdir(exist_ok=True)
    env = clean_env(KAS_BUILD_DIR=str(build))
    project = purge_project(tmp_path, workdir)
    checkout(project, env)
    fill_build(build)
    write(build / "bitbake-cookerdaemon.log", "log\n")
    result = kas_ok("purge", project.file("kas.yml"), cwd=workdir, env=env)
    assert f"Removing {build}/*" in infos(result)
    assert f"Removing {build}" not in infos(result)
    assert os.listdir(build) == []
    assert sorted(os.listdir(workdir)) == (["kas.yml", "mybuild"] if inside else ["kas.yml"])


def test_purge_uses_kas_work_dir_not_cwd(tmp_path, workdir):
    """CLI-181: repos, build dir and managed files are located in
    KAS_WORK_DIR, not in the current directory."""
    cwd = tmp_path / "cwd"
    write(cwd / "build" / "tmp" / "log", "mine\n")
    write(cwd / ".kas_shell_history", "mine\n")
    env = clean_env(KAS_WORK_DIR=str(workdir))
    project = purge_project(tmp_path, workdir)
    kas_ok("checkout", project.file("kas.yml"), cwd=cwd, env=env)
    assert os.path.isdir(workdir / "upstream" / ".git")
    fill_build(project.build_dir())
    kas_files(project)
    before = snapshot(cwd)
    kas_ok("purge", project.file("kas.yml"), cwd=cwd, env=env)
    assert os.listdir(workdir) == ["kas.yml"]
    assert snapshot(cwd) == before


# --------------------------------------------------------------------------
# CLI-181 step 4: which repos go


def test_local_repos_are_skipped(tmp_path, workdir):
    """CLI-181 step 4: a repo without url (also one inside the work dir) is
    not managed by kas: DEBUG line, it stays."""
    inner = workdir / "mylayer"
    write(inner / "conf" / "layer.conf", "\n")
    project = purge_project(tmp_path, workdir, extra=f"  inner:\n    path: {inner}\n")
    checkout(project)
    result = kas_ok("-l", "debug", "purge", project.file("kas.yml"), cwd=workdir)
    assert "Skipping local as not managed by kas" in debugs(result)
    assert "Skipping inner as not managed by kas" in debugs(result)
    assert os.path.isfile(inner / "conf" / "layer.conf")
    assert os.path.isfile(tmp_path / LOCAL / "oe-init-build-env")
    assert sorted(os.listdir(workdir)) == ["kas.yml", "mylayer"]


def test_managed_repo_outside_work_dir_is_not_removed(tmp_path, workdir):
    """CLI-181: A managed repo whose path is outside the work dir stays, with a
    WARNING naming it."""
    clone = tmp_path / "outside-clone"
    project = purge_project(tmp_path, workdir, upstream_extra=f"    path: {clone}\n")
    kas_ok("checkout", project.file("kas.yml"), cwd=workdir)
    assert os.path.isdir(clone / ".git")
    before = snapshot(clone)
    result = kas_ok("purge", project.file("kas.yml"), cwd=workdir)
    assert [w for w in result.warnings() if w.startswith("Not removing repository")] == [
        (f"Not removing repository upstream: its path {clone} is outside of the work "
         f"directory {workdir}")]
    assert f"Removing {clone}" not in infos(result)
    assert snapshot(clone) == before
    assert os.listdir(workdir) == ["kas.yml"]


def test_repo_symlink_is_removed_as_link(tmp_path, workdir):
    """CLI-181: A managed repo path that is a symlink to a clone elsewhere: the link
    goes, the clone it points to stays."""
    project = purge_project(tmp_path, workdir)
    checkout(project)
    moved = tmp_path / "moved-clone"
    os.rename(workdir / "upstream", moved)
    os.symlink(moved, workdir / "upstream")
    before = snapshot(moved)
    result = kas_ok("purge", project.file("kas.yml"), cwd=workdir)
    assert f"Removing {workdir / 'upstream'}" in infos(result)
    assert not os.path.lexists(workdir / "upstream")
    assert snapshot(moved) == before


def test_missing_repos_are_not_cloned_to_be_removed(tmp_path, workdir):
    """CLI-181: purge does not clone a repo that is not on disk (here its url does
    not even exist) just to remove it."""
    project = purge_project(tmp_path, workdir, url=f"file://{tmp_path}/no-such-upstream")
    fill_build(project.build_dir())
    result = kas_ok("purge", project.file("kas.yml"), cwd=workdir)
    assert f"Removing {workdir / 'upstream'}" not in infos(result)
    assert os.listdir(workdir) == ["kas.yml"]


INCLUDES = "  includes:\n    - repo: upstream\n      file: inc.yml\n"


def test_repo_needed_for_includes_is_fetched_then_removed(tmp_path, workdir):
    """CLI-181 step 3: a repo needed for an include is fetched to read the
    configuration, then removed like any managed repo."""
    project = purge_project(tmp_path, workdir, includes=INCLUDES)
    result = kas_ok("purge", project.file("kas.yml"), cwd=workdir)
    assert f"Removing {workdir / 'upstream'}" in infos(result)
    assert os.listdir(workdir) == ["kas.yml"]


def test_dry_run_needs_include_repos_on_disk(tmp_path, workdir):
    """CLI-181: purge --dry-run never fetches: an include from a repo that is not on
    disk is one clear error, exit 2, nothing changed."""
    project = purge_project(tmp_path, workdir, includes=INCLUDES)
    fill_build(project.build_dir())
    before = snapshot(tmp_path)
    result = run_kas("purge", "--dry-run", project.file("kas.yml"), cwd=workdir)
    assert_user_error(result, (
        f'Repository "upstream" is not on disk ({workdir / "upstream"}), so the '
        "configuration it includes cannot be read without fetching it"))
    assert snapshot(tmp_path) == before


def test_dry_run_reads_include_repos_on_disk(tmp_path, workdir):
    """CLI-181: purge --dry-run with the include repo checked out: works, unchanged."""
    project = purge_project(tmp_path, workdir, includes=INCLUDES)
    checkout(project)
    before = snapshot(tmp_path)
    result = kas_ok("purge", "--dry-run", project.file("kas.yml"), cwd=workdir)
    assert f"Removing {workdir / 'upstream'}" in infos(result)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------
# CLI-181 step 2: no config


def test_purge_without_config_cleans_all_then_fails(tmp_path, workdir):
    """CLI-181 steps 1/2: no config and no .config.yaml: everything cleanall
    removes is removed first, then the user error, exit 2."""
    purge_project(tmp_path, workdir)
    build = fill_build(workdir / "build")
    os.remove(workdir / "kas.yml")
    write(workdir / "upstream" / "README", "not touched\n")
    result = run_kas("purge", cwd=workdir)
    assert_user_error(result, NEEDS_CONFIG)
    assert infos(result) == removing(build / "tmp", build / "tmp-glibc",
                                     f"{build}/sstate-cache/*", f"{build}/downloads/*")
    assert sorted(os.listdir(build)) == ["conf", "downloads", "sstate-cache"]
    assert os.listdir(build / "sstate-cache") == []
    assert os.listdir(build / "downloads") == []
    assert os.path.isfile(workdir / "upstream" / "README")


# --------------------------------------------------------------------------
# CLI-180: isar-privileged


def test_isar_privileged_uses_sudo_only_for_tmp_entries(tmp_path, workdir):
    """CLI-180/173/176: in isar-privileged mode the tmp* entries go in ONE
    sudo command; the rest (repos, sstate, build dir) is removed by kas."""
    project = purge_project(tmp_path, workdir)
    checkout(project)
    build = fill_build(project.build_dir())
    path, log = make_sudo(tmp_path)
    kas_ok("purge", "--isar", project.file("kas.yml"), cwd=workdir, env=clean_env(PATH=path))
    assert sudo_calls(log) == [["--prompt", SUDO_PROMPT, "rm", "-rf",
                                *(str(build / n) for n in TMP_ENTRIES)]]
    assert os.listdir(workdir) == ["kas.yml"]


def test_purge_dry_run_does_not_call_sudo(tmp_path, workdir):
    """CLI-171: a dry run does not call sudo."""
    project = purge_project(tmp_path, workdir)
    checkout(project)
    fill_build(project.build_dir())
    path, log = make_sudo(tmp_path)
    before = snapshot(workdir)
    kas_ok("purge", "--dry-run", "--isar-privileged", project.file("kas.yml"), cwd=workdir,
           env=clean_env(PATH=path))
    assert sudo_calls(log) == []
    assert snapshot(workdir) == before


# --------------------------------------------------------------------------
# safety: mounts


@pytest.mark.root
@pytest.mark.skipif(not userns_mount_available(),
                    reason="needs `unshare -r -m` (user + mount namespaces) for a tmpfs mount")
def test_mount_below_managed_repo_is_refused(tmp_path, workdir):
    """CLI-181: A file system mounted below a managed repo: error naming the mount,
    exit 1, the repo stays."""
    project = purge_project(tmp_path, workdir)
    checkout(project)
    mnt = workdir / "upstream" / "mnt"
    mnt.mkdir()
    before = snapshot(workdir / "upstream")
    kas = " ".join(shlex.quote(a) for a in kas_command())
    script = (f"mount -t tmpfs none {shlex.quote(str(mnt))} && "
              f"exec {kas} purge {shlex.quote(project.file('kas.yml'))}")
    proc = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], cwd=workdir,
                          env=clean_env(), capture_output=True, text=True, check=False,
                          timeout=60)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    errors = [line.split(" - ERROR    - ", 1)[1] for line in proc.stderr.splitlines()
              if " - ERROR    - " in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"Refusing to remove {workdir / 'upstream'}: a file system "
                                f"is mounted at {mnt}"), errors
    assert snapshot(workdir / "upstream") == before


# --------------------------------------------------------------------------
# error cases: one clear ERROR, non-zero exit, tree unchanged


@pytest.mark.parametrize("case", ["missing", "broken-yaml", "broken-config-yaml", "schema",
                                  "schema-config-yaml"])
def test_config_errors_change_nothing(tmp_path, workdir, case):
    """CLI-171/181: a missing named config, broken YAML (named or
    .config.yaml) or a schema violation: ERROR, exit 2, tree unchanged."""
    project = purge_project(tmp_path, workdir)
    write(workdir / "upstream" / "README", "a clone\n")
    fill_build(project.build_dir())
    args = []
    if case == "missing":
        args.append(str(workdir / "nope.yml"))
        expected = f"Configuration file not found: {workdir}/nope.yml"
    elif case.startswith("broken"):
        name = "kas.yml" if case == "broken-yaml" else ".config.yaml"
        write(workdir / name, "header:\n  version: 14\nrepos: [\n")
        args += [] if name == ".config.yaml" else [str(workdir / name)]
        expected = f"Configuration file is not valid YAML: Error in line 4: {workdir}/{name}"
    else:
        name = "kas.yml" if case == "schema" else ".config.yaml"
        write(workdir / name, "header:\n  version: 14\nrepos:\n  upstream: 3\n")
        args += [] if name == ".config.yaml" else [str(workdir / name)]
        expected = None
    before = snapshot(tmp_path)
    result = run_kas("purge", *args, cwd=workdir)
    assert_config_error(result, expected)
    assert snapshot(tmp_path) == before


def test_mode_flags_are_mutually_exclusive(tmp_path, workdir):
    """CLI-180/171: the two mode flags together: argparse error, exit 2."""
    project = purge_project(tmp_path, workdir)
    fill_build(project.build_dir())
    before = snapshot(tmp_path)
    result = run_kas("purge", "--isar-privileged", "--isar-rootless", project.file("kas.yml"),
                     cwd=workdir)
    assert result.returncode == 2, result
    assert "usage: kas purge" in result.stderr
    assert f"kas purge: error: {MUTEX_ERROR}" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
