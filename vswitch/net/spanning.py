"""Spanning tree on a built network: a switch's STP (``l2/stp.py``) given its port numbers, addresses and costs,
its timers run on the engine and its BPDUs sent from its ports.

Addresses: the Linux bridge takes its bridge ID's MAC from its ports; vswitch's switch ports have none, so the
switch that is the Nth in the network (1-based, in the order switches were added) gets ``02:b0:NN:NN:00:00`` as its
bridge address and its port number P sends BPDUs from ``02:b0:NN:NN:PP:PP`` (N and P as 16-bit numbers). Ports are
numbered 1, 2... in the switch's port order (``p1``, ``p2``..., ``p10`` after ``p9``), as the kernel numbers them in
the order they were enslaved; only the ports that exist when STP starts take part (cable first).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core import checks
from ..core.errors import TopologyError
from ..core.units import format_duration
from ..l2.port import LinkEnd
from ..l2.stp import SpanningTree
from ..l2.stp_port import (DEFAULT_FORWARD_DELAY_NS, DEFAULT_HELLO_NS, DEFAULT_MAX_AGE_NS, DEFAULT_PORT_PRIORITY,
                      DEFAULT_PRIORITY, FORWARD_DELAY_RANGE, HELLO_RANGE, MAX_AGE_RANGE, PATH_COST_RANGE,
                      PORT_PRIORITY_RANGE, PRIORITY_RANGE, StpPort, port_cost)
from .network import Network


def bridge_mac(index: int, port_no: int = 0) -> bytes:
    """The bridge address of the ``index``-th switch (1-based), or the address its port ``port_no`` sends from."""
    return b"\x02\xb0" + index.to_bytes(2, "big") + port_no.to_bytes(2, "big")


def _time_in(value: object, what: str, bounds: tuple[int, int]) -> int:
    ns = checks.nanoseconds(value, what, error=TopologyError)
    if not bounds[0] <= ns <= bounds[1]:
        raise TopologyError(f"{what}: {format_duration(ns)} is outside the kernel's range "
                            f"{format_duration(bounds[0])} to {format_duration(bounds[1])}")
    return ns


def enable_stp(net: Network, switch: object, *, priority: object = DEFAULT_PRIORITY,
               hello_time_ns: object = DEFAULT_HELLO_NS, max_age_ns: object = DEFAULT_MAX_AGE_NS,
               forward_delay_ns: object = DEFAULT_FORWARD_DELAY_NS,
               ports: Mapping[str, tuple[object, object]] | None = None) -> SpanningTree:
    """Run the kernel's STP on ``switch`` (a name) from now, as ``ip link set BR type bridge stp_state 1`` with
    ``priority``, ``hello_time``, ``max_age`` and ``forward_delay``; ``ports`` maps a port name to its
    ``(priority, path_cost)``, either None for the kernel's default (32; the cost of the link's speed)."""
    target = net.switch(switch)
    if target.stp is not None:
        raise TopologyError(f"switch {target.name} already runs STP")
    name = f"switch {target.name}"
    bridge_priority = checks.integer(priority, f"{name}: priority", minimum=PRIORITY_RANGE[0],
                                     maximum=PRIORITY_RANGE[1], error=TopologyError)
    hello = _time_in(hello_time_ns, f"{name}: hello_time", HELLO_RANGE)
    max_age = _time_in(max_age_ns, f"{name}: max_age", MAX_AGE_RANGE)
    delay = _time_in(forward_delay_ns, f"{name}: forward_delay", FORWARD_DELAY_RANGE)
    settings = dict(ports or {})
    for port_name in settings:
        target.port(port_name)  # a TopologyError listing the ports
    index = list(net.switches).index(target.name) + 1
    members = []
    for port_no, port in enumerate(target._port_list, start=1):
        port_priority, cost = settings.get(port.name, (None, None))
        where = f"{port.full_name}"
        port_priority = DEFAULT_PORT_PRIORITY if port_priority is None else checks.integer(
            port_priority, f"{where}: priority", minimum=PORT_PRIORITY_RANGE[0], maximum=PORT_PRIORITY_RANGE[1],
            error=TopologyError)
        if cost is None:
            peer = port.peer
            cost = port_cost(peer.link.bandwidth_bps if isinstance(peer, LinkEnd) else None)
        cost = checks.integer(cost, f"{where}: path_cost", minimum=PATH_COST_RANGE[0], maximum=PATH_COST_RANGE[1],
                              error=TopologyError)
        mac = bridge_mac(index, port_no)
        if net.macs.is_used(mac):
            raise TopologyError(f"{where}: its STP address {mac.hex(':')} is a host's: give that host another MAC")
        members.append(StpPort(port, port_no, mac, port_priority, cost))
    stp = SpanningTree(target.name, bridge_mac(index), members, priority=bridge_priority, hello_time_ns=hello,
                       max_age_ns=max_age, forward_delay_ns=delay, table=target.table)
    _StpClock(net, stp)
    target.run_stp(stp)
    stp.start(net.now)
    return stp


class _StpClock:
    """Sends what a bridge's STP queued and runs its timers when they fall due, on the network's engine."""

    def __init__(self, net: Network, stp: SpanningTree) -> None:
        self.net = net
        self.stp = stp
        self.flush_queued = False
        self.armed_at: int | None = None  # the earliest timer event waiting in the engine
        stp.wake = self.wake

    def wake(self) -> None:
        if not self.flush_queued:
            self.flush_queued = True
            self.net.engine.at(self.net.engine.now, self.flush)

    def flush(self) -> None:
        self.flush_queued = False
        for port, frame in self.stp.take_outbox():
            self.net.originate(port, frame)
        deadline = self.stp.next_deadline()
        if deadline is not None and (self.armed_at is None or deadline < self.armed_at):
            self.armed_at = deadline
            self.net.engine.at(deadline, self.fire)

    def fire(self) -> None:
        now = self.net.engine.now
        if self.armed_at == now:
            self.armed_at = None
        self.stp.expire(now)


def spanning_trees(net: Network) -> dict[str, Any]:
    """Each switch that runs STP, by name, in the network's order."""
    return {name: sw.stp for name, sw in net.switches.items() if sw.stp is not None}
