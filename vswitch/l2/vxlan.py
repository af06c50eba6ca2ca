"""A VXLAN switch port's tunnel endpoint (VTEP): RFC 7348 encapsulation and the Linux ``vxlan`` device's FDB.

A switch port with ``vxlan:`` (docs/topology.md) is wired to a ``VxlanEndpoint``, a node of its own behind the
port (an internal wire, as an adapter's side of a vNIC: its drops count on the switch port). Every frame the switch
sends out of the port is *delivered* to the endpoint, which wraps it in the 8-byte VXLAN header and hands one
datagram per destination VTEP to its ``transport`` (``vswitch live``: a UDP socket; ``vswitch run``: none, the
datagrams are counted as sent into a tunnel with nobody at the far end). Frames unwrapped from arriving datagrams
are the endpoint's transmissions towards the switch.

Destinations follow the Linux vxlan driver (drivers/net/vxlan/vxlan_core.c): a unicast destination MAC learned
from an arriving datagram goes to the VTEP it came from (``vxlan_snoop``: the inner source MAC, the outer source
IP); broadcast, multicast and unknown unicast go to every configured remote, as the all-zero FDB entries that
``ip link add ... remote IP`` and ``bridge fdb append 00:00:00:00:00:00 ... dst IP`` make. Learned entries age out
after ``ageing_ns`` (the device's ``ageing``, 300 s by default). The endpoint's port has the tunnel's MTU, the
underlay's less the 50 bytes of outer Ethernet, IPv4, UDP and VXLAN headers, as Linux gives a vxlan device: the
switch drops a larger frame there (``oversize``), as the Linux bridge does before a vxlan port.

Only ``core`` is imported: the outer IPv4 and UDP headers are the socket's (the kernel's) business.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Final, Iterable, NamedTuple, Optional

from ..core.frame import DEFAULT_MTU
from ..core.reasons import Verdict
from .decision import Decision, Node
from .port import Port, wire_internal

VXLAN_PORT: Final = 4789  # IANA's, and the Linux device's dstport to ask for (its built-in default is 8472)
HEADER_LEN: Final = 8
#: Outer Ethernet (14), IPv4 (20), UDP (8) and VXLAN (8): what a vxlan device over IPv4 takes off its MTU.
OVERHEAD: Final = 14 + 20 + 8 + HEADER_LEN
MAX_VNI: Final = 2**24 - 1
DEFAULT_AGEING_NS: Final = 300 * 10**9
_I_FLAG: Final = 0x08  # "VNI valid"; the other flag bits and the reserved fields are ignored on receipt (RFC 7348)
_DELIVERED: Final = Decision((), Verdict.DELIVERED)

Transport = Callable[[str, bytes], bool]  # (remote VTEP's IPv4 address, UDP payload) -> sent (False: lost)


def header(vni: int) -> bytes:
    """The VXLAN header (RFC 7348 section 5): flags with I set, 24 reserved bits, the VNI, 8 reserved bits."""
    return bytes((_I_FLAG, 0, 0, 0)) + vni.to_bytes(3, "big") + b"\x00"


def encapsulate(vni: int, frame: bytes) -> bytes:
    """The UDP payload that carries ``frame`` in VNI ``vni``."""
    return header(vni) + frame


def decapsulate(payload: bytes) -> Optional[tuple[int, bytes]]:
    """(VNI, inner frame) of a VXLAN UDP payload; None when it is no VXLAN packet (too short for the header and an
    Ethernet header, or the I flag clear)."""
    if len(payload) < HEADER_LEN + 14 or not payload[0] & _I_FLAG:
        return None
    return int.from_bytes(payload[4:7], "big"), payload[HEADER_LEN:]


class Learned(NamedTuple):
    remote: str
    updated_ns: int


class RemoteTable:
    """The vxlan device's FDB: MAC -> remote VTEP learned from arriving datagrams, and the default remotes (the
    all-zero entries) that broadcast, multicast and unknown unicast go to."""

    def __init__(self, remotes: Iterable[str], ageing_ns: int = DEFAULT_AGEING_NS) -> None:
        self.remotes: tuple[str, ...] = tuple(remotes)
        self.ageing_ns = ageing_ns
        self.learned: dict[bytes, Learned] = {}
        self.moves = 0

    def learn(self, mac: bytes, remote: str, now: int) -> None:
        """``mac`` (an inner source address) sits behind ``remote``; multicast and zero sources are not learned."""
        if mac[0] & 1 or mac == b"\x00" * 6:
            return
        old = self.learned.get(mac)
        if old is not None and old.remote != remote:
            self.moves += 1
        self.learned[mac] = Learned(remote, now)

    def lookup(self, mac: bytes, now: int) -> Optional[str]:
        """The remote ``mac`` was learned behind, if the entry has not aged out."""
        entry = self.learned.get(mac)
        if entry is None:
            return None
        if now - entry.updated_ns >= self.ageing_ns:
            del self.learned[mac]
            return None
        return entry.remote

    def destinations(self, frame: bytes, now: int) -> tuple[str, ...]:
        """Where ``frame`` goes: its destination's learned remote, or every default remote (BUM)."""
        dst = frame[0:6]
        if not dst[0] & 1:
            remote = self.lookup(dst, now)
            if remote is not None:
                return (remote,)
        return self.remotes

    def rows(self, now: int) -> list[tuple[str, str, int]]:
        """(MAC, remote, age in ns) of the live learned entries, by MAC (``bridge fdb show dev vxlan0``)."""
        live = [(mac, self.lookup(mac, now)) for mac in sorted(self.learned)]
        return [(":".join(f"{b:02x}" for b in mac), remote, now - self.learned[mac].updated_ns)
                for mac, remote in live if remote is not None]


