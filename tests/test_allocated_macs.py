"""A VM without ``mac`` gets one from its ``prefix`` when the network is built; the loader's checks know that MAC
before (``topology/macplan.py``, the one rule both use), so a prefix VM's link-local address (the EUI-64 of its
MAC) is checked by ``vswitch validate`` like any other: a ping to it passes, a wrong one is refused at the field."""

from __future__ import annotations

import random
from ipaddress import IPv6Address

import pytest

from vswitch.cli import main
from vswitch.guests.inet6 import eui64_link_local
from vswitch.scenario.runner import ScenarioRunner
from vswitch.scenario.show import machine_rows
from vswitch.topology.build import build_network
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.guest_check import station_ipv6, stations
from vswitch.topology.loader import load_topology_text

LAB = """\
name: allocated
switches: [{{name: sw1}}]
hosts:
  - {{name: h1, mac: "02:00:00:00:00:01", ip6: []}}
  - name: h2
    nics: [{{mac: "52:54:00:00:00:01"}}, {{mac: "00:16:3e:00:00:02"}}]   # MACs the allocation must skip
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vlans: [{{vid: 10, mac: "52:54:00:00:00:03"}}]
    vms:
      - {{name: vm1, ip6: []}}                       # 52:54:00:00:00:02 (01 is h2's)
      - {{name: vm2, mac: "52:54:00:00:00:04", ip6: []}}
      - {{name: vm3, prefix: xen, ip6: []}}          # 00:16:3e:00:00:01
  - name: hv2
    mac: "02:00:00:00:00:bb"
    backend: bridge
    vms:
      - {{name: vm4, ip6: []}}                       # 52:54:00:00:00:05 (03 the VLAN's, 04 vm2's)
      - {{name: vm5, prefix: xen, ip6: []}}          # 00:16:3e:00:00:03 (02 is h2's)
      - {{name: vm6, prefix: "02:42:ac", ip6: []}}   # 02:42:ac:00:00:01
      - {{name: vm7, mac: "52:54:00:00:00:06", ip6: []}}
links: [[h1, sw1.p1], [hv1, sw1.p2], [hv2, sw1.p3]]
{scenario}"""
EXPECTED = {"vm1": "52:54:00:00:00:02", "vm2": "52:54:00:00:00:04", "vm3": "00:16:3e:00:00:01",
            "vm4": "52:54:00:00:00:05", "vm5": "00:16:3e:00:00:03", "vm6": "02:42:ac:00:00:01",
            "vm7": "52:54:00:00:00:06"}


