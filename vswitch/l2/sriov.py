"""SR-IOV per-vNIC controls, as ``ip link set DEV vf N ...`` sets them on a virtual function.

=================  ==========================================================================================
``vlan``, ``qos``  port VLAN: the adapter inserts the tag (VID, PCP = qos; 802.1Q, or 802.1ad for QinQ) on
                   what the vNIC sends and strips it from what it receives; only that VLAN reaches the vNIC
``spoofchk``       a frame the vNIC sends with a source MAC other than its own (``SPOOFED_SOURCE``), or with a
                   VLAN tag of its own while it has a port VLAN (``SPOOFED_VLAN``), is dropped by the adapter
``trust``          only a trusted vNIC may turn on promiscuous or allmulti; an untrusted request is refused and
                   counted. A trusted promiscuous vNIC receives the unicast no vNIC owns (the adapter's default
                   destination, as Intel's ice and Cavium's liquidio drivers do)
``state``          ``auto`` (the default, and what a macvlan does: it follows its lower device's carrier): the
                   adapter's link, so with the uplink's cable down the vNIC sends and receives nothing, not even
                   from its siblings (``LINK_DOWN``); ``enable``: link up whatever the adapter's, siblings keep
                   talking; ``disable``: link down, nothing sent or received (``VF_DISABLED``)
``max_tx_rate``    Mbps; a token bucket (GCRA) on the virtual clock: a frame over the rate is dropped
                   (``RATE_LIMITED``). The bucket holds 1 ms at the rate, and always one 1514-byte frame
=================  ==========================================================================================

Every control defaults to what a macvlan does (no tag, no checks, requests granted, link as the adapter's, no
limit), so a file that names none behaves as before; real VFs ship with ``spoofchk on`` and ``trust off``
(docs/security.md). ``check_transmit`` is called by the datapath for every frame the vNIC sends; the adapter asks
``receives`` and ``tag_key`` when it sorts frames to vNICs.
"""

from __future__ import annotations

from ..core import checks
from ..core.errors import TopologyError
from ..core.frame import TPID_8021AD, TPID_8021Q
from ..core.reasons import DropReason
from .vlan import check_vid, protocol_tpid

STATES = ("auto", "enable", "disable")
BUCKET_NS = 1_000_000  # the bucket holds 1 ms of traffic at the rate...
FULL_FRAME_BITS = 1514 * 8  # ...and at least one full-size frame


