"""Captures, explain and the report point at each other: frame numbers in every pcapng comment, what a frame taught a
switch (learned, moved), the report's MAC moves, and ``explain`` by number, NAME and NAME#N."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether  # noqa: F401 - binds linktype 1 for rdpcap
from scapy.utils import rdpcap

from conftest import lab, udp_frame
from vswitch.cli import main
from vswitch.l2.fdb import ForwardingTable
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"
H1, VM1 = "02:00:00:00:00:01", "52:54:00:00:00:01"
COMMENT = re.compile(r"#(\d+) (\S.*)")


def comments(path: Path) -> list[tuple[str, str]]:
    """(interface, comment) of every record of a pcapng."""
    out = []
    for packet in rdpcap(str(path)):
        (comment,) = packet.comments
        out.append((packet.sniffed_on, comment.decode()))
    return out


@pytest.mark.parametrize("example", ["two-vms-one-adapter", "guests-udp-and-stream", "attack-loop"])
def test_every_pcapng_record_names_its_frame_and_the_trace_has_that_frame_there(example, tmp_path):
    spec = load_topology(TOPOLOGIES / f"{example}.yaml")
    net = build_network(spec, capture_dir=tmp_path)  # record=True: every hop in net.trace
    from vswitch.scenario.runner import ScenarioRunner
    ScenarioRunner(spec, net).run()
    net.close()
    records = comments(tmp_path / spec.pcapng)
    assert records
    for interface, comment in records:
        match = COMMENT.fullmatch(comment)
        assert match, comment
        hops = net.trace.for_frame(int(match.group(1)))
        where = {hop.port for hop in hops} | {out for hop in hops for out in hop.outputs}
        assert interface in where, (interface, comment, [hop.text() for hop in hops])


def test_a_frame_that_teaches_a_switch_says_so_and_a_refresh_says_nothing(tmp_path):
    net = lab()
    net.captures.out_dir = tmp_path
    net.capture_pcapng("all.pcapng", [("sw1.p1", "rx"), ("sw1.p2", "both")])
    net.send("h1", udp_frame(H1, VM1))  # frame 1: sw1 learns h1 on p1
    net.send("vm1", udp_frame(VM1, H1), at=10_000)  # frame 2: learns vm1 on p2
    net.send("h1", udp_frame(H1, VM1), at=20_000)  # frame 3: refreshes h1
    net.run()
    net.close()
    assert comments(tmp_path / "all.pcapng") == [
        ("sw1.p1", "#1 flooded: unknown unicast -> sw1.p2; learned 02:00:00:00:00:01 on sw1.p1"),
        ("sw1.p2", "#1 flooded: unknown unicast"),
        ("sw1.p2", "#2 forwarded -> sw1.p1; learned 52:54:00:00:00:01 on sw1.p2"),
        ("sw1.p1", "#3 forwarded -> sw1.p2"),
        ("sw1.p2", "#3 forwarded"),
    ]


def test_a_mac_seen_on_another_port_is_a_move_in_the_comment(tmp_path):
    net = lab()
    net.add_host("h2", "02:00:00:00:00:02")
    net.connect("h2", "sw1")  # sw1.p3
    net.captures.out_dir = tmp_path
    net.capture_pcapng("all.pcapng", [("sw1.p3", "rx")])
    net.send("h1", udp_frame(H1, VM1))
    net.send("h2", udp_frame(H1, VM1), at=10_000)  # h1's MAC, now from sw1.p3
    net.run()
    net.close()
    assert comments(tmp_path / "all.pcapng") == [
        ("sw1.p3", "#2 flooded: unknown unicast -> sw1.p1, sw1.p2; moved 02:00:00:00:00:01 from sw1.p1 to sw1.p3")]
    assert [(r.mac, r.port) for r in net.switch("sw1").table.rows(net.now)][0] == (H1, "p3")


def test_with_vlan_filtering_the_comment_names_the_vlan(tmp_path):
    from vswitch import Network
    net = Network()
    net.add_switch("sw1", vlan_filtering=True)
    net.add_host("h1", H1)
    net.connect("h1", "sw1")
    net.captures.out_dir = tmp_path
    net.capture_pcapng("all.pcapng", [("sw1.p1", "rx")])
    net.send("h1", udp_frame(H1, VM1))
    net.run()
    net.close()
    [(_, comment)] = comments(tmp_path / "all.pcapng")
    assert comment.endswith("; learned 02:00:00:00:00:01 in VLAN 1 on sw1.p1")


def test_table_listeners_hear_new_entries_and_moves_but_not_refreshes_statics_or_refusals():
    heard = []
    table = ForwardingTable(limit=2)
    table.listeners.append(lambda *event: heard.append(event))
    a, b, c = bytes.fromhex("020000000001"), bytes.fromhex("020000000002"), bytes.fromhex("020000000003")
    table.learn(1, a, "p1", 0)
    table.learn(1, a, "p1", 5)  # refreshed
    table.learn(1, a, "p2", 6)  # moved
    table.add_static(1, b, "p3")
    table.learn(1, b, "p4", 7)  # static entry kept
    table.learn(1, c, "p1", 8)
    table.learn(1, bytes.fromhex("020000000004"), "p1", 9)  # refused: the table is full
    assert heard == [(0, 1, a, "p1", None), (6, 1, a, "p2", "p1"), (8, 1, c, "p1", None)]


def test_report_lists_mac_moves_in_text_and_json(tmp_path, capsys):
    example = str(TOPOLOGIES / "mac-ageing-and-moves.yaml")
    assert main(["run", example, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    table = text.split("MAC moves\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[0].split() == ["time", "switch", "vlan", "mac", "from", "to"]
    assert [row.split() for row in table[2:]] == [["20.200001s", "sw1", "1", "52:54:00:00:00:01", "sw1.p3", "sw1.p4"]]
    assert main(["run", example, "--out", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mac_moves"] == [{"time": "20.200001s", "time_ns": 20_200_001_000, "switch": "sw1", "vlan": 1,
                                  "mac": "52:54:00:00:00:01", "from": "sw1.p3", "to": "sw1.p4"}]
    assert data["summary"]["mac_moves"] == 1


def test_a_run_without_moves_has_no_mac_moves_table(tmp_path, capsys):
    assert main(["run", str(TOPOLOGIES / "two-vms-one-adapter.yaml"), "--out", str(tmp_path)]) == 0
    assert "MAC moves" not in capsys.readouterr().out


def test_a_flapping_mac_is_counted_past_the_moves_listed(tmp_path, capsys):
    from vswitch.scenario import context
    path = tmp_path / "flap.yaml"
    path.write_text('switches: [{name: sw1}]\n'
                    'hosts: [{name: a, mac: "02:00:00:00:00:01"}, {name: b, mac: "02:00:00:00:00:02"}]\n'
                    'links: [[a, sw1.p1], [b, sw1.p2]]\n'
                    'scenario:\n'
                    '  - send: {from: a, src: "02:00:00:00:00:09", dst: broadcast, count: 4, interval: 2us}\n'
                    '  - at: 1us\n'
                    '    send: {from: b, src: "02:00:00:00:00:09", dst: broadcast, count: 4, interval: 2us}\n')
    keep = context.MAC_MOVES_KEPT
    context.MAC_MOVES_KEPT = 3
    try:
        assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    finally:
        context.MAC_MOVES_KEPT = keep
    text = capsys.readouterr().out
    moves = text.split("MAC moves\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(moves) == 2 + 3 + 1
    assert moves[-1] == "... and 4 more moves (the first 3 are listed)"


# -- explain: numbers, names, NAME#N ----------------------------------------------------------------------------
UDP_EXAMPLE = str(TOPOLOGIES / "guests-udp-and-stream.yaml")


def explained(capsys, *argv) -> list[str]:
    assert main(["explain", *argv]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("frame ")]


def test_explain_takes_a_session_name_and_gives_its_probes_in_order(capsys):
    headers = explained(capsys, UDP_EXAMPLE, "echo")
    assert len(headers) == 10
    assert [h.split()[2] for h in headers] == [f"(echo#{n})" for n in range(1, 11)]
    ids = [int(h.split()[1]) for h in headers]
    assert ids == sorted(ids) and len(set(ids)) == 10
    # the first datagram waited for ARP: frames 1 and 2 are the request and its reply
    assert ids[0] == 3


@pytest.mark.parametrize("name, count", [("echo", 10), ("discard", 5), ("sink-hello", 1), ("load", 1000)])
def test_explain_name_n_is_the_n_th_frame_of_the_name_and_the_same_as_its_number(name, count, capsys):
    headers = explained(capsys, UDP_EXAMPLE, f"{name}#{count}")
    [header] = headers
    number = header.split()[1]
    by_number = capsys.readouterr  # (for readability below)
    assert main(["explain", UDP_EXAMPLE, number]) == 0
    again = by_number().out
    assert main(["explain", UDP_EXAMPLE, f"{name}#{count}"]) == 0
    assert by_number().out.split("\n", 1)[1] == again.split("\n", 1)[1]  # the same hops


def test_explain_name_n_past_the_frames_of_the_name_exits_2(capsys):
    assert main(["explain", UDP_EXAMPLE, "echo#11"]) == 2
    assert capsys.readouterr() == ("", f"vswitch: {UDP_EXAMPLE}: no frame echo#11: echo sent 10 frames before the "
                                       "run ended (echo#1 to echo#10)\n")
    assert main(["explain", UDP_EXAMPLE, "echo#0"]) == 2


def test_explain_an_unknown_name_lists_session_and_stream_names_too(capsys):
    assert main(["explain", UDP_EXAMPLE, "nosuch#2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"vswitch: {UDP_EXAMPLE}: no frame named 'nosuch#2' (named frames: closed-port, discard, echo, "
                   "load, sink-hello; or give NAME#N, the N-th frame of a name, or a frame number)\n")


def test_the_frame_number_in_a_capture_comment_is_the_one_explain_takes(tmp_path, capsys):
    assert main(["run", UDP_EXAMPLE, "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    [header] = explained(capsys, UDP_EXAMPLE, "echo#4")
    number = header.split()[1]
    assert main(["explain", UDP_EXAMPLE, number]) == 0
    hops = capsys.readouterr().out.splitlines()[1:-2]
    captured = [(interface, comment) for interface, comment in comments(tmp_path / "all.pcapng")
                if comment.startswith(f"#{number} ")]
    assert captured  # client.eth0 is a capture point: it sent this datagram
    for interface, comment in captured:
        assert any(f" {interface}: " in hop for hop in hops), (interface, hops)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)")
def test_readme_link_tshark_finds_a_frame_number_and_explain_prints_its_hops(capsys):
    """The README's Wireshark section: the frame's records at every capture point are the hops explain prints."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^tshark -r (\S+) -Y '(frame\.comment contains \"#(\d+) \")' .*$", readme, re.M)
    assert command, "the README shows tshark finding a frame number"
    pcap, display_filter, number = command.groups()
    assert f"vswitch explain topologies/two-vms-one-adapter.yaml {number}\n" in readme
    done = subprocess.run(["tshark", "-r", str(ROOT / pcap), "-Y", display_filter, "-T", "fields",
                           "-e", "frame.interface_name", "-e", "frame.comment"], capture_output=True, text=True,
                          check=True)
    records = [line.split("\t") for line in done.stdout.splitlines()]
    assert len(records) >= 3 and all(comment.startswith(f"#{number} ") for _, comment in records)
    assert main(["explain", str(TOPOLOGIES / "two-vms-one-adapter.yaml"), number]) == 0
    hops = capsys.readouterr().out.splitlines()[1:-2]
    hop_ports = [hop.split()[1].rstrip(":") for hop in hops]
    outputs = {port for hop in hops if " -> " in hop for port in hop.split(" -> ")[1].split(" (")[0].split(", ")}
    for interface, _ in records:  # every record is a hop of the frame, or the port a hop sent it out of
        assert interface in hop_ports or interface in outputs, (interface, hops)
    assert main(["explain", str(TOPOLOGIES / "two-vms-one-adapter.yaml"), "h1-to-vm1#1"]) == 0
    by_name = capsys.readouterr().out.splitlines()
    assert by_name[0] == f"frame {number} (h1-to-vm1#1)" and by_name[1:-2] == hops  # the README's third line
