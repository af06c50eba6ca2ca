"""Converters for the values of topology files, shared by the section readers.

Each takes the YAML value and returns the field's value or raises ``ValueError`` with a message that says how
to write it; the reader adds the file, line and field path.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Callable

from ..core.mac import MACAddress, prefix_bytes
from ..core.units import parse_duration
from .limits import LIMITS
from .located import key_path
from .spec import Places, Where
from .yamlreader import MapReader, describe, integer, text


def where(reader: MapReader, key: str | None = None) -> Where:
    """The place of a mapping (or of one of its keys' values) for later error messages."""
    mapping = reader.mapping
    location = mapping.value_locations.get(key, mapping.location) if key else mapping.location
    path = key_path(reader.path, key) if key else reader.path
    return Where(reader.document.filename, location.line if location else 0, location.column if location else 0,
                 path)


def places(reader: MapReader, *keys: str) -> Places:
    """Where each of ``keys`` was written (those present), and the whole mapping under ``""``."""
    return (*((key, where(reader, key)) for key in keys if key in reader.mapping), ("", where(reader)))


def item_places(reader: MapReader, key: str) -> Places:
    """Where each item of the list at ``key`` was written, as ``key[i]`` (none if it is not a list)."""
    items = reader.mapping.get(key)
    locations = getattr(items, "item_locations", ())
    path = key_path(reader.path, key)
    return tuple((f"{key}[{i}]", Where(reader.document.filename, loc.line, loc.column, f"{path}[{i}]"))
                 for i, loc in enumerate(locations))


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


#: What a file system holds (NAME_MAX), and how deep and long a capture path may be: far beyond any real use,
#: well within PATH_MAX (4096 bytes) with the output folder in front.
MAX_NAME_BYTES = 255
MAX_CAPTURE_FOLDERS = 32
MAX_CAPTURE_BYTES = 1024


def topology_name(value: object) -> str:
    """The topology's name: a name that is also a folder name (captures go to ``pcaps/<name>/`` by default)."""
    name = name_value(value)
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise ValueError(f"a name of {size} bytes cannot be a folder name (at most {MAX_NAME_BYTES} bytes; captures "
                         "go to pcaps/<name>/): shorten it")
    return name


def capture_file(value: object) -> str:
    """A file name relative to the output folder, as written there (``./a//b.pcap``: ``a/b.pcap``).

    Absolute paths and '..' cannot escape the folder; '.', 'sub/' or 'sub/.' name a folder, not a file.
    """
    name = text(value)
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or "\0" in name:
        raise ValueError(f"capture file {name!r} must be a relative path inside the output folder (no '..')")
    problem = capture_path_problem(name)
    if problem:
        raise ValueError(problem)
    return "/".join(capture_parts(name))


def capture_parts(name: str) -> tuple[str, ...]:
    """The folders and file of a capture file name, normalised (``./a//b.pcap`` is ``('a', 'b.pcap')``)."""
    return PurePosixPath(name).parts


def capture_path_problem(name: str) -> str | None:
    """Why the file system cannot hold the capture file ``name``, or None."""
    parts = capture_parts(name)
    shown = name if len(name) <= 38 else name[:26] + "..." + name[-9:]  # quoted, at most 40 characters
    if not parts or name.endswith("/") or name.rsplit("/", 1)[-1] == ".":
        folder = "/".join(parts) + "/" if parts else ""
        return f"capture file {shown!r} names a folder: give a file name, e.g. {folder}h1.pcap"
    longest = max(parts, key=lambda part: len(part.encode("utf-8")))
    if len(longest.encode("utf-8")) > MAX_NAME_BYTES:
        return (f"capture file {shown!r}: a file or folder name of {len(longest.encode('utf-8'))} bytes is longer "
                f"than a file system allows ({MAX_NAME_BYTES} bytes): shorten it")
    if len(parts) - 1 > MAX_CAPTURE_FOLDERS:
        return (f"capture file {shown!r} is {len(parts) - 1} folders deep, more than {MAX_CAPTURE_FOLDERS}: "
                "use fewer sub-folders")
    if len(name.encode("utf-8")) > MAX_CAPTURE_BYTES:
        return (f"capture file {shown!r}: a path of {len(name.encode('utf-8'))} bytes is longer than "
                f"{MAX_CAPTURE_BYTES}: shorten it")
    return None


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
