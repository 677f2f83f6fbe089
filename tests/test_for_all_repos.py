"""``kas for-all-repos`` (cli.md §5.4 CLI-130 ... CLI-132, §6 CLI-330;
environment.md ENV-110).

The remote repositories are real git repositories made by the tests.  The
command given to kas appends a block to a log file: a ``@@ <cwd>`` line
followed by the output of ``env``.  The blocks show, per repository and in
execution order, where the command ran and what it saw.
"""

import os
import subprocess

import pytest
from helpers.repos import git, make_git_repo, write
from helpers.run import KasResult, assert_user_error, clean_env, kas_command, kas_ok, run_kas

real = os.path.realpath

INIT_SCRIPT = 'mkdir -p "$1/conf"\nexport BB_ENV_PASSTHROUGH_ADDITIONS=FOO\nexport FROM_INIT=1\n'

REPO_VARIABLES = ("KAS_REPO_NAME", "KAS_REPO_PATH", "KAS_REPO_URL", "KAS_REPO_COMMIT",
                  "KAS_REPO_BRANCH", "KAS_REPO_TAG", "KAS_REPO_REFSPEC")

# CLI-330: set in the caller's environment, ignored with -E.
IGNORED_WITH_E = ("GIT_CREDENTIAL_HELPER", "GIT_CREDENTIAL_USEHTTPPATH", "GITCONFIG_FILE",
                  "AWS_CONFIG_FILE", "AWS_ROLE_ARN", "AWS_SHARED_CREDENTIALS_FILE",
                  "AWS_WEB_IDENTITY_TOKEN_FILE", "NETRC_FILE", "NPMRC_FILE",
                  "REGISTRY_AUTH_FILE")
PRESERVE_WARNING = ("Preserving the current environment block may have unintended side "
                    "effects on the build.")


# --- helpers ------------------------------------------------------------------

kas_env = clean_env     # nothing kas reads comes from the caller


def project(directory, repos, script=True, extra=""):
    """kas.yml with ``repos`` (YAML lines below ``repos:``) in ``directory``."""
    if script:
        write(os.path.join(str(directory), "oe-init-build-env"), INIT_SCRIPT)
    return write(os.path.join(str(directory), "kas.yml"),
                 "header:\n  version: 14\nrepos:\n" + repos + extra)


def logging_command(log):
    """A command appending ``@@ <cwd>`` and its environment to ``log``."""
    return f'{{ echo "@@ $(pwd -P)"; env; }} >> "{log}"'


def blocks(log):
    """[(cwd, environment)] in execution order."""
    with open(log) as f:
        text = f.read()
    result = []
    for block in text.split("@@ ")[1:]:
        cwd, _, rest = block.partition("\n")
        env = dict(line.split("=", 1) for line in rest.splitlines() if "=" in line)
        result.append((cwd, env))
    return result


def repo_variables(env):
    return {k: v for k, v in env.items() if k.startswith("KAS_REPO_")}


def info_lines(result):
    return [line.split(" - INFO     - ", 1)[1]
            for line in result.stderr.splitlines() if " - INFO     - " in line]


def run_on_tty(args, cwd, env):
    """Run kas with stdin/stdout on a pseudo terminal, stderr captured."""
    master, slave = os.openpty()
    try:
        proc = subprocess.run(kas_command() + list(args), cwd=str(cwd), env=env, check=False,
                              stdin=slave, stdout=slave, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    proc.stdout = ""
    return KasResult(proc)


# --- one run over many kinds of repositories (CLI-130, CLI-131) -----------------

@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """A real repository: main = C1, C2; tag v1 = C1; branch feature = C1, C3."""
    path = make_git_repo(tmp_path_factory.mktemp("upstream") / "up", {"f": "one\n"})
    c1 = git(path, "rev-parse", "HEAD")
    git(path, "tag", "v1")
    write(os.path.join(path, "f"), "two\n")
    git(path, "commit", "-q", "-a", "-m", "second")
    c2 = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "-b", "feature", c1)
    write(os.path.join(path, "f"), "feature\n")
    git(path, "commit", "-q", "-a", "-m", "feature")
    c3 = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "main")
    return {"url": path, "c1": c1, "c2": c2, "c3": c3}


