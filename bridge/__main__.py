"""``python -m bridge serve ...``: the same CLI as ``skbridge``."""

import sys

from bridge.cli import main

sys.exit(main())
