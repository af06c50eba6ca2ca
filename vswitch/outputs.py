"""The output folder of ``vswitch run``: what an earlier run wrote there and this one no longer writes goes.

A run lists the capture files it wrote in ``.vswitch-captures`` in the folder. The next run into that folder
removes each listed file it did not write itself (the pcap of a point that was renamed or dropped), so that the
folder holds one run's captures, and then lists its own. Only files a vswitch run listed are ever removed: a
user's other files in the folder stay, and so does anything the list names that is not a regular file inside it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Iterable

MANIFEST = ".vswitch-captures"
_HEADER = "# capture files the last vswitch run wrote here; the next run removes those it no longer writes\n"


def clear_stale_captures(out_dir: Path, written: Iterable[Path]) -> list[str]:
    """After a run that wrote ``written`` into ``out_dir``: remove what the previous run listed and this one did
    not write, list this run's files, and return the removed names (relative to ``out_dir``, sorted)."""
    root = out_dir.resolve()
    mine = sorted({PurePosixPath(Path(path).resolve().relative_to(root)).as_posix() for path in written})
    removed = []
    for name in sorted(set(_listed(root)) - set(mine)):
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        try:
            path.unlink()
        except OSError:
            continue  # it stays listed no more: the next run does not try again
        removed.append(name)
        _remove_empty_folders(path.parent, root)
    (root / MANIFEST).write_text(_HEADER + "".join(f"{name}\n" for name in mine), encoding="utf-8")
    return removed


def _listed(root: Path) -> list[str]:
    """The relative paths the manifest in ``root`` lists, those that stay inside it."""
    try:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    names = []
    for line in lines:
        name = PurePosixPath(line.strip())
        if line.strip() and not line.startswith("#") and not name.is_absolute() and ".." not in name.parts:
            names.append(name.as_posix())
    return names


def _remove_empty_folders(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``root`` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent
