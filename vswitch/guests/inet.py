"""IPv4 on ``bytes``: addresses as topology files write them, and the Internet checksum.

Guest stacks parse and patch ARP, IPv4, ICMP and UDP with these helpers and the field names of ``headers.py``,
never with Scapy (which builds the templates, in ``traffic.py``). Addresses are ``ipaddress.IPv4Address`` values
at the API and 4 raw bytes in frames; only literals are addresses (``address_value``): no name is ever looked up.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

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
    address, network = interface.ip, interface.network
    if address.is_multicast or address.is_unspecified or address.is_loopback or address == IPv4Address(
            "255.255.255.255"):
        raise AddressError(f"{address} cannot be a host's address (multicast, loopback or unspecified)")
    if network.prefixlen < 31 and address in (network.network_address, network.broadcast_address):
        which = "network" if address == network.network_address else "broadcast"
        raise AddressError(f"{address} is the {which} address of {network}: pick a host address")
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


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The Internet checksum (RFC 1071) of ``data``: 16-bit one's complement of the one's complement sum.

    Summing big-endian 16-bit words with end-around carry is the value of the whole buffer modulo 0xFFFF
    (2**16 == 1 modulo 0xFFFF), which one big-integer operation computes.
    """
    if len(data) % 2:
        data = bytes(data) + b"\0"
    number = int.from_bytes(data, "big")
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF  # one's complement "negative zero": the sum of non-zero words is never +0
    return 0xFFFF - total


def pseudo_header(src: bytes, dst: bytes, protocol: int, length: int) -> bytes:
    """The IPv4 pseudo-header that UDP and TCP checksums cover."""
    return src + dst + bytes((0, protocol)) + length.to_bytes(2, "big")


def udp_checksum(src: bytes, dst: bytes, udp: bytes | bytearray) -> int:
    """UDP checksum of the datagram ``udp`` (its checksum field zeroed); 0 is sent as 0xFFFF (RFC 768)."""
    value = checksum(pseudo_header(src, dst, IPPROTO_UDP, len(udp)) + bytes(udp))
    return value or 0xFFFF


def set_ip_checksum(frame: bytearray) -> None:
    """Recompute the checksum of ``frame``'s IPv4 header (without options, as every header the stack sends) in
    place."""
    frame[IP_CHECKSUM] = b"\0\0"
    frame[IP_CHECKSUM] = checksum(frame[IP_HEADER]).to_bytes(2, "big")


def update_checksum(old_checksum: int, old: bytes | bytearray, new: bytes | bytearray) -> int:
    """RFC 1624 incremental update: the checksum after 16-bit-aligned ``old`` bytes became ``new``.

    HC' = ~(~HC + ~m + m'), summed over the changed words; ``old`` and ``new`` have the same even length.
    """
    total = (~old_checksum & 0xFFFF)
    for i in range(0, len(old), 2):
        total += (~int.from_bytes(old[i:i + 2], "big") & 0xFFFF) + int.from_bytes(new[i:i + 2], "big")
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
