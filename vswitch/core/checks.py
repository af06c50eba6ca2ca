"""Argument checks for the API's entry points: a wrong type or value is a ``VSwitchError`` leaf in both builds.

The compiled modules (``setup.py``) would reject a wrongly typed argument with mypyc's own ``TypeError`` before
their code runs, and the pure build would accept it and fail later, elsewhere (a float time in the pcap writer).
So a public method takes what users may get wrong as ``object`` and passes it through one of these, which return
it with its precise type; the per-frame code they call stays precisely typed. Each takes ``what`` (how the
message names the value, e.g. ``"add_switch: ageing_ns"``) and the leaf to raise (``TopologyError`` unless told).
"""

from __future__ import annotations

import os
from typing import Collection, TypeVar

from .errors import ScenarioError, TopologyError, VSwitchError

T = TypeVar("T")
Leaf = type[VSwitchError]


def describe(value: object) -> str:
    """``float 1.5``, ``str '10'``, ``NoneType None``: the type and value, short enough for one line."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def integer(value: object, what: str, *, minimum: int | None = 0, maximum: int | None = None,
            error: Leaf = TopologyError) -> int:
    """An ``int`` (never a ``bool``) within ``minimum``..``maximum`` (None: unbounded)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an int, not {describe(value)}")
    if minimum is not None and value < minimum:
        raise error(f"{what} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise error(f"{what} must be <= {maximum}, got {value}")
    return value


def optional_integer(value: object, what: str, *, minimum: int | None = 0, maximum: int | None = None,
                     error: Leaf = TopologyError) -> int | None:
    """None, or ``integer(value, ...)``."""
    return None if value is None else integer(value, what, minimum=minimum, maximum=maximum, error=error)


def nanoseconds(value: object, what: str, *, error: Leaf = ScenarioError) -> int:
    """A time or duration of virtual time: an ``int`` of nanoseconds, >= 0 (``at=1.5`` is refused here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an int of nanoseconds, not {describe(value)}")
    if value < 0:
        raise error(f"{what} must be >= 0 ns, got {value}")
    return value


def optional_nanoseconds(value: object, what: str, *, error: Leaf = ScenarioError) -> int | None:
    """None, or ``nanoseconds(value, ...)``."""
    return None if value is None else nanoseconds(value, what, error=error)


def flag(value: object, what: str, *, error: Leaf = TopologyError) -> bool:
    """``True`` or ``False`` (not 1, not ``"yes"``: truthiness would hide the mistake)."""
    if not isinstance(value, bool):
        raise error(f"{what} must be True or False, not {describe(value)}")
    return value


def optional_flag(value: object, what: str, *, error: Leaf = TopologyError) -> bool | None:
    """None, ``True`` or ``False``."""
    return None if value is None else flag(value, what, error=error)


def text(value: object, what: str, *, error: Leaf = TopologyError) -> str:
    """A ``str``."""
    if not isinstance(value, str):
        raise error(f"{what} must be a str, not {describe(value)}")
    return value


def optional_text(value: object, what: str, *, error: Leaf = TopologyError) -> str | None:
    """None, or a ``str``."""
    return None if value is None else text(value, what, error=error)


def choice(value: object, choices: Collection[str], what: str, *, error: Leaf = TopologyError) -> str:
    """One of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"{what} {value!r}: choose one of {', '.join(choices)}")
    return value


def path(value: object, what: str, *, error: Leaf = TopologyError) -> str | os.PathLike[str]:
    """A file or folder name: a ``str`` or an ``os.PathLike`` (``pathlib.Path``)."""
    if isinstance(value, str) or (isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)):
        return value
    raise error(f"{what} must be a path (str or pathlib.Path), not {describe(value)}")


def instance(value: object, kind: type[T], what: str, *, error: Leaf = TopologyError) -> T:
    """An instance of ``kind``."""
    if not isinstance(value, kind):
        raise error(f"{what} must be a {kind.__name__}, not {describe(value)}")
    return value


def optional_instance(value: object, kind: type[T], what: str, *, error: Leaf = TopologyError) -> T | None:
    """None, or an instance of ``kind``."""
    return None if value is None else instance(value, kind, what, error=error)
