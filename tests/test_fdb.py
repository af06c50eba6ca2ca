"""The forwarding table: learning, moves, Linux-bridge ageing, static entries and the two limit policies."""

import pytest

from vswitch.core.errors import VSwitchError
from vswitch.l2.fdb import DEFAULT_AGEING_NS, ForwardingTable, LearnResult, TablePolicy, TableRow

AGEING = 5_000
A = bytes.fromhex("525400000001")
B = bytes.fromhex("525400000002")
C = bytes.fromhex("525400000003")
D = bytes.fromhex("525400000004")
E = bytes.fromhex("525400000005")
X = bytes.fromhex("00163e000001")


def counters(table: ForwardingTable) -> dict:
    return {"len": len(table), "learned": table.learned_count, "refused": table.refused,
            "evicted": table.evicted, "moves": table.moves}


# -- construction -------------------------------------------------------------------------------------

def test_defaults_follow_the_linux_bridge():
    table = ForwardingTable()
    assert (table.ageing_ns, table.limit, table.policy) == (300_000_000_000, None, TablePolicy.REFUSE)
    assert DEFAULT_AGEING_NS == 300 * 10**9


def test_policy_may_be_given_by_name():
    assert ForwardingTable(policy="evict").policy is TablePolicy.EVICT


def test_negative_ageing_raises():
    with pytest.raises(VSwitchError) as caught:
        ForwardingTable(ageing_ns=-1)
    assert str(caught.value) == "ageing must be >= 0 ns, got -1"


def test_negative_limit_raises():
    with pytest.raises(VSwitchError) as caught:
        ForwardingTable(limit=-1)
    assert str(caught.value) == "table limit must be >= 0, got -1"


# -- learning, refresh, moves -------------------------------------------------------------------------

def test_unknown_address_looks_up_as_none():
    assert ForwardingTable().lookup(1, A, now=0) is None


def test_learned_address_is_found_on_its_port():
    table = ForwardingTable(ageing_ns=AGEING)
    assert table.learn(1, A, "p1", now=100) is LearnResult.LEARNED
    assert table.lookup(1, A, now=100) == "p1"
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 0, "moves": 0}


def test_entries_are_keyed_by_vlan_and_mac():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(10, A, "p1", now=0)
    table.learn(20, A, "p2", now=0)
    assert (table.lookup(10, A, now=1), table.lookup(20, A, now=1), table.lookup(30, A, now=1)) == (
        "p1", "p2", None)
    assert table.moves == 0


def test_seeing_a_source_again_on_the_same_port_refreshes_it():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    assert table.learn(1, A, "p1", now=3_000) is LearnResult.REFRESHED
    assert table.rows(now=4_000) == [TableRow(1, "52:54:00:00:00:01", "p1", 1_000, False)]
    assert table.lookup(1, A, now=3_000 + AGEING - 1) == "p1"  # would have aged at 5_000 without the refresh
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 0, "moves": 0}


def test_seeing_a_source_on_another_port_moves_it_and_counts_the_move():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    assert table.learn(1, A, "p2", now=1_000) is LearnResult.MOVED
    assert table.lookup(1, A, now=1_000) == "p2"
    assert table.learn(1, A, "p1", now=2_000) is LearnResult.MOVED
    assert table.rows(now=2_500) == [TableRow(1, "52:54:00:00:00:01", "p1", 500, False)]
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 0, "moves": 2}


def test_relearning_an_aged_out_address_elsewhere_is_not_a_move():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    assert table.learn(1, A, "p2", now=AGEING) is LearnResult.LEARNED
    assert table.lookup(1, A, now=AGEING) == "p2"
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 0, "moves": 0}



def test_refresh_and_move_hold_late_in_a_long_run():
    """An entry seen again within the ageing time is refreshed or moved whatever the clock reads, not relearned."""
    late = 10**12
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=late)
    assert table.learn(1, A, "p1", now=late + 100) is LearnResult.REFRESHED
    assert table.learn(1, A, "p2", now=late + 200) is LearnResult.MOVED
    assert table.rows(now=late + 300) == [TableRow(1, "52:54:00:00:00:01", "p2", 100, False)]
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 0, "moves": 1}

# -- ageing -------------------------------------------------------------------------------------------

def test_entry_is_present_one_nanosecond_before_the_ageing_time():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=1_000)
    assert table.lookup(1, A, now=1_000 + AGEING - 1) == "p1"
    assert len(table) == 1


def test_entry_is_gone_exactly_at_the_ageing_time():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=1_000)
    assert table.lookup(1, A, now=1_000 + AGEING) is None
    assert (len(table), table.learned_count) == (0, 0)


