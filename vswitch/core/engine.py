"""The discrete-event engine: integer-nanosecond virtual time and a FIFO-stable event queue.

Future events wait in a heap of ``(time_ns, sequence, action, args)``, except the earliest, which waits in plain
fields (the *front*): a run where one event at a time is in the future (a stream's next frame, each frame's hops
being immediate) then schedules and runs it without a tuple, two int objects and a heap push and pop. Events for
the current instant wait in a plain FIFO (``due``), the cheap lane that zero-delay hops take. Same-time events run
in the order they were scheduled, so a run is reproducible: an event waits in the future only if it was scheduled
at an earlier instant, so when the clock reaches its time it runs before anything scheduled at that instant.
Nothing here reads the wall clock.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any, Callable, Final

from .errors import ScenarioError

# Bound once: compiled, ``heapq.heappush`` would be looked up in the module by name at every call.
_heappush: Final = heapq.heappush
_heappop: Final = heapq.heappop


class Engine:
    """Runs scheduled actions in virtual time."""

    def __init__(self) -> None:
        self.now: int = 0
        #: Future events (times > now) after the front one, by (time, sequence).
        self._queue: list[tuple[int, int, Callable[..., Any], tuple]] = []
        #: The front: the earliest future event, before everything in ``_queue`` (None: ``_queue`` holds them all).
        self._front_action: Callable[..., Any] | None = None
        self._front_args: tuple = ()
        self._front_time = 0
        self._front_sequence = 0
        #: ``(action, args)`` due at the current instant, in order. The datapath appends to it directly
        #: (``at(now, ...)`` without the call) and runs an arrival at once when it is empty (see ``datapath.py``).
        self.due: deque[tuple[Callable[..., Any], tuple]] = deque()
        self._sequence = 0
        self.events_run = 0

    def at(self, time_ns: int, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` at absolute virtual time ``time_ns`` (not in the past)."""
        if time_ns == self.now:
            self.due.append((action, args))
            return
        if time_ns < self.now:
            raise ScenarioError(f"cannot schedule at {time_ns} ns: the clock is already at {self.now} ns")
        self._sequence += 1
        if self._front_action is None and not self._queue:  # nothing else waits: it goes to the front at once
            self._front_action, self._front_args = action, args
            self._front_time, self._front_sequence = time_ns, self._sequence
            return
        self._future(time_ns, self._sequence, action, args)

    def reserve(self, count: int) -> int:
        """Set aside ``count`` sequence numbers for events to be scheduled later with ``at_reserved``; returns the
        first. A lazy series of events then runs in the order it would have had if scheduled all at once now."""
        first = self._sequence + 1
        self._sequence += count
        return first

    def at_reserved(self, time_ns: int, sequence: int, action: Callable[..., Any], *args: Any) -> None:
        """``at`` for a future time, under a sequence number from ``reserve``."""
        if time_ns <= self.now:
            raise ScenarioError(f"a reserved event must be in the future: {time_ns} ns, the clock is at {self.now} ns")
        self._future(time_ns, sequence, action, args)

    def _future(self, time_ns: int, sequence: int, action: Callable[..., Any], args: tuple) -> None:
        """Queue a future event: at the front if it goes before every waiting one, else in the heap."""
        queue = self._queue
        front = self._front_action
        if front is None:
            if queue:
                top = queue[0]
                if time_ns > top[0] or (time_ns == top[0] and sequence > top[1]):
                    _heappush(queue, (time_ns, sequence, action, args))
                    return
        elif time_ns < self._front_time or (time_ns == self._front_time and sequence < self._front_sequence):
            _heappush(queue, (self._front_time, self._front_sequence, front, self._front_args))  # second now
        else:
            _heappush(queue, (time_ns, sequence, action, args))
            return
        self._front_action, self._front_args = action, args
        self._front_time, self._front_sequence = time_ns, sequence

    def after(self, delay_ns: int, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` ``delay_ns`` nanoseconds from now."""
        self.at(self.now + delay_ns, action, *args)

    def next_time(self) -> int | None:
        """Time of the next pending event, or None when idle."""
        if self.due:
            return self.now
        if self._front_action is not None:
            return self._front_time
        return self._queue[0][0] if self._queue else None

    def pending(self) -> int:
        return len(self._queue) + len(self.due) + (self._front_action is not None)

    def pending_actions(self) -> list[Callable[..., Any]]:
        """The action of every pending event, in no particular order (for checks: what is still in flight)."""
        front = [] if self._front_action is None else [self._front_action]
        return front + [entry[2] for entry in self._queue] + [action for action, _ in self.due]

    def run(self, until: int | None = None, *, advance: bool = True) -> int:
        """Run events up to and including ``until`` (all, if None); return how many ran.

        With ``until`` the clock ends at ``until`` even if the queue empties earlier, unless ``advance`` is
        False (the clock then stays at the last event run).
        """
        if until is not None and until < self.now:
            return 0
        queue, ready = self._queue, self.due
        popleft, append = ready.popleft, ready.append
        ran = 0
        try:
            while True:
                while ready:
                    action, args = popleft()
                    ran += 1
                    action(*args)
                front = self._front_action
                if front is not None:
                    time = self._front_time
                elif queue:
                    time = queue[0][0]
                else:
                    break
                if until is not None and time > until:
                    break
                self.now = now = time
                if front is not None:  # the front goes; what waits in the heap comes after it
                    args = self._front_args
                    self._front_action, self._front_args = None, ()
                else:
                    entry = _heappop(queue)
                    front, args = entry[2], entry[3]
                if not queue or queue[0][0] != now:  # the only event of this instant: run it without queueing it
                    ran += 1
                    front(*args)
                    continue
                append((front, args))
                while queue and queue[0][0] == now:  # due now: they go first, in sequence order
                    entry = _heappop(queue)
                    append((entry[2], entry[3]))
        finally:
            self.events_run += ran
        if advance and until is not None and until > self.now:
            self.now = until
        return ran
