"""Configuration warnings of config-format.md §13 that do not stop the run.

* CF-W01 (CF-302, INC-003, INC-047): ``build_system: isar`` in the *first*
  command-line file warns exactly once per run; the same value in an
  include, a lock file or a later command-line file does not warn.
* CF-W02 (CF-740): a non-empty ``proxy_config`` warns, an empty one not.
* CF-W06 (INC-013, INC-014): the deprecated file-relative include fallback
  logs two warnings; the repo-relative file wins when both exist.
"""

import pytest
from helpers.repos import make_git_repo, write
from helpers.run import kas_ok

ISAR = ("The semantics of build_system: isar might change in the future. "
        "Please use 'isar-privileged' or 'isar-rootless'.")
PROXY = "Obsolete proxy_config detected. This has no effect and will be rejected soon."
FALLBACK = 'Falling back to file-relative addressing of local include "{}"'
UPDATE = "Update your layer to repo-relative addressing to avoid this warning"


def dump(cwd, *args):
    return kas_ok("dump", *args, cwd=str(cwd))


# --------------------------------------------------------------------------
# CF-W01: build_system: isar


def test_isar_in_first_file_warns_exactly_once(workdir):
    """Includes, a repo include (a second pass of the repo loop, INC-042)
    and a second command-line file all say isar too: still one warning."""
    write(workdir / "kas.yml", """
        header:
          version: 23
          includes:
            - common.yml
            - repo: this
              file: vendor.yml
        build_system: isar
        repos:
          this:
        """)
    for name in ("common.yml", "vendor.yml", "second.yml"):
        write(workdir / name, f"""
            header:
              version: 10
            build_system: isar
            distro: from-{name}
            """)
    result = dump(workdir, "kas.yml:second.yml")
    assert result.warnings().count(ISAR) == 1, result
    assert "build_system: isar" in result.stdout
    assert "distro: from-second.yml" in result.stdout
    # the repo include was read, i.e. the files were loaded in two passes
    result = dump(workdir, "kas.yml")
    assert result.warnings().count(ISAR) == 1, result
    assert "distro: from-vendor.yml" in result.stdout


def test_isar_in_first_file_warns_without_includes(workdir):
    write(workdir / "kas.yml", """
        header:
          version: 10
        build_system: isar
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [ISAR], result


def test_isar_in_first_json_file_warns(workdir):
    write(workdir / "kas.json", '{"header": {"version": 23}, "build_system": "isar"}\n')
    result = dump(workdir, "kas.json")
    assert result.warnings() == [ISAR], result


@pytest.mark.parametrize("where", ["include", "repo-include", "second-file", "lock-file"])
def test_isar_elsewhere_does_not_warn(workdir, where):
    write(workdir / "kas.yml", """
        header:
          version: 23
          includes:
            - common.yml
            - repo: this
              file: vendor.yml
        repos:
          this:
        """)
    isar = """
        header:
          version: 14
        build_system: isar
        """
    plain = """
        header:
          version: 14
        """
    files = {"include": "common.yml", "repo-include": "vendor.yml",
             "second-file": "second.yml", "lock-file": "kas.lock.yml"}
    for kind, name in files.items():
        write(workdir / name, isar if kind == where else plain)
    result = dump(workdir, "kas.yml:second.yml")
    assert ISAR not in result.warnings(), result
    assert "build_system: isar" in result.stdout   # the value itself is kept


@pytest.mark.parametrize("value", ["isar-privileged", "isar-rootless", "oe",
                                   "openembedded"])
def test_other_build_systems_do_not_warn(workdir, value):
    write(workdir / "kas.yml", f"""
        header:
          version: 23
        build_system: {value}
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [], result


# --------------------------------------------------------------------------
# CF-W02: proxy_config


def test_non_empty_proxy_config_warns(workdir):
    write(workdir / "kas.yml", """
        header:
          version: 1
        proxy_config:
          http_proxy: http://proxy.example.org:3128
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [PROXY], result


def test_non_empty_proxy_config_in_include_warns(workdir):
    write(workdir / "kas.yml", """
        header:
          version: 23
          includes:
            - proxy.yml
        """)
    write(workdir / "proxy.yml", """
        header:
          version: 1
        proxy_config:
          no_proxy: localhost
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [PROXY], result


def test_proxy_config_warns_once_per_load(workdir):
    """Listed twice, the file is loaded twice (INC-030)."""
    write(workdir / "kas.yml", """
        header:
          version: 23
          includes:
            - proxy.yml
            - proxy.yml
        """)
    write(workdir / "proxy.yml", """
        header:
          version: 1
        proxy_config:
          https_proxy: http://proxy.example.org:3128
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [PROXY, PROXY], result


@pytest.mark.parametrize("body", ["proxy_config: {}\n", ""], ids=["empty", "absent"])
def test_empty_or_absent_proxy_config_does_not_warn(workdir, body):
    write(workdir / "kas.yml", "header:\n  version: 1\n" + body)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [], result


# --------------------------------------------------------------------------
# CF-W06: file-relative include fallback


def _board_project(root):
    """kas.yml -> kas/board.yml -> "common.yml" (exists next to board.yml)."""
    write(root / "kas.yml", """
        header:
          version: 23
          includes:
            - kas/board.yml
        """)
    write(root / "kas" / "board.yml", """
        header:
          version: 23
          includes:
            - common.yml
        """)
    write(root / "kas" / "common.yml", """
        header:
          version: 23
        machine: from-file-relative
        """)


def test_file_relative_fallback_warns_with_both_lines(workdir):
    _board_project(workdir)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [FALLBACK.format("common.yml"), UPDATE], result
    assert "machine: from-file-relative" in result.stdout


def test_repo_relative_wins_without_warning(workdir):
    """INC-014: both candidates exist -> the repo-relative one, no warning."""
    _board_project(workdir)
    write(workdir / "common.yml", """
        header:
          version: 23
        machine: from-repo-root
        """)
    result = dump(workdir, "kas.yml")
    assert result.warnings() == [], result
    assert "machine: from-repo-root" in result.stdout


def test_fallback_from_top_file_in_git_subdirectory(workdir):
    """The top file lives in a sub-directory of a git checkout: string
    includes are relative to the checkout root (INC-070), the file next to
    the top file is only reached through the fallback."""
    repo = workdir / "product"
    make_git_repo(repo, files={
        "kas/kas.yml": "header:\n  version: 23\n  includes:\n    - base.yml\n",
        "kas/base.yml": "header:\n  version: 23\nmachine: from-kas-dir\n",
    })
    result = dump(repo, "kas/kas.yml")
    assert result.warnings() == [FALLBACK.format("base.yml"), UPDATE], result
    assert "machine: from-kas-dir" in result.stdout


def test_no_fallback_warning_for_repo_relative_include_in_git(workdir):
    repo = workdir / "product"
    make_git_repo(repo, files={
        "kas/kas.yml": "header:\n  version: 23\n  includes:\n    - kas/base.yml\n",
        "kas/base.yml": "header:\n  version: 23\nmachine: from-kas-dir\n",
    })
    result = dump(repo, "kas/kas.yml")
    assert result.warnings() == [], result
    assert "machine: from-kas-dir" in result.stdout
