"""Lock files: where they live, what they hold, how ``kas lock`` sets pins.

* :mod:`kas.lock.model`: one lock file, its pins, rendering and the
  atomic replacement of the files written;
* :mod:`kas.lock.edit`: the line-level editor that keeps an existing YAML
  lock file's comments and layout;
* :mod:`kas.lock.pins`: which repositories float, what their refs resolve
  to, and which lock file gets each pin.

This module itself stays import-light: the configuration loader needs the
naming rule only.
"""

from __future__ import annotations

import os

# The header version written by ``kas lock`` and ``kas dump --lock``.
LOCK_VERSION = 14

# The setup steps ``kas lock`` leaves out: it needs the repositories
# checked out, not patched, and no build environment.
LOCK_SKIPS = ("setup_dir", "repos_apply_patches", "setup_environ", "write_bbconfig")


def lock_file_of(path: str) -> str:
    """The lock file belonging to the config file ``path``:
    ``dir/<stem>.lock<suffix>``."""
    stem, suffix = os.path.splitext(path)
    return stem + ".lock" + suffix
