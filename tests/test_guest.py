"""The guest stack alone (sans-IO): bytes in, (delay, frame) pairs out, explicit ``now``; Scapy checks the bytes."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from vswitch.guests.arp import ArpCache
from vswitch.guests.stack import GuestStack, ping_payload
from vswitch.guests.inet import checksum, interface_value, udp_checksum, update_checksum
from vswitch.guests.sessions import ArpingSession, PingSession, UdpSession
from vswitch.core.mac import MACAddress
from vswitch.guests.traffic import (ARP_REPLY, ARP_REQUEST, ZERO_MAC, arp_frame, icmp_echo_frame, icmp_error_header,
                                    rarp_announce, stack_templates, udp_frame)

A_MAC, B_MAC, C_MAC = "52:54:00:00:00:01", "52:54:00:00:00:02", "02:00:00:00:00:03"
SECOND = 10**9


def stacks(**options):
    return (GuestStack("a", A_MAC, "192.0.2.1/24", **options), GuestStack("b", B_MAC, "192.0.2.2/24", **options))


def frames(out):
    assert all(delay == 0 for delay, _ in out)
    return [frame for _, frame in out]


def assert_checksums_correct(frame: bytes) -> None:
    """Scapy recomputes every checksum it can; the frame must not change."""
    packet = Ether(frame)
    copy = packet.copy()
    for layer in (IP, ICMP, UDP):
        if copy.haslayer(layer):
            del copy[layer].chksum
    assert bytes(Ether(bytes(copy))) == frame, packet.summary()


def exchange(first, second, out, now):
    """Deliver ``out`` from ``first`` to ``second`` and back until quiet; return every frame, in order."""
    wire, sides = [], (first, second)
    turn = 1
    while out:
        wire += frames(out)
        replies = []
        for frame in frames(out):
            replies += sides[turn].receive(frame, now)
        out, turn = replies, 1 - turn
    return wire


# -- ARP ----------------------------------------------------------------------------------------------------
def test_arp_request_for_our_address_is_answered_by_unicast_and_teaches_the_asker():
    a, b = stacks()
    request = arp_frame(op=1, src=A_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=A_MAC, sender_ip="192.0.2.1",
                        target_ip="192.0.2.2")
    [reply] = frames(b.receive(request, now=5))
    assert reply == arp_frame(op=2, src=B_MAC, dst=A_MAC, sender_mac=B_MAC, sender_ip="192.0.2.2",
                              target_mac=A_MAC, target_ip="192.0.2.1")
    assert b.arp.lookup(IPv4Address("192.0.2.1").packed, now=5) == bytes.fromhex("525400000001")


def test_arp_for_another_address_is_not_answered_and_creates_no_entry():
    _, b = stacks()
    request = arp_frame(op=1, src=C_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=C_MAC, sender_ip="192.0.2.3",
                        target_ip="192.0.2.9")
    assert b.receive(request, now=0) == []
    assert len(b.arp) == 0


def test_gratuitous_arp_updates_an_existing_entry_only():
    _, b = stacks()
    old = bytes.fromhex("020000000099")
    b.arp.confirm(IPv4Address("192.0.2.3").packed, old, now=0)
    garp = arp_frame(op=1, src=C_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=C_MAC, sender_ip="192.0.2.3",
                     target_ip="192.0.2.3")
    other = arp_frame(op=1, src="02:00:00:00:00:04", dst="ff:ff:ff:ff:ff:ff", sender_mac="02:00:00:00:00:04",
                      sender_ip="192.0.2.4", target_ip="192.0.2.4")
    assert b.receive(garp, now=10) == [] and b.receive(other, now=10) == []
    assert [(r.ip, r.mac) for r in b.arp.rows(now=10)] == [("192.0.2.3", C_MAC)]


def test_link_up_sends_a_gratuitous_arp_unless_arp_notify_is_off():
    a, _ = stacks()
    [garp] = frames(a.link_up(now=0))
    packet = Ether(garp)
    assert (packet.dst, packet[ARP].op, packet[ARP].psrc, packet[ARP].pdst, packet[ARP].hwdst) == \
        ("ff:ff:ff:ff:ff:ff", 1, "192.0.2.1", "192.0.2.1", "00:00:00:00:00:00")
    quiet = GuestStack("q", A_MAC, "192.0.2.1/24", arp_notify=False)
    assert quiet.link_up(now=0) == []
    assert frames(quiet.announce(now=0)) == [garp]  # Xen netfront announces whatever arp_notify says


def test_rarp_and_other_ethertypes_are_ignored_and_counted():
    a, _ = stacks()
    assert a.receive(rarp_announce(B_MAC), now=0) == []
    assert a.counters["ignored"] == 1


# -- resolution, queue, retries ---------------------------------------------------------------------------------
def test_ping_to_unresolved_address_queues_the_echo_behind_an_arp_request():
    a, b = stacks()
    session = PingSession("p", "a", "b", IPv4Address("192.0.2.2"), count=1, ident=0x1000)
    [request] = frames(a.ping_send(session, 1, now=0))
    assert Ether(request)[ARP].pdst == "192.0.2.2"
    wire = exchange(a, b, [(0, request)], now=100)
    assert [Ether(f).summary() for f in wire] == [
        "Ether / ARP who has 192.0.2.2 says 192.0.2.1",
        "Ether / ARP is at 52:54:00:00:00:02 says 192.0.2.2",
        "Ether / IP / ICMP 192.0.2.1 > 192.0.2.2 echo-request 0 / Raw",
        "Ether / IP / ICMP 192.0.2.2 > 192.0.2.1 echo-reply 0 / Raw"]
    for frame in wire:
        assert_checksums_correct(frame)
    assert (session.transmitted, session.received, session.rtts) == (1, 1, {1: 100})


def test_unanswered_resolution_retries_every_second_then_fails_and_drops_the_queue():
    a, _ = stacks()
    session = PingSession("p", "a", "x", IPv4Address("192.0.2.9"), count=2, ident=7)
    assert len(a.ping_send(session, 1, now=0)) == 1
    assert a.ping_send(session, 2, now=SECOND // 2) == []  # queued behind the same resolution
    assert a.next_deadline() == SECOND
    assert [Ether(f)[ARP].pdst for f in frames(a.expire(SECOND))] == ["192.0.2.9"]
    assert [Ether(f)[ARP].pdst for f in frames(a.expire(2 * SECOND))] == ["192.0.2.9"]
    assert a.expire(3 * SECOND) == []
    assert a.next_deadline() is None
    assert (a.counters["arp_requests_sent"], a.counters["dropped_unresolved"], session.errors) == (3, 2, 2)
    assert session.summary_text() == "2 packets transmitted, 0 received, +2 errors, 100% packet loss"


def test_arp_queue_drops_the_oldest_packet_when_full():
    cache = ArpCache(queue_limit=2)
    ip = bytes(4)
    assert cache.resolve(ip, "first", now=0) is True
    assert cache.resolve(ip, "second", now=0) is False
    cache.resolve(ip, "third", now=0)
    assert cache.queue_drops == 1
    assert cache.confirm(ip, b"\x02" * 6, now=1) == ["second", "third"]


def test_arp_entries_expire_after_the_timeout():
    cache = ArpCache(timeout_ns=5 * SECOND)
    cache.confirm(b"\x01\x02\x03\x04", b"\x02" * 6, now=SECOND)
    assert cache.lookup(b"\x01\x02\x03\x04", now=6 * SECOND - 1) == b"\x02" * 6
    assert cache.rows(now=6 * SECOND) == []
    assert cache.lookup(b"\x01\x02\x03\x04", now=6 * SECOND) is None


def test_off_link_destinations_are_not_sent():
    a, _ = stacks()
    session = PingSession("p", "a", "x", IPv4Address("198.51.100.1"), count=1, ident=7)
    assert a.ping_send(session, 1, now=0) == []
    assert a.counters["no_route"] == 1


# -- ICMP -------------------------------------------------------------------------------------------------------
def echo_request(dst_mac=B_MAC, dst_ip="192.0.2.2", payload=b"abcdefgh", seq=9):
    return icmp_echo_frame(A_MAC, dst_mac, src_ip="192.0.2.1", dst_ip=dst_ip, ident=0x1234, seq=seq,
                           payload=payload)


@pytest.mark.parametrize("size", [0, 1, 7, 56, 1472])
def test_echo_reply_keeps_identifier_sequence_and_data_with_correct_checksums(size):
    a, b = stacks()
    b.arp.confirm(IPv4Address("192.0.2.1").packed, bytes.fromhex("525400000001"), now=0)
    request = echo_request(payload=ping_payload(size)) + bytes(4)  # trailing padding is not part of the datagram
    [reply] = frames(b.receive(request, now=0))
    assert_checksums_correct(reply)
    packet = Ether(reply)
    assert (packet.src, packet.dst, packet[IP].src, packet[IP].dst, packet[ICMP].type, packet[ICMP].id,
            packet[ICMP].seq, bytes(packet[ICMP].payload)) == \
        (B_MAC, A_MAC, "192.0.2.2", "192.0.2.1", 0, 0x1234, 9, ping_payload(size))


def test_broadcast_pings_and_bad_checksums_are_ignored():
    _, b = stacks()
    assert b.receive(echo_request(dst_mac="ff:ff:ff:ff:ff:ff", dst_ip="192.0.2.255"), now=0) == []
    damaged = bytearray(echo_request())
    damaged[-1] ^= 0xFF
    assert b.receive(bytes(damaged), now=0) == []
    damaged = bytearray(echo_request())
    damaged[22] = 3  # the TTL: the IPv4 header checksum no longer matches
    assert b.receive(bytes(damaged), now=0) == []
    assert (b.counters["bad_checksum"], b.counters["bad_ip_header"], b.counters["echo_replies_sent"]) == (1, 1, 0)


def test_late_and_duplicate_echo_replies_do_not_count():
    session = PingSession("p", "a", "b", IPv4Address("192.0.2.2"), count=3, timeout_ns=SECOND)
    session.record_sent(1, now=0)
    session.record_sent(2, now=SECOND)
    assert session.record_answer(1, now=10) is True
    assert session.record_answer(1, now=20) is False
    assert session.record_answer(2, now=3 * SECOND) is False
    assert session.record_answer(3, now=3 * SECOND) is False  # never sent
    assert (session.received, session.duplicates, session.late) == (1, 1, 1)


# -- UDP --------------------------------------------------------------------------------------------------------
def udp_to_b(dport, payload=b"\x00\x00\x00\x05hello", sport=40000):
    return udp_frame(A_MAC, B_MAC, src_ip="192.0.2.1", dst_ip="192.0.2.2", sport=sport, dport=dport,
                     payload=payload)


def test_udp_echo_returns_the_datagram_and_discard_keeps_quiet():
    _, b = stacks()
    b.arp.confirm(IPv4Address("192.0.2.1").packed, bytes.fromhex("525400000001"), now=0)
    [echo] = frames(b.receive(udp_to_b(7), now=0))
    assert_checksums_correct(echo)
    packet = Ether(echo)
    assert (packet[UDP].sport, packet[UDP].dport, bytes(packet[UDP].payload)) == (7, 40000, b"\x00\x00\x00\x05hello")
    assert b.receive(udp_to_b(9), now=0) == []
    assert dict(b.udp_received) == {("192.0.2.1", 7): 1, ("192.0.2.1", 9): 1}
    assert (b.counters["udp_echoed"], b.counters["udp_discarded"]) == (1, 1)


def test_udp_to_a_closed_port_draws_icmp_port_unreachable_quoting_the_datagram():
    _, b = stacks()
    b.arp.confirm(IPv4Address("192.0.2.1").packed, bytes.fromhex("525400000001"), now=0)
    datagram = udp_to_b(33434)
    [error] = frames(b.receive(datagram, now=0))
    assert_checksums_correct(error)
    packet = Ether(error)
    assert (packet[ICMP].type, packet[ICMP].code, packet[IP].dst, packet[IP].tos) == (3, 3, "192.0.2.1", 0xC0)
    assert bytes(packet[ICMP].payload) == datagram[14:]


def test_udp_sender_counts_echoes_by_sequence_number():
    a, b = stacks()
    session = UdpSession("u", "a", "b", IPv4Address("192.0.2.2"), count=2, sport=40000, dport=7, size=32)
    template = a.udp_template(session)
    out = a.udp_send(session, 0, now=0, template=template)
    wire = exchange(a, b, out, now=50)
    assert [Ether(f).summary() for f in wire][2:] == ["Ether / IP / UDP 192.0.2.1:40000 > 192.0.2.2:echo / Raw",
                                                      "Ether / IP / UDP 192.0.2.2:echo > 192.0.2.1:40000 / Raw"]
    wire = exchange(a, b, a.udp_send(session, 1, now=60, template=template), now=70)
    for frame in wire:
        assert_checksums_correct(frame)
    assert session.rtts == {0: 50, 1: 10}


def test_arping_broadcasts_until_answered_then_asks_by_unicast():
    a, b = stacks()
    session = ArpingSession("r", "a", "b", IPv4Address("192.0.2.2"), count=2)
    [first] = frames(a.arping_send(session, 1, now=0))
    assert (Ether(first).dst, Ether(first)[ARP].hwdst) == ("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff")  # as iputils
    for reply in frames(b.receive(first, now=1)):
        a.receive(reply, now=2)
    [second] = frames(a.arping_send(session, 2, now=10))
    assert (Ether(second).dst, Ether(second)[ARP].hwdst) == (B_MAC, B_MAC)
    for reply in frames(b.receive(second, now=11)):
        a.receive(reply, now=13)
    assert session.rtts == {1: 2, 2: 3}
    assert len(a.arp) == 0  # arping's replies do not fill the kernel's cache


# -- checksums and values ----------------------------------------------------------------------------------------
def test_internet_checksum_matches_rfc1071_examples():
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071 section 3
    assert checksum(b"") == 0xFFFF and checksum(b"\xff\xff") == 0
    assert checksum(b"\x01") == checksum(b"\x01\x00")


def test_incremental_update_equals_recomputation():
    data = bytearray(bytes(range(40)))
    before = checksum(data)
    data[10:14] = b"\xde\xad\xbe\xef"
    assert update_checksum(before, bytes(range(10, 14)), b"\xde\xad\xbe\xef") == checksum(data)


def zero_checksum_port(src_ip: str, dst_ip: str, dport: int, payload: bytes) -> int:
    """The source port that makes a datagram's UDP checksum come out 0: it adds exactly the complement of the
    checksum computed with source port 0, so the one's-complement sum becomes 0xFFFF."""
    udp = udp_frame(A_MAC, B_MAC, src_ip=src_ip, dst_ip=dst_ip, sport=0, dport=dport, payload=payload)[34:]
    return udp_checksum(IPv4Address(src_ip).packed, IPv4Address(dst_ip).packed, udp[:6] + b"\0\0" + udp[8:])


