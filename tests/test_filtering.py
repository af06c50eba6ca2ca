"""A VLAN-filtering switch and port security: the switch's filtering path (``_decide_filtered`` in vswitch/switch.py)."""

from conftest import BROADCAST, udp_frame
from vswitch import DropReason, LearningSwitch, Network, Verdict
from vswitch.l2.fdb import LearnResult
from vswitch.core.frame import TPID_8021AD, TPID_8021Q, pad, push_tag
from vswitch.l2.portsecurity import PortSecurity
from vswitch.l2.vlan import PortVlans, outer_tag

A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


def vlan_switch(**kwargs):
    """p1 access 10, p2 access 20, p3 access 10, p4 trunk 10+20 (no pvid)."""
    sw = LearningSwitch("sw", vlan_filtering=True, **kwargs)
    for name, vlans in (("p1", PortVlans.access(10)), ("p2", PortVlans.access(20)), ("p3", PortVlans.access(10)),
                        ("p4", PortVlans(None, (10, 20)))):
        sw.add_port(name)
        sw.set_vlans(name, vlans)
    return sw


def out(decision):
    return [p.name for p in decision.outputs], decision.outcome


def test_a_broadcast_is_flooded_only_to_the_ports_of_its_vlan():
    sw = vlan_switch()
    decision = sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), now=0)
    assert out(decision) == (["p3", "p4"], Verdict.FLOODED_BROADCAST)
    access, trunk = decision.frames
    assert outer_tag(access) is None and outer_tag(trunk) == (TPID_8021Q, 10)


def test_a_frame_from_the_trunk_leaves_an_access_port_untagged():
    sw = vlan_switch()
    decision = sw.handle_frame(sw.port("p4"), push_tag(udp_frame(A, BROADCAST), TPID_8021Q, 0, 20), now=0)
    assert out(decision) == (["p2"], Verdict.FLOODED_BROADCAST)
    assert decision.frames == (pad(udp_frame(A, BROADCAST)),)  # untagged onto a cable: padded to 60 bytes


def test_the_table_is_keyed_by_vlan_and_mac():
    sw = vlan_switch()
    sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), now=0)
    sw.handle_frame(sw.port("p2"), udp_frame(A, BROADCAST), now=1)  # the same MAC, in VLAN 20
    assert [(r.vlan, r.mac, r.port) for r in sw.table.rows(now=2)] == [(10, A, "p1"), (20, A, "p2")]


def test_known_unicast_stays_in_its_vlan():
    sw = vlan_switch()
    sw.handle_frame(sw.port("p2"), udp_frame(B, BROADCAST), now=0)  # B learned in VLAN 20 only
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), now=1)) == (["p3", "p4"], Verdict.FLOODED_UNKNOWN)
    assert out(sw.handle_frame(sw.port("p4"), push_tag(udp_frame(C, B), TPID_8021Q, 0, 20), now=2)) == (
        ["p2"], Verdict.FORWARDED)


def test_untagged_on_a_trunk_without_pvid_and_foreign_vlans_are_dropped_at_ingress():
    sw = vlan_switch()
    assert out(sw.handle_frame(sw.port("p4"), udp_frame(A, BROADCAST), 0)) == ([], DropReason.NO_PVID)
    assert out(sw.handle_frame(sw.port("p4"), push_tag(udp_frame(A, BROADCAST), TPID_8021Q, 0, 30), 0)) == (
        [], DropReason.VLAN_NOT_ALLOWED)
    assert len(sw.table) == 0


def test_known_unicast_to_a_port_not_carrying_the_vlan_is_dropped_at_egress():
    sw = vlan_switch()
    sw.table.add_static(10, bytes.fromhex("02000000000b"), "p2")  # a static entry pointing outside VLAN 10
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 0)) == ([], DropReason.VLAN_NOT_ALLOWED)


def test_an_8021ad_bridge_switches_on_the_service_tag():
    sw = LearningSwitch("pb", vlan_filtering=True, vlan_protocol="802.1ad")
    sw.add_port("p1")
    sw.set_vlans("p1", PortVlans(None, (100,)))
    sw.add_port("p2")
    sw.set_vlans("p2", PortVlans.access(100))
    customer = push_tag(udp_frame(A, BROADCAST), TPID_8021Q, 0, 10)
    decision = sw.handle_frame(sw.port("p1"), push_tag(customer, TPID_8021AD, 0, 100), 0)
    assert out(decision) == (["p2"], Verdict.FLOODED_BROADCAST) and decision.frames == (pad(customer),)


def test_without_vlan_filtering_tags_are_payload():
    sw = LearningSwitch("sw")
    for _ in range(2):
        sw.add_port()
    decision = sw.handle_frame(sw.port("p1"), push_tag(udp_frame(A, BROADCAST), TPID_8021Q, 0, 30), 0)
    assert out(decision) == (["p2"], Verdict.FLOODED_BROADCAST) and decision.frames is None
    assert [r.vlan for r in sw.table.rows(0)] == [1]


def secured_switch(violation):
    sw = LearningSwitch("sw")
    for _ in range(3):
        sw.add_port()
    sw.set_security("p1", PortSecurity(2, violation))
    return sw


def test_port_security_drops_a_new_mac_beyond_max_macs_and_keeps_the_known_ones():
    sw = secured_switch("drop")
    for k, now in ((1, 0), (2, 1)):
        assert sw.handle_frame(sw.port("p1"), udp_frame(f"02:00:00:00:01:0{k}", BROADCAST), now).learned is \
            LearnResult.LEARNED
    third = sw.handle_frame(sw.port("p1"), udp_frame("02:00:00:00:01:03", BROADCAST), 2)
    assert out(third) == ([], DropReason.PORT_SECURITY)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame("02:00:00:00:01:01", BROADCAST), 3))[1] is \
        Verdict.FLOODED_BROADCAST
    assert sw.port("p1").security.violations == 1 and not sw.port("p1").shut_down


