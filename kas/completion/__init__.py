"""Shell completion for kas and kas-container, generated from kas's
argparse parser (``python3 -m kas.completion bash|zsh|fish``)."""

from kas.completion.kas_container import kas_container_program
from kas.completion.model import kas_program


def programs():
    kas = kas_program()
    return [kas, kas_container_program(kas)]


def render(shell):
    """The completion script for ``shell``; KeyError for an unknown one."""
    from kas.completion import bash, fish, zsh

    renderer = {"bash": bash.render, "zsh": zsh.render, "fish": fish.render}[shell]
    return renderer(programs())
