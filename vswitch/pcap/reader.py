"""Stream Ethernet frames out of a pcap or pcapng file, one record at a time, and say exactly where it stopped.

``CaptureReader(path)`` checks the file header at once (``CaptureFileError``: not a capture, or not Ethernet);
iterating it yields ``Record``s until the end of the file or the first record that cannot be read. A damaged
file is data, not an exception: the reader stops there and ``stop`` says which record, at which byte offset, and
why ("the file ends inside record 7's frame data (30 of 98 bytes)"). Memory stays flat whatever the file size.

Formats: classic pcap in either byte order, microsecond (``a1b2c3d4``) or nanosecond (``a1b23c4d``) timestamps;
pcapng sections of either byte order with Enhanced, Simple and (obsolete) Packet Blocks, per-interface
``if_tsresol`` and ``if_tsoffset``; other blocks are skipped. Only link type 1 (Ethernet) can be replayed: a
pcapng interface of another type has its packets skipped and counted. ``reader.packets()`` (or ``record.packet()``, one
at a time) gives the frames as Scapy packets with their timestamps (``packets.py``).

Scapy's ``RawPcapReader``/``RawPcapNgReader`` stream too, but report damage only as a log warning (a truncated
record comes back short, a bad block ends the iteration silently), without the record or the offset: this
reader keeps that information for the run's report.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO, Iterator, NamedTuple

from ..core.errors import CaptureError
from .writer import file_kind

LINKTYPE_ETHERNET = 1
MAX_RECORD = 262_144  # the largest snap length libpcap writes; a longer record is corruption
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000), b"\xa1\xb2\xc3\xd4": (">", 1_000),  # microseconds: x1000 to ns
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),  # nanoseconds
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGIC = 0x1A2B3C4D


class CaptureFileError(CaptureError):
    """A file that cannot be replayed at all: missing, unreadable, not a capture, not Ethernet."""


class Record(NamedTuple):
    # shadows tuple.index, which no caller needs on a record: the field keeps the name of Wireshark's frame number
    index: int  # type: ignore[assignment]  # 1-based, as Wireshark numbers frames
    offset: int  # byte offset of the record (pcap) or block (pcapng) in the file
    time_ns: int  # capture timestamp, ns since the Unix epoch
    frame: bytes
    wire_len: int  # the frame's length on the wire (more than len(frame) if the capture cut it)

    def packet(self) -> Any:
        """The frame as a Scapy packet with the record's timestamp as its ``time`` (``packets.py``)."""
        from .packets import packet  # Scapy: only when asked for

        return packet(self.frame, self.time_ns)


@dataclass(frozen=True)
class ReadStop:
    """Where and why reading stopped before the end of the file."""

    record: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.record} at byte offset {self.offset}: {self.reason}"