def test_next_deadline_is_when_the_oldest_dynamic_entry_lapses():
    table = ForwardingTable(ageing_ns=AGEING)
    assert table.next_deadline() is None
    table.learn(1, B, "p2", now=700)
    table.learn(1, A, "p1", now=200)
    table.add_static(1, C, "p3")
    assert table.next_deadline() == 200 + AGEING


def test_expire_at_the_deadline_removes_exactly_the_lapsed_entries():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=200)
    table.learn(1, B, "p2", now=700)
    table.add_static(1, C, "p3")
    assert table.expire(now=table.next_deadline() - 1) == 0
    assert table.expire(now=table.next_deadline()) == 1
    assert [row.mac for row in table.rows(now=5_200)] == ["52:54:00:00:00:02", "52:54:00:00:00:03"]
    assert table.next_deadline() == 700 + AGEING
    assert table.expire(now=table.next_deadline()) == 1
    assert table.next_deadline() is None
    assert counters(table) == {"len": 1, "learned": 0, "refused": 0, "evicted": 0, "moves": 0}


def test_jumping_from_deadline_to_deadline_empties_the_dynamic_table():
    table = ForwardingTable(ageing_ns=AGEING)
    for i, mac in enumerate((A, B, C, D)):
        table.learn(1, mac, "p1", now=i * 1_000)
    seen = []
    while (deadline := table.next_deadline()) is not None:
        seen.append((deadline, table.expire(now=deadline)))
    assert seen == [(5_000, 1), (6_000, 1), (7_000, 1), (8_000, 1)]
    assert len(table) == 0


def test_refresh_postpones_the_deadline():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.learn(1, A, "p1", now=4_000)
    assert table.next_deadline() == 9_000


def test_ageing_zero_learns_nothing():
    table = ForwardingTable(ageing_ns=0)
    assert table.learn(1, A, "p1", now=0) is LearnResult.NOT_LEARNING
    assert table.lookup(1, A, now=0) is None
    assert table.next_deadline() is None
    assert counters(table) == {"len": 0, "learned": 0, "refused": 0, "evicted": 0, "moves": 0}


def test_ageing_zero_still_honours_static_entries():
    table = ForwardingTable(ageing_ns=0)
    table.add_static(1, A, "p1")
    assert table.lookup(1, A, now=10**15) == "p1"
    assert table.learn(1, A, "p2", now=5) is LearnResult.STATIC


# -- static entries -----------------------------------------------------------------------------------

def test_static_entry_never_ages():
    table = ForwardingTable(ageing_ns=AGEING)
    table.add_static(1, A, "p1")
    assert table.expire(now=10**15) == 0
    assert table.lookup(1, A, now=10**15) == "p1"
    assert table.next_deadline() is None
    assert table.rows(now=10**15) == [TableRow(1, "52:54:00:00:00:01", "p1", 0, True)]


def test_static_entry_is_never_moved_by_learning():
    table = ForwardingTable(ageing_ns=AGEING)
    table.add_static(1, A, "p1")
    assert table.learn(1, A, "p2", now=100) is LearnResult.STATIC
    assert table.lookup(1, A, now=100) == "p1"
    assert counters(table) == {"len": 1, "learned": 0, "refused": 0, "evicted": 0, "moves": 0}


def test_static_entry_replaces_a_learned_one_and_frees_its_slot():
    table = ForwardingTable(ageing_ns=AGEING, limit=1)
    table.learn(1, A, "p1", now=0)
    table.add_static(1, A, "p9")
    assert table.lookup(1, A, now=0) == "p9"
    assert table.learn(1, B, "p2", now=10) is LearnResult.LEARNED
    assert counters(table) == {"len": 2, "learned": 1, "refused": 0, "evicted": 0, "moves": 0}


def test_static_entries_do_not_count_against_the_limit():
    table = ForwardingTable(ageing_ns=AGEING, limit=1)
    table.add_static(1, A, "p1")
    table.add_static(1, B, "p1")
    assert table.learn(1, C, "p2", now=0) is LearnResult.LEARNED
    assert table.learn(1, D, "p2", now=0) is LearnResult.REFUSED


def test_remove_deletes_an_entry_and_reports_whether_it_existed():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.add_static(1, B, "p1")
    assert (table.remove(1, A), table.remove(1, B), table.remove(1, A)) == (True, True, False)
    assert counters(table) == {"len": 0, "learned": 0, "refused": 0, "evicted": 0, "moves": 0}


# -- limit: refuse ------------------------------------------------------------------------------------

