"""The wall clock, for the code that must run in real time: the only place kernel-check reads it.

vswitch itself runs on virtual time, so that a run is the same every time. ``vswitch kernel-check`` cannot:
it drives the real Linux kernel, which delivers frames and ages bridge entries in real time, so it waits for
the lab to settle, collects each frame's copies until the lab is quiet and paces its replay against a real
clock. Every such read goes through here (the determinism check exempts only modules named ``cli*``,
``live*``, ``tap*``, ``bench*`` and ``realtime*``); the naive bench baseline times itself here too.
"""

from __future__ import annotations

import time


def now_s() -> float:
    """Seconds on the monotonic clock (``time.monotonic``): for deadlines and the pace of a replay."""
    return time.monotonic()


def stopwatch_s() -> float:
    """Seconds on the finest monotonic clock (``time.perf_counter``): for measuring how long something took."""
    return time.perf_counter()


def sleep_s(seconds: float) -> None:
    """Sleep ``seconds`` of real time."""
    time.sleep(seconds)


def sleep_until(moment_s: float) -> None:
    """Sleep until ``now_s()`` reaches ``moment_s`` (not at all if it already has)."""
    time.sleep(max(0.0, moment_s - now_s()))


def wall_clock_ns() -> int:
    """Nanoseconds since the Unix epoch (``time.time_ns``): the timestamps of a live run's captures."""
    return time.time_ns()
