"""Commands of the kas CLI, one module per command.

A plugin module defines:

* ``COMMAND``: the sub-command name,
* ``HELP``: a one-line description for ``kas --help``,
* ``HELP_ORDER``: its position in the help listing,
* ``EXAMPLE``: one example command line, shown by ``kas <command> --help``,
* ``setup_parser(parser)``: adds its options to its argparse sub-parser,
* ``run(ctx, args)``: executes it; returns an exit code or None for 0,
* optionally ``WORK_DIR_LOCK``: the lock on the work directory the command
  holds while it runs: ``"exclusive"`` if it changes the work directory,
  ``"shared"`` if it only reads it, None or missing for none; or a function
  of the parsed arguments returning one of these.

Plugin modules are discovered by scanning this package, so the dispatcher
never names a command.  They must stay cheap to import: heavy imports go
inside ``run``.
"""

import importlib
import os


def _module_names():
    """The modules of this package.  A directory listing: pkgutil would
    import inspect, which costs more than the rest of ``kas --version``
    (issue 27)."""
    names = set()
    for directory in __path__:
        for entry in os.listdir(directory):
            stem, ext = os.path.splitext(entry)
            if ext in (".py", ".pyc") and stem.isidentifier():
                names.add(stem)
    return sorted(names)


def discover():
    """Return all plugin modules, in help order."""
    modules = []
    for name in _module_names():
        if name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "COMMAND"):
            modules.append(module)
    return sorted(modules, key=lambda m: (m.HELP_ORDER, m.COMMAND))
