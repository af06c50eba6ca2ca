"""The bench traffic: 60-byte Ether/IPv4/UDP frames between endpoints, built once with Scapy and readdressed in bytes.

Frame ``i`` goes from endpoint ``src = i % n`` to ``(src + 1 + (i // n) % (n - 1)) % n``, one every microsecond of
virtual time (nothing queues); before it, every endpoint announces itself with a broadcast, so the switches know
every MAC and no measured frame is flooded.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..core.frame import ETH_DST, ETH_SRC
from ..core.mac import MACAddress
from ..guests.headers import IP_DST, IP_PAYLOAD, IP_SRC, UDP_CHECKSUM
from ..guests.inet import set_ip_checksum, udp_checksum
from ..net.network import Network
from ..topology.spec import TopologySpec

FRAME_GAP_NS = 1_000
FRAME_SIZE = 60
UDP_PORTS = (49152, 9)  # source, destination (discard)


@dataclass(frozen=True)
class Endpoint:
    """A NIC or vNIC that sends and receives bench traffic."""

    name: str
    mac: bytes
    ip: bytes


def _natural(name: str) -> list:
    """Sort key putting ``h2`` before ``h10``."""
    return [int(part) if k % 2 else part for k, part in enumerate(re.split(r"(\d+)", name))]


def endpoint_names(spec: TopologySpec) -> list[str]:
    """Every host NIC (``h1``, or ``h2.eth1`` on a host with several) and VM vNIC (``vm1``) of ``spec``, sorted."""
    names = [host.name if len(host.nics) == 1 else f"{host.name}.{nic.name}" for host in spec.hosts
             for nic in host.nics]
    names += [vm.name for hv in spec.hypervisors for vm in hv.vms]
    return sorted(names, key=_natural)


def _endpoint(net: Network, name: str, index: int) -> Endpoint:
    return Endpoint(name, net.nic(name).mac.packed, bytes((10, 0, index // 250, index % 250 + 1)))


def endpoints_of(net: Network, names: Sequence[str]) -> list[Endpoint]:
    """Endpoints for the named interfaces of a built network, with IPs 10.0.x.y in order."""
    return [_endpoint(net, name, k) for k, name in enumerate(names)]


def udp_template() -> bytes:
    """One 60-byte Ether/IPv4/UDP frame built by Scapy, every field explicit; ``patch`` readdresses it."""
    from ..guests.traffic import udp_frame  # Scapy: loaded only when a bench runs

    return udp_frame(MACAddress("02:00:00:00:00:01"), MACAddress("02:00:00:00:00:02"), src_ip="10.0.0.1",
                     dst_ip="10.0.0.2", sport=UDP_PORTS[0], dport=UDP_PORTS[1], size=FRAME_SIZE)


def patch(template: bytes, src: Endpoint, dst_mac: bytes, dst_ip: bytes) -> bytes:
    """``template`` with new MACs and IPs, its IPv4 and UDP checksums recomputed (no Scapy per frame)."""
    frame = bytearray(template)
    frame[ETH_DST], frame[ETH_SRC], frame[IP_SRC], frame[IP_DST] = dst_mac, src.mac, src.ip, dst_ip
    set_ip_checksum(frame)
    frame[UDP_CHECKSUM] = b"\0\0"
    frame[UDP_CHECKSUM] = udp_checksum(src.ip, dst_ip, frame[IP_PAYLOAD:]).to_bytes(2, "big")
    return bytes(frame)


def pair_frames(endpoints: Sequence[Endpoint]) -> list[list[bytes]]:
    """``frames[s][d]``: the frame from endpoint ``s`` to endpoint ``d``."""
    template = udp_template()
    return [[patch(template, s, d.mac, d.ip) for d in endpoints] for s in endpoints]


def destination(i: int, n: int) -> int:
    """Who frame ``i`` goes to, among ``n`` endpoints: every ordered pair in turn."""
    src = i % n
    return (src + 1 + (i // n) % (n - 1)) % n


def traffic(endpoints: Sequence[Endpoint], frames: int, start_ns: int) -> Iterator[tuple[int, str, bytes]]:
    """The bench stream: ``(time_ns, interface, frame)`` for frames ``0..frames-1``, built lazily."""
    n = len(endpoints)
    table = pair_frames(endpoints)
    period = range(n * (n - 1))  # the pattern repeats after every ordered pair
    # Iterators of the standard library: the items are made in C, so the bench's own share of a frame is small.
    times = range(start_ns, start_ns + frames * FRAME_GAP_NS, FRAME_GAP_NS)  # ends the stream (no islice)
    names = itertools.cycle([endpoints[i % n].name for i in period])
    pairs = itertools.cycle([table[i % n][destination(i, n)] for i in period])
    return zip(times, names, pairs)


def announcements(endpoints: Sequence[Endpoint]) -> Iterator[tuple[int, str, bytes]]:
    """One broadcast per endpoint, 1 µs apart: the switches learn every MAC before the measured stream."""
    template = udp_template()
    for k, e in enumerate(endpoints):
        yield k * FRAME_GAP_NS, e.name, patch(template, e, b"\xff" * 6, b"\xff" * 4)