class VxlanEndpoint(Node):
    """The VTEP behind a switch port: frames delivered to it leave as datagrams, datagrams arrive as its frames."""

    kind = "vxlan"

    def __init__(self, name: str, vni: int, remotes: Iterable[str], *, underlay_mtu: int = DEFAULT_MTU,
                 ageing_ns: int = DEFAULT_AGEING_NS) -> None:
        self.name = name  # the switch port's full name: sw1.p9
        self.vni = vni
        self.port = Port(self, "vxlan", mtu=underlay_mtu - OVERHEAD, internal=True)
        self.table = RemoteTable(remotes, ageing_ns)
        self.transport: Optional[Transport] = None  # None: a tunnel with no far end (vswitch run)
        self.inbox: deque[Any] = deque()  # what the datapath delivered, when the network records
        self.stack = self  # the datapath hands a node's stack what it delivered: here, to the tunnel
        self.datagrams_sent = 0  # handed to the transport, or counted as sent into a tunnel with no far end
        self.datagrams_lost = 0  # the transport could not send them (no route to the remote, a full buffer)
        self.datagrams_received = 0
        self.ignored: dict[str, int] = {"not_vxlan": 0, "other_vni": 0}

    def handle_frame(self, port: Port, frame: bytes, now: int) -> Decision:
        """Every frame the switch sends out of the port is for the tunnel (the port's MTU was checked already)."""
        return _DELIVERED

    # -- the datapath's calls on a stack ----------------------------------------------------------------
    def receive(self, frame: bytes, now: int) -> Iterable[tuple[int, bytes]]:
        """Encapsulate ``frame`` once per destination VTEP and hand the datagrams to the transport."""
        payload = encapsulate(self.vni, frame)
        for remote in self.table.destinations(frame, now):
            if self.transport is None or self.transport(remote, payload):
                self.datagrams_sent += 1
            else:
                self.datagrams_lost += 1
        return ()

    def link_up(self, now: int) -> Iterable[tuple[int, bytes]]:
        return ()

    # -- datagrams from the underlay ------------------------------------------------------------------
    def arrived(self, payload: bytes, source: str, now: int) -> Optional[bytes]:
        """The inner frame of a datagram from VTEP ``source`` (its source MAC learned behind ``source``), to send
        towards the switch; None, counted in ``ignored``, for a datagram that is no VXLAN or of another VNI."""
        unwrapped = decapsulate(payload)
        if unwrapped is None:
            self.ignored["not_vxlan"] += 1
            return None
        vni, frame = unwrapped
        if vni != self.vni:
            self.ignored["other_vni"] += 1
            return None
        self.datagrams_received += 1
        self.table.learn(frame[6:12], source, now)
        return frame

    def row(self, now: int) -> dict[str, Any]:
        """The report's row: the tunnel, the datagrams each way, what was ignored, the remotes learned per MAC."""
        ignored = ", ".join(f"{why}={n}" for why, n in sorted(self.ignored.items()) if n)
        learned = ", ".join(f"{mac} at {remote}" for mac, remote, _ in self.table.rows(now))
        return {"port": self.name, "vni": self.vni, "remotes": ", ".join(self.table.remotes),
                "datagrams out": self.datagrams_sent, "lost": self.datagrams_lost, "in": self.datagrams_received,
                "ignored": ignored or "-", "learned (MAC at VTEP)": learned or "-"}

    def __str__(self) -> str:
        return f"VXLAN VNI {self.vni} to {', '.join(self.table.remotes)}"

    def __repr__(self) -> str:
        return f"<VxlanEndpoint {self.name}: {self}>"


def attach_tunnel(port: Port, endpoint: VxlanEndpoint) -> None:
    """Make switch ``port`` a VXLAN port: wired to ``endpoint``, with the tunnel's MTU (Linux's vxlan device's)."""
    port.mtu = endpoint.port.mtu
    wire_internal(endpoint.port, port)


def endpoints(switches: Iterable[Any]) -> list[VxlanEndpoint]:
    """The tunnel endpoints behind the ports of ``switches`` (a network's ``switches.values()``), in port order."""
    found = []
    for switch in switches:
        for port in switch.ports.values():
            peer = port.peer
            if isinstance(peer, Port) and isinstance(peer.node, VxlanEndpoint):
                found.append(peer.node)
    return found
