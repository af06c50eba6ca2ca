"""The YAML keys, actions, expectations and report tables of VLANs, SR-IOV controls, port security and loops."""

import json

import pytest

from vswitch.topology.build import build_network
from vswitch.cli import main
from vswitch.core.errors import TopologyError
from vswitch.scenario.network_actions import send_frame
from vswitch.scenario.report import render
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.spec import PortVlanSpec, VFSpec
from vswitch.topology.loader import load_topology_text
from vswitch.l2.vlan import PortVlans

LAB = """
name: lab
switches:
  - name: sw1
    vlan_filtering: true
    storm_limit: 8
    ports:
      p1: {pvid: 10}
      p2: {pvid: 1, vlans: [10, {vid: 20, untagged: true}]}
      p3: {pvid: 10, max_macs: 2, violation: shutdown}
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h3, mac: "02:00:00:00:00:03"}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    mac_filter_size: 64
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01", vlan: 10, qos: 5, spoofchk: true, trust: false, state: auto,
         max_tx_rate: 100}
      - {name: vm2, mac: "52:54:00:00:00:02", max_tx_rate: 1Gbps}
links: [[h1, sw1.p1], [hv1, sw1.p2], [h3, sw1.p3]]
"""


def run(text):
    spec = load_topology_text(text)
    net = build_network(spec)
    return net, ScenarioRunner(spec, net).run()


def test_switch_port_and_vm_keys_become_spec_values():
    spec = load_topology_text(LAB)
    sw = spec.switches[0]
    assert (sw.vlan_filtering, sw.vlan_protocol, sw.storm_limit) == (True, "802.1Q", 8)
    assert sw.port_vlans == (("p1", PortVlanSpec(10, ())), ("p2", PortVlanSpec(1, ((10, False), (20, True)))),
                             ("p3", PortVlanSpec(10, ())))
    assert sw.port_security == (("p3", 2, "shutdown"),)
    hv = spec.hypervisors[0]
    assert hv.mac_filter_size == 64
    assert hv.vms[0].vf == VFSpec(vlan=10, qos=5, spoofchk=True, trust=False, state="auto", max_tx_rate_mbps=100)
    assert hv.vms[1].vf == VFSpec(max_tx_rate_mbps=1000)


def test_the_built_network_has_the_vlans_security_and_controls():
    net = build_network(load_topology_text(LAB))
    sw = net.switch("sw1")
    assert sw.port("p1").vlans == PortVlans.access(10)
    assert sw.port("p2").vlans == PortVlans(1, (10, 20), (1, 20))  # a pvid not listed is untagged
    assert sw.port("p3").vlans == PortVlans.access(10)
    assert sw.port("p3").security.describe() == "max 2 MACs, violation shutdown"
    assert sw.storm.limit == 8 and sw.storm.armed is False
    vf = net.vnics["vm1"].vf
    assert vf.describe() == "vlan 10 qos 5, spoofchk on, trust off, state auto, max_tx_rate 100Mbps"
    assert net.hypervisors["hv1"].adapter.mac_filter_size == 64


@pytest.mark.parametrize("snippet, message", [
    ("switches: [{name: sw1, ports: {p1: {pvid: 10}}}]", "need vlan_filtering: true"),
    ("switches: [{name: sw1, vlan_filtering: true, ports: {p1: {pvid: none}}}]", "carries nothing"),
    ("switches: [{name: sw1, ports: {p1: {violation: drop}}}]", "give max_macs too"),
    ("switches: [{name: sw1, storm_limit: 0}]", "out of range"),
    ("hypervisors: [{name: hv1, mac: '02:00:00:00:00:aa', vms: [{name: vm1, qos: 1}]}]", "give vlan too"),
    ("hypervisors: [{name: hv1, mac: '02:00:00:00:00:aa', vms: [{name: vm1, max_tx_rate: 1.5Mbps}]}]",
     "whole number of Mbps"),
    ("hypervisors: [{name: hv1, mac: '02:00:00:00:00:aa', backend: bridge, mac_filter_size: 8}]",
     "adapter's MAC filter"),
    ("hypervisors: [{name: hv1, mac: '02:00:00:00:00:aa', vlan_filtering: true}]", "host bridge VLAN-aware"),
    ("scenario: [{send: {from: h1, dst: broadcast, vlan: [10, {vid: 20, proto: q}]}}]", "802.1ad"),
    ("expect: [{loop: {}}]", "check detected, ports or storm_drops"),
    ("expect: [{vf: {vm: vm1}}]", "check at least one of"),
    ("expect: [{adapter: {hypervisor: hv1, filter: full}}]", "exact, overflow, unlimited"),
])
def test_mistakes_in_the_new_keys_are_reported_with_their_place(snippet, message):
    with pytest.raises(TopologyError, match=message):
        load_topology_text("hosts: [{name: h1, mac: '02:00:00:00:00:01'}]\n" + snippet)


