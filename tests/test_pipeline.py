"""The setup pipeline (cli.md §3.1, §3.3, §5.2; generated-files.md §4, §5;
environment.md ENV-100).

Every test runs the real ``kas`` in a subprocess.  The project is a plain
directory (the ``workdir`` fixture, outside any VCS, so it is the top
repository and the work directory at once) holding ``kas.yml`` and, usually,
a fake init script.  What child processes get is observed through
``kas for-all-repos``: its command writes its environment (or a copy of the
private HOME) to a file next to the work directory.  What git gets is
observed through a ``post-checkout`` hook installed with ``core.hooksPath``
in the gitconfig handed over via ``GITCONFIG_FILE``.
"""

import base64
import json
import os
import stat

import pytest
import yaml
from helpers.repos import git, make_git_repo, read, write
from helpers.run import assert_user_error, clean_env, kas_ok, parse_env, run_kas

real = os.path.realpath

CACHEDIR_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
                b"# This file is a cache directory tag created by kas.\n"
                b"# For information about cache directory tags, see:\n"
                b"# https://bford.info/cachedir/spec.html\n"
                b"#\n"
                b"# kas build directory\n")

INIT_SCRIPT = ('mkdir -p "$1/conf"\n'
               "export BB_ENV_PASSTHROUGH_ADDITIONS=FOO\n"
               "export FROM_INIT=1\n")

MINIMAL = """
header:
  version: 14
repos:
  this:
"""

STEPS = ("setup_dir", "setup_home", "make_non_interactive", "init_setup_repos",
         "repo_setup_loop", "finish_setup_repos", "repos_checkout", "repos_apply_patches",
         "setup_environ", "write_bbconfig")


# --- helpers ------------------------------------------------------------------

kas_env = clean_env     # nothing kas reads comes from the caller


def project(workdir, config=MINIMAL, script="oe-init-build-env", script_text=INIT_SCRIPT):
    """kas.yml (and the init script ``script`` unless None) in ``workdir``."""
    if script:
        write(workdir / script, script_text)
    return write(workdir / "kas.yml", config)


def build(workdir, *parts):
    return os.path.join(str(workdir), "build", *parts)


def for_all(workdir, command, *options, env=None, ok=True):
    """``kas for-all-repos [options] kas.yml command`` in ``workdir``."""
    args = ("for-all-repos", *options, "kas.yml", command)
    env = kas_env() if env is None else env
    return kas_ok(*args, cwd=workdir, env=env) if ok else run_kas(*args, cwd=workdir, env=env)


def child_env(workdir, *options, env=None):
    """The environment a for-all-repos command sees (single-repo project)."""
    out = workdir.parent / "child.env"
    for_all(workdir, f'env > "{out}"', *options, env=env)
    return parse_env(read(out))


def home_recorder(workdir):
    """(file, shell command writing the HOME of the command to that file)."""
    path_file = workdir.parent / "home.path"
    return path_file, f'printf %s "$HOME" > "{path_file}"'


def home_copy(workdir, env=None):
    """(path of the private HOME, copy of it made while kas was running)."""
    path_file, record = home_recorder(workdir)
    copy = workdir.parent / "home-copy"
    for_all(workdir, f'{record} && cp -a "$HOME" "{copy}"', env=env)
    return read(path_file), copy


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def usage_error(result):
    assert result.returncode == 2, result
    assert "usage: kas" in result.stderr, result
    assert "Traceback" not in result.stderr, result


def distro_family():
    """The os-release ID_LIKE entries, else ID (ENV-100 item 1)."""
    values = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                values[key] = value.strip('"')
    except OSError:
        return []
    return (values.get("ID_LIKE") or values.get("ID", "")).lower().split()


# --- setup_dir: build directory and CACHEDIR.TAG (CLI-040, CLI-041, GEN-030) -------

def test_cachedir_tag_exact_bytes(workdir):
    """GEN-030, CLI-041."""
    project(workdir)
    kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env())
    with open(build(workdir, "CACHEDIR.TAG"), "rb") as f:
        assert f.read() == CACHEDIR_TAG


