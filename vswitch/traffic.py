"""Frames built with Scapy at the edge of the emulator, every field explicit.

Scapy consults the host (interfaces, routes, ARP) when an address is missing, so every builder here sets all
addresses itself and returns ``bytes``. Builders run once per scenario action, never per hop.
"""

from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from .mac import MACAddress

DEFAULT_ETHERTYPE = 0x88B5  # IEEE 802 local experimental ethertype: nobody's protocol


def ethernet_frame(src: MACAddress, dst: MACAddress, *, ethertype: int = DEFAULT_ETHERTYPE,
                   payload: bytes = b"", size: int | None = None) -> bytes:
    """An Ethernet II frame; ``size`` pads the payload with zeros to that many bytes in all (no FCS)."""
    frame = bytes(Ether(src=str(src), dst=str(dst), type=ethertype) / Raw(payload))
    if size is not None and size > len(frame):
        frame += bytes(size - len(frame))
    return frame


def udp_frame(src: MACAddress, dst: MACAddress, *, src_ip: str, dst_ip: str, sport: int, dport: int,
              payload: bytes = b"", ttl: int = 64, size: int | None = None) -> bytes:
    """Ether/IPv4/UDP with correct checksums; ``size`` grows the UDP payload to reach that frame size."""
    if size is not None:
        header = 14 + 20 + 8
        payload = payload + bytes(max(0, size - header - len(payload)))
    packet = (Ether(src=str(src), dst=str(dst), type=0x0800)
              / IP(src=src_ip, dst=dst_ip, ttl=ttl, id=0, flags=0)
              / UDP(sport=sport, dport=dport) / Raw(payload))
    return bytes(packet)
