"""A hypervisor's 802.1Q interfaces (eth0.N, ``hv1.N``) and the vNICs stacked on them, against the kernel's rules:
``vlan_do_receive`` takes a tagged frame before eth0's macvlan does, the macvlan rules then run on eth0.N with
eth0.N as the host stack, and a tagged frame no VLAN interface takes is PACKET_OTHERHOST to eth0's stack."""

import pytest

from conftest import BROADCAST, receivers
from vswitch import DropReason, Network, TopologyError, Verdict
from vswitch.core.frame import TPID_8021Q, push_tag
from vswitch.l2.sriov import VFControls
from vswitch.topology.loader import load_topology_text
from vswitch.topology.diagnostics import TopologyFileError

H1, HV, OWN20 = "02:00:00:00:00:01", "02:00:00:00:00:aa", "02:00:00:00:20:aa"
VM1, VM2, VM3, VM4 = "52:54:00:00:10:01", "52:54:00:00:10:02", "52:54:00:00:20:01", "52:54:00:00:00:01"
UNKNOWN = "02:00:00:00:99:99"


def raw(src: str, dst: str, body: bytes = b"\x88\xb5hello") -> bytes:
    """An untagged frame (ethertype 0x88b5, local experimental) padded to 60 bytes."""
    frame = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + body
    return frame + bytes(60 - len(frame))


def tagged(vid: int, src: str, dst: str) -> bytes:
    return push_tag(raw(src, dst), TPID_8021Q, 0, vid)


def lab(mode: str = "bridge") -> Network:
    """h1 -- sw1 -- hv1: eth0.10 (hv1's MAC) with vm1, vm2 on it; eth0.20 (its own MAC) with vm3; vm4 on eth0."""
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", H1)
    net.add_hypervisor("hv1", HV, mode=mode)
    net.add_host_vlan("hv1", 10)
    net.add_host_vlan("hv1", 20, OWN20)
    net.add_vm("hv1", "vm1", VM1, on="hv1.10")
    net.add_vm("hv1", "vm2", VM2, on=10)
    net.add_vm("hv1", "vm3", VM3, on="hv1.20")
    net.add_vm("hv1", "vm4", VM4)
    net.connect("h1", "sw1")
    net.connect("hv1", "sw1")
    return net


def sent(net: Network, name: str, frame: bytes) -> int:
    frame_id = net.send(name, frame)
    net.run()
    return frame_id


def inbox(net: Network, name: str) -> list[bytes]:
    return [d.frame for d in net.deliveries(name)]


# -- from the cable ---------------------------------------------------------------------------------------------
def test_a_tagged_broadcast_reaches_its_vlan_interface_and_the_vnics_on_it_untagged():
    net = lab()
    frame_id = sent(net, "h1", tagged(10, H1, BROADCAST))
    assert receivers(net, frame_id) == ["hv1.10", "vm1.eth0", "vm2.eth0"]
    assert inbox(net, "vm1") == inbox(net, "hv1.10") == [raw(H1, BROADCAST)]  # the tag stays on the cable
    assert ("hv1.uplink", Verdict.REPLICATED) in [(e.port, e.outcome) for e in net.trace.for_frame(frame_id)]


def test_tagged_unicast_goes_to_the_vnic_of_its_vlan_untagged():
    net = lab()
    frame_id = sent(net, "h1", tagged(10, H1, VM1))
    assert receivers(net, frame_id) == ["vm1.eth0"]
    assert inbox(net, "vm1") == [raw(H1, VM1)]


@pytest.mark.parametrize("dst", [UNKNOWN, VM4, VM3], ids=["unknown", "vnic-on-eth0", "vnic-of-vlan-20"])
def test_tagged_unicast_no_vnic_of_its_vlan_owns_is_dropped_by_the_vlan_interfaces_stack(dst):
    net = lab()
    frame_id = sent(net, "h1", tagged(10, H1, dst))
    assert receivers(net, frame_id) == []
    assert net.trace.drops(frame_id) == [("hv1.10", DropReason.NOT_FOR_US)]
    hop = [e for e in net.trace.for_frame(frame_id) if e.port == "hv1.uplink"][0]
    assert hop.outcome is Verdict.TO_VLAN_INTERFACE


