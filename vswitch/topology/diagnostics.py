"""Problems found in a topology file, each printed as ``FILE:LINE:COL: PATH: MESSAGE``.

A ``Diagnostic`` is one problem; a ``TopologyFileError`` raises every problem of a file together, in file order.
A value echoed in a message is cut to ``MAX_VALUE_CHARS`` (``shorten``), so that a 10 000-character string
cannot make a message of 10 000 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..core.errors import TopologyError

MAX_SHOWN_PROBLEMS = 100  # lines of a TopologyFileError's message; every diagnostic stays in .diagnostics
MAX_VALUE_CHARS = 40  # of a value echoed in a message, ellipsis included
# a quoted value (as repr() writes a string), not an apostrophe in a word such as "NIC's"
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?!\w)""")


def shorten(text: str) -> str:
    """``text`` cut to ``MAX_VALUE_CHARS`` characters, the last three being "...", to echo a value."""
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


def shorten_quoted(message: str) -> str:
    """``message`` with each quoted value longer than ``MAX_VALUE_CHARS`` shortened (``shorten``)."""
    if len(message) <= MAX_VALUE_CHARS:
        return message
    return _QUOTED.sub(lambda quoted: shorten(quoted.group()), message)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a file; ``line`` and ``column`` are None for the file as a whole."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        return ": ".join(part for part in (where, self.path, self.message) if part)


class TopologyFileError(TopologyError):
    """Every problem found in a file, one ``FILE:LINE:COL: PATH: MESSAGE`` line each, in file order.

    The message shows the first ``MAX_SHOWN_PROBLEMS`` and counts the rest; ``diagnostics`` holds them all.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))
        lines = list(map(str, self.diagnostics[:MAX_SHOWN_PROBLEMS]))
        hidden = len(self.diagnostics) - len(lines)
        if hidden:
            lines.append(f"{self.diagnostics[0].file}: ... and {hidden} more problems")
        super().__init__("\n".join(lines))