class CaptureReader:
    """A pcap or pcapng file opened for streaming; close it (or use ``with``) when done."""

    def __init__(self, path: object) -> None:
        """``path``: a str or ``os.PathLike``."""
        if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
            raise CaptureFileError(f"a capture file's path is a str or pathlib.Path, not {type(path).__name__} "
                                   f"{path!r}")
        self.path = os.fspath(path)
        self._file: BinaryIO = _open_regular(self.path)
        self.stop: ReadStop | None = None
        self.records_read = 0
        self.cut = 0  # records shorter than the frame on the wire (snap length)
        self.skipped: dict[int, int] = {}  # pcapng link type -> packets skipped
        try:
            magic = self._file.read(4)
            if magic in _PCAP_MAGICS:
                self.format = "pcap"
                self._endian, self._scale = _PCAP_MAGICS[magic]
                header = self._file.read(20)
                if len(header) < 20:
                    raise CaptureFileError(f"{self.path}: the pcap file header is cut short ({len(header) + 4} "
                                           "of 24 bytes)")
                _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(self._endian + "HHiIII", header)
                if linktype & 0xFFFF != LINKTYPE_ETHERNET:
                    raise CaptureFileError(f"{self.path}: link type {linktype & 0xFFFF} is not Ethernet (1): only "
                                           "Ethernet captures can be replayed")
            elif magic == _PCAPNG_SHB:
                self.format = "pcapng"
                self._file.seek(0)
            else:
                start = magic.hex() or "nothing"
                raise CaptureFileError(f"{self.path}: not a pcap or pcapng file (starts with {start})")
        except OSError as exc:
            self._file.close()
            raise CaptureFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        """Close the file (``with CaptureReader(path) as reader:`` does it on leaving)."""
        self._file.close()

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        records = self._pcap() if self.format == "pcap" else self._pcapng()
        try:
            for record in records:
                self.records_read += 1
                if len(record.frame) < record.wire_len:
                    self.cut += 1
                yield record
        except OSError as exc:  # the disk, not the data: stop there as at damage
            try:
                offset = self._file.tell()
            except (OSError, ValueError):
                offset = 0
            self._stopped(self.records_read + 1, offset, f"the file cannot be read here: {exc.strerror or exc}")

    def packets(self) -> Any:
        """The records from here to the end (or to the damage ``stop`` names) as a Scapy ``PacketList``, each
        packet timestamped as in the file; for a file too big to hold, iterate and call ``record.packet()``."""
        from .packets import packet_list  # Scapy: only when asked for

        return packet_list((record.packet() for record in self), os.path.basename(self.path))

    def _stopped(self, record: int, offset: int, reason: str) -> None:
        self.stop = ReadStop(record, offset, reason)

    # -- classic pcap ---------------------------------------------------------------------------------
    def _pcap(self) -> Iterator[Record]:
        f, header = self._file, struct.Struct(self._endian + "IIII")
        index, offset = 0, 24
        while True:
            index += 1
            raw = f.read(16)
            if not raw:
                return
            if len(raw) < 16:
                return self._stopped(index, offset, f"the file ends inside the record header ({len(raw)} of 16 bytes)")
            seconds, fraction, caplen, wirelen = header.unpack(raw)
            if caplen > MAX_RECORD:
                return self._stopped(index, offset, f"record length {caplen} is larger than any capture writes "
                                                    f"({MAX_RECORD}): the file is corrupt here")
            if fraction >= 1_000_000_000 // self._scale:
                return self._stopped(index, offset, f"timestamp fraction {fraction} is out of range: the file is "
                                                    "corrupt here")
            frame = f.read(caplen)
            if len(frame) < caplen:
                return self._stopped(index, offset, f"the file ends inside the frame data ({len(frame)} of "
                                                    f"{caplen} bytes)")
            yield Record(index, offset, seconds * 1_000_000_000 + fraction * self._scale, frame, max(wirelen, caplen))
            offset += 16 + caplen

    # -- pcapng ---------------------------------------------------------------------------------------
    def _pcapng(self) -> Iterator[Record]:
        f = self._file
        endian = "<"
        interfaces: list[tuple[int, int, Fraction, int]] = []  # (linktype, snaplen, ns per tick, offset ns)
        index, offset, last_ns = 0, 0, 0
        while True:
            head = f.read(8)
            if not head:
                return
            if len(head) < 8:
                return self._stopped(index + 1, offset, f"the file ends inside a block header ({len(head)} of 8 "
                                                        "bytes)")
            if head[:4] == _PCAPNG_SHB:
                magic = f.read(4)
                if len(magic) < 4:
                    return self._stopped(index + 1, offset, "the file ends inside a section header")
                endian = "<" if struct.unpack("<I", magic)[0] == _BYTE_ORDER_MAGIC else ">"
                if struct.unpack(endian + "I", magic)[0] != _BYTE_ORDER_MAGIC:
                    return self._stopped(index + 1, offset, f"bad byte-order magic {magic.hex()} in a section header")
                interfaces = []
                body_start = 12
            else:
                body_start = 8
            block_type, length = struct.unpack(endian + "II", head)
            if length < 12 or length % 4 or (block_type == 0x0A0D0D0A and length < 28):
                return self._stopped(index + 1, offset, f"invalid block length {length} (block type {block_type:#x})")
            if length > MAX_RECORD + 64 and block_type != 0x0A0D0D0A:
                return self._stopped(index + 1, offset, f"block length {length} is larger than any capture writes: "
                                                        "the file is corrupt here")
            rest = f.read(length - body_start)
            if len(rest) < length - body_start:
                return self._stopped(index + 1, offset, f"the file ends inside a block ({body_start + len(rest)} "
                                                        f"of {length} bytes)")
            if struct.unpack(endian + "I", rest[-4:])[0] != length:
                return self._stopped(index + 1, offset, "the block's trailing length does not match its header: "
                                                        "the file is corrupt here")
            body = rest[:-4]
            block_offset, offset = offset, offset + length
            if block_type == 0x0A0D0D0A:
                if struct.unpack(endian + "H", body[:2])[0] != 1:
                    return self._stopped(index + 1, block_offset, "unsupported pcapng major version")
                continue
            if block_type == 1:  # interface description
                if len(body) < 8:
                    return self._stopped(index + 1, block_offset, "interface description block too short")
                linktype, _reserved, snaplen = struct.unpack(endian + "HHI", body[:8])
                resolution, offset_s = _interface_options(body[8:], endian)
                interfaces.append((linktype, snaplen, resolution, offset_s))
                continue
            if block_type not in (2, 3, 6):
                continue  # statistics, name resolution, decryption secrets, custom blocks...
            index += 1
            parsed = _packet(block_type, body, endian, interfaces, last_ns)
            if isinstance(parsed, str):
                return self._stopped(index, block_offset, parsed)
            linktype, time_ns, frame, wirelen = parsed
            last_ns = time_ns
            if linktype != LINKTYPE_ETHERNET:
                self.skipped[linktype] = self.skipped.get(linktype, 0) + 1
                continue
            yield Record(index, block_offset, time_ns, frame, max(wirelen, len(frame)))