@pytest.fixture(scope="module")
def many(tmp_path_factory, upstream):
    """for-all-repos over eight repos; returns (work dir, log blocks, result, command)."""
    work = real(str(tmp_path_factory.mktemp("many")))
    url, c1, c2 = upstream["url"], upstream["c1"], upstream["c2"]
    project(work, f"""\
  this:
  pinned:
    url: {url}
    commit: {c1}
  onbranch:
    url: {url}
    branch: feature
  tagged:
    url: {url}
    tag: v1
  renamed:
    name: nm
    url: {url}
    branch: main
    commit: {c2}
  legacy:
    url: {url}
    refspec: {c1}
  overridden:
    url: {url}
    branch: main
  locked:
    url: {url}
    branch: feature
""", extra=f"overrides:\n  repos:\n    overridden:\n      commit: {c2}\n")
    write(os.path.join(work, "kas.lock.yml"),
          f"header:\n  version: 14\noverrides:\n  repos:\n    locked:\n      commit: {c1}\n")
    log = os.path.join(os.path.dirname(work), "many.log")
    command = logging_command(log)
    result = kas_ok("for-all-repos", "kas.yml", command, cwd=work, env=kas_env())
    return work, blocks(log), result, command


ORDER = ["this", "pinned", "onbranch", "tagged", "nm", "legacy", "overridden", "locked"]


def expected_variables(work, upstream):
    url, c1, c2 = upstream["url"], upstream["c1"], upstream["c2"]

    def remote(name, commit="", branch="", tag="", refspec=""):
        return {"KAS_REPO_NAME": name, "KAS_REPO_PATH": os.path.join(work, name),
                "KAS_REPO_URL": url, "KAS_REPO_COMMIT": commit, "KAS_REPO_BRANCH": branch,
                "KAS_REPO_TAG": tag, "KAS_REPO_REFSPEC": refspec}

    this = dict(remote("this"), KAS_REPO_PATH=work, KAS_REPO_URL="")
    return [this, remote("pinned", commit=c1), remote("onbranch", branch="feature"),
            remote("tagged", tag="v1"), remote("nm", commit=c2, branch="main"),
            remote("legacy", refspec=c1), remote("overridden", commit=c2, branch="main"),
            remote("locked", commit=c1, branch="feature")]


def test_repo_variables_reflect_the_configuration(many, upstream):
    """CLI-131, ENV-110:
    Name property else key; configured refs (after overrides and lock file), not
    resolved SHAs; url and commit empty for the local repo."""
    work, seen, _result, _command = many
    assert [repo_variables(env) for _cwd, env in seen] == expected_variables(work, upstream)


def test_exactly_the_seven_repo_variables(many):
    """CLI-131: No KAS_REPO_REVISION or similar."""
    _work, seen, _result, _command = many
    assert all(sorted(repo_variables(env)) == sorted(REPO_VARIABLES) for _cwd, env in seen)


def test_runs_in_each_repo_directory_in_configuration_order(many):
    """CLI-130."""
    work, seen, _result, _command = many
    expected = [work] + [os.path.join(work, name) for name in ORDER[1:]]
    assert [cwd for cwd, _env in seen] == expected


def test_info_line_before_each_command(many):
    """CLI-130."""
    _work, seen, result, command = many
    logged = [line for line in info_lines(result) if line.endswith(f"$ {command}")]
    assert logged == [f"{env['KAS_REPO_PATH']}$ {command}" for _cwd, env in seen]


def test_command_runs_in_the_build_environment(many):
    """CLI-130: The managed environment plus what the init script exported."""
    _work, seen, _result, _command = many
    assert all(env.get("FROM_INIT") == "1" for _cwd, env in seen)
    assert all(env.get("GIT_TERMINAL_PROMPT") == "false" for _cwd, env in seen)


def test_repo_path_of_a_local_repo_with_path(workdir):
    """CLI-131: A url-less repo with ``path``: path below KAS_WORK_DIR, url and commit empty."""
    os.makedirs(workdir / "lib")
    project(workdir, "  this:\n  lib:\n    path: lib\n    commit: 0123456789abcdef\n")
    log = workdir.parent / "lib.log"
    kas_ok("for-all-repos", "kas.yml", logging_command(log), cwd=workdir, env=kas_env())
    lib = blocks(log)[1][1]
    assert repo_variables(lib) == {
        "KAS_REPO_NAME": "lib", "KAS_REPO_PATH": os.path.join(real(str(workdir)), "lib"),
        "KAS_REPO_URL": "", "KAS_REPO_COMMIT": "", "KAS_REPO_BRANCH": "",
        "KAS_REPO_TAG": "", "KAS_REPO_REFSPEC": ""}


