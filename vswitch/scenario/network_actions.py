"""The actions on the network itself: ``send``, ``link``, ``detach``, ``attach``, ``port`` and ``interface``.

Each is a row of ``registry.PERFORMERS`` (and ``send`` of ``RESOLVERS``: its frame is built before the run, so
that a bad interface name fails there, naming its place in the file).
"""

from __future__ import annotations

from ..core.errors import ScenarioError
from ..guests.traffic import action_frame
from ..l2.switch import LearningSwitch
from ..l2.vlan import push_tags
from ..net.network import Network
from ..topology.scenario_reader import (AttachAction, DetachAction, InterfaceAction, LinkAction, PortAction,
                                        SendAction)
from ..topology.spec import Where
from .context import ScenarioContext
from .registry import performs, resolves
from .security_checks import perform_port


def send_frame(net: Network, action: SendAction) -> bytes:
    """The frame ``action`` sends (tags included), built once."""
    to_mac = net.nic(action.to).mac if action.to is not None else None
    frame = action_frame(net.nic(action.from_).mac, to_mac, dst=action.dst, src=action.src,
                         ethertype=action.ethertype, payload=action.payload, size=action.size, udp=action.udp)
    return push_tags(frame, action.vlan)


@resolves(SendAction)
def _resolve_send(context: ScenarioContext, action: SendAction) -> None:
    send_frame(context.net, action)


@performs(SendAction)
def _send(context: ScenarioContext, action: SendAction, where: Where) -> None:
    frame = send_frame(context.net, action)
    ids = context.frames_named(action.name or f"#{len(context.result.frames) + 1}")
    ids.add_series(context.net.send_series(action.from_, frame, action.count, interval_ns=action.interval_ns,
                                           observers=ids.observers))


@performs(LinkAction)
def _link(context: ScenarioContext, action: LinkAction, where: Where) -> None:
    net = context.net
    net.set_link_state(net.link(action.a, action.b), action.up)


@performs(DetachAction)
def _detach(context: ScenarioContext, action: DetachAction, where: Where) -> None:
    context.net.detach_vm(action.vm)


@performs(AttachAction)
def _attach(context: ScenarioContext, action: AttachAction, where: Where) -> None:
    context.net.attach_vm(action.vm, action.hypervisor, mode=action.mode)


@performs(PortAction)
def _port(context: ScenarioContext, action: PortAction, where: Where) -> None:
    port = context.net.port(action.port)
    switch = port.node
    if not isinstance(switch, LearningSwitch):
        raise ScenarioError(f"{port.full_name} is not a switch port: flags apply to switch ports")
    for flag, value in action.flags:
        switch.set_flag(port.name, flag, value)
    perform_port(switch.ports[port.name], action)  # pvid, vlans, max_macs, violation


@performs(InterfaceAction)
def _interface(context: ScenarioContext, action: InterfaceAction, where: Where) -> None:
    net = context.net
    nic = net.nic(action.name)
    if action.up is not None:
        net.set_admin_state(nic.full_name, action.up)  # up again: the stack may announce itself
    for group in action.join:
        nic.join(group)
    for group in action.leave:
        nic.leave(group)
    # after the groups: it refreshes the adapter, whose MAC filter counts them
    net.set_rx_mode(nic.full_name, promiscuous=action.promiscuous, allmulti=action.allmulti)