def test_a_received_datagram_whose_checksum_comes_out_0_carries_ffff_and_is_accepted():
    """RFC 768: a computed 0 is sent as 0xFFFF, since 0 in the field means "no checksum"."""
    sport = zero_checksum_port("192.0.2.1", "192.0.2.2", 9, b"data")
    datagram = udp_frame(A_MAC, B_MAC, src_ip="192.0.2.1", dst_ip="192.0.2.2", sport=sport, dport=9, payload=b"data")
    assert datagram[40:42] == b"\xff\xff"  # as Scapy (and Linux) send it
    udp = datagram[34:40] + b"\0\0" + datagram[42:]
    assert udp_checksum(IPv4Address("192.0.2.1").packed, IPv4Address("192.0.2.2").packed, udp) == 0xFFFF
    _, b = stacks()
    assert b.receive(datagram, now=0) == []
    assert (b.counters["bad_checksum"], b.counters["udp_discarded"]) == (0, 1)


def test_a_sent_datagram_whose_checksum_comes_out_0_carries_ffff():
    a, b = stacks()
    session = UdpSession("u", "a", "b", IPv4Address("192.0.2.2"), count=1, sport=40000, dport=7, size=32)
    template = a.udp_template(session)
    # the payload starts with the sequence number (0 in the template): adding the template's checksum to the
    # sum makes it 0xFFFF, so the incremental update computes 0
    seq = int.from_bytes(template[40:42], "big")
    wire = exchange(a, b, a.udp_send(session, seq, now=0, template=template), now=50)
    request, echo = wire[2:]
    assert (request[40:42], request[42:46]) == (b"\xff\xff", seq.to_bytes(4, "big"))
    for frame in (request, echo):
        assert_checksums_correct(frame)
    assert session.rtts == {seq: 50}


