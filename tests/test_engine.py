"""The discrete-event engine: integer virtual time, FIFO ties, run(until)."""

import random

import pytest

from vswitch.core.engine import Engine
from vswitch.core.errors import VSwitchError


def recorder(engine: Engine, log: list):
    def record(label):
        log.append((engine.now, label))
    return record


def test_new_engine_is_idle_at_time_zero():
    engine = Engine()
    assert (engine.now, engine.next_time(), engine.pending(), engine.events_run) == (0, None, 0, 0)


def test_same_time_events_run_in_the_order_scheduled():
    engine, log = Engine(), []
    record = recorder(engine, log)
    for label in "abcde":
        engine.at(100, record, label)
    assert engine.run() == 5
    assert log == [(100, "a"), (100, "b"), (100, "c"), (100, "d"), (100, "e")]


def test_events_run_in_time_order_whatever_the_scheduling_order():
    engine, log = Engine(), []
    record = recorder(engine, log)
    engine.at(30, record, "c")
    engine.at(10, record, "a")
    engine.at(20, record, "b1")
    engine.at(20, record, "b2")
    engine.run()
    assert log == [(10, "a"), (20, "b1"), (20, "b2"), (30, "c")]
    assert engine.now == 30


def test_action_receives_all_positional_arguments():
    engine, calls = Engine(), []
    engine.at(5, lambda *args: calls.append(args), "port", b"frame", 3)
    engine.run()
    assert calls == [("port", b"frame", 3)]


def test_run_until_includes_events_at_until_and_stops_there():
    engine, log = Engine(), []
    record = recorder(engine, log)
    for t in (10, 20, 30):
        engine.at(t, record, t)
    assert engine.run(until=20) == 2
    assert log == [(10, 10), (20, 20)]
    assert (engine.now, engine.pending(), engine.next_time()) == (20, 1, 30)


def test_run_until_between_events_leaves_the_clock_at_until():
    engine, log = Engine(), []
    record = recorder(engine, log)
    engine.at(10, record, "a")
    engine.at(30, record, "b")
    assert engine.run(until=25) == 1
    assert (engine.now, log) == (25, [(10, "a")])


def test_run_until_on_an_empty_queue_advances_the_clock():
    engine = Engine()
    assert engine.run(until=1_000_000) == 0
    assert engine.now == 1_000_000


def test_run_until_before_now_runs_nothing_and_keeps_the_clock():
    engine = Engine()
    engine.run(until=500)
    assert engine.run(until=100) == 0
    assert engine.now == 500


def test_successive_runs_resume_where_they_stopped():
    engine, log = Engine(), []
    record = recorder(engine, log)
    for t in (10, 20, 30):
        engine.at(t, record, t)
    engine.run(until=15)
    engine.run(until=25)
    engine.run()
    assert log == [(10, 10), (20, 20), (30, 30)]
    assert (engine.now, engine.events_run, engine.pending()) == (30, 3, 0)


def test_run_without_until_stops_at_the_last_event():
    engine = Engine()
    engine.at(42, lambda: None)
    engine.run()
    assert engine.now == 42


def test_scheduling_in_the_past_raises():
    engine = Engine()
    engine.run(until=100)
    with pytest.raises(VSwitchError) as caught:
        engine.at(99, lambda: None)
    assert str(caught.value) == "cannot schedule at 99 ns: the clock is already at 100 ns"
    assert engine.pending() == 0


def test_scheduling_at_now_is_allowed():
    engine, log = Engine(), []
    engine.run(until=100)
    engine.at(100, recorder(engine, log), "now")
    engine.run()
    assert log == [(100, "now")]


def test_after_schedules_relative_to_now():
    engine, log = Engine(), []
    engine.run(until=1_000)
    engine.after(250, recorder(engine, log), "x")
    assert engine.next_time() == 1_250
    engine.run()
    assert log == [(1_250, "x")]


def test_after_with_negative_delay_raises():
    engine = Engine()
    engine.run(until=10)
    with pytest.raises(VSwitchError):
        engine.after(-1, lambda: None)


def test_next_time_is_the_earliest_pending_event():
    engine = Engine()
    engine.at(70, lambda: None)
    engine.at(40, lambda: None)
    engine.at(90, lambda: None)
    assert (engine.next_time(), engine.pending()) == (40, 3)
    engine.run(until=40)
    assert (engine.next_time(), engine.pending()) == (70, 2)
    engine.run()
    assert (engine.next_time(), engine.pending()) == (None, 0)


