"""Capture points: taps on ports, per direction, writing classic pcap files and one shared pcapng.

A classic pcap holds one point (both directions unless told otherwise). The pcapng holds every point as a named
interface, marks each frame inbound or outbound and comments on what happened to it ("flooded: unknown unicast",
"dropped: destination not accepted by the receive filter"). Timestamps are the virtual clock plus a fixed epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Final, Iterable

from ..core.errors import CaptureError
from ..core.reasons import DropReason, Verdict, describe
from ..l2.port import Port, Tap
from ..pcap.writer import RECORD_HEADER, SNAPLEN, PcapNgWriter, PcapWriter

DIRECTIONS = ("rx", "tx", "both")
DEFAULT_EPOCH_NS: Final = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z: fixed, so replays are byte-identical
_pack_header: Final = RECORD_HEADER.pack
_PCAP_LIMIT_NS: Final = (1 << 32) * 1_000_000_000  # classic pcap seconds are 32 bits


class CallbackTap(Tap):
    """A tap that hands each frame to a function: for observers outside the package (kernel-check's recorder)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[bytes, int, Verdict | DropReason, Iterable[Port]], None]) -> None:
        self.callback = callback

    def record(self, frame: bytes, now: int, outcome: Verdict | DropReason, outputs: Iterable[Port]) -> None:
        self.callback(frame, now, outcome, outputs)


class LastRecord:
    """The last classic-pcap record made by the taps of one capture set, with the frame and instant it is for.

    A frame crossing three capture points at one instant makes one record, written three times: splitting the time
    into seconds and nanoseconds is big-integer arithmetic, the dearest part of a record.
    """

    __slots__ = ("epoch_ns", "frame", "now", "record")

    def __init__(self, epoch_ns: int) -> None:
        self.epoch_ns = epoch_ns
        self.frame = b""
        self.now = -1
        self.record = b""


class PcapTap(Tap):
    """Writes the frames crossing one port (one or both directions) into a classic pcap.

    ``record`` is ``writer.write`` at ``epoch_ns + now`` inlined, sharing records through ``last`` (it runs for every
    captured frame). Anything out of the ordinary goes through ``write`` and its checks.
    """

    __slots__ = ("writer", "last")

    def __init__(self, writer: PcapWriter, last: LastRecord) -> None:
        self.writer = writer
        self.last = last

    def record(self, frame: bytes, now: int, outcome: Verdict | DropReason, outputs: Iterable[Port]) -> None:
        last = self.last
        writer = self.writer
        if frame is not last.frame or now != last.now:
            size = len(frame)
            time_ns = last.epoch_ns + now
            if size > SNAPLEN or not 0 <= time_ns < _PCAP_LIMIT_NS:
                return writer.write(frame, time_ns)
            last.frame, last.now = frame, now
            last.record = _pack_header(time_ns // 1_000_000_000, time_ns % 1_000_000_000, size, size) + frame
        writer.put(last.record)
        writer.frames_written += 1


class PcapNgTap(Tap):
    """Writes the frames crossing one port, one direction, as an interface of the shared pcapng."""

    __slots__ = ("writer", "interface_id", "direction", "epoch_ns")

    def __init__(self, writer: PcapNgWriter, interface_id: int, direction: str, epoch_ns: int) -> None:
        self.writer = writer
        self.interface_id = interface_id
        self.direction = direction
        self.epoch_ns = epoch_ns

    def record(self, frame: bytes, now: int, outcome: Verdict | DropReason, outputs: Iterable[Port]) -> None:
        comment = describe(outcome)
        names = [p.label for p in outputs]
        if names and self.direction == "in":
            comment += " -> " + ", ".join(names)
        self.writer.write(self.interface_id, frame, self.epoch_ns + now, direction=self.direction,
                          comment=comment)


class CaptureSet:
    """The capture files of one run; close() them (the network does) to flush every buffer."""

    def __init__(self, out_dir: str | os.PathLike, epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        self.out_dir = Path(out_dir)
        self.epoch_ns = epoch_ns
        self.files: list[Path] = []
        self._writers: list[PcapWriter | PcapNgWriter] = []
        self._pcapng: PcapNgWriter | None = None
        self._pcapng_ids: dict[str, int] = {}
        self._last = LastRecord(epoch_ns)

    def _path(self, file_name: str | os.PathLike) -> Path:
        path = (self.out_dir / file_name).resolve()
        root = self.out_dir.resolve()
        if root != path.parent and root not in path.parents:
            raise CaptureError(f"capture file {file_name!r} would be written outside {self.out_dir}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaptureError(f"cannot create the capture folder {path.parent}: {exc.strerror}") from None
        return path

    def add_pcap(self, port: Port, file_name: str | os.PathLike, direction: str = "both") -> Path:
        """Capture ``port`` into a classic pcap ``out_dir/file_name``."""
        if direction not in DIRECTIONS:
            raise CaptureError(f"capture direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
        path = self._path(file_name)
        if path in self.files:
            raise CaptureError(f"two capture points write {path.name}: give each its own file")
        if self._last.epoch_ns != self.epoch_ns:
            self._last = LastRecord(self.epoch_ns)
        try:
            tap = PcapTap(PcapWriter(path), self._last)
        except OSError as exc:
            raise CaptureError(f"cannot write capture file {path}: {exc.strerror}") from None
        self._writers.append(tap.writer)
        self.files.append(path)
        if direction in ("rx", "both"):
            port.rx_taps.append(tap)
        if direction in ("tx", "both"):
            port.tx_taps.append(tap)
        return path

    def enable_pcapng(self, file_name: str | os.PathLike) -> Path:
        """Open the shared pcapng; points added with ``add_pcapng_point`` become its interfaces."""
        path = self._path(file_name)
        if path in self.files:
            raise CaptureError(f"two capture points write {path.name}: give each its own file")
        try:
            self._pcapng = PcapNgWriter(path, comment="written by vswitch")
        except OSError as exc:
            raise CaptureError(f"cannot write capture file {path}: {exc.strerror}") from None
        self._writers.append(self._pcapng)
        self.files.append(path)
        return path

    def add_pcapng_point(self, port: Port, direction: str = "both") -> None:
        if self._pcapng is None:
            raise CaptureError("call enable_pcapng() before adding pcapng points")
        if direction not in DIRECTIONS:
            raise CaptureError(f"capture direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
        interface_id = self._pcapng_ids.get(port.full_name)
        if interface_id is None:
            interface_id = self._pcapng.add_interface(port.full_name, f"{port.node.kind} port {port.full_name}")
            self._pcapng_ids[port.full_name] = interface_id
        if direction in ("rx", "both"):
            port.rx_taps.append(PcapNgTap(self._pcapng, interface_id, "in", self.epoch_ns))
        if direction in ("tx", "both"):
            port.tx_taps.append(PcapNgTap(self._pcapng, interface_id, "out", self.epoch_ns))

    @property
    def has_pcapng(self) -> bool:
        return self._pcapng is not None

    def close(self) -> None:
        errors = []
        for writer in self._writers:
            try:
                writer.close()
            except OSError as exc:  # keep closing the others
                errors.append(exc)
        if errors:
            raise CaptureError(f"could not finish capture files: {errors[0]}")
