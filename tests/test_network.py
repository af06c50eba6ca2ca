"""The built network: moving frames, counters that reconcile, links, sizes, captures, the host bridge."""

import pytest
from scapy.utils import rdpcap

from conftest import BROADCAST, lab, receivers, udp_frame
from vswitch import DropReason, Network, TopologyError, VSwitchError
from vswitch.core.frame import pad

H1, HV, VM1, VM2 = "02:00:00:00:00:01", "02:00:00:00:00:aa", "52:54:00:00:00:01", "52:54:00:00:00:02"


def layer_names(packet):
    names = []
    while packet:
        names.append(type(packet).__name__)
        packet = packet.payload if packet.payload else None
    return names


def test_vnics_look_like_ordinary_nics_to_the_lan(tmp_path):
    """The central claim: the switch learns both vNIC MACs on the adapter's port, and their frames on the
    wire have exactly the form of a physical host's frames."""
    net = lab("bridge")
    net.captures.out_dir = tmp_path
    net.capture("sw1.p2", "adapter-port.pcap", "rx")
    net.capture("sw1.p1", "host-port.pcap", "rx")
    net.send("vm1", udp_frame(VM1, H1))
    net.send("vm2", udp_frame(VM2, H1))
    net.send("h1", udp_frame(H1, VM1), at=10_000)
    net.run()
    net.close()
    table = [(r.mac, r.port) for r in net.switch("sw1").table.rows(net.now)]
    assert table == [(H1, "p1"), (VM1, "p2"), (VM2, "p2")]
    from_vnics = rdpcap(str(tmp_path / "adapter-port.pcap"))
    from_host = rdpcap(str(tmp_path / "host-port.pcap"))
    assert [bytes(p) for p in from_vnics] == [pad(udp_frame(VM1, H1)), pad(udp_frame(VM2, H1))]
    assert {tuple(layer_names(p)) for p in list(from_vnics) + list(from_host)} == {("Ether", "IP", "UDP", "Raw", "Padding")}
    assert {len(p) for p in from_vnics} == {len(p) for p in from_host}


def test_every_copy_ends_delivered_or_dropped_and_the_counters_reconcile():
    net = lab("vepa", hairpin=True)
    for name, src in (("h1", H1), ("vm1", VM1), ("vm2", VM2), ("hv1.host", HV)):
        net.send(name, udp_frame(src, BROADCAST))
        net.send(name, udp_frame(src, "02:00:00:00:00:99"))
    net.run()
    stats = net.stats
    assert stats.in_flight == 0
    assert stats.injected + stats.copies == stats.delivered + stats.dropped_total
    per_port_drops = sum(sum(p.counters.rx_dropped.values()) + sum(p.counters.tx_dropped.values())
                         for p in net.ports.values())
    assert per_port_drops == stats.dropped_total


def test_frames_in_flight_are_counted_until_they_arrive():
    net = lab(latency_ns=5000)
    net.send("h1", udp_frame(H1, VM1))
    net.run(until=1000)
    assert net.stats.in_flight == 1
    net.run()
    assert net.stats.in_flight == 0 and net.stats.delivered == 1


def test_link_latency_sets_the_arrival_time():
    net = lab(latency_ns=7000)
    net.send("h1", udp_frame(H1, BROADCAST), at=1000)
    net.run()
    arrivals = {d.time_ns for d in net.deliveries("vm1") + net.deliveries("vm2")}
    assert arrivals == {1000 + 2 * 7000}


def test_bandwidth_serialises_and_a_full_queue_tail_drops():
    net = Network()
    net.add_switch("sw1")
    net.add_host("a", H1)
    net.add_host("b", "02:00:00:00:00:02")
    net.connect("a", "sw1", bandwidth_bps=1_000_000_000, queue_frames=2)
    net.connect("b", "sw1")
    for _ in range(5):
        net.send("a", udp_frame(H1, "02:00:00:00:00:02", b"x" * 1000))
    net.run()
    frame_ns = (1042 + 24) * 8  # 1042-byte frame plus preamble, FCS and gap at 1 Gb/s
    assert [d.time_ns for d in net.deliveries("b")] == [frame_ns, 2 * frame_ns, 3 * frame_ns]
    assert net.port("a").counters.tx_dropped == {DropReason.QUEUE_FULL: 2}


def test_link_down_drops_and_flushes_what_the_switch_learned_there():
    net = lab()
    net.send("vm1", udp_frame(VM1, BROADCAST))
    net.run()
    link = net.link("hv1")
    net.set_link_state(link, up=False)
    assert [r.mac for r in net.switch("sw1").table.rows(net.now)] == []
    frame_id = net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert receivers(net, frame_id) == []
    assert net.trace.drops(frame_id) == [("sw1.p1", DropReason.NO_EGRESS)]
    net.set_link_state(link, up=True)
    frame_id = net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert receivers(net, frame_id) == ["hv1.host", "vm1.eth0", "vm2.eth0"]