def test_events_scheduled_during_a_run_are_run_in_time_order():
    engine, log = Engine(), []
    record = recorder(engine, log)

    def spawn():
        record("spawn")
        engine.after(0, record, "same time, scheduled later")
        engine.after(5, record, "later")

    engine.at(10, spawn)
    engine.at(10, record, "queued before spawn ran")
    engine.at(12, record, "between")
    assert engine.run() == 5
    assert log == [(10, "spawn"), (10, "queued before spawn ran"), (10, "same time, scheduled later"),
                   (12, "between"), (15, "later")]


def test_events_scheduled_during_a_run_beyond_until_stay_pending():
    engine, log = Engine(), []
    record = recorder(engine, log)
    engine.at(10, lambda: engine.after(100, record, "late"))
    assert engine.run(until=50) == 1
    assert (engine.now, engine.next_time(), log) == (50, 110, [])
    engine.run()
    assert log == [(110, "late")]


def test_chained_events_run_until_the_chain_ends():
    engine, log = Engine(), []

    def tick(n):
        log.append(engine.now)
        if n:
            engine.after(1_000, tick, n - 1)

    engine.at(0, tick, 3)
    assert engine.run() == 4
    assert log == [0, 1_000, 2_000, 3_000]


def test_events_run_counts_across_runs():
    engine = Engine()
    for t in range(5):
        engine.at(t, lambda: None)
    engine.run(until=1)
    engine.run()
    assert engine.events_run == 5


class SortedEngine:
    """The reference for the order of events: all of them in one list, run by (time, sequence), every event (the
    current instant's too) numbered as it is scheduled."""

    def __init__(self) -> None:
        self.now, self.events, self.sequence = 0, [], 0

    def at(self, time_ns, action, *args):
        self.sequence += 1
        self.events.append((time_ns, self.sequence, action, args))

    def reserve(self, count):
        first, self.sequence = self.sequence + 1, self.sequence + count
        return first

    def at_reserved(self, time_ns, sequence, action, *args):
        self.events.append((time_ns, sequence, action, args))

    def run(self, until=None):
        while self.events:
            self.events.sort(key=lambda event: event[:2])
            if until is not None and self.events[0][0] > until:
                break
            self.now, _, action, args = self.events.pop(0)
            action(*args)
        if until is not None and until > self.now:
            self.now = until


def busy_run(engine, seed: int) -> list:
    """A random mix of events, many at the same instants, each scheduling more as it runs: now, later, or a reserved
    series; returns (time, label) in the order they ran, the clock read at each step."""
    log, labels = [], iter(range(10**6))

    def event(label):
        log.append((engine.now, label))
        rng = random.Random(label * 7919 + seed)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            if len(log) > 300:
                break
            delay = rng.choice((0, 0, 1, 3, 10))
            if rng.random() < 0.2 and delay:
                first = engine.reserve(2)
                engine.at_reserved(engine.now + delay, first + 1, event, next(labels))
                engine.at_reserved(engine.now + delay, first, event, next(labels))
            else:
                engine.at(engine.now + delay, event, next(labels))

    rng = random.Random(seed)
    for _ in range(rng.randint(1, 8)):
        engine.at(rng.choice((0, 1, 1, 2, 5)), event, next(labels))
    for until in sorted(rng.sample(range(0, 60), 3)) + [None]:
        engine.run(until)
        log.append(("run until", until, engine.now if until is not None else None))
    return log


@pytest.mark.parametrize("seed", range(40))
def test_events_run_in_time_then_scheduling_order_however_they_wait(seed):
    """The earliest future event waits outside the heap (the front): whether an event went there, to the heap or to
    the current instant's queue, the order is (time, order of scheduling), as a plain sorted list gives it."""
    assert busy_run(Engine(), seed) == busy_run(SortedEngine(), seed)


def test_the_front_event_counts_as_pending_and_gives_the_next_time():
    engine, log = Engine(), []
    record = recorder(engine, log)
    engine.at(50, record, "front")
    assert (engine.pending(), engine.next_time(), engine.pending_actions()) == (1, 50, [record])
    engine.at(20, record, "earlier")  # the front goes back to the heap
    engine.at(70, record, "later")
    assert (engine.pending(), engine.next_time()) == (3, 20)
    assert engine.run(until=20) == 1 and (engine.pending(), engine.next_time()) == (2, 50)
    engine.run()
    assert log == [(20, "earlier"), (50, "front"), (70, "later")]
    assert (engine.pending(), engine.next_time(), engine.pending_actions()) == (0, None, [])
