"""``python -m vswitch.bench``: the bench without the CLI (and the workers ``vswitch bench`` starts)."""

import sys

from .runner import main

sys.exit(main())
