"""Signed repositories verified before checkout (cli.md CLI-090 step 1,
CLI-092; config-format.md CF-650 ... CF-653, CF-800 ... CF-802), with real
GPG and ssh keys and commits/tags signed by the tests.

Upstream history (module fixture):

    C0 (unsigned, README) - C1 alice (gpg) - C2 mallory (gpg)
       - C3 bob (ssh) - C4 eve (ssh) - C5 unsigned
    tags: v-alice -> C1 (signed by alice), v-mallory -> C1 (mallory),
          v-bob -> C3 (ssh, bob), light -> C1 (lightweight)

Each commit adds a file named after its signer, so a test can see which
content reached the work tree.  ``mallory`` and ``eve`` are configured
signers too (for another repo), so their keys are in kas's keyring: a
signature that is good but by a key this repo does not allow must fail.
"""

import os
import shutil
import stat
import subprocess

import pytest
from helpers.creds import GpgKey, KeyServer, SshKey, free_port, require, signed_commit, signed_tag
from helpers.repos import git, make_git_repo, write
from helpers.run import clean_env, run_kas

STEPS = ["--skip", "setup_environ", "--skip", "write_bbconfig"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    require("gpg", "gpgconf", "ssh-keygen", "git")
    directory = tmp_path_factory.mktemp("keys")
    made = {"alice": GpgKey(directory, "alice"), "mallory": GpgKey(directory, "mallory"),
            "bob": SshKey(directory, "bob"), "eve": SshKey(directory, "eve")}
    yield made
    for key in made.values():
        if isinstance(key, GpgKey):
            key.stop_agent()


@pytest.fixture(scope="module")
def upstream(keys, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("up") / "up")
    make_git_repo(path, {"README": "upstream\n"})
    commits = {"c0": git(path, "rev-parse", "HEAD")}
    for name, signer in (("c1", "alice"), ("c2", "mallory"), ("c3", "bob"), ("c4", "eve")):
        commits[name] = signed_commit(path, keys[signer], f"{signer}.txt", f"{name}\n")
    commits["c5"] = signed_commit(path, None, "unsigned.txt", "c5\n")
    signed_tag(path, keys["alice"], "v-alice", commits["c1"])
    signed_tag(path, keys["mallory"], "v-mallory", commits["c1"])
    signed_tag(path, keys["bob"], "v-bob", commits["c3"])
    git(path, "tag", "light", commits["c1"])
    commits["path"] = path
    return commits


SIGNERS = """\
signers:
  alice:
    repo: this
    path: keys/alice.asc
    fingerprint: {alice}
  mallory:
    repo: this
    path: keys/mallory.asc
  bob:
    type: ssh
    repo: this
    path: keys/bob.pub
    fingerprint: {bob}
  eve:
    type: ssh
    repo: this
    path: keys/eve.pub
"""


@pytest.fixture
def project(workdir, keys, upstream):
    """A work dir with the public keys in the top repo ``this``."""
    os.makedirs(workdir / "keys")
    keys["alice"].export(workdir / "keys" / "alice.asc")
    keys["mallory"].export(workdir / "keys" / "mallory.asc")
    for name in ("bob", "eve"):
        with open(keys[name].public) as src, open(workdir / "keys" / f"{name}.pub", "w") as f:
            f.write(src.read())
    return workdir


def configure(workdir, keys, upstream, repo_lines, extra_repos="", signers=None):
    """kas.yml with the signers and repo ``sig`` (signed) of ``repo_lines``."""
    signers = signers if signers is not None else SIGNERS.format(
        alice=keys["alice"].fingerprint, bob=keys["bob"].fingerprint)
    body = "".join(f"    {line}\n" for line in repo_lines)
    write(workdir / "kas.yml", "header:\n  version: 23\n" + signers
          + f"repos:\n  this:\n  sig:\n    url: {upstream['path']}\n" + body + extra_repos)


def checkout(workdir):
    return run_kas("checkout", *STEPS, "kas.yml", cwd=workdir,
                   env=clean_env(KAS_WORK_DIR=str(workdir)))


def assert_user_error(result, message):
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 2, result
    assert result.errors() == [message], result


def files(workdir):
    return sorted(os.listdir(workdir / "sig"))


# --------------------------------------------------------------------------
# GPG


def gpg_valid(fingerprint, uid="Alice <alice@example.com>", repo="sig"):
    """The INFO line of a good gpg signature, worded as kas 5.5 words it:
    the fingerprint in groups of four and the signature's user id."""
    grouped = " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))
    return f'Repository {repo} signature valid: Fingerprint {grouped} from "{uid}"'


def test_gpg_signed_commit_of_an_allowed_key(project, keys, upstream):
    """A commit GPG-signed by an allowed key is checked out, and the valid
    signature is logged with signer and fingerprint (CLI-092)."""
    configure(project, keys, upstream,
              [f"commit: {upstream['c1']}", "branch: main", "signed: true",
               "allowed_signers: [alice, mallory]"])
    result = checkout(project)
    assert result.returncode == 0, result
    fpr = keys["alice"].fingerprint
    assert gpg_valid(fpr) in result.stderr
    assert git(project / "sig", "rev-parse", "HEAD") == upstream["c1"]
    assert "alice.txt" in files(project)
    # CLI-092: the kas keyring is private and kept between runs.
    gnupg = project / ".kas_gnupg"
    assert stat.S_IMODE(os.stat(gnupg).st_mode) == 0o700


def test_good_signature_of_a_key_not_allowed_for_this_repo(project, keys, upstream):
    """CF-653: mallory's key is in the keyring (another repo allows it) and the
    signature is good, but this repo allows only alice."""
    other = f"  other:\n    url: {upstream['path']}\n    commit: {upstream['c1']}\n" \
            "    branch: main\n    signed: true\n    allowed_signers: [mallory]\n"
    configure(project, keys, upstream,
              [f"commit: {upstream['c2']}", "branch: main", "signed: true",
               "allowed_signers: [alice]"], extra_repos=other)
    result = checkout(project)
    fpr = keys["mallory"].fingerprint
    assert_user_error(result, "Repository sig is not signed with a trusted key: "
                              f"Mallory <mallory@example.com> ({fpr}).")
    # CLI-090 step 1: the fresh clone holds nothing unverified.
    assert files(project) == [".git"]


def test_unsigned_commit_and_unknown_key(project, keys, upstream):
    """An unsigned commit, or one signed by a key kas never saw (named by
    its id), is refused and nothing is checked out (CF-653)."""
    configure(project, keys, upstream, [f"commit: {upstream['c5']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert_user_error(checkout(project), "Repository sig is not signed with a trusted key.")
    assert files(project) == [".git"]
    # A signature by a key kas has never seen names the key.
    configure(project, keys, upstream, [f"commit: {upstream['c2']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    result = checkout(project)
    assert_user_error(result, "Repository sig is not signed with a trusted key: "
                              f"key {keys['mallory'].fingerprint[-16:]}.")


def test_failed_verification_leaves_the_checkout_as_it_was(project, keys, upstream):
    """A failed verification leaves the checkout at its previous commit,
    clean (CLI-090)."""
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert checkout(project).returncode == 0
    configure(project, keys, upstream, [f"commit: {upstream['c5']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert_user_error(checkout(project), "Repository sig is not signed with a trusted key.")
    assert git(project / "sig", "rev-parse", "HEAD") == upstream["c1"]
    assert "unsigned.txt" not in files(project)
    assert git(project / "sig", "status", "--porcelain") == ""


def test_a_clone_whose_verification_failed_is_not_dirty_later(project, keys,
                                                                     upstream):
    """A clone whose first verification failed is not reported dirty when a
    later run checks out a good commit (CLI-090)."""
    configure(project, keys, upstream, [f"commit: {upstream['c5']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert checkout(project).returncode == 2
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    result = checkout(project)
    assert result.returncode == 0, result
    assert "dirty" not in result.stderr
    assert git(project / "sig", "rev-parse", "HEAD") == upstream["c1"]
    assert git(project / "sig", "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_with_a_tag_only_the_tag_signature_counts(project, keys, upstream):
    """With a tag only the tag's signature counts: v-alice passes, v-mallory
    fails although its commit is signed by alice (CF-653)."""
    configure(project, keys, upstream, ["tag: v-alice", f"commit: {upstream['c1']}",
                                        "signed: true", "allowed_signers: [alice]"])
    result = checkout(project)
    assert result.returncode == 0, result
    assert gpg_valid(keys["alice"].fingerprint) in result.stderr
    configure(project, keys, upstream, ["tag: v-mallory", f"commit: {upstream['c1']}",
                                        "signed: true", "allowed_signers: [alice]"])
    assert_user_error(checkout(project), "Repository sig is not signed with a trusted key: "
                                         f"key {keys['mallory'].fingerprint[-16:]}.")


def test_signed_absolute_tag(project, keys, upstream):
    """Issue 16.3 / CLI-092: ``tag: refs/tags/v-alice`` is verified and
    checked out like ``tag: v-alice``."""
    configure(project, keys, upstream, ["tag: refs/tags/v-alice", f"commit: {upstream['c1']}",
                                        "signed: true", "allowed_signers: [alice]"])
    result = checkout(project)
    assert result.returncode == 0, result
    assert gpg_valid(keys["alice"].fingerprint) in result.stderr
    assert git(project / "sig", "rev-parse", "HEAD") == upstream["c1"]


def test_lightweight_tag_has_no_signature(project, keys, upstream):
    """A lightweight tag has no signature and is refused (CF-653)."""
    configure(project, keys, upstream, ["tag: light", f"commit: {upstream['c1']}",
                                        "signed: true", "allowed_signers: [alice]"])
    assert_user_error(checkout(project), "Repository sig is not signed with a trusted key.")


def test_trust_of_cached_keys_is_reset_every_run(project, keys, upstream):
    """The trust of the keys kept in the keyring is set anew each run: only
    the allowed signers are trusted (CLI-092)."""
    configure(project, keys, upstream, [f"commit: {upstream['c2']}", "branch: main",
                                        "signed: true", "allowed_signers: [mallory]"])
    assert checkout(project).returncode == 0
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert checkout(project).returncode == 0
    trust = subprocess.run(["gpg", "--homedir", str(project / ".kas_gnupg"),
                            "--export-ownertrust"], check=True, capture_output=True,
                           text=True).stdout
    assert f"{keys['alice'].fingerprint}:6:" in trust
    assert f"{keys['mallory'].fingerprint}:3:" in trust


def test_gnupghome_is_exported_to_children(project, keys, upstream):
    """GNUPGHOME points the commands kas starts at kas's keyring (CLI-092)."""
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    result = run_kas("for-all-repos", *STEPS, "kas.yml", 'echo "GNUPGHOME=$GNUPGHOME"',
                     cwd=project, env=clean_env(KAS_WORK_DIR=str(project)))
    assert result.returncode == 0, result
    assert f"GNUPGHOME={project / '.kas_gnupg'}" in result.stdout


# --------------------------------------------------------------------------
# key files (CLI-092, CF-802)


def gpg_signer(path, fingerprint=None, repo="this"):
    text = f"signers:\n  alice:\n    repo: {repo}\n    path: {path}\n"
    return text + (f"    fingerprint: {fingerprint}\n" if fingerprint else "")


def test_key_file_with_two_keys(project, keys, upstream):
    """A key file with two keys is refused and imports neither (CLI-092)."""
    both = (project / "keys" / "alice.asc").read_text() + \
        (project / "keys" / "mallory.asc").read_text()
    write(project / "keys" / "both.asc", both)
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer("keys/both.asc"))
    assert_user_error(checkout(project), 'Could not import key "alice": Multiple keys imported')
    # Neither key went into the keyring.
    listing = subprocess.run(["gpg", "--homedir", str(project / ".kas_gnupg"),
                              "--list-keys"], capture_output=True, text=True, check=False)
    assert keys["mallory"].fingerprint not in listing.stdout
    assert files(project) == [".git"]


def test_key_file_without_a_key(project, keys, upstream):
    """A key file without a key is refused (CLI-092)."""
    write(project / "keys" / "junk.asc", "no key in here\n")
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer("keys/junk.asc"))
    assert_user_error(checkout(project), 'Could not import key "alice": No keys imported')


def test_fingerprint_must_match_the_key(project, keys, upstream):
    """A fingerprint that does not match the key file is refused, naming
    both (CF-802)."""
    wrong = keys["mallory"].fingerprint
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer("keys/alice.asc", wrong))
    assert_user_error(checkout(project),
                      'Could not import key "alice": Fingerprints do not match: Key has '
                      f'"{keys["alice"].fingerprint}". Expected "{wrong}".')


def test_key_file_missing(project, keys, upstream):
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer("keys/nothere.asc"))
    assert_user_error(checkout(project),
                      f'Could not import key "alice": key file {project}/keys/nothere.asc '
                      "not found in repository this")


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_key_file_cannot_escape_its_repo(project, keys, upstream, tmp_path, how):
    outside = tmp_path / "outside.asc"
    keys["alice"].export(outside)
    if how == "dotdot":
        path = os.path.relpath(outside, project)
    else:
        os.symlink(outside, project / "keys" / "link.asc")
        path = "keys/link.asc"
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer(path))
    assert_user_error(checkout(project),
                      f'Could not import key "alice": key file {path} resolves outside '
                      f"repository this ({project})")


def test_signer_repo_must_exist(project, keys, upstream):
    """A signer whose repo is not configured is an error (CF-800)."""
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=gpg_signer("keys/alice.asc", repo="nothere"))
    assert_user_error(checkout(project), 'Repository sig: Signer "alice" refers to repo '
                                         '"nothere", which is not in the config')


def test_cached_key_is_not_fetched_from_the_key_server(project, keys, upstream):
    """CF-802: A key server is used only for keys not in the keyring; an unreachable
    one is the "No keys imported" error."""
    dead = f"hkp://127.0.0.1:{free_port()}"
    signer = ("signers:\n  alice:\n    gpg_keyserver: " + dead
              + f"\n    fingerprint: {keys['alice'].fingerprint}\n")
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=signer)
    assert_user_error(checkout(project), 'Could not import key "alice": No keys imported')
    # Put the key into the keyring with a file signer, then use the server one.
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"])
    assert checkout(project).returncode == 0
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [alice]"],
              signers=signer)
    result = checkout(project)
    assert result.returncode == 0, result
    assert gpg_valid(keys["alice"].fingerprint) in result.stderr


def keyserver_signer(url, fingerprint):
    return f"signers:\n  alice:\n    gpg_keyserver: {url}\n    fingerprint: {fingerprint}\n"


def test_key_received_from_a_key_server(project, keys, upstream):
    """A key is fetched from a key server by its fingerprint (CF-802)."""
    armored = keys["alice"].gpg("--armor", "--export", keys["alice"].fingerprint)
    with KeyServer(armored) as server:
        configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                            "signed: true", "allowed_signers: [alice]"],
                  signers=keyserver_signer(server.url, keys["alice"].fingerprint))
        result = checkout(project)
    assert result.returncode == 0, result
    assert gpg_valid(keys["alice"].fingerprint) in result.stderr
    assert [r for r in server.requests if keys["alice"].fingerprint in r]


