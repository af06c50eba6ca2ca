"""The learning switch decides like the Linux bridge (net/bridge/br_input.c, br_forward.c)."""

import pytest

from conftest import BROADCAST, GROUP, udp_frame
from vswitch import DropReason, LearningSwitch, TopologyError, Verdict
from vswitch.l2.fdb import LearnResult

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
