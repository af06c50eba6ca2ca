"""Where each field of ARP, IPv4, ICMP and UDP lies in an untagged Ethernet frame, and the protocol numbers.

Guest stacks and streams read and patch frames by these names (``frame[IP_DST]``), never by numbers. Offsets are
from the start of the frame, for IPv4 without options (the only IPv4 header the guest stack sends or accepts);
the Ethernet header's own fields are ``core/frame.py``'s ``ETH_DST``, ``ETH_SRC`` and ``ETH_TYPE``. Module-level
``Final`` ints and slices: as cheap as literals in CPython, constants for mypyc.

The compiled stack (``stack.py``) reads ``bytes`` by the ``_AT``/``_END`` offsets below instead
(``frame[IP_SRC_AT:IP_SRC_END]``): mypyc compiles a slice between two ``Final`` ints to one direct copy, and
miscompiles ``bytes`` indexed by a slice *object* (mypy 2.4.1 takes the index for an int: ``TypeError: 'slice'
object cannot be interpreted as an integer``). A ``bytearray`` takes the slices in both builds.
"""

from __future__ import annotations

from typing import Final

from ..core.frame import ETH_HEADER_LEN

# Ethertypes and IP protocol numbers.
ETH_P_IP: Final = 0x0800
ETH_P_ARP: Final = 0x0806
ETH_P_RARP: Final = 0x8035
IPPROTO_ICMP: Final = 1
IPPROTO_UDP: Final = 17

# ARP for IPv4 over Ethernet (RFC 826), after the Ethernet header.
ARP_FORMAT: Final = slice(14, 20)  # hardware type, protocol type and their address lengths
ARP_OP: Final = slice(20, 22)
ARP_SHA: Final = slice(22, 28)  # sender MAC
ARP_SPA: Final = slice(28, 32)  # sender IPv4 address
ARP_THA: Final = slice(32, 38)  # target MAC
ARP_TPA: Final = slice(38, 42)  # target IPv4 address
ARP_LEN: Final = 42  # Ethernet + ARP, before padding

# IPv4 without options (RFC 791), after the Ethernet header.
IP: Final = ETH_HEADER_LEN  # start of the IPv4 header
IP_VERSION_IHL: Final = 14  # 0x45: version 4, five 32-bit words of header
IP_TOTAL_LEN: Final = slice(16, 18)
IP_ID: Final = slice(18, 20)
IP_FRAGMENT: Final = slice(20, 22)  # flags and fragment offset
IP_TTL: Final = 22
IP_PROTO: Final = 23
IP_CHECKSUM: Final = slice(24, 26)
IP_SRC: Final = slice(26, 30)
IP_DST: Final = slice(30, 34)
IP_HEADER: Final = slice(14, 34)
IP_PAYLOAD: Final = 34  # start of the ICMP or UDP header
IP_HEADER_LEN: Final = 20

# ICMP (RFC 792), after the IPv4 header.
ICMP_TYPE: Final = 34
ICMP_TYPE_CODE: Final = slice(34, 36)  # the 16-bit word the checksum sums type and code in
ICMP_CHECKSUM: Final = slice(36, 38)
ICMP_ID: Final = slice(38, 40)  # echo request and reply
ICMP_SEQ: Final = slice(40, 42)
ICMP_HEADER_LEN: Final = 8
ICMP_ECHO_REPLY: Final = 0
ICMP_DEST_UNREACH: Final = 3
ICMP_PORT_UNREACH: Final = 3  # code of ICMP_DEST_UNREACH
ICMP_ECHO_REQUEST: Final = 8

# UDP (RFC 768), after the IPv4 header.
UDP_SPORT: Final = slice(34, 36)
UDP_DPORT: Final = slice(36, 38)
UDP_LEN: Final = slice(38, 40)
UDP_CHECKSUM: Final = slice(40, 42)
UDP_DATA: Final = 42
UDP_SEQ: Final = slice(42, 46)  # the sequence number guest sessions and streams carry in the first 4 data bytes

# The fields above as (start, end) offsets, for slicing ``bytes`` in compiled code (see the module's docstring).
# tests/test_guest_headers.py checks each pair against its slice.
ETH_TYPE_AT: Final = 12
ETH_TYPE_END: Final = 14
ARP_FORMAT_AT: Final = 14
ARP_FORMAT_END: Final = 20
ARP_OP_AT: Final = 20
ARP_OP_END: Final = 22
ARP_SHA_AT: Final = 22
ARP_SHA_END: Final = 28
ARP_SPA_AT: Final = 28
ARP_SPA_END: Final = 32
ARP_THA_AT: Final = 32
ARP_THA_END: Final = 38
ARP_TPA_AT: Final = 38
ARP_TPA_END: Final = 42
IP_TOTAL_LEN_AT: Final = 16
IP_TOTAL_LEN_END: Final = 18
IP_FRAGMENT_AT: Final = 20
IP_FRAGMENT_END: Final = 22
IP_SRC_AT: Final = 26
IP_SRC_END: Final = 30
IP_DST_AT: Final = 30
IP_DST_END: Final = 34
IP_HEADER_AT: Final = 14
IP_HEADER_END: Final = 34
ICMP_TYPE_CODE_AT: Final = 34
ICMP_TYPE_CODE_END: Final = 36
ICMP_CHECKSUM_AT: Final = 36
ICMP_CHECKSUM_END: Final = 38
ICMP_ID_AT: Final = 38
ICMP_ID_END: Final = 40
ICMP_SEQ_AT: Final = 40
ICMP_SEQ_END: Final = 42
UDP_SPORT_AT: Final = 34
UDP_SPORT_END: Final = 36
UDP_DPORT_AT: Final = 36
UDP_DPORT_END: Final = 38
UDP_LEN_AT: Final = 38
UDP_LEN_END: Final = 40
UDP_CHECKSUM_AT: Final = 40
UDP_CHECKSUM_END: Final = 42
UDP_SEQ_AT: Final = 42
UDP_SEQ_END: Final = 46
