"""Live migration of a VM: detach its vNIC, attach it on another hypervisor, and announce the move to the LAN.

Until the VM speaks from its new place, the LAN's switches still send its frames to the old port (where they
die); the announcement is what moves the MAC in their tables. Two announcers, after the real ones:

``qemu``
    QEMU's ``qemu_announce_self`` (net/announce.c): RARP broadcasts (ethertype 0x8035, ``rarp_announce``) in
    ``rounds`` rounds (5). The first goes out when the VM resumes, and the gap after round k (k = 1, 2, ...) is
    ``initial + (k - 1) * step``, capped at ``max``: 50, 150, 250 and 350 ms with the defaults (initial 50 ms,
    step 100 ms, max 550 ms), so the rounds leave at 0, 50, 200, 450 and 800 ms. No IP address is needed.
    A virtio-net guest (I/O model ``virtio`` or ``vhost`` where it ran; ``guest_announce`` overrides) that negotiated
    ``VIRTIO_NET_F_GUEST_ANNOUNCE`` is also asked to announce itself in each round (``virtio_net_announce``:
    a config interrupt with ``VIRTIO_NET_S_ANNOUNCE``; QEMU's timer steps on the guest's ack, so its rounds keep
    the RARP's times): its driver calls ``netdev_notify_peers``, and its stack sends a gratuitous ARP (IPv4) and
    unsolicited neighbour advertisements and an MLDv2 report (IPv6, ``ipv6.py``), right after that round's RARP.
    Other NICs (e1000, rtl8139) have no such hook: RARP only.
``xen``
    Xen's netfront on resume (``netback_changed`` -> ``netdev_notify_peers``): once, the guest's own stack
    announces (a gratuitous ARP, unsolicited advertisements and an MLDv2 report), so the VM needs an address.
``none``
    Nothing: the tables move only when the VM next sends something (or the old entry ages out).

The guest sees no link change (no ``link_up``); during ``downtime`` it is attached nowhere, and what it sends is
dropped as ``not_cabled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..core.errors import TopologyError
from ..core.mac import prefix_bytes
from ..core.units import format_duration
from .stackdriver import StackDriver, stack_of
from .traffic import rarp_announce

if TYPE_CHECKING:
    from ..net.network import Network

ANNOUNCERS = ("qemu", "xen", "none")
GUEST_ANNOUNCE_MODELS = ("virtio", "vhost")  # virtio-net: VIRTIO_NET_F_GUEST_ANNOUNCE (on by default in QEMU)
_XEN_OUI = prefix_bytes("xen")


@dataclass(frozen=True)
class AnnounceParams:
    """QEMU's ``-global migration.announce-*`` parameters, in ns."""

    initial_ns: int = 50_000_000
    max_ns: int = 550_000_000
    rounds: int = 5
    step_ns: int = 100_000_000


def qemu_announce_offsets(params: AnnounceParams = AnnounceParams()) -> list[int]:
    """When each RARP round leaves, in ns after the VM resumes (``qemu_announce_timer_step``)."""
    offsets, at = [], 0
    for done in range(params.rounds):
        offsets.append(at)
        at += min(params.initial_ns + done * params.step_ns, params.max_ns)
    return offsets


def stack_announce_frames(ipv4: bool, ipv6_addresses: Optional[int]) -> int:
    """The frames a guest stack's ``announce`` (``netdev_notify_peers``) sends at most: a gratuitous ARP with IPv4;
    with IPv6 (``ipv6_addresses`` of them, the link-local included) an advertisement per address and an MLDv2
    report. An address still tentative or found duplicate sends none."""
    return int(ipv4) + (ipv6_addresses + 1 if ipv6_addresses is not None else 0)


def announcement_frames(announcer: str, rounds: int, guest: bool, stack_frames: int) -> int:
    """The frames ``migrate`` sends at most to announce a move: ``qemu``, a RARP per round and, when the guest
    announces itself (``guest``), its stack's ``stack_frames`` after each; ``xen``, the stack's once; ``none``,
    nothing."""
    if announcer == "qemu":
        return rounds * (1 + (stack_frames if guest else 0))
    return stack_frames if announcer == "xen" else 0


