"""``vswitch bench``: each workload runs end to end on a tiny N and its figures and captures are right.

Correctness only: speed is printed by the bench, never asserted.
"""

import argparse
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from vswitch import bench
from vswitch.bench import run_bench


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
                    / UDP(sport=bench.UDP_PORTS[0], dport=bench.UDP_PORTS[1]) / Raw(bytes(18)))
        assert bytes(packet) == bytes(expected)
        assert len(bytes(packet)) == bench.FRAME_SIZE


def test_stream_times_are_one_microsecond_apart(tmp_path):
    run_bench("lan8", 24, tmp_path)
    sent = [p for p in rdpcap(str(tmp_path / "h1.pcap")) if p[Ether].src == "02:00:00:00:00:01"][1:]
    times = [int(p.time * 1_000_000_000) for p in sent]
    assert [b - a for a, b in zip(times, times[1:])] == [8 * bench.FRAME_GAP_NS] * 2


def test_destination_covers_every_ordered_pair_once_per_cycle():
    for n in (2, 8, 12):
        pairs = {(i % n, bench.destination(i, n)) for i in range(n * (n - 1))}
        assert pairs == {(s, d) for s in range(n) for d in range(n) if s != d}


def test_unknown_workload_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown workload 'lan9'"):
        run_bench("lan9", 10, tmp_path)


def test_the_command_runs_each_workload_in_its_own_interpreter_and_prints_the_table(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["all", "-n", "100", "--naive-frames", "20", "--out", str(tmp_path)])) == 0
    out = capsys.readouterr().out
    for text in ("lan8", "vnic", "naive", "frames/s", "peak RSS MB", "lan8 / naive:", "vnic / lan8 time per frame:",
                 "CPython" if bench.interpreter().startswith("CPython") else "PyPy"):
        assert text in out
    assert (tmp_path / "lan8" / "h1.pcap").is_file() and (tmp_path / "naive" / "sw1.p8.pcap").is_file()


def test_the_command_refuses_zero_frames(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["lan8", "-n", "0"])) == 2
    assert "must be at least 1" in capsys.readouterr().err
