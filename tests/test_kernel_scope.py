"""kernel-check and VLANs, without a kernel: what the scope refuses for a kernel that lacks them, and what the lab
would build for one that has them (issue 21 item 11).

Whether the kernel has VLANs is found out by trying (``kernel/features.py``); here its answer is given, both
ways, so these tests run on any machine. tests/test_kernel_security.py asks the real kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vswitch import DropReason
from vswitch.kernel import features
from vswitch.kernel.compare import KernelTopology
from vswitch.kernel.check import AGREE, DIFFER, CheckReport, TableCheck, compare_tables, render
from vswitch.kernel.lab import FdbEntry, KernelLab
from vswitch.kernel import lab as lab_module
from vswitch.kernel.record import record_run
from vswitch.kernel.scope import frame_note, unsupported
from vswitch.topology.build import build_network
from vswitch.topology.loader import load_topology, load_topology_text

TOPOLOGIES = Path(__file__).resolve().parents[1] / "topologies"
VLAN_EXAMPLES = ("attack-vlan-hopping", "vlan-access-trunk", "vlan-qinq", "vlan-vnics", "host-vlan-interfaces")
NO_FILTERING = "this kernel has no bridge VLAN filtering (`ip link add BR ...`: Operation not supported)"
NO_DEVICES = "this kernel has no 802.1Q VLAN devices (`ip link add link DEV ...`: Error: Unknown device type.)"


def kernel_with(**missing: str) -> dict[str, str]:
    """A kernel's answer: every feature present but those given (by ``features`` constant name) with a reason."""
    return {feature: missing.get(name, "") for name, feature in (
        ("VLAN_DEVICES", features.VLAN_DEVICES), ("QINQ_DEVICES", features.QINQ_DEVICES),
        ("VLAN_FILTERING", features.VLAN_FILTERING), ("QINQ_FILTERING", features.QINQ_FILTERING))}


def example(name: str):
    return build_network(load_topology(TOPOLOGIES / f"{name}.yaml"))


@pytest.fixture(autouse=True)
def _fresh_answer():
    """No test sees another's (or the real kernel's) cached answer."""
    features.vlan_support.cache_clear()
    yield
    features.vlan_support.cache_clear()


# -- the scope: refused with the kernel's reason, or let through -----------------------------------------------
def test_a_kernel_without_vlans_refuses_each_vlan_with_the_reason_it_gave(monkeypatch):
    monkeypatch.setattr(features, "vlan_support", lambda: kernel_with(
        VLAN_DEVICES=NO_DEVICES, QINQ_DEVICES=NO_DEVICES, VLAN_FILTERING=NO_FILTERING, QINQ_FILTERING=NO_FILTERING))
    assert unsupported(example("vlan-vnics")) == [  # vm6 and vm7 are a host bridge's: its vlan_filtering covers them
        f"hypervisor hv2: vlan_filtering 802.1Q: {NO_FILTERING}", f"switch sw1: vlan_filtering 802.1Q: {NO_FILTERING}",
        f"VM vm1: port VLAN 10 qos 3: {NO_DEVICES}", f"VM vm2: port VLAN 10: {NO_DEVICES}",
        f"VM vm3: port VLAN 20: {NO_DEVICES}"]


@pytest.mark.parametrize("name", VLAN_EXAMPLES)
def test_a_kernel_with_vlans_lets_every_vlan_topology_through(monkeypatch, name):
    monkeypatch.setattr(features, "vlan_support", kernel_with)
    assert unsupported(example(name)) == []


