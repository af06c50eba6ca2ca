"""Spanning tree as the Linux bridge's kernel STP runs it (issue 17 items 1-3): BPDUs byte for byte, the state
machine's outcome on a ring, the kernel's defaults and ranges, link failure, and the report."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vswitch.core.errors import TopologyError
from vswitch.core.reasons import DropReason
from vswitch.l2.bpdu import ConfigBpdu, TcnBpdu, config_frame, parse, tcn_frame
from vswitch.l2.stp_port import BLOCKING, DISABLED, FORWARDING, LISTENING, port_cost
from vswitch.net.network import Network
from vswitch.net.spanning import enable_stp
from vswitch.topology.loader import load_topology_text

S = 1_000_000_000
SRC = bytes.fromhex("02b000010002")
BROADCAST = bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00" + bytes(46)


def test_config_bpdu_bytes_are_the_kernels():
    bpdu = ConfigBpdu(True, True, bytes.fromhex("100002b000010000"), 4, bytes.fromhex("800002b000020000"), 0x8002,
                      4_000_000, 20 * S, 2 * S, 15 * S)
    frame = config_frame(SRC, bpdu)
    expected = bytes.fromhex(
        "0180c2000000" "02b000010002" "0026" "424203"       # 802.3 length 38, LLC DSAP/SSAP 0x42, UI
        "0000" "00" "00" "81"                                # protocol 0, version 0, config, TC | TCA
        "100002b000010000" "00000004" "800002b000020000" "8002"
        "0001" "1400" "0200" "0f00")                         # ages and timers in 1/256 s
    assert len(frame) == 60 and frame[:52] == expected and frame[52:] == bytes(8)
    assert parse(frame) == bpdu._replace(message_age_ns=4_000_000)


def test_tcn_bpdu_bytes_and_what_br_stp_rcv_ignores():
    frame = tcn_frame(SRC)
    assert frame[:21] == bytes.fromhex("0180c2000000" "02b000010002" "0007" "424203" "00000080")
    assert parse(frame) == TcnBpdu()
    rst = bytearray(config_frame(SRC, ConfigBpdu(False, False, bytes(8), 0, bytes(8), 1, 0, 20 * S, 2 * S, 15 * S)))
    rst[19] = 2  # version 2: a rapid spanning tree BPDU
    assert parse(bytes(rst)) is None
    assert parse(bytes.fromhex("0180c2000000" "02b000010002" "0800") + bytes(46)) is None  # an ethertype, not LLC
    assert parse(frame[:20]) is None  # truncated


@pytest.mark.parametrize("bandwidth, cost", [(None, 2), (10**10, 2), (10**9, 4), (10**8, 19), (10**7, 100),
                                             (4 * 10**10, 1), (123, 100)])
def test_default_path_cost_follows_the_link_speed(bandwidth, cost):
    assert port_cost(bandwidth) == cost


def ring(capture_dir: object = ".", **settings):
    net = Network(capture_dir=capture_dir)
    for name in ("sw1", "sw2", "sw3"):
        net.add_switch(name)
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_host("h2", "02:00:00:00:00:02")
    for a, b in (("h1", "sw1.p1"), ("h2", "sw3.p1"), ("sw1.p2", "sw2.p1"), ("sw2.p2", "sw3.p2"),
                 ("sw3.p3", "sw1.p3")):
        net.connect(a, b)
    trees = {name: enable_stp(net, name, forward_delay_ns=2 * S, priority=0x1000 if name == "sw1" else 0x8000,
                              **settings) for name in ("sw1", "sw2", "sw3")}
    return net, trees


def test_a_ring_converges_to_a_tree_and_a_broadcast_crosses_it_once():
    net, trees = ring()
    assert [p.state for p in trees["sw3"].ports] == [LISTENING] * 3  # at once: blocking -> listening
    net.run(until=10 * S)
    assert [name for name, t in trees.items() if t.is_root_bridge()] == ["sw1"]
    states = {p.port.full_name: (p.state, trees[n].role(p)) for n, t in trees.items() for p in t.ports}
    assert states["sw3.p2"] == (BLOCKING, "non-designated")
    assert states["sw2.p1"] == states["sw3.p3"] == (FORWARDING, "root")
    assert sum(state == BLOCKING for state, _ in states.values()) == 1
    before = len(net.nic("h2").inbox)
    net.send("h1", BROADCAST)
    net.run(until=11 * S)
    delivered = [d for d in list(net.nic("h2").inbox)[before:] if d.frame[:6] == b"\xff" * 6]
    assert len(delivered) == 1
    assert net.port("sw3.p2").counters.rx_dropped[DropReason.BLOCKED_BY_STP] == 1
    assert net.switch("sw1").storm.loop_ports == {}


def test_a_failed_root_port_reconverges_through_the_blocked_one():
    net, trees = ring()
    net.run(until=10 * S)
    net.set_link_state(net.link("sw2.p2"), False)
    assert trees["sw3"].by_name["p2"].state == DISABLED
    assert trees["sw3"].root_port_name() == "p3"
    net.run(until=20 * S)
    assert trees["sw3"].by_name["p3"].state == FORWARDING
    net.set_link_state(net.link("sw2.p2"), True)
    net.run(until=30 * S)
    assert trees["sw3"].by_name["p2"].state == BLOCKING  # the same tree again


def test_a_topology_change_shortens_ageing_to_twice_the_forward_delay():
    net, trees = ring()
    table = net.switch("sw2").table
    net.run(until=6 * S)
    assert trees["sw2"].topology_change and table.ageing_ns == 4 * S
    net.run(until=60 * S)  # forward_delay + max_age after the last change, the root clears the flag
    assert not trees["sw2"].topology_change and table.ageing_ns == 300 * S


def test_rst_and_too_old_bpdus_are_counted_drops():
    net, trees = ring()
    net.run(until=10 * S)
    old = config_frame(SRC, ConfigBpdu(False, False, bytes(8), 0, bytes(8), 1, 21 * S, 20 * S, 2 * S, 15 * S))
    rst = bytearray(old)
    rst[19] = 2
    net.inject("sw2.p1", old)
    net.inject("sw2.p1", bytes(rst))
    net.run(until=10 * S + 1)
    drops = net.port("sw2.p1").counters.rx_dropped
    assert drops[DropReason.BPDU_TOO_OLD] == 1 and drops[DropReason.BPDU_IGNORED] == 1
    assert trees["sw2"].designated_root == trees["sw1"].bridge_id  # neither changed anything


def test_out_of_range_settings_are_refused_by_the_api():
    net = Network()
    net.add_switch("sw1", ports=2)
    with pytest.raises(TopologyError, match="hello_time: 11s is outside the kernel's range 1s to 10s"):
        enable_stp(net, "sw1", hello_time_ns=11 * S)
    with pytest.raises(TopologyError, match="sw1.p1: priority"):
        enable_stp(net, "sw1", ports={"p1": (64, None)})


BASE = """
name: lab
switches:
  - {name: sw1, stp: true%s}
  - {name: sw2}
