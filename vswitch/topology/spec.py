"""A topology as plain, frozen data: what ``loader.py`` reads from YAML and ``build.py`` turns into a network.

Times are integer nanoseconds, rates bits per second, MACs ``MACAddress``. Each value keeps ``where`` (file,
line, column and field path) so that errors found after loading still point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any, Optional

from ..core.mac import MACAddress


@dataclass(frozen=True)
class Where:
    """A place in a topology file, for error messages."""

    file: str = "<api>"
    line: int = 0
    column: int = 0
    path: str = ""

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{place}: {self.path}" if self.path else place


@dataclass(frozen=True)
class PortVlanSpec:
    """A switch port's VLANs (docs/topology.md, switches): PVID (None: none) and (VID, untagged) members."""

    pvid: Optional[int] = 1
    vlans: tuple[tuple[int, bool], ...] = ()


@dataclass(frozen=True)
class SwitchSpec:
    name: str
    ageing_ns: int
    table_limit: Optional[int] = None
    table_policy: str = "refuse"
    ports: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = ()  # (port, ((flag, value), ...))
    static: tuple[tuple[MACAddress, str, Optional[int]], ...] = ()  # (mac, port, vlan: None for the port's VLANs)
    where: Where = Where()
    vlan_filtering: bool = False
    vlan_protocol: str = "802.1Q"
    port_vlans: tuple[tuple[str, PortVlanSpec], ...] = ()  # (port, its VLANs) for ports that set them
    port_security: tuple[tuple[str, int, str], ...] = ()  # (port, max_macs, violation)
    storm_limit: int = 16


@dataclass(frozen=True)
class GuestSpec:
    """An IPv4 stack on a NIC, vNIC or hypervisor host interface (``ip: 192.0.2.10/24``); see docs/guests.md."""

    interface: IPv4Interface
    arp_timeout_ns: int = 30 * 10**9
    arp_notify: bool = True
    where: Where = Where()


@dataclass(frozen=True)
class NicSpec:
    name: str  # interface name, e.g. eth0
    mac: MACAddress
    groups: tuple[MACAddress, ...] = ()
    where: Where = Where()
    mac_where: Where = field(default=Where(), compare=False)  # the mac field itself, for errors about it
    guest: Optional[GuestSpec] = None  # an IPv4 stack (docs/guests.md)


@dataclass(frozen=True)
class HostSpec:
    name: str
    nics: tuple[NicSpec, ...]
    where: Where = Where()


@dataclass(frozen=True)
class VFSpec:
    """SR-IOV controls of a VM's vNIC (``ip link set DEV vf N ...``); defaults are a plain macvlan's."""

    vlan: Optional[int] = None
    qos: int = 0
    vlan_protocol: str = "802.1Q"
    spoofchk: bool = False
    trust: Optional[bool] = None
    state: Optional[str] = None
    max_tx_rate_mbps: int = 0


@dataclass(frozen=True)
class VMSpec:
    name: str
    mac: Optional[MACAddress]  # None: allocate from prefix
    prefix: str = "qemu"
    mode: Optional[str] = None
    groups: tuple[MACAddress, ...] = ()
    where: Where = Where()
    mac_where: Where = field(default=Where(), compare=False)  # the mac field itself, for errors about it
    guest: Optional[GuestSpec] = None  # an IPv4 stack (docs/guests.md)
    vf: Optional[VFSpec] = None  # SR-IOV controls (None: none set)


@dataclass(frozen=True)
class HypervisorSpec:
    name: str
    mac: MACAddress
    backend: str = "adapter"
    mode: str = "bridge"
    vms: tuple[VMSpec, ...] = ()
    where: Where = Where()
    mac_where: Where = field(default=Where(), compare=False)  # the mac field itself, for errors about it
    guest: Optional[GuestSpec] = None  # an IPv4 stack on the host's own interface <name>.host
    mac_filter_size: Optional[int] = None  # the adapter's unicast MAC filter entries (None: not modelled)
    vlan_filtering: bool = False  # a VLAN-aware host bridge (backend: bridge)


@dataclass(frozen=True)
class LinkSpec:
    a: str
    b: str
    latency_ns: int = 0
    bandwidth_bps: Optional[int] = None
    queue_frames: int = 1000
    where: Where = Where()


@dataclass(frozen=True)
class CaptureSpec:
    point: str
    direction: str = "both"
    file: str = ""
    where: Where = Where()


@dataclass(frozen=True)
class ActionSpec:
    """One timed scenario step; ``kind`` names it (send, link, detach, attach, set_port, expect...)."""

    at_ns: int
    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    where: Where = Where()


@dataclass(frozen=True)
class ExpectationSpec:
    """A check evaluated at ``at_ns`` (None: at the end of the run)."""

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    at_ns: Optional[int] = None
    where: Where = Where()


@dataclass(frozen=True)
class TopologySpec:
    name: str
    description: str = ""
    switches: tuple[SwitchSpec, ...] = ()
    hosts: tuple[HostSpec, ...] = ()
    hypervisors: tuple[HypervisorSpec, ...] = ()
    links: tuple[LinkSpec, ...] = ()
    captures: tuple[CaptureSpec, ...] = ()
    pcapng: Optional[str] = "all.pcapng"  # None: no pcapng
    scenario: tuple[ActionSpec, ...] = ()
    expectations: tuple[ExpectationSpec, ...] = ()
    until_ns: Optional[int] = None
    epoch_ns: Optional[int] = None
    source: str = "<api>"
