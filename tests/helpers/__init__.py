"""Helpers of the kas tests (fixtures stay in ``tests/conftest.py``).

``run``        run the real ``kas`` (``run_kas``, ``kas_ok``, ``assert_user_error``)
``repos``      real git/hg repositories, files and the user's project
``terminal``   kas on a pseudo terminal (pty) or in a private tmux server
the others     helpers of one group of tests (clean, containers, creds, ...)
"""
