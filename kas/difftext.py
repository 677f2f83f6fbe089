"""Rendering of ``kas diff`` results (CLI-163, CLI-164), also used by
``kas lock --update`` for the commits a lock moves over (CLI-152).

Text layout (colors only when the effective no-color state is off)::

    kas diff <config1> <config2>
    --- <config1>
    +++ <config2>
    @@ config changed @@
    -    <key>: <old value>                    (red)
    +    <key>: <new value>                    (green)
         <key>:                                (multi-line strings:)
         @@ -1,2 +1,2 @@                       (blue)
         unchanged line
    -    old line
    +    new line
    @@ <repo> commits diff @@                  (blue)
    <sha>: <author> <date>                     (sha yellow)
        <message, indented 4 spaces>
    ---                                        (between repos)

Values other than strings are shown as JSON (``true``, ``["a", "b"]``).
Multi-line text that is new or gone is a unified diff against nothing.
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
    """A value on one line: plain text as is, anything else as JSON."""
    if isinstance(value, str) and "\n" not in value:
        return value
    return json.dumps(value)


def config_lines(changes, palette):
    """The ``@@ config changed @@`` section for (path, old, new) changes."""
    if not changes:
        return []
    lines = [palette.header("@@ config changed @@")]
    for path, old, new in changes:
        key = ".".join(path)
        if _is_text_block(old, new):
            lines.append(f"     {key}:")
            lines += _text_diff(old or "", new or "", palette)
            continue
        if old is not None:
            lines.append(palette.old(f"-    {key}: {show_value(old)}"))
        if new is not None:
            lines.append(palette.new(f"+    {key}: {show_value(new)}"))
    return lines


def _is_text_block(old, new):
    """Multi-line text on one side, text or nothing on the other."""
    sides = [v for v in (old, new) if v is not None]
    return (all(isinstance(v, str) for v in sides)
            and any("\n" in v for v in sides))


def _text_diff(old, new, palette):
    """A unified diff of two multi-line strings, in the same columns."""
    lines = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="")
    for line in list(diff)[2:]:             # without the ---/+++ file lines
        if line.startswith("@@"):
            lines.append("     " + palette.header(line))
            continue
        text = f"{line[0]}    {line[1:]}" if line[1:] else line[0].strip()
        if line[0] == "-":
            text = palette.old(text)
        elif line[0] == "+":
            text = palette.new(text)
        lines.append(text)
    return lines


def commit_lines(repo, commits, palette, oneline=False):
    """The ``@@ <repo> commits diff @@`` section of one repository."""
    lines = [palette.header(f"@@ {repo} commits diff @@")]
    for commit in commits:
        if oneline:
            lines.append(f"{palette.commit(commit.commit[:7])} {commit.subject}")
            continue
        lines.append(f"{palette.commit(commit.commit)}: {commit.author} {commit.commit_date}")
        lines += [f"    {line}".rstrip() for line in commit.message.split("\n")]
    return lines


def repos_lines(vcs, palette, oneline=False):
    """All repository sections, separated by ``---`` lines."""
    lines = []
    for repo, commits in vcs.items():
        if lines:
            lines.append("---")
        lines += commit_lines(repo, commits, palette, oneline)
    return lines


def moved_commits_text(moved, color):
    """What ``kas lock --update`` moved the pins over: the commit lists of
    the diff text format (oneline, commits only)."""
    lines = repos_lines(moved, Palette(color), oneline=True)
    return "".join(f"{line}\n" for line in lines)


def render_text(names, changes, vcs, palette, oneline=False, commit_only=False,
                content_only=False):
    """CLI-164: the whole text report; ``names`` are the two config arguments."""
    first, second = names
    lines = [f"kas diff {first} {second}", f"--- {first}", f"+++ {second}"]
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
