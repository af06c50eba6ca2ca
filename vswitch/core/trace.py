"""Where every copy of every frame went and why, queryable from Python.

Each hop adds a ``TraceEvent``: a frame (by id) at a port, what the node there did (a ``Verdict`` or a
``DropReason``), the ports copies went out of, and a note (what was learned, a table move). An event with no
outputs ends a copy: delivered, or dropped with its reason. Recording stops at ``limit`` events (``truncated``
then says so) so that long runs keep bounded memory.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from .reasons import DropReason, Verdict, describe

DEFAULT_TRACE_LIMIT = 1_000_000


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


class Trace:
    """An append-only record of hops, indexed by frame id."""

    def __init__(self, limit: int = DEFAULT_TRACE_LIMIT) -> None:
        self.limit = limit
        self.events: list[TraceEvent] = []
        self._by_frame: dict[int, list[TraceEvent]] = defaultdict(list)
        self.truncated = False

    def add(self, event: TraceEvent) -> None:
        if len(self.events) >= self.limit:
            self.truncated = True
            return
        self.events.append(event)
        self._by_frame[event.frame_id].append(event)

    def for_frame(self, frame_id: int) -> list[TraceEvent]:
        """Every hop of every copy of one frame, in the order they happened."""
        return list(self._by_frame.get(frame_id, ()))

    def delivered_to(self, frame_id: int) -> list[str]:
        """Ports whose stack accepted a copy of the frame (one entry per copy, in time order)."""
        return [e.port for e in self._by_frame.get(frame_id, ()) if e.outcome is Verdict.DELIVERED]

    def drops(self, frame_id: int) -> list[tuple[str, DropReason]]:
        """(port, reason) for every copy of the frame that was dropped."""
        return [(e.port, e.outcome) for e in self._by_frame.get(frame_id, ())
                if isinstance(e.outcome, DropReason)]

    def explain(self, frame_id: int) -> str:
        """A hop-by-hop account of one frame, one line per hop with its virtual time."""
        events = self._by_frame.get(frame_id)
        if not events:
            return f"frame {frame_id}: no trace (unknown id, or tracing was off or full)"
        return "\n".join(f"{_seconds(e.time_ns)}  {e.text()}" for e in events)

    def frame_ids(self) -> list[int]:
        return sorted(self._by_frame)


def _seconds(time_ns: int) -> str:
    """Exact ``S.NNNNNNNNNs`` for an integer nanosecond time."""
    seconds, nanoseconds = divmod(time_ns, 1_000_000_000)
    return f"{seconds}.{nanoseconds:09d}s"
