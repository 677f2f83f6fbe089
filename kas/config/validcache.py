"""Remembering the configuration files that were parsed and passed
validation (issue 27).

Validating a file needs jsonschema, whose import alone costs more than
the rest of a trivial ``kas dump``, and parsing hundreds of included
files costs more than everything else kas does with them.  A file whose
exact content already passed validation against the exact same schema
passes again and parses to the same data, so kas keeps that data,
marshalled, in a file named by a hash of (kas version, PyYAML version,
schema, the code that parses and checks a file, file format, file
content) under ``$XDG_CACHE_HOME/kas/validated`` (default
``~/.cache/kas/validated``).

Only passes are remembered: a file with errors is parsed and validated
every time and reported in full.  A new kas, PyYAML or schema changes
every key, and so does any change to the modules that parse and check a
file (RULE_MODULES: their limits and structure checks are not in the
schema, and kas's version string stays that of the kas it replaces), so
nothing is trusted across them.  jsonschema's version is not part of the
key (finding it costs the import the cache saves): the schema's draft
fixes what it means.  An entry is written
atomically and carries a checksum of its data; one that does not match
is ignored.  Deleting the directory is harmless (the next run validates
again); ``KAS_VALIDATION_CACHE=0`` turns the cache off, and any error
reading or writing it is ignored.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Mapping
from typing import Any

import yaml

from kas import __version__
from kas.environment import switched_off
from kas.fsutil import write_atomic


def _sha256_type() -> Any:
    """CPython's own SHA-256 (_sha2 from Python 3.12, _sha256 before):
    hashlib would load OpenSSL, which costs more memory than the rest of
    a no-op run.  The digests are the same."""
    import importlib

    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256
        except ImportError:
            continue
    import hashlib

    return hashlib.sha256


sha256 = _sha256_type()
DIGEST = 32

# The modules whose code decides whether a file passes and what it parses
# to, besides the schema.
RULE_MODULES = (os.path.join(os.path.dirname(os.path.dirname(__file__)), "docio", "reader.py"),
                os.path.join(os.path.dirname(__file__), "schema.py"))


class ValidationCache:
    def __init__(self, directory: str, schema_path: str) -> None:
        self.directory = directory
        salt = sha256(f"{__version__}\0{yaml.__version__}\0".encode())
        for path in (schema_path, *RULE_MODULES):
            with open(path, "rb") as f:
                salt.update(f.read())
        self._salt = salt.digest()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], schema_path: str) -> ValidationCache | None:
        """The cache the caller's environment asks for, None if off."""
        if switched_off(environ, "KAS_VALIDATION_CACHE"):
            return None
        base = environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            # The XDG rule: a relative value is ignored.
            home = environ.get("HOME", "")
            if not os.path.isabs(home):
                return None
            base = os.path.join(home, ".cache")
        try:
            return cls(os.path.join(base, "kas", "validated"), schema_path)
        except OSError:
            return None     # its key cannot be made: no cache

    def _entry(self, path: str, raw: bytes) -> str:
        fmt = os.path.splitext(path)[1].encode()
        digest = sha256(self._salt + fmt + b"\0" + raw).hexdigest()
        return os.path.join(self.directory, digest[:2], digest[2:])

    def lookup(self, path: str, raw: bytes) -> Any | None:
        """The data ``raw`` (the content of ``path``) parsed to, if it
        passed validation before; else None."""
        try:
            with open(self._entry(path, raw), "rb") as f:
                blob = f.read()
        except OSError:
            return None
        checksum, payload = blob[:DIGEST], blob[DIGEST:]
        if sha256(payload).digest() != checksum:
            return None
        try:
            return marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return None

    def remember(self, path: str, raw: bytes, data: Any) -> None:
        """Record that ``raw`` parsed to ``data``, which passed validation."""
        try:
            payload = marshal.dumps(data)
        except ValueError:
            return          # dates and other values marshal cannot keep
        entry = self._entry(path, raw)
        try:
            os.makedirs(os.path.dirname(entry), exist_ok=True)
            # Not synced: an entry lost in a crash is validated again.
            write_atomic(entry, sha256(payload).digest() + payload, sync=False)
        except OSError:
            pass            # a cache that cannot be written is no cache
