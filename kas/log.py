"""Logging set-up: one stderr handler, kas's record format, optional colors."""

import logging
import sys

LEVELS = ("debug", "info", "warning", "error", "critical")

_COLORS = {
    logging.WARNING: "\033[1;33m",   # bold yellow
    logging.ERROR: "\033[1;31m",     # bold red
    logging.CRITICAL: "\033[1;31m",
}
_RESET = "\033[0m"


class KasFormatter(logging.Formatter):
    """``<date> <time> - <LEVEL   > - <message>``, colored when asked to."""

    def __init__(self, color):
        super().__init__("%(asctime)s - %(levelname)-8s - %(message)s",
                         datefmt="%Y-%m-%d %H:%M:%S")
        self.color = color

    def format(self, record):
        text = super().format(record)
        color = _COLORS.get(record.levelno) if self.color else None
        return color + text + _RESET if color else text


def setup_logging(level, color):
    """Route all records to stderr with kas's format and ``level`` threshold."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KasFormatter(color))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
