"""All-pairs reachability (issue 13 item 5): the ``pingall`` action, the ``reachability`` expectation and the
matrix in the report and in JSON; every mistake named with file, line and field before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_guest_topology import LAB, diagnostics, run
from vswitch.cli import main
from vswitch.scenario.report import render

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "topologies" / "guests-pingall.yaml"

# LAB's stacks: h1, h2.eth0 (h2 has a second NIC), hv1's own interface, vm1 and vm2 (vm3 has no address). hv1's
# adapter is macvlan bridge mode: the host cannot talk to its own vNICs, as in Linux.
MACVLAN_HOST_PAIRS = {("hv1", "vm1"), ("hv1", "vm2"), ("vm1", "hv1"), ("vm2", "hv1")}


def pingall_of(result, name="pingall"):
    return next(r for r in result.reachability if r.name == name)


def test_pingall_pings_every_ordered_pair_of_every_stack_in_file_order():
    net, result = run(LAB + "scenario:\n  - pingall: {}\n")
    pingall = pingall_of(result)
    assert pingall.names() == ["h1", "h2.eth0", "hv1", "vm1", "vm2"]
    assert len(pingall.sessions) == 20 and all(s.transmitted == 1 for s in pingall.sessions.values())
    everyone = {(a, b) for a in pingall.names() for b in pingall.names() if a != b}
    assert pingall.reached() == everyone - MACVLAN_HOST_PAIRS
    assert result.sessions == {}  # the pairs are not named sessions: the matrix stands for them
    assert pingall.matrix_rows()[2] == {"from \\ to": "hv1", "h1": "ok", "h2.eth0": "ok", "hv1": "-", "vm1": "X",
                                        "vm2": "X"}


def test_between_count_and_interval_choose_the_pairs_and_their_requests():
    net, result = run(LAB + "scenario:\n  - pingall: {between: [vm2, h1], count: 3, interval: 10ms, name: few}\n")
    pingall = pingall_of(result, "few")
    assert pingall.names() == ["vm2", "h1"] and set(pingall.sessions) == {("vm2", "h1"), ("h1", "vm2")}
    assert [(s.transmitted, s.received) for s in pingall.sessions.values()] == [(3, 3), (3, 3)]
    assert {s.interval_ns for s in pingall.sessions.values()} == {10_000_000}


def test_a_ping_beside_a_pingall_from_the_same_stack_gets_its_own_identifier():
    net, result = run(LAB + "scenario:\n  - pingall: {between: [h1, vm1]}\n  - ping: {from: h1, to: vm1, count: 2}\n")
    ident_of_pair = pingall_of(result).sessions[("h1", "vm1")].ident
    assert result.sessions["ping-h1-vm1"].ident != ident_of_pair
    assert (result.sessions["ping-h1-vm1"].received, pingall_of(result).sessions[("h1", "vm1")].received) == (2, 1)


def test_a_pair_in_another_subnet_is_unreachable():
    text = LAB.replace("{name: vm3}", "{name: vm3, ip: 198.51.100.3/24}") + "scenario:\n  - pingall: {between: [h1, vm3]}\n"
    _, result = run(text)
    assert pingall_of(result).reached() == set()
    assert pingall_of(result).matrix_rows() == [{"from \\ to": "h1", "h1": "-", "vm3": "X"},
                                                {"from \\ to": "vm3", "h1": "X", "vm3": "-"}]


@pytest.mark.parametrize("expectation", [
    "{all: true, except: {hv1: [vm1, vm2], vm1: [hv1], vm2: [hv1.host]}}",
    "{name: pingall, all: false, except: {h1: [h2.eth0, hv1, vm1, vm2], h2.eth0: [h1, hv1, vm1, vm2], "
    "hv1: [h1, h2.eth0], vm1: [h1, h2.eth0, vm2], vm2: [h1, h2.eth0, vm1]}}",
    "{reaches: {h1: [h2.eth0, hv1, vm1, vm2], h2.eth0: [h1, hv1, vm1, vm2], hv1: [h1, h2.eth0], "
    "vm1: [h1, h2.eth0, vm2], vm2: [h1, h2.eth0, vm1]}}",
])
def test_each_form_of_the_expected_matrix_passes_on_the_true_one(expectation):
    _, result = run(LAB + f"scenario:\n  - pingall: {{}}\nexpect:\n  - reachability: {expectation}\n")
    [check] = result.checks
    assert check.passed and check.actual == "16/20 pairs reached", check.actual


def test_a_wrong_matrix_fails_saying_which_pairs_differ():
    text = LAB + "scenario:\n  - pingall: {between: [h1, hv1, vm1]}\nexpect:\n  - reachability: {all: true}\n" \
                 "  - reachability: {reaches: {h1: [hv1, vm1], hv1: [h1, vm1], vm1: [h1]}}\n"
    net, result = run(text)
    assert [(c.passed, c.description, c.actual) for c in result.checks] == [
        (False, "pingall: every pair reaches", "4/6 pairs reached; not reached: hv1 -> vm1, vm1 -> hv1"),
        (False, "pingall: exactly h1 -> hv1, h1 -> vm1, hv1 -> h1, hv1 -> vm1, vm1 -> h1 reach",
         "4/6 pairs reached; not reached: hv1 -> vm1")]
    report = render(net, result)
    assert ("FAILED lab.yaml:18:5: expect[0]: expected pingall: every pair reaches; got 4/6 pairs reached; not "
            "reached: hv1 -> vm1, vm1 -> hv1") in report
    assert ("Reachability: pingall (4/6 pairs reached, 2 unreachable)\n"
            "from \\ to    h1    hv1    vm1\n"
            "-----------  ----  -----  -----\n"
            "h1           -     ok     ok\n"
            "hv1          ok    -      X\n"
            "vm1          ok    X      -\n") in report


def test_a_check_before_the_pingall_cannot_check():
    _, result = run(LAB + "scenario:\n  - at: 1s\n    pingall: {}\nexpect:\n  - at: 0s\n    reachability: {all: true}\n")
    assert [(c.passed, c.actual) for c in result.checks] == [(False, "cannot check: pingall has not started yet")]


def test_reached_pairs_that_should_not_be_are_named():
    _, result = run(LAB + "scenario:\n  - pingall: {between: [h1, vm1]}\nexpect:\n  - reachability: {all: false}\n")
    assert [(c.passed, c.description, c.actual) for c in result.checks] == [
        (False, "pingall: no pair reaches", "2/2 pairs reached; reached, not expected: h1 -> vm1, vm1 -> h1")]


def test_the_example_runs_green_and_its_matrices_are_in_the_json(tmp_path, capsys):
    assert main(["run", str(EXAMPLE), "--out", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    before, after = data["guests"]["reachability"]
    assert (before["name"], before["members"], before["reached"], before["pairs"]) == (
        "before-hairpin", ["h1", "vm1", "vm2", "vm3", "vm4"], 18, 20)
    assert before["matrix"]["vm1"] == ["h1", "vm3", "vm4"] and before["matrix"]["h1"] == ["vm1", "vm2", "vm3", "vm4"]
    assert after["matrix"] == {"h1": ["vm1", "vm2"], "vm1": ["h1", "vm2"], "vm2": ["h1", "vm1"]}
    assert after["sessions"][0] == {"from": "h1", "to": "vm1", "transmitted": 3, "received": 3, "reached": True}


def test_the_command_exits_1_when_the_matrix_differs(tmp_path, capsys):
    lab = tmp_path / "lab.yaml"
    lab.write_text(EXAMPLE.read_text().replace("except: {vm1: [vm2], vm2: [vm1]}", "except: {vm1: [vm2]}"))
    assert main(["run", str(lab), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert (f"FAILED {lab}:51:5: expect[0]: expected pingall before-hairpin: every pair reaches except vm1 -> vm2; "
            "got 18/20 pairs reached; not reached: vm2 -> vm1") in out


@pytest.mark.parametrize("body, messages", [
    ("scenario:\n  - pingall: {between: [h1, vm9, vm3]}\n",
     ["16:29: scenario[0].pingall.between[1]: nothing named 'vm9' (did you mean 'vm3'?)",
      "16:34: scenario[0].pingall.between[2]: vm3.eth0 has no address: give it one (ip: 192.0.2.10/24, or ip6: "
      "[2001:db8::10/64]) to use it"]),
    ("scenario:\n  - pingall: {between: [h1]}\n",
     ["16:24: scenario[0].pingall.between: name at least two interfaces to ping between (or leave between out: "
      "every interface with an address)"]),
    ("scenario:\n  - pingall: {between: [h1, h1.eth0, vm1]}\n",
     ["16:29: scenario[0].pingall.between[1]: h1.eth0 and h1 are one interface (h1.eth0): list it once"]),
    ("scenario:\n  - pingall: {between: [h1, vm1], count: 0, colour: red}\n",
     ["16:42: scenario[0].pingall.count: 0 is out of range: send at least 1 frame",
      "16:45: scenario[0].pingall.colour: unknown key 'colour' (expected one of: between, count, interval, name, "
      "timeout)"]),
    ("scenario:\n  - pingall: {}\nexpect:\n  - reachability: {name: pingal, all: true}\n",
     ["18:26: expect[0].reachability.name: no pingall action is named 'pingal' (did you mean 'pingall'?)"]),
    ("expect:\n  - reachability: {all: true}\n",
     ["16:19: expect[0].reachability: no pingall action to check: add one to the scenario (pingall: {})"]),
    ("scenario:\n  - pingall: {}\n  - pingall: {between: [h1, vm1]}\nexpect:\n  - reachability: {all: true}\n",
     ["19:19: expect[0].reachability: the file has several pingall actions (pingall, pingall-2): name the one to "
      "check (name: ...)"]),
    ("scenario:\n  - pingall: {}\nexpect:\n  - reachability: {}\n  - reachability: {all: true, reaches: {h1: [vm1]}}\n"
     "  - reachability: {reaches: {h1: [vm1]}, except: {h1: [vm2]}}\n",
     ["18:19: expect[0].reachability: say which pairs reach each other: all: true (every pair; all: false, none), "
      "with except: {from: [to, ...]} for the pairs that do not, or reaches: {from: [to, ...]} for exactly those",
      "19:40: expect[1].reachability.reaches: give all (with except) or reaches, not both",
      "20:50: expect[2].reachability.except: except goes with all: reaches lists exactly the pairs that reach each "
      "other"]),
    ("scenario:\n  - pingall: {between: [h1, vm1, vm2]}\nexpect:\n"
     "  - reachability: {all: true, except: {h1: [vm1, hv1], vm9: [h1], vm2: [vm2.eth0]}}\n",
     ["18:50: expect[0].reachability.except.h1[1]: hv1 is not one of the interfaces pingall 'pingall' pings between "
      "(h1, vm1, vm2)",
      "18:61: expect[0].reachability.except.vm9: nothing named 'vm9' (did you mean 'vm3'?)",
      "18:73: expect[0].reachability.except.vm2[0]: vm2.eth0 is vm2 itself: pingall pings the others"]),
    ("scenario:\n  - pingall: {between: [h1, vm1]}\nexpect:\n  - reachability: {reaches: {h1: vm1}}\n"
     "  - reachability: {all: yes}\n",
     ["18:34: expect[0].reachability.reaches.h1: expected a list, got 'vm1'",
      "19:25: expect[1].reachability.all: expected true or false, got 'yes' ('yes' is a string here, not a YAML 1.1 "
      "boolean)"]),
])
def test_bad_pingall_and_reachability_name_file_line_and_field(body, messages):
    assert diagnostics(LAB + body) == [f"lab.yaml:{m}" for m in messages]


def test_a_file_without_two_stacks_cannot_pingall():
    text = LAB.replace(", ip: 192.0.2.1/24", "").replace(", ip: 192.0.2.2/24", "").replace(
        "    ip: 192.0.2.100/24\n", "").replace(", ip: 192.0.2.12/24, arp_notify: false", "")
    assert diagnostics(text + "scenario:\n  - pingall: {}\n") == [
        "lab.yaml:15:14: scenario[0].pingall: pingall needs at least two interfaces with an address "
        "(ip: 192.0.2.10/24): give them addresses"]
