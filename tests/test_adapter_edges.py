"""The adapter's edges that the truth tables do not reach: bad settings, an adapter without vNICs, detach and
re-attach, mixed modes, multicast from a bridge-mode vNIC, priority tags, and the VF checks on the datapath.

Each test here was written against a surviving mutant of ``vswitch/l2/adapter.py`` (docs/testing.md, Scores):
it asserts what a user sees (who received a frame, which drop reason, the whole error message)."""

import pytest

from conftest import BROADCAST, GROUP, lab, receivers, udp_frame
from vswitch import DropReason, Network, PhysicalAdapter, TopologyError, Verdict
from vswitch.core.frame import TPID_8021Q, push_tag
from vswitch.l2.nic import VNIC
from vswitch.l2.sriov import VFControls
from vswitch.scenario.security_report import filter_rows

H1, HV, VM1, VM2, VM3 = ("02:00:00:00:00:01", "02:00:00:00:00:aa", "52:54:00:00:00:01", "52:54:00:00:00:02",
                         "52:54:00:00:00:03")
UNKNOWN = "02:00:00:00:99:99"


def sent(net, name, frame):
    frame_id = net.send(name, frame)
    net.run()
    return frame_id


# -- settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: PhysicalAdapter(5, HV), "PhysicalAdapter: name must be a str, not int 5"),
    (lambda: PhysicalAdapter("ad", HV, "bogus"),
     "adapter ad: unknown mode 'bogus'; choose one of bridge, vepa, private, passthru"),
    (lambda: PhysicalAdapter("ad", HV, mac_filter_size=0), "adapter ad: mac_filter_size must be at least 1, got 0"),
    (lambda: PhysicalAdapter("ad", HV, mac_filter_size=True),
     "adapter ad: mac_filter_size must be at least 1, got True"),
    (lambda: PhysicalAdapter("ad", HV).detach("vm1"), "adapter ad: detach: vnic must be a VNIC, not str 'vm1'"),
    (lambda: PhysicalAdapter("ad", HV).detach(VNIC("vm1", VM1)), "vm1.eth0 is not attached to adapter ad"),
])
def test_bad_adapter_settings_are_refused_with_the_whole_message(make, message):
    with pytest.raises(TopologyError) as caught:
        make()
    assert str(caught.value) == message


def attached(*vnics):
    adapter = PhysicalAdapter("ad", HV)
    for vnic, mode in vnics:
        adapter.attach(vnic, mode)
    return adapter


@pytest.mark.parametrize("make, message", [
    (lambda: attached().attach("vm1"), "adapter ad: attach: vnic must be a VNIC, not str 'vm1'"),
    (lambda: attached().attach(VNIC("vm1", VM1), "bogus"),
     "vm1.eth0: unknown mode 'bogus'; choose one of bridge, vepa, private, passthru"),
    (lambda: attached((VNIC("vm1", VM1), None)).attach(VNIC("vm2", VM1)),
     "vm2.eth0: MAC 52:54:00:00:00:01 is already in use on adapter ad"),
    (lambda: attached().attach(VNIC("vm1", HV)), "vm1.eth0: MAC 02:00:00:00:00:aa is already in use on adapter ad"),
    (lambda: attached((VNIC("vm1", VM1), None)).attach(VNIC("vm2", VM2), "passthru"),
     "adapter ad: passthru takes the whole adapter, but vNICs are attached"),
    (lambda: attached((VNIC("vm1", VM1), "passthru")).attach(VNIC("vm2", VM2)),
     "adapter ad is owned by a passthru vNIC: no other vNIC can attach"),
])
def test_an_attach_the_adapter_cannot_take_is_refused_with_the_whole_message(make, message):
    with pytest.raises(TopologyError) as caught:
        make()
    assert str(caught.value) == message


def test_attaching_a_vnic_twice_is_refused_and_a_passthru_vnic_may_have_the_adapters_mac():
    vnic = VNIC("vm1", VM1)
    adapter = attached((vnic, None))
    with pytest.raises(TopologyError) as caught:
        adapter.attach(vnic)
    assert str(caught.value) == "vm1.eth0 is already attached to adapter ad"
    assert attached((VNIC("vm1", HV), "passthru")).demux_table() == [(HV, "vm1.eth0", "passthru")]


