"""Writing configurations the way kas prints them (``dump``, lock files).

YAML: block style, ``indent`` spaces for mappings, multi-line strings as
literal blocks, null as an empty value, no document markers.
JSON: ``indent`` spaces and a trailing newline.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

import yaml

from kas.errors import OutputError


class _KasDumper(yaml.SafeDumper):
    pass


def _represent_none(dumper: yaml.SafeDumper, _value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KasDumper.add_representer(type(None), _represent_none)
_KasDumper.add_representer(str, _represent_str)


def to_yaml(data: Any, indent: int = 2, sort: bool = False) -> str:
    return _dump_yaml(data, indent, sort, allow_unicode=True)


def _dump_yaml(data: Any, indent: int, sort: bool, allow_unicode: bool) -> str:
    return yaml.dump(data, Dumper=_KasDumper, default_flow_style=False,
                     indent=indent, sort_keys=sort, allow_unicode=allow_unicode)


def to_json(data: Any, indent: int = 2, sort: bool = False) -> str:
    return json.dumps(data, indent=indent, sort_keys=sort) + "\n"


def serialize(data: Any, fmt: str, indent: int = 2, sort: bool = False) -> str:
    """``fmt`` is 'yaml' or 'json'."""
    return (to_json if fmt == "json" else to_yaml)(data, indent=indent, sort=sort)


def print_config(data: Any, fmt: str, indent: int = 2, sort: bool = False) -> None:
    """Write ``data`` to standard output in ``fmt``.

    If the output encoding cannot represent some characters (an ASCII
    locale, PYTHONIOENCODING=ascii), YAML escapes them as "\\u..." the way
    the YAML spec allows; JSON output is plain ASCII already.
    """
    text = serialize(data, fmt, indent=indent, sort=sort)
    if fmt != "json" and not _encodable(text):
        text = _dump_yaml(data, indent, sort, allow_unicode=False)
    write_stdout(text)


def _encodable(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def write_stdout(text: str) -> None:
    """Write and flush ``text``; an output that cannot take it raises
    OutputError instead of a traceback now or at interpreter exit."""
    stream = sys.stdout
    if stream is None:      # started with the descriptor closed (>&-)
        raise OutputError("Cannot write the output: standard output is closed")
    try:
        _write_all(stream, text)
    except BrokenPipeError:
        # The reader has all it wanted (| head): nothing worth saying.
        discard_stdout()
        raise OutputError("Output pipe closed", quiet=True) from None
    except OSError as err:
        discard_stdout()
        raise OutputError(
            f"Cannot write the output to standard output: {err.strerror or err}") from None


def _write_all(stream: TextIO, text: str) -> None:
    """Write every byte of ``text``, unencodable characters escaped.

    Unbuffered text streams (PYTHONUNBUFFERED) ignore short writes, so a
    reader that goes away mid-output would lose the rest silently: write
    the bytes to the descriptor ourselves, until all are out or it fails.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):   # not backed by a descriptor
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    data = memoryview(text.encode(stream.encoding or "utf-8", "backslashreplace"))
    while data:
        data = data[os.write(fd, data):]


def discard_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered would
    fail again when the interpreter flushes it at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, AttributeError, ValueError):
        pass