@pytest.mark.parametrize("text, message", [
    ("192.0.2.10", "has no prefix length"), ("192.0.2.0/24", "network address"),
    ("192.0.2.255/24", "broadcast address"), ("224.0.0.1/4", "cannot be a host's address"),
    ("300.1.1.1/24", "invalid IPv4 interface"), (42, "expected an IPv4 address with its prefix"),
])
def test_bad_addresses_are_refused_with_a_hint(text, message):
    with pytest.raises(ValueError, match=message):
        interface_value(text)


def test_point_to_point_prefixes_accept_every_address():
    assert str(interface_value("192.0.2.0/31").ip) == "192.0.2.0"


# -- whole frames and every counter -------------------------------------------------------------------------------
A_IP, B_IP = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")


def resolved_stacks(**options):
    """a and b, each with the other's MAC in its ARP cache."""
    a, b = stacks(**options)
    a.arp.confirm(B_IP.packed, bytes.fromhex("525400000002"), now=0)
    b.arp.confirm(A_IP.packed, bytes.fromhex("525400000001"), now=0)
    return a, b


def test_every_gratuitous_arp_is_the_linux_frame_and_is_counted():
    a, _ = stacks()
    sent = frames(a.link_up(now=0)) + frames(a.announce(now=1)) + frames(a.announce(now=2))
    assert sent == [arp_frame(op=1, src=A_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=A_MAC, sender_ip="192.0.2.1",
                              target_ip="192.0.2.1")] * 3
    assert dict(a.counters) == {"gratuitous_arp_sent": 3}


