"""kas validates with a copy of the schema whose $refs are inlined (speed);
it must find exactly what the schema as written finds."""

import glob
import os

import pytest
import yaml
from helpers.run import FIXTURES
from jsonschema import Draft7Validator

from kas.config import schema


def documents():
    for path in sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.yml"))):
        try:
            with open(path, "rb") as f:
                data = yaml.safe_load(f)
        except (yaml.YAMLError, ValueError, RecursionError):
            continue    # a parse error: never reaches the schema
        if list(schema._structure_problems(data)):
            continue    # rejected before the schema (non-string key, depth, NUL)
        yield pytest.param(data, id=os.path.basename(path))


def summary(validator, data):
    return sorted((list(e.absolute_path).__repr__(), e.message)
                  for e in validator.iter_errors(data))


@pytest.mark.parametrize("data", list(documents()))
def test_inlined_schema_reports_the_same_violations(data):
    written = Draft7Validator(schema.load_schema())
    assert summary(schema._get_validator(), data) == summary(written, data)
