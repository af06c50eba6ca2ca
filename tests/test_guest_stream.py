"""Streams: one Scapy template, fields patched in bytes, checksums updated incrementally and still right;
VLAN tags inserted once, the fields found behind them."""

from __future__ import annotations

from fractions import Fraction

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import rdpcap

from vswitch.topology.build import build_network
from vswitch.core.errors import TopologyError
from vswitch.scenario.runner import ScenarioRunner
from vswitch.guests.stream import FrameTemplate, StreamSpec, Vary, field_value, frame_times
from vswitch.topology.loader import load_topology_text
from vswitch.guests.traffic import ethernet_frame, udp_frame
from vswitch.l2.vlan import push_tags


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


def test_tagged_templates_find_their_fields_behind_the_tags_and_keep_the_checksums_right():
    tagged = push_tags(template(), ((0x88A8, 0, 100), (0x8100, 5, 20)))
    maker = FrameTemplate(tagged, (Vary("udp.sport", step=7), Vary("ip.src", start=field_value("ip.src", "10.0.0.1")),
                                   Vary("ip.id"), Vary("seq"), Vary("eth.src", cycle=3)), udp=True, tags=2)
    assert maker.frame(0)[:12] == tagged[:12] and maker.frame(0)[12:20] == tagged[12:20]  # the tags stay
    for i in (0, 1, 2, 77, 65536):
        frame = maker.frame(i)
        assert frame[12:20] == tagged[12:20]
        inner = frame[:12] + frame[20:]  # the same frame without its tags: checksums right at the moved offsets
        assert_udp_checksums(inner)
        packet = Ether(inner)
        assert (packet[UDP].sport, packet[IP].id, bytes(packet[UDP].payload)[:4]) == (
            (1000 + 7 * i) % 65536, i % 65536, i.to_bytes(4, "big"))
    raw = push_tags(ethernet_frame("02:00:00:00:00:01", "02:00:00:00:00:02", size=60), ((0x8100, 0, 10),))
    assert FrameTemplate(raw, (Vary("seq", start=9),), udp=False, tags=1).frame(1)[18:22] == (10).to_bytes(4, "big")


TRUNK = """\
name: tagged-streams
switches:
  - name: sw1
    vlan_filtering: true
    ports:
      p1: {pvid: none, vlans: [10, 20]}
      p2: {pvid: 10}
      p3: {pvid: 20}
      p4: {pvid: 1, vlans: [10, 20]}
hosts:
  - {name: t, mac: "02:00:00:00:00:01"}
  - {name: a, mac: "02:00:00:00:00:02"}
  - {name: b, mac: "02:00:00:00:00:03", ip: 192.0.2.3/24}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01", vlan: 10, qos: 3}
      - {name: vm2, mac: "52:54:00:00:00:02", vlan: 10, spoofchk: true}
links: [[t, sw1.p1], [a, sw1.p2], [b, sw1.p3], [hv1, sw1.p4]]
captures:
  points: [t, b, hv1.uplink]
scenario:
  - stream: {from: t, to: b, count: 4, interval: 1us, vlan: {vid: 20, pcp: 5}, name: to-b,
             udp: {src_ip: 192.0.2.1, dst_ip: 192.0.2.3, dport: 9}, vary: [{field: udp.sport}, {field: seq}]}
  - at: 1ms
    stream: {from: t, dst: broadcast, count: 2, vlan: 10, name: vlan10}
  - at: 2ms
    stream: {from: t, dst: broadcast, count: 2, vlan: 30, name: vlan30}
  - at: 3ms
    stream: {from: vm1, dst: broadcast, count: 2, vlan: 20, name: double}
  - at: 4ms
    stream: {from: vm2, dst: broadcast, count: 2, vlan: 20, name: spoofed}
expect:
  - udp_received: {on: b, port: 9, from: 192.0.2.1, count: 4}
  - counter: {interface: b, rx_packets: 4}
  - counter: {interface: a, rx_packets: 4}     # vlan10, and vm1's double-tagged frames (outer VLAN 10)
  - counter: {interface: sw1.p1, rx_dropped: {vlan_not_allowed: 2}}
  - counter: {interface: vm2, tx_dropped: {spoofed_vlan: 2}}
"""


def test_a_streams_vlan_tags_its_frames_and_delivery_follows_the_vlan(tmp_path):
    spec = load_topology_text(TRUNK, "tagged.yaml")
    assert spec.scenario[0].action.vlan == ((0x8100, 5, 20),)
    net = build_network(spec, capture_dir=tmp_path)
    result = ScenarioRunner(spec, net).run()
    net.close()
    assert result.passed, [(c.description, c.actual) for c in result.checks if not c.passed]
    assert result.streams["to-b"]["frame size"] == 64  # 60 bytes and the tag
    sent = [p for p in rdpcap(str(tmp_path / "t.pcap")) if p.src == "02:00:00:00:00:01"]
    assert [(p[Dot1Q].vlan, p[Dot1Q].prio) for p in sent] == [(20, 5)] * 4 + [(10, 0)] * 2 + [(30, 0)] * 2
    assert [p[UDP].sport for p in sent[:4]] == [1024, 1025, 1026, 1027]
    received = rdpcap(str(tmp_path / "b.pcap"))  # an access port: untagged, checksums still right
    assert len(received) == 4 and not any(Dot1Q in p for p in received)
    for p in received:
        assert_udp_checksums(bytes(p))
    # vm1's VF puts its port VLAN (10, qos 3) in front of the stream's tag: a double-tagged frame on the uplink
    uplink = [p for p in rdpcap(str(tmp_path / "hv1-uplink.pcap")) if p.src == "52:54:00:00:00:01"]
    assert [(p[Dot1Q].vlan, p[Dot1Q].prio, p[Dot1Q].payload[Dot1Q].vlan) for p in uplink] == [(10, 3, 20)] * 2


def test_stream_vlan_mistakes_are_reported_with_their_place():
    with pytest.raises(TopologyError, match=r"s.yaml:\d+:\d+: scenario\[0\].stream.vlan: .*802.1ad"):
        load_topology_text("hosts: [{name: t, mac: '02:00:00:00:00:01'}]\n"
                           "scenario: [{stream: {from: t, dst: broadcast, count: 1, vlan: {vid: 5, proto: q}}}]\n",
                           "s.yaml")
