"""Bounds on what a topology file may ask for, each named so that ``--limit NAME=VALUE`` can raise it.

The YAML loader (``yamlcompose``) enforces the bounds on the text as it reads (file size, nesting depth, alias
references, values after alias expansion, string length), so an alias bomb fails before it is expanded; the
topology readers (``bounds``) enforce the others (devices, frames, virtual time). ``docs/limits.md`` lists
them with their reasons.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from typing import Callable, Iterable

from ..core.units import format_duration, parse_duration, parse_size

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 32
#: The most ``depth`` can be raised to: libyaml 0.2.6 (in PyYAML 6.0.4's wheels) stops at 1000 levels itself.
DEPTH_CEILING = 999
MAX_ALIASES = 100
MAX_NODES = 200_000
MAX_STRING_CHARS = 10_000
MAX_DEVICES = 10_000
MAX_FRAMES = 10_000_000
MAX_TIME_NS = 86_400 * 10**9  # one day of virtual time


@dataclass(frozen=True)
class Limits:
    """Bounds on what a file may ask for; raise a field (``--limit NAME=VALUE``) to accept a bigger file."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_depth: int = MAX_DEPTH  # levels of nested values, counted through aliases
    max_aliases: int = MAX_ALIASES  # *alias references in the file
    max_nodes: int = MAX_NODES  # values in the document once every alias is expanded
    max_string_chars: int = MAX_STRING_CHARS  # characters in one scalar
    max_devices: int = MAX_DEVICES  # switches + hypervisors + VMs + host NICs
    max_frames: int = MAX_FRAMES  # frames the scenario's actions send, in all
    max_time_ns: int = MAX_TIME_NS  # virtual time of until, at, latency... and of an action's last frame

    def __post_init__(self) -> None:
        if self.max_depth > DEPTH_CEILING:
            raise ValueError(f"max_depth={self.max_depth}: {_DEPTH_WHY}")

    def exceeded(self, name: str, message: str, needed: int | None = None) -> str:
        """``message`` followed by the limit's name, value and the flag that raises it (to ``needed``)."""
        limit = LIMITS[name]
        current = getattr(self, limit.field)
        wanted = needed if needed is not None and needed > current else max(1, 2 * current)
        if limit.ceiling is not None:
            if current >= limit.ceiling:
                return f"{message} (limit {name}={limit.show(current)}, as high as it goes)"
            wanted = min(wanted, limit.ceiling)
        return (f"{message} (limit {name}={limit.show(current)}; "
                f"raise it with --limit {name}={limit.show(wanted)})")

    def raised(self, options: Iterable[str]) -> Limits:
        """These limits with each ``NAME=VALUE`` of ``options`` applied; ``ValueError`` names a bad one."""
        changes = {}
        for option in options:
            name, equals, value = option.partition("=")
            name = name.strip()
            if name not in LIMITS:
                close = difflib.get_close_matches(name, LIMITS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown limit {name!r} in --limit {option} ({hint}limits: {', '.join(LIMITS)})")
            if not equals or not value.strip():
                raise ValueError(f"--limit {option}: write NAME=VALUE, e.g. --limit {name}="
                                 f"{LIMITS[name].show(2 * max(1, getattr(self, LIMITS[name].field)))}")
            try:
                number = LIMITS[name].parse(value.strip())
            except ValueError as exc:
                raise ValueError(f"--limit {option}: {exc}") from None
            changes[LIMITS[name].field] = number
        return replace(self, **changes)


@dataclass(frozen=True)
class Limit:
    """How one limit is named on the command line, read and shown."""

    field: str
    what: str
    parse: Callable[[str], int]
    show: Callable[[int], str] = str
    ceiling: int | None = None  # the most it can be raised to


def _count(text: str) -> int:
    try:
        number = int(text.replace("_", ""), 10)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if number < 0:
        raise ValueError(f"a limit cannot be negative, got {number}")
    return number


_DEPTH_WHY = (f"the depth limit can be at most {DEPTH_CEILING}: libyaml, the parser inside PyYAML, refuses to "
              "nest 1000 levels deep (a topology needs about 6)")


def _depth(text: str) -> int:
    number = _count(text)
    if number > DEPTH_CEILING:
        raise ValueError(_DEPTH_WHY)
    return number


def _show_time(ns: int) -> str:
    return f"{ns // (3600 * 10**9)}h" if ns and ns % (3600 * 10**9) == 0 else format_duration(ns)


def _time_limit(text: str) -> int:
    if text.strip().endswith("d") and text.strip()[:-1].isdigit():  # days: 7d
        return int(text.strip()[:-1]) * 86_400 * 10**9
    return parse_duration(text)


#: The limits by command-line name, in the order ``docs/limits.md`` lists them.
LIMITS: dict[str, Limit] = {
    "file_bytes": Limit("max_file_bytes", "bytes in the file", parse_size),
    "depth": Limit("max_depth", "levels of nesting", _depth, ceiling=DEPTH_CEILING),
    "aliases": Limit("max_aliases", "*alias references", _count),
    "nodes": Limit("max_nodes", "values once aliases are expanded", _count),
    "string_chars": Limit("max_string_chars", "characters in one string", _count),
    "devices": Limit("max_devices", "switches, hypervisors, VMs and host NICs", _count),
    "frames": Limit("max_frames", "frames sent by the scenario's actions", _count),
    "time": Limit("max_time_ns", "virtual time", _time_limit, _show_time),
}
assert {limit.field for limit in LIMITS.values()} == {f.name for f in fields(Limits)}
