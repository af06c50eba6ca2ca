"""802.1Q on bytes: the Linux bridge's ingress classification and egress tagging (net/bridge/br_vlan.c)."""

import pytest

from conftest import BROADCAST, udp_frame
from vswitch import DropReason, TopologyError
from vswitch.core.frame import TPID_8021AD, TPID_8021Q, VlanTag, pop_tag, push_tag, tags
from vswitch.l2.vlan import PortVlans, check_vid, classify, outer_tag, protocol_tpid, push_tags

A = "02:00:00:00:00:0a"
FRAME = udp_frame(A, BROADCAST)
TRUNK = PortVlans(None, (10, 20))
ACCESS_10 = PortVlans.access(10)


def tagged(vid, pcp=0, tpid=TPID_8021Q, frame=FRAME):
    return push_tag(frame, tpid, pcp, vid)


def test_an_untagged_frame_gets_the_ports_pvid():
    result = classify(FRAME, TPID_8021Q, ACCESS_10)
    assert (result.vid, result.pcp, result.bare, result.tagged) == (10, 0, FRAME, None)


def test_an_untagged_frame_on_a_port_without_pvid_is_dropped():
    assert classify(FRAME, TPID_8021Q, TRUNK) is DropReason.NO_PVID


def test_a_tagged_frame_keeps_its_vlan_and_loses_the_tag():
    result = classify(tagged(20, pcp=5), TPID_8021Q, TRUNK)
    assert (result.vid, result.pcp, result.bare) == (20, 5, FRAME)


def test_a_tagged_frame_of_a_vlan_the_port_does_not_carry_is_dropped():
    assert classify(tagged(30), TPID_8021Q, TRUNK) is DropReason.VLAN_NOT_ALLOWED
    assert classify(tagged(20), TPID_8021Q, ACCESS_10) is DropReason.VLAN_NOT_ALLOWED


def test_an_access_port_accepts_a_frame_tagged_with_its_own_vlan():
    """What makes double tagging work on a Linux bridge: the access VLAN's tag is not refused."""
    result = classify(tagged(10, frame=tagged(20)), TPID_8021Q, ACCESS_10)
    assert result.vid == 10 and outer_tag(result.bare) == (TPID_8021Q, 20)


def test_a_priority_tagged_frame_gets_the_pvid_and_keeps_its_priority():
    result = classify(tagged(0, pcp=6), TPID_8021Q, ACCESS_10)
    assert (result.vid, result.pcp, result.bare) == (10, 6, FRAME)
    assert result.egress(PortVlans(None, (10,))) == tagged(10, pcp=6)


def test_a_tag_of_the_other_protocol_is_payload_and_the_frame_gets_the_pvid():
    s_tagged = tagged(100, tpid=TPID_8021AD)
    result = classify(s_tagged, TPID_8021Q, ACCESS_10)
    assert (result.vid, result.bare) == (10, s_tagged)
    assert classify(s_tagged, TPID_8021AD, PortVlans(None, (100,))).bare == FRAME


def test_egress_untagged_strips_and_pads_to_60_bytes():
    short = push_tag(bytes.fromhex("ffffffffffff02000000000a88b5"), TPID_8021Q, 0, 10)
    result = classify(short, TPID_8021Q, TRUNK)
    out = result.egress(PortVlans.access(10))
    assert len(out) == 60 and out[:14] == bytes.fromhex("ffffffffffff02000000000a88b5")


def test_egress_tagged_sends_the_arriving_bytes_when_the_tag_is_unchanged():
    arriving = tagged(10, pcp=3)
    result = classify(arriving, TPID_8021Q, TRUNK)
    assert result.egress(PortVlans(1, (10,), (1,))) is arriving


def test_egress_tagged_adds_the_vlan_tag_to_an_untagged_arrival():
    result = classify(FRAME, TPID_8021Q, ACCESS_10)
    assert tags(result.egress(TRUNK)) == [VlanTag(TPID_8021Q, 0, 0, 10)]


