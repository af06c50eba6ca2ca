"""Frames built with Scapy at the edge of the emulator, every field explicit.

Scapy consults the host (interfaces, routes, ARP) when an address is missing, and the system's resolver when an
IPv4 address is not a literal, so every builder here sets all addresses itself, checks each IPv4 address is a
literal (``inet.address_text``: ``AddressError`` otherwise) and returns ``bytes``. Builders run once per scenario
action, never per hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Union, cast

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw, bind_bottom_up

from ..core.frame import ETH_SRC, MIN_FRAME_LEN
from ..core.mac import BROADCAST, MACAddress
from .headers import (ARP_SHA, ARP_SPA, ETH_P_ARP, ETH_P_IP, ETH_P_RARP, ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST,
                      ICMP_PORT_UNREACH, IP_SRC, IP_TTL, IPPROTO_ICMP, UDP_DATA)
from .inet import address_text, set_ip_checksum

DEFAULT_ETHERTYPE = 0x88B5  # IEEE 802 local experimental ethertype: nobody's protocol
ZERO_MAC = "00:00:00:00:00:00"
ARP_REQUEST, ARP_REPLY, RARP_REQUEST = 1, 2, 3
IPv4Like = Union[IPv4Address, str]  # a literal such as "192.0.2.1": never a name

# Scapy dissects ARP only for ethertype 0x0806; RARP (0x8035, QEMU's migration announce) has the same layout.
# Bottom-up only: building Ether()/ARP() keeps choosing 0x0806.
bind_bottom_up(Ether, ARP, type=ETH_P_RARP)


@dataclass(frozen=True)
class UdpFields:
    """The IPv4 and UDP fields of a ``send`` or ``stream`` frame that gives ``udp`` (addresses are literals)."""

    src_ip: str
    dst_ip: str
    sport: int = 1024
    dport: int = 9


def ethernet_frame(src: MACAddress, dst: MACAddress, *, ethertype: int = DEFAULT_ETHERTYPE,
                   payload: bytes = b"", size: int | None = None) -> bytes:
    """An Ethernet II frame; ``size`` pads the payload with zeros to that many bytes in all (no FCS)."""
    frame = bytes(Ether(src=str(src), dst=str(dst), type=ethertype) / Raw(payload))
    if size is not None and size > len(frame):
        frame += bytes(size - len(frame))
    return frame


def udp_frame(src: MACAddress | str, dst: MACAddress | str, *, src_ip: IPv4Like, dst_ip: IPv4Like, sport: int,
              dport: int, payload: bytes = b"", ttl: int = 64, size: int | None = None) -> bytes:
    """Ether/IPv4/UDP with correct checksums; ``size`` grows the UDP payload to reach that frame size."""
    if size is not None:
        payload = payload + bytes(max(0, size - UDP_DATA - len(payload)))
    packet = (Ether(src=str(src), dst=str(dst), type=ETH_P_IP)
              / IP(src=address_text(src_ip), dst=address_text(dst_ip), ttl=ttl, id=0, flags=0)
              / UDP(sport=sport, dport=dport) / Raw(payload))
    return bytes(packet)


def arp_frame(*, op: int, src: MACAddress | str, dst: MACAddress | str, sender_mac: MACAddress | str,
              sender_ip: IPv4Like, target_mac: MACAddress | str = ZERO_MAC, target_ip: IPv4Like = "0.0.0.0",
              ethertype: int = ETH_P_ARP) -> bytes:
    """Ether/ARP for IPv4 over Ethernet, every field given (Scapy would otherwise ask this machine's routes)."""
    return bytes(Ether(src=str(src), dst=str(dst), type=ethertype)
                 / ARP(hwtype=1, ptype=ETH_P_IP, hwlen=6, plen=4, op=op, hwsrc=str(sender_mac),
                       psrc=address_text(sender_ip), hwdst=str(target_mac), pdst=address_text(target_ip)))


def rarp_announce(mac: MACAddress | str) -> bytes:
    """QEMU's self-announce after a migration (``announce_self_create``): a broadcast RARP "reverse request"
    with the guest's MAC as sender and target and no IP addresses, padded to 60 bytes."""
    frame = arp_frame(op=RARP_REQUEST, src=mac, dst="ff:ff:ff:ff:ff:ff", sender_mac=mac, sender_ip="0.0.0.0",
                      target_mac=mac, target_ip="0.0.0.0", ethertype=ETH_P_RARP)
    return frame + bytes(MIN_FRAME_LEN - len(frame))


def icmp_echo_frame(src: MACAddress | str, dst: MACAddress | str, *, src_ip: IPv4Like, dst_ip: IPv4Like, ident: int,
                    seq: int, payload: bytes = b"", ttl: int = 64, ip_id: int = 0) -> bytes:
    """Ether/IPv4/ICMP echo request (don't-fragment set, as Linux ping sends it) with correct checksums."""
    return bytes(Ether(src=str(src), dst=str(dst), type=ETH_P_IP)
                 / IP(version=4, ihl=5, tos=0, id=ip_id, flags="DF", frag=0, ttl=ttl, proto=IPPROTO_ICMP,
                      src=address_text(src_ip), dst=address_text(dst_ip))
                 / ICMP(type=ICMP_ECHO_REQUEST, code=0, id=ident, seq=seq) / Raw(payload))


def icmp_error_header(src: MACAddress | str, dst: MACAddress | str, *, src_ip: IPv4Like, dst_ip: IPv4Like,
                      icmp_type: int, code: int, ttl: int = 64) -> bytes:
    """Ether/IPv4/ICMP error without its quoted datagram: a template the stack completes (and re-checksums)."""
    return bytes(Ether(src=str(src), dst=str(dst), type=ETH_P_IP)
                 / IP(version=4, ihl=5, tos=0xC0, id=0, flags=0, frag=0, ttl=ttl, proto=IPPROTO_ICMP,
                      src=address_text(src_ip), dst=address_text(dst_ip))
                 / ICMP(type=icmp_type, code=code, unused=0))


#: ttl -> a stack's three templates with a zero MAC and address (``stack_templates``), each built once by Scapy.
_BLANK_TEMPLATES: dict[int, tuple[bytes, bytes, bytes]] = {}


def stack_templates(mac: bytes, ip: bytes, ttl: int) -> tuple[bytes, bytes, bytes]:
    """A guest stack's ARP request, ARP reply and ICMP port-unreachable header from ``mac`` and ``ip`` (4 bytes),
    the same bytes as ``arp_frame`` and ``icmp_error_header`` give. Scapy builds the blank ones once per ``ttl``:
    building them for every stack took about 5 ms a VM, most of validating a file of thousands of guests."""
    blank = _BLANK_TEMPLATES.get(ttl)
    if blank is None:
        blank = _BLANK_TEMPLATES[ttl] = (
            arp_frame(op=ARP_REQUEST, src=ZERO_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=ZERO_MAC, sender_ip="0.0.0.0"),
            arp_frame(op=ARP_REPLY, src=ZERO_MAC, dst=ZERO_MAC, sender_mac=ZERO_MAC, sender_ip="0.0.0.0"),
            icmp_error_header(ZERO_MAC, ZERO_MAC, src_ip="0.0.0.0", dst_ip="0.0.0.0", icmp_type=ICMP_DEST_UNREACH,
                              code=ICMP_PORT_UNREACH, ttl=ttl))
    request, reply, unreachable = (bytearray(frame) for frame in blank)
    for arp in (request, reply):
        arp[ETH_SRC] = arp[ARP_SHA] = mac
        arp[ARP_SPA] = ip
    unreachable[ETH_SRC] = mac
    unreachable[IP_SRC] = ip
    unreachable[IP_TTL] = ttl
    set_ip_checksum(unreachable)
    return bytes(request), bytes(reply), bytes(unreachable)


def action_frame(sender_mac: MACAddress, to_mac: MACAddress | None, *, dst: MACAddress | str | None,
                 src: MACAddress | None, ethertype: int | None, size: int | None, udp: UdpFields | None,
                 payload: bytes = b"") -> bytes:
    """The untagged frame a ``send`` or ``stream`` action describes: to ``to_mac`` (the ``to`` interface's MAC) or
    ``dst`` (a MAC or "broadcast"), from ``src`` or the sender's MAC, UDP when the action has ``udp``, else
    Ethernet II of ``ethertype`` (None: ``DEFAULT_ETHERTYPE``)."""
    destination = cast(MACAddress, to_mac if to_mac is not None else BROADCAST if dst == "broadcast" else dst)
    source = src or sender_mac
    if udp is not None:
        return udp_frame(source, destination, src_ip=udp.src_ip, dst_ip=udp.dst_ip, sport=udp.sport,
                         dport=udp.dport, payload=payload, size=size)
    return ethernet_frame(source, destination, ethertype=ethertype or DEFAULT_ETHERTYPE, payload=payload, size=size)
