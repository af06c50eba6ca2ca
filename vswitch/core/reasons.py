"""Why a frame went where it went: forward verdicts and drop reasons, as enum members.

Every copy of every frame ends ``DELIVERED`` or dropped with a ``DropReason``; the values are the text shown in
reports and pcapng comments.
"""

from __future__ import annotations

from enum import Enum


class DropReason(Enum):
    """Why a copy of a frame was dropped. The values are descriptions; ``DropReason("same_port")`` (a name as files
    and reports write it, any case) finds a member too."""

    RUNT = "runt frame (shorter than 14 bytes)"
    OVERSIZE = "frame larger than the MTU"
    NOT_CABLED = "port is not connected"
    LINK_DOWN = "link is down"
    INTERFACE_DOWN = "interface is down"
    QUEUE_FULL = "transmit queue full (tail drop)"
    NOT_FOR_US = "destination not accepted by the receive filter"
    INVALID_SOURCE = "source MAC is multicast or zero"
    LINK_LOCAL = "802.1D link-local destination is not forwarded"
    SAME_PORT = "destination learned on the ingress port (no hairpin)"
    NO_EGRESS = "no port to flood to"
    ISOLATED = "isolated port to isolated port"
    VNIC_DOWN = "destination vNIC is down"
    # 802.1Q VLAN filtering (Linux bridge br_allowed_ingress / br_allowed_egress) and SR-IOV port VLANs
    NO_PVID = "untagged frame on a port without a PVID"
    VLAN_NOT_ALLOWED = "VLAN not carried by the port"
    VLAN_NO_INTERFACE = "tagged with a VLAN the host has no VLAN interface for (PACKET_OTHERHOST)"
    # SR-IOV per-vNIC controls (ip link set DEV vf N spoofchk / state / max_tx_rate)
    SPOOFED_SOURCE = "source MAC is not the vNIC's (spoofchk)"
    SPOOFED_VLAN = "VLAN tag from a vNIC with a port VLAN (spoofchk)"
    VF_DISABLED = "vNIC link disabled (vf state disable)"
    RATE_LIMITED = "over the vNIC's max_tx_rate"
    # port security and loops
    PORT_SECURITY = "source MAC beyond the port's max_macs (port security)"
    PORT_SHUT_DOWN = "port shut down by port security"
    STORM_LIMIT = "switching loop: copy beyond the storm limit"
    # spanning tree (l2/stp.py, the kernel's br_handle_frame, br_forward and br_stp_rcv)
    BLOCKED_BY_STP = "blocked by STP (the port is not forwarding)"
    BPDU_IGNORED = "BPDU not read by STP (not 802.1D version 0, or the port is disabled)"
    BPDU_TOO_OLD = "configuration BPDU older than its max age"
    # link impairments (tc netem's loss random / loss gemodel; l2/impair.py)
    LOST_RANDOM = "lost on the link (random loss)"
    LOST_BURST = "lost on the link (Gilbert-Elliott burst)"

    @classmethod
    def _missing_(cls, value: object) -> "DropReason | None":
        """A member by its name (``same_port``, ``SAME_PORT``) when ``value`` is no description."""
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


class Verdict(Enum):
    """What a node did with a frame it kept alive (or the endpoint that took it)."""

    DELIVERED = "delivered"
    FORWARDED = "forwarded"
    FLOODED_UNKNOWN = "flooded: unknown unicast"
    FLOODED_BROADCAST = "flooded: broadcast"
    FLOODED_MULTICAST = "flooded: multicast"
    TO_VNIC = "demultiplexed to the vNIC owning the destination"
    TO_HOST = "to the host stack (no vNIC owns the destination)"
    TO_VLAN_INTERFACE = "to the host's VLAN interface (no vNIC of its VLAN owns the destination)"
    REPLICATED = "replicated to the vNICs whose filter accepts it"
    BRIDGED = "bridged between sibling vNICs inside the adapter"
    REFLECTED_TO_SOURCE = "reflected back to the sending vNIC only (private or passthru mode)"
    TO_UPLINK = "sent to the uplink"
    TO_PROMISCUOUS_VNIC = "to the trusted promiscuous vNIC (no vNIC owns the destination)"
    TRANSMITTED = "transmitted"
    TO_STP = "taken by the bridge's spanning tree (BPDU)"
    DUPLICATED = "duplicated on the link"  # link impairments (l2/impair.py): the frame left, the wire changed it
    CORRUPTED = "corrupted on the link (one bit flipped)"


def describe(outcome: "DropReason | Verdict") -> str:
    """Text for reports and pcapng comments: ``dropped: <reason>`` or the verdict."""
    if isinstance(outcome, DropReason):
        return f"dropped: {outcome.value}"
    return outcome.value


def by_reason(drops: "dict[DropReason, int]") -> dict[str, int]:
    """Drop counts keyed by the reasons' lower-case names (``same_port``), sorted by name: the reports' and the
    ``counter`` expectation's form."""
    return {reason.name.lower(): n for reason, n in sorted(drops.items(), key=lambda item: item[0].name)}
