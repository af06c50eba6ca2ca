"""The physical adapter reproduces Linux macvlan (facts measured on kernel 6.x, see issue #2 and docs/fidelity.md)."""

import pytest

from conftest import BROADCAST, GROUP, lab, receivers, udp_frame
from vswitch import DropReason, Network, TopologyError
from vswitch.core.reasons import Verdict, describe
from vswitch.l2.nic import VNIC

H1, HV, VM1, VM2 = "02:00:00:00:00:01", "02:00:00:00:00:aa", "52:54:00:00:00:01", "52:54:00:00:00:02"


def learned_lab(mode, hairpin=False):
    """The lab after every station sent one frame, so the switch knows where everyone is."""
    net = lab(mode, hairpin)
    stations = {"h1": H1, "hv1.host": HV, "vm1": VM1}
    if mode != "passthru":
        stations["vm2"] = VM2
    for name, mac in stations.items():
        net.send(name, udp_frame(mac, "02:00:00:00:00:99"))  # unknown unicast: flooded, source learned
    net.run()
    return net


def send(net, name, src, dst):
    frame_id = net.send(name, udp_frame(src, dst))
    net.run()
    return frame_id


def reached_cable(net, frame_id):
    return any(e.port.startswith("sw1.") for e in net.trace.for_frame(frame_id))


def test_bridge_mode_sibling_unicast_stays_inside_the_adapter():
    net = learned_lab("bridge")
    frame_id = send(net, "vm1", VM1, VM2)
    assert receivers(net, frame_id) == ["vm2.eth0"]
    assert not reached_cable(net, frame_id)


def test_bridge_mode_broadcast_reaches_cable_and_each_sibling_once():
    net = learned_lab("bridge")
    frame_id = send(net, "vm1", VM1, BROADCAST)
    assert receivers(net, frame_id) == ["h1.eth0", "vm2.eth0"]


def test_bridge_mode_with_hairpin_sibling_still_gets_one_copy_and_host_gets_the_reflection():
    net = learned_lab("bridge", hairpin=True)
    frame_id = send(net, "vm1", VM1, BROADCAST)
    assert receivers(net, frame_id) == ["h1.eth0", "hv1.host", "vm2.eth0"]


@pytest.mark.parametrize("mode", ["vepa", "private"])
def test_sibling_unicast_without_hairpin_is_dropped_by_the_switch(mode):
    net = learned_lab(mode)
    frame_id = send(net, "vm1", VM1, VM2)
    assert receivers(net, frame_id) == []
    assert net.trace.drops(frame_id) == [("sw1.p2", DropReason.SAME_PORT)]


@pytest.mark.parametrize("mode", ["vepa", "private"])
def test_sibling_unicast_with_hairpin_is_delivered_once(mode):
    """Private mode too: the kernel delivers hairpinned unicast between private vNICs (ip-link(8) says not)."""
    net = learned_lab(mode, hairpin=True)
    frame_id = send(net, "vm1", VM1, VM2)
    assert receivers(net, frame_id) == ["vm2.eth0"]


def test_vepa_broadcast_reaches_sibling_only_through_hairpin_and_never_the_sender():
    net = learned_lab("vepa")
    assert receivers(net, send(net, "vm1", VM1, BROADCAST)) == ["h1.eth0"]
    net = learned_lab("vepa", hairpin=True)
    assert receivers(net, send(net, "vm1", VM1, BROADCAST)) == ["h1.eth0", "hv1.host", "vm2.eth0"]


def test_private_broadcast_never_reaches_a_sibling_and_with_hairpin_returns_to_the_sender_alone():
    net = learned_lab("private")
    assert receivers(net, send(net, "vm1", VM1, BROADCAST)) == ["h1.eth0"]
    net = learned_lab("private", hairpin=True)
    assert receivers(net, send(net, "vm1", VM1, BROADCAST)) == ["h1.eth0", "vm1.eth0"]
    net = learned_lab("private", hairpin=True)
    assert receivers(net, send(net, "vm1", VM1, GROUP)) == ["vm1.eth0"]  # joined by nobody: see below


NOBODY = "01:00:5e:7f:00:99"  # a group no interface joined


