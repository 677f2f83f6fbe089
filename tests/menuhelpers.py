"""Helpers of the ``kas menu`` tests: a real terminal (a private tmux
server) running ``kas menu``, and a project with a recording fake bitbake."""

import os
import shlex
import shutil
import subprocess
import time
import uuid

from conftest import clean_env, kas_command, write

KCONFIG = """
mainmenu "Menu test"

config KAS_INCLUDE_MAIN
	string
	default "kas.yml"

config KAS_TARGET_MAIN
	string
	default "my-image"

config FEATURE
	bool "Enable the feature"
	help
	  The feature help text.

config GREETING
	string "Greeting"
	default "hello"

config COUNT
	int "Count"
	range 1 10
	default 3

config MASK
	hex "Mask"
	default 0x10

choice
	prompt "Flavour"
	default FLAVOUR_PLAIN

config FLAVOUR_PLAIN
	bool "plain"

config FLAVOUR_FANCY
	bool "fancy"

endchoice

menu "More settings"

config EXTRA
	string "Extra value"
	default "extra"

endmenu
"""

KAS_YML = """
header:
  version: 23
repos:
  this:
"""

# Sourced by kas with the build directory as $1: puts the fake bitbake on PATH.
INIT_SCRIPT = """\
mkdir -p "$1/conf"
export PATH="{bin}:$PATH"
"""

# Records its arguments and the local.conf it was started with.
FAKE_BITBAKE = """\
#!/bin/sh
printf '%s\\n' "$@" > '{rec}/argv'
cp conf/local.conf '{rec}/local.conf'
echo "fake bitbake ran"
"""


def make_project(directory, kconfig=KCONFIG):
    """Kconfig, kas.yml, a fake init script and a recording fake bitbake;
    returns the directory where the fake bitbake records its run."""
    directory = str(directory)
    write(os.path.join(directory, "Kconfig"), kconfig)
    write(os.path.join(directory, "kas.yml"), KAS_YML)
    bin_dir = os.path.join(directory, "bin")
    rec = os.path.join(directory, "rec")
    os.makedirs(rec)
    bitbake = write(os.path.join(bin_dir, "bitbake"), FAKE_BITBAKE.format(rec=rec))
    os.chmod(bitbake, 0o755)
    write(os.path.join(directory, "oe-init-build-env"), INIT_SCRIPT.format(bin=bin_dir))
    return rec


class MenuTerminal:
    """``kas menu`` on a 100x30 terminal of a private tmux server.

    The command's exit code is printed as ``EXIT=<code>`` when it ends; the
    pane stays open so that the output can still be read."""

    def __init__(self, args, cwd, env=None, width=100, height=30, kas_options=()):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"kas-menu-test-{uuid.uuid4().hex[:12]}"
        argv = kas_command() + list(kas_options) + ["menu"] + list(args)
        command = " ".join(shlex.quote(a) for a in argv)
        # The trap keeps the shell alive on Ctrl-C (kas gets its own default).
        script = (f"trap : INT; cd {shlex.quote(str(cwd))} && {command}; "
                  "echo EXIT=$?; sleep 600")
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height),
                  "sh", "-c", script, env=env if env is not None else clean_env())

    def tmux(self, *args, env=None):
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args),
                              check=True, capture_output=True, text=True, env=env).stdout

    def screen(self, escapes=False):
        """The visible pane (with ``escapes``: including the SGR sequences)."""
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def history(self):
        """Everything written to the pane, scrolled-off lines included."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def wait_for(self, text, timeout=20, whole=False):
        """Poll until ``text`` is on the screen (or in the history)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.history() if whole else self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; screen:\n{shown}")
            time.sleep(0.1)

    def wait_gone(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text not in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not go away; screen:\n{shown}")
            time.sleep(0.1)

    def keys(self, *keys):
        """tmux key names (Enter, Escape, Tab, Space, Down ...) or literal text."""
        self.tmux("send-keys", *keys)

    def text(self, text):
        self.tmux("send-keys", "-l", text)

    def exit_code(self, timeout=60):
        out = self.wait_for("EXIT=", timeout=timeout, whole=True)
        return int(out.split("EXIT=")[1].split()[0])

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False,
                       capture_output=True)
