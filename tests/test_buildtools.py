"""Yocto buildtools (config-format.md CF-900, CF-901; environment.md ENV-013,
ENV-105; generated-files.md GEN-041 item 2).

kas runs in a subprocess against a fake installer: a POSIX shell script that,
run with ``-d DIR -y``, creates ``DIR/environment-setup-x86_64-pokysdk-linux``
and ``DIR/version-x86_64-pokysdk-linux`` and appends a line to a log file, so
the tests can count installations.  The installer is served by a local HTTP
server (which counts requests) or through a ``file://`` base URL.  What the
build environment gets is observed with ``kas for-all-repos``.
"""

import base64
import hashlib
import http.server
import os
import platform
import threading
import urllib.parse

import pytest
from helpers.repos import write
from helpers.run import clean_env, kas_ok, run_kas

INIT_SCRIPT = 'mkdir -p "$1/conf"\nexport FROM_INIT=1\n'
NAME = "buildtools-test.sh"

INSTALLER = """#!/bin/sh
# Fake Yocto buildtools installer: -d DIR -y
dir=
while [ $# -gt 0 ]; do
    case "$1" in
        -d) dir=$2; shift 2 ;;
        -y) shift ;;
        *) echo "unexpected argument $1" >&2; exit 3 ;;
    esac
done
[ -n "$dir" ] || { echo "no -d given" >&2; exit 3; }
echo "$dir PATH=$PATH" >> "{log}"
{extra}
mkdir -p "$dir/sysroots/bin"
cat > "$dir/environment-setup-x86_64-pokysdk-linux" <<EOF
export PATH="$dir/sysroots/bin:\\$PATH"
export BUILDTOOLS_MARK=1
EOF
printf 'Distro: Poky\\nDistro Version: {version}\\nTimestamp: 20240101\\n' \\
    > "$dir/version-x86_64-pokysdk-linux"
"""

FAILING = 'mkdir -p "$dir"; touch "$dir/version-x86_64-pokysdk-linux"\n' \
          'echo "installer exploded" >&2; exit 1'


# --- helpers ------------------------------------------------------------------

class Server:
    """A local HTTP server for ``directory`` that records the request paths
    and Authorization headers."""

    def __init__(self, directory):
        self.requests = []
        self.auth = []
        self.challenge = False      # answer 401 to requests without credentials
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def do_GET(self):
                server.requests.append(self.path)
                server.auth.append(self.headers.get("Authorization"))
                if server.challenge and not self.headers.get("Authorization"):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(tmp_path):
    serve = tmp_path / "serve"
    serve.mkdir()
    srv = Server(serve)
    srv.dir = serve
    yield srv
    srv.close()


class Installer:
    """A fake installer in ``directory``; ``installs()`` reads its log."""

    def __init__(self, directory, name=NAME, version="5.0", extra=""):
        self.log = directory.parent / "installer.log"
        text = (INSTALLER.replace("{log}", str(self.log)).replace("{extra}", extra)
                .replace("{version}", version))
        self.path = write(directory / name, text)
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()

    def installs(self):
        if not self.log.exists():
            return []
        return [line.split(" PATH=")[0] for line in self.log.read_text().splitlines()]


def project(workdir, base_url, sha256, version="5.0", filename=NAME, extra=""):
    write(workdir / "oe-init-build-env", INIT_SCRIPT)
    lines = ["header:", "  version: 23", "repos:", "  this:", "buildtools:",
             f'  version: "{version}"', f'  sha256sum: "{sha256}"']
    if base_url is not None:
        lines.append(f"  base_url: {base_url}")
    if filename is not None:
        lines.append(f"  filename: {filename}")
    lines += [f"  {line}" for line in extra.splitlines()]
    return write(workdir / "kas.yml", "\n".join(lines) + "\n")


def child_env(workdir, env=None):
    """Run ``kas for-all-repos``; returns (build environment, KasResult)."""
    out = workdir.parent / "child.env"
    result = kas_ok("for-all-repos", "kas.yml", f'env > "{out}"', cwd=workdir,
                    env=env or clean_env())
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return env, result


def fails(workdir, env=None):
    result = run_kas("for-all-repos", "kas.yml", "true", cwd=workdir, env=env or clean_env())
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    return result


def default_dir(workdir):
    return workdir / "build" / "buildtools"


def leftovers(directory):
    """Temporary downloads left in ``directory``."""
    return [n for n in os.listdir(directory) if n.startswith(".kas-buildtools-")]


# --- tests --------------------------------------------------------------------

