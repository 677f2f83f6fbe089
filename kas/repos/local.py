"""Queries on directories kas does not manage: VCS root detection (INC-071)
and the origin/commit/dirty state reported for local repos (CF-624).

None of these queries fails the run: a missing tool or a directory outside
version control simply yields None.
"""

import os
import shutil
import subprocess


def _query(argv, cwd):
    """stdout of ``argv`` run in ``cwd``, or None if it fails or is missing."""
    try:
        proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def vcs_root(directory):
    """Root of the checkout containing ``directory`` (a submodule counts as
    its superproject), or None outside version control."""
    out = _query(["git", "rev-parse", "--show-toplevel",
                  "--show-superproject-working-tree"], directory)
    if out is not None:
        paths = [line for line in out.splitlines() if line]
        if paths:
            return min(paths)
    return _hg_root(directory)


def _hg_root(directory):
    """What ``hg root`` answers, without starting hg (slow) outside hg trees."""
    if shutil.which("hg") is None:
        return None
    current = os.path.realpath(directory)
    while True:
        if os.path.isdir(os.path.join(current, ".hg")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class LocalCheckout:
    """What version control says about a local directory."""

    def __init__(self, vcs, url, commit, dirty):
        self.vcs = vcs          # "git" or "hg"
        self.url = url          # origin URL or None
        self.commit = commit    # HEAD commit id or None
        self.dirty = dirty


def inspect(directory):
    """The LocalCheckout of ``directory``, or None if not version controlled."""
    if not os.path.isdir(directory):
        return None
    commit = _query(["git", "rev-parse", "--verify", "-q", "HEAD"], directory)
    if commit is not None or _query(["git", "rev-parse", "--git-dir"], directory):
        url = _query(["git", "remote", "get-url", "origin"], directory)
        status = _query(["git", "status", "--porcelain", "--untracked-files=no"],
                        directory)
        return LocalCheckout("git", _strip(url), _strip(commit), bool(status and status.strip()))
    if _hg_root(directory) is None:
        return None
    commit = _query(["hg", "log", "-r", ".", "--template", "{node}"], directory)
    if commit is not None:
        url = _query(["hg", "paths", "default"], directory)
        status = _query(["hg", "status", "-mard"], directory)
        return LocalCheckout("hg", _strip(url), _strip(commit), bool(status and status.strip()))
    return None


def _strip(text):
    return text.strip() or None if text is not None else None
