"""Frame helpers on raw bytes, checked against frames built with Scapy (every field explicit)."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

from vswitch.core.errors import VSwitchError
from vswitch.core.frame import (
    MIN_FRAME_LEN, TPID_8021AD, TPID_8021Q, VlanTag, check_frame, destination, ethertype, pad, payload_len,
    pop_tag, push_tag, source, tag_count, tags,
)

SRC = "52:54:00:00:00:01"
DST = "52:54:00:00:00:02"
SRC_BYTES = bytes.fromhex("525400000001")
DST_BYTES = bytes.fromhex("525400000002")
PAYLOAD = bytes(range(46))


def untagged(payload: bytes = PAYLOAD, ethertype_: int = 0x0800) -> bytes:
    return bytes(Ether(dst=DST, src=SRC, type=ethertype_) / Raw(load=payload))


def single_tagged(payload: bytes = PAYLOAD) -> bytes:
    return bytes(Ether(dst=DST, src=SRC, type=0x8100) / Dot1Q(prio=5, dei=1, vlan=100, type=0x0806)
                 / Raw(load=payload))


def double_tagged(payload: bytes = PAYLOAD) -> bytes:
    return bytes(Ether(dst=DST, src=SRC, type=0x88A8) / Dot1AD(prio=3, dei=0, vlan=10, type=0x8100)
                 / Dot1Q(prio=7, dei=1, vlan=4094, type=0x86DD) / Raw(load=payload))


# -- addresses and ethertype --------------------------------------------------------------------------

def test_destination_and_source_are_the_first_two_six_byte_fields():
    frame = untagged()
    assert destination(frame) == DST_BYTES
    assert source(frame) == SRC_BYTES


def test_addresses_are_unaffected_by_tags():
    frame = double_tagged()
    assert (destination(frame), source(frame)) == (DST_BYTES, SRC_BYTES)


def test_ethertype_of_untagged_frame():
    assert ethertype(untagged()) == 0x0800


def test_ethertype_skips_a_single_tag():
    assert ethertype(single_tagged()) == 0x0806


def test_ethertype_skips_both_tags_of_a_double_tagged_frame():
    assert ethertype(double_tagged()) == 0x86DD


def test_ethertype_of_an_802_3_frame_is_its_length_field():
    assert ethertype(untagged(ethertype_=len(PAYLOAD))) == 46


# -- tags -----------------------------------------------------------------------------------------------

def test_untagged_frame_has_no_tags():
    frame = untagged()
    assert tags(frame) == []
    assert tag_count(frame) == 0


def test_single_8021q_tag_fields():
    frame = single_tagged()
    assert tags(frame) == [VlanTag(tpid=TPID_8021Q, pcp=5, dei=1, vid=100)]
    assert tag_count(frame) == 1


def test_double_tag_is_listed_outermost_first():
    frame = double_tagged()
    assert tags(frame) == [VlanTag(tpid=TPID_8021AD, pcp=3, dei=0, vid=10),
                           VlanTag(tpid=TPID_8021Q, pcp=7, dei=1, vid=4094)]
    assert tag_count(frame) == 2


def test_legacy_qinq_tpid_0x9100_counts_as_a_tag():
    frame = bytes(Ether(dst=DST, src=SRC, type=0x9100) / Dot1Q(prio=0, dei=0, vlan=7, type=0x0800)
                  / Raw(load=PAYLOAD))
    assert tags(frame) == [VlanTag(tpid=0x9100, pcp=0, dei=0, vid=7)]
    assert ethertype(frame) == 0x0800


def test_tag_with_extreme_field_values():
    frame = bytes(Ether(dst=DST, src=SRC, type=0x8100) / Dot1Q(prio=7, dei=1, vlan=4095, type=0x0800)
                  / Raw(load=PAYLOAD))
    assert tags(frame) == [VlanTag(tpid=0x8100, pcp=7, dei=1, vid=4095)]


def test_truncated_tag_is_not_counted():
    frame = untagged()[:12] + b"\x81\x00\xa0"  # a TPID and half a TCI: no room for an inner ethertype
    assert tags(frame) == []
    assert tag_count(frame) == 0


def test_push_tag_writes_tpid_and_tci_after_the_macs():
    assert push_tag(untagged(), 0x8100, 5, 100, dei=1)[12:16] == bytes.fromhex("8100b064")
    assert push_tag(untagged(), 0x88A8, 0, 1)[12:16] == bytes.fromhex("88a80001")


# -- payload length -----------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [untagged, single_tagged, double_tagged])
def test_payload_len_excludes_header_and_tags(build):
    assert payload_len(build(bytes(1500))) == 1500
    assert payload_len(build(PAYLOAD)) == 46


# -- push and pop -------------------------------------------------------------------------------------

def test_push_tag_on_untagged_frame_matches_scapy():
    tagged = push_tag(untagged(ethertype_=0x0806), TPID_8021Q, 5, 100, dei=1)
    assert tagged == single_tagged()


def test_push_8021ad_on_single_tagged_frame_makes_the_double_tagged_frame():
    inner = bytes(Ether(dst=DST, src=SRC, type=0x8100) / Dot1Q(prio=7, dei=1, vlan=4094, type=0x86DD)
                  / Raw(load=PAYLOAD))
    assert push_tag(inner, TPID_8021AD, 3, 10) == double_tagged()


def test_pop_tag_removes_only_the_outermost_tag():
    assert pop_tag(double_tagged()) == bytes(
        Ether(dst=DST, src=SRC, type=0x8100) / Dot1Q(prio=7, dei=1, vlan=4094, type=0x86DD) / Raw(load=PAYLOAD))


def test_pop_tag_of_single_tagged_frame_gives_the_untagged_frame():
    assert pop_tag(single_tagged()) == untagged(ethertype_=0x0806)


@pytest.mark.parametrize("build", [untagged, single_tagged, double_tagged])
def test_push_then_pop_round_trips(build):
    frame = build()
    pushed = push_tag(frame, TPID_8021Q, 2, 300)
    assert tags(pushed)[0] == VlanTag(tpid=TPID_8021Q, pcp=2, dei=0, vid=300)
    assert tags(pushed)[1:] == tags(frame)
    assert len(pushed) == len(frame) + 4
    assert pop_tag(pushed) == frame


# -- padding ------------------------------------------------------------------------------------------

def test_short_frame_is_zero_padded_to_60_bytes():
    frame = untagged(b"hi")
    assert len(frame) == 16
    assert pad(frame) == frame + bytes(44)
    assert len(pad(frame)) == MIN_FRAME_LEN == 60


def test_bare_header_is_padded_to_60_bytes():
    header = untagged(b"")
    assert pad(header) == header + bytes(46)


def test_60_byte_frame_is_not_padded():
    frame = untagged(PAYLOAD)
    assert len(frame) == 60
    assert pad(frame) == frame


@pytest.mark.parametrize("size", [47, 100, 1500])
def test_longer_frames_are_not_padded(size):
    frame = untagged(bytes(size))
    assert pad(frame) == frame


def test_short_tagged_frame_is_padded_behind_its_payload():
    frame = single_tagged(b"abc")
    assert pad(frame) == frame + bytes(60 - 21)
    assert tags(pad(frame)) == tags(frame)


# -- check_frame --------------------------------------------------------------------------------------

def test_check_frame_returns_bytes_unchanged():
    frame = untagged()
    assert check_frame(frame) is frame


def test_check_frame_converts_bytearray():
    frame = untagged()
    result = check_frame(bytearray(frame))
    assert (type(result), result) == (bytes, frame)


def test_check_frame_converts_memoryview():
    frame = untagged()
    result = check_frame(memoryview(frame))
    assert (type(result), result) == (bytes, frame)


@pytest.mark.parametrize("value, type_name", [("ff" * 30, "str"), (42, "int"), (None, "NoneType")])
def test_check_frame_rejects_non_bytes_with_vswitch_error(value, type_name):
    with pytest.raises(VSwitchError) as caught:
        check_frame(value)
    assert str(caught.value) == (f"a frame must be bytes or a Scapy packet, got {type_name}: build it with Scapy "
                                 "(Ether(src=..., dst=...)/...) or pass its bytes")


def test_check_frame_converts_a_scapy_packet_to_its_bytes():
    packet = Ether(dst=DST, src=SRC, type=0x0800) / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1, dport=2)
    result = check_frame(packet)
    assert (type(result), result) == (bytes, bytes(packet))


def test_check_frame_takes_802_3_and_raw_packets():
    dot3 = Ether(bytes(Ether(dst=DST, src=SRC, type=46)) + bytes(46))  # a length, not a type: Scapy's Dot3
    assert type(dot3).__name__ == "Dot3"
    assert check_frame(dot3) == bytes(dot3)
    assert check_frame(Raw(untagged())) == untagged()


def test_check_frame_refuses_a_scapy_packet_without_its_ethernet_header():
    with pytest.raises(VSwitchError) as caught:
        check_frame(IP(src="192.0.2.1", dst="192.0.2.2"))
    assert str(caught.value) == ("a frame starts with its Ethernet header, but this Scapy packet starts with IP: put "
                                 "an Ether(src=..., dst=...) layer first, e.g. Ether(...)/IP(...)")


def test_check_frame_reports_a_packet_scapy_cannot_build():
    with pytest.raises(VSwitchError, match="^Scapy cannot build this Ether packet's bytes: "):
        check_frame(Ether(dst=DST, src=SRC, type=0x0800) / IP(src="192.0.2.1", dst="192.0.2.2", ttl=300))

