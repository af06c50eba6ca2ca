"""Ethernet frames as ``bytes``: cheap field access, tags, padding and size checks.

Nothing here dissects with Scapy; these helpers slice bytes and are safe on the per-frame path.
Offsets: destination ``ETH_DST`` (``[0:6]``), source ``ETH_SRC`` (``[6:12]``), then ``ETH_TYPE``: an ethertype or
an 802.1Q/802.1ad tag.
"""

from __future__ import annotations

import sys
from typing import Final, NamedTuple

from .errors import ScenarioError, VSwitchError

ETH_DST: Final = slice(0, 6)
ETH_SRC: Final = slice(6, 12)
ETH_TYPE: Final = slice(12, 14)  # or the outermost VLAN tag's TPID
ETH_HEADER_LEN: Final = 14
MIN_FRAME_LEN: Final = 60  #: minimum Ethernet frame without FCS; NICs pad shorter frames on transmit
TAG_LEN = 4
DEFAULT_MTU: Final = 1500
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8
TPIDS = (TPID_8021Q, TPID_8021AD, 0x9100)
_ZERO_PAD = bytes(MIN_FRAME_LEN)


class VlanTag(NamedTuple):
    """One 802.1Q (TPID 0x8100) or 802.1ad (0x88a8) tag."""

    tpid: int
    pcp: int
    dei: int
    vid: int


#: What the API takes as a frame: bytes, bytearray, memoryview or a Scapy packet that starts with its Ethernet
#: header; ``check_frame`` refuses anything else, with a hint.
AnyFrame = object


def check_frame(frame: AnyFrame, error: type[VSwitchError] = ScenarioError) -> bytes:
    """Return ``frame`` as ``bytes`` or raise ``error``: frames handed to the API (the network, the capture
    writers) are bytes-like or Scapy packets.

    A Scapy packet is converted once, here, with ``bytes(packet)``. Scapy is not imported for this: a packet
    can only exist once its user has imported ``scapy.packet``, so it is looked up in ``sys.modules``."""
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, (bytearray, memoryview)):
        return bytes(frame)
    scapy = sys.modules.get("scapy.packet")
    if scapy is not None and isinstance(frame, scapy.Packet):
        # Ethernet II, 802.3 (Scapy's Dot3: a type field that is a length) or the frame's raw bytes (Raw)
        l2 = sys.modules.get("scapy.layers.l2")
        if not isinstance(frame, (scapy.Raw, l2.Ether, l2.Dot3) if l2 is not None else scapy.Raw):
            first = type(frame).__name__
            raise error(f"a frame starts with its Ethernet header, but this Scapy packet starts with {first}: "
                        f"put an Ether(src=..., dst=...) layer first, e.g. Ether(...)/{first}(...)")
        try:
            return bytes(frame)
        except Exception as exc:  # Scapy's own errors building a field: struct.error, ValueError, Scapy_Exception...
            raise error(f"Scapy cannot build this {type(frame).__name__} packet's bytes: {exc}") from None
    raise error(f"a frame must be bytes or a Scapy packet, got {type(frame).__name__}: build it with "
                "Scapy (Ether(src=..., dst=...)/...) or pass its bytes")


def destination(frame: bytes) -> bytes:
    return frame[ETH_DST]


def source(frame: bytes) -> bytes:
    return frame[ETH_SRC]


def tags(frame: bytes) -> list[VlanTag]:
    """The VLAN tags in order, outermost first."""
    found = []
    offset = 12
    while len(frame) >= offset + 4 + 2:
        tpid = int.from_bytes(frame[offset:offset + 2], "big")
        if tpid not in TPIDS:
            break
        tci = int.from_bytes(frame[offset + 2:offset + 4], "big")
        found.append(VlanTag(tpid, tci >> 13, (tci >> 12) & 1, tci & 0xFFF))
        offset += TAG_LEN
    return found


def tag_count(frame: bytes) -> int:
    count = 0
    offset = 12
    while len(frame) >= offset + 6 and int.from_bytes(frame[offset:offset + 2], "big") in TPIDS:
        count += 1
        offset += TAG_LEN
    return count


def ethertype(frame: bytes) -> int:
    """The ethertype after any VLAN tags (or the 802.3 length field)."""
    offset = 12 + TAG_LEN * tag_count(frame)
    return int.from_bytes(frame[offset:offset + 2], "big")


def payload_len(frame: bytes) -> int:
    """Bytes after the Ethernet header and its tags: what an MTU limits."""
    return len(frame) - ETH_HEADER_LEN - TAG_LEN * tag_count(frame)


def push_tag(frame: bytes, tpid: int, pcp: int, vid: int, dei: int = 0) -> bytes:
    """Insert the tag (TPID, PCP, DEI, VID) after the MAC addresses: the new outermost tag. The one copy of this
    rule (bridge egress, a VF's port VLAN, scenario frames); the fields are the caller's, already in range."""
    tci = (pcp << 13) | (dei << 12) | vid
    return frame[:12] + bytes(((tpid >> 8) & 0xFF, tpid & 0xFF, tci >> 8, tci & 0xFF)) + frame[12:]


def pop_tag(frame: bytes) -> bytes:
    """Remove the outermost tag (the caller checks that there is one)."""
    return frame[:12] + frame[16:]


def pad(frame: bytes) -> bytes:
    """Pad to the 60-byte Ethernet minimum, as a NIC does on transmit."""
    short = MIN_FRAME_LEN - len(frame)
    return frame + _ZERO_PAD[:short] if short > 0 else frame

