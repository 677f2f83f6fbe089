"""The module structure (issue 17, docs/architecture.md): imports flow one
way, plugins -> pipeline -> config/repos/buildenv/lock -> vcs -> process,
context, errors.

The import graph of ``kas/`` is read from the sources with ``ast``,
including the imports inside functions (most of kas imports lazily, so
module-level imports alone would miss most edges).  ``kas-container`` is
read as text: the commands it forwards must be the commands kas has.
"""

import ast
import os
import re

import pytest
from helpers.run import REPO_ROOT

from kas import plugins

# --- the import graph -------------------------------------------------------


def kas_modules(root=REPO_ROOT):
    """{dotted module name: source path} of every module below ``root``/kas;
    a package is named by its ``__init__.py``."""
    modules = {}
    for directory, _, files in os.walk(os.path.join(root, "kas")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def known_module(name, modules):
    """The longest prefix of ``name`` that is a kas module, else None: for
    ``from kas.errors import KasUserError`` the name is
    ``kas.errors.KasUserError`` and the module ``kas.errors``."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def is_type_checking_block(node):
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports there
    only name types for annotations, which ``from __future__ import
    annotations`` keeps as strings.  They are never executed, so they
    cannot form an import cycle; a module may name the type of an object it
    is handed (``Context``) without depending on the module that makes it."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_nodes(tree):
    """Every node of ``tree`` except those inside ``if TYPE_CHECKING:``
    (its ``else`` branch does run), in source order."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        children = node.orelse if is_type_checking_block(node) else ast.iter_child_nodes(node)
        pending.extend(reversed(list(children)))


def imported_names(tree, package):
    """Every dotted name imported anywhere in ``tree`` (``from a import b``
    gives ``a.b``) where it runs, relative imports resolved against
    ``package``."""
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root=REPO_ROOT):
    """{module: set of the kas modules it imports}, self-imports left out."""
    modules = kas_modules(root)
    graph = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        targets = {known_module(imported, modules)
                   for imported in imported_names(tree, package)}
        graph[name] = targets - {None, name}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan),
    each sorted: every one of them is an import cycle."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_imports_inside_functions(graph):
    """The rules below would pass on an empty graph: check that it has the
    lazy edges kas is known to have (kas.cli imports kas.plugins inside
    build_parser, the pipeline steps import kas.repos inside functions),
    and relative imports resolved."""
    assert "kas.plugins" in graph["kas.cli"]
    assert {"kas.repos.fetch", "kas.buildenv.bbconfig", "kas.errors"} <= graph["kas.pipeline"]
    assert graph["kas.plugins.clean"] == {"kas.clean.cleaner"}
    tree = ast.parse("from . import files\nfrom ..errors import X\n")
    assert list(imported_names(tree, "kas.config")) == ["kas.config.files", "kas.errors.X"]


def test_type_checking_imports_are_no_edges():
    """Issue 17.5: imports under ``if TYPE_CHECKING:`` never run (they only
    name types for annotations), so they are not edges of the graph; those
    in functions, in its ``else`` branch and in other ``if`` blocks are."""
    tree = ast.parse(
        "import typing\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from kas.context import Context\n"
        "else:\n"
        "    import kas.errors\n"
        "if typing.TYPE_CHECKING:\n"
        "    import kas.pipeline\n"
        "if DEBUG:\n"
        "    import kas.log\n"
        "def f():\n"
        "    from kas.vcs import query\n")
    assert sorted(imported_names(tree, "kas")) == [
        "kas.errors", "kas.log", "kas.vcs.query", "typing", "typing.TYPE_CHECKING"]