class VFControls:
    """The SR-IOV settings of one vNIC and their counters."""

    def __init__(self, *, vlan: object = None, qos: object = 0, vlan_protocol: object = "802.1Q",
                 spoofchk: object = False, trust: object = None, state: object = None,
                 max_tx_rate_mbps: object = 0) -> None:
        self.vlan: int | None = None
        self.qos = 0
        self.tpid = TPID_8021Q
        self.spoofchk = checks.flag(spoofchk, "spoofchk")
        self.trust = checks.optional_flag(trust, "trust")
        self.state: str | None = None
        self.max_tx_rate_mbps = 0
        self.refused: dict[str, int] = {"promiscuous": 0, "allmulti": 0}  # requests refused (untrusted)
        self.set_vlan(vlan, qos, vlan_protocol)
        self.set_state(state)
        self.set_rate(max_tx_rate_mbps)

    # -- settings ----------------------------------------------------------------------------------------
    def set_vlan(self, vlan: object, qos: object = 0, protocol: object = "802.1Q") -> None:
        vid = None if vlan is None else check_vid(vlan, "vlan")
        if isinstance(qos, bool) or not isinstance(qos, int) or not 0 <= qos <= 7:
            raise TopologyError(f"qos {qos!r}: a priority (PCP) is 0 to 7")
        if vid is None and qos:
            raise TopologyError("qos is the priority of the port VLAN's tag: give vlan too")
        self.vlan, self.qos, self.tpid = vid, qos, protocol_tpid(protocol)

    def set_state(self, state: object) -> None:
        if state is not None and (not isinstance(state, str) or state not in STATES):
            raise TopologyError(f"state {state!r}: choose auto, enable or disable")
        self.state = state if isinstance(state, str) else None

    def set_rate(self, mbps: object) -> None:
        if isinstance(mbps, bool) or not isinstance(mbps, int) or mbps < 0:
            raise TopologyError(f"max_tx_rate {mbps!r}: Mbps as an integer, 0 for no limit")
        self.max_tx_rate_mbps = mbps
        self._tat = 0  # GCRA: the theoretical arrival time of the next conforming bit
        rate = mbps * 1_000_000
        self._tau = max(BUCKET_NS, -(-FULL_FRAME_BITS * 1_000_000_000 // rate)) if rate else 0

    @property
    def tag_key(self) -> int:
        """The adapter's key for this vNIC's VLAN: 0 without one, else TPID << 12 | VID."""
        return 0 if self.vlan is None else (self.tpid << 12) | self.vlan

    @property
    def protocol(self) -> str:
        return "802.1ad" if self.tpid == TPID_8021AD else "802.1Q"

    def is_default(self) -> bool:
        """True when nothing differs from a plain macvlan (the datapath then skips the checks)."""
        return (self.vlan is None and not self.spoofchk and self.state is None and not self.max_tx_rate_mbps)

    # -- decisions -----------------------------------------------------------------------------------------
    def link_up(self, adapter_link_up: bool) -> bool:
        """The VF's link: ``enable`` up, ``disable`` down, ``auto`` (or not set: a macvlan) the adapter's."""
        if self.state == "disable":
            return False
        return True if self.state == "enable" else adapter_link_up

    def grant(self, mode: str, on: bool) -> bool:
        """May the guest turn promiscuous (or allmulti) ``on``? Untrusted VFs are refused (and counted)."""
        if on and self.trust is False:
            self.refused[mode] += 1
            return False
        return True

    def check_transmit(self, own_mac: bytes, frame: bytes, now: int, adapter_link_up: bool) -> DropReason | None:
        """What the VF does with a frame its guest sends: None (it goes on) or why it is dropped."""
        if not self.link_up(adapter_link_up):
            return DropReason.VF_DISABLED if self.state == "disable" else DropReason.LINK_DOWN
        if self.spoofchk:
            if frame[6:12] != own_mac:
                return DropReason.SPOOFED_SOURCE
            if self.vlan is not None and len(frame) >= 16 and ((frame[12] << 8) | frame[13]) in (TPID_8021Q,
                                                                                                  TPID_8021AD):
                return DropReason.SPOOFED_VLAN
        if self.max_tx_rate_mbps:
            interval = -(-len(frame) * 8 * 1_000_000_000 // (self.max_tx_rate_mbps * 1_000_000))
            tat = self._tat if self._tat > now else now
            if tat - now > self._tau:
                return DropReason.RATE_LIMITED
            self._tat = tat + interval
        return None

    def describe_vlan(self) -> str:
        """The port VLAN as ``ip link`` sets it: ``10``, ``10 qos 3``, ``100 proto 802.1ad`` ('' without one)."""
        if self.vlan is None:
            return ""
        return (f"{self.vlan}" + (f" qos {self.qos}" if self.qos else "")
                + (" proto 802.1ad" if self.tpid == TPID_8021AD else ""))

    def describe(self) -> str:
        """``vlan 10 qos 3 802.1Q, spoofchk on, trust off, state auto, max_tx_rate 10`` (what ``ip link`` shows)."""
        parts = [f"vlan {self.describe_vlan()}"] if self.vlan is not None else []
        parts.append(f"spoofchk {'on' if self.spoofchk else 'off'}")
        if self.trust is not None:
            parts.append(f"trust {'on' if self.trust else 'off'}")
        if self.state is not None:
            parts.append(f"state {self.state}")
        if self.max_tx_rate_mbps:
            parts.append(f"max_tx_rate {self.max_tx_rate_mbps}Mbps")
        return ", ".join(parts)
