"""``python -m vswitch``: the same as the ``vswitch`` command."""

import sys

from .cli import main

sys.exit(main())
