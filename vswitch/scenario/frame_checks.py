"""The expectations on frames, MAC tables and counters: ``delivered``, ``not_delivered``, ``dropped``, ``table``,
``table_size`` and ``counter``. Each is the row of its expectation class in ``registry.CHECKS``: it takes the
run's context and the expectation and returns ``(description, passed, actual)``.

The frame expectations are evaluated online, so that their verdicts stay exact at any number of frames: before
the run, ``watch_named_frames`` gives every frame name an expectation mentions one ``FrameOutcomes`` observer,
which the trace shows each of that name's frames until its last copy ends (``core/trace.py``). The observer keeps
a frame's receivers only while it is in flight, then folds them into a count of frames per set of receivers;
drops are counted by (port, reason). Nothing is kept for frames no expectation names.
"""

from __future__ import annotations

from collections import Counter

from ..core.errors import ScenarioError
from ..core.reasons import DropReason, Verdict
from ..core.trace import FrameObserver, TraceEvent
from ..topology.frame_expectations import (CounterCheck, DeliveredCheck, DroppedCheck, FrameExpectation,
                                           NotDeliveredCheck, TableCheck, TableSizeCheck)
from ..topology.scenario_reader import ExpectAction
from ..topology.spec import TopologySpec
from .context import ScenarioContext
from .registry import checks
DROPS_LISTED = 20  # a 'dropped' check lists each drop up to this many; past it, counts by port and reason


class FrameOutcomes(FrameObserver):
    """What became of the frames of one name: receivers per frame (folded as frames end) and drops."""

    def __init__(self) -> None:
        self._receiving: dict[int, set[str]] = {}  # in-flight frames with a delivery so far
        self._finished: Counter[frozenset[str]] = Counter()  # ended frames, per set of receivers
        self.drops: Counter[tuple[str, DropReason]] = Counter()
        self._first_drops: dict[int, list[tuple[str, DropReason]]] = {}  # the first DROPS_LISTED, by frame

    def hop(self, event: TraceEvent) -> None:
        outcome = event.outcome
        if outcome is Verdict.DELIVERED:
            self._receiving.setdefault(event.frame_id, set()).add(event.port)
        elif isinstance(outcome, DropReason):
            drop = (event.port, outcome)
            if self.drops.total() < DROPS_LISTED:
                self._first_drops.setdefault(event.frame_id, []).append(drop)
            self.drops[drop] += 1

    def done(self, frame_id: int) -> None:
        self._finished[frozenset(self._receiving.pop(frame_id, ()))] += 1

    def receivers(self, frames: int) -> Counter[frozenset[str]]:
        """How many of the name's ``frames`` frames reached each set of ports so far (frames not sent yet, or in
        flight with no delivery, reached none)."""
        sets = self._finished.copy()
        for ports in self._receiving.values():
            sets[frozenset(ports)] += 1
        missing = frames - sets.total()
        if missing > 0:
            sets[frozenset()] += missing
        return sets

    def drop_text(self) -> str:
        if self.drops.total() <= DROPS_LISTED:  # each drop, frame by frame, in the order they happened
            drops = [d for frame_id in sorted(self._first_drops) for d in self._first_drops[frame_id]]
            return "; ".join(f"{port}: {r.name.lower()}" for port, r in drops) or "no drops"
        return "; ".join(f"{port}: {r.name.lower()} x{n:,}" for (port, r), n in sorted(
            self.drops.items(), key=lambda item: (item[0][0], item[0][1].name)))


def watch_named_frames(context: ScenarioContext, spec: TopologySpec) -> None:
    """Give each frame name that a frame expectation (or an ``expect`` action) mentions its observer."""
    checks = [e.check for e in spec.expectations]
    checks += [a.action.check for a in spec.scenario if isinstance(a.action, ExpectAction)]
    for check in checks:
        if isinstance(check, FrameExpectation) and check.frame not in context.frame_outcomes:
            outcomes = context.frame_outcomes[check.frame] = FrameOutcomes()
            context.watchers[check.frame] = (outcomes,)


