"""SR-IOV per-vNIC controls and the adapter's VLANs, MAC filter and trusted promiscuous vNIC (sriov.py, adapter.py)."""

import pytest

from conftest import BROADCAST, GROUP, receivers, udp_frame
from vswitch import DropReason, Network, TopologyError, Verdict
from vswitch.net.capture import CallbackTap
from vswitch.core.frame import TPID_8021AD, TPID_8021Q, push_tag
from vswitch.l2.sriov import VFControls
from vswitch.l2.vlan import PortVlans, outer_tag

H1, HV, VM1, VM2, VM3 = ("02:00:00:00:00:01", "02:00:00:00:00:aa", "52:54:00:00:00:01", "52:54:00:00:00:02",
                         "52:54:00:00:00:03")
OWN = bytes.fromhex("525400000001")


def vf_lab(vm1=None, vm2=None, vm3=None, **hypervisor):
    """h1 on sw1.p1, hv1 (vm1, vm2, vm3 with the given controls) on sw1.p2, 1 us cables."""
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", H1)
    net.add_hypervisor("hv1", HV, **hypervisor)
    for name, mac, vf in (("vm1", VM1, vm1), ("vm2", VM2, vm2), ("vm3", VM3, vm3)):
        net.add_vm("hv1", name, mac, vf=vf)
    net.connect("h1", "sw1", latency_ns=1000)
    net.connect("hv1", "sw1", latency_ns=1000)
    return net


def sent(net, name, frame):
    frame_id = net.send(name, frame)
    net.run()
    return frame_id


# -- the controls on their own -------------------------------------------------------------------------------
def test_spoofchk_drops_a_foreign_source_and_a_guest_tag_under_a_port_vlan():
    vf = VFControls(vlan=10, spoofchk=True)
    assert vf.check_transmit(OWN, udp_frame(VM1, BROADCAST), 0, True) is None
    assert vf.check_transmit(OWN, udp_frame(VM2, BROADCAST), 0, True) is DropReason.SPOOFED_SOURCE
    assert vf.check_transmit(OWN, push_tag(udp_frame(VM1, BROADCAST), TPID_8021Q, 0, 20), 0, True) is \
        DropReason.SPOOFED_VLAN


def test_without_spoofchk_anything_goes():
    assert VFControls(vlan=10).check_transmit(OWN, push_tag(udp_frame(VM2, BROADCAST), TPID_8021Q, 0, 20), 0, True) \
        is None


def test_state_disable_enable_and_auto_follow_their_rules():
    frame = udp_frame(VM1, BROADCAST)
    assert VFControls(state="disable").check_transmit(OWN, frame, 0, True) is DropReason.VF_DISABLED
    assert VFControls(state="enable").check_transmit(OWN, frame, 0, False) is None
    assert VFControls(state="auto").check_transmit(OWN, frame, 0, False) is DropReason.LINK_DOWN
    assert VFControls().check_transmit(OWN, frame, 0, False) is DropReason.LINK_DOWN  # a macvlan's default


def test_max_tx_rate_is_a_token_bucket_on_the_virtual_clock():
    """10 Mbps: a 1000-byte frame takes 800 us of credit; the bucket holds max(1 ms, one 1514-byte frame)."""
    vf = VFControls(max_tx_rate_mbps=10)
    frame = bytes(1000)
    verdicts = [vf.check_transmit(OWN, frame, t * 100_000, True) for t in range(12)]  # every 100 us: 80 Mbps
    assert [v is None for v in verdicts] == [True, True, False, False, True, False, False, False, False, False,
                                             False, False]
    assert vf.check_transmit(OWN, frame, 10_000_000, True) is None  # idle long enough: the bucket refilled


def test_only_a_trusted_vf_is_granted_promiscuous_and_refusals_are_counted():
    untrusted, trusted, macvlan = VFControls(trust=False), VFControls(trust=True), VFControls()
    assert not untrusted.grant("promiscuous", True) and not untrusted.grant("allmulti", True)
    assert untrusted.grant("promiscuous", False)  # turning it off is always allowed
    assert untrusted.refused == {"promiscuous": 1, "allmulti": 1}
    assert trusted.grant("promiscuous", True) and macvlan.grant("promiscuous", True)


@pytest.mark.parametrize("kwargs, message", [({"vlan": 4095}, "1 to 4094"), ({"qos": 3}, "give vlan"),
                                             ({"vlan": 10, "qos": 8}, "0 to 7"), ({"state": "off"}, "auto"),
                                             ({"max_tx_rate_mbps": -1}, "Mbps")])
def test_bad_controls_are_refused(kwargs, message):
    with pytest.raises(TopologyError, match=message):
        VFControls(**kwargs)



