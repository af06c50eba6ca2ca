"""The strict topology loader: whole spec values for a valid file, one exact located line per mistake."""

from __future__ import annotations

import pytest

from vswitch.topology.build import build_network
from vswitch.core.errors import TopologyError
from vswitch.core.mac import MACAddress
from vswitch.topology.spec import (ActionSpec, CaptureSpec, ExpectationSpec, HostSpec, LinkSpec, NicSpec, SwitchSpec,
                          Where)
from vswitch.topology.frame_expectations import DeliveredCheck, TableCheck
from vswitch.topology.loader import load_topology_text
from vswitch.topology.scenario_reader import LinkAction, SendAction
from vswitch.topology.diagnostics import TopologyFileError

VALID = """\
name: lab1
description: one of everything
until: 5ms
epoch: 1000
switches:
  - name: sw1
    ageing: 10s
    table_limit: 64
    table_policy: evict
    ports:
      p1: {hairpin: true}
    static:
      - {mac: "02:00:00:00:00:01", port: p1}
hosts:
  - name: h1
    mac: "02:00:00:00:00:01"
    groups: ["01:00:5e:01:02:03"]
  - name: h2
    nics:
      - mac: "02:00:00:00:00:02"
      - {name: mgmt, mac: "02:00:00:00:00:03"}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    mode: vepa
    vms:
      - name: vm1
        mac: "52:54:00:00:00:01"
      - name: vm2
        prefix: xen
      - name: vm3
        mode: private
  - name: hv2
    mac: "02:00:00:00:00:bb"
    backend: bridge
    vms:
      - name: vm4
links:
  - [h1, sw1.p1]
  - {a: hv1, b: sw1.p2, latency: 1.5us, bandwidth: 1Gbps, queue: 10}
  - {a: h2.eth0, b: sw1.p3, latency: 2ms}
  - [hv2, sw1.p4]
captures:
  pcapng: lab.pcapng
  points:
    - h1
    - {point: sw1.p2, direction: rx, file: sw/p2-in.pcap}
scenario:
  - at: 1ms
    send: {from: vm1, to: h1, name: ping, size: 100}
  - at: 2ms
    link: {a: h1, b: sw1.p1, up: false}
expect:
  - delivered: {frame: ping, to: h1, only: true}
  - at: 3ms
    table: {switch: sw1, mac: "52:54:00:00:00:01", port: p2}
"""


def load(text: str):
    return load_topology_text(text, "lab.yaml")


def diagnostics(text: str) -> list[str]:
    """The lines of the error a bad file raises."""
    with pytest.raises(TopologyFileError) as caught:
        load(text)
    return str(caught.value).splitlines()


def W(line: int, column: int, path: str) -> Where:
    return Where("lab.yaml", line, column, path)


# -- a valid file -------------------------------------------------------------------------------------------
def test_valid_file_gives_top_level_values():
    spec = load(VALID)
    assert (spec.name, spec.description, spec.until_ns, spec.epoch_ns, spec.source) == (
        "lab1", "one of everything", 5_000_000, 1000 * 10**9, "lab.yaml")


def test_valid_file_gives_switch_spec():
    assert load(VALID).switches == (SwitchSpec(
        name="sw1", ageing_ns=10 * 10**9, table_limit=64, table_policy="evict",
        ports=(("p1", (("hairpin", True),)),), static=((MACAddress("02:00:00:00:00:01"), "p1", None),),
        where=W(6, 5, "switches[0]")),)


def test_valid_file_gives_hosts_with_one_or_several_nics():
    assert load(VALID).hosts == (
        HostSpec("h1", (NicSpec("eth0", MACAddress("02:00:00:00:00:01"), (MACAddress("01:00:5e:01:02:03"),),
                                W(15, 5, "hosts[0]")),), W(15, 5, "hosts[0]")),
        HostSpec("h2", (NicSpec("eth0", MACAddress("02:00:00:00:00:02"), (), W(20, 9, "hosts[1].nics[0]")),
                        NicSpec("mgmt", MACAddress("02:00:00:00:00:03"), (), W(21, 9, "hosts[1].nics[1]"))),
                 W(18, 5, "hosts[1]")),
    )


