"""Converters for the values of topology files, shared by the section readers.

Each takes the YAML value and returns the field's value or raises ``ValueError`` with a message that says how
to write it; the reader adds the file, line and field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .limits import LIMITS
from .located import key_path
from .mac import MACAddress, prefix_bytes
from .spec import Where
from .units import parse_duration
from .yamlreader import MapReader, describe, integer, text


def where(reader: MapReader, key: str | None = None) -> Where:
    """The place of a mapping (or of one of its keys' values) for later error messages."""
    mapping = reader.mapping
    location = mapping.value_locations.get(key, mapping.location) if key else mapping.location
    path = key_path(reader.path, key) if key else reader.path
    return Where(reader.document.filename, location.line if location else 0, location.column if location else 0,
                 path)


def mac_value(value: object) -> MACAddress:
    """A MAC written as text; an unquoted all-digit MAC arrives as an integer and is refused, not guessed."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a MAC address as text, got {describe(value)}: write it in quotes, "
                         "e.g. mac: \"52:54:00:12:34:56\"")
    return MACAddress(value)


def unicast_mac(value: object) -> MACAddress:
    mac = mac_value(value)
    if mac.is_multicast:
        raise ValueError(f"{mac} is a multicast address: a NIC's own MAC must be unicast (first octet even)")
    if mac.packed == bytes(6):
        raise ValueError("00:00:00:00:00:00 is not a valid NIC address")
    return mac


def group_mac(value: object) -> MACAddress:
    mac = mac_value(value)
    if not mac.is_multicast:
        raise ValueError(f"{mac} is not a multicast address (the lowest bit of the first octet must be 1)")
    return mac


def mac_prefix(value: object) -> str:
    name = text(value)
    prefix_bytes(name)  # raises AddressError (a ValueError) with the known vendors
    return name


def name_value(value: object) -> str:
    name = text(value)
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"invalid name {name!r}: use letters, digits, '-' and '_'")
    return name


def capture_file(value: object) -> str:
    """A file name relative to the output folder, as written there (``./a//b.pcap``: ``a/b.pcap``).

    Absolute paths and '..' cannot escape the folder; '.', 'sub/' or 'sub/.' name a folder, not a file.
    """
    name = text(value)
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or "\0" in name:
        raise ValueError(f"capture file {name!r} must be a relative path inside the output folder (no '..')")
    if name.endswith("/") or name.rsplit("/", 1)[-1] == ".":
        raise ValueError(f"capture file {name!r} names a folder: give a file name, e.g. all.pcapng or "
                         "captures/all.pcapng")
    return str(Path(name))


def frame_count(reader: MapReader) -> Callable[[object], int]:
    """A converter to a number of frames from 1 to the file's ``frames`` limit."""
    limits = reader.document.limits

    def convert(value: object) -> int:
        number = integer(value)
        if number < 1:
            raise ValueError(f"{number} is out of range: send at least 1 frame")
        if number > limits.max_frames:
            raise ValueError(limits.exceeded("frames", f"{number} frames is more than a file may send",
                                             needed=number))
        return number
    return convert


def virtual_time(reader: MapReader) -> Callable[[object], int]:
    """A converter to a duration (ns) within the file's ``time`` limit: for ``at``, ``until``, ``latency``..."""
    limits = reader.document.limits

    def convert(value: object) -> int:
        ns = parse_duration(value)
        if ns > limits.max_time_ns:
            raise ValueError(limits.exceeded("time", f"{LIMITS['time'].show(ns)} is later than a run may last",
                                             needed=ns))
        return ns
    return convert
