"""Switching loops without STP: detected, bounded by the storm limit, reported; never a hang or a RecursionError."""

import pytest

from conftest import BROADCAST, lab, udp_frame
from vswitch import DropReason, Network, TopologyError
from vswitch.scenario.security_checks import loop_ports
from vswitch.l2.storm import StormGuard

H1, H2 = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ring(switches, latency_ns=0, storm_limit=16, record=True):
    """``switches`` switches cabled in a ring; h1 on s0, h2 on the last one."""
    net = Network(record=record)
    for i in range(switches):
        net.add_switch(f"s{i}", storm_limit=storm_limit)
    net.add_host("h1", H1)
    net.connect("h1", "s0")
    net.add_host("h2", H2)
    net.connect("h2", f"s{switches - 1}")
    for i in range(switches):
        net.connect(f"s{i}", f"s{(i + 1) % switches}", latency_ns=latency_ns)
    return net


@pytest.mark.parametrize("latency_ns", [0, 1000])
def test_a_broadcast_storm_in_a_ring_is_stopped_at_the_storm_limit_and_reported(latency_ns):
    net = ring(3, latency_ns, storm_limit=4)
    frame_id = net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert net.stats.in_flight == 0 and net.stats.dropped == {DropReason.STORM_LIMIT: 2}
    assert loop_ports(net) == ["s0.p2", "s0.p3", "s1.p1", "s1.p2", "s2.p2", "s2.p3"]
    assert net.trace.delivered_to(frame_id).count("h2.eth0") == 9


def test_a_long_zero_latency_loop_ends_without_recursion_error():
    net = ring(300, record=False)
    net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert net.stats.in_flight == 0 and net.stats.dropped[DropReason.STORM_LIMIT] == 2


def test_two_switches_cabled_twice_over_zero_latency_cables_storm_and_stop():
    """The single-path loop of the issue: it used to end in RecursionError in the zero-delay shortcut."""
    net = Network()
    net.add_switch("sw1")
    net.add_switch("sw2")
    net.add_host("h1", H1)
    net.connect("h1", "sw1")
    net.connect("sw1", "sw2")
    net.connect("sw1", "sw2")
    net.send("h1", udp_frame(H1, "02:00:00:00:99:99"))
    net.run()
    assert net.stats.in_flight == 0 and net.stats.dropped[DropReason.STORM_LIMIT] >= 1
    assert loop_ports(net) == ["sw1.p2", "sw1.p3", "sw2.p1", "sw2.p2"]


def test_two_hairpin_ports_facing_each_other_ping_pong_until_the_limit():
    net = Network()
    net.add_switch("sw1")
    net.add_switch("sw2")
    net.add_host("h1", H1)
    net.connect("h1", "sw1")
    net.connect("sw1", "sw2")
    net.switch("sw1").set_flag("p2", "hairpin", True)
    net.switch("sw2").set_flag("p1", "hairpin", True)
    net.send("h1", udp_frame(H1, BROADCAST))
    net.run()
    assert net.stats.in_flight == 0 and net.stats.dropped[DropReason.STORM_LIMIT] >= 1
    assert "sw2.p1" in loop_ports(net)


def test_a_reflection_through_a_hairpin_and_a_host_bridge_is_not_a_loop():
    net = lab(backend="bridge", hairpin=True, latency_ns=0)
    frame_id = net.send("vm1", udp_frame("52:54:00:00:00:01", BROADCAST))
    net.run()
    assert loop_ports(net) == [] and DropReason.STORM_LIMIT not in net.stats.dropped
    assert any(e.port == "hv1.uplink" for e in net.trace.for_frame(frame_id))  # it did come back to hv1's bridge


def test_a_switch_cabled_to_no_switch_keeps_no_ring():
    net = lab()
    assert all(p.counters.seen is None for p in net.switch("sw1").ports.values())
    looped = ring(2)
    assert all(p.counters.seen is looped.switch("s0").storm.seen for p in looped.switch("s0").ports.values())


def test_the_guard_counts_repeated_arrivals_per_port_and_drops_past_the_limit():
    guard = StormGuard(limit=2)
    port = type("P", (), {"full_name": "sw.p1"})()
    assert [guard.revisit(port, 7, now) for now in range(4)] == [False, False, True, True]
    assert list(guard.loop_ports) == ["sw.p1"] and guard.loop_ports["sw.p1"].time_ns == 1 and guard.dropped == 2


def test_a_storm_limit_below_one_is_refused():
    with pytest.raises(TopologyError, match="at least 1"):
        StormGuard(0)