def test_a_new_adapter_decides_before_any_vnic_or_link():
    """A PhysicalAdapter of its own (no network, no refresh yet): what is not its own goes to its host stack, tag
    or no tag (it reads no tag without port VLANs), and it has no port VLANs and no promiscuous vNIC."""
    adapter = PhysicalAdapter("ad", HV)
    to_host = [(adapter.host.port.peer,), Verdict.TO_HOST]
    for frame in (udp_frame(H1, UNKNOWN), push_tag(udp_frame(H1, UNKNOWN), TPID_8021Q, 0, 10)):
        decision = adapter.handle_frame(adapter.uplink, frame, 0)
        assert [decision.outputs, decision.outcome] == to_host
    assert (adapter.vlan_keys, adapter.vlan_aware, adapter.promiscuous_vnic) == (set(), False, None)


def test_the_host_stacks_frames_leave_through_host_side_and_the_uplink():
    net = lab()
    frame_id = sent(net, "hv1.host", udp_frame(HV, H1))
    assert [(e.port, e.outcome) for e in net.trace.for_frame(frame_id)][:2] == [
        ("hv1.host", Verdict.TRANSMITTED), ("hv1.host-side", Verdict.TO_UPLINK)]


def test_a_vm_expectation_reads_the_vf_link_the_adapter_keeps():
    net = lab()
    net.set_vf("vm1", state="disable")
    adapter = net.hypervisors["hv1"].adapter
    assert [adapter.vnic_link_up(net.vnics[name]) for name in ("vm1", "vm2")] == [False, True]


def test_a_one_entry_mac_filter_holds_the_adapters_own_address():
    net = Network()
    net.add_host("h1", H1)
    net.add_hypervisor("hv1", HV, mac_filter_size=1)
    net.connect("h1", "hv1")
    adapter = net.hypervisors["hv1"].adapter
    assert (adapter.mac_filter_size, adapter.filter_entries(), adapter.filter_overflow) == (1, 1, False)
    assert net.trace.drops(sent(net, "h1", udp_frame(H1, UNKNOWN))) == [("hv1.uplink", DropReason.NOT_FOR_US)]


def test_an_adapter_without_vnics_hands_unknown_unicast_to_its_host_stack():
    net = Network()
    net.add_host("h1", H1)
    net.add_hypervisor("hv1", HV)
    net.connect("h1", "hv1")
    assert net.trace.drops(sent(net, "h1", udp_frame(H1, UNKNOWN))) == [("hv1.host", DropReason.NOT_FOR_US)]
    assert receivers(net, sent(net, "h1", udp_frame(H1, HV))) == ["hv1.host"]


# -- detach and attach again ---------------------------------------------------------------------------------------
def test_a_detached_vm_sends_nothing_and_counts_why():
    net = lab()
    net.detach_vm("vm1")
    frame_id = sent(net, "vm1", udp_frame(VM1, H1))
    assert receivers(net, frame_id) == [] and net.trace.drops(frame_id) == [("vm1.eth0", DropReason.NOT_CABLED)]


def test_a_detached_vf_with_controls_sends_nothing_either():
    net = lab()
    net.set_vf("vm1", spoofchk=True, max_tx_rate_mbps=100)
    net.detach_vm("vm1")
    frame_id = sent(net, "vm1", udp_frame(VM1, H1))
    assert net.trace.drops(frame_id) == [("vm1.eth0", DropReason.NOT_CABLED)]


def test_detaching_the_trusted_promiscuous_vnic_gives_the_misses_back_to_the_host_stack():
    net = lab()
    net.set_vf("vm1", trust=True)
    net.set_rx_mode("vm1", promiscuous=True)
    assert receivers(net, sent(net, "h1", udp_frame(H1, UNKNOWN))) == ["vm1.eth0"]
    net.detach_vm("vm1")
    frame_id = sent(net, "h1", udp_frame(H1, UNKNOWN))
    assert receivers(net, frame_id) == [] and net.trace.drops(frame_id) == [("hv1.host", DropReason.NOT_FOR_US)]