def test_valid_file_keeps_explicit_macs_and_leaves_others_to_allocate():
    hv1, hv2 = load(VALID).hypervisors
    assert (hv1.name, hv1.mac, hv1.backend, hv1.mode) == ("hv1", MACAddress("02:00:00:00:00:aa"), "adapter", "vepa")
    assert [(vm.name, vm.mac, vm.prefix, vm.mode) for vm in hv1.vms] == [
        ("vm1", MACAddress("52:54:00:00:00:01"), "qemu", None),
        ("vm2", None, "xen", None),
        ("vm3", None, "qemu", "private"),
    ]
    assert (hv2.backend, hv2.mode, [(vm.name, vm.mac) for vm in hv2.vms]) == ("bridge", "bridge", [("vm4", None)])


def test_built_network_allocates_vendor_macs_beside_explicit_ones():
    net = build_network(load(VALID))
    assert {name: str(vnic.mac) for name, vnic in sorted(net.vnics.items())} == {
        "vm1": "52:54:00:00:00:01",  # explicit
        "vm2": "00:16:3e:00:00:01",  # allocated from the Xen prefix
        "vm3": "52:54:00:00:00:02",  # allocated from QEMU's, skipping vm1's
        "vm4": "52:54:00:00:00:03",
    }


def test_allocated_mac_never_takes_an_explicit_mac_written_later():
    spec = load("""\
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - name: vm1
      - name: vm2
        mac: "52:54:00:00:00:01"
""")
    net = build_network(spec)
    assert {name: str(v.mac) for name, v in net.vnics.items()} == {
        "vm1": "52:54:00:00:00:02", "vm2": "52:54:00:00:00:01"}


def test_valid_file_gives_link_specs_with_durations_in_ns():
    assert load(VALID).links == (
        LinkSpec("h1", "sw1.p1", 0, None, 1000, W(39, 5, "links[0]")),
        LinkSpec("hv1", "sw1.p2", 1500, 10**9, 10, W(40, 5, "links[1]")),
        LinkSpec("h2.eth0", "sw1.p3", 2_000_000, None, 1000, W(41, 5, "links[2]")),
        LinkSpec("hv2", "sw1.p4", 0, None, 1000, W(42, 5, "links[3]")),
    )


def test_valid_file_gives_capture_specs():
    spec = load(VALID)
    assert spec.pcapng == "lab.pcapng"
    assert spec.captures == (
        CaptureSpec("h1", "both", "h1.pcap", W(46, 7, "captures.points[0]")),
        CaptureSpec("sw1.p2", "rx", "sw/p2-in.pcap", W(47, 7, "captures.points[1]")),
    )


def test_valid_file_gives_timed_actions_and_expectations():
    spec = load(VALID)
    assert spec.scenario == (
        ActionSpec(1_000_000, SendAction(
            from_="vm1", to="h1", dst=None, src=None, ethertype=None, payload=b"", size=100, count=1,
            interval_ns=1_000_000, name="ping", vlan=(), udp=None), W(49, 5, "scenario[0]")),
        ActionSpec(2_000_000, LinkAction(a="h1", b="sw1.p1", up=False), W(51, 5, "scenario[1]")),
    )
    assert spec.expectations == (
        ExpectationSpec(DeliveredCheck(frame="ping", to=("h1",), only=True), None, W(54, 5, "expect[0]")),
        ExpectationSpec(TableCheck(switch="sw1", mac=MACAddress("52:54:00:00:00:01"), port="p2", absent=False,
                                   vlan=1), 3_000_000, W(55, 5, "expect[1]")),
    )


def test_defaults_name_from_file_and_pcapng_on():
    spec = load("switches: [{name: sw1}]\n")
    assert (spec.name, spec.pcapng, spec.until_ns, spec.epoch_ns, spec.switches[0].ageing_ns) == (
        "lab", "all.pcapng", None, None, 300 * 10**9)


