"""kernel-check and the security features: what the kernel confirms, what it is kept from, what it refuses.

Needs root, iproute2 and network namespaces (as tests/test_kernelcheck.py); skips otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require_netns

from vswitch.kernel import features
from vswitch.kernel.check import AGREE, NOT_CHECKED, KernelCheckError, check_topology, render, unsupported
from vswitch.kernel.lab import _b36
from vswitch.kernel.netns import CommandFailed
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology, load_topology_text

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("bridge") is None,
                                reason="kernel-check needs root and iproute2 (ip, bridge)")
PREFIX = "vskk"


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns(PREFIX)


def check(text: str):
    # 100 ms of quiet per frame, not 20: a loaded machine holds macvlan's broadcast worker back (test_kernelcheck.py)
    return check_topology(load_topology_text(text), prefix=PREFIX, settle_s=0.1)


def frame(report, label):
    return next(f for f in report.frames if f.label == label)


CABLE_DOWN = """
name: cable-down
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, mac: "52:54:00:00:00:01"}, {name: vm2, mac: "52:54:00:00:00:02"}]}
links: [[h1, sw1.p1], [hv1, sw1.p2]]
scenario:
  - {at: 0us, send: {from: vm1, to: vm2, name: up}}
  - {at: 10us, link: {a: hv1, up: false}}
  - {at: 20us, send: {from: vm1, to: vm2, name: cable-down}}
  - {at: 30us, send: {from: vm2, dst: broadcast, name: broadcast-cable-down}}
  - {at: 40us, link: {a: hv1, up: true}}
  - {at: 50us, send: {from: vm1, to: vm2, name: cable-up}}
"""


def test_a_macvlan_follows_its_lower_devices_carrier_as_vswitch_vnics_do():
    report = check(CABLE_DOWN)
    assert report.agrees, render(report)
    assert [f.verdict for f in report.frames] == [AGREE] * 4
    assert frame(report, "cable-down").kernel == {} and frame(report, "cable-up").kernel == {"vm2.eth0": 1}


SPOOF = """
name: spoof
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, mac: "52:54:00:00:00:01"}]}
  - {name: hv2, mac: "02:00:00:00:00:bb", vms: [{name: vm2, mac: "52:54:00:00:00:02", spoofchk: true}]}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
scenario:
  - {at: 0us, send: {from: vm1, to: h1, name: hello}}
  - {at: 10us, send: {from: vm2, to: h1, src: "52:54:00:00:00:01", name: spoofed}}
  - {at: 20us, send: {from: h1, to: vm1, name: reply}}
