"""``kas dump --explain``: where every value of the effective configuration
was set (issue 18.1).

The normal loader keeps no positions (that would slow every run down).
When an explanation is asked for, this module runs the loader's own merge
of the loaded files again (:func:`kas.config.loop.merge_files`) with a hook
that is told every value a file sets, looks its line up in the positions
of the file's bytes (:mod:`kas.docio.positions`), and keeps per leaf path
the chain of settings that made its value.  Environment overrides and
defaults come from the table :class:`kas.config.model.Config` applies,
``ENV_OVERRIDES``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from kas.config import model
from kas.config.loop import merge_files
from kas.docio.positions import read_positions
from kas.docio.reader import file_format, yaml_loader_for
from kas.errors import KasUserError

if TYPE_CHECKING:
    from kas.config.includes import LoadedFile
    from kas.config.model import Config
    from kas.context import Context
    from kas.docio.positions import Located

    # The keys leading to a value of the configuration.
    KeyPath = tuple[str, ...]


SHORT_VALUE = 40    # characters of a replaced value shown in a comment
MAX_WAS = 5         # replaced values listed in a comment (the latest ones)


class Setting(NamedTuple):
    """One place that gave a path its value."""

    where: str          # "kas/base.yml:4", "lock x.lock.yml:3", "env KAS_MACHINE", "default"
    value: Any


class _Node:
    """The merge history of one path of the configuration."""

    __slots__ = ("children", "settings")

    def __init__(self) -> None:
        self.settings: list[Setting] = []       # Settings that replaced the value, merge order
        self.children: dict[str, _Node] = {}    # key -> _Node, while the value is a mapping


class Explanation:
    """The settings of every path, replayed in merge order."""

    def __init__(self) -> None:
        self.root = _Node()
        # (path, Setting) of every leaf set, merge order
        self.events: list[tuple[KeyPath, Setting]] = []
        self.keys: dict[str, Any] = {}      # every path ever set, as a tree of dicts

    # --- building ---------------------------------------------------------

    def file_set(self, path: KeyPath, value: Any, label: str,
                 positions: Located | None) -> None:
        """The merge puts ``value``, from the file ``label`` whose keys are
        at ``positions``, in place at ``path``: a mapping brings all its
        keys anew."""
        line = _line(positions, path)
        self.set(path, Setting(f"{label}:{line}" if line is not None else label, value))
        if isinstance(value, dict):
            for key, item in value.items():
                self.file_set(path + (key,), item, label, positions)

    def set(self, path: KeyPath, setting: Setting) -> None:
        """``path`` gets a new value (from a file, the environment, a
        default): earlier values below it are gone (INC-053)."""
        node = self.root
        keys = self.keys
        for key in path:
            node = node.children.setdefault(key, _Node())
            keys = keys.setdefault(key, {})
        node.settings.append(setting)
        node.children = {}
        if not isinstance(setting.value, dict) or not setting.value:
            self.events.append((path, setting))

    # --- questions --------------------------------------------------------

    def settings(self, path: KeyPath) -> list[Setting]:
        node = self.root
        for key in path:
            child = node.children.get(key)
            if child is None:
                return []
            node = child
        return node.settings

    def history(self, path: KeyPath) -> list[tuple[KeyPath, Setting]]:
        """Every setting that touched ``path``: of the path itself, of the
        paths below it, and of a path above it that replaced it.  A repo's
        commit, branch or url also shows its override (CF-706: what lock
        files set)."""
        paths = [path, *_override_paths(path)]
        return [(p, s) for p, s in self.events
                if any(_touches(p, wanted) for wanted in paths)]

    def split_key(self, key: str, data: dict[str, Any]) -> KeyPath:
        """The path of the dotted ``key``; key names may hold dots
        themselves, so the longest name known at each level wins."""
        names = key.split(".")
        path = _match(names, [self.keys, data])
        if path is None and names[-1] in OVERRIDABLE:
            # A repo's commit may exist only as its override (a lock pin).
            repo = _match(names[:-1], [self.keys, data])
            if repo is not None and len(repo) == 2 and repo[0] == "repos":
                path = (*repo, names[-1])
        if path is None:
            raise KasUserError(f"--explain: the configuration has no key {key}")
        return path


OVERRIDABLE = ("commit", "branch", "url")


def _line(positions: Located | None, path: KeyPath) -> int | None:
    """The line of the key at ``path`` in a file, if known."""
    line = None
    for key in path:
        entry = positions.entry(key) if positions else None
        if entry is None:
            return None
        line, positions = entry.at[0], entry.value
    return line


def _override_paths(path: KeyPath) -> list[KeyPath]:
    if len(path) == 3 and path[0] == "repos" and path[2] in OVERRIDABLE:
        return [("overrides", *path)]
    return []


def _touches(changed: KeyPath, wanted: KeyPath) -> bool:
    """A setting of ``changed`` affects ``wanted``: same path, below it, or
    a value above it that replaced the mapping ``wanted`` was part of."""
    size = len(wanted)
    return changed[:size] == wanted or (len(changed) < size and wanted[:len(changed)] == changed)


def final_value(data: dict[str, Any], path: KeyPath) -> Any:
    """The value of ``path`` kas uses: a repo's override wins (CF-706)."""
    for override in _override_paths(path):
        holder = lookup(data, override[:-1])
        if isinstance(holder, dict) and override[-1] in holder:
            return holder[override[-1]]
    return lookup(data, path)


