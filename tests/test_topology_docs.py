"""docs/topology.md is a tested truth: every key the readers accept is documented, and each "Known limitation" it
lists still holds (each has a test below that fails once the limitation is lifted: then drop it from the docs)."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from conftest import udp_frame
from vswitch import DropReason, Network, ScenarioError, ScenarioRunner, build_network, load_topology_text
from vswitch.core.errors import VSwitchError
from vswitch.core.frame import pad
from vswitch.l2.sriov import VFControls
from vswitch.topology.yamlreader import MapReader

ROOT = Path(__file__).resolve().parent.parent
DOCS = {name: (ROOT / "docs" / name).read_text() for name in ("topology.md", "guests.md", "security.md")}
TOPOLOGY = DOCS["topology.md"]


def _yaml_texts() -> list[str]:
    """Every example topology, and every YAML block of the docs and the README (fragments too)."""
    texts = [path.read_text() for path in sorted((ROOT / "topologies").glob("*.yaml"))]
    for doc in [*DOCS.values(), (ROOT / "README.md").read_text()]:
        texts += re.findall(r"```yaml\n(.*?)```", doc, re.S)
    return texts


def _keys_the_readers_ask_for(monkeypatch) -> dict[str, set[str]]:
    """key -> the paths it was asked for at, over every text of ``_yaml_texts`` (read, not run)."""
    asked: dict[str, set[str]] = {}
    finish = MapReader.finish

    def recording_finish(reader: MapReader) -> None:
        for key in reader._asked:
            asked.setdefault(key, set()).add(re.sub(r"\[\d+\]", "[]", reader.path) or "(top level)")
        finish(reader)

    monkeypatch.setattr(MapReader, "finish", recording_finish)
    for text in _yaml_texts():
        try:
            load_topology_text(text, "doc.yaml")
        except VSwitchError:
            pass  # a fragment: the keys read before the error still count
    return asked


def test_every_key_the_readers_accept_is_documented(monkeypatch):
    asked = _keys_the_readers_ask_for(monkeypatch)
    assert {"hairpin", "ageing", "static", "vlans", "max_macs", "ping", "interval", "arp_notify"} <= set(asked)
    prose = [re.sub(r"^```.*?^```", "", doc, flags=re.S | re.M) for doc in DOCS.values()]  # not the examples
    written = [text for doc in prose for text in re.findall(r"`([^`\n]+)`|^#+ (.*)$", doc, re.M)]
    documented = {part for pair in written for text in pair for part in re.split(r"[:,{}\[\] ]+", text) if part}
    named = (".ports", ".except", ".reaches")  # mappings whose keys are names the file gives (p1, vm2)
    missing = {key: sorted(paths) for key, paths in asked.items()
               if key not in documented and not all(path.endswith(named) for path in paths)}
    assert not missing, f"keys read but not documented in docs/topology.md, guests.md or security.md: {missing}"


# -- the known limitations, each with the test that shows it still holds ------------------------------------
def _limitations() -> list[str]:
    section = TOPOLOGY.split("\n## Known limitations\n", 1)[1]
    return [item.split("\n")[0] for item in re.findall(r"^- (.*?)(?=^- |\Z)", section, re.S | re.M)]


def guest_vlans_are_not_configurable():
    """An untagged vNIC beside one with a port VLAN gets untagged frames only: it has no VLAN device of its own."""
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_hypervisor("hv1", "02:00:00:00:00:aa")
    net.add_vm("hv1", "vm1", "52:54:00:00:00:01", vf=VFControls(vlan=10))
    net.add_vm("hv1", "vm2", "52:54:00:00:00:02")
    net.connect("h1", "sw1")
    net.connect("hv1", "sw1")
    plain = udp_frame("02:00:00:00:00:01", "52:54:00:00:00:02")
    net.send("h1", plain)
    net.send("h1", plain[:12] + struct.pack("!HH", 0x8100, 20) + plain[12:], at=1000)
    net.run()
    assert [d.frame for d in net.deliveries("vm2")] == [pad(plain)]
    assert net.stats.dropped == {DropReason.VLAN_NOT_ALLOWED: 1}


PORT_ACTION_ON_A_MISSING_PORT = """\
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}]
links: [[h1, sw1.p1]]
scenario:
  - at: 1ms
    port: {port: sw1.p9, hairpin: true}
"""


def validate_does_not_check_ports_of_port_actions():
    spec = load_topology_text(PORT_ACTION_ON_A_MISSING_PORT, "lab.yaml")  # validate: no error
    build_network(spec).close()
    with pytest.raises(ScenarioError, match=r"lab.yaml:5:5: scenario\[0\]: at 1ms: no interface or port named "
                                            r"'sw1.p9'"):
        ScenarioRunner(spec, build_network(spec)).run()


HOST_VLAN_8021AD = """\
switches: [{name: sw1}]
hypervisors: [{name: hv1, mac: "02:00:00:00:00:aa", vlans: [{vid: 10, protocol: 802.1ad}]}]
links: [[hv1, sw1.p1]]
"""


def host_vlan_interfaces_are_8021q_only():
    with pytest.raises(VSwitchError, match=r"vlans\[0\]\.protocol: unknown key 'protocol'"):
        load_topology_text(HOST_VLAN_8021AD, "lab.yaml")


def a_priority_tag_before_a_host_vlan_goes_to_the_host_stack():
    net = Network()
    net.add_switch("sw1")
    net.add_host("h1", "02:00:00:00:00:01")
    net.add_hypervisor("hv1", "02:00:00:00:00:aa")
    net.add_host_vlan("hv1", 10)
    net.connect("h1", "sw1")
    net.connect("hv1", "sw1")
    plain = udp_frame("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff")
    frame_id = net.send("h1", plain[:12] + struct.pack("!HHHH", 0x8100, 0, 0x8100, 10) + plain[12:])
    net.run()
    assert net.trace.delivered_to(frame_id) == ["hv1.host"]  # Linux: hv1.10


LIMITATIONS = {
    "Guests do not configure VLANs of their own": guest_vlans_are_not_configurable,
    "`vswitch validate` checks": validate_does_not_check_ports_of_port_actions,
    "Host VLAN interfaces (`vlans`) are 802.1Q only": host_vlan_interfaces_are_8021q_only,
    "A priority-tagged frame (VID 0) whose inner tag": a_priority_tag_before_a_host_vlan_goes_to_the_host_stack,
}


def test_each_known_limitation_has_a_test_that_it_still_holds():
    listed = _limitations()
    assert len(listed) == len(LIMITATIONS)
    assert all(any(item.startswith(start) for start in LIMITATIONS) for item in listed), listed


@pytest.mark.parametrize("start", LIMITATIONS)
def test_known_limitation_still_holds(start):
    LIMITATIONS[start]()
