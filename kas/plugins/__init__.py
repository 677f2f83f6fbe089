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
import pkgutil


def discover():
    """Return all plugin modules, in help order."""
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "COMMAND"):
            modules.append(module)
    return sorted(modules, key=lambda m: (m.HELP_ORDER, m.COMMAND))