def checked_and_built(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each VM's MAC as the loader's checks see it, and as the built network has it."""
    spec = load_topology_text(text, "lab.yaml")
    vms = [vm.name for hv in spec.hypervisors for vm in hv.vms]
    table = stations(spec)
    net = build_network(spec)
    return {vm: str(table[vm].mac) for vm in vms}, {vm: str(net.vnics[vm].mac) for vm in vms}


def test_the_checks_know_the_mac_the_build_allocates():
    checked, built = checked_and_built(LAB.format(scenario=""))
    assert checked == built == EXPECTED


def random_layout(rng: random.Random) -> str:
    """Hypervisors of both backends, VMs with and without mac under several prefixes, given MACs that fall in
    the allocation's way, in a random mix."""
    prefixes = ["qemu", "xen", "vmware", "52:54:00", "02:42:ac"]
    ouis = ["52:54:00", "00:16:3e", "00:50:56", "02:42:ac"]
    taken: set[str] = set()

    def given() -> str:
        while True:
            mac = f"{rng.choice(ouis)}:00:00:{rng.randint(1, 12):02x}"
            if mac not in taken:
                taken.add(mac)
                return mac

    hosts = [f"  - {{name: h{n}, mac: \"{given()}\"}}" for n in range(rng.randint(0, 3))]
    hypervisors = []
    for h in range(rng.randint(1, 4)):
        vms = []
        for v in range(rng.randint(0, 6)):
            roll = rng.random()
            key = f"mac: \"{given()}\"" if roll < 0.3 else f"prefix: \"{rng.choice(prefixes)}\"" if roll < 0.7 else ""
            vms.append(f"{{name: vm{h}x{v}{', ' + key if key else ''}}}")
        backend = rng.choice(["adapter", "bridge"])
        hypervisors.append(f"  - {{name: hv{h}, mac: \"{given()}\", backend: {backend}, vms: [{', '.join(vms)}]}}")
    return "name: random\nswitches: [{name: sw1}]\n" + ("hosts:\n" + "\n".join(hosts) + "\n" if hosts else "") \
        + "hypervisors:\n" + "\n".join(hypervisors) + "\n"


@pytest.mark.parametrize("seed", range(12))
def test_the_checks_and_the_build_agree_on_random_layouts(seed):
    checked, built = checked_and_built(random_layout(random.Random(seed)))
    assert checked == built


def test_a_ping_to_a_prefix_vm_s_real_link_local_validates_and_is_answered():
    text = LAB.format(scenario="scenario:\n  - {at: 2s, ping: {from: h1, to: 'fe80::5054:ff:fe00:5', name: p}}\n"
                                "  - {at: 2s, ping: {from: vm1, to: 'fe80::216:3eff:fe00:3', name: q}}\n")
    spec = load_topology_text(text, "lab.yaml")
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert {name: session.received for name, session in result.sessions.items()} == {"p": 1, "q": 1}


@pytest.mark.parametrize("to, close", [
    ("fe80::5054:ff:fe00:7", "fe80::5054:ff:fe00:6, vm7.eth0's"),   # one past the last QEMU VM
    ("fe80::216:3eff:fe00:2", "fe80::216:3eff:fe00:3, vm5.eth0's"),  # h2's second NIC: a MAC without IPv6
])
def test_a_link_local_of_no_interface_is_a_warning_at_the_field_with_the_fix(to, close):
    """An EUI-64 link-local no interface has is likely a MAC mistaken: the run warns where, and says what to write
    (an absent host is a fair target, so the file still runs, and the ping goes unanswered)."""
    text = LAB.format(scenario=f"scenario:\n  - {{at: 2s, ping: {{from: h1, to: '{to}'}}}}\n")
    spec = load_topology_text(text, "lab.yaml")
    written = f"  - {{at: 2s, ping: {{from: h1, to: '{to}'}}}}"
    line, column = text.splitlines().index(written) + 1, written.index("'") + 1
    mac = ":".join(f"{b:02x}" for b in bytes((IPv6Address(to).packed[8] ^ 2,)) + IPv6Address(to).packed[9:11]
                   + IPv6Address(to).packed[13:])
    assert spec.warnings == (
        f"lab.yaml:{line}:{column}: scenario[0].ping.to: {to} is no interface's link-local address here (it is the "
        f"one of MAC {mac}, which no interface with IPv6 has), so nothing will answer: did you mean {close}? Or name "
        f"the interface (to: {close.split(', ')[1].split('.')[0]}), whose address the run uses; a VM without mac "
        "gets one from its prefix in file order (docs/ipv6.md)",)
    result = ScenarioRunner(spec, build_network(spec)).run()
    assert [s.received for s in result.sessions.values()] == [0] and result.warnings == list(spec.warnings)


def test_an_absent_host_is_still_pinged_at_an_address_no_mac_makes():
    spec = load_topology_text(LAB.format(scenario="scenario:\n  - {at: 2s, ping: {from: h1, to: 'fe80::99'}}\n"),
                              "lab.yaml")
    assert [s.received for s in ScenarioRunner(spec, build_network(spec)).run().sessions.values()] == [0]


def test_two_prefix_vms_reach_each_other_by_name_and_a_vm_cannot_ping_itself():
    ok = LAB.format(scenario="scenario:\n  - {at: 2s, ping: {from: vm1, to: vm4, family: ipv6, name: p}}\n")
    spec = load_topology_text(ok, "lab.yaml")
    assert ScenarioRunner(spec, build_network(spec)).run().sessions["p"].received == 1
    with pytest.raises(TopologyFileError, match=r"scenario\[0\]\.ping\.to: vm1 is vm1\.eth0's own address"):
        load_topology_text(LAB.format(scenario="scenario:\n  - {at: 2s, ping: {from: vm1, to: vm1, family: ipv6}}\n"),
                           "lab.yaml")


def test_show_and_explain_give_a_prefix_vm_its_allocated_mac_and_link_local(tmp_path, capsys):
    text = LAB.format(scenario="scenario:\n  - {at: 2s, ping: {from: h1, to: vm4, family: ipv6, name: p}}\n")
    spec = load_topology_text(text, "lab.yaml")
    checked = {name: station for name, station in stations(spec).items() if name.startswith("vm") and "." not in name}
    rows = {row["VM"]: row for row in machine_rows(build_network(spec))}
    for vm, station in checked.items():
        link_local = station_ipv6(station)[0]
        assert link_local.ip == eui64_link_local(station.mac.packed)
        assert (rows[vm]["MAC"], rows[vm]["IPv6"]) == (EXPECTED[vm], str(link_local))
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    assert main(["show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "vm4.eth0     52:54:00:00:00:05  QEMU/KVM" in shown and "fe80::5054:ff:fe00:5/64" in shown
    assert main(["explain", str(path), "p#1"]) == 0
    explained = capsys.readouterr().out
    assert "demultiplexed" not in explained  # hv2 is a host bridge
    assert explained.rstrip().endswith("=> delivered to vm4.eth0; 0 copies dropped")


def test_a_xen_prefix_vm_without_an_address_cannot_be_announced_by_xen_s_default():
    text = LAB.format(scenario="scenario:\n  - {at: 2s, migrate: {vm: vm8, to: hv1}}\n").replace(
        "      - {name: vm7,", "      - {name: vm8, prefix: xen}\n      - {name: vm7,")
    with pytest.raises(TopologyFileError, match=r"scenario\[0\]\.migrate\.vm: the xen announcement comes from the "
                                                r"guest's stack .* give vm8 an address"):
        load_topology_text(text, "lab.yaml")
    load_topology_text(text.replace("to: hv1}", "to: hv1, announce: qemu}"), "lab.yaml")