def test_unquoted_base60_mac_is_read_as_that_mac():
    spec = load("hosts:\n  - name: h1\n    mac: 52:54:00:12:34:56\n")
    assert spec.hosts[0].nics[0].mac == MACAddress("52:54:00:12:34:56")


def test_pcapng_false_turns_it_off():
    assert load("captures: {pcapng: false}\n").pcapng is None


# -- one exact line per mistake -------------------------------------------------------------------------------
BASE = """\
switches:
  - name: sw1
hosts:
  - name: h1
    mac: "02:00:00:00:00:01"
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - name: vm1
        mac: "52:54:00:00:00:01"
links:
  - [h1, sw1.p1]
  - [hv1, sw1.p2]
"""


def test_base_fixture_is_valid():
    assert [h.name for h in load(BASE).hosts] == ["h1"]


def test_unknown_top_level_key_suggests_the_known_one():
    assert diagnostics(BASE + "switchs: []\n") == [
        "lab.yaml:15:1: switchs: unknown key 'switchs' (did you mean 'switches'?)"]


def test_unknown_nested_key_suggests_the_known_one():
    text = BASE.replace("  - name: sw1\n", "  - name: sw1\n    agieng: 5s\n")
    assert diagnostics(text) == ["lab.yaml:3:5: switches[0].agieng: unknown key 'agieng' (did you mean 'ageing'?)"]


def test_unknown_action_suggests_the_known_one():
    text = BASE + "scenario:\n  - at: 1ms\n    sned: {from: h1, to: vm1}\n"
    assert diagnostics(text) == [
        "lab.yaml:16:5: scenario[0]: each item needs exactly one action (arping, attach, detach, expect, interface, "
        "link, migrate, ping, pingall, port, replay, send, stream, udp, vf); 'sned' is not one (did you mean 'send'?)"]


def test_duplicate_key_names_both_lines():
    h1_mac = '    mac: "02:00:00:00:00:01"\n'
    text = BASE.replace(h1_mac, h1_mac + '    mac: "02:00:00:00:00:02"\n')
    assert diagnostics(text) == ["lab.yaml:6:5: hosts[0].mac: duplicate key 'mac' on lines 5 and 6: keep one"]


def test_unquoted_integer_mac_asks_for_quotes():
    text = BASE.replace('"02:00:00:00:00:01"', "525400123456")
    assert diagnostics(text) == [
        'lab.yaml:5:10: hosts[0].mac: expected a MAC address as text, got 525400123456: write it in quotes, '
        'e.g. mac: "52:54:00:12:34:56"']


@pytest.mark.parametrize("mac", ["02:00:00:00:00:zz", "02:00:00:00:100:01", "02:00:00:00:00"])
def test_mac_with_bad_octets(mac):
    text = BASE.replace('"02:00:00:00:00:01"', f'"{mac}"')
    assert diagnostics(text) == [
        f"lab.yaml:5:10: hosts[0].mac: invalid MAC address '{mac}': write six hex octets, e.g. 52:54:00:ab:cd:ef, "
        "52-54-00-AB-CD-EF or 5254.00ab.cdef"]


def test_multicast_mac_for_a_nic():
    text = BASE.replace('"52:54:00:00:00:01"', '"01:00:5e:00:00:01"')
    assert diagnostics(text) == [
        "lab.yaml:11:14: hypervisors[0].vms[0].mac: 01:00:5e:00:00:01 is a multicast address: a NIC's own MAC "
        "must be unicast (first octet even)"]


def test_unicast_mac_in_groups():
    h1_mac = '    mac: "02:00:00:00:00:01"\n'
    text = BASE.replace(h1_mac, h1_mac + '    groups: ["02:00:00:00:00:09"]\n')
    assert diagnostics(text) == [
        "lab.yaml:6:14: hosts[0].groups[0]: 02:00:00:00:00:09 is not a multicast address (the lowest bit of the "
        "first octet must be 1)"]


