"""A built network: nodes, links and the engine, and the one place where decisions are applied.

Nodes (switches, adapters, NICs) only *decide* (``handle_frame`` returns a ``Decision``); the network moves
frames: it checks sizes, counts, taps captures, records the trace, hands copies to links (which schedule their
arrival on the engine) or to internal wires (at once). Every copy ends delivered or dropped with a reason, and
``stats`` reconciles: ``injected + copies == delivered + dropped + in_flight``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Iterator

from .capture import DEFAULT_EPOCH_NS, CaptureSet
from .engine import Engine
from .errors import TopologyError, VSwitchError
from .fdb import DEFAULT_AGEING_NS, TablePolicy
from .frame import ETH_HEADER_LEN, check_frame, pad, payload_len
from .hypervisor import Hypervisor
from .link import DEFAULT_QUEUE_FRAMES, Link, LinkEnd
from .mac import MACAddress, MACAllocator, MACLike
from .nic import NIC, VNIC, Delivery
from .port import Port
from .reasons import DropReason, Verdict
from .switch import LearningSwitch
from .trace import DEFAULT_TRACE_LIMIT, Trace, TraceEvent


class NetworkStats:
    """Whole-run totals. ``copies`` counts the extra copies made by flooding and replication."""

    def __init__(self) -> None:
        self.injected = 0
        self.copies = 0
        self.delivered = 0
        self.dropped: Counter[DropReason] = Counter()

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def in_flight(self) -> int:
        return self.injected + self.copies - self.delivered - self.dropped_total


class Network:
    """Switches, hosts and hypervisors joined by links, run on one virtual clock.

    ``record=False`` turns off the trace and NIC inboxes (counters and captures stay): for long runs.
    """

    def __init__(self, *, record: bool = True, trace_limit: int = DEFAULT_TRACE_LIMIT,
                 capture_dir: str | os.PathLike = ".", epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        self.engine = Engine()
        self.record = record
        self.trace: Trace | None = Trace(trace_limit) if record else None
        self.stats = NetworkStats()
        self.captures = CaptureSet(capture_dir, epoch_ns)
        self.macs = MACAllocator()
        self.switches: dict[str, LearningSwitch] = {}
        self.hosts: dict[str, list[NIC]] = {}
        self.hypervisors: dict[str, Hypervisor] = {}
        self.vnics: dict[str, VNIC] = {}
        self.links: list[Link] = []
        self.ports: dict[str, Port] = {}
        self._next_frame_id = 1

    # -- building -------------------------------------------------------------------------------------
    def _claim_name(self, name: str) -> None:
        if not name or "." in name or any(c.isspace() for c in name):
            raise TopologyError(f"invalid name {name!r}: use letters, digits, '-' or '_' (no dots or spaces)")
        if name in self.switches or name in self.hosts or name in self.hypervisors or name in self.vnics:
            raise TopologyError(f"the name {name!r} is already used")

    def register_port(self, port: Port) -> Port:
        """Make a port added directly to a node reachable by name."""
        self.ports[port.full_name] = port
        return port

    def add_switch(self, name: str, *, ports: int = 0, ageing_ns: int = DEFAULT_AGEING_NS,
                   table_limit: int | None = None, table_policy: TablePolicy | str = "refuse") -> LearningSwitch:
        """A learning switch with ``ports`` ports named p1..pN (more are added by ``connect``)."""
        self._claim_name(name)
        switch = LearningSwitch(name, ageing_ns=ageing_ns, table_limit=table_limit, table_policy=table_policy)
        self.switches[name] = switch
        for _ in range(ports):
            self.register_port(switch.add_port())
        return switch

    def add_host(self, name: str, mac: MACLike | None = None, *, ifname: str = "eth0") -> NIC:
        """A physical host with one NIC (call ``add_nic`` for more)."""
        self._claim_name(name)
        self.hosts[name] = []
        return self.add_nic(name, mac, ifname=ifname)

    def add_nic(self, host: str, mac: MACLike | None = None, *, ifname: str = "eth0") -> NIC:
        nics = self.hosts.get(host)
        if nics is None:
            raise TopologyError(f"no host named {host!r}")
        if any(n.ifname == ifname for n in nics):
            raise TopologyError(f"host {host} already has a NIC {ifname}")
        nic = NIC(host, self._mac(mac, f"{host}.{ifname}"), ifname)
        nics.append(nic)
        self.register_port(nic.port)
        return nic

    def add_hypervisor(self, name: str, mac: MACLike | None = None, *, backend: str = "adapter",
                       mode: str = "bridge") -> Hypervisor:
        """A hypervisor whose physical NIC (port ``<name>.uplink``) has the host's own MAC ``mac``."""
        self._claim_name(name)
        hypervisor = Hypervisor(name, self._mac(mac, name), backend=backend, mode=mode)
        self.hypervisors[name] = hypervisor
        self.register_port(hypervisor.uplink)
        self.register_port(hypervisor.host.port)
        if hypervisor.bridge is not None:
            self.switches[name] = hypervisor.bridge
        return hypervisor

    def add_vm(self, hypervisor: str, name: str, mac: MACLike | None = None, *, prefix: str = "qemu",
               mode: str | None = None, ifname: str = "eth0") -> VNIC:
        """A guest on ``hypervisor`` with one vNIC; without ``mac`` one is allocated from ``prefix``."""
        host = self._hypervisor(hypervisor)
        self._claim_name(name)
        address = self.macs.allocate(prefix) if mac is None else self._mac(mac, f"{name}.{ifname}")
        vnic = VNIC(name, address, ifname)
        host.attach(vnic, mode)
        self.vnics[name] = vnic
        self.register_port(vnic.port)
        self._register_vifs(host)
        return vnic

    def _register_vifs(self, host: Hypervisor) -> None:
        if host.bridge is not None:
            for port in host.bridge.ports.values():
                if not port.internal:
                    self.register_port(port)

    def _mac(self, mac: MACLike | None, owner: str) -> MACAddress:
        if mac is None:
            return self.macs.allocate("02:00:00")
        try:
            return self.macs.reserve(mac)
        except VSwitchError as exc:
            raise TopologyError(f"{owner}: {exc}") from None

    def connect(self, a: str, b: str, *, latency_ns: int = 0, bandwidth_bps: int | None = None,
                queue_frames: int = DEFAULT_QUEUE_FRAMES) -> Link:
        """Cable two ports. A switch name alone means its next free port; a host or hypervisor its NIC."""
        port_a, port_b = self._cable_end(a), self._cable_end(b)
        link = Link(port_a, port_b, latency_ns=latency_ns, bandwidth_bps=bandwidth_bps, queue_frames=queue_frames)
        self.links.append(link)
        return link

    def _cable_end(self, name: str) -> Port:
        switch = self.switches.get(name)
        if switch is not None and name not in self.hypervisors:
            for port in switch.ports.values():
                if port.peer is None and not port.internal:
                    return port
            return self.register_port(switch.add_port())
        return self.port(name)

    # -- lookups --------------------------------------------------------------------------------------
    def port(self, name: str) -> Port:
        """Resolve ``h1``, ``h1.eth0``, ``vm1``, ``hv1`` (its uplink), ``hv1.host``, ``sw1.p3``."""
        port = self.ports.get(name)
        if port is not None:
            return port
        if name in self.hypervisors:
            return self.hypervisors[name].uplink
        if name in self.vnics:
            return self.vnics[name].port
        nics = self.hosts.get(name)
        if nics is not None:
            if len(nics) == 1:
                return nics[0].port
            raise TopologyError(f"host {name} has several NICs: name one ({', '.join(n.full_name for n in nics)})")
        raise TopologyError(f"no interface or port named {name!r}")

    def nic(self, name: str) -> NIC:
        """The NIC or vNIC behind an interface name."""
        node = self.port(name).node
        if not isinstance(node, NIC):
            raise TopologyError(f"{name} is a {node.kind} port, not a NIC or vNIC")
        return node

    def _hypervisor(self, name: str) -> Hypervisor:
        try:
            return self.hypervisors[name]
        except KeyError:
            raise TopologyError(f"no hypervisor named {name!r}") from None

    def switch(self, name: str) -> LearningSwitch:
        try:
            return self.switches[name]
        except KeyError:
            raise TopologyError(f"no switch named {name!r}") from None

    def link(self, a: str, b: str | None = None) -> Link:
        """The link attached to port ``a`` (and ``b``, if given)."""
        port_a = self.port(a)
        for link in self.links:
            if port_a in link.ports and (b is None or self.port(b) in link.ports):
                return link
        raise TopologyError(f"no link at {a}" + (f" to {b}" if b else ""))

    def interfaces(self) -> Iterator[Port]:
        """Every user-visible port, sorted by name."""
        return (self.ports[name] for name in sorted(self.ports))

    def deliveries(self, name: str) -> list[Delivery]:
        return list(self.nic(name).inbox)

    @property
    def now(self) -> int:
        return self.engine.now

    # -- changes at run time ----------------------------------------------------------------------------
    def set_link_state(self, link: Link, up: bool) -> None:
        """Bring a cable down or up; a switch forgets what it learned on a port whose link went down."""
        link.up = up
        for port in link.ports:
            port.carrier = up
            if not up and isinstance(port.node, LearningSwitch):
                port.node.table.flush_port(port.name)

    def set_admin_state(self, name: str, up: bool) -> None:
        """``ip link set NAME up|down``."""
        self.port(name).up = up

    def detach_vm(self, name: str) -> VNIC:
        vnic = self.vnics.get(name)
        if vnic is None or vnic.hypervisor is None:
            raise TopologyError(f"no attached VM named {name!r}")
        host = self.hypervisors[vnic.hypervisor]
        vif = host.vif_of(vnic)
        host.detach(vnic)
        if vif is not None:
            self.ports.pop(vif.full_name, None)
        return vnic

    def attach_vm(self, name: str, hypervisor: str, *, mode: str | None = None) -> VNIC:
        vnic = self.vnics.get(name)
        if vnic is None:
            raise TopologyError(f"no VM named {name!r}")
        if vnic.hypervisor is not None:
            raise TopologyError(f"VM {name} is still attached to {vnic.hypervisor}: detach it first")
        host = self._hypervisor(hypervisor)
        host.attach(vnic, mode)
        self._register_vifs(host)
        return vnic

    # -- traffic --------------------------------------------------------------------------------------
    def send(self, name: str, frame: bytes, *, at: int | None = None) -> int:
        """Have the NIC or vNIC ``name`` transmit ``frame`` at ``at`` (default: now); return the frame id."""
        port = self.nic(name).port
        return self._schedule(self._transmit_from_nic, port, check_frame(frame), at)

    def inject(self, name: str, frame: bytes, *, at: int | None = None) -> int:
        """Make ``frame`` arrive at port ``name`` from its cable, untouched (no padding): for replays."""
        return self._schedule(self._arrive, self.port(name), check_frame(frame), at)

    def _schedule(self, action, port: Port, frame: bytes, at: int | None) -> int:
        frame_id = self._next_frame_id
        self._next_frame_id += 1
        self.stats.injected += 1
        self.engine.at(self.engine.now if at is None else at, action, port, frame_id, frame)
        return frame_id

    def run(self, until: int | None = None) -> int:
        """Run the engine up to virtual time ``until`` (everything pending, if None)."""
        return self.engine.run(until)

    def run_for(self, duration_ns: int) -> int:
        return self.engine.run(self.engine.now + duration_ns)

    def close(self) -> None:
        """Flush and close every capture file."""
        self.captures.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- captures ---------------------------------------------------------------------------------------
    def capture(self, name: str, file_name: str, direction: str = "both") -> str:
        """Write what crosses ``name`` to the classic pcap ``file_name`` (and to the pcapng if enabled)."""
        port = self.port(name)
        path = self.captures.add_pcap(port, file_name, direction)
        if self.captures.has_pcapng:
            self.captures.add_pcapng_point(port, direction)
        return str(path)

    def capture_pcapng(self, file_name: str, points: list[tuple[str, str]] = ()) -> str:
        """Open the shared pcapng; ``points`` are (interface, direction) added to it alone."""
        path = self.captures.enable_pcapng(file_name)
        for name, direction in points:
            self.captures.add_pcapng_point(self.port(name), direction)
        return str(path)

    # -- the fast path ------------------------------------------------------------------------------------
    def _transmit_from_nic(self, port: Port, frame_id: int, frame: bytes) -> None:
        """A NIC sends: size checks, then padding to 60 bytes as real NICs do."""
        if not port.up:
            return self._drop(port, frame_id, DropReason.INTERFACE_DOWN, transmit=True)
        if len(frame) < ETH_HEADER_LEN:
            return self._drop(port, frame_id, DropReason.RUNT, transmit=True)
        if len(frame) - ETH_HEADER_LEN > port.mtu and payload_len(frame) > port.mtu:
            return self._drop(port, frame_id, DropReason.OVERSIZE, transmit=True)
        if self.trace is not None:
            peer = port.peer
            far = peer.far if type(peer) is LinkEnd else peer
            self.trace.add(TraceEvent(self.engine.now, frame_id, port.full_name, Verdict.TRANSMITTED,
                                      (far.node.name if far.internal else far.full_name,) if far else ()))
        self._transmit(port, frame_id, pad(frame), Verdict.TRANSMITTED)

    def _transmit(self, port: Port, frame_id: int, frame: bytes, outcome: Verdict) -> None:
        """``frame`` leaves through ``port`` towards its peer."""
        counters = port.counters
        counters.tx_packets += 1
        counters.tx_bytes += len(frame)
        now = self.engine.now
        for tap in port.tx_taps:
            tap.record(frame, now, outcome, ())
        peer = port.peer
        if peer is None:
            return self._drop(port, frame_id, DropReason.NOT_CABLED, transmit=True)
        if type(peer) is LinkEnd:
            arrival = peer.offer(frame, now)
            if type(arrival) is int:
                self.engine.at(arrival, self._arrive, peer.far, frame_id, frame)
            else:
                self._drop(port, frame_id, arrival, transmit=True)
        else:
            self._arrive(peer, frame_id, frame)

    def _arrive(self, port: Port, frame_id: int, frame: bytes) -> None:
        """``frame`` arrives at ``port``: the node decides, the network applies."""
        if not port.carrier:
            return self._drop(port, frame_id, DropReason.LINK_DOWN)
        if not port.up:
            return self._drop(port, frame_id, DropReason.INTERFACE_DOWN)
        size = len(frame)
        if size < ETH_HEADER_LEN:
            return self._drop(port, frame_id, DropReason.RUNT)
        if size - ETH_HEADER_LEN > port.mtu and payload_len(frame) > port.mtu:
            return self._drop(port, frame_id, DropReason.OVERSIZE)
        counters = port.counters
        counters.rx_packets += 1
        counters.rx_bytes += size
        now = self.engine.now
        outputs, outcome, learned = port.node.handle_frame(port, frame, now)
        for tap in port.rx_taps:
            tap.record(frame, now, outcome, outputs)
        if self.trace is not None:
            self.trace.add(TraceEvent(now, frame_id, port.full_name, outcome,
                                      tuple(p.label for p in outputs),
                                      learned.value if learned is not None else ""))
        if outputs:
            self.stats.copies += len(outputs) - 1
            for out in outputs:
                self._transmit(out, frame_id, frame, outcome)
        elif outcome is Verdict.DELIVERED:
            self.stats.delivered += 1
            if self.record:
                port.node.inbox.append(Delivery(now, frame_id, frame))
        else:
            counters.rx_dropped[outcome] += 1
            self.stats.dropped[outcome] += 1

    def _drop(self, port: Port, frame_id: int, reason: DropReason, *, transmit: bool = False) -> None:
        (port.counters.tx_dropped if transmit else port.counters.rx_dropped)[reason] += 1
        self.stats.dropped[reason] += 1
        if self.trace is not None:
            self.trace.add(TraceEvent(self.engine.now, frame_id, port.full_name, reason))
