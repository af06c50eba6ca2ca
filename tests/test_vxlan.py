"""VXLAN switch ports without root: the RFC 7348 bytes (as Scapy and Wireshark read them), the remote VTEPs learned
per MAC as Linux's vxlan FDB learns them, the 50 bytes of overhead against the MTU, and the ``vxlan:`` key's
errors. The live tunnels (real sockets, a Linux vxlan peer) are tests/test_live_vxlan.py's."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.utils import wrpcap

from vswitch.core.reasons import DropReason
from vswitch.kernel.scope import unsupported
from vswitch.l2.vxlan import OVERHEAD, RemoteTable, VxlanEndpoint, decapsulate, encapsulate, endpoints
from vswitch.scenario.report import render, tunnel_rows
from vswitch.scenario.report_json import vxlan
from vswitch.scenario.runner import ScenarioRunner
from vswitch.scenario.show import port_rows
from vswitch.topology.build import build_network
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.loader import load_topology_text

H1, FAR = "02:00:00:00:00:01", "02:00:00:00:00:77"
INNER = bytes(Ether(src=FAR, dst=H1) / IP(src="192.0.2.77", dst="192.0.2.1") / ICMP(id=7, seq=1) / b"ping")

LAB = """
name: vx
switches:
  - name: sw1
    ports:
      p9: {vxlan: {local: 10.0.0.1, remote: [10.0.0.2, 10.0.0.3], vni: 42}}
hosts: [{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}]
links: [[h1, sw1]]
"""


def test_the_header_is_rfc_7348s_as_scapy_builds_it() -> None:
    payload = encapsulate(42, INNER)
    assert payload[:8] == bytes.fromhex("08000000 00002a00")  # I flag, reserved, VNI 42, reserved
    assert payload == bytes(VXLAN(vni=42, flags=0x08) / Ether(INNER))
    assert encapsulate(0xABCDEF, INNER)[4:7] == b"\xab\xcd\xef"


def test_decapsulation_takes_the_vni_and_ignores_the_reserved_bits() -> None:
    assert decapsulate(encapsulate(42, INNER)) == (42, INNER)
    noisy = bytes((0x08 | 0x80, 1, 2, 3, 0, 0, 42, 9)) + INNER  # reserved bits are ignored on receipt (RFC 7348)
    assert decapsulate(noisy) == (42, INNER)
    assert decapsulate(bytes(8) + INNER) is None  # I flag clear: no valid VNI
    assert decapsulate(encapsulate(42, INNER)[:21]) is None  # shorter than the header and an Ethernet header


@pytest.mark.vswitch_tshark
def test_wireshark_dissects_the_datagrams_cleanly(tmp_path: Path) -> None:
    """The payload as the socket sends it, in the outer headers the kernel adds: VXLAN, then the inner ICMP."""
    outer = Ether(src="02:00:00:00:aa:01", dst="02:00:00:00:aa:02") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(
        sport=4789, dport=4789) / encapsulate(42, INNER)
    wrpcap(str(tmp_path / "tunnel.pcap"), [Ether(bytes(outer))])
    fields = ("_ws.malformed", "vxlan.vni", "vxlan.flags", "eth.src", "ip.dst", "icmp.type", "data.data")
    done = subprocess.run(["tshark", "-n", "-r", str(tmp_path / "tunnel.pcap"), "-T", "fields", "-E", "separator=/t",
                           *[arg for f in fields for arg in ("-e", f)]], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LC_ALL": "C"})
    assert done.returncode == 0, done.stderr
    row = dict(zip(fields, done.stdout.rstrip("\n").split("\t")))
    assert row["_ws.malformed"] == "" and row["vxlan.vni"] == "42" and row["vxlan.flags"] == "0x0800"
    assert row["eth.src"] == f"02:00:00:00:aa:01,{FAR}" and row["ip.dst"] == "10.0.0.2,192.0.2.1"
    assert row["icmp.type"] == "8" and row["data.data"] == b"ping".hex()


def test_bum_goes_to_every_remote_and_a_learned_mac_to_its_own() -> None:
    table = RemoteTable(["10.0.0.2", "10.0.0.3"], ageing_ns=300 * 10**9)
    far = bytes.fromhex(FAR.replace(":", ""))
    assert table.destinations(b"\xff" * 6 + far, 0) == ("10.0.0.2", "10.0.0.3")  # broadcast
    assert table.destinations(far + far, 0) == ("10.0.0.2", "10.0.0.3")  # unknown unicast
    table.learn(far, "10.0.0.3", 0)
    assert table.destinations(far + far, 1) == ("10.0.0.3",)
    assert table.destinations(bytes.fromhex("01005e000001") + far, 1) == ("10.0.0.2", "10.0.0.3")  # multicast
    table.learn(far, "10.0.0.9", 10)  # moved behind another VTEP (even one not configured: Linux learns it too)
    assert table.destinations(far + far, 11) == ("10.0.0.9",) and table.moves == 1
    assert table.rows(11) == [(FAR, "10.0.0.9", 1)]
    assert table.destinations(far + far, 10 + 300 * 10**9) == ("10.0.0.2", "10.0.0.3")  # aged out
    table.learn(b"\x01" + far[1:], "10.0.0.2", 0)  # a multicast source is never learned
    assert table.learned == {}


def _lab(text: str = LAB):
    """The lab built, with its one endpoint's datagrams collected in ``sent`` as (remote, payload)."""
    spec = load_topology_text(text, "vx.yaml")
    net = build_network(spec)
    (endpoint,) = endpoints(net.switches.values())
    sent: list[tuple[str, bytes]] = []

    def send(remote: str, payload: bytes) -> bool:
        sent.append((remote, payload))
        return True

    endpoint.transport = send
    return spec, net, endpoint, sent


