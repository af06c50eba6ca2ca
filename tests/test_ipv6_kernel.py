"""kernel-check with IPv6 guests (issue 18 item 3): the lab turns the kernel's IPv6 on with the same addresses,
so the kernel joins each solicited-node group from the address itself, and who received each DAD probe,
solicitation, advertisement, echo and MLD report is compared. Needs root, iproute2 and network namespaces."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import require_netns

from vswitch.guests import inet6
from vswitch.kernel.check import AGREE, DIFFER, KNOWN, check_topology
from vswitch.topology.loader import load_topology_text

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("bridge") is None,
                                reason="kernel-check needs root and iproute2 (ip, bridge)")

PREFIX = "vskk"
LAB = """
name: ipv6-lab
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, ip6: [2001:db8::1/64]}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    mode: bridge
    vms:
      - {name: vm1, mac: "00:16:3e:00:00:01", ip: 192.0.2.11/24, ip6: [2001:db8::11/64]}
      - {name: vm2, mac: "52:54:00:12:34:56", ip: 192.0.2.12/24, ip6: []}
  - {name: hv2, mac: "02:00:00:00:00:bb", mode: vepa}
links: [[h1, sw1], [hv1, sw1], [hv2, sw1]]
scenario:
  - {at: 1500ms, ping: {from: vm1, to: vm2, family: ipv6, count: 2, interval: 10ms, name: siblings}}
  - {at: 1600ms, udp: {from: h1, to: vm1, family: ipv6, port: 7, count: 1, name: echo}}
  - {at: 1700ms, migrate: {vm: vm1, to: hv2}}
  - {at: 1800ms, ping: {from: h1, to: "2001:db8::11", count: 1, name: after}}
"""


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns(PREFIX)


def test_ipv6_guests_agree_with_the_kernel_which_joins_the_groups_itself() -> None:
    report = check_topology(load_topology_text(LAB), prefix=PREFIX, settle_s=0.1)
    assert [(f.label, f.kernel, f.vswitch) for f in report.frames if f.verdict == DIFFER] == []
    assert report.stray == 0 and report.kernel_ipv6 > 0  # the kernel's own answers, told apart
    # vm1's solicitation for vm2 (fe80::5054:ff:fe12:3456, group 33:33:ff:12:34:56) reaches vm2 in the kernel
    # because the kernel derived that group from vm2's link-local, not because the lab copied it (the kernel's
    # unfiltered veths take it too: the known difference)
    solicitation = [f for f in report.frames if f.sender == "vm1.eth0" and f.vswitch == {"vm2.eth0": 1} and f.known]
    assert len(solicitation) == 1 and solicitation[0].kernel.get("vm2.eth0") == 1
    announce = [f for f in report.frames if f.label.startswith("vm1-announce")]
    assert announce and all(f.verdict != DIFFER for f in announce)  # Xen's gratuitous ARP and unsolicited NAs
    assert any(line.startswith("IPv6 (h1.eth0, vm1, vm2)") for line in report.not_checked)


def test_the_kernel_s_own_dad_probes_reach_whom_vswitch_s_reach() -> None:
    """DAD is on in the lab where the file keeps it: each address's probes, sent by the kernel itself before
    anything is replayed, matched to vswitch's by sender and target. h1's probe for 2001:db8::1 goes to
    33:33:ff:00:00:01, the group of vm1's link-local fe80::216:3eff:fe00:1 too: vm1's kernel stack takes it."""
    report = check_topology(load_topology_text(LAB), prefix=PREFIX, settle_s=0.1)
    dad = {f.label: f for f in report.frames if f.label.startswith("DAD ")}
    assert sorted(dad) == ["DAD 2001:db8::1", "DAD 2001:db8::11", "DAD fe80::216:3eff:fe00:1",
                           "DAD fe80::5054:ff:fe12:3456", "DAD fe80::ff:fe00:1"]
    assert all(f.verdict in (AGREE, KNOWN) for f in dad.values())
    h1 = dad["DAD 2001:db8::1"]
    assert (h1.sender, h1.kernel.get("vm1.eth0"), h1.vswitch.get("vm1.eth0")) == ("h1.eth0", 1, 1)
    off = check_topology(load_topology_text(LAB.replace("ip6: [2001:db8::1/64]}",
                                                        "ip6: [2001:db8::1/64], dad_transmits: 0}")),
                         prefix=PREFIX, settle_s=0.1)
    assert not [f for f in off.frames if f.label.startswith("DAD ") and f.sender == "h1.eth0"]  # nodad there


def test_a_vnic_that_joined_no_group_would_differ_on_the_kernel_s_dad(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAD comparison can fail: if vswitch's vm1 had joined no solicited-node group, h1's probe for
    2001:db8::1 would not reach it, while the kernel's vm1 (which joined its link-local's group) takes it."""
    monkeypatch.setattr("vswitch.guests.ipv6.Ipv6Stack.multicast_macs", lambda self: [])
    report = check_topology(load_topology_text(LAB), prefix=PREFIX, settle_s=0.1)
    h1 = next(f for f in report.frames if f.label == "DAD 2001:db8::1")
    assert h1.verdict == DIFFER and "vm1.eth0" in h1.kernel and "vm1.eth0" not in h1.vswitch


def test_a_wrong_solicited_node_group_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a stack that joined the wrong group (here, the last 16 bits instead of 24) gets the
    solicitations vswitch addressed to that wrong group, which the kernel's vm2 (on the right group) does not."""
    right = inet6.solicited_node
    monkeypatch.setattr("vswitch.guests.ipv6.solicited_node",
                        lambda address: right(address[:13] + b"\0" + address[14:]))
    report = check_topology(load_topology_text(LAB), prefix=PREFIX, settle_s=0.1)
    assert any(f.verdict == DIFFER and f.sender == "vm1.eth0" and "vm2.eth0" in f.vswitch
               and "vm2.eth0" not in f.kernel for f in report.frames)