def test_full_table_with_refuse_policy_refuses_new_addresses_and_keeps_old_ones():
    table = ForwardingTable(ageing_ns=AGEING, limit=2, policy=TablePolicy.REFUSE)
    assert table.learn(1, A, "p1", now=0) is LearnResult.LEARNED
    assert table.learn(1, B, "p2", now=10) is LearnResult.LEARNED
    assert table.learn(1, C, "p3", now=20) is LearnResult.REFUSED
    assert table.learn(1, D, "p1", now=30) is LearnResult.REFUSED
    assert table.lookup(1, C, now=30) is None
    assert [row.mac for row in table.rows(now=30)] == ["52:54:00:00:00:01", "52:54:00:00:00:02"]
    assert counters(table) == {"len": 2, "learned": 2, "refused": 2, "evicted": 0, "moves": 0}


def test_full_table_still_refreshes_and_moves_known_addresses():
    table = ForwardingTable(ageing_ns=AGEING, limit=2)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p2", now=0)
    assert table.learn(1, A, "p1", now=10) is LearnResult.REFRESHED
    assert table.learn(1, B, "p3", now=10) is LearnResult.MOVED
    assert counters(table) == {"len": 2, "learned": 2, "refused": 0, "evicted": 0, "moves": 1}


def test_full_table_makes_room_once_old_entries_age_out():
    table = ForwardingTable(ageing_ns=AGEING, limit=2)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p2", now=1_000)
    assert table.learn(1, C, "p3", now=AGEING - 1) is LearnResult.REFUSED
    assert table.learn(1, C, "p3", now=AGEING) is LearnResult.LEARNED
    assert [(row.mac, row.port) for row in table.rows(now=AGEING)] == [
        ("52:54:00:00:00:02", "p2"), ("52:54:00:00:00:03", "p3")]
    assert counters(table) == {"len": 2, "learned": 2, "refused": 1, "evicted": 0, "moves": 0}


def test_limit_zero_refuses_everything():
    table = ForwardingTable(ageing_ns=AGEING, limit=0)
    assert table.learn(1, A, "p1", now=0) is LearnResult.REFUSED
    assert counters(table) == {"len": 0, "learned": 0, "refused": 1, "evicted": 0, "moves": 0}


# -- limit: evict -------------------------------------------------------------------------------------

def test_evict_drops_the_lru_entry_of_the_busiest_port_not_the_globally_oldest():
    table = ForwardingTable(ageing_ns=AGEING, limit=4, policy=TablePolicy.EVICT)
    table.learn(1, X, "p1", now=0)      # globally oldest, but p1 holds only one entry
    table.learn(1, A, "p2", now=10)     # LRU of p2, the port with the most entries
    table.learn(1, B, "p2", now=20)
    table.learn(1, C, "p2", now=30)
    assert table.learn(1, D, "p3", now=40) is LearnResult.EVICTED
    assert table.rows(now=40) == [
        TableRow(1, "00:16:3e:00:00:01", "p1", 40, False),
        TableRow(1, "52:54:00:00:00:02", "p2", 20, False),
        TableRow(1, "52:54:00:00:00:03", "p2", 10, False),
        TableRow(1, "52:54:00:00:00:04", "p3", 0, False),
    ]
    assert counters(table) == {"len": 4, "learned": 4, "refused": 0, "evicted": 1, "moves": 0}


def test_evict_uses_last_seen_time_so_a_refreshed_entry_survives():
    table = ForwardingTable(ageing_ns=AGEING, limit=3, policy=TablePolicy.EVICT)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p1", now=10)
    table.learn(1, C, "p2", now=20)
    table.learn(1, A, "p1", now=30)     # A is now the most recently used on p1
    assert table.learn(1, D, "p2", now=40) is LearnResult.EVICTED
    assert [row.mac for row in table.rows(now=40)] == [
        "52:54:00:00:00:01", "52:54:00:00:00:03", "52:54:00:00:00:04"]


def test_evict_prefers_ageing_out_to_evicting():
    table = ForwardingTable(ageing_ns=AGEING, limit=2, policy=TablePolicy.EVICT)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p1", now=4_000)
    assert table.learn(1, C, "p2", now=AGEING) is LearnResult.LEARNED
    assert [row.mac for row in table.rows(now=AGEING)] == ["52:54:00:00:00:02", "52:54:00:00:00:03"]
    assert table.evicted == 0


