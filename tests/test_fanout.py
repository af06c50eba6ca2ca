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
            net.port("vm2").peer.tx_taps.append(counting())
        else:
            net.set_rx_mode("vm5", promiscuous=True)

    def slow(net: Network) -> None:
        prepare(net)
        net.port("vm12").rx_taps.append(counting())  # and one copy that always goes the long way

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