def test_key_server_answering_with_another_key(project, keys, upstream):
    """CF-802: The server sends mallory's key for alice's fingerprint: nothing
    usable is imported."""
    armored = keys["mallory"].gpg("--armor", "--export", keys["mallory"].fingerprint)
    with KeyServer(armored) as server:
        configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                            "signed: true", "allowed_signers: [alice]"],
                  signers=keyserver_signer(server.url, keys["alice"].fingerprint))
        result = checkout(project)
    assert_user_error(result, 'Could not import key "alice": No keys imported')
    assert files(project) == [".git"]


# --------------------------------------------------------------------------
# SSH


def ssh_valid(key, comment="bob-key", repo="sig"):
    """The INFO line of a good ssh signature, worded as kas 5.5 words it:
    the key's type name and its comment."""
    return (f"Repository {repo} signature valid: Fingerprint {key.fingerprint} (ssh-ed25519) "
            f'from "{comment}"')


def test_ssh_signed_commit_of_an_allowed_key(project, keys, upstream):
    """A commit SSH-signed by an allowed key is checked out; the allowed
    signers file is written for git (CLI-092)."""
    configure(project, keys, upstream, [f"commit: {upstream['c3']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob, eve]"])
    result = checkout(project)
    assert result.returncode == 0, result
    assert ssh_valid(keys["bob"]) in result.stderr
    allowed = project / ".kas_ssh-handler" / "sig" / "allowedSigners"
    # The key's comment as its principal, quoted, as kas 5.5 writes it.
    assert allowed.read_text().startswith('"bob-key" namespaces="git" ssh-ed25519 ')
    assert git(project / "sig", "config", "gpg.ssh.allowedSignersFile") == str(allowed)
    assert "bob.txt" in files(project)


