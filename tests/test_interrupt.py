"""Ctrl-C at any moment of ``vswitch run`` (issue 12, item 12): one line, exit status 130, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import vswitch

PACKAGE_PARENT = Path(vswitch.__file__).resolve().parent.parent
DEADLINE_S = 60  # for a slow machine; each case takes well under a second here


def test_importing_the_package_loads_nothing_slow():
    """``python -m vswitch`` imports the package before ``__main__``: it must not load Scapy or the emulator
    first, or Ctrl-C during those imports is a traceback."""
    code = "import sys, vswitch; print(sorted(m for m in sys.modules if m.startswith(('vswitch', 'scapy'))))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_PARENT, capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert done.stdout.strip() == "['vswitch']", done.stderr
    from vswitch import network
    assert vswitch.Network is network.Network  # the public names load on first use
