"""A traffic generator: N frames at a rate from one Scapy-built template whose varying fields are patched in bytes.

Like ``trafgen``/``pktgen``: the template is built once (``traffic.py``); per frame only the named fields change
(``eth.src``, ``ip.id``, ``udp.sport``, a sequence number in the payload...) and the IPv4 and UDP checksums
they affect are updated incrementally (RFC 1624), so a million frames cost a million slice assignments, not a
million Scapy builds. ``StreamSpec.frames()`` is a lazy iterator of ``(time_ns, interface, frame)`` for
``Network.send_stream``.

A field varies as ``start + step * (i % cycle)`` (without ``cycle``: ``start + step * i``), wrapping at the
field's width; ``start`` defaults to the template's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, NamedTuple, Optional

from ..core.frame import ETH_DST, ETH_HEADER_LEN, ETH_SRC, ETH_TYPE, TAG_LEN
from ..core.mac import MACAddress
from ..l2.port import WIRE_OVERHEAD_BYTES
from .headers import IP_CHECKSUM, IP_DST, IP_ID, IP_SRC, UDP_CHECKSUM, UDP_DPORT, UDP_SEQ, UDP_SPORT
from .inet import address_value, update_checksum


class StreamField(NamedTuple):
    offset: int  # in an untagged frame
    width: int
    kind: str  # "mac", "ip" or "int"
    ip_checksum: bool  # covered by the IPv4 header checksum
    udp_checksum: bool  # covered by the UDP checksum (pseudo-header, header or data)
    needs_udp: bool

    @classmethod
    def at(cls, where: slice, kind: str, ip_checksum: bool, udp_checksum: bool, needs_udp: bool) -> StreamField:
        """The field at ``where`` (a slice of an untagged frame, from ``headers.py``)."""
        return cls(where.start, where.stop - where.start, kind, ip_checksum, udp_checksum, needs_udp)


#: The fields a stream can vary, where they lie in an untagged frame; a stream with VLAN tags finds those after
#: the MAC addresses 4 bytes further per tag.
FIELDS: dict[str, StreamField] = {
    "eth.dst": StreamField.at(ETH_DST, "mac", False, False, False),
    "eth.src": StreamField.at(ETH_SRC, "mac", False, False, False),
    "ip.id": StreamField.at(IP_ID, "int", True, False, True),
    "ip.src": StreamField.at(IP_SRC, "ip", True, True, True),
    "ip.dst": StreamField.at(IP_DST, "ip", True, True, True),
    "udp.sport": StreamField.at(UDP_SPORT, "int", False, True, True),
    "udp.dport": StreamField.at(UDP_DPORT, "int", False, True, True),
    "seq": StreamField.at(UDP_SEQ, "int", False, True, False),  # first 4 data bytes (right after Ethernet without udp)
}


@dataclass(frozen=True)
class Vary:
    """One varying field: ``start`` (None: the template's value), ``step`` and an optional ``cycle`` length."""

    field: str
    start: Optional[int] = None
    step: int = 1
    cycle: Optional[int] = None


def field_value(name: str, value: object) -> int:
    """A field's value as a file writes it (a MAC, an address, or a number) as an integer."""
    kind = FIELDS[name].kind
    if kind == "mac" and isinstance(value, str):
        return int.from_bytes(MACAddress(value).packed, "big")
    if kind == "ip" and isinstance(value, str):
        return int(address_value(value))
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << (8 * FIELDS[name].width):
        return value
    example = {"mac": '"02:00:00:00:01:00"', "ip": "198.51.100.1", "int": "1000"}[kind]
    what = {"mac": "a MAC", "ip": "an IPv4 address", "int": "a number"}[kind]
    raise ValueError(f"{name}: expected {what} in range, e.g. {example}, got {value!r}")


class FrameTemplate:
    """A template frame and the fields that vary in it; ``frame(i)`` is frame number ``i``. With ``tags`` VLAN
    tags after the MAC addresses, everything after them lies 4 bytes further per tag."""

    def __init__(self, template: bytes, vary: tuple[Vary, ...], *, udp: bool, tags: int = 0) -> None:
        self.template = bytes(template)
        self.udp = udp
        self._fields = []
        shift = TAG_LEN * tags
        for v in vary:
            spec = FIELDS[v.field]
            offset = spec.offset if (udp or v.field != "seq") else ETH_HEADER_LEN
            offset += shift if offset >= ETH_TYPE.start else 0
            if offset + spec.width > len(template):
                raise ValueError(f"{v.field} lies beyond the end of a {len(template)}-byte frame: make size larger")
            start = v.start if v.start is not None else int.from_bytes(template[offset:offset + spec.width], "big")
            self._fields.append((offset, spec.width, start, v.step, v.cycle, spec.ip_checksum and udp,
                                 spec.udp_checksum and udp))
        self._ip_checksum = slice(IP_CHECKSUM.start + shift, IP_CHECKSUM.stop + shift)
        self._udp_checksum = slice(UDP_CHECKSUM.start + shift, UDP_CHECKSUM.stop + shift)
        self._ip_sum = int.from_bytes(self.template[self._ip_checksum], "big")
        self._udp_sum = int.from_bytes(self.template[self._udp_checksum], "big") if udp else 0

    def frame(self, i: int) -> bytes:
        frame = bytearray(self.template)
        ip_old = ip_new = udp_old = udp_new = b""
        for offset, width, start, step, cycle, in_ip, in_udp in self._fields:
            n = i % cycle if cycle else i
            value = ((start + step * n) % (1 << (8 * width))).to_bytes(width, "big")
            old = self.template[offset:offset + width]
            frame[offset:offset + width] = value
            if in_ip:
                ip_old, ip_new = ip_old + old, ip_new + value
            if in_udp:
                udp_old, udp_new = udp_old + old, udp_new + value
        if ip_old:
            frame[self._ip_checksum] = update_checksum(self._ip_sum, ip_old, ip_new).to_bytes(2, "big")
        if udp_old and self._udp_sum:
            frame[self._udp_checksum] = (update_checksum(self._udp_sum, udp_old, udp_new) or 0xFFFF).to_bytes(2, "big")
        return bytes(frame)


def period_ns(*, interval_ns: Optional[int] = None, pps: Optional[Fraction] = None, bps: Optional[int] = None,
              frame_len: int = 60) -> Fraction:
    """Time between frames: ``interval_ns``, or 1/``pps``, or a ``frame_len``-byte frame at ``bps`` on the wire
    (with preamble, FCS and gap, as ``port.py``'s links count it)."""
    if pps is not None:
        return Fraction(1_000_000_000) / pps
    if bps is not None:
        return Fraction((max(60, frame_len) + WIRE_OVERHEAD_BYTES) * 8 * 1_000_000_000, bps)
    return Fraction(interval_ns or 0)


def frame_times(start_ns: int, count: int, **timing) -> Iterator[int]:
    """Send times of ``count`` frames (``period_ns`` arguments); exact: frame i leaves at floor(i * period)."""
    period = period_ns(**timing)
    for i in range(count):
        yield start_ns + int(i * period)


@dataclass(frozen=True)
class StreamSpec:
    """A stream as the scenario gives it: who sends, the template, how many, how fast, what varies."""

    interface: str
    template: bytes
    count: int
    vary: tuple[Vary, ...] = ()
    udp: bool = False
    interval_ns: Optional[int] = None
    pps: Optional[Fraction] = None
    bps: Optional[int] = None
    tags: int = 0  # VLAN tags in the template after the MAC addresses

    def frames(self, start_ns: int) -> Iterator[tuple[int, str, bytes]]:
        """The lazy ``(time_ns, interface, frame)`` items of the stream starting at ``start_ns``."""
        maker = FrameTemplate(self.template, self.vary, udp=self.udp, tags=self.tags)
        times = frame_times(start_ns, self.count, interval_ns=self.interval_ns, pps=self.pps, bps=self.bps,
                            frame_len=max(60, len(self.template)))
        for i, time_ns in enumerate(times):
            yield time_ns, self.interface, maker.frame(i)
