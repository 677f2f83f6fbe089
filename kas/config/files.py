"""Reading one configuration file (CF-001 ... CF-004).

YAML is read with PyYAML's safe loader (libyaml when available), JSON with
the standard parser.  Errors name the file and the line and column.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from kas.errors import ConfigError

_YamlLoader: type[yaml.CSafeLoader | yaml.SafeLoader]
try:
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader

YAML_SUFFIXES = (".yml", ".yaml")
JSON_SUFFIXES = (".json",)


def file_format(path: str) -> str:
    """'yaml' or 'json' from the last extension (case-sensitive, CF-001)."""
    suffix = os.path.splitext(path)[1]
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise ConfigError(f"Config file extension not recognized: {path}")


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ConfigError(f"Configuration file not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"Cannot read configuration file {path}: {err.strerror}") from None


def parse(path: str) -> tuple[Any, bytes]:
    """Parse the file at ``path``; returns (data, raw bytes)."""
    kind = file_format(path)
    raw = read_bytes(path)
    if kind == "yaml":
        return _parse_yaml(path, raw), raw
    return _parse_json(path, raw), raw


# libyaml recurses without a limit and crashes the interpreter on absurdly
# deep flow collections.  Files with many brackets (rare) are read with the
# pure-Python loader, whose depth is bounded by the recursion limit.
_MAX_FAST_BRACKETS = 1000


def _parse_yaml(path: str, raw: bytes) -> Any:
    loader = _YamlLoader
    if raw.count(b"[") + raw.count(b"{") > _MAX_FAST_BRACKETS:
        loader = yaml.SafeLoader
    try:
        return yaml.load(raw, Loader=loader)
    except RecursionError:
        raise ConfigError(f"Configuration file is nested too deeply: {path}") from None
    except yaml.reader.ReaderError as err:
        # Undecodable bytes or control characters: no mark, but a position.
        line = raw[:err.position].count(b"\n") + 1
        raise ConfigError(
            f"Configuration file is not valid YAML: Error in line {line}: {path} "
            f"(line {line}: {err.reason})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or " ".join(str(err).split())
        if mark is None:
            raise ConfigError(
                f"Configuration file is not valid YAML: {path} ({problem})") from None
        raise ConfigError(
            f"Configuration file is not valid YAML: Error in line {mark.line + 1}: {path} "
            f"(line {mark.line + 1}, column {mark.column + 1}: {problem})") from None


def _parse_json(path: str, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ConfigError(f"Configuration file is nested too deeply: {path}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"Configuration file is not valid JSON: Error in line {err.lineno}: {path} "
            f"(line {err.lineno}, column {err.colno}: {err.msg})") from None
    except ValueError as err:  # undecodable bytes
        raise ConfigError(f"Configuration file is not valid JSON: {path} ({err})") from None


def compose(raw: bytes) -> yaml.Node | None:
    """The YAML node tree of ``raw`` (YAML or JSON), with positions, or None.

    Only used to report errors, so the slower pure-Python composer that
    keeps node positions costs nothing on the good path.
    """
    # The composer recurses once per nesting level: allow deep documents.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        return yaml.compose(raw, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        sys.setrecursionlimit(limit)


def locate(node: yaml.Node | None, key_path: Sequence[object]) -> tuple[int, int] | None:
    """(line, column), 1-based, of the node at ``key_path`` below the
    composed document ``node``, or the closest ancestor found; None if the
    document could not be composed."""
    mark = node.start_mark if node is not None else None
    for key in key_path:
        if isinstance(node, yaml.MappingNode):
            # The last occurrence of a duplicate key is the one that counts.
            for key_node, value_node in reversed(node.value):
                if isinstance(key_node, yaml.ScalarNode) and _same_key(key_node, key):
                    node, mark = value_node, key_node.start_mark
                    break
            else:
                return _position(mark)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                and key < len(node.value):
            node = node.value[key]
            mark = node.start_mark
        else:
            break
    return _position(mark)


def _same_key(key_node: yaml.ScalarNode, key: object) -> bool:
    if key_node.value == str(key):
        return True
    if isinstance(key, bool) or key is None:
        constructed = yaml.safe_load(key_node.value) if key_node.style is None else None
        return constructed == key and type(constructed) is type(key)
    return False


def _position(mark: yaml.Mark | None) -> tuple[int, int] | None:
    return (mark.line + 1, mark.column + 1) if mark is not None else None