def test_every_arping_request_is_counted():
    a, _ = stacks()
    session = ArpingSession("r", "a", "b", B_IP, count=2)
    for seq in (1, 2):
        a.arping_send(session, seq, now=seq)
    assert dict(a.counters) == {"arp_requests_sent": 2}


def test_a_udp_template_is_the_sessions_datagram_with_the_stacks_ttl():
    a = GuestStack("a", A_MAC, "192.0.2.1/24", ttl=32)
    session = UdpSession("u", "a", "b", B_IP, count=1, sport=40000, dport=9, size=6)
    assert a.udp_template(session) == udp_frame(A_MAC, "00:00:00:00:00:00", src_ip="192.0.2.1", dst_ip="192.0.2.2",
                                                sport=40000, dport=9, payload=bytes(6), ttl=32)


@pytest.mark.parametrize("size, payload", [(3, bytes(3)), (4, bytes.fromhex("01020304")),
                                           (6, bytes.fromhex("010203040000"))])
def test_udp_datagrams_carry_the_sequence_number_when_there_is_room(size, payload):
    a, _ = resolved_stacks()
    session = UdpSession("u", "a", "b", B_IP, count=3, sport=40000, dport=9, size=size)
    template = a.udp_template(session)
    sent = [frame for seq in (0x01020304, 0x01020305, 0x01020306)
            for frame in frames(a.udp_send(session, seq, now=0, template=template))]
    for frame in sent:
        assert_checksums_correct(frame)
    assert bytes(Ether(sent[0])[UDP].payload) == payload
    assert (session.transmitted, dict(a.counters)) == (3, {"udp_sent": 3})


