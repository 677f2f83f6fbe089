"""Recording stand-ins for the tools ``kas-container`` runs (KC-160).

``install_fake`` writes small POSIX sh programs named ``docker``,
``podman``, ``sudo``, ``run0``, ``timedatectl`` and ``id`` into a
directory.  Every call of ``docker``/``podman``/``sudo``/``run0`` appends
one record to the file named by ``$FAKE_LOG``: the program name, its pid and
parent pid, its argv, selected environment variables and the content of
every regular file given as a ``-v`` source (read while the engine "runs",
e.g. the temporary ``.git`` file of KC-085).  Records are NUL-separated
fields, so any argument survives unchanged; ``read_log`` parses them.

``controlled_path`` builds a directory that contains only the wanted
stand-ins plus symlinks to the real basic tools, so a test can say "only
podman installed", "no engine", "no sudo but run0" and so on.

Knobs (environment of the script under test):
``FAKE_LOG``             the log file (nothing is recorded without it);
``FAKE_EXIT_STATUS``     exit status of ``<engine> run`` (default 0);
``FAKE_RUN_SLEEP``       seconds ``<engine> run`` sleeps after recording;
``FAKE_DOCKER_CONTEXT``  printed by ``docker context show`` (default ``default``);
``FAKE_DOCKER_VERSION``  printed by ``docker -v`` (default: real Docker text,
                         set it to podman's text to fake podman's docker shim);
``FAKE_TZ``              printed by ``timedatectl show -p Timezone --value``;
``FAKE_UID``/``FAKE_GID`` printed by ``id -u``/``id -g`` (default 1000).
"""

import os
import shutil

DOCKER_VERSION = "Docker version 28.2.2, build e6534b4"
PODMAN_VERSION = "podman version 4.3.1"
DOCKER_SOCKET = "unix:///var/run/docker.sock"
DEFAULT_TZ = "Europe/Berlin"

# Environment variables every record carries (None when unset).
RECORDED_ENV = ("DOCKER_HOST", "PATH", "KAS_DOCKER_ROOTLESS", "SSH_AUTH_SOCK",
                "FAKE_EXIT_STATUS")

# Real programs the script may call; symlinked into the controlled PATH.
BASIC_TOOLS = ("sh", "realpath", "dirname", "basename", "id", "mkdir", "git", "hg", "cat",
               "grep", "sed", "readlink", "sort", "head", "tail", "tr", "uname", "env",
               "printf", "test", "[", "mktemp", "rm", "cp", "awk", "cut", "ls", "stat",
               "chmod", "wc", "true", "false", "expr", "sleep", "echo", "pwd", "cmp",
               "touch", "mv", "ln", "tee", "which")

FAKES = ("docker", "podman", "sudo", "run0", "timedatectl", "id")

# record "$@": REC prog pid ppid nargs args... nenv (name isset value)...
# nfiles (path content)...  -- every field NUL-terminated.
_RECORD = r"""
record() {
    [ -n "${FAKE_LOG:-}" ] || return 0
    {
        printf '%s\0' REC "$PROG" "$$" "$PPID" "$#" "$@" "@NENV@"
        for name in @ENV@; do
            eval "isset=\${$name+1} value=\${$name-}"
            printf '%s\0' "$name" "${isset:-0}" "$value"
        done
        prev=""; n=0
        for a in "$@"; do
            if [ "$prev" = "-v" ] && [ -f "${a%%:*}" ]; then n=$((n + 1)); fi
            prev=$a
        done
        printf '%s\0' "$n"
        prev=""
        for a in "$@"; do
            if [ "$prev" = "-v" ] && [ -f "${a%%:*}" ]; then
                printf '%s\0' "${a%%:*}"
                @CAT@ "${a%%:*}"
                printf '\0'
            fi
            prev=$a
        done
    } >> "$FAKE_LOG"
}
"""

_ENGINE = r"""
case "${1:-}" in
-v|--version)
    record "$@"
    echo "@VERSION@"
    exit 0 ;;
run)
    record "$@"
    [ -z "${FAKE_RUN_SLEEP:-}" ] || @SLEEP@ "$FAKE_RUN_SLEEP"
    exit "${FAKE_EXIT_STATUS:-0}" ;;
context)
    record "$@"
    case "${2:-}" in
    show) echo "${FAKE_DOCKER_CONTEXT:-default}" ;;
    inspect) echo "@SOCKET@" ;;
    esac
    exit 0 ;;
esac
record "$@"
exit 0
"""

