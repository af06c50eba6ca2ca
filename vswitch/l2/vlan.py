"""802.1Q VLANs on bytes: a port's VLAN membership and the Linux bridge's ingress and egress rules.

A VLAN-filtering Linux bridge (``ip link set br0 type bridge vlan_filtering 1``, ``net/bridge/br_vlan.c``) gives
every port a set of VLANs, an optional PVID and, per VLAN, an egress "untagged" flag (``bridge vlan add dev P vid V
[pvid] [untagged]``). What ``br_allowed_ingress`` and ``br_handle_vlan`` do, and so what this module does:

- A frame whose outer tag has the bridge's protocol (802.1Q unless ``vlan_protocol`` says 802.1ad) and a VID other
  than 0 belongs to that VLAN. The tag is taken off on ingress (the kernel keeps it as skb metadata).
- An untagged frame, a priority-tagged one (VID 0), or one whose outer tag has another protocol belongs to the
  port's PVID; a port without a PVID drops it (``NO_PVID``). A tag of another protocol stays in the frame.
- A frame of a VLAN the port does not carry is dropped (``VLAN_NOT_ALLOWED``), at ingress and at egress.
- On egress the frame leaves untagged where the port has the VLAN "untagged", else tagged with the VLAN's VID and
  the frame's priority (PCP).

Double tagging follows: a frame tagged with the PVID of an access port is accepted as that VLAN, so the outer
tag is removed on the way out of a port where that VLAN is untagged (a trunk's native VLAN), and whatever inner
tag the sender put behind it is the outer tag at the next switch (see docs/security.md).
"""

from __future__ import annotations

from typing import Iterable

from ..core.errors import TopologyError
from ..core.frame import TPID_8021AD, TPID_8021Q, pad, pop_tag, push_tag
from ..core.reasons import DropReason

DEFAULT_PVID = 1  #: the bridge's default_pvid: every port starts as an untagged member of VLAN 1
VLAN_PROTOCOLS = {"802.1Q": TPID_8021Q, "802.1ad": TPID_8021AD}
MAX_VID = 4094  # 0 means "no VLAN" (priority tag) and 4095 is reserved


def check_vid(vid: object, what: str = "VLAN") -> int:
    if isinstance(vid, bool) or not isinstance(vid, int) or not 1 <= vid <= MAX_VID:
        raise TopologyError(f"{what} {vid!r}: a VLAN ID is 1 to {MAX_VID}")
    return vid


def protocol_tpid(name: object) -> int:
    tpid = VLAN_PROTOCOLS.get(name) if isinstance(name, str) else None
    if tpid is None:
        raise TopologyError(f"unknown VLAN protocol {name!r}: use 802.1Q or 802.1ad")
    return tpid


