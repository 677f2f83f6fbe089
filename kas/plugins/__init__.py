"""Commands of the kas CLI, one module per command.

A plugin module defines:

* ``COMMAND``: the sub-command name,
* ``HELP``: a one-line description for ``kas --help``,
* ``HELP_ORDER``: its position in the help listing,
* ``EXAMPLE``: one example command line, shown by ``kas <command> --help``,
* ``setup_parser(parser)``: adds its options to its argparse sub-parser,
* ``run(ctx, args)``: executes it; returns an exit code or None for 0.

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
