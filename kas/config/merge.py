"""The deep-merge rule of INC-051 ... INC-055."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

# Told the key path and the new value of every value a merge puts in place.
OnSet = Callable[[tuple[str, ...], Any], None]


def merge(base: Mapping[str, Any], update: Mapping[str, Any],
          on_set: OnSet | None = None, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge mapping ``update`` (the later file) into ``base``; new mapping.

    Mappings on both sides merge recursively; any other value of ``update``
    (lists, scalars, null) replaces the old one.  Existing keys keep their
    position, new keys are appended in ``update``'s order.

    ``on_set(key path, value)``, if given, is called for each value that
    ``update`` puts in place (a mapping as a whole where there was none to
    merge into), in ``update``'s order; ``path`` is where ``base`` and
    ``update`` sit in the document.  ``kas dump --explain`` records there
    where each value came from.
    """
    result = dict(base)
    for key, value in update.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            # Without a hook no key path is built: the loader's merge stays cheap.
            result[key] = merge(old, value, on_set, path + (key,) if on_set else path)
        else:
            result[key] = value
            if on_set is not None:
                on_set(path + (key,), value)
    return result