def test_short_frames_are_padded_to_60_bytes_and_runts_and_giants_dropped():
    net = lab()
    net.send("h1", udp_frame(H1, VM1)[:20])
    net.send("h1", b"\x01" * 10)
    net.send("h1", udp_frame(H1, VM1, b"x" * 1473))  # IP packet of 1501 bytes
    net.run()
    assert [len(d.frame) for d in net.deliveries("vm1")] == [60]
    assert net.port("h1").counters.tx_dropped == {DropReason.RUNT: 1, DropReason.OVERSIZE: 1}


def test_a_runt_injected_into_a_switch_port_is_a_counted_drop_not_an_exception():
    net = lab()
    net.inject("sw1.p1", b"\x00" * 8)
    net.run()
    assert net.port("sw1.p1").counters.rx_dropped == {DropReason.RUNT: 1}


def test_interface_down_drops_what_it_sends_and_receives():
    net = lab()
    net.set_admin_state("vm1", up=False)
    net.send("vm1", udp_frame(VM1, H1))
    frame_id = net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert net.port("vm1").counters.tx_dropped == {DropReason.INTERFACE_DOWN: 1}
    assert "vm1.eth0" not in receivers(net, frame_id)


def test_host_bridge_backend_learns_guests_on_their_vif_ports():
    """Xen dom0 style: guests behind vif ports of a software bridge in the host."""
    net = lab(backend="bridge")
    net.send("vm1", udp_frame(VM1, BROADCAST))
    net.send("vm2", udp_frame(VM2, BROADCAST), at=10_000)
    frame_id = net.send("vm1", udp_frame(VM1, VM2), at=20_000)
    net.run()
    assert [(r.mac, r.port) for r in net.switch("hv1").table.rows(net.now)] == [(VM1, "vif1.0"), (VM2, "vif2.0")]
    assert receivers(net, frame_id) == ["vm2.eth0"]
    assert not any(e.port.startswith("sw1.") for e in net.trace.for_frame(frame_id))
    assert [(r.mac, r.port) for r in net.switch("sw1").table.rows(net.now)] == [(VM1, "p2"), (VM2, "p2")]


def test_host_bridge_delivers_host_to_guest_without_the_switch():
    net = lab(backend="bridge")
    net.send("vm1", udp_frame(VM1, BROADCAST))
    frame_id = net.send("hv1.host", udp_frame(HV, VM1), at=10_000)
    net.run()
    assert receivers(net, frame_id) == ["vm1.eth0"]


def test_pcapng_names_every_point_and_comments_on_each_frame(tmp_path):
    net = lab()
    net.captures.out_dir = tmp_path
    net.capture_pcapng("all.pcapng")
    net.capture("sw1.p1", "p1.pcap")
    net.capture("hv1.host", "host.pcap")
    net.send("h1", udp_frame(H1, "02:00:00:00:00:77"))
    net.run()
    net.close()
    packets = rdpcap(str(tmp_path / "all.pcapng"))
    seen = [(p.sniffed_on, p.comment.decode() if isinstance(p.comment, bytes) else p.comment) for p in packets]
    assert seen == [
        ("sw1.p1", "#1 flooded: unknown unicast -> sw1.p2; learned 02:00:00:00:00:01 on sw1.p1"),
        ("hv1.host", "#1 dropped: destination not accepted by the receive filter"),
    ]


def test_bad_api_input_raises_errors_naming_the_value():
    net = lab()
    with pytest.raises(VSwitchError, match="must be bytes"):
        net.send("h1", "not a frame")
    with pytest.raises(TopologyError, match="no interface or port named 'h9'"):
        net.send("h9", udp_frame(H1, VM1))
    with pytest.raises(TopologyError, match="already used"):
        net.add_host("vm1")
    with pytest.raises(TopologyError, match="duplicate MAC 02:00:00:00:00:01"):
        net.add_host("h2", H1)
    with pytest.raises(TopologyError, match="already connected"):
        net.connect("h1", "sw1.p2")


def test_connect_to_a_named_switch_port_creates_it_as_a_files_links_do():
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_host("h2", "02:00:00:00:00:02")
    net.connect("h1", "sw1.p7")
    net.connect("sw1.uplink", "h2")
    assert sorted(net.switch("sw1").ports) == ["p7", "uplink"]
    assert net.port("sw1.p7").peer is not None and net.link("sw1.uplink", "h2.eth0")


def test_connecting_a_vnic_says_to_cable_its_hypervisor():
    net = lab()
    with pytest.raises(TopologyError, match=r"vm1 is a vNIC on hypervisor hv1's adapter, which cables it: cable the "
                                            r"hypervisor instead \(hv1\)"):
        net.connect("vm1", "sw1")


def test_pcapng_points_go_to_the_pcapng_alone_named_by_their_port(tmp_path):
    net = lab()
    net.captures.out_dir = tmp_path
    net.capture_pcapng("all.pcapng", points=[("h1", "tx"), ("vm1", "both")])
    net.send("h1", udp_frame(H1, VM1))
    net.run()
    net.close()
    packets = rdpcap(str(tmp_path / "all.pcapng"))
    assert [p.sniffed_on for p in packets] == ["h1.eth0", "vm1.eth0"]  # the points h1 and vm1 (README)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.pcapng"]
