"""Network namespaces for the kernel lab: run ``ip``/``bridge`` in them, and enter one with the calling thread.

Only the calling thread moves (``setns``), so sockets made inside ``in_netns`` stay in that namespace while the
rest of the process stays home.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from contextlib import contextmanager
from typing import Iterator

from ..core.errors import VSwitchError

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class KernelLabError(VSwitchError):
    """A lab could not be built, driven or torn down."""


class CommandFailed(KernelLabError):
    """An ``ip`` or ``bridge`` command failed; ``output`` is what it said (its stderr, or its exit status)."""

    def __init__(self, args: tuple[str, ...], output: str) -> None:
        super().__init__(f"`{' '.join(args)}` failed: {output}")
        self.output = output


def run_command(*args: str, check: bool = True) -> str:
    """Run ``args`` (an ``ip`` or ``bridge`` command); its output, or ``CommandFailed`` if it failed."""
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandFailed(args, proc.stderr.strip() or str(proc.returncode))
    return proc.stdout


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:  # os.setns is Python 3.12+
        raise OSError(ctypes.get_errno(), f"setns: {os.strerror(ctypes.get_errno())}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block with the calling thread in network namespace ``name`` (sockets made here stay there)."""
    target, home = os.open(f"/run/netns/{name}", os.O_RDONLY), os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(home)  # a no-op if entering failed
        os.close(home)
        os.close(target)
