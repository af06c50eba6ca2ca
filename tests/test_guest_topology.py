"""Guest keys in topology files: stacks, actions and expectations, and every mistake named with file, line, field.

Files are checked whole before anything is built: a bad name or address fails ``load`` and writes nothing."""

from __future__ import annotations

import json
from ipaddress import IPv4Interface

import pytest

from vswitch.topology.build import build_network
from vswitch.cli import main
from vswitch.core.errors import TopologyError
from vswitch.scenario.runner import ScenarioRunner
from vswitch.guests.stackdriver import stack_of
from vswitch.topology.loader import load_topology, load_topology_text

LAB = """\
name: lab
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}
  - {name: h2, nics: [{mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}, {mac: "02:00:00:00:00:22"}]}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    ip: 192.0.2.100/24
    vms:
      - {name: vm1, ip: 192.0.2.11/24, arp_timeout: 10s}
      - {name: vm2, ip: 192.0.2.12/24, arp_notify: false}
      - {name: vm3}
links: [[h1, sw1.p1], [hv1, sw1.p2], [h2.eth0, sw1.p3]]
"""


def run(text: str, tmp_path=None):
    spec = load_topology_text(text, "lab.yaml")
    net = build_network(spec)
    return net, ScenarioRunner(spec, net).run()


def diagnostics(text: str) -> list[str]:
    with pytest.raises(TopologyError) as caught:
        load_topology_text(text, "lab.yaml")
    return str(caught.value).splitlines()


def test_stacks_are_read_with_defaults_and_attached_when_built():
    spec = load_topology_text(LAB, "lab.yaml")
    h1, h2 = spec.hosts
    vm1, vm2, vm3 = spec.hypervisors[0].vms
    assert h1.nics[0].guest.interface == IPv4Interface("192.0.2.1/24")
    assert (h2.nics[0].guest.interface.ip.exploded, h2.nics[1].guest) == ("192.0.2.2", None)
    assert (vm1.guest.arp_timeout_ns, vm1.guest.arp_notify) == (10 * 10**9, True)
    assert (vm2.guest.arp_timeout_ns, vm2.guest.arp_notify) == (30 * 10**9, False)
    assert vm3.guest is None and spec.hypervisors[0].guest.interface.ip.exploded == "192.0.2.100"
    assert (h1.nics[0].guest.where.line, h1.nics[0].guest.where.path) == (4, "hosts[0].ip")
    net = build_network(spec)
    assert str(stack_of(net, "vm1").guest.interface) == "192.0.2.11/24"
    assert stack_of(net, "hv1.host").guest.mac == net.hypervisors["hv1"].host.mac
    with pytest.raises(TopologyError, match="vm3.eth0 has no guest stack"):
        stack_of(net, "vm3")


def test_ping_between_a_vm_and_a_host_succeeds_and_names_default():
    net, result = run(LAB + "scenario:\n  - ping: {from: vm1, to: h1, count: 2}\n"
                            "expect:\n  - ping: {name: ping-vm1-h1, succeeds: true, loss: 0%, transmitted: 2}\n")
    assert result.passed, result.checks
    assert list(result.sessions) == ["ping-vm1-h1"]
    assert result.sessions["ping-vm1-h1"].summary_text().startswith("2 packets transmitted, 2 received, 0% packet")


def test_a_hypervisor_name_means_its_own_interface():
    _, result = run(LAB + "scenario:\n  - arping: {from: hv1, to: h2.eth0, count: 2}\n"
                          "  - at: 5s\n    ping: {from: h1, to: hv1}\n"
                          "expect:\n  - ping: {name: arping-hv1-h2.eth0, received: 2}\n"
                          "  - ping: {name: ping-h1-hv1, received: 1}\n"
                          "  - arp_entry: {on: h1, ip: hv1, mac: \"02:00:00:00:00:aa\"}\n")
    assert result.passed, [c for c in result.checks if not c.passed]


