"""Rendering of ``kas diff`` results (CLI-163, CLI-164, issue 16.6), also
used by ``kas lock --update`` for the commits a lock moves over (CLI-152).

Scripts parse this output, so its layout is kas 5.5's, byte for byte, also
the colors (only when the effective no-color state is off)::

    kas diff <config1> <config2>
    ---  <config1>
    +++  <config2>
    @@ config changed @@                       (blue)
         <key>:                                (string changed to string:)
             @@ -1,3 +1,3 @@                   (blue)
             unchanged line
    -        old line                          (red)
    +        new line                          (green)
    -    <key>: <old value>                    (anything else; red)
    +    <key>: <new value>                    (green)
    @@ <repo> commits diff @@                  (blue)
    <sha>: <author> <date>                     ("<sha>: " yellow)
        <message line, indented 4 spaces>      (every line, also the empty
                                                one after the final newline)
    ---                                        (between repos; not for lock)

A side whose value is false in Python's sense (null, "", [], {}, 0,
false) is left out; values other than strings are shown as Python prints
them (``['a', 'b']``, ``True``, ``None`` inside a dict); a line break
inside a value starts the next line with the same sign (issue 24.4).

Each piece of text is colored together with its line break, as kas 5.5
does it, so a color reset can begin the next line.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from kas.config.compare import Change
    from kas.vcs.base import Commit

_RED, _GREEN, _YELLOW, _BLUE, _RESET = ("\033[31m", "\033[32m", "\033[33m", "\033[34m",
                                        "\033[0m")

# A string diff's lines: the hunk headers, and after the sign each line.
_HUNK_INDENT = " " * 9
_LINE_INDENT = " " * 8


class Palette:
    """Wraps text in ANSI colors, or leaves it alone when color is off."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def old(self, text: str) -> str:
        return self._wrap(_RED, text)

    def new(self, text: str) -> str:
        return self._wrap(_GREEN, text)

    def commit(self, text: str) -> str:
        return self._wrap(_YELLOW, text)

    def header(self, text: str) -> str:
        return self._wrap(_BLUE, text)


def config_text(changes: Sequence[Change], palette: Palette) -> str:
    """The ``@@ config changed @@`` section for (path, old, new) changes."""
    if not changes:
        return ""
    parts = [palette.header("@@ config changed @@") + "\n"]
    for path, old, new in changes:
        key = ".".join(path)
        if isinstance(old, str) and isinstance(new, str):
            parts.append(f"     {key}:\n")
            parts += _text_diff(old, new, palette)
            continue
        parts.append(_value_block("-", key, old, palette.old))
        parts.append(_value_block("+", key, new, palette.new))
    return "".join(parts)


def _value_block(sign: str, key: str, value: Any, color: Callable[[str], str]) -> str:
    """``<sign>    <key>: <value>``, nothing for a false value (None, "", [],
    {}, 0, False).  Every line break in it, a final one too, starts a line
    with the sign again; the block is colored as one piece."""
    if not value:
        return ""
    text = f"    {key}: {value}"
    return color("\n".join(sign + line for line in text.split("\n"))) + "\n"


def _diff_lines(value: str) -> list[str]:
    """A string as the unified diff sees it: its lines with their line
    breaks; a value without one is one line, also when it is empty."""
    return value.splitlines(keepends=True) if "\n" in value else [value + "\n"]


def _text_diff(old: str, new: str, palette: Palette) -> list[str]:
    """A unified diff of two strings without its ---/+++ lines: hunk headers
    indented by 9, then each line's sign (a space for context) and 8
    spaces before its text; each piece colored with its line break."""
    parts = []
    diff = difflib.unified_diff(_diff_lines(old), _diff_lines(new))
    for line in list(diff)[2:]:
        if line.startswith("@@"):
            parts.append(palette.header(_HUNK_INDENT + line))
            continue
        shown = line[0] + _LINE_INDENT + line[1:]
        # kas 5.5 runs the next line on after a last line without a line
        # break; ending it keeps every line on its own (docs/deviations.md).
        if not shown.endswith("\n"):
            shown += "\n"
        if line[0] == "-":
            shown = palette.old(shown)
        elif line[0] == "+":
            shown = palette.new(shown)
        parts.append(shown)
    return parts


def commits_text(repo: str, commits: Sequence[Commit], palette: Palette,
                 oneline: bool = False) -> str:
    """The ``@@ <repo> commits diff @@`` section of one repository."""
    parts = [palette.header(f"@@ {repo} commits diff @@") + "\n"]
    for commit in commits:
        if oneline:
            parts.append(f"{palette.commit(commit.commit[:7])} {commit.subject}\n")
            continue
        parts.append(f"{palette.commit(commit.commit + ': ')}{commit.author} "
                     f"{commit.commit_date}\n")
        # Every line of the message as stored, so a message ending in a
        # line break (git's) ends with a line of four spaces (issue 24.4).
        parts += [f"    {line}\n" for line in commit.message.split("\n")]
    return "".join(parts)


def repos_text(vcs: Mapping[str, Sequence[Commit]], palette: Palette, oneline: bool = False,
               separated: bool = True) -> str:
    """All repository sections, separated by ``---`` lines (``kas diff``)
    or not at all (``kas lock --update``, issue 16.6)."""
    separator = "---\n" if separated else ""
    return separator.join(commits_text(repo, commits, palette, oneline)
                          for repo, commits in vcs.items())


def moved_commits_text(moved: Mapping[str, Sequence[Commit]], color: bool) -> str:
    """What ``kas lock --update`` moved the pins over: the commit lists of
    the diff text format (oneline, commits only), without ``---`` between
    the repositories."""
    return repos_text(moved, Palette(color), oneline=True, separated=False)


def render_text(names: tuple[str, str], changes: Sequence[Change],
                vcs: Mapping[str, Sequence[Commit]], palette: Palette, oneline: bool = False,
                commit_only: bool = False, content_only: bool = False) -> str:
    """CLI-164: the whole text report; ``names`` are the two config arguments."""
    first, second = names
    text = f"kas diff {first} {second}\n---  {first}\n+++  {second}\n"
    if not commit_only:
        text += config_text(changes, palette)
    if not content_only:
        text += repos_text(vcs, palette, oneline)
    return text


def render_json(changes: Sequence[Change], vcs: Mapping[str, Sequence[Commit]]) -> str:
    """CLI-163: the stable machine-readable report."""
    report: dict[str, Any] = {
        "values_changed": {".".join(path): {"old_value": old, "new_value": new}
                           for path, old, new in changes}}
    if vcs:
        report["vcs"] = {repo: [c.as_json() for c in commits] for repo, commits in vcs.items()}
    return json.dumps(report, indent=4) + "\n"
