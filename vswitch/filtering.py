"""The filtering path of a learning switch: 802.1Q VLAN filtering and port security.

A switch with ``vlan_filtering`` on, or with a port that has ``max_macs``, decides here instead of in
``LearningSwitch.handle_frame``. The order is the Linux bridge's (``br_handle_frame``, ``br_handle_frame_finish``,
``br_forward``), with port security where a learning check belongs:

1. a frame arriving on a port shut down by port security is dropped (``PORT_SHUT_DOWN``);
2. a multicast or all-zero source is dropped (``INVALID_SOURCE``);
3. VLAN ingress (``br_allowed_ingress``, see ``vlan.py``): the frame's VLAN, or ``NO_PVID`` / ``VLAN_NOT_ALLOWED``;
4. port security: a new source beyond the port's ``max_macs`` is a violation (``PORT_SECURITY``);
5. the source is learned under (VLAN, MAC);
6. link-local destinations are not forwarded; broadcast, multicast and unknown unicast are flooded to the ports
   that carry the VLAN (and whose flags allow it); known unicast goes to its port if that port carries the VLAN
   (``br_allowed_egress``; else ``VLAN_NOT_ALLOWED``), never to a shut-down port;
7. each copy leaves tagged or untagged as its egress port has the VLAN.

Without ``vlan_filtering`` every frame is in VLAN 1 and leaves as it came (tags are payload to a VLAN-unaware
bridge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .fdb import LearnResult
from .reasons import DropReason, Verdict
from .switch import UNTAGGED_VLAN, Decision
from .vlan import Classified, classify

if TYPE_CHECKING:
    from .switch import LearningSwitch, SwitchPort

_ZERO_MAC = bytes(6)
_BROADCAST = b"\xff" * 6
_LINK_LOCAL_PREFIX = bytes.fromhex("0180c20000")


def decide(switch: "LearningSwitch", in_port: "SwitchPort", frame: bytes, now: int) -> Decision:
    """Learn from ``frame`` arriving on ``in_port`` and decide where its copies go, with which tags."""
    if in_port.shut_down:
        return Decision((), DropReason.PORT_SHUT_DOWN)
    src = frame[6:12]
    if src[0] & 1 or src == _ZERO_MAC:
        return Decision((), DropReason.INVALID_SOURCE)
    classified: Classified | None = None
    vid = UNTAGGED_VLAN
    if switch.vlan_filtering:
        result = classify(frame, switch.tpid, in_port.vlans)
        if type(result) is DropReason:
            return Decision((), result)
        classified, vid = result, result.vid
    table = switch.table
    if in_port.security is not None and in_port.learning:
        violation = in_port.security.check(in_port, table, vid, src, now)
        if violation is not None:
            return Decision((), violation)
    learned = table.learn(vid, src, in_port.name, now) if in_port.learning else None
    dst = frame[0:6]
    if dst[0] & 1:
        if dst[:5] == _LINK_LOCAL_PREFIX and dst[5] < 0x10:
            return Decision((), DropReason.LINK_LOCAL, learned)
        if dst == _BROADCAST:
            return _flood(switch, in_port, "bcast_flood", Verdict.FLOODED_BROADCAST, learned, classified)
        return _flood(switch, in_port, "mcast_flood", Verdict.FLOODED_MULTICAST, learned, classified)
    out_name = table.lookup(vid, dst, now)
    out = switch.ports.get(out_name) if out_name is not None else None
    if out is None:
        return _flood(switch, in_port, "flood", Verdict.FLOODED_UNKNOWN, learned, classified)
    if out is in_port and not out.hairpin:
        return Decision((), DropReason.SAME_PORT, learned)
    if in_port.isolated and out.isolated:
        return Decision((), DropReason.ISOLATED, learned)
    if out.shut_down:
        return Decision((), DropReason.PORT_SHUT_DOWN, learned)
    if classified is None:
        return Decision((out,), Verdict.FORWARDED, learned)
    if vid not in out.vlans.vlans:
        return Decision((), DropReason.VLAN_NOT_ALLOWED, learned)
    return Decision((out,), Verdict.FORWARDED, learned, (classified.egress(out.vlans),))


def _flood(switch: "LearningSwitch", in_port: "SwitchPort", flag: str, verdict: Verdict,
           learned: LearnResult | None, classified: Classified | None) -> Decision:
    isolated = in_port.isolated
    vid = classified.vid if classified is not None else None
    outputs = tuple(
        p for p in switch._port_list
        if p.up and p.carrier and not p.shut_down and getattr(p, flag) and (p is not in_port or p.hairpin)
        and not (isolated and p.isolated) and (vid is None or vid in p.vlans.vlans)
    )
    if not outputs:
        return Decision((), DropReason.NO_EGRESS, learned)
    if classified is None:
        return Decision(outputs, verdict, learned)
    return Decision(outputs, verdict, learned, tuple(classified.egress(p.vlans) for p in outputs))
