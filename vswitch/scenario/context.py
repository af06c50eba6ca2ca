"""What a scenario run shares with its actions and expectations: the spec, the network and the results so far.

``ScenarioRunner`` is a ``ScenarioContext`` that schedules the actions; the action performers and expectation
checks of each feature (``frame_checks``, ``guest_actions``, ``security_checks``) take a context, so they need not import
the runner that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..net.network import Network
from ..topology.spec import ActionSpec, TopologySpec, Where


@dataclass
class CheckResult:
    """One expectation: what was expected, what happened, and whether they agree."""

    description: str
    passed: bool
    actual: str
    where: Where
    at_ns: int


@dataclass
class RunResult:
    network: Network
    checks: list[CheckResult] = field(default_factory=list)
    frames: dict[str, list[int]] = field(default_factory=dict)  # frame name -> ids
    sessions: dict[str, Any] = field(default_factory=dict)  # ping, arping, udp: name -> sessions.Session
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    replays: list[Any] = field(default_factory=list)  # replay.ReplayResult
    migrations: list[Any] = field(default_factory=list)  # migrate.MigrationResult
    warnings: list[str] = field(default_factory=list)  # things that went wrong without failing (a damaged capture)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


class ScenarioContext:
    """The state a run's actions and checks read and extend."""

    def __init__(self, spec: TopologySpec, net: Network) -> None:
        self.spec = spec
        self.net = net
        self.result = RunResult(net)
        self.guest_jobs: list[tuple[ActionSpec, Any]] = []  # replays in progress, finished after the run
