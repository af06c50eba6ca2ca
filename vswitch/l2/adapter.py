"""A physical adapter that sorts frames to vNICs by MAC, as Linux macvlan does.

The adapter has an ``uplink`` port (the cable to the LAN), the host's own interface (the driver domain's stack,
with the adapter's MAC) and any number of vNICs, each in one of the macvlan modes. The rules are those of
``drivers/net/macvlan.c``:

Transmit from a vNIC
    ``bridge``: multicast goes to every other ``bridge``-mode vNIC whose filter takes it *and* to the uplink;
    unicast to a ``bridge``-mode sibling stays inside the adapter; everything else goes to the uplink.
    ``vepa``, ``private``, ``passthru``: everything goes to the uplink.
Receive from the uplink
    Unicast goes to the vNIC owning the destination (in ``passthru``, to the one vNIC whatever the destination);
    a miss goes to the host stack, which drops what is not its own.
    Multicast whose source is a ``private`` or ``passthru`` vNIC of this adapter (a hairpinned copy of its own
    frame) goes back to that vNIC only, whether or not it joined the group: ``macvlan_handle_frame`` forwards it
    "to original port" without consulting the multicast filter (measured with kernel-check; the vNIC's
    ``takes_own_multicast`` lets the copy past the vNIC's own filter), unless its VF link is down (a disabled VF
    receives nothing, on the untagged and the VLAN path alike). Otherwise it goes to the host stack and is
    replicated: from an outside source to every vNIC; from a ``vepa`` vNIC to the ``vepa`` and ``bridge`` vNICs;
    from a ``bridge`` vNIC only to the ``vepa`` vNICs (bridge siblings already had their copy); never back to the
    source.
The host stack's own frames go to the uplink: the host reaches its vNICs only through a hairpinning switch.

A vNIC's link follows the adapter's (its uplink cabled, up and with carrier), as a macvlan's follows its lower
device's: with the cable down it neither sends nor receives, siblings included (``LINK_DOWN``; measured with
kernel-check). SR-IOV additions (``sriov.py`` has the per-vNIC controls, ``state enable`` among them): a finite MAC filter (``mac_filter_size``) drops
unicast that no vNIC owns at the uplink, until it overflows and the adapter falls back to accepting everything
and sorting in software (the host stack then drops the misses, as without a filter); a trusted promiscuous vNIC
takes the misses instead; a disabled vNIC receives nothing.

Port VLANs: ``ip link set DEV vf N vlan V qos P [proto 802.1ad]`` puts a VF in VLAN V: the NIC inserts the tag
(TPID, PCP P, VID V) on everything the VF sends and strips it from what the VF receives; the VF receives only
frames of its VLAN. Once one of its vNICs has a port VLAN the adapter sorts by (VLAN, MAC), the SR-IOV embedded
switch's rules (a macvlan, without VLANs, never inspects tags):

- Each vNIC is keyed by (VLAN, MAC): VLAN = (TPID, VID) of its port VLAN, or "untagged" for a vNIC without one,
  which then receives untagged (and priority-tagged) frames only.
- From the uplink: the outer tag picks the VLAN. Unicast goes to the vNIC with that (VLAN, MAC), its tag stripped;
  multicast is replicated, by the macvlan mode rules, to the vNICs of that VLAN. The host stack (the PF) is in the
  untagged VLAN. A tagged frame of a VLAN that no vNIC has is dropped (``VLAN_NOT_ALLOWED``: the NIC's VLAN
  filter), as is tagged unicast no vNIC of its VLAN owns (``NOT_FOR_US``).
- From a vNIC: the tag is inserted on the way to the uplink; in ``bridge`` mode siblings of the same VLAN receive
  it inside the adapter, untagged.
"""

from __future__ import annotations

from typing import Final

from ..core.errors import TopologyError
from ..core.mac import MACAddress, MACLike
from ..core.reasons import DropReason, Verdict
from .decision import Decision
from .nic import NIC, VNIC
from .port import Port, wire_internal
from .vlan import outer_tag, push, strip

MODES: Final = ("bridge", "vepa", "private", "passthru")
DEFAULT_MODE: Final = "bridge"  # SR-IOV NICs ship as a VEB; the macvlan kernel default is vepa

