"""Where the copies of a frame went and why: hops recorded for people, and hops watched for expectations.

Each hop is a ``TraceEvent``: a frame (by id) at a port, what the node there did (a ``Verdict`` or a
``DropReason``), the ports copies went out of, and a note (what was learned). An event with no outputs ends a
copy: delivered, or dropped with its reason.

A ``Trace`` does two jobs, each with memory that does not grow with the frames nobody asked about:

- **Recording** (``everything=True``: the Python API's default, ``explain``): every hop of every frame, up to
  ``limit`` events. Past it ``truncated`` is set, and asking about a frame whose hops may be missing raises
  ``TraceIncomplete`` instead of answering wrongly.
- **Watching** (always): a ``FrameObserver`` registered for a frame id sees each of its hops, and ``done`` once
  its last copy has ended. The trace counts each watched frame's live copies (a decision with k outputs makes
  k-1 more; a delivery or a drop ends one), so it holds a frame only while the frame is in flight. Scenario
  expectations are observers: their verdicts are exact at any number of frames.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from .errors import VSwitchError
from .reasons import DropReason, Verdict, describe

DEFAULT_TRACE_LIMIT = 1_000_000


class TraceIncomplete(VSwitchError):
    """The trace stopped recording before this frame's hops were all in: no answer is better than a wrong one."""


class TraceEvent(NamedTuple):
    time_ns: int
    frame_id: int
    port: str
    outcome: Verdict | DropReason
    outputs: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_drop(self) -> bool:
        return isinstance(self.outcome, DropReason)

    def text(self) -> str:
        where = f" -> {', '.join(self.outputs)}" if self.outputs else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.port}: {describe(self.outcome)}{where}{note}"


class FrameObserver:
    """Told about the hops of the frames it watches (``Trace.watch``)."""

    def hop(self, event: TraceEvent) -> None:
        """One hop of a watched frame."""

    def done(self, frame_id: int) -> None:
        """Every copy of ``frame_id`` has been delivered or dropped: no more hops will come."""


class HopRecorder(FrameObserver):
    """Keeps every hop of the first ``max_frames`` frames it watches (``explain``); counts the others."""

    def __init__(self, max_frames: int = 100) -> None:
        self.max_frames = max_frames
        self.hops: dict[int, list[TraceEvent]] = {}
        self.more = 0  # watched frames past max_frames: not kept

    def hop(self, event: TraceEvent) -> None:
        hops = self.hops.get(event.frame_id)
        if hops is None:
            if len(self.hops) >= self.max_frames:
                return
            hops = self.hops[event.frame_id] = []
        hops.append(event)

    def done(self, frame_id: int) -> None:
        if frame_id not in self.hops:
            self.more += 1


class Trace:
    """Hops by frame id: all of them up to ``limit`` when ``everything``, and always those of watched frames."""

    def __init__(self, limit: int = DEFAULT_TRACE_LIMIT, *, everything: bool = True) -> None:
        self.limit = limit
        self.everything = everything
        self.events: list[TraceEvent] = []
        self._by_frame: dict[int, list[TraceEvent]] = defaultdict(list)
        self.truncated = False
        #: Live copies of each frame in flight that the trace follows (every frame when recording everything,
        #: else the watched ones). The datapath reports a frame's hops when ``everything`` or its id is here.
        self.open: dict[int, int] = {}
        self._observers: dict[int, tuple[FrameObserver, ...]] = {}
        self._complete: set[int] = set()  # frames whose every hop was recorded before the trace filled up

    def watch(self, frame_id: int, observers: tuple[FrameObserver, ...]) -> None:
        """Show ``observers`` every hop of ``frame_id`` (a frame not yet sent: its first copy is live)."""
        self._observers[frame_id] = self._observers.get(frame_id, ()) + observers
        self.open.setdefault(frame_id, 1)

    def add(self, event: TraceEvent) -> None:
        frame_id = event.frame_id
        live = self.open.get(frame_id, 1)
        if event.outcome is not Verdict.TRANSMITTED:  # leaving a NIC is not a decision
            live += len(event.outputs) - 1 if event.outputs else -1
        if self.everything:
            self._record(event)
        observers = self._observers.get(frame_id)
        if observers is not None:
            for observer in observers:
                observer.hop(event)
        if live > 0:
            self.open[frame_id] = live
            return
        self.open.pop(frame_id, None)
        if observers is not None:
            del self._observers[frame_id]
            for observer in observers:
                observer.done(frame_id)

    def _record(self, event: TraceEvent) -> None:
        if len(self.events) >= self.limit:
            if not self.truncated:
                self.truncated = True
                self._complete = {f for f in self._by_frame if f not in self.open}
            return
        self.events.append(event)
        self._by_frame[event.frame_id].append(event)

    # -- questions about recorded frames ----------------------------------------------------------------
    def _hops(self, frame_id: int) -> list[TraceEvent]:
        if not self.everything:
            raise TraceIncomplete("this network does not record hops (record=False): watch the frame instead")
        if self.truncated and frame_id not in self._complete:
            raise TraceIncomplete(f"the trace filled up at {self.limit:,} events before frame {frame_id} ended: its "
                                  "hops are incomplete (a larger trace_limit, or watch the frame)")
        return self._by_frame.get(frame_id, [])

    def for_frame(self, frame_id: int) -> list[TraceEvent]:
        """Every hop of every copy of one frame, in the order they happened."""
        return list(self._hops(frame_id))

    def delivered_to(self, frame_id: int) -> list[str]:
        """Ports whose stack accepted a copy of the frame (one entry per copy, in time order)."""
        return [e.port for e in self._hops(frame_id) if e.outcome is Verdict.DELIVERED]

    def drops(self, frame_id: int) -> list[tuple[str, DropReason]]:
        """(port, reason) for every copy of the frame that was dropped."""
        return [(e.port, e.outcome) for e in self._hops(frame_id) if isinstance(e.outcome, DropReason)]

    def explain(self, frame_id: int) -> str:
        """A hop-by-hop account of one frame, one line per hop with its virtual time."""
        try:
            events = self._hops(frame_id)
        except TraceIncomplete as exc:
            return f"frame {frame_id}: {exc}"
        if not events:
            return f"frame {frame_id}: no trace (unknown id, or tracing was off or full)"
        return explain_hops(events)

    def frame_ids(self) -> list[int]:
        return sorted(self._by_frame)


def explain_hops(events: list[TraceEvent]) -> str:
    """One line per hop with its virtual time."""
    return "\n".join(f"{_seconds(e.time_ns)}  {e.text()}" for e in events)


def _seconds(time_ns: int) -> str:
    """Exact ``S.NNNNNNNNNs`` for an integer nanosecond time."""
    seconds, nanoseconds = divmod(time_ns, 1_000_000_000)
    return f"{seconds}.{nanoseconds:09d}s"