def test_ssh_key_without_a_comment(project, keys, upstream):
    """A public key file without a comment: the valid-signature line says
    "no comment", as ssh-keygen and kas 5.5 do."""
    configure(project, keys, upstream, [f"commit: {upstream['c3']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob]"])
    key_type, key = (project / "keys" / "bob.pub").read_text().split()[:2]
    write(project / "keys" / "bob.pub", f"{key_type} {key}\n")
    result = checkout(project)
    assert result.returncode == 0, result
    assert ssh_valid(keys["bob"], comment="no comment") in result.stderr


def test_ssh_signature_of_a_key_not_allowed(project, keys, upstream):
    """An SSH signature of a key not allowed is refused, naming the key
    (CLI-092)."""
    configure(project, keys, upstream, [f"commit: {upstream['c4']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob]"])
    assert_user_error(checkout(project), "Repository sig is not signed with a trusted key: "
                                         f"ED25519 key {keys['eve'].fingerprint}.")
    assert files(project) == [".git"]


def test_ssh_signed_tag(project, keys, upstream):
    """An SSH-signed tag is verified (CLI-092)."""
    configure(project, keys, upstream, ["tag: v-bob", f"commit: {upstream['c3']}",
                                        "signed: true", "allowed_signers: [bob]"])
    result = checkout(project)
    assert result.returncode == 0, result
    assert ssh_valid(keys["bob"]) in result.stderr