_VEPA_OR_BRIDGE: Final = ("vepa", "bridge")
_PRIVATE_OR_PASSTHRU: Final = ("private", "passthru")
_TO_VNIC: Final = Verdict.TO_VNIC
_BRIDGED: Final = Verdict.BRIDGED


class PhysicalAdapter:
    """An adapter with an uplink, the host's interface and vNICs demultiplexed by destination MAC."""

    kind = "adapter"

    def __init__(self, name: str, mac: MACLike, mode: str = DEFAULT_MODE, *, mac_filter_size: int | None = None
                 ) -> None:
        if mode not in MODES:
            raise TopologyError(f"adapter {name}: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mac_filter_size is not None and (isinstance(mac_filter_size, bool) or mac_filter_size < 1):
            raise TopologyError(f"adapter {name}: mac_filter_size must be at least 1, got {mac_filter_size!r}")
        self.name = name
        self.mode = mode
        self.uplink = Port(self, "uplink")
        self.host = AdapterHostNIC(self, mac)
        self._own_mac = self.host.mac
        self._host_port = Port(self, "host-side", internal=True)
        wire_internal(self._host_port, self.host.port)
        self.vnics: dict[bytes, VNIC] = {}  # MAC -> vNIC: the demultiplexing table
        self._vnic_ports: dict[VNIC, Port] = {}
        self._by_port: dict[Port, VNIC] = {}
        self._passthru: VNIC | None = None
        # The per-frame decisions, built once: to the uplink, to the host stack, to each vNIC (TO_VNIC, BRIDGED).
        self._to_uplink = Decision((self.uplink,), Verdict.TO_UPLINK)
        self._to_host = Decision((self._host_port,), Verdict.TO_HOST)
        self._to_vnic: dict[VNIC, tuple[Decision, Decision]] = {}
        self.mac_filter_size = mac_filter_size  # None: not modelled (misses reach the host stack)
        self._miss = self._to_host  # unicast from the uplink that no vNIC owns
        self._blocked: dict[VNIC, DropReason] = {}  # vNICs whose VF link is down (state disable / auto)
        self.by_vlan: dict[tuple[int, bytes], VNIC] = {}  # (VLAN key, MAC) -> vNIC, once a vNIC has a VLAN
        self.vlan_aware = False
        self.vlan_keys: set[int] = set()  # the port VLANs of its vNICs (TPID << 12 | VID)
        self.promiscuous_vnic: VNIC | None = None  # the trusted promiscuous vNIC that takes the misses
        self._special: set[VNIC] = set()  # vNICs with a port VLAN or trust on
        self._keys: dict[VNIC, tuple[int, bytes]] = {}  # each vNIC's key in by_vlan

    @property
    def mac(self) -> MACAddress:
        return self.host.mac

    # -- attach and detach --------------------------------------------------------------------------
    def attach(self, vnic: VNIC, mode: str | None = None) -> None:
        """Attach ``vnic`` in ``mode`` (default: the adapter's mode)."""
        mode = mode or self.mode
        if mode not in MODES:
            raise TopologyError(f"{vnic.full_name}: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if vnic in self._vnic_ports:
            raise TopologyError(f"{vnic.full_name} is already attached to adapter {self.name}")
        if mode == "passthru" and self.vnics:
            raise TopologyError(f"adapter {self.name}: passthru takes the whole adapter, but vNICs are attached")
        if any(v.mode == "passthru" for v in self.vnics.values()):
            raise TopologyError(f"adapter {self.name} is owned by a passthru vNIC: no other vNIC can attach")
        if vnic.mac.packed in self.vnics or (mode != "passthru" and vnic.mac == self.host.mac):
            raise TopologyError(f"{vnic.full_name}: MAC {vnic.mac} is already in use on adapter {self.name}")
        vnic.mode = mode
        vnic.hypervisor = self.name
        port = Port(self, f"vnic-{vnic.full_name}", internal=True)
        wire_internal(port, vnic.port)
        self.vnics[vnic.mac.packed] = vnic
        self._vnic_ports[vnic] = port
        self._by_port[port] = vnic
        if mode == "passthru":
            self._passthru = vnic
            self.host.set_mac(vnic.mac)  # the passthru vNIC's MAC becomes the adapter's
            vnic.takes_all_unicast = True
        vnic.takes_own_multicast = mode in _PRIVATE_OR_PASSTHRU  # _reflect() hands them back past the filter
        self.refresh(vnic)

    def detach(self, vnic: VNIC) -> None:
        port = self._vnic_ports.pop(vnic, None)
        if port is None:
            raise TopologyError(f"{vnic.full_name} is not attached to adapter {self.name}")
        del self.vnics[vnic.mac.packed]
        del self._by_port[port]
        del self._to_vnic[vnic]
        self._blocked.pop(vnic, None)
        self._special.discard(vnic)
        del self.by_vlan[self._keys.pop(vnic)]
        port.peer = None
        vnic.port.peer = None
        vnic.port.tx_check = None
        if vnic.mode == "passthru":
            self._passthru = None
            self.host.set_mac(self._own_mac)
            vnic.takes_all_unicast = False
        vnic.takes_own_multicast = False
        vnic.mode = None
        vnic.hypervisor = None
        self._refresh_adapter()

    # -- SR-IOV state ---------------------------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        """The adapter's link: its uplink cabled, up and with carrier (a VF in state auto follows it)."""
        uplink = self.uplink
        return uplink.peer is not None and uplink.up and uplink.carrier

    def filter_entries(self) -> int:
        """Unicast addresses the adapter's MAC filter must hold: its own and every vNIC's."""
        return len(self.vnics) + (self.host.mac.packed not in self.vnics)

    @property
    def filter_overflow(self) -> bool:
        """More addresses than filter entries: the adapter accepts everything and sorts in software."""
        return self.mac_filter_size is not None and self.filter_entries() > self.mac_filter_size

    def refresh(self, vnic: VNIC | None = None) -> None:
        """Recompute the per-frame decisions after a change of VF settings or rx modes (of ``vnic``, or of every
        vNIC, as after a change of the adapter's link)."""
        for each in (self._vnic_ports if vnic is None else (vnic,)):
            self._refresh_vnic(each)
        self._refresh_adapter()

    def _refresh_vnic(self, vnic: VNIC) -> None:
        port, vf = self._vnic_ports[vnic], vnic.vf
        self._blocked.pop(vnic, None)
        link = vf.link_up(self.link_up)
        if not link:  # state disable, or auto (a macvlan's default) with the uplink down
            reason = DropReason.VF_DISABLED if vf.state == "disable" else DropReason.LINK_DOWN
            self._blocked[vnic] = reason
            self._to_vnic[vnic] = (Decision((), reason), Decision((), reason))
        else:
            self._to_vnic[vnic] = (Decision((port,), _TO_VNIC), Decision((port,), _BRIDGED))
        vnic.port.tx_check = None if vf.is_default() and link else self  # the common case costs nothing
        old = self._keys.get(vnic)
        if old is not None:
            del self.by_vlan[old]
        key = self._keys[vnic] = (vf.tag_key, vnic.mac.packed)
        self.by_vlan[key] = vnic
        if vf.vlan is not None or vf.trust:
            self._special.add(vnic)
        else:
            self._special.discard(vnic)

    def _refresh_adapter(self) -> None:
        special = sorted(self._special, key=lambda v: v.full_name)  # few: vNICs with a VLAN or trust on
        self.vlan_keys = {v.vf.tag_key for v in special if v.vf.vlan is not None}
        trusted = [v for v in special if v.vf.trust and v.promiscuous and v not in self._blocked
                   and v.mode != "passthru"]
        self.promiscuous_vnic = trusted[0] if trusted else None
        if self.promiscuous_vnic is not None:
            self._miss = Decision((self._vnic_ports[self.promiscuous_vnic],), Verdict.TO_PROMISCUOUS_VNIC)
        elif self.mac_filter_size is not None and not self.filter_overflow:
            self._miss = Decision((), DropReason.NOT_FOR_US)  # the hardware filter drops it
        else:
            self._miss = self._to_host
        self.vlan_aware = bool(self.vlan_keys)

    def vnic_link_up(self, vnic: VNIC) -> bool:
        """The VF link of an attached ``vnic`` (its state, and for ``auto`` the adapter's link)."""
        return vnic not in self._blocked

    def check_transmit(self, vnic: VNIC, frame: bytes, now: int) -> DropReason | None:
        """The VF's checks on what ``vnic`` sends (the datapath calls this for vNICs with SR-IOV controls)."""
        return vnic.vf.check_transmit(vnic.mac.packed, frame, now, self.link_up)

    def demux_table(self) -> list[tuple[str, str, str]]:
        """(MAC, vNIC, mode) rows sorted by MAC, for reports."""
        return [(str(v.mac), v.full_name, v.mode or "") for _, v in sorted(self.vnics.items())]

    # -- decisions ------------------------------------------------------------------------------------
    def handle_frame(self, in_port: Port, frame: bytes, now: int) -> Decision:
        if self.vlan_aware:
            return self._handle_vlan_frame(in_port, frame, now)
        if in_port is self.uplink:
            return self._from_uplink(frame)
        if in_port is self._host_port:
            return self._to_uplink
        return self._from_vnic(self._by_port[in_port], frame)

    def _handle_vlan_frame(self, in_port: Port, frame: bytes, now: int) -> Decision:
        """``handle_frame`` once a vNIC has a port VLAN: sorting by (VLAN, MAC), tags added and stripped."""
        if in_port is self.uplink:
            return self._vlan_from_uplink(frame)
        if in_port is self._host_port:
            return self._to_uplink
        return self._vlan_from_vnic(self._by_port[in_port], frame)

    def _from_vnic(self, sender: VNIC, frame: bytes) -> Decision:
        if sender.mode == "bridge":
            dst = frame[0:6]
            if dst[0] & 1:
                siblings = tuple(port for vnic, port in self._vnic_ports.items()
                                 if vnic is not sender and vnic.mode == "bridge" and vnic.port.up
                                 and vnic not in self._blocked and vnic.accepts(dst))
                return Decision(siblings + (self.uplink,), Verdict.TO_UPLINK)
            target = self.vnics.get(dst)
            if target is not None and target.mode == "bridge":
                if not target.port.up:
                    return Decision((), DropReason.VNIC_DOWN)
                return self._to_vnic[target][1]
        return self._to_uplink

    def _from_uplink(self, frame: bytes) -> Decision:
        dst = frame[0:6]
        if dst[0] & 1:
            return self._replicate(frame, dst)
        target = self._passthru or self.vnics.get(dst)
        if target is None:
            return self._to_host if dst == self.host.mac.packed else self._miss
        if not target.port.up:
            return Decision((), DropReason.VNIC_DOWN)
        return self._to_vnic[target][0]

    def _replicate(self, frame: bytes, dst: bytes) -> Decision:
        source = self.vnics.get(frame[6:12])
        if source is not None and source.mode in _PRIVATE_OR_PASSTHRU:
            return self._reflect(source, None)
        allowed: tuple[str, ...]
        if source is None:
            allowed = MODES
        elif source.mode == "vepa":
            allowed = _VEPA_OR_BRIDGE
        else:
            allowed = ("vepa",)
        copies = tuple(port for vnic, port in sorted(self._vnic_ports.items(), key=_by_name)
                       if vnic is not source and vnic.mode in allowed and vnic.port.up and vnic not in self._blocked
                       and vnic.accepts(dst))
        return Decision(copies + (self._host_port,), Verdict.REPLICATED)

    def _reflect(self, source: VNIC, bare: bytes | None) -> Decision:
        """Multicast from the uplink whose source is ``source``, a ``private`` or ``passthru`` vNIC: to that vNIC
        alone, joined or not (macvlan's "forward to original port" skips the multicast filter), unless its VF link
        is down. Both paths decide here, so they agree; ``bare``: the frame without its VLAN tag, if it had one."""
        blocked = self._blocked.get(source)
        if blocked is not None:  # a disabled VF receives nothing (LINK_DOWN: state auto with the uplink down)
            return Decision((), blocked)
        return Decision((self._vnic_ports[source],), Verdict.REFLECTED_TO_SOURCE, None,
                        None if bare is None else (bare,))

    # -- decisions with port VLANs ----------------------------------------------------------------------
    def _vlan_from_uplink(self, frame: bytes) -> Decision:
        key, bare = _vlan_key(frame)
        if key and key not in self.vlan_keys:
            return Decision((), DropReason.VLAN_NOT_ALLOWED)
        dst = frame[0:6]
        if dst[0] & 1:
            return self._vlan_replicate(frame, bare, key, dst)
        passthru = self._passthru
        if passthru is not None:
            target = passthru if passthru.vf.tag_key == key else None
        else:
            target = self.by_vlan.get((key, dst))
        if target is None:
            if key:
                return Decision((), DropReason.NOT_FOR_US)
            return self._to_host if dst == self.host.mac.packed else self._miss
        if not target.port.up:
            return Decision((), DropReason.VNIC_DOWN)
        decision = self._to_vnic[target][0]
        if key and decision.outputs:
            return Decision(decision.outputs, Verdict.TO_VNIC, None, (bare,))
        return decision

    def _vlan_replicate(self, frame: bytes, bare: bytes, key: int, dst: bytes) -> Decision:
        source = self.by_vlan.get((key, frame[6:12]))
        if source is not None and source.mode in _PRIVATE_OR_PASSTHRU:
            return self._reflect(source, bare if key else None)
        allowed = MODES if source is None else _VEPA_OR_BRIDGE if source.mode == "vepa" else ("vepa",)
        copies = tuple(port for vnic, port in sorted(self._vnic_ports.items(), key=_by_name)
                       if vnic is not source and vnic.vf.tag_key == key and vnic.mode in allowed and vnic.port.up
                       and vnic not in self._blocked and vnic.accepts(dst))
        if not key:
            return Decision(copies + (self._host_port,), Verdict.REPLICATED)
        if not copies:
            return Decision((), DropReason.NOT_FOR_US)
        return Decision(copies, Verdict.REPLICATED, None, (bare,) * len(copies))

    def _vlan_from_vnic(self, sender: VNIC, frame: bytes) -> Decision:
        vf = sender.vf
        key = vf.tag_key  # 0: no port VLAN
        out = push(frame, vf.tpid, vf.qos, vf.vlan) if vf.vlan is not None else frame
        if sender.mode == "bridge":
            dst = frame[0:6]
            if dst[0] & 1:
                siblings = tuple(port for vnic, port in self._vnic_ports.items()
                                 if vnic is not sender and vnic.mode == "bridge" and vnic.vf.tag_key == key
                                 and vnic.port.up and vnic not in self._blocked and vnic.accepts(dst))
                return Decision(siblings + (self.uplink,), Verdict.TO_UPLINK, None,
                                (frame,) * len(siblings) + (out,) if key else None)
            target = self.by_vlan.get((key, dst))
            if target is not None and target.mode == "bridge":
                if not target.port.up:
                    return Decision((), DropReason.VNIC_DOWN)
                return self._to_vnic[target][1]
        if key:
            return Decision((self.uplink,), Verdict.TO_UPLINK, None, (out,))
        return self._to_uplink

    def __repr__(self) -> str:
        return f"<PhysicalAdapter {self.name} {self.mac} mode={self.mode} vnics={len(self.vnics)}>"


class AdapterHostNIC(NIC):
    """The host's own interface on the adapter: macvlan copies its vNICs' group memberships down to it."""

    def __init__(self, adapter: PhysicalAdapter, mac: MACLike) -> None:
        super().__init__(adapter.name, mac, "host")
        self.adapter = adapter

    def accepts(self, dst: bytes) -> bool:
        if super().accepts(dst):
            return True
        return bool(dst[0] & 1) and any(dst in vnic.groups for vnic in self.adapter.vnics.values())


def _by_name(item: tuple[VNIC, Port]) -> str:
    return item[0].full_name


def _vlan_key(frame: bytes) -> tuple[int, bytes]:
    """The frame's VLAN key (0 when untagged or priority-tagged) and the frame without that tag."""
    tag = outer_tag(frame)
    if tag is None or not tag[1] & 0xFFF:
        return 0, frame
    return (tag[0] << 12) | (tag[1] & 0xFFF), strip(frame)
