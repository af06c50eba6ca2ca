"""Replay a topology's scenario on a built network and check its expectations.

Actions are scheduled on the engine at their ``at`` time (ties keep file order); expectations with a time run
there too, the others when the run ends. Results are values (``CheckResult``) that reports print.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import ScenarioError, VSwitchError
from ..guests.traffic import action_frame
from ..l2.switch import LearningSwitch
from ..l2.vlan import push_tags
from ..net.network import Network
from ..topology.spec import ActionSpec, TopologySpec, Where
from . import frame_checks, guest_actions, security_checks
from .context import CheckResult, RunResult, ScenarioContext


class ScenarioRunner(ScenarioContext):
    """Schedules the actions of ``spec`` on ``net``; ``run()`` plays them and evaluates the checks."""

    def __init__(self, spec: TopologySpec, net: Network) -> None:
        super().__init__(spec, net)
        frame_checks.watch_named_frames(self, spec)
        for action in spec.scenario:
            self._check_action(action)
            net.engine.at(action.at_ns, self._perform, action)
        for expectation in spec.expectations:
            if expectation.at_ns is not None:
                net.engine.at(expectation.at_ns, self._evaluate, expectation.kind, expectation.args,
                              expectation.where)

    def run(self, until_ns: int | None = None, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Run to ``until_ns`` (or the spec's ``until``, or until nothing is pending), then check."""
        until = until_ns if until_ns is not None else self.spec.until_ns
        engine = self.net.engine
        last_action = max((a.at_ns for a in self.spec.scenario), default=0)
        end_hint = until if until is not None else last_action
        while engine.pending() and (until is None or engine.next_time() <= until):
            slice_end = engine.next_time() + max(1, end_hint // 100)
            engine.run(slice_end if until is None else min(slice_end, until), advance=False)
            if progress is not None:
                progress(engine.now, end_hint)
        if until is not None:
            engine.run(until)
        guest_actions.finish(self)
        for expectation in self.spec.expectations:
            if expectation.at_ns is None:
                self._evaluate(expectation.kind, expectation.args, expectation.where)
        return self.result

    # -- actions ------------------------------------------------------------------------------------
    def _check_action(self, action: ActionSpec) -> None:
        """Resolve names now, so a bad reference fails before the run, naming its place in the file."""
        try:
            if action.kind == "send":
                self._frame_for(action.args)
            elif action.kind in guest_actions.PERFORMERS:
                guest_actions.check(self, action)
        except VSwitchError as exc:
            raise ScenarioError(f"{action.where}: {exc}") from None

    def _perform(self, action: ActionSpec) -> None:
        net, args = self.net, action.args
        try:
            if action.kind == "send":
                self._send(args)
            elif action.kind == "link":
                net.set_link_state(net.link(args["a"], args["b"]), args["up"])
            elif action.kind == "detach":
                net.detach_vm(args["vm"])
            elif action.kind == "attach":
                net.attach_vm(args["vm"], args["hypervisor"], mode=args["mode"])
            elif action.kind == "port":
                port = net.port(args["port"])
                if not isinstance(port.node, LearningSwitch):
                    raise ScenarioError(f"{port.full_name} is not a switch port: flags apply to switch ports")
                for flag, value in args["flags"].items():
                    port.node.set_flag(port.name, flag, value)
                security_checks.perform_port(port, args)  # pvid, vlans, max_macs, violation
            elif action.kind == "interface":
                self._interface(args)
            elif action.kind == "expect":
                self._evaluate(args["kind"], args["args"], action.where)
            elif action.kind == "vf":
                security_checks.perform_vf(self, args)
            elif action.kind in guest_actions.PERFORMERS:
                guest_actions.PERFORMERS[action.kind](self, action)
            else:
                raise ScenarioError(f"unknown action {action.kind!r}")
        except VSwitchError as exc:
            raise ScenarioError(f"{action.where}: at {net.now} ns: {exc}") from None

    def _frame_for(self, args: dict[str, Any]) -> bytes:
        to_mac = self.net.nic(args["to"]).mac if args["to"] is not None else None
        return push_tags(action_frame(args, self.net.nic(args["from"]).mac, to_mac), args.get("vlan", ()))

    def _send(self, args: dict[str, Any]) -> None:
        frame = self._frame_for(args)
        ids = self.frames_named(args["name"] or f"#{len(self.result.frames) + 1}")
        ids.add_series(self.net.send_series(args["from"], frame, args["count"], interval_ns=args["interval_ns"],
                                            observers=ids.observers))

    def _interface(self, args: dict[str, Any]) -> None:
        nic = self.net.nic(args["name"])
        if args["up"] is not None:
            self.net.set_admin_state(nic.full_name, args["up"])  # up again: the stack may announce itself
        self.net.set_rx_mode(nic.full_name, promiscuous=args["promiscuous"], allmulti=args["allmulti"])
        for group in args["join"]:
            nic.join(group)
        for group in args["leave"]:
            nic.leave(group)

    # -- expectations ---------------------------------------------------------------------------------
    def _evaluate(self, kind: str, args: dict[str, Any], where: Where) -> None:
        try:
            description, passed, actual = CHECKS[kind](self, args)
        except VSwitchError as exc:
            description, passed, actual = f"{kind}", False, f"cannot check: {exc}"
        self.result.checks.append(CheckResult(description, passed, actual, where, self.net.now))


CHECKS: dict[str, Callable[[ScenarioContext, dict[str, Any]], tuple[str, bool, str]]] = {
    **frame_checks.CHECKS, **guest_actions.CHECKS, **security_checks.CHECKS,
}
