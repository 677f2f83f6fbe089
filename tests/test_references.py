"""What the tests' and kas's own docstrings and comments point a reader
to, issue 26.6:

- files that exist: a path or a file name ending in .py, and a
  ``helpers.<module>`` (the helper modules were moved into tests/helpers/
  and renamed once, and six docstrings went on naming the old files);
- behaviour, not a bare reference: a docstring or comment that is only a
  spec id or an issue number tells the reader nothing; an id belongs
  beside a sentence saying what it is about.

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
KAS_SOURCES = sorted(glob.glob(os.path.join(REPO_ROOT, "kas", "**", "*.py"), recursive=True))
# A spec id (CLI-121, KC-010c, INC-E09), an issue number (issue 16.1,
# issues 20.1/20.3), a section (§15, cli.md) or a step (step 8).
REFERENCE = re.compile(r"""(?ix)
    \b[A-Z]{2,6}-[A-Z]?\d{1,4}[a-z]?\b
  | \bissues?\s+\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)*
  | §\s*\d+(?:\.\d+)*
  | \b[\w-]+\.md\b
  | \bsteps?\s+\d+
""")
CONNECTIVES = {"and", "or", "see", "also"}


def docstrings_and_comments(path):
    """(line, text) of every comment and docstring of the file; comment
    lines that follow each other on lines of their own are one text."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    lines = source.splitlines()
    found = []
    block_end = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT):
                block_end = None
            continue
        row, col = token.start
        own_line = not lines[row - 1][:col].strip()
        text = token.string.lstrip("#").strip()
        if own_line and block_end == row - 1:
            line, previous = found.pop()
            found.append((line, previous + " " + text))
        else:
            found.append((row, text))
        block_end = row if own_line else None
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


def bare_references(path):
    """Docstrings and comments of the file that are only references."""
    return [f"{os.path.relpath(path, REPO_ROOT)}:{line}: {text}"
            for line, text in docstrings_and_comments(path) if only_references(text)]


def only_references(text):
    if not REFERENCE.search(text):
        return False
    rest = REFERENCE.sub(" ", text)
    return not set(re.findall(r"[A-Za-z]{2,}", rest.lower())) - CONNECTIVES


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


def test_no_docstring_or_comment_is_only_a_reference():
    problems = [problem for path in SOURCES + KAS_SOURCES for problem in bare_references(path)]
    assert problems == [], "\n".join(problems)
