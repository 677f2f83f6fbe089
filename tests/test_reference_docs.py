"""docs/reference/ is generated from the schema, the argument parser and
the environment variable table, and cannot drift from them (issue 18.4)."""

import os
import re
import subprocess
import sys

import pytest
from helpers.run import REPO_ROOT, clean_env, run_kas

from kas.config.schema import load_schema
from kas.docgen.config import VERSION, entries
from kas.docgen.envvars import names
from kas.docgen.generate import documents, outdated

# Variables kas-container reads with ${NAME:-...} that are its own state,
# not taken from the caller.
CONTAINER_INTERNAL = {"BINFMT_DIR", "BUILD_SYSTEM", "CHECK_JSON", "DOCTOR_LOOP_DEV",
                      "FIRST_FILE", "SUBID_FREE"}


def test_generated_files_are_up_to_date():
    """Issue 18.4: a test fails when docs/reference/ is out of date."""
    proc = subprocess.run([sys.executable, "-m", "kas.docgen", "--check"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert outdated() == []


def test_check_reports_a_stale_file(tmp_path):
    """--check names the file that differs from the generated text."""
    for name, text in documents().items():
        (tmp_path / name).write_text(text)
    (tmp_path / "cli.md").write_text("hand-edited\n")
    assert outdated(str(tmp_path)) == ["cli.md"]


def test_every_key_has_description_version_and_example():
    """Issue 18.4: every configuration key has a description, the format
    version that introduced it and (unless obsolete) an example."""
    schema = load_schema()
    for path, node in entries(schema):
        if path[-1].startswith("<"):
            continue       # user-chosen names: described by their mapping
        assert node.get("description"), path
        assert isinstance(node.get(VERSION), int), path
        if path[0] != "proxy_config":
            assert node.get("examples"), path


def test_config_reference_lists_every_key():
    schema = load_schema()
    text = documents()["config.md"]
    for path, _ in entries(schema):
        assert f"`{'.'.join(path)}`" in text
    assert "* Default: `qemux86-64`" in text
    assert "* Since format version: 21" in text


@pytest.mark.parametrize("key", sorted(load_schema()["properties"]))
def test_top_level_examples_are_valid(key):
    """The examples of the reference pass our own validation."""
    from kas.config.schema import _get_validator

    schema = load_schema()
    node = schema["properties"][key]
    if "$ref" in node and "examples" not in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    for example in node.get("examples", ()):
        document = {"header": {"version": 23}, key: example}
        if key == "header":
            document = {"header": example}
        errors = [e.message for e in _get_validator().iter_errors(document)]
        assert errors == [], (key, errors)


def test_cli_reference_lists_every_command_and_option():
    """Issue 18.4: every command and option of the parser is in cli.md."""
    from kas.completion.model import kas_program

    text = documents()["cli.md"]
    program = kas_program()
    for command in program.commands:
        assert f"### kas {command.name}\n" in text
        assert command.example and f"```sh\n{command.example}\n```" in text
        for option in command.options:
            assert " | ".join([", ".join(f"`{f}`" for f in option.flags)]) in text
    assert "### kas-container doctor" in text
    assert "`--isar-rootless`" in text


def test_command_help_shows_one_example():
    """Issue 18.4: each command's --help says what it does and shows an
    example."""
    from kas import plugins

    for plugin in plugins.discover():
        result = run_kas(plugin.COMMAND, "--help", env=clean_env(COLUMNS="200"))
        assert result.returncode == 0
        assert plugin.HELP in result.stdout
        assert result.stdout.rstrip().endswith(f"Example: {plugin.EXAMPLE}")
        assert plugin.EXAMPLE.startswith(f"kas {plugin.COMMAND} ")


def _read_in_kas():
    # Environments are mappings named ``environ`` or ``*_env`` (caller_env,
    # managed_env, ...).
    pattern = re.compile(r'(?:environ|_env)(?:\.get\(|\.pop\(|\[)\s*"([A-Za-z_][A-Za-z0-9_]*)"'
                         r'|getenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"'
                         r'|"([A-Za-z_][A-Za-z0-9_]*)" (?:not )?in [a-z_.]*(?:environ|_env)\b')
    found = set()
    for root, _, files in os.walk(os.path.join(REPO_ROOT, "kas")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    text = f.read()
                for match in pattern.finditer(text):
                    if re.match(r"\]\s*=(?!=)", text[match.end():]):
                        continue    # kas sets it for its children, it reads nothing
                    found.add(next(g for g in match.groups() if g))
    return found


def _read_in_kas_container():
    with open(os.path.join(REPO_ROOT, "kas-container"), encoding="utf-8") as f:
        text = f.read()
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):?[-+=]", text)) - CONTAINER_INTERNAL


def test_every_variable_read_is_documented():
    """Issue 18.4: every variable kas (environ.get/[]/in) and kas-container
    (${NAME:-...}) read is in the table behind environment.md, and kas's
    named lists of credential and key variables and its table of
    configuration overrides (issue 26.2) are too."""
    from kas.config.model import ENV_OVERRIDES
    from kas.pipeline import IGNORED_WITH_PRESERVED_ENV
    from kas.ssh import KEY_VARIABLES

    in_kas = _read_in_kas()
    assert len(in_kas) >= 30, "the scan of kas/ finds too few variables to be working"
    read = in_kas | _read_in_kas_container()
    assert read - names() == set()
    assert set(IGNORED_WITH_PRESERVED_ENV) | set(KEY_VARIABLES) <= names()
    assert {override.variable for override in ENV_OVERRIDES.values()} <= names()
    assert {"KAS_WORK_DIR", "KAS_CONTAINER_ENGINE", "KAS_FETCH_JOBS"} <= names()


def test_environment_reference_lists_every_variable():
    text = documents()["environment.md"]
    for name in names():
        assert f"`{name}`" in text
