"""docs/reference/environment.md from the table in kas/docgen/envvars.py."""

from kas.docgen import HEADER
from kas.docgen.envvars import VARIABLES


def _cell(text):
    return text.replace("|", "\\|")


def render():
    lines = [HEADER.format(source="kas/docgen/envvars.py"),
             "# Environment variables\n\n",
             ("The variables kas and kas-container read from the calling environment. "
              "Everything else is not passed to the commands kas runs (see "
              "docs/build.md for the environment of bitbake).\n\n"),
             "| Variable | Read by | Commands | What it does |\n",
             "|---|---|---|---|\n"]
    for names, readers, commands, text in VARIABLES:
        variables = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {variables} | {readers} | {_cell(commands)} | {_cell(text)} |\n")
    return "".join(lines)
