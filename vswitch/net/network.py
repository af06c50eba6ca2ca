"""A built network: switches, hosts, hypervisors and links, by name, on top of the datapath.

``Network`` builds nodes and cables, resolves names (``h1``, ``vm1``, ``sw1.p3``), changes state at run time and
opens captures; moving frames is ``Datapath``'s job (``datapath.py``).
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Iterable, Iterator

from ..core.errors import TopologyError, VSwitchError
from ..core.frame import AnyFrame, check_frame
from ..core.mac import MACAddress, MACAllocator, MACLike
from ..core.trace import DEFAULT_TRACE_LIMIT, FrameObserver
from ..l2.fdb import DEFAULT_AGEING_NS, TablePolicy
from ..l2.hypervisor import Hypervisor
from ..l2.nic import NIC, VNIC, Delivery
from ..l2.port import DEFAULT_QUEUE_FRAMES, Link, Port
from ..l2.sriov import VFControls
from ..l2.storm import DEFAULT_STORM_LIMIT
from ..l2.switch import LearningSwitch
from .capture import DEFAULT_EPOCH_NS, CaptureSet
from .datapath import Datapath, NetworkStats, StreamItem

__all__ = ["Network", "NetworkStats"]


class Network(Datapath):
    """Switches, hosts and hypervisors joined by links, run on one virtual clock.

    By default the network records, for tests and small runs: ``trace`` holds every hop (up to ``trace_limit``
    events; past that it says it is incomplete) and each NIC's ``inbox`` every frame it accepted (the last
    ``inbox_limit`` frames, if given). ``record=False`` keeps neither (counters, captures and watched frames
    stay), so memory does not grow with the frames: for long runs.
    """

    def __init__(self, *, record: bool = True, trace_limit: int = DEFAULT_TRACE_LIMIT,
                 inbox_limit: int | None = None, capture_dir: str | os.PathLike = ".",
                 epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        if inbox_limit is not None and (isinstance(inbox_limit, bool) or not isinstance(inbox_limit, int)
                                        or inbox_limit < 0):
            raise TopologyError(f"inbox_limit must be an integer >= 0 or None, got {inbox_limit!r}")
        super().__init__(record=record, trace_limit=trace_limit, inbox_limit=inbox_limit)
        self.captures = CaptureSet(capture_dir, epoch_ns)
        self.macs = MACAllocator()
        self.switches: dict[str, LearningSwitch] = {}
        self.hosts: dict[str, list[NIC]] = {}
        self.hypervisors: dict[str, Hypervisor] = {}
        self.vnics: dict[str, VNIC] = {}
        self.links: list[Link] = []
        self.ports: dict[str, Port] = {}
        #: Ports that left the network mid-run (a detached or migrated VM's ``vif``): no longer found by name, but
        #: the report still shows what they counted.
        self.removed_ports: list[Port] = []

    # -- building -------------------------------------------------------------------------------------
    def _claim_name(self, name: str) -> None:
        if not name or "." in name or any(c.isspace() for c in name):
            raise TopologyError(f"invalid name {name!r}: use letters, digits, '-' or '_' (no dots or spaces)")
        if name in self.switches or name in self.hosts or name in self.hypervisors or name in self.vnics:
            raise TopologyError(f"the name {name!r} is already used")

    def register_port(self, port: Port) -> Port:
        """Make a port added directly to a node reachable by name (a port it replaces keeps its row, as removed)."""
        old = self.ports.get(port.full_name)
        if old is not None and old is not port:
            self.removed_ports.append(old)
        self.ports[port.full_name] = port
        if self.inbox_limit is not None and isinstance(port.node, NIC):
            port.node.inbox = deque(port.node.inbox, maxlen=self.inbox_limit)
        return port

    def add_switch(self, name: str, *, ports: int = 0, ageing_ns: int = DEFAULT_AGEING_NS,
                   table_limit: int | None = None, table_policy: TablePolicy | str = "refuse",
                   vlan_filtering: bool = False, vlan_protocol: str = "802.1Q",
                   storm_limit: int = DEFAULT_STORM_LIMIT) -> LearningSwitch:
        """A learning switch with ``ports`` ports named p1..pN (more are added by ``connect``)."""
        self._claim_name(name)
        switch = LearningSwitch(name, ageing_ns=ageing_ns, table_limit=table_limit, table_policy=table_policy,
                                vlan_filtering=vlan_filtering, vlan_protocol=vlan_protocol, storm_limit=storm_limit)
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
                       mode: str = "bridge", mac_filter_size: int | None = None,
                       vlan_filtering: bool = False) -> Hypervisor:
        """A hypervisor whose physical NIC (port ``<name>.uplink``) has the host's own MAC ``mac``."""
        self._claim_name(name)
        hypervisor = Hypervisor(name, self._mac(mac, name), backend=backend, mode=mode,
                                mac_filter_size=mac_filter_size, vlan_filtering=vlan_filtering)
        self.hypervisors[name] = hypervisor
        self.register_port(hypervisor.uplink)
        self.register_port(hypervisor.host.port)
        if hypervisor.bridge is not None:
            self.switches[name] = hypervisor.bridge
        return hypervisor

    def add_vm(self, hypervisor: str, name: str, mac: MACLike | None = None, *, prefix: str = "qemu",
               mode: str | None = None, ifname: str = "eth0", vf: VFControls | None = None) -> VNIC:
        """A guest on ``hypervisor`` with one vNIC; without ``mac`` one is allocated from ``prefix``; ``vf``: its
        SR-IOV controls (port VLAN, spoofchk, trust, state, max_tx_rate)."""
        host = self._hypervisor(hypervisor)
        self._claim_name(name)
        address = self.macs.allocate(prefix) if mac is None else self._mac(mac, f"{name}.{ifname}")
        vnic = VNIC(name, address, ifname, vf=vf)
        host.attach(vnic, mode)
        self.vnics[name] = vnic
        self.register_port(vnic.port)
        self._register_vif(host, vnic)
        return vnic

    def _register_vif(self, host: Hypervisor, vnic: VNIC) -> None:
        """Make the bridge port backing ``vnic`` reachable by name (host-bridge backend only)."""
        vif = host.vif_of(vnic)
        if vif is not None:
            self.register_port(vif)

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
        if isinstance(port_a.node, LearningSwitch) and isinstance(port_b.node, LearningSwitch):
            port_a.node.arm_storm_guard()  # switch to switch: a loop may go through them (storm.py)
            port_b.node.arm_storm_guard()
        self._adapter_link_changed(port_a)  # an adapter cabled now: its vNICs' links come up
        self._adapter_link_changed(port_b)
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
        """Every user-visible port, sorted by name (removed ones are in ``removed_ports``)."""
        return (self.ports[name] for name in sorted(self.ports))

    def deliveries(self, name: str) -> list[Delivery]:
        return list(self.nic(name).inbox)

    # -- changes at run time ----------------------------------------------------------------------------
    def set_link_state(self, link: Link, up: bool) -> None:
        """Bring a cable down or up; a switch forgets what it learned on a port whose link went down."""
        link.up = up
        for port in link.ports:
            port.carrier = up
            if isinstance(port.node, LearningSwitch):
                if up:
                    port.node.reopen(port.name)  # an err-disabled port comes back with its cable
                else:
                    port.node.table.flush_port(port.name)
            self._adapter_link_changed(port)
        if up:
            for port in link.ports:
                self.notify_link_up(port)

    def _adapter_link_changed(self, port: Port) -> None:
        """An adapter's VFs in state auto follow its uplink."""
        hypervisor = self.hypervisors.get(port.node.name)
        if hypervisor is not None and hypervisor.adapter is not None and port is hypervisor.uplink:
            hypervisor.adapter.refresh()

    def set_admin_state(self, name: str, up: bool) -> None:
        """``ip link set NAME up|down``."""
        port = self.port(name)
        was_up, port.up = port.up, up
        self._adapter_link_changed(port)
        if up and not was_up:
            self.notify_link_up(port)

    def set_rx_mode(self, name: str, *, promiscuous: bool | None = None, allmulti: bool | None = None
                    ) -> list[str]:
        """Turn promiscuous / allmulti on or off on a NIC or vNIC; return the requests an untrusted VF refused."""
        nic = self.nic(name)
        vf = getattr(nic, "vf", None)
        refused = []
        for mode, value in (("promiscuous", promiscuous), ("allmulti", allmulti)):
            if value is None:
                continue
            if vf is not None and not vf.grant(mode, value):
                refused.append(mode)
                continue
            setattr(nic, mode, value)
        self._refresh_adapter_of(nic)
        return refused

    def set_vf(self, name: str, **changes) -> VNIC:
        """``ip link set DEV vf N ...`` on the VM ``name``: vlan (with qos, vlan_protocol), spoofchk, trust, state,
        max_tx_rate_mbps. Unknown keys are a TypeError."""
        vnic = self.vnics.get(name)
        if vnic is None:
            raise TopologyError(f"no VM named {name!r}")
        vf = vnic.vf
        hypervisor = self.hypervisors.get(vnic.hypervisor or "")
        if hypervisor is not None and hypervisor.bridge is not None and set(changes) - {"vlan"}:
            raise TopologyError(f"{vnic.full_name} is on host bridge {hypervisor.name}: only its vlan can change "
                                f"(SR-IOV controls need an adapter), not {', '.join(sorted(set(changes) - {'vlan'}))}")
        if "vlan" in changes or "qos" in changes or "vlan_protocol" in changes:
            vlan = changes.pop("vlan", vf.vlan)  # vlan 0 (None) clears qos too, as ip link does
            vf.set_vlan(vlan, changes.pop("qos", vf.qos if vlan is not None else 0),
                        changes.pop("vlan_protocol", vf.protocol if vlan is not None else "802.1Q"))
        if "state" in changes:
            vf.set_state(changes.pop("state"))
        if "max_tx_rate_mbps" in changes:
            vf.set_rate(changes.pop("max_tx_rate_mbps"))
        for key in ("spoofchk", "trust"):
            if key in changes:
                setattr(vf, key, changes.pop(key))
        if changes:
            raise TypeError(f"set_vf: unknown setting(s) {sorted(changes)}")
        if vf.trust is False and (vnic.promiscuous or vnic.allmulti):  # the PF takes back what it no longer allows
            vnic.promiscuous = vnic.allmulti = False
        self._refresh_adapter_of(vnic)
        return vnic

    def _refresh_adapter_of(self, nic: NIC) -> None:
        hypervisor = self.hypervisors.get(getattr(nic, "hypervisor", None) or "")
        if hypervisor is not None and isinstance(nic, VNIC):
            if hypervisor.adapter is not None:
                hypervisor.adapter.refresh(nic)
            else:
                hypervisor.retag(nic)

    def notify_link_up(self, port: Port) -> None:
        """Tell the guest stack of ``port``'s NIC, if it has one, that its link came up (it may announce itself).

        A hypervisor's uplink carries its own interface's carrier (``<name>.host``)."""
        hypervisor = self.hypervisors.get(port.node.name)
        if hypervisor is not None and port is hypervisor.uplink:
            port = hypervisor.host.port
        stack = getattr(port.node, "stack", None)
        if stack is not None:
            self.send_from_stack(port, stack.link_up(self.now))

    def detach_vm(self, name: str) -> VNIC:
        vnic = self.vnics.get(name)
        if vnic is None or vnic.hypervisor is None:
            raise TopologyError(f"no attached VM named {name!r}")
        host = self.hypervisors[vnic.hypervisor]
        vif = host.vif_of(vnic)
        host.detach(vnic)
        if vif is not None and self.ports.pop(vif.full_name, None) is vif:
            self.removed_ports.append(vif)  # its counters stay in the report
        return vnic

    def attach_vm(self, name: str, hypervisor: str, *, mode: str | None = None, link_up: bool = True) -> VNIC:
        """Plug a detached VM into ``hypervisor``; ``link_up=False`` for a live migration (the guest sees no change)."""
        vnic = self.vnics.get(name)
        if vnic is None:
            raise TopologyError(f"no VM named {name!r}")
        if vnic.hypervisor is not None:
            raise TopologyError(f"VM {name} is still attached to {vnic.hypervisor}: detach it first")
        host = self._hypervisor(hypervisor)
        host.attach(vnic, mode)
        self._register_vif(host, vnic)
        if link_up:
            self.notify_link_up(vnic.port)
        return vnic

    # -- traffic --------------------------------------------------------------------------------------
    def send(self, name: str, frame: AnyFrame, *, at: int | None = None) -> int:
        """Have the NIC or vNIC ``name`` transmit ``frame`` at ``at`` (default: now); return the frame id."""
        port = self.nic(name).port
        return self._schedule(self._transmit_from_nic, port, check_frame(frame), at)

    def send_series(self, name: str, frame: AnyFrame, count: object, *, interval_ns: object = 0,
                    observers: tuple[FrameObserver, ...] = ()) -> range:
        """Have ``name`` transmit ``frame`` ``count`` times, ``interval_ns`` apart from now; return the frame ids.

        The same frames, ids and order as ``count`` calls of ``send(name, frame, at=now + i * interval_ns)``, but
        generated one at a time: a series of any length costs the memory of one frame. ``observers`` are shown
        the hops of each frame (``watch_frame``)."""
        port = self.nic(name).port
        frame = check_frame(frame)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise TopologyError(f"count must be an integer >= 0, got {count!r}")
        if isinstance(interval_ns, bool) or not isinstance(interval_ns, int) or interval_ns < 0:
            raise TopologyError(f"interval_ns must be an integer >= 0, got {interval_ns!r}")
        first = self._send_series(port, frame, count, interval_ns, tuple(observers))
        return range(first, first + count)

    def inject(self, name: str, frame: AnyFrame, *, at: int | None = None) -> int:
        """Make ``frame`` arrive at port ``name`` from its cable, untouched (no padding): for replays."""
        return self._schedule(self._arrive, self.port(name), check_frame(frame), at)

    def send_stream(self, items: Iterable[StreamItem]) -> None:
        """Transmit a lazy stream of ``(time_ns, interface, frame)`` items, in time order.

        Items are pulled one at a time, as the previous one is sent, so a stream of any length runs in flat
        memory; each gets a frame id when pulled. Same-time items go out in order, as ``send(name, frame,
        at=time_ns)`` for each would have them. An unknown interface raises when its item is pulled.
        """
        self._start_stream(iter(items), lambda name: self.nic(name).port)

    def close(self) -> None:
        """Flush and close every capture file."""
        self.captures.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- captures ---------------------------------------------------------------------------------------
    def capture(self, name: str, file_name: str, direction: str = "both", *, label: str = "") -> str:
        """Write what crosses ``name`` to the classic pcap ``file_name`` (and to the pcapng if enabled); ``label``:
        where the file was asked for, for errors (``lab.yaml:12:7: captures.points[0]``)."""
        port = self.port(name)
        path = self.captures.add_pcap(port, file_name, direction, label=label)
        if self.captures.has_pcapng:
            self.captures.add_pcapng_point(port, direction)
        return str(path)

    def capture_pcapng(self, file_name: str, points: Iterable[tuple[str, str]] = (), *, label: str = "") -> str:
        """Open the shared pcapng; ``points`` are (interface, direction) added to it alone."""
        path = self.captures.enable_pcapng(file_name, label=label)
        for name, direction in points:
            self.captures.add_pcapng_point(self.port(name), direction)
        return str(path)