def test_duplicate_mac_between_host_and_vm_is_reported_at_the_vm():
    text = BASE.replace('"52:54:00:00:00:01"', '"02:00:00:00:00:01"')
    lines = diagnostics(text)
    assert len(lines) == 1
    assert lines[0].startswith("lab.yaml:")
    assert "hypervisors[0].vms[0]" in lines[0]
    assert lines[0].endswith("duplicate MAC 02:00:00:00:00:01 (also h1.eth0)")


def test_duplicate_mac_points_at_the_mac_field():
    text = BASE.replace('"52:54:00:00:00:01"', '"02:00:00:00:00:01"')
    assert diagnostics(text) == [
        "lab.yaml:11:14: hypervisors[0].vms[0].mac: duplicate MAC 02:00:00:00:00:01 (also h1.eth0)"]


def test_duplicate_mac_between_hypervisor_and_host():
    text = BASE.replace('"02:00:00:00:00:aa"', '"02:00:00:00:00:01"')
    assert diagnostics(text) == ["lab.yaml:8:10: hypervisors[0].mac: duplicate MAC 02:00:00:00:00:01 (also h1.eth0)"]


def test_duplicate_name_across_sections():
    text = BASE.replace("name: vm1", "name: h1")
    assert diagnostics(text) == ["lab.yaml:10:9: hypervisors[0].vms[0]: the name 'h1' is used twice (also at line 4)"]


def test_dangling_link_end_suggests_a_close_name():
    text = BASE.replace("[h1, sw1.p1]", "[h1, sw2.p1]")
    assert diagnostics(text) == [
        "lab.yaml:13:5: links[0]: link end 'sw2.p1': no switch, host, hypervisor or VM named 'sw2' "
        "(did you mean 'sw1'?)"]


def test_two_links_on_one_port():
    text = BASE.replace("[hv1, sw1.p2]", "[hv1, sw1.p1]")
    assert diagnostics(text) == ["lab.yaml:14:5: links[1]: port sw1.p1 already has a link (line 13)"]


@pytest.mark.parametrize("name", ["../x.pcap", "/etc/x", "sub/../../x.pcap"])
def test_capture_file_cannot_escape_the_output_folder(name):
    text = BASE + f"captures:\n  points:\n    - {{point: h1, file: {name}}}\n"
    assert diagnostics(text) == [
        f"lab.yaml:17:25: captures.points[0].file: capture file '{name}' must be a relative path inside the "
        "output folder (no '..')"]


def test_pcapng_file_cannot_escape_the_output_folder():
    assert diagnostics(BASE + "captures:\n  pcapng: ../all.pcapng\n") == [
        "lab.yaml:16:11: captures.pcapng: capture file '../all.pcapng' must be a relative path inside the "
        "output folder (no '..')"]


@pytest.mark.parametrize("name", [".", "./", "sub/", "sub/."])
def test_a_capture_file_that_names_a_folder_is_refused_by_validate(name):
    # before, '.' validated and the run then blamed switches[0]: "capture file '.' would be written outside ..."
    folder = "sub/" if name.startswith("sub") else ""
    assert diagnostics(BASE + f"captures:\n  pcapng: '{name}'\n") == [
        f"lab.yaml:16:11: captures.pcapng: capture file '{name}' names a folder: give a file name, e.g. {folder}h1.pcap"]


def test_capture_files_are_compared_as_the_files_they_write():
    assert diagnostics(BASE + "captures:\n  points: [{point: h1, file: a/b.pcap}, {point: vm1, file: a}]\n") == [
        "lab.yaml:16:12: captures.points[0]: capture file a/b.pcap needs a folder a, but captures.points[1] writes a "
        "file of that name: rename one of them"]  # before: IsADirectoryError at run time
    assert load(BASE + "captures:\n  pcapng: sub//./all.pcapng\n").pcapng == "sub/all.pcapng"


