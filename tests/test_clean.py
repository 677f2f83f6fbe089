"""``kas clean``, ``kas cleansstate`` and ``kas cleanall`` through the real
``kas`` command (cli.md §5.8, CLI-170 ... CLI-176).

Every test builds a fake build directory in the temporary directory and
runs the installed ``kas`` in a subprocess: no mocks, no network.  What
kas may remove is everything inside the work and build directories and
inside the directories the user names in SSTATE_DIR and DL_DIR; a
symlink is removed as a link, never followed.

isar-privileged removal goes through ``sudo``; the tests put a recording
stand-in first on PATH that logs its arguments and runs the ``rm`` itself
(the test against the real sudo lives in test_clean_isar.py).
"""

import os
import shlex
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
    run_in_mount_namespace,
    snapshot,
    sudo_calls,
    userns_mount_available,
)
from helpers.repos import write
from helpers.run import clean_env, kas_command, kas_ok, run_kas

ISAR_WARNING = ("The semantics of build_system: isar might change in the future. "
                "Please use 'isar-privileged' or 'isar-rootless'.")

# The entries of make_build() whose names start with "tmp", sorted.
TMP_ENTRIES = ("tmp", "tmp-glibc", "tmp-musl", "tmp.lock")
COMMANDS = ("clean", "cleansstate", "cleanall")


# --------------------------------------------------------------------------
# helpers


def make_build(build):
    """A fake OpenEmbedded build directory at ``build``."""
    build = str(build)
    write(os.path.join(build, "tmp", "work", "core2-64", "busybox", "temp", "log.do_compile"),
          "compiled\n")
    write(os.path.join(build, "tmp", "deploy", "images", "qemux86-64", "image.wic"), "image\n")
    write(os.path.join(build, "tmp-glibc", "stamps", "stamp"), "stamp\n")
    os.makedirs(os.path.join(build, "tmp-musl"))
    write(os.path.join(build, "tmp.lock"), "")
    write(os.path.join(build, "conf", "local.conf"), 'MACHINE = "qemux86-64"\n')
    write(os.path.join(build, "sstate-cache", "ab", "sstate-ab.tar.zst"), "sstate\n")
    write(os.path.join(build, "sstate-cache", ".hidden"), "hidden\n")
    write(os.path.join(build, "downloads", "busybox-1.36.tar.bz2"), "tarball\n")
    write(os.path.join(build, "downloads", "git2", "example.com.repo", "HEAD"), "ref\n")
    write(os.path.join(build, "cache", "bb_cache.dat"), "cache\n")
    write(os.path.join(build, "mytmp", "keep"), "keep\n")     # does not start with tmp
    return build


def build_system_config(path, value, version=23):
    text = f"header:\n  version: {version}\n"
    if value:
        text += f"build_system: {value}\n"
    return write(path, text)


# --------------------------------------------------------------------------
# CLI-170 / CLI-173: clean


def test_clean_removes_every_tmp_entry_without_config(workdir):
    """CLI-170/173: without any config file, every build dir entry whose name
    starts with ``tmp`` goes (one INFO line each, sorted); the rest stays."""
    build = make_build(workdir / "build")
    result = kas_ok("clean", cwd=workdir)
    paths = [os.path.join(build, n) for n in TMP_ENTRIES]
    assert infos(result) == removing(*paths)
    for path in paths:
        assert not os.path.lexists(path)
    assert sorted(os.listdir(build)) == ["cache", "conf", "downloads", "mytmp", "sstate-cache"]
    assert os.listdir(os.path.join(build, "sstate-cache", "ab")) == ["sstate-ab.tar.zst"]
    assert os.path.isfile(os.path.join(build, "downloads", "busybox-1.36.tar.bz2"))
    assert os.path.isfile(os.path.join(build, "mytmp", "keep"))
    assert result.warnings() == []


