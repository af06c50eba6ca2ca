"""A built network: switches, hosts, hypervisors and links, by name, on top of the datapath.

``Network`` builds nodes and cables, resolves names (``h1``, ``vm1``, ``sw1.p3``), changes state at run time and
opens captures; moving frames is ``Datapath``'s job (``datapath.py``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, Iterable, Iterator, Literal, overload

from ..core import checks
from ..core.errors import CaptureError, ScenarioError, TopologyError, VSwitchError
from ..core.frame import AnyFrame, check_frame
from ..core.mac import MACAddress, MACAllocator
from ..core.trace import DEFAULT_TRACE_LIMIT, FrameObserver
from ..l2.fdb import DEFAULT_AGEING_NS
from ..l2.hypervisor import Hypervisor
from ..l2.nic import NIC, VNIC, Delivery
from ..l2.impair import Impairment, direction_seed
from ..l2.port import DEFAULT_QUEUE_FRAMES, Link, LinkEnd, Port
from ..l2.sriov import VFControls
from ..l2.storm import DEFAULT_STORM_LIMIT
from ..l2.switch import LearningSwitch
from .capture import DEFAULT_EPOCH_NS, DIRECTIONS, CaptureSet
from .datapath import Datapath
from .stats import NetworkStats

__all__ = ["Network", "NetworkStats"]


class Network(Datapath):
    """Switches, hosts and hypervisors joined by links, run on one virtual clock.

    By default the network records, for tests and small runs: ``trace`` holds every hop (up to ``trace_limit``
    events; past that it says it is incomplete) and each NIC's ``inbox`` every frame it accepted (the last
    ``inbox_limit`` frames, if given). ``record=False`` keeps neither (counters, captures and watched frames
    stay), so memory does not grow with the frames: for long runs.

    The public methods take what a user may get wrong as ``object`` and check it (``core/checks.py``): a wrong
    type or value is a ``TopologyError`` (building and changing the network), a ``ScenarioError`` (frames,
    times) or a ``CaptureError``, in both builds, never mypyc's ``TypeError``.
    """

    def __init__(self, *, record: object = True, trace_limit: object = DEFAULT_TRACE_LIMIT,
                 inbox_limit: object = None, capture_dir: object = ".", epoch_ns: object = DEFAULT_EPOCH_NS) -> None:
        inbox = None if inbox_limit is None else checks.integer(inbox_limit, "Network: inbox_limit", minimum=0)
        super().__init__(record=checks.flag(record, "Network: record"),
                         trace_limit=checks.integer(trace_limit, "Network: trace_limit"), inbox_limit=inbox)
        self.captures = CaptureSet(checks.path(capture_dir, "Network: capture_dir"),
                                   checks.integer(epoch_ns, "Network: epoch_ns"))
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
    def _claim_name(self, name: object, what: str = "name") -> str:
        """``name`` if it may name a new device (or, with ``what="ifname"``, an interface of one)."""
        if not isinstance(name, str) or not name or "." in name or any(c.isspace() for c in name):
            raise TopologyError(f"invalid {what} {name!r}: use letters, digits, '-' or '_' (no dots or spaces)")
        if what == "name" and (name in self.switches or name in self.hosts or name in self.hypervisors
                               or name in self.vnics):
            raise TopologyError(f"the name {name!r} is already used")
        return name

    def register_port(self, port: object) -> Port:
        """Make a port added directly to a node reachable by name (a port it replaces keeps its row, as removed)."""
        checked = checks.instance(port, Port, "register_port: port")
        old = self.ports.get(checked.full_name)
        if old is not None and old is not checked:
            self.removed_ports.append(old)
        self.ports[checked.full_name] = checked
        if self.inbox_limit is not None and isinstance(checked.node, NIC):
            checked.node.inbox = deque(checked.node.inbox, maxlen=self.inbox_limit)
        return checked

    def add_switch(self, name: object, *, ports: object = 0, ageing_ns: object = DEFAULT_AGEING_NS,
                   table_limit: object = None, table_policy: object = "refuse",
                   vlan_filtering: object = False, vlan_protocol: object = "802.1Q",
                   storm_limit: object = DEFAULT_STORM_LIMIT) -> LearningSwitch:
        """A learning switch with ``ports`` ports named p1..pN (more are added by ``connect``)."""
        switch_name = self._claim_name(name)
        count = checks.integer(ports, f"switch {switch_name}: ports")
        switch = LearningSwitch(switch_name, ageing_ns=ageing_ns, table_limit=table_limit, table_policy=table_policy,
                                vlan_filtering=vlan_filtering, vlan_protocol=vlan_protocol, storm_limit=storm_limit)
        self.switches[switch_name] = switch
        for _ in range(count):
            self.register_port(switch.add_port())
        return switch

    def add_host(self, name: object, mac: object = None, *, ifname: object = "eth0") -> NIC:
        """A physical host with one NIC (call ``add_nic`` for more)."""
        host = self._claim_name(name)
        self._claim_name(ifname, "ifname")
        self.hosts[host] = []
        return self.add_nic(host, mac, ifname=ifname)

    def add_nic(self, host: object, mac: object = None, *, ifname: object = "eth0") -> NIC:
        """Another NIC ``ifname`` on ``host`` (default MAC: the next of 02:00:00)."""
        if not isinstance(host, str) or host not in self.hosts:
            raise TopologyError(f"no host named {host!r}")
        nics = self.hosts[host]
        interface = self._claim_name(ifname, "ifname")
        if any(n.ifname == interface for n in nics):
            raise TopologyError(f"host {host} already has a NIC {interface}")
        nic = NIC(host, self._mac(mac, f"{host}.{interface}"), interface)
        nics.append(nic)
        self.register_port(nic.port)
        return nic

    def add_hypervisor(self, name: object, mac: object = None, *, backend: object = "adapter",
                       mode: object = "bridge", mac_filter_size: object = None,
                       vlan_filtering: object = False) -> Hypervisor:
        """A hypervisor whose physical NIC (port ``<name>.uplink``) has the host's own MAC ``mac``."""
        host = self._claim_name(name)
        hypervisor = Hypervisor(host, self._mac(mac, host), backend=backend, mode=mode,
                                mac_filter_size=mac_filter_size, vlan_filtering=vlan_filtering)
        self.hypervisors[host] = hypervisor
        self.register_port(hypervisor.uplink)
        self.register_port(hypervisor.host.port)
        if hypervisor.bridge is not None:
            self.switches[host] = hypervisor.bridge
        return hypervisor

    def add_host_vlan(self, hypervisor: object, vid: object, mac: object = None) -> NIC:
        """The hypervisor's 802.1Q interface ``<hypervisor>.<vid>`` (eth0.VID; default MAC: the adapter's)."""
        host = self._hypervisor(hypervisor)
        nic = host.add_vlan(vid, None if mac is None else self._mac(mac, f"{host.name}.{vid}"))
        self.register_port(nic.port)
        return nic

    def add_vm(self, hypervisor: object, name: object, mac: object = None, *, prefix: object = "qemu",
               mode: object = None, ifname: object = "eth0", vf: object = None, on: object = None) -> VNIC:
        """A guest on ``hypervisor`` with one vNIC (MAC allocated from ``prefix`` if not given); ``vf``: its SR-IOV
        controls; ``on``: the host VLAN interface it is stacked on (``hv1.10``, or the VID)."""
        host = self._hypervisor(hypervisor)
        vm = self._claim_name(name)
        interface = self._claim_name(ifname, "ifname")
        controls = checks.optional_instance(vf, VFControls, f"VM {vm}: vf")
        attach_mode = checks.optional_text(mode, f"VM {vm}: mode")
        address = self.macs.allocate(prefix) if mac is None else self._mac(mac, f"{vm}.{interface}")
        vnic = VNIC(vm, address, interface, vf=controls)
        host.attach(vnic, attach_mode, on)
        self.vnics[vm] = vnic
        self.register_port(vnic.port)
        self._register_vif(host, vnic)
        return vnic

    def _register_vif(self, host: Hypervisor, vnic: VNIC) -> None:  # a host bridge's port backing vnic, by name
        vif = host.vif_of(vnic)
        if vif is not None:
            self.register_port(vif)

    def _mac(self, mac: object, owner: str) -> MACAddress:
        if mac is None:
            return self.macs.allocate("02:00:00")
        try:
            return self.macs.reserve(mac)
        except VSwitchError as exc:
            raise TopologyError(f"{owner}: {exc}") from None

    def connect(self, a: object, b: object, *, latency_ns: object = 0, bandwidth_bps: object = None,
                queue_frames: object = DEFAULT_QUEUE_FRAMES) -> Link:
        """Cable two ports. A switch name alone means its next free port, and ``sw1.p7`` makes port p7 if sw1 has
        none; a host or hypervisor its NIC (a hypervisor's uplink: its VMs' vNICs sit behind it)."""
        port_a = self._cable_end(checks.text(a, "connect: a (an interface or port name)"))
        port_b = self._cable_end(checks.text(b, "connect: b (an interface or port name)"))
        link = Link(port_a, port_b, latency_ns=latency_ns, bandwidth_bps=bandwidth_bps, queue_frames=queue_frames)
        self.links.append(link)
        if isinstance(port_a.node, LearningSwitch) and isinstance(port_b.node, LearningSwitch):
            port_a.node.arm_storm_guard()  # switch to switch: a loop may go through them (storm.py)
            port_b.node.arm_storm_guard()
        self._adapter_link_changed(port_a)  # an adapter cabled now: its vNICs' links come up
        self._adapter_link_changed(port_b)
        return link

    def impair(self, sender: object, impairment: object, *, seed: object = 0) -> None:
        """Impair what ``sender`` (an interface or port) sends onto its cable: loss, jitter, duplicates, corruption
        (``l2/impair.py``, docs/impairments.md), drawn from a random stream of ``seed`` and the two ends' names."""
        port = self.port(sender)
        settings = checks.instance(impairment, Impairment, "impair: impairment (an Impairment)")
        number = checks.integer(seed, "impair: seed", error=TopologyError)
        end = port.peer
        if not isinstance(end, LinkEnd):
            raise TopologyError(f"impair: {port.full_name} has no cable to impair")
        end.link.set_impairment(end, settings, direction_seed(number, port.full_name, end.far.full_name))

    def _cable_end(self, name: str) -> Port:
        switch = self.switches.get(name)
        if switch is not None and name not in self.hypervisors:
            for port in switch.ports.values():
                if port.peer is None and not port.internal:
                    return port
            return self.register_port(switch.add_port())
        owner_name, dot, port_name = name.partition(".")
        owner = self.switches.get(owner_name)
        if dot and owner is not None and owner_name not in self.hypervisors and port_name not in owner.ports:
            return self.register_port(owner.add_port(port_name))  # sw1.p7 makes port p7, as a file's links do
        end = self.port(name)
        if isinstance(end.node, VNIC) and end.node.hypervisor is not None:
            raise TopologyError(f"{name} is a vNIC on hypervisor {end.node.hypervisor}'s adapter, which cables it: "
                                f"cable the hypervisor instead ({end.node.hypervisor})")
        return end

    # -- lookups --------------------------------------------------------------------------------------
    def port(self, name: object) -> Port:
        """Resolve ``h1``, ``h1.eth0``, ``vm1``, ``hv1`` (its uplink), ``hv1.host``, ``sw1.p3``."""
        if not isinstance(name, str):
            raise TopologyError(f"no interface or port named {name!r}: a name is a str, not {type(name).__name__}")
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

    def nic(self, name: object) -> NIC:
        """The NIC or vNIC behind an interface name."""
        node = self.port(name).node
        if not isinstance(node, NIC):
            raise TopologyError(f"{name} is a {node.kind} port, not a NIC or vNIC")
        return node

    def _hypervisor(self, name: object) -> Hypervisor:
        if not isinstance(name, str) or name not in self.hypervisors:
            raise TopologyError(f"no hypervisor named {name!r}")
        return self.hypervisors[name]

    def switch(self, name: object) -> LearningSwitch:
        """The switch named ``name`` (a host bridge is named after its hypervisor)."""
        switch = self.switches.get(name) if isinstance(name, str) else None
        if switch is None:
            raise TopologyError(f"no switch named {name!r}")
        return switch

    def link(self, a: object, b: object = None) -> Link:
        """The link attached to port ``a`` (and ``b``, if given)."""
        port_a = self.port(a)
        for link in self.links:
            if port_a in link.ports and (b is None or self.port(b) in link.ports):
                return link
        raise TopologyError(f"no link at {a}" + (f" to {b}" if b else ""))

    def interfaces(self) -> Iterator[Port]:
        """Every user-visible port, sorted by name (removed ones are in ``removed_ports``)."""
        return (self.ports[name] for name in sorted(self.ports))

    @overload
    def deliveries(self, name: object, *, scapy: Literal[False] = False) -> list[Delivery]: ...

    @overload
    def deliveries(self, name: object, *, scapy: object) -> Any: ...

    def deliveries(self, name: object, *, scapy: object = False) -> Any:
        """The frames the NIC or vNIC ``name`` accepted (its ``inbox``: kept when recording), oldest first, as
        ``Delivery(time_ns, frame_id, frame)``; ``scapy=True``: as a Scapy ``PacketList`` whose packets have the
        ``time`` they have in the captures (seconds, the epoch plus the virtual time), ``sniffed_on`` the
        interface and ``comments`` the frame id (``frame 3``)."""
        nic = self.nic(name)
        if not checks.flag(scapy, "deliveries: scapy", error=ScenarioError):
            return list(nic.inbox)
        from ..pcap.packets import packet, packet_list  # Scapy: only when asked for

        epoch, where = self.captures.epoch_ns, nic.full_name
        return packet_list([packet(d.frame, epoch + d.time_ns, sniffed_on=where, comment=f"frame {d.frame_id}")
                            for d in nic.inbox], where)

    # -- changes at run time ----------------------------------------------------------------------------
    def set_link_state(self, link: object, up: object) -> None:
        """Bring a cable (``net.link("h1")``) down or up; a switch forgets what it learned on a port whose link
        went down."""
        cable = checks.instance(link, Link, "set_link_state: link (from net.link(...))")
        state = checks.flag(up, "set_link_state: up")
        cable.up = state
        for port in cable.ports:
            port.carrier = state
            if isinstance(port.node, LearningSwitch):
                port.node.carrier_changed(port.name, state, self.now)  # forget, reopen; STP (l2/stp.py)
            self._adapter_link_changed(port)
        if state:
            for port in cable.ports:
                self.notify_link_up(port)

    def _adapter_link_changed(self, port: Port) -> None:  # VFs in state auto follow the uplink (or their eth0.N)
        adapter = getattr(self.hypervisors.get(port.node.name), "adapter", None)
        if adapter is not None and (port is adapter.uplink or getattr(port.node, "vid", 0) != 0):
            adapter.refresh()

    def set_admin_state(self, name: object, up: object) -> None:
        """``ip link set NAME up|down``."""
        port = self.port(name)
        state = checks.flag(up, f"set_admin_state {name}: up")
        was_up, port.up = port.up, state
        self._adapter_link_changed(port)
        if state and not was_up:
            self.notify_link_up(port)

    def set_rx_mode(self, name: object, *, promiscuous: object = None, allmulti: object = None) -> list[str]:
        """Turn promiscuous / allmulti on or off on a NIC or vNIC; return the requests an untrusted VF refused."""
        nic = self.nic(name)
        vf = getattr(nic, "vf", None)
        refused = []
        for mode, value in (("promiscuous", checks.optional_flag(promiscuous, f"set_rx_mode {name}: promiscuous")),
                            ("allmulti", checks.optional_flag(allmulti, f"set_rx_mode {name}: allmulti"))):
            if value is None:
                continue
            if vf is not None and not vf.grant(mode, value):
                refused.append(mode)
                continue
            setattr(nic, mode, value)
        self._refresh_adapter_of(nic)
        return refused

    def set_vf(self, name: object, **changes: object) -> VNIC:
        """``ip link set DEV vf N ...`` on the VM ``name``: vlan (with qos, vlan_protocol), spoofchk, trust, state,
        max_tx_rate_mbps. Unknown keys, and values of the wrong type, are a TopologyError."""
        vnic = self.vnics.get(name) if isinstance(name, str) else None
        if vnic is None:
            raise TopologyError(f"no VM named {name!r}")
        unknown = sorted(set(changes) - _VF_SETTINGS)
        if unknown:
            raise TopologyError(f"set_vf: unknown setting(s) {unknown}; known: {', '.join(sorted(_VF_SETTINGS))}")
        if "spoofchk" in changes:
            checks.flag(changes["spoofchk"], f"set_vf {name}: spoofchk")
        if "trust" in changes:
            checks.optional_flag(changes["trust"], f"set_vf {name}: trust")
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
        if vf.trust is False and (vnic.promiscuous or vnic.allmulti):  # the PF takes back what it no longer allows
            vnic.promiscuous = vnic.allmulti = False
        self._refresh_adapter_of(vnic)
        return vnic

    def _refresh_adapter_of(self, nic: NIC) -> None:
        hypervisor = self.hypervisors.get(getattr(nic, "hypervisor", None) or "")
        if hypervisor is not None and isinstance(nic, VNIC):
            hypervisor.adapter.refresh(nic) if hypervisor.adapter is not None else hypervisor.retag(nic)

    def notify_link_up(self, port: Port) -> None:
        """Tell the guest stack of ``port``'s NIC, if it has one, that its link came up (it may announce itself).

        A hypervisor's uplink carries its own interface's carrier (``<name>.host``)."""
        hypervisor = self.hypervisors.get(port.node.name)
        if hypervisor is not None and port is hypervisor.uplink:
            port = hypervisor.host.port
        stack = getattr(port.node, "stack", None)
        if stack is not None:
            self.send_from_stack(port, stack.link_up(self.now))

    def detach_vm(self, name: object) -> VNIC:
        """Unplug the VM ``name`` from its hypervisor (``attach_vm`` plugs it in again, elsewhere)."""
        vnic = self.vnics.get(name) if isinstance(name, str) else None
        if vnic is None or vnic.hypervisor is None:
            raise TopologyError(f"no attached VM named {name!r}")
        host = self.hypervisors[vnic.hypervisor]
        vif = host.vif_of(vnic)
        host.detach(vnic)
        if vif is not None and self.ports.pop(vif.full_name, None) is vif:
            self.removed_ports.append(vif)  # its counters stay in the report
        return vnic

    def attach_vm(self, name: object, hypervisor: object, *, mode: object = None, link_up: object = True,
                  on: object = None) -> VNIC:
        """Plug a detached VM into ``hypervisor`` (on its VLAN interface ``on``; None: one of the VID it was on);
        ``link_up=False`` for a live migration (the guest sees no change)."""
        vnic = self.vnics.get(name) if isinstance(name, str) else None
        if vnic is None:
            raise TopologyError(f"no VM named {name!r}")
        if vnic.hypervisor is not None:
            raise TopologyError(f"VM {name} is still attached to {vnic.hypervisor}: detach it first")
        host = self._hypervisor(hypervisor)
        attach_mode = checks.optional_text(mode, f"attach_vm {name}: mode")
        announce = checks.flag(link_up, f"attach_vm {name}: link_up")
        host.attach(vnic, attach_mode, on)
        self._register_vif(host, vnic)
        if announce:
            self.notify_link_up(vnic.port)
        return vnic

    # -- traffic --------------------------------------------------------------------------------------
    def send(self, name: object, frame: AnyFrame, *, at: object = None) -> int:
        """Have the NIC or vNIC ``name`` transmit ``frame`` at ``at`` (default: now); return the frame id."""
        port = self.nic(name).port
        return self._schedule(self._transmit_from_nic, port, check_frame(frame),
                              checks.optional_nanoseconds(at, "send: at"))

    def send_series(self, name: object, frame: AnyFrame, count: object, *, interval_ns: object = 0,
                    observers: tuple[FrameObserver, ...] = ()) -> range:
        """Have ``name`` transmit ``frame`` ``count`` times, ``interval_ns`` apart from now; return the frame ids.

        The same frames, ids and order as ``count`` calls of ``send(name, frame, at=now + i * interval_ns)``, but
        generated one at a time: a series of any length costs the memory of one frame. ``observers`` are shown
        the hops of each frame (``watch_frame``)."""
        port = self.nic(name).port
        frame = check_frame(frame)
        times = checks.integer(count, "send_series: count", minimum=0, error=ScenarioError)
        interval = checks.integer(interval_ns, "send_series: interval_ns", minimum=0, error=ScenarioError)
        first = self._send_series(port, frame, times, interval, tuple(observers))
        return range(first, first + times)

    def inject(self, name: object, frame: AnyFrame, *, at: object = None) -> int:
        """Make ``frame`` arrive at port ``name`` from its cable, untouched (no padding): for replays."""
        return self._schedule(self._arrive, self.port(name), check_frame(frame),
                              checks.optional_nanoseconds(at, "inject: at"))

    def send_stream(self, items: object, *, on_frame: object = None) -> None:
        """Transmit a lazy stream of ``(time_ns, interface, frame)`` items, in time order.

        Items are pulled one at a time, as the previous one is sent, so a stream of any length runs in flat
        memory; each gets a frame id when pulled (``on_frame``, a function, is told it). Same-time items go out in
        order, as ``send(name, frame, at=time_ns)`` for each would have them. An unknown interface or a malformed
        item raises when the item is pulled (``ScenarioError``, or ``TopologyError`` for the name).
        """
        if not isinstance(items, Iterable):
            raise ScenarioError(f"send_stream: items must be an iterable of (time_ns, interface, frame), "
                                f"not {checks.describe(items)}")
        if on_frame is not None and not callable(on_frame):
            raise ScenarioError(f"send_stream: on_frame must be a function (frame_id), not {checks.describe(on_frame)}")
        self._start_stream(iter(items), lambda name: self.nic(name).port, on_frame)

    def close(self) -> None:
        """Flush and close every capture file."""
        self.captures.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- captures ---------------------------------------------------------------------------------------
    def capture(self, name: object, file_name: object, direction: object = "both", *, label: str = "") -> str:
        """Write what crosses ``name`` to the classic pcap ``file_name`` (and to the pcapng if enabled); ``label``:
        where the file was asked for, for errors (``lab.yaml:12:7: captures.points[0]``)."""
        port = self.port(name)
        where = _capture_direction(direction, f"capture {name}")
        path = self.captures.add_pcap(port, checks.path(file_name, f"capture {name}: file_name",
                                                        error=CaptureError), where, label=label)
        if self.captures.has_pcapng:
            self.captures.add_pcapng_point(port, where)
        return str(path)

    def capture_pcapng(self, file_name: object, points: object = (), *, label: str = "") -> str:
        """Open the shared pcapng; ``points`` are (interface, direction) added to it alone."""
        if not isinstance(points, Iterable):
            raise CaptureError(f"capture_pcapng: points must be (interface, direction) pairs, "
                               f"not {checks.describe(points)}")
        pairs = [_capture_point(point) for point in points]
        ports = [(self.port(name), direction) for name, direction in pairs]
        path = self.captures.enable_pcapng(checks.path(file_name, "capture_pcapng: file_name", error=CaptureError),
                                           label=label)
        for port, direction in ports:
            self.captures.add_pcapng_point(port, direction)
        return str(path)


_VF_SETTINGS: Final = frozenset(("vlan", "qos", "vlan_protocol", "spoofchk", "trust", "state", "max_tx_rate_mbps"))


def _capture_direction(direction: object, what: str) -> str:
    return checks.choice(direction, DIRECTIONS, f"{what}: direction", error=CaptureError)


def _capture_point(point: object) -> tuple[str, str]:  # an (interface, direction) pair of capture_pcapng's points
    if not isinstance(point, tuple) or len(point) != 2:
        raise CaptureError(f"capture_pcapng: each point is an (interface, direction) pair, "
                           f"not {checks.describe(point)}")
    name, direction = point
    return checks.text(name, "capture_pcapng: a point's interface"), _capture_direction(direction, "capture_pcapng")
