"""The datapath's lazy streams and its zero-delay lane: same results as individual sends, flat memory."""

import pytest

from conftest import BROADCAST, lab, udp_frame
from vswitch import DropReason, Network, TopologyError, Verdict
from vswitch.core.frame import TPID_8021Q, pad, push_tag
from vswitch.core.trace import HopRecorder, TraceIncomplete
from vswitch.l2.nic import Delivery
from vswitch.l2.sriov import VFControls
from vswitch.l2.storm import LoopPort

H1, VM1, VM2 = "02:00:00:00:00:01", "52:54:00:00:00:01", "52:54:00:00:00:02"


def traffic(count: int):
    senders = (("h1", H1, VM1), ("vm1", VM1, H1), ("vm2", VM2, BROADCAST))
    for i in range(count):
        name, src, dst = senders[i % 3]
        yield 1_000 * (i // 2), name, udp_frame(src, dst, bytes([i % 256]))


def outcome(net):
    return ([(e.time_ns, e.frame_id, e.port, e.outcome, e.outputs) for e in net.trace.events],
            {name: port.counters.as_dict() for name, port in net.ports.items()})


def test_a_stream_gives_the_same_trace_and_counters_as_sending_each_frame():
    by_send, by_stream = lab(latency_ns=0), lab(latency_ns=0)
    for at, name, frame in traffic(30):
        by_send.send(name, frame, at=at)
    by_send.run()
    by_stream.send_stream(traffic(30))
    by_stream.run()
    assert outcome(by_stream) == outcome(by_send)
    assert by_stream.stats.in_flight == 0 and by_stream.stats.injected == 30


def test_a_stream_keeps_only_its_next_frame_waiting():
    net = lab(latency_ns=0)
    net.send_stream((1_000 * i, "h1", udp_frame(H1, VM1)) for i in range(10_000))
    assert net.engine.pending() == 1 and net.stats.injected == 1
    net.run(until=5_000_000)
    assert net.engine.pending() == 1 and net.stats.injected == 5_002  # 0..5 ms sent, the next one waits
    net.run()
    assert net.stats.delivered == 10_000 and net.stats.in_flight == 0


def test_a_stream_naming_an_unknown_interface_fails_when_that_item_is_reached():
    net = lab()
    with pytest.raises(TopologyError, match="no interface or port named 'h9'"):
        net.send_stream([(0, "h9", udp_frame(H1, VM1))])


def test_frames_crossing_zero_delay_cables_at_one_instant_keep_their_sending_order():
    net = lab(latency_ns=0)
    first = net.send("h1", udp_frame(H1, BROADCAST), at=50)
    second = net.send("vm1", udp_frame(VM1, BROADCAST), at=50)
    net.run()
    hops = [(e.frame_id, e.port) for e in net.trace.events if e.port == "sw1.p1" or e.port == "sw1.p2"]
    assert hops == [(first, "sw1.p1"), (second, "sw1.p2")]


def test_zero_delay_hops_run_in_the_order_the_event_queue_gives():
    """Arrivals over zero-delay cables may run at once when nothing else is due: the order must not change
    (this is the order the plain heap engine produced)."""
    net = Network()
    net.add_switch("sw1")
    for k in (1, 2, 3):
        net.add_host(f"h{k}", f"02:00:00:00:00:0{k}")
        net.connect(f"h{k}", "sw1")
    net.add_hypervisor("hv1", "02:00:00:00:00:aa")
    net.add_vm("hv1", "vm1", VM1)
    net.add_vm("hv1", "vm2", VM2)
    net.connect("hv1", "sw1")
    net.send("h1", udp_frame(H1, BROADCAST))
    net.send("h2", udp_frame("02:00:00:00:00:02", H1))
    net.run()
    assert [(e.frame_id, e.port, e.outcome.name) for e in net.trace.events] == [
        (1, "h1.eth0", "TRANSMITTED"), (2, "h2.eth0", "TRANSMITTED"),
        (1, "sw1.p1", "FLOODED_BROADCAST"), (2, "sw1.p2", "FORWARDED"),
        (1, "h2.eth0", "DELIVERED"), (1, "h3.eth0", "DELIVERED"), (1, "hv1.uplink", "REPLICATED"),
        (1, "vm1.eth0", "DELIVERED"), (1, "vm2.eth0", "DELIVERED"), (1, "hv1.host", "DELIVERED"),
        (2, "h1.eth0", "DELIVERED"),
    ]


# -- series, stack output, watched frames, drops at the sender -----------------------------------------

@pytest.mark.parametrize("interval_ns", [0, 1_000])
def test_a_series_gives_the_same_ids_trace_and_counters_as_sending_each_copy(interval_ns):
    """Copies interleave with other frames sent for the same instants exactly as eager sends would."""
    by_send, by_series = lab(latency_ns=0), lab(latency_ns=0)
    frame, other = udp_frame(H1, BROADCAST), udp_frame(VM1, BROADCAST)
    sent = [by_send.send("h1", frame, at=i * interval_ns) for i in range(4)]
    sent += [by_send.send("vm1", other, at=i * interval_ns) for i in range(4)]
    series = by_series.send_series("h1", frame, 4, interval_ns=interval_ns)
    others = [by_series.send("vm1", other, at=i * interval_ns) for i in range(4)]
    by_send.run()
    by_series.run()
    assert list(series) + others == sent == list(range(1, 9))
    assert outcome(by_series) == outcome(by_send)
    assert (by_series.stats.injected, by_series.stats.in_flight) == (8, 0)


@pytest.mark.parametrize("interval_ns", [0, 1_000])
def test_a_series_of_none_sends_nothing(interval_ns):
    net = lab(latency_ns=0)
    assert net.send_series("h1", udp_frame(H1, BROADCAST), 0, interval_ns=interval_ns) == range(1, 1)
    assert net.send("vm1", udp_frame(VM1, H1)) == 1
    net.run()
    assert ([e.frame_id for e in net.trace.events if e.port == "h1.eth0"], net.stats.injected) == ([1], 1)


def test_frames_a_stack_returns_leave_after_their_delays():
    net = lab(latency_ns=0)
    net.run(until=1_000)
    net.send_from_stack(net.nic("h1").port, [(0, udp_frame(H1, VM1)), (5_000, udp_frame(H1, VM2))])
    net.run()
    assert [(e.time_ns, e.frame_id) for e in net.trace.events if e.port == "h1.eth0"] == [(1_000, 1), (6_000, 2)]


def test_without_recording_only_watched_frames_reach_their_observers_and_nothing_is_kept():
    quiet = Network(record=False)
    for name, mac in (("h1", H1), ("h2", "02:00:00:00:00:02")):
        quiet.add_host(name, mac)
    quiet.add_switch("sw1")
    quiet.connect("h1", "sw1")
    quiet.connect("h2", "sw1")
    recorder = HopRecorder()
    watched = quiet.send("h1", udp_frame(H1, BROADCAST))
    quiet.send("h2", udp_frame("02:00:00:00:00:02", BROADCAST))
    quiet.watch_frame(watched, (recorder,))
    quiet.run()
    assert [(e.port, e.outcome.name) for e in recorder.hops[watched]] == [
        ("h1.eth0", "TRANSMITTED"), ("sw1.p1", "FLOODED_BROADCAST"), ("h2.eth0", "DELIVERED")]
    assert (list(recorder.hops), quiet.trace.events) == ([watched], [])
    with pytest.raises(TraceIncomplete):
        quiet.trace.for_frame(watched)


@pytest.mark.parametrize("as_given", [bytearray, memoryview])
def test_a_stream_item_may_be_any_bytes_like_frame(as_given):
    net = lab(latency_ns=0)
    frame = udp_frame(H1, VM1)  # 42 bytes: padded on the way out
    net.send_stream([(0, "h1", as_given(frame))])
    net.run()
    delivered = net.deliveries("vm1")
    assert [(type(d.frame), d.frame) for d in delivered] == [(bytes, pad(frame))]


def test_drops_at_the_sender_are_in_the_frames_trace():
    net = lab()
    runt = net.send("h1", b"\x01" * 10)
    net.set_admin_state("vm1", up=False)
    down = net.send("vm1", udp_frame(VM1, H1))
    net.run()
    assert (net.trace.drops(runt), net.trace.drops(down)) == (
        [("h1.eth0", DropReason.RUNT)], [("vm1.eth0", DropReason.INTERFACE_DOWN)])


@pytest.mark.parametrize("frame, dropped", [
    (udp_frame(H1, VM1, b"x" * 1472), False),  # a 1500-byte IP packet: 1514 bytes
    (push_tag(udp_frame(H1, VM1, b"x" * 1472), TPID_8021Q, 0, 10), False),  # the same under a tag: 1518 bytes
    (udp_frame(H1, VM1, b"x" * 1473), True),
])
def test_only_a_payload_past_the_mtu_is_oversize(frame, dropped):
    net = lab()
    frame_id = net.send("h1", frame)
    net.run()
    assert net.trace.drops(frame_id) == ([("h1.eth0", DropReason.OVERSIZE)] if dropped else [])


def test_the_trace_gives_each_hop_its_time_and_where_the_frame_went():
    net = lab(latency_ns=1_000)
    net.send("vm1", udp_frame(VM1, H1))
    net.send("h1", udp_frame(H1, VM1), at=5_000)
    net.send("h1", udp_frame(H1, VM1, b"x" * 1473), at=9_000)
    net.run()
    assert [tuple(e) for e in net.trace.events] == [
        (0, 1, "vm1.eth0", Verdict.TRANSMITTED, ("hv1",), ""),  # a vNIC's wire leads into its hypervisor
        (0, 1, "hv1.vnic-vm1.eth0", Verdict.TO_UPLINK, ("hv1.uplink",), ""),
        (1_000, 1, "sw1.p2", Verdict.FLOODED_UNKNOWN, ("sw1.p1",), "learned"),
        (2_000, 1, "h1.eth0", Verdict.DELIVERED, (), ""),
        (5_000, 2, "h1.eth0", Verdict.TRANSMITTED, ("sw1.p1",), ""),
        (6_000, 2, "sw1.p1", Verdict.FORWARDED, ("sw1.p2",), "learned"),
        (7_000, 2, "hv1.uplink", Verdict.TO_VNIC, ("vm1.eth0",), ""),
        (7_000, 2, "vm1.eth0", Verdict.DELIVERED, (), ""),
        (9_000, 3, "h1.eth0", DropReason.OVERSIZE, (), ""),
    ]


def test_without_recording_drops_are_counted_and_nothing_is_kept():
    net = Network(record=False)
    net.add_host("h1", H1)
    net.send("h1", b"\x01" * 10)
    net.send("h1", udp_frame(H1, BROADCAST))  # not cabled
    net.run()
    assert (net.trace, dict(net.stats.dropped)) == (None, {DropReason.RUNT: 1, DropReason.NOT_CABLED: 1})


def test_frames_a_vf_drops_are_counted_as_sent_by_the_vnic():
    net = Network()
    net.add_switch("sw1")
    net.add_hypervisor("hv1", "02:00:00:00:00:aa")
    net.add_vm("hv1", "vm1", VM1, vf=VFControls(spoofchk=True))
    net.connect("hv1", "sw1")
    for _ in range(2):
        net.send("vm1", udp_frame("52:54:00:00:00:09", BROADCAST))  # a source not its own
    net.run()
    assert net.port("vm1").counters.as_dict() == {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 2, "tx_bytes": 120,
                                                  "rx_dropped": {}, "tx_dropped": {"SPOOFED_SOURCE": 2}}


def test_a_loop_is_reported_with_the_frame_that_came_back_and_each_frame_is_limited_on_its_own():
    net = Network()
    for name in ("s1", "s2"):
        net.add_switch(name, storm_limit=2)
    net.add_host("h1", H1)
    net.connect("h1", "s1")
    net.connect("s1", "s2", latency_ns=100)
    net.connect("s1", "s2", latency_ns=100)
    net.send("h1", udp_frame(H1, BROADCAST))
    net.send("h1", udp_frame(H1, BROADCAST), at=10)
    net.run()
    assert (net.switch("s1").storm.loop_ports, net.switch("s2").storm.loop_ports) == (
        {"s1.p3": LoopPort("s1.p3", 1, 400), "s1.p2": LoopPort("s1.p2", 1, 400)},
        {"s2.p2": LoopPort("s2.p2", 1, 300), "s2.p1": LoopPort("s2.p1", 1, 500)})
    assert dict(net.stats.dropped) == {DropReason.STORM_LIMIT: 4}  # two copies of each frame


@pytest.mark.parametrize("frame, drops", [
    (udp_frame(H1, VM1)[:14], []),  # a bare Ethernet header is a frame
    (udp_frame(H1, VM1)[:13], [("sw1.p1", DropReason.RUNT)]),
    (udp_frame(H1, VM1, b"x" * 1472), []),  # a 1500-byte payload fits the MTU
    (push_tag(udp_frame(H1, VM1, b"x" * 1472), TPID_8021Q, 0, 10), []),  # and does under a tag
    (udp_frame(H1, VM1, b"x" * 1473), [("sw1.p1", DropReason.OVERSIZE)]),
])
def test_a_frame_arriving_from_a_cable_is_checked_for_size_and_a_drop_is_in_its_trace(frame, drops):
    net = lab()
    frame_id = net.inject("sw1.p1", frame)
    net.run()
    assert (net.trace.drops(frame_id), dict(net.port("sw1.p1").counters.rx_dropped)) == (
        drops, {reason: 1 for _, reason in drops})


def test_a_frame_reaching_a_port_that_went_down_is_dropped_there_and_in_its_trace():
    net = lab(latency_ns=1_000)
    cut = net.send("h1", udp_frame(H1, VM1))
    net.run(until=500)
    net.set_link_state(net.links[0], False)  # h1's cable, with the frame on it
    net.run()
    net.set_link_state(net.links[0], True)
    net.set_admin_state("h1", up=False)
    shut = net.send("vm1", udp_frame(VM1, H1))
    net.run()
    assert (net.trace.drops(cut), net.trace.drops(shut)) == (
        [("sw1.p1", DropReason.LINK_DOWN)], [("h1.eth0", DropReason.INTERFACE_DOWN)])


def test_a_frame_that_cannot_leave_is_a_transmit_drop_of_its_sender():
    net = lab()
    net.set_link_state(net.links[0], False)
    down = net.send("h1", udp_frame(H1, VM1))
    loose = Network()
    loose.add_host("h1", H1)
    uncabled = loose.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    loose.run()
    assert (net.trace.drops(down), loose.trace.drops(uncabled)) == (
        [("h1.eth0", DropReason.LINK_DOWN)], [("h1.eth0", DropReason.NOT_CABLED)])
    assert [n.port("h1").counters.as_dict() for n in (net, loose)] == [
        {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 1, "tx_bytes": 60, "rx_dropped": {},
         "tx_dropped": {"LINK_DOWN": 1}},
        {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 1, "tx_bytes": 60, "rx_dropped": {},
         "tx_dropped": {"NOT_CABLED": 1}}]


def test_a_port_counts_every_byte_it_receives():
    net = lab()
    for size in (60, 100):
        net.send("h1", udp_frame(H1, VM1, bytes(size - 42)))
    net.run()
    assert net.port("vm1").counters.as_dict() == {"rx_packets": 2, "rx_bytes": 160, "tx_packets": 0, "tx_bytes": 0,
                                                  "rx_dropped": {}, "tx_dropped": {}}


def test_a_delivery_records_when_and_which_frame_arrived():
    net = lab(latency_ns=1_000)
    first = net.send("h1", udp_frame(H1, VM1, bytes(18)))
    second = net.send("h1", udp_frame(H1, VM1, bytes(19)), at=5_000)
    net.run()
    assert net.deliveries("vm1") == [Delivery(2_000, first, udp_frame(H1, VM1, bytes(18))),
                                     Delivery(7_000, second, udp_frame(H1, VM1, bytes(19)))]


@pytest.mark.parametrize("count", [2, 3, 4])
def test_a_series_keeps_its_place_among_frames_sent_before_and_after_it_for_the_same_instants(count):
    by_send, by_series = lab(latency_ns=0), lab(latency_ns=0)
    frame, before, after = udp_frame(H1, BROADCAST), udp_frame(VM2, BROADCAST), udp_frame(VM1, BROADCAST)
    last = (count - 1) * 1_000
    for net in (by_send, by_series):
        net.send("vm2", before, at=last)
    sent = [by_send.send("h1", frame, at=i * 1_000) for i in range(count)]
    series = list(by_series.send_series("h1", frame, count, interval_ns=1_000))
    for net in (by_send, by_series):
        net.send("vm1", after, at=last)
        net.run()
    assert series == sent
    assert outcome(by_series) == outcome(by_send)


@pytest.mark.parametrize("interval_ns", [0, 1_000])
def test_observers_of_a_series_see_every_hop_of_every_copy(interval_ns):
    net = lab(latency_ns=0)
    recorder = HopRecorder()
    series = net.send_series("h1", udp_frame(H1, VM1), 3, interval_ns=interval_ns, observers=(recorder,))
    net.run()
    assert {frame_id: [(e.time_ns, e.port) for e in hops] for frame_id, hops in recorder.hops.items()} == {
        frame_id: [(i * interval_ns, "h1.eth0"), (i * interval_ns, "sw1.p1"), (i * interval_ns, "hv1.uplink"),
                   (i * interval_ns, "vm1.eth0")] for i, frame_id in enumerate(series)}


def test_a_network_with_an_inbox_limit_keeps_the_last_deliveries():
    net = Network(inbox_limit=2)
    net.add_host("h1", H1)
    net.add_host("h2", "02:00:00:00:00:02")
    net.connect("h1", "h2")
    ids = [net.send("h1", udp_frame(H1, "02:00:00:00:00:02", bytes([i]))) for i in range(3)]
    net.run()
    assert [d.frame_id for d in net.deliveries("h2")] == ids[1:]
