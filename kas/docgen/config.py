"""docs/reference/config.md from kas/schema-kas.json.

Besides ``description``, the schema carries annotations that validation
ignores: ``x-format-version`` (the format version that introduced a key),
``default`` and ``examples``.
"""

import json

import yaml

from kas.config.schema import load_schema
from kas.docgen import HEADER

VERSION = "x-format-version"
ANNOTATIONS = ("description", VERSION, "default", "examples")

# How the user-chosen keys of a mapping are shown in key paths.
PLACEHOLDERS = {"repos": "<repo-id>", "layers": "<layer-path>", "patches": "<patch-id>",
                "env": "<variable>", "signers": "<signer-id>", "artifacts": "<artifact-id>",
                "menu_configuration": "<symbol>", "bblayers_conf_header": "<block-name>",
                "local_conf_header": "<block-name>"}


def resolve(schema, node):
    """The node a ``$ref`` names, with the annotations written next to the
    ``$ref`` taking precedence (validation ignores them, the docs do not)."""
    if "$ref" not in node:
        return node
    target = resolve(schema, schema["definitions"][node["$ref"].rsplit("/", 1)[-1]])
    merged = dict(target)
    merged.update({k: v for k, v in node.items() if k in ANNOTATIONS})
    return merged


def entries(schema, node=None, path=()):
    """(key path, node) of every key, depth first, in schema order."""
    node = schema if node is None else node
    for key, child in node.get("properties", {}).items():
        child = resolve(schema, child)
        yield path + (key,), child
        yield from entries(schema, child, path + (key,))
    if isinstance(node.get("then"), dict) and "type" not in node:
        # A value that is a mapping only sometimes (a layer): its keys.
        yield from entries(schema, resolve(schema, node["then"]), path)
    items = node.get("items")
    if isinstance(items, dict) and isinstance(items.get("then"), dict):
        yield from entries(schema, resolve(schema, items["then"]), path[:-1] + (path[-1] + "[]",))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        extra = resolve(schema, extra)
        key = PLACEHOLDERS.get(path[-1] if path else "", "<name>")
        yield path + (key,), extra
        yield from entries(schema, extra, path + (key,))


def type_text(node):
    types = node.get("type")
    if types is None:
        return "see the description"
    if isinstance(types, str):
        types = [types]
    names = {"object": "mapping", "array": "list"}
    text = " or ".join(names.get(t, t) for t in types)
    if "enum" in node:
        text += ": one of " + ", ".join(f"`{v}`" for v in node["enum"])
    return text


def _value(value):
    return value if isinstance(value, str) else json.dumps(value)


def example_text(key, value):
    return yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True)


def _entry(path, node):
    level = "##" if len(path) == 1 else "###"
    lines = [f"{level} `{'.'.join(path)}`\n\n"]
    if node.get("description"):
        lines.append(node["description"] + "\n\n")
    lines.append(f"* Type: {type_text(node)}\n")
    if "default" in node:
        lines.append(f"* Default: `{_value(node['default'])}`\n")
    if VERSION in node:
        lines.append(f"* Since format version: {node[VERSION]}\n")
    lines.append("\n")
    for example in node.get("examples", ()):
        lines += ["```yaml\n", example_text(path[-1].rstrip("[]"), example), "```\n\n"]
    return lines


def render():
    schema = load_schema()
    lines = [HEADER.format(source="kas/schema-kas.json"),
             "# Configuration reference\n\n",
             schema["description"] + " Every key of the format is listed below, "
             "top-level keys first with the keys below them; `<...>` stands for a "
             "name you choose. Details and semantics: docs/configuration.md.\n\n"]
    for path, node in entries(schema):
        lines += _entry(path, node)
    return "".join(lines).rstrip("\n") + "\n"
