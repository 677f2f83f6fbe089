"""Reliability under hostile conditions (issue 21, parts 3 to 6): files that
are not regular or too big, alias bombs, signals while parsing, output that
cannot be written, deep include chains, many repos, clearer messages.

Every condition is real: a real FIFO, socket, device, closed descriptor,
full device, broken pipe and signal, against the real ``kas`` command.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from helpers.repos import make_git_repo, write
from helpers.run import KasResult, assert_user_error, clean_env, kas_command, run_kas

from kas.docio import reader

CONFIG = """\
header:
  version: 14
local_conf_header:
  text: "caf\u00e9 \u20ac"
"""


def kas_limited(args, cwd, timeout=30, memory=2 << 30):
    """Run kas with a cap on its address space and wall time, so today's
    failure modes (read /dev/zero forever, block on a FIFO, expand an alias
    bomb) end the test instead of the machine.  Returns (KasResult, the
    resource usage of kas (os.wait4)); the returncode is None after a
    timeout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(["prlimit", f"--as={memory}", "--", *kas_command(),
                                 *(str(a) for a in args)],
                                cwd=cwd, env=clean_env(), stdout=out, stderr=err)
        status, usage = None, None
        while time.monotonic() - start < timeout:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            status = None
        out.seek(0)
        err.seek(0)
        result = KasResult(subprocess.CompletedProcess(
            proc.args, None if status is None else os.waitstatus_to_exitcode(status),
            out.read(), err.read()))
    return result, usage


# ---- 21.3: files that are not regular files ---------------------------------

def make_special(kind, path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-symlink":
        os.symlink("/dev/zero", path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        return sock
    elif kind == "directory":
        os.mkdir(path)
    return None


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-symlink", "socket", "directory"])
def test_top_file_not_regular_is_refused(workdir, kind):
    """Issue 21.3: a FIFO (blocked forever), a symlink to /dev/zero (read until
    memory ran out), a socket or a directory as config: refused at once."""
    path = workdir / "kas.yml"
    keep = make_special(kind, path)
    # A hang (kas blocked on the FIFO, reading /dev/zero) ends at the
    # timeout with no exit status, which assert_user_error rejects.
    result, _ = kas_limited(["dump", path], workdir, timeout=60)
    assert_user_error(result, f"Not a regular file: {path}")
    if keep is not None:
        keep.close()


def test_include_that_is_a_fifo_is_refused(workdir):
    """Issue 21.3: the same for an include; nobody ever writes to the FIFO."""
    write(workdir / "kas.yml", """
        header:
          version: 14
          includes:
            - inc.yml
        """)
    os.mkfifo(workdir / "inc.yml")
    result, _ = kas_limited(["dump", "kas.yml"], workdir, timeout=60)
    assert_user_error(result, f"Not a regular file: {workdir / 'inc.yml'}")


def test_config_larger_than_64_mib_is_refused(workdir):
    """Issue 21.3: a config file over 64 MiB (sparse: no disk used) is refused
    by its size, not parsed."""
    path = workdir / "big.yml"
    with open(path, "wb") as f:
        f.write(b"header:\n  version: 14\n")
        f.truncate(64 * 1024 * 1024 + 1)
    result, _ = kas_limited(["dump", path], workdir)
    assert_user_error(result, f"Configuration file is larger than 64 MiB: {path}")


BILLION_LAUGHS = """\
header:
  version: 14
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_billion_laughs_is_refused_quickly(workdir):
    """Issue 21.3: aliases expanding to ~10^9 values are refused after a
    bounded amount of work: a clear error, under 200 MB of memory
    (expanding them all would take gigabytes)."""
    path = write(workdir / "lol.yml", BILLION_LAUGHS)
    result, usage = kas_limited(["dump", path], workdir, timeout=120)
    assert_user_error(result, "Configuration file expands to more than 1,000,000 values "
                              f"(YAML aliases referring to aliases?): {path}")
    assert usage.ru_maxrss / 1024 < 200


def test_shared_anchor_below_the_limit_still_loads(workdir):
    """Issue 21.3: ordinary anchors and aliases keep working."""
    path = write(workdir / "kas.yml", """
        header:
          version: 14
        local_conf_header:
          a: &text |
            X = "1"
          b: *text
        """)
    result = run_kas("dump", path, cwd=workdir)
    assert result.returncode == 0, result
    assert result.stdout.count('X = "1"') == 2


def cpu_seconds(pid):
    """User and system CPU time of the running process ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bytes_read(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def wait_for(proc, ready, what):
    """Poll ``ready()`` while ``proc`` runs (at most a minute)."""
    for _ in range(6000):
        assert proc.poll() is None, f"kas ended before {what}"
        if ready():
            return
        time.sleep(0.01)
    raise AssertionError(f"kas never got to {what}")


@pytest.mark.slow
def test_sigterm_while_parsing_a_big_json_file(workdir):
    """Issue 21.3: SIGTERM is honoured while a big (but allowed) JSON file
    is parsed; the C decoder would hold the signal until it had finished.
    Told in CPU seconds, which the load of the machine does not inflate:
    the signal goes once kas has read the file and spent a third of what
    the C decoder needs for it; what kas spends after it must be well below
    the two thirds the C decoder would still need."""
    path = workdir / "big.json"
    raw = ('{"header": {"version": 14}, "x": [' + "0," * (12 << 20) + "0]}").encode()
    path.write_bytes(raw)
    # Above the size the C decoder still parses.
    assert len(raw) > reader._MAX_FAST_JSON
    started = time.process_time()
    json.loads(raw)
    c_decoder = time.process_time() - started
    proc = subprocess.Popen(kas_command() + ["dump", str(path)], cwd=workdir, env=clean_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # One read() takes the whole file: the imports before it read less.
        wait_for(proc, lambda: bytes_read(proc.pid) >= len(raw), "reading the file")
        parsing = cpu_seconds(proc.pid)
        wait_for(proc, lambda: cpu_seconds(proc.pid) >= parsing + c_decoder / 3,
                 "parsing for a while")
        at_signal = cpu_seconds(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        proc.kill()
    rest = proc.stderr.read()
    proc.stderr.close()
    assert os.waitstatus_to_exitcode(status) == 130, rest
    assert "kas execution cancelled" in rest
    after = usage.ru_utime + usage.ru_stime - at_signal
    assert after < c_decoder / 3, (after, c_decoder)


# ---- 21.4: output that cannot be written ------------------------------------

@pytest.fixture
def config(workdir):
    return write(workdir / "kas.yml", CONFIG)


@pytest.mark.parametrize("command", [["dump", "kas.yml"], ["diff", "kas.yml", "other.yml"],
                                     ["--version"]])
def test_stdout_closed(workdir, config, command):
    """Issue 21.4: ``kas dump cfg.yml >&-`` (and any other printing command):
    one clear error, exit non-zero (was an AttributeError traceback, or
    exit 0 with the version lost)."""
    write(workdir / "other.yml", CONFIG.replace("caf", "the "))
    proc = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *kas_command(), *command],
                          check=False, cwd=workdir, env=clean_env(),
                          stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Cannot write the output: standard output is closed" in proc.stderr
    assert KasResult(proc).errors() in (
        [], ["Cannot write the output: standard output is closed"])


def test_dump_with_stderr_closed(workdir, config):
    """Issue 21.4: ``kas dump cfg.yml 2>&-``: the logs are lost, the output
    is not (was an AttributeError on sys.stderr, exit 1, no output)."""
    proc = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *kas_command(), "dump", config],
                          check=False, cwd=workdir, env=clean_env(),
                          stdout=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("header:\n  version: 14\n")


def test_dump_to_dev_full(workdir, config):
    """Issue 21.4: ``>/dev/full``: one clear error, exit non-zero, and no
    second complaint when the interpreter exits."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(kas_command() + ["dump", config], check=False, cwd=workdir,
                              env=clean_env(), stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert_user_error(KasResult(proc),
                      "Cannot write the output to standard output: No space left on device")
    assert "Exception ignored" not in proc.stderr


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_dump_into_a_pipe_closed_early(workdir, unbuffered):
    """Issue 21.4: ``kas dump big.yml | head -1``: silent, but the exit
    status says that output was lost (unbuffered, the rest used to be
    dropped silently with exit 0)."""
    lines = ["header:\n  version: 14\nlocal_conf_header:\n"]
    lines += [f"  entry{i}: value {i}\n" for i in range(20000)]
    config = write(workdir / "kas.yml", "".join(lines))
    env = clean_env(PYTHONUNBUFFERED=unbuffered)
    if not unbuffered:
        del env["PYTHONUNBUFFERED"]
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    proc = subprocess.run(kas_command() + ["dump", config], check=False, cwd=workdir,
                          env=env, stdout=reader.stdin, stderr=subprocess.PIPE, text=True,
                          timeout=60)
    reader.stdin.close()
    assert reader.stdout.read() == b"header:\n"
    reader.wait()
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert KasResult(proc).errors() == []


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_dump_non_ascii_to_an_ascii_stdout(workdir, config, fmt):
    """Issue 21.4: PYTHONIOENCODING=ascii: non-ASCII text is escaped as
    YAML/JSON allow, and the output reads back to the same values."""
    import json

    import yaml

    env = clean_env(PYTHONIOENCODING="ascii")
    result = run_kas("dump", "--format", fmt, config, cwd=workdir, env=env)
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    result.stdout.encode("ascii")
    data = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert data["local_conf_header"]["text"] == "caf\u00e9 \u20ac"


def test_dump_non_ascii_stays_literal_on_utf8(workdir, config):
    """Issue 21.4: on a UTF-8 stdout the YAML output is unchanged (kas 5.5's)."""
    env = clean_env(PYTHONIOENCODING="utf-8")
    result = run_kas("dump", config, cwd=workdir, env=env)
    assert "  text: caf\u00e9 \u20ac\n" in result.stdout


# ---- 21.5: limits that real configs reach -------------------------------------

def write_chain(directory, depth):
    for level in range(depth):
        include = (f"  includes:\n    - f{level + 1}.yml\n" if level + 1 < depth else "")
        write(directory / f"f{level}.yml",
              f"header:\n  version: 14\n{include}local_conf_header:\n  l{level}: x\n")


def test_include_chain_of_1000_levels(workdir):
    """Issue 21.5: 1,000 nested includes load (kas 5.5 reads 300; we refused
    more than 200 and recursed once per level)."""
    write_chain(workdir, 1000)
    result = run_kas("dump", workdir / "f0.yml", cwd=workdir, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "  l999: x\n" in result.stdout
    assert result.stdout.index("l999:") < result.stdout.index("l0:")


def test_include_cycle_deep_in_a_long_chain(workdir):
    """Issue 21.5: cycle detection still works at depth."""
    write_chain(workdir, 400)
    write(workdir / "f399.yml", "header:\n  version: 14\n  includes:\n    - f350.yml\n")
    result = run_kas("dump", workdir / "f0.yml", cwd=workdir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.errors()[0]
    assert message.startswith(f"Include cycle detected: {workdir / 'f350.yml'} -> ")
    assert message.endswith(f"{workdir / 'f399.yml'} -> {workdir / 'f350.yml'}")


def dump_cpu_seconds(directory, count):
    lines = ["header:\n  version: 23\nrepos:\n  this:\n"]
    lines += [f"  repo{i}:\n    path: /srv/layers/repo{i}\n    layers:\n      meta-{i}:\n"
              for i in range(count)]
    path = write(directory / f"repos{count}.yml", "".join(lines))
    # Both sizes parse and validate: no configuration cache (issue 27).
    proc = subprocess.Popen(kas_command() + ["dump", path], cwd=directory,
                            env=clean_env(KAS_VALIDATION_CACHE="0"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_utime + usage.ru_stime


@pytest.mark.slow
def test_dump_of_many_repos_scales_linearly(workdir):
    """Issue 21.5: 10,000 repos cost at most 5.5 x the CPU time of 2,000 (the
    repo map was rebuilt on every lookup: quadratic)."""
    small = dump_cpu_seconds(workdir, 2000)
    large = dump_cpu_seconds(workdir, 10000)
    assert large <= 5.5 * small, (small, large)


# ---- 21.6: messages ---------------------------------------------------------------

@pytest.mark.parametrize(("value", "hint"), [
    ('"abc"', ""), ('"14"', " (write the number without quotes)")])
def test_string_version_says_what_a_version_is(workdir, value, hint):
    """Issue 21.6: a string version other than "0.10" is explained."""
    path = write(workdir / "kas.yml", f"header:\n  version: {value}\n")
    result = run_kas("dump", path, cwd=workdir)
    assert result.returncode == 2
    shown = value.strip('"')
    assert (f"{path}:2:3: header.version: '{shown}' is not a format version: an integer "
            f'from 1 to 23 or the string "0.10" was expected{hint}') in result.stderr


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_leftover_partial_clone_that_is_not_a_directory(workdir, tmp_path, kind):
    """Issue 21.6: a symlink or file where the partial clone goes is named,
    with what to do (was "Cannot call rmtree on a symbolic link"); what it
    points to is left alone."""
    upstream = make_git_repo(tmp_path / "upstream")
    write(workdir / "kas.yml", f"""
        header:
          version: 14
        repos:
          up:
            url: {upstream}
            branch: main
        """)
    leftover = workdir / ".up.kas-partial.leftover"
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "data").write_text("keep\n")
    if kind == "symlink":
        leftover.symlink_to(victim)
    else:
        leftover.write_text("not a clone\n")
    result = run_kas("checkout", "kas.yml", cwd=workdir)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    what = "a symbolic link" if kind == "symlink" else "not a directory"
    assert result.errors() == [
        (f"{leftover} is where kas clones a repository before moving it into place, "
         f"but it is {what}: remove or rename it and run kas again")], result
    assert (victim / "data").read_text() == "keep\n"
    assert os.path.lexists(leftover)
