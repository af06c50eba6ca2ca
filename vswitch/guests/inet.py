"""IPv4 on ``bytes``: addresses as topology files write them, and the Internet checksum.

Guest stacks parse and patch ARP, IPv4, ICMP and UDP with these helpers and the field names of ``headers.py``,
never with Scapy (which builds the templates, in ``traffic.py``). Addresses are ``ipaddress.IPv4Address`` values
at the API and 4 raw bytes in frames; only literals are addresses (``address_value``): no name is ever looked up.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import Final

from ..core.errors import AddressError
from .headers import IP_CHECKSUM, IP_HEADER, IPPROTO_UDP


def interface_value(value: object) -> IPv4Interface:
    """``192.0.2.10/24`` as a topology file writes a guest's address: a usable host address with its prefix.

    Only a literal is taken (``address_value`` checks the address part); an ``IPv4Interface`` passes the same
    host checks. Raises ``AddressError`` (a ``ValueError``) saying how to write it.
    """
    if isinstance(value, IPv4Interface):
        interface = value
    elif not isinstance(value, str):
        raise AddressError(f"expected an IPv4 address with its prefix as text, e.g. ip: 192.0.2.10/24, got {value!r}")
    else:
        address, slash, _ = value.partition("/")
        try:
            IPv4Address(address)
        except ValueError:
            raise AddressError(f"invalid IPv4 interface {value!r}: {_how_to_write(address, prefix=True)}") from None
        if not slash:
            raise AddressError(f"{value!r} has no prefix length: write it as {value}/24 (or the subnet's length)")
        try:
            interface = IPv4Interface(value)
        except ValueError as exc:
            raise AddressError(f"invalid IPv4 interface {value!r}: {exc} (e.g. 192.0.2.10/24)") from None
    host, network = interface.ip, interface.network
    if host.is_multicast or host.is_unspecified or host.is_loopback or host == IPv4Address(
            "255.255.255.255"):
        raise AddressError(f"{host} cannot be a host's address (multicast, loopback or unspecified)")
    if network.prefixlen < 31 and host in (network.network_address, network.broadcast_address):
        which = "network" if host == network.network_address else "broadcast"
        raise AddressError(f"{host} is the {which} address of {network}: pick a host address")
    return interface


def address_value(value: object) -> IPv4Address:
    """A bare IPv4 address written as four decimal numbers (``192.0.2.20``), or an ``IPv4Address``.

    Nothing else is taken for an address: a host name is never looked up, a prefix or a range never narrowed to
    one of its addresses. Raises ``AddressError`` (a ``ValueError``) saying how to write it.
    """
    if isinstance(value, IPv4Address):
        return value
    if not isinstance(value, str):
        raise AddressError(f"expected an IPv4 address as text, e.g. 192.0.2.20, got {value!r}")
    try:
        return IPv4Address(value)
    except ValueError:
        raise AddressError(f"invalid IPv4 address {value!r}: {_how_to_write(value)}") from None


def address_text(value: object) -> str:
    """``address_value`` as text, for the frame builders (Scapy is given only literals it need not resolve)."""
    return str(address_value(value))


def _how_to_write(text: str, prefix: bool = False) -> str:
    """Why ``text`` is not an IPv4 address literal, and how to write one."""
    example = "192.0.2.10/24" if prefix else "192.0.2.20"
    if not text:
        return f"it is empty: write four numbers from 0 to 255, e.g. {example}"
    if "/" in text and not prefix:
        return f"a prefix is not one address: write a single address, e.g. {example}"
    if text[0].isalpha():
        return f"vswitch does not look up host names: write the address itself, e.g. {example}"
    if "-" in text:
        return f"ranges are not supported: write a single address, e.g. {example}"
    return f"write four decimal numbers from 0 to 255 separated by dots, e.g. {example}"


def looks_like_address(text: str) -> bool:
    """True if ``text`` is written as a dotted-quad address rather than an interface name."""
    return bool(text) and all(part.isdigit() for part in text.split(".")) and text.count(".") == 3


#: ``int.from_bytes``, bound once: compiled code would otherwise look the class method up on ``int`` and bind it
#: at every call (callgrind: about 1,300 instructions each, a dozen calls a datagram).
_FROM_BYTES: Final = int.from_bytes


def number(data: bytes | bytearray) -> int:
    """``data`` as a big-endian unsigned number (``int.from_bytes(data, "big")``)."""
    return _FROM_BYTES(data, "big")


def u16(data: bytes, at: int) -> int:
    """The big-endian 16-bit field at ``data[at:at + 2]`` (two byte reads, no slice: the stack's per-frame
    reads of ports, lengths and identifiers)."""
    return data[at] << 8 | data[at + 1]


def word_sum(data: bytes | bytearray) -> int:
    """The sum of ``data``'s big-endian 16-bit words modulo 0xFFFF (an odd length padded with a zero byte).

    The buffer as one big-endian number is that sum modulo 0xFFFF (2**16 == 1 modulo 0xFFFF): one
    ``int.from_bytes`` and one remainder, no loop and no copy. 0 stands for both of one's complement's zeros
    (+0 for a buffer of zeros, -0 = 0xFFFF otherwise): ``checksum`` tells them apart.
    """
    value = number(data)
    return (value << 8 if len(data) & 1 else value) % 0xFFFF


def checksum(data: bytes | bytearray) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 16-bit one's complement of the one's complement sum."""
    total = word_sum(data)
    if total == 0 and any(data):
        total = 0xFFFF  # one's complement "negative zero": the sum of non-zero words is never +0
    return 0xFFFF - total


def pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """The IPv4 pseudo-header that UDP and TCP checksums cover."""
    return src + dst + bytes((0, protocol)) + length.to_bytes(2, "big")


def _udp_sum(src: bytes | bytearray, dst: bytes | bytearray, udp: bytes | bytearray) -> int:
    """``word_sum`` of the pseudo-header and the datagram, without building either: the pseudo-header's words are
    the two addresses, the protocol and the length."""
    value = number(udp)
    if len(udp) & 1:
        value <<= 8
    return (value + number(src) + number(dst) + IPPROTO_UDP + len(udp)) % 0xFFFF


def udp_checksum(src: bytes | bytearray, dst: bytes | bytearray, udp: bytes | bytearray) -> int:
    """UDP checksum of the datagram ``udp`` (its checksum field zeroed); 0 is sent as 0xFFFF (RFC 768).

    The pseudo-header (protocol 17) is never all zeros, so a sum of 0 is one's complement's negative zero."""
    return 0xFFFF - _udp_sum(src, dst, udp) or 0xFFFF


def udp_checksum_ok(src: bytes | bytearray, dst: bytes | bytearray, udp: bytes | bytearray) -> bool:
    """Whether the datagram ``udp`` (with a checksum, i.e. not 0) sums to one's complement zero with its
    pseudo-header: the receiver's check (RFC 1071), true exactly when its checksum is ``udp_checksum``'s."""
    return _udp_sum(src, dst, udp) == 0


def ip_header_ok(frame: bytes | bytearray) -> bool:
    """Whether the IPv4 header of ``frame`` (without options) has a correct checksum: its words sum to zero
    (the header is never all zeros: its first byte is 0x45)."""
    return number(frame[IP_HEADER]) % 0xFFFF == 0


def set_ip_checksum(frame: bytearray) -> None:
    """Recompute the checksum of ``frame``'s IPv4 header (without options, as every header the stack sends) in
    place."""
    frame[IP_CHECKSUM] = b"\0\0"
    total = number(frame[IP_HEADER]) % 0xFFFF  # never negative zero: the header is never zeros
    frame[IP_CHECKSUM] = ((0xFFFF - total) % 0xFFFF).to_bytes(2, "big")  # a sum of -0 has checksum 0


def update_checksum(old_checksum: int, old: bytes | bytearray, new: bytes | bytearray) -> int:
    """RFC 1624 incremental update: the checksum after 16-bit-aligned ``old`` bytes became ``new``.

    HC' = ~(~HC + ~m + m'), summed over the changed words; ``old`` and ``new`` have the same even length. The sum
    is taken modulo 0xFFFF as in ``word_sum`` (~m is 0xFFFF - m); only when every term is zero is it +0.
    """
    if old_checksum == 0xFFFF and not any(new) and old.count(0xFF) == len(old):
        return 0xFFFF  # every term zero: the sum is +0, not -0
    total = (0xFFFF - old_checksum - number(old) + number(new)) % 0xFFFF
    return 0xFFFF - total if total else 0