def test_a_udp_checksum_that_comes_out_zero_is_sent_as_ffff():
    a, _ = resolved_stacks()
    session = UdpSession("u", "a", "b", B_IP, count=1, sport=40000, dport=9, size=4)
    template = a.udp_template(session)
    old = int.from_bytes(template[40:42], "big")
    seq = next(s for s in range(1 << 20) if update_checksum(old, bytes(4), s.to_bytes(4, "big")) == 0)
    [frame] = frames(a.udp_send(session, seq, now=0, template=template))
    assert frame[40:42] == b"\xff\xff"
    assert_checksums_correct(frame)


def test_a_udp_datagram_that_cannot_be_resolved_is_an_error_of_its_session():
    a, _ = stacks()
    session = UdpSession("u", "a", "x", IPv4Address("192.0.2.9"), count=1, sport=40000, dport=9, size=8)
    a.udp_send(session, 0, now=0, template=a.udp_template(session))
    for second in (1, 2, 3):
        a.expire(second * SECOND)
    assert (session.errors, a.counters["dropped_unresolved"]) == (1, 1)


def udp_datagram(dport, payload, sport=40000, checksum=None, length=None):
    """A datagram from a to b, with its UDP checksum or length field overwritten when given."""
    frame = bytearray(udp_frame(A_MAC, B_MAC, src_ip="192.0.2.1", dst_ip="192.0.2.2", sport=sport, dport=dport,
                                payload=payload))
    if checksum is not None:
        frame[40:42] = checksum.to_bytes(2, "big")
    if length is not None:
        frame[38:40] = length.to_bytes(2, "big")
    return bytes(frame)


@pytest.mark.parametrize("datagram, counters, received", [
    (udp_datagram(9, b""), {"udp_received": 1, "udp_discarded": 1}, 1),  # 8 bytes, no data: fine
    (udp_datagram(9, bytes(300)), {"udp_received": 1, "udp_discarded": 1}, 1),  # a length past 255
    (udp_datagram(9, b"hello", checksum=0), {"udp_received": 1, "udp_discarded": 1}, 1),  # 0: no checksum
    (udp_datagram(9, b"hello", checksum=0x1234), {"bad_checksum": 1}, 0),
    (udp_datagram(9, b"hello", length=12), {"bad_udp_length": 1}, 0),
    (udp_datagram(9, b"hello", length=14), {"bad_udp_length": 1}, 0),
])
def test_received_datagrams_are_checked_and_counted(datagram, counters, received):
    _, b = resolved_stacks()
    assert b.receive(datagram, now=0) == [] and b.receive(datagram, now=1) == []
    assert (dict(b.counters), sum(b.udp_received.values())) == (
        {name: 2 * n for name, n in counters.items()}, 2 * received)


def test_every_echo_and_discard_is_counted_and_the_echo_leaves_the_ethernet_padding_behind():
    _, b = resolved_stacks()
    datagram = udp_datagram(7, b"hi")
    padded = datagram + bytes(60 - len(datagram))  # as it arrives from a cable
    echoes = frames(b.receive(padded, now=0)) + frames(b.receive(padded, now=1))
    b.receive(udp_datagram(9, b"hi"), now=2)
    b.receive(udp_datagram(9, b"hi"), now=3)
    assert [(len(echo), bytes(Ether(echo)[UDP].payload)) for echo in echoes] == [(len(datagram), b"hi")] * 2
    assert dict(b.counters) == {"udp_received": 4, "udp_echoed": 2, "udp_discarded": 2}


