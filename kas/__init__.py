"""kas: set up and run bitbake based builds (OpenEmbedded/Yocto and Isar).

Only constants and the two functions ``kas --version`` needs live here,
so that ``import kas`` stays cheap; everything else is imported lazily by
the command that needs it.
"""

__version__ = "5.5"

# Newest and oldest project configuration format version we read.
CONFIG_FORMAT_VERSION = 23
COMPAT_FORMAT_VERSION = 1

# Header version of the lock files that `kas lock` / `dump --lock` write.
LOCKFILE_VERSION = 14

DOCS_URL = f"https://kas.readthedocs.io/en/{__version__}/userguide/project-configuration.html"


def program_name(argv0: str) -> str:
    """The name argparse would derive, with ``python -m kas`` shown as kas."""
    import os

    name = os.path.basename(argv0)
    return "kas" if name in ("__main__.py", "") else name


def version_line(prog: str) -> str:
    """What ``kas --version`` prints."""
    return (f"{prog} {__version__} (configuration format version "
            f"{CONFIG_FORMAT_VERSION}, earliest compatible version {COMPAT_FORMAT_VERSION})")
