"""The run journal for CI (issue 18.2).

With ``KAS_JOURNAL=<path>`` set, a command that runs the setup pipeline
writes one JSON document to ``<path>`` when it ends, however it ends: what
ran, with which configuration, how long each step and each repository
took, and bitbake's command line and exit status.  The document follows
``kas/journal-schema.json``.

The recorder lives on the context (``ctx.journal``); it is None without
``KAS_JOURNAL``, so the hooks in the pipeline, the repository engine and
the bitbake runner cost nothing then.  Repository tasks run on threads:
records are created under a lock.  Writing is atomic (temporary file,
fsync, rename); a failed write is a warning, never a failed run.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from kas import __version__
from kas.errors import Cancelled, redact
from kas.fsutil import write_atomic

if TYPE_CHECKING:
    from kas.config.model import Config
    from kas.context import Context
    from kas.repos.model import RepoSpec

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "journal-schema.json")
# The order in which a repository's actions are listed.
ACTIONS = ("cloned", "fetched", "unchanged", "patched")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _seconds(started: float) -> float:
    return round(time.monotonic() - started, 3)


class RepoRecord:
    """What happened to one repository in this run."""

    def __init__(self, spec: RepoSpec) -> None:
        self.name = spec.name
        self.url = redact(spec.url) if spec.url else None
        self.vcs = spec.type
        self.ref = {key: getattr(spec, key) for key in ("commit", "branch", "tag", "refspec")
                    if getattr(spec, key, None) is not None}
        self.commit_before: str | None = None
        self.commit_after: str | None = None
        self.fetch_seen = False     # commit_before is taken before the first fetch only
        self.actions: list[str] = []
        self.duration = 0.0
        self.failed: str | None = None  # the phase that failed: fetch, checkout or patch

    def add_action(self, action: str | None) -> None:
        # A repo fetched for an include is looked at again later: that
        # second "unchanged" says nothing new.
        if action is None or action in self.actions:
            return
        if action == "unchanged" and ({"cloned", "fetched"} & set(self.actions)):
            return
        self.actions.append(action)
        self.actions.sort(key=ACTIONS.index)

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "vcs": self.vcs, "ref": self.ref,
                "commit_before": self.commit_before, "commit_after": self.commit_after,
                "actions": self.actions, "duration_s": round(self.duration, 3),
                "failed": self.failed}


class Journal:
    """The recorder of one run; :meth:`write` produces the document."""

    def __init__(self, path: str, argv: Iterable[object]) -> None:
        self.path = os.path.abspath(path)
        self.argv = [redact(str(arg)) for arg in argv]
        self.started = _now()
        self._started = time.monotonic()
        self.pipeline = False       # a setup step ran: the journal is written
        self.steps: list[dict[str, Any]] = []
        self.repos: dict[str, RepoRecord] = {}  # repo id -> its record, first seen first
        self.config_files: dict[str, str | None] = {}   # absolute path -> sha256
        self.bitbake: dict[str, Any] | None = None
        self._bitbake_started = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], argv: Iterable[object]) -> Journal | None:
        path = environ.get("KAS_JOURNAL")
        return cls(path, argv) if path else None

    # --- hooks ------------------------------------------------------------

    def run_step(self, name: str, step: Callable[[Context], object], ctx: Context) -> None:
        """Run one pipeline step, timing it."""
        self.pipeline = True
        started = time.monotonic()
        status = "failed"
        try:
            step(ctx)
            status = "ok"
        except (Cancelled, KeyboardInterrupt):
            status = "cancelled"
            raise
        finally:
            self.steps.append({"name": name, "status": status,
                               "duration_s": _seconds(started)})
            self.note_config(ctx.config)

    def skipped_step(self, name: str) -> None:
        self.steps.append({"name": name, "status": "skipped", "duration_s": 0.0})

    def note_config(self, config: Config | None) -> None:
        """The files of the configuration, hashed as they were read."""
        for loaded in getattr(config, "all_files", None) or ():
            if loaded.path not in self.config_files:
                self.config_files[loaded.path] = _sha256(loaded.path)

    def repo(self, spec: RepoSpec) -> RepoRecord:
        with self._lock:
            if spec.id not in self.repos:
                self.repos[spec.id] = RepoRecord(spec)
            return self.repos[spec.id]

    def bitbake_started(self, argv: Iterable[object]) -> None:
        self.bitbake = {"argv": [redact(str(arg)) for arg in argv], "exit_status": None,
                        "duration_s": 0.0}
        self._bitbake_started = time.monotonic()

    def bitbake_finished(self, returncode: int) -> None:
        assert self.bitbake is not None, "bitbake_started() comes first"
        self.bitbake["exit_status"] = returncode
        self.bitbake["duration_s"] = _seconds(self._bitbake_started)

    # --- the document -------------------------------------------------------

    def document(self, exit_status: int, status: str, error: str | None = None,
                 top_files: Sequence[str] = ()) -> dict[str, Any]:
        if self.bitbake is not None and self.bitbake["exit_status"] is None:
            self.bitbake["duration_s"] = _seconds(self._bitbake_started)
        for path in top_files:
            if path not in self.config_files and os.path.isfile(path):
                self.config_files[path] = _sha256(path)
        return {
            "format_version": FORMAT_VERSION,
            "kas_version": __version__,
            "argv": self.argv,
            "config_files": [{"path": p, "sha256": h} for p, h in self.config_files.items()],
            "start_time": self.started,
            "end_time": _now(),
            "duration_s": _seconds(self._started),
            "status": status,
            "exit_status": exit_status,
            "error": redact(error) if error else None,
            "steps": self.steps,
            "repos": [record.document() for record in self.repos.values()],
            "bitbake": self.bitbake,
        }

    def write(self, exit_status: int, status: str, error: str | None = None,
                top_files: Sequence[str] = ()) -> None:
        """Write the document atomically; a failure is only a warning."""
        try:
            document = self.document(exit_status, status, error, top_files)
            write_atomic(self.path, json.dumps(document, indent=2) + "\n")
        except (OSError, TypeError, ValueError) as err:
            log.warning("Could not write the journal %s (KAS_JOURNAL): %s", self.path, err)


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()

