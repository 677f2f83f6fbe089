"""Repository definitions of the effective configuration (CF-600 ... CF-675).

:func:`repo_spec` turns one entry of ``repos`` into a :class:`RepoSpec`:
defaults and overrides applied, location computed, layers and patches
listed, and every definition error of the spec raised.  The fetch and
checkout engine works from these specs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kas.errors import KasUserError
from kas.fsutil import find_program

if TYPE_CHECKING:
    from kas.config.model import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Layer:
    key: str        # the key as written ("." and "" mean the repo itself)
    path: str       # absolute, normalised directory
    prio: int


@dataclass(frozen=True)
class PatchEntry:
    id: str
    repo_id: str    # repo whose directory holds ``path``
    path: str       # relative to that repo's directory


# Signer and RepoSpec are filled in step by step: mutable, and equal only to
# themselves as before (eq=False keeps them hashable).

@dataclass(eq=False)
class Signer:
    """One allowed signer of a signed repo (CF-800 ... CF-802)."""

    id: str
    type: str = "gpg"               # "gpg" or "ssh"
    path: str | None = None         # key file, relative to the key repo
    fingerprint: str | None = None
    keyserver: str | None = None    # gpg_keyserver
    repo_name: str | None = None    # name of the repo holding ``path``
    repo_path: str | None = None    # its directory

    @classmethod
    def from_definition(cls, signer_id: str, definition: dict[str, Any]) -> Signer:
        """The signer of a ``signers`` entry, its key repo not located yet."""
        return cls(signer_id, definition.get("type", "gpg"), definition.get("path"),
                   definition.get("fingerprint"), definition.get("gpg_keyserver"))


@dataclass(eq=False)
class RepoSpec:
    """One repository: identity, location, references, layers, patches."""

    id: str
    name: str
    url: str | None     # effective URL (after overrides); None: local repo
    path: str           # absolute directory
    type: str           # "git" or "hg"
    commit: str | None = None
    branch: str | None = None
    tag: str | None = None
    refspec: str | None = None      # legacy
    signed: bool = False
    allowed_signers: list[str] = field(default_factory=list)
    signers: list[Signer] = field(default_factory=list)     # of allowed_signers
    layers: list[Layer] = field(default_factory=list)       # enabled, in definition order
    patches: list[PatchEntry] = field(default_factory=list)  # in application order

    @property
    def is_local(self) -> bool:
        return self.url is None


def build_repos(config: Config) -> dict[str, RepoSpec]:
    """RepoSpec of every repo of the configuration, in configuration order.

    Raises the first definition error of any repo (CF-603)."""
    return {repo_id: repo_spec(config, repo_id) for repo_id in config.repos()}


def repo_spec(config: Config, repo_id: str) -> RepoSpec:
    """Build the RepoSpec of ``repo_id`` from the effective configuration."""
    repo = config.repos()[repo_id]
    defaults = (config.data.get("defaults") or {}).get("repos") or {}
    override = ((config.data.get("overrides") or {}).get("repos") or {}).get(repo_id) or {}
    name = repo.get("name") or repo_id

    vcs_type = repo.get("type", "git")
    if vcs_type == "hg" and find_program("hg", os.environ) is None:
        raise KasUserError("hg is required for Mercurial repositories")

    # CF-641: refs with defaults; an explicit null in the repo drops a default.
    commit = repo.get("commit")
    tag = repo["tag"] if "tag" in repo else defaults.get("tag")
    branch = repo["branch"] if "branch" in repo else defaults.get("branch")
    refspec = repo.get("refspec", defaults.get("refspec"))
    url = repo.get("url")

    if url is not None and not (commit or tag or branch or refspec):
        raise KasUserError(
            f'No commit, tag or branch specified for repository "{name}". '
            "This is only allowed for local repositories.")
    if refspec is not None:
        config.ctx.warn_once(("refspec", name),
                             'Using deprecated refspec for repository "%s". '
                             "You should migrate to commit/tag/branch.", name)
        if commit or tag or branch:
            raise KasUserError("Unsupported mixture of legacy refspec and "
                               f'commit/tag/branch for repository "{name}"')
        if override.get("commit"):          # CF-643: only the commit counts
            commit, refspec = override["commit"], None
    else:                                   # overrides replace, null removes (CF-706)
        commit = override.get("commit", commit)
        branch = override.get("branch", branch)
        url = override.get("url", url)

    spec = RepoSpec(repo_id, name, url, _location(config, repo, name, url), vcs_type)
    spec.commit, spec.branch, spec.tag, spec.refspec = commit, branch, tag, refspec
    if not spec.is_local:
        _check_remote_refs(config, spec)
    _set_signing(config, spec, repo)
    spec.layers = _layers(spec, repo)
    spec.patches = _patches(config, spec, repo, defaults)
    return spec


def _location(config: Config, repo: dict[str, Any], name: str, url: str | None,
              quiet: bool = False) -> str:
    """CF-621/CF-622: the directory of the repository."""
    path = repo.get("path")
    if path is None:
        if url is None:
            if not quiet:
                log.info("Using %s as root for repository %s", config.top_repo_path, name)
            return os.path.normpath(config.top_repo_path)
        path = name
    return os.path.normpath(os.path.join(config.ctx.work_dir, path))


def _check_remote_refs(config: Config, spec: RepoSpec) -> None:
    if spec.tag and spec.branch:            # ambiguous ref (CF-644)
        raise KasUserError(f'Both tag "{spec.tag}" and branch "{spec.branch}" cannot '
                           f'be specified for repository "{spec.name}"')
    if spec.commit or config.ctx.update or config.ctx.suppress_unpinned_warnings:
        return
    if spec.tag:                            # unpinned warnings (CF-646)
        config.ctx.warn_once(("unpinned", spec.name),
                             'Using tag without commit for repository "%s" is unsafe '
                             "as tags are mutable.", spec.name)
    elif spec.branch:
        config.ctx.warn_once(("unpinned", spec.name),
                             'Using branch without commit for repository "%s" is '
                             "unsafe. Either add a commit or use a lock file.", spec.name)


def _set_signing(config: Config, spec: RepoSpec, repo: dict[str, Any]) -> None:
    """Signing settings of a ``signed`` repo: git only, a non-empty
    ``allowed_signers`` naming known signers of one type (CF-650 ... CF-652)."""
    if not repo.get("signed"):
        return
    allowed = repo.get("allowed_signers") or []
    if not allowed:
        raise KasUserError(
            f'Repository "{spec.name}" is signed but no allowed signers specified.')
    if spec.type != "git":
        raise KasUserError(f"Repository {spec.name}: Only git repositories are supported")
    signers = config.data.get("signers") or {}
    types = set()
    for signer in allowed:
        if signer not in signers:
            raise KasUserError(f"Repository {spec.name}: Allowed signer \"'{signer}'\" "
                               "not found in config")
        types.add((signers[signer] or {}).get("type", "gpg"))
    if len(types) > 1:
        raise KasUserError(f"Repository {spec.name}: Mixed signer types are not supported")
    spec.signed, spec.allowed_signers = True, list(allowed)
    spec.signers = [_signer(config, spec, signer, signers[signer]) for signer in allowed]


def _signer(config: Config, spec: RepoSpec, signer_id: str,
            definition: dict[str, Any] | None) -> Signer:
    """The Signer ``signer_id`` with the location of its key repo."""
    definition = definition or {}
    signer = Signer.from_definition(signer_id, definition)
    if signer.path is None:
        return signer
    repo_id = definition.get("repo")
    repos = config.repos()
    if not isinstance(repo_id, str) or repo_id not in repos:
        raise KasUserError(f'Repository {spec.name}: Signer "{signer_id}" refers to repo '
                           f'"{repo_id}", which is not in the config')
    repo = repos[repo_id] or {}
    override = ((config.data.get("overrides") or {}).get("repos") or {}).get(repo_id) or {}
    signer.repo_name = repo.get("name") or repo_id
    signer.repo_path = _location(config, repo, signer.repo_name,
                                 override.get("url", repo.get("url")), quiet=True)
    return signer


def _layers(spec: RepoSpec, repo: dict[str, Any]) -> list[Layer]:
    """CF-660 ... CF-663: the enabled layers."""
    if "layers" not in repo:
        return [Layer(".", spec.path, 0)]
    layers = []
    for key, value in repo["layers"].items():
        if value is None or isinstance(value, dict):
            prio = int((value or {}).get("prio", 0))
            layers.append(Layer(key, os.path.normpath(os.path.join(spec.path, key)), prio))
        elif value != "disabled":
            # Schema validation let only the deprecated disable values through.
            log.warning('Use of deprecated value "%s" for repo "%s", layer "%s". '
                        'Replace with "disabled".', value, spec.name, key)
    return layers


def _patches(config: Config, spec: RepoSpec, repo: dict[str, Any],
             defaults: dict[str, Any]) -> list[PatchEntry]:
    """CF-670 ... CF-673: patch entries in application order."""
    default_repo = (defaults.get("patches") or {}).get("repo")
    entries = []
    for patch_id in sorted(repo.get("patches") or {}):
        entry = repo["patches"][patch_id]
        if entry is None:
            continue
        repo_id = entry.get("repo", default_repo)
        if repo_id is None:
            raise KasUserError(f'No repo specified for patch entry "{patch_id}" and no '
                               "default repo specified.")
        if repo_id not in config.repos():
            raise KasUserError(f"Could not find referenced repo. (missing repo: {repo_id}, "
                               f"repo: {spec.name}, patch entry: {patch_id})")
        entries.append(PatchEntry(patch_id, repo_id, entry["path"]))
    return entries