@pytest.mark.parametrize(("command", "layout"), [
    ("clean", "no-build-dir"), ("cleanall", "no-build-dir"), ("cleansstate", "empty-build-dir"),
    ("clean", "no-tmp-entries"), ("cleanall", "no-tmp-entries"),
])
def test_nothing_to_remove(tmp_path, workdir, command, layout):
    """CLI-173: nothing matched → nothing happens, exit 0."""
    if layout != "no-build-dir":
        os.makedirs(workdir / "build")
    if layout == "no-tmp-entries":
        write(workdir / "build" / "conf" / "local.conf", "\n")
        os.makedirs(workdir / "build" / "sstate-cache")
        os.makedirs(workdir / "build" / "downloads")
    before = snapshot(tmp_path)
    result = kas_ok(command, cwd=workdir)
    assert infos(result) == (removing(workdir / "build" / "sstate-cache/*")
                             + (removing(workdir / "build" / "downloads/*")
                                if command == "cleanall" else [])
                             if layout == "no-tmp-entries" and command != "clean" else [])
    assert snapshot(tmp_path) == before


def test_clean_uses_kas_build_dir(tmp_path, workdir):
    """CLI-173: the build dir is KAS_BUILD_DIR; the default one is not touched."""
    default = make_build(workdir / "build")
    other = make_build(tmp_path / "elsewhere" / "out")
    result = kas_ok("clean", cwd=workdir, env=clean_env(KAS_BUILD_DIR=other))
    assert infos(result) == removing(*(os.path.join(other, n) for n in TMP_ENTRIES))
    assert sorted(os.listdir(other)) == ["cache", "conf", "downloads", "mytmp", "sstate-cache"]
    for name in TMP_ENTRIES:
        assert os.path.lexists(os.path.join(default, name))


