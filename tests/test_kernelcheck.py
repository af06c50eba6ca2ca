"""kernel-check: the same topology in Linux namespaces and in vswitch must agree on who received each frame.

The matrix is every macvlan mode x hairpin on/off x the frame kinds of issue #7; then topologies for the port
flags, several switches, multi-NIC hosts, a host bridge, mixed modes, migration and interface actions; then
every example in topologies/ the kernel can express. Needs root, iproute2 and network namespaces.
"""

from __future__ import annotations

import argparse
import os
import shutil
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_netns

from vswitch import cli
from vswitch.topology.build import build_network
from vswitch.kernel import check as kernel_check
from vswitch.kernel.check import (AGREE, DIFFER, KNOWN, NOT_CHECKED, CheckReport, KernelCheckError,
                                 check_topology, render, unsupported)
from vswitch.kernel.command import run_cleanup
from vswitch.kernel.compare import KernelTopology
from vswitch.kernel.lab import _b36, cleanup_leftovers
from vswitch.topology.loader import load_topology, load_topology_text

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("bridge") is None,
                                reason="kernel-check needs root and iproute2 (ip, bridge)")

PREFIX = "vskk"
H1, HV, VM1, VM2 = "02:00:00:00:01:01", "02:00:00:00:00:aa", "52:54:00:00:00:01", "52:54:00:00:00:02"
GROUP, NOBODY = "01:00:5e:01:02:03", "01:00:5e:7f:00:99"  # GROUP: joined by vm1 only
ALL_HOSTS, UNKNOWN = "01:00:5e:00:00:01", "02:00:00:00:99:99"  # every Linux interface is in all-hosts


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns(PREFIX)


def _names(tag: str) -> list[str]:
    """Namespaces and root-namespace links whose name starts with ``tag``."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
    out += subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout.split()
    return [word for word in out if word.startswith(tag)]


def _leftovers() -> list[str]:
    """Namespaces and links of this process's labs (none may survive a check)."""
    return _names(f"{PREFIX}_{_b36(os.getpid(), 5)}")  # other processes may run labs at the same time


#: The quiet period that ends the collection of an injected frame's copies (kernel-check's default is 20 ms).
#: macvlan hands broadcasts and most multicast to a kernel worker (macvlan_process_broadcast), which a loaded
#: machine can hold back past 20 ms: that copy is then missing and the frame DIFFERs. Frames wait this long in
#: the tests; a replay paced in real time (ageing) keeps the default, which its timing depends on.
SETTLE_S = 0.1


def check(text: str, **kwargs) -> CheckReport:
    report = check_topology(load_topology_text(text), prefix=PREFIX, **{"settle_s": SETTLE_S, **kwargs})
    assert _leftovers() == []
    return report


_REPORTS: dict[str, CheckReport] = {}


def check_once(text: str) -> CheckReport:
    """``check`` run once per topology text for the whole module."""
    if text not in _REPORTS:
        _REPORTS[text] = check(text)
    return _REPORTS[text]


def _assert_agrees(report: CheckReport) -> None:
    """Fail with the whole rendered report when anything differs: the exact case, not an assertion diff that
    pytest cuts short (a rare difference under load must be readable from one CI log)."""
    if not report.agrees:
        pytest.fail(render(report), pytrace=False)


def _frame(report: CheckReport, label: str):
    return next(f for f in report.frames if f.label == label)


# -- the matrix: modes x hairpin x frame kinds ----------------------------------------------------------------
#: (name, sender, destination: an interface or a MAC); vm2 rows are left out in passthru (one vNIC only)
FRAMES = [
    ("outside-to-vm1-unlearned", "h1", "vm1"),
    ("bcast-from-outside", "h1", "broadcast"),
    ("bcast-from-vm1", "vm1", "broadcast"),
    ("bcast-from-vm2", "vm2", "broadcast"),
    ("bcast-from-host", "hv1.host", "broadcast"),
    ("vm1-to-sibling", "vm1", "vm2"),
    ("vm2-to-sibling", "vm2", "vm1"),
    ("vm1-to-host", "vm1", "hv1.host"),
    ("vm1-to-outside", "vm1", "h1"),
    ("outside-to-vm1", "h1", "vm1"),
    ("outside-to-host", "h1", "hv1.host"),
    ("host-to-vm1", "hv1.host", "vm1"),
    ("host-to-outside", "hv1.host", "h1"),
    ("vm1-to-unknown", "vm1", UNKNOWN),
    ("host-to-unknown", "hv1.host", UNKNOWN),
    ("outside-to-unknown", "h1", UNKNOWN),
    ("mcast-from-vm1", "vm1", ALL_HOSTS),
    ("mcast-from-host", "hv1.host", ALL_HOSTS),
    ("mcast-from-outside", "h1", ALL_HOSTS),
    ("group-from-outside", "h1", GROUP),
    ("group-from-vm2", "vm2", GROUP),
    ("group-from-vm1", "vm1", GROUP),
    ("group-from-host", "hv1.host", GROUP),
    ("unjoined-group-from-outside", "h1", NOBODY),
    ("unjoined-group-from-vm1", "vm1", NOBODY),
]
MODES = ("private", "vepa", "bridge", "passthru")