def test_existing_cachedir_tag_is_left_alone(workdir):
    """GEN-030."""
    project(workdir)
    tag = write(build(workdir, "CACHEDIR.TAG"), "Signature: mine\n")
    kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env())
    assert read(tag) == "Signature: mine\n"


def test_relative_kas_build_dir_is_created_one_level(workdir):
    """ENV-011, ENV-003: KAS_BUILD_DIR relative to the current directory, outside the work dir."""
    project(workdir)
    kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env(KAS_BUILD_DIR="../mybuild"))
    other = workdir.parent / "mybuild"
    with open(other / "CACHEDIR.TAG", "rb") as f:
        assert f.read() == CACHEDIR_TAG
    assert (other / "conf" / "local.conf").is_file()
    assert not os.path.exists(build(workdir))


def test_kas_build_dir_with_missing_parent_is_a_clear_error(workdir):
    """CLI-040 row 1 / ENV-011: only one level is created; the parent must exist."""
    project(workdir)
    missing = os.path.join(real(str(workdir)), "no", "such", "build")
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=kas_env(KAS_BUILD_DIR=missing))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert len(result.errors()) == 1, result
    assert missing in result.errors()[0]
    assert not os.path.exists(os.path.dirname(missing))


def test_dump_does_not_create_the_build_dir(workdir):
    """CLI-140: dump skips setup_dir, setup_environ and write_bbconfig."""
    project(workdir, script=None)
    result = kas_ok("dump", "kas.yml", cwd=workdir, env=kas_env())
    assert yaml.safe_load(result.stdout)["repos"] == {"this": None}
    assert not os.path.exists(build(workdir))


# --- checkout and write_bbconfig (CLI-110, CLI-350, CLI-351, GEN-000) ----------------

def test_checkout_writes_bblayers_and_local_conf(workdir):
    """CLI-110."""
    project(workdir, """
        header:
          version: 14
        machine: mymach
        distro: mydistro
        repos:
          this:
            layers:
              meta-b:
              meta-a:
        """)
    # GEN-000: whatever was there before is replaced completely.
    write(build(workdir, "conf", "local.conf"), "OLD = '1'\n")
    kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env())
    assert read(build(workdir, "conf", "bblayers.conf")) == (
        'BBLAYERS ?= " \\\n'
        "    ${TOPDIR}/../meta-a \\\n"
        '    ${TOPDIR}/../meta-b"\n'
        'BBPATH ?= "${TOPDIR}"\n'
        'BBFILES ??= ""\n')
    assert read(build(workdir, "conf", "local.conf")) == (
        'MACHINE ??= "mymach"\n'
        'DISTRO ??= "mydistro"\n'
        'BBMULTICONFIG ?= ""\n')


# --- the init script (GEN-040, GEN-041, CLI-352) ----------------------------------

def test_no_init_script(workdir):
    """GEN-040."""
    project(workdir, script=None)
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=kas_env())
    assert_user_error(result, "Did not find any init-build-env script")


@pytest.mark.parametrize("repos, later, earlier", [
    ("  first:\n    name: alpha\n  second:\n    path: other\n", "second", "alpha"),
    ("  a:\n  b:\n", "b", "a"),   # two ids denoting the top repository
], ids=["two-directories", "same-directory"])
def test_multiple_init_scripts(workdir, repos, later, earlier):
    """GEN-040."""
    project(workdir, MINIMAL.replace("  this:\n", repos))
    write(workdir / "other" / "oe-init-build-env", INIT_SCRIPT)
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=kas_env())
    assert_user_error(result, (
        f"Multiple init scripts found ({later} vs. {earlier}). "
        "Resolve ambiguity by removing one of the repos"))


@pytest.mark.parametrize("build_system, works", [
    ("isar", True), ("isar-privileged", True), ("isar-rootless", True),
    ("openembedded", False), ("oe", False), (None, False),
])
def test_script_name_follows_build_system(workdir, build_system, works):
    """GEN-040, CLI-352: Only an isar-init-build-env is present: used by the isar modes only."""
    config = MINIMAL if build_system is None else MINIMAL + f"build_system: {build_system}\n"
    project(workdir, config, script="isar-init-build-env")
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=kas_env())
    if works:
        assert result.returncode == 0, result
        assert os.path.isfile(build(workdir, "conf", "local.conf"))
    else:
        assert_user_error(result, "Did not find any init-build-env script")


def test_init_script_invocation(workdir):
    """GEN-041: Sourced in the directory of the repo holding it, with the build dir as
    argument and nothing but the minimal PATH in its environment."""
    out = workdir.parent / "init"
    project(workdir, MINIMAL + "  poky:\n    path: poky\n", script=None)
    write(workdir / "poky" / "oe-init-build-env",
          f'pwd > "{out}.cwd"\nprintf %s "$1" > "{out}.arg"\nenv > "{out}.env"\n')
    kas_ok("checkout", "kas.yml", cwd=workdir,
           env=kas_env(FOO_SECRET="s3cret", KAS_MACHINE="m"))
    assert read(f"{out}.cwd").strip() == real(str(workdir / "poky"))
    assert read(f"{out}.arg") == real(build(workdir))
    env = parse_env(read(f"{out}.env"))
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert set(env) <= {"PATH", "PWD", "OLDPWD", "SHLVL", "_"}, env


def test_failing_init_script(workdir):
    """GEN-041: A non-zero exit is a failed command (exit 2) that shows the script's output."""
    project(workdir, script_text="echo stdout-marker\necho stderr-marker >&2\nfalse\n")
    result = run_kas("checkout", "kas.yml", cwd=workdir, env=kas_env())
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert any(e.startswith('Command "') for e in result.errors()), result
    assert result.errors()[-1].endswith("failed with error 1"), result
    error_text = result.stderr.split(" - ERROR    - ", 1)[1]
    assert "stdout-marker" in error_text
    assert "stderr-marker" in error_text


# --- private HOME (CLI-070, CLI-072 steps 1-2, CLI-023) --------------------------------

def test_private_home_is_a_fresh_temporary_directory(workdir, tmp_path):
    """CLI-070: Not the real HOME, nothing copied from it, 0700, removed when kas exits."""
    real_home = tmp_path / "realhome"
    write(real_home / ".gitconfig", "[user]\n\tname = Real User\n")
    write(real_home / ".netrc", "machine real login real password real\n")
    project(workdir)
    home, copy = home_copy(workdir, env=kas_env(HOME=str(real_home)))
    assert real(home) != real(str(real_home))
    assert mode(copy) == 0o700
    assert not (copy / ".netrc").exists()
    assert "Real User" not in ((copy / ".gitconfig").read_text()
                               if (copy / ".gitconfig").exists() else "")
    assert not os.path.exists(home)


def test_private_home_removed_after_a_failing_run(workdir):
    """CLI-343."""
    project(workdir)
    path_file, record = home_recorder(workdir)
    command = record + "; exit 7"
    result = for_all(workdir, command, ok=False)
    assert_user_error(result, f'Command "\'{command}\'" failed with error 7')
    assert not os.path.exists(read(path_file))


def test_netrc_is_netrc_file_plus_gitlab_entry(workdir, tmp_path):
    """CLI-070."""
    netrc = write(tmp_path / "my-netrc", "machine example.org login me password pw\n")
    os.chmod(netrc, 0o644)
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(
        NETRC_FILE=netrc, CI_SERVER_HOST="gitlab.example.com", CI_JOB_TOKEN="tok123"))
    assert (copy / ".netrc").read_text() == (
        "machine example.org login me password pw\n"
        "machine gitlab.example.com\n"
        "login gitlab-ci-token\n"
        "password tok123\n")
    assert mode(copy / ".netrc") == 0o600


@pytest.mark.parametrize("missing", ["CI_SERVER_HOST", "CI_JOB_TOKEN"])
def test_no_gitlab_entry_without_host_and_token(workdir, tmp_path, missing):
    """CLI-070."""
    netrc = write(tmp_path / "my-netrc", "machine example.org login me password pw\n")
    values = {"CI_SERVER_HOST": "gitlab.example.com", "CI_JOB_TOKEN": "tok123"}
    values[missing] = ""
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(NETRC_FILE=netrc, **values))
    assert (copy / ".netrc").read_text() == "machine example.org login me password pw\n"


