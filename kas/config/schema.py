"""Validation of one configuration file against ``kas/schema-kas.json``.

Every file is validated on its own right after parsing (CF-010).  All
violations are reported at once (CF-011), each naming the file, the line
and column, and the key path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from kas import COMPAT_FORMAT_VERSION, CONFIG_FORMAT_VERSION, DOCS_URL
from kas.docio.positions import locate, read_positions
from kas.docio.reader import file_format, parse, parse_bytes, read_bytes
from kas.errors import ConfigError, ConfigValidationError

if TYPE_CHECKING:
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError

    from kas.config.validcache import ValidationCache

    # Keys and list indexes from the top of a file down to a value.
    KeyPath = tuple[object, ...]

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "schema-kas.json")

_validator: Draft7Validator | None = None


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)     # our own file: an object
    return schema


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    """Replace every local ``$ref`` by the definition it names.

    Our schema is not recursive, and resolving references on every
    validation is where jsonschema spends most of its time.  As draft 7
    says, keywords next to a ``$ref`` are ignored.
    """
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/definitions/"):
            return _inline_refs(definitions[ref[len("#/definitions/"):]], definitions)
        return {k: _inline_refs(v, definitions) for k, v in node.items()
                if k != "definitions"}
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node


def _get_validator() -> Draft7Validator:
    # jsonschema costs ~0.1 s to import: only pay for it when a file is read.
    global _validator
    if _validator is None:
        from jsonschema import Draft7Validator
        schema = load_schema()
        _validator = Draft7Validator(_inline_refs(schema, schema.get("definitions", {})))
    return _validator


def validate(data: Any, path: str, raw: bytes) -> None:
    """Raise ConfigValidationError listing every violation in ``data``."""
    problems = list(_structure_problems(data))
    if not problems:
        problems = [_describe(err) for err in _get_validator().iter_errors(data)]
    if not problems:
        return
    problems.sort(key=lambda p: (format_key_path(p[0]), p[1]))
    document = read_positions(raw, file_format(path))
    lines = []
    for key_path, message in problems:
        pos = locate(document, key_path)
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else path
        lines.append(f"Config file validation Error:\n"
                     f"{where}: {format_key_path(key_path)}: {message}\n"
                     f"See {DOCS_URL} for the configuration format.")
    raise ConfigValidationError(path, lines)


def _describe(err: ValidationError) -> tuple[KeyPath, str]:
    """(key path, message) of a jsonschema error, made more specific."""
    key_path: KeyPath = tuple(err.absolute_path)
    message = err.message
    if key_path == ("header", "version") and err.validator == "const":
        message = _version_string_message(err.instance)
    elif err.validator == "additionalProperties" and isinstance(err.instance, dict) \
            and isinstance(err.schema, dict):
        allowed = err.schema.get("properties", {})
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            key_path += (extra[0],)
    elif err.context:
        # anyOf/oneOf: say why the closest alternative did not match.
        from jsonschema.exceptions import best_match
        best = best_match(err.context)
        if best is not None and best.message != message:
            message = f"{message} ({best.message})"
    return key_path, message


def _version_string_message(value: Any) -> str:
    """A string format version other than "0.10": say what a version is,
    not only which string would be accepted."""
    message = (f"{value!r} is not a format version: an integer from "
               f'{COMPAT_FORMAT_VERSION} to {CONFIG_FORMAT_VERSION} or the string "0.10" '
               "was expected")
    if value.strip().isdigit():
        message += " (write the number without quotes)"
    return message


MAX_DEPTH = 64
_PLAIN_TYPES = (str, int, float, bool, type(None), dict, list)


def _structure_problems(data: Any) -> Iterator[tuple[KeyPath, str]]:
    """What no schema rule can express but every consumer relies on: string
    keys (CF-005), JSON-compatible values, no NUL characters, and a nesting
    depth that recursive code can handle.  Iterative on purpose."""
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        key_path, node = stack.pop()
        if len(key_path) > MAX_DEPTH:
            yield key_path, f"values nested more than {MAX_DEPTH} levels deep are not supported"
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str):
                    stack.append((key_path + (key,), value))
                else:
                    yield key_path + (key,), (
                        f'key {key!r} is not a string; quote it ("{key}":)')
        elif isinstance(node, list):
            stack.extend((key_path + (index,), item) for index, item in enumerate(node))
        elif isinstance(node, str):
            if "\0" in node:
                yield key_path, "contains a NUL character"
        elif not isinstance(node, _PLAIN_TYPES):
            yield key_path, (f"{node!r} is a YAML {type(node).__name__}, not a string, "
                             "number, boolean, list or mapping; quote it")


def format_key_path(key_path: Sequence[object]) -> str:
    """``repos.poky.layers.meta`` / ``header.includes[1]``."""
    text = ""
    for key in key_path:
        if isinstance(key, int) and not isinstance(key, bool):
            text += f"[{key}]"
        else:
            text += ("." if text else "") + str(key)
    return text or "<top level>"


def format_version(data: dict[str, Any]) -> int:
    """The integer format version of a validated file ("0.10" is 1)."""
    version = data["header"]["version"]
    return 1 if version == "0.10" else int(version)


def check_version(data: dict[str, Any], path: str) -> int:
    """CF-101: the supported range (validation already enforces it)."""
    version = format_version(data)
    if not COMPAT_FORMAT_VERSION <= version <= CONFIG_FORMAT_VERSION:
        raise ConfigError(
            f"This version of kas is compatible with version {COMPAT_FORMAT_VERSION} "
            f"to {CONFIG_FORMAT_VERSION}, file has version {version}: {path}")
    return version


class ConfigFile(NamedTuple):
    """One configuration file as read: parsed, valid, in the supported range."""

    data: dict[str, Any]    # the parsed content
    raw: bytes              # the bytes it was parsed from
    version: int            # the integer format version


def read_config_file(path: str, cache: ValidationCache | None = None) -> ConfigFile:
    """Parse, validate and version-check the file at ``path``: what every
    reader of a configuration file does before using it (the loader, the
    clean commands' build system, ``kas menu``'s stored values).  With a
    ``cache``, content that passed validation before is not validated
    again (issue 27: a re-run need not load jsonschema)."""
    if cache is None:
        data, raw = parse(path)
        validate(data, path, raw)
    else:
        file_format(path)
        raw = read_bytes(path)
        data = cache.lookup(path, raw)
        if data is None:
            data = parse_bytes(path, raw)
            validate(data, path, raw)
            cache.remember(path, raw, data)
    return ConfigFile(data, raw, check_version(data, path))