@pytest.mark.parametrize("mode", ["private", "passthru"])
def test_a_hairpinned_group_frame_returns_to_its_private_or_passthru_sender_whatever_its_filter(mode):
    """Measured (kernel-check lab, 16 unjoined groups): macvlan_handle_frame forwards multicast whose source is a
    private or passthru vNIC to that vNIC alone ("forward to original port") without its multicast filter, as
    PACKET_MULTICAST; the host stack gets no copy."""
    net = learned_lab(mode, hairpin=True)
    assert receivers(net, send(net, "vm1", VM1, NOBODY)) == ["vm1.eth0"]  # h1 filters: it did not join either
    net.nic("vm1").join(GROUP)
    net.nic("h1").join(GROUP)
    assert receivers(net, send(net, "vm1", VM1, GROUP)) == ["h1.eth0", "vm1.eth0"]
    net = learned_lab(mode)  # no hairpin: nothing comes back
    frame_id = send(net, "vm1", VM1, NOBODY)
    assert receivers(net, frame_id) == [] and reached_cable(net, frame_id)


@pytest.mark.parametrize("mode", ["private", "passthru"])
def test_the_reflected_copy_is_described_as_what_both_modes_do(mode):
    """The capture comment and trace of the copy sent back name both modes: passthru reflects as private does."""
    net = learned_lab(mode, hairpin=True)
    frame_id = send(net, "vm1", VM1, NOBODY)
    reflected = [(e.outcome, describe(e.outcome), e.outputs) for e in net.trace.for_frame(frame_id)
                 if e.outcome is Verdict.REFLECTED_TO_SOURCE]
    assert reflected == [(Verdict.REFLECTED_TO_SOURCE,
                          "reflected back to the sending vNIC only (private or passthru mode)", ("vm1.eth0",))]


def test_a_private_vnic_gets_back_a_group_only_its_sibling_joined_and_the_sibling_does_not():
    net = learned_lab("private", hairpin=True)
    net.nic("vm2").join(GROUP)
    assert receivers(net, send(net, "vm1", VM1, GROUP)) == ["vm1.eth0"]


@pytest.mark.parametrize("mode", ["vepa", "bridge"])
def test_a_vepa_or_bridge_vnic_never_gets_its_own_group_frame_back(mode):
    net = learned_lab(mode, hairpin=True)
    net.nic("h1").join(NOBODY)
    frame_id = send(net, "vm1", VM1, NOBODY)
    assert receivers(net, frame_id) == ["h1.eth0"]
    assert ("vm1.eth0", DropReason.NOT_FOR_US) not in net.trace.drops(frame_id)  # the adapter never sends it


@pytest.mark.parametrize("mode, expected", [("private", ["vm1.eth0"]), ("passthru", ["vm1.eth0"]),
                                            ("vepa", []), ("bridge", [])])
def test_a_group_frame_from_outside_with_a_vnics_source_follows_the_same_rule(mode, expected):
    """The rule looks at the source MAC only: h1 sending as vm1 (no hairpin needed) is "forwarded" to vm1."""
    net = learned_lab(mode)
    assert receivers(net, send(net, "h1", VM1, NOBODY)) == expected


def test_passthru_vnic_owns_the_adapter_and_its_mac():
    net = learned_lab("passthru")
    assert str(net.hypervisors["hv1"].host.mac) == VM1
    assert receivers(net, send(net, "h1", H1, VM1)) == ["vm1.eth0"]
    second = VNIC("vm9", "52:54:00:00:00:09")
    with pytest.raises(TopologyError, match="passthru"):
        net.hypervisors["hv1"].attach(second)


def test_passthru_detach_gives_the_adapter_its_own_mac_back():
    net = lab("passthru")
    net.detach_vm("vm1")
    assert str(net.hypervisors["hv1"].host.mac) == HV


@pytest.mark.parametrize("mode", ["bridge", "vepa", "private", "passthru"])
def test_unicast_from_the_cable_goes_to_the_owning_vnic(mode):
    net = learned_lab(mode)
    assert receivers(net, send(net, "h1", H1, VM1)) == ["vm1.eth0"]


@pytest.mark.parametrize("mode", ["bridge", "vepa", "private"])
def test_unicast_to_the_adapter_or_to_nobody_goes_to_the_host_stack(mode):
    net = learned_lab(mode)
    assert receivers(net, send(net, "h1", H1, HV)) == ["hv1.host"]
    frame_id = send(net, "h1", H1, "02:00:00:00:00:77")
    assert receivers(net, frame_id) == []
    assert ("hv1.host", DropReason.NOT_FOR_US) in net.trace.drops(frame_id)