def test_a_vm_vlan_on_a_bridge_without_vlan_filtering_fails_at_build_with_its_place():
    spec = load_topology_text("hypervisors: [{name: hv1, mac: '02:00:00:00:00:aa', backend: bridge, "
                              "vms: [{name: vm1, vlan: 10}]}]")
    with pytest.raises(TopologyError, match=r":1:\d+: hypervisors\[0\].vms\[0\]: .*needs vlan_filtering"):
        build_network(spec)


SCENARIO = LAB + """
scenario:
  - at: 0s
    send: {from: h1, dst: broadcast, vlan: [10, {vid: 20, pcp: 3, proto: 802.1ad}], name: tagged}
  - interface: {name: vm1, promiscuous: true}
  - at: 10us
    vf: {vm: vm1, spoofchk: false, vlan: 0}
  - at: 20us
    send: {from: vm1, dst: broadcast, src: "02:00:00:00:00:99", name: forged}
  - at: 30us
    stream: {from: h3, dst: broadcast, count: 3, interval: 1us, name: three-macs,
             vary: [{field: eth.src, start: "02:00:00:00:03:00"}]}
expect:
  - vf: {vm: vm1, promiscuous: false, refused: 1, link: up}
  - adapter: {hypervisor: hv1, filter: exact, entries: 3}
  - port_security: {port: sw1.p3, shut_down: true, violations: 1}
  - loop: {detected: false, storm_drops: 0}
  - delivered: {frame: forged, to: vm2}           # spoofchk off now; VLAN 1 (no port VLAN)
"""


def test_the_vf_action_and_the_new_expectations_run():
    net, result = run(SCENARIO)
    assert [c.description for c in result.checks if not c.passed] == []
    assert net.vnics["vm1"].vf.vlan is None and not net.vnics["vm1"].vf.spoofchk
    [tagged] = result.frames["tagged"]
    sent = [e for e in net.trace.for_frame(tagged)][0]
    assert sent.outcome.name == "TRANSMITTED"


def test_send_vlan_builds_the_tags_outermost_first():
    spec = load_topology_text(SCENARIO)
    net = build_network(spec)
    frame = send_frame(net, spec.scenario[0].action)
    assert frame[12:16] == bytes.fromhex("8100000a") and frame[16:20] == bytes.fromhex("88a86014")


def test_the_report_shows_vlans_vfs_filters_and_port_security():
    net, result = run(SCENARIO)
    text = render(net, result)
    for title in ("VLANs", "SR-IOV vNICs", "Adapter MAC filters", "Port security"):
        assert f"\n{title}\n" in f"\n{text}"
    assert "pvid 1; 1, 20 untagged; 10 tagged" in text
    assert "shut down at 32us" in text and "promiscuous 1" in text


def test_json_output_has_the_security_tables(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(SCENARIO)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    security = json.loads(capsys.readouterr().out)["security"]
    assert set(security) == {"vlans", "sriov_vnics", "adapter_mac_filters", "table_limits", "port_security", "loops"}
    assert security["port_security"][0]["violations"] == 1
