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
    receives nothing). Otherwise it goes to the host stack and is
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
frames of its VLAN. The adapter sorts by (VLAN, MAC), the SR-IOV embedded switch's rules: the rules above are
written once, keyed by VLAN, and apply within each VLAN. Without port VLANs every vNIC is in the untagged VLAN
(key 0) and the adapter never reads a tag, as a macvlan never does:

- Each vNIC is keyed by (VLAN, MAC): VLAN = (TPID, VID) of its port VLAN, or "untagged" for a vNIC without one,
  which then receives untagged (and priority-tagged) frames only. ``tests/test_adapter_table.py`` runs the whole
  truth table with and without port VLANs.
- From the uplink: the outer tag picks the VLAN. Unicast goes to the vNIC with that (VLAN, MAC), its tag stripped;
  multicast is replicated, by the macvlan mode rules, to the vNICs of that VLAN. The host stack (the PF) is in the
  untagged VLAN. A tagged frame of a VLAN that no vNIC has is dropped (``VLAN_NOT_ALLOWED``: the NIC's VLAN
  filter), as is tagged unicast no vNIC of its VLAN owns (``NOT_FOR_US``).
- From a vNIC: the tag is inserted on the way to the uplink; in ``bridge`` mode siblings of the same VLAN receive
  it inside the adapter, untagged.

