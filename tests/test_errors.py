"""The error hierarchy's messages and exit codes (CLI-020 ... CLI-023)."""

import pytest
from helpers.repos import write
from helpers.run import clean_env, run_kas

from kas.errors import (
    ArgumentsError,
    CommandError,
    ConfigValidationError,
    format_command,
)

# One real kas run per kind of user error: (files in the work directory,
# extra environment, kas arguments, the last ERROR message).
MINIMAL = "header:\n  version: 14\nrepos:\n  this:\n"
USER_ERRORS = {
    "KasUserError": ({}, {}, ["purge"],
                     "Purge requires a config file to locate managed repos."),
    "ArgumentsError": ({"kas.yml": MINIMAL}, {},
                       ["dump", "--skip", "init_setup_repos", "kas.yml"],
                       ("Invalid combination of arguments: repo_setup_loop requires "
                        "init_setup_repos")),
    "ConfigError": ({}, {}, ["dump", "missing.yml"],
                    "Configuration file not found: {work}/missing.yml"),
    "ConfigValidationError": ({"kas.yml": "header:\n  version: 14\nrepos: 5\n"}, {},
                              ["dump", "kas.yml"],
                              ("Error(s) occured while validating the config file: "
                               "{work}/kas.yml")),
    "IncludeError": ({"kas.yml": "header:\n  version: 14\n  includes:\n    - kas.yml\n"}, {},
                     ["dump", "kas.yml"],
                     "Include cycle detected: {work}/kas.yml -> {work}/kas.yml"),
    "CommandError": ({"kas.yml": MINIMAL, "oe-init-build-env": 'mkdir -p "$1/conf"\n'}, {},
                     ["for-all-repos", "kas.yml", "false"],
                     'Command "false" failed with error 1'),
    # The file system refuses (here: a build directory below a file).
    "OSError": ({"kas.yml": MINIMAL}, {"KAS_BUILD_DIR": "{work}/kas.yml/build"},
                ["checkout", "kas.yml"], "Not a directory: {work}/kas.yml/build"),
}


@pytest.mark.parametrize("kind", sorted(USER_ERRORS))
def test_user_errors_exit_2(workdir, kind):
    """CLI-021: every kind of user error, raised by a real kas run, is one
    ERROR message and exit status 2, without a traceback or bug report."""
    files, env, args, message = USER_ERRORS[kind]
    work = str(workdir)
    for name, text in files.items():
        write(workdir / name, text)
    env = {name: value.format(work=work) for name, value in env.items()}
    result = run_kas(*args, cwd=workdir, env=clean_env(**env))
    assert result.returncode == 2, result
    assert result.errors()[-1] == message.format(work=work), result
    assert "Traceback" not in result.stderr, result
    assert "This is a bug in kas" not in result.stderr, result


def test_usage_errors_exit_2(workdir):
    """CLI-021: an error found by the argument parser exits 2 with usage."""
    result = run_kas("bogus", cwd=workdir)
    assert result.returncode == 2, result
    assert result.stderr.startswith("usage: kas "), result
    assert "kas: error: argument <command>: invalid choice: 'bogus'" in result.stderr, result


def test_invalid_combination_wording():
    """An invalid combination of arguments is worded as kas 5.5 does
    (CLI-023)."""
    err = ArgumentsError("--inplace requires --lock")
    assert err.log_lines() == ["Invalid combination of arguments: --inplace requires --lock"]


def test_failed_command_quotes_words_with_spaces():
    """A failed command is quoted with shell quoting for words with spaces
    (CLI-022)."""
    assert format_command(["git", "commit", "-m", "a message"]) == \
        "git commit -m 'a message'"
    err = CommandError(["git", "commit", "-m", "a message"], 128)
    assert err.log_lines() == ["Command \"git commit -m 'a message'\" failed with error 128"]


def test_failed_command_with_captured_stderr():
    """A failed command with captured stderr logs the command, its directory
    and stderr, then the status (CLI-022)."""
    err = CommandError(["git", "fetch"], 1, stderr="fatal: no remote\n", cwd="/w/repo")
    assert err.log_lines() == [
        'Command "/w/repo$ git fetch" failed:\nfatal: no remote',
        'Command "git fetch" failed with error 1',
    ]


def test_validation_error_lists_violations_then_the_summary():
    """A validation error lists the violations, then the summary naming the
    file (CF-011)."""
    err = ConfigValidationError("/p/kas.yml", ["first", "second"])
    assert err.log_lines() == [
        "first", "second",
        "Error(s) occured while validating the config file: /p/kas.yml"]
