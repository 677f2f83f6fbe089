"""``python3 -m kas.cache prune --older-than 30d``."""

import sys

from kas.vcs.cacheprune import main

sys.exit(main(sys.argv[1:]))
