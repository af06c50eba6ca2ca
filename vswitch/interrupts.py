"""Ctrl-C at any moment of the ``vswitch`` command: one line on stderr and exit status 130, never a traceback.

``python -m vswitch`` and the ``vswitch`` script install ``HANDLER`` before anything slow is imported (the package
imports its modules on first use). Until a command runs, nothing is open, so an interrupt exits at once. While
``cli.main`` runs one, an interrupt raises ``KeyboardInterrupt`` instead, once, so that ``finally`` blocks close
the capture files whole before ``main`` prints the line and returns 130; further interrupts while it stops are
ignored. Once the command is over (its output flushed), an interrupt exits at once again. A program that calls
``cli.main`` itself keeps its own handler. Standard library only: this module is imported first.
"""

from __future__ import annotations

import os

try:  # the C module: `import signal` first imports enum, milliseconds in which Ctrl-C would still be a traceback
    import _signal as signal
except ImportError:  # pragma: no cover - an interpreter without it
    import signal  # type: ignore[no-redef]  # the same functions, under the one name

MESSAGE = "vswitch: interrupted"
EXIT_STATUS = 130  # 128 + SIGINT: what shells report for a command stopped by Ctrl-C


class InterruptHandler:
    """The SIGINT handler of the ``vswitch`` process."""

    def __init__(self) -> None:
        self.raising = False  # a command runs: raise KeyboardInterrupt rather than exit
        self.stopping = False  # an interrupt came: the next ones change nothing

    def __call__(self, signum: int, frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        if self.raising:
            raise KeyboardInterrupt
        os.write(2, f"{MESSAGE}\n".encode())
        os._exit(EXIT_STATUS)  # nothing is open and stdout holds nothing: no cleanup to run


HANDLER = InterruptHandler()


def install() -> None:
    """Make ``HANDLER`` this process's Ctrl-C handler (call it from the main thread, first thing)."""
    signal.signal(signal.SIGINT, HANDLER)


def command_starts() -> bool:
    """From now on an interrupt raises ``KeyboardInterrupt``, if ``HANDLER`` is installed (True then); the caller
    sets ``HANDLER.raising`` back to False when the command is over."""
    if signal.getsignal(signal.SIGINT) is not HANDLER:
        return False
    HANDLER.raising = True
    return True
