"""Capture points: taps on ports, per direction, writing classic pcap files and one shared pcapng.

A classic pcap holds one point (both directions unless told otherwise). The pcapng holds every point as a named
interface, marks each frame inbound or outbound and comments on what happened to it ("flooded: unknown unicast",
"dropped: destination not accepted by the receive filter"). Timestamps are the virtual clock plus a fixed epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Final, Iterable

from ..core.errors import CaptureError, OutputFolderError
from ..core.reasons import DropReason, Verdict, describe
from ..l2.port import Port, Tap
from ..pcap.writer import RECORD_HEADER, SNAPLEN, PcapNgWriter, PcapWriter, file_kind

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
    """The capture files of one run; close() them (the network does) to flush every buffer.

    The output folder is made when the first file is added (``OutputFolderError`` if it cannot be); sub-folders of
    a file's name are made inside it. A file that cannot be created, or written (a full disk), is a
    ``VSwitchError`` naming it; ``label`` (the topology field it comes from) prefixes what ``close()`` reports.
    """

    def __init__(self, out_dir: str | os.PathLike, epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        self.out_dir = Path(out_dir)
        self.epoch_ns = epoch_ns
        self.files: list[Path] = []
        self._writers: list[PcapWriter | PcapNgWriter] = []
        self._labels: list[str] = []
        self._pcapng: PcapNgWriter | None = None
        self._pcapng_ids: dict[str, int] = {}
        self._last = LastRecord(epoch_ns)
        self._root: Path | None = None

    def _out_root(self) -> Path:
        """The output folder, made if missing, resolved."""
        if self._root is None:
            self._root = make_folder(self.out_dir)
        return self._root

    def _path(self, file_name: str | os.PathLike) -> Path:
        root = self._out_root()
        try:
            path = (self.out_dir / file_name).resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of symbolic links
            raise CaptureError(f"capture file {file_name!r}: cannot resolve it in {self.out_dir}: {exc}") from None
        if root != path.parent and root not in path.parents:
            raise CaptureError(f"capture file {file_name!r} would be written outside {self.out_dir}")
        folder = root
        for part in path.parent.relative_to(root).parts:  # one level at a time: pathlib's mkdir recurses
            folder = folder / part
            try:
                os.mkdir(folder)
            except FileExistsError:
                if not folder.is_dir():
                    raise CaptureError(f"capture file {file_name!r}: cannot make the folder {folder}: it is "
                                       f"{_kind(folder)} (another capture's file?)") from None
            except OSError as exc:
                raise CaptureError(f"capture file {file_name!r}: cannot make the folder {folder}: "
                                   f"{exc.strerror}") from None
        return path

    def _opened(self, writer: PcapWriter | PcapNgWriter, path: Path, label: str) -> None:
        self._writers.append(writer)
        self._labels.append(label)
        self.files.append(path)

    def add_pcap(self, port: Port, file_name: str | os.PathLike, direction: str = "both", *, label: str = "") -> Path:
        """Capture ``port`` into a classic pcap ``out_dir/file_name``."""
        if direction not in DIRECTIONS:
            raise CaptureError(f"capture direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
        path = self._path(file_name)
        if path in self.files:
            raise CaptureError(f"two capture points write {path.name}: give each its own file")
        if self._last.epoch_ns != self.epoch_ns:
            self._last = LastRecord(self.epoch_ns)
        tap = PcapTap(PcapWriter(path), self._last)
        self._opened(tap.writer, path, label)
        if direction in ("rx", "both"):
            port.rx_taps.append(tap)
        if direction in ("tx", "both"):
            port.tx_taps.append(tap)
        return path

    def enable_pcapng(self, file_name: str | os.PathLike, *, label: str = "") -> Path:
        """Open the shared pcapng; points added with ``add_pcapng_point`` become its interfaces."""
        path = self._path(file_name)
        if path in self.files:
            raise CaptureError(f"two capture points write {path.name}: give each its own file")
        self._pcapng = PcapNgWriter(path, comment="written by vswitch")
        self._opened(self._pcapng, path, label)
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

    def flush(self) -> None:
        """Write every buffered record out, so that a reader following a file sees each frame up to now (the
        Wireshark extcap streams a run this way)."""
        for writer in self._writers:
            if not writer.closed:
                writer.flush()

    def close(self) -> None:
        """Flush and close every file. Raise, one line per file, if any could not be written (now or during the
        run): each was cut back to its last whole record."""
        problems = []
        for writer, label in zip(self._writers, self._labels):
            try:
                writer.close()
            except CaptureError:  # kept in writer.error; close the others
                pass
            if writer.error is not None:
                problems.append(f"{label}: {writer.error}" if label else writer.error)
        if problems:
            raise CaptureError("\n".join(f"{p}: free some space, or write elsewhere with --out" for p in problems))


def make_folder(folder: Path) -> Path:
    """``mkdir -p folder``, one level at a time (pathlib's recurses); return it resolved.

    ``OutputFolderError`` names the folder, what is wrong and the fix (``--out``)."""
    made = Path(folder.anchor)
    try:
        for part in folder.parts[1 if folder.anchor else 0:]:
            made = made / part
            if made.is_dir():
                continue
            try:
                os.mkdir(made)
            except FileExistsError:
                if not made.is_dir():
                    raise OutputFolderError(f"output folder {folder}: {made} is {_kind(made)}, not a folder: "
                                            "choose another with --out") from None
        return folder.resolve()
    except OSError as exc:
        raise OutputFolderError(f"output folder {folder}: cannot make {made}: {exc.strerror or exc}: choose another "
                                "with --out") from None
    except RuntimeError as exc:  # a loop of symbolic links
        raise OutputFolderError(f"output folder {folder}: {exc}: choose another with --out") from None


def _kind(path: Path) -> str:
    try:
        return file_kind(os.stat(path).st_mode)
    except OSError:
        return "a broken symbolic link"
