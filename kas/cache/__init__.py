"""``python3 -m kas.cache``: maintenance of the repo cache (see
:mod:`kas.vcs.cache` and :mod:`kas.vcs.cacheprune`)."""
