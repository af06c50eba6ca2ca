import difflib

import pytest

from vswitch.core.mac import MACAddress
from vswitch.core.units import parse_duration, parse_rate
from vswitch.topology.yamlreader import (
    MapReader,
    boolean,
    integer,
    integer_between,
    one_of,
    text,
)
from vswitch.topology.diagnostics import TopologyFileError
from vswitch.topology.yamlsource import load_text

LAB = """\
seed: 7
hypervisors:
  - name: hv0
    vms:
      - name: vm0
        vnics:
          - mac: 52:54:00:00:00:01
            mode: vepa
  - name: hv1
    vms:
      - name: vm1
        vnics:
          - mac: 52:54:00:00:00:02
          - mac: 52:54:zz:00:00:01
            mode: bridg
        ageing: 300
        nics: []
"""


def read_lab(document):
    top = MapReader.of(document)
    lab = {"seed": top.take("seed", integer, default=0), "hypervisors": []}
    for hypervisor in top.take_maps("hypervisors"):
        vms = []
        for vm in hypervisor.take_maps("vms"):
            vnics = []
            for vnic in vm.take_maps("vnics"):
                vnics.append((vnic.take("mac", MACAddress), vnic.take("mode", one_of("vepa", "bridge"), "vepa")))
                vnic.finish()
            vms.append((vm.take("name", text), vm.take("ageing", parse_duration, default=0), vnics))
            vm.finish()
        lab["hypervisors"].append((hypervisor.take("name", text), vms))
        hypervisor.finish()
    top.finish()
    document.check()
    return lab


def read_error(document_text, read):
    document = load_text(document_text, "lab.yaml")
    read(document)
    with pytest.raises(TopologyFileError) as error:
        document.check()
    return str(error.value)


def test_reader_converts_each_field_of_a_valid_file():
    lab = read_lab(load_text(LAB.replace("52:54:zz", "52:54:00").replace("bridg", "bridge")
                             .replace("300", "300s").replace("nics: []", "")))
    mac1, mac2, mac3 = (MACAddress(f"52:54:00:00:00:0{n}") for n in (1, 2, 1))
    assert lab == {"seed": 7, "hypervisors": [
        ("hv0", [("vm0", 0, [(mac1, "vepa")])]),
        ("hv1", [("vm1", 300_000_000_000, [(mac2, "vepa"), (mac3, "bridge")])]),
    ]}


def test_all_errors_of_a_file_are_reported_at_once_with_file_line_column_and_path():
    with pytest.raises(TopologyFileError) as error:
        read_lab(load_text(LAB, "lab.yaml"))
    assert str(error.value) == "\n".join([
        "lab.yaml:14:18: hypervisors[1].vms[0].vnics[1].mac: invalid MAC address '52:54:zz:00:00:01': write six "
        "hex octets, e.g. 52:54:00:ab:cd:ef, 52-54-00-AB-CD-EF or 5254.00ab.cdef",
        "lab.yaml:15:19: hypervisors[1].vms[0].vnics[1].mode: expected one of vepa, bridge, got 'bridg' "
        "(did you mean 'bridge'?)",
        "lab.yaml:16:17: hypervisors[1].vms[0].ageing: 300 has no unit: write 300s, 300ms, 300us or 300ns",
        "lab.yaml:17:9: hypervisors[1].vms[0].nics: unknown key 'nics' (did you mean 'vnics'?)",
    ])
    assert [(d.line, d.column, d.path) for d in error.value.diagnostics][:1] == [
        (14, 18, "hypervisors[1].vms[0].vnics[1].mac"),
    ]


def test_unknown_key_without_a_close_match_lists_the_known_keys():
    def read(document):
        top = MapReader.of(document)
        top.take("name", text)
        top.take("seed", integer, default=0)
        top.finish()

    assert read_error("name: lab\ncolour: blue\n", read) == (
        "lab.yaml:2:1: colour: unknown key 'colour' (expected one of: name, seed)"
    )


def test_missing_required_key_is_reported_at_its_mapping():
    def read(document):
        for host in MapReader.of(document).take_maps("hosts"):
            host.take("mac", MACAddress)
            host.take("mtu", integer, default=1500)

    assert read_error("hosts:\n  - name: h1\n  - {mac: 52:54:00:00:00:01}\n", read) == (
        "lab.yaml:2:5: hosts[0]: missing required key 'mac'"
    )


