"""Replay a topology's scenario on a built network and check its expectations.

Actions are scheduled on the engine at their ``at`` time (ties keep file order); expectations with a time run
there too, the others when the run ends. What each does is its row in ``registry.py``. Results are values
(``CheckResult``) that reports print.
"""

from __future__ import annotations

from typing import Callable

from ..core import checks
from ..core.errors import ScenarioError, VSwitchError
from ..core.units import format_duration
from ..net.network import Network
from ..topology.spec import ActionSpec, TopologySpec
from . import (frame_checks, guest_actions, impair_checks, io_report, network_actions, reachability,  # noqa: F401
               registry, security_checks, stp_checks)
from .context import CheckResult, RunResult, ScenarioContext


class ScenarioRunner(ScenarioContext):
    """Schedules the actions of ``spec`` on ``net``; ``run()`` plays them and evaluates the checks."""

    def __init__(self, spec: TopologySpec, net: Network) -> None:
        checks.instance(spec, TopologySpec, "ScenarioRunner: spec (from load_topology)", error=ScenarioError)
        checks.instance(net, Network, "ScenarioRunner: net (from build_network)", error=ScenarioError)
        super().__init__(spec, net)
        self.result.warnings.extend(spec.warnings)  # what the file does that is likely not meant
        frame_checks.watch_named_frames(self, spec)
        for action in spec.scenario:
            self._check_action(action)
            net.engine.at(action.at_ns, self._perform, action)
        for expectation in spec.expectations:
            if expectation.at_ns is not None:
                net.engine.at(expectation.at_ns, registry.evaluate, self, expectation.check, expectation.where)

    def run(self, until_ns: int | None = None, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Run to ``until_ns`` (or the spec's ``until``, or until nothing is pending), then check."""
        checks.optional_nanoseconds(until_ns, "run: until_ns")
        if progress is not None and not callable(progress):
            raise ScenarioError(f"run: progress must be a function (now, end), not {checks.describe(progress)}")
        until = until_ns if until_ns is not None else self.spec.until_ns
        engine = self.net.engine
        last_action = max((a.at_ns for a in self.spec.scenario), default=0)
        end_hint = until if until is not None else last_action
        while (next_at := engine.next_time()) is not None and (until is None or next_at <= until):
            slice_end = next_at + max(1, end_hint // 100)
            engine.run(slice_end if until is None else min(slice_end, until), advance=False)
            if progress is not None:
                progress(engine.now, end_hint)
        if until is not None:
            engine.run(until)
            self._not_reached(until)
        return self.finish()

    def finish(self) -> RunResult:
        """End the run where the clock is: close the guests' sessions, check the expectations without a time.
        ``run`` calls it; a caller that drives the engine itself (``vswitch live``) calls it once at the end."""
        guest_actions.finish(self)
        for expectation in self.spec.expectations:
            if expectation.at_ns is None:
                registry.evaluate(self, expectation.check, expectation.where)
        return self.result

    def _not_reached(self, until: int) -> None:
        """Fail each action and timed expectation after ``until``: cut off by it, it was not silently met."""
        stop = f"not reached: the run stopped at {format_duration(until)}"
        late = [(step.where, step.at_ns, f"the {step.kind} action") for step in self.spec.scenario
                if step.at_ns > until]
        late += [(e.where, e.at_ns, f"the {e.kind} check") for e in self.spec.expectations
                 if e.at_ns is not None and e.at_ns > until]
        for where, at_ns, what in sorted(late, key=lambda item: (item[1], item[0].line or 0)):
            self.result.checks.append(CheckResult(f"{what} at {format_duration(at_ns)} to run", False, stop, where,
                                                  until))

    # -- actions ------------------------------------------------------------------------------------
    def _check_action(self, action: ActionSpec) -> None:
        """Resolve names now, so a bad reference fails before the run, naming its place in the file."""
        try:
            registry.resolve(self, action)
        except VSwitchError as exc:
            raise ScenarioError(f"{action.where}: {exc}") from None

    def _perform(self, action: ActionSpec) -> None:
        try:
            registry.perform(self, action)
        except VSwitchError as exc:
            raise ScenarioError(f"{action.where}: at {format_duration(self.net.now)}: {exc}") from None