def test_only_what_the_kernel_lacks_is_refused(monkeypatch):
    """A kernel with 802.1Q but not 802.1ad: the QinQ example is refused for its service tags alone."""
    no_qinq = "this kernel has no 802.1ad bridge VLAN filtering (...)"
    monkeypatch.setattr(features, "vlan_support", lambda: kernel_with(QINQ_DEVICES="no 802.1ad devices",
                                                                      QINQ_FILTERING=no_qinq))
    assert unsupported(example("vlan-qinq")) == [
        f"switch sw1: vlan_filtering 802.1ad: {no_qinq}", "VM vm1: port VLAN 100 proto 802.1ad: no 802.1ad devices",
        "VM vm2: port VLAN 200 proto 802.1ad: no 802.1ad devices"]
    assert unsupported(example("vlan-vnics")) == []


def test_the_kernel_is_asked_once_and_only_for_a_topology_with_vlans(monkeypatch):
    probes = []
    monkeypatch.setattr(features, "probe_vlan_support", lambda: probes.append(1) or kernel_with())
    assert unsupported(example("two-vms-one-adapter")) == [] and probes == []
    assert unsupported(example("vlan-vnics")) == [] and unsupported(example("vlan-qinq")) == []
    assert probes == [1]


def test_a_lab_that_cannot_be_built_is_the_reason_for_every_feature(monkeypatch):
    def no_lab():
        raise lab_module.KernelLabError("cannot create network namespaces: Operation not permitted")
    monkeypatch.setattr(features, "probe_vlan_support", no_lab)
    assert set(features.vlan_support().values()) == {
        f"could not find out whether this kernel has {feature}: cannot create network namespaces: Operation not "
        "permitted" for feature in features.FEATURES}


def test_vlan_drops_are_compared_at_a_switch_but_not_at_an_adapters_vlan_filter():
    """The bridge's no_pvid and vlan_not_allowed are the kernel's too; an adapter's VLAN filter is the NIC's (a
    macvlan takes the frame by MAC, whatever its tag)."""
    spec = load_topology_text("""
name: vlan-drops
switches: [{name: sw1, vlan_filtering: true, ports: {p1: {pvid: none, vlans: [10, 30]}, p2: {vlans: [10, 30]}}}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors: [{name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1, mac: "52:54:00:00:00:01", vlan: 10}]}]
links: [[h1, sw1.p1], [hv1, sw1.p2]]
scenario:
  - {at: 0us, send: {from: h1, to: vm1, name: untagged-on-a-trunk}}
  - {at: 10us, send: {from: h1, to: vm1, vlan: 20, name: a-vlan-the-port-lacks}}
  - {at: 20us, send: {from: h1, to: vm1, vlan: 30, name: a-vlan-no-vnic-has}}
""")
    net = build_network(spec)
    steps, _ = record_run(spec, net)
    sent = [step for step in steps if step.frame_id is not None]
    assert [net.trace.drops(step.frame_id) for step in sent] == [
        [("sw1.p1", DropReason.NO_PVID)], [("sw1.p1", DropReason.VLAN_NOT_ALLOWED)],
        [("hv1.uplink", DropReason.VLAN_NOT_ALLOWED)]]
    assert [frame_note(net, step.frame_id, step.frame) for step in sent] == [
        "", "", "vlan_not_allowed at hv1.uplink: an adapter's VLAN filter (a macvlan takes a frame by MAC, whatever "
                "its tag) has no counterpart in the kernel lab"]