def test_wrong_container_is_reported_once_without_cascading_missing_keys():
    def read(document):
        top = MapReader.of(document)
        uplink = top.take_map("uplink")
        uplink.take("mac", MACAddress)
        uplink.finish()
        assert top.take_maps("hosts") == []
        assert top.take_list("vlans", integer) == []
        top.take_map("limits")
        top.finish()

    assert read_error("uplink: eth0\nhosts: {h1: {}}\nvlans: 10\n", read) == "\n".join([
        "lab.yaml:1:1: missing required key 'limits'",
        "lab.yaml:1:9: uplink: expected a mapping, got 'eth0'",
        "lab.yaml:2:8: hosts: expected a list, got a mapping",
        "lab.yaml:3:8: vlans: expected a list, got 10",
    ])


def test_absent_optional_sections_read_as_empty_with_defaults():
    document = load_text("name: lab\n")
    top = MapReader.of(document)
    limits = top.take_map("limits", required=False)
    assert limits.take("rate", parse_rate, default=10**9) == 10**9
    assert top.take_maps("hosts", required=False) == []
    assert top.take_list("vlans", integer, required=False) == []
    assert top.take("name", text) == "lab"
    top.finish()
    document.check()


def test_list_items_are_converted_and_located_one_by_one():
    def read(document):
        assert MapReader.of(document).take_list("vlans", integer_between(1, 4094)) == [10, 20]

    assert read_error("vlans: [10, 0, 20, ten, {}]\n", read) == "\n".join([
        "lab.yaml:1:13: vlans[1]: 0 is out of range: expected 1 to 4094",
        "lab.yaml:1:20: vlans[3]: expected an integer, got 'ten'",
        "lab.yaml:1:25: vlans[4]: expected an integer, got a mapping",
    ])


def test_non_mapping_items_of_a_list_of_mappings_are_reported():
    def read(document):
        hosts = MapReader.of(document).take_maps("hosts")
        assert [host.path for host in hosts] == ["hosts[1]"]

    assert read_error("hosts:\n  - h1\n  - {name: h2}\n", read) == (
        "lab.yaml:2:5: hosts[0]: expected a mapping, got 'h1'"
    )


def test_cross_field_problems_are_reported_at_the_value_or_the_mapping():
    def read(document):
        top = MapReader.of(document)
        top.take("a", text)
        top.error("a", "duplicate MAC 52:54:00:00:00:01 (also vm1)")
        top.error(None, "a topology needs at least one switch")

    assert read_error("a: x\n", read) == (
        "lab.yaml:1:1: a topology needs at least one switch\n"
        "lab.yaml:1:4: a: duplicate MAC 52:54:00:00:00:01 (also vm1)"
    )


def test_top_level_must_be_a_mapping():
    assert read_error("- a\n- b\n", lambda document: MapReader.of(document).take("name", text)) == (
        "lab.yaml:1:1: the top level must be a mapping, not a list"
    )


def converter_messages(convert, values):
    result = []
    for value in values:
        with pytest.raises(ValueError) as error:
            convert(value)
        result.append(str(error.value))
    return result


def test_integer_refuses_leading_zero_and_non_integers():
    assert integer(0x1F) == 31
    assert converter_messages(integer, ["010", "09", True, 1.5, None]) == [
        "'010' has a leading zero, which YAML 1.1 reads as octal: write 10 for decimal or 0o10 for octal",
        "'09' has a leading zero, which YAML 1.1 reads as octal: write 9 for decimal",
        "expected an integer, got true",
        "expected an integer, got 1.5",
        "expected an integer, got null",
    ]


def test_boolean_explains_yaml_11_words():
    assert (boolean(True), boolean(False)) == (True, False)
    assert converter_messages(boolean, ["on", "Yes", 1]) == [
        "expected true or false, got 'on' ('on' is a string here, not a YAML 1.1 boolean)",
        "expected true or false, got 'Yes' ('Yes' is a string here, not a YAML 1.1 boolean)",
        "expected true or false, got 1",
    ]


