"""A loaded YAML document whose mappings and lists remember where each key and value was written.

``LocatedMap`` and ``LocatedList`` are plain ``dict`` / ``list`` subclasses that also hold the 1-based line and
column (``Location``) of every key and value; scalars are plain Python values. ``key_path`` / ``item_path`` name
a value in messages (``vms[0].mac``). ``Document`` holds the root value and collects the file's diagnostics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import MAX_SHOWN_PROBLEMS, Diagnostic, TopologyFileError, shorten, shorten_quoted
from .limits import Limits


@dataclass(frozen=True)
class Location:
    """A 1-based line and column (in characters) in a file."""

    line: int
    column: int


class LocatedMap(dict):
    """A YAML mapping that knows where it, each of its keys and each of its values were written."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.key_locations: dict[Any, Location] = {}
        self.value_locations: dict[Any, Location] = {}


class LocatedList(list):
    """A YAML sequence that knows where it and each of its items were written."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.location = location
        self.item_locations: list[Location] = []


@dataclass
class Document:
    """A loaded file: its root value, the limits it was loaded with, and the problems found so far."""

    filename: str
    root: Any
    location: Location
    diagnostics: list[Diagnostic] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    hints_left: int = MAX_SHOWN_PROBLEMS  # unknown keys for which to look for a close known key (difflib is slow)

    def report(self, location: Location | None, path: str, message: str) -> None:
        """Record a problem at ``location`` (None: the whole file) and ``path``; ``check`` raises them.

        Quoted values longer than ``MAX_VALUE_CHARS`` in ``path`` and ``message`` are shortened.
        """
        line, column = (location.line, location.column) if location else (None, None)
        self.diagnostics.append(Diagnostic(self.filename, line, column, shorten_quoted(path),
                                           shorten_quoted(message)))

    def check(self) -> None:
        """Raise ``TopologyFileError`` with every reported problem, if there is any."""
        if self.diagnostics:
            raise TopologyFileError(self.diagnostics)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def key_path(path: str, key: object) -> str:
    """The path of ``key`` in the mapping at ``path``: ``vms[0].mac``, or ``vlans[10]`` for other keys.

    A key longer than ``MAX_VALUE_CHARS`` is shortened: the path is for messages.
    """
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return f"{path}.{shorten(key)}" if path else shorten(key)
    return f"{path}[{shorten(repr(key))}]"


def item_path(path: str, index: int) -> str:
    """The path of item ``index`` of the list at ``path``."""
    return f"{path}[{index}]"