def test_npmrc_is_a_copy_of_npmrc_file(workdir, tmp_path):
    """CLI-070."""
    npmrc = write(tmp_path / "my-npmrc", "//registry.example/:_authToken=abc\n")
    os.chmod(npmrc, 0o644)
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(NPMRC_FILE=npmrc))
    assert (copy / ".npmrc").read_text() == "//registry.example/:_authToken=abc\n"
    assert mode(copy / ".npmrc") == 0o600


def test_gitconfig_from_gitconfig_file_plus_credential_helper(workdir, tmp_path):
    """CLI-072."""
    source = "[user]\n\tname = From File\n\temail = file@example.com\n"
    gitconfig = write(tmp_path / "my-gitconfig", source)
    os.chmod(gitconfig, 0o644)
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(
        GITCONFIG_FILE=gitconfig, GIT_CREDENTIAL_HELPER="store --file=/tmp/creds",
        GIT_CREDENTIAL_USEHTTPPATH="true"))
    target = copy / ".gitconfig"
    assert target.read_text().startswith(source)
    assert git(copy, "config", "--file", str(target), "user.name") == "From File"
    assert git(copy, "config", "--file", str(target),
               "credential.helper") == "store --file=/tmp/creds"
    assert git(copy, "config", "--file", str(target), "credential.useHttpPath") == "true"
    assert mode(target) == 0o600


def test_credential_helper_without_usehttppath(workdir):
    """CLI-072."""
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(GIT_CREDENTIAL_HELPER="cache"))
    target = str(copy / ".gitconfig")
    assert git(copy, "config", "--file", target, "--get-regexp", "^credential\\.") == (
        "credential.helper cache")


def test_docker_config_defaults_to_empty_object(workdir):
    """CLI-070."""
    project(workdir)
    _home, copy = home_copy(workdir)
    assert (copy / ".docker" / "config.json").read_text() == "{}"
    assert mode(copy / ".docker") == 0o700
    assert mode(copy / ".docker" / "config.json") == 0o600


def registry_env(**extra):
    return kas_env(CI_REGISTRY="registry.example.com", CI_REGISTRY_USER="ci-user",
                   CI_JOB_TOKEN="s3cr3t-token", **extra)


def test_docker_config_gets_the_ci_registry_login(workdir):
    """CLI-070."""
    project(workdir)
    _home, copy = home_copy(workdir, env=registry_env())
    auth = base64.b64encode(b"s3cr3t-token").decode()
    expected = {"auths": {"registry.example.com": {"auth": auth}}}
    text = (copy / ".docker" / "config.json").read_text()
    assert json.loads(text) == expected
    assert text.rstrip("\n") == json.dumps(expected, indent=4)


def test_registry_auth_file_is_copied_and_the_ci_entry_replaced(workdir, tmp_path):
    """CLI-070."""
    source = {"auths": {"other.example": {"auth": "b3RoZXI="},
                        "registry.example.com": {"auth": "old"}}}
    auth_file = write(tmp_path / "auth.json", json.dumps(source))
    project(workdir)
    _home, copy = home_copy(workdir, env=registry_env(REGISTRY_AUTH_FILE=auth_file))
    text = (copy / ".docker" / "config.json").read_text()
    source["auths"]["registry.example.com"]["auth"] = base64.b64encode(
        b"s3cr3t-token").decode()
    assert json.loads(text) == source
    assert text.rstrip("\n") == json.dumps(source, indent=4)


def test_registry_auth_file_copied_verbatim_without_ci_registry(workdir, tmp_path):
    """CLI-070."""
    auth_file = write(tmp_path / "auth.json", '{"auths": {"x.example": {"auth": "eA=="}}}')
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(REGISTRY_AUTH_FILE=auth_file,
                                                 CI_JOB_TOKEN="t", CI_REGISTRY="r.example"))
    assert (copy / ".docker" / "config.json").read_text() == read(auth_file)