@pytest.mark.parametrize("kwargs, message", [
    ({"vlan": 4095}, "vlan 4095: a VLAN ID is 1 to 4094"),
    ({"qos": 3}, "qos is the priority of the port VLAN's tag: give vlan too"),
    ({"vlan": 10, "qos": True}, "qos True: a priority (PCP) is 0 to 7"),
    ({"vlan": 10, "qos": 8}, "qos 8: a priority (PCP) is 0 to 7"),
    ({"state": "off"}, "state 'off': choose auto, enable or disable"),
    ({"max_tx_rate_mbps": True}, "max_tx_rate True: Mbps as an integer, 0 for no limit"),
    ({"max_tx_rate_mbps": -1}, "max_tx_rate -1: Mbps as an integer, 0 for no limit"),
])
def test_bad_controls_are_refused_with_the_whole_message(kwargs, message):
    with pytest.raises(TopologyError) as caught:
        VFControls(**kwargs)
    assert str(caught.value) == message


@pytest.mark.parametrize("kwargs, described, port_vlan, default", [
    ({}, "spoofchk off", "", True),
    ({"trust": False}, "spoofchk off, trust off", "", True),  # trust alone changes nothing a macvlan does
    ({"vlan": 10, "qos": 7, "spoofchk": True, "trust": False, "state": "auto", "max_tx_rate_mbps": 10},
     "vlan 10 qos 7, spoofchk on, trust off, state auto, max_tx_rate 10Mbps", "10 qos 7", False),
    ({"vlan": 100, "vlan_protocol": "802.1ad", "trust": True}, "vlan 100 proto 802.1ad, spoofchk off, trust on",
     "100 proto 802.1ad", False),
    ({"spoofchk": True}, "spoofchk on", "", False),
    ({"state": "enable"}, "spoofchk off, state enable", "", False),
    ({"max_tx_rate_mbps": 1}, "spoofchk off, max_tx_rate 1Mbps", "", False),
])
def test_controls_describe_themselves_as_ip_link_shows_them(kwargs, described, port_vlan, default):
    vf = VFControls(**kwargs)
    assert (vf.describe(), vf.describe_vlan(), vf.is_default()) == (described, port_vlan, default)


def test_setting_a_port_vlan_again_resets_priority_and_protocol_to_their_defaults():
    vf = VFControls(vlan=20, qos=5, vlan_protocol="802.1ad")
    vf.set_vlan(10)
    assert (vf.vlan, vf.qos, vf.protocol, vf.tag_key) == (10, 0, "802.1Q", (TPID_8021Q << 12) | 10)


def test_every_refused_request_is_counted():
    vf = VFControls(trust=False)
    for _ in range(3):
        vf.grant("promiscuous", True)
    assert vf.refused == {"promiscuous": 3, "allmulti": 0}


@pytest.mark.parametrize("tpid, pcp", [(TPID_8021Q, 3), (TPID_8021AD, 0)])
def test_spoofchk_drops_a_guest_tag_of_either_protocol_and_any_priority(tpid, pcp):
    vf = VFControls(vlan=10, spoofchk=True)
    assert vf.check_transmit(OWN, push_tag(udp_frame(VM1, BROADCAST), tpid, pcp, 20), 0, True) is DropReason.SPOOFED_VLAN


@pytest.mark.parametrize("mbps, sends", [
    # 10 Mbps: a 1514-byte frame takes 1,211,200 ns of credit, exactly what the bucket holds
    (10, [(0, None), (0, None), (1_211_199, DropReason.RATE_LIMITED)]),
    # 3 Mbps: 4,037,333.3 ns, rounded up, for both the frame's credit and the bucket
    (3, [(0, None), (0, None), (4_037_333, DropReason.RATE_LIMITED)]),
])
def test_the_rate_limit_takes_a_full_bucket_and_not_a_nanosecond_more(mbps, sends):
    vf = VFControls(max_tx_rate_mbps=mbps)
    frame = bytes(1514)
    assert [vf.check_transmit(OWN, frame, now, True) for now, _ in sends] == [verdict for _, verdict in sends]


def test_the_rate_limits_bucket_refills_to_full_and_no_more_while_idle():
    vf = VFControls(max_tx_rate_mbps=10)
    frame = bytes(1514)
    assert [vf.check_transmit(OWN, frame, now, True) for now in (0, 0, 10**9, 10**9, 10**9)] == [
        None, None, None, None, DropReason.RATE_LIMITED]

# -- on the datapath ---------------------------------------------------------------------------------------------
def test_a_spoofed_frame_is_dropped_at_the_vnic_and_counted_there():
    net = vf_lab(vm1=VFControls(spoofchk=True))
    frame_id = sent(net, "vm1", udp_frame(VM2, H1))
    assert net.trace.drops(frame_id) == [("vm1.eth0", DropReason.SPOOFED_SOURCE)]
    counters = net.port("vm1").counters
    assert (counters.tx_packets, dict(counters.tx_dropped)) == (1, {DropReason.SPOOFED_SOURCE: 1})
    assert net.switch("sw1").table.rows(net.now) == []