def test_gpg_signature_does_not_satisfy_ssh_signers(project, keys, upstream):
    """CF-653: alice's key is trusted in the keyring (repo ``other``), but this repo
    wants an ssh signer."""
    other = f"  other:\n    url: {upstream['path']}\n    commit: {upstream['c1']}\n" \
            "    branch: main\n    signed: true\n    allowed_signers: [alice]\n"
    configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob]"],
              extra_repos=other)
    result = checkout(project)
    assert result.returncode == 2, result
    assert result.errors()[0].startswith("Repository sig is not signed with a trusted key")


def test_ssh_fingerprint_must_match(project, keys, upstream):
    """An SSH fingerprint that does not match the key is refused (CF-802)."""
    signer = ("signers:\n  bob:\n    type: ssh\n    repo: this\n    path: keys/bob.pub\n"
              f"    fingerprint: {keys['eve'].fingerprint}\n")
    configure(project, keys, upstream, [f"commit: {upstream['c3']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob]"],
              signers=signer)
    assert_user_error(checkout(project),
                      'Could not import key "bob": Fingerprints do not match: Key has '
                      f'"{keys["bob"].fingerprint}". Expected "{keys["eve"].fingerprint}".')


def test_ssh_key_file_that_is_no_key(project, keys, upstream):
    """An SSH key file that is no key is refused (CLI-092)."""
    write(project / "keys" / "bob.pub", "not a key\n")
    configure(project, keys, upstream, [f"commit: {upstream['c3']}", "branch: main",
                                        "signed: true", "allowed_signers: [bob]"])
    assert_user_error(checkout(project), 'Could not import key "bob": No keys imported')