class PortVlans:
    """One port's VLANs: the VIDs it carries, the PVID untagged frames get (or None) and the egress-untagged VIDs."""

    __slots__ = ("pvid", "vlans", "untagged")

    def __init__(self, pvid: int | None, vlans: Iterable[int] = (), untagged: Iterable[int] = ()) -> None:
        self.pvid = None if pvid is None else check_vid(pvid, "pvid")
        members = {check_vid(v) for v in vlans}
        untagged = {check_vid(v) for v in untagged}
        if self.pvid is not None:
            members.add(self.pvid)
        if not untagged <= members:
            raise TopologyError(f"untagged VLAN(s) {sorted(untagged - members)} are not carried by the port")
        self.vlans = frozenset(members)
        self.untagged = frozenset(untagged)

    @classmethod
    def access(cls, vid: int) -> "PortVlans":
        """An access port: VLAN ``vid`` only, as PVID, untagged (``bridge vlan add vid V pvid untagged``)."""
        return cls(vid, (vid,), (vid,))

    @classmethod
    def declared(cls, pvid: int | None, members: Iterable[tuple[int, bool]]) -> "PortVlans":
        """A port's ``pvid`` and ``vlans`` as a topology file gives them ((VID, untagged) pairs): a PVID that is not
        listed is also the port's untagged VLAN on egress (an access port, or a trunk's native VLAN)."""
        members = tuple(members)
        untagged = [vid for vid, flag in members if flag]
        if pvid is not None and pvid not in {vid for vid, _ in members}:
            untagged.append(pvid)
        return cls(pvid, [vid for vid, _ in members], untagged)

    def carries(self, vid: int) -> bool:
        return vid in self.vlans

    def describe(self) -> str:
        """``pvid 10; 10 untagged; 20, 30 tagged`` for reports."""
        pvid = f"pvid {self.pvid}" if self.pvid is not None else "no pvid"
        return "; ".join(part for part in (pvid, self.members()) if part)

    def members(self) -> str:
        """``10 untagged; 20, 30 tagged``: the VLANs the port carries and how each leaves it."""
        parts = []
        untagged = sorted(self.untagged)
        tagged = sorted(self.vlans - self.untagged)
        if untagged:
            parts.append(", ".join(map(str, untagged)) + " untagged")
        if tagged:
            parts.append(", ".join(map(str, tagged)) + " tagged")
        return "; ".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortVlans) and (self.pvid, self.vlans, self.untagged) == (
            other.pvid, other.vlans, other.untagged)

    def __repr__(self) -> str:
        return f"<PortVlans {self.describe()}>"


class Classified:
    """A frame after ingress: its VLAN, priority, the frame without the bridge's tag, and the tagged original if
    it arrived tagged exactly as a tagged egress would send it (so that trunks forward the same bytes)."""

    __slots__ = ("vid", "pcp", "bare", "tagged", "tpid")

    def __init__(self, vid: int, pcp: int, bare: bytes, tagged: bytes | None, tpid: int) -> None:
        self.vid = vid
        self.pcp = pcp
        self.bare = bare
        self.tagged = tagged
        self.tpid = tpid

    def egress(self, port: PortVlans) -> bytes:
        """The bytes that leave ``port`` (which carries ``vid``): untagged, or tagged with VID and PCP."""
        if self.vid in port.untagged:
            return pad(self.bare)
        if self.tagged is None:
            self.tagged = push_tag(self.bare, self.tpid, self.pcp, self.vid)
        return self.tagged


def outer_tag(frame: bytes) -> tuple[int, int] | None:
    """(TPID, TCI) of the outer 802.1Q / 802.1ad tag, or None for an untagged frame."""
    tpid = (frame[12] << 8) | frame[13] if len(frame) >= 18 else 0
    if tpid == TPID_8021Q or tpid == TPID_8021AD:
        return tpid, (frame[14] << 8) | frame[15]
    return None


def push_tags(frame: bytes, tags: Iterable[tuple[int, int, int]]) -> bytes:
    """Insert ``tags`` ((TPID, PCP, VID), outermost first) after the MAC addresses."""
    for tpid, pcp, vid in reversed(tuple(tags)):  # innermost first: each push is the new outer tag
        frame = push_tag(frame, tpid, pcp, vid)
    return frame


def classify(frame: bytes, tpid: int, port: PortVlans) -> Classified | DropReason:
    """``br_allowed_ingress``: the frame's VLAN at ``port`` of a bridge whose protocol is ``tpid``, or a drop."""
    tag = outer_tag(frame)
    if tag is not None and tag[0] == tpid:
        pcp, vid = tag[1] >> 13, tag[1] & 0xFFF
        bare = pop_tag(frame)
        tagged = frame if vid else None
    else:  # untagged, or the other protocol's tag (kept in the frame)
        pcp, vid, bare, tagged = 0, 0, frame, None
    if vid == 0:  # untagged or priority-tagged: the PVID's
        if port.pvid is None:
            return DropReason.NO_PVID
        vid = port.pvid
    if vid not in port.vlans:
        return DropReason.VLAN_NOT_ALLOWED
    return Classified(vid, pcp, bare, tagged, tpid)