def test_text_asks_to_quote_numbers_and_booleans():
    assert text("vm1") == "vm1"
    assert converter_messages(text, [100, True, [1]]) == [
        "expected a string, got 100 (quote it: '100')",
        "expected a string, got true (quote it: 'true')",
        "expected a string, got a list",
    ]


def test_one_of_suggests_the_closest_choice():
    mode = one_of("private", "vepa", "bridge", "passthru")
    assert mode("passthru") == "passthru"
    assert converter_messages(mode, ["Bridge", "x"]) == [
        "expected one of private, vepa, bridge, passthru, got 'Bridge' (did you mean 'bridge'?)",
        "expected one of private, vepa, bridge, passthru, got 'x'",
    ]


def test_values_echoed_in_messages_are_cut_to_40_characters():
    long = "x" * 500

    def read(document):
        top = MapReader.of(document)
        top.take("mac", MACAddress)
        top.take("epoch", integer)  # 5000 digits: int() would refuse, telling to call sys.set_int_max_str_digits()
        top.take("until", echo_unquoted)
        top.take_map(f"{long} y").finish()
        top.finish()

    def echo_unquoted(value):
        raise ValueError(f"{value!r} has no unit: write it as {value}s")

    cut = "x" * 36
    assert read_error(f"mac: '{long}'\nepoch: '0{'1' * 5000}'\nuntil: {long}\n{long}: 1\n'{long} y': {{a: 1}}\n",
                      read) == "\n".join([
        f"lab.yaml:1:6: mac: invalid MAC address '{cut}...: write six hex octets, e.g. 52:54:00:ab:cd:ef, "
        "52-54-00-AB-CD-EF or 5254.00ab.cdef",
        f"lab.yaml:2:8: epoch: '0{'1' * 35}... has a leading zero, which YAML 1.1 reads as octal: write "
        f"{'1' * 37}... for decimal or 0o{'1' * 37}... for octal",
        f"lab.yaml:3:8: until: '{cut}... has no unit: write it as {cut}x...s",
        f"lab.yaml:4:1: {cut}x...: unknown key '{cut}... (did you mean '{cut}...?)",
        f"lab.yaml:5:508: ['{cut}...].a: unknown key 'a'",
    ])


def test_keys_that_name_things_must_be_text():
    def read(document):
        drops = MapReader.of(document).take_map("drops")
        assert drops.names("drop reason") == ["fcs"]
        for name in ["fcs"]:
            drops.take(name, integer)
        drops.finish()  # the refused keys are not reported again as unknown

    assert read_error("drops: {fcs: 1, ~: 2, 1.5: 3, false: 4}\n", read) == "\n".join([
        "lab.yaml:1:17: drops[None]: expected a drop reason name, got null (an empty key, ~ or null is null: write "
        "the name)",
        "lab.yaml:1:23: drops[1.5]: expected a drop reason name, got 1.5 (quote it: '1.5')",
        "lab.yaml:1:31: drops[False]: expected a drop reason name, got false (quote it: 'false')",
    ])


def test_only_the_first_hundred_unknown_keys_of_a_file_get_a_suggestion(monkeypatch):
    calls = []
    monkeypatch.setattr(difflib, "get_close_matches", lambda *args, **kwargs: calls.append(args) or [])

    def read(document):
        top = MapReader.of(document)
        top.take("name", text)
        for vm in top.take_maps("vms"):
            vm.finish()  # finished before the top level: their keys come first
        top.finish()

    document = load_text("name: lab\n" + "".join(f"k{n}: 1\n" for n in range(100, 250)) + "vms:\n"
                         + "".join(f"  - {{k{n}: 1}}\n" for n in range(60)), "lab.yaml")
    read(document)
    assert len(calls) == 100  # difflib takes about 40 us a key: 99 000 unknown keys took 4.6 s
    assert [str(d) for d in sorted(document.diagnostics, key=lambda d: d.line)][38:42] == [
        "lab.yaml:40:1: k138: unknown key 'k138' (expected one of: name, vms)",
        "lab.yaml:41:1: k139: unknown key 'k139' (expected one of: name, vms)",
        "lab.yaml:42:1: k140: unknown key 'k140'",  # the 101st: no suggestion, nor the list of known keys
        "lab.yaml:43:1: k141: unknown key 'k141'",
    ]
    assert len(document.diagnostics) == 210