def test_a_frame_from_the_tunnel_teaches_where_its_sender_is_and_the_answer_goes_there_alone() -> None:
    spec, net, endpoint, sent = _lab()
    frame = endpoint.arrived(encapsulate(42, INNER), "10.0.0.3", net.now)
    assert frame == INNER
    net.send_from_stack(endpoint.port, [(0, frame)])  # as the pacer does with what the socket read
    net.run()
    assert [d.frame[:12] for d in net.deliveries("h1")] == [INNER[:12]]
    assert ("02:00:00:00:00:77", "p9") in {(row.mac, row.port) for row in net.switch("sw1").table.rows(net.now)}
    sent.clear()
    answer = bytes(Ether(src=H1, dst=FAR, type=0x88B5) / b"answer")
    net.send("h1", answer)
    net.send("h1", bytes(Ether(src=H1, dst="ff:ff:ff:ff:ff:ff", type=0x88B5) / b"everyone"))
    net.run()
    assert [remote for remote, _ in sent] == ["10.0.0.3", "10.0.0.2", "10.0.0.3"]  # learned; then BUM to all
    assert decapsulate(sent[0][1]) == (42, answer + bytes(60 - len(answer)))  # padded by h1's NIC, as on a wire


def test_datagrams_of_another_vni_or_no_vxlan_are_counted_and_ignored() -> None:
    _, net, endpoint, _ = _lab()
    assert endpoint.arrived(encapsulate(43, INNER), "10.0.0.2", 0) is None
    assert endpoint.arrived(b"hello", "10.0.0.2", 0) is None
    assert endpoint.ignored == {"other_vni": 1, "not_vxlan": 1} and endpoint.datagrams_received == 0
    assert endpoint.table.learned == {}


def test_in_vswitch_run_frames_leaving_the_port_are_sent_into_the_tunnel_and_too_big_ones_dropped() -> None:
    """The tunnel's MTU is the underlay's 1500 less 50 bytes (outer Ethernet, IPv4, UDP, VXLAN), as Linux's."""
    spec, net, endpoint, sent = _lab(LAB + """
scenario:
  - {at: 1ms, send: {from: h1, dst: broadcast, name: hello}}
  - {at: 2ms, send: {from: h1, dst: "02:00:00:00:00:77", size: 1464, name: fits}}
  - {at: 3ms, send: {from: h1, dst: "02:00:00:00:00:77", size: 1465, name: too-big}}
""")
    assert OVERHEAD == 50 and endpoint.port.mtu == net.port("sw1.p9").mtu == 1450
    result = ScenarioRunner(spec, net).run()
    assert net.trace.delivered_to(result.frames["hello"][0]) == ["sw1.p9.vxlan"]
    assert net.trace.delivered_to(result.frames["fits"][0]) == ["sw1.p9.vxlan"]
    assert net.trace.drops(result.frames["too-big"][0]) == [("sw1.p9.vxlan", DropReason.OVERSIZE)]
    assert net.port("sw1.p9").counters.tx_dropped == {DropReason.OVERSIZE: 1}  # counted on the switch port
    assert [remote for remote, _ in sent] == ["10.0.0.2", "10.0.0.3"] * 2  # unknown unicast floods like BUM
    assert endpoint.datagrams_sent == 4 and [len(p) for _, p in sent][-1] == 1464 + 8
    assert tunnel_rows(net) == [{"port": "sw1.p9", "vni": 42, "remotes": "10.0.0.2, 10.0.0.3", "datagrams out": 4,
                                 "lost": 0, "in": 0, "ignored": "-", "learned (MAC at VTEP)": "-"}]