def test_a_port_vlan_tags_what_the_vnic_sends_and_strips_what_it_receives():
    net = vf_lab(vm1=VFControls(vlan=10, qos=3), vm2=VFControls(vlan=10), vm3=VFControls(vlan=20))
    out = []
    net.port("hv1").add_tap(CallbackTap(lambda frame, *_: out.append(frame)), "out")
    frame_id = sent(net, "vm1", udp_frame(VM1, BROADCAST))
    assert receivers(net, frame_id) == ["h1.eth0", "vm2.eth0"]  # vm3 is in VLAN 20
    assert outer_tag(out[0]) == (TPID_8021Q, (3 << 13) | 10)
    reply = sent(net, "h1", push_tag(udp_frame(H1, VM1), TPID_8021Q, 0, 10))
    assert receivers(net, reply) == ["vm1.eth0"]
    assert outer_tag(net.deliveries("vm1")[-1].frame) is None


def test_a_vnic_without_port_vlan_beside_vlan_vnics_receives_untagged_frames_only():
    net = vf_lab(vm1=VFControls(vlan=10))
    tagged = sent(net, "h1", push_tag(udp_frame(H1, BROADCAST), TPID_8021Q, 0, 10))
    untagged = sent(net, "h1", udp_frame(H1, BROADCAST))
    assert receivers(net, tagged) == ["vm1.eth0"]
    assert receivers(net, untagged) == ["hv1.host", "vm2.eth0", "vm3.eth0"]


def test_a_tagged_frame_of_a_vlan_no_vnic_has_is_dropped_by_the_adapter():
    net = vf_lab(vm1=VFControls(vlan=10))
    frame_id = sent(net, "h1", push_tag(udp_frame(H1, BROADCAST), TPID_8021Q, 0, 30))
    assert net.trace.drops(frame_id) == [("hv1.uplink", DropReason.VLAN_NOT_ALLOWED)]


def test_an_8021ad_port_vlan_is_an_outer_service_tag():
    net = vf_lab(vm1=VFControls(vlan=100, vlan_protocol="802.1ad"))
    out = []
    net.port("hv1").add_tap(CallbackTap(lambda frame, *_: out.append(frame)), "out")
    sent(net, "vm1", push_tag(udp_frame(VM1, BROADCAST), TPID_8021Q, 0, 10))
    assert outer_tag(out[0]) == (TPID_8021AD, 100) and outer_tag(out[0][4:]) == (TPID_8021Q, 10)


def test_a_disabled_vf_neither_sends_nor_receives_until_enabled():
    net = vf_lab(vm2=VFControls(state="disable"))
    assert net.trace.drops(sent(net, "vm2", udp_frame(VM2, H1))) == [("vm2.eth0", DropReason.VF_DISABLED)]
    assert receivers(net, sent(net, "vm1", udp_frame(VM1, BROADCAST))) == ["h1.eth0", "vm3.eth0"]
    net.set_vf("vm2", state="enable")
    assert receivers(net, sent(net, "vm2", udp_frame(VM2, H1))) == ["h1.eth0"]


def test_with_the_cable_down_vnics_follow_the_adapters_link_unless_enabled():
    """Measured with kernel-check: a macvlan has no carrier when its lower device has none."""
    net = vf_lab(vm3=VFControls(state="enable"), vm2=VFControls(state="enable"))
    net.set_link_state(net.link("hv1"), False)
    assert net.trace.drops(sent(net, "vm1", udp_frame(VM1, VM2))) == [("vm1.eth0", DropReason.LINK_DOWN)]
    assert receivers(net, sent(net, "vm2", udp_frame(VM2, VM3))) == ["vm3.eth0"]
    net.set_link_state(net.link("hv1"), True)
    assert receivers(net, sent(net, "vm1", udp_frame(VM1, VM2))) == ["vm2.eth0"]


def test_a_trusted_promiscuous_vnic_receives_the_unicast_no_vnic_owns():
    net = vf_lab(vm1=VFControls(trust=True), vm2=VFControls(trust=False))
    assert net.set_rx_mode("vm2", promiscuous=True) == ["promiscuous"]
    assert net.set_rx_mode("vm1", promiscuous=True) == []
    frame_id = sent(net, "h1", udp_frame(H1, "02:00:00:00:99:99"))
    assert receivers(net, frame_id) == ["vm1.eth0"]
    assert [e.outcome for e in net.trace.for_frame(frame_id)][2] is Verdict.TO_PROMISCUOUS_VNIC
    assert not net.vnics["vm2"].promiscuous and net.vnics["vm2"].vf.refused["promiscuous"] == 1
    assert receivers(net, sent(net, "h1", udp_frame(H1, HV))) == ["hv1.host"]  # the host's own still reach it


