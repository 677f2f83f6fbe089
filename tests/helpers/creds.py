"""Helpers for the credentials, signature and ssh tests: real GPG keys in
temporary keyrings, real ssh keys, signed git commits and tags, and an
OpenSSH server on 127.0.0.1 run as the current user.

Nothing here touches the real HOME, ~/.gnupg or ~/.ssh.
"""

import http.server
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time

import pytest

from helpers.repos import git


def require(*programs):
    """Skip the test unless every program is installed (.ci/run installs
    them on CI, so a skip only happens on a bare developer machine)."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def sshd_program():
    """The OpenSSH server binary, which is usually not in a user's PATH."""
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# -- processes kas leaves behind ---------------------------------------------


def marked_path():
    """The caller's PATH plus a never-existing entry unique to this test
    process; children started by kas inherit it (ENV-100's tool env)."""
    return os.environ["PATH"] + os.pathsep + f"/nonexistent-kas-test-{os.getpid()}"


def agents_with_marker(env):
    """Running ssh-agent processes whose environment has ``env``'s PATH
    marker: the agents a kas run of this test started."""
    marker = env["PATH"].rsplit(os.pathsep, 1)[1].encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1][0] == "Z":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().startswith(b"ssh-agent"):
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


# -- GPG -------------------------------------------------------------------


class GpgKey:
    """A real ed25519 signing key in its own temporary keyring."""

    def __init__(self, directory, name):
        self.home = os.path.join(str(directory), f"gnupg-{name}")
        os.makedirs(self.home, mode=0o700)
        self.uid = f"{name.capitalize()} <{name}@example.com>"
        self.gpg("--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key",
                 self.uid, "ed25519", "sign", "never")
        listing = self.gpg("--with-colons", "--list-keys", self.uid)
        self.fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                                if line.startswith("fpr:"))

    def gpg(self, *args):
        return subprocess.run(["gpg", "--batch", "--homedir", self.home] + list(args),
                               check=True, capture_output=True, text=True).stdout

    def export(self, path):
        """Write the armored public key to ``path``; returns the path."""
        with open(path, "w") as f:
            f.write(self.gpg("--armor", "--export", self.fingerprint))
        return str(path)

    def git_options(self):
        """``git -c`` options that sign with this key."""
        return ["-c", f"user.signingkey={self.fingerprint}", "-c", "gpg.format=openpgp"]

    def env(self):
        return dict(os.environ, GNUPGHOME=self.home)

    def stop_agent(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], check=False,
                       capture_output=True)


class KeyServer:
    """A minimal HKP key server on 127.0.0.1 that answers every lookup
    with the armored key text it was given (run in a thread)."""

    def __init__(self, armored):
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = armored.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/pgp-keys")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"hkp://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- ssh keys ----------------------------------------------------------------


class SshKey:
    """A real ed25519 key pair without passphrase."""

    def __init__(self, directory, name, key_type="ed25519"):
        self.private = os.path.join(str(directory), f"id_{name}")
        subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", f"{name}-key",
                        "-f", self.private], check=True)
        self.public = self.private + ".pub"
        listing = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", self.public],
                                 check=True, capture_output=True, text=True).stdout
        self.fingerprint = listing.split()[1]

    def text(self):
        with open(self.private) as f:
            return f.read()

    def git_options(self):
        return ["-c", "gpg.format=ssh", "-c", f"user.signingkey={self.public}"]

    def env(self):
        return None


# -- signed history ------------------------------------------------------------


def signed_commit(repo, signer, name, text):
    """Commit file ``name`` with ``text``, signed by ``signer`` (GpgKey or
    SshKey, or None for an unsigned commit); returns the commit id."""
    with open(os.path.join(str(repo), name), "w") as f:
        f.write(text)
    git(repo, "add", "-A")
    if signer is None:
        git(repo, "commit", "-q", "-m", name)
    else:
        run_git(repo, signer.git_options() + ["commit", "-q", "-S", "-m", name],
                signer.env())
    return git(repo, "rev-parse", "HEAD")


def signed_tag(repo, signer, name, rev="HEAD"):
    run_git(repo, signer.git_options() + ["tag", "-s", "-m", name, name, rev], signer.env())


def run_git(repo, args, env=None):
    subprocess.run(["git", "-C", str(repo)] + args, check=True, env=env,
                   capture_output=True, text=True)


# -- sshd ---------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SshServer:
    """An OpenSSH server on 127.0.0.1, run as the current user with its own
    host key and config in ``directory``; it accepts ``client_key`` only."""

    def __init__(self, directory, client_key):
        self.dir = str(directory)
        self.port = free_port()
        self.host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        self.host_key], check=True)
        authorized = os.path.join(self.dir, "authorized_keys")
        shutil.copyfile(client_key.public, authorized)
        os.chmod(authorized, 0o600)
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write(f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {os.path.join(self.dir, "sshd.pid")}
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
""")
        self.log = os.path.join(self.dir, "sshd.log")
        self.proc = None

    def start(self):
        # -D: stay in the foreground so the fixture owns the process;
        # -e -E: log to a file the tests can show on failure.
        self.proc = subprocess.Popen([sshd_program(), "-D", "-e", "-f", self.config,
                                      "-E", self.log])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.read_log()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {self.read_log()}")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def known_hosts_line(self):
        with open(self.host_key + ".pub") as f:
            key = " ".join(f.read().split()[:2])
        return f"[127.0.0.1]:{self.port} {key}\n"

    def url(self, path):
        user = pwd.getpwuid(os.getuid()).pw_name
        return f"ssh://{user}@127.0.0.1:{self.port}{path}"