def test_tagged_unicast_to_the_vlan_interfaces_own_mac_is_its_own():
    net = lab()
    assert receivers(net, sent(net, "h1", tagged(10, H1, HV))) == ["hv1.10"]  # eth0.10 has eth0's MAC
    assert receivers(net, sent(net, "h1", tagged(20, H1, OWN20))) == ["hv1.20"]
    # eth0.20 has a MAC of its own but takes eth0's too: vlan_do_receive keeps the PACKET_HOST eth0 gave it
    assert receivers(net, sent(net, "h1", tagged(20, H1, HV))) == ["hv1.20"]
    assert receivers(net, sent(net, "h1", tagged(10, H1, OWN20))) == []  # not eth0.20's MAC in VLAN 10
    assert receivers(net, sent(net, "h1", raw(H1, HV))) == ["hv1.host"]  # untagged: eth0's


def test_a_vlan_without_an_interface_goes_on_through_eth0_and_eth0s_stack_drops_it():
    net = lab()
    frame_id = sent(net, "h1", tagged(30, H1, BROADCAST))
    assert receivers(net, frame_id) == ["vm4.eth0"]  # eth0's macvlan never reads a tag
    assert net.trace.drops(frame_id) == [("hv1.host", DropReason.VLAN_NO_INTERFACE)]
    assert net.port("hv1.host").counters.rx_dropped[DropReason.VLAN_NO_INTERFACE] == 1
    assert receivers(net, sent(net, "h1", tagged(30, H1, VM4))) == ["vm4.eth0"]


def test_a_promiscuous_host_interface_takes_a_vlan_it_has_no_interface_for_as_any_frame_not_for_it():
    """PACKET_OTHERHOST either way: Linux's packet socket on a promiscuous eth0 (or eth0.10, for an inner tag) sees
    it, as it sees unicast for another MAC (kernel-check in its VM found vswitch dropping it: docs/fidelity.md)."""
    net = lab()
    net.set_rx_mode("hv1.host", promiscuous=True)
    assert receivers(net, sent(net, "h1", tagged(30, H1, BROADCAST))) == ["hv1.host", "vm4.eth0"]
    net.set_rx_mode("hv1.10", promiscuous=True)
    assert receivers(net, sent(net, "h1", push_tag(tagged(20, H1, BROADCAST), TPID_8021Q, 0, 10))) == [
        "hv1.10", "vm1.eth0", "vm2.eth0"]


def test_a_priority_tag_is_no_vlan_and_an_inner_tag_behind_eth0_10_is_otherhost_there():
    net = lab()
    assert receivers(net, sent(net, "h1", tagged(0, H1, BROADCAST))) == ["hv1.host", "vm4.eth0"]
    double = push_tag(tagged(20, H1, BROADCAST), TPID_8021Q, 0, 10)
    frame_id = sent(net, "h1", double)
    assert receivers(net, frame_id) == ["vm1.eth0", "vm2.eth0"]
    assert net.trace.drops(frame_id) == [("hv1.10", DropReason.VLAN_NO_INTERFACE)]


def test_with_port_vlans_the_nics_vlan_filter_drops_a_vlan_without_an_interface():
    net = lab()
    net.add_vm("hv1", "vf1", "52:54:00:00:40:01", vf=VFControls(vlan=40))
    frame_id = sent(net, "h1", tagged(30, H1, BROADCAST))
    assert net.trace.drops(frame_id) == [("hv1.uplink", DropReason.VLAN_NOT_ALLOWED)]
    assert receivers(net, sent(net, "h1", tagged(10, H1, BROADCAST))) == ["hv1.10", "vm1.eth0", "vm2.eth0"]
    assert receivers(net, sent(net, "h1", tagged(40, H1, BROADCAST))) == ["vf1.eth0"]


def test_a_vlan_interface_that_is_down_takes_its_vlan_down_with_it():
    net = lab()
    net.set_admin_state("hv1.10", False)
    frame_id = sent(net, "h1", tagged(10, H1, VM1))
    assert net.trace.drops(frame_id) == [("hv1.uplink", DropReason.INTERFACE_DOWN)]
    assert receivers(net, sent(net, "h1", tagged(20, H1, VM3))) == ["vm3.eth0"]
    frame_id = sent(net, "vm1", raw(VM1, VM2))  # a macvlan on a down eth0.10 has no carrier: not even to vm2
    assert net.trace.drops(frame_id) == [("vm1.eth0", DropReason.LINK_DOWN)]
    assert net.hypervisors["hv1"].adapter.vnic_link_up(net.vnics["vm1"]) is False
    net.set_admin_state("hv1.10", True)
    assert receivers(net, sent(net, "vm1", raw(VM1, VM2))) == ["vm2.eth0"]


