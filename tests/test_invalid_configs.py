"""Bad input: every invalid configuration kas must reject, and how.

Each fixture below ``tests/fixtures/invalid/`` is one invalid configuration:
a single file, or a directory whose entry point is ``kas.yml``.  The table
``CASES`` maps every fixture to the requirement id it checks and to the
messages the spec prescribes (config-format.md CF-nnn, includes-and-merge.md
INC-nnn, cli.md CLI-nnn).

Every case copies its fixture into a temporary directory (so that no VCS
checkout is around it: the kas sources themselves are a git checkout), runs
the real ``kas dump`` there in a subprocess and checks:

* the exit code (2, a user error, unless the case says otherwise);
* stdout is empty and stderr has no Python traceback;
* the ERROR records: the expected substrings appear in this order; a plain
  user error is exactly one single-line ERROR record; a schema violation is
  one ``Config file validation Error:`` record per violation, each naming
  ``<file>:<line>:<col>: <key path>:`` and the documentation, followed by
  ``Error(s) occured while validating the config file: <file>`` (CF-011).

Placeholders in expected strings and arguments: ``{dir}`` is the directory
the fixture was copied to (for a file fixture: the directory containing the
copy; for a directory fixture: the copied directory itself), ``{parent}`` is
its parent directory.  ``@DIR@`` inside fixture files is replaced by
``{dir}`` when the fixture is copied (used to point a repo url at a git
repository the test creates).
"""

import os
import re
import shutil
import subprocess

import pytest
from helpers.repos import git
from helpers.run import FIXTURES, clean_env, run_kas

INVALID = os.path.join(FIXTURES, "invalid")

VALIDATION_HEAD = "Config file validation Error:"
VALIDATION_TAIL = "Error(s) occured while validating the config file: "
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - ([A-Z]+) *- ", re.MULTILINE)



class Case:
    def __init__(self, fixture, spec_id, expected, kind, *, at=None, file=None,
                 count=1, args=None, whole=False, exit_code=2, git_repos=(),
                 hide_hg=False):
        self.fixture = fixture
        self.spec_id = spec_id
        self.expected = list(expected)
        self.kind = kind              # "validation" or "error"
        self.at = at                  # "line:col" (or a list, one per violation)
        self.file = file              # file with the violation, relative to {dir}
        self.count = count            # number of violation records
        self.args = args              # kas dump arguments; default: the entry file
        self.whole = whole            # the one expected string is the whole message
        self.exit_code = exit_code
        self.git_repos = git_repos    # sub-directories to turn into git repos
        self.hide_hg = hide_hg        # run with a PATH that has git but no hg

    @property
    def is_dir(self):
        return os.path.isdir(os.path.join(INVALID, self.fixture))

    def entry(self):
        return "kas.yml" if self.is_dir else self.fixture


def _param(case, suffix, xfail):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    case_id = f"{case.spec_id}-{case.fixture}{suffix}"
    return pytest.param(case, id=case_id, marks=marks)


def invalid(fixture, spec_id, expected, *, at=None, suffix="", xfail=None, **kw):
    """A schema violation (CF-E03): validation records plus the final line."""
    return _param(Case(fixture, spec_id, expected, "validation", at=at, **kw),
                  suffix, xfail)


def error(fixture, spec_id, expected, *, suffix="", xfail=None, **kw):
    """Any other user error: exactly one single-line ERROR record."""
    if isinstance(expected, str):
        expected, kw["whole"] = [expected], True
    return _param(Case(fixture, spec_id, expected, "error", **kw), suffix, xfail)


LAYER_VALUES = "is not one of"