links: [[sw1.p1, sw2.p1]]
%s
"""


@pytest.mark.parametrize("keys, until, message", [
    (", hello_time: 11s", "until: 10s", "<string>:4:40: switches[0].hello_time: 11s is out of range: the Linux "
                                        "bridge takes 1s to 10s"),
    (", forward_delay: 1s", "until: 10s", "switches[0].forward_delay: 1s is out of range"),
    (", max_age: 41s", "until: 10s", "switches[0].max_age: 41s is out of range"),
    (", priority: 65536", "until: 10s", "switches[0].priority: 65536 is out of range: expected 0 to 65535"),
    (", ports: {p1: {priority: 64}}", "until: 10s", "switches[0].ports.p1.priority: 64 is out of range: expected "
                                                    "0 to 63"),
    (", ports: {p1: {path_cost: 0}}", "until: 10s", "path_cost: 0 is out of range: expected 1 to 65535"),
    ("", "", "sw1 runs STP, whose hello timer never stops: give the run an end"),
])
def test_the_loader_refuses_bad_stp_settings_with_their_place(keys, until, message):
    with pytest.raises(TopologyError, match=None) as info:
        load_topology_text(BASE % (keys, until))
    assert message in str(info.value)


def test_stp_keys_without_stp_are_refused():
    text = BASE.replace("stp: true%s", "priority: 4096%s") % ("", "until: 1s")
    with pytest.raises(TopologyError, match="priority is a spanning tree setting: add stp: true"):
        load_topology_text(text)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_the_bpdu_fields(tmp_path):
    net, _ = ring(capture_dir=tmp_path)
    net.capture("sw2.p2", "ring.pcap")
    net.run(until=10 * S)
    net.close()
    out = subprocess.run(["tshark", "-n", "-r", str(tmp_path / "ring.pcap"), "-T", "fields", "-e", "stp.version",
                          "-e", "stp.type", "-e", "stp.root.hw", "-e", "stp.forward", "-e", "_ws.malformed"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out and all(line.split("\t")[:2] == ["0", "0x00"] for line in out)
    assert out[-1].split("\t")[2:] == ["02:b0:00:01:00:00", "2", ""]  # sw1 is root; forward delay 2 s


def test_explain_says_blocked_by_stp(capsys):
    from pathlib import Path

    from vswitch.cli import main
    example = Path(__file__).resolve().parent.parent / "topologies" / "stp-triangle.yaml"
    assert main(["explain", str(example), "hello"]) == 0
    out = capsys.readouterr().out
    assert "sw3.p2: dropped: blocked by STP (the port is not forwarding)" in out and "delivered to h2.eth0" in out
