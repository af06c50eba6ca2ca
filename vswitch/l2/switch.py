"""A MAC-learning switch with the Linux bridge's forwarding rules.

``handle_frame(in_port, frame, now)`` learns the source and returns a ``Decision``; it never transmits. The rules
follow ``net/bridge`` (br_input.c, br_forward.c):

- a multicast or all-zero source is invalid: the frame is dropped, nothing learned;
- 802.1D link-local destinations (01:80:c2:00:00:0x) are not forwarded;
- the source is learned on the ingress port when the port's ``learning`` flag is on;
- broadcast, multicast and unknown unicast are flooded to every port whose ``bcast_flood`` / ``mcast_flood`` /
  ``flood`` flag allows it; known unicast goes to its port;
- a frame is never sent back out its ingress port unless that port is in ``hairpin`` (reflective relay) mode;
  flooding includes the ingress port when it hairpins;
- between two ``isolated`` ports nothing passes.

With ``vlan_filtering`` (802.1Q, ``vlan.py``), port security (``portsecurity.py``) or spanning tree
(``stp.py``) on, frames take the switch's filtering path (``_decide_filtered``) instead of the plain ``handle_frame``; a switch that uses neither
pays nothing for them. The order is the Linux bridge's (``br_handle_frame``, ``br_handle_frame_finish``,
``br_forward``), with port security where a learning check belongs:

1. a frame arriving on a port shut down by port security is dropped (``PORT_SHUT_DOWN``);
2. a multicast or all-zero source is dropped (``INVALID_SOURCE``); with STP, a frame to the bridge group
   address goes to STP (``TO_STP``), and any other on a port neither learning nor forwarding is dropped
   (``BLOCKED_BY_STP``, ``br_handle_frame``);
3. VLAN ingress (``br_allowed_ingress``, see ``vlan.py``): the frame's VLAN, or ``NO_PVID`` / ``VLAN_NOT_ALLOWED``;
4. port security: a new source beyond the port's ``max_macs`` is a violation (``PORT_SECURITY``);
5. the source is learned under (VLAN, MAC); a port in STP's learning state forwards nothing;
6. link-local destinations are not forwarded; broadcast, multicast and unknown unicast are flooded to the ports
   that carry the VLAN (and whose flags allow it); known unicast goes to its port if that port carries the VLAN
   (``br_allowed_egress``; else ``VLAN_NOT_ALLOWED``), never to a shut-down port nor, with STP, to a port that
   is not forwarding (``should_deliver``);
7. each copy leaves tagged or untagged as its egress port has the VLAN.

Without ``vlan_filtering`` every frame is in VLAN 1 and leaves as it came (tags are payload to a VLAN-unaware
bridge). A switch cabled to a switch detects loops and bounds broadcast storms (``storm.py``, applied by the
datapath).
"""

from __future__ import annotations

import bisect
from typing import Final, cast

from ..core import checks
from ..core.errors import TopologyError
from ..core.frame import DEFAULT_MTU
from ..core.mac import MACAddress, mac_str
from ..core.reasons import DropReason, Verdict
from .bpdu import STP_GROUP
from .decision import Decision, Node
from .fdb import DEFAULT_AGEING_NS, ForwardingTable, LearnResult
from .port import Port
from .portsecurity import PortSecurity
from .stp import SpanningTree
from .stp_port import FORWARDING, LEARNING
from .storm import DEFAULT_STORM_LIMIT, StormGuard
from .vlan import DEFAULT_PVID, Classified, PortVlans, classify, protocol_tpid

UNTAGGED_VLAN: Final = 1
_LINK_LOCAL_PREFIX: Final = bytes.fromhex("0180c20000")

#: Per-port flags and their defaults, as ``bridge link set`` names them.
PORT_FLAGS = {
    "learning": True,
    "flood": True,
    "mcast_flood": True,
    "bcast_flood": True,
    "hairpin": False,
    "isolated": False,
}


_FORWARDED: Final = Verdict.FORWARDED
_REFRESHED: Final = LearnResult.REFRESHED
_ZERO_MAC: Final = bytes(6)
_BROADCAST: Final = b"\xff" * 6
_INVALID_SOURCE: Final = Decision((), DropReason.INVALID_SOURCE)


