"""The header field names of ``guests/headers.py`` (and ``core/frame.py``'s Ethernet ones) say where Scapy puts each
field, and guest code slices frames by those names only."""

from __future__ import annotations

import ast

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from conftest import SOURCE
from vswitch.core.frame import ETH_DST, ETH_SRC, ETH_TYPE
from vswitch.guests import headers as h


def test_ip_icmp_and_udp_fields_lie_where_scapy_puts_them():
    ip = IP(src="192.0.2.1", dst="198.51.100.2", id=0x1234, flags="DF", ttl=63)
    echo = bytes(Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / ip
                 / ICMP(type=8, code=0, id=0xABCD, seq=0x0102) / Raw(b"data"))
    datagram = bytes(Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") / IP(src="192.0.2.1", dst="198.51.100.2")
                     / UDP(sport=40000, dport=7) / Raw(b"\x00\x00\x00\x2a tail"))
    icmp, udp = Ether(echo), Ether(datagram)
    assert {
        "eth": (echo[ETH_DST], echo[ETH_SRC], echo[ETH_TYPE]),
        "ip": (echo[h.IP_VERSION_IHL], echo[h.IP_TOTAL_LEN], echo[h.IP_ID], echo[h.IP_FRAGMENT], echo[h.IP_TTL],
               echo[h.IP_PROTO], echo[h.IP_CHECKSUM], echo[h.IP_SRC], echo[h.IP_DST], len(echo[h.IP_HEADER])),
        "icmp": (echo[h.ICMP_TYPE], echo[h.ICMP_TYPE_CODE], echo[h.ICMP_CHECKSUM], echo[h.ICMP_ID], echo[h.ICMP_SEQ],
                 echo[h.IP_PAYLOAD + h.ICMP_HEADER_LEN:]),
        "udp": (datagram[h.UDP_SPORT], datagram[h.UDP_DPORT], datagram[h.UDP_LEN], datagram[h.UDP_CHECKSUM],
                datagram[h.UDP_SEQ], datagram[h.UDP_DATA:]),
    } == {
        "eth": (bytes.fromhex("020000000002"), bytes.fromhex("020000000001"), h.ETH_P_IP.to_bytes(2, "big")),
        "ip": (0x45, icmp[IP].len.to_bytes(2, "big"), bytes.fromhex("1234"), bytes.fromhex("4000"), 63,
               h.IPPROTO_ICMP, icmp[IP].chksum.to_bytes(2, "big"), bytes((192, 0, 2, 1)), bytes((198, 51, 100, 2)),
               h.IP_HEADER_LEN),
        "icmp": (h.ICMP_ECHO_REQUEST, bytes((8, 0)), icmp[ICMP].chksum.to_bytes(2, "big"), bytes.fromhex("abcd"),
                 bytes.fromhex("0102"), b"data"),
        "udp": ((40000).to_bytes(2, "big"), (7).to_bytes(2, "big"), udp[UDP].len.to_bytes(2, "big"),
                udp[UDP].chksum.to_bytes(2, "big"), bytes.fromhex("0000002a"), b"\x00\x00\x00\x2a tail"),
    }
    assert udp[IP].proto == h.IPPROTO_UDP


def test_arp_fields_lie_where_scapy_puts_them():
    frame = bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:01", type=h.ETH_P_ARP)
                  / ARP(op=2, hwsrc="02:00:00:00:00:01", psrc="192.0.2.1", hwdst="02:00:00:00:00:02",
                        pdst="192.0.2.2"))
    assert (len(frame), frame[h.ARP_FORMAT], frame[h.ARP_OP], frame[h.ARP_SHA], frame[h.ARP_SPA], frame[h.ARP_THA],
            frame[h.ARP_TPA]) == (h.ARP_LEN, bytes.fromhex("0001 0800 06 04"), bytes.fromhex("0002"),
                                  bytes.fromhex("020000000001"), bytes((192, 0, 2, 1)), bytes.fromhex("020000000002"),
                                  bytes((192, 0, 2, 2)))


def numbered_slices(path) -> list[str]:
    """Subscripts in ``path`` with a number for a slice bound (``frame[30:34]``, ``udp[:6]``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            bounds = (node.slice.lower, node.slice.upper)
            if any(isinstance(b, ast.Constant) and isinstance(b.value, int) for b in bounds):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_guest_code_slices_frames_by_field_name_not_by_number():
    """Issue 21: 68 slices like ``frame[30:34]`` said nothing of the field they read; ``headers.py`` names them."""
    paths = sorted(p for p in (SOURCE / "guests").glob("*.py") if p.name != "headers.py")
    assert [hit for path in paths for hit in numbered_slices(path)] == []


def test_each_start_and_end_offset_pair_is_its_fields_slice():
    """The compiled stack slices ``bytes`` by ``X_AT:X_END`` (mypyc miscompiles a slice object there)."""
    pairs = {name[:-3] for name in vars(h) if name.endswith("_AT")}
    assert pairs and {name[:-4] for name in vars(h) if name.endswith("_END")} == pairs
    fields = {"ETH_TYPE": ETH_TYPE, **{name: getattr(h, name) for name in pairs - {"ETH_TYPE"}}}
    assert {name: slice(getattr(h, f"{name}_AT"), getattr(h, f"{name}_END")) for name in pairs} == fields