def test_port_security_counts_only_live_entries():
    sw = LearningSwitch("sw", ageing_ns=10)
    for _ in range(2):
        sw.add_port()
    sw.set_security("p1", PortSecurity(1))
    sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(B, BROADCAST), 5)) == ([], DropReason.PORT_SECURITY)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(B, BROADCAST), 20))[1] is Verdict.FLOODED_BROADCAST


def test_port_security_shutdown_err_disables_the_port():
    sw = secured_switch("shutdown")
    sw.handle_frame(sw.port("p2"), udp_frame(C, BROADCAST), 0)
    for k in range(3):
        sw.handle_frame(sw.port("p1"), udp_frame(f"02:00:00:00:01:0{k}", BROADCAST), 1)
    assert sw.port("p1").shut_down and sw.port("p1").security.shut_down_ns == 1
    assert sw.table.learned_on("p1") == 0  # what it had learned is forgotten
    assert out(sw.handle_frame(sw.port("p1"), udp_frame("02:00:00:00:01:00", BROADCAST), 2)) == (
        [], DropReason.PORT_SHUT_DOWN)
    assert out(sw.handle_frame(sw.port("p2"), udp_frame(C, BROADCAST), 3))[0] == ["p3"]  # no flood to p1


def test_a_shut_down_port_comes_back_when_its_cable_goes_down_and_up():
    net = Network()
    sw = net.add_switch("sw1")
    sw.add_port("p1")
    sw.set_security("p1", PortSecurity(0, "shutdown"))
    net.register_port(sw.port("p1"))
    net.add_host("h1", A)
    link = net.connect("h1", "sw1.p1")
    net.add_host("h2", B)
    net.connect("h2", "sw1")
    first = net.send("h1", udp_frame(A, B))
    net.run()
    assert net.trace.drops(first) == [("sw1.p1", DropReason.PORT_SECURITY)] and sw.port("p1").shut_down
    net.set_link_state(link, False)
    net.set_link_state(link, True)
    assert not sw.port("p1").shut_down


def test_learned_per_port_counts_follow_moves_evictions_flushes_and_static_entries():
    from vswitch.l2.fdb import ForwardingTable, TablePolicy

    table = ForwardingTable(ageing_ns=100, limit=3, policy=TablePolicy.EVICT)
    macs = [bytes([2, 0, 0, 0, 0, k]) for k in range(5)]
    for k, port in enumerate(("p1", "p1", "p2")):
        table.learn(1, macs[k], port, now=k)
    table.learn(1, macs[0], "p2", now=3)                      # a move
    assert (table.learned_on("p1"), table.learned_on("p2")) == (1, 2)
    table.learn(1, macs[3], "p3", now=4)                      # full: evicts p2's least recently used
    assert (table.learned_on("p2"), table.learned_on("p3")) == (1, 1)
    table.add_static(1, macs[3], "p1")                        # a static entry replaces a learned one
    assert (table.learned_on("p3"), table.learned_on("p1")) == (0, 1)
    table.flush_port("p1")
    assert table.learned_on("p1") == 0 and table.lookup(1, macs[3], 5) == "p1"
    table.expire(1000)
    assert sum(table.learned_on(p) for p in ("p1", "p2", "p3")) == table.learned_count == 0


def decided(decision):
    """A decision as a user reads it: output ports, outcome, what learning did, the frames each port sends."""
    return [p.name for p in decision.outputs], decision.outcome, decision.learned, decision.frames


def test_vlan_decisions_are_whole_values_with_the_bytes_each_port_sends():
    sw = vlan_switch()
    untagged = udp_frame(A, BROADCAST)
    assert decided(sw.handle_frame(sw.port("p1"), untagged, 0)) == (
        ["p3", "p4"], Verdict.FLOODED_BROADCAST, LearnResult.LEARNED,
        (pad(untagged), push_tag(untagged, TPID_8021Q, 0, 10)))
    to_a = udp_frame(B, A)
    assert decided(sw.handle_frame(sw.port("p4"), push_tag(to_a, TPID_8021Q, 0, 10), 1)) == (
        ["p1"], Verdict.FORWARDED, LearnResult.LEARNED, (pad(to_a),))
    to_b = udp_frame(A, B)
    assert decided(sw.handle_frame(sw.port("p1"), to_b, 2)) == (
        ["p4"], Verdict.FORWARDED, LearnResult.REFRESHED, (push_tag(to_b, TPID_8021Q, 0, 10),))
    group = udp_frame(C, "01:00:5e:01:02:03")
    assert decided(sw.handle_frame(sw.port("p2"), group, 3)) == (
        ["p4"], Verdict.FLOODED_MULTICAST, LearnResult.LEARNED, (push_tag(group, TPID_8021Q, 0, 20),))
    assert decided(sw.handle_frame(sw.port("p2"), udp_frame(C, A), 4)) == (
        ["p4"], Verdict.FLOODED_UNKNOWN, LearnResult.REFRESHED, (push_tag(udp_frame(C, A), TPID_8021Q, 0, 20),))


def test_a_drop_at_vlan_egress_still_reports_the_learning():
    sw = vlan_switch()
    sw.table.add_static(10, bytes.fromhex("02000000000b"), "p2")  # a static entry pointing outside VLAN 10
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 0)) == (
        [], DropReason.VLAN_NOT_ALLOWED, LearnResult.LEARNED, None)