class SwitchPort(Port):
    """A bridge port with the Linux per-port flags.

    ``forward_refreshed`` is the decision of the steady state (known unicast out of this port, source refreshed),
    built once: constructing a ``Decision`` per frame costs more than the rest of the lookup.
    """

    def __init__(self, node: "LearningSwitch", name: str, *, mtu: int = DEFAULT_MTU, internal: bool = False,
                 **flags: bool) -> None:
        super().__init__(node, name, mtu=mtu, internal=internal)
        unknown = set(flags) - set(PORT_FLAGS)
        if unknown:
            raise TopologyError(f"{self.full_name}: unknown port flag(s) {sorted(unknown)}; known: {sorted(PORT_FLAGS)}")
        settings = {**PORT_FLAGS, **flags}
        self.learning: bool = settings["learning"]
        self.flood: bool = settings["flood"]
        self.mcast_flood: bool = settings["mcast_flood"]
        self.bcast_flood: bool = settings["bcast_flood"]
        self.hairpin: bool = settings["hairpin"]
        self.isolated: bool = settings["isolated"]
        self.forward_refreshed = Decision((self,), _FORWARDED, _REFRESHED)
        self.vlans = PortVlans.access(DEFAULT_PVID)  # with vlan_filtering: the bridge's default_pvid, untagged
        self.security: PortSecurity | None = None
        self.shut_down = False  # by port security's shutdown action
        self.state = FORWARDING  # STP's port state (stp.py); a bridge without STP forwards on every port
        self.tally.seen = node.storm.seen if node.storm.armed else None  # loop detection (storm.py)

    def flags(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in PORT_FLAGS}


