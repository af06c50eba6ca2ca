"""What a scenario run shares with its actions and expectations: the spec, the network and the results so far.

``ScenarioRunner`` is a ``ScenarioContext`` that schedules the actions; the action performers and expectation
checks of each feature (``network_actions``, ``frame_checks``, ``guest_actions``, ``security_checks``, gathered in
``registry``) take a context, so they need not import the runner that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from ..core.mac import mac_str
from ..core.trace import FrameObserver
from ..core import units
from ..l2.switch import LearningSwitch
from ..net.network import Network
from ..topology.spec import TopologySpec, Where


class FrameIds:
    """The ids of the frames one name stands for, kept as runs of consecutive ids: a send of a million frames is
    one run. Iterates and indexes like the list of ids; ``observers`` (the expectations that name these frames)
    are shown each frame's hops (``Network.watch_frame``)."""

    def __init__(self, net: Network, observers: tuple[FrameObserver, ...] = ()) -> None:
        self._net = net
        self.observers = observers
        self._runs: list[list[int]] = []  # [first id, how many]
        self._count = 0

    def _add_run(self, first: int, count: int) -> None:
        if self._runs and sum(self._runs[-1]) == first:
            self._runs[-1][1] += count
        else:
            self._runs.append([first, count])
        self._count += count

    def append(self, frame_id: int) -> None:
        """A frame of this name was scheduled (its observers start watching it now)."""
        self._add_run(frame_id, 1)
        if self.observers:
            self._net.watch_frame(frame_id, self.observers)

    def add_series(self, ids: range) -> None:
        """A series (``Network.send_series``) that was given ``observers`` when it was started."""
        if ids:
            self._add_run(ids.start, len(ids))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for first, count in self._runs:
            yield from range(first, first + count)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._count
        for first, count in self._runs:
            if 0 <= index < count:
                return first + index
            index -= count
        raise IndexError("frame index out of range")

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, FrameIds)) else NotImplemented

    def runs(self) -> list[tuple[int, int]]:
        """``(first, last)`` id of each run of consecutive ids (the JSON report's form)."""
        return [(first, first + count - 1) for first, count in self._runs]

    def __repr__(self) -> str:
        return f"<FrameIds {self._count} frames in {len(self._runs)} runs>"


MAC_MOVES_KEPT = 1000  # the report lists the first moves; a flapping MAC (a loop) is counted past them


class MacMove(NamedTuple):
    """A learned MAC seen on another port of its switch (``moved`` in the pcapng comment of the frame)."""

    time_ns: int
    switch: str
    vlan: int
    mac: str
    from_port: str
    to_port: str


class MacMoves:
    """Every switch's table tells it of the moves it makes (``ForwardingTable.listeners``): keeps the first
    ``MAC_MOVES_KEPT`` and counts them all."""

    def __init__(self) -> None:
        self.kept: list[MacMove] = []
        self.total = 0

    def listen(self, switch: LearningSwitch) -> None:
        def moved(now: int, vlan: int, mac: bytes, port: str, old: str | None) -> None:
            if old is None:  # learned anew: not a move
                return
            self.total += 1
            if len(self.kept) < MAC_MOVES_KEPT:
                self.kept.append(MacMove(now, switch.name, vlan, mac_str(mac), f"{switch.name}.{old}",
                                         f"{switch.name}.{port}"))
        switch.table.listeners.append(moved)


@dataclass
class CheckResult:
    """One expectation: what was expected, what happened, and whether they agree."""

    description: str
    passed: bool
    actual: str
    where: Where
    at_ns: int


@dataclass(repr=False)  # the default repr would print every check, frame id and session
class RunResult:
    """What a run did: its checks (``passed``: all of them held), named frames, sessions, streams, replays,
    migrations and warnings."""

    network: Network
    checks: list[CheckResult] = field(default_factory=list)
    frames: dict[str, FrameIds] = field(default_factory=dict)  # frame name -> ids
    sessions: dict[str, Any] = field(default_factory=dict)  # ping, arping, udp: name -> sessions.Session
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    replays: list[Any] = field(default_factory=list)  # replay.ReplayResult
    migrations: list[Any] = field(default_factory=list)  # migrate.MigrationResult
    reachability: list[Any] = field(default_factory=list)  # reachability.PingallResult, one per pingall
    warnings: list[str] = field(default_factory=list)  # things that went wrong without failing (a damaged capture)
    mac_moves: MacMoves = field(default_factory=MacMoves)

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return all(check.passed for check in self.checks)

    def __repr__(self) -> str:
        held = sum(check.passed for check in self.checks)
        return (f"<RunResult {'passed' if self.passed else 'FAILED'}: {held}/{len(self.checks)} expectations held, "
                f"{units.count(len(self.frames), 'frame name')}, {units.count(len(self.sessions), 'session')}, "
                f"{units.count(len(self.warnings), 'warning')}>")


class ScenarioContext:
    """The state a run's actions and checks read and extend."""

    def __init__(self, spec: TopologySpec, net: Network) -> None:
        self.spec = spec
        self.net = net
        self.result = RunResult(net)
        for name in sorted(net.switches):
            self.result.mac_moves.listen(net.switches[name])
        self.guest_jobs: list[tuple[Where, Any]] = []  # replays in progress (and where each was written)
        #: The observers of each frame name that an expectation mentions, registered before the run
        #: (``frame_checks.watch_named_frames``); ``frame_outcomes`` holds them for the checks.
        self.watchers: dict[str, tuple[FrameObserver, ...]] = {}
        self.frame_outcomes: dict[str, Any] = {}

    def frames_named(self, name: str) -> FrameIds:
        """The ids under ``name``, created on first use with the observers that watch that name."""
        ids = self.result.frames.get(name)
        if ids is None:
            ids = self.result.frames[name] = FrameIds(self.net, self.watchers.get(name, ()))
        return ids
