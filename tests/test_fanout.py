"""The datapath's fan-out (``Datapath._fan_out``): copies nothing watches are counted in one loop, the rest take the
normal path, and the counts are the same either way.

Each test sends the same frames through the same topology twice: once where the fast loop can take the copies, once
where something forces the normal path (recording every delivery, a capture, a stack, a port down), and compares
every port's counters, the hidden wire ends' included, and the run's totals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from vswitch.bench.scale import big_topology
from vswitch.core.reasons import Verdict
from vswitch.core.trace import HopRecorder
from vswitch.guests.stack import GuestStack
from vswitch.guests.stackdriver import attach_stack
from vswitch.net.capture import CallbackTap
from vswitch.net.network import Network
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology_text

BROADCAST = "ff:ff:ff:ff:ff:ff"
ALL_HOSTS = "01:00:5e:00:00:01"  # every interface is in this group (nic.DEFAULT_GROUPS)
NOBODYS = "01:00:5e:00:00:63"  # a group nobody joined
SIZE = 60


def frame(dst: str, src: str, size: int = SIZE) -> bytes:
    return bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + b"\x08\x00" + \
        b"\x00" * (size - 14)


def vm_mac(number: int) -> str:
    return f"52:54:00:00:00:{number:02x}"


@pytest.fixture(params=["adapter", "bridge"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test on adapters (macvlan ``bridge`` mode: replication) and on host bridges (flooding)."""
    return request.param


def build(backend: str, record: bool = False, out: Path | None = None) -> Network:
    """Three hypervisors of four VMs on one switch, as big10k is built (or with host bridges)."""
    text = big_topology(3, 4)
    if backend == "bridge":
        text = text.replace("backend: adapter\n    mode: bridge", "backend: bridge")
    spec = load_topology_text(text, "<fanout>")
    return build_network(spec, record=record, pcapng=False, capture_dir=out)


def counts(net: Network) -> dict:
    """Every port's counters (the adapters' hidden wire ends too) and the totals."""
    ports = {}
    for port in net.interfaces():
        ports[port.full_name] = port.counters.as_dict()
        peer = port.peer
        if peer is not None and not hasattr(peer, "link"):  # an internal wire: its far end is hidden
            ports[peer.full_name] = peer.counters.as_dict()
    stats = net.stats
    return {"ports": ports, "injected": stats.injected, "copies": stats.copies, "delivered": stats.delivered,
            "dropped": dict(stats.dropped), "in_flight": stats.in_flight}


def traffic(net: Network) -> None:
    """Broadcasts from VMs and from outside, multicast joined by all and by none, unicast, a jumbo frame."""
    sends = [("vm1", frame(BROADCAST, vm_mac(1))), ("vm6", frame(BROADCAST, vm_mac(6))),
             ("vm2", frame(ALL_HOSTS, vm_mac(2))), ("vm9", frame(NOBODYS, vm_mac(9))),
             ("vm3", frame(vm_mac(4), vm_mac(3))), ("vm5", frame(vm_mac(12), vm_mac(5))),
             ("vm7", frame(BROADCAST, vm_mac(7), 1600))]
    for at, (name, data) in enumerate(sends):
        net.send(name, data, at=at * 1000)
    net.run()


def run(backend: str, prepare: Callable[[Network], None] = lambda net: None, *, record: bool = False,
        out: Path | None = None) -> dict:
    net = build(backend, record, out)
    prepare(net)
    traffic(net)
    net.close()
    return counts(net)


def test_the_fast_loop_counts_as_the_normal_path_does(backend: str) -> None:
    fast, normal = run(backend), run(backend, record=True)  # record: every delivery kept in an inbox, so every copy goes the long way
    assert fast == normal
    assert fast["delivered"] >= 41 and fast["dropped"]  # the jumbo frame is dropped (MTU 1500), NOT_FOR_US too


def test_a_capture_on_one_vnic_takes_only_its_copies_out_of_the_loop(backend: str, tmp_path: Path) -> None:
    captured = run(backend, lambda net: net.capture("vm8", "vm8.pcap"), out=tmp_path)
    assert captured == run(backend)
    data = (tmp_path / "vm8.pcap").read_bytes()
    assert data.count(bytes.fromhex(vm_mac(1).replace(":", ""))) >= 1  # vm1's broadcast reached vm8's capture