class LearningSwitch(Node):
    """A learning bridge: named ports, a forwarding table, decisions on bytes."""

    kind = "switch"

    def __init__(self, name: object, *, ageing_ns: object = DEFAULT_AGEING_NS, table_limit: object = None,
                 table_policy: object = "refuse", vlan_filtering: object = False,
                 vlan_protocol: object = "802.1Q", storm_limit: object = DEFAULT_STORM_LIMIT) -> None:
        self.name = checks.text(name, "LearningSwitch: name")
        self.table = ForwardingTable(ageing_ns, table_limit, table_policy)
        self.ports: dict[str, SwitchPort] = {}
        self._port_list: tuple[SwitchPort, ...] = ()
        self.vlan_filtering = checks.flag(vlan_filtering, f"switch {self.name}: vlan_filtering")
        self.tpid = protocol_tpid(vlan_protocol)
        self.vlan_protocol = checks.text(vlan_protocol, f"switch {self.name}: vlan_protocol")
        self.storm = StormGuard(storm_limit)
        self.filtered = False  # frames take the filtering path (``_decide_filtered``)
        self.stp: SpanningTree | None = None  # spanning tree (stp.py), set up by net/spanning.py
        self._choose_path()

    # -- VLANs, port security -----------------------------------------------------------------------
    def _choose_path(self) -> None:
        """The filtering path when VLAN filtering or a port's security is on; else the plain ``handle_frame``."""
        self.filtered = (self.vlan_filtering or self.stp is not None
                         or any(p.security is not None for p in self.ports.values()))

    def run_stp(self, stp: object) -> None:
        """Run spanning tree (``stp.py``): frames then take the filtering path, which reads the port states."""
        self.stp = checks.instance(stp, SpanningTree, f"switch {self.name}: stp")
        self._choose_path()

    def carrier_changed(self, port: object, up: object, now: object) -> None:
        """A port's cable went down (what it learned is forgotten) or up (an err-disabled port reopens); STP
        disables or enables the port."""
        target = self.port(port)
        state = checks.flag(up, f"{target.full_name}: up")
        if state:
            self.reopen(target.name)
        else:
            self.table.flush_port(target.name)
        if self.stp is not None:
            self.stp.carrier_changed(target.name, state, checks.nanoseconds(now, "carrier_changed: now"))

    def arm_storm_guard(self) -> None:
        """Watch for loops: this switch is cabled to a switch (itself included), so a loop may go through it."""
        self.storm.armed = True
        for port in self.ports.values():
            port.tally.seen = self.storm.seen

    def set_vlans(self, port: object, vlans: object) -> None:
        """A port's VLANs (``bridge vlan add/del``); what it learned in VLANs it no longer carries is forgotten."""
        target = self.port(port)
        members = checks.instance(vlans, PortVlans, f"{target.full_name}: vlans")
        target.vlans = members
        self.table.flush_port(target.name, keep_vlans=members.vlans)

    def add_static(self, mac: object, port: object, vlan: object = None) -> tuple[int, ...]:
        """``bridge fdb add MAC dev PORT master static [vlan VID]``; returns the VLANs the entry went into.

        Without VLAN filtering the table has one key space (VLAN 1) and ``vlan`` is refused. With it, the entry
        goes into ``vlan``, which the port must carry (the kernel refuses an "unconfigured vlan"), or, with no
        ``vlan``, into every VLAN the port carries, as ``br_fdb_add`` does (it also adds a VLAN 0 entry, which
        no lookup of a VLAN-filtering bridge uses: left out here). ``mac``: 6 bytes, text or a ``MACAddress``.
        """
        target = self.port(port)
        packed = MACAddress(mac).packed
        vid = checks.optional_integer(vlan, f"static entry on {target.full_name}: vlan", minimum=1, maximum=4094)
        if not self.vlan_filtering:
            if vid is not None:
                raise TopologyError(f"static entry {mac_str(packed)} on {target.full_name}: vlan {vid} needs "
                                    f"vlan_filtering on switch {self.name}; leave vlan out")
            vids: tuple[int, ...] = (UNTAGGED_VLAN,)
        elif vid is None:
            vids = tuple(sorted(target.vlans.vlans))
        elif not target.vlans.carries(vid):
            raise TopologyError(f"static entry {mac_str(packed)} on {target.full_name}: the port does not carry VLAN "
                                f"{vid} ({target.vlans.describe()}); add it to the port's vlans")
        else:
            vids = (vid,)
        for each in vids:
            self.table.add_static(each, packed, target.name)
        return vids

    def set_security(self, port: object, security: object) -> None:
        """A port's MAC limit and violation action (None: none, and a shut-down port reopens)."""
        target = self.port(port)
        target.security = checks.optional_instance(security, PortSecurity, f"{target.full_name}: security")
        if target.security is None:
            self.reopen(target.name)
        self._choose_path()

    def shut_down(self, port: object) -> None:
        """Port security's shutdown: the port forgets what it learned and stops forwarding (err-disabled)."""
        target = self.port(port)
        target.shut_down = True
        target.forward_refreshed = Decision((), DropReason.PORT_SHUT_DOWN, _REFRESHED)
        self.table.flush_port(target.name)

    def reopen(self, port: object) -> None:
        """Clear a shut-down port (its cable went down and up again)."""
        target = self.port(port)
        if target.shut_down:
            target.shut_down = False
            target.forward_refreshed = Decision((target,), _FORWARDED, _REFRESHED)

    # -- ports ------------------------------------------------------------------------------------
    def add_port(self, name: object = None, *, internal: object = False, **flags: object) -> SwitchPort:
        """Add a port (``p1``, ``p2``... when unnamed) and return it."""
        port_name = checks.optional_text(name, f"switch {self.name}: port name")
        hidden = checks.flag(internal, f"switch {self.name}: internal")
        settings = {flag: checks.flag(value, f"switch {self.name}: port flag {flag}") for flag, value in flags.items()}
        if port_name is None:
            number = len(self.ports) + 1
            while f"p{number}" in self.ports:
                number += 1
            port_name = f"p{number}"
        if port_name in self.ports:
            raise TopologyError(f"switch {self.name} already has a port {port_name}")
        port = SwitchPort(self, port_name, internal=hidden, **settings)
        self.ports[port_name] = port
        ordered = list(self._port_list)
        bisect.insort(ordered, port, key=_port_key)  # not a full sort per port: hosts may have 1,000 vifs
        self._port_list = tuple(ordered)
        return port

    def remove_port(self, name: object) -> None:
        """Remove a port and forget what was learned on it."""
        port_name = self.port(name).name
        del self.ports[port_name]
        self._port_list = tuple(p for p in self._port_list if p.name != port_name)
        self.table.flush_port(port_name)

    def port(self, name: object) -> SwitchPort:
        """The port named ``name`` (``p1``); a ``TopologyError`` listing the ports if there is none."""
        port = self.ports.get(name) if isinstance(name, str) else None
        if port is None:
            known = ", ".join(sorted(self.ports, key=_port_order)) or "none"
            raise TopologyError(f"switch {self.name} has no port {name!r} (ports: {known})")
        return port

    def set_flag(self, port: object, flag: object, value: object) -> None:
        """Set a port flag (``learning``, ``flood``, ``hairpin``... as ``bridge link set`` does)."""
        if not isinstance(flag, str) or flag not in PORT_FLAGS:
            raise TopologyError(f"unknown port flag {flag!r}; known: {', '.join(PORT_FLAGS)}")
        target = self.port(port)
        setattr(target, flag, checks.flag(value, f"{target.full_name}: {flag}"))

    # -- the decision -----------------------------------------------------------------------------
    def handle_frame(self, port: Port, frame: bytes, now: int) -> Decision:
        """Learn from ``frame`` arriving on ``port`` and decide where it goes."""
        in_port = cast(SwitchPort, port)  # every port of a switch is a SwitchPort
        if self.filtered:
            return _decide_filtered(self, in_port, frame, now)
        src = frame[6:12]
        if src[0] & 1 or src == _ZERO_MAC:
            return _INVALID_SOURCE
        dst = frame[0:6]
        table = self.table
        learned = table.learn(UNTAGGED_VLAN, src, in_port.name, now) if in_port.learning else None
        if dst[0] & 1:
            if dst[:5] == _LINK_LOCAL_PREFIX and dst[5] < 0x10:
                return Decision((), DropReason.LINK_LOCAL, learned)
            if dst == _BROADCAST:
                return self._flood(in_port, "bcast_flood", Verdict.FLOODED_BROADCAST, learned)
            return self._flood(in_port, "mcast_flood", Verdict.FLOODED_MULTICAST, learned)
        out_name = table.lookup(UNTAGGED_VLAN, dst, now)
        if out_name is None:
            return self._flood(in_port, "flood", Verdict.FLOODED_UNKNOWN, learned)
        out = self.ports.get(out_name)
        if out is None:  # static entry naming a port that does not exist
            return self._flood(in_port, "flood", Verdict.FLOODED_UNKNOWN, learned)
        if out is in_port and not out.hairpin:
            return Decision((), DropReason.SAME_PORT, learned)
        if in_port.isolated and out.isolated:
            return Decision((), DropReason.ISOLATED, learned)
        if learned is _REFRESHED:
            return out.forward_refreshed
        return Decision((out,), _FORWARDED, learned)

    def _flood(self, in_port: SwitchPort, flag: str, verdict: Verdict, learned: LearnResult | None) -> Decision:
        isolated = in_port.isolated
        outputs = tuple(
            p for p in self._port_list
            if p.up and p.carrier and getattr(p, flag) and (p is not in_port or p.hairpin) and not (isolated and p.isolated)
        )
        if not outputs:
            return Decision((), DropReason.NO_EGRESS, learned)
        return Decision(outputs, verdict, learned)

    def __repr__(self) -> str:
        return f"<LearningSwitch {self.name} ports={len(self.ports)}>"


