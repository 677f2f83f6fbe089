"""The error hierarchy.

A :class:`KasUserError` is bad input or a failed external command: the CLI
logs its message as one ERROR line (no traceback) and exits with its
``exit_code``.  Every other exception is a bug and is reported with a
traceback and exit code 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


class KasUserError(Exception):
    """An error the user can fix; reported without a traceback."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def log_lines(self) -> list[str]:
        """The ERROR records to emit for this error, in order."""
        return [self.message]


class ArgumentsError(KasUserError):
    """An invalid combination of command line arguments."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid combination of arguments: {detail}")


class ConfigError(KasUserError):
    """A configuration file cannot be used (missing, unparsable, invalid)."""


class ConfigValidationError(ConfigError):
    """One file violates the schema; carries every violation found."""

    def __init__(self, path: str, violations: Sequence[str]) -> None:
        super().__init__(
            f"Error(s) occured while validating the config file: {path}")
        self.path = path
        self.violations = violations

    def log_lines(self) -> list[str]:
        return list(self.violations) + [self.message]


class IncludeError(ConfigError):
    """An include cannot be resolved (outside its repo, cycle, missing repo)."""


class OutputError(KasUserError):
    """Standard output cannot take what kas prints (closed, disk full, or
    the reader went away); ``quiet`` when saying so would only be noise."""

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet

    def log_lines(self) -> list[str]:
        return [] if self.quiet else [self.message]


class CommandError(KasUserError):
    """An external command failed."""

    def __init__(self, argv: Iterable[object], returncode: int, stderr: str | None = None,
                 cwd: str | None = None) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.cwd = cwd
        super().__init__(f'Command "{format_command(argv)}" failed with error {returncode}')

    def log_lines(self) -> list[str]:
        if self.stderr:
            return ['Command "{}$ {}" failed:\n{}'.format(
                self.cwd or "", format_command(self.argv), redact(self.stderr.rstrip("\n"))),
                self.message]
        return [self.message]


class Cancelled(Exception):
    """Raised when SIGINT/SIGTERM asks kas to stop (exit 130)."""

    exit_code = 130


def format_command(argv: Iterable[object]) -> str:
    """Join argv like kas does in messages: words with spaces get quoted.
    Passwords in URLs are masked (the line goes to logs and errors)."""
    return redact(" ".join(f"'{a}'" if " " in a else a for a in map(str, argv)))


# scheme://user:password@ - the password part of a URL's userinfo.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with the passwords of the URLs in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)
