"""The vswitch side of ``vswitch kernel-check``: run the file and record the steps the kernel must replay.

``record_run`` runs the file in vswitch and keeps, in engine order, every frame an interface transmitted, every
action and every change of a vNIC's attachment (``Step``); ``kernelcompare.KernelTopology`` replays them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..core.errors import VSwitchError
from ..core.frame import pad
from ..core.reasons import Verdict
from ..l2.nic import DEFAULT_GROUPS, NIC
from ..net.capture import CallbackTap
from ..net.network import Network
from ..scenario.network_actions import send_frame
from ..scenario.runner import ScenarioRunner
from ..topology.guest_reader import MigrateAction, PingallAction, SessionAction, StreamAction
from ..topology.scenario_reader import (AttachAction, DetachAction, InterfaceAction, LinkAction, PortAction,
                                        SendAction)
from ..topology.spec import ActionSpec, TopologySpec
from .scope import NO_COUNTERPART, hops


@dataclass
class Step:
    """One thing vswitch did at ``time_ns``: an action, or (``frame_id`` set) one frame copy a send made."""

    time_ns: int
    order: tuple[int, int]
    action: ActionSpec | None  # None for a frame a NIC transmitted
    frame_id: int | None = None
    frame: bytes = b""
    sender: str = ""  # interface full name
    label: str = ""
    target: dict[str, Any] = field(default_factory=dict)  # names resolved when vswitch performed it


def sent_frames(steps: Iterable[Step]) -> Iterator[tuple[int, Step]]:
    """The frame steps among ``steps``, in order, each with its frame id."""
    for step in steps:
        if step.frame_id is not None:
            yield step.frame_id, step


#: Actions whose only effect the kernel needs is their frames (caught as they leave their interface) and, for a
#: migration, the vNIC's new attachment (caught as a change of state).
TRAFFIC_ACTIONS = (SessionAction, PingallAction, StreamAction, MigrateAction)  # sessions: ping, arping, udp; not replay


class RecordingRunner(ScenarioRunner):
    """A ``ScenarioRunner`` that keeps the ``Step`` list the kernel must replay, in engine order: every frame a
    NIC transmitted (and every ``send`` copy dropped before it left), every action, and every change of a
    vNIC's attachment (``detach``, ``attach``, a migration's delayed attach) as a detach/attach step."""

    def __init__(self, spec: TopologySpec, net: Network) -> None:
        self.steps: list[Step] = []
        self._order = 0
        self._sent: dict[int, Step] = {}  # send-action copies by frame id
        self._tx: list[tuple] = []  # (order, time, port, frame, why its VF dropped it or None) as transmitted
        self._attached = self._attachments(net)
        super().__init__(spec, net)
        for port in list(net.ports.values()):  # a capture tap on each NIC: every frame it sends, from anyone
            if isinstance(port.node, NIC):
                port.add_tap(CallbackTap(partial(self._transmitted, port.full_name)), "out")

    @staticmethod
    def _attachments(net: Network) -> dict[str, tuple]:
        vifs = {v: hv.vif_of(v) for hv in net.hypervisors.values() for v in hv.vms.values()}
        return {v.name: (v.hypervisor, v.mode, vif.name if (vif := vifs.get(v)) is not None else None)
                for v in net.vnics.values()}

    def _sync(self) -> None:
        """Record the vNIC attachments that changed since the last step."""
        now, state = self.net.now, self._attachments(self.net)
        for vm, (hv, mode, vif) in sorted(state.items()):
            old = self._attached.get(vm, (None, None, None))
            if old == (hv, mode, vif):
                continue
            vnic = self.net.vnics[vm]
            if old[0] is not None:
                self._step(Step(now, (self._order, 0), ActionSpec(now, DetachAction(vm=vm)),
                                target={"nic": vnic.full_name}))
            if hv is not None:
                groups = sorted(vnic.groups - set(DEFAULT_GROUPS))
                self._step(Step(now, (self._order, 0), ActionSpec(now, AttachAction(vm=vm, hypervisor=hv)),
                                target={"nic": vnic.full_name, "mode": mode, "vif": vif, "groups": groups}))
        self._attached = state

    def _step(self, step: Step) -> None:
        self.steps.append(step)
        self._order += 1

    def _transmitted(self, port: str, frame: bytes, now: int, outcome: object = None, *_: object) -> None:
        self._sync()  # a frame its VF dropped (spoofchk, rate...) is held back from the kernel too
        self._tx.append((self._order, now, port, frame, outcome if outcome in NO_COUNTERPART else None))
        self._order += 1

    def _perform(self, spec: ActionSpec) -> None:
        self._sync()
        net, action, order = self.net, spec.action, self._order
        target: dict[str, Any] = {}
        frame, sender = b"", ""
        try:
            if isinstance(action, SendAction):
                frame, sender = pad(send_frame(net, action)), net.nic(action.from_).full_name
            elif isinstance(action, LinkAction):
                target["link"] = net.links.index(net.link(action.a, action.b))
            elif isinstance(action, PortAction):
                target["port"] = net.port(action.port).full_name
            elif isinstance(action, InterfaceAction):
                target["nic"] = net.nic(action.name).full_name
        except VSwitchError:
            pass  # the real perform below reports it
        before = {name: len(ids) for name, ids in self.result.frames.items()}
        super()._perform(spec)
        if isinstance(action, SendAction):
            for name, ids in self.result.frames.items():
                for i, frame_id in enumerate(ids[before.get(name, 0):]):
                    self._sent[frame_id] = Step(net.now + i * action.interval_ns, (order, i), spec, frame_id,
                                                frame, sender)
        elif not isinstance(action, (DetachAction, AttachAction)):  # those arrive as attachment changes
            self._step(Step(net.now, (order, 0), spec, target=target))
        self._order += 1
        self._sync()

    def frame_steps(self) -> list[Step]:
        """One step per frame: transmitted ones (paired with the trace's TRANSMITTED events, port by port), then
        send copies that never left (interface down, too large...). Labels come from the run's frame names."""
        queues: dict[str, deque[int]] = {}
        for event in hops(self.net).events:
            if event.outcome is Verdict.TRANSMITTED:
                queues.setdefault(event.port, deque()).append(event.frame_id)
        labels = {}
        for name, ids in self.result.frames.items():
            for k, frame_id in enumerate(ids):
                labels[frame_id] = name if len(ids) == 1 else f"{name}#{k + 1}"
        steps, seen = [], set()
        for order, now, port, frame, held in self._tx:
            if queues.get(port):
                frame_id = queues[port].popleft()
                seen.add(frame_id)
                steps.append(Step(now, (order, 0), None, frame_id, frame, port,
                                  labels.get(frame_id, f"frame {frame_id}"), {"held": held} if held else {}))
        for frame_id, step in self._sent.items():
            if frame_id not in seen:
                step.label = labels.get(frame_id, f"frame {frame_id}")
                steps.append(step)
        return steps


def record_run(spec: TopologySpec, net: Network) -> tuple[list[Step], Any]:
    """Run ``spec`` on ``net``; return its steps sorted in time (ties in engine order) and the RunResult."""
    runner = RecordingRunner(spec, net)
    result = runner.run()
    runner._sync()
    steps = runner.steps + runner.frame_steps()
    return sorted(steps, key=lambda s: (s.time_ns, s.order)), result
