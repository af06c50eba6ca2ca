"""Connects a sans-IO ``GuestStack`` to a network: the thin layer that applies what the stack returns.

``attach_stack(net, "vm1", stack)`` sets ``nic.stack`` to a ``StackDriver``. The datapath calls its ``receive``
for every frame the NIC accepts and the network its ``link_up``; both hand back ``(delay_ns, frame)`` pairs that
the network transmits from the NIC (so padding, counters and captures apply). The driver also keeps one engine
event armed at the stack's ``next_deadline()`` (ARP retransmissions), and runs applications: a series of probes
(``repeat``) sent at given times.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

from ..core import checks
from ..core.errors import TopologyError
from ..l2.adapter import AdapterHostNIC, PhysicalAdapter
from ..l2.nic import NIC
from ..net.network import Network
from .stack import GuestStack, Output


class StackDriver:
    """What ``nic.stack`` holds: the stack (``guest``) plus its timers on the network's engine."""

    def __init__(self, net: "Network", nic: NIC, guest: GuestStack) -> None:
        self.net = net
        self.nic = nic
        self.guest = guest
        self._armed: int | None = None
        self._namers: dict[int, tuple[object, Callable[[int], None]]] = {}  # id(session) -> (session, namer)

    # -- called by the datapath and the network --------------------------------------------------------
    def receive(self, frame: bytes, now: int) -> Output:
        out = self.guest.receive(frame, now)
        self._arm()
        if self.guest.owned:  # a named session's probes (released by an ARP reply): sent here, to name them
            self.transmit(out)
            return []
        return out

    def name_frames(self, session: object, namer: Callable[[int], None]) -> None:
        """Tell ``namer`` the frame id of each probe ``session`` sends (its echo requests, datagrams, ARP
        requests), as it is given: ``vswitch explain NAME#N``."""
        if self.guest.owned is None:
            self.guest.owned = {}
        self._namers[id(session)] = (session, namer)

    def link_up(self, now: int) -> Output:
        out = self.guest.link_up(now)
        self._arm()
        return out

    # -- applications -------------------------------------------------------------------------------------
    def transmit(self, frames: Output) -> None:
        """Send what a stack call returned, now (plus each frame's delay)."""
        ids = self.net.send_from_stack(self.nic.port, frames)
        self._arm()
        owned = self.guest.owned
        if owned:
            for (_delay, frame), frame_id in zip(frames, ids):
                mine = owned.get(id(frame))
                if mine is not None and mine[0] is frame:
                    named = self._namers.get(id(mine[1]))
                    if named is not None:
                        named[1](frame_id)
            owned.clear()

    def repeat(self, count: int, start_ns: int, period_ns: Fraction | int,
               step: Callable[[int, int], Output]) -> None:
        """Call ``step(i, now)`` at ``start_ns + floor(i * period_ns)`` for i in 0..count-1 and transmit what it
        returns (``period_ns``: a whole number of ns, or a ``Fraction`` for a rate).

        Only the next call waits in the engine, so a long series costs no memory up front; its time is computed on
        integers (a ``Fraction`` product per probe cost more than the probe).
        """
        period = Fraction(period_ns)
        numerator, denominator = int(period.numerator), int(period.denominator)
        engine = self.net.engine

        def run(i: int) -> None:
            self.transmit(step(i, engine.now))
            if i + 1 < count:
                engine.at(start_ns + (i + 1) * numerator // denominator, run, i + 1)

        if count > 0:
            engine.at(start_ns, run, 0)

    # -- timers ---------------------------------------------------------------------------------------
    def _arm(self) -> None:
        deadline = self.guest.next_deadline()
        if deadline is None or (self._armed is not None and self._armed <= deadline):
            return
        self._armed = deadline
        self.net.engine.at(max(deadline, self.net.now), self._fire, deadline)

    def _fire(self, deadline: int) -> None:
        if self._armed == deadline:
            self._armed = None
        self.net.send_from_stack(self.nic.port, self.guest.expire(self.net.now))
        self._arm()

    def __repr__(self) -> str:
        return f"<StackDriver {self.guest!r}>"


def attach_stack(net: object, name: object, guest: object) -> StackDriver:
    """Give the NIC or vNIC ``name`` of ``net`` (a ``Network``) the stack ``guest`` (a ``GuestStack``); its MAC must
    be the NIC's. The arguments are ``object``: a wrong one is a ``TopologyError`` in both builds."""
    net = checks.instance(net, Network, "attach_stack: net")
    guest = checks.instance(guest, GuestStack, "attach_stack: guest")
    nic = net.nic(name)
    if guest.ip is None and guest.ipv6 is None:
        raise TopologyError(f"{nic.full_name}: the stack has no address: give it an IPv4 interface, or set its ipv6 "
                            "(an Ipv6Stack) before attaching it, for an IPv6-only interface")
    if guest.mac != nic.mac:
        raise TopologyError(f"{nic.full_name}: the stack's MAC {guest.mac} is not the NIC's {nic.mac}")
    if nic.stack is not None:
        raise TopologyError(f"{nic.full_name} already has a guest stack")
    driver = StackDriver(net, nic, guest)
    nic.stack = driver
    if guest.ipv6 is not None:  # IPv6 comes up with the interface: its groups joined, DAD at once
        for group in guest.ipv6.multicast_macs():
            nic.join(group)
        adapter = _adapter_of(net, nic)
        if adapter is not None:  # its MAC filter holds the groups too (and may overflow); only this vNIC changed
            adapter.refresh(nic if adapter.vnics.get(nic.mac.packed) is nic else None)
        net.engine.at(net.now, lambda: driver.transmit(guest.ipv6.link_up(net.now)))
    return driver


def _adapter_of(net: "Network", nic: NIC) -> PhysicalAdapter | None:
    """The adapter whose vNIC or own interface ``nic`` is (None for a host's NIC or a host bridge's VM)."""
    if isinstance(nic, AdapterHostNIC):
        return nic.adapter
    hypervisor = net.hypervisors.get(getattr(nic, "hypervisor", None) or "")
    return hypervisor.adapter if hypervisor is not None else None


def stack_of(net: "Network", name: str) -> StackDriver:
    """The driver of the stack on ``name``; a clear error if it has none."""
    nic = net.nic(name)
    driver = nic.stack
    if driver is None:
        raise TopologyError(f"{nic.full_name} has no guest stack: give it an address (ip: 192.0.2.10/24, or "
                            "ip6: [2001:db8::10/64] for IPv6)")
    if not isinstance(driver, StackDriver):  # e.g. a real station in `vswitch live` (live/stations.py)
        raise TopologyError(f"{nic.full_name} is a real station ({driver!r}): its traffic comes from its own stack, "
                            "not from the scenario")
    return driver