def test_an_echo_answer_is_matched_by_a_sequence_number_of_any_size():
    a, b = resolved_stacks()
    session = UdpSession("u", "a", "b", B_IP, count=2, sport=40000, dport=7, size=4)  # 12-byte datagrams
    template = a.udp_template(session)
    for seq, now in ((0x01020304, 10), (0x01020305, 20)):
        exchange(a, b, a.udp_send(session, seq, now=now, template=template), now=now + 5)
    assert session.rtts == {0x01020304: 5, 0x01020305: 5}


def test_a_datagram_from_another_port_of_the_echo_host_is_not_an_answer():
    a, _ = resolved_stacks()
    session = UdpSession("u", "a", "b", B_IP, count=1, sport=40000, dport=7, size=4)
    a.udp_send(session, 1, now=0, template=a.udp_template(session))
    stray = udp_frame(B_MAC, A_MAC, src_ip="192.0.2.2", dst_ip="192.0.2.1", sport=0x0107, dport=40000,
                      payload=bytes.fromhex("00000001"))
    [error] = frames(a.receive(stray, now=5))
    assert ((Ether(error)[ICMP].type, Ether(error)[ICMP].code), session.rtts) == ((3, 3), {})


def test_port_unreachable_quotes_as_much_as_fits_576_bytes_and_is_counted():
    _, b = resolved_stacks()
    errors = [frame for payload in (bytes(1000), b"x") for frame in frames(b.receive(udp_datagram(33434, payload), 0))]
    for error in errors:
        assert_checksums_correct(error)
    assert [(len(error), Ether(error)[IP].len) for error in errors] == [(14 + 576, 576), (14 + 20 + 8 + 28 + 1, 57)]
    assert dict(b.counters) == {"udp_received": 2, "port_unreachable_sent": 2}


def test_a_ping_template_is_the_sessions_echo_request_with_the_stacks_ttl():
    a = GuestStack("a", A_MAC, "192.0.2.1/24", ttl=32)
    session = PingSession("p", "a", "b", B_IP, count=1, ident=0x1000, size=8)
    assert a.ping_template(session) == icmp_echo_frame(A_MAC, "00:00:00:00:00:00", src_ip="192.0.2.1",
                                                       dst_ip="192.0.2.2", ident=0x1000, seq=0,
                                                       payload=ping_payload(8), ttl=32)


def test_every_ping_sent_answered_and_received_is_counted():
    a, b = resolved_stacks()
    session = PingSession("p", "a", "b", B_IP, count=2, ident=0x1000)
    for seq in (1, 2):
        exchange(a, b, a.ping_send(session, seq, now=seq * 10), now=seq * 10 + 1)
    bad = bytearray(frames(a.ping_send(session, 3, now=40))[0])
    bad[-1] ^= 0xFF  # the ICMP checksum no longer holds
    b.receive(bytes(bad), now=41)
    b.receive(bytes(bad), now=42)
    assert (dict(a.counters), dict(b.counters)) == (
        {"echo_requests_sent": 3, "echo_replies_received": 2},
        {"echo_requests_received": 2, "echo_replies_sent": 2, "bad_checksum": 2})


def ip_packet(total=None, proto=253, dst="192.0.2.2", options=b"", payload=b"", pad_to=None):
    """An IPv4 packet from a to ``dst`` with a correct header checksum, its total length given or true."""
    header_len = 20 + len(options)
    header = bytearray(bytes(Ether(src=A_MAC, dst=B_MAC, type=0x0800)
                             / IP(src="192.0.2.1", dst=dst, proto=proto, ttl=64, id=0, flags=0))[14:34])
    header[0] = 0x40 | header_len // 4
    header[2:4] = (header_len + len(payload) if total is None else total).to_bytes(2, "big")
    header = header + options
    header[10:12] = b"\0\0"
    header[10:12] = checksum(bytes(header)).to_bytes(2, "big")
    frame = bytes(Ether(src=A_MAC, dst=B_MAC, type=0x0800))[:14] + bytes(header) + payload
    return frame + bytes((pad_to or 0) - len(frame)) if pad_to else frame