# -- from the host and its vNICs ------------------------------------------------------------------------------
def test_what_a_vlan_interface_sends_leaves_tagged():
    net = lab()
    frame_id = sent(net, "hv1.20", raw(OWN20, H1))
    assert receivers(net, frame_id) == ["h1.eth0"]
    assert inbox(net, "h1") == [tagged(20, OWN20, H1)]


def test_a_stacked_vnics_broadcast_reaches_its_bridge_siblings_untagged_and_the_cable_tagged():
    net = lab()
    frame_id = sent(net, "vm1", raw(VM1, BROADCAST))
    assert receivers(net, frame_id) == ["h1.eth0", "vm2.eth0"]  # not vm3, vm4 (other VLANs), not hv1.10 (no hairpin)
    assert inbox(net, "vm2") == [raw(VM1, BROADCAST)]
    assert inbox(net, "h1") == [tagged(10, VM1, BROADCAST)]


def test_stacked_vnics_bridge_unicast_inside_their_vlan_only():
    net = lab()
    frame_id = sent(net, "vm1", raw(VM1, VM2))
    assert receivers(net, frame_id) == ["vm2.eth0"]
    assert [e.outcome for e in net.trace.for_frame(frame_id)][1] is Verdict.BRIDGED
    net.set_rx_mode("h1", promiscuous=True)  # to see what leaves the adapter
    frame_id = sent(net, "vm1", raw(VM1, VM4))  # vm4 is on eth0: another VLAN, so out on the cable, tagged
    assert receivers(net, frame_id) == ["h1.eth0"]
    assert inbox(net, "h1")[-1] == tagged(10, VM1, VM4)


def test_vepa_on_a_vlan_interface_hairpins_through_the_switch():
    net = lab("vepa")
    net.switch("sw1").set_flag("p2", "hairpin", True)
    frame_id = sent(net, "vm1", raw(VM1, VM2))
    assert receivers(net, frame_id) == ["vm2.eth0"]
    assert inbox(net, "vm2") == [raw(VM1, VM2)]


# -- migration -----------------------------------------------------------------------------------------------
def test_a_vm_on_a_vlan_interface_migrates_onto_the_targets_interface_of_that_vid():
    net = lab()
    net.add_hypervisor("hv2", "02:00:00:00:00:bb")
    net.add_host_vlan("hv2", 10)
    net.connect("hv2", "sw1")
    net.detach_vm("vm1")
    net.attach_vm("vm1", "hv2")
    assert receivers(net, sent(net, "h1", tagged(10, H1, VM1))) == ["vm1.eth0"]
    assert inbox(net, "vm1")[-1] == raw(H1, VM1)
    net.detach_vm("vm3")
    with pytest.raises(TopologyError, match=r"hypervisor hv2 has no VLAN interface 20 \(it has: hv2.10\)"):
        net.attach_vm("vm3", "hv2")


# -- mistakes ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda net: net.add_host_vlan("hv1", 10), "adapter hv1 already has a VLAN interface hv1.10"),
    (lambda net: net.add_host_vlan("hv1", 4095), "adapter hv1: VLAN interface 4095: a VLAN ID is 1 to 4094"),
    (lambda net: net.add_vm("hv1", "vm9", on="hv1.30"), "hypervisor hv1 has no VLAN interface 'hv1.30' "
                                                         "(it has: hv1.10, hv1.20)"),
    (lambda net: net.add_vm("hv1", "vm9", on="hv1.10", vf=VFControls(vlan=5)),
     "vm9.eth0: a vNIC on VLAN interface hv1.10 is untagged behind it and takes no port VLAN (vlan); give one or "
     "the other"),
    (lambda net: net.add_vm("hv1", "vm9", vf=VFControls(vlan=10)),
     "vm9.eth0: VLAN 10 is VLAN interface hv1.10's: stack the vNIC on it (on: hv1.10) instead of a port VLAN"),
    (lambda net: net.set_vf("vm4", vlan=20),
     "vm4.eth0: VLAN 20 is VLAN interface hv1.20's: stack the vNIC on it (on: hv1.20) instead of a port VLAN"),
    (lambda net: (net.add_hypervisor("hv3"), net.add_host_vlan("hv3", 10),
                  net.add_vm("hv3", "vm9", on="hv3.10", mode="passthru")),
     "vm9.eth0: passthru takes the whole adapter, not VLAN interface hv3.10"),
    (lambda net: (net.add_hypervisor("hv3"), net.add_host_vlan("hv3", 10), net.add_vm("hv3", "vm9", mode="passthru")),
     "adapter hv3 has VLAN interfaces: passthru cannot take the whole adapter"),
    (lambda net: (net.add_hypervisor("hv3"), net.add_vm("hv3", "vm9", mode="passthru"), net.add_host_vlan("hv3", 10)),
     "adapter hv3 is owned by a passthru vNIC: it has no VLAN interfaces"),
    (lambda net: net.add_hypervisor("xb", backend="bridge").add_vlan(10),
     "hypervisor xb: VLAN interfaces (vlans) need an adapter (backend: adapter); a host bridge's guests take a "
     "vlan each (vlan_filtering)"),
])
def test_mistakes_are_refused_naming_the_fix(change, message):
    net = lab()
    with pytest.raises(TopologyError) as caught:
        change(net)
    assert str(caught.value) == message