def test_managed_environment_imports_the_real_gitconfig(workdir, tmp_path):
    """CLI-072."""
    real_home = tmp_path / "realhome"
    write(real_home / ".gitconfig", "[user]\n\tname = Real User\n")
    project(workdir)
    _home, copy = home_copy(workdir, env=kas_env(HOME=str(real_home), GITHUB_ACTIONS="true",
                                                 GIT_CREDENTIAL_HELPER="cache"))
    text = (copy / ".gitconfig").read_text()
    assert text.startswith("[user]\n\tname = Real User\n")
    assert git(copy, "config", "--file", str(copy / ".gitconfig"), "credential.helper") == (
        "cache")


def test_managed_environment_is_logged(workdir, tmp_path):
    """CLI-070."""
    project(workdir)
    result = kas_ok("checkout", "kas.yml", cwd=workdir,
                    env=kas_env(HOME=str(tmp_path), GITHUB_ACTIONS="true"))
    assert any(line.endswith(" - INFO     - Running on GitHub Actions")
               for line in result.stderr.splitlines()), result


@pytest.mark.parametrize("name", ["NETRC_FILE", "NPMRC_FILE", "REGISTRY_AUTH_FILE",
                                  "GITCONFIG_FILE"])
def test_credential_file_variable_naming_a_missing_path(workdir, name):
    """CLI-070, CLI-023: The relative value is resolved against the current directory."""
    project(workdir)
    result = run_kas("checkout", "kas.yml", cwd=workdir,
                     env=kas_env(**{name: "missing/file"}))
    assert result.returncode == 2, result
    path = os.path.join(real(str(workdir)), "missing", "file")
    assert result.errors() == [
        f'Environment variable "{name}" is set, but the path does not exist: {path}']


def test_make_non_interactive_for_git_and_children(workdir, tmp_path):
    """CLI-040: GIT_TERMINAL_PROMPT=false and the private HOME reach git (seen by a
    post-checkout hook set up through GITCONFIG_FILE) and the children."""
    upstream = make_git_repo(tmp_path / "upstream")
    hooks = tmp_path / "hooks"
    hook = write(hooks / "post-checkout", f'#!/bin/sh\nenv > "{tmp_path}/git-env.$$"\n')
    os.chmod(hook, 0o755)
    gitconfig = write(tmp_path / "gitconfig", f"[core]\n\thooksPath = {hooks}\n")
    project(workdir, MINIMAL + f"  up:\n    url: {upstream}\n    branch: main\n"
            f"    commit: {git(upstream, 'rev-parse', 'HEAD')}\n")
    out = tmp_path / "child.env"
    for_all(workdir, f'[ "$KAS_REPO_NAME" != up ] || env > "{out}"',
            env=kas_env(GITCONFIG_FILE=str(gitconfig)))
    children = parse_env(read(out))
    assert children["GIT_TERMINAL_PROMPT"] == "false"
    git_envs = [parse_env(read(p)) for p in tmp_path.glob("git-env.*")]
    assert git_envs, "the post-checkout hook never ran"
    for env in git_envs:
        assert env["GIT_TERMINAL_PROMPT"] == "false"
        assert env["HOME"] == children["HOME"]


# --- the managed environment (ENV-100, ENV-001) ----------------------------------------

def test_caller_variables_do_not_reach_children(workdir):
    """ENV-100."""
    project(workdir)
    env = kas_env(FOO_SECRET="s3cret", KAS_MACHINE="m", KAS_WORK_DIR=str(workdir),
                  PATH="/caller/bin:" + os.environ["PATH"])
    seen = child_env(workdir, env=env)
    assert "FOO_SECRET" not in seen
    assert [k for k in seen if k.startswith("KAS_") and not k.startswith("KAS_REPO_")] == []
    assert "/caller/bin" not in seen["PATH"]
    assert seen["FROM_INIT"] == "1"      # ENV-102: what the init script exported
    assert seen["NO_COLOR"] == "1"       # CLI-012: stdout is not a tty


def test_managed_environment_without_setup_environ(workdir):
    """ENV-100."""
    project(workdir, script=None)
    env = kas_env(FOO_SECRET="s3cret", PATH="/caller/bin:" + os.environ["PATH"])
    seen = child_env(workdir, "--skip", "setup_environ", env=env)
    assert "FOO_SECRET" not in seen
    assert "/caller/bin" not in seen.get("PATH", "")