def default_announcer(mac_packed: bytes) -> str:
    """Xen guests (00:16:3e) announce as netfront does; every other guest as QEMU does. ``mac_packed``: a MAC or
    its first 3 bytes."""
    return "xen" if mac_packed.startswith(_XEN_OUI) else "qemu"


@dataclass
class MigrationResult:
    name: str  # the announcement's frame name
    vm: str
    source: str
    target: str
    announce: str
    detached_ns: int
    attached_ns: int = 0
    ids: Any = field(default_factory=list)  # the announcement frames: a list, or a scenario's FrameIds

    def summary(self) -> dict[str, Any]:
        return {"vm": self.vm, "from": self.source, "to": self.target, "detached": format_duration(self.detached_ns),
                "attached": format_duration(self.attached_ns), "announce": self.announce,
                "announce frames": len(self.ids)}


def guest_announces(net: "Network", vm: str) -> bool:
    """Whether QEMU asks ``vm``'s guest to announce itself: its NIC is virtio-net (its I/O model)."""
    io = getattr(net.vnics[vm].port, "io", None)
    return io is not None and io.model.name in GUEST_ANNOUNCE_MODELS


def migrate(net: "Network", vm: str, target: str, *, name: str, announce: Optional[str] = None,
            downtime_ns: int = 0, mode: Optional[str] = None, params: AnnounceParams = AnnounceParams(),
            on_attach: Optional[Callable[[], None]] = None, guest_announce: Optional[bool] = None
            ) -> MigrationResult:
    """Detach ``vm`` now and attach it to ``target`` after ``downtime_ns``, then announce it. ``on_attach`` runs
    as it is attached, before the announcement (the scenario moves its I/O model there). ``guest_announce``
    (qemu): whether the guest announces itself in each round too (None: if its NIC is virtio-net)."""
    vnic = net.vnics.get(vm)
    if vnic is None:
        raise TopologyError(f"no VM named {vm!r}")
    if vnic.hypervisor is None:
        raise TopologyError(f"VM {vm} is not attached anywhere: use attach")
    if vnic.hypervisor == target:
        raise TopologyError(f"VM {vm} already runs on {target}")
    if target not in net.hypervisors:  # fail now, not after the downtime
        raise TopologyError(f"no hypervisor named {target!r}")
    announcer = announce or default_announcer(vnic.mac.packed)
    if announcer == "xen":
        stack_of(net, vm)
    result = MigrationResult(name, vm, vnic.hypervisor, target, announcer, net.now)
    # the NIC the guest's driver negotiated with, before the move (a migration cannot change the device model)
    guest = guest_announce if guest_announce is not None else guest_announces(net, vm)
    net.detach_vm(vm)

    def resume() -> None:
        net.attach_vm(vm, target, mode=mode, link_up=False)
        result.attached_ns = net.now
        if on_attach is not None:
            on_attach()
        if announcer == "qemu":
            frame = rarp_announce(vnic.mac)
            driver = vnic.stack if guest and isinstance(vnic.stack, StackDriver) else None
            for offset in qemu_announce_offsets(params):
                if driver is None:
                    result.ids.append(net.send(vnic.full_name, frame, at=net.now + offset))
                else:  # frames numbered round by round: NAME#N is the N-th in time
                    net.engine.at(net.now + offset, guest_round, frame, driver)
        elif announcer == "xen":
            notify_peers(stack_of(net, vm))

    def guest_round(frame: bytes, driver: StackDriver) -> None:
        result.ids.append(net.send(vnic.full_name, frame, at=net.now))
        notify_peers(driver)  # the guest's netdev_notify_peers, right after the round's RARP

    def notify_peers(driver: StackDriver) -> None:
        for delay, frame in driver.guest.announce(net.now):
            result.ids.append(net.send(vnic.full_name, frame, at=net.now + delay))

    net.engine.at(net.now + downtime_ns, resume)
    return result