def _match(names: list[str], trees: list[Any]) -> KeyPath | None:
    """Split ``names`` into keys of ``trees`` (nested mappings), longest
    key first; None if impossible."""
    if not names:
        return ()
    for size in range(len(names), 0, -1):
        key = ".".join(names[:size])
        below = [t[key] for t in trees if isinstance(t, dict) and key in t]
        if below:
            rest = _match(names[size:], below)
            if rest is not None:
                return (key, *rest)
    return None


# --- the explanation of a run ---------------------------------------------------

def file_label(loaded: LoadedFile, work_dir: str, repo_dirs: dict[str, str],
               top_repo: str) -> str:
    """``path`` relative to the work dir, or ``repo:path`` for a file of a
    repository other than the top one; lock files are marked."""
    root = os.path.realpath(loaded.repo_root) if loaded.repo_root else None
    if root and root in repo_dirs and root != top_repo:
        label = f"{repo_dirs[root]}:{os.path.relpath(os.path.realpath(loaded.path), root)}"
    else:
        label = os.path.relpath(loaded.path, work_dir)
    return f"lock {label}" if loaded.in_lock else label


def explain(ctx: Context, config: Config) -> Explanation:
    """The Explanation of ``config`` as loaded by this run."""
    known = getattr(ctx.resolver, "known", None) or {}
    repo_dirs = {os.path.realpath(path): rid for rid, path in known.items()}
    top_repo = os.path.realpath(config.top_repo_path)
    result = Explanation()
    sources: dict[LoadedFile, tuple[str, Located | None]] = {}

    def on_set(loaded: LoadedFile, path: KeyPath, value: Any) -> None:
        if loaded not in sources:
            sources[loaded] = (file_label(loaded, ctx.work_dir, repo_dirs, top_repo),
                               read_positions(loaded.raw, file_format(loaded.path)))
        result.file_set(path, value, *sources[loaded])

    merge_files(config.loaded_files, on_set)   # the loader's own merge, told each value
    _add_environment(result, config)
    return result


def _add_environment(result: Explanation, config: Config) -> None:
    """KAS_MACHINE etc. win over the files; a key no file sets is kas's
    default (CF-400 ... CF-403, CF-301)."""
    for override in model.ENV_OVERRIDES.values():
        value = override.value(config.environ)
        if value is not None:
            result.set((override.key,), Setting(f"env {override.variable}", value))
        elif override.key not in config.data:
            result.set((override.key,), Setting("default", override.default))
    if not config.data.get("build_system"):
        result.set(("build_system",), Setting("default", model.DEFAULT_BUILD_SYSTEM))


