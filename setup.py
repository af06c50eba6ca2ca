"""Build hook: compiles the per-frame modules to C with mypyc, falling back to pure Python.

The modules in ``COMPILED`` are the path every frame takes (docs/performance.md); mypyc turns their type-annotated
Python into a C extension, about 1.7 times the frames per second of the same code interpreted, with the same
behaviour (the test suite runs on both builds). Without a C compiler, on an interpreter other than CPython, or with
``VSWITCH_PURE_PYTHON=1``, the package installs as pure Python and ``vswitch --version`` says so.
"""

import os
import platform
import sys

from setuptools import setup

#: The per-frame modules, as paths under vswitch/ without ".py".
COMPILED = ["core/engine", "l2/port", "l2/decision", "l2/fdb", "l2/switch", "l2/nic", "l2/adapter", "pcap/writer",
            "net/capture", "net/datapath", "net/network"]


def _say(message: str) -> None:
    print(f"vswitch build: {message}", file=sys.stderr)


def compiled_extensions() -> list:
    if os.environ.get("VSWITCH_PURE_PYTHON"):
        _say("VSWITCH_PURE_PYTHON is set: installing pure Python")
        return []
    if platform.python_implementation() != "CPython":
        _say(f"mypyc compiles for CPython only: installing pure Python on {platform.python_implementation()}")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed in the build environment: installing pure Python")
        return []
    try:
        extensions = mypycify(["--follow-imports=silent", "--ignore-missing-imports",
                               *(f"vswitch/{name}.py" for name in COMPILED)], opt_level="3")
    except (Exception, SystemExit) as exc:  # mypyc prints type errors, then exits: still install, uncompiled
        reason = "type errors above" if isinstance(exc, SystemExit) else exc
        _say(f"mypyc could not compile the per-frame modules ({reason}): installing pure Python")
        return []
    for extension in extensions:
        extension.optional = True  # a failed C build leaves the pure-Python modules in place
    return extensions


setup(ext_modules=compiled_extensions())
