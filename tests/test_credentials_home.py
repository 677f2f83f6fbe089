"""The private HOME and its credential files (cli.md CLI-070 ... CLI-074,
CLI-023; environment.md ENV-004, ENV-043 ... ENV-062, ENV-076).

kas runs for real; a ``for-all-repos`` command copies the private HOME
(with modes) out before kas removes it.  GitLab CI is emulated by its
variables against a local repository: the ssh URL of the "CI server" is
rewritten by the gitconfig kas writes, so the clone only works if the
rewrite does.
"""

import base64
import json
import os
import stat

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, run_kas

STEPS = ["--skip", "setup_environ", "--skip", "write_bbconfig"]


def run_with_home(workdir, tmp_path, **variables):
    """Run kas (repo ``this`` unless kas.yml exists) with ``variables``;
    returns (result, copy of the private HOME or None, the HOME path)."""
    if not (workdir / "kas.yml").exists():
        write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n")
    real_home = tmp_path / "realhome"
    real_home.mkdir(exist_ok=True)
    saved, copy = tmp_path / "home.txt", tmp_path / "home-copy"
    command = f'echo "$HOME" > "{saved}"; cp -a "$HOME" "{copy}"'
    result = run_kas("for-all-repos", *STEPS, "kas.yml", command, cwd=workdir,
                     env=clean_env(HOME=str(real_home), **variables))
    home = saved.read_text().strip() if saved.exists() else None
    return result, (copy if copy.exists() else None), home


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def assert_ok(result):
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 0, result


def assert_private(copy):
    """CLI-070: HOME 0700, every file 0600, every directory 0700."""
    assert mode(copy) == 0o700
    for directory, dirs, files in os.walk(copy):
        for name in dirs:
            assert mode(os.path.join(directory, name)) == 0o700, name
        for name in files:
            assert mode(os.path.join(directory, name)) == 0o600, name


def gitconfig(copy, *args):
    return git(copy, "config", "--file", str(copy / ".gitconfig"), *args)


# --------------------------------------------------------------------------
# GitLab CI (CLI-070 .netrc/.docker, CLI-072 step 3, CLI-073)

GITLAB = {"GITLAB_CI": "true", "CI_SERVER_HOST": "gitlab.example.com",
          "CI_JOB_TOKEN": "job-token-1234", "CI_REGISTRY": "registry.example.com",
          "CI_REGISTRY_USER": "gitlab-ci-token"}


def test_gitlab_ci_files(workdir, tmp_path):
    """In GitLab CI the private home gets the job token's .netrc and docker
    login, the project directory as safe.directory and the rewrite of the
    server's ssh URLs to https; the home is private and removed at the end
    (CLI-070, CLI-073)."""
    result, copy, home = run_with_home(workdir, tmp_path, CI_PROJECT_DIR=str(workdir),
                                       CI_SERVER_SHELL_SSH_PORT="2222", **GITLAB)
    assert_ok(result)
    assert "Running on GitLab CI" in result.stderr
    assert (copy / ".netrc").read_text() == (
        "machine gitlab.example.com\nlogin gitlab-ci-token\npassword job-token-1234\n")
    docker = json.loads((copy / ".docker" / "config.json").read_text())
    assert docker == {"auths": {"registry.example.com": {
        "auth": base64.b64encode(b"job-token-1234").decode()}}}
    assert gitconfig(copy, "--get-all", "safe.directory") == str(workdir)
    sources = ["git@gitlab.example.com:", "git@gitlab.example.com:2222",
               "ssh://git@gitlab.example.com/", "ssh://git@gitlab.example.com:2222/"]
    for base in ("https://gitlab.example.com/", "https://gitlab.example.com:443/"):
        assert gitconfig(copy, "--get-all", f"url.{base}.insteadof").splitlines() == sources
    assert_private(copy)
    assert not os.path.exists(home)