# sudo/run0: record, then exec the wrapped command after their own options.
_EXECUTOR = r"""
record "$@"
while [ $# -gt 0 ]; do
    case "$1" in
    -*) shift ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || exit 0
exec "$@"
"""

_TIMEDATECTL = r"""
if [ "$*" = "show -p Timezone --value" ]; then
    echo "${FAKE_TZ:-@TZ@}"
    exit 0
fi
exit 1
"""

_ID = r"""
case "$*" in
-u) echo "${FAKE_UID-1000}" ;;
-g) echo "${FAKE_GID-1000}" ;;
*) exec @REALID@ "$@" ;;
esac
"""


def fake_source(name):
    """Source text of the stand-in ``name`` (one of FAKES)."""
    version = {"docker": '${FAKE_DOCKER_VERSION:-' + DOCKER_VERSION + '}',
               "podman": PODMAN_VERSION}
    body = {"docker": _ENGINE, "podman": _ENGINE, "sudo": _EXECUTOR, "run0": _EXECUTOR,
            "timedatectl": _TIMEDATECTL, "id": _ID}[name]
    text = "#!/bin/sh\nPROG=" + name + "\n" + _RECORD + body
    replacements = {"@NENV@": str(len(RECORDED_ENV)), "@ENV@": " ".join(RECORDED_ENV),
                    "@CAT@": shutil.which("cat") or "/bin/cat",
                    "@SLEEP@": shutil.which("sleep") or "/bin/sleep",
                    "@VERSION@": version.get(name, ""), "@SOCKET@": DOCKER_SOCKET,
                    "@TZ@": DEFAULT_TZ, "@REALID@": shutil.which("id") or "/usr/bin/id"}
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def install_fake(bin_dir, name):
    path = os.path.join(str(bin_dir), name)
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "w") as f:
        f.write(fake_source(name))
    os.chmod(path, 0o755)
    return path


def controlled_path(bin_dir, fakes=("docker", "sudo"), tools=BASIC_TOOLS):
    """Fill ``bin_dir`` with symlinks to the real ``tools`` (those that exist
    on this host) and the stand-ins ``fakes``; returns the PATH value (just
    ``bin_dir``).  A fake replaces a real tool of the same name (``id``)."""
    bin_dir = str(bin_dir)
    os.makedirs(bin_dir, exist_ok=True)
    search = os.environ.get("PATH", "") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    for tool in tools:
        if tool in fakes:
            continue
        real = shutil.which(tool, path=search)
        link = os.path.join(bin_dir, tool)
        if real and not os.path.lexists(link):
            os.symlink(real, link)
    for name in fakes:
        install_fake(bin_dir, name)
    return bin_dir


def read_log(log, partial=False):
    """All records of ``log`` in call order ([] if nothing was called): dicts
    with prog, pid, ppid (ints), argv, env (name -> value or None) and files
    (mounted regular file -> content).  ``partial``: ignore an incomplete
    last record (the log is being written)."""
    if not os.path.exists(str(log)):
        return []
    with open(str(log), "rb") as f:
        data = f.read()
    # Every field ends with NUL: the piece after the last NUL is incomplete.
    fields = [x.decode(errors="surrogateescape") for x in data.split(b"\0")[:-1]]
    records = []
    pos = 0

    def take(count=1):
        nonlocal pos
        if pos + count > len(fields):
            raise IndexError("incomplete record")
        values = fields[pos:pos + count]
        pos += count
        return values

    while pos < len(fields):
        try:
            assert take() == ["REC"], f"corrupt fake log at field {pos}"
            prog, pid, ppid, nargs = take(4)
            argv = take(int(nargs))
            env = {}
            for _ in range(int(take()[0])):
                name, isset, value = take(3)
                env[name] = value if isset == "1" else None
            files = {}
            for _ in range(int(take()[0])):
                path, content = take(2)
                files[path] = content
        except (IndexError, ValueError):
            if partial:
                break
            raise
        records.append({"prog": prog, "pid": int(pid), "ppid": int(ppid), "argv": argv,
                        "env": env, "files": files})
    return records