CASES = [
    # ---- CF-001 file type by extension (case-sensitive) -----------------
    error("unknown-extension.txt", "CF-001",
          "Config file extension not recognized: {dir}/unknown-extension.txt"),
    error("uppercase-extension.YML", "CF-001",
          "Config file extension not recognized: {dir}/uppercase-extension.YML"),
    error("no-extension", "CF-001",
          "Config file extension not recognized: {dir}/no-extension"),
    error("include-wrong-extension", "CF-001",
          "Config file extension not recognized: {dir}/common.txt"),

    # ---- CF-002 YAML dialect / CF-E02 syntax errors ----------------------
    error("yaml-syntax-error.yml", "CF-002",
          [("Configuration file is not valid YAML: Error in line 6: "
            "{dir}/yaml-syntax-error.yml"), "(line 6, column 8: "]),
    error("yaml-bad-indentation.yml", "CF-002",
          [("Configuration file is not valid YAML: Error in line 4: "
            "{dir}/yaml-bad-indentation.yml"), "(line 4, column 9: "]),
    error("multiple-documents.yml", "CF-002",
          [("Configuration file is not valid YAML: Error in line 4: "
            "{dir}/multiple-documents.yml"), "(line 4, column 1: "]),
    error("python-tag.yml", "CF-002",
          ["Configuration file is not valid YAML: Error in line 3: {dir}/python-tag.yml",
           "(line 3, column 10: ", "python/object/apply:os.system"]),
    error("include-invalid-yaml", "CF-002",
          ["Configuration file is not valid YAML: Error in line 4: {dir}/common.yml"]),
    # The reader reports a position, not a mark: kas computes the line.
    error("yaml-control-character.yml", "CF-002",
          ["Configuration file is not valid YAML: Error in line 3: ",
           "{dir}/yaml-control-character.yml", "(line 3: "]),
    error("yaml-invalid-utf8.yml", "CF-002",
          ["Configuration file is not valid YAML: Error in line 3: ",
           "{dir}/yaml-invalid-utf8.yml", "(line 3: "]),

    # ---- CF-003 JSON dialect --------------------------------------------
    error("json-syntax-error.json", "CF-003",
          [("Configuration file is not valid JSON: Error in line 4: "
            "{dir}/json-syntax-error.json"), "(line 4, column 3: "]),
    error("json-invalid-utf8.json", "CF-003",
          ["Configuration file is not valid JSON: ", "{dir}/json-invalid-utf8.json"]),
    invalid("json-machine-integer.json", "CF-014",
            ["machine: 5 is not of type 'string'"], at="5:3"),
    # Issue 26.2: JSON indented with tabs (which YAML parsers refuse) gets a position too.
    invalid("json-machine-integer-tabs.json", "CF-014",
            ["machine: 5 is not of type 'string'"], at="5:2"),

    # ---- CF-004 top-level type ------------------------------------------
    invalid("empty-file.yml", "CF-004", ["None is not of type 'object'"]),
    invalid("comments-only.yml", "CF-004", ["None is not of type 'object'"]),
    invalid("top-level-list.yml", "CF-004", ["is not of type 'object'"], at="1:1"),
    invalid("top-level-scalar.yml", "CF-004",
            ["'machine qemuarm64' is not of type 'object'"], at="1:1"),

    # ---- CF-005 keys are strings (rejecting is allowed) -------------------
    invalid("non-string-key.yml", "CF-005", ["repos", "42", "not a string"], at="4:3"),
    invalid("non-string-key-bool.yml", "CF-005",
            ["repos.this.layers", "True", "not a string"], at="6:7"),

    # ---- CF-100 header / header.version ---------------------------------
    invalid("missing-header.yml", "CF-100", ["'header' is a required property"],
            at="1:1"),
    invalid("header-null.yml", "CF-100", ["header: None is not of type 'object'"],
            at="1:1"),
    invalid("missing-version.yml", "CF-100",
            ["header: 'version' is a required property"], at="1:1"),
    invalid("version-null.yml", "CF-100", ["header.version: None is not of type"],
            at="2:3"),
    invalid("version-24.yml", "CF-100",
            ["header.version: 24 is greater than the maximum of 23"], at="2:3"),
    invalid("version-0.yml", "CF-100",
            ["header.version: 0 is less than the minimum of 1"], at="2:3"),
    invalid("version-string-5.yml", "CF-100",   # issue 21.6: says what a version is
            [("header.version: '5' is not a format version: an integer from 1 to 23 or the "
              'string "0.10" was expected (write the number without quotes)')], at="2:3"),
    invalid("version-float-0.10-unquoted.yml", "CF-102",
            ["header.version: 0.1 is not of type 'string', 'integer'"], at="2:3"),
    invalid("version-float-5.5.yml", "CF-100",
            ["header.version: 5.5 is not of type 'string', 'integer'"], at="2:3"),
    invalid("version-bool.yml", "CF-100",
            ["header.version: True is not of type 'string', 'integer'"], at="2:3"),
    invalid("header-unknown-key.yml", "CF-012",
            ["header.include: ", "Additional properties are not allowed",
             "('include' was unexpected)"], at="3:3"),

    # ---- CF-110 header.includes -------------------------------------------
    invalid("includes-null.yml", "CF-110",
            ["header.includes: None is not of type 'array'"], at="3:3"),
    invalid("includes-string.yml", "CF-110",
            ["header.includes: 'base.yml' is not of type 'array'"], at="3:3"),
    invalid("include-item-integer.yml", "CF-110",
            ["header.includes[1]: 42 is not of type 'string', 'object'"], at="5:7"),
    invalid("include-dict-missing-file.yml", "CF-110",
            ["header.includes[0]: 'file' is a required property"], at="4:7"),
    invalid("include-dict-missing-repo.yml", "CF-110",
            ["header.includes[0]: 'repo' is a required property"], at="4:7"),
    invalid("include-dict-extra-key.yml", "CF-110",
            ["header.includes[0].branch: ", "Additional properties are not allowed",
             "('branch' was unexpected)"], at="6:7"),

    # ---- top-level keys ---------------------------------------------------
    invalid("unknown-top-level-key.yml", "CF-012",
            [("machines: Additional properties are not allowed "
              "('machines' was unexpected)")], at="3:1"),
    invalid("build-system-OE-uppercase.yml", "CF-300",
            ["build_system: 'OE' is not one of"], at="3:1"),
    invalid("machine-integer.yml", "CF-014", ["machine: 5 is not of type 'string'"],
            at="3:1"),
    invalid("distro-null.yml", "CF-401", ["distro: None is not of type 'string'"],
            at="3:1"),
    invalid("target-list-integer-item.yml", "CF-402",
            ["target[1]: 42 is not of type 'string'"], at="5:5"),
    invalid("task-list.yml", "CF-403", ["task: ['build'] is not of type 'string'"],
            at="3:1"),
    invalid("env-integer-value.yml", "CF-500",
            ["env.BB_NUMBER_THREADS: 8 is not of type 'string', 'null'"], at="4:3"),
    invalid("env-bool-value.yml", "CF-500",
            ["env.SSTATE_SKIP: True is not of type 'string', 'null'"], at="4:3"),
    invalid("env-list.yml", "CF-500", ["env: ['SSTATE_DIR'] is not of type 'object'"],
            at="3:1"),
    invalid("source-dir-integer.yml", "CF-950",
            ["_source_dir: 5 is not of type 'string'"], at="3:1"),

    # ---- repos ----------------------------------------------------------------
    invalid("repos-list.yml", "CF-600", ["repos: ['poky'] is not of type 'object'"],
            at="3:1"),
    invalid("repo-string.yml", "CF-600",
            [("repos.poky: 'https://git.example.org/poky.git' is not of type "
              "'object', 'null'")], at="4:3"),
    invalid("repo-unknown-key.yml", "CF-602",
            ["repos.poky.revision: ", "Additional properties are not allowed",
             "('revision' was unexpected)"], at="6:5"),
    invalid("repo-name-null.yml", "CF-610",
            ["repos.poky.name: None is not of type 'string'"], at="5:5"),
    invalid("repo-type-svn.yml", "CF-630",
            ["repos.poky.type: 'svn' is not one of ['git', 'hg']"], at="6:5"),
    invalid("repo-commit-null.yml", "CF-640",
            ["repos.poky.commit: None is not of type 'string'"], at="7:5"),
    invalid("repo-commit-unquoted-digits.yml", "CF-002",
            [("repos.poky.commit: 1234567890123456789012345678901234567890 is not of "
              "type 'string'")], at="6:5"),
    invalid("repo-branch-integer.yml", "CF-640",
            ["repos.poky.branch: 2024 is not of type 'string', 'null'"], at="6:5"),
    invalid("repo-tag-float.yml", "CF-640",
            ["repos.poky.tag: 5.0 is not of type 'string', 'null'"], at="6:5"),
    invalid("repo-refspec-null.yml", "CF-640",
            ["repos.poky.refspec: None is not of type 'string'"], at="6:5"),
    invalid("repo-signed-string.yml", "CF-650",
            ["repos.poky.signed: 'yes' is not of type 'boolean'"], at="7:5"),
    invalid("repo-allowed-signers-string.yml", "CF-650",
            ["repos.poky.allowed_signers: 'release-key' is not of type 'array'"],
            at="8:5"),

    # ---- layers -----------------------------------------------------------------
    invalid("layers-null.yml", "CF-660",
            ["repos.this.layers: None is not of type 'object'"], at="5:5"),
    invalid("layers-list.yml", "CF-660",
            ["repos.this.layers: ['meta', 'meta-foo'] is not of type 'object'"],
            at="5:5"),
    invalid("layer-enabled.yml", "CF-661",
            ["repos.this.layers.meta: ", "'enabled'", LAYER_VALUES], at="6:7"),
    invalid("layer-true.yml", "CF-661",
            ["repos.this.layers.meta: ", "True", LAYER_VALUES], at="6:7"),
    invalid("layer-integer-1.yml", "CF-661",
            ["repos.this.layers.meta: ", "1", LAYER_VALUES], at="6:7"),
    invalid("layer-quoted-False.yml", "CF-661",
            ["repos.this.layers.meta: ", "'False'", LAYER_VALUES], at="6:7"),
    invalid("layer-prio-out-of-range.yml", "CF-661",
            ["repos.this.layers.meta.prio: 100 is greater than the maximum of 99"],
            at="7:9"),
    invalid("layer-prio-string.yml", "CF-661",
            ["repos.this.layers.meta.prio: '10' is not of type 'integer'"], at="7:9"),
    invalid("layer-unknown-key.yml", "CF-661",
            ["repos.this.layers.meta.priority: ", "Additional properties are not allowed",
             "('priority' was unexpected)"], at="7:9"),

    # ---- patches --------------------------------------------------------------
    invalid("patch-missing-path.yml", "CF-670",
            ["repos.poky.patches.01-fix: 'path' is a required property"], at="8:7"),
    invalid("patch-extra-key.yml", "CF-670",
            ["repos.poky.patches.01-fix.strip: ", "Additional properties are not allowed",
             "('strip' was unexpected)"], at="11:9"),
    invalid("patch-string.yml", "CF-670",
            [("repos.poky.patches.01-fix: 'patches/0001-fix.patch' is not of type "
              "'object', 'null'")], at="8:7"),

    # ---- defaults ---------------------------------------------------------------
    invalid("defaults-commit.yml", "CF-700",
            ["defaults.repos.commit: ", "Additional properties are not allowed",
             "('commit' was unexpected)"], at="5:5"),
    invalid("defaults-branch-null.yml", "CF-700",
            ["defaults.repos.branch: None is not of type 'string'"], at="5:5"),
    invalid("defaults-unknown-key.yml", "CF-700",
            ["defaults.layers: ", "('layers' was unexpected)"], at="4:3"),
    invalid("defaults-patches-extra-key.yml", "CF-700",
            ["defaults.repos.patches.path: ", "('path' was unexpected)"], at="7:7"),

    # ---- overrides --------------------------------------------------------------
    invalid("overrides-tag.yml", "CF-705",
            ["overrides.repos.poky.tag: ", "Additional properties are not allowed",
             "('tag' was unexpected)"], at="6:7"),
    invalid("overrides-url-null.yml", "CF-705",
            ["overrides.repos.poky.url: None is not of type 'string'"], at="6:7"),
    invalid("overrides-unknown-section.yml", "CF-705",
            ["overrides.layers: ", "('layers' was unexpected)"], at="4:3"),

    # ---- conf headers, proxy_config, menu_configuration, artifacts ---------
    invalid("header-conf-null-value.yml", "CF-720",
            ["local_conf_header.removed: None is not of type 'string'"], at="6:3"),
    invalid("bblayers-conf-header-integer.yml", "CF-720",
            ["bblayers_conf_header.version: 2 is not of type 'string'"], at="4:3"),
    invalid("proxy-config-unknown-key.yml", "CF-740",
            ["proxy_config.socks_proxy: ", "('socks_proxy' was unexpected)"],
            at="5:3"),
    invalid("menu-configuration-null.yml", "CF-750",
            [("menu_configuration.KAS_TARGET_IMAGE: None is not of type 'boolean', "
              "'string', 'integer'")], at="4:3"),
    invalid("menu-configuration-float.yml", "CF-750",
            ["menu_configuration.KAS_VERSION: 1.5 is not of type"], at="4:3"),
    invalid("artifacts-list-value.yml", "CF-760",
            ["artifacts.image: ['tmp/deploy/images/*.wic'] is not of type 'string'"],
            at="4:3"),

    # ---- signers ----------------------------------------------------------------
    invalid("signers-path-and-keyserver.yml", "CF-801",
            ["signers.release-key: ", "gpg_keyserver"], at="4:3"),
    invalid("signers-neither-path-nor-keyserver.yml", "CF-801",
            ["signers.release-key: ", "'gpg_keyserver' is a required property"],
            at="4:3"),
    invalid("signers-path-without-repo.yml", "CF-801",
            ["signers.release-key: 'repo' is a dependency of 'path'"], at="4:3"),
    invalid("signers-keyserver-without-fingerprint.yml", "CF-801",
            ["signers.release-key: 'fingerprint' is a dependency of 'gpg_keyserver'"],
            at="4:3"),
    invalid("signers-ssh-from-keyserver.yml", "CF-801",
            ["signers.ci-ssh: 'path' is a required property",
             "signers.ci-ssh: 'repo' is a required property"],
            at=["4:3", "4:3"], count=2),
    invalid("signers-fingerprint-length-45.yml", "CF-800",
            [("signers.release-key.fingerprint: "
              "'0123456789ABCDEF0123456789ABCDEF0123456789ABC'")], at="7:5"),
    invalid("signers-fingerprint-too-short.yml", "CF-800",
            ["signers.release-key.fingerprint: '0123456789ABCDEF' is too short"],
            at="7:5"),
    invalid("signers-type-x509.yml", "CF-800",
            ["signers.release-key.type: 'x509' is not one of ['gpg', 'ssh']"],
            at="5:5"),
    invalid("signers-unknown-key.yml", "CF-800",
            ["signers.release-key.keyring: ", "('keyring' was unexpected)"], at="7:5"),

    # ---- buildtools ---------------------------------------------------------------
    invalid("buildtools-version-float.yml", "CF-900",
            ["buildtools.version: 5.0 is not of type 'string'"], at="4:3"),
    invalid("buildtools-missing-sha256sum.yml", "CF-900",
            ["buildtools: 'sha256sum' is a required property"], at="3:1"),
    invalid("buildtools-missing-version.yml", "CF-900",
            ["buildtools: 'version' is a required property"], at="3:1"),
    invalid("buildtools-null.yml", "CF-900",
            ["buildtools: None is not of type 'object'"], at="3:1"),

    # ---- CF-011 all violations, in a stable (key path) order ------------------
    invalid("several-violations.yml", "CF-011",
            ["env.A: 1 is not of type 'string', 'null'",
             "header.version: 24 is greater than the maximum of 23",
             "machine: 5 is not of type 'string'",
             "repos.poky.layers.meta: 'enabled'",
             "repos.poky.type: 'svn' is not one of",
             "unknown_key: Additional properties are not allowed"],
            at=["13:3", "2:3", "4:1", "11:7", "8:5", "3:1"], count=6),

    # ---- robustness: no traceback on pathological input (CLI-020) -------------
    invalid("deeply-nested-value.yml", "CLI-020",
            ["machine[0][0]", "values nested more than 64 levels deep are not supported"]),

    invalid("include-nul-byte.yml", "INC-013",
            ["header.includes[0]: contains a NUL character"]),
    invalid("repo-include-nul-byte.yml", "INC-020",
            ["header.includes[0].file: contains a NUL character"]),

    # ---- CF-010 every file is validated on its own ------------------------------
    invalid("include-fragment-without-header", "CF-010",
            ["'header' is a required property"], at="1:1", file="fragment.yml"),
    invalid("second-top-file-invalid", "CF-010",
            ["local_conf_header.debug: 1 is not of type 'string'"], at="4:3",
            file="debug.yml", args=["kas.yml:debug.yml"]),

    # ---- CF-950 / CF-E05 _source_dir only in the first file ---------------------
    error("source-dir-in-include", "CF-950",
          "'_source_dir' is only allowed in the top-level kas configuration: "
          "{dir}/inc.yml"),
    error("source-dir-in-second-file", "CF-950",
          "'_source_dir' is only allowed in the top-level kas configuration: "
          "{dir}/second.yml", args=["kas.yml:second.yml"]),
    error("source-dir-in-lock-file", "CF-950",
          "'_source_dir' is only allowed in the top-level kas configuration: "
          "{dir}/kas.lock.yml"),

    # ---- CF-E06 ... CF-E11: repo definitions (evaluated on the merged config) -
    error("remote-repo-without-ref.yml", "CF-642",
          'No commit, tag or branch specified for repository "poky". '
          "This is only allowed for local repositories."),
    error("remote-repo-ref-removed-by-null.yml", "CF-642",
          'No commit, tag or branch specified for repository "poky". '
          "This is only allowed for local repositories."),
    error("refspec-mixed-with-branch.yml", "CF-643",
          [('Unsupported mixture of legacy refspec and commit/tag/branch for '
            'repository "poky"')]),
    error("refspec-default-with-local-commit.yml", "CF-701",
          [('Unsupported mixture of legacy refspec and commit/tag/branch for '
            'repository "this"')]),
    error("tag-and-branch", "CF-644",
          'Both tag "v1.0" and branch "main" cannot be specified for repository '
          '"upstream"', git_repos=("upstream-origin",)),
    error("signed-without-allowed-signers.yml", "CF-651",
          'Repository "poky" is signed but no allowed signers specified.'),
    error("patch-without-repo.yml", "CF-672",
          'No repo specified for patch entry "01-fix" and no default repo specified.'),
    error("hg-repo-without-hg.yml", "CF-630",
          "hg is required for Mercurial repositories", hide_hg=True),

    # ---- INC-E01 / INC-005 same repository --------------------------------------
    error("different-repositories", "INC-005",
          "All concatenated config files must belong to the same repository or all "
          "must be outside of versioning control",
          args=["a/kas.yml:b/debug.yml"], git_repos=("a", "b")),
    error("different-repositories-vcs-and-plain", "INC-005",
          "All concatenated config files must belong to the same repository or all "
          "must be outside of versioning control",
          args=["a/kas.yml:b/debug.yml"], git_repos=("a",)),

    # ---- INC-E02 missing files ----------------------------------------------------
    error("include-missing", "INC-010", "Configuration file not found: {dir}/missing.yml"),
    error("include-nested-missing", "INC-012",
          "Configuration file not found: {dir}/kas/missing.yml"),
    error("include-fallback-neither-exists", "INC-013",
          "Configuration file not found: {dir}/common.yml"),
    error("repo-include-missing-file", "INC-022",
          "Configuration file not found: {dir}/kas/missing.yml"),
    error("top-file-missing", "CLI-023", "Configuration file not found: {dir}/missing.yml",
          args=["kas.yml:missing.yml"]),
    error("no-config-argument", "INC-002",
          "Configuration file not found: {dir}/.config.yaml", args=[]),
    error("no-config-argument", "INC-002",
          "Configuration file not found: {dir}/.config.yaml", args=[""],
          suffix="-empty-argument"),

    # ---- INC-E03 includes outside their repository --------------------------------
    error("include-outside-repo", "INC-011",
          "include {parent}/common.yml resolves outside repository {dir}"),
    error("include-absolute-outside-repo", "INC-011",
          "include /etc/kas/common.yml resolves outside repository {dir}"),
    error("include-escape-although-file-relative-inside", "INC-011",
          "include {parent}/common.yml resolves outside repository {dir}"),
    error("include-file-relative-escape", "INC-013",
          "include {dir}/include-file-relative-escape/common.yml resolves outside "
          "repository {dir}/kas"),
    error("repo-include-outside-repo", "INC-020",
          "include {parent}/common.yml resolves outside repository {dir}"),

    # ---- INC-E04 repo includes that can never be resolved --------------------------
    error("repo-include-undefined-repo", "INC-044",
          "Could not fetch all repos needed by includes. Missing repos: nothere"),
    error("repo-include-two-undefined-repos", "INC-042",
          "Could not fetch all repos needed by includes. Missing repos: meta-b, meta-a"),

    # ---- INC-E05 / INC-031 include cycles --------------------------------------------
    error("include-cycle-self", "INC-031", ["cycle", "{dir}/kas.yml"]),
    error("include-cycle", "INC-031",
          ["cycle", "{dir}/a.yml", "{dir}/b.yml", "{dir}/c.yml"]),
    error("include-cycle-via-lock-file", "INC-031",
          ["cycle", "{dir}/kas.yml", "{dir}/kas.lock.yml"]),
    error("include-cycle-via-repo-include", "INC-031", ["cycle", "{dir}/kas.yml"]),

    # ---- lock files (INC-081, INC-084, INC-085) --------------------------------------
    invalid("lockfile-unquoted-digit-commit", "INC-084",
            [("overrides.repos.meta-foo.commit: 1234567890123456789012345678901234567890"
              " is not of type 'string', 'null'")], at="6:7", file="kas.lock.yml"),
    invalid("lockfile-unquoted-digit-commit", "INC-085",
            [("overrides.repos.meta-foo.commit: 1234567890123456789012345678901234567890"
              " is not of type 'string', 'null'")], at="6:7", file="kas.lock.yml",
            args=["--update", "kas.yml"], suffix="-update"),
    invalid("lockfile-missing-header", "INC-081", ["'header' is a required property"],
            at="1:1", file="kas.lock.yml"),
]


