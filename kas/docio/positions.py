"""Where the keys and values of a YAML or JSON document are.

The parsers of :mod:`kas.docio.reader` keep no positions: that would slow
every run down.  A document is read a second time here when positions are
wanted, for the line and column of a schema violation or for the origins
that ``kas dump --explain`` shows.  YAML is read with the composer, JSON
with a small scanner of its own, as YAML parsers refuse JSON indented with
tabs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import yaml

from kas.docio.reader import yaml_loader_for

if TYPE_CHECKING:
    # json.decoder.scanstring (the C or the Python one) is missing from
    # typeshed; _json declares the signature both share.
    from _json import scanstring
else:
    from json.decoder import scanstring

# (line, column), both counted from 1.
Position = tuple[int, int]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class Entry(NamedTuple):
    """One key of a mapping as written, and its value."""

    key: str            # the key's text (JSON: the decoded string)
    plain: bool         # unquoted: YAML may read it as a boolean, null, number
    at: Position        # where the key starts
    value: Located


class Located:
    """A value of a document: where it starts and, for a mapping or a
    sequence, where its parts are."""

    __slots__ = ("entries", "items", "keys", "start")

    def __init__(self, start: Position, entries: Sequence[Entry] = (),
                 items: Sequence[Located] = ()) -> None:
        self.start = start
        # A mapping's keys in document order, those brought in by a YAML
        # merge key (``<<: *base``) first: of the same key, the last entry
        # counts, so the mapping's own keys win, as when the document is
        # loaded.
        self.entries = list(entries)
        self.keys = {entry.key: entry for entry in self.entries}
        self.items = list(items)    # a sequence's items

    def entry(self, key: object) -> Entry | None:
        """The entry of ``key`` (a key of the loaded data), else None."""
        found = self.keys.get(str(key))
        if found is None and (isinstance(key, bool) or key is None):
            # ``yes:`` / ``~:`` load as True / None.
            found = next((e for e in reversed(self.entries)
                          if e.plain and _loads_to(e.key, key)), None)
        return found


def _loads_to(text: str, key: object) -> bool:
    value = yaml.safe_load(text)
    return value == key and type(value) is type(key)


def read_positions(raw: bytes, fmt: str) -> Located | None:
    """The positions of the document ``raw`` in ``fmt`` ('yaml' or
    'json'), or None if it cannot be read."""
    # Both readers recurse once per nesting level: allow deep documents.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))
    try:
        if fmt == "json":
            return _JsonScanner(raw.decode(json.detect_encoding(raw))).value()
        return _YamlPositions().located(yaml.compose(raw, Loader=yaml_loader_for(raw)))
    except (yaml.YAMLError, ValueError, IndexError, RecursionError):
        return None
    finally:
        sys.setrecursionlimit(limit)


def locate(document: Located | None, key_path: Sequence[object]) -> Position | None:
    """The position of the value at ``key_path`` (keys and list indexes)
    in ``document``: where its key starts (a list item: where it starts),
    else of the closest ancestor found; None without a document."""
    if document is None:
        return None
    node, position = document, document.start
    for key in key_path:
        if node.entries:
            found = node.entry(key)
            if found is None:
                break
            node, position = found.value, found.at
        elif isinstance(key, int) and key < len(node.items):
            node = node.items[key]
            position = node.start
        else:
            break
    return position


class _YamlPositions:
    """Located trees of composed YAML nodes.  An aliased node is converted
    once and shared, as the loaded data shares it, so a document of many
    aliases costs no more than its text."""

    def __init__(self) -> None:
        self.done: dict[int, Located] = {}

    def located(self, node: yaml.Node | None) -> Located | None:
        if node is None:        # an empty document
            return None
        found = self.done.get(id(node))
        if found is None:
            found = self.done[id(node)] = self._convert(node)
        return found

    def _convert(self, node: yaml.Node) -> Located:
        start = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.SequenceNode):
            return Located(start, items=[self._value(item) for item in node.value])
        if not isinstance(node, yaml.MappingNode):
            return Located(start)
        merged: list[Entry] = []
        own: list[Entry] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # Of several merged mappings the first wins: it goes last.
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) \
                    else [value_node]
                for source in reversed(sources):
                    merged.extend(self._value(source).entries)
            elif isinstance(key_node, yaml.ScalarNode):
                # libyaml reports plain scalars with style "", PyYAML with None.
                own.append(Entry(key_node.value, not key_node.style,
                                 (key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                                 self._value(value_node)))
        return Located(start, merged + own)

    def _value(self, node: yaml.Node) -> Located:
        located = self.located(node)
        assert located is not None      # only a whole document can be empty
        return located


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_ATOM = re.compile(r"-?(?:[0-9][0-9.eE+-]*|Infinity)|true|false|null|NaN")


class _JsonScanner:
    """The positions of a JSON document the parser has already accepted."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0     # offset of the current line's first character

    def _position(self) -> Position:
        return self.line, self.pos - self.line_start + 1

    def _skip(self) -> None:
        """Past white space, the only place valid JSON has line breaks."""
        end = self._end(_JSON_SPACE)
        breaks = self.text.count("\n", self.pos, end)
        if breaks:
            self.line += breaks
            self.line_start = self.text.rindex("\n", self.pos, end) + 1
        self.pos = end

    def _end(self, pattern: re.Pattern[str]) -> int:
        """Where ``pattern`` matching at the position ends."""
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise ValueError(f"unexpected JSON at offset {self.pos}")
        return match.end()

    def value(self) -> Located:
        self._skip()
        start = self._position()
        char = self.text[self.pos]
        if char == "{":
            return Located(start, entries=self._object())
        if char == "[":
            return Located(start, items=self._array())
        if char == '"':
            self.pos = scanstring(self.text, self.pos + 1)[1]
        else:
            self.pos = self._end(_JSON_ATOM)
        return Located(start)

    def _object(self) -> list[Entry]:
        entries: list[Entry] = []
        self.pos += 1
        self._skip()
        while self.text[self.pos] != "}":
            at = self._position()
            key, self.pos = scanstring(self.text, self.pos + 1)
            self._skip()
            self.pos += 1           # ':'
            entries.append(Entry(key, False, at, self.value()))
            self._next()
        self.pos += 1
        return entries

    def _array(self) -> list[Located]:
        items: list[Located] = []
        self.pos += 1
        self._skip()
        while self.text[self.pos] != "]":
            items.append(self.value())
            self._next()
        self.pos += 1
        return items

    def _next(self) -> None:
        """Past the comma between two members, if there is one."""
        self._skip()
        if self.text[self.pos] == ",":
            self.pos += 1
            self._skip()