def test_evict_tie_between_ports_is_broken_by_port_name():
    table = ForwardingTable(ageing_ns=AGEING, limit=4, policy=TablePolicy.EVICT)
    table.learn(1, A, "p2", now=0)
    table.learn(1, B, "p2", now=10)
    table.learn(1, C, "p1", now=20)
    table.learn(1, D, "p1", now=30)
    assert table.learn(1, E, "p3", now=40) is LearnResult.EVICTED
    assert [(row.mac, row.port) for row in table.rows(now=40)] == [
        ("52:54:00:00:00:01", "p2"), ("52:54:00:00:00:02", "p2"), ("52:54:00:00:00:04", "p1"),
        ("52:54:00:00:00:05", "p3")]


def test_evict_ignores_static_entries_when_choosing_the_busiest_port():
    table = ForwardingTable(ageing_ns=AGEING, limit=3, policy=TablePolicy.EVICT)
    for mac in (B, C, D, E):
        table.add_static(1, mac, "p1")
    table.learn(1, X, "p1", now=0)
    table.learn(1, A, "p2", now=10)
    table.learn(1, bytes.fromhex("525400000010"), "p2", now=20)
    assert table.learn(1, bytes.fromhex("525400000011"), "p3", now=30) is LearnResult.EVICTED
    assert table.lookup(1, A, now=30) is None
    assert table.lookup(1, X, now=30) == "p1"
    assert [row.mac for row in table.rows(now=30) if row.static] == [
        "52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04", "52:54:00:00:00:05"]


def test_evict_with_limit_zero_has_nothing_to_evict_and_refuses():
    table = ForwardingTable(ageing_ns=AGEING, limit=0, policy=TablePolicy.EVICT)
    assert table.learn(1, A, "p1", now=0) is LearnResult.REFUSED
    assert counters(table) == {"len": 0, "learned": 0, "refused": 1, "evicted": 0, "moves": 0}


# -- rows, flush --------------------------------------------------------------------------------------

def test_rows_are_sorted_by_vlan_then_mac_with_ages_and_skip_aged_entries():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(20, A, "p1", now=1_000)
    table.learn(10, B, "p2", now=2_000)
    table.learn(10, A, "p3", now=3_000)
    table.learn(10, X, "p4", now=0)       # aged out at 5_000
    table.add_static(20, X, "p5")
    assert table.rows(now=5_000) == [
        TableRow(10, "52:54:00:00:00:01", "p3", 2_000, False),
        TableRow(10, "52:54:00:00:00:02", "p2", 3_000, False),
        TableRow(20, "00:16:3e:00:00:01", "p5", 0, True),
        TableRow(20, "52:54:00:00:00:01", "p1", 4_000, False),
    ]
    assert len(table) == 4


def test_flush_port_forgets_its_dynamic_entries_only():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.learn(2, B, "p1", now=0)
    table.learn(1, C, "p2", now=0)
    table.add_static(1, D, "p1")
    assert table.flush_port("p1") == 2
    assert [(row.mac, row.port) for row in table.rows(now=1)] == [
        ("52:54:00:00:00:03", "p2"), ("52:54:00:00:00:04", "p1")]
    assert counters(table) == {"len": 2, "learned": 1, "refused": 0, "evicted": 0, "moves": 0}
    assert table.flush_port("p9") == 0



def test_flush_port_keeps_the_entries_of_the_vlans_it_is_told_to_keep():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.learn(2, B, "p1", now=0)
    table.learn(3, C, "p1", now=0)
    assert table.flush_port("p1", keep_vlans=frozenset({2})) == 2
    assert table.rows(now=1) == [TableRow(2, "52:54:00:00:00:02", "p1", 1, False)]

def test_entries_on_counts_static_and_dynamic_entries_of_a_port():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p2", now=0)
    table.add_static(1, C, "p1")
    assert (table.entries_on("p1"), table.entries_on("p2"), table.entries_on("p3")) == (2, 1, 0)



# -- per-port counts (what port security limits) ------------------------------------------------------

def learned_per_port(table: ForwardingTable) -> dict:
    return {port: table.learned_on(port) for port in ("p1", "p2", "p3")}


def test_learned_on_counts_each_ports_dynamic_entries_through_moves_removals_and_flushes():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=0)
    table.learn(1, B, "p1", now=0)
    table.learn(2, A, "p2", now=0)
    table.add_static(1, C, "p1")  # static entries are not learned ones
    assert learned_per_port(table) == {"p1": 2, "p2": 1, "p3": 0}
    table.learn(1, B, "p2", now=10)  # moves to a port that has entries
    assert learned_per_port(table) == {"p1": 1, "p2": 2, "p3": 0}
    table.learn(1, A, "p3", now=10)  # moves to a port that had none
    assert learned_per_port(table) == {"p1": 0, "p2": 2, "p3": 1}
    table.remove(2, A)
    assert learned_per_port(table) == {"p1": 0, "p2": 1, "p3": 1}
    table.add_static(1, B, "p3")  # a static entry takes the learned one's place
    assert learned_per_port(table) == {"p1": 0, "p2": 0, "p3": 1}
    table.flush_port("p3")
    assert learned_per_port(table) == {"p1": 0, "p2": 0, "p3": 0}