def test_untrusting_a_promiscuous_vnic_takes_promiscuous_mode_back():
    net = vf_lab(vm1=VFControls(trust=True))
    net.set_rx_mode("vm1", promiscuous=True)
    net.set_vf("vm1", trust=False)
    assert not net.vnics["vm1"].promiscuous and net.hypervisors["hv1"].adapter.promiscuous_vnic is None


def test_a_mac_filter_drops_unowned_unicast_at_the_uplink_until_it_overflows():
    exact = vf_lab(mac_filter_size=4)  # hv1 and 3 vNICs: 4 entries
    assert exact.trace.drops(sent(exact, "h1", udp_frame(H1, "02:00:00:00:99:99"))) == [
        ("hv1.uplink", DropReason.NOT_FOR_US)]
    assert not exact.hypervisors["hv1"].adapter.filter_overflow
    full = vf_lab(mac_filter_size=3)
    adapter = full.hypervisors["hv1"].adapter
    assert (adapter.filter_entries(), adapter.filter_overflow) == (4, True)
    assert full.trace.drops(sent(full, "h1", udp_frame(H1, "02:00:00:00:99:99"))) == [
        ("hv1.host", DropReason.NOT_FOR_US)]  # accepted by the NIC, dropped in software


def test_a_host_bridge_takes_only_the_vlan_of_the_vf_controls():
    net = Network()
    net.add_hypervisor("hv1", HV, backend="bridge", vlan_filtering=True)
    net.add_vm("hv1", "vm1", VM1, vf=VFControls(vlan=10))
    assert net.switch("hv1").port("vif1.0").vlans == PortVlans.access(10)
    assert net.switch("hv1").port("uplink").vlans == PortVlans(1, (10,), (1,))
    with pytest.raises(TopologyError, match="need an adapter"):
        net.add_vm("hv1", "vm2", VM2, vf=VFControls(spoofchk=True))
    net.set_vf("vm1", vlan=20)
    assert net.switch("hv1").port("vif1.0").vlans == PortVlans.access(20)
    with pytest.raises(TopologyError, match="only its vlan"):
        net.set_vf("vm1", trust=True)


# -- a private or passthru vNIC's own group frame, hairpinned back (macvlan: "forward to original port") --------
NOBODY = "01:00:5e:7f:00:99"  # a group no interface joined


@pytest.mark.parametrize("vlans", [{"vm1": VFControls(vlan=10)}, {"vm3": VFControls(vlan=10)}],
                         ids=["tagged-vnic", "untagged-vnic-beside-a-vlan"])
def test_with_port_vlans_a_hairpinned_group_frame_returns_to_its_private_sender_whatever_its_filter(vlans):
    """The VLAN path (by (VLAN, MAC)) follows the untagged one (test_adapter.py): the reflected copy goes to the
    sending private vNIC alone, its tag stripped, though it did not join the group."""
    net = vf_lab(**vlans, mode="private")
    net.switch("sw1").set_flag("p2", "hairpin", True)
    assert net.hypervisors["hv1"].adapter.vlan_aware
    assert receivers(net, sent(net, "vm1", udp_frame(VM1, NOBODY))) == ["vm1.eth0"]
    assert outer_tag(net.deliveries("vm1")[-1].frame) is None
    net.nic("vm2").join(NOBODY)  # a sibling that joined still gets nothing: private
    assert receivers(net, sent(net, "vm1", udp_frame(VM1, NOBODY))) == ["vm1.eth0"]


@pytest.mark.parametrize("vlans", [{}, {"vm3": VFControls(vlan=10)}], ids=["untagged-path", "vlan-path"])
@pytest.mark.parametrize("group", [GROUP, NOBODY], ids=["joined", "unjoined"])
def test_a_disabled_vf_gets_no_reflected_group_frame_on_either_path(vlans, group):
    """A disabled VF receives nothing, not even a group frame with its own source (here h1 sends as vm2, which
    cannot send itself): both paths drop it at the adapter with the VF's reason (the untagged path used to
    deliver it when vm2 had joined the group, the VLAN path dropped it as not_for_us)."""
    net = vf_lab(vm2=VFControls(state="disable"), **vlans, mode="private")
    net.nic("vm2").join(GROUP)
    frame_id = sent(net, "h1", udp_frame(VM2, group))
    assert receivers(net, frame_id) == []
    assert net.trace.drops(frame_id) == [("hv1.uplink", DropReason.VF_DISABLED)]
    net.set_vf("vm2", state="enable")
    assert receivers(net, sent(net, "h1", udp_frame(VM2, group))) == ["vm2.eth0"]
