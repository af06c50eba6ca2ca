"""The command line, called in-process as ``main(argv)``: exit codes, what goes to stdout and to stderr."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vswitch import __version__
from vswitch.cli import EXAMPLE, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FILE = ROOT / EXAMPLE

SMALL = """\
name: small
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01"}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - {name: vm1, mac: "52:54:00:00:00:01"}
      - {name: vm2, mac: "52:54:00:00:00:02"}
links: [[h1, sw1.p1], [hv1, sw1.p2]]
captures:
  points: [h1]
scenario:
  - at: 1us
    send: {from: h1, to: vm1, name: h1-to-vm1}
expect:
  - delivered: {frame: h1-to-vm1, to: vm2, only: true}
"""


def call(argv: list[str]) -> int:
    """``main(argv)``'s exit status, also when argparse exits by ``SystemExit``."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def err_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# -- run ----------------------------------------------------------------------------------------------------
def test_run_example_prints_tables_and_summary_and_exits_0(tmp_path, capsys):
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    for title in ("MAC tables", "Adapter demultiplexing", "Interface counters", "Expectations"):
        assert title in out
    assert re.search(r"^sw1\s+1\s+52:54:00:00:00:01\s+p2\s+\S+\s+learned$", out, re.M)
    assert re.search(r"^hv1\s+52:54:00:00:00:01\s+vm1\.eth0\s+bridge\s+QEMU/KVM$", out, re.M)
    assert "FAIL" not in out
    assert ("4 frames sent, 0 extra copies, 4 delivered, 0 dropped, 0 in flight at 30us; "
            "expectations: 7/7 passed") in out
    assert f"captures: 7 files in {tmp_path}/" in out
    assert err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # and the list of them (outputs.py)
        ".vswitch-captures", "all.pcapng", "h1.pcap", "hv1-uplink.pcap", "sw1-p1.pcap", "sw1-p2.pcap", "vm1.pcap",
        "vm2.pcap"]


