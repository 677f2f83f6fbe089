"""Write kas/schema-kas.json in its hand-kept layout: two-space indent,
arrays of plain values on one line."""

import json


def dumps(node, indent=0):
    pad = "  " * (indent + 1)
    if isinstance(node, dict):
        if not node:
            return "{}"
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in node.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(node, list):
        if all(not isinstance(v, (dict, list)) for v in node):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in node) + "]"
        items = [pad + dumps(v, indent + 1) for v in node]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(node, ensure_ascii=False)
