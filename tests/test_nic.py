"""A NIC's receive filter and settings (vswitch/l2/nic.py): what it delivers, what it drops as not for it."""

import pytest

from conftest import BROADCAST, GROUP, udp_frame
from vswitch import DropReason, Verdict
from vswitch.l2.nic import DEFAULT_GROUPS, NIC, VNIC
from vswitch.l2.sriov import VFControls

OWN, OTHER, THIRD = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
DELIVERED, NOT_FOR_US = Verdict.DELIVERED, DropReason.NOT_FOR_US


@pytest.mark.parametrize("setting,src,dst,outcome", [
    (None, OTHER, OWN, DELIVERED),
    (None, OTHER, THIRD, NOT_FOR_US),
    (None, OTHER, BROADCAST, DELIVERED),
    (None, OTHER, GROUP, NOT_FOR_US),
    (None, OTHER, "01:00:5e:00:00:01", DELIVERED),  # IPv4 all-hosts: every Linux interface is in it
    (None, OTHER, "33:33:00:00:00:01", DELIVERED),  # IPv6 all-nodes
    (None, OWN, GROUP, NOT_FOR_US),  # its own multicast coming back: an ordinary NIC does not take it
    ("promiscuous", OTHER, THIRD, DELIVERED),
    ("promiscuous", OTHER, GROUP, DELIVERED),
    ("allmulti", OTHER, GROUP, DELIVERED),
    ("allmulti", OTHER, THIRD, NOT_FOR_US),
    ("takes_all_unicast", OTHER, THIRD, DELIVERED),
    ("takes_all_unicast", OTHER, GROUP, NOT_FOR_US),
    ("takes_own_multicast", OWN, GROUP, DELIVERED),  # reflected back to it by its adapter
    ("takes_own_multicast", OTHER, GROUP, NOT_FOR_US),
    ("takes_own_multicast", OWN, THIRD, NOT_FOR_US),  # only multicast is reflected
    ("takes_own_multicast", OTHER, THIRD, NOT_FOR_US),
])
def test_the_receive_filter_delivers_or_drops_each_kind_of_destination(setting, src, dst, outcome):
    nic = NIC("h1", OWN)
    if setting:
        setattr(nic, setting, True)
    decision = nic.handle_frame(nic.port, udp_frame(src, dst), 0)
    assert (decision.outputs, decision.outcome) == ((), outcome)


def test_a_joined_group_is_delivered_until_it_is_left():
    nic = NIC("h1", OWN)
    frame = udp_frame(OTHER, GROUP)
    nic.join(GROUP)
    joined = nic.handle_frame(nic.port, frame, 0).outcome
    nic.leave(GROUP)
    assert (joined, nic.handle_frame(nic.port, frame, 1).outcome, nic.groups) == (
        DELIVERED, NOT_FOR_US, set(DEFAULT_GROUPS))


def test_joining_a_unicast_address_is_refused_with_its_name():
    with pytest.raises(Exception) as caught:  # the error class is issue 21 item 9's
        NIC("h1", OWN).join(OTHER)
    assert str(caught.value) == "h1.eth0: 02:00:00:00:00:02 is not a multicast address"


def test_a_new_mac_takes_the_place_of_the_old_one():
    nic = NIC("h1", OWN)
    nic.set_mac(OTHER)
    assert (nic.handle_frame(nic.port, udp_frame(THIRD, OTHER), 0).outcome,
            nic.handle_frame(nic.port, udp_frame(THIRD, OWN), 0).outcome, str(nic.mac)) == (
        DELIVERED, NOT_FOR_US, OTHER)


def test_a_nic_starts_with_linux_defaults():
    nic = NIC("h1", OWN)
    assert (nic.ifname, nic.full_name, nic.port.mtu, nic.promiscuous, nic.allmulti, nic.takes_all_unicast,
            nic.takes_own_multicast, nic.groups, repr(nic)) == (
        "eth0", "h1.eth0", 1500, False, False, False, False, set(DEFAULT_GROUPS), "<NIC h1.eth0 02:00:00:00:00:01>")
    named = NIC("h1", OWN, "eth1", mtu=9000)
    assert (named.full_name, named.port.mtu) == ("h1.eth1", 9000)


def test_a_vnic_starts_unattached_with_default_vf_controls():
    vnic = VNIC("vm1", OWN)
    assert (vnic.full_name, vnic.port.mtu, vnic.mode, vnic.hypervisor, vnic.vf.is_default(), repr(vnic)) == (
        "vm1.eth0", 1500, None, None, True, "<VNIC vm1.eth0 02:00:00:00:00:01>")
    vf = VFControls(vlan=10)
    named = VNIC("vm1", OWN, "eth1", mtu=9000, vf=vf)
    assert (named.full_name, named.port.mtu, named.vf) == ("vm1.eth1", 9000, vf)
