"""The command line of ``kas-container`` (a POSIX sh script, so there is no
parser to read): its options and commands, kept here as data.
tests/test_completion.py checks this list against ``kas-container --help``.

After the command, kas-container hands the options and arguments to kas,
so those are completed from kas's own parser; only ``doctor`` is
kas-container's own.
"""

from kas.completion.model import (
    CHOICE,
    CONFIG,
    DIR,
    FILE,
    TEXT,
    Command,
    Option,
    Positional,
    Program,
)

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

OPTIONS = (
    Option(["--isar-privileged"], "Use kas-isar container to build Isar image (privileged)"),
    Option(["--isar-rootless"], "Use kas-isar container to build Isar image (rootless)"),
    Option(["--isar"], "Deprecated alias of --isar-privileged"),
    Option(["--with-loop-dev"], "Removed; no longer supported"),
    Option(["--runtime-args"], "Additional arguments to pass to the container runtime",
           value=TEXT, repeat=True, metavar="ARGS"),
    Option(["--docker-args"], "Same as --runtime-args (deprecated)", value=TEXT, repeat=True,
           metavar="ARGS"),
    Option(["-l", "--log-level"], "Set log level (default=info)", value=CHOICE,
           choices=LOG_LEVELS, metavar="LEVEL"),
    Option(["--version"], "Print program version"),
    Option(["--ssh-dir"], "Directory containing SSH configurations", value=DIR, metavar="DIR"),
    Option(["--ssh-agent"], "Forward the ssh agent of the host (SSH_AUTH_SOCK)"),
    Option(["--aws-dir"], "Directory containing AWS configurations", value=DIR, metavar="DIR"),
    Option(["--git-credential-store"], "File path to the git credential store", value=FILE,
           metavar="FILE"),
    Option(["--git-credential-socket"], "Socket of a git credential cache daemon", value=FILE,
           metavar="SOCKET"),
    Option(["--no-proxy-from-env"], "Do not inherit proxy settings from the environment"),
    Option(["--repo-ro"], "Mount the current repository read-only"),
    Option(["--repo-rw"], "Mount the current repository read-write"),
    Option(["--kvm"], "Pass /dev/kvm of the host into the container"),
    Option(["-h", "--help"], "Show this help message and exit"),
)

DOCTOR = Command(
    name="doctor", help="Check this host for kas-container and print the fixes",
    options=[
        Option(["--isar-privileged", "--isar"], "Check for a privileged Isar build"),
        Option(["--isar-rootless"], "Check for a rootless Isar build"),
        Option(["--with-loop-dev"], "Also check the loop devices"),
        Option(["--format"], "Output format", value=CHOICE, choices=("text", "json"),
               metavar="FORMAT"),
    ],
    positionals=[Positional("config", CONFIG, "Config file(s), separated by colons",
                            optional=True)],
    example="kas-container doctor --isar-rootless isar.yml")

# Options kas accepts but kas-container refuses (it exits with an error).
REFUSED_KAS_OPTIONS = ("-E", "--preserve-env")


def _without_refused(command):
    options = [o for o in command.options
               if not set(o.flags) & set(REFUSED_KAS_OPTIONS)]
    return Command(command.name, command.help, options, command.positionals,
                   command.example.replace("kas ", "kas-container ", 1), command.usage)


def kas_container_program(kas):
    """kas-container's options, kas's commands as kas-container passes them
    on, and doctor."""
    commands = [_without_refused(c) for c in kas.commands] + [DOCTOR]
    commands.sort(key=lambda c: c.name)
    return Program(name="kas-container", help="Run kas in a container", options=list(OPTIONS),
                   commands=commands)