@pytest.mark.parametrize("change", ["down", "stack", "tap-on-adapter-side", "promiscuous"])
def test_what_makes_a_copy_take_the_normal_path_changes_no_count(backend: str, change: str) -> None:
    def prepare(net: Network) -> None:
        if change == "down":
            net.set_admin_state("vm10", False)
        elif change == "stack":
            attach_stack(net, "vm11", GuestStack("vm11", vm_mac(11), "10.0.0.11/24"))
        elif change == "tap-on-adapter-side":
            net.port("vm2").peer.add_tap(counting(), "out")
        else:
            net.set_rx_mode("vm5", promiscuous=True)

    def slow(net: Network) -> None:
        prepare(net)
        net.port("vm12").add_tap(counting(), "in")  # and one copy that always goes the long way

    assert run(backend, prepare) == run(backend, prepare, record=True) == run(backend, slow)


def test_a_vnic_taken_down_gets_no_copy_and_counts_nothing(backend: str) -> None:
    def down(net: Network) -> None:
        net.set_admin_state("vm4", False)

    result = run(backend, down)
    assert result["ports"]["vm4.eth0"]["rx_packets"] == 0
    assert result["ports"]["vm3.eth0"]["rx_packets"] == run(backend)["ports"]["vm3.eth0"]["rx_packets"]


def test_a_watched_frame_is_traced_at_every_vnic(backend: str) -> None:
    net = build(backend)
    recorder = HopRecorder()
    frame_id = net.send("vm1", frame(BROADCAST, vm_mac(1)))
    net.watch_frame(frame_id, (recorder,))
    net.run()
    delivered = {event.port for event in recorder.hops[frame_id] if event.outcome is Verdict.DELIVERED}
    hosts = {"hv2.host", "hv3.host"} | ({"hv1.host"} if backend == "bridge" else set())  # (macvlan: not its own)
    assert delivered == {f"vm{n}.eth0" for n in range(2, 13)} | hosts
    assert net.stats.delivered == len(delivered)


def counting() -> CallbackTap:
    """A tap that does nothing but watch its port."""
    return CallbackTap(lambda *args: None)


# -- an adapter's flood counted in bulk (l2/flood_batch.py) ---------------------------------------------------------

def phases(net: Network, changes: list[Callable[[Network], None]], size: int = SIZE) -> list[dict]:
    """A broadcast from vm1 (hv1), then each change and another broadcast: every port's counts after each phase,
    read while the network is paused between them."""
    seen = []
    for step, change in enumerate([lambda net: None, *changes]):
        change(net)
        net.send("vm1", frame(BROADCAST, vm_mac(1), size), at=net.now + 1000)
        net.run(until=net.now + 2000)
        seen.append(counts(net))
    net.close()
    return seen


def test_an_adapters_broadcast_flood_is_counted_in_bulk_and_read_as_copy_by_copy() -> None:
    net = build("adapter")
    net.send("vm1", frame(BROADCAST, vm_mac(1)))
    net.run()
    adapter = net.hypervisors["hv2"].adapter
    assert adapter.ledger.last is not None and adapter.ledger.pending  # the batch took hv2's copies; not on the ports yet
    assert counts(net) == run_one_broadcast(record=True)
    assert not adapter.ledger.pending  # reading the counters spread them
    assert net.port("vm6").counters.rx_packets == 1 and net.port("vm6").peer.counters.tx_packets == 1


def test_a_counters_object_kept_from_before_the_run_reads_the_flood() -> None:
    net = build("adapter")
    kept = net.port("vm6").counters, net.port("vm6").peer.counters
    net.send("vm1", frame(BROADCAST, vm_mac(1)))
    net.run()
    assert net.hypervisors["hv2"].adapter.ledger.pending
    assert (kept[0].rx_packets, kept[0].rx_bytes, kept[1].tx_packets) == (1, SIZE, 1)


def run_one_broadcast(record: bool) -> dict:
    net = build("adapter", record)
    net.send("vm1", frame(BROADCAST, vm_mac(1)))
    net.run()
    return counts(net)