def test_buildtools_installed_over_http_and_sourced(workdir, server):
    """The buildtools installer is downloaded over http, installed in place
    with a minimal PATH, and its environment sourced before the init script
    (ENV-105, GEN-041)."""
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    env, result = child_env(workdir)
    target = default_dir(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert env["FROM_INIT"] == "1"
    assert env["PATH"].startswith(f"{target}/sysroots/bin:")
    assert server.requests == [f"/{NAME}"]
    # Installed in place (the SDK is relocated to -d), with the minimal PATH.
    assert inst.installs() == [str(target)]
    assert inst.log.read_text().split(" PATH=")[1].strip() == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert sorted(os.listdir(target)) == ["environment-setup-x86_64-pokysdk-linux",
                                          "sysroots", "version-x86_64-pokysdk-linux"]
    assert leftovers(workdir / "build") == []
    assert f"Downloading buildtools installer from {server.url}/{NAME}" in result.stderr
    assert f"Installing buildtools 5.0 ({NAME}) into {target}" in result.stderr

    # A second run uses the installation: no download, no install.
    env, result = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert server.requests == [f"/{NAME}"]
    assert len(inst.installs()) == 1
    assert "Downloading" not in result.stderr


def test_default_file_name_uses_the_machine_arch_and_is_url_quoted(workdir, server):
    """The default installer name has the machine's architecture and the
    version, URL-quoted in the request (CF-901)."""
    name = f"{platform.machine()}-buildtools-extended-nativesdk-standalone-5.0+x.sh"
    inst = Installer(server.dir, name=name, version="5.0+x")
    project(workdir, server.url, inst.sha256, version="5.0+x", filename=None)
    env, _ = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert server.requests == ["/" + urllib.parse.quote(name)]


def test_default_download_url():
    """The default download URL is the Yocto release's buildtools directory;
    base_url replaces it, the name URL-quoted (CF-901)."""
    from kas.buildenv.buildtools import download_url, installer_name

    conf = {"version": "5.0.4", "sha256sum": "0"}
    name = installer_name(conf)
    assert name == (f"{platform.machine()}-buildtools-extended-nativesdk-standalone-"
                    "5.0.4.sh")
    assert download_url(conf, name) == (
        "https://downloads.yoctoproject.org/releases/yocto/yocto-5.0.4/buildtools//" + name)
    assert download_url(dict(conf, base_url="http://h/d"), "a b.sh") == "http://h/d/a%20b.sh"


def test_file_base_url(workdir, tmp_path):
    """A file:// base_url works too (CF-901)."""
    serve = tmp_path / "files"
    serve.mkdir()
    inst = Installer(serve)
    project(workdir, serve.as_uri(), inst.sha256)
    env, _ = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert inst.installs() == [str(default_dir(workdir))]


def test_kas_buildtools_dir_relative_to_cwd(workdir, server):
    """A relative KAS_BUILDTOOLS_DIR is relative to the current directory
    (ENV-013)."""
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    env, _ = child_env(workdir, env=clean_env(KAS_BUILDTOOLS_DIR="../bt/tools"))
    target = workdir.parent / "bt" / "tools"
    assert env["PATH"].startswith(f"{target}/sysroots/bin:")
    assert inst.installs() == [str(target)]
    assert not default_dir(workdir).exists()
    assert leftovers(target.parent) == []


def test_version_mismatch_warns_and_reinstalls(workdir, server):
    """An installed version other than the configured one is warned about
    and replaced (CF-901)."""
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    target = default_dir(workdir)
    target.mkdir(parents=True)
    (target / "version-x86_64-pokysdk-linux").write_text("Distro Version: 4.0\n")
    (target / "old-file").write_text("old\n")
    env, result = child_env(workdir)
    assert any(w.startswith("Buildtools: version mismatch") for w in result.warnings()), result
    assert env["BUILDTOOLS_MARK"] == "1"
    assert not (target / "old-file").exists()
    assert "Distro Version: 5.0" in (target / "version-x86_64-pokysdk-linux").read_text()
    assert len(inst.installs()) == 1


def test_interrupted_installation_is_not_used(workdir, server):
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    target = default_dir(workdir)
    target.mkdir(parents=True)
    # What a killed kas leaves: the installer's files and kas's marker.
    (target / "version-x86_64-pokysdk-linux").write_text("Distro Version: 5.0\n")
    (target / "environment-setup-x86_64-pokysdk-linux").write_text("exit 1\n")
    (target / ".kas-buildtools-incomplete").write_text("")
    env, result = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert len(inst.installs()) == 1
    assert not (target / ".kas-buildtools-incomplete").exists()
    assert any("incomplete" in w for w in result.warnings()), result


def test_foreign_non_empty_directory_is_left_alone(workdir, server):
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    target = workdir.parent / "mine"
    target.mkdir()
    (target / "precious").write_text("data\n")
    result = fails(workdir, env=clean_env(KAS_BUILDTOOLS_DIR=str(target)))
    assert "holds no buildtools installation" in result.errors()[0]
    assert (target / "precious").exists()
    assert server.requests == []


def test_sha256_mismatch(workdir, server):
    """An installer whose sha256 differs is refused and nothing is left
    behind (ENV-105)."""
    inst = Installer(server.dir)
    project(workdir, server.url, "0" * 64)
    result = fails(workdir)
    assert result.errors()[0].startswith("sha256sum mismatch: installer may be corrupted")
    assert inst.sha256 in result.errors()[0]
    assert not default_dir(workdir).exists()
    assert leftovers(workdir / "build") == []
    assert inst.installs() == []


@pytest.mark.parametrize("where", ["404", "closed-port"])
def test_download_failure(workdir, server, where):
    """A failed download (404, closed port) is an error and nothing is left
    behind (ENV-105)."""
    if where == "404":
        url = server.url
    else:
        closed = Server(server.dir)
        closed.close()
        url = closed.url
    project(workdir, url, "0" * 64, filename="missing.sh")
    result = fails(workdir)
    assert result.errors()[0].startswith("Could not download buildtools installer"), result
    if where == "404":
        assert "404" in result.errors()[0]
    assert not default_dir(workdir).exists()
    assert leftovers(workdir / "build") == []


def test_failing_installer_leaves_no_installation(workdir, server):
    inst = Installer(server.dir, extra=FAILING)
    project(workdir, server.url, inst.sha256)
    result = fails(workdir)
    assert "installer exploded" in result.stderr
    assert any(e.startswith('Command "sh ') and "failed with error 1" in e
               for e in result.errors()), result
    assert not default_dir(workdir).exists()
    assert leftovers(workdir / "build") == []


def test_credentials_in_base_url_are_used_but_never_shown(workdir, server):
    inst = Installer(server.dir)
    url = server.url.replace("http://", "http://user:s3cret@")
    project(workdir, url, inst.sha256)
    env, result = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"
    assert server.auth == ["Basic " + base64.b64encode(b"user:s3cret").decode()]
    assert "s3cret" not in result.stderr


def test_netrc_credentials_answer_an_auth_challenge(workdir, server, tmp_path):
    inst = Installer(server.dir)
    server.challenge = True
    netrc = write(tmp_path / "netrc", "machine 127.0.0.1 login nuser password npw\n")
    project(workdir, server.url, inst.sha256)
    env, result = child_env(workdir, env=clean_env(NETRC_FILE=netrc))
    assert env["BUILDTOOLS_MARK"] == "1"
    assert server.auth == [None, "Basic " + base64.b64encode(b"nuser:npw").decode()]
    assert "npw" not in result.stderr


def test_unknown_keys_are_ignored(workdir, server):
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256, extra="comment: anything")
    env, _ = child_env(workdir)
    assert env["BUILDTOOLS_MARK"] == "1"


