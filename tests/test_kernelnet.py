"""Kernel lab (vswitch.kernel.lab): build, inject, learn, tear down. Needs root and network namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import require_netns

from vswitch.kernel.frameio import ether_frame
from vswitch.kernel.lab import FdbEntry, KernelLab, cleanup_leftovers
from vswitch.kernel.netns import KernelLabError

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="kernel lab needs root and iproute2")

PREFIX = "vskt"
BCAST = "ff:ff:ff:ff:ff:ff"
H1, H2, HV1, VM1, VM2 = ("02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:00:01",
                         "52:54:00:00:00:01", "52:54:00:00:00:02")


@pytest.fixture(scope="module", autouse=True)
def _netns_usable() -> None:
    require_netns(PREFIX)


def _netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split(" ")[0] for line in out.splitlines()]


def _root_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(": ")[1].split("@")[0] for line in out.splitlines()]


def _lab_names(tag: str) -> list[str]:
    return [n for n in _netns_names() + _root_links() if n.startswith(tag)]


def _build(lab: KernelLab, mode: str = "bridge", hairpin: bool = False) -> None:
    lab.add_host("h1", H1)
    lab.add_host("h2", H2)
    lab.add_hypervisor("hv1", HV1, mode, {"vm1": VM1, "vm2": VM2}, hairpin=hairpin)


def test_lab_builds_and_tears_down_without_leftovers() -> None:
    with KernelLab(PREFIX) as lab:
        _build(lab)
        assert sorted(n for n in _netns_names() if n.startswith(lab.tag)) == sorted(
            f"{lab.tag}-{role}" for role in ("sw", "h1", "h2", "hv1", "vm1", "vm2"))
        assert {ep.name: ep.mac for ep in lab.endpoints.values()} == {
            "h1": H1, "h2": H2, "hv1": HV1, "vm1": VM1, "vm2": VM2}
        assert all(len(ep.ifname) <= 15 and ep.ifname.startswith(lab.tag) for ep in lab.endpoints.values())
    assert _lab_names(lab.tag) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_lab_is_torn_down_on_exception_and_interrupt(error: type[BaseException]) -> None:
    with pytest.raises(error):
        with KernelLab(PREFIX) as lab:
            lab.add_host("h1", H1)
            raise error
    assert _lab_names(lab.tag) == []


def test_broadcast_from_host_reaches_every_other_endpoint_once() -> None:
    with KernelLab(PREFIX) as lab:
        _build(lab)
        result = lab.inject("h1", ether_frame(BCAST, H1, payload=b"bcast"))
        assert result.receivers == {"h2": 1, "hv1": 1, "vm1": 1, "vm2": 1}
        assert {r.pkttype for r in result.received} == {"broadcast"}
        assert lab.stray == []


def test_bridge_learns_the_source_and_then_forwards_unicast_to_it_only() -> None:
    with KernelLab(PREFIX) as lab:
        _build(lab)
        lab.inject("h1", ether_frame(BCAST, H1, payload=b"learn"))
        assert lab.fdb() == [FdbEntry(H1, lab.ports["h1"], False, "h1")]
        result = lab.inject("h2", ether_frame(H1, H2, payload=b"unicast"))
        assert result.receivers == {"h1": 1}
        assert sorted(e.mac for e in lab.fdb()) == [H1, H2]
        lab.add_static_fdb("02:00:00:00:00:99", "h2")
        assert FdbEntry("02:00:00:00:00:99", lab.ports["h2"], True, "h2") in lab.fdb()


def test_macvlan_bridge_mode_delivers_between_vnics_without_hairpin() -> None:
    with KernelLab(PREFIX) as lab:
        _build(lab, mode="bridge")
        result = lab.inject("vm1", ether_frame(VM2, VM1, payload=b"vm1-vm2"))
        assert result.receivers == {"vm2": 1}
        assert [r.endpoint for r in result.tapped] == ["hv1"]  # the adapter's tap sees it, its stack does not


def test_macvlan_private_mode_with_hairpin_reflects_broadcast_to_its_sender_only() -> None:
    with KernelLab(PREFIX) as lab:
        _build(lab, mode="private", hairpin=True)
        result = lab.inject("vm1", ether_frame(BCAST, VM1, payload=b"private"))
        assert result.receivers == {"h1": 1, "h2": 1, "vm1": 1}


def test_multicast_to_an_unjoined_device_is_flagged() -> None:
    group = "01:00:5e:01:02:03"
    with KernelLab(PREFIX) as lab:
        _build(lab)
        lab.join_multicast("vm1", group)
        assert group in lab.groups("vm1") and "01:00:5e:00:00:01" in lab.groups("vm1")
        result = lab.inject("h1", ether_frame(group, H1, payload=b"group"))
        assert {"vm1", "hv1", "h2"} <= set(result.receivers)  # veth (hv1, h2) has no multicast filter
        assert group in lab.groups("hv1")  # macvlan syncs vNIC groups down to the lower device
        assert "vm1" not in result.unjoined and "hv1" not in result.unjoined and "h2" in result.unjoined
        assert set(result.unjoined) <= set(result.receivers)  # vm2 only through a hash-filter collision


def test_a_macvlan_keeps_a_group_it_left_until_its_own_filter_is_recomputed() -> None:
    """docs/fidelity.md known difference 3: ``macvlan_set_mac_lists`` computes the vNIC's filter before
    ``dev_mc_sync`` drops the left address from its list, so the group still gets through after ``ip maddr del``,
    and a sibling's join (which recomputes only the sibling's filter) does not change that. What clears it (the
    vNIC's next join, leave, allmulticast or promisc toggle, down and up) is not asserted here: the salted hash
    filter lets the group through now and then anyway (difference 2)."""
    group = "01:00:5e:01:02:03"
    with KernelLab(PREFIX) as lab:
        _build(lab)
        lab.join_multicast("vm1", group)
        lab.join_multicast("vm1", group, join=False)
        assert group not in lab.groups("vm1")
        assert lab.inject("h1", ether_frame(group, H1, payload=b"left")).receivers.get("vm1") == 1
        lab.join_multicast("vm2", "01:00:5e:0a:0b:0c")
        assert lab.inject("h1", ether_frame(group, H1, payload=b"sibling")).receivers.get("vm1") == 1


def test_cleanup_leftovers_removes_a_dead_runs_namespace_and_spares_live_labs() -> None:
    leaked = f"{PREFIX}_zzzzz00-leak{os.getpid()}"  # pid "zzzzz" (60466175) is above any pid_max
    subprocess.run(["ip", "netns", "add", leaked], check=True)
    try:
        subprocess.run(["ip", "-n", leaked, "link", "add", "name", "x0", "type", "veth", "peer", "name", "x1"],
                       check=True)
        with KernelLab(PREFIX) as lab:
            lab.add_host("h1", H1)
            removed = cleanup_leftovers(PREFIX)
            assert leaked in removed
            assert not any(name.startswith(lab.tag) for name in removed)
            assert lab.inject("h1", ether_frame(BCAST, H1)).receivers == {}
        assert leaked not in _netns_names()
    finally:
        subprocess.run(["ip", "netns", "del", leaked], capture_output=True)


def test_bad_names_and_modes_are_rejected_before_touching_the_kernel() -> None:
    with pytest.raises(KernelLabError, match="prefix"):
        KernelLab("much-too-long")
    with KernelLab(PREFIX) as lab:
        with pytest.raises(KernelLabError, match="mode"):
            lab.add_hypervisor("hv1", HV1, "vepa2", {"vm1": VM1})
        with pytest.raises(KernelLabError, match="single vNIC"):
            lab.add_hypervisor("hv1", HV1, "passthru", {"vm1": VM1, "vm2": VM2})
        with pytest.raises(KernelLabError, match="used twice"):
            lab.add_hypervisor("hv1", HV1, "bridge", {"hv1": VM1})
        assert lab.endpoints == {}

