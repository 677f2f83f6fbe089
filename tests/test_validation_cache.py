"""A configuration file whose content already passed validation is not
validated again: the validator is not even loaded (issue 27).  Only
passes are remembered, keyed by the content and the schema; the cache is
harmless to delete and can be turned off."""

import os
import shutil
import subprocess
import sys

from helpers.repos import write
from helpers.run import REPO_ROOT, clean_env, run_kas

from kas.config.validcache import ValidationCache

VALID = "header:\n  version: 14\nmachine: qemux86-64\nrepos:\n  this:\n"
INVALID = "header:\n  version: 14\nmachine: [not, a, string]\n"


def dump(work, env, name="kas.yml"):
    """``kas dump`` run with -X importtime: (result, imported module names)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kas", "dump", name],
                          cwd=work, env=env, capture_output=True, text=True, check=False)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    return proc, modules


def entries(cache):
    return [os.path.join(d, f) for d, _, names in os.walk(cache) for f in names]


def test_a_validated_file_is_not_validated_again(tmp_path):
    work = tmp_path / "work"
    write(work / "kas.yml", VALID)
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    first, modules = dump(work, env)
    assert first.returncode == 0, first.stderr
    assert "jsonschema" in modules
    assert len(entries(tmp_path / "cache" / "kas" / "validated")) == 1
    again, modules = dump(work, env)
    assert again.returncode == 0, again.stderr
    assert "jsonschema" not in modules
    assert again.stdout == first.stdout
    # Changed content is validated again.
    write(work / "kas.yml", VALID.replace("qemux86-64", "qemuarm"))
    _, modules = dump(work, env)
    assert "jsonschema" in modules


def test_an_invalid_file_is_never_remembered(tmp_path):
    work = tmp_path / "work"
    write(work / "kas.yml", INVALID)
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    for _ in range(2):
        result = run_kas("dump", "kas.yml", cwd=work, env=env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result
        assert "machine: ['not', 'a', 'string'] is not of type 'string'" in result.stderr
    assert entries(tmp_path / "cache") == []


def test_the_cache_can_be_turned_off_deleted_or_unwritable(tmp_path):
    work = tmp_path / "work"
    write(work / "kas.yml", VALID)
    cache = tmp_path / "cache"
    off = clean_env(XDG_CACHE_HOME=str(cache), KAS_VALIDATION_CACHE="0")
    for _ in range(2):
        result, modules = dump(work, off)
        assert result.returncode == 0 and "jsonschema" in modules
    assert not cache.exists()
    # Without XDG_CACHE_HOME: below HOME.
    home_env = clean_env(HOME=str(tmp_path / "home"))
    home_env.pop("XDG_CACHE_HOME", None)
    assert dump(work, home_env)[0].returncode == 0
    assert len(entries(tmp_path / "home" / ".cache" / "kas" / "validated")) == 1
    # A cache directory that cannot be made: kas validates and goes on.
    write(tmp_path / "file", "")
    blocked = clean_env(XDG_CACHE_HOME=str(tmp_path / "file"))
    for _ in range(2):
        result, modules = dump(work, blocked)
        assert result.returncode == 0 and "jsonschema" in modules, result.stderr


def test_an_entry_is_not_trusted_by_another_schema_nor_when_damaged(tmp_path):
    schema_a = write(tmp_path / "a.json", '{"type": "object"}')
    schema_b = write(tmp_path / "b.json", '{"type": "object", "required": ["x"]}')
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    raw = VALID.encode()
    data = {"header": {"version": 14}, "shared": [1, {"a": None}]}
    ValidationCache.from_environ(env, schema_a).remember("kas.yml", raw, data)
    assert ValidationCache.from_environ(env, schema_a).lookup("kas.yml", raw) == data
    assert ValidationCache.from_environ(env, schema_b).lookup("kas.yml", raw) is None
    # Nor the same bytes read as another format.
    assert ValidationCache.from_environ(env, schema_a).lookup("kas.json", raw) is None
    # A damaged entry is not used.
    [entry] = entries(tmp_path / "cache")
    with open(entry, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        f.write(b"\xff")
    assert ValidationCache.from_environ(env, schema_a).lookup("kas.yml", raw) is None


def test_yaml_aliases_stay_shared_and_dates_are_not_cached(tmp_path):
    """What the cache gives back is what the parser gives: an alias is the
    same object as its anchor; values marshal cannot keep are parsed."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cache = ValidationCache.from_environ(env, os.path.join(
        os.path.dirname(__import__("kas").__file__), "schema-kas.json"))
    import datetime
    cache.remember("d.yml", b"x", {"when": datetime.date(2024, 1, 1)})
    assert cache.lookup("d.yml", b"x") is None
    shared = {"anchor": [1, 2]}
    data = {"a": shared, "b": shared}
    cache.remember("s.yml", b"y", data)
    back = cache.lookup("s.yml", b"y")
    assert back == data and back["a"] is back["b"]


def test_a_change_to_the_checking_code_is_a_new_key(tmp_path):
    """kas's version string stays "5.5" across our releases, so the code
    that parses and checks a file (its limits are not in the schema) is
    part of the key: a kas whose reader changed validates again."""
    copy = tmp_path / "copy"
    shutil.copytree(os.path.join(REPO_ROOT, "kas"), copy / "kas",
                    ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    write(work / "kas.yml", VALID)
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(copy))
    imported = subprocess.run([sys.executable, "-c", "import kas; print(kas.__file__)"],
                              cwd=work, env=env, capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == str(copy / "kas" / "__init__.py")
    for expected in (True, False):
        result, modules = dump(work, env)
        assert result.returncode == 0, result.stderr
        assert ("jsonschema" in modules) is expected
    with open(copy / "kas" / "docio" / "reader.py", "a") as f:
        f.write("# another kas\n")
    result, modules = dump(work, env)
    assert result.returncode == 0, result.stderr
    assert "jsonschema" in modules