@pytest.mark.parametrize("key, shown", [("~", "None"), ("1.5", "1.5"), ("true", "True"), ("7", "7")])
def test_a_port_name_must_be_text(key, shown):
    # before, ~ made a port named 'None' and 1.5 one named '1.5'
    hint = "an empty key, ~ or null is null: write the name" if key == "~" else f"quote it: '{key}'"
    got = "null" if key == "~" else key
    assert diagnostics(BASE.replace("  - name: sw1\n", f"  - name: sw1\n    ports: {{{key}: {{}}, p9: {{}}}}\n")) == [
        f"lab.yaml:3:13: switches[0].ports[{shown}]: expected a port name, got {got} ({hint})"]


def test_capture_point_naming_nothing():
    assert diagnostics(BASE + "captures:\n  points: [vm9]\n") == [
        "lab.yaml:16:12: captures.points[0]: capture point 'vm9': nothing named 'vm9' (did you mean 'vm1'?)"]


def test_unknown_frame_name_in_an_expectation_suggests_the_sent_one():
    text = BASE + ("scenario:\n  - at: 1ms\n    send: {from: h1, to: vm1, name: ping}\n"
                   "expect:\n  - delivered: {frame: pnig, to: vm1}\n")
    assert diagnostics(text) == ["lab.yaml:19:5: expect[0]: no send action is named 'pnig' (did you mean 'ping'?)"]


def test_wrong_types_are_each_reported():
    text = BASE.replace("  - name: sw1\n", "  - name: sw1\n    ageing: [1]\n    table_limit: lots\n"
                                           "    ports:\n      p1: {hairpin: yes}\n")
    assert diagnostics(text) == [
        "lab.yaml:3:13: switches[0].ageing: invalid duration [1]: write a number and a unit, e.g. 300s, 50ms or 5us",
        "lab.yaml:4:18: switches[0].table_limit: expected an integer, got 'lots'",
        "lab.yaml:6:21: switches[0].ports.p1.hairpin: expected true or false, got 'yes' ('yes' is a string here, "
        "not a YAML 1.1 boolean)",
    ]


def test_section_of_the_wrong_shape():
    assert diagnostics("switches: sw1\nlinks: 5\nhosts:\n  - name: 12\n    mac: \"02:00:00:00:00:01\"\n") == [
        "lab.yaml:1:11: switches: expected a list, got 'sw1'",
        "lab.yaml:2:8: links: expected a list, got 5",
        "lab.yaml:4:11: hosts[0].name: expected a string, got 12 (quote it: '12')",
    ]


def test_leading_zero_integer_is_ambiguous():
    text = BASE.replace("  - name: sw1\n", "  - name: sw1\n    table_limit: 010\n")
    assert diagnostics(text) == [
        "lab.yaml:3:18: switches[0].table_limit: '010' has a leading zero, which YAML 1.1 reads as octal: "
        "write 10 for decimal or 0o10 for octal"]


def test_duration_without_unit():
    text = BASE.replace("  - name: sw1\n", "  - name: sw1\n    ageing: 300\n").replace(
        "[h1, sw1.p1]", "{a: h1, b: sw1.p1, latency: 5}")
    assert diagnostics(text) == [
        "lab.yaml:3:13: switches[0].ageing: 300 has no unit: write 300s, 300ms, 300us or 300ns",
        "lab.yaml:14:33: links[0].latency: 5 has no unit: write 5s, 5ms, 5us or 5ns",
    ]


def test_duration_with_unknown_unit():
    text = BASE + "until: 5 sec\n"
    assert diagnostics(text) == [
        "lab.yaml:15:8: until: invalid duration '5 sec': unknown unit 'sec' (use ns, us, ms, s, min or h)"]


def test_passthru_with_two_vms():
    text = BASE.replace("    vms:\n", "    mode: passthru\n    vms:\n      - name: vm2\n")
    assert diagnostics(text) == [
        "lab.yaml:11:7: hypervisors[0].vms: passthru gives the whole adapter to one vNIC, but 2 VMs are listed"]


