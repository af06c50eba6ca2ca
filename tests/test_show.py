"""``vswitch show``: the settings of switches, ports, static entries, vNICs and adapters, as columns shown only
when the file uses them."""

import re
from pathlib import Path

from vswitch.topology.build import build_network
from vswitch.cli import main
from vswitch.scenario.show import link_rows, machine_rows, port_rows, static_rows, switch_rows
from vswitch.topology.loader import load_topology, load_topology_text

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"


def built(name):
    return build_network(load_topology(TOPOLOGIES / name))


def show(path, capsys):
    assert main(["show", str(path)]) == 0
    return capsys.readouterr().out


def by(rows, key):
    return {row[key]: row for row in rows}


def test_a_file_without_the_settings_shows_the_columns_it_always_did(capsys):
    out = show(TOPOLOGIES / "two-vms-one-adapter.yaml", capsys)
    headers = [line.split() for line in out.splitlines() if line.startswith(("switch", "machine"))]
    assert headers == [["switch", "port", "connected", "to", "flags", "changed"],
                       ["machine", "VM", "interface", "MAC", "vendor", "attached", "to"]]
    net = built("two-vms-one-adapter.yaml")
    assert switch_rows(net) == [{"switch": "sw1"}] and static_rows(net) == []


def test_vlan_filtering_switches_show_each_ports_pvid_and_vlans():
    net = built("vlan-access-trunk.yaml")
    assert switch_rows(net) == [{"switch": "sw1", "vlan_filtering": "on, 802.1Q"},
                                {"switch": "sw2", "vlan_filtering": "on, 802.1Q"}]
    ports = by(port_rows(net), "switch port")
    assert {name: (row["pvid"], row["vlans"]) for name, row in ports.items()} == {
        "sw1.p1": (10, "10 untagged"), "sw1.p2": (20, "20 untagged"), "sw1.p9": ("none", "10, 20 tagged"),
        "sw2.p1": (10, "10 untagged"), "sw2.p2": (20, "20 untagged"), "sw2.p3": ("none", "10 tagged"),
        "sw2.p9": ("none", "10, 20 tagged")}
    assert "max_macs" not in ports["sw1.p1"]  # no port security in the file: no column
    assert all("vlan" not in row and "spoofchk" not in row for row in machine_rows(net))


def test_the_vlan_columns_are_printed(capsys):
    out = show(TOPOLOGIES / "vlan-access-trunk.yaml", capsys)
    assert re.search(r"^switch\s+vlan_filtering$", out, re.M)
    assert re.search(r"^sw1\s+on, 802\.1Q$", out, re.M)
    assert re.search(r"^switch port\s+connected to\s+flags changed\s+pvid\s+vlans$", out, re.M)
    assert re.search(r"^sw1\.p1\s+h1\.eth0\s+-\s+10\s+10 untagged$", out, re.M)
    assert re.search(r"^sw1\.p9\s+sw2\.p9\s+-\s+none\s+10, 20 tagged$", out, re.M)


def test_vnics_show_their_sriov_controls_and_adapters_their_mac_filter(capsys):
    rows = machine_rows(built("sriov-controls.yaml"))
    settings = {row["interface"]: (row["trust"], row["state"], row["max_tx_rate"], row["mac_filter_size"])
                for row in rows}
    assert settings == {
        "hv1.host": ("-", "-", "-", 4), "vm1.eth0": ("-", "auto", "-", "-"), "vm2.eth0": ("-", "disable", "-", "-"),
        "vm3.eth0": ("-", "enable", "10Mbps", "-"), "vm4.eth0": ("-", "enable", "-", "-"),
        "hv2.host": ("-", "-", "-", 64), "vm5.eth0": ("on", "-", "-", "-"), "h1.eth0": ("-", "-", "-", "-")}
    assert "vlan" not in rows[0] and "spoofchk" not in rows[0]  # set by no VM of the file
    out = show(TOPOLOGIES / "sriov-controls.yaml", capsys)
    assert re.search(r"^hv1\s+vm3\s+vm3\.eth0\s+52:54:00:00:00:03\s+QEMU/KVM\s+hv1 \(mode bridge\)\s+-\s+enable\s+"
                     r"10Mbps\s+-$", out, re.M)
    assert re.search(r"^hv1\s+-\s+hv1\.host\s+.*adapter, mode bridge\s+-\s+-\s+-\s+4$", out, re.M)


