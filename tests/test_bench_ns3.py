"""``vswitch bench --ns3``: ns-3's counterparts of lan8 and udp8 (``vswitch/bench/ns3ref.py``) and the ratios.

The tests that run ns-3 need an interpreter with its Python bindings (``pip install ns3``): this one, or the one
``VSWITCH_NS3_PYTHON`` names; they skip otherwise. Speed is never asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from vswitch.bench import ns3compare, ns3ref, workload
from vswitch.bench import runner as bench
from vswitch.bench.measure import BenchResult
from vswitch.bench.runner import run_bench

NS3_PYTHON = os.environ.get("VSWITCH_NS3_PYTHON") or (sys.executable if importlib.util.find_spec("ns") else None)
needs_ns3 = pytest.mark.skipif(NS3_PYTHON is None, reason="no Python with ns-3's bindings: pip install ns3 in a "
                               "venv and set VSWITCH_NS3_PYTHON to its python")
FCS = 4  # ns-3's CSMA frames carry an Ethernet trailer, and its pcaps keep it


def expected_counts(n: int, frames: int) -> tuple[list[int], list[int]]:
    sent, received = [0] * n, [0] * n
    for i in range(frames):
        sent[i % n] += 1
        received[workload.destination(i, n)] += 1
    return sent, received


def result(name: str, seconds: float, frames: int = 1000, cpu_seconds: float = 0.0) -> BenchResult:
    return BenchResult(name, frames, seconds, frames, 0, 0, 1024, 0, [], "test", cpu_seconds=cpu_seconds)


# -- without ns-3 -------------------------------------------------------------------------------------------------
def test_the_ns3_script_sends_vswitchs_pattern():
    for n in (2, 8, 12):
        assert [ns3ref.destination(i, n) for i in range(500)] == [workload.destination(i, n) for i in range(500)]


def test_the_ns3_lan8_payloads_are_vswitchs_frames_after_the_ethernet_header(tmp_path):
    net, endpoints, _ = bench.build_topology(bench.workload_file("lan8"), tmp_path)
    net.close()
    frames = workload.pair_frames(endpoints)
    assert [[ns3ref.ip_udp_payload(s, d) for d in range(8) if d != s] for s in range(8)] == [
        [frames[s][d][14:] for d in range(8) if d != s] for s in range(8)]
    assert [ns3ref.ip_udp_payload(k, None) for k in range(8)] == [
        frame[14:] for _, _, frame in workload.announcements(endpoints)]
    assert [e.mac.hex(":") for e in endpoints] == [f"02:00:00:00:00:{k:02x}" for k in range(1, 9)]  # as ns-3's


def test_the_ns3_script_imports_only_the_standard_library_and_ns():
    """It runs by path in another interpreter, which has no vswitch, Scapy or PyYAML."""
    tree = ast.parse(Path(ns3ref.__file__).read_text())
    modules = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module and not node.level}
    assert all(isinstance(node, ast.ImportFrom) is False or not node.level for node in ast.walk(tree))
    assert modules - set(sys.stdlib_module_names) == {"ns"}


def test_the_ns3_script_says_how_to_install_ns3_or_how_to_call_it(tmp_path):
    script = [sys.executable, ns3ref.__file__]
    usage = subprocess.run(script + ["vnic", "10", str(tmp_path)], capture_output=True, text=True)
    assert (usage.returncode, usage.stderr) == (2, "usage: python ns3ref.py {lan8|udp8} FRAMES DIR\n")
    if NS3_PYTHON != sys.executable:
        missing = subprocess.run(script + ["lan8", "100", str(tmp_path)], capture_output=True, text=True)
        assert missing.returncode == ns3ref.NOT_INSTALLED
        assert missing.stderr.startswith(f"{sys.executable} cannot import ns: install ns-3's Python bindings in an "
                                         "environment of their own (python3 -m venv /tmp/venv-ns3 && ")


def test_the_median_run_is_one_that_happened():
    runs = [result("lan8", s) for s in (3.0, 1.0, 2.0, 4.0)]
    assert ns3compare.median_run(runs).seconds == 2.0  # the lower of the middle two
    assert ns3compare.median_run(runs[:3]).seconds == 2.0


def test_the_ratio_is_of_the_medians_with_the_run_by_run_range():
    ours = [result("lan8", s) for s in (1.0, 2.0, 1.5)]
    theirs = [result("ns-3 lan8", s) for s in (8.0, 6.0, 7.5)]  # run by run: 8x, 3x, 5x
    assert ns3compare.ratio_lines({"lan8": ours}, {"lan8": theirs}) == [
        "lan8 / ns-3 lan8: 5.00x ns-3's frames/s (medians of 3 interleaved runs; run by run 3.00x - 8.00x)",
        "  lan8 run by run, frames/s vswitch / ns-3: 1,000 / 125; 500 / 167; 667 / 133"]
    assert ns3compare.ratio_lines({"lan8": ours[:1]}, {"lan8": theirs[:1]}) == [
        "lan8 / ns-3 lan8: 8.00x ns-3's frames/s (one run each, interleaved)"]


def test_the_ratio_in_cpu_time_a_frame_is_the_median_of_the_runs():
    ours = [result("udp8", 2.0, 500, cpu) for cpu in (1.0, 2.0, 1.5)]
    theirs = [result("ns-3 udp8", 9.0, 1000, cpu) for cpu in (8.0, 12.0, 18.0)]  # per frame: 4x, 3x, 6x
    assert ns3compare.ratio_lines({"udp8": ours}, {"udp8": theirs})[1] == (
        "  in CPU time a frame (steadier on a loaded machine): 4.00x (median; run by run 3.00x - 6.00x)")


def test_each_ns3_run_follows_the_vswitch_run_of_its_workload_round_by_round(monkeypatch, capsys, tmp_path):
    calls = []

    def vswitch_run(name, frames, out_dir, topology=None):
        calls.append(name)
        return result(name, {"lan8": 1.0, "udp8": 5.0}[name] + len(calls) / 100, frames)

    def ns3_run(python, name, frames, out_dir):
        calls.append(f"ns-3 {name}")
        return result(f"ns-3 {name}", {"lan8": 4.0, "udp8": 10.0}[name] + len(calls) / 100, frames)

    monkeypatch.setattr(bench, "run_in_subprocess", vswitch_run)
    monkeypatch.setattr(bench, "run_ns3", ns3_run)
    monkeypatch.setattr(ns3compare, "ns3_interpreter", lambda python: "/ns-3/python")
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["--ns3", "-n", "1000", "--repeat", "3", "--out", str(tmp_path)])) == 0
    assert calls == ["lan8", "ns-3 lan8", "udp8", "ns-3 udp8"] * 3
    out = capsys.readouterr().out
    rows = {line.split()[0] + (" " + line.split()[1] if line.startswith("ns-3") else ""): line
            for line in out.splitlines() if line.startswith(("lan8 ", "udp8 ", "ns-3 "))}
    assert set(rows) >= {"lan8", "udp8", "ns-3 lan8", "ns-3 udp8"}
    assert "lan8 / ns-3 lan8: 3.87x" in out and "udp8 / ns-3 udp8: 1.99x" in out  # 4.06 / 1.05, 10.08 / 5.07
    assert out.rstrip().endswith("; median of 3 runs each")


# -- with ns-3 ----------------------------------------------------------------------------------------------------
@needs_ns3
def test_ns3_lan8_sends_vswitchs_frames_through_its_bridge_captured_at_the_same_points(tmp_path):
    theirs = ns3compare.run_ns3(NS3_PYTHON, "lan8", 200, tmp_path / "ns-3")
    timed = 200 - ns3ref.FIRST_ROUND
    assert (theirs.workload, theirs.frames, theirs.delivered, theirs.dropped, theirs.in_flight) == (
        "ns-3 lan8", timed, timed, 0, 0)
    ours = run_bench("lan8", 200, tmp_path / "vswitch")
    assert sorted(Path(f).name for f in theirs.captures) == sorted(Path(f).name for f in ours.captures)
    for name in sorted(Path(f).name for f in ours.captures):  # the same frames, in the same order, at each point
        frames = [bytes(p)[:-FCS] for p in rdpcap(str(tmp_path / "ns-3" / name))]
        if name.startswith("sw1.p"):  # a bridge port's pcap (not promiscuous) has the broadcast its host sent it too
            own = bytes.fromhex(f"ffffffffffff02000000000{name[5]}")
            assert sum(f.startswith(own) for f in frames) == 1
            frames = [f for f in frames if not f.startswith(own)]
        assert frames == [bytes(p) for p in rdpcap(str(tmp_path / "vswitch" / name))], name


@needs_ns3
def test_ns3_udp8_sends_each_datagram_once_to_the_discard_port_round_robin_after_arp(tmp_path):
    theirs = ns3compare.run_ns3(NS3_PYTHON, "udp8", 200, tmp_path)
    timed = 200 - ns3ref.FIRST_ROUND
    assert (theirs.workload, theirs.frames, theirs.delivered, theirs.dropped, theirs.in_flight) == (
        "ns-3 udp8", timed, timed, 0, 0)
    sent, received = expected_counts(8, 200)
    for k in range(8):
        packets = rdpcap(str(tmp_path / f"h{k + 1}.pcap"))
        mine = f"10.0.0.{k + 1}"
        datagrams = [p for p in packets if UDP in p]
        assert all(p[UDP].dport == 9 and len(bytes(p)) == workload.FRAME_SIZE + FCS and p[UDP].chksum
                   for p in datagrams)
        # the warm-up's datagram per ordered pair, then the stream
        assert [sum(p[IP].src == mine for p in datagrams), sum(p[IP].dst == mine for p in datagrams)] == [
            7 + sent[k], 7 + received[k]]
        assert sum(ARP in p and p[ARP].op == 1 and p[Ether].src == f"02:00:00:00:00:{k + 1:02x}"
                   for p in packets) == 7  # one request per peer, before the stream
        assert all(UDP in p for p in packets[-(sent[k] + received[k]):])


@needs_ns3
def test_the_command_prints_ns3s_row_and_the_ratio(tmp_path, capsys):
    from vswitch import cli

    assert cli.main(["bench", "lan8", "-n", "300", "--ns3-python", NS3_PYTHON, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("ns-3 lan8"))
    assert row.split()[2:3] == ["244"] and "ns-3 3." in row
    assert "lan8 / ns-3 lan8: " in out and "x ns-3's frames/s (one run each, interleaved)" in out
    assert len(list((tmp_path / "ns-3-lan8").glob("*.pcap"))) == 16