"""


def test_a_frame_the_vf_dropped_is_held_back_from_the_kernel_and_not_checked():
    report = check(SPOOF)
    assert report.agrees, render(report)
    spoofed = frame(report, "spoofed")
    assert spoofed.verdict == NOT_CHECKED and "spoofchk" in spoofed.note and spoofed.kernel == {}
    assert frame(report, "reply").kernel == {"vm1.eth0": 1}  # the kernel's bridge did not learn the forgery
    assert any("spoofchk=True" in line for line in report.not_checked)


def test_port_security_is_refused_with_the_reason():
    spec = load_topology_text("switches: [{name: sw1, ports: {p1: {max_macs: 1}}}]\n"
                              "hosts: [{name: h1, mac: '02:00:00:00:00:01'}]\nlinks: [[h1, sw1.p1]]")
    assert unsupported(build_network(spec)) == ["switch sw1: max_macs on p1: the Linux bridge has no per-port MAC "
                                                "limit"]
    with pytest.raises(KernelCheckError, match="cannot express"):
        check_topology(spec, prefix=PREFIX)


# -- VLANs: checked where the kernel has them, refused with its reason where it has not ---------------------------
TRUNK = Path(__file__).resolve().parents[1] / "topologies" / "vlan-access-trunk.yaml"


def _lab_namespaces(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
    return [n for n in out if n.startswith(f"{prefix}_{_b36(os.getpid(), 5)}")]


def test_the_kernel_is_asked_what_it_has_and_its_answer_decides():
    """Each feature is there ('') or missing with what was tried and what the kernel said; a VLAN topology is
    refused with that answer where the kernel lacks what it needs, and checked where it has it."""
    found = features.probe_vlan_support(PREFIX)
    assert _lab_namespaces(PREFIX) == []  # the probe's lab is gone
    assert set(found) == set(features.FEATURES)
    for feature, why in found.items():
        assert why == "" or why.startswith(f"this kernel has no {feature} (`{features.TRIED[feature]}`: "), why
    spec = load_topology(TRUNK)
    missing = found[features.VLAN_FILTERING]
    if missing:
        with pytest.raises(KernelCheckError, match=re.escape(f"switch sw1: vlan_filtering 802.1Q: {missing}")):
            check_topology(spec, prefix=PREFIX)
    else:
        report = check_topology(spec, prefix=PREFIX)
        assert report.agrees, render(report)


def test_told_the_kernel_has_vlans_kernel_check_builds_vlan_filtering_bridges(monkeypatch):
    """With the answer "yes" the scope lets a VLAN topology through and the lab asks the kernel for VLAN filtering
    (where the kernel lacks it, the kernel's refusal of that very command is the error); it never builds the
    topology VLAN-unaware."""
    lacks = features.vlan_support()[features.VLAN_FILTERING]
    monkeypatch.setattr(features, "vlan_support", lambda: {feature: "" for feature in features.FEATURES})
    spec = load_topology(TRUNK)
    assert unsupported(build_network(spec)) == []
    if lacks:
        with pytest.raises(CommandFailed, match="type bridge .* vlan_filtering 1 vlan_protocol 802.1Q` failed"):
            check_topology(spec, prefix=PREFIX)
        assert _lab_namespaces(PREFIX) == []
    else:
        report = check_topology(spec, prefix=PREFIX)
        assert report.agrees, render(report)


HOST_VLANS = """
name: host-vlans-kernel
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vlans: [{vid: 10}, {vid: 20, mac: "02:00:00:00:20:aa"}]
    vms:
      - {name: vm1, mac: "52:54:00:00:10:01", on: hv1.10}
      - {name: vm2, mac: "52:54:00:00:10:02", on: hv1.10}
      - {name: vm3, mac: "52:54:00:00:00:03"}
links: [[h1, sw1], [hv1, sw1]]
scenario:
  - {at: 0us, send: {from: h1, dst: broadcast, vlan: 10, name: tagged-broadcast}}
  - {at: 10us, send: {from: h1, to: vm1, vlan: 10, name: tagged-to-vm1}}
  - {at: 20us, send: {from: h1, dst: "02:00:00:00:99:99", vlan: 10, name: tagged-miss}}
  - {at: 30us, send: {from: h1, dst: "02:00:00:00:00:aa", vlan: 10, name: to-eth0.10}}
  - {at: 40us, send: {from: h1, dst: "02:00:00:00:00:aa", vlan: 20, name: eth0.20-has-its-own-mac}}
  - {at: 50us, send: {from: h1, dst: broadcast, vlan: 30, name: no-interface}}
  - {at: 60us, send: {from: h1, to: vm3, vlan: 10, name: vm3-is-not-in-vlan-10}}
  - {at: 70us, send: {from: vm1, dst: broadcast, name: from-a-stacked-vm}}
  - {at: 80us, send: {from: hv1.20, to: h1, name: from-eth0.20}}
"""


def test_host_vlan_interfaces_are_compared_where_the_kernel_has_8021q():
    """eth0.N with macvlans on it: vlan_do_receive takes the tagged frames first. Where the kernel lacks 802.1Q
    devices (this machine's), kernel-check refuses naming the interface and what the kernel said."""
    missing = features.vlan_support()[features.VLAN_DEVICES]
    if missing:
        with pytest.raises(KernelCheckError, match=re.escape(f"VLAN interface hv1.10: {missing}")):
            check(HOST_VLANS)
        return
    report = check(HOST_VLANS)
    assert report.agrees, render(report)
    assert frame(report, "tagged-broadcast").kernel == {"hv1.10": 1, "vm1.eth0": 1, "vm2.eth0": 1}