def test_cycles_finds_a_cycle_through_three_modules():
    """The cycle finder itself, on a small graph."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --- the layers -------------------------------------------------------------

# The layers of docs/architecture.md, top first: a module may import from its
# own layer and the layers below it, never from a layer above.  A package
# named here holds all modules below it; ``kas`` itself is the version
# constants only.
LAYERS = (
    ("kas.completion", "kas.docgen", "kas.cache"),   # python3 -m tools
    ("kas.cli", "kas.__main__", "kas.entry", "kas.plugins"),   # the commands
    ("kas.clean",),
    ("kas.pipeline",),
    ("kas.config", "kas.lock", "kas.repos", "kas.buildenv", "kas.menu", "kas.home", "kas.ssh",
     "kas.provenance", "kas.journal", "kas.difftext"),
    ("kas.vcs",),
    ("kas", "kas.process", "kas.context", "kas.environment", "kas.errors", "kas.docio",
     "kas.fsutil", "kas.fslock", "kas.log", "kas.userns",
     "kas.testhook"),
)


def in_package(module, package):
    """``module`` is ``package`` or below it; ``kas`` holds only itself."""
    return module == package or (package != "kas" and module.startswith(package + "."))


def layer_of(module):
    """The index in LAYERS (0 is the top) of ``module``, else None."""
    for index, packages in enumerate(LAYERS):
        if any(in_package(module, package) for package in packages):
            return index
    return None


def upward_imports(graph):
    """``a imports b`` for every edge of ``graph`` from a layer up to a
    layer above it (modules without a layer are reported by their own test)."""
    layers = {module: layer_of(module) for module in graph.keys() | set().union(*graph.values())}
    return sorted(f"{module} imports {target}"
                  for module, targets in graph.items() if layers[module] is not None
                  for target in targets
                  if layers[target] is not None and layers[target] < layers[module])


def test_upward_imports_finds_an_import_from_below():
    """The layer check itself: the bottom layer importing the configuration
    loader is found, a command importing it is not."""
    assert upward_imports({"kas.docio.reader": {"kas.config.schema", "kas.errors"},
                           "kas.plugins.dump": {"kas.config.schema"}}) == [
        "kas.docio.reader imports kas.config.schema"]
    assert layer_of("kas") == layer_of("kas.errors") != layer_of("kas.config")


def test_every_module_has_a_layer(graph):
    """A new package is placed in LAYERS (and docs/architecture.md) before
    the rules below can hold for it."""
    assert sorted(module for module in graph if layer_of(module) is None) == []


def test_no_module_imports_a_layer_above_its_own(graph):
    """Issue 17, issue 26.2: imports flow one way, from the commands down to
    the helpers (docs/architecture.md, Layers and imports)."""
    assert upward_imports(graph) == []


def test_config_and_lock_do_not_use_each_other(graph):
    """Issue 26.2: both read and write their documents with kas.docio, below
    them; the loader takes only the lock file naming rule from the
    ``kas.lock`` package itself, and kas/lock imports no configuration module
    at run time (it works on the loaded files and Config it is handed)."""
    violations = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items() for target in targets
        if (in_package(module, "kas.lock") and in_package(target, "kas.config"))
        or (in_package(module, "kas.config") and in_package(target, "kas.lock")
            and target != "kas.lock"))
    assert violations == []


# --- the rules --------------------------------------------------------------


def test_no_plugin_imports_another_plugin(graph):
    """Issue 17.3: a command module imports no other module of kas/plugins
    (shared code lives in the library: kas.clean, kas.menu, kas.pipeline)."""
    violations = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items() if module.startswith("kas.plugins")
        for target in targets if target == "kas.plugins" or target.startswith("kas.plugins."))
    assert violations == []


def test_config_imports_nothing_from_repos(graph):
    """Issue 17: kas/config reads configurations only; finding and fetching
    repos is kas/repos' job, above it."""
    violations = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module == "kas.config" or module.startswith("kas.config.")
        for target in targets if target == "kas.repos" or target.startswith("kas.repos."))
    assert violations == []


def test_no_import_cycles(graph):
    """Issue 17: no two modules of kas import each other, directly or
    through others, at module level or inside functions."""
    assert cycles(graph) == []


def test_vcs_interfaces_import_nothing_else_of_the_vcs_layer(graph):
    """Issue 26.1: kas.vcs.base, the interfaces of a VCS kind, is the bottom
    of kas/vcs: the kinds, the cache and the registry build on it, so it
    reaches none of them, directly or through others (it once set up the
    cache inside FetchSettings, an import inside a function)."""
    reached, pending = set(), ["kas.vcs.base"]
    while pending:
        for target in graph[pending.pop()] - reached:
            reached.add(target)
            pending.append(target)
    # kas.vcs.urls is a leaf helper (URL rewriting), below the interfaces.
    assert sorted(m for m in reached if m.startswith("kas.vcs")) == ["kas.vcs.urls"]


def test_no_module_imports_a_private_name_of_another():
    """Issue 17: a name starting with ``_`` is its module's own business;
    what another module needs is made public."""
    modules = kas_modules()
    violations = []
    for module, path in sorted(modules.items()):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("kas"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    violations.append(f"{module} imports {node.module}.{alias.name}")
    assert violations == []


# --- kas-container -------------------------------------------------------------


def container_commands(script_text):
    """The commands kas-container forwards to kas: the pattern of the
    ``case`` branch that sets ``KAS_CMD=$1`` (alone on its line or ending
    the branch with ``;;``)."""
    match = re.search(r"\n\s*([\w|\s\\-]+)\)\s*\n\s*KAS_CMD=\$1\s*(?:;;)?\s*\n", script_text)
    assert match, "no case branch setting KAS_CMD=$1 in kas-container"
    pattern = match.group(1).replace("\\\n", " ")
    return {word.strip() for word in pattern.split("|")}


# Commands kas-container runs itself, on the host, instead of forwarding.
CONTAINER_OWN_COMMANDS = {"doctor"}


def test_kas_container_forwards_exactly_the_kas_commands():
    """Issue 17 / KC-020: the commands kas-container accepts and forwards
    are the commands of kas (the COMMAND of each plugin module): none
    missing, none that kas would reject."""
    with open(os.path.join(REPO_ROOT, "kas-container"), encoding="utf-8") as f:
        accepted = container_commands(f.read())
    assert accepted >= CONTAINER_OWN_COMMANDS
    assert accepted - CONTAINER_OWN_COMMANDS == {plugin.COMMAND for plugin in plugins.discover()}


def test_container_commands_reads_a_continued_case_pattern():
    """The reader of the case pattern copes with a continued line."""
    text = ('    --version)\n        exit 0 ;;\n'
            '    build | shell | \\\n    for-all-repos)\n        KAS_CMD=$1\n        shift\n')
    assert container_commands(text) == {"build", "shell", "for-all-repos"}