def test_the_report_counts_lost_and_ignored_datagrams_and_lists_the_learned_remotes() -> None:
    _, net, endpoint, _ = _lab(LAB.replace(", ip: 192.0.2.1/24", ""))  # no stack: h1 sends what the test sends
    endpoint.transport = lambda remote, payload: remote != "10.0.0.3"  # no route to 10.0.0.3
    net.send_from_stack(endpoint.port, [(0, endpoint.arrived(encapsulate(42, INNER), "10.0.0.2", 0))])
    endpoint.arrived(encapsulate(7, INNER), "10.0.0.2", 0)
    net.send("h1", bytes(Ether(src=H1, dst="ff:ff:ff:ff:ff:ff", type=0x88B5) / b"everyone"))
    net.run()
    (row,) = tunnel_rows(net)
    assert (row["datagrams out"], row["lost"], row["in"], row["ignored"], row["learned (MAC at VTEP)"]) == (
        1, 1, 1, "other_vni=1", f"{FAR} at 10.0.0.2")
    assert "VXLAN tunnels" in render(net, ScenarioRunner(load_topology_text(LAB, "vx.yaml"), net).finish())
    assert vxlan(net) == [{"port": "sw1.p9", "vni": 42, "remotes": ["10.0.0.2", "10.0.0.3"], "datagrams_out": 1,
                           "lost": 1, "in": 1, "ignored": {"not_vxlan": 0, "other_vni": 1},
                           "learned": [{"mac": FAR, "remote": "10.0.0.2", "age": "0s", "age_ns": 0}]}]


LINKED = LAB.replace("links: [[h1, sw1]]", "links: [[h1, sw1], [h2, sw1.p9]]").replace(
    "hosts: [", "hosts: [{name: h2, mac: \"02:00:00:00:00:02\"}, ")


@pytest.mark.parametrize("text, message", [
    (LAB.replace("remote: [10.0.0.2, 10.0.0.3]", "remote: 224.0.0.5"),
     "vx.yaml:6:45: switches[0].ports.p9.vxlan.remote: 224.0.0.5 is a multicast group: vswitch sends to each "
     "remote VTEP by unicast; list their addresses, e.g. remote: [10.0.0.2, 10.0.0.3]"),
    (LAB.replace("local: 10.0.0.1", "local: fe80::1"),
     "switches[0].ports.p9.vxlan.local: 'fe80::1' is not an IPv4 address, e.g. 10.0.0.1"),
    (LAB.replace("vni: 42", "vni: 16777216"), "switches[0].ports.p9.vxlan.vni: "),
    (LAB.replace("vni: 42", "vni: 42, port: 0"), "switches[0].ports.p9.vxlan.port: "),
    (LAB.replace("10.0.0.3]", "10.0.0.2]"), "switches[0].ports.p9.vxlan.remote: 10.0.0.2 is listed twice"),
    (LAB.replace("10.0.0.3]", "10.0.0.1]"),
     "switches[0].ports.p9.vxlan.remote: 10.0.0.1 is the local address: the remotes are the other VTEPs"),
    (LAB.replace("remote: [10.0.0.2, 10.0.0.3]", "remote: []"),
     "switches[0].ports.p9.vxlan.remote: give at least one remote VTEP, e.g. remote: 10.0.0.2"),
    (LAB.replace(", vni: 42", ""), "switches[0].ports.p9.vxlan: missing required key 'vni'"),
    (LAB.replace("vni: 42", "vni: 42, group: 239.1.1.1"), "switches[0].ports.p9.vxlan.group: unknown key 'group'"),
    (LINKED, "vx.yaml:8:20: links[1]: sw1.p9 is a VXLAN port: the tunnel is its cable; link another port (e.g. "
             "sw1, its next free port)"),
    (LAB.replace("      p9:", "      p8: {vxlan: {local: 10.0.0.1, remote: 10.0.0.5, vni: 7}}\n      p9:"),
     "switches[0].ports.p9.vxlan: sw1.p9 and sw1.p8 both listen on 10.0.0.1 port 4789: give each VXLAN port its "
     "own local address or port"),
])
def test_a_bad_vxlan_port_names_its_place_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(TopologyFileError) as error:
        load_topology_text(text, "vx.yaml")
    assert message in str(error.value)


def test_two_ports_on_one_address_with_other_udp_ports_are_fine() -> None:
    text = LAB.replace("      p9:", "      p8: {vxlan: {local: 10.0.0.1, remote: 10.0.0.5, vni: 7, port: 4790}}\n"
                                   "      p9:")
    net = build_network(load_topology_text(text, "vx.yaml"))
    assert [e.name for e in endpoints(net.switches.values())] == ["sw1.p8", "sw1.p9"]
    assert isinstance(net.port("sw1.p8").peer.node, VxlanEndpoint)


def test_show_names_the_tunnel_and_kernel_check_refuses_it() -> None:
    _, net, _, _ = _lab()
    assert {"switch port": "sw1.p9", "connected to": "VXLAN VNI 42 to 10.0.0.2, 10.0.0.3"}.items() <= next(
        row for row in port_rows(net) if row["switch port"] == "sw1.p9").items()
    assert unsupported(net) == ["sw1.p9: a VXLAN port: the kernel lab builds no tunnels (vswitch live joins Linux "
                                "vxlan devices: docs/live.md)"]