def test_port_security_shows_max_macs_and_the_violation_action(capsys):
    net = built("attack-mac-flooding-port-security.yaml")
    assert switch_rows(net) == [{"switch": "sw1", "table_limit": "64 (refuse)"}]
    ports = by(port_rows(net), "switch port")
    assert {name: (row["max_macs"], row["violation"]) for name, row in ports.items()} == {
        "sw1.p1": ("-", "-"), "sw1.p2": ("-", "-"), "sw1.p4": (4, "drop"), "sw1.p5": (4, "shutdown")}
    assert "pvid" not in ports["sw1.p4"]
    out = show(TOPOLOGIES / "attack-mac-flooding-port-security.yaml", capsys)
    assert re.search(r"^sw1\.p5\s+eve\.eth0\s+-\s+4\s+shutdown$", out, re.M)


def test_port_vlans_with_qos_and_protocol_and_a_vlan_aware_host_bridge():
    rows = by(machine_rows(built("vlan-vnics.yaml")), "interface")
    assert {name: row["vlan"] for name, row in rows.items() if row["VM"] != "-"} == {
        "vm1.eth0": "10 qos 3", "vm2.eth0": "10", "vm3.eth0": "20", "vm4.eth0": "-", "vm6.eth0": "10",
        "vm7.eth0": "20"}
    assert rows["hv2.host"]["attached to"] == "host bridge, vlan_filtering"
    qinq = by(machine_rows(built("vlan-qinq.yaml")), "interface")
    assert qinq["vm1.eth0"]["vlan"] == "100 proto 802.1ad"


LAB = """
switches:
  - name: sw1
    vlan_filtering: true
    storm_limit: 8
    ports:
      p1: {pvid: 10, isolated: true}
      p2: {pvid: none, vlans: [10, {vid: 20, untagged: true}]}
    static:
      - {mac: "02:00:00:00:00:99", port: p2, vlan: 20}
      - {mac: "02:00:00:00:00:98", port: p2}
  - name: sw2
    ageing: 10s
    static: [{mac: "02:00:00:00:00:97", port: p1}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms: [{name: vm1, mac: "52:54:00:00:00:01", spoofchk: true, trust: false}, {name: vm2}]
links: [[hv1, sw1.p1], [sw1.p2, sw2.p1]]
"""


def test_switch_settings_static_entries_and_spoofchk():
    net = build_network(load_topology_text(LAB))
    assert switch_rows(net) == [
        {"switch": "sw1", "ageing": "300s", "vlan_filtering": "on, 802.1Q", "storm_limit": 8},
        {"switch": "sw2", "ageing": "10s", "vlan_filtering": "off", "storm_limit": 16}]
    assert static_rows(net) == [  # no vlan: every VLAN the port carries, as bridge fdb add does
        {"switch": "sw1", "static MAC": "02:00:00:00:00:98", "port": "p2", "vlans": "10, 20"},
        {"switch": "sw1", "static MAC": "02:00:00:00:00:99", "port": "p2", "vlans": "20"},
        {"switch": "sw2", "static MAC": "02:00:00:00:00:97", "port": "p1", "vlans": "-"}]
    ports = by(port_rows(net), "switch port")
    assert (ports["sw1.p1"]["flags changed"], ports["sw1.p2"]["vlans"]) == ("isolated", "20 untagged; 10 tagged")
    assert (ports["sw2.p1"]["pvid"], ports["sw2.p1"]["vlans"]) == ("-", "-")  # sw2 is VLAN-unaware
    vms = by(machine_rows(net), "interface")
    assert (vms["vm1.eth0"]["spoofchk"], vms["vm1.eth0"]["trust"]) == ("on", "off")
    assert (vms["vm2.eth0"]["spoofchk"], vms["vm2.eth0"]["trust"]) == ("off", "-")
    assert (vms["hv1.host"]["spoofchk"], vms["hv1.host"]["trust"]) == ("-", "-")  # not a vNIC
    assert "mac_filter_size" not in vms["hv1.host"]


def test_addresses_and_link_settings_are_shown_when_the_file_sets_them(capsys):
    text = """\
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}
  - {name: h2, mac: "02:00:00:00:00:02"}
links:
  - {a: h1, b: sw1.p1, latency: 1.5us, bandwidth: 1Gbps}
  - [h2, sw1.p2]
"""
    net = build_network(load_topology_text(text))
    assert link_rows(net) == [{"link": "h1.eth0--sw1.p1", "latency": "1.5us", "bandwidth": "1Gbps"},
                              {"link": "h2.eth0--sw1.p2", "latency": "0s", "bandwidth": "-"}]
    assert [(row["interface"], row["IPv4"]) for row in machine_rows(net)] == [("h1.eth0", "192.0.2.1/24"),
                                                                            ("h2.eth0", "-")]
    assert link_rows(build_network(load_topology_text(text.replace(", latency: 1.5us, bandwidth: 1Gbps", "")))) == []
