"""Run the engine against the wall clock: virtual time is the time since the start, and a frame a real station
sends enters the network at the moment it is read.

Between events the pacer waits in ``select`` on the stations' sockets, at most until the next event is due (and
never longer than ``TICK_S``, so that a stop request is seen at once).
"""

from __future__ import annotations

import select
from typing import Callable, Sequence

from ..net.network import Network
from ..realtime import now_s
from .stations import LiveStation
from .vxlan import LiveTunnel

TICK_S = 0.05


def run_paced(net: Network, stations: Sequence[LiveStation | LiveTunnel], duration_s: float | None,
              stop: Callable[[], bool]) -> int:
    """Run ``net`` in real time for ``duration_s`` (None: until ``stop()``); return the frames the stations sent."""
    start = now_s()
    by_fd = {station.fileno(): station for station in stations}
    engine, received = net.engine, 0

    def wall_ns() -> int:
        return int((now_s() - start) * 1e9)

    while not stop():
        elapsed = now_s() - start
        if duration_s is not None and elapsed >= duration_s:
            break
        engine.run(max(engine.now, wall_ns()))
        wait = TICK_S if duration_s is None else min(TICK_S, duration_s - elapsed)
        upcoming = engine.next_time()
        if upcoming is not None:
            wait = min(wait, max(0.0, (upcoming - wall_ns()) / 1e9))
        ready, _, _ = select.select(list(by_fd), [], [], max(wait, 0.0))
        if ready:
            engine.run(max(engine.now, wall_ns()))
            for fd in ready:
                station = by_fd[fd]
                frames = station.read()
                received += len(frames)
                net.send_from_stack(station.nic.port, [(0, frame) for frame in frames])
    engine.run(max(engine.now, wall_ns()))
    return received