def test_float_version_is_rejected(workdir, server):
    """CF-014: ``version: 5.0`` (a YAML float) is a schema violation, reported
    before anything is downloaded: the installer is served locally and
    never requested."""
    inst = Installer(server.dir)
    write(workdir / "oe-init-build-env", INIT_SCRIPT)
    kas_yml = write(workdir / "kas.yml", "header:\n  version: 23\nrepos:\n  this:\n"
                                         "buildtools:\n  version: 5.0\n"
                                         f"  sha256sum: {inst.sha256}\n"
                                         f"  base_url: {server.url}\n  filename: {NAME}\n")
    result = fails(workdir)
    assert f"{kas_yml}:6:3: buildtools.version: 5.0 is not of type 'string'" \
        in result.stderr.splitlines(), result
    assert result.errors()[-1] == \
        f"Error(s) occured while validating the config file: {kas_yml}", result
    assert server.requests == []
    assert inst.installs() == []


def test_offline_no_download_but_installed_buildtools_work(workdir, server):
    """Issue 19.2: KAS_OFFLINE=1 forbids the buildtools download (one clear
    error, no request made); installed buildtools are used offline."""
    inst = Installer(server.dir)
    project(workdir, server.url, inst.sha256)
    result = fails(workdir, clean_env(KAS_OFFLINE="1"))
    message = (f"KAS_OFFLINE is set, but buildtools 5.0 are not installed in "
               f"{default_dir(workdir)} and cannot be downloaded offline")
    assert result.errors() == [message]
    assert server.requests == []
    child_env(workdir)
    env, _ = child_env(workdir, clean_env(KAS_OFFLINE="1"))
    assert env["BUILDTOOLS_MARK"] == "1"
    assert server.requests == [f"/{NAME}"]
