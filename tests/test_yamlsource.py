import os
import tracemalloc

import pytest
import yaml

from vswitch.core.errors import TopologyError
from vswitch.topology import yamlcompose
from vswitch.topology.diagnostics import Diagnostic, TopologyFileError
from vswitch.topology.limits import Limits
from vswitch.topology.loader import load_topology
from vswitch.topology.located import Document, LocatedList, LocatedMap, Location
from vswitch.topology.yamlsource import load_file, load_text


def load_error(text, limits=None):
    with pytest.raises(TopologyFileError) as error:
        load_text(text, "lab.yaml", limits)
    return str(error.value)


def refusal_cost(monkeypatch, text: str) -> tuple[str, int, int]:
    """Load ``text``, which must be refused: the message, the parser events read and the peak of Python memory.

    Work bounded by counting, not by timing: a loaded machine makes any time limit fail at random."""
    events = []

    class CountingParser(yamlcompose._EventParser):
        def get_event(self):
            events.append(1)
            return super().get_event()

    monkeypatch.setattr(yamlcompose, "_EventParser", CountingParser)
    tracemalloc.start()
    try:
        message = load_error(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return message, len(events), peak


def billion_laughs(levels):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnop"
    for previous, name in zip(names, names[1:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_unquoted_mac_address_stays_the_string_written():
    document = load_text("mac: 52:54:00:12:34:56\nflow: {mac: 00:16:3e:00:00:01}\n")
    assert document.root == {"mac": "52:54:00:12:34:56", "flow": {"mac": "00:16:3e:00:00:01"}}


def test_yaml_11_surprises_stay_strings_while_plain_scalars_resolve():
    text = (
        "on: yes\noff: no\nleading_zero: 010\nsexagesimal: 1:30\ndate: 2024-01-31\ninfinity: .inf\n"
        "underscored: 1_000\nbinary: 0b101\n"
        "boolean: true\nBoolean: False\ninteger: -42\nhex: 0x1f\noctal: 0o17\nfloat: 1.5\nexponent: 1e3\n"
        "tilde: ~\nempty:\nquoted: '010'\n"
    )
    assert load_text(text).root == {
        "on": "yes", "off": "no", "leading_zero": "010", "sexagesimal": "1:30", "date": "2024-01-31",
        "infinity": ".inf", "underscored": "1_000", "binary": "0b101",
        "boolean": True, "Boolean": False, "integer": -42, "hex": 31, "octal": 15, "float": 1.5,
        "exponent": 1000.0, "tilde": None, "empty": None, "quoted": "010",
    }


def test_every_key_and_value_keeps_its_one_based_line_and_column():
    document = load_text("name: lab\nhosts:\n  - name: h1\n    mac: 'é'\n  - [1, 2]\n", "lab.yaml")
    root, hosts = document.root, document.root["hosts"]
    assert (type(root), type(hosts), type(hosts[0])) == (LocatedMap, LocatedList, LocatedMap)
    assert document.location == root.location == Location(1, 1)
    assert root.key_locations == {"name": Location(1, 1), "hosts": Location(2, 1)}
    assert root.value_locations == {"name": Location(1, 7), "hosts": Location(3, 3)}
    assert hosts.item_locations == [Location(3, 5), Location(5, 5)]
    assert hosts[0].value_locations == {"name": Location(3, 11), "mac": Location(4, 10)}
    assert hosts[1].item_locations == [Location(5, 6), Location(5, 9)]


def test_columns_count_characters_not_bytes():
    document = load_text("{ é: x, ü: yz }".encode())
    assert document.root.value_locations == {"é": Location(1, 6), "ü": Location(1, 12)}


def test_duplicate_keys_are_reported_with_both_lines():
    text = "hosts:\n  - name: h1\n    mac: 52:54:00:00:00:01\n    mtu: 1500\n    mac: 52:54:00:00:00:02\n"
    assert load_error(text) == (
        "lab.yaml:5:5: hosts[0].mac: duplicate key 'mac' on lines 3 and 5: keep one"
    )


def test_all_load_errors_of_a_file_are_reported_at_once_in_file_order():
    text = "a: 1\nb: !!binary aGk=\nc: !!int twelve\na: 2\nd: {<<: 5}\n? [x]\n: 1\n"
    assert load_error(text) == "\n".join([
        "lab.yaml:2:4: b: tag !!binary is not supported: use only !!str, !!int, !!float, !!bool, !!null, !!seq "
        "and !!map",
        "lab.yaml:3:4: c: 'twelve' is not a valid !!int",
        "lab.yaml:4:1: a: duplicate key 'a' on lines 1 and 4: keep one",
        "lab.yaml:5:9: d: a merge key (<<) takes a mapping or a list of mappings",
        "lab.yaml:6:3: a key must be a single value, not a list or a mapping",
    ])


def test_python_tags_are_refused_and_nothing_is_constructed(tmp_path):
    marker = tmp_path / "touched"
    text = f"run: !!python/object/apply:os.system ['touch {marker}']\nlocal: !vm x\n"
    assert load_error(text) == (
        "lab.yaml:1:6: run: tag !!python/object/apply:os.system is not supported: use only !!str, !!int, "
        "!!float, !!bool, !!null, !!seq and !!map\n"
        "lab.yaml:2:8: local: tag !vm is not supported: use only !!str, !!int, !!float, !!bool, !!null, !!seq "
        "and !!map"
    )
    assert not marker.exists()


def test_standard_tags_give_the_written_types():
    assert load_text("a: !!str 010\nb: !!int '12'\nc: !!float 2\nd: !!bool 'true'\ne: !!null ''\n").root == {
        "a": "010", "b": 12, "c": 2.0, "d": True, "e": None,
    }


def test_merge_keys_copy_a_mapping_and_written_keys_win():
    text = "defaults: &vm {mtu: 1500, mode: vepa}\nvm1: {<<: *vm, mode: bridge}\nvm2:\n  <<: [{mtu: 9000}, *vm]\n"
    root = load_text(text).root
    assert root["vm1"] == {"mode": "bridge", "mtu": 1500}
    assert root["vm2"] == {"mtu": 9000, "mode": "vepa"}
    assert root["vm1"].key_locations["mtu"] == Location(1, 16)


def test_alias_bomb_is_rejected_before_expansion(monkeypatch):
    message, events, peak = refusal_cost(monkeypatch, billion_laughs(9))
    assert events == 67 and peak < 2**20  # the text's own events; 9**6 expanded values would take 50 MB
    assert message == ("lab.yaml:6:12: f[1]: more than 200000 values once aliases are expanded "
                       "(limit nodes=200000; raise it with --limit nodes=400000)")


def test_small_alias_fan_out_is_accepted():
    root = load_text(billion_laughs(3)).root
    assert root["c"] == [root["b"]] * 9 and root["b"] == [root["a"]] * 9 and root["a"] == ["lol"] * 9


def test_too_many_alias_references_are_rejected():
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n"
    assert load_error(text) == (
        "lab.yaml:2:405: y[100]: more than 100 alias references (limit aliases=100; raise it with --limit aliases=200)")
    assert len(load_text(text, limits=Limits(max_aliases=101)).root["y"]) == 101


def test_recursive_alias_is_rejected():
    assert load_error("a: &a [1, *a]\n") == "lab.yaml:1:11: a[1]: recursive alias: a value cannot contain itself"


def test_deep_nesting_is_rejected_even_through_aliases():
    assert load_text("a: " + "[" * 31 + "]" * 31).root["a"] is not None
    assert load_error("a: " + "[" * 32 + "]" * 32) == (
        "lab.yaml:1:35: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)"
    )
    assert load_error("a: &a " + "[" * 30 + "]" * 30 + "\nb: [[*a]]\n") == (
        "lab.yaml:2:6: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)"
    )


def test_very_deep_nesting_fails_at_once_without_recursion_error(monkeypatch):
    message, events, peak = refusal_cost(monkeypatch, "[" * 200_000 + "]" * 200_000)
    assert events <= 64 and peak < 2 * 2**20  # near level 33 (6.0: 35, 6.0.4: 34), not 400 000
    assert message == "lab.yaml:1:33: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)"


def libyaml_stops_at_its_own_nesting_limit():
    """PyYAML 6.0.4's libyaml refuses 1000 levels itself, while reading ahead of the events it delivers."""
    parser = yaml.cyaml.CParser("[" * 1001 + "]" * 1001) if yaml.__with_libyaml__ else None
    try:
        while parser is not None and parser.get_event() is not None:
            pass
    except yaml.YAMLError as error:
        return "nesting depth" in str(error)
    return False


def test_nesting_that_stops_libyaml_is_reported_at_the_first_level_too_deep():
    # libyaml reads a line ahead of its events: it stops at level 1000 before the composer has seen level 33
    assert load_error("name: lab\nhosts: [{name: h1}, " + "[" * 1200) == (
        "lab.yaml:2:51: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)")
    assert load_error("a: [" + "k: [" * 600) == (  # [k: v] holds a mapping: two levels per bracket
        "lab.yaml:1:65: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)")
    assert load_error("a: &x [[[[1]]]]\nb: [" + "[" * 20 + "*x, " + "[" * 1000) == (  # *x: five levels
        "lab.yaml:2:39: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)")
    assert load_error("[" * 2000, Limits(max_depth=999)) == (
        "lab.yaml:1:1000: nested deeper than 999 levels (limit depth=999, as high as it goes)")


@pytest.mark.skipif(not libyaml_stops_at_its_own_nesting_limit(), reason="this libyaml has no nesting limit")
def test_where_the_read_ahead_cannot_be_rescanned_the_place_libyaml_stopped_is_named(monkeypatch):
    monkeypatch.setattr(yamlcompose, "first_too_deep", lambda *args: None)
    assert load_error("[" * 2000) == (
        "lab.yaml:1:1001: nested deeper than 32 levels (limit depth=32; raise it with --limit depth=64)")


def test_depth_cannot_be_raised_to_where_libyaml_stops():
    with pytest.raises(ValueError, match="max_depth=1000: the depth limit can be at most 999: libyaml"):
        Limits(max_depth=1000)
    with pytest.raises(ValueError, match="can be at most 999"):
        Limits().raised(["depth=5000"])


def test_too_many_values_are_rejected():
    assert load_error("[" + ", ".join(["1"] * 20) + "]", Limits(max_nodes=20)) == (
        "lab.yaml:1:59: [19]: more than 20 values once aliases are expanded (limit nodes=20; raise it with --limit nodes=40)"
    )


def test_integers_have_at_most_40_digits_in_any_base():
    assert load_text("a: " + "9" * 40 + "\nb: 0x" + "f" * 40).root == {"a": 10**40 - 1, "b": 16**40 - 1}
    # Python converts hex and octal of any length, then cannot print them (over 4300 decimal digits)
    assert load_error("a: " + "9" * 41 + "\nb: 0x" + "f" * 4400 + "\n? 0o" + "7" * 5000 + "\n: 1\n") == "\n".join([
        "lab.yaml:1:4: a: an integer of 41 digits is too large: no field takes more than 40 (quote it if it is text)",
        "lab.yaml:2:4: b: an integer of 4400 hex digits is too large: no field takes more than 40 (quote it if it "
        "is text)",
        "lab.yaml:3:3: an integer of 5000 octal digits is too large: no field takes more than 40 (quote it if it "
        "is text)",
    ])


def test_a_key_that_cannot_be_read_is_reported_once_and_left_out():
    document = Document("lab.yaml", None, Location(1, 1))
    yamlcompose.compose(document, "ports:\n  ? 0x" + "f" * 50 + "\n  : {}\n  !x p2: {}\n  p3: {}\n")
    assert [d.message[:32] for d in document.diagnostics] == [
        "an integer of 50 hex digits is t", "tag !x is not supported: use onl"]
    assert document.root == {"ports": {"p3": {}}}  # not {None: {}}: a port named None


def test_huge_string_is_rejected():
    assert load_error("name: " + "x" * 10_001 + "\n") == (
        "lab.yaml:1:7: name: string longer than 10000 characters "
        "(limit string_chars=10000; raise it with --limit string_chars=20000)"
    )
    assert len(load_text("name: " + "x" * 10_001, limits=Limits(max_string_chars=20_000)).root["name"]) == 10_001


def test_oversized_file_is_rejected_without_reading_it_all(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"# padding\n" * 120_000)
    with pytest.raises(TopologyFileError) as error:
        load_file(path)
    assert str(error.value) == (
        f"{path}: the file is larger than 1048576 bytes (limit file_bytes=1048576; raise it with --limit file_bytes=2097152)"
    )
    assert load_file(path, Limits(max_file_bytes=2 << 20)).root == {"a": 1}


def test_binary_file_is_reported_as_binary():
    assert load_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == (
        "lab.yaml:3:1: NUL byte: this is a binary file, not YAML text"
    )


def test_utf16_file_is_asked_to_be_saved_as_utf8():
    assert load_error("name: lab\n".encode("utf-16")) == "lab.yaml: the file is UTF-16 text: save it as UTF-8"


def test_non_utf8_bytes_are_located():
    assert load_error("name: lab\ncity: Li\xe8ge\n".encode("latin-1")) == (
        "lab.yaml:2:9: invalid UTF-8 byte 0xe8: save the file as UTF-8"
    )


def test_control_character_is_located():
    assert load_error("name: a\x07b\n") == "lab.yaml:1:8: control character U+0007 is not allowed in YAML text"


def test_empty_or_comment_only_file_is_reported():
    expected = "lab.yaml: no YAML document: the file is empty or holds only comments"
    assert [load_error(text) for text in (b"", "", "# just a comment\n\n")] == [expected] * 3


def test_utf8_byte_order_mark_is_accepted():
    assert load_text(b"\xef\xbb\xbfname: lab\n").root == {"name": "lab"}


def test_syntax_error_is_a_located_one_line_diagnostic():
    assert load_error("a: 1\nb: [1, 2\nc: 3\n") == (
        "lab.yaml:3:2: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 4)"
    )
    assert load_error("a: 1\n  b: 2\n") == "lab.yaml:2:4: mapping values are not allowed in this context"
    assert load_error("a:\n\t- 1\n") == "lab.yaml:2:1: found character '\\t' that cannot start any token"


def test_second_document_is_rejected():
    assert load_error("a: 1\n---\nb: 2\n") == (
        "lab.yaml:2:1: but found another document (expected a single document in the stream at line 1, column 1)"
    )


def test_unreadable_file_is_a_diagnostic(tmp_path):
    with pytest.raises(TopologyFileError) as error:
        load_file(tmp_path / "missing.yaml")
    assert str(error.value) == f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory"


def test_a_fifo_or_a_folder_is_refused_without_waiting(tmp_path):
    """From Python too (the CLI checks first): opening a FIFO for reading would wait for a writer forever."""
    os.mkfifo(tmp_path / "fifo.yaml")
    for path, kind in ((tmp_path / "fifo.yaml", "a FIFO (named pipe)"), (tmp_path, "a folder")):
        with pytest.raises(TopologyFileError) as error:
            load_topology(path)
        assert str(error.value) == f"{path}: is {kind}, not a topology file"


def test_file_error_is_a_topology_error_carrying_its_diagnostics(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text("a: 1\na: 2\nb: !x 1\n")
    with pytest.raises(TopologyError) as error:
        load_file(path)
    assert error.value.diagnostics == [
        Diagnostic(str(path), 2, 1, "a", "duplicate key 'a' on lines 1 and 2: keep one"),
        Diagnostic(str(path), 3, 4, "b", "tag !x is not supported: use only !!str, !!int, !!float, !!bool, "
                                         "!!null, !!seq and !!map"),
    ]


def test_non_identifier_keys_are_bracketed_in_paths():
    assert load_error("vlans:\n  10: {a: 1, a: 2}\n  my vm: [x, !x y]\n") == "\n".join([
        "lab.yaml:2:14: vlans[10].a: duplicate key 'a' on lines 2 and 2: keep one",
        "lab.yaml:3:14: vlans['my vm'][1]: tag !x is not supported: use only !!str, !!int, !!float, !!bool, "
        "!!null, !!seq and !!map",
    ])
