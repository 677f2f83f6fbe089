"""Hardening (credentials issue): secrets never reach logs, dump output,
error messages or files kas writes; credential files are private and
removed on every exit, also on SIGINT/SIGTERM; patch paths cannot leave
their repo; a branch whose name looks like a commit id is a branch
(cli.md CLI-013, CLI-022, CLI-060, CLI-070, CLI-090 step 8, CLI-340;
config-format.md CF-674; includes-and-merge.md INC-011, INC-020).
"""

import base64
import os
import signal
import subprocess
import time

import pytest
from helpers.creds import SshKey, agents_with_marker, free_port, marked_path, require
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, kas_command, run_kas

INIT_SCRIPT = 'mkdir -p "$1/conf"\n'

TOKEN = "tok-5ecret-CI-job-token"
NETRC_PASSWORD = "netrc-5ecret-password"
NPM_TOKEN = "npm-5ecret-token"
REGISTRY_AUTH = "cmVnaXN0cnktNWVjcmV0"
AWS_SECRET = "aws-5ecret-access-key"
URL_PASSWORD = "url-5ecret-password"


@pytest.fixture
def upstream(tmp_path):
    path = make_git_repo(tmp_path / "up", {"README": "up\n"})
    return path, git(path, "rev-parse", "HEAD")


