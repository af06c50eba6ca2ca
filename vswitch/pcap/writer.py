"""Streaming capture-file writers: classic pcap (nanosecond) and pcapng.

Frames are Ethernet ``bytes`` (DLT_EN10MB); timestamps are absolute integer nanoseconds
computed by the caller. Each record goes whole, in one call, into a 64 KiB write buffer
that goes to disk before a record that would not fit, so memory stays bounded and the file
on disk always ends on a record boundary. Callers must ``close()`` (or use ``with``) to write the
tail; an unclosed writer is flushed when garbage-collected.

A capture is always a new regular file: one already at the path is replaced, anything else there (a FIFO, which
would block the open, a device, a folder, a symbolic link) is refused. When the disk is full (or any write
fails) the file is cut back to its last whole record and the ``CaptureError`` names it; ``error`` keeps that
message.

Why not Scapy's writers (measured by ``tests/bench_pcap_writers.py``): its ``PcapWriter``
costs ~3x ours per frame (~1.5 us vs ~0.5 us), and its ``PcapNgWriter`` is microsecond-only
(no if_tsresol), always adds an unnamed interface 0, has no if_description or SHB options,
and names interfaces only through Packet objects (~55 us/frame) or a private method (~4 us).
"""

from __future__ import annotations

import functools
import operator
import os
import stat
import struct
from typing import Callable, Final, NoReturn, TypeVar

from ..core.errors import CaptureError
from ..core.frame import AnyFrame, check_frame

__all__ = ["PcapWriter", "PcapNgWriter", "LINKTYPE_ETHERNET", "SNAPLEN", "record_packer", "file_kind"]

_W = TypeVar("_W", bound="_Writer")

LINKTYPE_ETHERNET: Final = 1
SNAPLEN: Final = 262144
_FLUSH_AT: Final = 1 << 16  # size of the write buffer
_PCAP_MAX_NS: Final = (1 << 32) * 1_000_000_000  # classic pcap: 32-bit seconds
_PCAPNG_MAX_NS: Final = 1 << 64  # pcapng: 64-bit count of if_tsresol units
_PADS: Final = (b"", b"\0\0\0", b"\0\0", b"\0")  # indexed by len % 4
_CREATE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

_PCAP_HEADER: Final = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
_U32: Final = struct.Struct("<I")
_OPT: Final = struct.Struct("<HH")
_END_OF_OPT: Final = b"\0\0\0\0"
_SHB_USERAPPL: Final = b"vswitch"
_EPB_FLAGS = {  # epb_flags option (code 2, length 4): bits 0-1 = direction
    None: b"",
    "in": _OPT.pack(2, 4) + _U32.pack(1),
    "out": _OPT.pack(2, 4) + _U32.pack(2),
}


def _option(code: int, value: bytes) -> bytes:
    return _OPT.pack(code, len(value)) + value + _PADS[len(value) & 3]


def _block(block_type: int, body: bytes) -> bytes:
    total = len(body) + 12
    return _U32.pack(block_type) + _U32.pack(total) + body + _U32.pack(total)


