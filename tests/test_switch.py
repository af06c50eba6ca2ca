"""The learning switch decides like the Linux bridge (net/bridge/br_input.c, br_forward.c)."""

import pytest

from conftest import BROADCAST, GROUP, udp_frame
from vswitch import DropReason, LearningSwitch, TopologyError, Verdict
from vswitch.core.frame import TPID_8021Q, push_tag
from vswitch.l2.fdb import LearnResult, TableRow
from vswitch.l2.portsecurity import PortSecurity
from vswitch.l2.switch import SwitchPort
from vswitch.l2.vlan import PortVlans

A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
SECOND = 1_000_000_000


def switch(ports=3, **kwargs):
    sw = LearningSwitch("sw", **kwargs)
    for _ in range(ports):
        sw.add_port()
    return sw


def out(decision):
    return [p.name for p in decision.outputs], decision.outcome


def test_unknown_unicast_is_flooded_to_all_other_ports_and_source_learned():
    sw = switch()
    decision = sw.handle_frame(sw.port("p1"), udp_frame(A, B), now=0)
    assert out(decision) == (["p2", "p3"], Verdict.FLOODED_UNKNOWN)
    assert decision.learned is LearnResult.LEARNED
    assert [(r.mac, r.port) for r in sw.table.rows(now=0)] == [(A, "p1")]


def test_known_unicast_goes_only_to_its_port():
    sw = switch()
    sw.handle_frame(sw.port("p2"), udp_frame(B, A), now=0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), now=1)) == (["p2"], Verdict.FORWARDED)


def test_broadcast_and_multicast_are_flooded_with_their_own_verdicts():
    sw = switch()
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)) == (["p2", "p3"], Verdict.FLOODED_BROADCAST)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, GROUP), 0)) == (["p2", "p3"], Verdict.FLOODED_MULTICAST)


def test_unicast_to_ingress_port_is_filtered():
    sw = switch()
    sw.handle_frame(sw.port("p1"), udp_frame(B, C), now=0)
    decision = sw.handle_frame(sw.port("p1"), udp_frame(A, B), now=1)
    assert out(decision) == ([], DropReason.SAME_PORT)


def test_hairpin_port_gets_unicast_and_floods_back():
    sw = switch()
    sw.set_flag("p1", "hairpin", True)
    sw.handle_frame(sw.port("p1"), udp_frame(B, C), now=0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), now=1)) == (["p1"], Verdict.FORWARDED)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), now=1))[0] == ["p1", "p2", "p3"]


@pytest.mark.parametrize("source", ["01:00:5e:00:00:01", BROADCAST, "00:00:00:00:00:00"])
def test_frame_with_multicast_or_zero_source_is_dropped_and_not_learned(source):
    sw = switch()
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(source, B), 0)) == ([], DropReason.INVALID_SOURCE)
    assert len(sw.table) == 0


def test_link_local_destination_is_not_forwarded():
    sw = switch()
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, "01:80:c2:00:00:00"), 0)) == ([], DropReason.LINK_LOCAL)


@pytest.mark.parametrize("path", ["plain", "filtering"])
def test_link_local_range_ends_at_01_80_c2_00_00_0f_and_the_next_group_is_flooded(path):
    """802.1D reserves 01:80:c2:00:00:00 to :0f (STP, LACP, LLDP...); :10 is an ordinary multicast group."""
    sw = LearningSwitch("sw", vlan_filtering=path == "filtering")  # the filtering path (VLAN 1 untagged) too
    for _ in range(3):
        sw.add_port()
    assert sw.filtered == (path == "filtering")

    def decide(dst):
        return out(sw.handle_frame(sw.port("p1"), udp_frame(A, dst), 0))
    assert [decide(f"01:80:c2:00:00:{last:02x}") for last in (0x00, 0x0e, 0x0f, 0x10, 0x21)] == [
        ([], DropReason.LINK_LOCAL), ([], DropReason.LINK_LOCAL), ([], DropReason.LINK_LOCAL),
        (["p2", "p3"], Verdict.FLOODED_MULTICAST), (["p2", "p3"], Verdict.FLOODED_MULTICAST)]


