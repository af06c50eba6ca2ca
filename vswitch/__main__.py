"""``python -m vswitch``: the same as the ``vswitch`` command, whose entry point is ``run``."""

import sys

from . import interrupts


def run() -> int:
    """The ``vswitch`` command: Ctrl-C is one line and status 130 from here on, imports included (interrupts.py)."""
    interrupts.install()
    from .cli import main  # Scapy and the rest load after the handler is in place

    return main()


if __name__ == "__main__":
    sys.exit(run())