# -- what the lab builds where the kernel has VLANs -------------------------------------------------------------
class RecordingLab:
    """The ``KernelLab`` calls ``KernelTopology`` makes, recorded instead of run (this kernel may have no VLANs)."""

    tag, switch_ns = "t", "t-sw"

    def __init__(self) -> None:
        self.ports: dict[str, str] = {}
        self.bridges: dict[str, str | None] = {}  # key -> vlan_protocol
        self.port_vlans: dict[str, tuple] = {}  # key -> (pvid, VLANs, untagged), as last set
        self.vlan_devices: dict[str, tuple] = {}  # ifname -> (lower, VID, protocol)
        self.macvlans: dict[str, str] = {}  # vNIC -> the device it sits on
        self.static: list[tuple] = []
        self.endpoints: dict[str, tuple] = {}
        self.fdb_rows: dict[str, list[FdbEntry]] = {}  # what ``fdb`` answers, per bridge key
        self._n = 0

    def _dev(self, kind: str) -> str:
        self._n += 1
        return f"{kind}{self._n}"

    def add_bridge(self, key, *, vlan_protocol=None, **_):
        self.bridges[key] = vlan_protocol
        return self._dev("br")

    def add_netns(self, name):
        return f"t-{name}"

    def add_veth(self, ns_a, ns_b, mac_a=None, mac_b=None, kinds="pe"):
        return self._dev(kinds[0]), self._dev(kinds[1])

    def enslave(self, key, ifname, bridge="", **flags):
        self.ports[key] = ifname

    def set_port_vlans(self, key, pvid, vlans, untagged):
        self.port_vlans[key] = (pvid, frozenset(vlans) | ({pvid} - {None}), frozenset(untagged))

    def add_vlan_device(self, netns, lower, vid, protocol="802.1Q", mac=None):
        dev = self._dev("q")
        self.vlan_devices[dev] = (lower, vid, protocol) + ((mac,) if mac else ())
        return dev

    def add_macvlan(self, name, netns, lower, mac, mode, node):
        self.macvlans[name] = lower

    def add_static_fdb(self, mac, node, vlan=None):
        self.static.append((mac, node, vlan))

    def add_endpoint(self, name, *args):
        self.endpoints[name] = args

    def join_multicast(self, *args): pass

    def set_port(self, *args, **flags): pass

    def remove_endpoint(self, name, delete=True):
        del self.endpoints[name]

    def fdb(self, bridge=""):
        return self.fdb_rows.get(bridge, [])


def built(name_or_spec):
    spec = load_topology(TOPOLOGIES / f"{name_or_spec}.yaml") if isinstance(name_or_spec, str) else name_or_spec
    lab = RecordingLab()
    topo = KernelTopology(lab, build_network(spec))
    topo.build()
    return spec, lab, topo


def vswitch_port_vlans(net):
    """Every port of every VLAN-filtering switch (host bridges too) with a cable or a VM: its VLANs in vswitch."""
    return {port.full_name: (port.vlans.pvid, port.vlans.vlans, port.vlans.untagged)
            for switch in net.switches.values() if switch.vlan_filtering
            for port in switch.ports.values() if not port.internal and port.peer is not None}


@pytest.mark.parametrize("name", VLAN_EXAMPLES)
def test_each_port_of_a_vlan_filtering_switch_gets_its_vlans_in_the_kernel_as_in_vswitch(name):
    spec, lab, topo = built(name)
    assert lab.port_vlans == vswitch_port_vlans(build_network(spec))
    assert lab.bridges == {sw.name: sw.vlan_protocol if sw.vlan_filtering else None for sw in spec.switches} | {
        hv.name: "802.1Q" if hv.vlan_filtering else None for hv in spec.hypervisors if hv.backend == "bridge"}


def test_vlan_vnics_the_way_the_kernel_lab_builds_it():
    _, lab, topo = built("vlan-vnics")
    assert lab.port_vlans["sw1.p1"] == (10, {10}, {10})  # an access port
    assert lab.port_vlans["sw1.p3"] == (1, {1, 10, 20}, {1})  # a trunk with native VLAN 1
    assert lab.port_vlans["hv2.uplink"] == (1, {1, 10, 20}, {1})  # the host bridge trunks its guests' VLANs
    assert (lab.port_vlans["hv2.vif1.0"], lab.port_vlans["hv2.vif2.0"]) == ((10, {10}, {10}), (20, {20}, {20}))
    lower = topo.lower["hv1"]
    devices = {vid: dev for dev, (on, vid, protocol) in lab.vlan_devices.items() if on == lower}
    assert sorted(lab.vlan_devices.values()) == [(lower, 10, "802.1Q"), (lower, 20, "802.1Q")]  # one per VLAN
    assert {vm: lab.macvlans[topo.short[vm]] for vm in ("vm1", "vm2", "vm3", "vm4")} == {
        "vm1": devices[10], "vm2": devices[10], "vm3": devices[20], "vm4": lower}  # vm4: untagged, on the adapter