def test_once_the_passthru_vnic_leaves_another_vm_can_attach_and_the_adapter_has_its_mac_back():
    net = lab("passthru")
    net.detach_vm("vm1")
    net.add_vm("hv1", "vm2", VM2, mode="bridge")
    assert receivers(net, sent(net, "h1", udp_frame(H1, VM2))) == ["vm2.eth0"]
    assert receivers(net, sent(net, "h1", udp_frame(H1, HV))) == ["hv1.host"]


def bridge_host(net, name, mac):
    net.add_hypervisor(name, mac, backend="bridge")
    net.connect(name, "sw1", latency_ns=1000)


def test_a_vm_that_leaves_passthru_for_a_host_bridge_no_longer_takes_every_unicast():
    net = lab("passthru")
    bridge_host(net, "hv2", "02:00:00:00:00:bb")
    net.detach_vm("vm1")
    net.attach_vm("vm1", "hv2")
    frame_id = sent(net, "h1", udp_frame(H1, UNKNOWN))  # flooded by sw1 and by hv2's bridge, to vm1's vif too
    assert receivers(net, frame_id) == [] and ("vm1.eth0", DropReason.NOT_FOR_US) in net.trace.drops(frame_id)


def test_a_vm_that_leaves_private_mode_for_a_host_bridge_filters_its_own_group_frames_again():
    net = lab("private")
    bridge_host(net, "hv2", "02:00:00:00:00:bb")
    net.detach_vm("vm1")
    net.attach_vm("vm1", "hv2")
    bridge = net.hypervisors["hv2"].bridge
    vif = net.hypervisors["hv2"].vif_of(net.vnics["vm1"])
    bridge.set_flag(vif.name, "hairpin", True)  # its own group frame comes back to it
    frame_id = sent(net, "vm1", udp_frame(VM1, GROUP))
    assert "vm1.eth0" not in receivers(net, frame_id)
    assert ("vm1.eth0", DropReason.NOT_FOR_US) in net.trace.drops(frame_id)


# -- the rules ---------------------------------------------------------------------------------------------------
def test_a_group_frame_from_a_vepa_vnic_comes_back_to_its_bridge_and_vepa_siblings():
    """macvlan_handle_frame: multicast from a vepa source goes to the vepa and bridge vNICs (not back to it)."""
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", H1)
    net.add_hypervisor("hv1", HV, mode="vepa")
    net.add_vm("hv1", "vm1", VM1)
    net.add_vm("hv1", "vm2", VM2, mode="bridge")
    net.add_vm("hv1", "vm3", VM3)
    net.connect("h1", "sw1")
    net.connect("hv1", "sw1")
    net.switch("sw1").set_flag("p2", "hairpin", True)
    assert receivers(net, sent(net, "vm1", udp_frame(VM1, BROADCAST))) == ["h1.eth0", "hv1.host", "vm2.eth0",
                                                                          "vm3.eth0"]
    # from the bridge vNIC: vm1's copy came inside the adapter at once; the hairpinned one goes to vepa vNICs only
    frame_id = sent(net, "vm2", udp_frame(VM2, BROADCAST))
    assert sorted(net.trace.delivered_to(frame_id)) == ["h1.eth0", "hv1.host", "vm1.eth0", "vm3.eth0"]


def test_a_bridge_mode_vnic_hands_a_group_frame_to_the_sibling_that_joined_it_inside_the_adapter():
    net = lab("bridge")  # no hairpin: a copy from the switch never comes back
    net.nic("vm2").join(GROUP)
    frame_id = sent(net, "vm1", udp_frame(VM1, GROUP))
    assert receivers(net, frame_id) == ["vm2.eth0"]


def test_without_port_vlans_the_adapter_never_reads_a_tag():
    net = lab("bridge")
    frame_id = sent(net, "h1", push_tag(udp_frame(H1, VM1), TPID_8021Q, 0, 10))
    assert receivers(net, frame_id) == ["vm1.eth0"]
    assert net.deliveries("vm1")[-1].frame[12:16] == bytes.fromhex("8100000a")  # the guest gets the tag


def test_a_priority_tagged_frame_belongs_to_the_untagged_vnics():
    net = lab("bridge")
    net.add_vm("hv1", "vm3", VM3, vf=VFControls(vlan=10))
    frame_id = sent(net, "h1", push_tag(udp_frame(H1, BROADCAST), TPID_8021Q, 5, 0))
    assert receivers(net, frame_id) == ["hv1.host", "vm1.eth0", "vm2.eth0"]


