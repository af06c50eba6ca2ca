"""A topology as plain, frozen data: what ``loader.py`` reads from YAML and ``build.py`` turns into a network.

Times are integer nanoseconds, rates bits per second, MACs ``MACAddress``. Each value keeps ``where`` (file,
line, column and field path) so that errors found after loading still point into the file. Scenario actions and
expectations are one frozen class per kind (``Action``, ``Expectation``), declared beside their readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from ipaddress import IPv4Interface, IPv6Interface
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Optional

from ..core.mac import MACAddress
from ..l2.impair import Impairment

if TYPE_CHECKING:
    from .yamlreader import MapReader


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
class StpSpec:
    """A switch's spanning tree (``stp: true``, ``stp_reader.py``); ports: (port, priority, path_cost), None for
    the kernel's default."""

    priority: int
    hello_time_ns: int
    max_age_ns: int
    forward_delay_ns: int
    ports: tuple[tuple[str, Optional[int], Optional[int]], ...] = ()


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
    vxlan: tuple[tuple[str, "VxlanSpec"], ...] = ()  # (port, its tunnel) for VXLAN ports (vxlan_reader.py)
    stp: Optional[StpSpec] = None


@dataclass(frozen=True)
class VxlanSpec:
    """A VXLAN switch port's tunnel (``vxlan: {local, remote, vni, port, netns}``): IPv4 addresses as text."""

    local: str
    remotes: tuple[str, ...]
    vni: int
    udp_port: int = 4789
    where: Where = Where()
    netns: Optional[str] = None  # the namespace whose socket it is (vswitch live's own when None)


@dataclass(frozen=True)
class GuestSpec:
    """A guest stack on a NIC, vNIC or hypervisor host interface: IPv4 (``ip: 192.0.2.10/24``), IPv6 (``ip6``) or
    both; see docs/guests.md and docs/ipv6.md. ``interface`` None: IPv6 only."""

    interface: Optional[IPv4Interface]
    arp_timeout_ns: int = 30 * 10**9
    arp_notify: bool = True
    where: Where = Where()
    ipv6: Optional["Ipv6Spec"] = None  # IPv6 on the same interface (docs/ipv6.md)


@dataclass(frozen=True)
class Ipv6Spec:
    """IPv6 on a stack's interface (``ip6: [2001:db8::10/64]``): its addresses, the EUI-64 link-local and DAD."""

    addresses: tuple[IPv6Interface, ...] = ()
    link_local: bool = True
    dad_transmits: int = 1


@dataclass(frozen=True)
class AttachSpec:
    """A real station behind a NIC in ``vswitch live`` (``live_reader.py``): ``kind`` (netns, tap or interface)
    and its ``name``."""

    kind: str
    name: str
    where: Where = Where()


@dataclass(frozen=True)
class NicSpec:
    name: str  # interface name, e.g. eth0
    mac: MACAddress
    groups: tuple[MACAddress, ...] = ()
    where: Where = Where()
    mac_where: Where = field(default=Where(), compare=False)  # the mac field itself, for errors about it
    guest: Optional[GuestSpec] = None  # an IPv4 stack (docs/guests.md)
    attach: Optional[AttachSpec] = None  # a real station in `vswitch live` (docs/live.md)


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
class IoSpec:
    """A VM's I/O model (docs/io-models.md): ``model`` and its settings; costs override the cycle table."""

    model: str = "none"
    cpu_ghz: Optional[Fraction] = None
    posted_interrupts: bool = False
    irq_coalesce_ns: Optional[int] = None  # None: the model's default
    indirect_factor: int = 1
    costs: tuple[tuple[str, int], ...] = ()
    where: Where = Where()
    #: the keys a VM's own ``io`` gave (``costs`` as its entries), over its hypervisor's defaults: they stay
    #: when it migrates to a hypervisor with other defaults (``io_reader.io_on``)
    own: tuple[tuple[str, Any], ...] = field(default=(), compare=False)


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
    io: Optional[IoSpec] = None  # its I/O model (None: none, today's behaviour)
    attach: Optional[AttachSpec] = None  # a real station in `vswitch live` (docs/live.md)
    on: Optional[str] = None  # the host VLAN interface it is stacked on (``hv1.10``; None: the adapter)


@dataclass(frozen=True)
class HostVlanSpec:
    """A hypervisor's 802.1Q interface ``<hypervisor>.<vid>`` (eth0.VID) on its adapter."""

    vid: int
    mac: Optional[MACAddress] = None  # None: the adapter's
    guest: Optional[GuestSpec] = None
    where: Where = Where()
    mac_where: Where = field(default=Where(), compare=False)


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
    io: Optional[IoSpec] = None  # the I/O model of its VMs that give none
    vlans: tuple[HostVlanSpec, ...] = ()  # the host's VLAN interfaces (backend: adapter)


@dataclass(frozen=True)
class LinkSpec:
    a: str
    b: str
    latency_ns: int = 0
    bandwidth_bps: Optional[int] = None
    queue_frames: int = 1000
    where: Where = Where()
    a_to_b: Impairment = Impairment()  # loss, jitter... from a to b (docs/impairments.md)
    b_to_a: Impairment = Impairment()