def test_learning_flag_off_learns_nothing():
    sw = switch()
    sw.set_flag("p1", "learning", False)
    sw.handle_frame(sw.port("p1"), udp_frame(A, B), 0)
    assert len(sw.table) == 0


@pytest.mark.parametrize("flag,dst,verdict", [
    ("flood", B, Verdict.FLOODED_UNKNOWN),
    ("mcast_flood", GROUP, Verdict.FLOODED_MULTICAST),
    ("bcast_flood", BROADCAST, Verdict.FLOODED_BROADCAST),
])
def test_flood_flags_keep_a_port_out_of_that_kind_of_flood(flag, dst, verdict):
    sw = switch()
    sw.set_flag("p3", flag, False)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, dst), 0)) == (["p2"], verdict)


def test_flood_flag_does_not_stop_known_unicast():
    sw = switch()
    sw.set_flag("p2", "flood", False)
    sw.handle_frame(sw.port("p2"), udp_frame(B, A), 0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 1)) == (["p2"], Verdict.FORWARDED)


def test_isolated_ports_do_not_talk_to_each_other_but_do_to_others():
    sw = switch()
    sw.set_flag("p1", "isolated", True)
    sw.set_flag("p2", "isolated", True)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0))[0] == ["p3"]
    sw.handle_frame(sw.port("p2"), udp_frame(B, BROADCAST), 0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 1)) == ([], DropReason.ISOLATED)
    assert out(sw.handle_frame(sw.port("p3"), udp_frame(C, B), 1)) == (["p2"], Verdict.FORWARDED)


def test_only_port_with_nowhere_to_flood_drops_with_a_reason():
    sw = switch(ports=1)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)) == ([], DropReason.NO_EGRESS)


def test_mac_move_follows_the_station_to_its_new_port():
    sw = switch()
    sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)
    decision = sw.handle_frame(sw.port("p2"), udp_frame(A, BROADCAST), 5)
    assert decision.learned is LearnResult.MOVED
    assert out(sw.handle_frame(sw.port("p3"), udp_frame(C, A), 6)) == (["p2"], Verdict.FORWARDED)


def test_entry_ages_out_after_300_seconds_by_default_and_unicast_floods_again():
    sw = switch()
    sw.handle_frame(sw.port("p2"), udp_frame(B, BROADCAST), 0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 300 * SECOND - 1))[1] is Verdict.FORWARDED
    assert out(sw.handle_frame(sw.port("p3"), udp_frame(C, B), 300 * SECOND))[1] is Verdict.FLOODED_UNKNOWN


def test_static_entry_is_used_and_not_moved_by_learning():
    sw = switch()
    sw.table.add_static(1, bytes.fromhex("02000000000b"), "p3")
    sw.handle_frame(sw.port("p2"), udp_frame(B, BROADCAST), 0)
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, B), 10**15)) == (["p3"], Verdict.FORWARDED)


def test_table_full_with_refuse_policy_floods_new_stations():
    sw = switch(table_limit=1, table_policy="refuse")
    sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)
    decision = sw.handle_frame(sw.port("p2"), udp_frame(B, BROADCAST), 1)
    assert decision.learned is LearnResult.REFUSED
    assert out(sw.handle_frame(sw.port("p3"), udp_frame(C, B), 2))[1] is Verdict.FLOODED_UNKNOWN
    assert out(sw.handle_frame(sw.port("p3"), udp_frame(C, A), 2)) == (["p1"], Verdict.FORWARDED)
    assert [r.mac for r in sw.table.rows(3)] == [A]


