"""The discrete-event engine: integer-nanosecond virtual time and a FIFO-stable event heap.

Events are ``(time_ns, sequence, action, args)``: same-time events run in the order they were scheduled, so a
run is reproducible. Nothing here reads the wall clock.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

from .errors import VSwitchError


class Engine:
    """Runs scheduled actions in virtual time."""

    def __init__(self) -> None:
        self.now: int = 0
        self._queue: list[tuple[int, int, Callable[..., Any], tuple]] = []
        self._sequence = 0
        self.events_run = 0

    def at(self, time_ns: int, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` at absolute virtual time ``time_ns`` (not in the past)."""
        if time_ns < self.now:
            raise VSwitchError(f"cannot schedule at {time_ns} ns: the clock is already at {self.now} ns")
        self._sequence += 1
        heapq.heappush(self._queue, (time_ns, self._sequence, action, args))

    def after(self, delay_ns: int, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` ``delay_ns`` nanoseconds from now."""
        self.at(self.now + delay_ns, action, *args)

    def next_time(self) -> int | None:
        """Time of the next pending event, or None when idle."""
        return self._queue[0][0] if self._queue else None

    def pending(self) -> int:
        return len(self._queue)

    def run(self, until: int | None = None, *, advance: bool = True) -> int:
        """Run events up to and including ``until`` (all, if None); return how many ran.

        With ``until`` the clock ends at ``until`` even if the queue empties earlier, unless ``advance`` is
        False (the clock then stays at the last event run).
        """
        queue = self._queue
        pop = heapq.heappop
        ran = 0
        try:
            while queue and (until is None or queue[0][0] <= until):
                time_ns, _, action, args = pop(queue)
                self.now = time_ns
                action(*args)
                ran += 1
        finally:
            self.events_run += ran
        if advance and until is not None and until > self.now:
            self.now = until
        return ran
