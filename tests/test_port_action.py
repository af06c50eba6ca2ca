"""The port keys of the scenario's ``port`` action: VLANs replaced mid-run, MAC limits changed mid-run."""

import pytest

from vswitch.topology.build import build_network
from vswitch.core.errors import ScenarioError, TopologyError
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.scenario_reader import PortAction
from vswitch.topology.spec import ActionSpec, PortVlanSpec
from vswitch.topology.loader import load_topology_text
from vswitch.l2.vlan import PortVlans

H1, H2, H3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
VLANS = f"""
name: move
switches:
  - name: sw1
    vlan_filtering: true
    ports:
      p1: {{pvid: 10}}
      p2: {{pvid: 10}}
      p3: {{pvid: 20}}
      p4: {{pvid: none, vlans: [10, 20]}}
hosts:
  - {{name: h1, mac: "{H1}"}}
  - {{name: h2, mac: "{H2}"}}
  - {{name: h3, mac: "{H3}"}}
  - {{name: t, mac: "02:00:00:00:00:04"}}
links: [[h1, sw1.p1], [h2, sw1.p2], [h3, sw1.p3], [t, sw1.p4]]
"""


def run(text, filename="lab.yaml"):
    spec = load_topology_text(text, filename)
    net = build_network(spec)
    return net, ScenarioRunner(spec, net).run()


def failures(result):
    return [(c.description, c.actual) for c in result.checks if not c.passed]


def test_a_port_moved_from_vlan_10_to_20_takes_its_frames_along_and_forgets_vlan_10():
    net, result = run(VLANS + f"""
scenario:
  - at: 0s
    send: {{from: h1, dst: broadcast, name: before}}
  - send: {{from: t, dst: broadcast, vlan: 10, name: trunk-10}}
  - send: {{from: t, dst: broadcast, vlan: 20, name: trunk-20}}
  - at: 1ms
    expect: {{table: {{switch: sw1, vlan: 10, mac: "{H1}", port: p1}}}}
  - expect: {{table_size: {{switch: sw1, entries: 3}}}}
  - at: 2ms
    port: {{port: sw1.p1, pvid: 20}}
  - port: {{port: sw1.p4, pvid: none, vlans: [20]}}  # the trunk drops VLAN 10, keeps 20
  - at: 3ms
    send: {{from: h1, dst: broadcast, name: after}}
  - send: {{from: h2, to: h1, name: h2-to-h1}}        # VLAN 10: h1 is no longer there
  - send: {{from: h3, to: h1, name: h3-to-h1}}        # VLAN 20: it is now
expect:
  - delivered: {{frame: before, to: [h2, t], only: true}}
  - delivered: {{frame: after, to: [h3, t], only: true}}
  - not_delivered: {{frame: h2-to-h1, to: h1}}
  - delivered: {{frame: h3-to-h1, to: h1, only: true}}
  - table: {{switch: sw1, vlan: 10, mac: "{H1}", absent: true}}
  - table: {{switch: sw1, vlan: 10, mac: "02:00:00:00:00:04", absent: true}}
  - table: {{switch: sw1, vlan: 20, mac: "02:00:00:00:00:04", port: p4}}
  - table: {{switch: sw1, vlan: 20, mac: "{H1}", port: p1}}
""")
    assert failures(result) == []
    sw = net.switch("sw1")
    assert sw.port("p1").vlans == PortVlans.access(20)
    assert sw.port("p4").vlans == PortVlans(None, (20,))
    [(vlan, port)] = [(r.vlan, r.port) for r in sw.table.rows(net.now) if r.mac == H1]
    assert (vlan, port) == (20, "p1")


def test_the_action_replaces_the_vlans_as_a_ports_entry_declares_them():
    spec = load_topology_text(VLANS + """
scenario:
  - port: {port: sw1.p4, pvid: 1, vlans: [10, {vid: 30, untagged: true}]}
  - port: {port: sw1.p1, vlans: [20]}
  - port: {port: sw1.p2, pvid: 30, learning: false}
""")
    assert [a.action.vlans for a in spec.scenario] == [PortVlanSpec(1, ((10, False), (30, True))),
                                                        PortVlanSpec(None, ((20, False),)), PortVlanSpec(30, ())]
    assert spec.scenario[2].action.flags == (("learning", False),) and spec.scenario[2].action.security is None
    net = build_network(spec)
    ScenarioRunner(spec, net).run()
    sw = net.switch("sw1")
    assert sw.port("p4").vlans == PortVlans(1, (10, 30), (1, 30))  # pvid not listed: untagged, as under ports
    assert sw.port("p1").vlans == PortVlans(None, (20,))              # no pvid given with vlans: none
    assert sw.port("p2").vlans == PortVlans.access(30) and sw.port("p2").learning is False


def test_static_entries_stay_when_their_vlan_leaves_the_port():
    spec = load_topology_text(VLANS + "scenario: [{at: 1ms, port: {port: sw1.p4, vlans: [20]}}]\n")
    net = build_network(spec)
    sw = net.switch("sw1")
    sw.table.add_static(10, bytes.fromhex("020000000099"), "p4")
    sw.table.learn(10, bytes.fromhex("020000000098"), "p4", 0)
    ScenarioRunner(spec, net).run()
    assert [(r.vlan, r.mac, r.static) for r in sw.table.rows(net.now)] == [(10, "02:00:00:00:00:99", True)]