def effective_data(result: Explanation, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (what plain ``dump`` prints) with the values kas fills in."""
    data = dict(data)
    for key in [*model.ENV_OVERRIDES, "build_system"]:
        chain = result.settings((key,))
        if chain and chain[-1].where.startswith(("env ", "default")):
            data[key] = chain[-1].value
    return data


# --- rendering ------------------------------------------------------------------

def short(value: Any, limit: int = SHORT_VALUE) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def comment(result: Explanation, path: KeyPath, value: Any, option: str | None = None) -> str:
    """The trailing comment of the leaf at ``path`` holding ``value``."""
    chain = list(result.settings(path))
    if path == ("header", "version") and chain:
        # INC-063: the highest version of the files, set by every file.
        where = [s.where for s in chain if s.value == value][-1:] or [chain[-1].where]
        if len(chain) == 1:
            return where[0]
        return f"{where[0]} (the highest of {len(chain)} files)"
    if chain and chain[-1].value == value:
        current, earlier = chain[-1].where, chain[:-1]
    else:
        current, earlier = f"set by {option}" if option else "kas", chain
    if not earlier:
        return current
    was = [f"{short(s.value)} in {s.where}" for s in earlier[-MAX_WAS:]]
    if len(earlier) > MAX_WAS:
        was.insert(0, f"{len(earlier) - MAX_WAS} earlier settings")
    return f"{current} (was {', '.join(was)})"


def annotate_yaml(result: Explanation, data: dict[str, Any], text: str,
                  option: str | None = None) -> str:
    """``text``, the YAML dump of ``data``, with a comment on every leaf."""
    lines = text.split("\n")
    notes: dict[int, str] = {}
    root = yaml.compose(text, Loader=yaml_loader_for(text.encode()))
    if isinstance(root, yaml.MappingNode):     # the dump of a mapping always is
        _annotate(root, data, (), result, notes, option)
    for index, note in notes.items():
        lines[index] += f"  # {note}"
    return "\n".join(lines)


def _annotate(node: yaml.MappingNode, data: dict[str, Any], path: KeyPath,
              result: Explanation, notes: dict[int, str], option: str | None) -> None:
    for key_node, value_node in node.value:
        key = key_node.value
        value = data[key]
        if isinstance(value_node, yaml.MappingNode) and value_node.value:
            _annotate(value_node, value, path + (key,), result, notes, option)
            continue
        notes[_comment_line(key_node, value_node)] = comment(result, path + (key,), value,
                                                             option)


def _comment_line(key_node: yaml.Node, value_node: yaml.Node) -> int:
    """The line a comment can end without changing the value: after the
    last line of a plain or quoted scalar, else on the key's line (block
    scalar header, block collection, empty value)."""
    # libyaml reports plain scalars with style "", PyYAML with None.
    if not isinstance(value_node, yaml.ScalarNode):
        return key_node.end_mark.line
    plain = not value_node.style
    if (plain and value_node.value != "") or value_node.style in ("'", '"'):
        return value_node.end_mark.line
    return key_node.end_mark.line


def chain_lines(result: Explanation, path: KeyPath, final: Any) -> str:
    """``--explain=KEY``: each setting of the key in merge order, then the
    final value."""
    entries = [(s.where, _below(p, path), s.value) for p, s in result.history(path)]
    width = max((len(where) for where, _, _ in entries), default=0)
    lines = [".".join(path)]
    for where, below, value in entries:
        name = ".".join(below) + ": " if below else ""
        lines.append(f"  {where:<{width}}  {name}{json.dumps(value, ensure_ascii=False)}")
    lines.append(f"  = {json.dumps(final, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _below(changed: KeyPath, path: KeyPath) -> KeyPath:
    """How a setting's path is shown under ``path``: the part below it, the
    full path for an override or a replaced parent."""
    if changed[:len(path)] == path:
        return changed[len(path):]
    return changed


def chain_document(result: Explanation, path: KeyPath, final: Any) -> dict[str, Any]:
    """``--explain=KEY --format json``: the same as a JSON document."""
    return {"key": list(path),
            "settings": [{"source": s.where, "path": list(_below(p, path)), "value": s.value}
                         for p, s in result.history(path)],
            "value": final}


def lookup(data: Any, path: KeyPath) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def render(ctx: Context, config: Config, data: dict[str, Any], key: str = "",
           fmt: str = "yaml", indent: int = 2, sort: bool = False,
           option: str | None = None) -> str:
    """What ``kas dump --explain[=KEY]`` prints for ``data`` (the dump
    document after the dump options were applied)."""
    from kas.docio.writer import serialize, to_yaml

    result = explain(ctx, config)
    data = effective_data(result, data)
    if not key:
        return annotate_yaml(result, data, to_yaml(data, indent=indent, sort=sort), option)
    path = result.split_key(key, data)
    final = final_value(data, path)
    if fmt == "json":
        return serialize(chain_document(result, path, final), "json", indent=indent,
                         sort=sort)
    return chain_lines(result, path, final)