# --------------------------------------------------------------------------
# Running a case


def error_records(stderr):
    """The messages of all ERROR records (a record may span several lines)."""
    starts = list(RECORD_START.finditer(stderr))
    records = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(stderr)
        if match.group(1) == "ERROR":
            records.append(stderr[match.end():end].rstrip("\n"))
    return records


def _make_git_repo(path):
    """Turn the existing directory ``path`` into a git repo (branch main, tag v1.0)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    git(path, "tag", "v1.0")


def _fill_in_dir(root, directory):
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError:
                continue
            if "@DIR@" in text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace("@DIR@", directory))


def _env_without_hg(tmp_path):
    """PATH with git only: Mercurial is certainly not available."""
    bindir = tmp_path / "bin-without-hg"
    bindir.mkdir()
    os.symlink(shutil.which("git"), str(bindir / "git"))
    return clean_env(PATH=str(bindir))


def run_case(case, tmp_path):
    """Copy the fixture out of the source checkout and run ``kas dump`` on it."""
    source = os.path.join(INVALID, case.fixture)
    base = tmp_path / "cases"
    base.mkdir()
    if case.is_dir:
        directory = base / case.fixture
        shutil.copytree(source, str(directory), symlinks=True)
    else:
        directory = base
        shutil.copy(source, str(directory / case.fixture))
    directory = os.path.realpath(str(directory))
    _fill_in_dir(directory, directory)
    for sub in case.git_repos:
        _make_git_repo(os.path.join(directory, sub))
    env = _env_without_hg(tmp_path) if case.hide_hg else clean_env()
    args = [case.entry()] if case.args is None else case.args
    result = run_kas("dump", *args, cwd=directory, env=env)
    return result, directory


def _fmt(text, directory):
    return text.format(dir=directory, parent=os.path.dirname(directory))


def assert_in_order(haystack, needles):
    position = 0
    for needle in needles:
        found = haystack.find(needle, position)
        assert found >= 0, f"{needle!r} not found (in this order) in:\n{haystack}"
        position = found + len(needle)


@pytest.mark.parametrize("case", CASES)
def test_invalid_config(case, tmp_path):
    result, directory = run_case(case, tmp_path)
    expected = [_fmt(text, directory) for text in case.expected]

    assert "Traceback" not in result.stderr, result
    assert result.returncode == case.exit_code, result
    assert result.stdout == "", result
    records = error_records(result.stderr)
    assert records, result

    if case.kind == "error":
        assert len(records) == 1, records
        message = records[0]
        assert "\n" not in message, f"a user error is one log line: {message!r}"
        if case.whole:
            assert message == expected[0]
        else:
            assert_in_order(message, expected)
        return

    path = os.path.join(directory, case.file or case.entry())
    violations, final = records[:-1], records[-1]
    assert final == VALIDATION_TAIL + path
    assert len(violations) == case.count, records
    for violation in violations:
        lines = violation.split("\n")
        assert lines[0] == VALIDATION_HEAD, violation
        assert lines[1].startswith(path + ":"), violation
        assert "project-configuration" in lines[-1], violation
    assert_in_order("\n".join(violations), expected)
    if case.at is not None:
        positions = [case.at] if isinstance(case.at, str) else case.at
        assert len(positions) == len(violations)
        for violation, position in zip(violations, positions):
            assert f"{path}:{position}: " in violation, violation


# --------------------------------------------------------------------------
# The table covers every fixture, and every fixture exists


def test_every_fixture_is_in_the_table():
    covered = {param.values[0].fixture for param in CASES}
    on_disk = set(os.listdir(INVALID))
    assert sorted(on_disk - covered) == [], "fixtures without a case"
    assert sorted(covered - on_disk) == [], "cases without a fixture"


def test_case_ids_are_unique():
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids))


def test_directory_fixtures_have_an_entry_point():
    for param in CASES:
        case = param.values[0]
        if case.is_dir and case.args is None:
            assert os.path.isfile(os.path.join(INVALID, case.fixture, "kas.yml")), \
                case.fixture


# --------------------------------------------------------------------------
# Values only YAML can express, in places the schema leaves open
# (CF-800: signers.<id>.repo has no type; CF-012: unknown buildtools keys are
# accepted).  The spec does not say whether they are rejected or dumped, but
# kas must not crash (CLI-020: a traceback means a bug).

YAML_ONLY_VALUES = [
    pytest.param("signers:\n  s:\n    repo: 2024-01-01\n    path: key.asc\n",
                 id="CF-800-signer-repo-date"),
    pytest.param("buildtools:\n  version: \"5.0\"\n  sha256sum: abc\n"
                 "  extra: !!binary aGVsbG8=\n", id="CF-900-buildtools-extra-binary"),
    pytest.param("buildtools:\n  version: \"5.0\"\n  sha256sum: abc\n"
                 "  extra: !!set {a, b}\n", id="CF-900-buildtools-extra-set"),
]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("body", YAML_ONLY_VALUES)
def test_yaml_only_values_do_not_crash_dump(body, fmt, workdir):
    (workdir / "kas.yml").write_text("header:\n  version: 23\n" + body)
    result = run_kas("dump", "--format", fmt, "kas.yml", cwd=str(workdir))
    assert "Traceback" not in result.stderr, result
    assert result.returncode in (0, 2), result
    if result.returncode == 2:
        assert result.stdout == "", result
        assert len(error_records(result.stderr)) >= 1, result


# --------------------------------------------------------------------------
# Look-alikes: inputs that resemble the cases above but are valid


VALID_LOOKALIKES = [
    pytest.param("env:\n  A: \"null\"\n", id="CF-500-env-string-null"),
    pytest.param("env:\n  A:\n", id="CF-500-env-real-null"),
    pytest.param("repos:\n  this:\n    layers:\n      meta: n\n", id="CF-661-layer-n"),
    pytest.param("repos:\n  this:\n    layers:\n      meta: {}\n", id="CF-661-layer-empty-map"),
    pytest.param("repos:\n  this:\n    layers:\n      meta: {prio: -99}\n",
                 id="CF-661-layer-prio-min"),
    pytest.param("buildtools:\n  version: \"5.0\"\n  sha256sum: abc\n  extra: 1\n",
                 id="CF-012-buildtools-open"),
    pytest.param("machine: a\nmachine: b\n", id="CF-002-duplicate-keys"),
    pytest.param("overrides:\n  repos:\n    poky:\n      commit:\n      branch:\n",
                 id="CF-705-override-nulls"),
    pytest.param("target: []\n", id="CF-402-empty-target-list"),
    pytest.param("repos:\n  r:\n    url: https://example.org/r.git\n    branch: main\n"
                 "    commit: \"1234567890123456789012345678901234567890\"\n",
                 id="INC-084-quoted-digit-commit"),
]


@pytest.mark.parametrize("body", VALID_LOOKALIKES)
@pytest.mark.parametrize("version", ["23", "5.0", "\"0.10\""])
def test_valid_lookalike(body, version, workdir):
    (workdir / "kas.yml").write_text(f"header:\n  version: {version}\n{body}")
    # The example URLs cannot be fetched: validate without touching repos.
    result = run_kas("dump", "--skip", "finish_setup_repos", "--skip", "repos_checkout",
                     "kas.yml", cwd=str(workdir))
    assert "Traceback" not in result.stderr, result
    assert result.returncode == 0, result
    assert result.stdout.startswith("header:\n  version: "), result


# --------------------------------------------------------------------------
# Absurdly deep flow collections: libyaml would crash the interpreter and
# the JSON decoder hits the recursion limit; both are one clear error.


@pytest.mark.parametrize("name,template", [
    ("deep.yml", "header:\n  version: 14\nmachine: {}\n"),
    ("deep.json", '{{"header": {{"version": 14}}, "machine": {}}}'),
])
def test_extremely_deep_nesting_is_a_clear_error(workdir, name, template):
    depth = 100000
    (workdir / name).write_text(template.format("[" * depth + "]" * depth))
    result = run_kas("dump", name, cwd=str(workdir))
    assert result.returncode == 2, result
    assert result.errors() == [f"Configuration file is nested too deeply: {workdir / name}"]
    assert "Traceback" not in result.stderr
