"""docs/reference/cli.md from the argparse parser of kas and the
kas-container list of kas.completion."""

from kas.completion import programs
from kas.docgen import HEADER


def _cell(text):
    text = " ".join(text.split()).replace("|", "\\|")
    # <KAS_WORK_DIR> would be read as an HTML tag.
    return text.replace("<", "\\<").replace(">", "\\>")


def _option_rows(options):
    rows = ["| Option | Value | Description |\n", "|---|---|---|\n"]
    for option in options:
        flags = ", ".join(f"`{f}`" for f in option.flags)
        value = ""
        if option.choices:
            value = " \\| ".join(f"`{c}`" for c in option.choices)
        elif option.value:
            value = f"`{option.metavar}`"
        rows.append(f"| {flags} | {value} | {_cell(option.help)} |\n")
    return rows


def _positional_rows(positionals):
    rows = ["| Argument | Description |\n", "|---|---|\n"]
    for positional in positionals:
        optional = " (optional)" if positional.optional else ""
        rows.append(f"| `{positional.name}`{optional} | {_cell(positional.help)} |\n")
    return rows


def _command(command, program):
    lines = [f"### {program.name} {command.name}\n\n", f"{_cell(command.help)}.\n\n"]
    if command.usage:
        lines += ["```\n", command.usage + "\n", "```\n\n"]
    if command.example:
        lines += ["Example:\n\n", "```sh\n", command.example + "\n", "```\n\n"]
    if command.positionals:
        lines += _positional_rows(command.positionals) + ["\n"]
    if command.options:
        lines += _option_rows(command.options) + ["\n"]
    return lines


def render():
    kas, container = programs()
    lines = [HEADER.format(source="the argument parser (kas/cli.py, kas/plugins/) and "
                                  "kas/completion/kas_container.py"),
             "# Command line reference\n\n",
             "## kas\n\n", f"{kas.help}.\n\n", "Global options (before the command):\n\n"]
    lines += _option_rows(kas.options) + ["\n"]
    for command in kas.commands:
        lines += _command(command, kas)
    lines += ["## kas-container\n\n",
              ("`kas-container [OPTIONS] <command> [KASOPTIONS] [KASFILE]` runs kas in a "
               "container image. The commands and their options are those of kas "
               "(except `-E`/`--preserve-env`), plus `doctor`.\n\n"),
              "Options (before the command):\n\n"]
    lines += _option_rows(container.options) + ["\n"]
    lines += _command(container.command("doctor"), container)
    return "".join(lines).rstrip("\n") + "\n"