# --- failures (CLI-132) ------------------------------------------------------------

def three_local_repos(workdir):
    for name in ("b", "c"):
        os.makedirs(workdir / name)
    project(workdir, "  a:\n  b:\n    path: b\n  c:\n    path: c\n")


def test_first_failure_stops_the_iteration(workdir):
    """CLI-132."""
    three_local_repos(workdir)
    log = workdir.parent / "names.log"
    command = f'echo "$KAS_REPO_NAME" >> "{log}"; [ "$KAS_REPO_NAME" != b ] || exit 3'
    result = run_kas("for-all-repos", "kas.yml", command, cwd=workdir, env=kas_env())
    # Quoted, as kas 5.5 quotes a command with spaces (found by bench/parity).
    assert_user_error(result, f'Command "\'{command}\'" failed with error 3')
    assert log.read_text() == "a\nb\n"


def test_skip_setup_environ_needs_no_init_script(workdir):
    """CLI-130."""
    for name in ("b", "c"):
        os.makedirs(workdir / name)
    project(workdir, "  a:\n  b:\n    path: b\n  c:\n    path: c\n", script=False)
    log = workdir.parent / "names.log"
    command = f'echo "$KAS_REPO_NAME" >> "{log}"'
    assert run_kas("for-all-repos", "kas.yml", command, cwd=workdir,
                   env=kas_env()).errors() == ["Did not find any init-build-env script"]
    kas_ok("for-all-repos", "--skip", "setup_environ", "kas.yml", command, cwd=workdir,
           env=kas_env())
    assert log.read_text() == "a\nb\nc\n"


# --- -E / --preserve-env (CLI-330) --------------------------------------------------

def test_preserve_env_needs_a_tty(workdir):
    """CLI-330."""
    project(workdir, "  this:\n")
    for option in ("-E", "--preserve-env"):
        result = run_kas("for-all-repos", option, "kas.yml", "true", cwd=workdir,
                         env=kas_env())
        assert_user_error(result, "--preserve-env can only be run from a tty")


def ignored_variables(tmp_path):
    """Every variable of CLI-330, set to an existing file or a plain value."""
    values = {}
    for name in IGNORED_WITH_E:
        if name.endswith("_FILE"):
            values[name] = write(tmp_path / "files" / name, "machine x login y password z\n")
        else:
            values[name] = "arn:aws:iam::1:role/x" if name == "AWS_ROLE_ARN" else "cache"
    return values


@pytest.mark.parametrize("credentials", [True, False], ids=["credentials", "plain"])
def test_preserve_env_on_a_tty(workdir, tmp_path, credentials):
    """CLI-330: The caller's variables are visible, each credential variable that is set
    is ignored with a warning, and HOME is still the private one."""
    project(workdir, "  this:\n")
    log = tmp_path / "tty.log"
    command = logging_command(log) + f'; [ ! -e "$HOME/.netrc" ] || touch "{log}.netrc"'
    names = IGNORED_WITH_E if credentials else ()
    env = kas_env(FOO_SECRET="visible", HOME=str(tmp_path),
                  **(ignored_variables(tmp_path) if credentials else {}))
    result = run_on_tty(["for-all-repos", "-E", "kas.yml", command], workdir, env)
    assert result.returncode == 0, result
    assert result.errors() == [], result
    assert result.warnings() == [
        f'Environment variable "{name}" ignored because user environment is being used'
        for name in names] + [PRESERVE_WARNING]
    (_cwd, seen), = blocks(log)
    assert seen["FOO_SECRET"] == "visible"
    assert seen["KAS_REPO_NAME"] == "this"
    assert seen["HOME"] != str(tmp_path)
    assert not os.path.exists(f"{log}.netrc"), "NETRC_FILE was used although ignored"


# --- interruption (CLI-340, CLI-342) ------------------------------------------

@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_command_and_kas_exits_130(workdir, signum):
    """CLI-340."""
    import signal
    import time

    project(workdir, "  this:\n")
    pid_file = workdir.parent / "command.pid"
    command = f'echo $$ > "{pid_file}"; exec sleep 60'
    proc = subprocess.Popen(kas_command() + ["for-all-repos", "kas.yml", command], cwd=workdir,
                            env=kas_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, "the command did not start"
            time.sleep(0.05)
        proc.send_signal(getattr(signal, signum))
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "kas execution cancelled" in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