def matrix_topology(mode: str, hairpin: bool) -> str:
    vms = [f'      - {{name: vm1, mac: "{VM1}", groups: ["{GROUP}"]}}']
    if mode != "passthru":
        vms.append(f'      - {{name: vm2, mac: "{VM2}"}}')
    lines = [f"name: matrix-{mode}-hairpin-{'on' if hairpin else 'off'}",
             "switches:", "  - name: sw1", f"    ports: {{p2: {{hairpin: {str(hairpin).lower()}}}}}",
             "hosts:", f'  - {{name: h1, mac: "{H1}"}}',
             "hypervisors:", "  - name: hv1", f'    mac: "{HV}"', f"    mode: {mode}", "    vms:", *vms,
             "links: [[h1, sw1.p1], [hv1, sw1.p2]]", "scenario:"]
    for i, (name, sender, dest) in enumerate(FRAMES):
        if mode == "passthru" and "vm2" in (sender, dest):
            continue
        target = f"dst: {dest}" if dest == "broadcast" else f'dst: "{dest}"' if ":" in dest else f"to: {dest}"
        lines.append(f"  - {{at: {i * 10}us, send: {{from: {sender}, {target}, name: {name}}}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("hairpin", [False, True], ids=["hairpin-off", "hairpin-on"])
@pytest.mark.parametrize("mode", MODES)
def test_matrix_kernel_and_vswitch_agree(mode: str, hairpin: bool) -> None:
    report = check(matrix_topology(mode, hairpin))
    _assert_agrees(report)
    expected = len([f for f in FRAMES if mode != "passthru" or "vm2" not in (f[1], f[2])])
    assert len(report.frames) == expected and not any(f.verdict == NOT_CHECKED for f in report.frames)
    # not vacuous: the kernel delivered what every mode must deliver
    vms = {"vm1.eth0": 1} if mode == "passthru" else {"vm1.eth0": 1, "vm2.eth0": 1}
    assert _frame(report, "bcast-from-outside").kernel == {"hv1.host": 1, **vms}
    assert _frame(report, "outside-to-vm1").kernel == {"vm1.eth0": 1}
    group = _frame(report, "group-from-outside")  # vm2 only through a hash-filter leak (known difference)
    assert {i: n for i, n in group.kernel.items() if i not in group.known} == {"hv1.host": 1, "vm1.eth0": 1}
    # documented differences only where documented: unjoined groups at unfiltered devices or through the hash
    for row in report.frames:
        assert set(row.known.values()) <= {"unfiltered", "hash"}, row
        if row.verdict == KNOWN:
            assert row.label.startswith(("group-", "unjoined-group-")), row
    unjoined = _frame(report, "unjoined-group-from-vm1")
    assert "h1.eth0" in unjoined.known
    if hairpin and mode in ("private", "passthru"):  # forward to original port: compared, never the hash leak
        assert unjoined.kernel.get("vm1.eth0") == 1 and "vm1.eth0" not in unjoined.known
    assert {(t.switch, t.mac, t.verdict) for t in report.tables} >= {("sw1", H1, AGREE), ("sw1", VM1, AGREE)}


# -- more of the kernel: port flags, switches, hosts, host bridges, mixed modes, actions ------------------------
FLAGS = """
name: flags
switches:
  - name: sw1
    ports:
      p1: {isolated: true}
      p2: {isolated: true, learning: false}
      p3: {flood: false}
      p4: {mcast_flood: false, bcast_flood: false}
  - name: sw2
    ageing: 0s
    ports: {p2: {}}
    static: [{mac: "02:00:00:00:00:42", port: p2}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
  - {name: h2, mac: "02:00:00:00:00:02"}
  - {name: h3, mac: "02:00:00:00:00:03"}
  - {name: h4, mac: "02:00:00:00:00:04"}
  - name: h5
    nics:
      - {name: eth0, mac: "02:00:00:00:00:05"}
      - {name: eth1, mac: "02:00:00:00:00:15", groups: ["01:00:5e:01:01:01"]}
links: [[h1, sw1.p1], [h2, sw1.p2], [h3, sw1.p3], [h4, sw1.p4], [sw1.p5, sw2.p1], [h5.eth0, sw2.p2],
        [h5.eth1, sw2.p3]]
scenario:
  - {at: 0us, send: {from: h1, dst: broadcast, name: b-h1}}
  - {at: 10us, send: {from: h2, dst: broadcast, name: b-h2}}
  - {at: 20us, send: {from: h3, dst: broadcast, name: b-h3}}
  - {at: 30us, send: {from: h4, dst: broadcast, name: b-h4}}
  - {at: 40us, send: {from: h5.eth0, dst: broadcast, name: b-h5}}
  - {at: 50us, send: {from: h1, to: h2, name: isolated-to-isolated}}
  - {at: 60us, send: {from: h1, to: h3, name: h1-h3}}
  - {at: 70us, send: {from: h2, to: h3, name: unlearned-source}}
  - {at: 80us, send: {from: h5.eth1, dst: "02:00:00:00:77:77", name: unknown-no-flood}}
  - {at: 90us, send: {from: h1, dst: "01:00:5e:01:01:01", name: group-no-mcast-flood}}
  - {at: 100us, send: {from: h3, to: h5.eth0, name: h3-h5, count: 3, interval: 1us}}
  - {at: 110us, send: {from: h3, dst: "02:00:00:00:00:42", name: to-static}}
  - {at: 120us, port: {port: sw1.p1, isolated: false}}
  - {at: 130us, send: {from: h1, to: h2, name: after-isolated-off}}
  - {at: 140us, link: {a: sw1.p5, up: false}}
  - {at: 150us, send: {from: h1, dst: broadcast, name: b-h1-cut}}
  - {at: 160us, link: {a: sw1.p5, up: true}}
  - {at: 170us, send: {from: h1, dst: broadcast, name: b-h1-back}}
  - {at: 180us, send: {from: h5.eth0, to: h1, name: h5-h1}}
"""

HOST_BRIDGE = """
name: host-bridge
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - name: xen1
    mac: "02:00:00:00:00:aa"
    backend: bridge
    vms:
      - {name: vm1, mac: "00:16:3e:00:00:01", groups: ["01:00:5e:01:02:03"]}
      - {name: vm2, mac: "00:16:3e:00:00:02"}
links: [[h1, sw1], [xen1, sw1]]
scenario:
  - {at: 0us, send: {from: h1, to: vm1, name: h1-vm1-unlearned}}
  - {at: 10us, send: {from: vm1, dst: broadcast, name: b-vm1}}
  - {at: 20us, send: {from: xen1.host, dst: broadcast, name: b-host}}
  - {at: 30us, send: {from: vm2, to: vm1, name: vm2-vm1}}
  - {at: 40us, send: {from: vm1, to: xen1.host, name: vm1-host}}
  - {at: 50us, send: {from: h1, to: xen1.host, name: h1-host}}
  - {at: 60us, send: {from: xen1.host, to: vm1, name: host-vm1}}
  - {at: 70us, send: {from: vm2, to: h1, name: vm2-h1}}
  - {at: 80us, send: {from: h1, dst: "01:00:5e:01:02:03", name: group}}
  - {at: 90us, send: {from: vm1, dst: "02:00:00:00:99:99", name: unknown}}
  - {at: 100us, send: {from: h1, to: vm2, name: h1-vm2}}
  - {at: 110us, port: {port: xen1.vif1.0, hairpin: true}}
  - {at: 120us, send: {from: vm1, dst: broadcast, name: b-vm1-hairpin}}
"""

MIXED_MODES = """
name: mixed-modes
switches: [{name: sw1, ports: {p2: {hairpin: true}}}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    mode: vepa
    vms:
      - {name: va, mac: "52:54:00:00:00:01", groups: ["01:00:5e:01:02:03"]}
      - {name: vb, mac: "52:54:00:00:00:02", mode: bridge, groups: ["01:00:5e:01:02:03"]}
      - {name: vc, mac: "52:54:00:00:00:03", mode: bridge}
      - {name: vd, mac: "52:54:00:00:00:04", mode: private, groups: ["01:00:5e:01:02:03"]}
links: [[h1, sw1.p1], [hv1, sw1.p2]]
scenario:
  - {at: 0us, send: {from: va, dst: broadcast, name: b-va}}
  - {at: 10us, send: {from: vb, dst: broadcast, name: b-vb}}
  - {at: 20us, send: {from: vc, dst: broadcast, name: b-vc}}
  - {at: 30us, send: {from: vd, dst: broadcast, name: b-vd}}
  - {at: 40us, send: {from: vb, to: vc, name: bridge-to-bridge}}
  - {at: 50us, send: {from: vb, to: va, name: bridge-to-vepa}}
  - {at: 60us, send: {from: va, to: vb, name: vepa-to-bridge}}
  - {at: 70us, send: {from: vd, to: va, name: private-to-vepa}}
  - {at: 80us, send: {from: va, to: vd, name: vepa-to-private}}
  - {at: 90us, send: {from: vb, dst: "01:00:5e:01:02:03", name: group-from-bridge}}
  - {at: 100us, send: {from: va, dst: "01:00:5e:01:02:03", name: group-from-vepa}}
  - {at: 110us, send: {from: vd, dst: "01:00:5e:01:02:03", name: group-from-private}}
  - {at: 120us, send: {from: h1, dst: "01:00:5e:01:02:03", name: group-from-outside}}
"""

MIGRATION = """
name: migration
switches: [{name: sw1, ports: {p2: {hairpin: true}}}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms: [{name: vm1, mac: "52:54:00:00:00:01", groups: ["01:00:5e:01:02:03"]}, {name: vm2, mac: "52:54:00:00:00:02"}]
  - name: hv2
    mac: "02:00:00:00:00:bb"
    mode: vepa
    vms: [{name: vm3, mac: "52:54:00:00:00:03"}]
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
scenario:
  - {at: 0us, send: {from: vm1, dst: broadcast, name: b-vm1}}
  - {at: 10us, send: {from: h1, to: vm1, name: h1-vm1}}
  - {at: 20us, detach: vm1}
  - {at: 30us, send: {from: h1, to: vm1, name: h1-vm1-detached}}
  - {at: 40us, send: {from: vm1, dst: broadcast, name: b-vm1-detached}}
  - {at: 50us, attach: {vm: vm1, hypervisor: hv2}}
  - {at: 60us, send: {from: h1, to: vm1, name: h1-vm1-stale}}
  - {at: 70us, send: {from: vm1, dst: broadcast, name: b-vm1-on-hv2}}
  - {at: 80us, send: {from: h1, to: vm1, name: h1-vm1-on-hv2}}
  - {at: 90us, send: {from: h1, dst: "01:00:5e:01:02:03", name: group-follows-vm1}}
  - {at: 100us, interface: {name: vm2, join: ["01:00:5e:01:02:04"]}}
  - {at: 110us, send: {from: h1, dst: "01:00:5e:01:02:04", name: joined}}
  - {at: 120us, interface: {name: vm2, leave: ["01:00:5e:01:02:04"]}}
  - {at: 130us, send: {from: h1, dst: "01:00:5e:01:02:04", name: left}}
  - {at: 140us, interface: {name: vm2, join: ["01:00:5e:01:02:05"]}}
  - {at: 150us, send: {from: h1, dst: "01:00:5e:01:02:04", name: left-then-joined-another}}
  - {at: 160us, interface: {name: h1, promiscuous: true}}
  - {at: 170us, send: {from: vm2, dst: "02:00:00:00:99:99", name: unknown-to-promiscuous}}
  - {at: 180us, interface: {name: vm2, up: false}}
  - {at: 190us, send: {from: h1, to: vm2, name: to-vnic-down}}
  - {at: 200us, send: {from: vm2, dst: broadcast, name: from-vnic-down}}
  - {at: 210us, interface: {name: vm2, up: true, allmulti: true}}
  - {at: 220us, send: {from: h1, to: vm2, name: to-vnic-up}}
  - {at: 230us, send: {from: h1, dst: "01:00:5e:33:33:33", name: allmulti}}
"""


GUESTS = """
name: guests
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01", ip: 192.0.2.11/24}
      - {name: vm2, mac: "52:54:00:00:00:02", ip: 192.0.2.12/24}
  - {name: hv2, mac: "02:00:00:00:00:bb", mode: vepa}
links: [[h1, sw1], [hv1, sw1], [hv2, sw1]]
scenario:
  - {at: 0s, ping: {from: h1, to: vm1, count: 2, interval: 10ms, name: ping1}}
  - {at: 50ms, arping: {from: vm2, to: vm1, name: arp2}}
  - {at: 100ms, migrate: {vm: vm1, to: hv2}}
  - {at: 300ms, ping: {from: h1, to: vm1, count: 1, name: ping2}}
"""


@pytest.mark.parametrize("text", [FLAGS, HOST_BRIDGE, MIXED_MODES, MIGRATION, GUESTS],
                         ids=["port-flags-switches-nics", "host-bridge", "mixed-modes", "migration-interfaces",
                              "guest-stacks"])
def test_more_topologies_agree(text: str) -> None:
    report = check_once(text)
    _assert_agrees(report)
    assert not any(f.verdict == NOT_CHECKED for f in report.frames)
    assert report.tables and report.stray == 0


TAGGED = """
name: tagged-frames-on-vlan-unaware-bridges
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, mac: "52:54:00:00:00:01"}]}
links: [[h1, sw1], [h2, sw1], [hv1, sw1]]
scenario:
  - {at: 0us, send: {from: h2, to: h1, vlan: 10, name: tagged-unicast}}
  - {at: 10us, send: {from: vm1, dst: broadcast, vlan: 10, name: tagged-from-vm}}
  - {at: 20us, send: {from: h1, to: vm1, vlan: [10, 20], name: double-tagged-to-vm}}
  - {at: 30us, send: {from: h1, to: h2, vlan: {vid: 0, pcp: 5}, name: priority-tagged}}
  - {at: 40us, send: {from: h1, dst: broadcast, vlan: 30, name: tagged-broadcast}}
"""


def test_tagged_frames_are_matched_though_the_receiver_sees_the_tag_as_metadata() -> None:
    """A VLAN-unaware bridge forwards tags as payload, as vswitch's does; Linux untags each frame it receives
    (the tag goes to the skb's metadata), so the copy a receiver's socket reads lacks the outer tag. Copies match
    VLAN tags aside; before, each was a stray and every tagged frame a DIFFER. A tagged broadcast reaches the
    adapter's own stack as PACKET_OTHERHOST (no VLAN device for it), which vswitch drops as vlan_no_interface."""
    report = check(TAGGED)
    _assert_agrees(report)
    assert report.stray == 0
    assert {f.label: f.kernel for f in report.frames} == {
        "tagged-unicast": {"h1.eth0": 1}, "tagged-from-vm": {"h1.eth0": 1, "h2.eth0": 1},
        "double-tagged-to-vm": {"vm1.eth0": 1}, "priority-tagged": {"h2.eth0": 1},
        "tagged-broadcast": {"h2.eth0": 1, "vm1.eth0": 1}}


def test_port_flags_and_link_actions_are_applied_in_the_kernel() -> None:
    report = check_once(FLAGS)
    assert _frame(report, "b-h1").kernel == {"h3.eth0": 1, "h5.eth0": 1, "h5.eth1": 1}  # isolated, no bcast flood
    assert _frame(report, "isolated-to-isolated").kernel == {}
    assert _frame(report, "after-isolated-off").kernel == {"h2.eth0": 1}
    assert _frame(report, "b-h1-cut").kernel == {"h2.eth0": 1, "h3.eth0": 1}
    assert [t.kernel for t in report.tables if t.switch == "sw2"] == ["p2 (static)"]  # ageing 0: learns nothing


def test_frames_of_guest_stacks_and_a_migration_are_replayed() -> None:
    report = check_once(GUESTS)
    assert len(report.frames) >= 10  # ARP, echo requests and replies, RARP announces: all sent by vswitch itself
    assert sum(f.label.startswith("vm1-announce") for f in report.frames) == 5
    assert _frame(report, "vm1-announce#1").kernel == {"h1.eth0": 1, "hv1.host": 1, "vm2.eth0": 1}
    assert ("sw1", "52:54:00:00:00:01", "p3", "p3", AGREE) in [
        (t.switch, t.mac, t.kernel, t.vswitch, t.verdict) for t in report.tables]  # learned where it moved
    assert any("IPv4 stacks (h1.eth0 192.0.2.1/24" in line for line in report.not_checked)


def test_migration_reattaches_the_vnic_and_its_groups() -> None:
    report = check_once(MIGRATION)
    assert _frame(report, "h1-vm1-on-hv2").kernel == {"vm1.eth0": 1}
    assert _frame(report, "group-follows-vm1").kernel.get("vm1.eth0") == 1
    left = _frame(report, "left")  # the macvlan quirk: documented, not agreed
    assert left.verdict == KNOWN and left.known.get("vm2.eth0") in ("left", "hash")
    # joining another group clears the left one, but the hash filter lets 01:00:5e:01:02:04 through to vm2 in
    # some labs (a quarter of them here, salted per device: fidelity.md difference 2): excused, never a DIFFER
    rejoined = _frame(report, "left-then-joined-another")
    assert (rejoined.vswitch, rejoined.verdict, rejoined.kernel.keys() == rejoined.known.keys()) == ({}, KNOWN, True)
    assert _frame(report, "unknown-to-promiscuous").kernel == {"h1.eth0": 1}
    assert _frame(report, "to-vnic-down").kernel == {} and _frame(report, "to-vnic-up").kernel == {"vm2.eth0": 1}


REFLECTED = """
name: reflected-groups
switches: [{name: sw1, ports: {p2: {hairpin: true}, p3: {hairpin: true}}}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    mode: private
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01", groups: ["01:00:5e:01:02:03"]}
      - {name: vm2, mac: "52:54:00:00:00:02", groups: ["01:00:5e:01:02:04"]}
  - name: hv2
    mac: "02:00:00:00:00:bb"
    mode: passthru
    vms: [{name: vm3, mac: "52:54:00:00:00:03"}]
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
scenario:
  - {at: 0us, send: {from: vm1, dst: "01:00:5e:7f:00:99", name: unjoined-from-private}}
  - {at: 10us, send: {from: vm1, dst: "01:00:5e:01:02:04", name: siblings-group-from-private}}
  - {at: 20us, send: {from: vm1, dst: "01:00:5e:01:02:03", name: joined-from-private}}
  - {at: 30us, send: {from: vm3, dst: "01:00:5e:7f:00:99", name: unjoined-from-passthru}}
  - {at: 40us, send: {from: h1, src: "52:54:00:00:00:01", dst: "01:00:5e:7f:00:98", name: as-vm1-from-outside}}
  - {at: 50us, send: {from: vm1, dst: broadcast, name: vm1-again}}
"""
#: The frames whose copy to their own (private or passthru) source the kernel delivers past the group filter
REFLECTED_UNJOINED = {"unjoined-from-private": "vm1.eth0", "siblings-group-from-private": "vm1.eth0",
                      "unjoined-from-passthru": "vm3.eth0", "as-vm1-from-outside": "vm1.eth0"}


def test_a_vnics_own_group_frame_handed_back_past_its_filter_is_compared_not_excused() -> None:
    """macvlan forwards multicast from a private or passthru vNIC back to it ("forward to original port") without
    its multicast filter: such a copy of a group the vNIC did not join is no hash-filter leak (known difference 2)
    and must agree. vswitch delivers it; the other unjoined copies (h1's veth, hash leaks) stay known."""
    report = check_once(REFLECTED)
    _assert_agrees(report)
    for label, vnic in REFLECTED_UNJOINED.items():
        row = _frame(report, label)
        assert row.kernel.get(vnic) == 1 and row.vswitch.get(vnic) == 1 and vnic not in row.known, row
    assert _frame(report, "siblings-group-from-private").kernel.get("vm2.eth0") is None  # to the source alone


def test_kernel_check_catches_an_adapter_that_filters_the_copy_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug of issue 12 (item 13) re-created: vNICs that drop their reflected unjoined group as not_for_us.
    kernel-check used to file the kernel's copy as the hash-filter leak and agree; now it differs, there only."""
    def filtering(spec):
        net = build_network(spec)
        for vnic in net.vnics.values():
            vnic.takes_own_multicast = False
        return net
    monkeypatch.setattr(kernel_check, "build_network", filtering)
    report = check(REFLECTED)
    assert not report.agrees
    differ = {f.label: f for f in report.frames if f.verdict == DIFFER}
    assert set(differ) == set(REFLECTED_UNJOINED)
    for label, vnic in REFLECTED_UNJOINED.items():
        assert differ[label].kernel.get(vnic) == 1 and vnic not in differ[label].vswitch
    assert "=> DIFFER" in render(report)


# -- what is not checked is said, never passed ------------------------------------------------------------------
def test_features_without_kernel_counterpart_are_listed_as_not_checked() -> None:
    report = check("""
name: limits
switches: [{name: sw1, table_limit: 4, table_policy: evict}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
hypervisors: [{name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, mac: "52:54:00:00:00:01"}]}]
links: [{a: h1, b: sw1, latency: 1ms, bandwidth: 1Mbps}, [h2, sw1], [hv1, sw1]]
scenario:
  - {at: 0s, send: {from: h1, dst: broadcast, name: first}}
  - {at: 5ms, send: {from: h1, dst: broadcast, name: slow}}
  - {at: 5500us, port: {port: sw1.p2, flood: false}}
  - {at: 10ms, interface: {name: hv1.host, up: false}}
  - {at: 20ms, send: {from: h2, dst: broadcast, name: after}}
expect:
  - delivered: {frame: first, to: h2}
""")
    text = "\n".join(report.not_checked)
    assert "expectation" in text and "bandwidth" in text and "table_limit 4" in text
    assert "hv1.host up/down" in text
    assert _frame(report, "first").verdict == AGREE
    slow = _frame(report, "slow")  # still on its 1 Mbps, 1 ms link when the port changed: order differs
    assert slow.verdict == NOT_CHECKED and "in flight" in slow.note
    assert _frame(report, "after").verdict == NOT_CHECKED and report.tables == []
    assert report.agrees  # nothing differs; the unchecked part is listed, not passed
    assert "not checked:" in render(report)


def test_frames_past_max_frames_are_not_checked() -> None:
    report = check(matrix_topology("bridge", False), max_frames=3)
    assert [f.verdict for f in report.frames[:3]] == [AGREE] * 3
    assert {f.verdict for f in report.frames[3:]} == {NOT_CHECKED} and report.tables == []
    assert any("after 3 frames" in line for line in report.not_checked)


def test_ageing_is_waited_out_in_real_time_or_the_rest_is_not_checked() -> None:
    text = """
name: ageing
switches: [{name: sw1, ageing: 100ms}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"},
        {name: h3, mac: "02:00:00:00:00:03"}]
links: [[h1, sw1], [h2, sw1], [h3, sw1]]
scenario:
  - {at: 0s, send: {from: h1, dst: broadcast, name: learn}}
  - {at: 10ms, send: {from: h2, to: h1, name: learned}}
  - {at: 400ms, send: {from: h2, to: h1, name: aged-out}}
"""
    paced = check(text, settle_s=0.02)
    _assert_agrees(paced)
    assert _frame(paced, "learned").vswitch == {"h1.eth0": 1}
    assert _frame(paced, "aged-out").kernel == {"h1.eth0": 1}  # flooded: h3 drops it as otherhost
    hurried = check(text, max_wait_s=0.05, settle_s=0.02)  # 8 times faster: 12.5 ms of ageing, less than one injection
    assert [f.verdict for f in hurried.frames] == [AGREE, NOT_CHECKED, NOT_CHECKED]
    assert "ageing" in _frame(hurried, "learned").note
    assert any("8 times faster" in line for line in hurried.not_checked)


def test_a_topology_the_kernel_cannot_express_is_refused_with_its_reason() -> None:
    spec = load_topology_text("""
name: loop
switches: [{name: sw1}, {name: sw2}]
links: [[sw1.p1, sw2.p1], [sw1.p2, sw2.p2]]
""")
    assert "loop" in unsupported(build_network(spec))[0]
    with pytest.raises(KernelCheckError, match="cannot express.*loop"):
        check_topology(spec, prefix=PREFIX)


# -- the examples -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((ROOT / "topologies").glob("*.yaml")), ids=lambda p: p.name)
def test_example_topologies_agree_with_the_kernel(path: Path) -> None:
    spec = load_topology(path)
    reasons = unsupported(build_network(spec))
    if reasons:
        pytest.skip(f"the kernel cannot express {path.name}: {reasons[0]}")
    report = check_topology(spec, prefix=PREFIX, settle_s=SETTLE_S, max_wait_s=2.0, max_frames=100)  # streams are long
    _assert_agrees(report)
    assert _leftovers() == []


# -- the command, teardown and cleanup --------------------------------------------------------------------------
def test_command_prints_the_table_and_exits_0_when_all_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kernel-check", str(ROOT / "topologies" / "two-vms-one-adapter.yaml"), "--prefix", PREFIX]) == 0
    out = capsys.readouterr().out
    assert "vm1-to-h1" in out and "learned tables" in out and "=> AGREE" in out
    assert _leftovers() == []


def test_command_without_root_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["kernel-check", str(ROOT / "topologies" / "two-vms-one-adapter.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs root" in err


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_nothing_is_left_behind_after_an_error_or_interrupt(monkeypatch: pytest.MonkeyPatch,
                                                            error: type[BaseException]) -> None:
    def fail(self, *args):
        assert _leftovers() != []  # the lab exists while replaying
        raise error("stop")
    monkeypatch.setattr(KernelTopology, "replay", fail)
    with pytest.raises(error):
        check_topology(load_topology_text(matrix_topology("bridge", False)), prefix=PREFIX)
    assert _leftovers() == []


SLOW = """
name: slow
switches: [{name: sw1, ageing: 100ms}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
links: [[h1, sw1], [h2, sw1]]
scenario:
  - {at: 0s, send: {from: h1, dst: broadcast, name: first}}
  - {at: 30s, send: {from: h2, dst: broadcast, name: last}}
"""
HANG_GUARD_S = 120  # only a hang takes this long: the waits below end on events, not on time


def wait_for_line(proc: subprocess.Popen, expected: bytes) -> None:
    """Block until ``proc`` writes the line ``expected`` on its stdout (fail if it ends or hangs first)."""
    ready, _, _ = select.select([proc.stdout], [], [], HANG_GUARD_S)
    assert ready, f"no {expected!r} within {HANG_GUARD_S} s"
    line = proc.stdout.readline()
    assert line == expected + b"\n", (line, proc.poll(), proc.stderr.read() if proc.poll() is not None else b"")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signalled_run_leaves_nothing_or_kernel_cleanup_removes_it(tmp_path: Path, sig: signal.Signals) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW)
    # the child is the vswitch command: its Ctrl-C handler installed whatever the test inherited (a background
    # job ignores SIGINT); it says when its lab is built and the replay has begun (which then waits 30 s for 'last')
    code = f"""import sys
sys.path.insert(0, {str(ROOT)!r})
from vswitch import interrupts
interrupts.install()
from vswitch.cli import main
from vswitch.kernel.compare import KernelTopology
replay = KernelTopology.replay
def announced(self, *args, **kwargs):
    print("replaying", flush=True)
    return replay(self, *args, **kwargs)
KernelTopology.replay = announced
sys.exit(main(['kernel-check', {str(path)!r}, '--prefix', {PREFIX!r}]))
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tag = f"{PREFIX}_{_b36(proc.pid, 5)}"
    try:
        wait_for_line(proc, b"replaying")
        assert any(name.endswith("-h2") for name in _names(tag))  # the lab exists
        proc.send_signal(sig)
        status = proc.wait(timeout=HANG_GUARD_S)
        if sig == signal.SIGKILL:
            assert _names(tag) != []  # a kill leaves the lab ...
            assert run_cleanup(argparse.Namespace(prefix=[PREFIX], force=False)) == 0  # ... the command removes it
        else:
            assert status == 130 and b"interrupted" in proc.stderr.read()
        assert _names(tag) == []
    finally:
        proc.kill()
        proc.wait()
        cleanup_leftovers(PREFIX)


def test_cleanup_removes_the_namespaces_of_a_killed_run(capsys: pytest.CaptureFixture[str]) -> None:
    leaked = f"{PREFIX}_zzzzz00-h{os.getpid()}"  # pid "zzzzz" (60466175) is above any pid_max: a dead run
    subprocess.run(["ip", "netns", "add", leaked], check=True)
    try:
        assert run_cleanup(argparse.Namespace(prefix=[PREFIX], force=False)) == 0
        assert leaked in capsys.readouterr().out
        assert leaked not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["ip", "netns", "del", leaked], capture_output=True)
