"""Signature verification of signed repositories (CLI-092, CF-650 ... CF-653,
CF-800 ... CF-802).

A repo with ``signed: true`` is verified right before its checkout, so
nothing unverified ever reaches its work tree (its clone was made with
``--no-checkout``).  A signed repo without url, which kas never checks
out, is verified on every run all the same (issue 24.2).  GPG keys live in the kas-private keyring
``<KAS_WORK_DIR>/.kas_gnupg``; SSH keys are listed per repo in an
``allowedSigners`` file below ``<KAS_WORK_DIR>/.kas_ssh-handler``.

git's exit status alone is not trusted: the keyring is shared by every
repo and kept between runs, so kas also checks that the key that made the
signature belongs to one of *this* repo's allowed signers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from typing import TYPE_CHECKING, cast

from kas.errors import KasUserError
from kas.fsutil import require_program, within
from kas.vcs.git import GitBackend, tag_ref

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterable

    from kas.context import Context
    from kas.repos.model import RepoSpec, Signer
    from kas.vcs import Backend
    from kas.vcs.base import CheckoutSpec, Target

log = logging.getLogger(__name__)

GPG_DIR = ".kas_gnupg"
SSH_DIR = ".kas_ssh-handler"

# CLI-092: the ssh key types kas accepts (as ssh-keygen -l names them).
SSH_KEY_TYPES = ("DSA", "RSA", "ECDSA", "ED25519")

# GPG status keywords that mean a signature is not good.
GPG_BAD = ("BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NO_PUBKEY")

# OpenPGP ownertrust values (gpg --import-ownertrust).
TRUST_NEVER, TRUST_ULTIMATE = 3, 6


def key_error(signer: Signer, detail: str) -> KasUserError:
    return KasUserError(f'Could not import key "{signer.id}": {detail}')


def untrusted(spec: CheckoutSpec, description: str | None = None) -> KasUserError:
    suffix = f": {description}" if description else ""
    return KasUserError(f"Repository {spec.name} is not signed with a trusted key{suffix}.")


def key_file(signer: Signer) -> str:
    """The key file of ``signer``: inside its repo, and present."""
    assert signer.repo_path is not None and signer.path is not None, "not a key file signer"
    root = os.path.realpath(signer.repo_path)
    path = os.path.realpath(os.path.join(root, signer.path))
    if not within(path, root):
        raise key_error(signer, f"key file {signer.path} resolves outside repository "
                                f"{signer.repo_name} ({root})")
    if not os.path.isfile(path):
        raise key_error(signer, f"key file {path} not found in repository "
                                f"{signer.repo_name}")
    return path


class SignatureVerifier:
    """Verifies the signed repos of one checkout round.  Keys are loaded
    once per round (CF-802: in every iteration of the repo loop)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._gpg_ready = False
        self._gpg_keys: dict[str, str] = {}     # signer id -> primary fingerprint

    @property
    def gnupg_home(self) -> str:
        return os.path.join(self.ctx.work_dir, GPG_DIR)

    def prepare(self, specs: list[RepoSpec]) -> None:
        """Import the GPG keys of every signed repo among ``specs`` into the
        shared keyring and export GNUPGHOME (ENV-101).  Done up front, in
        configuration order, before the parallel checkouts start."""
        for spec in specs:
            if spec.signed and spec.signers[0].type == "gpg":
                self.ctx.managed_env["GNUPGHOME"] = self.gnupg_home
                for signer in spec.signers:
                    self._gpg_key(signer)

    def verify(self, backend: Backend) -> Target:
        """CLI-092 for one repo.  Returns the checkout target (revision,
        local branch) that was verified; raises if it is not trusted."""
        spec = _repo_spec(backend)
        target = backend.target()
        if spec.tag:
            self._check(backend, ["verify-tag", "--raw", tag_ref(spec.tag)])
        else:
            commit = git_backend(backend).commit_id(target.rev)
            self._check(backend, ["verify-commit", "--raw", commit])
        return target

    def verify_local(self, backend: Backend) -> None:
        """CLI-092 for a repo without url (issue 24.2), which kas never
        checks out: its configured tag, else its configured commit, else
        the commit its work tree is at (HEAD), on every run.  Its git
        config is left alone: the allowed signers are passed to this one
        git command only."""
        spec = _repo_spec(backend)
        if not os.path.lexists(os.path.join(spec.path, backend.MARKER)):
            raise untrusted(spec, f"{spec.path} is not the top of a git checkout")
        if spec.tag:
            command = ["verify-tag", "--raw", tag_ref(spec.tag)]
        else:
            command = ["verify-commit", "--raw", "--end-of-options", spec.commit or "HEAD"]
        self._check(backend, command, keep_config=False)

    def _check(self, backend: Backend, command: list[str], keep_config: bool = True) -> None:
        """Run git ``command`` (verify-tag or verify-commit) in the repo and
        accept only a good signature by one of the repo's allowed signers."""
        spec = _repo_spec(backend)
        if spec.signers[0].type == "ssh":
            allowed, descriptions = self._write_allowed_signers(spec)
            if keep_config:
                backend.run(["git", "config", "gpg.ssh.allowedSignersFile", allowed])
                options = []
            else:
                options = ["-c", f"gpg.ssh.allowedSignersFile={allowed}"]
            result = backend.run(["git", *options, *command], check=False)
            description = ssh_result(spec, descriptions, result)
        else:
            fingerprints = {self._gpg_keys[s.id] for s in spec.signers}
            result = backend.run(["git", *command], check=False)
            description = gpg_result(spec, fingerprints, result)
        log.info("Repository %s signature valid: %s", spec.name, description)

    # -- gpg -----------------------------------------------------------

    def _gpg(self, args: list[str], input: str | None = None, check: bool = True,
             autostart: bool = False) -> subprocess.CompletedProcess[str]:
        # No gpg-agent is needed for public keys; one started here would
        # outlive kas.  Only --recv-keys needs a dirmngr (stopped after).
        no_autostart = [] if autostart else ["--no-autostart"]
        return self.ctx.runner.run(
            ["gpg", "--batch", "--no-tty", "--homedir", self.gnupg_home] + no_autostart + args,
            env=self.ctx.vcs_env(), input=input, check=check)

    def _setup_gpg(self) -> None:
        """The keyring (0700, kept between runs), every cached key reset
        to no trust (CLI-092)."""
        if self._gpg_ready:
            return
        require_program("gpg", self.ctx.caller_env, "signature verification")
        os.makedirs(self.gnupg_home, mode=0o700, exist_ok=True)
        os.chmod(self.gnupg_home, 0o700)
        listing = self._gpg(["--with-colons", "--list-keys"], check=False).stdout
        cached = primary_fingerprints(listing)
        if cached:
            self._set_trust(cached, TRUST_NEVER)
        self._gpg_ready = True

    def _set_trust(self, fingerprints: Iterable[str], level: int) -> None:
        lines = "".join(f"{fpr}:{level}:\n" for fpr in fingerprints)
        self._gpg(["--import-ownertrust"], input=lines)

    def _gpg_key(self, signer: Signer) -> str:
        """Import the key of ``signer`` (file or key server) and trust it;
        returns its primary fingerprint."""
        if signer.id in self._gpg_keys:
            return self._gpg_keys[signer.id]
        self._setup_gpg()
        if signer.path is not None:
            fingerprint = self._import_file(signer)
        else:
            fingerprint = self._receive(signer)
        self._set_trust([fingerprint], TRUST_ULTIMATE)
        self._gpg_keys[signer.id] = fingerprint
        return fingerprint

    def _import_file(self, signer: Signer) -> str:
        path = key_file(signer)
        # Look before importing: a file with several keys must not add
        # any of them to the keyring.
        shown = self._gpg(["--with-colons", "--import-options", "show-only", "--import",
                           path], check=False).stdout
        fingerprint = one_fingerprint(signer, primary_fingerprints(shown))
        self._gpg(["--import", path])
        return fingerprint

    def _receive(self, signer: Signer) -> str:
        """A key server is asked only if the key is not cached yet (CF-802)."""
        # The schema requires a fingerprint and a key server without a path.
        assert signer.fingerprint is not None and signer.keyserver is not None
        wanted = signer.fingerprint.upper()
        if not self._gpg(["--with-colons", "--list-keys", wanted], check=False).returncode:
            return wanted
        from kas.vcs.urls import offline_requested

        if offline_requested(self.ctx.caller_env):
            # Issue 19.2: no key-server lookup offline.
            raise key_error(signer, f"key {wanted} is not in the keyring and KAS_OFFLINE "
                                    f"forbids asking the key server {signer.keyserver}")
        try:
            self._gpg(["--keyserver", signer.keyserver, "--recv-keys", wanted], check=False,
                      autostart=True)
        finally:
            # --recv-keys starts a dirmngr daemon for the keyring: stop it.
            self.ctx.runner.run(["gpgconf", "--homedir", self.gnupg_home, "--kill",
                                 "all"], env=self.ctx.vcs_env(), check=False)
        listing = self._gpg(["--with-colons", "--list-keys", wanted], check=False)
        return one_fingerprint(signer, primary_fingerprints(listing.stdout))

    # -- ssh -----------------------------------------------------------

    def _write_allowed_signers(self, spec: RepoSpec) -> tuple[str, dict[str, str]]:
        """The repo's allowedSigners file and, for the fingerprint of each
        key in it, the description of the key.  Each key's principal is its
        comment, quoted, as kas 5.5 writes the file."""
        lines: list[str] = []
        descriptions: dict[str, str] = {}
        for signer in spec.signers:
            key = ssh_public_key(self.ctx, signer)
            descriptions[key.fingerprint] = key.description
            principal = key.comment.replace('"', "'")
            lines.append(f'"{principal}" namespaces="git" {key.key_type} {key.key}\n')
        directory = os.path.join(self.ctx.work_dir, SSH_DIR, safe_name(spec.name))
        os.makedirs(directory, exist_ok=True)
        allowed = os.path.join(directory, "allowedSigners")
        with open(allowed, "w") as f:
            f.writelines(lines)
        return allowed, descriptions


