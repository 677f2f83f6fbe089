"""Reading and writing YAML/JSON documents, below both the configuration
loader (:mod:`kas.config`) and the lock files (:mod:`kas.lock`):

* :mod:`kas.docio.reader`: one file read safely (regular files only, size
  and alias-expansion limits), parsed, and errors with line and column;
* :mod:`kas.docio.writer`: documents printed the way kas prints them, and
  standard output written so that a closed or full output is one error.
"""
