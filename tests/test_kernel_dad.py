"""kernel-check's DAD comparison (kernel/dad.py) on made-up copies, without root: which frames are DAD probes,
how the kernel's copies are counted per receiver, and how rows are compared."""

from __future__ import annotations

from collections import Counter

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
    kernel = {key: DadProbes("vm1.eth0", "a", Counter({"h1.eth0": 1, "vm2.eth0": 1}), 1),
              later: DadProbes("vm1.eth0", "b", Counter({"h1.eth0": 1}), 1)}
    ours = {key: DadProbes("vm1.eth0", "a", Counter({"vm2.eth0": 1}), 1)}
    first, second = compare_probes(kernel, ours, {"h1.eth0": "unfiltered"})
    assert (first.label, first.known, first.unchecked) == ("DAD a", {"h1.eth0": "unfiltered"}, "")
    assert second.label == "DAD b" and second.unchecked.startswith("vswitch probed it later")
    (differs,) = compare_probes(kernel, ours, {})[:1]
    assert differs.known == {}  # h1 joined the group in the kernel: not a filter difference, a real one