def git_backend(backend: Backend) -> GitBackend:
    """Signed repos are git repos (kas.repos.model refuses others)."""
    assert isinstance(backend, GitBackend), f"{backend.spec.name}: signed, but not git"
    return backend


def _repo_spec(backend: Backend) -> RepoSpec:
    """The spec of a backend the repository engine made: a RepoSpec, which
    knows the signers (the backend's view of a spec does not)."""
    return cast("RepoSpec", backend.spec)


def safe_name(name: str) -> str:
    """A repo name as one directory name below the handler directory."""
    cleaned = name.replace(os.sep, "_")
    return "_" + cleaned if cleaned in ("", ".", "..") else cleaned


def primary_fingerprints(colons: str) -> list[str]:
    """The primary-key fingerprints in ``gpg --with-colons`` output."""
    fingerprints, after_pub = [], False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            after_pub = True
        elif fields[0] == "fpr" and after_pub and len(fields) > 9:
            fingerprints.append(fields[9])
            after_pub = False
    return fingerprints


def one_fingerprint(signer: Signer, fingerprints: list[str]) -> str:
    """CLI-092: exactly one key, with the configured fingerprint if any."""
    if not fingerprints:
        raise key_error(signer, "No keys imported")
    if len(fingerprints) > 1:
        raise key_error(signer, "Multiple keys imported")
    found = fingerprints[0]
    if signer.fingerprint and found.upper() != signer.fingerprint.upper():
        raise key_error(signer, f'Fingerprints do not match: Key has "{found}". '
                                f'Expected "{signer.fingerprint}".')
    return found