# -- the filtering path: 802.1Q VLAN filtering and port security ---------------------------------------
def _decide_filtered(switch: LearningSwitch, in_port: SwitchPort, frame: bytes, now: int) -> Decision:
    """Learn from ``frame`` arriving on ``in_port`` and decide where its copies go, with which tags."""
    if in_port.shut_down:
        return Decision((), DropReason.PORT_SHUT_DOWN)
    src = frame[6:12]
    if src[0] & 1 or src == _ZERO_MAC:
        return Decision((), DropReason.INVALID_SOURCE)
    stp = switch.stp
    if stp is not None:
        if frame[0:6] == STP_GROUP:
            return _to_stp(switch, stp, in_port, frame, now)
        if in_port.state != FORWARDING and in_port.state != LEARNING:
            return Decision((), DropReason.BLOCKED_BY_STP)
    classified: Classified | None = None
    vid = UNTAGGED_VLAN
    if switch.vlan_filtering:
        result = classify(frame, switch.tpid, in_port.vlans)
        if isinstance(result, DropReason):
            return Decision((), result)
        classified, vid = result, result.vid
    table = switch.table
    if in_port.security is not None and in_port.learning:
        violation = in_port.security.check(in_port, table, vid, src, now)
        if violation is not None:
            return Decision((), violation)
    learned = table.learn(vid, src, in_port.name, now) if in_port.learning else None
    if in_port.state == LEARNING:
        return Decision((), DropReason.BLOCKED_BY_STP, learned)
    dst = frame[0:6]
    if dst[0] & 1:
        if dst[:5] == _LINK_LOCAL_PREFIX and dst[5] < 0x10:
            return Decision((), DropReason.LINK_LOCAL, learned)
        if dst == _BROADCAST:
            return _flood_filtered(switch, in_port, "bcast_flood", Verdict.FLOODED_BROADCAST, learned, classified)
        return _flood_filtered(switch, in_port, "mcast_flood", Verdict.FLOODED_MULTICAST, learned, classified)
    out_name = table.lookup(vid, dst, now)
    out = switch.ports.get(out_name) if out_name is not None else None
    if out is None:
        return _flood_filtered(switch, in_port, "flood", Verdict.FLOODED_UNKNOWN, learned, classified)
    if out is in_port and not out.hairpin:
        return Decision((), DropReason.SAME_PORT, learned)
    if in_port.isolated and out.isolated:
        return Decision((), DropReason.ISOLATED, learned)
    if out.shut_down:
        return Decision((), DropReason.PORT_SHUT_DOWN, learned)
    if out.state != FORWARDING:
        return Decision((), DropReason.BLOCKED_BY_STP, learned)
    if classified is None:
        return Decision((out,), Verdict.FORWARDED, learned)
    if vid not in out.vlans.vlans:
        return Decision((), DropReason.VLAN_NOT_ALLOWED, learned)
    return Decision((out,), Verdict.FORWARDED, learned, (classified.egress(out.vlans),))