def test_mode_with_backend_bridge():
    text = BASE.replace("    vms:\n", "    backend: bridge\n    mode: vepa\n    vms:\n")
    assert diagnostics(text) == [
        "lab.yaml:10:11: hypervisors[0].mode: mode applies to backend: adapter (macvlan modes); a host bridge has none"]


def test_unknown_mode_suggests_the_known_one():
    text = BASE.replace("    vms:\n", "    mode: vpea\n    vms:\n")
    assert diagnostics(text) == [
        "lab.yaml:9:11: hypervisors[0].mode: expected one of bridge, vepa, private, passthru, got 'vpea' "
        "(did you mean 'vepa'?)"]


def test_all_errors_of_a_file_are_reported_at_once_in_file_order():
    text = """\
switchs: []
hosts:
  - name: h1
    mac: 525400123456
  - name: h1
    mac: "01:00:00:00:00:01"
links:
  - {a: h1, b: sw9.p1, latency: 5}
until: 10
"""
    assert diagnostics(text) == [
        "lab.yaml:1:1: switchs: unknown key 'switchs' (did you mean 'switches'?)",
        'lab.yaml:4:10: hosts[0].mac: expected a MAC address as text, got 525400123456: write it in quotes, '
        'e.g. mac: "52:54:00:12:34:56"',
        "lab.yaml:6:10: hosts[1].mac: 01:00:00:00:00:01 is a multicast address: a NIC's own MAC must be unicast "
        "(first octet even)",
        "lab.yaml:8:33: links[0].latency: 5 has no unit: write 5s, 5ms, 5us or 5ns",
        "lab.yaml:9:8: until: 10 has no unit: write 10s, 10ms, 10us or 10ns",
    ]


def test_cross_reference_errors_are_reported_together():
    text = BASE.replace("name: vm1", "name: h1").replace("[hv1, sw1.p2]", "[hv1, sw1.p1]") + \
        "captures:\n  points: [vm9]\n"
    lines = diagnostics(text)
    assert lines == [
        "lab.yaml:10:9: hypervisors[0].vms[0]: the name 'h1' is used twice (also at line 4)",
        "lab.yaml:14:5: links[1]: port sw1.p1 already has a link (line 13)",
        "lab.yaml:16:12: captures.points[0]: capture point 'vm9': nothing named 'vm9'",
    ]


def test_file_errors_are_topology_errors():
    with pytest.raises(TopologyError):
        load("hosts: 5\n")


# -- found while writing these tests ------------------------------------------------------------------------
def test_action_at_zero_written_after_a_later_one_stays_at_zero():
    text = BASE + ("scenario:\n  - at: 5ms\n    send: {from: h1, to: vm1, name: late}\n"
                   "  - at: 0s\n    send: {from: h1, to: vm1, name: early}\n")
    assert [(a.action.name, a.at_ns) for a in load(text).scenario] == [("early", 0), ("late", 5_000_000)]


def test_action_without_at_inherits_the_previous_time():
    text = BASE + ("scenario:\n  - at: 5ms\n    send: {from: h1, to: vm1, name: one}\n"
                   "  - send: {from: h1, to: vm1, name: two}\n")
    assert [(a.action.name, a.at_ns) for a in load(text).scenario] == [("one", 5_000_000), ("two", 5_000_000)]


def test_capture_file_written_twice_is_reported():
    lines = diagnostics(BASE + "captures:\n  points: [h1, h1]\n")
    assert len(lines) == 1
    assert lines[0].endswith("captures.points[1]: capture file h1.pcap is written twice: give it its own file")


def test_capture_file_written_twice_names_its_line():
    assert diagnostics(BASE + "captures:\n  points: [h1, h1]\n") == [
        "lab.yaml:16:16: captures.points[1]: capture file h1.pcap is written twice: give it its own file"]


