"""Static FDB entries and their ``vlan`` (``bridge fdb add MAC dev PORT master static [vlan VID]``).

The kernel's ``br_fdb_add`` (net/bridge/br_fdb.c): with a VID, the port must have that VLAN ("RTM_NEWNEIGH with
unconfigured vlan", -EINVAL); without one, the entry is added with VLAN 0 and then "for every vlan on this port".
"""

import pytest

from vswitch.topology.build import build_network
from vswitch.core.errors import TopologyError
from vswitch.core.reasons import Verdict
from vswitch.scenario.runner import ScenarioRunner
from vswitch.l2.switch import LearningSwitch
from vswitch.topology.loader import load_topology_text
from vswitch.l2.vlan import PortVlans
from vswitch.topology.diagnostics import TopologyFileError

STATIC = "02:00:00:00:00:99"

LAB = f"""\
name: static-vlan
switches:
  - name: sw1
    vlan_filtering: true
    ports:
      p1: {{pvid: 10}}
      p2: {{pvid: 20}}
      p3: {{pvid: none, vlans: [10, 20]}}
      p4: {{pvid: 20}}
    static:
      - {{mac: "{STATIC}", port: p3, vlan: 10}}
hosts:
  - {{name: h1, mac: "02:00:00:00:00:01"}}
  - {{name: h2, mac: "02:00:00:00:00:02"}}
  - {{name: h3, mac: "{STATIC}"}}
  - {{name: h4, mac: "02:00:00:00:00:04"}}
links: [[h1, sw1.p1], [h2, sw1.p2], [h3, sw1.p3], [h4, sw1.p4]]
scenario:
  - send: {{from: h1, dst: "{STATIC}", name: in-10}}
  - at: 10us
    send: {{from: h2, dst: "{STATIC}", name: in-20}}
expect:
  - delivered: {{frame: in-10, to: h3, only: true}}
  - table: {{switch: sw1, vlan: 10, mac: "{STATIC}", port: p3}}
  - table: {{switch: sw1, vlan: 20, mac: "{STATIC}", absent: true}}
"""


def switch_hop(net, result, name):
    """The trace event of frame ``name`` at the switch port it entered by."""
    (frame_id,) = result.frames[name]
    return next(e for e in net.trace.for_frame(frame_id) if e.port.startswith("sw1."))


def test_the_static_mac_in_its_vlan_goes_to_its_port_and_in_another_vlan_floods():
    spec = load_topology_text(LAB, "lab.yaml")
    assert spec.switches[0].static[0][1:] == ("p3", 10)
    net = build_network(spec)
    result = ScenarioRunner(spec, net).run()
    assert result.passed, [c.actual for c in result.checks if not c.passed]
    in_10, in_20 = switch_hop(net, result, "in-10"), switch_hop(net, result, "in-20")
    assert (in_10.port, in_10.outcome, in_10.outputs) == ("sw1.p1", Verdict.FORWARDED, ("sw1.p3",))
    assert (in_20.port, in_20.outcome, in_20.outputs) == ("sw1.p2", Verdict.FLOODED_UNKNOWN, ("sw1.p3", "sw1.p4"))


def test_without_vlan_the_entry_is_in_every_vlan_the_port_carries():
    net = build_network(load_topology_text(LAB.replace(", vlan: 10}", "}")))
    assert [(r.vlan, r.port) for r in net.switch("sw1").table.rows(0) if r.static] == [(10, "p3"), (20, "p3")]


def test_on_a_vlan_unaware_switch_the_entry_is_in_its_one_table():
    net = build_network(load_topology_text(f'switches: [{{name: sw1, static: [{{mac: "{STATIC}", port: p1}}], '
                                           'ports: {p1: {}}}]'))
    assert [(r.vlan, r.port, r.static) for r in net.switch("sw1").table.rows(0)] == [(1, "p1", True)]


def error_of(text):
    with pytest.raises(TopologyFileError) as caught:
        load_topology_text(text, "lab.yaml")
    return str(caught.value).splitlines()


def test_vlan_on_a_vlan_unaware_switch_is_an_error_with_its_place_and_fix():
    assert error_of(LAB.replace("    vlan_filtering: true\n", "").replace(
        "    ports:\n      p1: {pvid: 10}\n      p2: {pvid: 20}\n      p3: {pvid: none, vlans: [10, 20]}\n"
        "      p4: {pvid: 20}\n", "")) == [
        "lab.yaml:5:52: switches[0].static[0].vlan: a static entry's vlan needs vlan_filtering: true on the switch "
        "(a VLAN-unaware switch has one table for all frames): set it, or leave vlan out"]


@pytest.mark.parametrize("entry, message", [
    ("{port: p3, vlan: 30}", "port p3 does not carry VLAN 30 (it carries 10, 20), and the Linux bridge refuses an "
                             "entry in a VLAN the port lacks: add 30 to its vlans, or give one of those"),
    ("{port: p9, vlan: 10}", "port p9 does not carry VLAN 10 (it carries 1: the default of a port given no pvid or "
                             "vlans), and the Linux bridge refuses an entry in a VLAN the port lacks: add 10 to its "
                             "vlans, or give one of those"),
    ("{port: p3, vlan: 0}", "VLAN 0 matches no frame on a VLAN-filtering switch: give a VID from 1 to 4094, or "
                            "leave vlan out to put the entry in every VLAN the port carries"),
    ("{port: p3, vlan: 4095}", "4095 is out of range: expected 1 to 4094"),
])
def test_a_vlan_the_port_cannot_hold_is_an_error_with_its_place(entry, message):
    text = LAB.replace("{mac: \"02:00:00:00:00:99\", port: p3, vlan: 10}",
                       "{mac: \"02:00:00:00:00:99\", " + entry[1:])
    (line,) = error_of(text)
    assert line.startswith("lab.yaml:11:") and line.split(": ", 2)[1:] == ["switches[0].static[0].vlan", message]


def test_the_switch_api_follows_bridge_fdb_add():
    sw = LearningSwitch("sw1", vlan_filtering=True)
    sw.add_port("p1")
    sw.set_vlans("p1", PortVlans(1, (10, 20), (1,)))
    mac = bytes.fromhex("020000000099")
    assert sw.add_static(mac, "p1") == (1, 10, 20)
    assert sw.add_static(mac, "p1", 20) == (20,)
    with pytest.raises(TopologyError, match=r"sw1\.p1: the port does not carry VLAN 30 "
                                            r"\(pvid 1; 1 untagged; 10, 20 tagged\); add it to the port's vlans"):
        sw.add_static(mac, "p1", 30)
    plain = LearningSwitch("sw2")
    plain.add_port("p1")
    assert plain.add_static(mac, "p1") == (1,)
    with pytest.raises(TopologyError, match="vlan 10 needs vlan_filtering on switch sw2; leave vlan out"):
        plain.add_static(mac, "p1", 10)
