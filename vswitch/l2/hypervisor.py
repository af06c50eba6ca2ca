"""A hypervisor: guests' vNICs reach the LAN through one physical NIC, in one of two ways.

``backend="adapter"``: the NIC itself sorts frames to vNICs by MAC (macvlan / SR-IOV VEB or VEPA); see
``adapter.py``. ``backend="bridge"``: the host runs a software learning bridge (Xen's dom0 ``xenbr0``,
libvirt's ``virbr``/``br0``) whose ports are the physical NIC (``uplink``), the host's own interface (``host``)
and one backend interface per guest (``vif<N>.0``, as Xen names them), each wired to the guest's vNIC.
Either way the LAN side is the port ``<name>.uplink`` and the host's own stack is ``<name>.host``. An adapter's
host may have 802.1Q interfaces ``<name>.<vid>`` (eth0.VID, ``add_vlan``) with vNICs stacked on them (``on``).

A host bridge with ``vlan_filtering`` is VLAN-aware: a guest with a ``vlan`` gets its ``vif`` as an access port of
that VLAN (``bridge vlan add dev vif1.0 vid V pvid untagged``, as libvirt does for ``<vlan><tag id=V/>``), the
others VLAN 1; the uplink carries VLAN 1 untagged and every guest VLAN tagged; the host's own port VLAN 1.
"""

from __future__ import annotations

from typing import Iterable

from ..core import checks
from ..core.errors import TopologyError
from ..core.mac import MACLike
from .adapter import DEFAULT_MODE, PhysicalAdapter
from .fdb import DEFAULT_AGEING_NS
from .nic import NIC, VNIC
from .port import Port, wire_internal
from .switch import LearningSwitch
from .vlan import DEFAULT_PVID, PortVlans

BACKENDS = ("adapter", "bridge")


