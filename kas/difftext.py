"""Rendering of ``kas diff`` results (CLI-163, CLI-164, issue 16.6), also
used by ``kas lock --update`` for the commits a lock moves over (CLI-152).

Scripts parse this output, so its layout is kas 5.5's, byte for byte
(colors only when the effective no-color state is off)::

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
    <sha>: <author> <date>                     (sha yellow)
        <message, indented 4 spaces>
    ---                                        (between repos; not for lock)

A side that is null or empty is left out; values other than strings are
shown as JSON (``true``, ``["a", "b"]``); a line break inside a value
starts the next line with the same sign.
"""

import difflib
import json

_RED, _GREEN, _YELLOW, _BLUE, _RESET = ("\033[31m", "\033[32m", "\033[33m", "\033[34m",
                                        "\033[0m")


class Palette:
    """Wraps text in ANSI colors, or leaves it alone when color is off."""

    def __init__(self, color):
        self.color = color

    def _wrap(self, code, text):
        return f"{code}{text}{_RESET}" if self.color else text

    def old(self, text):
        return self._wrap(_RED, text)

    def new(self, text):
        return self._wrap(_GREEN, text)

    def commit(self, text):
        return self._wrap(_YELLOW, text)

    def header(self, text):
        return self._wrap(_BLUE, text)


def show_value(value):
    """A value after its key: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def config_lines(changes, palette):
    """The ``@@ config changed @@`` section for (path, old, new) changes."""
    if not changes:
        return []
    lines = [palette.header("@@ config changed @@")]
    for path, old, new in changes:
        key = ".".join(path)
        if isinstance(old, str) and isinstance(new, str):
            lines.append(f"     {key}:")
            lines += _text_diff(old, new, palette)
            continue
        lines += _value_lines("-", key, old, palette.old)
        lines += _value_lines("+", key, new, palette.new)
    return lines


def _value_lines(sign, key, value, color):
    """``<sign>    <key>: <value>``; nothing for a null or empty side.  Each
    further line of a multi-line value starts with the sign again, so the
    block stays recognisable as one side of the change."""
    if value is None or value == "" or value == [] or value == {}:
        return []
    text = f"{key}: {show_value(value)}"
    first, *more = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    return [color(f"{sign}    {first}")] + [color(f"{sign}{line}") for line in more]


def _text_diff(old, new, palette):
    """A unified diff of two strings without its ---/+++ lines: hunk
    headers indented 9, removed/added lines their sign and 8 spaces before
    the text, unchanged lines 8 spaces (an empty line is its sign alone)."""
    lines = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="")
    for line in list(diff)[2:]:
        sign, text = line[0], line[1:]
        if sign == "@":
            lines.append("         " + palette.header(line))
            continue
        shown = f"{sign}        {text}" if text else sign
        if sign == "-":
            shown = palette.old(shown)
        elif sign == "+":
            shown = palette.new(shown)
        else:
            shown = shown[1:]       # context: the text alone, indented 8
        lines.append(shown)
    return lines


def commit_lines(repo, commits, palette, oneline=False):
    """The ``@@ <repo> commits diff @@`` section of one repository."""
    lines = [palette.header(f"@@ {repo} commits diff @@")]
    for commit in commits:
        if oneline:
            lines.append(f"{palette.commit(commit.commit[:7])} {commit.subject}")
            continue
        lines.append(f"{palette.commit(commit.commit)}: {commit.author} {commit.commit_date}")
        # The message keeps git's trailing newline(s): they end no extra line.
        lines += [f"    {line}".rstrip() for line in commit.message.rstrip("\n").split("\n")]
    return lines


def repos_lines(vcs, palette, oneline=False, separated=True):
    """All repository sections, separated by ``---`` lines (``kas diff``)
    or not at all (``kas lock --update``, issue 16.6)."""
    lines = []
    for repo, commits in vcs.items():
        if lines and separated:
            lines.append("---")
        lines += commit_lines(repo, commits, palette, oneline)
    return lines


def moved_commits_text(moved, color):
    """What ``kas lock --update`` moved the pins over: the commit lists of
    the diff text format (oneline, commits only), without ``---`` between
    the repositories."""
    lines = repos_lines(moved, Palette(color), oneline=True, separated=False)
    return "".join(f"{line}\n" for line in lines)


def render_text(names, changes, vcs, palette, oneline=False, commit_only=False,
                content_only=False):
    """CLI-164: the whole text report; ``names`` are the two config arguments."""
    first, second = names
    lines = [f"kas diff {first} {second}", f"---  {first}", f"+++  {second}"]
    if not commit_only:
        lines += config_lines(changes, palette)
    if not content_only:
        lines += repos_lines(vcs, palette, oneline)
    return "".join(line + "\n" for line in lines)


def render_json(changes, vcs):
    """CLI-163: the stable machine-readable report."""
    report = {"values_changed": {".".join(path): {"old_value": old, "new_value": new}
                                 for path, old, new in changes}}
    if vcs:
        report["vcs"] = {repo: [c.as_json() for c in commits] for repo, commits in vcs.items()}
    return json.dumps(report, indent=4) + "\n"
