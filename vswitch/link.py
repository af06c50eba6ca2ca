"""Cables between two ports: propagation latency, serialisation at a bandwidth, a finite queue, up/down.

``LinkEnd.offer(frame, now)`` returns the arrival time at the far end, or the ``DropReason`` for a tail drop or a
down link; the network schedules the arrival. Each direction has its own queue. Serialisation counts the whole
wire frame: preamble and SFD (8 bytes), the frame, FCS (4) and the inter-frame gap (12).
"""

from __future__ import annotations

from collections import deque
from typing import Final

from .errors import TopologyError
from .port import Port
from .reasons import DropReason

WIRE_OVERHEAD_BYTES: Final = 8 + 4 + 12
DEFAULT_QUEUE_FRAMES: Final = 1000  # Linux txqueuelen


class LinkEnd:
    """One direction of a link: frames entering at ``port`` travel to ``far``."""

    __slots__ = ("link", "port", "far", "_busy_until", "_waiting")

    def __init__(self, link: "Link", port: Port, far: Port) -> None:
        self.link = link
        self.port = port
        self.far = far
        self._busy_until = 0
        self._waiting: deque[int] = deque()  # transmit start times of queued frames

    def offer(self, frame: bytes, now: int) -> int | DropReason:
        """Queue ``frame`` for transmission; return its arrival time at ``far`` or why it was dropped."""
        link = self.link
        if not link.up:
            return DropReason.LINK_DOWN
        if link.bandwidth_bps is None:
            return now + link.latency_ns
        waiting = self._waiting
        while waiting and waiting[0] <= now:
            waiting.popleft()
        start = self._busy_until if self._busy_until > now else now
        if start > now:
            if len(waiting) >= link.queue_frames:
                return DropReason.QUEUE_FULL
            waiting.append(start)
        bits = (len(frame) + WIRE_OVERHEAD_BYTES) * 8
        done = start + -(-bits * 1_000_000_000 // link.bandwidth_bps)
        self._busy_until = done
        return done + link.latency_ns

    def queued(self, now: int) -> int:
        return sum(1 for start in self._waiting if start > now)


class Link:
    """A full-duplex cable joining two ports."""

    def __init__(self, a: Port, b: Port, *, latency_ns: object = 0, bandwidth_bps: object = None,
                 queue_frames: int = DEFAULT_QUEUE_FRAMES, name: str | None = None) -> None:
        """``latency_ns`` and ``bandwidth_bps`` (None: no limit) must be ints; anything else raises TopologyError."""
        for port in (a, b):
            if port.peer is not None:
                raise TopologyError(f"port {port.full_name} is already connected")
        if a is b:
            raise TopologyError(f"cannot connect port {a.full_name} to itself")
        if not isinstance(latency_ns, int) or (bandwidth_bps is not None and not isinstance(bandwidth_bps, int)):
            raise TopologyError(f"link {a.full_name}--{b.full_name}: latency (ns) and bandwidth (bit/s) must be integers")
        if latency_ns < 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: latency must be >= 0")
        if bandwidth_bps is not None and bandwidth_bps <= 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: bandwidth must be > 0")
        if queue_frames < 0:
            raise TopologyError(f"link {a.full_name}--{b.full_name}: queue must be >= 0 frames")
        self.name = name or f"{a.full_name}--{b.full_name}"
        self.latency_ns = latency_ns
        self.bandwidth_bps = bandwidth_bps
        self.queue_frames = queue_frames
        self.up = True
        self.a_to_b = LinkEnd(self, a, b)
        self.b_to_a = LinkEnd(self, b, a)
        a.peer = self.a_to_b
        b.peer = self.b_to_a

    @property
    def ports(self) -> tuple[Port, Port]:
        return self.a_to_b.port, self.b_to_a.port

    def disconnect(self) -> None:
        for end in (self.a_to_b, self.b_to_a):
            end.port.peer = None

    def __repr__(self) -> str:
        return f"<Link {self.name} {'up' if self.up else 'down'}>"