# --------------------------------------------------------------------------
# the include loop (CLI-092: verified there too)


def test_repo_include_from_an_untrusted_repo_is_never_read(project, keys, upstream,
                                                                   tmp_path):
    """An include from a signed repo whose commit is not trusted is never
    read: kas stops with nothing printed (CLI-092)."""
    inc = str(tmp_path / "inc")
    make_git_repo(inc, {"inc.yml": "header:\n  version: 23\nmachine: from-include\n"})
    unsigned = git(inc, "rev-parse", "HEAD")
    signers = SIGNERS.format(alice=keys["alice"].fingerprint, bob=keys["bob"].fingerprint)
    write(project / "kas.yml", "header:\n  version: 23\n  includes:\n"
          "    - repo: inc\n      file: inc.yml\n" + signers
          + f"repos:\n  this:\n  inc:\n    url: {inc}\n    commit: {unsigned}\n"
          "    branch: main\n    signed: true\n    allowed_signers: [alice]\n")
    result = run_kas("dump", "kas.yml", cwd=project, env=clean_env(KAS_WORK_DIR=str(project)))
    assert_user_error(result, "Repository inc is not signed with a trusted key.")
    assert os.listdir(project / "inc") == [".git"]
    assert result.stdout == ""


# --------------------------------------------------------------------------
# every run verifies (issue 16.5)


