"""Where a repository of the effective configuration lives (CF-600 ...
CF-630).  The fetch/checkout engine builds on these specs."""

import logging
import os
import shutil

from kas.errors import KasUserError

log = logging.getLogger(__name__)


class RepoSpec:
    """Identity and location of one repository."""

    def __init__(self, repo_id, name, url, path, vcs_type, defined_path):
        self.id = repo_id
        self.name = name
        self.url = url                    # effective URL, None for local repos
        self.path = path                  # absolute directory
        self.type = vcs_type              # "git" or "hg"
        self.defined_path = defined_path  # the `path` key as written, or None

    @property
    def is_local(self):
        return self.url is None


def _uses_refspec(repo, defaults):
    return repo.get("refspec", defaults.get("refspec")) is not None


def repo_spec(config, repo_id):
    """Build the RepoSpec of ``repo_id`` from the effective configuration."""
    repo = config.repos()[repo_id]
    defaults = ((config.data.get("defaults") or {}).get("repos")) or {}
    override = ((config.data.get("overrides") or {}).get("repos") or {}).get(repo_id) or {}
    name = repo.get("name") or repo_id
    url = repo.get("url")
    if "url" in override and not _uses_refspec(repo, defaults):
        url = override["url"]       # CF-706; legacy refspec repos ignore it
    vcs_type = repo.get("type", "git")
    if vcs_type == "hg" and shutil.which("hg") is None:
        raise KasUserError("hg is required for Mercurial repositories")
    defined_path = repo.get("path")
    if url is None and defined_path is None:
        path = config.top_repo_path
        log.info("Using %s as root for repository %s", path, name)
    elif defined_path is None:
        path = os.path.join(config.ctx.work_dir, name)
    else:
        path = os.path.join(config.ctx.work_dir, defined_path)
    return RepoSpec(repo_id, name, url, os.path.normpath(path), vcs_type, defined_path)
