"""IPv6 on ``bytes``: addresses as topology files write them, EUI-64 link-locals, solicited-node groups, the
field offsets of IPv6, ICMPv6 and UDP in an untagged frame, and the checksum over the IPv6 pseudo-header.

Addresses are ``ipaddress.IPv6Address`` values at the API and 16 raw bytes in frames. Only literals are addresses:
no name is ever looked up.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Interface
from typing import Final, Iterable, Union

from ..core.errors import AddressError
from .inet import address_value, checksum

ETH_P_IPV6: Final = 0x86DD
IPPROTO_HOPOPTS: Final = 0
IPPROTO_UDP6: Final = 17
IPPROTO_ICMPV6: Final = 58

# IPv6 header (RFC 8200) after the Ethernet header.
IP6: Final = 14
IP6_VERSION: Final = 14  # high nibble 6
IP6_PLEN: Final = slice(18, 20)
IP6_NEXT: Final = 20
IP6_HLIM: Final = 21
IP6_SRC: Final = slice(22, 38)
IP6_DST: Final = slice(38, 54)
IP6_PAYLOAD: Final = 54
IP6_HEADER_LEN: Final = 40

# ICMPv6 (RFC 4443) and UDP after a bare IPv6 header.
ICMP6_TYPE: Final = 54
ICMP6_CHECKSUM: Final = slice(56, 58)
ICMP6_ID: Final = slice(58, 60)
ICMP6_SEQ: Final = slice(60, 62)
ND_TARGET: Final = slice(62, 78)  # NS and NA (RFC 4861 4.3, 4.4)
ND_OPTIONS: Final = 78
UDP6_SPORT: Final = slice(54, 56)
UDP6_DPORT: Final = slice(56, 58)
UDP6_LEN: Final = slice(58, 60)
UDP6_CHECKSUM: Final = slice(60, 62)
UDP6_DATA: Final = 62
UDP6_SEQ: Final = slice(62, 66)

ICMP6_DEST_UNREACH: Final = 1
ICMP6_PORT_UNREACH: Final = 4  # code of ICMP6_DEST_UNREACH
ICMP6_ECHO_REQUEST: Final = 128
ICMP6_ECHO_REPLY: Final = 129
MLD2_REPORT: Final = 143
ND_NEIGHBOR_SOLICIT: Final = 135
ND_NEIGHBOR_ADVERT: Final = 136
ND_OPT_SOURCE_LL: Final = 1
ND_OPT_TARGET_LL: Final = 2
NA_ROUTER, NA_SOLICITED, NA_OVERRIDE = 0x80, 0x40, 0x20

ALL_NODES: Final = IPv6Address("ff02::1").packed
MLDV2_ROUTERS: Final = IPv6Address("ff02::16").packed
UNSPECIFIED: Final = bytes(16)
_LINK_LOCAL_PREFIX: Final = bytes.fromhex("fe80000000000000")
_SOLICITED_NODE_PREFIX: Final = int(IPv6Address("ff02::1:ff00:0"))
_CHECKSUM_IN_MESSAGE: Final = slice(2, 4)  # an ICMPv6 message's checksum, from the message's start

AnyAddress = Union[IPv4Address, IPv6Address]


def interface6_value(value: object) -> IPv6Interface:
    """``2001:db8::10/64`` as a topology file writes a guest's IPv6 address: a unicast address with its prefix.

    Raises ``AddressError`` (a ``ValueError``) saying how to write it.
    """
    if isinstance(value, IPv6Interface):
        interface = value
    elif not isinstance(value, str):
        raise AddressError(f"expected an IPv6 address with its prefix as text, e.g. 2001:db8::10/64, got {value!r}")
    else:
        address, slash, _ = value.partition("/")
        try:
            IPv6Address(address)
        except ValueError:
            raise AddressError(f"invalid IPv6 address {address!r}: write it as hexadecimal groups separated by "
                               "colons, with its prefix length, e.g. 2001:db8::10/64") from None
        if not slash:
            raise AddressError(f"{value!r} has no prefix length: write it as {value}/64 (or the subnet's length)")
        try:
            interface = IPv6Interface(value)
        except ValueError as exc:
            raise AddressError(f"invalid IPv6 interface {value!r}: {exc} (e.g. 2001:db8::10/64)") from None
    ip = interface.ip
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.ipv4_mapped is not None:
        raise AddressError(f"{ip} cannot be a host's address (multicast, loopback, unspecified or IPv4-mapped)")
    return interface


def any_address_value(value: object) -> AnyAddress:
    """An IPv4 address (``192.0.2.20``) or an IPv6 one (``2001:db8::20``), as text or as an address value."""
    if isinstance(value, IPv6Address):
        return value
    if isinstance(value, str) and ":" in value:
        try:
            return IPv6Address(value)
        except ValueError:
            raise AddressError(f"invalid IPv6 address {value!r}: write hexadecimal groups separated by colons, "
                               "e.g. 2001:db8::20 (no prefix, no zone)") from None
    return address_value(value)


def looks_like_ipv6(text: str) -> bool:
    """True if ``text`` is written as an IPv6 address (a colon: no interface name has one)."""
    return ":" in text


def eui64_link_local(mac: bytes) -> IPv6Address:
    """fe80::/64 with the modified EUI-64 interface identifier of ``mac`` (RFC 4291 2.5.1; Linux's
    ``addr_gen_mode eui64``): the universal/local bit flipped, ff:fe in the middle."""
    value = int.from_bytes(mac, "big")
    identifier = ((value >> 24) ^ 0x020000) << 40 | 0xFFFE << 24 | value & 0xFFFFFF
    return IPv6Address(_LINK_LOCAL_PREFIX + identifier.to_bytes(8, "big"))


def solicited_node(address: bytes) -> bytes:
    """ff02::1:ffXX:XXXX, the solicited-node group of ``address`` (RFC 4291 2.7.1)."""
    return (_SOLICITED_NODE_PREFIX | int.from_bytes(address, "big") & 0xFFFFFF).to_bytes(16, "big")


def multicast_mac(group: bytes) -> bytes:
    """The Ethernet address of an IPv6 multicast group: 33:33 and its last 32 bits (RFC 2464 7)."""
    return b"\x33\x33" + (int.from_bytes(group, "big") & 0xFFFFFFFF).to_bytes(4, "big")


def checksum6(src: bytes | bytearray, dst: bytes | bytearray, next_header: int, upper: bytes | bytearray) -> int:
    """The ICMPv6 or UDP checksum of ``upper`` (its checksum field zeroed) over the IPv6 pseudo-header (RFC 8200
    8.1); a UDP checksum of 0 is sent as 0xFFFF."""
    pseudo = bytes(src) + bytes(dst) + len(upper).to_bytes(4, "big") + bytes((0, 0, 0, next_header))
    value = checksum(pseudo + bytes(upper))
    if next_header == IPPROTO_UDP6 and value == 0:
        return 0xFFFF
    return value


def ipv6_frame(dst_mac: bytes, src_mac: bytes, src: bytes, dst: bytes, next_header: int, payload: bytes,
               hop_limit: int) -> bytearray:
    """An untagged Ethernet frame carrying one IPv6 packet (traffic class and flow label 0)."""
    return bytearray(dst_mac + src_mac + ETH_P_IPV6.to_bytes(2, "big") + b"\x60\0\0\0"
                     + len(payload).to_bytes(2, "big") + bytes((next_header, hop_limit)) + src + dst + payload)


def icmp6_frame(dst_mac: bytes, src_mac: bytes, src: bytes, dst: bytes, message: bytes, hop_limit: int) -> bytearray:
    """An ICMPv6 ``message`` (type, code, zero checksum, body) in a frame, its checksum filled in."""
    frame = ipv6_frame(dst_mac, src_mac, src, dst, IPPROTO_ICMPV6, message, hop_limit)
    frame[ICMP6_CHECKSUM] = checksum6(src, dst, IPPROTO_ICMPV6, message).to_bytes(2, "big")
    return frame


def set_icmp6_checksum(frame: bytearray) -> None:
    """Recompute the checksum of the ICMPv6 message right after ``frame``'s IPv6 header, in place."""
    frame[ICMP6_CHECKSUM] = b"\0\0"
    frame[ICMP6_CHECKSUM] = checksum6(frame[IP6_SRC], frame[IP6_DST], IPPROTO_ICMPV6,
                                      frame[IP6_PAYLOAD:]).to_bytes(2, "big")