PASSED = {"http_proxy": "http://proxy.example:3128", "https_proxy": "http://proxy.example:3129",
          "ftp_proxy": "http://proxy.example:2121", "no_proxy": "localhost,.example",
          "SSH_AUTH_SOCK": "/tmp/fake-agent.sock", "BB_NUMBER_THREADS": "3",
          "PARALLEL_MAKE": "-j 3"}


def test_allow_listed_variables_are_passed(workdir):
    """ENV-100."""
    project(workdir)
    seen = child_env(workdir, env=kas_env(**PASSED))
    assert {k: seen.get(k) for k in PASSED} == PASSED


def test_empty_allow_listed_variables_are_not_passed(workdir):
    """ENV-100."""
    project(workdir)
    empty = {k: "" for k in PASSED if k != "SSH_AUTH_SOCK"}   # GEN-050: even empty
    seen = child_env(workdir, env=kas_env(**empty))
    assert [k for k in empty if k in seen] == []


@pytest.mark.parametrize("remote_containers, passed", [("true", True), ("1", False)])
def test_remote_containers_variables(workdir, tmp_path, remote_containers, passed):
    """ENV-100: Item 4: all REMOTE_CONTAINERS_* in VSCode remote containers (value exactly true)."""
    project(workdir)
    seen = child_env(workdir, env=kas_env(HOME=str(tmp_path), REMOTE_CONTAINERS=remote_containers,
                                          REMOTE_CONTAINERS_IPC="/tmp/ipc.sock"))
    assert (seen.get("REMOTE_CONTAINERS_IPC") == "/tmp/ipc.sock") is passed
    assert "REMOTE_CONTAINERS" not in seen


def test_default_locale_of_the_distro_family(workdir):
    """ENV-100."""
    families = distro_family()
    if any(f in ("debian", "ubuntu", "gentoo", "arch") for f in families):
        expected = {"LC_ALL": "en_US.UTF-8", "LANG": "en_US.UTF-8", "LANGUAGE": "en_US:en"}
    elif any(f in ("fedora", "suse", "opensuse") for f in families):
        expected = {"LC_ALL": "en_US.utf8", "LANG": "en_US.utf8", "LANGUAGE": "en_US"}
    else:
        pytest.skip(f"no default locale for {families}")
    project(workdir)
    seen = child_env(workdir, env=kas_env(LC_ALL="C", LANG="C", LANGUAGE="C"))
    assert {k: seen.get(k) for k in expected} == expected


# --- --skip and -k (CLI-042, CLI-045) ---------------------------------------------

def test_unknown_step_is_a_usage_error_listing_the_choices(workdir):
    """CLI-042."""
    project(workdir)
    result = run_kas("checkout", "--skip", "bogus", "kas.yml", cwd=workdir, env=kas_env())
    usage_error(result)
    assert "invalid choice: 'bogus'" in result.stderr
    assert all(f"'{step}'" in result.stderr for step in STEPS), result


@pytest.mark.parametrize("step", STEPS)
def test_every_step_name_is_a_choice(workdir, step):
    """CLI-042: --skip accepts every step name and kas runs: dump succeeds,
    except without init_setup_repos, which the next step needs."""
    project(workdir)
    if step != "init_setup_repos":
        assert "this:" in kas_ok("dump", "--skip", step, "kas.yml", cwd=workdir,
                                 env=kas_env()).stdout
        return
    result = run_kas("dump", "--skip", step, "kas.yml", cwd=workdir, env=kas_env())
    assert_user_error(
        result, "Invalid combination of arguments: repo_setup_loop requires init_setup_repos")


def test_skipping_both_loading_steps_is_a_user_error(workdir):
    """CLI-042, issue 26.3 (found by mypy once the context was typed): with
    both loading steps skipped nothing is loaded; the fetch step must not
    trip over the missing configuration (a traceback before), the command
    says it needs the loading step."""
    project(workdir)
    result = run_kas("dump", "--skip", "init_setup_repos", "--skip", "repo_setup_loop",
                     "kas.yml", cwd=workdir, env=kas_env())
    assert_user_error(
        result, "Invalid combination of arguments: this command needs the init_setup_repos step")