@pytest.fixture
def secret_env(tmp_path, workdir):
    """Every credential variable kas reads, with recognisable secrets."""
    require("ssh-agent", "ssh-add", "ssh-keygen")
    creds = tmp_path / "creds"
    key = SshKey(tmp_path, "secret")
    env = clean_env(
        KAS_WORK_DIR=str(workdir), PATH=marked_path(), HOME=str(tmp_path / "realhome"),
        GITLAB_CI="true", CI_SERVER_HOST="gitlab.example.com", CI_JOB_TOKEN=TOKEN,
        CI_REGISTRY="registry.example.com", CI_REGISTRY_USER="gitlab-ci-token",
        CI_PROJECT_DIR=str(workdir), SSH_PRIVATE_KEY=key.text(),
        NETRC_FILE=write(creds / "netrc", f"machine h login u password {NETRC_PASSWORD}\n"),
        NPMRC_FILE=write(creds / "npmrc", f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"),
        REGISTRY_AUTH_FILE=write(creds / "auth.json",
                                 f'{{"auths": {{"r.example": {{"auth": "{REGISTRY_AUTH}"}}}}}}'),
        AWS_CONFIG_FILE=write(creds / "aws-config", "[default]\nregion = x\n"),
        AWS_SHARED_CREDENTIALS_FILE=write(
            creds / "aws-credentials", f"[default]\naws_secret_access_key = {AWS_SECRET}\n"),
        GIT_CREDENTIAL_HELPER="store --file=/dev/null")
    os.makedirs(tmp_path / "realhome")
    secrets = [TOKEN, base64.b64encode(TOKEN.encode()).decode(), NETRC_PASSWORD, NPM_TOKEN,
               REGISTRY_AUTH, AWS_SECRET]
    # Every line of the private key body is secret.
    secrets += [line for line in key.text().splitlines()[1:-1] if len(line) > 20]
    return env, secrets


def written_files(top):
    """(path, bytes) of every regular file below ``top``."""
    for directory, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    yield path, f.read()


def assert_no_secret(secrets, texts, top):
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"{secret!r} leaked into output"
        for path, data in written_files(top):
            assert secret.encode() not in data, f"{secret!r} leaked into {path}"


def test_secrets_never_in_logs_dump_errors_or_written_files(workdir, upstream, secret_env):
    env, secrets = secret_env
    path, commit = upstream
    write(workdir / "oe-init-build-env", INIT_SCRIPT)
    write(workdir / "kas.yml", f"""\
        header:
          version: 23
        repos:
          this:
          r:
            url: {path}
            commit: {commit}
            branch: main
        """)
    write(workdir / "bad.yml", f"""\
        header:
          version: 23
        repos:
          this:
          r:
            url: {path}/missing
            branch: main
        """)
    runs = [run_kas("-l", "debug", "checkout", "kas.yml", cwd=workdir, env=env),
            run_kas("-l", "debug", "dump", "kas.yml", cwd=workdir, env=env),
            run_kas("-l", "debug", "for-all-repos", "kas.yml", "exit 3", cwd=workdir,
                    env=env),
            run_kas("-l", "debug", "checkout", "--update", "bad.yml", cwd=workdir, env=env)]
    assert [r.returncode for r in runs] == [0, 0, 2, 2], runs
    assert "Traceback" not in "".join(r.stderr for r in runs)
    assert " - DEBUG    - " in runs[0].stderr          # every command line was logged
    texts = [r.stdout for r in runs] + [r.stderr for r in runs]
    assert_no_secret(secrets, texts, workdir)
    assert agents_with_marker(env) == []


def test_url_passwords_are_masked_in_logged_commands_and_errors(workdir):
    """CLI-013 logs every command line, CLI-022 names the failed one: a
    password in a repo URL is shown as ***."""
    url = f"http://user:{URL_PASSWORD}@127.0.0.1:{free_port()}/r.git"
    write(workdir / "kas.yml", f"""\
        header:
          version: 23
        repos:
          this:
          r:
            url: {url}
            branch: main
        """)
    result = run_kas("-l", "debug", "checkout", "kas.yml", cwd=workdir,
                     env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert URL_PASSWORD not in result.stderr
    assert "http://user:***@127.0.0.1:" in result.stderr
    assert result.errors()[0].startswith('Fetching of repo: "r" failed: ')


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_credentials_removed_and_agent_stopped_on_signal(workdir, secret_env, tmp_path,
                                                          signum):
    """CLI-340/CLI-343: the cleanups run when kas is interrupted."""
    env, _secrets = secret_env
    write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n")
    saved, log = tmp_path / "home.txt", tmp_path / "kas.log"
    command = (f'echo "$HOME" > "{saved}.tmp" && mv "{saved}.tmp" "{saved}" '
               "&& exec sleep 30")
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            kas_command() + ["for-all-repos", "--skip", "setup_environ", "kas.yml", command],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 20
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert saved.exists(), log.read_text()
        home = saved.read_text().strip()
        assert os.path.exists(os.path.join(home, ".netrc"))
        proc.send_signal(signum)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = log.read_text()
    assert proc.returncode == 130, err
    assert "kas execution cancelled" in err
    assert not os.path.exists(home)
    assert agents_with_marker(env) == []


# --------------------------------------------------------------------------
# paths that would leave their repository


@pytest.fixture
def patch_project(workdir, upstream):
    path, commit = upstream
    write(workdir / "oe-init-build-env", INIT_SCRIPT)

    def configure(patch_path):
        write(workdir / "kas.yml", f"""\
            header:
              version: 23
            repos:
              this:
              r:
                url: {path}
                commit: {commit}
                branch: main
                patches:
                  p1:
                    repo: this
                    path: {patch_path}
            """)
    return workdir, commit, configure


PATCH = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n"


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "series"])
def test_patch_path_cannot_leave_its_repo(patch_project, tmp_path, how):
    """A patch path that leaves its repo (../, absolute, a symlink, a series
    entry) is refused naming patch, repo and entry; the repo stays unpatched
    (CF-674)."""
    workdir, commit, configure = patch_project
    outside = write(tmp_path / "outside" / "evil.patch", PATCH)
    if how == "dotdot":
        configure(os.path.relpath(outside, workdir))
        shown = os.path.join(str(workdir), os.path.relpath(outside, workdir))
    elif how == "absolute":
        configure(outside)
        shown = outside
    elif how == "symlink":
        os.symlink(outside, workdir / "evil.patch")
        configure("evil.patch")
        shown = str(workdir / "evil.patch")
    else:
        write(workdir / "series-dir" / "series", "../../outside/evil.patch\n")
        configure("series-dir")
        shown = str(workdir / "series-dir" / "../../outside/evil.patch")
    result = run_kas("checkout", "kas.yml", cwd=workdir,
                     env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    expected = (f"Patch {shown} resolves outside repository this "
                f"({os.path.realpath(workdir)}) (repo: r, patch entry: p1)")
    assert result.errors() == [expected]
    # The repo is left as checked out: no patch branch, nothing applied.
    assert git(workdir / "r", "rev-parse", "HEAD") == commit
    assert "patched-" not in git(workdir / "r", "branch", "--list")
    assert not (workdir / "r" / "new.txt").exists()


def test_a_bad_patch_path_leaves_every_repo_unpatched(workdir, upstream, tmp_path):
    """CF-674: The first repo's patch is fine, the second's leaves its repo: the
    error comes before any repo is patched."""
    path, commit = upstream
    write(workdir / "oe-init-build-env", INIT_SCRIPT)
    write(workdir / "good.patch", PATCH)
    repos = "".join(
        f"  {name}:\n    url: {path}\n    commit: {commit}\n    branch: main\n"
        f"    patches:\n      p1:\n        repo: this\n        path: {patch}\n"
        for name, patch in (("a", "good.patch"), ("b", "../outside.patch")))
    write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n" + repos)
    result = run_kas("checkout", "kas.yml", cwd=workdir,
                     env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert result.returncode == 2, result
    assert result.errors()[0].startswith("Patch ")
    assert not (workdir / "a" / "new.txt").exists()
    assert git(workdir / "a", "rev-parse", "HEAD") == commit


def test_patch_inside_the_repo_through_a_symlink_is_fine(patch_project):
    """A symlink to a patch inside the repo is fine (CF-674)."""
    workdir, _commit, configure = patch_project
    write(workdir / "patches" / "good.patch", PATCH)
    os.symlink("patches/good.patch", workdir / "link.patch")
    configure("link.patch")
    result = run_kas("checkout", "kas.yml", cwd=workdir,
                     env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert result.returncode == 0, result
    assert (workdir / "r" / "new.txt").read_text() == "x\n"


def test_repo_include_cannot_leave_its_repo_through_a_symlink(workdir, upstream,
                                                                     tmp_path):
    """A repo include cannot leave its repo through a symlink (INC-020)."""
    outside = write(tmp_path / "outside.yml", "header:\n  version: 23\nmachine: evil\n")
    inc = make_git_repo(tmp_path / "inc", {"README": "x\n"})
    os.symlink(outside, os.path.join(inc, "link.yml"))
    git(inc, "add", "-A")
    git(inc, "commit", "-q", "-m", "link")
    write(workdir / "kas.yml", f"""\
        header:
          version: 23
          includes:
            - repo: inc
              file: link.yml
        repos:
          this:
          inc:
            url: {inc}
            commit: {git(inc, "rev-parse", "HEAD")}
            branch: main
        """)
    result = run_kas("dump", "kas.yml", cwd=workdir, env=clean_env(KAS_WORK_DIR=str(workdir)))
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    expected = (f"include {os.path.realpath(outside)} resolves outside repository "
                f"{workdir / 'inc'}")
    assert result.errors() == [expected]


# --------------------------------------------------------------------------
# CLI-090 step 8: a branch named like a commit id is never taken for one


@pytest.fixture
def sha_branch(tmp_path):
    """Upstream where branch <id of A> points to B (not to A)."""
    path = make_git_repo(tmp_path / "shaup", {"file": "A\n"})
    a = git(path, "rev-parse", "HEAD")
    write(os.path.join(path, "file"), "B\n")
    git(path, "commit", "-q", "-am", "B")
    b = git(path, "rev-parse", "HEAD")
    subprocess.run(["git", "-C", path, "branch", a, b], check=True, capture_output=True)
    return path, a, b


def sha_project(workdir, path, lines):
    write(workdir / "oe-init-build-env", INIT_SCRIPT)
    body = "".join(f"    {line}\n" for line in lines)
    write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n"
          f"  r:\n    url: {path}\n" + body)
    return run_kas("checkout", "kas.yml", cwd=workdir,
                   env=clean_env(KAS_WORK_DIR=str(workdir)))


def test_branch_named_like_a_commit_is_a_branch(workdir, sha_branch):
    """A branch named like a commit id is taken as the branch (CLI-090)."""
    path, a, b = sha_branch
    result = sha_project(workdir, path, [f'branch: "{a}"'])
    assert result.returncode == 0, result
    assert git(workdir / "r", "rev-parse", "HEAD^{commit}") == b
    assert (workdir / "r" / "file").read_text() == "B\n"
    assert f"Repository r checked out to {b}" in result.stderr


def test_commit_id_that_is_also_a_branch_name_is_the_commit(workdir, sha_branch):
    """A commit id that is also a branch name is taken as the commit, also
    once the clone has that branch (CLI-090)."""
    path, a, _b = sha_branch
    result = sha_project(workdir, path, [f'commit: "{a}"', "branch: main"])
    assert result.returncode == 0, result
    assert git(workdir / "r", "rev-parse", "HEAD^{commit}") == a
    assert (workdir / "r" / "file").read_text() == "A\n"
    # Next run, with the local branch of that name now in the clone too.
    result = sha_project(workdir, path, [f'commit: "{a}"'])
    assert result.returncode == 0, result
    assert (workdir / "r" / "file").read_text() == "A\n"
