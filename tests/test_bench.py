"""``vswitch bench``: each workload runs end to end on a tiny N and its figures and captures are right.

lan8 and vnic are the topology files ``vswitch/bench/workloads/*.yaml`` (package data), loaded and built as ``vswitch run`` does; they
must give exactly the network the bench used to build with the Python API (same pcaps, byte for byte).
Correctness only: speed is printed by the bench, never asserted.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from vswitch import ScenarioError, cli
from vswitch.bench import runner as bench
from vswitch.bench import workload
from vswitch.bench.measure import interpreter
from vswitch.bench.runner import run_bench
from vswitch.bench.workload import destination
from vswitch.net.network import Network
from vswitch.topology.loader import load_topology_text

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_WORKLOADS = Path(bench.__file__).resolve().parent / "workloads"  # the installed package's, under pytest
BENCH_FILES = sorted(PACKAGE_WORKLOADS.glob("*.yaml"))


def expected_counts(n: int, frames: int) -> tuple[list[int], list[int]]:
    """(sent, received) per endpoint for the issue's pattern: frame i from i % n to (src + 1 + (i // n) % (n-1)) % n."""
    sent, received = [0] * n, [0] * n
    for i in range(frames):
        src = i % n
        sent[src] += 1
        received[(src + 1 + (i // n) % (n - 1)) % n] += 1
    return sent, received


@pytest.mark.parametrize("workload, frames, endpoints", [
    ("lan8", 200, ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"]),
    ("vnic", 200, ["h1", "h2", "h3", "h4", "vm1", "vm2", "vm3", "vm4", "vm5", "vm6", "vm7", "vm8"]),
    ("vnic-io", 200, ["h1", "h2", "h3", "h4", "vm1", "vm2", "vm3", "vm4", "vm5", "vm6", "vm7", "vm8"]),
    ("naive", 50, ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"]),
])
def test_every_frame_is_delivered_once_and_each_nic_pcap_holds_what_it_sent_and_received(
        tmp_path, workload, frames, endpoints):
    result = run_bench(workload, frames, tmp_path)
    assert (result.workload, result.frames, result.delivered, result.dropped, result.in_flight) == (
        workload, frames, frames, 0, 0)
    assert result.seconds > 0 and result.frames_per_s > 0 and result.peak_rss_kib > 0
    assert all(Path(f).is_file() for f in result.captures)
    n = len(endpoints)
    sent, received = expected_counts(n, frames)
    for k, name in enumerate(endpoints):
        # the warm-up: each endpoint's own broadcast and those of the n - 1 others
        assert len(rdpcap(str(tmp_path / f"{name}.pcap"))) == n + sent[k] + received[k], name


def test_vnic_io_is_vnic_with_every_vm_under_virtio_accounting_only(tmp_path):
    """The same network, captures and frames as vnic: only the accounting differs (no vCPU clock: no delay)."""
    from vswitch.topology.build import build_network
    from vswitch.topology.loader import load_topology
    plain, io = (load_topology(PACKAGE_WORKLOADS / f"{w}.yaml") for w in ("vnic", "vnic-io"))
    assert [vm.io for hv in plain.hypervisors for vm in hv.vms] == [None] * 8
    assert {(vm.io.model, vm.io.cpu_ghz) for hv in io.hypervisors for vm in hv.vms} == {("virtio", None)}
    assert [(link.a, link.b) for link in plain.links] == [(link.a, link.b) for link in io.links]
    assert [(c.point, c.direction, c.file) for c in plain.captures] == [(c.point, c.direction, c.file)
                                                                        for c in io.captures]
    net, endpoints, _ = bench.build_topology(PACKAGE_WORKLOADS / "vnic-io.yaml", tmp_path)
    result = bench.run_network("vnic-io", net, endpoints, 240)
    assert (result.delivered, result.dropped, result.in_flight) == (240, 0, 0)
    accounts = [net.vnics[f"vm{k}"].port.io for k in range(1, 9)]
    sent, received = expected_counts(12, 240)  # h1-h4, vm1-vm8 (VMs 4 to 11), each after its warm-up broadcast
    assert [(a.frames_tx, a.frames_rx) for a in accounts] == [(1 + sent[k], 11 + received[k]) for k in range(4, 12)]
    assert all(a.kicks == a.frames_tx and a.exits["mmio_exits"] == a.frames_tx for a in accounts)


def test_lan8_switch_ports_capture_what_they_transmit(tmp_path):
    run_bench("lan8", 200, tmp_path)
    _, received = expected_counts(8, 200)
    for k in range(8):
        assert len(rdpcap(str(tmp_path / f"sw1.p{k + 1}.pcap"))) == 7 + received[k]


def test_bench_frames_are_the_udp_frames_scapy_builds_with_correct_checksums(tmp_path):
    run_bench("lan8", 16, tmp_path)
    stream = [p for p in rdpcap(str(tmp_path / "h1.pcap")) if p[Ether].src == "02:00:00:00:00:01"][1:]
    assert len(stream) == 2  # frames 0 and 8
    for packet, dst in zip(stream, (2, 3)):
        expected = (Ether(src="02:00:00:00:00:01", dst=f"02:00:00:00:00:{dst:02x}", type=0x0800)
                    / IP(src="10.0.0.1", dst=f"10.0.0.{dst}", ttl=64, id=0, flags=0)
                    / UDP(sport=workload.UDP_PORTS[0], dport=workload.UDP_PORTS[1]) / Raw(bytes(18)))
        assert bytes(packet) == bytes(expected)
        assert len(bytes(packet)) == workload.FRAME_SIZE


def test_a_bench_frame_whose_udp_checksum_comes_out_0_carries_ffff_as_scapy_builds_it():
    src = workload.Endpoint("h1", bytes.fromhex("020000000001"), bytes([10, 0, 0, 1]))
    template = workload.udp_template()
    # readdressed to 10.0.0.0 the checksum is c; to 10.0.c (its last 16 bits c) the sum grows by exactly c, the
    # complement of what it was, so the checksum comes out 0
    c = int.from_bytes(workload.patch(template, src, bytes(6), bytes([10, 0, 0, 0]))[40:42], "big")
    dst_ip = bytes([10, 0]) + c.to_bytes(2, "big")
    frame = workload.patch(template, src, bytes.fromhex("020000000002"), dst_ip)
    expected = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x0800)
                / IP(src="10.0.0.1", dst=".".join(map(str, dst_ip)), ttl=64, id=0, flags=0)
                / UDP(sport=workload.UDP_PORTS[0], dport=workload.UDP_PORTS[1]) / Raw(bytes(18)))
    assert (frame[40:42], frame) == (b"\xff\xff", bytes(expected))


def test_stream_times_are_one_microsecond_apart(tmp_path):
    run_bench("lan8", 24, tmp_path)
    sent = [p for p in rdpcap(str(tmp_path / "h1.pcap")) if p[Ether].src == "02:00:00:00:00:01"][1:]
    times = [int(p.time * 1_000_000_000) for p in sent]
    assert [b - a for a, b in zip(times, times[1:])] == [8 * workload.FRAME_GAP_NS] * 2


def test_destination_covers_every_ordered_pair_once_per_cycle():
    for n in (2, 8, 12):
        pairs = {(i % n, destination(i, n)) for i in range(n * (n - 1))}
        assert pairs == {(s, d) for s in range(n) for d in range(n) if s != d}


def test_unknown_workload_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match="unknown workload 'lan9'"):
        run_bench("lan9", 10, tmp_path)


def test_the_command_runs_each_workload_in_its_own_interpreter_and_prints_the_table(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["all", "-n", "100", "--naive-frames", "20", "--out", str(tmp_path)])) == 0
    out = capsys.readouterr().out
    for text in ("lan8", "vnic", "udp8", "naive", "frames/s", "peak RSS MB", "lan8 / naive:",
                 "vnic / lan8 time per frame:", "vnic-io / vnic time per frame:", "udp8 / lan8 time per frame:",
                 "CPython" if interpreter().startswith("CPython") else "PyPy"):
        assert text in out
    assert (tmp_path / "lan8" / "h1.pcap").is_file() and (tmp_path / "naive" / "sw1.p8.pcap").is_file()


@pytest.mark.parametrize("option", ["-n", "--naive-frames", "--repeat"])
def test_the_command_refuses_zero_frames_or_repeats(option, capsys):
    assert cli.main(["bench", "lan8", option, "0"]) == 2
    assert capsys.readouterr() == ("", f"vswitch: argument {'-n/--frames' if option == '-n' else option}: must be at "
                                       "least 1, got 0; see vswitch bench --help\n")


def bench_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


# -- the workloads are topology files ------------------------------------------------------------------
def test_the_standard_workloads_are_package_data_read_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkout here: the files come with the package (pip install . ships them)
    assert BENCH_FILES == sorted(PACKAGE_WORKLOADS / f"{w}.yaml" for w in bench.TOPOLOGY_WORKLOADS)
    assert [bench.workload_file(w) for w in bench.TOPOLOGY_WORKLOADS] == [
        PACKAGE_WORKLOADS / "lan8.yaml", PACKAGE_WORKLOADS / "vnic.yaml", PACKAGE_WORKLOADS / "vnic-io.yaml",
        PACKAGE_WORKLOADS / "udp8.yaml"]


@pytest.mark.parametrize("path", BENCH_FILES, ids=lambda p: p.name)
def test_each_bench_topology_validates_and_says_it_is_driven_by_vswitch_bench(path):
    assert cli.main(["validate", str(path)]) == 0
    opening = path.read_text().split("\nname:")[0]
    assert opening.startswith(f"# {path.stem}: ") and "`vswitch bench" in opening


def test_bench_topologies_are_not_examples():
    examples = sorted((ROOT / "topologies").glob("*.yaml"))  # what test_examples / test_kernelcheck / regen run
    assert examples and not set(examples) & set(BENCH_FILES)


def _lan8_by_api(out_dir):
    """lan8 as the bench built it with the Python API before it read topologies/bench/lan8.yaml."""
    net = Network(record=False, capture_dir=out_dir)
    net.add_switch("sw1")
    names = [f"h{k}" for k in range(1, 9)]
    for k, name in enumerate(names, 1):
        net.add_host(name, f"02:00:00:00:00:{k:02x}")
        net.connect(name, "sw1")
    return net, names


def _vnic_by_api(out_dir):
    """vnic as the bench built it with the Python API before it read topologies/bench/vnic.yaml."""
    net = Network(record=False, capture_dir=out_dir)
    net.add_switch("sw1")
    names = [f"h{k}" for k in range(1, 5)]
    for k, name in enumerate(names, 1):
        net.add_host(name, f"02:00:00:00:00:{k:02x}")
        net.connect(name, "sw1")
    for h in (1, 2):
        net.add_hypervisor(f"hv{h}", f"02:00:00:00:01:{h:02x}")
        net.connect(f"hv{h}", "sw1")
        for v in range(1, 5):
            names.append(f"vm{(h - 1) * 4 + v}")
            net.add_vm(f"hv{h}", names[-1], f"52:54:00:00:{h:02x}:{v:02x}")
    return net, names


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("workload, by_api", [("lan8", _lan8_by_api), ("vnic", _vnic_by_api)])
def test_the_yaml_workload_writes_the_same_pcaps_as_the_python_api_network_it_replaces(tmp_path, workload, by_api):
    net, names = by_api(tmp_path / "api")
    for name in names:
        net.capture(name, f"{name}.pcap", "both")
    for port in net.switch("sw1").ports.values():
        net.capture(port.full_name, f"{port.full_name}.pcap", "tx")
    before = bench.run_network(workload, net, bench.endpoints_of(net, names), 300)
    after = run_bench(workload, 300, tmp_path / "yaml")
    assert [e.name for e in bench.build_topology(bench.workload_file(workload), tmp_path / "again")[1]] == names
    assert (after.delivered, after.dropped, after.in_flight) == (before.delivered, before.dropped,
                                                                 before.in_flight) == (300, 0, 0)
    assert [Path(f).name for f in after.captures] == [Path(f).name for f in before.captures]
    assert digests(tmp_path / "yaml") == digests(tmp_path / "api")


def test_vnic_frames_are_captured_three_times_or_twice_between_vms_of_one_adapter(tmp_path):
    frames = 12 * 11  # every ordered pair of the 12 endpoints once
    run_bench("vnic", frames, tmp_path)
    same_adapter = 2 * 4 * 3  # ordered pairs of VMs of one hypervisor: they never reach the switch
    warmup = 12 * 12 + 12 * 5  # each broadcast once at every endpoint, and leaving by the 5 other switch ports
    counts = {f.name: len(rdpcap(str(f))) for f in tmp_path.glob("*.pcap")}
    assert len(counts) == 18 and sum(counts.values()) == warmup + 3 * (frames - same_adapter) + 2 * same_adapter


# -- --topology FILE ----------------------------------------------------------------------------------
ANY_TOPOLOGY = """
name: mixed
switches: [{name: sw1}]
hosts:
  - {name: h10, mac: "02:00:00:00:00:10"}
  - name: h2
    nics: [{mac: "02:00:00:00:00:02"}, {name: eth1, mac: "02:00:00:00:00:03"}]
hypervisors:
  - {name: hv1, mac: "02:00:00:00:01:01", backend: bridge, vms: [{name: vm1}]}
links: [[h10, sw1], [h2.eth0, sw1], [h2.eth1, sw1], [hv1, sw1]]
captures: {points: [h10, vm1]}
scenario:
  - send: {from: h10, to: vm1}
"""


def test_endpoints_are_every_host_nic_and_vm_sorted_by_name_with_numbers_in_order():
    spec = load_topology_text(ANY_TOPOLOGY)
    assert bench.endpoint_names(spec) == ["h2.eth0", "h2.eth1", "h10", "vm1"]


def test_any_topology_file_is_benched_with_its_own_captures_and_no_pcapng(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text(ANY_TOPOLOGY)
    result = run_bench("mixed", 40, tmp_path / "out", path)
    assert (result.workload, result.delivered, result.dropped, result.in_flight) == ("mixed", 40, 0, 0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["h10.pcap", "vm1.pcap"]  # scenario not run
    sent, received = expected_counts(4, 40)
    assert len(rdpcap(str(tmp_path / "out" / "vm1.pcap"))) == 4 + sent[3] + received[3]


def test_the_command_benches_a_topology_file_in_its_own_interpreter(tmp_path, capsys):
    path = tmp_path / "mixed.yaml"
    path.write_text(ANY_TOPOLOGY)
    assert bench.run(bench_args("--topology", str(path), "-n", "50", "--out", str(tmp_path / "out"))) == 0
    out = capsys.readouterr().out
    assert "mixed" in out and "lan8" not in out.split("machine:")[0]
    assert (tmp_path / "out" / "mixed" / "h10.pcap").is_file()


def test_the_command_refuses_a_topology_with_fewer_than_two_endpoints_or_errors(tmp_path, capsys):
    one = tmp_path / "one.yaml"
    one.write_text('hosts: [{name: h1, mac: "02:00:00:00:00:01"}]\n')
    assert cli.main(["bench", "--topology", str(one)]) == 2
    assert capsys.readouterr().err == (f"vswitch: {one}: the bench needs at least 2 host NICs or VMs to send "
                                       "between, found 1\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text('hosts: [{name: h1, mac: 5}]\n')
    assert cli.main(["bench", "--topology", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"vswitch: {bad}:1:25: hosts[0].mac: ")
    assert cli.main(["bench", "--topology", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"vswitch: {tmp_path / 'nope.yaml'}: no such file\n"


def test_without_its_package_data_the_command_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "BENCH_TOPOLOGIES", tmp_path / "workloads")  # an installation that lost its files
    assert cli.main(["bench", "lan8", "-n", "10"]) == 2
    assert capsys.readouterr().err == (f"vswitch: workload lan8: no topology file {tmp_path / 'workloads' / 'lan8.yaml'} "
                                       "(this vswitch was installed without its package data): reinstall it, or pass "
                                       "a topology with --topology FILE\n")
    assert bench.run(bench_args("naive", "-n", "10", "--naive-frames", "10", "--out", str(tmp_path))) == 0


def test_the_bench_command_and_its_worker_run_from_a_folder_without_a_checkout(tmp_path):
    """Issue 13 item 7: after ``pip install .``, ``vswitch bench`` found its files only inside a checkout."""
    package_root = str(Path(bench.__file__).resolve().parents[2])  # the tested vswitch: source tree or installed
    env = {**os.environ, "PYTHONPATH": package_root}
    worker = subprocess.run([sys.executable, "-m", "vswitch.bench", "--worker", "vnic", "24", str(tmp_path / "w")],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert worker.returncode == 0, worker.stderr
    result = json.loads(worker.stdout)
    assert (result["workload"], result["frames"], result["delivered"], result["dropped"]) == ("vnic", 24, 24, 0)
    command = subprocess.run([sys.executable, "-m", "vswitch", "bench", "lan8", "-n", "16", "--out", "kept"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert command.returncode == 0, command.stderr
    assert "lan8" in command.stdout and (tmp_path / "kept" / "lan8" / "h1.pcap").is_file()
    assert not (tmp_path / "topologies").exists()


@pytest.mark.parametrize("argv, naive", [((), 20_000), (("-n", "100000"), 2_000), (("-n", "10"), 1),
                                         (("-n", "100000", "--naive-frames", "300"), 300)])
def test_n_scales_the_naive_baseline_unless_naive_frames_is_given(argv, naive):
    args = bench_args("naive", *argv)
    assert bench.naive_frames(args.frames, args.naive_frames) == naive


def test_the_naive_row_shows_the_scaled_count(tmp_path, capsys):
    assert bench.run(bench_args("naive", "-n", "150", "--out", str(tmp_path))) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("naive"))
    assert row.split()[1] == "3"  # N = 150 / 50


# -- udp8: the same pattern from guest IPv4 stacks ---------------------------------------------------------
def test_udp8_stacks_send_each_datagram_once_to_the_discard_port_round_robin_after_arp(tmp_path):
    from vswitch.bench.guest_workload import WARMUP_NS

    result = run_bench("udp8", 200, tmp_path)
    timed = 200 - 56  # the first round (one datagram per ordered pair) is sent before the clock starts
    assert (result.workload, result.frames, result.delivered, result.dropped, result.in_flight) == (
        "udp8", timed, timed, 0, 0)
    sent, received = expected_counts(8, 200)
    for k in range(8):
        packets = rdpcap(str(tmp_path / f"h{k + 1}.pcap"))
        first = min(p.time for p in packets)
        stream = [p for p in packets if (p.time - first) * 1_000_000_000 >= WARMUP_NS]
        assert all(UDP in p and p[UDP].dport == 9 and len(bytes(p)) == workload.FRAME_SIZE for p in stream)
        mine = f"10.0.0.{k + 1}"
        assert [sum(p[IP].src == mine for p in stream), sum(p[IP].dst == mine for p in stream)] == [
            sent[k], received[k]]
        for p in stream:  # the stacks' checksums, as Scapy computes them
            rebuilt = p.copy()
            del rebuilt[IP].chksum, rebuilt[UDP].chksum
            assert bytes(rebuilt.__class__(bytes(rebuilt))) == bytes(p)
        ids = [p[IP].id for p in stream if p[IP].src == mine]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)  # one IP id per datagram, counting up
    # the warm-up resolved every address with ARP: no request in the measured stream (checked above: all UDP)


def test_udp8_refuses_a_topology_whose_hosts_have_no_addresses(tmp_path):
    from vswitch import TopologyError
    from vswitch.bench.guest_workload import run_guest_bench

    with pytest.raises(TopologyError, match="udp8 needs at least 2 hosts with an IPv4 address, found 0"):
        run_guest_bench("udp8", PACKAGE_WORKLOADS / "lan8.yaml", tmp_path, 10)


@pytest.mark.parametrize("workload", ["echo8", "ping8"])
def test_echo8_and_ping8_probes_are_each_answered_and_the_clock_counts_both_frames(tmp_path, workload):
    result = run_bench(workload, 100, tmp_path)
    timed = 2 * (100 - 56)  # the first round (one probe per ordered pair) is sent before the clock starts
    assert (result.workload, result.frames, result.delivered, result.dropped, result.in_flight) == (
        workload, timed, timed, 0, 0)
    sent, received = expected_counts(8, 100)
    for k in range(8):  # each probe h_k sent or received, and its answer (the warm-up went to the discard port)
        packets = rdpcap(str(tmp_path / f"h{k + 1}.pcap"))
        probes = [p for p in packets if ICMP in p or (UDP in p and 7 in (p[UDP].sport, p[UDP].dport))]
        assert len(probes) == 2 * (sent[k] + received[k])
