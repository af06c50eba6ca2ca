"""Capture points: taps on ports, per direction, writing classic pcap files and one shared pcapng.

A classic pcap holds one point (both directions unless told otherwise). The pcapng holds every point as a named
interface, marks each frame inbound or outbound and comments on what happened to it, starting with the frame's id
(``#17 flooded: unknown unicast -> sw1.p2, sw1.p3``, ``#18 dropped: destination not accepted by the receive
filter``) and adding what the frame taught a switch as it arrived (``; learned 02:00:00:00:00:01 on sw1.p1``,
``; moved 02:00:00:00:00:01 from sw1.p1 to sw1.p4``) and, at a VM's vNIC with an I/O model, what the frame cost
(``; io: 9 traps (7 mmio, 1 irq, 1 eoi), ...``): docs/topology.md, "The pcapng comments". Timestamps are the
virtual clock plus a fixed epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Final, Iterable

from ..core.errors import CaptureError, OutputFolderError
from ..core.reasons import DropReason, Verdict, describe
from ..l2.fdb import learning_text
from ..l2.port import Port, Tap
from ..l2.switch import LearningSwitch
from ..pcap.writer import SNAPLEN, PcapNgWriter, PcapWriter, file_kind, record_packer

DIRECTIONS = ("rx", "tx", "both")
DEFAULT_EPOCH_NS: Final = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z: fixed, so replays are byte-identical
_NS_PER_S: Final = 1_000_000_000
_PCAP_LIMIT_NS: Final = (1 << 32) * _NS_PER_S  # classic pcap seconds are 32 bits
TEXTS_KEPT: Final = 1024  # encoded comment texts a pcapng tap keeps (flooding to many port sets: a bounded cache)


class CallbackTap(Tap):
    """A tap that hands each frame to a function: for observers outside the package (kernel-check's recorder)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[bytes, int, Verdict | DropReason, Iterable[Port]], None]) -> None:
        self.callback = callback

    def record(self, frame: bytes, now: int, frame_id: int, outcome: Verdict | DropReason,
               outputs: Iterable[Port]) -> None:
        self.callback(frame, now, outcome, outputs)


class LastRecord:
    """The last classic-pcap record made by the taps of one capture set, with the frame and instant it is for.

    A frame crossing three capture points at one instant makes one record, written three times. Making one is
    packing it whole (``pack``, the packer of the last frame size), with the seconds of the timestamp kept while
    they last: a new int object per record costs an allocation and its release.
    """

    __slots__ = ("epoch_ns", "frame", "now", "record", "size", "pack", "second_ns", "seconds")

    def __init__(self, epoch_ns: int) -> None:
        self.epoch_ns = epoch_ns
        self.frame = b""
        self.now = -1
        self.record = b""
        self.size = -1
        self.pack: Callable[..., bytes] = record_packer(0)
        self.second_ns = -_NS_PER_S  # the second that ``seconds`` counts starts here (ns since the epoch)
        self.seconds: object = -1

    def make(self, frame: bytes, now: int, time_ns: int) -> bytes:
        """The record of ``frame`` at ``time_ns`` (a valid time, a frame within the snapshot length), kept."""
        size = len(frame)
        if size != self.size:
            self.size, self.pack = size, record_packer(size)
        if not 0 <= time_ns - self.second_ns < _NS_PER_S:
            seconds = time_ns // _NS_PER_S
            self.second_ns, self.seconds = seconds * _NS_PER_S, seconds
        self.frame, self.now = frame, now
        self.record = self.pack(self.seconds, time_ns - self.second_ns, size, size, frame)
        return self.record


class PcapTap(Tap):
    """Writes the frames crossing one port (one or both directions) into a classic pcap.

    ``record`` is ``writer.write`` at ``epoch_ns + now`` inlined, sharing records through ``last`` (it runs for every
    captured frame). Anything out of the ordinary goes through ``write`` and its checks.
    """

    __slots__ = ("writer", "last")

    def __init__(self, writer: PcapWriter, last: LastRecord) -> None:
        self.writer = writer
        self.last = last

    def record(self, frame: bytes, now: int, frame_id: int, outcome: Verdict | DropReason,
               outputs: Iterable[Port]) -> None:
        last = self.last
        writer = self.writer
        if frame is not last.frame or now != last.now:
            time_ns = last.epoch_ns + now
            if len(frame) > SNAPLEN or not 0 <= time_ns < _PCAP_LIMIT_NS:
                return writer.write(frame, time_ns)
            last.make(frame, now, time_ns)
        writer.put(last.record)
        writer.frames_written += 1


class LearnNote:
    """What a captured switch's table learned during the decision under way, for the comment of the frame that
    taught it: the table's listener sets it, the receiving port's inbound tap, recording just after, takes it."""

    __slots__ = ("port", "text")

    def __init__(self) -> None:
        self.port: Port | None = None
        self.text = ""


class _LearnListener:
    """A switch table's listener (``ForwardingTable.listeners``) that fills the capture set's ``LearnNote``."""

    __slots__ = ("switch", "note")

    def __init__(self, switch: LearningSwitch, note: LearnNote) -> None:
        self.switch = switch
        self.note = note

    def __call__(self, now: int, vlan: int, mac: bytes, port: str, old: str | None) -> None:
        switch = self.switch
        self.note.port = switch.ports.get(port)
        self.note.text = learning_text(switch.name, vlan if switch.vlan_filtering else None, mac, port, old)


class PcapNgTap(Tap):
    """Writes the frames crossing one port, one direction, as an interface of the shared pcapng; the comment starts
    with the frame's id and, inbound, ends with what the frame taught the port's switch (``note``).

    Only the number differs between most comments: the rest (outcome and outputs) is encoded once per
    combination (``texts``)."""

    __slots__ = ("writer", "interface_id", "direction", "epoch_ns", "port", "note", "texts")

    def __init__(self, writer: PcapNgWriter, interface_id: int, direction: str, epoch_ns: int, port: Port,
                 note: LearnNote | None = None) -> None:
        self.writer = writer
        self.interface_id = interface_id
        self.direction = direction
        self.epoch_ns = epoch_ns
        self.port = port
        self.note = note
        self.texts: dict[tuple[Verdict | DropReason, tuple[Port, ...]], bytes] = {}

    def record(self, frame: bytes, now: int, frame_id: int, outcome: Verdict | DropReason,
               outputs: Iterable[Port]) -> None:
        key = (outcome, tuple(outputs))
        text = self.texts.get(key)
        if text is None:
            text = self._text(key)
        note = self.note
        if note is not None and note.port is self.port:
            text += ("; " + note.text).encode()
            note.port = None
        io = self.port.io
        if io is not None:  # a VM's I/O model: what the frame cost it (io/accounting.py)
            cost = io.take_note(frame_id, self.direction == "out")
            if cost is not None:
                text += cost
        self.writer.write_numbered(self.interface_id, frame, self.epoch_ns + now, self.direction, frame_id, text)

    def _text(self, key: tuple[Verdict | DropReason, tuple[Port, ...]]) -> bytes:
        """`` OUTCOME[ -> OUTPUTS]``, encoded and kept (at most ``TEXTS_KEPT`` of them)."""
        outcome, outputs = key
        comment = " " + describe(outcome)
        if outputs and self.direction == "in":
            comment += " -> " + ", ".join(p.label for p in outputs)
        if len(self.texts) >= TEXTS_KEPT:
            self.texts.clear()
        text = self.texts[key] = comment.encode()
        return text


class CaptureSet:
    """The capture files of one run; close() them (the network does) to flush every buffer.

    The output folder is made when the first file is added (``OutputFolderError`` if it cannot be); sub-folders of
    a file's name are made inside it. A file that cannot be created, or written (a full disk), is a
    ``VSwitchError`` naming it; ``label`` (the topology field it comes from) prefixes what ``close()`` reports.
    """

    def __init__(self, out_dir: str | os.PathLike, epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        self.out_dir = Path(out_dir)
        self.epoch_ns = epoch_ns
        self.comment = "written by vswitch"  # the pcapng's section comment (``vswitch live`` says its clock there)
        self.files: list[Path] = []
        self._writers: list[PcapWriter | PcapNgWriter] = []
        self._labels: list[str] = []
        self._pcapng: PcapNgWriter | None = None
        self._pcapng_ids: dict[str, int] = {}
        self._learn_note = LearnNote()
        self._listened: list[LearningSwitch] = []  # switches whose tables tell _learn_note
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
            port.add_tap(tap, "in")
        if direction in ("tx", "both"):
            port.add_tap(tap, "out")
        return path

    def enable_pcapng(self, file_name: str | os.PathLike, *, label: str = "") -> Path:
        """Open the shared pcapng; points added with ``add_pcapng_point`` become its interfaces."""
        path = self._path(file_name)
        if path in self.files:
            raise CaptureError(f"two capture points write {path.name}: give each its own file")
        self._pcapng = PcapNgWriter(path, comment=self.comment)
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
            switch = port.node
            note = None
            if isinstance(switch, LearningSwitch):  # its table tells the note what the arriving frame taught it
                note = self._learn_note
                if not any(s is switch for s in self._listened):
                    self._listened.append(switch)
                    switch.table.listeners.append(_LearnListener(switch, note))
            port.add_tap(PcapNgTap(self._pcapng, interface_id, "in", self.epoch_ns, port, note), "in")
        if direction in ("tx", "both"):
            port.add_tap(PcapNgTap(self._pcapng, interface_id, "out", self.epoch_ns, port), "out")
        note_io(port)

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
        for switch in self._listened:  # nothing left to comment on
            switch.table.listeners[:] = [f for f in switch.table.listeners
                                         if not (isinstance(f, _LearnListener) and f.note is self._learn_note)]
        self._listened = []
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


def note_io(port: Port) -> None:
    """Have ``port``'s I/O model (a VM's: ``port.io``) keep each frame's cost for the pcapng comment, in the
    directions the pcapng captures; call it again when the port's model changes (a migration)."""
    io = port.io
    if io is not None:
        io.note_tx = any(isinstance(tap, PcapNgTap) for tap in port.tx_taps)
        io.note_rx = any(isinstance(tap, PcapNgTap) for tap in port.rx_taps)


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