def test_clean_uses_kas_work_dir_not_cwd(tmp_path, workdir):
    """CLI-173: the default build dir is <KAS_WORK_DIR>/build, not ./build."""
    cwd = tmp_path / "cwd"
    in_cwd = make_build(cwd / "build")
    build = make_build(workdir / "build")
    kas_ok("clean", cwd=cwd, env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert not os.path.exists(os.path.join(build, "tmp"))
    assert os.path.isdir(os.path.join(in_cwd, "tmp"))


# --------------------------------------------------------------------------
# CLI-174 / CLI-175: cleansstate, cleanall


def test_cleansstate_empties_sstate_cache(workdir):
    """CLI-174: clean + the contents of <build>/sstate-cache (incl. hidden
    files); the directory itself and the downloads stay."""
    build = make_build(workdir / "build")
    result = kas_ok("cleansstate", cwd=workdir)
    assert infos(result) == removing(*(os.path.join(build, n) for n in TMP_ENTRIES),
                                     os.path.join(build, "sstate-cache/*"))
    assert os.listdir(os.path.join(build, "sstate-cache")) == []
    assert sorted(os.listdir(os.path.join(build, "downloads"))) == ["busybox-1.36.tar.bz2",
                                                                    "git2"]
    assert sorted(os.listdir(build)) == ["cache", "conf", "downloads", "mytmp", "sstate-cache"]


def test_cleanall_empties_downloads_too(workdir):
    """CLI-175: cleansstate + the contents of <build>/downloads."""
    build = make_build(workdir / "build")
    result = kas_ok("cleanall", cwd=workdir)
    assert infos(result) == removing(*(os.path.join(build, n) for n in TMP_ENTRIES),
                                     os.path.join(build, "sstate-cache/*"),
                                     os.path.join(build, "downloads/*"))
    assert os.listdir(os.path.join(build, "sstate-cache")) == []
    assert os.listdir(os.path.join(build, "downloads")) == []
    assert sorted(os.listdir(build)) == ["cache", "conf", "downloads", "mytmp", "sstate-cache"]
    assert os.path.isfile(os.path.join(build, "conf", "local.conf"))


def test_named_sstate_and_dl_dirs_outside_are_emptied(tmp_path, workdir):
    """CLI-174/175: SSTATE_DIR and DL_DIR from the environment, even outside
    the work dir: their contents go, the directories stay; the default
    <build>/sstate-cache and <build>/downloads are then not touched."""
    build = make_build(workdir / "build")
    sstate = tmp_path / "shared" / "sstate"
    dl = tmp_path / "shared" / "downloads"
    write(sstate / "00" / "obj.tar.zst", "s\n")
    write(sstate / ".siginfo", "s\n")
    write(dl / "src.tar.gz", "d\n")
    os.symlink(tmp_path / "shared", dl / "link-up")      # a link is removed, not followed
    result = kas_ok("cleanall", cwd=workdir, env=clean_env(SSTATE_DIR=str(sstate),
                                                          DL_DIR=str(dl)))
    assert infos(result)[-2:] == removing(f"{sstate}/*", f"{dl}/*")
    assert os.listdir(sstate) == []
    assert os.listdir(dl) == []
    assert sorted(os.listdir(tmp_path / "shared")) == ["downloads", "sstate"]
    assert os.listdir(os.path.join(build, "sstate-cache", "ab")) == ["sstate-ab.tar.zst"]
    assert os.path.isfile(os.path.join(build, "downloads", "busybox-1.36.tar.bz2"))


def test_named_sstate_dir_missing_is_no_error(tmp_path, workdir):
    """CLI-174: a SSTATE_DIR/DL_DIR that does not exist is skipped."""
    make_build(workdir / "build")
    result = kas_ok("cleanall", cwd=workdir,
                    env=clean_env(SSTATE_DIR=str(tmp_path / "none1"),
                                  DL_DIR=str(tmp_path / "none2")))
    assert not any("none" in line for line in infos(result))
    assert not os.path.exists(tmp_path / "none1")
    assert not os.path.exists(tmp_path / "none2")


# --------------------------------------------------------------------------
# symlinks, read-only trees, mounts: what may be removed


def test_tmp_symlink_is_removed_as_link_not_followed(tmp_path, workdir):
    """CLI-173: A ``tmp`` symlink pointing outside goes as a link; its target keeps its
    content.  Links inside a removed tree are not followed either."""
    outside = tmp_path / "outside"
    write(outside / "tmpdir" / "precious", "keep\n")
    write(outside / "other" / "precious", "keep\n")
    write(outside / "file", "keep\n")
    build = workdir / "build"
    os.makedirs(build / "tmp-glibc" / "work")
    os.symlink(outside / "tmpdir", build / "tmp")
    os.symlink(outside / "other", build / "tmp-glibc" / "work" / "dirlink")
    os.symlink(outside / "file", build / "tmp-glibc" / "filelink")
    os.symlink(tmp_path / "missing", build / "tmp-dangling")
    before = snapshot(outside)
    result = kas_ok("clean", cwd=workdir)
    assert infos(result) == removing(build / "tmp", build / "tmp-dangling", build / "tmp-glibc")
    assert os.listdir(build) == []
    assert snapshot(outside) == before


@pytest.mark.parametrize(("command", "name", "variable"), [
    ("cleansstate", "sstate-cache", "SSTATE_DIR"),
    ("cleanall", "sstate-cache", "SSTATE_DIR"),
    ("cleanall", "downloads", "DL_DIR"),
])
def test_default_dir_symlinked_outside_is_not_emptied(tmp_path, workdir, command,
                                                                  name, variable):
    """CLI-174, CLI-175: <build>/sstate-cache or <build>/downloads as a symlink to a directory
    outside the work and build dirs: WARNING, its content stays, exit 0."""
    outside = tmp_path / "outside"
    write(outside / "obj" / "data", "keep\n")
    build = make_build(workdir / "build")
    link = os.path.join(build, name)
    subprocess.run(["rm", "-rf", link], check=True)
    os.symlink(outside, link)
    before = snapshot(outside)
    result = kas_ok(command, cwd=workdir)
    warnings = [w for w in result.warnings() if w.startswith("Not removing the contents of ")]
    assert len(warnings) == 1, result
    assert warnings[0].startswith(f"Not removing the contents of {link}"), warnings
    assert str(outside) in warnings[0]
    assert variable in warnings[0]
    assert f"Removing {link}/*" not in infos(result)
    assert snapshot(outside) == before
    assert os.readlink(link) == str(outside)
    assert not os.path.exists(os.path.join(build, "tmp"))


def test_sstate_symlink_outside_is_emptied_when_named(tmp_path, workdir):
    """CLI-174: With SSTATE_DIR explicitly set to the outside directory its contents
    are removed (the directory itself stays)."""
    outside = tmp_path / "outside"
    write(outside / "obj" / "data", "gone\n")
    build = make_build(workdir / "build")
    link = os.path.join(build, "sstate-cache")
    subprocess.run(["rm", "-rf", link], check=True)
    os.symlink(outside, link)
    result = kas_ok("cleansstate", cwd=workdir, env=clean_env(SSTATE_DIR=str(outside)))
    assert result.warnings() == []
    assert infos(result)[-1] == f"Removing {outside}/*"
    assert os.path.isdir(outside)
    assert os.listdir(outside) == []


def test_sstate_symlink_inside_work_dir_is_emptied(workdir):
    """CLI-174: A default sstate-cache symlinked to a directory inside the work dir
    is emptied through the link; the link and its target directory stay."""
    build = make_build(workdir / "build")
    shared = workdir / "shared-sstate"
    write(shared / "obj", "gone\n")
    link = os.path.join(build, "sstate-cache")
    subprocess.run(["rm", "-rf", link], check=True)
    os.symlink(shared, link)
    result = kas_ok("cleansstate", cwd=workdir)
    assert result.warnings() == []
    assert infos(result)[-1] == f"Removing {link}/*"
    assert os.path.islink(link)
    assert os.listdir(shared) == []


NEEDS_USERNS = pytest.mark.skipif(
    not userns_mount_available(),
    reason="needs `unshare -r -m` (user + mount namespaces) for a tmpfs mount")


@pytest.mark.root
@NEEDS_USERNS
@pytest.mark.parametrize("where", ["below", "at"])
def test_mounted_file_system_below_target_is_refused(tmp_path, workdir, where):
    """CLI-173: A file system mounted at or below a tmp* entry (an interrupted Isar
    build): error naming the mount, exit 1, nothing removed."""
    build = make_build(workdir / "build")
    mnt = os.path.join(build, "tmp-musl", *(["rootfs", "proc"] if where == "below" else []))
    os.makedirs(mnt, exist_ok=True)
    before = snapshot(tmp_path)
    kas = " ".join(shlex.quote(a) for a in kas_command())
    proc = run_in_mount_namespace(
        f"mount -t tmpfs none {shlex.quote(mnt)} && exec {kas} cleanall", workdir)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    errors = [line.split(" - ERROR    - ", 1)[1] for line in proc.stderr.splitlines()
              if " - ERROR    - " in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(
        f"Refusing to remove {build}/tmp-musl: a file system is mounted at {mnt}"), errors
    assert snapshot(tmp_path) == before


@pytest.mark.root
@NEEDS_USERNS
def test_mounted_sstate_dir_itself_is_emptied(tmp_path, workdir):
    """CLI-174: A SSTATE_DIR that is itself a mount point (e.g. a shared cache) is
    emptied: nothing is mounted below its entries."""
    make_build(workdir / "build")
    sstate = tmp_path / "sstate-mnt"
    sstate.mkdir()
    q = shlex.quote(str(sstate))
    kas = " ".join(shlex.quote(a) for a in kas_command())
    proc = run_in_mount_namespace(
        f"mount -t tmpfs none {q} && mkdir {q}/ab && echo x > {q}/ab/obj && "
        f"echo y > {q}/.hidden && SSTATE_DIR={q} {kas} cleansstate; rc=$?; "
        f"echo LEFT:$(ls -A {q}):; exit $rc", workdir)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert f"Removing {sstate}/*" in proc.stderr
    assert "LEFT::" in proc.stdout, proc.stdout


def test_target_containing_the_work_dir_is_refused(tmp_path):
    """CLI-173: A tmp* entry that contains the work directory is never removed."""
    build = make_build(tmp_path / "b")
    work = os.path.join(build, "tmpwork")
    write(os.path.join(work, "kas.yml"), "header:\n  version: 14\n")
    before = snapshot(tmp_path)
    result = run_kas("clean", cwd=work, env=clean_env(KAS_BUILD_DIR=build))
    assert "Traceback" not in result.stderr
    assert result.returncode != 0, result
    assert len(result.errors()) == 1, result
    assert result.errors()[0].startswith(f"Refusing to remove {work}"), result
    assert "work directory" in result.errors()[0]
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------
# CLI-171: --dry-run


@pytest.mark.parametrize("command", COMMANDS)
def test_dry_run_logs_the_same_and_changes_nothing(tmp_path, workdir, command):
    """CLI-171: --dry-run logs the same INFO lines as the real run plus the
    dry-run WARNING, and leaves the whole tree unchanged."""
    build = make_build(workdir / "build")
    os.symlink(tmp_path / "outside", os.path.join(build, "tmp-link"))
    write(tmp_path / "outside" / "file", "keep\n")
    write(tmp_path / "sstate" / "obj", "s\n")
    os.chmod(os.path.join(build, "tmp-glibc", "stamps"), 0o555)
    env = clean_env(SSTATE_DIR=str(tmp_path / "sstate"))
    before = snapshot(tmp_path)
    dry = kas_ok(command, "--dry-run", cwd=workdir, env=env)
    assert snapshot(tmp_path) == before
    assert dry.warnings() == [DRY_RUN_WARNING]
    real = kas_ok(command, cwd=workdir, env=env)
    assert DRY_RUN_WARNING not in real.warnings()
    assert infos(dry) == infos(real)
    assert len(infos(real)) >= 5
    assert not os.path.lexists(os.path.join(build, "tmp"))


def test_dry_run_isar_privileged_does_not_call_sudo(tmp_path, workdir):
    """CLI-171: a dry run does not call sudo."""
    make_build(workdir / "build")
    path, log = make_sudo(tmp_path)
    before = snapshot(workdir)
    result = kas_ok("cleanall", "--dry-run", "--isar-privileged", cwd=workdir,
                    env=clean_env(PATH=path))
    assert DRY_RUN_WARNING in result.warnings()
    assert sudo_calls(log) == []
    assert snapshot(workdir) == before


# --------------------------------------------------------------------------
# CLI-172: build system


@pytest.mark.parametrize(("command", "flags", "file_value", "expected"), [
    ("clean", [], None, "openembedded"),
    ("cleansstate", ["--isar-privileged"], None, "isar-privileged"),
    ("cleanall", ["--isar"], None, "isar-privileged"),
    ("clean", ["--isar-rootless"], None, "isar-rootless"),
    ("cleansstate", [], "", "openembedded"),
    ("cleanall", [], "openembedded", "openembedded"),
    ("clean", [], "oe", "openembedded"),
    ("cleansstate", [], "isar-privileged", "isar-privileged"),
    ("cleanall", [], "isar-rootless", "isar-rootless"),
    ("clean", [], "isar", "isar-privileged"),
    ("cleanall", [], "isar", "isar-privileged"),
    ("cleansstate", ["--isar"], "openembedded", "isar-privileged"),
    ("cleanall", ["--isar-privileged"], "isar-rootless", "isar-privileged"),
    ("clean", ["--isar-rootless"], "isar-privileged", "isar-rootless"),
])
def test_build_system_flag_beats_file(tmp_path, workdir, command, flags, file_value,
                                              expected):
    """CLI-172: mode flag, else build_system of the config file (``isar`` =
    isar-privileged, with the deprecation warning once), else openembedded."""
    args = [*flags]
    if file_value is not None:
        args.append(build_system_config(workdir / "kas.yml", file_value))
    make_build(workdir / "build")
    result = kas_ok("-l", "debug", command, "--dry-run", *args, cwd=workdir)
    assert f"Cleaning a build of build system {expected}" in debugs(result)
    assert result.warnings().count(ISAR_WARNING) == (1 if file_value == "isar" else 0)


@pytest.mark.parametrize(("named", "expected"), [
    (None, "isar-rootless"),
    ("openembedded", "openembedded"),
    ("", "openembedded"),
])
def test_config_yaml_of_work_dir_is_the_fallback(tmp_path, workdir, named,
                                                             expected):
    """CLI-171/172: without a config argument <KAS_WORK_DIR>/.config.yaml is
    read (not ./.config.yaml); a named config file replaces it."""
    cwd = tmp_path / "cwd"
    build_system_config(cwd / ".config.yaml", "isar-privileged")
    build_system_config(workdir / ".config.yaml", "isar-rootless")
    args = [] if named is None else [build_system_config(cwd / "kas.yml", named)]
    result = kas_ok("-l", "debug", "clean", "--dry-run", *args, cwd=cwd,
                    env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert f"Cleaning a build of build system {expected}" in debugs(result)


def test_only_the_first_file_of_a_colon_list_is_read(workdir):
    """CLI-171: only the first file of the colon list is read."""
    first = build_system_config(workdir / "a.yml", None)
    second = build_system_config(workdir / "b.yml", "isar-rootless")
    result = kas_ok("-l", "debug", "clean", "--dry-run", f"{first}:{second}", cwd=workdir)
    assert "Cleaning a build of build system openembedded" in debugs(result)


def test_config_includes_and_repos_are_not_processed(tmp_path, workdir):
    """CLI-170/171: no pipeline, no fetch: includes and repos of the config
    file are ignored (the include is missing, the repo unreachable)."""
    build = make_build(workdir / "build")
    cfg = write(workdir / "kas.yml", f"""\
        header:
          version: 14
          includes:
            - missing-include.yml
            - repo: remote
              file: remote.yml
        build_system: isar-rootless
        repos:
          remote:
            url: file://{tmp_path}/no-such-upstream
            branch: main
        """)
    result = kas_ok("-l", "debug", "cleanall", cfg, cwd=workdir)
    assert "Cleaning a build of build system isar-rootless" in debugs(result)
    assert not os.path.exists(os.path.join(build, "tmp"))
    assert not os.path.exists(workdir / "remote")
    assert os.listdir(os.path.join(build, "downloads")) == []


# --------------------------------------------------------------------------
# CLI-173 / CLI-176: isar-privileged through sudo


@pytest.mark.parametrize(("flags", "file_value", "config_yaml"), [
    (["--isar-privileged"], None, False),
    (["--isar"], None, False),
    ([], "isar-privileged", False),
    ([], "isar", False),
    ([], "isar-privileged", True),
])
def test_isar_privileged_removes_with_one_sudo_command(tmp_path, workdir, flags,
                                                               file_value, config_yaml):
    """CLI-173: isar-privileged removes all tmp* entries with ONE
    ``sudo --prompt ... rm -rf <path>...`` command, in sorted order."""
    build = make_build(workdir / "build")
    path, log = make_sudo(tmp_path)
    args = [*flags]
    if file_value and config_yaml:
        build_system_config(workdir / ".config.yaml", file_value)
    elif file_value:
        args.append(build_system_config(workdir / "kas.yml", file_value))
    result = kas_ok("clean", *args, cwd=workdir, env=clean_env(PATH=path))
    paths = [os.path.join(build, n) for n in TMP_ENTRIES]
    assert sudo_calls(log) == [["--prompt", SUDO_PROMPT, "rm", "-rf", *paths]]
    assert infos(result) == removing(*paths)
    for p in paths:
        assert not os.path.lexists(p)
    assert sorted(os.listdir(build)) == ["cache", "conf", "downloads", "mytmp", "sstate-cache"]


def test_sstate_and_downloads_are_removed_without_sudo(tmp_path, workdir):
    """CLI-176: in isar-privileged mode only the tmp* entries go through
    sudo; sstate and downloads are emptied by kas itself."""
    build = make_build(workdir / "build")
    path, log = make_sudo(tmp_path)
    kas_ok("cleanall", "--isar-privileged", cwd=workdir, env=clean_env(PATH=path))
    paths = [os.path.join(build, n) for n in TMP_ENTRIES]
    assert sudo_calls(log) == [["--prompt", SUDO_PROMPT, "rm", "-rf", *paths]]
    assert os.listdir(os.path.join(build, "sstate-cache")) == []
    assert os.listdir(os.path.join(build, "downloads")) == []


@pytest.mark.parametrize("flags", [[], ["--isar-privileged"]])
def test_sudo_not_called_without_need(tmp_path, workdir, flags):
    """CLI-173: openembedded never uses sudo; isar-privileged with nothing
    matched does not call it either."""
    build = make_build(workdir / "build")
    if flags:
        for name in TMP_ENTRIES:
            subprocess.run(["rm", "-rf", os.path.join(build, name)], check=True)
    path, log = make_sudo(tmp_path)
    kas_ok("cleansstate", *flags, cwd=workdir, env=clean_env(PATH=path))
    assert sudo_calls(log) == []
    assert not os.path.exists(os.path.join(build, "tmp"))


def test_isar_privileged_without_sudo_on_path(tmp_path, workdir):
    """CLI-173: Without sudo on PATH root removes the tmp* entries itself (e.g. in a
    container); any other user gets a clear error and nothing is removed."""
    build = make_build(workdir / "build")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    result = run_kas("clean", "--isar-privileged", cwd=workdir,
                     env=clean_env(PATH=str(empty_bin)))
    assert "Traceback" not in result.stderr
    if os.getuid() == 0:
        assert result.returncode == 0, result
        assert result.errors() == []
        assert not any(os.path.lexists(os.path.join(build, n)) for n in TMP_ENTRIES)
    else:
        assert result.returncode != 0, result
        assert result.errors() == [
            'Program "sudo" is required for: cleaning an isar-privileged build'], result
        assert all(os.path.lexists(os.path.join(build, n)) for n in TMP_ENTRIES)


def test_failing_sudo_aborts_with_error(tmp_path, workdir):
    """CLI-173: a failing sudo command aborts with a non-zero exit and an
    ERROR; the later steps (sstate) do not run."""
    build = make_build(workdir / "build")
    path, log = make_sudo(tmp_path, exit_code=1)
    result = run_kas("cleansstate", "--isar-privileged", cwd=workdir, env=clean_env(PATH=path))
    assert "Traceback" not in result.stderr
    assert result.returncode != 0, result
    assert result.errors(), result
    assert len(sudo_calls(log)) == 1
    assert os.path.isdir(os.path.join(build, "tmp"))
    assert os.listdir(os.path.join(build, "sstate-cache", "ab")) == ["sstate-ab.tar.zst"]


# --------------------------------------------------------------------------
# error cases: one clear ERROR, non-zero exit, tree unchanged


BROKEN_YAML = "header:\n  version: 14\nbuild_system: [\n"
SCHEMA_VIOLATION = "header:\n  version: 14\nbuild_system: yocto\n"


@pytest.mark.parametrize(("command", "case"), [
    ("clean", "missing"), ("cleanall", "missing"),
    ("cleansstate", "broken-yaml"), ("clean", "broken-config-yaml"),
    ("cleanall", "broken-config-yaml"), ("clean", "schema"),
    ("cleansstate", "schema-config-yaml"), ("cleanall", "bad-version"),
])
def test_config_errors_change_nothing(tmp_path, workdir, command, case):
    """CLI-171: a named config file that does not exist, broken YAML (named or
    .config.yaml) and schema violations are errors before anything is
    removed: ERROR, exit 2, no traceback, tree unchanged."""
    make_build(workdir / "build")
    args = []
    if case == "missing":
        args.append(str(workdir / "nope.yml"))
        expected = f"Configuration file not found: {workdir}/nope.yml"
    elif case in ("broken-yaml", "broken-config-yaml"):
        name = "kas.yml" if case == "broken-yaml" else ".config.yaml"
        write(workdir / name, BROKEN_YAML)
        if case == "broken-yaml":
            args.append(str(workdir / name))
        expected = f"Configuration file is not valid YAML: Error in line 4: {workdir}/{name}"
    elif case == "bad-version":
        args.append(write(workdir / "kas.yml", "header:\n  version: 99\n"))
        expected = None
    else:
        name = "kas.yml" if case == "schema" else ".config.yaml"
        write(workdir / name, SCHEMA_VIOLATION)
        if case == "schema":
            args.append(str(workdir / name))
        expected = None
    before = snapshot(tmp_path)
    result = run_kas(command, *args, cwd=workdir)
    assert_config_error(result, expected)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("command", "flags"), [
    ("clean", ["--isar-privileged", "--isar-rootless"]),
    ("cleansstate", ["--isar", "--isar-rootless"]),
    ("cleanall", ["--isar-rootless", "--isar-privileged"]),
])
def test_mode_flags_are_mutually_exclusive(tmp_path, workdir, command, flags):
    """CLI-171: the two mode flags together: argparse error, exit 2."""
    make_build(workdir / "build")
    before = snapshot(tmp_path)
    result = run_kas(command, *flags, cwd=workdir)
    assert result.returncode == 2, result
    assert f"usage: kas {command}" in result.stderr
    if flags[0] == "--isar-rootless":       # argparse names the later flag first
        message = ("argument --isar-privileged/--isar: not allowed with argument "
                   "--isar-rootless")
    else:
        message = MUTEX_ERROR
    assert f"kas {command}: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
