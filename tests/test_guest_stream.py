"""Streams: one Scapy template, fields patched in bytes, checksums updated incrementally and still right."""

from __future__ import annotations

from fractions import Fraction

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from vswitch.build import build_network
from vswitch.scenario import ScenarioRunner
from vswitch.stream import FrameTemplate, StreamSpec, Vary, field_value, frame_times
from vswitch.topology import load_topology_text
from vswitch.traffic import ethernet_frame, udp_frame


def template():
    return udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02", src_ip="192.0.2.1", dst_ip="192.0.2.2", sport=1000,
                     dport=9, size=100)


def assert_udp_checksums(frame: bytes) -> None:
    copy = Ether(frame)
    del copy[IP].chksum, copy[UDP].chksum
    assert bytes(Ether(bytes(copy))) == frame


def test_every_varying_field_keeps_the_checksums_right():
    maker = FrameTemplate(template(), (
        Vary("udp.sport", step=7), Vary("udp.dport", start=65530, step=1), Vary("ip.id", step=4099),
        Vary("ip.src", start=field_value("ip.src", "10.0.0.250"), cycle=10), Vary("ip.dst", step=-1),
        Vary("seq"), Vary("eth.src", cycle=3), Vary("eth.dst", start=field_value("eth.dst", "02:00:00:00:01:00"))),
        udp=True)
    for i in list(range(50)) + [65535, 65536, 10**6]:
        assert_udp_checksums(maker.frame(i))
    packet = Ether(maker.frame(13))
    assert (packet.src, packet.dst, packet[IP].src, packet[IP].id, packet[UDP].sport, packet[UDP].dport) == (
        "02:00:00:00:00:02", "02:00:00:00:01:0d", "10.0.0.253", 13 * 4099 % 65536, 1091, (65530 + 13) % 65536)
    assert bytes(packet[UDP].payload)[:4] == (13).to_bytes(4, "big")


def test_frame_zero_is_the_template_and_raw_streams_count_in_the_payload():
    raw = ethernet_frame("02:00:00:00:00:01", "02:00:00:00:00:02", size=60)
    maker = FrameTemplate(raw, (Vary("seq", start=100),), udp=False)
    assert maker.frame(0)[:14] == raw[:14] and maker.frame(5)[14:18] == (105).to_bytes(4, "big")
    assert FrameTemplate(template(), (), udp=True).frame(3) == template()


def test_a_field_past_the_end_of_the_frame_is_refused():
    with pytest.raises(ValueError, match="beyond the end of a 16-byte frame"):
        FrameTemplate(bytes(16), (Vary("seq"),), udp=False)


def test_times_are_exact_for_every_way_of_giving_a_rate():
    assert list(frame_times(0, 4, pps=Fraction(3))) == [0, 333_333_333, 666_666_666, 1_000_000_000]
    assert list(frame_times(5, 3, interval_ns=10)) == [5, 15, 25]
    assert list(frame_times(0, 3, bps=10**9, frame_len=100)) == [0, 992, 1984]  # (100 + 24) bytes on the wire


def test_stream_items_are_lazy():
    spec = StreamSpec("h1.eth0", template(), 10**9, (Vary("seq"),), True, interval_ns=1)
    items = spec.frames(0)
    assert next(items)[0:2] == (0, "h1.eth0") and next(items)[0] == 1


def test_a_stream_action_sends_its_frames_through_the_network():
    text = """\
name: s
switches: [{name: sw1}]
hosts:
  - {name: a, mac: "02:00:00:00:00:01"}
  - {name: b, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}
links: [[a, sw1.p1], [b, sw1.p2]]
scenario:
  - stream: {from: a, to: b, count: 20, size: 64, rate: 1Mbps, name: s1,
             udp: {src_ip: 192.0.2.1, dst_ip: 192.0.2.2, dport: 7},
             vary: [{field: udp.sport, start: 2000}, {field: ip.id, step: 3}]}
expect:
  - udp_received: {on: b, port: 7, from: 192.0.2.1, count: 20}
  - counter: {interface: b, rx_packets: 20}
"""
    spec = load_topology_text(text, "s.yaml")
    net = build_network(spec)
    result = ScenarioRunner(spec, net).run()
    assert result.passed, [c for c in result.checks if not c.passed]
    deliveries = net.deliveries("b")
    assert [Ether(d.frame)[UDP].sport for d in deliveries] == list(range(2000, 2020))
    assert deliveries[1].time_ns - deliveries[0].time_ns == (64 + 24) * 8 * 1000  # 1 Mbps
    assert result.streams["s1"]["frames"] == 20