CHANGES: dict[str, list[Callable[[Network], None]]] = {
    "a vNIC down, then up": [lambda net: net.set_admin_state("vm6", False),
                             lambda net: net.set_admin_state("vm6", True)],
    "a capture tap added": [lambda net: net.port("vm7").add_tap(counting(), "in")],
    "a tap on the adapter's side": [lambda net: net.port("vm10").peer.add_tap(counting(), "out")],
    "a stack attached": [lambda net: attach_stack(net, "vm8", GuestStack("vm8", vm_mac(8), "10.0.0.8/24"))],
    "a smaller MTU": [lambda net: setattr(net.port("vm11"), "mtu", 40)],
    "the uplink's cable down, then up": [lambda net: net.set_link_state(net.link("hv3"), False),
                                         lambda net: net.set_link_state(net.link("hv3"), True)],
    "a VM detached, then attached elsewhere": [lambda net: net.detach_vm("vm5"),
                                               lambda net: net.attach_vm("vm5", "hv3")],
    "a VF disabled": [lambda net: net.set_vf("vm9", state="disable")],
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_between_floods_makes_the_batch_again(name: str) -> None:
    bulk = phases(build("adapter"), CHANGES[name])
    assert bulk == phases(build("adapter", record=True), CHANGES[name])  # every copy the long way
    assert bulk[-1]["delivered"] > bulk[0]["delivered"]


def test_counters_read_during_a_flood_include_the_copies_before_it() -> None:
    """A capture callback on vm12 (hv3's last vNIC) reads vm10's counters as each frame reaches it."""
    def readings(record: bool) -> list[int]:
        net = build("adapter", record)
        seen: list[int] = []
        net.port("vm12").add_tap(CallbackTap(lambda *args: seen.append(net.port("vm10").counters.rx_packets)), "in")
        for at in range(3):
            net.send("vm1", frame(BROADCAST, vm_mac(1)), at=at * 1000)
        net.run()
        return seen

    assert readings(False) == readings(True) == [1, 2, 3]


def test_a_jumbo_broadcast_past_a_small_mtu_is_dropped_there_only() -> None:
    def shrink(net: Network) -> None:
        net.port("vm6").mtu = 1000

    bulk = phases(build("adapter"), [shrink], size=1200)
    assert bulk == phases(build("adapter", record=True), [shrink], size=1200)
    assert bulk[-1]["ports"]["vm6.eth0"]["rx_dropped"] == {"OVERSIZE": 1}
    assert bulk[-1]["ports"]["vm7.eth0"]["rx_packets"] == 2


class Listener:
    """A stand-in guest stack: keeps what it is handed, answers nothing."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def receive(self, frame: bytes, now: int) -> list:
        self.frames.append(frame)
        return []


@pytest.mark.parametrize("watcher", ["a tap on vm7, in", "a tap on vm10's adapter side, out", "a stack on vm8"])
def test_a_tap_or_stack_added_between_floods_sees_the_next_flood(watcher: str) -> None:
    seen: list[bytes] = []
    listener = Listener()

    def watch(net: Network) -> None:  # one change only: any other would make the batches again by itself
        if watcher == "a tap on vm7, in":
            net.port("vm7").add_tap(CallbackTap(lambda frame, *_: seen.append(frame)), "in")
        elif watcher == "a stack on vm8":
            net.nic("vm8").stack = listener
        else:
            net.port("vm10").peer.add_tap(CallbackTap(lambda frame, *_: seen.append(frame)), "out")

    phases(build("adapter"), [watch])
    assert len(seen) + len(listener.frames) == 1  # the first flood came before it


def test_a_tap_direction_other_than_in_or_out_is_a_topology_error() -> None:
    from vswitch.core.errors import TopologyError
    net = build("adapter")
    with pytest.raises(TopologyError, match=r"vm1\.eth0: a tap's direction is 'in' or 'out', not 'rx'"):
        net.port("vm1").add_tap(counting(), "rx")
    assert net.port("vm1").rx_taps == () and net.port("vm1").tx_taps == ()


def test_a_vnic_set_down_between_floods_gets_no_copy_of_the_next() -> None:
    """macvlan skips a vNIC that is down: no copy, no drop on it (the ready list is made again, not reused)."""
    after = phases(build("adapter"), [lambda net: net.set_admin_state("vm6", False)])[-1]
    assert after["ports"]["vm6.eth0"]["rx_packets"] == 1 and after["ports"]["vm6.eth0"]["rx_dropped"] == {}
    assert after["ports"]["vm7.eth0"]["rx_packets"] == 2
