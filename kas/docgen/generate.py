"""Running the generators of docs/reference/ and comparing or writing
their output."""

import os

from kas.docgen import REFERENCE_DIR, cli, config, environment


def documents():
    """file name -> generated text."""
    return {"config.md": config.render(), "cli.md": cli.render(),
            "environment.md": environment.render()}


def outdated(directory=REFERENCE_DIR):
    """Names of the files whose content differs from the generated one."""
    stale = []
    for name, text in documents().items():
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        stale.append(name)
    return stale


def write(directory=REFERENCE_DIR):
    os.makedirs(directory, exist_ok=True)
    for name, text in documents().items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