class Hypervisor:
    """A host running VMs; ``uplink`` is its cable port, ``host`` its own NIC, ``vms`` its guests' vNICs."""

    kind = "hypervisor"

    def __init__(self, name: object, mac: MACLike, *, backend: object = "adapter", mode: object = DEFAULT_MODE,
                 bridge_ageing_ns: object = DEFAULT_AGEING_NS, mac_filter_size: object = None,
                 vlan_filtering: object = False) -> None:
        name = checks.text(name, "Hypervisor: name")
        vlan_filtering = checks.flag(vlan_filtering, f"hypervisor {name}: vlan_filtering")
        if not isinstance(backend, str) or backend not in BACKENDS:
            raise TopologyError(f"hypervisor {name}: unknown backend {backend!r}; choose adapter or bridge")
        if backend == "adapter" and vlan_filtering:
            raise TopologyError(f"hypervisor {name}: vlan_filtering is for a host bridge (backend: bridge); "
                                "an adapter's vNICs take a port VLAN each (vlan)")
        if backend == "bridge" and mac_filter_size is not None:
            raise TopologyError(f"hypervisor {name}: mac_filter_size is an adapter's (backend: adapter)")
        self.name = name
        self.backend = backend
        self.vms: dict[str, VNIC] = {}
        self.adapter: PhysicalAdapter | None = None
        self.bridge: LearningSwitch | None = None
        self._vif_ports: dict[VNIC, Port] = {}
        self._next_domid = 1
        if backend == "adapter":
            self.adapter = PhysicalAdapter(name, mac, mode, mac_filter_size=mac_filter_size)
            self.uplink: Port = self.adapter.uplink
            self.host: NIC = self.adapter.host
        else:
            self.bridge = LearningSwitch(name, ageing_ns=bridge_ageing_ns, vlan_filtering=vlan_filtering)
            self.uplink = self.bridge.add_port("uplink")
            self.host = NIC(name, mac, "host")
            host_side = self.bridge.add_port("host-side", internal=True)
            wire_internal(host_side, self.host.port)

    @property
    def mode(self) -> str | None:
        """The adapter's macvlan mode (``bridge``, ``vepa``, ``private``, ``passthru``); None with a host bridge."""
        return self.adapter.mode if self.adapter else None

    def add_vlan(self, vid: object, mac: MACLike | None = None) -> NIC:
        """The host's 802.1Q interface ``<name>.<vid>`` on its adapter (eth0.VID), with the adapter's MAC unless
        ``mac`` is given."""
        if self.adapter is None:
            raise TopologyError(f"hypervisor {self.name}: VLAN interfaces (vlans) need an adapter (backend: adapter); "
                                "a host bridge's guests take a vlan each (vlan_filtering)")
        return self.adapter.add_vlan_interface(vid, mac)

    def lower_vid(self, on: object) -> int:
        """The VID of the VLAN interface ``on`` names (``hv1.10``, or the VID); None or '' is the adapter itself."""
        if on is None or on == "":
            return 0
        vid = on if isinstance(on, int) and not isinstance(on, bool) else None
        if isinstance(on, str) and on.startswith(f"{self.name}.") and on[len(self.name) + 1:].isdigit():
            vid = int(on[len(self.name) + 1:])
        known = self.adapter.interfaces if self.adapter is not None else {}
        if vid not in known:
            have = ", ".join(f"{self.name}.{v}" for v in sorted(known)) or "none"
            raise TopologyError(f"hypervisor {self.name} has no VLAN interface {on!r} (it has: {have})")
        return vid

    def attach(self, vnic: VNIC, mode: str | None = None, on: object = None) -> None:
        """Plug ``vnic`` in: into the adapter's MAC sorter (on the VLAN interface ``on``, ``hv1.10``; None: where
        it was, as a migrating VM), or as a new ``vif<N>.0`` bridge port."""
        checks.instance(vnic, VNIC, f"hypervisor {self.name}: attach: vnic")
        if vnic.name in self.vms:
            raise TopologyError(f"hypervisor {self.name} already runs a VM named {vnic.name}")
        if on is not None:
            vnic.lower_vid = self.lower_vid(on)
        elif vnic.lower_vid:
            self.lower_vid(vnic.lower_vid)  # a migrating VM needs its VLAN interface on the target too
        if self.adapter is not None:
            self.adapter.attach(vnic, mode)
        else:
            bridge = self.bridge
            assert bridge is not None  # the other backend
            if mode is not None:
                raise TopologyError(f"{vnic.full_name}: a mode applies to an adapter backend, not a host bridge")
            vf = vnic.vf
            if vf.spoofchk or vf.trust is not None or vf.state is not None or vf.max_tx_rate_mbps or vf.qos \
                    or vf.protocol != "802.1Q":
                raise TopologyError(f"{vnic.full_name}: SR-IOV controls (spoofchk, trust, state, max_tx_rate, qos, "
                                    "vlan_protocol) need an adapter (backend: adapter); a host bridge takes vlan only")
            if vf.vlan is not None and not bridge.vlan_filtering:
                raise TopologyError(f"{vnic.full_name}: vlan {vf.vlan} on host bridge {self.name} needs "
                                    "vlan_filtering: true on the hypervisor")
            port = bridge.add_port(f"vif{self._next_domid}.0")
            self._next_domid += 1
            port.peer, vnic.port.peer = vnic.port, port
            self._vif_ports[vnic] = port
            vnic.hypervisor = self.name
            if bridge.vlan_filtering:
                bridge.set_vlans(port.name, guest_access(vf.vlan))
        self.vms[vnic.name] = vnic
        self._trunk_guest_vlans()

    def retag(self, vnic: VNIC) -> None:
        """A guest's VLAN changed: its vif's access VLAN and the uplink's trunk follow (host bridge only)."""
        checks.instance(vnic, VNIC, f"hypervisor {self.name}: retag: vnic")
        port = self._vif_ports.get(vnic)
        if port is None or self.bridge is None:
            return
        if not self.bridge.vlan_filtering:
            if vnic.vf.vlan is not None:
                raise TopologyError(f"{vnic.full_name}: a VLAN on host bridge {self.name} needs vlan_filtering")
            return
        self.bridge.set_vlans(port.name, guest_access(vnic.vf.vlan))
        self._trunk_guest_vlans()

    def _trunk_guest_vlans(self) -> None:
        """A VLAN-aware host bridge's uplink: VLAN 1 untagged, every guest VLAN tagged."""
        if self.bridge is None or not self.bridge.vlan_filtering:
            return
        vlans = guest_trunk(v.vf.vlan for v in self.vms.values())
        if getattr(self.uplink, "vlans", None) != vlans:  # the bridge's uplink is a SwitchPort
            self.bridge.set_vlans(self.uplink.name, vlans)

    def detach(self, vnic: VNIC) -> None:
        """Unplug ``vnic`` from this hypervisor (its adapter slot or bridge port goes away)."""
        checks.instance(vnic, VNIC, f"hypervisor {self.name}: detach: vnic")
        if self.vms.get(vnic.name) is not vnic:
            raise TopologyError(f"{vnic.full_name} does not run on hypervisor {self.name}")
        del self.vms[vnic.name]
        if self.adapter is not None:
            self.adapter.detach(vnic)
            return
        port = self._vif_ports.pop(vnic)
        assert self.bridge is not None  # a vif port means a host bridge
        self.bridge.remove_port(port.name)
        port.peer = vnic.port.peer = None
        vnic.hypervisor = None
        self._trunk_guest_vlans()

    def vif_of(self, vnic: VNIC) -> Port | None:
        """The bridge port backing ``vnic`` (host-bridge backend only)."""
        return self._vif_ports.get(vnic)

    def __repr__(self) -> str:
        return f"<Hypervisor {self.name} backend={self.backend} vms={sorted(self.vms)}>"


def guest_access(vlan: int | None) -> PortVlans:
    """A VLAN-aware host bridge's vif for a guest in ``vlan`` (None: none): an access port of it, or of VLAN 1."""
    return PortVlans.access(vlan or DEFAULT_PVID)


def guest_trunk(guest_vlans: Iterable[int | None]) -> PortVlans:
    """A VLAN-aware host bridge's uplink, for guests in ``guest_vlans``: VLAN 1 untagged, each guest VLAN tagged."""
    return PortVlans(DEFAULT_PVID, {v for v in guest_vlans if v is not None} - {DEFAULT_PVID}, (DEFAULT_PVID,))