def bob_signer(key_file):
    return f"signers:\n  bob:\n    type: ssh\n    repo: this\n    path: {key_file}\n"


@pytest.mark.parametrize("ref", ["commit", "tag"])
def test_verified_again_when_already_at_the_wanted_revision(project, keys, upstream,
                                                                   ref):
    """CLI-092: Issue 16.5: the second run finds the work tree on the wanted commit
    or tag; it still verifies, and with the allowed key replaced by eve's it
    fails like a first run would, leaving the work tree as it was."""
    lines = ([f"commit: {upstream['c3']}", "branch: main"] if ref == "commit"
             else ["tag: v-bob", f"commit: {upstream['c3']}"])
    lines += ["signed: true", "allowed_signers: [bob]"]
    configure(project, keys, upstream, lines, signers=bob_signer("keys/bob.pub"))
    assert checkout(project).returncode == 0
    head = git(project / "sig", "rev-parse", "HEAD")
    branch = git(project / "sig", "rev-parse", "--abbrev-ref", "HEAD")
    # The same signer name, now meaning eve's key.
    configure(project, keys, upstream, lines, signers=bob_signer("keys/eve.pub"))
    result = checkout(project)
    assert_user_error(result, "Repository sig is not signed with a trusted key: "
                              f"ED25519 key {keys['bob'].fingerprint}.")
    assert git(project / "sig", "rev-parse", "HEAD") == head == upstream["c3"]
    assert git(project / "sig", "rev-parse", "--abbrev-ref", "HEAD") == branch
    assert git(project / "sig", "status", "--porcelain") == ""
    # And with the right key again, the no-op run passes.
    configure(project, keys, upstream, lines, signers=bob_signer("keys/bob.pub"))
    result = checkout(project)
    assert result.returncode == 0, result
    assert ssh_valid(keys["bob"]) in result.stderr


def test_gpg_verified_again_when_already_at_the_wanted_tag(project, keys, upstream):
    """CLI-092: Issue 16.5 with GPG: the signer's key file now holds mallory's key,
    so alice's tag no longer verifies on the otherwise no-op run."""
    lines = ["tag: v-alice", f"commit: {upstream['c1']}", "signed: true",
             "allowed_signers: [alice]"]
    configure(project, keys, upstream, lines, signers=gpg_signer("keys/alice.asc"))
    assert checkout(project).returncode == 0
    keys["mallory"].export(project / "keys" / "alice.asc")
    result = checkout(project)
    assert_user_error(result, "Repository sig is not signed with a trusted key: "
                              f"Alice <alice@example.com> ({keys['alice'].fingerprint}).")
    assert git(project / "sig", "rev-parse", "HEAD") == upstream["c1"]
    assert git(project / "sig", "status", "--porcelain") == ""


def test_offline_asks_no_key_server(project, keys, upstream):
    """Issue 19.2: with KAS_OFFLINE=1 a key missing from the keyring is an
    error naming the key server, which is not asked."""
    armored = keys["alice"].gpg("--armor", "--export", keys["alice"].fingerprint)
    with KeyServer(armored) as server:
        configure(project, keys, upstream, [f"commit: {upstream['c1']}", "branch: main",
                                            "signed: true", "allowed_signers: [alice]"],
                  signers=keyserver_signer(server.url, keys["alice"].fingerprint))
        assert checkout(project).returncode == 0
        shutil.rmtree(project / ".kas_gnupg")
        asked = len(server.requests)
        result = run_kas("checkout", *STEPS, "kas.yml", cwd=project,
                         env=clean_env(KAS_WORK_DIR=str(project), KAS_OFFLINE="1"))
        assert len(server.requests) == asked
    fingerprint = keys["alice"].fingerprint.upper()
    assert_user_error(result, f'Could not import key "alice": key {fingerprint} is not in '
                              f"the keyring and KAS_OFFLINE forbids asking the key server "
                              f"{server.url}")