def test_host_vlan_interfaces_are_vlan_devices_with_their_vnics_stacked_on_them():
    _, lab, topo = built("host-vlan-interfaces")
    hv1, hv2 = topo.lower["hv1"], topo.lower["hv2"]
    devices = {(on, vid): dev for dev, (on, vid, *_) in lab.vlan_devices.items()}
    assert sorted(lab.vlan_devices.values()) == sorted([
        (hv1, 10, "802.1Q"), (hv1, 20, "802.1Q", "02:00:00:00:20:aa"), (hv2, 10, "802.1Q")])  # eth0.20: its own MAC
    assert {vm: lab.macvlans[topo.short[vm]] for vm in ("vm1", "vm2", "vm3", "vm4")} == {
        "vm1": devices[hv1, 10], "vm2": devices[hv1, 10], "vm3": devices[hv1, 20], "vm4": hv1}
    for interface, device in (("hv1.10", devices[hv1, 10]), ("hv1.20", devices[hv1, 20]), ("hv2.10", devices[hv2, 10])):
        kind, ns, ifname, node = lab.endpoints[topo.endpoint_of[interface]]  # each its own endpoint: compared
        assert (kind, ifname, node) == ("adapter", device, interface.split(".")[0])
    assert len({topo.endpoint_of[n] for n in ("hv1.host", "hv1.10", "hv1.20", "hv2.host", "hv2.10")}) == 5


def test_a_kernel_without_8021q_refuses_host_vlan_interfaces_naming_each(monkeypatch):
    monkeypatch.setattr(features, "vlan_support", lambda: kernel_with(VLAN_DEVICES=NO_DEVICES))
    assert unsupported(example("host-vlan-interfaces")) == [
        f"hypervisor hv1: VLAN interface hv1.10: {NO_DEVICES}", f"hypervisor hv1: VLAN interface hv1.20: {NO_DEVICES}",
        f"hypervisor hv2: VLAN interface hv2.10: {NO_DEVICES}"]


def test_qinq_vnics_sit_on_8021ad_vlan_devices():
    _, lab, topo = built("vlan-qinq")
    lower = topo.lower["hv1"]
    assert sorted(lab.vlan_devices.values()) == [(lower, 100, "802.1ad"), (lower, 200, "802.1ad")]
    assert lab.bridges == {"sw1": "802.1ad"}


def test_port_actions_and_attachments_change_vlans_in_the_kernel_as_in_vswitch():
    spec = load_topology_text("""
name: vlan-actions
switches: [{name: sw1, vlan_filtering: true, ports: {p1: {pvid: 10}, p2: {pvid: none, vlans: [10, 20]}}}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
hypervisors:
  - {name: hv2, mac: "02:00:00:00:00:bb", backend: bridge, vlan_filtering: true,
     vms: [{name: vm6, mac: "00:16:3e:00:00:06", vlan: 10}, {name: vm7, mac: "00:16:3e:00:00:07", vlan: 20}]}
links: [[h1, sw1.p1], [hv2, sw1.p2]]
scenario:
  - {at: 0us, port: {port: sw1.p1, pvid: 20, vlans: [{vid: 30, untagged: false}]}}
  - {at: 10us, detach: vm7}
""")
    _, lab, topo = built(spec)
    assert lab.port_vlans["hv2.uplink"] == (1, {1, 10, 20}, {1})
    net = build_network(spec)
    steps, _ = record_run(spec, net)
    for step in (s for s in steps if s.frame_id is None):
        assert topo.perform(step) == ""
    assert lab.port_vlans["sw1.p1"] == (20, {20, 30}, {20})
    assert lab.port_vlans["hv2.uplink"] == (1, {1, 10}, {1})  # vm7 gone: its VLAN is no longer trunked
    assert lab.port_vlans == {key: vlans for key, vlans in vswitch_port_vlans(net).items()} | {
        "hv2.vif2.0": lab.port_vlans["hv2.vif2.0"]}  # the kernel's vif went with vm7's device


