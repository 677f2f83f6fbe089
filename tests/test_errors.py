"""The error hierarchy's messages (CLI-020 ... CLI-023)."""

from kas.errors import (
    ArgumentsError,
    CommandError,
    ConfigValidationError,
    KasUserError,
    format_command,
)


def test_user_errors_exit_2_CLI_021():
    for err in (KasUserError("x"), ArgumentsError("x"), CommandError(["false"], 1),
                ConfigValidationError("/p.yml", ["v"])):
        assert err.exit_code == 2


def test_invalid_combination_wording_CLI_023():
    err = ArgumentsError("--inplace requires --lock")
    assert err.log_lines() == ["Invalid combination of arguments: --inplace requires --lock"]


def test_failed_command_quotes_words_with_spaces_CLI_022():
    assert format_command(["git", "commit", "-m", "a message"]) == \
        "git commit -m 'a message'"
    err = CommandError(["git", "commit", "-m", "a message"], 128)
    assert err.log_lines() == ["Command \"git commit -m 'a message'\" failed with error 128"]


def test_failed_command_with_captured_stderr_CLI_022():
    err = CommandError(["git", "fetch"], 1, stderr="fatal: no remote\n", cwd="/w/repo")
    assert err.log_lines() == [
        'Command "/w/repo$ git fetch" failed:\nfatal: no remote',
        'Command "git fetch" failed with error 1',
    ]


def test_validation_error_lists_violations_then_the_summary_CF_011():
    err = ConfigValidationError("/p/kas.yml", ["first", "second"])
    assert err.log_lines() == [
        "first", "second",
        "Error(s) occured while validating the config file: /p/kas.yml"]