Host VLAN interfaces (``add_vlan_interface``: ``eth0.N``, the host's ``<adapter>.N``), vNICs stacked on them
(``lower_vid``): ``vlan_do_receive`` hands a tagged frame to ``eth0.N`` before ``eth0``'s macvlan sees it, so the
rules above run on VLAN (802.1Q, N) among its vNICs, ``eth0.N`` in the host stack's part (misses, which its stack
drops as ``PACKET_OTHERHOST``, and a copy of each multicast); all they send leaves tagged. A frame of a VLAN with
no interface goes through ``eth0``'s macvlan, which never reads a tag, and ``eth0``'s stack drops it
(``check_vlan_id``: ``VLAN_NO_INTERFACE``), unless port VLANs turned the NIC's VLAN filter on (above).
"""

from __future__ import annotations

from typing import Final

from ..core import checks
from ..core.errors import TopologyError
from ..core.frame import TPID_8021AD, TPID_8021Q, pop_tag, push_tag
from ..core.mac import MACAddress, MACLike
from ..core.reasons import DropReason, Verdict
from .decision import Decision, Node
from .flood_batch import FloodBatch, FloodLedger
from .macvlan_members import Member, Vlan
from .nic import DEFAULT_GROUPS, NIC, VNIC
from .port import Port, wire_internal
from .vlan import check_vid, outer_tag

MODES: Final = ("bridge", "vepa", "private", "passthru")
DEFAULT_MODE: Final = "bridge"  # SR-IOV NICs ship as a VEB; the macvlan kernel default is vepa

_VEPA: Final = ("vepa",)
_BRIDGE: Final = ("bridge",)
_BROADCAST: Final = b"\xff" * 6
_VEPA_OR_BRIDGE: Final = ("vepa", "bridge")
_PRIVATE_OR_PASSTHRU: Final = ("private", "passthru")
_TO_VNIC: Final = Verdict.TO_VNIC
_TO_UPLINK: Final = Verdict.TO_UPLINK
_REPLICATED: Final = Verdict.REPLICATED
_NOT_FOR_US: Final = Decision((), DropReason.NOT_FOR_US)
_VNIC_DOWN: Final = Decision((), DropReason.VNIC_DOWN)
_VLAN_NOT_ALLOWED: Final = Decision((), DropReason.VLAN_NOT_ALLOWED)
_VLAN_NO_INTERFACE: Final = Decision((), DropReason.VLAN_NO_INTERFACE)
_INTERFACE_DOWN: Final = Decision((), DropReason.INTERFACE_DOWN)


class PhysicalAdapter(Node):
    """An adapter with an uplink, the host's interface and vNICs demultiplexed by destination MAC."""

    kind = "adapter"

    def __init__(self, name: object, mac: MACLike, mode: object = DEFAULT_MODE, *, mac_filter_size: object = None
                 ) -> None:
        self.name = checks.text(name, "PhysicalAdapter: name")
        if not isinstance(mode, str) or mode not in MODES:
            raise TopologyError(f"adapter {name}: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mac_filter_size is not None and (isinstance(mac_filter_size, bool) or not isinstance(mac_filter_size, int)
                                            or mac_filter_size < 1):
            raise TopologyError(f"adapter {name}: mac_filter_size must be at least 1, got {mac_filter_size!r}")
        filter_size = mac_filter_size if isinstance(mac_filter_size, int) else None
        self.mode: str = mode
        self.uplink = Port(self, "uplink")
        self.host = AdapterHostNIC(self, mac)
        self._own_mac = self.host.mac
        self._host_port = Port(self, "host-side", internal=True)
        wire_internal(self._host_port, self.host.port)
        self.vnics: dict[bytes, VNIC] = {}  # MAC -> vNIC, whatever its VLAN
        self._members: dict[VNIC, Member] = {}
        self._by_port: dict[Port, Member] = {}
        self.ledger = FloodLedger()  # the flood counts its ready lists keep in bulk (flood_batch.py)
        self._untagged = Vlan(0, self.ledger)
        self._vlans: dict[int, Vlan] = {0: self._untagged}  # the rules' table: VLAN key -> its vNICs by MAC
        self._passthru: Member | None = None
        self.interfaces: dict[int, AdapterHostNIC] = {}  # VID -> the host's VLAN interface (eth0.VID)
        self._from_interface: dict[Port, Vlan] = {}  # the adapter's side of each VLAN interface -> its VLAN
        self._vlan_filter = False  # a vNIC has a port VLAN: the NIC drops frames of other VLANs (VLAN_NOT_ALLOWED)
        # The per-frame decisions, built once: to the uplink, to the host stack (and each member's own).
        self._to_uplink = Decision((self.uplink,), _TO_UPLINK)
        self._to_host = Decision((self._host_port,), Verdict.TO_HOST)
        self._host_tail = (self._host_port,)
        self.mac_filter_size = filter_size  # None: not modelled (misses reach the host stack)
        self._miss = self._to_host  # untagged unicast from the uplink that no vNIC owns
        self.vlan_aware = False  # a vNIC has a port VLAN: frames from the uplink are sorted by their tag
        self.vlan_keys: set[int] = set()  # the port VLANs of its vNICs (TPID << 12 | VID)
        self.promiscuous_vnic: VNIC | None = None  # the trusted promiscuous vNIC that takes the misses
        self._special: set[VNIC] = set()  # vNICs with a port VLAN or trust on

    @property
    def mac(self) -> MACAddress:
        """The adapter's own MAC: its host interface's (``<hypervisor>.host``)."""
        return self.host.mac

    # -- attach and detach --------------------------------------------------------------------------
    def attach(self, vnic: object, mode: object = None) -> None:
        """Attach ``vnic`` in ``mode`` (default: the adapter's mode)."""
        vnic = checks.instance(vnic, VNIC, f"adapter {self.name}: attach: vnic")
        mode = mode or self.mode
        if not isinstance(mode, str) or mode not in MODES:
            raise TopologyError(f"{vnic.full_name}: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if vnic in self._members:
            raise TopologyError(f"{vnic.full_name} is already attached to adapter {self.name}")
        if mode == "passthru" and self.vnics:
            raise TopologyError(f"adapter {self.name}: passthru takes the whole adapter, but vNICs are attached")
        if self._passthru is not None:
            raise TopologyError(f"adapter {self.name} is owned by a passthru vNIC: no other vNIC can attach")
        if vnic.mac.packed in self.vnics or (mode != "passthru" and vnic.mac == self.host.mac):
            raise TopologyError(f"{vnic.full_name}: MAC {vnic.mac} is already in use on adapter {self.name}")
        self._check_lower(vnic, mode)
        vnic.mode = mode
        vnic.hypervisor = self.name
        port = Port(self, f"vnic-{vnic.full_name}", internal=True)
        wire_internal(port, vnic.port)
        member = Member(vnic, port, mode)
        self.vnics[vnic.mac.packed] = vnic
        self._members[vnic] = member
        self._by_port[port] = member
        if mode == "passthru":
            self._passthru = member
            self.host.set_mac(vnic.mac)  # the passthru vNIC's MAC becomes the adapter's
            vnic.takes_all_unicast = True
        vnic.takes_own_multicast = mode in _PRIVATE_OR_PASSTHRU  # _reflect() hands them back past the filter
        self.refresh(vnic)

    def detach(self, vnic: object) -> None:
        """Remove ``vnic`` from the adapter (its MAC leaves the demultiplexing table)."""
        vnic = checks.instance(vnic, VNIC, f"adapter {self.name}: detach: vnic")
        member = self._members.pop(vnic, None)
        if member is None:
            raise TopologyError(f"{vnic.full_name} is not attached to adapter {self.name}")
        del self.vnics[vnic.mac.packed]
        del self._by_port[member.port]
        self._special.discard(vnic)
        self._move(member, None)
        member.port.peer = None
        vnic.port.peer = None
        vnic.port.tx_check = None
        if member is self._passthru:
            self._passthru = None
            self.host.set_mac(self._own_mac)
            vnic.takes_all_unicast = False
        vnic.takes_own_multicast = False
        vnic.mode = None
        vnic.hypervisor = None
        self._refresh_adapter()

    def _move(self, member: Member, key: int | None) -> None:
        """Put ``member`` in VLAN ``key`` (None: in none), keeping each VLAN's members in name order."""
        old = member.vlan
        if old is not None and old.key == key:
            return
        if old is not None:
            old.remove(member)
            if old.key and not old.members and old.interface is None:
                del self._vlans[old.key]
        if key is not None:
            vlan = self._vlans.get(key)
            if vlan is None:
                vlan = self._vlans[key] = Vlan(key, self.ledger)
            vlan.add(member)

    # -- host VLAN interfaces (eth0.N) -------------------------------------------------------------------
    def add_vlan_interface(self, vid: object, mac: MACLike | None = None) -> AdapterHostNIC:
        """The host's 802.1Q interface ``<adapter>.<vid>`` (``ip link add link eth0 name eth0.VID type vlan id
        VID``), with the adapter's MAC unless ``mac`` is given; vNICs whose ``lower_vid`` is ``vid`` stack on it."""
        number = check_vid(vid, f"adapter {self.name}: VLAN interface")
        key = (TPID_8021Q << 12) | number
        if number in self.interfaces:
            raise TopologyError(f"adapter {self.name} already has a VLAN interface {self.name}.{number}")
        if self._passthru is not None:
            raise TopologyError(f"adapter {self.name} is owned by a passthru vNIC: it has no VLAN interfaces")
        if key in self._vlans:
            raise TopologyError(f"{self.name}.{number}: VLAN {number} is already a port VLAN of a vNIC on adapter "
                                f"{self.name}; stack the vNIC on the interface (on: {self.name}.{number}) instead")
        nic = AdapterHostNIC(self, self.host.mac if mac is None else mac, str(number), number)
        if nic.mac.packed in self.vnics:
            raise TopologyError(f"{nic.full_name}: MAC {nic.mac} is already in use on adapter {self.name}")
        port = Port(self, f"{number}-side", internal=True)
        wire_internal(port, nic.port)
        vlan = self._vlans[key] = Vlan(key, self.ledger)
        vlan.interface, vlan.interface_port = nic, port
        self.interfaces[number] = nic
        self._from_interface[port] = vlan
        self._refresh_adapter()
        return nic

    def _check_lower(self, vnic: VNIC, mode: str) -> None:
        """A vNIC on a VLAN interface (``lower_vid``) needs that interface, no port VLAN and a mode other than
        passthru; a vNIC with a port VLAN cannot take a VLAN interface's VLAN."""
        vid, vf = vnic.lower_vid, vnic.vf
        if vid and vid not in self.interfaces:
            raise TopologyError(f"{vnic.full_name}: adapter {self.name} has no VLAN interface {self.name}.{vid}")
        if vid and vf.vlan is not None:
            raise TopologyError(f"{vnic.full_name}: a vNIC on VLAN interface {self.name}.{vid} is untagged behind "
                                "it and takes no port VLAN (vlan); give one or the other")
        if vid and mode == "passthru":
            raise TopologyError(f"{vnic.full_name}: passthru takes the whole adapter, not VLAN interface "
                                f"{self.name}.{vid}")
        if mode == "passthru" and self.interfaces:
            raise TopologyError(f"adapter {self.name} has VLAN interfaces: passthru cannot take the whole adapter")
        if vf.tpid == TPID_8021Q and vf.vlan in self.interfaces:
            raise TopologyError(f"{vnic.full_name}: VLAN {vf.vlan} is VLAN interface {self.name}.{vf.vlan}'s: "
                                f"stack the vNIC on it (on: {self.name}.{vf.vlan}) instead of a port VLAN")

    # -- SR-IOV state ---------------------------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        """The adapter's link: its uplink cabled, up and with carrier (a VF in state auto follows it)."""
        uplink = self.uplink
        return uplink.peer is not None and uplink.up and uplink.carrier

    def filter_entries(self) -> int:
        """Addresses the adapter's MAC filter holds: its own, its VLAN interfaces' and each vNIC's, and the groups
        they joined beyond those every interface is in (IPv6's solicited-node groups)."""
        own = [self.host, *self.interfaces.values()]
        groups = set().union(*(nic.groups for nic in own), *(vnic.groups for vnic in self.vnics.values()))
        unicast = {nic.mac.packed for nic in own}
        return len(self.vnics) + len(unicast - self.vnics.keys()) + len(groups.difference(DEFAULT_GROUPS))

    @property
    def filter_overflow(self) -> bool:
        """More addresses than filter entries: the adapter accepts everything and sorts in software."""
        return self.mac_filter_size is not None and self.filter_entries() > self.mac_filter_size

    def refresh(self, vnic: object = None) -> None:
        """Recompute the per-frame decisions after a change of VF settings or rx modes (of ``vnic``, or of every
        vNIC, as after a change of the adapter's link)."""
        if vnic is not None and (not isinstance(vnic, VNIC) or vnic not in self._members):
            raise TopologyError(f"adapter {self.name}: refresh {vnic!r}: not a vNIC attached to it")
        for each in (self._members if vnic is None else (vnic,)):
            self._refresh_vnic(self._members[each])
        self._refresh_adapter()

    def _refresh_vnic(self, member: Member) -> None:
        vnic, vf = member.vnic, member.vnic.vf
        self._check_lower(vnic, member.mode)  # a port VLAN set at run time must not take a VLAN interface's
        link = vf.link_up(self._lower_link(vnic))
        # down: state disable, or auto (a macvlan's default) with the uplink down
        member.block(None if link else DropReason.VF_DISABLED if vf.state == "disable" else DropReason.LINK_DOWN)
        vnic.port.tx_check = None if vf.is_default() and link else self  # the common case costs nothing
        self._move(member, (TPID_8021Q << 12) | vnic.lower_vid if vnic.lower_vid else vf.tag_key)
        if vf.vlan is not None or vf.trust:
            self._special.add(vnic)
        else:
            self._special.discard(vnic)

    def _refresh_adapter(self) -> None:
        special = sorted(self._special, key=lambda v: v.full_name)  # few: vNICs with a VLAN or trust on
        self.vlan_keys = {key for key in self._vlans if key}
        trusted = [v for v in special if v.vf.trust and v.promiscuous and self._members[v].blocked is None
                   and v.mode != "passthru" and not v.lower_vid]
        self.promiscuous_vnic = trusted[0] if trusted else None
        if trusted:
            self._miss = Decision((self._members[trusted[0]].port,), Verdict.TO_PROMISCUOUS_VNIC)
        elif self.mac_filter_size is not None and not self.filter_overflow:
            self._miss = _NOT_FOR_US  # the hardware filter drops it
        else:
            self._miss = self._to_host
        self._vlan_filter = any(m.vnic.vf.vlan is not None for m in self._members.values())
        self.vlan_aware = bool(self.vlan_keys)

    def _lower_link(self, vnic: VNIC) -> bool:
        """The link of the device ``vnic`` sits on: the adapter's, and for a vNIC on eth0.N that eth0.N is up too
        (a macvlan's carrier follows its lower device)."""
        return self.link_up and (not vnic.lower_vid or self.interfaces[vnic.lower_vid].port.up)

    def vnic_link_up(self, vnic: VNIC) -> bool:
        """The VF link of an attached ``vnic`` (its state, and for ``auto`` the adapter's link)."""
        return self._members[vnic].blocked is None

    def check_transmit(self, vnic: VNIC, frame: bytes, now: int) -> DropReason | None:
        """The VF's checks on what ``vnic`` sends (the datapath calls this for vNICs with SR-IOV controls)."""
        return vnic.vf.check_transmit(vnic.mac.packed, frame, now, self._lower_link(vnic))

    def demux_table(self) -> list[tuple[str, str, str]]:
        """(MAC, vNIC, mode) rows sorted by MAC, for reports."""
        return [(str(v.mac), v.full_name, v.mode or "") for _, v in sorted(self.vnics.items())]

    # -- decisions: one set of rules, keyed by VLAN (0: untagged) ------------------------------------------
    def flood_batch(self, outputs: tuple[Port, ...]) -> FloodBatch | None:
        """The batch of ``outputs``, if it is the ready flood list this adapter has just decided on."""
        batch = self.ledger.last
        return batch if batch is not None and batch.outputs is outputs else None

    def handle_frame(self, in_port: Port, frame: bytes, now: int) -> Decision:
        """Where a frame arriving at ``in_port`` goes, by macvlan's rules for the sender's mode."""
        if in_port is self.uplink:
            if self.vlan_aware:
                return self._from_tagged_uplink(frame)
            return self._from_uplink(frame, self._untagged, frame)  # no port VLANs: no tag to read
        if in_port is self._host_port:
            return self._to_uplink
        member = self._by_port.get(in_port)
        if member is None:  # a VLAN interface's own frame: tagged, to the uplink
            vid = self._from_interface[in_port].key & 0xFFF
            return Decision((self.uplink,), _TO_UPLINK, None, (push_tag(frame, TPID_8021Q, 0, vid),))
        return self._from_vnic(member, frame)

    def _from_tagged_uplink(self, frame: bytes) -> Decision:
        """The outer tag picks the VLAN (untagged and priority-tagged frames: the untagged one)."""
        key, bare = _vlan_key(frame)
        vlan = self._vlans.get(key)
        if vlan is None:
            if self._vlan_filter:
                return _VLAN_NOT_ALLOWED  # the NIC's VLAN filter
            return self._from_uplink(frame, self._untagged, frame)  # on to eth0's macvlan, tag and all
        interface = vlan.interface
        if interface is not None and not interface.port.up:
            return _INTERFACE_DOWN  # vlan_do_receive drops what a down VLAN device would take
        return self._from_uplink(frame, vlan, bare)

    def _from_uplink(self, frame: bytes, vlan: Vlan, bare: bytes) -> Decision:
        """``frame`` from the uplink in ``vlan``; ``bare``: the frame without its VLAN tag (the vNICs' copy)."""
        dst = frame[0:6]
        if dst[0] & 1:
            return self._replicate(frame, dst, vlan, bare)
        passthru = self._passthru
        if passthru is not None:
            target = passthru if passthru.vlan is vlan else None
        else:
            target = vlan.by_mac.get(dst)
        if target is None:
            if vlan.key:  # the host stack (the PF) is in the untagged VLAN only; eth0.N in its own
                return self._to_interface(vlan, dst, bare)
            return self._to_host if dst == self.host.mac.packed else self._miss
        if not target.vnic.port.up:
            return _VNIC_DOWN
        if vlan.key and target.blocked is None:
            return Decision(target.receive.outputs, _TO_VNIC, None, (bare,))
        return target.receive

    def _replicate(self, frame: bytes, dst: bytes, vlan: Vlan, bare: bytes) -> Decision:
        """Multicast from the uplink: by the source's mode, to the vNICs of ``vlan`` (and, untagged, the host)."""
        source = vlan.by_mac.get(frame[6:12])
        if source is not None and source.mode in _PRIVATE_OR_PASSTHRU:
            return self._reflect(source, vlan, bare)
        allowed = MODES if source is None else _VEPA_OR_BRIDGE if source.mode == "vepa" else _VEPA
        everyone = dst == _BROADCAST  # every filter takes it
        if everyone and source is None and not vlan.key:  # the common flood: made once, checked
            return vlan.flooded(allowed, self._host_tail)
        copies = tuple(m.port for m in vlan.open_members(allowed)
                       if m is not source and m.vnic.port.up and (everyone or m.vnic.accepts(dst)))
        if not vlan.key:
            return Decision(copies + (self._host_port,), _REPLICATED)
        if vlan.interface_port is not None:
            copies += (vlan.interface_port,)
        if not copies:
            return _NOT_FOR_US
        return Decision(copies, _REPLICATED, None, (bare,) * len(copies))

    def _to_interface(self, vlan: Vlan, dst: bytes, bare: bytes) -> Decision:
        """Unicast of ``vlan`` that none of its vNICs owns: to its VLAN interface's stack, if it has one, unless
        the MAC filter drops it first."""
        interface, port = vlan.interface, vlan.interface_port
        if interface is None or port is None:
            return _NOT_FOR_US
        if self._miss is _NOT_FOR_US and dst != interface.mac.packed and dst != self.host.mac.packed:
            return _NOT_FOR_US  # the hardware MAC filter
        return Decision((port,), Verdict.TO_VLAN_INTERFACE, None, (bare,))

    def _reflect(self, source: Member, vlan: Vlan, bare: bytes) -> Decision:
        """Multicast from the uplink whose source is ``source``, a ``private`` or ``passthru`` vNIC: to that vNIC
        alone, joined or not (macvlan's "forward to original port" skips the multicast filter), unless its VF link
        is down (a disabled VF receives nothing; LINK_DOWN: state auto with the uplink down)."""
        if source.blocked is not None:
            return source.receive
        return Decision(source.receive.outputs, Verdict.REFLECTED_TO_SOURCE, None, (bare,) if vlan.key else None)

    def _from_vnic(self, sender: Member, frame: bytes) -> Decision:
        """What ``sender`` transmits: bridge mode keeps what its VLAN's bridge-mode siblings take inside the
        adapter; the rest goes to the uplink, with the sender's port VLAN tag if it has one."""
        vlan = sender.vlan
        assert vlan is not None  # attached
        if sender.mode == "bridge":
            dst = frame[0:6]
            if dst[0] & 1:
                everyone = dst == _BROADCAST
                siblings = tuple(m.port for m in vlan.open_members(_BRIDGE)
                                 if m is not sender and m.vnic.port.up and (everyone or m.vnic.accepts(dst)))
                if not vlan.key:
                    return Decision(siblings + (self.uplink,), _TO_UPLINK)
                return Decision(siblings + (self.uplink,), _TO_UPLINK, None,
                                (frame,) * len(siblings) + (_with_port_vlan(sender, frame),))
            target = vlan.by_mac.get(dst)
            if target is not None and target.mode == "bridge":
                if not target.vnic.port.up:
                    return _VNIC_DOWN
                return target.bridged
        if vlan.key:
            return Decision((self.uplink,), _TO_UPLINK, None, (_with_port_vlan(sender, frame),))
        return self._to_uplink

    def __repr__(self) -> str:
        return f"<PhysicalAdapter {self.name} {self.mac} mode={self.mode} vnics={len(self.vnics)}>"


class AdapterHostNIC(NIC):
    """The host's own interface on the adapter (``<adapter>.host``, ``vid`` 0), or one of its VLAN interfaces
    (``<adapter>.<vid>``, eth0.VID): macvlan copies its vNICs' group memberships down to it."""

    def __init__(self, adapter: PhysicalAdapter, mac: MACLike, ifname: str = "host", vid: int = 0) -> None:
        super().__init__(adapter.name, mac, ifname)
        self.adapter = adapter
        self.vid = vid

    def accepts(self, dst: bytes) -> bool:
        if super().accepts(dst):
            return True
        if dst[0] & 1:
            return any(dst in vnic.groups for vnic in self.adapter.vnics.values()
                       if not self.vid or vnic.lower_vid == self.vid)
        # eth0.N with a MAC of its own still takes eth0's: vlan_do_receive keeps eth0's PACKET_HOST
        return bool(self.vid) and dst == self.adapter.host.mac.packed

    def handle_frame(self, port: Port, frame: bytes, now: int) -> Decision:
        """A tagged frame (VID other than 0) that no VLAN interface took is ``PACKET_OTHERHOST`` to the stack,
        which a promiscuous interface takes as it takes any frame not for it (a packet socket on eth0 sees it)."""
        if not self.promiscuous and len(frame) >= 18 and (frame[14] & 0x0F or frame[15]) and \
                ((frame[12] << 8) | frame[13]) in (TPID_8021Q, TPID_8021AD):
            return _VLAN_NO_INTERFACE
        return NIC.handle_frame(self, port, frame, now)


def _with_port_vlan(sender: Member, frame: bytes) -> bytes:
    """``frame`` with the sender's port VLAN tag in front, as its VF (or the VLAN interface it is on) puts it on
    the wire."""
    vf = sender.vnic.vf
    if vf.vlan is None:
        return push_tag(frame, TPID_8021Q, 0, sender.vnic.lower_vid)
    return push_tag(frame, vf.tpid, vf.qos, vf.vlan)


def _vlan_key(frame: bytes) -> tuple[int, bytes]:
    """The frame's VLAN key (0 when untagged or priority-tagged) and the frame without that tag."""
    tag = outer_tag(frame)
    if tag is None or not tag[1] & 0xFFF:
        return 0, frame
    return (tag[0] << 12) | (tag[1] & 0xFFF), pop_tag(frame)
