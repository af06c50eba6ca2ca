"""Which build of vswitch is running: its per-frame modules compiled to C by mypyc (setup.py), or pure Python.

An editable install (``pip install -e .``) compiles those modules in place, next to their ``.py`` files, and Python
then imports the compiled ones: an edit to such a ``.py`` file has no effect until the next install.
``stale_modules`` finds them, so that the CLI and the tests can say so.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def build_kind() -> str:
    """``"compiled (mypyc)"`` when the per-frame modules are C extensions, else ``"pure Python"``."""
    from .net import datapath

    return "pure Python" if datapath.__file__.endswith(".py") else "compiled (mypyc)"


def stale_modules(package: Path = PACKAGE) -> list[str]:
    """In a source tree, the ``.py`` files changed since they were compiled in place (their edits are not in effect)."""
    if not (package.parent / "setup.py").is_file():
        return []  # an installed copy: its files change only together
    stale = []
    for compiled in sorted(package.rglob("*.so")):
        source = compiled.with_name(compiled.name.split(".", 1)[0] + ".py")
        if source.is_file() and source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(source.relative_to(package).as_posix())
    return stale


def stale_warning() -> str | None:
    """One line for users of an editable install whose in-place build is older than its sources, else None."""
    stale = stale_modules()
    if not stale:
        return None
    return (f"vswitch: {', '.join(stale)} changed after being compiled in place, so the old code runs: run "
            "pip install -e . again, or delete vswitch/**/*.so to run the sources as pure Python")
