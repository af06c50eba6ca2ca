"""The bench traffic: 60-byte Ether/IPv4/UDP frames between endpoints, built once with Scapy and readdressed in bytes.

Frame ``i`` goes from endpoint ``src = i % n`` to ``(src + 1 + (i // n) % (n - 1)) % n``, one every microsecond of
virtual time (nothing queues); before it, every endpoint announces itself with a broadcast, so the switches know
every MAC and no measured frame is flooded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

FRAME_GAP_NS = 1_000
FRAME_SIZE = 60
UDP_PORTS = (49152, 9)  # source, destination (discard)


@dataclass(frozen=True)
class Endpoint:
    """A NIC or vNIC that sends and receives bench traffic."""

    name: str
    mac: bytes
    ip: bytes


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_template() -> bytes:
    """One 60-byte Ether/IPv4/UDP frame built by Scapy, every field explicit; ``patch`` readdresses it."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    headers = 14 + 20 + 8
    packet = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x0800)
              / IP(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=0, flags=0)
              / UDP(sport=UDP_PORTS[0], dport=UDP_PORTS[1]) / Raw(bytes(FRAME_SIZE - headers)))
    return bytes(packet)


def patch(template: bytes, src: Endpoint, dst_mac: bytes, dst_ip: bytes) -> bytes:
    """``template`` with new MACs and IPs, its IPv4 and UDP checksums recomputed (no Scapy per frame)."""
    ip = bytearray(template[14:34])
    ip[12:16], ip[16:20], ip[10:12] = src.ip, dst_ip, b"\0\0"
    ip[10:12] = _checksum(bytes(ip)).to_bytes(2, "big")
    udp = bytearray(template[34:])
    udp[6:8] = b"\0\0"
    pseudo = src.ip + dst_ip + b"\0\x11" + len(udp).to_bytes(2, "big")
    udp[6:8] = (_checksum(pseudo + bytes(udp)) or 0xFFFF).to_bytes(2, "big")
    return dst_mac + src.mac + template[12:14] + bytes(ip) + bytes(udp)


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
    cycle = [(endpoints[i % n].name, table[i % n][destination(i, n)]) for i in range(n * (n - 1))]
    period = len(cycle)  # the pattern repeats after every ordered pair
    for i in range(frames):
        name, frame = cycle[i % period]
        yield start_ns + i * FRAME_GAP_NS, name, frame


def announcements(endpoints: Sequence[Endpoint]) -> Iterator[tuple[int, str, bytes]]:
    """One broadcast per endpoint, 1 µs apart: the switches learn every MAC before the measured stream."""
    template = udp_template()
    for k, e in enumerate(endpoints):
        yield k * FRAME_GAP_NS, e.name, patch(template, e, b"\xff" * 6, b"\xff" * 4)