def test_capture_files_the_same_once_normalised_are_written_twice():
    assert diagnostics(BASE + "captures:\n  points: [h1, {point: vm1, file: ./h1.pcap}]\n") == [
        "lab.yaml:16:16: captures.points[1]: capture file h1.pcap is written twice: give it its own file"]
    assert diagnostics(BASE + "captures:\n  pcapng: ./h1.pcap\n  points: [h1]\n") != []


def test_a_capture_file_where_another_needs_a_folder_is_reported_at_the_deeper_one():
    assert diagnostics(BASE + "captures:\n  pcapng: h1.pcap/all.pcapng\n  points: [h1]\n") == [
        "lab.yaml:16:11: captures.pcapng: capture file h1.pcap/all.pcapng needs a folder h1.pcap, but "
        "captures.points[0] writes a file of that name: rename one of them"]
    assert diagnostics(BASE + "captures:\n  points: [{point: vm1, file: h1.pcap/a/b.pcap}, h1]\n") == [
        "lab.yaml:16:12: captures.points[0]: capture file h1.pcap/a/b.pcap needs a folder h1.pcap, but "
        "captures.points[1] writes a file of that name: rename one of them"]


@pytest.mark.parametrize("name, message", [
    ("x" * 256 + ".pcap", f"capture file '{'x' * 26}...xxxx.pcap': a file or folder name of 261 bytes is longer "
                          "than a file system allows (255 bytes): shorten it"),
    ("é" * 128 + "/a.pcap", "a file or folder name of 256 bytes is longer than a file system allows"),
    ("d/" * 33 + "a.pcap", "is 33 folders deep, more than 32: use fewer sub-folders"),
    ("/".join(["f" * 200] * 6) + ".pcap", "a path of 1210 bytes is longer than 1024: shorten it"),
    ("sub/", "capture file 'sub/' names a folder: give a file name, e.g. sub/h1.pcap"),
    (".", "capture file '.' names a folder: give a file name, e.g. h1.pcap"),
])
def test_a_capture_file_the_file_system_cannot_hold_is_refused(name, message):
    lines = diagnostics(BASE + f"captures:\n  points:\n    - {{point: h1, file: '{name}'}}\n")
    assert len(lines) == 1 and lines[0].startswith("lab.yaml:17:25: captures.points[0].file: "), lines
    assert message in lines[0]
    assert diagnostics(BASE + f"captures:\n  pcapng: '{name}'\n")[0].startswith("lab.yaml:16:11: captures.pcapng: ")
    ok = BASE + "captures:\n  points:\n    - {point: h1, file: " + "/".join(["d" * 255] * 3) + "/a.pcap}\n"
    assert load(ok).captures[0].file.startswith("d" * 255)


def test_a_default_capture_file_name_too_long_for_a_file_system_names_the_point():
    name = "h" * 260
    lines = diagnostics(BASE.replace("name: h1", f"name: {name}").replace("[h1, sw1.p1]", f"[{name}, sw1.p1]")
                        + f"captures:\n  points: [{name}]\n")
    assert lines == ["lab.yaml:16:12: captures.points[0]: this point's default capture file name is 265 bytes long, "
                     "longer than a file system allows (255): give the point a file, e.g. {point: NAME, file: "
                     "short.pcap}"]


def test_a_topology_name_must_fit_a_folder_name():
    assert diagnostics("name: " + "n" * 256 + "\n" + BASE) == [
        "lab.yaml:1:7: name: a name of 256 bytes cannot be a folder name (at most 255 bytes; captures go to "
        "pcaps/<name>/): shorten it"]
    assert load("name: " + "n" * 255 + "\n" + BASE).name == "n" * 255


def test_expectation_naming_an_unknown_switch_is_a_load_error():
    text = BASE + 'expect:\n  - table: {switch: sw9, mac: "02:00:00:00:00:01", port: p1}\n'
    lines = diagnostics(text)
    assert len(lines) == 1 and lines[0].startswith("lab.yaml:16:") and "sw9" in lines[0]
