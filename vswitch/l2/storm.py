"""Switching loops: detect a frame coming back to a switch port, and stop the broadcast storm at a bound.

Without STP a loop of switches passes a flooded frame round for ever, and every extra path doubles it. Frames
carry no hop count, but the emulator knows each frame's identity: in a loop-free network a frame (all of its
copies) arrives at a given switch port at most once, so a second arrival at the same port is proof of a loop.
That is what ``StormGuard`` records, per switch:

- a loop is *detected* when a frame arrives at one of the switch's ports again (for a frame that comes back by
  way of a hairpin or a host bridge, the second arrival is at another port, and nothing is reported); the port
  is reported as on a loop, with the first frame and time;
- the storm is *stopped* at ``limit`` repeated arrivals of one frame at one port: later copies arriving there
  are dropped (``STORM_LIMIT``). A port so takes at most ``limit`` + 1 copies of a frame, and one frame makes at
  most that many times the switch's ports copies per port: a run with a loop ends, in bounded time and memory,
  even over zero-latency cables.

Only a switch cabled to a switch (another, or itself) can be on a loop: ``Network.connect`` arms the guard of
both ends then, and the ports of other switches skip the check (a single switch with hosts pays nothing).
The datapath remembers, per armed switch, the ids of the last frames that arrived in a ring of ``SEEN_SLOTS`` slots
(slot = frame id modulo the size; a list, so the check costs two indexings); only a frame found in its slot
reaches ``revisit``, which then counts that frame's arrivals per port. A loop whose lap takes longer than
``SEEN_SLOTS`` other frames through the switch is detected when the traffic leaves it room.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from ..core.errors import TopologyError

DEFAULT_STORM_LIMIT: Final = 16  #: repeated arrivals of one frame at one port before further copies are dropped
SEEN_SLOTS: Final = 1 << 14  #: frame ids remembered per switch (a power of two)
MAX_TRACKED = 4096  #: frames whose repeated arrivals are counted at once (more: the counts start again)


class LoopPort(NamedTuple):
    """A switch port a frame came back to: the first such frame and when."""

    port: str  # full name, e.g. sw1.p2
    frame_id: int
    time_ns: int


class StormGuard:
    """Loop detection and the storm limit of one switch."""

    def __init__(self, limit: object = DEFAULT_STORM_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise TopologyError(f"storm limit must be an integer of at least 1, got {limit!r}")
        self.limit = limit
        self.armed = False
        self.seen: list[int] = [0] * SEEN_SLOTS  # the datapath's ring of frame ids (ids start at 1)
        self.arrivals: dict[int, dict[Any, int]] = {}  # frame id -> {port: repeated arrivals}
        self.loop_ports: dict[str, LoopPort] = {}  # by port full name, in detection order
        self.dropped = 0

    def revisit(self, port: Any, frame_id: int, now: int) -> bool:
        """A frame already seen at this switch arrives at ``port`` again; True: drop it (storm limit reached)."""
        arrivals = self.arrivals.get(frame_id)
        if arrivals is None:
            if len(self.arrivals) >= MAX_TRACKED:
                self.arrivals.clear()
            arrivals = self.arrivals[frame_id] = {}
        count = arrivals.get(port, 0) + 1
        arrivals[port] = count
        if count == 2 and port.full_name not in self.loop_ports:
            self.loop_ports[port.full_name] = LoopPort(port.full_name, frame_id, now)
        if count > self.limit:
            self.dropped += 1
            return True
        return False
