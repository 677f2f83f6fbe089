"""``python3 -m kas`` behaves exactly like the ``kas`` console script."""

import sys

from kas.cli import main

sys.exit(main())