@dataclasses.dataclass(frozen=True)
class SshPublicKey:
    """An allowed signer's ssh public key, as ssh-keygen lists it."""
    key_type: str           # the key file's type name, e.g. ssh-ed25519
    key: str                # base64
    fingerprint: str        # SHA256:...
    comment: str            # ssh-keygen's "no comment" when there is none

    @property
    def description(self) -> str:
        """How a valid signature by this key is reported (as kas 5.5 does)."""
        return f'Fingerprint {self.fingerprint} ({self.key_type}) from "{self.comment}"'


def ssh_public_key(ctx: Context, signer: Signer) -> SshPublicKey:
    """The ssh public key of ``signer``, checked: one key, a supported
    type, the configured fingerprint, an OpenSSH public key line."""
    path = key_file(signer)
    require_program("ssh-keygen", ctx.caller_env, "signature verification")
    result = ctx.runner.run(["ssh-keygen", "-l", "-E", "sha256", "-f", path],
                            env=ctx.vcs_env(), check=False)
    listed = result.stdout.splitlines() if result.returncode == 0 else []
    if not listed:
        raise key_error(signer, "No keys imported")
    if len(listed) > 1:
        raise key_error(signer, "Multiple keys imported")
    # "<bits> <fingerprint> <comment words, or 'no comment'> (<TYPE>)"
    fields = listed[0].split()
    fingerprint, listed_type = fields[1], fields[-1].strip("()")
    if listed_type not in SSH_KEY_TYPES:
        raise key_error(signer, f"Unsupported key type {listed_type}")
    if signer.fingerprint and fingerprint != signer.fingerprint:
        raise key_error(signer, f'Fingerprints do not match: Key has "{fingerprint}". '
                                f'Expected "{signer.fingerprint}".')
    with open(path, errors="replace") as f:
        keys = [line.split() for line in f if line.strip() and not line.startswith("#")]
    # ssh-keygen also reads formats (PEM, options first) that are no
    # "<type> <base64>" line; kas needs exactly that line.
    if len(keys) != 1 or len(keys[0]) < 2 or not keys[0][0].startswith(("ssh-", "ecdsa-")):
        raise key_error(signer, "not an OpenSSH public key file (<type> <key> [comment])")
    return SshPublicKey(keys[0][0], keys[0][1], fingerprint, " ".join(fields[2:-1]))


