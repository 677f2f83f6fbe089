"""Remembering which configuration files passed validation (issue 27).

Validating a file needs jsonschema, whose import alone costs more than
the rest of a trivial ``kas dump``.  A file whose exact content already
passed validation against the exact same schema passes again, so kas
remembers passes as empty files named by a hash of (kas version, schema
content, file format, file content) in ``$XDG_CACHE_HOME/kas/validated``
(default ``~/.cache/kas/validated``).

Only passes are remembered: a file with errors is validated every time
and reported in full.  A new kas version or schema changes every key, so
nothing is trusted across them.  Deleting the directory is harmless (the
next run validates again); ``KAS_VALIDATION_CACHE=0`` turns the cache
off, and any error writing it is ignored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from kas import __version__

OFF = ("0", "no", "false", "off")


class ValidationCache:
    def __init__(self, directory: str, schema_path: str) -> None:
        self.directory = directory
        with open(schema_path, "rb") as f:
            schema = f.read()
        self._salt = hashlib.sha256(__version__.encode() + b"\0" + schema).digest()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], schema_path: str) -> ValidationCache | None:
        """The cache the caller's environment asks for, None if off."""
        if environ.get("KAS_VALIDATION_CACHE", "").strip().lower() in OFF:
            return None
        base = environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            # The XDG rule: a relative value is ignored.
            home = environ.get("HOME", "")
            if not os.path.isabs(home):
                return None
            base = os.path.join(home, ".cache")
        return cls(os.path.join(base, "kas", "validated"), schema_path)

    def _entry(self, path: str, raw: bytes) -> str:
        fmt = os.path.splitext(path)[1].lower().encode()
        digest = hashlib.sha256(self._salt + fmt + b"\0" + raw).hexdigest()
        return os.path.join(self.directory, digest[:2], digest[2:])

    def passed(self, path: str, raw: bytes) -> bool:
        """Whether this content of ``path`` passed validation before."""
        return os.path.exists(self._entry(path, raw))

    def remember(self, path: str, raw: bytes) -> None:
        entry = self._entry(path, raw)
        try:
            os.makedirs(os.path.dirname(entry), exist_ok=True)
            with open(entry, "wb"):
                pass
        except OSError:
            pass            # a cache that cannot be written is no cache