SECURE = f"""
name: secure
switches:
  - name: sw1
    ports:
      p1: {{max_macs: 4}}
hosts:
  - {{name: h1, mac: "{H1}"}}
  - {{name: h2, mac: "{H2}"}}
links: [[h1, sw1.p1], [h2, sw1.p2]]
scenario:
  - at: 0s
    stream: {{from: h1, dst: broadcast, count: 3, interval: 1us, name: three,
             vary: [{{field: eth.src, start: "02:00:00:00:01:00"}}]}}
  - at: 1ms
    expect: {{table_size: {{switch: sw1, entries: 3}}}}
"""


def test_a_limit_lowered_below_the_learned_count_keeps_the_entries_and_refuses_new_sources():
    net, result = run(SECURE + """
  - at: 2ms
    port: {port: sw1.p1, max_macs: 1}
  - at: 3ms
    send: {from: h1, to: h2, src: "02:00:00:00:01:01", name: known}
  - send: {from: h1, to: h2, name: new}
expect:
  - delivered: {frame: known, to: h2}
  - dropped: {frame: new, reason: port_security, at: sw1.p1}
  - table_size: {switch: sw1, entries: 3}
  - port_security: {port: sw1.p1, shut_down: false, violations: 1}
""")
    assert failures(result) == []
    assert net.switch("sw1").port("p1").security.describe() == "max 1 MACs, violation drop"


def test_a_shut_down_port_stays_shut_when_its_limit_changes_until_its_cable_bounces():
    net, result = run(SECURE + """
  - at: 2ms
    port: {port: sw1.p1, max_macs: 3, violation: shutdown}
  - at: 3ms
    send: {from: h1, to: h2, name: fourth}           # a fourth source: violation, shut down
  - at: 4ms
    port: {port: sw1.p1, max_macs: 100}              # raised: still err-disabled
  - at: 5ms
    send: {from: h1, to: h2, name: while-shut}
  - at: 6ms
    expect: {port_security: {port: sw1.p1, shut_down: true, violations: 1}}
  - link: {a: h1, up: false}
  - at: 7ms
    link: {a: h1, up: true}
  - at: 8ms
    send: {from: h1, to: h2, name: reopened}
expect:
  - dropped: {frame: fourth, reason: port_security}
  - dropped: {frame: while-shut, reason: port_shut_down}
  - delivered: {frame: reopened, to: h2}
  - port_security: {port: sw1.p1, shut_down: false, violations: 1}
""")
    assert failures(result) == []
    assert net.switch("sw1").port("p1").security.describe() == "max 100 MACs, violation drop"


def test_max_macs_gives_a_port_without_port_security_a_limit():
    net, result = run(SECURE.replace("p1: {max_macs: 4}", "p2: {}") + """
  - port: {port: sw1.p1, max_macs: 3}
  - at: 2ms
    send: {from: h1, to: h2, name: fourth}
expect:
  - dropped: {frame: fourth, reason: port_security}
""")
    assert failures(result) == []
    assert net.switch("sw1").filtered


@pytest.mark.parametrize("action, message", [
    ("{port: sw1.p1, pvid: 20}", r"lab.yaml:10:32: scenario\[0\].port.pvid: port VLANs need vlan_filtering: true on "
                                 r"switch sw1 \(line 3\)"),
    ("{port: sw1.p1, vlans: [20]}", r"scenario\[0\].port.vlans: port VLANs need vlan_filtering"),
    ("{port: hv1.uplink, vlans: [20]}", r"scenario\[0\].port.vlans: hv1 is a host bridge: .*with a vf action"),
    ("{port: sw1.p1}", r"scenario\[0\].port: set at least one flag .* or port key \(pvid, vlans, max_macs"),
    ("{port: sw1.p1, violation: shutdown}", r"scenario\[0\].port.violation: .*give max_macs too"),
    ("{port: sw1.p1, max_macs: 2, violation: off}", r"scenario\[0\].port.violation: expected one of drop, shutdown"),
    ("{port: sw1.p1, max_macs: -1}", r"scenario\[0\].port.max_macs"),
])
def test_mistakes_in_the_port_keys_name_their_place_and_the_fix(action, message):
    text = f"""
switches:
  - name: sw1
    ports: {{p1: {{}}}}
hosts: [{{name: h1, mac: "{H1}"}}]
hypervisors:
  - {{name: hv1, mac: "02:00:00:00:00:aa", backend: bridge, vlan_filtering: true, vms: [{{name: vm1, vlan: 10}}]}}
links: [[h1, sw1.p1], [hv1, sw1.p2]]
scenario:
  - port: {action}
"""
    with pytest.raises(TopologyError, match=message):
        load_topology_text(text, "lab.yaml")


def test_a_vlan_filtering_switch_takes_the_keys_and_pvid_none_alone_is_refused():
    load_topology_text(VLANS + "scenario: [{port: {port: sw1.p1, pvid: 30}}]\n")
    with pytest.raises(TopologyError, match=r"scenario\[0\].port.pvid: a port with no pvid and no vlans carries"):
        load_topology_text(VLANS + "scenario: [{port: {port: sw1.p1, pvid: none}}]\n")


def test_vlans_set_through_the_api_on_a_vlan_unaware_switch_fail_at_run_time():
    spec = load_topology_text(SECURE)
    net = build_network(spec)
    spec = spec.__class__(**{**spec.__dict__, "scenario": (ActionSpec(0, PortAction(
        port="sw1.p1", flags=(), vlans=PortVlanSpec(20, ()), security=None)),)})
    with pytest.raises(ScenarioError, match="sw1.p1: port VLANs need vlan_filtering on switch sw1"):
        ScenarioRunner(spec, net).run()