@pytest.mark.parametrize("frame, counters", [
    (ip_packet()[:33], {"ignored": 1}),  # shorter than an IPv4 header
    (ip_packet(dst="192.0.2.9"), {"not_our_address": 1}),  # exactly a header: looked at
    (ip_packet(), {"ignored": 1}),  # a protocol the stack does not speak
    (ip_packet(options=b"\x01\x01\x01\x00", payload=bytes(8)), {"ignored": 1}),  # IP options
    (ip_packet(total=19, pad_to=60), {"bad_ip_header": 1}),
    (ip_packet(total=61, pad_to=60), {"bad_ip_header": 1}),  # longer than the frame
    (ip_packet(total=200, pad_to=60), {"bad_ip_header": 1}),
    (ip_packet(proto=17), {"bad_udp_length": 1}),  # a 20-byte packet is valid IP: UDP finds no header
    (ip_packet(proto=1, payload=bytes.fromhex("0303fcfc00000000")), {"icmp_other_received": 1}),
])
def test_received_ipv4_headers_are_checked_and_every_outcome_counted(frame, counters):
    _, b = resolved_stacks()
    assert b.receive(frame, now=0) == [] and b.receive(frame, now=1) == []
    assert dict(b.counters) == {name: 2 * n for name, n in counters.items()}


def test_an_echo_reply_counts_for_its_session_only_from_the_host_it_pinged():
    a, b = resolved_stacks()
    session = PingSession("p", "a", "b", B_IP, count=1, ident=0x1000)
    request = frames(a.ping_send(session, 0x0102, now=0))[0]
    [reply] = frames(b.receive(request, now=1))
    from_c = bytearray(reply)  # the same answer, from another address
    from_c[26:30] = IPv4Address("192.0.2.3").packed
    from_c[24:26] = b"\0\0"
    from_c[24:26] = checksum(bytes(from_c[14:34])).to_bytes(2, "big")
    unknown = bytearray(reply)  # another identifier: no session has it
    unknown[38:40] = b"\x20\x00"
    unknown[36:38] = update_checksum(int.from_bytes(reply[36:38], "big"), b"\x10\x00", b"\x20\x00").to_bytes(2, "big")
    for frame, now in ((bytes(from_c), 3), (bytes(unknown), 4), (reply, 5)):
        a.receive(frame, now)
    assert (session.rtts, a.counters["echo_replies_received"]) == ({0x0102: 5}, 3)


def arp_to_b(sender_mac, sender_ip, op=1, target_ip="192.0.2.2"):
    return arp_frame(op=op, src=C_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=sender_mac, sender_ip=sender_ip,
                     target_ip=target_ip)


@pytest.mark.parametrize("frame, answered, learned, counters", [
    (arp_to_b("02:01:00:00:00:05", "192.0.2.5"), True, True, {"arp_requests_received": 1, "arp_replies_sent": 1}),
    (arp_to_b("03:00:00:00:00:05", "192.0.2.5"), False, False, {"arp_requests_received": 1}),  # multicast sender
    (arp_to_b("00:00:00:00:00:00", "192.0.2.5"), True, False, {"arp_requests_received": 1, "arp_replies_sent": 1}),
    (arp_to_b("02:00:00:00:00:05", "198.51.100.5"), True, False,  # off-link sender: answered, not learned
     {"arp_requests_received": 1, "arp_replies_sent": 1}),
    (arp_to_b("02:00:00:00:00:05", "192.0.2.5", op=0x0101), False, False, {"arp_replies_received": 1}),
    (arp_to_b("02:00:00:00:00:05", "192.0.2.5", op=2), False, False, {"arp_replies_received": 1}),
    (arp_to_b("02:00:00:00:00:05", "192.0.2.5")[:41], False, False, {"ignored": 1}),  # truncated
    (arp_to_b("02:00:00:00:00:05", "192.0.2.5")[:14] + b"\x00\x06" + arp_to_b("02:00:00:00:00:05", "192.0.2.5")[16:],
     False, False, {"ignored": 1}),  # not Ethernet hardware
])
def test_arp_for_us_is_answered_and_learned_only_from_a_valid_on_link_sender(frame, answered, learned, counters):
    _, b = stacks()
    out = frames(b.receive(frame, now=0)) + frames(b.receive(frame, now=1))
    assert (len(out), len(b.arp), dict(b.counters)) == (
        2 if answered else 0, 1 if learned else 0, {name: 2 * n for name, n in counters.items()})


def test_an_arp_probe_from_0_0_0_0_teaches_nothing_even_where_that_address_is_on_link():
    stack = GuestStack("z", B_MAC, "0.0.0.5/8")
    probe = arp_frame(op=1, src=C_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac=C_MAC, sender_ip="0.0.0.0",
                      target_ip="0.0.0.5")
    assert len(frames(stack.receive(probe, now=0))) == 1 and len(stack.arp) == 0


@pytest.mark.parametrize("flags_and_offset, counted", [(0x2000, "ignored"), (0x0001, "ignored"),
                                                       (0x4000, "not_our_address")])