def test_the_mac_filter_holds_a_vlan_interfaces_own_mac():
    net = Network()
    net.add_hypervisor("hv1", HV, mac_filter_size=4)
    net.add_host_vlan("hv1", 10)  # eth0's MAC: no new entry
    assert net.hypervisors["hv1"].adapter.filter_entries() == 1
    net.add_host_vlan("hv1", 20, OWN20)
    assert net.hypervisors["hv1"].adapter.filter_entries() == 2


# -- the topology file -------------------------------------------------------------------------------------------
FILE = """
switches: [{name: sw1}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    %s
    vms:
      - {name: vm1, %s}
  - {name: hv2, mac: "02:00:00:00:00:bb", %s}
links: [[hv1, sw1.p1], [hv2, sw1.p2]]
scenario:
  - migrate: {vm: vm1, to: hv2}
"""


@pytest.mark.parametrize("vlans, vm, hv2, message", [
    ("vlans: [{vid: 10}]", "on: hv1.20", "vlans: [{vid: 10}]",
     "<string>:8:25: hypervisors[0].vms[0].on: 'hv1.20' is no VLAN interface of hypervisor hv1 (it has: hv1.10); "
     "write on: hv1.VID"),
    ("vlans: [{vid: 10}, {vid: 10}]", "on: hv1.10", "vlans: [{vid: 10}]",
     "<string>:6:30: hypervisors[0].vlans[1].vid: hypervisor hv1 already has VLAN interface hv1.10: each VID once"),
    ("vlans: [{vid: 10}]", "on: hv1.10, vlan: 10", "vlans: [{vid: 10}]",
     "<string>:8:25: hypervisors[0].vms[0].on: a vNIC on hv1.10 is untagged behind it and takes no port VLAN: "
     "give on or vlan, not both"),
    ("vlans: [{vid: 10}]", "on: hv1.10", "backend: bridge",
     "<string>:12:28: scenario[0].migrate.to: vm1 is on VLAN interface hv1.10: hypervisor hv2 needs one of VLAN 10 "
     "for it to land on (vlans: [{vid: 10}])"),
    ("vlans: [{vid: 10}]", "on: hv1.10", "backend: bridge, vlans: [{vid: 10}]",
     "<string>:9:67: hypervisors[1].vlans: host VLAN interfaces (eth0.N) sit on an adapter (backend: adapter); on a "
     "host bridge give each guest its vlan (vlan_filtering: true)"),
])
def test_file_mistakes_name_the_place_and_the_fix(vlans, vm, hv2, message):
    with pytest.raises(TopologyFileError) as caught:
        load_topology_text(FILE % (vlans, vm, hv2))
    assert message in str(caught.value).splitlines()


def test_an_attach_that_would_land_a_stacked_vm_on_no_interface_is_refused_when_the_file_is_read():
    text = (FILE % ("vlans: [{vid: 10}]", "on: hv1.10", "vlans: [{vid: 20}]")).replace(
        "  - migrate: {vm: vm1, to: hv2}", "  - detach: vm1\n  - attach: {vm: vm1, hypervisor: hv2}")
    with pytest.raises(TopologyFileError) as caught:
        load_topology_text(text)
    assert str(caught.value).endswith("vm1 is on VLAN interface hv1.10: hypervisor hv2 needs one of VLAN 10 for it to "
                                      "land on (vlans: [{vid: 10}])")