def _outcomes(context: ScenarioContext, name: str) -> tuple[int, FrameOutcomes]:
    ids = context.result.frames.get(name)
    if ids is None:
        known = ", ".join(sorted(context.result.frames)) or "none yet"
        raise ScenarioError(f"no frame named {name!r} was sent (named frames: {known})")
    return len(ids), context.frame_outcomes[name]


def _received_by(sets: Counter[frozenset[str]]) -> str:
    union = set().union(*sets)
    return "received by " + (", ".join(sorted(union)) or "nobody")


@checks(DeliveredCheck)
def _delivered(context: ScenarioContext, check: DeliveredCheck) -> tuple[str, bool, str]:
    targets = {context.net.port(t).full_name for t in check.to}
    frames, outcomes = _outcomes(context, check.frame)
    sets = outcomes.receivers(frames)
    if check.only:
        passed = all(ports == targets for ports in sets)
        description = f"{check.frame} delivered to exactly {', '.join(sorted(targets))}"
    else:
        passed = all(targets <= ports for ports in sets)
        description = f"{check.frame} delivered to {', '.join(sorted(targets))}"
    return description, passed, _received_by(sets)


@checks(NotDeliveredCheck)
def _not_delivered(context: ScenarioContext, check: NotDeliveredCheck) -> tuple[str, bool, str]:
    targets = {context.net.port(t).full_name for t in check.to}
    frames, outcomes = _outcomes(context, check.frame)
    sets = outcomes.receivers(frames)
    return (f"{check.frame} not delivered to {', '.join(sorted(targets))}",
            not any(targets & ports for ports in sets), _received_by(sets))


@checks(DroppedCheck)
def _dropped(context: ScenarioContext, check: DroppedCheck) -> tuple[str, bool, str]:
    reason = check.reason
    at = context.net.port(check.at).full_name if check.at else None
    _, outcomes = _outcomes(context, check.frame)
    passed = any(r is reason and (at is None or port == at) for port, r in outcomes.drops)
    where = f" at {at}" if at else ""
    return f"{check.frame} dropped{where}: {reason.name.lower()}", passed, outcomes.drop_text()


@checks(TableCheck)
def _table(context: ScenarioContext, check: TableCheck) -> tuple[str, bool, str]:
    switch = context.net.switch(check.switch)
    mac = check.mac
    port = switch.table.lookup(check.vlan, mac.packed, context.net.now)
    vlan = f" in VLAN {check.vlan}" if check.vlan != 1 else ""
    if check.absent:
        return f"{switch.name} has no entry for {mac}{vlan}", port is None, f"port {port}" if port else "absent"
    return (f"{switch.name} learned {mac}{vlan} on {check.port}", port == check.port,
            f"port {port}" if port else "absent")


@checks(TableSizeCheck)
def _table_size(context: ScenarioContext, check: TableSizeCheck) -> tuple[str, bool, str]:
    switch = context.net.switch(check.switch)
    entries = len(switch.table.rows(context.net.now))
    return f"{switch.name} holds {check.entries} entries", entries == check.entries, f"{entries} entries"


@checks(CounterCheck)
def _counter(context: ScenarioContext, check: CounterCheck) -> tuple[str, bool, str]:
    port = context.net.port(check.interface)
    counters = port.counters
    wanted, seen = [], []
    for name, value in check.wanted():
        if name in ("rx_dropped", "tx_dropped"):  # ((reason, count), ...)
            table = getattr(counters, name)
            for reason, count in value:
                wanted.append(f"{name}.{reason.name.lower()}={count}")
                seen.append(f"{name}.{reason.name.lower()}={table.get(reason, 0)}")
        else:
            wanted.append(f"{name}={value}")
            seen.append(f"{name}={getattr(counters, name)}")
    return f"{port.full_name} counters {' '.join(wanted)}", wanted == seen, " ".join(seen)