def test_gitlab_rewrite_is_used_by_git(workdir, tmp_path):
    """CLI-073: The configured ssh URL of the CI server is fetched through the
    rewrite (here to a local repository via file://localhost/)."""
    upstream = make_git_repo(tmp_path / "group" / "project")
    commit = git(upstream, "rev-parse", "HEAD")
    write(workdir / "kas.yml", f"""\
        header:
          version: 23
        repos:
          this:
          project:
            url: git@localhost:{upstream.lstrip("/")}
            commit: {commit}
            branch: main
        """)
    result, copy, _home = run_with_home(
        workdir, tmp_path, GITLAB_CI="true", CI_SERVER_HOST="localhost",
        CI_SERVER_PROTOCOL="file", CI_JOB_TOKEN="job-token-1234")
    assert_ok(result)
    assert git(workdir / "project", "rev-parse", "HEAD") == commit
    assert "file://localhost/" in (copy / ".gitconfig").read_text()


def test_no_rewrite_when_ssh_is_configured(workdir, tmp_path):
    """With an ssh config of the user's, ssh URLs are not rewritten
    (CLI-062)."""
    write(tmp_path / "realhome" / ".ssh" / "config", "Host *\n")
    result, copy, _home = run_with_home(workdir, tmp_path, **GITLAB)
    assert_ok(result)
    assert "insteadOf" not in ((copy / ".gitconfig").read_text()
                               if (copy / ".gitconfig").exists() else "")


def test_no_gitlab_additions_when_a_gitconfig_was_copied(workdir, tmp_path):
    """A copied GITCONFIG_FILE gets no GitLab additions, only the missing
    email of the patch step (CLI-072, issue 16.1)."""
    source = write(tmp_path / "gitconfig", "[user]\n\tname = CI\n")
    result, copy, _home = run_with_home(workdir, tmp_path, GITCONFIG_FILE=source,
                                        CI_PROJECT_DIR=str(workdir), **GITLAB)
    assert_ok(result)
    # The patch step adds only the missing email (issue 16.1).
    assert (copy / ".gitconfig").read_text() == (
        "[user]\n\tname = CI\n\temail = kas@example.com\n")


def test_credential_helper_with_quotes_stays_one_value(workdir, tmp_path):
    """A credential helper with quotes stays one value (CLI-072)."""
    helper = '!f() { echo "username=me"; echo "password=$TOKEN"; }; f'
    result, copy, _home = run_with_home(workdir, tmp_path, GIT_CREDENTIAL_HELPER=helper,
                                        GIT_CREDENTIAL_USEHTTPPATH="true")
    assert_ok(result)
    assert gitconfig(copy, "credential.helper") == helper
    assert gitconfig(copy, "credential.useHttpPath") == "true"


def test_github_actions_imports_only_the_real_gitconfig(workdir, tmp_path):
    """On GitHub Actions only the user's real .gitconfig is imported, no
    GitLab settings (CLI-074)."""
    write(tmp_path / "realhome" / ".gitconfig", "[user]\n\tname = Runner\n")
    result, copy, _home = run_with_home(workdir, tmp_path, GITHUB_ACTIONS="true",
                                        CI_SERVER_HOST="gitlab.example.com")
    assert_ok(result)
    assert (copy / ".gitconfig").read_text() == (
        "[user]\n\tname = Runner\n\temail = kas@example.com\n")


def test_outside_ci_the_real_gitconfig_is_not_imported(workdir, tmp_path):
    """Outside CI the real .gitconfig is not imported: only kas's default
    identity (CLI-072, issue 16.1)."""
    write(tmp_path / "realhome" / ".gitconfig", "[user]\n\tname = Real\n")
    result, copy, _home = run_with_home(workdir, tmp_path)
    assert_ok(result)
    # Only kas's default identity of the patch step (issue 16.1).
    assert (copy / ".gitconfig").read_text() == (
        "[user]\n\tname = kas User\n\temail = kas@example.com\n")


# --------------------------------------------------------------------------
# AWS (CLI-071)


