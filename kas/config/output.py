"""Writing configurations the way kas prints them (``dump``, lock files).

YAML: block style, ``indent`` spaces for mappings, multi-line strings as
literal blocks, null as an empty value, no document markers.
JSON: ``indent`` spaces and a trailing newline.
"""

from __future__ import annotations

import json
from typing import Any

import yaml


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
    return yaml.dump(data, Dumper=_KasDumper, default_flow_style=False,
                     indent=indent, sort_keys=sort, allow_unicode=True)


def to_json(data: Any, indent: int = 2, sort: bool = False) -> str:
    return json.dumps(data, indent=indent, sort_keys=sort) + "\n"


def serialize(data: Any, fmt: str, indent: int = 2, sort: bool = False) -> str:
    """``fmt`` is 'yaml' or 'json'."""
    return (to_json if fmt == "json" else to_yaml)(data, indent=indent, sort=sort)
