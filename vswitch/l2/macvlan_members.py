"""The adapter's table of attached vNICs (``adapter.py``): each vNIC as the macvlan rules see it, and the vNICs of
each VLAN by MAC and in name order, with the lists a multicast frame is replicated over kept ready between
changes (and, for each, the batch that counts its silent copies in bulk: ``flood_batch.py``)."""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from ..core.reasons import DropReason, Verdict
from .decision import Decision
from .flood_batch import FloodBatch, FloodLedger
from .nic import NIC, VNIC, silent_receiver
from .port import STATE_VERSION, Port

_TO_VNIC: Final = Verdict.TO_VNIC
_BRIDGED: Final = Verdict.BRIDGED
_REPLICATED: Final = Verdict.REPLICATED


class Member:
    """An attached vNIC as the rules see it: its adapter-side port, mode, VLAN and the decisions that reach it."""

    def __init__(self, vnic: VNIC, port: Port, mode: str) -> None:
        self.vnic = vnic
        self.port = port
        self.mode = mode
        self.name = vnic.full_name
        self.vlan: Vlan | None = None  # the VLAN it is in (set by PhysicalAdapter._move)
        self.blocked: DropReason | None = None  # why its VF link is down (state disable, or auto with no link)
        self.receive = Decision((port,), _TO_VNIC)  # a frame from the uplink for it
        self.bridged = Decision((port,), _BRIDGED)  # a frame from a bridge-mode sibling for it

    def block(self, reason: DropReason | None) -> None:
        """Its VF link goes down for ``reason`` (None: up again)."""
        self.blocked = reason
        if reason is not None:
            self.receive = self.bridged = Decision((), reason)
        else:
            self.receive, self.bridged = Decision((self.port,), _TO_VNIC), Decision((self.port,), _BRIDGED)
        if self.vlan is not None:
            self.vlan.changed()


class Vlan:
    """The vNICs of one VLAN (``key`` TPID << 12 | VID, 0: untagged), by MAC and in name order (the order copies
    go out in)."""

    def __init__(self, key: int, ledger: FloodLedger) -> None:
        self.key = key
        self.by_mac: dict[bytes, Member] = {}
        self.members: list[Member] = []
        self.interface: NIC | None = None  # the host's VLAN interface in it (eth0.N, an AdapterHostNIC), if any
        self.interface_port: Port | None = None  # the adapter's side of that interface
        self.ledger = ledger  # the adapter's: where the batches of its ready lists are found
        self._open: dict[tuple[str, ...], list[Member]] = {}  # modes -> open_members(modes), until a change
        self._flood: dict[tuple[str, ...], tuple[Decision, FloodBatch]] = {}  # modes -> the ready flood, its batch

    def add(self, member: Member) -> None:
        self.by_mac[member.vnic.mac.packed] = member
        self.members.insert(bisect_left([m.name for m in self.members], member.name), member)
        member.vlan = self
        self.changed()

    def remove(self, member: Member) -> None:
        del self.by_mac[member.vnic.mac.packed]
        self.members.remove(member)
        member.vlan = None
        self.changed()

    def changed(self) -> None:
        """A member came, went, or its VF link changed: the replication lists are made again when next needed."""
        self._open.clear()
        self._flood.clear()  # (their batches' held counts stay in the ledger until read)

    def open_members(self, modes: tuple[str, ...]) -> list[Member]:
        """Its members in one of ``modes`` whose VF link is up, in name order: those a multicast frame may be
        replicated to (each copy still needs the vNIC up and its filter taking the frame)."""
        found = self._open.get(modes)
        if found is None:
            found = self._open[modes] = [m for m in self.members if m.mode in modes and m.blocked is None]
        return found

    def flooded(self, modes: tuple[str, ...], tail: tuple[Port, ...]) -> Decision:
        """Where a broadcast from outside the VLAN goes: the adapter-side ports of ``open_members(modes)`` whose
        vNIC is up, then ``tail`` (the same for every call of one VLAN). Made once, with its batch, until a member
        changes or anything changes ``STATE_VERSION`` (a vNIC going down among them)."""
        ready = self._flood.get(modes)
        if ready is None or ready[1].version != STATE_VERSION.value:
            outputs = tuple(m.port for m in self.open_members(modes) if m.vnic.port.up) + tail
            batch = FloodBatch(outputs, [silent_receiver(out) for out in outputs], self.ledger)
            ready = self._flood[modes] = (Decision(outputs, _REPLICATED), batch)
        self.ledger.last = ready[1]  # the datapath asks for it next (PhysicalAdapter.flood_batch)
        return ready[0]
