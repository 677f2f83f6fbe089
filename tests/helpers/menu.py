"""Helpers of the ``kas menu`` tests: a project with a recording fake
bitbake (the terminal running ``kas menu`` is helpers.terminal.MenuTerminal)."""

import os

from helpers.repos import write

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
