"""A hypervisor: guests' vNICs reach the LAN through one physical NIC, in one of two ways.

``backend="adapter"``: the NIC itself sorts frames to vNICs by MAC (macvlan / SR-IOV VEB or VEPA); see
``adapter.py``. ``backend="bridge"``: the host runs a software learning bridge (Xen's dom0 ``xenbr0``,
libvirt's ``virbr``/``br0``) whose ports are the physical NIC (``uplink``), the host's own interface (``host``)
and one backend interface per guest (``vif<N>.0``, as Xen names them), each wired to the guest's vNIC.
Either way the LAN side is the port ``<name>.uplink`` and the host's own stack is ``<name>.host``.
"""

from __future__ import annotations

from .adapter import DEFAULT_MODE, PhysicalAdapter
from .errors import TopologyError
from .fdb import DEFAULT_AGEING_NS
from .mac import MACLike
from .nic import NIC, VNIC
from .port import Port
from .switch import LearningSwitch

BACKENDS = ("adapter", "bridge")


class Hypervisor:
    """A host running VMs; ``uplink`` is its cable port, ``host`` its own NIC, ``vms`` its guests' vNICs."""

    kind = "hypervisor"

    def __init__(self, name: str, mac: MACLike, *, backend: str = "adapter", mode: str = DEFAULT_MODE,
                 bridge_ageing_ns: int = DEFAULT_AGEING_NS) -> None:
        if backend not in BACKENDS:
            raise TopologyError(f"hypervisor {name}: unknown backend {backend!r}; choose adapter or bridge")
        self.name = name
        self.backend = backend
        self.vms: dict[str, VNIC] = {}
        self.adapter: PhysicalAdapter | None = None
        self.bridge: LearningSwitch | None = None
        self._vif_ports: dict[VNIC, Port] = {}
        self._next_domid = 1
        if backend == "adapter":
            self.adapter = PhysicalAdapter(name, mac, mode)
            self.uplink: Port = self.adapter.uplink
            self.host: NIC = self.adapter.host
        else:
            self.bridge = LearningSwitch(name, ageing_ns=bridge_ageing_ns)
            self.uplink = self.bridge.add_port("uplink")
            self.host = NIC(name, mac, "host")
            host_side = self.bridge.add_port("host-side", internal=True)
            host_side.peer, self.host.port.peer = self.host.port, host_side

    @property
    def mode(self) -> str | None:
        return self.adapter.mode if self.adapter else None

    def attach(self, vnic: VNIC, mode: str | None = None) -> None:
        """Plug ``vnic`` in: into the adapter's MAC sorter, or as a new ``vif<N>.0`` bridge port."""
        if vnic.name in self.vms:
            raise TopologyError(f"hypervisor {self.name} already runs a VM named {vnic.name}")
        if self.adapter is not None:
            self.adapter.attach(vnic, mode)
        else:
            if mode is not None:
                raise TopologyError(f"{vnic.full_name}: a mode applies to an adapter backend, not a host bridge")
            port = self.bridge.add_port(f"vif{self._next_domid}.0")
            self._next_domid += 1
            port.peer, vnic.port.peer = vnic.port, port
            self._vif_ports[vnic] = port
            vnic.hypervisor = self.name
        self.vms[vnic.name] = vnic

    def detach(self, vnic: VNIC) -> None:
        if self.vms.get(vnic.name) is not vnic:
            raise TopologyError(f"{vnic.full_name} does not run on hypervisor {self.name}")
        del self.vms[vnic.name]
        if self.adapter is not None:
            self.adapter.detach(vnic)
            return
        port = self._vif_ports.pop(vnic)
        self.bridge.remove_port(port.name)
        port.peer = vnic.port.peer = None
        vnic.hypervisor = None

    def vif_of(self, vnic: VNIC) -> Port | None:
        """The bridge port backing ``vnic`` (host-bridge backend only)."""
        return self._vif_ports.get(vnic)

    def __repr__(self) -> str:
        return f"<Hypervisor {self.name} backend={self.backend} vms={sorted(self.vms)}>"