def test_table_full_with_evict_policy_keeps_the_lone_station_of_another_port():
    sw = switch(table_limit=3, table_policy="evict")
    sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 0)  # oldest, alone on p1
    for i, t in ((1, 1), (2, 2)):
        sw.handle_frame(sw.port("p2"), udp_frame(f"02:00:00:00:01:0{i}", BROADCAST), t)
    decision = sw.handle_frame(sw.port("p2"), udp_frame("02:00:00:00:01:03", BROADCAST), 3)
    assert decision.learned is LearnResult.EVICTED
    assert [(r.mac, r.port) for r in sw.table.rows(3)] == [
        (A, "p1"), ("02:00:00:00:01:02", "p2"), ("02:00:00:00:01:03", "p2")]


def test_unknown_port_and_flag_are_named_in_errors():
    sw = switch()
    with pytest.raises(TopologyError, match="no port 'p9'.*p1, p2, p3"):
        sw.port("p9")
    with pytest.raises(TopologyError, match="unknown port flag 'haripin'"):
        sw.set_flag("p1", "haripin", True)


# -- whole decisions, on the plain path and on the filtering path -------------------------------------

# Stations whose second byte is odd: only the first byte's low bit makes an address multicast.
S1, S2, S3, S4, S5 = (f"02:01:00:00:00:0{i}" for i in range(1, 6))
STATIC_GONE = "02:01:00:00:00:99"


def decided(decision):
    """A decision as a user reads it: output ports, outcome, what learning did, the frames sent (None: as sent)."""
    return [p.name for p in decision.outputs], decision.outcome, decision.learned, decision.frames


def story_switch(path):
    """p1..p4 (p3 and p4 isolated) and a static entry left behind by a removed p5, on the given path."""
    sw = switch(ports=5)
    sw.set_flag("p3", "isolated", True)
    sw.set_flag("p4", "isolated", True)
    sw.add_static(bytes.fromhex(STATIC_GONE.replace(":", "")), "p5")
    sw.remove_port("p5")
    if path == "filtering":  # port security that never trips puts the switch on its filtering path
        sw.set_security("p1", PortSecurity(100))
        sw.set_security("p3", PortSecurity(100))
    assert sw.filtered is (path == "filtering")
    return sw


LEARNED, REFRESHED = LearnResult.LEARNED, LearnResult.REFRESHED
STORY = [  # (port, source, destination), (outputs, outcome, learned)
    (("p1", S1, S2), (["p2", "p3", "p4"], Verdict.FLOODED_UNKNOWN, LEARNED)),
    (("p2", S2, S1), (["p1"], Verdict.FORWARDED, LEARNED)),
    (("p1", S1, S2), (["p2"], Verdict.FORWARDED, REFRESHED)),
    (("p1", S1, BROADCAST), (["p2", "p3", "p4"], Verdict.FLOODED_BROADCAST, REFRESHED)),
    (("p1", S1, GROUP), (["p2", "p3", "p4"], Verdict.FLOODED_MULTICAST, REFRESHED)),
    (("p1", S1, "01:80:c2:00:00:0e"), ([], DropReason.LINK_LOCAL, REFRESHED)),
    (("p1", S1, "01:80:c2:00:00:10"), (["p2", "p3", "p4"], Verdict.FLOODED_MULTICAST, REFRESHED)),
    (("p2", S2, S2), ([], DropReason.SAME_PORT, REFRESHED)),
    (("p3", S3, BROADCAST), (["p1", "p2"], Verdict.FLOODED_BROADCAST, LEARNED)),
    (("p4", S4, S3), ([], DropReason.ISOLATED, LEARNED)),
    (("p2", S2, S3), (["p3"], Verdict.FORWARDED, REFRESHED)),
    (("p1", S1, STATIC_GONE), (["p2", "p3", "p4"], Verdict.FLOODED_UNKNOWN, REFRESHED)),
    (("p2", "00:00:00:00:00:00", S1), ([], DropReason.INVALID_SOURCE, None)),
    (("p2", "03:00:00:00:00:05", S1), ([], DropReason.INVALID_SOURCE, None)),
]


