"""Host VLAN interfaces on every path a user meets: the example file's run, its captures (tags on the cable, not
on the vNIC side), explain, show, the report's adapter table and the topology picture."""

from pathlib import Path

from vswitch.cli import main
from vswitch.pcap.reader import CaptureReader
from vswitch.report.diagram import items_of, render_svg
from vswitch.report.mermaid import topology_mermaid
from vswitch.scenario.report import demux_rows
from vswitch.scenario.runner import ScenarioRunner
from vswitch.scenario.show import machine_rows
from vswitch.topology.build import build_network
from vswitch.topology.guest_check import pingall_members
from vswitch.topology.guest_reader import PingallAction
from vswitch.topology.loader import load_topology

EXAMPLE = Path(__file__).resolve().parent.parent / "topologies" / "host-vlan-interfaces.yaml"
TPID_8021Q = b"\x81\x00"


def frames(path):
    return [record.frame for record in CaptureReader(path)]


def ran(tmp_path):
    spec = load_topology(EXAMPLE)
    net = build_network(spec, capture_dir=tmp_path)
    result = ScenarioRunner(spec, net).run()
    net.close()
    return result


def test_the_example_passes_and_its_cable_carries_tags_its_vnics_do_not(tmp_path):
    result = ran(tmp_path)
    assert all(check.passed for check in result.checks)
    cable, vnic, interface = (frames(tmp_path / name) for name in ("sw1-p2.pcap", "vm1.pcap", "hv1-10.pcap"))
    assert vnic and interface and cable
    assert not any(f[12:14] == TPID_8021Q for f in vnic + interface)
    vids = {int.from_bytes(f[14:16], "big") & 0xFFF for f in cable if f[12:14] == TPID_8021Q}
    assert vids == {10, 20, 30}
    from_vm1 = [f for f in cable if f[6:12] == bytes.fromhex("525400001001")]
    assert from_vm1 and all(f[12:16] == b"\x81\x00\x00\x0a" for f in from_vm1)  # VLAN 10, priority 0
    assert {f[:12] + f[16:] for f in from_vm1} <= set(vnic)  # the same bytes, the tag aside


def test_explain_names_the_vlan_interface_that_took_the_frame(capsys):
    assert main(["explain", str(EXAMPLE), "tagged-miss"]) == 0
    out = capsys.readouterr().out
    assert "hv1.uplink: to the host's VLAN interface (no vNIC of its VLAN owns the destination) -> hv1.10" in out
    assert "hv1.10: dropped: destination not accepted by the receive filter" in out
    assert main(["explain", str(EXAMPLE), "no-interface"]) == 0
    out = capsys.readouterr().out
    assert "hv1.host: dropped: tagged with a VLAN the host has no VLAN interface for (PACKET_OTHERHOST)" in out


def test_show_lists_each_vlan_interface_and_where_each_vm_is_stacked():
    rows = {row["interface"]: row for row in machine_rows(build_network(load_topology(EXAMPLE)))}
    assert rows["hv1.10"]["attached to"] == "adapter, VLAN 10 (eth0.10)"
    assert (rows["hv1.20"]["MAC"], rows["hv1.20"]["IPv4"]) == ("02:00:00:00:20:aa", "10.0.20.1/24")
    assert rows["vm1.eth0"]["attached to"] == "hv1 (mode bridge, on hv1.10)"
    assert rows["vm4.eth0"]["attached to"] == "hv1 (mode bridge)"


def test_the_adapter_table_shows_the_interfaces_and_a_migrated_vm_on_its_new_one(tmp_path):
    rows = [(r["adapter"], r["destination"]) for r in demux_rows(ran(tmp_path).network)]
    assert ("hv1", "hv1.10 (own, VLAN 10)") in rows and ("hv1", "vm1.eth0 (on hv1.10)") in rows
    assert ("hv2", "vm2.eth0 (on hv2.10)") in rows and ("hv1", "vm4.eth0") in rows


def test_the_picture_draws_the_vlan_interfaces_and_the_stacked_vms():
    net = build_network(load_topology(EXAMPLE))
    hv1 = [item for item in items_of(net) if item.name == "hv1"][0]
    assert [b.label for b in hv1.badges] == ["hv1.10 (eth0.10)", "hv1.20 (eth0.20)"]
    assert [b.label for vm in hv1.vms for b in vm.badges] == ["on hv1.10", "on hv1.10", "on hv1.20"]
    assert "hv1.20 02:00:00:00:20:aa" in render_svg(net, "host-vlan-interfaces")


def test_the_mermaid_picture_puts_stacked_vms_under_their_vlan_interface():
    text = topology_mermaid(build_network(load_topology(EXAMPLE)))
    assert '    n_hv1_vlan10["hv1.10 (eth0.10)<br/>02:00:00:00:00:aa"]' in text.splitlines()
    edges = {line.strip() for line in text.splitlines() if " --- " in line}
    assert {"n_hv1 --- n_hv1_vlan10", "n_hv1_vlan10 --- n_vm1", "n_hv1_vlan20 --- n_vm3", "n_hv1 --- n_vm4"} <= edges


def test_pingall_takes_the_vlan_interfaces_after_their_hypervisors_own_stack():
    members = pingall_members(load_topology(EXAMPLE), PingallAction())
    assert members == [("h1", "h1.eth0"), ("h2", "h2.eth0"), ("hv1.10", "hv1.10"), ("hv1.20", "hv1.20"),
                       ("vm1", "vm1.eth0"), ("vm2", "vm2.eth0"), ("vm3", "vm3.eth0")]
