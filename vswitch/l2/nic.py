"""Network interfaces that end a frame's journey: a host's NIC and a guest's vNIC.

A NIC's receive filter takes its own unicast address, broadcast, the multicast groups it joined, every multicast
when ``allmulti`` is on and everything when ``promiscuous`` is on. Frames it takes are *delivered* (kept in
``inbox`` when the network records); the rest are dropped as ``NOT_FOR_US``. A vNIC on an adapter may take more, as
its adapter sets: every unicast (``passthru``), and its own multicast frames that the adapter reflects to it past
the group filter (``private`` and ``passthru``, adapter.py).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, NamedTuple

from ..core import checks
from ..core.errors import AddressError
from ..core.frame import DEFAULT_MTU
from ..core.mac import MACAddress, MACLike
from ..core.reasons import DropReason, Verdict
from .decision import Decision, Node
from .port import STATE_VERSION, Port
from .sriov import VFControls

_DELIVERED: Final = Decision((), Verdict.DELIVERED)
#: What a NIC's ``handle_frame`` returns for a frame its filter takes (the same object every time).
TAKEN: Final = _DELIVERED
_NOT_FOR_US: Final = Decision((), DropReason.NOT_FOR_US)
_BROADCAST: Final = b"\xff" * 6

#: Groups Linux puts every interface in once it is up: IPv4 all-hosts and IPv6 all-nodes (measured: members
#: even with IPv6 disabled).
DEFAULT_GROUPS: Final = (bytes.fromhex("01005e000001"), bytes.fromhex("333300000001"))


class Delivery(NamedTuple):
    """A frame a NIC accepted."""

    time_ns: int
    frame_id: int
    frame: bytes


class NIC(Node):
    """An ordinary NIC: one port named ``<host>.<ifname>``, a MAC and a receive filter."""

    kind = "nic"

    def __init__(self, host: object, mac: MACLike, ifname: object = "eth0", *, mtu: object = DEFAULT_MTU) -> None:
        self.name = checks.text(host, f"{type(self).__name__}: host")
        self.ifname = checks.text(ifname, f"{type(self).__name__} {self.name}: ifname")
        self.mac = MACAddress(mac)
        self._mac = self.mac.packed
        self.port = Port(self, self.ifname, mtu=checks.integer(mtu, f"{self.name}.{self.ifname}: mtu"))
        self.groups: set[bytes] = set(DEFAULT_GROUPS)
        self.promiscuous = False
        self.takes_all_unicast = False  # a passthru vNIC: macvlan hands it every unicast as PACKET_HOST
        # a private or passthru vNIC: macvlan hands it its own multicast, hairpinned back, past its filter
        self.takes_own_multicast = False
        self.allmulti = False
        self.inbox: deque[Delivery] = deque()  # a network with an inbox_limit keeps the last that many
        self._stack: Any = None

    @property
    def stack(self) -> Any:
        """A guest stack's driver (stackdriver.py), which the datapath hands what is delivered; None: no stack."""
        return self._stack

    @stack.setter
    def stack(self, driver: Any) -> None:
        self._stack = driver
        STATE_VERSION.value += 1

    @property
    def full_name(self) -> str:
        """``host.ifname`` (``h1.eth0``, ``vm1.eth0``)."""
        return self.port.full_name

    def set_mac(self, mac: MACLike) -> None:
        """Change the NIC's MAC (``ip link set DEV address MAC``)."""
        self.mac = MACAddress(mac)
        self._mac = self.mac.packed

    def join(self, group: MACLike) -> None:
        """Accept frames sent to the multicast MAC ``group`` (like ``ip maddr add``)."""
        address = MACAddress(group)
        if not address.is_multicast:
            raise AddressError(f"{self.full_name}: {address} is not a multicast address")
        self.groups.add(address.packed)

    def leave(self, group: MACLike) -> None:
        """Stop accepting frames sent to the multicast MAC ``group`` (``ip maddr del``)."""
        self.groups.discard(MACAddress(group).packed)

    def accepts(self, dst: bytes) -> bool:
        """The receive filter."""
        if dst == self._mac or self.promiscuous:
            return True
        if dst[0] & 1:
            return dst == _BROADCAST or self.allmulti or dst in self.groups
        return self.takes_all_unicast

    def handle_frame(self, port: Port, frame: bytes, now: int) -> Decision:
        """Deliver ``frame`` to this NIC's stack if the filter takes it (the network fills ``inbox``)."""
        if frame.startswith(self._mac):  # the common case first: no slice, no call to accepts()
            return _DELIVERED
        if frame.startswith(_BROADCAST):  # every filter takes it (a flood's copies: no slice either)
            return _DELIVERED
        dst = frame[0:6]
        if self.accepts(dst):
            return _DELIVERED
        if self.takes_own_multicast and dst[0] & 1 and frame[6:12] == self._mac:  # the adapter reflected it
            return _DELIVERED
        return _NOT_FOR_US

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.full_name} {self.mac}>"


class VNIC(NIC):
    """A guest's virtual NIC on a physical adapter (a macvlan) or a host bridge (a tap/vif).

    ``mode`` is the macvlan mode this vNIC has on its adapter (None until attached; unused on a host bridge);
    ``vf`` its SR-IOV controls (``sriov.py``), which the adapter applies; on a host bridge only ``vf.vlan`` counts.
    ``lower_vid``: the host VLAN interface (``<hypervisor>.<vid>``) it sits on, as a macvlan on ``eth0.<vid>``.
    """

    kind = "vnic"

    def __init__(self, vm: object, mac: MACLike, ifname: object = "eth0", *, mtu: object = DEFAULT_MTU,
                 vf: object = None) -> None:
        super().__init__(vm, mac, ifname, mtu=mtu)
        self.mode: str | None = None
        self.hypervisor: str | None = None
        self.lower_vid = 0  # the VID of the host VLAN interface it is stacked on (a macvlan on eth0.N); 0: none
        self.vf = checks.optional_instance(vf, VFControls, f"{self.full_name}: vf") or VFControls()


def silent_receiver(out: Port) -> Port | None:
    """Where a copy that ``out`` transmits arrives, if all it would leave there is counts: over an internal wire,
    with no tap at either end, to a plain NIC or vNIC that is up, has carrier, and has no I/O model and no stack.
    None otherwise. (Whether its filter takes the frame, and its MTU, are for the caller to check.)"""
    wire = out.peer
    if isinstance(wire, Port) and not out.tx_taps:
        node = wire.node
        if (wire.up and wire.carrier and not wire.rx_taps and wire.io is None
                and (type(node) is VNIC or type(node) is NIC)  # (not a subclass with rules of its own)
                and node.stack is None):
            return wire
    return None