@pytest.mark.parametrize("mode", ["bridge", "vepa", "private"])
def test_broadcast_from_the_cable_reaches_every_vnic_and_the_host(mode):
    net = learned_lab(mode)
    assert receivers(net, send(net, "h1", H1, BROADCAST)) == ["hv1.host", "vm1.eth0", "vm2.eth0"]


def test_multicast_from_the_cable_reaches_the_vnic_that_joined_and_the_host_it_synced_to():
    net = learned_lab("bridge")
    net.nic("vm1").join(GROUP)
    frame_id = send(net, "h1", H1, GROUP)
    assert receivers(net, frame_id) == ["hv1.host", "vm1.eth0"]
    assert ("vm2.eth0", DropReason.NOT_FOR_US) not in net.trace.drops(frame_id)  # filtered in the adapter


def test_every_interface_is_in_the_ipv4_all_hosts_group_like_linux():
    net = learned_lab("vepa", hairpin=True)
    frame_id = send(net, "vm1", VM1, "01:00:5e:00:00:01")
    assert receivers(net, frame_id) == ["h1.eth0", "hv1.host", "vm2.eth0"]


def test_passthru_vnic_takes_every_unicast_the_switch_floods_to_it():
    net = learned_lab("passthru")
    assert receivers(net, send(net, "h1", H1, "02:00:00:00:00:77")) == ["vm1.eth0"]
    assert receivers(net, send(net, "h1", H1, GROUP)) == []


@pytest.mark.parametrize("mode", ["bridge", "vepa", "private"])
def test_host_and_its_vnics_cannot_reach_each_other_without_hairpin(mode):
    net = learned_lab(mode)
    to_vnic = send(net, "hv1.host", HV, VM1)
    from_vnic = send(net, "vm1", VM1, HV)
    assert receivers(net, to_vnic) == [] and receivers(net, from_vnic) == []
    assert net.trace.drops(to_vnic) == [("sw1.p2", DropReason.SAME_PORT)]
    net = learned_lab(mode, hairpin=True)
    assert receivers(net, send(net, "hv1.host", HV, VM1)) == ["vm1.eth0"]
    assert receivers(net, send(net, "vm1", VM1, HV)) == ["hv1.host"]


def test_vnic_attached_at_run_time_receives_and_detached_one_does_not():
    net = learned_lab("bridge")
    net.detach_vm("vm2")
    frame_id = send(net, "h1", H1, VM2)
    assert receivers(net, frame_id) == []
    net.attach_vm("vm2", "hv1")
    assert receivers(net, send(net, "h1", H1, VM2)) == ["vm2.eth0"]


def test_duplicate_vnic_mac_on_one_adapter_is_refused():
    net = lab("bridge")
    with pytest.raises(TopologyError, match="52:54:00:00:00:01"):
        net.add_vm("hv1", "vm3", VM1)


def test_demux_table_lists_each_vnic_with_its_mode():
    net = lab("vepa")
    assert net.hypervisors["hv1"].adapter.demux_table() == [
        ("52:54:00:00:00:01", "vm1.eth0", "vepa"), ("52:54:00:00:00:02", "vm2.eth0", "vepa")]


def test_copies_go_to_siblings_in_name_order_whatever_the_order_they_were_attached_in():
    """Copy order reaches the captures (the order of the frames in a pcap), so it must not hang on history: a VM
    detached and attached again (a migration back) comes last in attach order, but not in the copies."""
    net = Network()
    net.add_switch("sw1")
    net.add_hypervisor("hv1", HV)
    for name in ("vm3", "vm1", "vm2"):
        net.add_vm("hv1", name, f"52:54:00:00:00:0{name[-1]}")
    net.connect("hv1", "sw1")
    net.detach_vm("vm1")
    net.attach_vm("vm1", "hv1")
    adapter = net.hypervisors["hv1"].adapter
    from_vm3 = adapter.handle_frame(net.nic("vm3").port.peer, udp_frame("52:54:00:00:00:03", BROADCAST), 0)
    from_cable = adapter.handle_frame(adapter.uplink, udp_frame(H1, BROADCAST), 0)
    assert [p.label for p in from_vm3.outputs] == ["vm1.eth0", "vm2.eth0", "hv1.uplink"]
    assert [p.label for p in from_cable.outputs] == ["vm1.eth0", "vm2.eth0", "vm3.eth0", "hv1.host"]
