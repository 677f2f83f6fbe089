"""Real repositories and projects for the tests: files, git and hg
repositories (also with fixed authors and dates, for the lock, dump --lock
and diff tests), the user's project directory (:class:`Project`, the one
builder of the tests' projects) and a recording stand-in bitbake."""

import os
import pathlib
import subprocess
import textwrap

import yaml

from helpers.run import clean_env, parse_env, run_kas


def write(path, text):
    """Write dedented ``text`` to ``path`` (parents created); returns path."""
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def read(path):
    with open(str(path)) as f:
        return f.read()


# The tests' own git commands see none of this machine's git configuration
# (an identity, core.splitIndex, a reftable default, hooks... would change
# what they make) and commit as the identity make_git_repo configures.
ISOLATED_GIT = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}


def isolated_git_env():
    return {**os.environ, **ISOLATED_GIT}


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo)] + list(args), check=True,
                          env=isolated_git_env(), stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def make_git_repo(path, files=None, origin=None):
    """A real git repository at ``path`` with one commit of ``files``."""
    os.makedirs(str(path), exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True,
                   env=isolated_git_env())
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    for name, text in (files or {"README": "test\n"}).items():
        write(os.path.join(str(path), name), text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    if origin:
        git(path, "remote", "add", "origin", origin)
    return str(path)


MARKER = "kas-interrupt-test-transport"


def slow_url(upstream, seconds):
    """A URL to ``upstream`` whose transport first sleeps ``seconds``: git's
    ext:: transport, which needs ``protocol.ext.allow=always``."""
    # ext:: separates arguments by spaces; "% " is a literal space.  The
    # marker lets the test find leftover transport processes.
    script = f"sleep {seconds}; : {MARKER}; exec git-upload-pack {upstream}"
    return "ext::sh -c " + script.replace(" ", "% ")


GIT_DATE = "2024-03-01 12:00:00 +0100"
HG_DATE = "1709290800 -3600"        # 2024-03-01 12:00:00 +0100 (hg: seconds west)
AUTHOR, EMAIL = "Alice Example", "alice@example.com"

GIT_ENV = clean_env(GIT_AUTHOR_NAME=AUTHOR, GIT_AUTHOR_EMAIL=EMAIL, GIT_AUTHOR_DATE=GIT_DATE,
                    GIT_COMMITTER_NAME=AUTHOR, GIT_COMMITTER_EMAIL=EMAIL,
                    GIT_COMMITTER_DATE=GIT_DATE, GIT_CONFIG_GLOBAL=os.devnull)
HG_ENV = clean_env(HGPLAIN="1", HGRCPATH="")


def run(argv, cwd, env):
    return subprocess.run(argv, cwd=str(cwd), env=env, check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def listing(directory):
    """File names in ``directory`` (to check that no temporary file is left)."""
    return sorted(os.listdir(str(directory)))


class GitUpstream:
    """A git repository with commits of a known author and date."""

    type = "git"

    def __init__(self, path):
        self.path = str(path)
        os.makedirs(self.path)
        self.git("init", "-q", "-b", "main")
        self.first = self.commit("first")

    def git(self, *args):
        return run(["git", *args], self.path, GIT_ENV)

    def commit(self, message, name="file.txt"):
        """A new commit on the current branch; returns its full id."""
        with open(os.path.join(self.path, name), "a") as f:
            f.write(message + "\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.head()

    def head(self):
        return self.git("rev-parse", "HEAD")

    def tag(self, name, annotated=False):
        args = ["-a", "-m", name] if annotated else []
        self.git("tag", *args, name)
        return self.git("rev-parse", f"refs/tags/{name}")


class HgUpstream:
    """A Mercurial repository with commits of a known author and date."""

    type = "hg"

    def __init__(self, path):
        self.path = str(path)
        run(["hg", "init", self.path], "/", HG_ENV)
        self.first = self.commit("first")

    def commit(self, message, name="file.txt"):
        with open(os.path.join(self.path, name), "a") as f:
            f.write(message + "\n")
        run(["hg", "commit", "-q", "-A", "-u", f"{AUTHOR} <{EMAIL}>", "-d", HG_DATE,
             "-m", message], self.path, HG_ENV)
        return self.head()

    def head(self):
        return run(["hg", "log", "-r", "tip", "-T", "{node}"], self.path, HG_ENV)


# The smallest init script kas can source: bitbake's build directory gets
# its conf/ (kas writes local.conf and bblayers.conf there).
INIT_SCRIPT = 'mkdir -p "$1/conf"\n'


class Project:
    """The user's project directory, cwd and work directory of every kas
    run: the one builder of the tests' projects.

    ``git``: make it a git checkout (kas finds its VCS root quickly); False:
    a plain directory outside any checkout.  ``init_script``: write this
    text as the stand-in ``oe-init-build-env``.  ``bitbake``: the project's
    recording stand-in :class:`Bitbake` (its ``init_script()`` puts it on
    PATH).  ``env``: variables every kas run of the project gets.
    ``user``: a ``helpers.users.User`` who owns what the project writes
    and runs kas.  ``path`` is the canonical path (a ``pathlib.Path``)."""

    def __init__(self, path, git=True, init_script=None, bitbake=None, env=None, user=None):
        self.path = pathlib.Path(os.path.realpath(str(path)))
        self.user = user
        self.bitbake = bitbake
        self.environ = dict(env or {})
        self.path.mkdir(parents=True, exist_ok=True)
        if git:
            subprocess.run(["git", "init", "-q", str(self.path)], check=True)
        if init_script is not None:
            self.init_script(init_script)

    def file(self, *parts):
        return os.path.join(str(self.path), *parts)

    def write(self, name, text):
        """Write dedented ``text`` to ``name`` below the project; returns its path."""
        path = write(self.file(name), text)
        self.own(path)
        return path

    def read(self, name):
        return read(self.file(name))

    def own(self, path):
        """Give ``path`` and the directories up to the project to the user."""
        if self.user is None or self.user.is_me:
            return
        path = os.path.abspath(str(path))
        while path.startswith(str(self.path) + os.sep):
            os.lchown(path, self.user.uid, self.user.gid)
            path = os.path.dirname(path)

    def config(self, data, name="kas.yml"):
        """Write the kas file ``name``: YAML text, or a dict dumped in its
        own key order; returns its path."""
        if not isinstance(data, str):
            data = yaml.safe_dump(data, sort_keys=False)
        return self.write(name, data)

    def init_script(self, text=INIT_SCRIPT, name="oe-init-build-env", directory=None):
        """The stand-in init script ``name`` (in the project, or in ``directory``)."""
        if directory is None:
            return self.write(name, text)
        return write(os.path.join(str(directory), name), text)

    def build_dir(self, *parts):
        return self.file("build", *parts)

    def env(self, **extra):
        """The environment of a kas run: predictable (helpers.run.clean_env,
        or the user's) with the project's variables, plus ``extra``."""
        values = {**self.environ, **extra}
        return self.user.env(**values) if self.user is not None else clean_env(**values)

    def kas(self, *args, env=None, **extra):
        """Run kas in the project (as its user); ``env``: the whole
        environment (default :meth:`env`), ``extra``: variables on top."""
        env = self.env(**extra) if env is None else {**env, **extra}
        if self.user is not None:
            return self.user.kas(*args, cwd=str(self.path), env=env)
        return run_kas(*args, cwd=str(self.path), env=env)

    def kas_ok(self, *args, env=None, **extra):
        """:meth:`kas` expecting success: exit 0, no ERROR, no traceback."""
        result = self.kas(*args, env=env, **extra)
        assert "Traceback" not in result.stderr, result
        assert result.returncode == 0, result
        assert result.errors() == [], result
        return result


# The stand-in bitbake: records every run in R, then sources R/control.sh
# (if a test wrote one) to print lines or choose its exit code; fails for
# the target "nosuch" as bitbake does.
BITBAKE = """\
#!/bin/sh
R='{rec}'
printf '%s\\n' "$0" > "$R/argv0"
printf '%s\\n' "$#" > "$R/argc"
: > "$R/argv"
for a in "$@"; do printf '%s\\n' "$a" >> "$R/argv"; done
printf '%s\\n' "$*" >> "$R/runs"
pwd > "$R/cwd"
env > "$R/env"
if [ -t 1 ]; then echo yes > "$R/tty"; else echo no > "$R/tty"; fi
if [ -f conf/local.conf ]; then cp conf/local.conf "$R/local.conf.seen"; fi
for a in "$@"; do
    if [ "$a" = nosuch ]; then
        echo "ERROR: Nothing PROVIDES 'nosuch'" >&2
        exit 1
    fi
done
if [ -f "$R/control.sh" ]; then . "$R/control.sh"; fi
exit 0
"""


class Bitbake:
    """A recording stand-in ``bitbake`` in ``bin_dir``: each run notes its
    arguments, cwd, environment, whether stdout is a terminal and the
    local.conf it saw in the directory ``rec`` (created; owned by ``user``
    if given, who runs bitbake then).  :meth:`init_script` is the text of an
    init script that puts it first on PATH."""

    def __init__(self, bin_dir, rec, user=None):
        self.rec = pathlib.Path(str(rec))
        self.rec.mkdir(parents=True)
        self.bin = pathlib.Path(str(bin_dir))
        self.path = write(self.bin / "bitbake", BITBAKE.format(rec=self.rec))
        os.chmod(self.path, 0o755)
        if user is not None and not user.is_me:
            for path in (self.rec, self.bin, self.path):
                os.lchown(path, user.uid, user.gid)

    def init_script(self, extra=""):
        return INIT_SCRIPT + f'export PATH="{self.bin}:$PATH"\n' + extra

    def control(self, text):
        """Shell code every following run sources after recording."""
        write(self.rec / "control.sh", text)

    def ran(self):
        return (self.rec / "runs").exists()

    def runs(self):
        """The arguments of every run so far, one string each."""
        return read(self.rec / "runs").splitlines() if self.ran() else []

    def argv(self):
        """The arguments of the last run (without argv[0])."""
        count = int(read(self.rec / "argc"))
        args = read(self.rec / "argv").split("\n")[:count]
        assert len(args) == count
        return args

    def argv0(self):
        return read(self.rec / "argv0").rstrip("\n")

    def cwd(self):
        return read(self.rec / "cwd").rstrip("\n")

    def env(self):
        return parse_env(read(self.rec / "env"))


def repo_yaml(repo_id, upstream, **refs):
    """One entry of the ``repos`` block of a kas.yml."""
    lines = [f"  {repo_id}:", f"    url: {upstream.path}"]
    if upstream.type != "git":
        lines.append(f"    type: {upstream.type}")
    lines += [f"    {key}: {value}" for key, value in refs.items()]
    return "\n".join(lines) + "\n"


def kas_yaml(*repo_entries, version=14, extra=""):
    return f"header:\n  version: {version}\n{extra}repos:\n" + "".join(repo_entries)


def lock_yaml(pins, version=14):
    """A lock file exactly as INC-087 has kas write it."""
    text = f"header:\n  version: {version}\noverrides:\n  repos:\n"
    for repo_id, commit in pins.items():
        text += f"    {repo_id}:\n      commit: {commit}\n"
    return text

