"""Writing configurations the way kas prints them (``dump``, lock files).

YAML: block style, ``indent`` spaces for mappings, multi-line strings as
literal blocks, null as an empty value, no document markers.
JSON: ``indent`` spaces and a trailing newline.
"""

import json

import yaml


class _KasDumper(yaml.SafeDumper):
    pass


def _represent_none(dumper, _value):
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


def _represent_str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KasDumper.add_representer(type(None), _represent_none)
_KasDumper.add_representer(str, _represent_str)


def to_yaml(data, indent=2, sort=False):
    return yaml.dump(data, Dumper=_KasDumper, default_flow_style=False,
                     indent=indent, sort_keys=sort, allow_unicode=True)


def to_json(data, indent=2, sort=False):
    return json.dumps(data, indent=indent, sort_keys=sort) + "\n"


def serialize(data, fmt, indent=2, sort=False):
    """``fmt`` is 'yaml' or 'json'."""
    return (to_json if fmt == "json" else to_yaml)(data, indent=indent, sort=sort)