@pytest.mark.parametrize("path", ["plain", "filtering"])
def test_every_kind_of_frame_gets_its_whole_decision_on_either_path(path):
    sw = story_switch(path)
    got = [decided(sw.handle_frame(sw.port(port), udp_frame(src, dst), now))
           for now, ((port, src, dst), _) in enumerate(STORY)]
    assert got == [(*expected, None) for _, expected in STORY]
    assert sw.table.rows(now=len(STORY)) == [
        TableRow(1, S1, "p1", 3, False), TableRow(1, S2, "p2", 4, False), TableRow(1, S3, "p3", 6, False),
        TableRow(1, S4, "p4", 5, False), TableRow(1, STATIC_GONE, "p5", 0, True)]


@pytest.mark.parametrize("path", ["plain", "filtering"])
def test_a_port_that_does_not_learn_still_forwards_and_reports_nothing_learned(path):
    sw = story_switch(path)
    sw.set_flag("p1", "learning", False)
    sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 0)
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, S2), 1)) == (["p2"], Verdict.FORWARDED, None, None)
    assert [row.mac for row in sw.table.rows(now=2)] == [S2, STATIC_GONE]


@pytest.mark.parametrize("path", ["plain", "filtering"])
def test_a_flood_with_nowhere_to_go_still_reports_the_learning(path):
    sw = switch(ports=1)
    if path == "filtering":
        sw.set_security("p1", PortSecurity(100))
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, GROUP), 0)) == (
        [], DropReason.NO_EGRESS, LEARNED, None)


def test_a_static_entry_on_a_shut_down_port_is_not_forwarded_to():
    sw = switch()
    sw.add_static(bytes.fromhex("020100000009"), "p2")
    sw.set_security("p2", PortSecurity(0, "shutdown"))
    assert decided(sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 0)) == (
        [], DropReason.PORT_SECURITY, None, None)
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, "02:01:00:00:00:09"), 1)) == (
        [], DropReason.PORT_SHUT_DOWN, LEARNED, None)
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, BROADCAST), 2)) == (
        ["p3"], Verdict.FLOODED_BROADCAST, REFRESHED, None)


def test_removing_a_shut_down_ports_security_reopens_it_and_it_forwards_again():
    sw = switch()
    sw.set_security("p2", PortSecurity(0, "shutdown"))
    sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 0)
    assert sw.port("p2").shut_down is True
    sw.set_security("p2", None)
    assert (sw.port("p2").shut_down, sw.filtered) == (False, False)
    sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 1)
    sw.handle_frame(sw.port("p1"), udp_frame(S1, S2), 2)
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, S2), 3)) == (
        ["p2"], Verdict.FORWARDED, REFRESHED, None)


def test_a_port_reopened_by_its_cable_forwards_again_once_its_security_goes():
    sw = switch()
    sw.set_security("p2", PortSecurity(0, "shutdown"))
    sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 0)
    sw.reopen("p2")  # what a cable going down and up does
    assert sw.port("p2").shut_down is False
    sw.set_security("p2", None)
    sw.handle_frame(sw.port("p2"), udp_frame(S2, BROADCAST), 1)
    sw.handle_frame(sw.port("p1"), udp_frame(S1, S2), 2)
    assert decided(sw.handle_frame(sw.port("p1"), udp_frame(S1, S2), 3)) == (
        ["p2"], Verdict.FORWARDED, REFRESHED, None)


# -- ports, flags, VLAN settings ----------------------------------------------------------------------

def test_a_new_port_has_the_linux_bridge_defaults():
    sw = LearningSwitch("sw")
    port = sw.add_port()
    assert (port.name, port.flags(), port.internal, port.mtu, port.vlans, port.security, port.shut_down) == (
        "p1", {"learning": True, "flood": True, "mcast_flood": True, "bcast_flood": True, "hairpin": False,
               "isolated": False}, False, 1500, PortVlans.access(1), None, False)
    assert sw.add_port("wire", internal=True, hairpin=True).internal is True
    assert sw.port("wire").flags()["hairpin"] is True
    jumbo = SwitchPort(sw, "jumbo", mtu=9000)
    assert (jumbo.mtu, jumbo.internal) == (9000, False)