def set_udp6_checksum(frame: bytearray) -> None:
    """Recompute the checksum of the UDP datagram right after ``frame``'s IPv6 header, in place."""
    frame[UDP6_CHECKSUM] = b"\0\0"
    frame[UDP6_CHECKSUM] = checksum6(frame[IP6_SRC], frame[IP6_DST], IPPROTO_UDP6,
                                     frame[IP6_PAYLOAD:]).to_bytes(2, "big")


def mld2_report(src_mac: bytes, src: bytes, groups: list[bytes], record_type: int) -> bytearray:
    """An MLDv2 report (RFC 3810 5.2) to ff02::16 with one record of ``record_type`` per group (no sources): hop
    limit 1 and a hop-by-hop header with the router alert option, as Linux sends it."""
    records = b"".join(bytes((record_type, 0, 0, 0)) + group for group in groups)
    message = bytearray((MLD2_REPORT, 0, 0, 0, 0, 0)) + len(groups).to_bytes(2, "big") + records
    message[_CHECKSUM_IN_MESSAGE] = checksum6(src, MLDV2_ROUTERS, IPPROTO_ICMPV6, message).to_bytes(2, "big")
    hop_by_hop = bytes((IPPROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0))  # router alert (MLD), then PadN of 2
    return ipv6_frame(multicast_mac(MLDV2_ROUTERS), src_mac, src, MLDV2_ROUTERS, IPPROTO_HOPOPTS,
                      hop_by_hop + bytes(message), 1)


def interfaces6(mac: bytes, addresses: Iterable[object], link_local: bool) -> list[IPv6Interface]:
    """An interface's IPv6 addresses: its EUI-64 link-local first (unless ``link_local`` is off), then
    ``addresses`` (checked by ``interface6_value``)."""
    own = [interface6_value(a) for a in addresses]
    return ([IPv6Interface(f"{eui64_link_local(mac)}/64")] if link_local else []) + own


def reach6(source: list[IPv6Interface], target: list[IPv6Interface]) -> IPv6Address | None:
    """The address of ``target`` that ``source`` pings when named by interface: its first address in a prefix
    of ``source`` (link-locals aside), else its link-local if both have one; None if it has neither."""
    networks = {i.network for i in source if not i.ip.is_link_local}
    shared = next((i.ip for i in target if not i.ip.is_link_local and i.network in networks), None)
    if shared is not None:
        return shared
    if any(i.ip.is_link_local for i in source):
        return next((i.ip for i in target if i.ip.is_link_local), None)
    return None


def session_family(family: str | None, source_ipv4: bool, target_ipv4: bool) -> str:
    """The family a ping or udp uses to reach an interface named in ``to``: ``family`` when written, else IPv4
    when both ends have an IPv4 address, else IPv6 (an IPv6-only end)."""
    if family is not None:
        return family
    return "ipv4" if source_ipv4 and target_ipv4 else "ipv6"