def test_a_passthru_vnic_in_a_port_vlan_receives_only_its_vlan():
    net = lab("passthru")
    net.set_vf("vm1", vlan=10)
    untagged = sent(net, "h1", udp_frame(H1, VM1))
    tagged = sent(net, "h1", push_tag(udp_frame(H1, VM1), TPID_8021Q, 0, 10))
    assert "vm1.eth0" not in receivers(net, untagged) and receivers(net, tagged) == ["vm1.eth0"]


def test_a_vf_with_controls_sends_its_own_frames_within_its_rate():
    """spoofchk lets the vNIC's own source through; max_tx_rate (1 Mbit/s) holds the third back-to-back frame."""
    net = lab("bridge")
    net.set_vf("vm1", spoofchk=True, max_tx_rate_mbps=1)
    ids = [net.send("vm1", udp_frame(VM1, H1, b"x" * 1400)) for _ in range(3)]
    net.run()
    assert [receivers(net, i) for i in ids[:1]] == [["h1.eth0"]]
    assert net.trace.drops(ids[-1]) == [("vm1.eth0", DropReason.RATE_LIMITED)]


def test_a_vnics_own_port_on_the_adapter_is_named_after_it_in_the_trace():
    net = lab()
    frame_id = sent(net, "vm1", udp_frame(VM1, H1))
    assert [(e.port, e.outcome) for e in net.trace.for_frame(frame_id)][:2] == [
        ("vm1.eth0", Verdict.TRANSMITTED), ("hv1.vnic-vm1.eth0", Verdict.TO_UPLINK)]


def test_refreshing_a_vnic_the_adapter_does_not_have_is_refused():
    adapter = attached((VNIC("vm1", VM1), None))
    with pytest.raises(TopologyError) as caught:
        adapter.refresh(VNIC("vm2", VM2))
    assert str(caught.value) == "adapter ad: refresh <VNIC vm2.eth0 52:54:00:00:00:02>: not a vNIC attached to it"


def test_a_port_vlan_lives_while_a_vnic_is_in_it_and_goes_with_the_last():
    net = lab()
    net.set_vf("vm1", vlan=10)
    net.set_vf("vm2", vlan=10)
    net.set_vf("vm1", vlan=20)  # vm2 is still in VLAN 10
    assert receivers(net, sent(net, "h1", push_tag(udp_frame(H1, VM2), TPID_8021Q, 0, 10))) == ["vm2.eth0"]
    net.set_vf("vm1", vlan=None)  # VLAN 20 is empty now: the NIC's VLAN filter drops its frames
    frame_id = sent(net, "h1", push_tag(udp_frame(H1, BROADCAST), TPID_8021Q, 0, 20))
    assert net.trace.drops(frame_id) == [("hv1.uplink", DropReason.VLAN_NOT_ALLOWED)]


def test_a_trusted_vnic_takes_the_misses_only_in_promiscuous_mode():
    net = lab()
    net.set_vf("vm1", trust=True)
    frame_id = sent(net, "h1", udp_frame(H1, UNKNOWN))
    assert receivers(net, frame_id) == [] and net.trace.drops(frame_id) == [("hv1.host", DropReason.NOT_FOR_US)]


def test_the_security_report_names_the_vnic_that_takes_the_misses_but_never_a_passthru_one():
    net = lab(mode="bridge")
    net.hypervisors["hv1"].adapter.mac_filter_size = 8
    net.set_vf("vm1", trust=True)
    net.set_rx_mode("vm1", promiscuous=True)
    assert [row["filter"] for row in filter_rows(net)] == [
        "exact: unicast no vNIC owns is dropped by the NIC; misses to the trusted promiscuous vm1.eth0"]
    passthru = lab(mode="passthru")
    passthru.hypervisors["hv1"].adapter.mac_filter_size = 8
    passthru.set_vf("vm1", trust=True)
    passthru.set_rx_mode("vm1", promiscuous=True)
    assert [row["filter"] for row in filter_rows(passthru)] == ["exact: unicast no vNIC owns is dropped by the NIC"]