def test_knows_only_a_live_entry_on_that_port():
    table = ForwardingTable(ageing_ns=AGEING)
    table.learn(1, A, "p1", now=1_000)
    table.add_static(1, B, "p2")
    assert [table.knows(1, A, "p1", now=1_000 + AGEING - 1), table.knows(1, A, "p1", now=1_000 + AGEING),
            table.knows(1, A, "p2", now=1_000), table.knows(2, A, "p1", now=1_000),
            table.knows(1, B, "p2", now=10**15), table.knows(1, B, "p1", now=0),
            table.knows(1, C, "p1", now=0)] == [True, False, False, False, True, False, False]


def test_evicted_counts_every_eviction():
    table = ForwardingTable(ageing_ns=AGEING, limit=1, policy=TablePolicy.EVICT)
    results = [table.learn(1, mac, "p1", now=i) for i, mac in enumerate((A, B, C))]
    assert results == [LearnResult.LEARNED, LearnResult.EVICTED, LearnResult.EVICTED]
    assert table.rows(now=2) == [TableRow(1, "52:54:00:00:00:03", "p1", 0, False)]
    assert counters(table) == {"len": 1, "learned": 1, "refused": 0, "evicted": 2, "moves": 0}


# -- a port's last entry (learn's shortcut) ---------------------------------------------------------

def test_a_ports_last_entry_is_not_trusted_once_the_table_lost_it():
    """learn() first checks the entry the port's previous frame was learned in: whatever removed that entry since
    (remove, flush, ageing, eviction, a static entry in its place), the source is learned as the table now says."""
    table = ForwardingTable(ageing_ns=AGEING, limit=2, policy="evict")
    assert table.learn(1, A, "p1", 0) is LearnResult.LEARNED
    assert table.learn(1, A, "p1", 10) is LearnResult.REFRESHED
    table.remove(1, A)
    assert table.learn(1, A, "p1", 20) is LearnResult.LEARNED
    table.flush_port("p1")
    assert table.learn(1, A, "p1", 30) is LearnResult.LEARNED
    assert table.lookup(1, A, 30 + AGEING) is None  # aged out and purged by the lookup
    assert table.learn(1, A, "p1", 40 + AGEING) is LearnResult.LEARNED
    table.add_static(1, A, "p3")
    assert table.learn(1, A, "p1", 50 + AGEING) is LearnResult.STATIC
    assert table.lookup(1, A, 60 + AGEING) == "p3"
    assert table.learn(1, B, "p2", 70 + AGEING) is LearnResult.LEARNED
    assert table.learn(1, C, "p2", 80 + AGEING) is LearnResult.LEARNED
    assert table.learn(1, D, "p4", 90 + AGEING) is LearnResult.EVICTED  # B, p2's least recently seen, went
    assert table.learn(1, B, "p2", 100 + AGEING) is LearnResult.EVICTED  # not refreshed: it is not in the table
    assert counters(table) == {"len": 3, "learned": 2, "refused": 0, "evicted": 2, "moves": 0}


def test_a_ports_last_entry_follows_moves_and_vlans():
    table = ForwardingTable(ageing_ns=AGEING)
    assert table.learn(1, A, "p1", 0) is LearnResult.LEARNED
    assert table.learn(1, A, "p2", 10) is LearnResult.MOVED
    assert table.learn(1, A, "p1", 20) is LearnResult.MOVED  # p1's last entry is A's, now on p2: moved back
    assert table.learn(1, A, "p1", 30) is LearnResult.REFRESHED
    assert table.learn(10, A, "p1", 40) is LearnResult.LEARNED  # the same MAC in another VLAN is another entry
    assert table.learn(1, A, "p1", 50) is LearnResult.REFRESHED
    assert table.lookup(10, A, 39 + AGEING) == "p1" and table.lookup(1, A, 49 + AGEING) == "p1"
    assert table.moves == 2 and table.rows(50) == [TableRow(1, "52:54:00:00:00:01", "p1", 0, False),
                                                 TableRow(10, "52:54:00:00:00:01", "p1", 10, False)]
