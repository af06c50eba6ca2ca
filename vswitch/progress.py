"""The progress line of a long ``vswitch run`` on a terminal: virtual time reached, frames, frames/s.

Shown on stderr, only when both stdout and stderr are terminals and ``--quiet`` is not given (a log, a pipe or a
test sees nothing), only once the run has taken ``SHOW_AFTER_S`` of wall-clock time (a short run prints nothing),
and redrawn at most every ``EVERY_S``. A few lines of our own: a library (tqdm, rich) would bring a dependency
for one line that carrier-returns over itself.
"""

from __future__ import annotations

import sys
from typing import Callable, TextIO

from .core.units import format_duration
from .realtime import stopwatch_s

SHOW_AFTER_S = 1.0  # a run shorter than this shows nothing
EVERY_S = 0.25  # at most this often: the line is for eyes, and each redraw is a write


class Progress:
    """Called by ``ScenarioRunner.run`` as ``progress(now_ns, end_ns)`` after each slice of the run; ``frames()``
    tells how many frames have been handed to the emulator so far. ``done()`` clears the line."""

    def __init__(self, frames: Callable[[], int], *, enabled: bool, stream: TextIO | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.frames = frames
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock if clock is not None else stopwatch_s
        self.started = self.clock() if enabled else 0.0
        self.shown = False
        self._next = self.started + SHOW_AFTER_S

    @classmethod
    def on_terminal(cls, frames: Callable[[], int], *, quiet: bool) -> "Progress":
        """On stderr, when stdout and stderr are terminals and not ``quiet``."""
        return cls(frames, enabled=not quiet and _is_tty(sys.stdout) and _is_tty(sys.stderr), stream=sys.stderr)

    def __call__(self, now: int, end: int) -> None:
        if not self.enabled:
            return
        wall = self.clock()
        if wall < self._next:
            return
        self._next = wall + EVERY_S
        frames = self.frames()
        line = f"running: {format_duration(now)}"
        if end > 0:
            line += f" of {format_duration(end)} ({min(100, now * 100 // end)}%)"
        line += f", {frames:,} frames, {frames / max(wall - self.started, 1e-9):,.0f} frames/s"
        self.stream.write(f"\r{line}\033[K")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        """Clear the line (if one was shown), so that the report starts on a clean one."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced by something without isatty, or closed
        return False
