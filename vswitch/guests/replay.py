"""Replay the frames of a pcap or pcapng file into a network, with their original spacing or at a given rate.

Like ``tcpreplay``: records are read one at a time (``pcap/reader.py``) and only the next frame waits in the engine,
so a capture of any size replays in flat memory. Frames are injected as captured: ``into`` a port (they arrive
there from its cable, untouched) or ``from`` a NIC (it transmits them: padding, counters and captures apply).

A damaged file is replayed up to the damage; ``ReplayResult.warning()`` then says which record, at which byte
offset, and why reading stopped. Frames the capture cut short (snap length) are replayed as captured and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterator, Optional

from ..core.units import format_duration
from ..pcap.reader import CaptureReader, ReadStop, Record
from .stream import period_ns

if TYPE_CHECKING:
    from ..net.network import Network

#: The end of what a classic pcap can hold (32-bit seconds since 1970: early 2106). A replayed frame may not be sent
#: later: a capture point would fail the run there, half-way. A record that would be is where the replay stops.
PCAP_END_NS = (1 << 32) * 1_000_000_000
_YEAR_NS = 31_557_600 * 1_000_000_000


@dataclass
class ReplayResult:
    """What a replay did, for reports, expectations and warnings."""

    name: str
    file: str  # as the topology wrote it
    target: str  # interface name
    how: str  # "into" (arrives at the port) or "from" (the NIC transmits)
    frames: int = 0
    ids: Any = field(default_factory=list)  # frame ids: a list, or a scenario's FrameIds (its name's watchers)
    stop: Optional[ReadStop] = None
    ended_by_run: bool = False  # the run ended before the file did
    cut: int = 0
    skipped: dict[int, int] = field(default_factory=dict)
    reordered: int = 0  # records whose timestamp went backwards (sent right after the previous one)
    first_ns: Optional[int] = None
    last_ns: Optional[int] = None

    def warning(self) -> Optional[str]:
        notes = []
        if self.stop is not None:
            notes.append(f"stopped at {self.stop}; the {self.frames} frames before it were replayed")
        if self.cut:
            notes.append(f"{self.cut} frames were cut short by the capture's snap length and replayed as captured")
        if self.skipped:
            kinds = ", ".join(f"{n} of link type {t}" for t, n in sorted(self.skipped.items()))
            notes.append(f"skipped packets that are not Ethernet ({kinds})")
        if self.reordered:
            notes.append(f"{self.reordered} timestamps went backwards: those frames followed the previous one at once")
        if self.ended_by_run:
            notes.append(f"the run ended after {self.frames} frames, before the end of the file")
        return f"replay {self.name} of {self.file}: " + "; ".join(notes) if notes else None

    def summary(self) -> dict[str, Any]:
        first, last = self.first_ns, self.last_ns  # set together, by the first frame sent
        span = "-" if first is None or last is None else f"{format_duration(first)} - {format_duration(last)}"
        return {"name": self.name, "file": self.file, "injected": f"{self.how} {self.target}", "frames": self.frames,
                "virtual time": span, "stopped": str(self.stop) if self.stop else "end of file"}


class Replay:
    """One replay in progress on ``net``; ``start()`` schedules the first frame, ``finish()`` closes the file."""

    def __init__(self, net: "Network", path: str, result: ReplayResult, *, count: Optional[int] = None,
                 interval_ns: Optional[int] = None, pps: Optional[Fraction] = None, bps: Optional[int] = None) -> None:
        self.net = net
        self.result = result
        self.reader = CaptureReader(path)
        self.count = count
        self._original = interval_ns is None and pps is None and bps is None
        self._interval = Fraction(1_000_000_000) / pps if pps is not None else Fraction(interval_ns or 0)
        self._bps = bps
        self._clock = Fraction(0)  # rate-based timing: when the next frame may start, after the start
        self._records: Iterator[Record] = iter(self.reader)
        self._start = 0
        self._first_capture_ns = 0
        self._last_ns = 0
        self._index = 0
        self._done = False
        self._stop: Optional[ReadStop] = None  # why the replay stopped before the reader did
        self._latest = PCAP_END_NS - 1 - net.captures.epoch_ns  # the last instant a frame may be sent

    def start(self) -> None:
        self._start = self._last_ns = self.net.now
        self._pull()

    def _pull(self) -> None:
        """Read the next record and schedule it; at the end, close the file and keep why it ended."""
        if self.count is not None and self._index >= self.count:
            return self.finish()
        record = next(self._records, None)
        if record is None:
            return self.finish()
        if self._index == 0:
            self._first_capture_ns = record.time_ns
        if self._original:
            when = self._start + record.time_ns - self._first_capture_ns
        else:
            when = self._start + int(self._clock)
            if self._bps is not None:  # each frame's own length on the wire
                self._clock += period_ns(bps=self._bps, frame_len=len(record.frame))
            else:
                self._clock += self._interval
        if when > self._latest:
            self._stop = ReadStop(record.index, record.offset, self._too_late(record, when))
            return self.finish()
        if when < self._last_ns:
            self.result.reordered += 1
            when = self._last_ns
        self._last_ns = when
        self._index += 1
        self.net.engine.at(when, self._send, record.frame)

    def _too_late(self, record: Record, when: int) -> str:
        if self._original:
            return (f"its timestamp is {_span(record.time_ns - self._first_capture_ns)} after the first record's: with "
                    "that spacing it would be sent after the year 2106, past what a pcap file can hold (the file "
                    "is corrupt here, or replay it at a rate)")
        return (f"at this rate it would be sent {_span(when - self._start)} after the replay began, after the year "
                "2106, past what a pcap file can hold: replay fewer frames (count) or at a higher rate")

    def _send(self, frame: bytes) -> None:
        result = self.result
        if result.how == "into":
            frame_id = self.net.inject(result.target, frame)
        else:
            frame_id = self.net.send(result.target, frame)
        result.ids.append(frame_id)
        result.frames += 1
        if result.first_ns is None:
            result.first_ns = self.net.now
        result.last_ns = self.net.now
        self._pull()

    def finish(self, *, run_ended: bool = False) -> None:
        """Close the file; ``run_ended``: the run stopped before the replay did."""
        if self._done:
            return
        self._done = True
        self.reader.close()
        self.result.stop = self._stop or self.reader.stop
        self.result.cut = self.reader.cut
        self.result.skipped = dict(self.reader.skipped)
        self.result.ended_by_run = run_ended


def _span(ns: int) -> str:
    """``4288896000s (about 136 years)``."""
    return f"{format_duration(ns)} (about {ns // _YEAR_NS} years)" if ns >= _YEAR_NS else format_duration(ns)