def test_unnamed_ports_take_the_next_free_number():
    sw = LearningSwitch("sw")
    sw.add_port("p2")
    sw.add_port("p3")
    assert [sw.add_port().name, sw.add_port().name] == ["p4", "p5"]


def test_port_errors_name_the_problem_and_the_choices():
    sw = LearningSwitch("sw")
    with pytest.raises(TopologyError) as caught:
        sw.port("p1")
    assert str(caught.value) == "switch sw has no port 'p1' (ports: none)"
    for name in ("p10", "p2", "uplink", "p1", "pX", "eth2", "eth10", "p05", "p9", "p", "p0"):
        sw.add_port(name)
    with pytest.raises(TopologyError) as caught:
        sw.port("p3")
    assert str(caught.value) == ("switch sw has no port 'p3' (ports: eth2, eth10, p, p0, p1, p2, p05, p9, p10, pX, "
                                 "uplink)")  # digits compare as numbers
    with pytest.raises(TopologyError) as caught:
        sw.add_port("p2")
    assert str(caught.value) == "switch sw already has a port p2"
    with pytest.raises(TopologyError) as caught:
        sw.add_port("p3", haripin=True)
    assert str(caught.value) == ("sw.p3: unknown port flag(s) ['haripin']; known: ['bcast_flood', 'flood', "
                                 "'hairpin', 'isolated', 'learning', 'mcast_flood']")
    with pytest.raises(TopologyError) as caught:
        sw.set_flag("p1", "haripin", True)
    assert str(caught.value) == ("unknown port flag 'haripin'; known: learning, flood, mcast_flood, bcast_flood, "
                                 "hairpin, isolated")


def test_a_removed_port_is_forgotten_and_gets_no_more_floods():
    sw = switch()
    sw.handle_frame(sw.port("p3"), udp_frame(C, BROADCAST), 0)
    sw.remove_port("p3")
    assert out(sw.handle_frame(sw.port("p1"), udp_frame(A, BROADCAST), 1)) == (["p2"], Verdict.FLOODED_BROADCAST)
    assert [(r.mac, r.port) for r in sw.table.rows(now=1)] == [(A, "p1")]
    with pytest.raises(TopologyError):
        sw.remove_port("p3")
    assert sw.add_port().name == "p3"


def test_changing_a_ports_vlans_forgets_only_what_it_learned_in_vlans_it_left():
    sw = LearningSwitch("sw", vlan_filtering=True)
    for name in ("p1", "p2"):
        sw.add_port(name)
        sw.set_vlans(name, PortVlans(None, (10, 20)))
    for vid, port, src in ((10, "p1", A), (20, "p1", B), (10, "p2", C)):
        sw.handle_frame(sw.port(port), push_tag(udp_frame(src, BROADCAST), TPID_8021Q, 0, vid), 0)
    sw.set_vlans("p1", PortVlans(None, (10,)))
    assert [(r.vlan, r.mac, r.port) for r in sw.table.rows(now=1)] == [(10, A, "p1"), (10, C, "p2")]


def test_the_switch_keeps_its_vlan_protocol_for_reports():
    assert (LearningSwitch("sw", vlan_protocol="802.1ad").vlan_protocol, LearningSwitch("sw").vlan_protocol) == (
        "802.1ad", "802.1Q")


def test_a_port_added_to_an_armed_switch_watches_for_loops_too():
    sw = switch(ports=1)
    assert sw.port("p1").counters.seen is None  # a switch cabled to no switch pays nothing
    sw.arm_storm_guard()
    late = sw.add_port()
    assert (sw.storm.armed, sw.port("p1").counters.seen is sw.storm.seen, late.counters.seen is sw.storm.seen) == (
        True, True, True)
