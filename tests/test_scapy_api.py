"""Scapy packets go into the API and come out of it: ``send``, ``inject``, ``send_series`` and stream items take
them (converted once at the edge, ``core/frame.check_frame``); ``deliveries(name, scapy=True)``,
``CaptureReader.packets()`` and ``Record.packet()`` give ``PacketList``s timestamped by the virtual clock.

CI runs this file on the compiled install (``pytest``) and on the source tree (``python -m pytest``)."""

from __future__ import annotations

from decimal import Decimal

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.plist import PacketList
from scapy.utils import rdpcap

from conftest import lab
from vswitch import CaptureReader, Network

EPOCH_S = Decimal(1_767_225_600)  # 2026-01-01T00:00:00Z, the captures' default epoch


def udp(src: str, dst: str, dport: int = 5678) -> Ether:
    return (Ether(src=src, dst=dst, type=0x0800) / IP(src="192.0.2.1", dst="192.0.2.2", ttl=64)
            / UDP(sport=1234, dport=dport) / (b"hello" * 4))  # 62 bytes: no padding


def test_a_sent_scapy_packet_is_delivered_as_its_bytes():
    net = lab()
    packet = udp("02:00:00:00:00:01", "52:54:00:00:00:02")
    frame_id = net.send("h1", packet)
    net.run()
    assert net.trace.delivered_to(frame_id) == ["vm2.eth0"]
    assert [d.frame for d in net.deliveries("vm2")] == [bytes(packet)]


def test_inject_send_series_and_stream_items_take_scapy_packets():
    net = lab()
    to_vm1 = udp("02:00:00:00:00:01", "52:54:00:00:00:01")
    net.inject("sw1.p1", to_vm1, at=0)  # arrives at the switch from h1's cable
    net.send_series("h1", to_vm1, 2, interval_ns=1000)
    net.send_stream([(5000, "h1", to_vm1), (6000, "h1", bytes(to_vm1))])
    net.run()
    assert [d.frame for d in net.deliveries("vm1")] == [bytes(to_vm1)] * 5


def test_deliveries_as_scapy_packets_carry_the_virtual_time_the_interface_and_the_frame_id():
    net = lab(latency_ns=1000)
    first = net.send("h1", udp("02:00:00:00:00:01", "52:54:00:00:00:02", dport=7), at=0)
    second = net.send("h1", udp("02:00:00:00:00:01", "52:54:00:00:00:02", dport=9), at=1_500_000)
    net.run()
    packets = net.deliveries("vm2", scapy=True)
    assert isinstance(packets, PacketList) and packets.listname == "vm2.eth0"
    assert [p[UDP].dport for p in packets] == [7, 9]
    assert [p.time for p in packets] == [EPOCH_S + Decimal(d.time_ns) / 10**9 for d in net.deliveries("vm2")]
    assert [p.time - EPOCH_S for p in packets] == [Decimal("0.000002"), Decimal("0.001502")]  # two 1 us cables
    assert [p.sniffed_on for p in packets] == ["vm2.eth0"] * 2
    assert [p.comments for p in packets] == [[f"frame {first}".encode()], [f"frame {second}".encode()]]
    assert [bytes(p) for p in packets] == [d.frame for d in net.deliveries("vm2")]


def test_deliveries_follow_the_networks_epoch():
    net = Network(epoch_ns=0)
    net.add_host("a", "02:00:00:00:00:01")
    net.add_host("b", "02:00:00:00:00:02")
    net.connect("a", "b", latency_ns=250)
    net.send("a", udp("02:00:00:00:00:01", "02:00:00:00:00:02"), at=10**9)
    net.run()
    assert [p.time for p in net.deliveries("b", scapy=True)] == [Decimal("1.00000025")]
    assert net.deliveries("b", scapy=False) == net.deliveries("b")


def test_capture_reader_gives_the_packets_scapy_reads_with_the_same_timestamps(tmp_path):
    net = Network(capture_dir=tmp_path)
    net.add_host("a", "02:00:00:00:00:01")
    net.add_host("b", "02:00:00:00:00:02")
    net.connect("a", "b", latency_ns=1)
    path = net.capture("b", "b.pcap")
    for at in (0, 7, 1_000_000_123):
        net.send("a", udp("02:00:00:00:00:01", "02:00:00:00:00:02", dport=at % 1000), at=at)
    net.run()
    net.close()
    with CaptureReader(path) as reader:
        packets = reader.packets()
    assert isinstance(packets, PacketList) and packets.listname == "b.pcap"
    scapy_read = rdpcap(path)  # Scapy's own reader, independent of ours
    assert [(p.time, bytes(p)) for p in packets] == [(p.time, bytes(p)) for p in scapy_read]
    assert [p.time for p in packets] == [p.time for p in net.deliveries("b", scapy=True)]
    assert [p[UDP].dport for p in packets] == [0, 7, 123]


def test_a_record_is_one_scapy_packet_at_a_time(tmp_path):
    net = Network(capture_dir=tmp_path)
    net.add_host("a", "02:00:00:00:00:01")
    net.add_host("b", "02:00:00:00:00:02")
    net.connect("a", "b")
    path = net.capture("a", "a.pcap", "tx")
    net.send("a", udp("02:00:00:00:00:01", "02:00:00:00:00:02"), at=42)
    net.run()
    net.close()
    with CaptureReader(path) as reader:
        (record,) = list(reader)
    packet = record.packet()
    assert (packet.time, packet[Ether].src, packet[IP].dst) == (EPOCH_S + Decimal("0.000000042"),
                                                                "02:00:00:00:00:01", "192.0.2.2")
