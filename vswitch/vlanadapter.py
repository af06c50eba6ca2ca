"""An adapter whose vNICs have port VLANs: the SR-IOV embedded switch sorting by (VLAN, MAC).

``ip link set DEV vf N vlan V qos P [proto 802.1ad]`` puts a VF in VLAN V: the NIC inserts the tag (TPID, PCP P,
VID V) on everything the VF sends and strips it from what the VF receives; the VF receives only frames of its
VLAN. ``PhysicalAdapter`` switches to these rules once one of its vNICs has a port VLAN (a macvlan, without VLANs,
never inspects tags):

- Each vNIC is keyed by (VLAN, MAC): VLAN = (TPID, VID) of its port VLAN, or "untagged" for a vNIC without one,
  which then receives untagged (and priority-tagged) frames only.
- From the uplink: the outer tag picks the VLAN. Unicast goes to the vNIC with that (VLAN, MAC), its tag stripped;
  multicast is replicated, by the macvlan mode rules, to the vNICs of that VLAN. The host stack (the PF) is in the
  untagged VLAN. A tagged frame of a VLAN that no vNIC has is dropped (``VLAN_NOT_ALLOWED``: the NIC's VLAN
  filter), as is tagged unicast no vNIC of its VLAN owns (``NOT_FOR_US``).
- From a vNIC: the tag is inserted on the way to the uplink; in ``bridge`` mode siblings of the same VLAN receive
  it inside the adapter, untagged.

These functions are ``PhysicalAdapter``'s own rules, kept apart for size: they use its tables directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reasons import DropReason, Verdict
from .switch import Decision
from .vlan import outer_tag, push, strip

if TYPE_CHECKING:
    from .adapter import PhysicalAdapter
    from .nic import VNIC

_VEPA_OR_BRIDGE = ("vepa", "bridge")
_ALL = ("bridge", "vepa", "private", "passthru")


def _key(frame: bytes) -> tuple[int, bytes]:
    """The frame's VLAN key (0 when untagged or priority-tagged) and the frame without that tag."""
    tag = outer_tag(frame)
    if tag is None or not tag[1] & 0xFFF:
        return 0, frame
    return (tag[0] << 12) | (tag[1] & 0xFFF), strip(frame)


def from_uplink(adapter: "PhysicalAdapter", frame: bytes) -> Decision:
    key, bare = _key(frame)
    if key and key not in adapter.vlan_keys:
        return Decision((), DropReason.VLAN_NOT_ALLOWED)
    dst = frame[0:6]
    if dst[0] & 1:
        return _replicate(adapter, frame, bare, key, dst)
    passthru = adapter._passthru
    if passthru is not None:
        target = passthru if passthru.vf.tag_key == key else None
    else:
        target = adapter.by_vlan.get((key, dst))
    if target is None:
        if key:
            return Decision((), DropReason.NOT_FOR_US)
        return adapter._to_host if dst == adapter.host.mac.packed else adapter._miss
    if not target.port.up:
        return Decision((), DropReason.VNIC_DOWN)
    decision = adapter._to_vnic[target][0]
    if key and decision.outputs:
        return Decision(decision.outputs, Verdict.TO_VNIC, None, (bare,))
    return decision


def _replicate(adapter: "PhysicalAdapter", frame: bytes, bare: bytes, key: int, dst: bytes) -> Decision:
    source = adapter.by_vlan.get((key, frame[6:12]))
    if source is not None and source.mode in ("private", "passthru"):
        if not source.accepts(dst) or source in adapter._blocked:
            return Decision((), DropReason.NOT_FOR_US)
        port = adapter._vnic_ports[source]
        return Decision((port,), Verdict.REFLECTED_TO_SOURCE, None, (bare,) if key else None)
    allowed = _ALL if source is None else _VEPA_OR_BRIDGE if source.mode == "vepa" else ("vepa",)
    copies = tuple(port for vnic, port in sorted(adapter._vnic_ports.items(), key=lambda item: item[0].full_name)
                   if vnic is not source and vnic.vf.tag_key == key and vnic.mode in allowed and vnic.port.up
                   and vnic not in adapter._blocked and vnic.accepts(dst))
    if not key:
        return Decision(copies + (adapter._host_port,), Verdict.REPLICATED)
    if not copies:
        return Decision((), DropReason.NOT_FOR_US)
    return Decision(copies, Verdict.REPLICATED, None, (bare,) * len(copies))


def from_vnic(adapter: "PhysicalAdapter", sender: "VNIC", frame: bytes) -> Decision:
    vf = sender.vf
    key = vf.tag_key
    out = push(frame, vf.tpid, vf.qos, vf.vlan) if key else frame
    if sender.mode == "bridge":
        dst = frame[0:6]
        if dst[0] & 1:
            siblings = tuple(port for vnic, port in adapter._vnic_ports.items()
                             if vnic is not sender and vnic.mode == "bridge" and vnic.vf.tag_key == key
                             and vnic.port.up and vnic not in adapter._blocked and vnic.accepts(dst))
            return Decision(siblings + (adapter.uplink,), Verdict.TO_UPLINK, None,
                            (frame,) * len(siblings) + (out,) if key else None)
        target = adapter.by_vlan.get((key, dst))
        if target is not None and target.mode == "bridge":
            if not target.port.up:
                return Decision((), DropReason.VNIC_DOWN)
            return adapter._to_vnic[target][1]
    if key:
        return Decision((adapter.uplink,), Verdict.TO_UPLINK, None, (out,))
    return adapter._to_uplink