def test_outer_tag_reads_the_tag_push_tag_wrote_and_pop_tag_removes_it():
    assert outer_tag(push_tag(FRAME, TPID_8021AD, 3, 100)) == (TPID_8021AD, 3 << 13 | 100)
    assert pop_tag(push_tag(FRAME, TPID_8021Q, 0, 5)) == FRAME
    assert outer_tag(FRAME) is None


def test_port_vlans_carry_the_pvid_and_describe_themselves():
    native = PortVlans(1, (10, 20), (1,))
    assert native.vlans == {1, 10, 20} and native.untagged == {1}
    assert native.describe() == "pvid 1; 1 untagged; 10, 20 tagged"
    assert TRUNK.describe() == "no pvid; 10, 20 tagged"


@pytest.mark.parametrize("bad", [0, 4095, -1, True])
def test_a_vlan_id_is_1_to_4094(bad):
    with pytest.raises(TopologyError, match="VLAN ID is 1 to 4094"):
        PortVlans(None, (bad,))


def test_untagged_vlans_must_be_carried():
    with pytest.raises(TopologyError, match="not carried"):
        PortVlans(None, (10,), (20,))


# -- port VLAN settings, as topology files declare them -----------------------------------------------

def test_vlan_ids_run_from_1_to_4094_and_errors_name_the_setting():
    assert (PortVlans(4094, (1,)).vlans, PortVlans(1).pvid) == (frozenset({1, 4094}), 1)
    for make, message in ((lambda: PortVlans(None, (4095,)), "VLAN 4095: a VLAN ID is 1 to 4094"),
                          (lambda: PortVlans(0), "pvid 0: a VLAN ID is 1 to 4094"),
                          (lambda: check_vid(True, "vid"), "vid True: a VLAN ID is 1 to 4094"),
                          (lambda: protocol_tpid("802.1x"), "unknown VLAN protocol '802.1x': use 802.1Q or 802.1ad")):
        with pytest.raises(TopologyError) as caught:
            make()
        assert str(caught.value) == message


@pytest.mark.parametrize("pvid,members,expected,described", [
    (10, [], PortVlans(10, (10,), (10,)), "pvid 10; 10 untagged"),  # an access port
    (10, [(20, False), (30, True)], PortVlans(10, (10, 20, 30), (10, 30)), "pvid 10; 10, 30 untagged; 20 tagged"),
    (10, [(10, False), (20, False)], PortVlans(10, (10, 20)), "pvid 10; 10, 20 tagged"),  # a listed pvid: as listed
    (None, [(20, True), (30, False), (40, False)], PortVlans(None, (20, 30, 40), (20,)),
     "no pvid; 20 untagged; 30, 40 tagged"),
])
def test_declared_vlans_make_an_unlisted_pvid_the_untagged_vlan(pvid, members, expected, described):
    declared = PortVlans.declared(pvid, iter(members))
    assert (declared, declared.describe()) == (expected, described)
    assert declared != PortVlans(pvid, (99,)) and declared != "pvid 10"


def test_a_port_carries_exactly_its_vlans():
    assert [TRUNK.carries(vid) for vid in (10, 20, 30)] == [True, True, False]


def test_push_tags_puts_the_first_tag_outermost():
    assert push_tags(FRAME, [(TPID_8021AD, 0, 100), (TPID_8021Q, 3, 10)]) == (
        FRAME[:12] + bytes.fromhex("88a80064" "8100600a") + FRAME[12:])
    assert push_tags(FRAME, ()) == FRAME


def test_a_long_frame_leaves_an_access_port_untagged_without_padding():
    for size in (61, 72, 200):  # past the 60-byte minimum, by a little and by a lot
        long_frame = udp_frame(A, BROADCAST, payload=bytes(size - 42))
        classified = classify(tagged(10, frame=long_frame), TPID_8021Q, TRUNK)
        assert classified.egress(ACCESS_10) == long_frame


def test_a_frame_too_short_for_a_tag_has_none():
    assert outer_tag(bytes(12) + bytes.fromhex("8100") + bytes(3)) is None