def test_run_with_a_failing_expectation_exits_1_and_says_what_happened(small, tmp_path, capsys):
    assert call(["run", str(small), "--out", str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert (f"FAILED {small}:18:5: expect[0]: expected h1-to-vm1 delivered to exactly vm2.eth0; "
            "got received by vm1.eth0") in out
    assert "1 frame sent, 0 extra copies, 1 delivered, 0 dropped, 0 in flight at 1us; expectations: 0/1 passed" in out
    assert err == ""


def test_run_missing_file_exits_2_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert call(["run", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err_lines(err) == [f"vswitch: {missing}: no such file (the examples are in topologies/, e.g. {EXAMPLE})"]


def test_run_bad_file_exits_2_with_located_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("switches: sw1\nhosts:\n  - name: h1\n    mac: 1\n")
    assert call(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert err_lines(err) == [
        f"vswitch: {bad}:1:11: switches: expected a list, got 'sw1'",
        f'vswitch: {bad}:4:10: hosts[0].mac: expected a MAC address as text, got 1: write it in quotes, '
        'e.g. mac: "52:54:00:12:34:56"',
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("until", ["10", "abc", "-1ms"])
def test_run_bad_until_exits_2_without_traceback(until, tmp_path, capsys):
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--until", until]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "--until" in err_lines(err)[-1]
    assert out == ""


def test_run_bad_until_prints_one_line_and_main_returns_2(tmp_path, capsys):
    assert main(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--until", "10"]) == 2
    assert err_lines(capsys.readouterr().err) == [
        "vswitch: argument --until: 10 has no unit: write 10s, 10ms, 10us or 10ns; see vswitch run --help"]


def test_run_until_stops_the_clock_there_and_expectations_on_later_frames_fail(tmp_path, capsys):
    # vm2-to-h1 left at 10us and is between the switch and h1; h1-to-vm1 (20us) and vm1-to-vm2 (30us) never left:
    # their two send actions fail as not reached, beside the three expectations on frames that did not arrive
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--until", "11us", "--quiet"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "2 frames sent, 0 extra copies, 1 delivered, 0 dropped, 1 in flight at 11us; expectations: 4/9 passed")


def test_run_json_has_every_section(tmp_path, capsys):
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"summary", "mac_tables", "counters", "expectations"} <= set(data)
    assert data["summary"] == {
        "frames_sent": 4, "copies_made": 0, "delivered": 4, "dropped": 0, "in_flight": 0, "virtual_time": "30us",
        "virtual_time_ns": 30_000, "drops_by_reason": {}, "mac_moves": 0, "expectations_passed": 7,
        "expectations_failed": 0}
    assert data["schema_version"] == 1
    assert {"switch": "sw1", "vlan": 1, "mac": "52:54:00:00:00:02", "port": "p2", "age": "19us", "age_ns": 19_000,
            "type": "learned"} in data["mac_tables"]
    assert {"interface": "sw1.p2", "rx_packets": 2, "rx_bytes": 120, "tx_packets": 1, "tx_bytes": 60,
            "rx_dropped": {}, "tx_dropped": {}} in data["counters"]
    assert [row["result"] for row in data["expectations"]] == ["PASS"] * 7


def test_run_json_of_a_failing_run_exits_1(small, tmp_path, capsys):
    assert call(["run", str(small), "--out", str(tmp_path / "out"), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["expectations"][0]["result"] == "FAIL"
    assert data["summary"]["expectations_failed"] == 1


def test_run_quiet_prints_only_the_summary(tmp_path, capsys):
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines() == [
        "4 frames sent, 0 extra copies, 4 delivered, 0 dropped, 0 in flight at 30us; expectations: 7/7 passed"]
    assert err == ""


def test_run_quiet_still_spells_out_failures(small, tmp_path, capsys):
    assert call(["run", str(small), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line for line in lines if line.strip()] == [
        f"FAILED {small}:18:5: expect[0]: expected h1-to-vm1 delivered to exactly vm2.eth0; got received by vm1.eth0",
        "1 frame sent, 0 extra copies, 1 delivered, 0 dropped, 0 in flight at 1us; expectations: 0/1 passed",
    ]


def test_run_no_pcapng_writes_only_classic_pcaps(tmp_path, capsys):
    assert call(["run", str(EXAMPLE_FILE), "--out", str(tmp_path), "--no-pcapng", "--quiet"]) == 0
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == [".vswitch-captures", "h1.pcap", "hv1-uplink.pcap", "sw1-p1.pcap", "sw1-p2.pcap", "vm1.pcap",
                     "vm2.pcap"]


def test_run_counts_in_words_that_agree_with_the_number(small, tmp_path, capsys):
    assert call(["run", str(small), "--out", str(tmp_path), "--no-pcapng"]) == 1
    out = capsys.readouterr().out
    assert f"captures: 1 file in {tmp_path}/" in out
    assert "1 frame sent, 0 extra copies, 1 delivered" in out


def test_run_default_out_is_pcaps_slash_name(small, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert call(["run", str(small), "--quiet"]) == 1
    assert sorted(p.name for p in (tmp_path / "pcaps" / "small").iterdir()) == [".vswitch-captures", "all.pcapng",
                                                                                 "h1.pcap"]


# -- validate -------------------------------------------------------------------------------------------------
def test_validate_several_good_files_exits_0(small, capsys):
    assert call(["validate", str(EXAMPLE_FILE), str(small)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{EXAMPLE_FILE}: ok (1 switch, 1 host, 1 hypervisor, 2 VMs, 4 actions, 7 expectations)",
        f"{small}: ok (1 switch, 1 host, 1 hypervisor, 2 VMs, 1 action, 1 expectation)",
    ]
    assert err == ""


def test_validate_a_folder_checks_every_yaml_file_in_it(small, tmp_path, capsys):
    (tmp_path / "bad.yml").write_text("hosts:\n  - name: h1\n    mac: \"01:00:00:00:00:01\"\n")
    (tmp_path / "notes.txt").write_text("not a topology")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.yaml").write_text("nonsense: [")
    assert call(["validate", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{small}: ok (1 switch, 1 host, 1 hypervisor, 2 VMs, 1 action, 1 expectation)"]
    assert err_lines(err) == [f"vswitch: {tmp_path / 'bad.yml'}:3:10: hosts[0].mac: 01:00:00:00:00:01 is a multicast "
                              "address: a NIC's own MAC must be unicast (first octet even)"]


def test_validate_a_folder_without_topologies_says_so_and_goes_on(small, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert call(["validate", str(empty), str(small)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{small}: ok (1 switch, 1 host, 1 hypervisor, 2 VMs, 1 action, 1 expectation)"]
    assert err_lines(err) == [f"vswitch: {empty}: a folder with no *.yaml files: name topology files or a folder "
                              "of them"]


def test_validate_reports_every_bad_file_and_exits_2(small, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  - name: h1\n    mac: \"01:00:00:00:00:01\"\n")
    missing = tmp_path / "missing.yaml"
    assert call(["validate", str(bad), str(small), str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{small}: ok (1 switch, 1 host, 1 hypervisor, 2 VMs, 1 action, 1 expectation)"]
    assert err_lines(err) == [
        f"vswitch: {bad}:3:10: hosts[0].mac: 01:00:00:00:00:01 is a multicast address: a NIC's own MAC must be "
        "unicast (first octet even)",
        f"vswitch: {missing}: no such file (the examples are in topologies/, e.g. {EXAMPLE})",
    ]


# -- show and explain -----------------------------------------------------------------------------------------
def test_show_lists_ports_vms_macs_and_vendors(capsys):
    assert call(["show", str(EXAMPLE_FILE)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "two-vms-one-adapter"
    assert re.search(r"^sw1\.p2\s+hv1\.uplink\s+-$", out, re.M)
    assert re.search(r"^hv1\s+-\s+hv1\.host\s+02:00:00:00:00:aa\s+locally administered\s+adapter, mode bridge$", out, re.M)
    assert re.search(r"vm1\s+vm1\.eth0\s+52:54:00:00:00:01\s+QEMU/KVM\s+hv1 \(mode bridge\)$", out, re.M)
    assert re.search(r"vm2\s+vm2\.eth0\s+52:54:00:00:00:02\s+QEMU/KVM\s+hv1 \(mode bridge\)$", out, re.M)
    assert re.search(r"^h1\s+-\s+h1\.eth0\s+02:00:00:00:00:01\s+locally administered\s+physical host$", out, re.M)
    assert out.rstrip().endswith("4 scenario actions, 7 expectations")


def test_show_lists_vms_beside_their_hypervisor(capsys):
    assert call(["show", str(EXAMPLE_FILE)]) == 0
    assert re.search(r"^hv1\s+vm1\s+vm1\.eth0", capsys.readouterr().out, re.M)


def test_show_names_xen_and_allocated_macs(tmp_path, capsys):
    path = tmp_path / "xen.yaml"
    path.write_text('hypervisors:\n  - name: hv1\n    mac: "02:00:00:00:00:aa"\n'
                    '    vms: [{name: dom1, prefix: xen}, {name: vm2}]\n')
    assert call(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"dom1\s+dom1\.eth0\s+00:16:3e:00:00:01\s+Xen\s", out)
    assert re.search(r"vm2\s+vm2\.eth0\s+52:54:00:00:00:01\s+QEMU/KVM\s", out)


def test_explain_prints_the_hops_of_a_named_frame(capsys):
    assert call(["explain", str(EXAMPLE_FILE), "vm1-to-h1"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0] == "frame 1 (vm1-to-h1#1)"
    hops = [re.split(r"\s+", line, maxsplit=2)[1] for line in lines[1:-1]]
    assert hops == ["vm1.eth0:", "hv1.vnic-vm1.eth0:", "sw1.p2:", "h1.eth0:"]
    assert lines[1].startswith("0.000000000s  vm1.eth0: transmitted")
    assert "flooded: unknown unicast" in lines[3]
    assert lines[4] == "0.000002000s  h1.eth0: delivered"
    assert lines[-1] == "=> delivered to h1.eth0; 0 copies dropped"


def test_explain_unknown_frame_exits_2_naming_the_known_ones(capsys):
    assert call(["explain", str(EXAMPLE_FILE), "vm1-to-h2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err_lines(err) == [
        f"vswitch: {EXAMPLE_FILE}: no frame named 'vm1-to-h2' (named frames: h1-to-vm1, vm1-to-h1, vm1-to-vm2, "
        "vm2-to-h1; or give NAME#N, the N-th frame of a name, or a frame number)"]


@pytest.mark.parametrize("frame", ["999", "0"])
def test_explain_a_frame_number_never_sent_exits_2_saying_which_were(frame, capsys):
    assert call(["explain", str(EXAMPLE_FILE), frame]) == 2
    assert capsys.readouterr() == ("", f"vswitch: {EXAMPLE_FILE}: no frame {frame}: the run sent frames 1 to 4 (named "
                                       "frames: h1-to-vm1, vm1-to-h1, vm1-to-vm2, vm2-to-h1)\n")


def test_explain_a_frame_number_due_after_until_exits_2_saying_so(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(SMALL.replace("name: h1-to-vm1}", "name: h1-to-vm1, count: 3, interval: 10us}"))
    assert call(["explain", str(path), "2", "--until", "5us"]) == 2
    assert capsys.readouterr() == ("", f"vswitch: {path}: no frame 2: it was due after --until 5us (named frames: "
                                       "h1-to-vm1)\n")
    assert call(["explain", str(path), "2"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "frame 2 (2)"


def test_explain_a_name_written_in_digits_is_the_name_before_a_number(tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text((EXAMPLE_FILE.read_text()).replace("vm2-to-h1", '"1"'))
    assert call(["explain", str(path), "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "frame 2 (1#1)" and "vm2.eth0: transmitted" in out


# -- help and version -----------------------------------------------------------------------------------------
def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_the_core_subcommands_exist():
    assert {"run", "validate", "show", "explain"} <= set(_subcommands())


def test_a_command_module_that_fails_to_import_is_a_traceback_not_a_missing_command():
    """Issue 21: cli.py swallowed ImportError around bench and kernel-check, so a real import bug made the command
    vanish from the list (``invalid choice: 'bench'``, exit 2) instead of showing the bug."""
    broken = ("import sys\nsys.modules['vswitch.bench.runner'] = None  # importing it raises ModuleNotFoundError\n"
              "from vswitch.cli import main\nsys.exit(main(['bench', '--help']))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", broken], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=env)
    assert (done.returncode, done.stdout, done.stderr.splitlines()[-1]) == (
        1, "", "ModuleNotFoundError: import of vswitch.bench.runner halted; None in sys.modules")


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_of_every_command_has_an_example(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    assert call(argv) == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert "vswitch" in out.split("example:", 1)[1]


def test_python_m_vswitch_version_names_the_build():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the source tree: pure Python (setup.py compiles on install)
    done = subprocess.run([sys.executable, "-m", "vswitch", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, f"vswitch {__version__}, pure Python", "")


CUT_SHORT = """\
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}, {name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}]
links: [[h1, sw1.p1], [h2, sw1.p2]]
scenario:
  - ping: {from: h1, to: h2, count: 10, interval: 1ms, name: p}
  - at: 20ms
    send: {from: h1, to: h2, name: late}
expect:
  - ping: {name: p, succeeds: true}
  - at: 30ms
    table: {switch: sw1, mac: "02:00:00:00:00:01", port: p1}
"""


def test_until_fails_what_it_cuts_off_and_says_how_far_a_ping_got(tmp_path, capsys):
    path = tmp_path / "cut.yaml"
    path.write_text(CUT_SHORT)
    assert call(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    capsys.readouterr()
    assert call(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--until", "3500us"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines == [
        f"FAILED {path}:6:5: scenario[1]: expected the send action at 20ms to run; got not reached: the run stopped "
        "at 3.5ms",
        f"FAILED {path}:10:5: expect[1]: expected the table check at 30ms to run; got not reached: the run stopped "
        "at 3.5ms",
        f"FAILED {path}:9:5: expect[0]: expected ping p succeeds; got 4 transmitted, 4 received, 0% loss (sent 4 of "
        "its 10 requests: the run ended first)",
        "10 frames sent, 0 extra copies, 10 delivered, 0 dropped, 0 in flight at 3.5ms; expectations: 0/3 passed",
    ]


def test_a_run_result_prints_short():
    from vswitch import ScenarioRunner, build_network, load_topology_text
    spec = load_topology_text(CUT_SHORT)
    result = ScenarioRunner(spec, build_network(spec, record=False)).run()
    assert repr(result) == "<RunResult passed: 2/2 expectations held, 1 frame name, 1 session, 0 warnings>"


UNMEANT = """\
switches: [{name: sw1}]
hosts: [{name: h1, mac: "02:00:00:00:00:01"}, {name: h2, mac: "02:00:00:00:00:02"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:00:aa", vms: [{name: vm1}]}
links: [[h1, sw1.p1], [h2, sw1.p2]]
scenario:
  - at: 5ms
    send: {from: h1, to: h2}
  - at: 1ms
    send: {from: h2, to: h1}
"""


def test_an_earlier_at_and_an_uncabled_hypervisor_are_warnings(tmp_path, capsys):
    path = tmp_path / "unmeant.yaml"
    path.write_text(UNMEANT)
    warnings = [f"{path}:9:5: scenario[1]: at 1ms is earlier than the item before it (5ms, line 7): items run in time "
                "order, so it runs first; write the scenario in time order",
                f"{path}:4:5: hypervisors[0]: hypervisor hv1 has no cable: its VMs reach only each other; link it, "
                "e.g. [hv1, sw1.p2]"]
    assert call(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: ok (")
    assert err_lines(err) == [f"vswitch: warning: {warning}" for warning in warnings]
    assert call(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert all(f"WARNING {warning}" in out for warning in warnings) and "; 2 warnings;" in out


def test_a_run_removes_the_captures_an_earlier_run_wrote_and_this_one_does_not(small, tmp_path, capsys):
    out = tmp_path / "out"
    renamed = small.parent / "renamed.yaml"
    renamed.write_text(SMALL.replace("points: [h1]", "points: [{point: h1, file: sub/first.pcap}, sw1.p1]"))
    assert call(["run", str(renamed), "--out", str(out)]) == 1
    (out / "notes.txt").write_text("mine")  # not a capture: stays
    capsys.readouterr()
    assert call(["run", str(small), "--out", str(out)]) == 1
    assert "removed 2 captures an earlier run wrote there: sub/first.pcap, sw1-p1.pcap" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        ".vswitch-captures", "all.pcapng", "h1.pcap", "notes.txt"]
    assert (out / ".vswitch-captures").read_text().splitlines()[1:] == ["all.pcapng", "h1.pcap"]
