"""Files the tests' own docstrings and comments point a reader to exist:
a path or a file name ending in .py, and a ``helpers.<module>`` (the
helper modules were moved into tests/helpers/ and renamed once, and six
docstrings went on naming the old files).

Only docstrings and comments are read (``ast`` and ``tokenize``), not the
code: a test may well create a Python file of its own.
"""

import ast
import glob
import io
import os
import re
import tokenize

from helpers.run import REPO_ROOT

SOURCES = sorted(glob.glob(os.path.join(REPO_ROOT, "tests", "**", "*.py"), recursive=True))
PY_FILE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.py)\b")
HELPER_MODULE = re.compile(r"(?<![\w.])(helpers|\w+helpers)\.(\w+)")


def docstrings_and_comments(path):
    """(line, text) of every comment and docstring of the file."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                found.append((node.body[0].lineno, doc))
    return found


def known_files():
    """Every .py file of the repository (relative paths) and their base names."""
    paths = set()
    for directory in ("kas", "tests", "bench", "contrib", "."):
        for path in glob.glob(os.path.join(REPO_ROOT, directory, "**", "*.py"), recursive=True):
            rel = os.path.relpath(path, REPO_ROOT)
            if not rel.startswith((".venv", ".git")):
                paths.add(rel)
    return paths, {os.path.basename(path) for path in paths}


def missing_references(path, paths, names):
    problems = []
    for line, text in docstrings_and_comments(path):
        for ref in PY_FILE.findall(text):
            if "/" in ref:
                exists = ref in paths or os.path.join("tests", ref) in paths
            else:
                exists = ref in names
            if not exists:
                problems.append(f"{os.path.relpath(path, REPO_ROOT)}:{line}: {ref}")
        for package, module in HELPER_MODULE.findall(text):
            if package != "helpers" or f"tests/helpers/{module}.py" not in paths:
                problems.append(f"{os.path.relpath(path, REPO_ROOT)}:{line}: "
                                f"{package}.{module}")
    return problems


def test_docstrings_and_comments_name_files_that_exist():
    paths, names = known_files()
    problems = [problem for path in SOURCES
                for problem in missing_references(path, paths, names)]
    assert problems == [], "\n".join(problems)
