"""Line-level editing of an existing YAML lock file.

``kas lock`` changes at most three things in a lock file: the value of
``header.version``, the values of ``overrides.repos.<id>.commit``, and new
``<id>: {commit: ...}`` entries at the end of ``overrides.repos``.  The
editor finds the exact character spans of those values with the YAML
composer (node positions) and rewrites only them, so everything else - the
user's comments, blank lines, key order and quoting - stays byte for byte.

It refuses (:class:`CannotEdit`) whatever it cannot change safely: flow
style, block scalars, entries without a ``commit`` key, missing
``overrides.repos`` next to other ``overrides`` keys, ...  As a last guard
the edited text is parsed again and must give exactly the intended data.
The caller then falls back to a full rewrite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import yaml

from kas.docio.writer import to_yaml
from kas.lock import LOCK_VERSION

# (start, end, new text): the span of the file to replace and its new text.
Edit = tuple[int, int, str]
# (key node, value node) of one entry of a mapping, if it is there.
Entry = Optional[tuple[yaml.Node, yaml.Node]]


class CannotEdit(Exception):
    """The layout of the file is not one the editor changes safely."""


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar, quoted only if YAML needs it."""
    return to_yaml({"k": value}).split(": ", 1)[1].rstrip("\n")


def edit_lock_text(text: str, expected: Any, pins: Mapping[str, str], set_version: bool,
                   indent: int | None = None) -> str:
    """``text`` with ``pins`` (repo id -> commit) set and, if asked, the
    header version set; ``expected`` is the data the result must parse to.

    ``indent``, if not None, must match the indentation of the file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise CannotEdit(f"the file cannot be parsed for editing ({err})") from None
    root = _require_block_mapping(root, "the document")
    file_indent = _indentation(root)
    if indent is not None and file_indent is not None and indent != file_indent:
        raise CannotEdit(f"--indent {indent} differs from the file's indentation "
                         f"({file_indent})")
    edits: list[Edit] = []
    if set_version:
        edits.append(_version_edit(root))
    edits += _pin_edits(text, root, pins, indent or file_indent or 2)
    result = _apply(text, edits)
    _check_result(result, expected)
    return result


def _apply(text: str, edits: list[Edit]) -> str:
    """Replace the (start, end, new text) spans, last first."""
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _check_result(text: str, expected: Any) -> None:
    try:
        actual = yaml.safe_load(text)
    except yaml.YAMLError:
        actual = None
    if actual != expected:
        raise CannotEdit("the edited file would not read back as intended")


def _require_block_mapping(node: yaml.Node | None, what: str) -> yaml.MappingNode:
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise CannotEdit(f"{what} is not a block mapping")
    return node


def _child(node: yaml.Node | None, key: str) -> Entry:
    """(key node, value node) of ``key`` in mapping ``node`` (last wins), or None."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in reversed(node.value):
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _indentation(root: yaml.Node) -> int | None:
    """Spaces per level as the file's ``header:`` block shows it, or None."""
    header = _child(root, "header")
    if header is None or not isinstance(header[1], yaml.MappingNode) or not header[1].value:
        return None
    inner = header[1].value[0][0].start_mark.column - header[0].start_mark.column
    return inner if inner > 0 else None


def _scalar_span(node: yaml.Node, what: str) -> tuple[int, int]:
    """The span of a one-line plain or quoted scalar."""
    if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "'", '"') \
            or node.start_mark.line != node.end_mark.line:
        raise CannotEdit(f"{what} is not a one-line scalar")
    return node.start_mark.index, node.end_mark.index


def _version_edit(root: yaml.Node) -> Edit:
    header = _child(root, "header")
    version = _child(header[1], "version") if header else None
    if version is None:
        raise CannotEdit("header.version is missing")
    start, end = _scalar_span(version[1], "header.version")
    return start, end, str(LOCK_VERSION)


def _pin_edits(text: str, root: yaml.Node, pins: Mapping[str, str], indent: int) -> list[Edit]:
    """Edits that set each pin: in place if the entry exists, else appended."""
    overrides = _child(root, "overrides")
    repos = _child(overrides[1], "repos") if overrides else None
    edits: list[Edit] = []
    additions: dict[str, str] = {}
    for repo_id, commit in pins.items():
        entry = _child(repos[1], repo_id) if repos else None
        if entry is None:
            additions[repo_id] = commit
            continue
        found = _child(entry[1], "commit")
        if found is None:
            raise CannotEdit(f"overrides.repos.{repo_id} has no commit to replace")
        start, end = _scalar_span(found[1], f"overrides.repos.{repo_id}.commit")
        # An empty value (`commit:`) needs the space YAML wants after the colon.
        new = yaml_scalar(commit) if start != end else " " + yaml_scalar(commit)
        edits.append((start, end, new))
    if additions:
        edits.append(_append_entries(text, root, overrides, repos, additions, indent))
    return edits


def _append_entries(text: str, root: yaml.Node, overrides: Entry, repos: Entry,
                    additions: dict[str, str], indent: int) -> Edit:
    if overrides is None:
        return _append_overrides(text, root, additions, indent)
    if repos is None:
        raise CannotEdit("overrides has no repos mapping to add to")
    node = _require_block_mapping(repos[1], "overrides.repos")
    if not node.value:
        raise CannotEdit("overrides.repos is empty")
    column = node.value[0][0].start_mark.column
    inner = _inner_indent(node, column) or indent
    position = text.find("\n", _entry_end(node.value[-1][1]))
    lines = _entry_lines(additions, column, inner)
    if position < 0:            # no newline at the end of the file
        return len(text), len(text), "\n" + lines
    return position + 1, position + 1, lines


def _append_overrides(text: str, root: yaml.Node, additions: dict[str, str], indent: int) -> Edit:
    """No ``overrides`` yet: a new top-level block at the end of the file."""
    column = root.value[0][0].start_mark.column
    block = (" " * column + "overrides:\n" + " " * (column + indent) + "repos:\n"
             + _entry_lines(additions, column + 2 * indent, indent))
    prefix = "" if text.endswith("\n") or not text else "\n"
    return len(text), len(text), prefix + block


def _inner_indent(repos_node: yaml.MappingNode, column: int) -> int | None:
    """How far the file indents ``commit:`` below a repo id, if it shows it."""
    for _, value in repos_node.value:
        if isinstance(value, yaml.MappingNode) and value.value and not value.flow_style:
            first_key: yaml.Node = value.value[0][0]
            return first_key.start_mark.column - column
    return None


def _entry_end(node: yaml.Node) -> int:
    """Where the last line of a block mapping entry's value ends.

    Block collections end where the next token starts (maybe lines later,
    after comments), so the last one-line node inside is what counts."""
    while isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        node = node.value[-1][1]
    if isinstance(node, yaml.ScalarNode):
        return _scalar_span(node, "the last overrides.repos entry")[1]
    if isinstance(node, yaml.CollectionNode) and node.flow_style \
            and node.start_mark.line == node.end_mark.line:
        return node.end_mark.index
    raise CannotEdit("the last overrides.repos entry does not end on a single line")


def _entry_lines(additions: dict[str, str], column: int, inner: int) -> str:
    return "".join(f"{' ' * column}{yaml_scalar(rid)}:\n"
                   f"{' ' * (column + inner)}commit: {yaml_scalar(sha)}\n"
                   for rid, sha in additions.items())