def test_tables_of_a_vlan_filtering_switch_are_compared_per_vlan_and_mac():
    """vlan-access-trunk's h1 MAC is learned in VLAN 10 and, forged by h2, in VLAN 20: two entries, two rows."""
    spec, lab, topo = built("vlan-access-trunk")
    net = build_network(spec)
    record_run(spec, net)
    lab.fdb_rows = {sw: [FdbEntry(r.mac, "eth", r.static, f"{sw}.{r.port}", r.vlan)
                         for r in net.switch(sw).table.rows(net.now)] for sw in ("sw1", "sw2")}
    lab.fdb_rows["sw1"] = [e for e in lab.fdb_rows["sw1"] if (e.vlan, e.mac) != (20, "02:00:00:00:00:01")]
    rows = compare_tables(topo, net)
    assert [(t.switch, t.vlan, t.mac, t.kernel, t.vswitch, t.verdict) for t in rows if t.mac == "02:00:00:00:00:01"] \
        == [("sw1", 10, "02:00:00:00:00:01", "p1", "p1", AGREE), ("sw1", 20, "02:00:00:00:00:01", "-", "p2", DIFFER),
            ("sw2", 10, "02:00:00:00:00:01", "p9", "p9", AGREE), ("sw2", 20, "02:00:00:00:00:01", "p9", "p9", AGREE)]
    assert len(rows) == sum(len(net.switch(sw).table.rows(net.now)) for sw in ("sw1", "sw2"))


def test_the_report_has_a_vlan_column_where_a_switch_filters_vlans():
    report = CheckReport("t", [], [TableCheck("sw1", "02:00:00:00:00:01", "p1", "p1", AGREE, 10)], [])
    assert render(report).splitlines()[6:9] == [
        "switch      VLAN  MAC                kernel port    vswitch port    result",
        "--------  ------  -----------------  -------------  --------------  --------",
        "sw1           10  02:00:00:00:00:01  p1             p1              agree"]


# -- the lab's commands ------------------------------------------------------------------------------------------
def test_a_port_is_given_exactly_its_vlans(monkeypatch):
    """``bridge vlan del`` of what the port should not carry, then ``add`` of each VLAN with exactly its flags
    (the kernel replaces an existing VLAN's flags: a PVID moved away is cleared)."""
    commands = []
    monkeypatch.setattr(lab_module, "run_command", lambda *args, **_: commands.append(" ".join(args)) or "")
    lab = KernelLab("vskt")
    bridge = lab.add_bridge("sw1", vlan_protocol="802.1ad")
    lab.enslave("sw1.p1", "eth9", "sw1")
    lab.set_port_vlans("sw1.p1", 10, [10, 20], [10])
    lab.set_port_vlans("sw1.p1", None, [20, 30], [])
    ns = lab.switch_ns
    assert commands == [
        f"ip -n {ns} link add {bridge} type bridge stp_state 0 ageing_time 30000 mcast_snooping 0 vlan_filtering 1 "
        "vlan_protocol 802.1ad",
        f"ip -n {ns} link set {bridge} arp off up",
        f"ip -n {ns} link set eth9 master {bridge}",
        f"bridge -n {ns} vlan del dev eth9 vid 1",  # the default PVID
        f"bridge -n {ns} vlan add dev eth9 vid 10 pvid untagged",
        f"bridge -n {ns} vlan add dev eth9 vid 20",
        f"bridge -n {ns} vlan del dev eth9 vid 10",
        f"bridge -n {ns} vlan add dev eth9 vid 20",
        f"bridge -n {ns} vlan add dev eth9 vid 30"]
