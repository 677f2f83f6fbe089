"""Reading one YAML or JSON document: a configuration or a lock file
(CF-001 ... CF-004).

YAML is read with PyYAML's safe loader (libyaml when available), JSON with
the standard parser.  Errors name the file and the line and column.
"""

from __future__ import annotations

import json
import json.scanner
import os
import stat
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


# A real configuration is a few kilobytes; anything this big is a mistake,
# and reading it would only exhaust memory.
MAX_FILE_SIZE = 64 * 1024 * 1024

# YAML aliases let a tiny document describe an exponentially large tree
# ("billion laughs"); every consumer walks the expanded tree.
MAX_EXPANDED_NODES = 1_000_000


def read_bytes(path: str) -> bytes:
    """The content of the regular file ``path``.

    FIFOs, devices, sockets and directories are refused before reading:
    a FIFO would block forever and /dev/zero never ends.  The FIFO is
    opened without blocking (no writer needed) so even a file swapped for
    one after the check cannot hang us.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ConfigError(f"Not a regular file: {path}")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"Not a regular file: {path}")
            raw = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"Cannot read configuration file {path}: {err.strerror}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(f"Configuration file is larger than "
                          f"{MAX_FILE_SIZE // (1024 * 1024)} MiB: {path}")
    return raw


def parse(path: str) -> tuple[Any, bytes]:
    """Parse the file at ``path``; returns (data, raw bytes)."""
    file_format(path)
    raw = read_bytes(path)
    return parse_bytes(path, raw), raw


def parse_bytes(path: str, raw: bytes) -> Any:
    """Parse ``raw``, the content of ``path``."""
    if file_format(path) == "yaml":
        data = _parse_yaml(path, raw)
        _check_expansion(data, path)
        return data
    return _parse_json(path, raw)


def _check_expansion(data: Any, path: str) -> None:
    """Refuse documents whose aliases expand to too many nodes.

    The loader shares aliased objects, so parsing is cheap; walking the
    tree (validation, merging, printing) visits every shared object once
    per reference.  Count exactly those visits, iteratively, and stop at
    the limit, so the refusal itself costs bounded time and memory.
    """
    count = 1
    stack = [data]
    while stack:
        node = stack.pop()
        children = node.values() if isinstance(node, dict) else node \
            if isinstance(node, list) else ()
        count += len(children)
        if count > MAX_EXPANDED_NODES:
            raise ConfigError(
                f"Configuration file expands to more than {MAX_EXPANDED_NODES:,} values "
                f"(YAML aliases referring to aliases?): {path}")
        stack.extend(children)


# libyaml recurses without a limit and crashes the interpreter on absurdly
# deep flow collections.  Files with many brackets (rare) are read with the
# pure-Python loader, whose depth is bounded by the recursion limit.
_MAX_FAST_BRACKETS = 1000


def yaml_loader_for(raw: bytes) -> type[yaml.CSafeLoader | yaml.SafeLoader]:
    """The fast loader, unless the document could be too deep for it."""
    if raw.count(b"[") + raw.count(b"{") > _MAX_FAST_BRACKETS:
        return yaml.SafeLoader
    return _YamlLoader


def _parse_yaml(path: str, raw: bytes) -> Any:
    try:
        return yaml.load(raw, Loader=yaml_loader_for(raw))
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


# The C JSON decoder never lets a signal handler run: a big file would
# delay Ctrl-C until it is done.  Above this size the pure-Python scanner
# is used; it is slower but honours signals at once.
_MAX_FAST_JSON = 4 * 1024 * 1024


def _parse_json(path: str, raw: bytes) -> Any:
    try:
        if len(raw) <= _MAX_FAST_JSON:
            return json.loads(raw)
        decoder = json.JSONDecoder()
        decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
        return decoder.decode(raw.decode(json.detect_encoding(raw)))
    except RecursionError:
        raise ConfigError(f"Configuration file is nested too deeply: {path}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"Configuration file is not valid JSON: Error in line {err.lineno}: {path} "
            f"(line {err.lineno}, column {err.colno}: {err.msg})") from None
    except ValueError as err:  # undecodable bytes
        raise ConfigError(f"Configuration file is not valid JSON: {path} ({err})") from None