@dataclass(frozen=True)
class CaptureSpec:
    point: str
    direction: str = "both"
    file: str = ""
    where: Where = Where()


Tags = tuple[tuple[int, int, int], ...]  # (TPID, PCP, VID) of each tag of a frame, outermost first
Places = tuple[tuple[str, Where], ...]  # (YAML key, its place) of the fields whose errors are found after reading
Named = tuple[tuple[str, Optional[object], str], ...]  # (YAML key, the name or names it holds, what it must name)

@dataclass(frozen=True, kw_only=True)
class ScenarioValue:
    """What actions and expectations share: a frozen subclass per kind, declared with its YAML key
    (``class SendAction(Action, kind="send")``), which registers it in its family's table of ``kinds``; it reads
    itself from its mapping (``read``). ``places`` keeps where fields were written, for errors found later."""

    kind: ClassVar[str] = ""
    kinds: ClassVar[dict[str, type]] = {}
    places: Places = field(default=(), compare=False, repr=False)

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            if kind in cls.kinds:
                raise TypeError(f"{cls.__name__}: the kind {kind!r} is {cls.kinds[kind].__name__} already")
            cls.kind = kind
            cls.kinds[kind] = cls

    @classmethod
    def read(cls, r: MapReader) -> Optional[ScenarioValue]:
        """The value from the mapping under its key (None when it was too broken to make one)."""
        raise NotImplementedError(cls.__name__)

    @classmethod
    def read_item(cls, item: MapReader) -> Optional[ScenarioValue]:
        """The value from an item holding its key: the mapping under the key (``read``) by default."""
        return cls.read(item.take_map(cls.kind))

    def place(self, key: str) -> Optional[Where]:
        """Where the field ``key`` was written, if it was kept."""
        return dict(self.places).get(key)

    def named(self) -> Named:
        """The fields that name interfaces, switches, VMs or hypervisors, checked across the file by the loader."""
        return ()


@dataclass(frozen=True)
class VmState:
    """A VM as a scenario action finds it, for the loader's checks: its vNIC's MAC (given, or the one the build
    allocates: ``macplan.py``), its stack and the name of the I/O model it runs under (``none`` without one)."""

    mac: MACAddress
    guest: Optional[GuestSpec]
    io_model: str


VmStates = Mapping[str, VmState]

#: Scenario action kinds and expectation kinds by their YAML key, filled as their classes are declared.
ACTION_KINDS: dict[str, type[Action]] = {}
EXPECTATION_KINDS: dict[str, type[Expectation]] = {}


@dataclass(frozen=True, kw_only=True)
class Action(ScenarioValue):
    """What one scenario step does (``SendAction``, ``PingAction``...); ``scenario/registry.py`` performs it.
    Besides ``named``, the hooks below answer the loader's checks, so that a new action is one class."""

    kinds: ClassVar[dict[str, type]] = ACTION_KINDS

    def frame_name(self) -> Optional[str]:
        """The name that ``delivered``/``dropped`` expectations may give its frames (None: they cannot)."""
        return None

    def frame_budget(self, vms: VmStates) -> tuple[Optional[int], Optional[Fraction]]:
        """How many frames it sends (at most) and the time between them (a ``Fraction`` of ns), for the scenario's
        limits; (None, None) when it sends none of its own. ``vms``: each VM as the action finds it."""
        return None, None

    def moves(self) -> Optional[tuple[str, str]]:
        """(VM, hypervisor) for an action that moves a VM there, whose I/O model it then takes; else None."""
        return None


@dataclass(frozen=True, kw_only=True)
class NamedAction(Action):
    """An action with a ``name``: ``send`` and the guest actions. No two share one; an unnamed guest action gets
    its ``default_name`` (made unique in the file by ``guest_reader.name_actions``)."""

    name: Optional[str] = None

    def default_name(self) -> Optional[str]:
        """The name an unnamed one is given (None: it stays unnamed)."""
        return None


@dataclass(frozen=True, kw_only=True)
class Expectation(ScenarioValue):
    """What one check expects (``DeliveredCheck``, ``PingCheck``...); ``scenario/registry.py`` checks it."""

    kinds: ClassVar[dict[str, type]] = EXPECTATION_KINDS


@dataclass(frozen=True)
class ActionSpec:
    """One timed scenario step: ``action`` (a ``SendAction``, ``LinkAction``...) at ``at_ns``."""

    at_ns: int
    action: Action
    where: Where = Where()

    @property
    def kind(self) -> str:
        return self.action.kind


@dataclass(frozen=True)
class ExpectationSpec:
    """A check (a ``DeliveredCheck``, ``TableCheck``...) evaluated at ``at_ns`` (None: at the end of the run)."""

    check: Expectation
    at_ns: Optional[int] = None
    where: Where = Where()

    @property
    def kind(self) -> str:
        return self.check.kind


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
    seed: int = 0  # seeds every link impairment's random draws (docs/impairments.md)
    #: What the file does that is allowed but likely not meant (``FILE:LINE:COL: PATH: MESSAGE``): ``validate``
    #: prints them, a run reports them.
    warnings: tuple[str, ...] = field(default=(), compare=False)