def test_aws_config_credentials_web_identity_and_sso(workdir, tmp_path):
    """The AWS config and credentials, the web identity token and the SSO
    cache are copied into the private home, the config extended by the role
    (CLI-071)."""
    aws = tmp_path / "aws"
    config = write(aws / "config", "[profile x]\nregion = eu-west-1\n")
    credentials = write(aws / "credentials", "[default]\naws_secret_access_key = S3CR3T\n")
    write(aws / "sso" / "cache" / "token.json", '{"accessToken": "sso-token"}\n')
    os.chmod(aws / "sso" / "cache", 0o755)
    os.chmod(aws / "sso" / "cache" / "token.json", 0o644)
    token = write(tmp_path / "oidc-token", "oidc\n")
    result, copy, home = run_with_home(
        workdir, tmp_path, AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=credentials,
        AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/r")
    assert_ok(result)
    text = (copy / ".aws" / "config").read_text()
    assert "[profile x]" in text
    assert "role_arn = arn:aws:iam::1:role/r" in text
    assert f"web_identity_token_file = {home}/.aws/web_identity_token" in text
    assert (copy / ".aws" / "credentials").read_text() == (
        "[default]\naws_secret_access_key = S3CR3T\n")
    assert (copy / ".aws" / "web_identity_token").read_text() == "oidc\n"
    assert (copy / ".aws" / "sso" / "cache" / "token.json").exists()
    assert_private(copy)


def test_only_one_of_config_and_credentials_copies_nothing(workdir, tmp_path):
    """Only one of AWS config and credentials copies nothing (CLI-071)."""
    config = write(tmp_path / "aws" / "config", "[default]\n")
    result, copy, _home = run_with_home(workdir, tmp_path, AWS_CONFIG_FILE=config)
    assert_ok(result)
    assert not (copy / ".aws").exists()


def test_broken_aws_config_is_a_clear_error_without_its_content(workdir, tmp_path):
    """An AWS config that cannot be extended is a clear error that does not
    show its content (CLI-071)."""
    config = write(tmp_path / "aws" / "config", "aws_secret_access_key = LEAKME\n")
    credentials = write(tmp_path / "aws" / "credentials", "[default]\n")
    token = write(tmp_path / "oidc-token", "oidc\n")
    result, _copy, _home = run_with_home(
        workdir, tmp_path, AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=credentials,
        AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/r")
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    [error] = result.errors()
    assert error.startswith(f"AWS_CONFIG_FILE {config} cannot be extended")
    assert "LEAKME" not in result.stderr


def test_broken_registry_auth_file_is_a_clear_error(workdir, tmp_path):
    """A REGISTRY_AUTH_FILE that is no JSON is a clear error naming the
    line, not the content (CLI-070)."""
    auth = write(tmp_path / "auth.json", '{"auths": {"x": "LEAKME"\n')
    result, _copy, _home = run_with_home(workdir, tmp_path, REGISTRY_AUTH_FILE=auth,
                                         **GITLAB)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.errors() == [f"REGISTRY_AUTH_FILE {auth} is not valid JSON (line 2)"]
    assert "LEAKME" not in result.stderr


# --------------------------------------------------------------------------
# ENV-004 / CLI-023: variables naming missing paths


@pytest.mark.parametrize("name", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                                  "AWS_WEB_IDENTITY_TOKEN_FILE", "SSH_PRIVATE_KEY_FILE",
                                  "CI_PROJECT_DIR"])
def test_missing_path_relative_to_the_current_directory(workdir, tmp_path, name):
    """A relative credential path that does not exist is an error naming it,
    resolved against the current directory (ENV-004)."""
    extra = {"GITLAB_CI": "true"} if name == "CI_PROJECT_DIR" else {}
    result, _copy, _home = run_with_home(workdir, tmp_path, **{name: "missing/x"}, **extra)
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    path = os.path.join(os.path.realpath(workdir), "missing", "x")
    assert result.errors() == [
        f'Environment variable "{name}" is set, but the path does not exist: {path}']


def test_relative_paths_are_used_not_ignored(workdir, tmp_path):
    """A relative credential path is used, relative to the current directory
    (ENV-004)."""
    write(workdir / "creds" / "netrc", "machine h login u password p\n")
    result, copy, _home = run_with_home(workdir, tmp_path, NETRC_FILE="creds/netrc")
    assert_ok(result)
    assert (copy / ".netrc").read_text() == "machine h login u password p\n"
