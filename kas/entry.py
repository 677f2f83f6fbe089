"""The ``kas`` console script and ``python3 -m kas``.

``kas --version`` is answered here, before kas.cli and what it needs
(logging, argparse, subprocess: most of the time of a start) are
imported (issue 27); everything else goes to :func:`kas.cli.main`.
"""

import os
import sys

from kas import program_name, version_line


def main() -> int:
    if sys.argv[1:] == ["--version"] and _print_version():
        return 0
    from kas.cli import main as cli_main

    return cli_main()


def _print_version() -> bool:
    """Print the version line as argparse would; False where this is not
    certain to be the same (argparse wraps the line on a narrow terminal,
    an output that cannot be written is reported by kas.cli)."""
    if sys.stdout is None:
        return False
    if "SSH_AUTH_SOCK" in os.environ and any(
            name.startswith("SSH_PRIVATE_KEY") for name in os.environ):
        return False        # kas.cli refuses an ssh-agent conflict (CLI-060) first
    line = version_line(program_name(sys.argv[0]))
    # argparse wraps at the terminal width less 2, which it finds as
    # shutil.get_terminal_size does: COLUMNS, else the terminal, else 80.
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    if len(line) > (columns or 80) - 2:
        return False
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except OSError:
        return False
    return True