def _check_time(time_ns: object, limit: int) -> int:
    if isinstance(time_ns, int):
        value = time_ns
    else:
        try:
            value = operator.index(time_ns)  # type: ignore[arg-type]  # any object: its TypeError is handled
        except TypeError:
            raise CaptureError(f"time_ns must be an int of nanoseconds, not {type(time_ns).__name__}") from None
    if not 0 <= value < limit:
        raise CaptureError(f"time_ns out of range for this file format: {value}")
    return value


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, for messages: 'a folder', 'a FIFO (named pipe)'..."""
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "a special file"


def _create(path: str) -> int:
    """A new, empty regular file at ``path``, open for writing; a regular file already there is replaced.

    Anything else there is refused before it is opened (opening a FIFO would wait for a reader forever, a device
    would be written to). The file is then created exclusively, without following a link, so nothing swapped in
    meanwhile is opened either; where files cannot be created or removed (/proc, /sys) the open fails.
    """
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CaptureError(f"cannot create capture file {path}: {exc.strerror}") from None
    else:
        if not stat.S_ISREG(status.st_mode):
            raise CaptureError(f"cannot create capture file {path}: {file_kind(status.st_mode)} is in the way (a "
                               "capture is written only as a new regular file): remove it or write elsewhere")
        try:
            os.unlink(path)
        except OSError as exc:
            raise CaptureError(f"cannot replace the file {path}: {exc.strerror}: write elsewhere") from None
    try:
        return os.open(path, _CREATE, 0o666)
    except OSError as exc:
        raise CaptureError(f"cannot create capture file {path}: {exc.strerror}") from None


class _Writer:
    """Buffering, flush/close and the context manager shared by both formats.

    Records are kept whole in a list and written out together once they reach 64 KiB, so the file on disk always
    ends on a record boundary and memory stays bounded. (A list append is the cheapest buffer for compiled code: an
    ``io.BufferedWriter`` takes a lock per record.) A failed write cuts the file back to the end of the last write
    that succeeded, which is a record boundary, and closes the writer.
    """

    frames_written: int

    def __init__(self, path: str | os.PathLike[str], header: bytes) -> None:
        self._fd = -1
        self.path = os.fspath(path)
        self.error: str | None = None  # why the file could not be written, once it could not
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._size = 0  # bytes on disk: whole records only
        self._closed = False
        self.frames_written = 0
        self._fd = _create(self.path)
        self._write_out(header)  # the header reaches disk at once: an empty capture is valid

    def put(self, record: bytes) -> None:
        """Append one whole, already formatted record (the capture taps call it directly, see capture.py)."""
        if self._closed:
            raise CaptureError(self.error or f"{self.path}: capture file is closed")
        self._pending.append(record)
        self._pending_bytes += len(record)
        if self._pending_bytes >= _FLUSH_AT:
            self._write_pending()

    def _write_pending(self) -> None:
        records, self._pending, self._pending_bytes = self._pending, [], 0
        self._write_out(b"".join(records))

    def _write_out(self, data: bytes) -> None:
        """Write all of ``data`` (whole records) to the file, or fail cutting it back to its last whole record."""
        done = 0
        try:
            while done < len(data):
                written = os.write(self._fd, data[done:] if done else data)
                if written <= 0:
                    raise OSError(28, os.strerror(28))  # ENOSPC: nothing more fits
                done += written
        except OSError as exc:
            self._fail(exc)
        self._size += len(data)

    def _fail(self, exc: OSError) -> NoReturn:
        """Cut the file back to its last whole record (remove it if not even the header fits), close, raise."""
        fd, self._fd = self._fd, -1
        self._closed = True
        self._pending, self._pending_bytes = [], 0
        try:
            if self._size:
                os.ftruncate(fd, self._size)
                kept = f"it was cut back to its last whole record ({self._size} bytes)"
            else:
                os.unlink(self.path)
                kept = "it was removed (not even its header could be written)"
        except OSError as cleanup:
            kept = f"it could not be cut back to its last whole record ({cleanup.strerror}): delete it"
        finally:
            os.close(fd)
        self.error = f"cannot write capture file {self.path}: {exc.strerror or exc}; {kept}"
        raise CaptureError(self.error)

    @property
    def closed(self) -> bool:
        return self._closed

    def flush(self) -> None:
        """Write every buffered record to the file."""
        if self._closed:
            raise CaptureError(self.error or f"{self.path}: capture file is closed")
        self._write_pending()

    def close(self) -> None:
        """Write what is buffered and close the file; calling it again does nothing (after a failed write too)."""
        if not self._closed:
            self._closed = True
            try:
                self._write_pending()
            finally:
                fd, self._fd = self._fd, -1
                if fd >= 0:
                    os.close(fd)

    def __del__(self) -> None:
        """An unclosed writer still leaves a whole file (no open file: its open failed)."""
        if getattr(self, "_fd", -1) >= 0:
            self.close()

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PcapWriter(_Writer):
    """Classic little-endian pcap with nanosecond timestamps, linktype Ethernet."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, _PCAP_HEADER)

    def write(self, frame: AnyFrame, time_ns: object) -> None:
        """Append one frame captured at absolute time ``time_ns`` (int ns since the epoch)."""
        data = frame if isinstance(frame, bytes) else check_frame(frame, CaptureError)
        when = _check_time(time_ns, _PCAP_MAX_NS)
        caplen = n = len(data)
        if n > SNAPLEN:
            data, caplen = data[:SNAPLEN], SNAPLEN
        self.put(record_packer(caplen)(when // 1_000_000_000, when % 1_000_000_000, caplen, n, data))
        self.frames_written += 1


# One compiled Struct per frame size: a whole record (header and frame) is packed in one call, into one new bytes
# (a header packed alone, then joined to the frame, is two objects and a copy more).
_record_packers: dict[int, Callable[..., bytes]] = {}


def record_packer(caplen: int) -> Callable[..., bytes]:
    """``pack(ts_sec, ts_nsec, caplen, origlen, data)``: a whole classic-pcap record with ``caplen`` bytes of data."""
    pack = _record_packers.get(caplen)
    if pack is None:
        if len(_record_packers) >= 4096:
            _record_packers.clear()
        pack = _record_packers[caplen] = struct.Struct(f"<4I{caplen}s").pack
    return pack


class PcapNgWriter(_Writer):
    """pcapng: one section, one IDB per interface (ns resolution), Enhanced Packet Blocks.

    Interfaces may be added at any time, also after packets (pcapng allows an IDB anywhere
    before the first packet that refers to it).
    """

    def __init__(self, path: str | os.PathLike[str], *, comment: str | None = None) -> None:
        options = _option(4, _SHB_USERAPPL)
        if comment is not None:
            options += _option(1, _check_text(comment, "comment"))
        # byte-order magic, version 1.0, section length unknown (-1)
        shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options + _END_OF_OPT)
        super().__init__(path, shb)
        self._names: list[str] = []
        self._interface_count = 0

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Interface names, indexed by interface id."""
        return tuple(self._names)

    def add_interface(self, name: str, description: str | None = None) -> int:
        """Write an Interface Description Block and return its interface id."""
        if name in self._names:
            raise CaptureError(f"{self.path}: duplicate capture interface name {name!r}")
        options = _option(2, _check_text(name, "interface name"))
        if description is not None:
            options += _option(3, _check_text(description, "interface description"))
        options += _option(9, b"\x09")  # if_tsresol: 10^-9 s
        idb = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN) + options + _END_OF_OPT
        self.put(_block(1, idb))
        self._names.append(name)
        self._interface_count = len(self._names)
        return self._interface_count - 1

    def write(
        self,
        interface_id: object,
        frame: AnyFrame,
        time_ns: object,
        *,
        direction: str | None = None,
        comment: object = None,
    ) -> None:
        """Append one Enhanced Packet Block; ``direction`` is ``'in'``, ``'out'`` or None, ``comment`` a str or None."""
        if not isinstance(interface_id, int) or not 0 <= interface_id < self._interface_count:
            raise CaptureError(f"{self.path}: unknown capture interface id {interface_id!r}")
        data = frame if isinstance(frame, bytes) else check_frame(frame, CaptureError)
        when = _check_time(time_ns, _PCAPNG_MAX_NS)
        options = b""
        if direction is not None or comment is not None:
            options = _epb_options(direction, comment)
        self._put_epb(interface_id, data, when, options)

    def write_numbered(self, interface_id: int, frame: bytes, time_ns: int, direction: str, number: int,
                       text: bytes) -> None:
        """``write`` with the comment ``#NUMBER`` + ``text`` (UTF-8, from a ``str``): for capture taps, whose
        comments differ by their frame number alone, so only the number is encoded per record."""
        when = _check_time(time_ns, _PCAPNG_MAX_NS)
        body = b"#" + str(number).encode() + text
        options = _OPT.pack(1, len(body)) + body + _PADS[len(body) & 3] + _EPB_FLAGS[direction] + _END_OF_OPT
        self._put_epb(interface_id, frame, when, options)

    def _put_epb(self, interface_id: int, data: bytes, when: int, options: bytes) -> None:
        caplen = n = len(data)
        if n > SNAPLEN:
            data, caplen = data[:SNAPLEN], SNAPLEN
        key = caplen | len(options) << 20  # caplen <= 2**18
        pack = _epb_packers.get(key) or _epb_packer(key)
        total = (caplen + 35 & ~3) + len(options)
        self.put(pack(6, total, interface_id, when >> 32, when & 0xFFFFFFFF, caplen, n, data, options, total))
        self.frames_written += 1


# One compiled Struct per (caplen, options length): a whole EPB is then packed in one call.
_epb_packers: dict[int, Callable[..., bytes]] = {}


def _epb_packer(key: int) -> Callable[..., bytes]:
    caplen, optlen = key & 0xFFFFF, key >> 20
    if len(_epb_packers) >= 4096:
        _epb_packers.clear()
    # type, total length, interface id, ts high, ts low, caplen, origlen, data, pad, options, total length
    pack = _epb_packers[key] = struct.Struct(f"<7I{caplen}s{-caplen & 3}x{optlen}sI").pack
    return pack


def _epb_options(direction: str | None, comment: object) -> bytes:
    try:
        flags = _EPB_FLAGS[direction]  # type: ignore[index]  # None is a key; a bad value raises, handled
    except (KeyError, TypeError):
        raise CaptureError(f"direction must be 'in', 'out' or None, not {direction!r}") from None
    if comment is None:
        return flags + _END_OF_OPT
    if not isinstance(comment, str):
        raise CaptureError(f"comment must be a str, not {type(comment).__name__}")
    return _comment_option(comment) + flags + _END_OF_OPT


@functools.lru_cache(maxsize=1024)  # comments repeat (drop reasons): encode each once
def _comment_option(comment: str) -> bytes:
    return _option(1, _check_text(comment, "comment"))


def _check_text(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise CaptureError(f"{what} must be a str, not {type(value).__name__}")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CaptureError(f"{what} is not encodable as UTF-8: {exc}") from None
    if len(encoded) > 0xFFFF:
        raise CaptureError(f"{what} too long for a pcapng option: {len(encoded)} bytes")
    return encoded