def test_guest_expectations_report_what_they_saw():
    _, result = run(LAB + "scenario:\n  - udp: {from: h1, to: vm1, count: 3, port: 9}\n"
                          "expect:\n  - udp_received: {on: vm1, port: 9, from: h1, count: 2}\n"
                          "  - arp_entry: {on: vm1, ip: h1, absent: true}\n"
                          "  - ping: {name: udp-h1-vm1, succeeds: true}\n")
    assert [(c.passed, c.description, c.actual) for c in result.checks] == [
        (False, "vm1.eth0 received 2 UDP datagrams to port 9 from 192.0.2.1", "3 received"),
        (False, "vm1.eth0 has no ARP entry for 192.0.2.1", "192.0.2.1 at 02:00:00:00:00:01"),
        (False, "udp udp-h1-vm1 succeeds", "3 transmitted, 0 received, 100% loss")]  # port 9 does not answer


@pytest.mark.parametrize("action, messages", [
    ("ping: {from: vm1, to: vm9}", ["16:27: scenario[0].ping.to: nothing named 'vm9' (did you mean 'vm3'?)"]),
    ("ping: {from: vm1, to: 198.51.100.7}",
     ["16:27: scenario[0].ping.to: 198.51.100.7 is outside vm1.eth0's subnet 192.0.2.0/24: no gateways are "
      "modelled, give both ends addresses in one subnet"]),
    ("ping: {from: vm3, to: h1}",
     ["16:18: scenario[0].ping.from: vm3.eth0 has no address: give it one (ip: 192.0.2.10/24, or ip6: "
      "[2001:db8::10/64]) to send from it"]),
    ("arping: {from: vm1, to: vm3}",
     ["16:29: scenario[0].arping.to: vm3.eth0 has no address: give it one (ip: 192.0.2.10/24, or ip6: "
      "[2001:db8::10/64]) to use it"]),
    ("udp: {from: h1, to: 192.0.2.1}",
     ["16:25: scenario[0].udp.to: 192.0.2.1 is h1.eth0's own address: loopback is not modelled"]),
    ("ping: {from: h1, to: 192.0.2.255}",
     ["16:26: scenario[0].ping.to: 192.0.2.255 is a broadcast address: ping needs one host"]),
    ("ping: {from: h2, to: h1}",
     ["16:18: scenario[0].ping.from: nothing named 'h2': host h2 has several NICs, name one (h2.eth0, h2.eth1)"]),
    ("ping: {from: h1, to: vm1, size: 1500}",
     ["16:37: scenario[0].ping.size: 1500 is out of range: expected 0 to 1472"]),
    ("migrate: {vm: vm7, to: hv2}",
     ["16:19: scenario[0].migrate.vm: no VM named 'vm7' (did you mean 'vm3'?)",
      "16:28: scenario[0].migrate.to: no hypervisor named 'hv2' (did you mean 'hv1'?)"]),
    ("migrate: {vm: vm3, to: hv1, announce: xen}",
     ["16:43: scenario[0].migrate.announce: the xen announcement comes from the guest's stack (a gratuitous ARP, "
      "unsolicited neighbour advertisements): give vm3 an address (ip: 192.0.2.10/24 or ip6: [2001:db8::10/64]) or "
      "use announce: qemu"]),
    ("stream: {from: h1, to: vm1, count: 5, vary: [{field: ip.id}]}",
     ["16:49: scenario[0].stream.vary: ip.id exists only in udp streams: add udp: {src_ip: ..., dst_ip: ...}"]),
    ("udp: {from: h1, to: vm1, rate: 10, interval: 1ms}",
     ["16:36: scenario[0].udp.rate: 10 has no unit: write 10Gbps, 10Mbps, 10kbps or 10bps (or frames per second, "
      "e.g. 1000pps)", "16:36: scenario[0].udp.rate: give interval or rate, not both"]),
    ("replay: {file: ../secret.pcap, into: sw1.p1}",
     ["16:20: scenario[0].replay.file: replay file '../secret.pcap' must be a relative path inside the "
      "topology's folder (no '..'): copy or link the capture next to the topology file"]),
    ("replay: {file: missing.pcap, into: sw9.p1}",
     ["16:20: scenario[0].replay.file: cannot open missing.pcap: No such file or directory",
      "16:40: scenario[0].replay.into: no port 'sw9.p1': nothing named 'sw9' (did you mean 'sw1'?)"]),
])
def test_bad_guest_actions_name_file_line_and_field(action, messages):
    assert diagnostics(LAB + f"scenario:\n  - {action}\n") == [f"lab.yaml:{m}" for m in messages]


