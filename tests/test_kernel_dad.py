"""kernel-check's DAD comparison (kernel/dad.py) on made-up copies, without root: which frames are DAD probes,
how the kernel's copies are counted per receiver, and how rows are compared."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv6Address

from vswitch.guests.ipv6 import Ipv6Stack
from vswitch.guests.stack import GuestStack
from vswitch.kernel.dad import DadProbes, compare_probes, dad_target, kernel_probes

MAC = bytes.fromhex("525400000001")


def probes_and_others() -> tuple[list[bytes], list[bytes]]:
    host = GuestStack("vm1.eth0", MAC.hex(":"), None)
    host.ipv6 = Ipv6Stack(host, ["2001:db8::11/64"])
    frames = [f for _, f in host.ipv6.link_up(0)]
    return frames[1:], frames[:1]  # the DAD probes, and the MLD report


def test_a_dad_probe_is_a_solicitation_from_the_unspecified_address():
    probes, (report,) = probes_and_others()
    assert [dad_target(f).hex() for f in probes] == ["fe80000000000000505400fffe000001",
                                                     "20010db8000000000000000000000011"]
    assert dad_target(report) is None
    tagged = probes[0][:12] + b"\x81\x00\x00\x0a" + probes[0][12:]  # an 802.1Q tag does not hide it
    assert dad_target(tagged) == dad_target(probes[0])


def test_the_kernel_s_copies_count_per_stack_that_took_them_and_the_rest_stays_stray():
    probes, (report,) = probes_and_others()
    ll = probes[0]
    copies = [("vm1", "transmitted", "outgoing", ll, 0.0), ("h1", "received", "multicast", ll, 0.1),
              ("vm2", "received", "otherhost", ll, 0.1), ("vm3", "received", "otherhost", ll, 0.1),
              ("hv1", "tapped", "multicast", ll, 0.1), ("h1", "received", "multicast", report, 0.1)]
    interfaces = {"vm1": "vm1.eth0", "h1": "h1.eth0", "vm2": "vm2.eth0", "vm3": "vm3.eth0", "hv1": "hv1.host"}
    found, rest = kernel_probes(copies, interfaces, frozenset({"vm3"}), {MAC: "vm1.eth0"})
    (key, probe), = found.items()
    assert key == (MAC, dad_target(ll)) and probe.sender == "vm1.eth0" and probe.probes == 1
    assert probe.receivers == Counter({"h1.eth0": 1, "vm3.eth0": 1})  # otherhost only where promiscuous
    assert rest == [("h1", "multicast", report)]


def test_rows_compare_receivers_leave_out_documented_filter_differences_and_later_dad():
    key, later = (MAC, b"\x01" * 16), (MAC, b"\x02" * 16)
    kernel = {key: DadProbes("vm1.eth0", "2001:db8::a", Counter({"h1.eth0": 1, "vm2.eth0": 1}), 1),
              later: DadProbes("vm1.eth0", "2001:db8::b", Counter({"h1.eth0": 1}), 1)}
    ours = {key: DadProbes("vm1.eth0", "2001:db8::a", Counter({"vm2.eth0": 1}), 1)}
    first, second = compare_probes(kernel, ours, {"h1.eth0": "unfiltered"})
    assert (first.label, first.known, first.unchecked) == ("DAD 2001:db8::a", {"h1.eth0": "unfiltered"}, "")
    assert second.label == "DAD 2001:db8::b" and second.unchecked.startswith("vswitch probed it later")
    (differs,) = compare_probes(kernel, ours, {})[:1]
    assert differs.known == {}  # h1 joined the group in the kernel: not a filter difference, a real one


def test_a_receiver_whose_own_dad_shares_the_group_may_miss_an_early_probe_as_a_known_difference():
    """h1's fe80::ff:fe00:1 and vm1's fe80::5054:ff:fe00:1 share ff02::1:ff00:1: in the lab vm1 joins it as its own
    DAD begins, which an early probe of h1's can beat. vm2, in no such group, still makes a row differ."""
    h1, vm1 = (MAC, IPv6Address("fe80::ff:fe00:1").packed), (b"\x52" * 6, IPv6Address("fe80::5054:ff:fe00:1").packed)
    kernel = {h1: DadProbes("h1.eth0", "fe80::ff:fe00:1", Counter({"hv1.host": 1}), 1)}
    ours = {h1: DadProbes("h1.eth0", "fe80::ff:fe00:1", Counter({"hv1.host": 1, "vm1.eth0": 1}), 1),
            vm1: DadProbes("vm1.eth0", "fe80::5054:ff:fe00:1", Counter({"h1.eth0": 1}), 1)}
    rows = {row.label: row for row in compare_probes(kernel, ours, {})}
    assert rows["DAD fe80::ff:fe00:1"].known == {"vm1.eth0": "joining"}
    ours[h1].receivers["vm2.eth0"] = 1
    rows = {row.label: row for row in compare_probes(kernel, ours, {})}
    assert rows["DAD fe80::ff:fe00:1"].known == {"vm1.eth0": "joining"}  # vm2 is still compared: it differs
