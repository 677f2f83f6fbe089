"""``python3 -m kas`` behaves exactly like the ``kas`` console script."""

import sys

from kas.entry import main

sys.exit(main())