def test_every_problem_is_reported_at_once():
    lines = diagnostics(LAB + "scenario:\n  - ping: {from: vm1, to: vm9}\n  - ping: {from: h1, to: 10.0.0.1}\n"
                              "expect:\n  - ping: {name: pnig, succeeds: true}\n  - arp_entry: {on: vm3, ip: h1}\n")
    assert lines == [
        "lab.yaml:16:27: scenario[0].ping.to: nothing named 'vm9' (did you mean 'vm3'?)",
        "lab.yaml:17:26: scenario[1].ping.to: 10.0.0.1 is outside h1.eth0's subnet 192.0.2.0/24: no gateways are "
        "modelled, give both ends addresses in one subnet",
        "lab.yaml:19:18: expect[0].ping.name: no ping, arping or udp action is named 'pnig' (named: "
        "ping-h1-10.0.0.1, ping-vm1-vm9)",
        "lab.yaml:20:21: expect[1].arp_entry.on: vm3.eth0 has no address: give it one (ip: 192.0.2.10/24, or ip6: "
        "[2001:db8::10/64]) to use it"]


def test_duplicate_addresses_and_names_are_refused():
    text = LAB.replace("{name: vm3}", "{name: vm3, ip: 192.0.2.11/24}")
    assert diagnostics(text) == ["lab.yaml:13:25: hypervisors[0].vms[2].ip: duplicate address 192.0.2.11 "
                                 "(also vm1.eth0)"]
    text = LAB + "scenario:\n  - ping: {from: h1, to: vm1, name: a}\n  - arping: {from: h1, to: vm1, name: a}\n"
    assert diagnostics(text) == ["lab.yaml:17:39: scenario[1].arping.name: the name 'a' is used by two actions "
                                 "(also line 16)"]


@pytest.mark.parametrize("key, message", [
    ("ip: 192.0.2.1", "hosts[0].ip: '192.0.2.1' has no prefix length: write it as 192.0.2.1/24"),
    ("ip: 192.0.2.1/33", "hosts[0].ip: invalid IPv4 interface '192.0.2.1/33'"),
    ("arp_timeout: 5s", "hosts[0].arp_timeout: arp_timeout configures IPv4 (ARP): give the interface an IPv4 "
                        "address too"),
])
def test_bad_stack_keys(key, message):
    text = LAB.replace('{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}',
                       '{name: h1, mac: "02:00:00:00:00:01", ' + key + '}')
    assert any(message in line for line in diagnostics(text)), diagnostics(text)


def test_a_bad_file_writes_nothing(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB + "scenario:\n  - ping: {from: vm1, to: vm9}\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert "lab.yaml:16:27: scenario[0].ping.to: nothing named 'vm9'" in capsys.readouterr().err
    assert not out.exists()


def test_run_prints_the_ping_table_and_json_has_guest_sections(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB + "scenario:\n  - ping: {from: vm1, to: h1, count: 2, name: p}\n"
                          "expect:\n  - ping: {name: p, loss: 0%}\n")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Pings, arpings and UDP senders" in out and "ARP caches" in out and "Guest stacks" in out
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [row] = data["guests"]["sessions"]
    assert {k: row[k] for k in ("name", "kind", "from", "to", "transmitted", "received", "loss")} == {
        "name": "p", "kind": "ping", "from": "vm1.eth0", "to": "h1 (192.0.2.1)", "transmitted": 2, "received": 2,
        "loss": "0%"}
    assert {"interface": "h1.eth0", "neighbour": "192.0.2.11"}.items() <= data["guests"]["arp_caches"][0].items()
    assert data["warnings"] == []


def test_examples_load():
    for name in ("guests-ping-adapter-modes", "guests-arp-two-hypervisors", "migration-qemu-rarp",
                 "migration-xen-garp", "replay-capture", "guests-udp-and-stream"):
        assert load_topology(f"topologies/{name}.yaml").name == name