def _to_stp(switch: LearningSwitch, stp: SpanningTree, in_port: SwitchPort, frame: bytes, now: int) -> Decision:
    """A frame to the bridge group address: the kernel learns its source on a learning or forwarding port
    (``br_handle_local_finish``; in VLAN 1 here, not under VLAN filtering) and hands it to ``br_stp_rcv``."""
    learned: LearnResult | None = None
    if in_port.learning and not switch.vlan_filtering and (in_port.state == FORWARDING or in_port.state == LEARNING):
        learned = switch.table.learn(UNTAGGED_VLAN, frame[6:12], in_port.name, now)
    refused = stp.receive(in_port.name, frame, now)
    if refused is None:
        return Decision((), Verdict.TO_STP, learned)
    return Decision((), DropReason.BPDU_TOO_OLD if refused == "too_old" else DropReason.BPDU_IGNORED, learned)


def _flood_filtered(switch: LearningSwitch, in_port: SwitchPort, flag: str, verdict: Verdict,
           learned: LearnResult | None, classified: Classified | None) -> Decision:
    isolated = in_port.isolated
    vid = classified.vid if classified is not None else None
    outputs = tuple(
        p for p in switch._port_list
        if p.up and p.carrier and not p.shut_down and p.state == FORWARDING and getattr(p, flag) and (p is not in_port or p.hairpin)
        and not (isolated and p.isolated) and (vid is None or vid in p.vlans.vlans)
    )
    if not outputs:
        return Decision((), DropReason.NO_EGRESS, learned)
    if classified is None:
        return Decision(outputs, verdict, learned)
    return Decision(outputs, verdict, learned, tuple(classified.egress(p.vlans) for p in outputs))


def _port_key(port: Port) -> tuple:
    return _port_order(port.name)


def _port_order(name: str) -> tuple:
    """Sort ``p2`` before ``p10``: digits compare as numbers."""
    digits = "".join(c for c in name if c.isdigit())
    return (name.rstrip("0123456789"), int(digits) if digits and name[-1].isdigit() else -1, name)
