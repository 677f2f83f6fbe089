"""Real repositories and projects for the tests: files, git and hg
repositories (also with fixed authors and dates, for the lock, dump --lock
and diff tests) and the user's project directory (a git checkout, so kas
finds its VCS root quickly)."""

import os
import subprocess
import textwrap

from helpers.run import clean_env, kas_ok, run_kas


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


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo)] + list(args), check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def make_git_repo(path, files=None, origin=None):
    """A real git repository at ``path`` with one commit of ``files``."""
    os.makedirs(str(path), exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
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


class Project:
    """The user's project: a git checkout holding the kas files, also cwd
    and work directory of every kas run."""

    def __init__(self, path):
        self.path = str(path)
        os.makedirs(self.path)
        subprocess.run(["git", "init", "-q", self.path], check=True)

    def file(self, name):
        return os.path.join(self.path, name)

    def write(self, name, text):
        return write(self.file(name), text)

    def read(self, name):
        return read(self.file(name))

    def kas(self, *args, env=None):
        return run_kas(*args, cwd=self.path, env=env)

    def kas_ok(self, *args, env=None):
        return kas_ok(*args, cwd=self.path, env=env)


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