# --------------------------------------------------------------------------
# signed repos without url (issue 24.2)


def local_clone(upstream, path, rev):
    """A clone of the upstream with ``rev`` checked out, for a repo that has
    a ``path`` but no ``url`` (kas never fetches or checks it out)."""
    subprocess.run(["git", "clone", "-q", upstream["path"], str(path)], check=True,
                   capture_output=True)
    git(path, "checkout", "-q", rev)
    return str(path)


def configure_local(workdir, path, repo_lines, signers):
    body = "".join(f"    {line}\n" for line in repo_lines)
    write(workdir / "kas.yml", "header:\n  version: 23\n" + signers
          + f"repos:\n  this:\n  local:\n    path: {path}\n" + body)


@pytest.mark.parametrize("ref", ["tag", "commit"])
@pytest.mark.parametrize("kind", ["ssh", "gpg"])
def test_repo_without_url_is_verified_on_every_run(project, keys, upstream, tmp_path,
                                                   kind, ref):
    """Issue 24.2 / CLI-092: a signed repo with ``path`` and no ``url`` is
    verified like a cloned one, on every run: once its allowed key file
    holds a fresh key, the next run stops with exit 2; the repo (work tree,
    HEAD, git config) is never changed."""
    signer, tag, commit = (("bob", "v-bob", upstream["c3"]) if kind == "ssh"
                           else ("alice", "v-alice", upstream["c1"]))
    local = local_clone(upstream, tmp_path / "local", commit)
    config_before = (tmp_path / "local" / ".git" / "config").read_text()
    key_file = "keys/bob.pub" if kind == "ssh" else "keys/alice.asc"
    signers = bob_signer(key_file) if kind == "ssh" else gpg_signer(key_file)
    lines = [f"tag: {tag}"] if ref == "tag" else [f"commit: {commit}"]
    configure_local(project, local, lines + ["signed: true", f"allowed_signers: [{signer}]"],
                    signers)
    result = checkout(project)
    assert result.returncode == 0, result
    assert "Repository local signature valid: " in result.stderr

    if kind == "ssh":
        fresh = SshKey(tmp_path, "fresh")
        shutil.copy(fresh.public, project / key_file)
        expected = f"ED25519 key {keys['bob'].fingerprint}"
    else:
        fresh = GpgKey(tmp_path, "fresh")
        try:
            fresh.export(project / key_file)
        finally:
            fresh.stop_agent()
        expected = f"Alice <alice@example.com> ({keys['alice'].fingerprint})"
    result = checkout(project)
    assert_user_error(result, f"Repository local is not signed with a trusted key: {expected}.")
    assert git(local, "rev-parse", "HEAD") == commit
    assert git(local, "status", "--porcelain") == ""
    assert (tmp_path / "local" / ".git" / "config").read_text() == config_before


def test_repo_without_url_and_ref_is_verified_at_its_head(project, keys, upstream,
                                                          tmp_path):
    """Issue 24.2: without tag or commit, the commit the work tree is at
    is what counts; a path that is no git checkout cannot be verified."""
    local = local_clone(upstream, tmp_path / "local", upstream["c3"])
    lines = ["signed: true", "allowed_signers: [bob]"]
    configure_local(project, local, lines, bob_signer("keys/bob.pub"))
    assert checkout(project).returncode == 0
    git(local, "checkout", "-q", upstream["c5"])
    assert_user_error(checkout(project), "Repository local is not signed with a trusted key.")
    plain = tmp_path / "plain"
    plain.mkdir()
    configure_local(project, plain, lines, bob_signer("keys/bob.pub"))
    assert_user_error(checkout(project), "Repository local is not signed with a trusted key: "
                                         f"{plain} is not the top of a git checkout.")
