"""The deep-merge rule of INC-051 ... INC-055."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge mapping ``update`` (the later file) into ``base``; new mapping.

    Mappings on both sides merge recursively; any other value of ``update``
    (lists, scalars, null) replaces the old one.  Existing keys keep their
    position, new keys are appended in ``update``'s order.
    """
    result = dict(base)
    for key, value in update.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            result[key] = merge(old, value)
        else:
            result[key] = value
    return result