def gpg_result(spec: CheckoutSpec, fingerprints: set[str],
               result: subprocess.CompletedProcess[str]) -> str:
    """Judge git's --raw GPG status output; the description of the key."""
    status = [line.split()[1:] for line in result.stderr.splitlines()
              if line.startswith("[GNUPG:] ") and len(line.split()) > 1]
    words = {fields[0]: fields[1:] for fields in status}
    good = words.get("GOODSIG")
    valid = words.get("VALIDSIG")
    uid = " ".join(good[1:]) if good else None
    primary = valid[-1] if valid else None
    if (result.returncode == 0 and good and primary in fingerprints
            and not any(bad in words for bad in GPG_BAD)):
        # As kas 5.5 reports it: the fingerprint in groups of four, the uid.
        grouped = " ".join(primary[i:i + 4] for i in range(0, len(primary), 4))
        return f'Fingerprint {grouped} from "{uid}"'
    if primary:
        raise untrusted(spec, f"{uid} ({primary})")
    for keyword in ("ERRSIG", "NO_PUBKEY", "BADSIG", "EXPKEYSIG", "REVKEYSIG"):
        if words.get(keyword):
            raise untrusted(spec, f"key {words[keyword][0]}")
    raise untrusted(spec)


# git verify-*: 'Good "git" signature for <principal> with <TYPE> key <fingerprint>'
SSH_GOOD = re.compile(r'^Good "git" signature for .* with \S+ key (\S+)', re.MULTILINE)
SSH_KEY = re.compile(r" with (\S+ key \S+)")


def ssh_result(spec: CheckoutSpec, descriptions: dict[str, str],
               result: subprocess.CompletedProcess[str]) -> str:
    """Judge git's --raw SSH output: a good signature by a key of
    ``descriptions`` (by fingerprint); the description of that key."""
    good = SSH_GOOD.search(result.stderr)
    if result.returncode == 0 and good and good.group(1) in descriptions:
        return descriptions[good.group(1)]
    key = SSH_KEY.search(result.stderr)
    raise untrusted(spec, key.group(1) if key else None)