def _open_regular(path: str) -> BinaryIO:
    """``path`` open for reading if it is a regular file with something in it; else ``CaptureFileError``.

    It is checked before it is opened: opening a FIFO waits for a writer forever, a device may do anything. Files
    of 0 bytes are refused unread too: a capture has a header, and the pseudo-files of /proc are 0 bytes long
    (reading /proc/self/mem fails, /proc/kmsg waits). It is opened non-blocking, and checked again once open.
    """
    try:
        status = os.stat(path)
    except OSError as exc:
        raise CaptureFileError(f"cannot open {path}: {exc.strerror}") from None
    target = f" (it links to {os.readlink(path)})" if os.path.islink(path) else ""
    if not stat.S_ISREG(status.st_mode):
        raise CaptureFileError(f"{path}{target} is {file_kind(status.st_mode)}, not a capture file: replay a pcap or "
                               "pcapng file")
    if status.st_size == 0:
        raise CaptureFileError(f"{path}{target} is empty (0 bytes): not a pcap or pcapng file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CaptureFileError(f"cannot open {path}: {exc.strerror}") from None
    file = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since it was checked
        file.close()
        raise CaptureFileError(f"{path} changed while it was opened: it is no longer a regular file")
    return file


def _interface_options(options: bytes, endian: str) -> tuple[Fraction, int]:
    """(ns per timestamp tick, timestamp offset in ns) from an IDB's options."""
    resolution, offset_ns = Fraction(1000), 0  # default: microseconds
    position = 0
    while position + 4 <= len(options):
        code, size = struct.unpack(endian + "HH", options[position:position + 4])
        value = options[position + 4:position + 4 + size]
        if code == 0:
            break
        if code == 9 and size == 1:  # if_tsresol
            exponent = value[0] & 0x7F
            ticks = 2 ** exponent if value[0] & 0x80 else 10 ** exponent
            resolution = Fraction(1_000_000_000, ticks)
        elif code == 14 and size == 8:  # if_tsoffset, seconds
            offset_ns = struct.unpack(endian + "q", value)[0] * 1_000_000_000
        position += 4 + size + (-size % 4)
    return resolution, offset_ns


def _packet(block_type: int, body: bytes, endian: str, interfaces: list, last_ns: int):
    """(linktype, time_ns, frame, wire length) of a packet block, or the reason it is unreadable."""
    if block_type == 3:  # simple packet block: interface 0, no timestamp
        if not interfaces:
            return "a simple packet block comes before any interface description"
        if len(body) < 4:
            return "simple packet block too short"
        wirelen = struct.unpack(endian + "I", body[:4])[0]
        snaplen = interfaces[0][1] or wirelen
        caplen = min(wirelen, snaplen)
        if 4 + caplen > len(body):
            return f"packet length {caplen} runs past the end of its block"
        return interfaces[0][0], last_ns, body[4:4 + caplen], wirelen
    if block_type == 6:
        if len(body) < 20:
            return "enhanced packet block too short"
        interface, high, low, caplen, wirelen = struct.unpack(endian + "IIIII", body[:20])
        start = 20
    else:  # 2: obsolete packet block
        if len(body) < 20:
            return "packet block too short"
        interface, _drops, high, low, caplen, wirelen = struct.unpack(endian + "HHIIII", body[:20])
        start = 20
    if interface >= len(interfaces):
        return f"packet on interface {interface}, but only {len(interfaces)} are described"
    if start + caplen > len(body):
        return f"packet length {caplen} runs past the end of its block"
    linktype, _snaplen, resolution, offset_ns = interfaces[interface]
    time_ns = int(((high << 32) | low) * resolution) + offset_ns
    return linktype, time_ns, body[start:start + caplen], wirelen