def test_fragments_are_ignored_and_dont_fragment_is_not_a_fragment(flags_and_offset, counted):
    _, b = stacks()
    frame = bytearray(ip_packet(dst="192.0.2.9"))
    frame[20:22] = flags_and_offset.to_bytes(2, "big")
    frame[24:26] = b"\0\0"
    frame[24:26] = checksum(bytes(frame[14:34])).to_bytes(2, "big")
    b.receive(bytes(frame), now=0)
    b.receive(bytes(frame), now=1)
    assert dict(b.counters) == {counted: 2}


def test_ip_ids_count_up_from_1():
    a, _ = resolved_stacks()
    session = UdpSession("u", "a", "b", B_IP, count=3, sport=40000, dport=9, size=4)
    template = a.udp_template(session)
    sent = [frame for seq in (0, 1, 2) for frame in frames(a.udp_send(session, seq, now=0, template=template))]
    assert [Ether(frame)[IP].id for frame in sent] == [1, 2, 3]


def test_an_arp_request_from_the_arping_target_is_not_its_answer():
    a, _ = stacks()
    session = ArpingSession("r", "a", "b", B_IP, count=1)
    a.arping_send(session, 1, now=0)
    request = arp_frame(op=1, src=B_MAC, dst="ff:ff:ff:ff:ff:ff", sender_mac="03:00:00:00:00:02",
                        sender_ip="192.0.2.2", target_ip="192.0.2.1")
    assert (a.receive(request, now=5), session.rtts) == ([], {})


def test_a_stack_shows_its_name_mac_and_address_and_sends_with_ttl_64_by_default():
    a, b = resolved_stacks()
    [reply] = frames(b.receive(echo_request(), now=0))
    assert (repr(a), Ether(reply)[IP].ttl) == ("<GuestStack a 52:54:00:00:00:01 192.0.2.1/24>", 64)


def test_port_unreachable_comes_from_the_stack_with_its_ttl():
    b = GuestStack("b", B_MAC, "192.0.2.2/24", ttl=32)
    b.arp.confirm(A_IP.packed, bytes.fromhex("525400000001"), now=0)
    [error] = frames(b.receive(udp_datagram(33434, b"x"), now=0))
    assert (Ether(error).src, Ether(error).dst, Ether(error)[IP].ttl) == (B_MAC, A_MAC, 32)


@pytest.mark.parametrize("broadcast", ["192.0.2.255", "255.255.255.255"])
def test_datagrams_to_a_broadcast_address_go_to_every_mac_and_are_received_from_one(broadcast):
    a, b = stacks()
    session = UdpSession("u", "a", "all", IPv4Address(broadcast), count=1, sport=40000, dport=9, size=4)
    [(delay, frame)] = a.udp_send(session, 0, now=0, template=a.udp_template(session))
    assert (delay, frame[:6], len(frame)) == (0, b"\xff" * 6, 46)
    b.receive(frame, now=1)
    assert dict(b.udp_received) == {("192.0.2.1", 9): 1}


def test_every_unsendable_and_every_ignored_frame_is_counted():
    a, _ = stacks()
    session = PingSession("p", "a", "x", IPv4Address("198.51.100.1"), count=2, ident=7)
    a.ping_send(session, 1, now=0)
    a.ping_send(session, 2, now=1)
    a.receive(rarp_announce(B_MAC), now=2)
    a.receive(rarp_announce(B_MAC), now=3)
    assert dict(a.counters) == {"echo_requests_sent": 2, "no_route": 2, "ignored": 2}


@pytest.mark.parametrize("seed", range(8))
def test_a_stacks_templates_are_the_bytes_scapy_builds(seed):
    """GuestStack patches blank templates built once (traffic.stack_templates); they must equal Scapy's own."""
    rng = random.Random(seed)
    mac = MACAddress(bytes([rng.randrange(256) & 0xFE]) + rng.randbytes(5))
    ip, ttl = str(IPv4Address(rng.randbytes(4))), rng.randint(1, 255)
    stack = GuestStack("g", mac, f"{ip}/24", ttl=ttl)
    assert (stack._arp_request, stack._arp_reply, stack._unreachable) == stack_templates(
        mac.packed, IPv4Address(ip).packed, ttl) == (
        arp_frame(op=ARP_REQUEST, src=mac, dst="ff:ff:ff:ff:ff:ff", sender_mac=mac, sender_ip=ip),
        arp_frame(op=ARP_REPLY, src=mac, dst=ZERO_MAC, sender_mac=mac, sender_ip=ip),
        icmp_error_header(mac, ZERO_MAC, src_ip=ip, dst_ip="0.0.0.0", icmp_type=3, code=3, ttl=ttl))
