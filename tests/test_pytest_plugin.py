"""The pytest plugin (vswitch/testing/): topology files as tests, its fixtures, assertions and markers, run by
pytest itself (``pytester``) as a user's project would run them.

CI runs this file on the compiled install, where the ``pytest11`` entry point loads the plugin, and on the source
tree; ``-p vswitch.testing.plugin`` names the same plugin in both (never twice)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from vswitch.testing.plugin import matches
from vswitch.testing.topology_items import expectations
from vswitch.topology.loader import load_topology

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "topologies" / "two-vms-one-adapter.yaml").read_text()
PLUGIN = ("-p", "vswitch.testing.plugin", "-p", "no:randomly", "-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *args)


def test_each_expectation_of_a_topology_file_is_an_item_named_after_it(pytester):
    pytester.makefile(".yaml", **{"two-vms-one-adapter": EXAMPLE})
    result = run(pytester, "--vswitch", "-v", f"--basetemp={pytester.path / 'tmp'}")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["two-vms-one-adapter.yaml::table[[]sw1-52:54:00:00:00:01[]] PASSED*",
                                 "two-vms-one-adapter.yaml::delivered[[]vm1-to-h1[]] PASSED*",
                                 "two-vms-one-adapter.yaml::counter[[]sw1.p2[]] PASSED*"])
    # one run for the 7 items: one captures folder, with the file's 6 pcaps and its pcapng
    folders = [p.name for p in (pytester.path / "tmp").iterdir() if not p.is_symlink()]  # pytest adds ...current
    assert folders == ["vswitch-two-vms-one-adapter0"]
    assert len(list((pytester.path / "tmp" / "vswitch-two-vms-one-adapter0").iterdir())) == 7


def test_a_broken_expectation_fails_saying_what_was_expected_and_what_happened(pytester):
    broken = EXAMPLE.replace("{frame: vm1-to-h1, to: h1, only: true}", "{frame: vm1-to-h1, to: vm2, only: true}")
    pytester.makefile(".yaml", lab=broken)
    result = run(pytester, "--vswitch")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*_ delivered[[]vm1-to-h1[]] _*",
                                 "lab.yaml:46:5: expect[[]3[]]: expected vm1-to-h1 delivered to exactly vm2.eth0; "
                                 "got received by h1.eth0",
                                 "captures of the run: */vswitch-two-vms-one-adapter0"])
    assert "Traceback" not in result.stdout.str() and "def runtest" not in result.stdout.str()


def test_a_timed_expectation_of_the_scenario_is_an_item_too(pytester):
    step = '  - at: 40us\n    expect: {table: {switch: sw1, mac: "02:00:00:00:00:01", port: p2}}\n'
    timed = EXAMPLE.replace("expect:\n", step + "expect:\n")
    pytester.makefile(".yaml", lab=timed)
    result = run(pytester, "--vswitch", "-v")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(["lab.yaml::table[[]sw1-02:00:00:00:00:01@42[]] FAILED*",  # the scenario's
                                 "lab.yaml::table[[]sw1-02:00:00:00:00:01@47[]] PASSED*",  # expect's
                                 "lab.yaml:42:5: scenario[[]4[]]: expected sw1 learned 02:00:00:00:00:01 on p2; "
                                 "got port p1"])


def test_a_file_that_does_not_load_is_one_failing_item_with_its_place(pytester):
    pytester.makefile(".yaml", lab="name: lab\nswitches: [{name: sw1}]\nhosts: [{name: h1, mac: 525400123456}]\n")
    result = run(pytester, "--vswitch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*_ load _*", "vswitch: lab.yaml:3:25: hosts[[]0[]].mac: expected a MAC address as "
                                 "text, got 525400123456: write it in quotes*", "*short test summary*",
                                 "FAILED lab.yaml::load - vswitch: lab.yaml:3:25: *"])
    assert "Traceback" not in result.stdout.str()


def test_a_run_that_cannot_be_carried_out_fails_every_item_with_the_reason(pytester):
    twice = EXAMPLE.replace("scenario:\n", "scenario:\n  - at: 1us\n    detach: vm2\n  - at: 2us\n    detach: vm2\n")
    pytester.makefile(".yaml", lab=twice)
    result = run(pytester, "--vswitch")
    result.assert_outcomes(failed=7)
    reason = "vswitch: lab.yaml:35:5: scenario[1]: at 2000 ns: no attached VM named 'vm2'"
    assert result.stdout.lines.count(reason) == 7


def test_unrelated_yaml_is_never_collected(pytester):
    pytester.makefile(".yml", ci="on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
                      compose="services:\n  web:\n    image: nginx\n")
    pytester.makefile(".yaml", playbook="- hosts: all\n  tasks: []\n")
    result = run(pytester, "--vswitch")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_topology_files_are_collected_only_when_asked_for(pytester):
    pytester.makefile(".yaml", lab=EXAMPLE)
    assert run(pytester).ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_file_named_on_the_command_line_is_collected_whatever_it_holds(pytester):
    path = pytester.makefile(".yaml", lab="name: lab\nswitchez: []\n")  # a typo: not a topology by its keys
    result = run(pytester, "--vswitch", str(path))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED lab.yaml::load - vswitch: lab.yaml:2:1: switchez: unknown key*"])


def test_the_ini_option_chooses_the_files_by_pattern(pytester):
    pytester.makeini("[pytest]\nvswitch_files = labs/*.yaml\n")
    (pytester.path / "labs").mkdir()
    (pytester.path / "other").mkdir()
    (pytester.path / "labs" / "a.yaml").write_text(EXAMPLE)
    (pytester.path / "other" / "b.yaml").write_text(EXAMPLE)
    result = run(pytester, "--collect-only", "-q")
    assert [line for line in result.stdout.lines if "::" in line] == [
        f"labs/a.yaml::{name}" for name in ("table[sw1-52:54:00:00:00:01]", "table[sw1-52:54:00:00:00:02]",
                                            "table[sw1-02:00:00:00:00:01]", "delivered[vm1-to-h1]",
                                            "delivered[h1-to-vm1]", "delivered[vm1-to-vm2]", "counter[sw1.p2]")]


def test_the_fixtures_and_assertions_read_like_the_scenario(pytester):
    pytester.makefile(".yaml", lab=EXAMPLE)
    pytester.makepyfile(test_lab='''
        from scapy.layers.l2 import Ether
        from vswitch.testing import assert_delivered, assert_dropped, assert_passed

        def test_network(vswitch_network, tmp_path):
            net = vswitch_network
            net.add_switch("sw1")
            net.add_host("h1", "02:00:00:00:00:01")
            net.add_host("h2", "02:00:00:00:00:02")
            net.connect("h1", "sw1")
            net.connect("h2", "sw1")
            net.capture("h2", "h2.pcap")
            frame_id = net.send("h1", Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88B5))
            net.run()
            assert_delivered(net, frame_id, ["h2"])
            assert (tmp_path / "h2.pcap").is_file()

        def test_topology(vswitch_topology):
            result = vswitch_topology("lab.yaml")
            assert_passed(result)
            assert result.network.port("sw1.p2").counters.rx_packets == 2
            assert_delivered(result.network, result.frames["vm1-to-vm2"][0], ["vm2"])

        def test_wrong_receiver(vswitch_network):
            net = vswitch_network
            net.add_switch("sw1")
            net.add_host("h1", "02:00:00:00:00:01")
            net.add_host("h2", "02:00:00:00:00:02")
            net.add_host("h3", "02:00:00:00:00:03")
            for host in ("h1", "h2", "h3"):
                net.connect(host, "sw1")
            frame_id = net.send("h1", Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88B5))
            net.run()
            assert_delivered(net, frame_id, ["h3"])

        def test_wrong_drop(vswitch_network):
            net = vswitch_network
            net.add_host("h1", "02:00:00:00:00:01")
            net.add_host("h2", "02:00:00:00:00:02")
            net.connect("h1", "h2")
            frame_id = net.send("h1", Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:09", type=0x88B5))
            net.run()
            assert_dropped(net, frame_id, "same_port")
    ''')
    result = run(pytester, "test_lab.py")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "*assert_delivered(net, frame_id, [[]\"h3\"[]])",
        "E       AssertionError: frame 1 was delivered to h2.eth0, expected exactly h3.eth0",
        "E         missing: h3.eth0",
        "E         extra:   h2.eth0",
        "E       frame 1's hops:",
        "E         0.000000000s  h1.eth0: transmitted -> sw1.p1",
        "E         0.000000000s  sw1.p1: flooded: unknown unicast -> sw1.p2, sw1.p3 (learned)",
        "E         0.000000000s  h2.eth0: delivered",
        "E         0.000000000s  h3.eth0: dropped: destination not accepted by the receive filter",
    ])
    result.stdout.fnmatch_lines(["E       AssertionError: frame 1: expected a copy dropped for same_port; got "
                                 "not_for_us at h2.eth0"])


def test_the_markers_skip_with_a_reason_where_the_test_cannot_run(pytester, monkeypatch):
    pytester.makepyfile(test_marked='''
        import pytest

        @pytest.mark.vswitch_root
        def test_needs_root():
            pass

        @pytest.mark.vswitch_tshark
        def test_needs_tshark():
            pass
    ''')
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("PATH", str(pytester.path))  # no tshark there
    result = run(pytester, "-rs", "--strict-markers")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED * needs root (vswitch_root): network namespaces, veth and bridges",
                                 "SKIPPED * needs tshark on PATH (vswitch_tshark)*"])
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    (pytester.path / "tshark").write_text("#!/bin/sh\n")
    (pytester.path / "tshark").chmod(0o755)
    run(pytester, "--strict-markers").assert_outcomes(passed=2)


# -- the project's own configuration -----------------------------------------------------------------------------
def test_pytest_topologies_runs_every_example_expectation_as_a_passing_item(pytester):
    """The repository's pyproject.toml turns collection on for topologies/ (`pytest topologies/`)."""
    result = pytester.runpytest("-p", "no:cacheprovider", "-q", str(ROOT / "topologies"),
                                f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"))
    files = sorted((ROOT / "topologies").rglob("*.yaml"))
    expected = sum(len(expectations(load_topology(p))) or 1 for p in files)
    result.assert_outcomes(passed=expected)
    assert expected > 250


def test_the_projects_own_run_collects_tests_only_and_no_hostile_yaml():
    """`pytest` takes testpaths (tests/); the vswitch_files patterns match the examples and no YAML under tests/
    (tests/hostile holds files made to fail)."""
    ini = (ROOT / "pyproject.toml").read_text().split("[tool.pytest.ini_options]")[1]  # no tomllib on 3.10
    assert re.search(r'^testpaths = \["tests"\]$', ini, re.M)
    patterns = tuple(re.findall(r'"([^"]+)"', re.search(r"^vswitch_files = (.*)$", ini, re.M).group(1)))
    assert patterns and all(matches(p, patterns) for p in (ROOT / "topologies").rglob("*.yaml"))
    assert [p for p in (ROOT / "tests").rglob("*.y*ml") if matches(p, patterns)] == []
    assert re.search(r'^addopts = ".*-p vswitch\.testing\.plugin\b', ini, re.M)


def test_the_examples_in_docs_testing_pass_as_written(pytester):
    """docs/testing.md's test file, run where topologies/two-vms-one-adapter.yaml is (the path it names)."""
    docs = (ROOT / "docs" / "testing.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", docs, re.S)
    (pytester.path / "topologies").mkdir()
    (pytester.path / "topologies" / "two-vms-one-adapter.yaml").write_text(EXAMPLE)
    pytester.makepyfile(test_docs=code)
    run(pytester, "test_docs.py").assert_outcomes(passed=2)
