"""A shell-neutral description of a command line, read from the real
argparse parser of ``kas`` (and from a declarative list for kas-container),
from which the bash, zsh and fish scripts and docs/reference/cli.md are
generated: they cannot drift from the CLI.
"""
from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass, field

# What a value or positional argument is completed with.
CONFIG = "config"   # config file(s), colon separated: a.yml:b.yml
FILE = "file"       # any file
DIR = "dir"         # a directory
TEXT = "text"       # free text: nothing to complete
CHOICE = "choice"   # one of Option.choices
REST = "rest"       # everything that follows (bitbake arguments)

# Positional arguments of kas whose value is a file, by dest.
POSITIONAL_KINDS = {"config": CONFIG, "config1": CONFIG, "config2": CONFIG,
                    "kconfig": FILE}


@dataclass
class Option:
    flags: list
    help: str
    value: str | None = None     # None: a flag without value
    choices: tuple = ()
    repeat: bool = False
    metavar: str = ""
    default: object = None


@dataclass
class Positional:
    name: str
    kind: str
    help: str
    optional: bool = False


@dataclass
class Command:
    name: str
    help: str
    options: list = field(default_factory=list)
    positionals: list = field(default_factory=list)
    example: str = ""
    usage: str = ""


@dataclass
class Program:
    name: str
    help: str
    options: list
    commands: list

    def command(self, name):
        return next(c for c in self.commands if c.name == name)


@contextlib.contextmanager
def _environment_with_every_step():
    """The choices of ``--skip`` depend on the environment (setup_ssh_agent
    exists only when a key variable is set): describe the widest command
    line, independently of the environment the generator runs in."""
    saved = dict(os.environ)
    os.environ.pop("SSH_AUTH_SOCK", None)
    os.environ.setdefault("SSH_PRIVATE_KEY_FILE", "")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def kas_parser(prog="kas"):
    from kas.cli import build_parser

    with _environment_with_every_step():
        return build_parser(prog)


def _help_text(parser, action):
    if not action.help:
        return ""
    # The formatter expands %(default)s and friends as --help shows them.
    return parser._get_formatter()._expand_help(action)


def _option(parser, action):
    takes_value = action.nargs != 0
    value = None
    if takes_value:
        value = CHOICE if action.choices else TEXT
    return Option(
        flags=list(action.option_strings), help=_help_text(parser, action),
        value=value, choices=tuple(action.choices or ()),
        repeat=isinstance(action, (argparse._AppendAction,
                                   argparse._CountAction)),
        metavar=action.metavar or (action.dest.upper() if takes_value else ""),
        default=action.default if takes_value else None)


def _positional(parser, action):
    kind = REST if action.nargs == argparse.REMAINDER else POSITIONAL_KINDS.get(action.dest, TEXT)
    return Positional(name=action.metavar or action.dest, kind=kind,
                      help=_help_text(parser, action),
                      optional=action.nargs in ("?", "*", argparse.REMAINDER))


def describe_parser(parser):
    """(options, positionals) of one argparse parser; hidden options
    (help=SUPPRESS, e.g. deprecated ones) are left out."""
    options, positionals = [], []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(
                action, argparse._SubParsersAction):
            continue
        if action.option_strings:
            options.append(_option(parser, action))
        else:
            positionals.append(_positional(parser, action))
    return options, positionals


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _usage(parser):
    formatter = argparse.HelpFormatter(parser.prog, width=100)
    formatter.add_usage(parser.usage, parser._actions,
                        parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


EXAMPLE_PREFIX = "Example: "


def example_of(parser):
    """The example command line that kas.cli puts into the epilog."""
    epilog = parser.epilog or ""
    return epilog[len(EXAMPLE_PREFIX):] if epilog.startswith(EXAMPLE_PREFIX) else ""


def kas_program(parser=None):
    """The command line of ``kas`` as its argparse parser defines it."""
    parser = parser or kas_parser()
    options, _ = describe_parser(parser)
    sub = _subparsers(parser)
    helps = {a.dest: a.help for a in sub._choices_actions}
    commands = []
    for name, sub_parser in sub.choices.items():
        sub_options, positionals = describe_parser(sub_parser)
        commands.append(Command(name=name, help=helps.get(name, ""), options=sub_options,
                                positionals=positionals, example=example_of(sub_parser),
                                usage=_usage(sub_parser)))
    return Program(name=parser.prog, help=parser.description or "", options=options,
                   commands=commands)
