"""Frames as Scapy packets, timestamped by the virtual clock: what ``Network.deliveries(name, scapy=True)``,
``CaptureReader.packets()`` and ``Record.packet()`` hand back.

A packet's ``time`` is seconds since the Unix epoch as Scapy's ``EDecimal`` (exact to the nanosecond, as
``rdpcap`` gives it): the run's epoch plus the virtual time, the timestamp the frame has in the run's captures.
Scapy is imported here, at the edge, never by the per-frame modules (DESIGN.md section 2): this module loads
only when a user asks for packets.
"""

from __future__ import annotations

from typing import Iterable

from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.plist import PacketList
from scapy.utils import EDecimal

NS_PER_SECOND = 1_000_000_000


def packet(frame: bytes, time_ns: int, *, sniffed_on: str | None = None, comment: str | None = None) -> Packet:
    """``frame`` dissected from its Ethernet header, with ``time`` = ``time_ns`` (since the Unix epoch) in
    seconds; ``sniffed_on`` and ``comment`` as Scapy's pcapng reader sets them (``wrpcapng`` writes them back)."""
    dissected = Ether(frame)
    dissected.time = EDecimal(time_ns) / NS_PER_SECOND
    if sniffed_on is not None:
        dissected.sniffed_on = sniffed_on
    if comment is not None:
        dissected.comments = [comment.encode()]
    return dissected


def packet_list(packets: Iterable[Packet], name: str) -> PacketList:
    """Scapy's ``PacketList`` of ``packets``, named as ``rdpcap`` names one (its ``summary()``, ``nsummary()``
    and ``show()`` use it)."""
    return PacketList(list(packets), name=name)