def test_setup_ssh_agent_is_no_choice_without_ssh_key_variables(workdir):
    """CLI-042."""
    project(workdir)
    usage_error(run_kas("dump", "--skip", "setup_ssh_agent", "kas.yml", cwd=workdir,
                        env=kas_env()))


def test_setup_ssh_agent_is_a_choice_with_ssh_private_key(workdir):
    """CLI-042: with a key variable set the step exists and can be skipped
    (it would warn about the empty variable, CLI-060)."""
    project(workdir)
    result = kas_ok("dump", "--skip", "setup_ssh_agent", "kas.yml", cwd=workdir,
                    env=kas_env(SSH_PRIVATE_KEY=""))
    assert "None of the following environment keys" not in result.stderr


def test_skip_is_repeatable(workdir):
    """CLI-042: Without init script, skipping setup_environ and write_bbconfig works."""
    project(workdir, script=None)
    kas_ok("checkout", "--skip", "setup_environ", "--skip", "write_bbconfig", "kas.yml",
           cwd=workdir, env=kas_env())
    assert os.path.isfile(build(workdir, "CACHEDIR.TAG"))
    assert not os.path.exists(build(workdir, "conf", "local.conf"))


def test_skip_setup_dir(workdir):
    """CLI-042."""
    project(workdir)
    kas_ok("checkout", "--skip", "setup_dir", "kas.yml", cwd=workdir, env=kas_env())
    assert not os.path.exists(build(workdir, "CACHEDIR.TAG"))
    assert os.path.isfile(build(workdir, "conf", "local.conf"))


def test_skipping_setup_home_breaks_repos_apply_patches(workdir):
    """CLI-042."""
    project(workdir)
    result = run_kas("checkout", "--skip", "setup_home", "kas.yml", cwd=workdir,
                     env=kas_env())
    assert_user_error(result, "Invalid combination of arguments: Apply patches requires setup_home")


@pytest.mark.parametrize("command", ["checkout", "dump"])
def test_k_is_only_for_build_shell_and_for_all_repos(workdir, command):
    """CLI-045."""
    project(workdir)
    usage_error(run_kas(command, "-k", "kas.yml", cwd=workdir, env=kas_env()))


def test_k_leaves_the_build_dir_alone(workdir):
    """CLI-045: No CACHEDIR.TAG (setup_dir skipped), conf files untouched (write_bbconfig)."""
    project(workdir)
    files = {name: write(build(workdir, "conf", name), f"# mine: {name}\n")
             for name in ("local.conf", "bblayers.conf")}
    for_all(workdir, "true", "-k")
    assert {name: read(path) for name, path in files.items()} == {
        name: f"# mine: {name}\n" for name in files}
    assert not os.path.exists(build(workdir, "CACHEDIR.TAG"))


@pytest.mark.parametrize("options", [("-k",), ("--keep-config-unchanged",)])
def test_k_creates_no_build_dir(workdir, options):
    """CLI-045."""
    project(workdir, script_text="export FROM_INIT=1\n")
    for_all(workdir, "true", *options)
    assert not os.path.exists(build(workdir))


def test_k_skips_repos_checkout(workdir, tmp_path):
    """CLI-045: A clone moved away from its configured commit stays there with -k."""
    upstream = make_git_repo(tmp_path / "upstream", {"f": "one\n"})
    first = git(upstream, "rev-parse", "HEAD")
    write(os.path.join(upstream, "f"), "two\n")
    git(upstream, "commit", "-q", "-a", "-m", "second")
    second = git(upstream, "rev-parse", "HEAD")
    project(workdir, MINIMAL + f"  up:\n    url: {upstream}\n    commit: {first}\n")
    kas_ok("checkout", "kas.yml", cwd=workdir, env=kas_env())
    clone = workdir / "up"
    assert git(clone, "rev-parse", "HEAD") == first
    git(clone, "checkout", "-q", second)
    for_all(workdir, "true", "-k")
    assert git(clone, "rev-parse", "HEAD") == second
    for_all(workdir, "true")
    assert git(clone, "rev-parse", "HEAD") == first
