"""``attach:`` as the topology readers and ``vswitch live``'s planning take it (no root needed: nothing is created)."""

from __future__ import annotations

import pytest

from vswitch.core.errors import TopologyError
from vswitch.live.command import attachments
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.loader import load_topology_text

HOSTS = """
name: lab
switches: [{name: sw1}]
hosts:
  - {name: red, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24, attach: {netns: red}}
  - {name: blue, mac: "02:00:00:00:00:02", attach: {netns: %s}}
links: [[red, sw1], [blue, sw1]]
"""


def test_each_attached_station_is_planned_with_its_address() -> None:
    spec = load_topology_text(HOSTS % "blue", "lab.yaml")
    assert [(nic, attach.name, ip) for nic, attach, ip in attachments(spec)] == [
        ("red.eth0", "red", "192.0.2.1/24"), ("blue.eth0", "blue", None)]


def test_taps_and_interfaces_are_planned_by_kind() -> None:
    text = HOSTS.replace("{netns: red}", "{tap: redtap}").replace("{netns: %s}", "{interface: veth7}")
    spec = load_topology_text(text, "lab.yaml")
    assert [(nic, attach.kind, attach.name) for nic, attach, _ in attachments(spec)] == [
        ("red.eth0", "tap", "redtap"), ("blue.eth0", "interface", "veth7")]


def test_a_tap_and_an_interface_of_one_name_are_refused_naming_both() -> None:
    text = HOSTS.replace("{netns: red}", "{tap: x1}").replace("{netns: %s}", "{interface: x1}")
    with pytest.raises(TopologyError, match="blue.eth0: interface 'x1' is already attached to red.eth0"):
        list(attachments(load_topology_text(text, "lab.yaml")))


def test_a_namespace_and_a_tap_may_share_a_name() -> None:
    text = HOSTS.replace("{netns: red}", "{tap: red}") % "red"
    assert [attach.kind for _, attach, _ in attachments(load_topology_text(text, "lab.yaml"))] == ["tap", "netns"]


def test_two_stations_on_one_namespace_are_refused_naming_both() -> None:
    spec = load_topology_text(HOSTS % "red", "lab.yaml")
    with pytest.raises(TopologyError) as error:
        list(attachments(spec))
    assert str(error.value) == ("lab.yaml:6:52: hosts[1].attach: blue.eth0: namespace 'red' is already attached to "
                                "red.eth0: give each station its own")


@pytest.mark.parametrize("attach, message", [
    ("{netns: 'a b'}", "hosts[1].attach.netns: invalid namespace name 'a b': use letters, digits, '-' and '_', "
                       "e.g. netns: red"),
    ("{}", "hosts[1].attach: say what to attach, one of: netns: NAME (a network namespace vswitch live creates); "
           "tap: NAME (a TAP device vswitch live creates, for a VM); interface: NAME (an existing interface)"),
    ("{tap: x, netns: y}", "lab.yaml:6:52: hosts[1].attach: attach one thing, not netns and tap: keep one of them"),
    ("{tap: vm1.tap}", "hosts[1].attach.tap: invalid interface name 'vm1.tap': use letters, digits, '-' and '_', "
                       "e.g. tap: vm1tap"),
    ("{interface: a-very-long-name0}", "hosts[1].attach.interface: interface name 'a-very-long-name0' is longer "
                                       "than 15 characters (the kernel's limit)"),
    ("{vxlan: x}", "hosts[1].attach.vxlan: unknown key 'vxlan' (expected one of: interface, netns, tap)"),
])
def test_a_bad_attach_names_its_place_and_the_fix(attach: str, message: str) -> None:
    with pytest.raises(TopologyFileError) as error:
        load_topology_text(HOSTS.replace("{netns: %s}", attach), "lab.yaml")
    assert message in str(error.value)
