"""Replay of pcap and pcapng files: written by vswitch, by Scapy and by tcpdump; damaged files replay up to the damage
and say where and why they stopped, never crashing."""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap, wrpcapng

from vswitch.topology.build import build_network
from vswitch.cli import main
from vswitch.pcap.writer import PcapNgWriter, PcapWriter
from vswitch.pcap.reader import CaptureFileError, CaptureReader
from vswitch.scenario.runner import ScenarioRunner
from vswitch.topology.loader import load_topology

T0 = 1_700_000_000 * 10**9
FRAMES = [bytes(Ether(src=f"02:00:00:00:00:{i:02x}", dst="02:00:00:00:00:ee", type=0x88B5)) + bytes([i]) * (46 + i)
          for i in range(1, 6)]
TIMES = [T0, T0 + 1_500_000, T0 + 1_500_000, T0 + 20_000_000, T0 + 1_000_000_000]  # us-exact for Scapy


def scapy_packets():
    packets = []
    for frame, time_ns in zip(FRAMES, TIMES, strict=True):
        packet = Ether(frame)
        packet.time = time_ns / 1e9
        packets.append(packet)
    return packets


def read(path):
    with CaptureReader(path) as reader:
        records = list(reader)
    return records, reader


def write_vswitch_pcap(path):
    with PcapWriter(path) as writer:
        for frame, time_ns in zip(FRAMES, TIMES, strict=True):
            writer.write(frame, time_ns)


def write_vswitch_pcapng(path):
    with PcapNgWriter(path, comment="test") as writer:
        a, b = writer.add_interface("a"), writer.add_interface("b")
        for i, (frame, time_ns) in enumerate(zip(FRAMES, TIMES, strict=True)):
            writer.write((a, b)[i % 2], frame, time_ns, direction="in", comment=f"frame {i}")


WRITERS = {
    "vswitch-pcap": write_vswitch_pcap,
    "vswitch-pcapng": write_vswitch_pcapng,
    "scapy-pcap": lambda path: wrpcap(str(path), scapy_packets()),
    "scapy-pcapng": lambda path: wrpcapng(str(path), scapy_packets()),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_reads_back_frames_and_times(writer, tmp_path):
    path = tmp_path / "capture"
    WRITERS[writer](path)
    records, reader = read(path)
    assert [r.frame for r in records] == FRAMES
    assert [r.time_ns for r in records] == TIMES
    assert [r.index for r in records] == [1, 2, 3, 4, 5]
    assert (reader.stop, reader.cut, reader.skipped) == (None, 0, {})


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("precision", ["micro", "nano"])
def test_a_capture_written_by_tcpdump_reads_back(tmp_path, precision):
    source = tmp_path / "scapy.pcap"
    wrpcap(str(source), scapy_packets())
    out = tmp_path / "tcpdump.pcap"
    done = subprocess.run(["tcpdump", "-r", str(source), "-w", str(out), f"--time-stamp-precision={precision}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records, reader = read(out)
    assert [r.frame for r in records] == FRAMES and [r.time_ns for r in records] == TIMES
    assert reader.stop is None


def test_big_endian_pcap_and_snap_length_cut_frames(tmp_path):
    path = tmp_path / "be.pcap"
    header = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 64, 1)
    record = struct.pack(">IIII", 1_700_000_000, 250_000, 64, len(FRAMES[4])) + FRAMES[4][:64]
    path.write_bytes(header + record)
    records, reader = read(path)
    assert [(r.time_ns, r.frame, r.wire_len) for r in records] == [(T0 + 250_000_000, FRAMES[4][:64], 51 + 14)]
    assert reader.cut == 1


def test_not_a_capture_and_not_ethernet_are_refused_at_once(tmp_path):
    (tmp_path / "text.pcap").write_text("hello, world\n")
    with pytest.raises(CaptureFileError, match="not a pcap or pcapng file"):
        CaptureReader(tmp_path / "text.pcap")
    (tmp_path / "sll.pcap").write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 113))
    with pytest.raises(CaptureFileError, match="link type 113 is not Ethernet"):
        CaptureReader(tmp_path / "sll.pcap")
    (tmp_path / "short.pcap").write_bytes(struct.pack("<IHH", 0xA1B2C3D4, 2, 4))
    with pytest.raises(CaptureFileError, match="header is cut short"):
        CaptureReader(tmp_path / "short.pcap")
    with pytest.raises(CaptureFileError, match="cannot open"):
        CaptureReader(tmp_path / "missing.pcap")


def test_only_a_regular_file_with_something_in_it_is_opened(tmp_path):
    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDWR)  # a writer, and junk to read: opening it by mistake would not hang the test
    os.write(holder, b"junk")
    try:
        with pytest.raises(CaptureFileError, match=f"^{fifo} is a FIFO \\(named pipe\\), not a capture file: replay "
                                                   "a pcap or pcapng file$"):
            CaptureReader(fifo)
        assert os.read(holder, 100) == b"junk"  # nobody read it
    finally:
        os.close(holder)
    (tmp_path / "folder.pcap").mkdir()
    (tmp_path / "empty.pcap").touch()
    (tmp_path / "null.pcap").symlink_to("/dev/null")
    for name, message in [("folder.pcap", "folder.pcap is a folder, not a capture file"),
                          ("empty.pcap", "empty.pcap is empty (0 bytes): not a pcap or pcapng file"),
                          ("null.pcap", "null.pcap (it links to /dev/null) is a character device, not a capture file")]:
        with pytest.raises(CaptureFileError, match=re.escape(message)):
            CaptureReader(tmp_path / name)
    if Path("/proc/self/mem").exists():  # a pseudo-file: 0 bytes long, reading it fails with EIO
        (tmp_path / "mem.pcap").symlink_to("/proc/self/mem")
        message = "mem.pcap (it links to /proc/self/mem) is empty (0 bytes)"
        with pytest.raises(CaptureFileError, match=re.escape(message)):
            CaptureReader(tmp_path / "mem.pcap")


class FailingFile:
    """A file whose reads fail (EIO) past byte ``fail_at``, as on a bad disk."""

    def __init__(self, file, fail_at: int) -> None:
        self.file, self.fail_at = file, fail_at

    def read(self, size: int = -1) -> bytes:
        if self.file.tell() + size > self.fail_at:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return self.file.read(size)

    def __getattr__(self, name: str):
        return getattr(self.file, name)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_read_error_stops_the_replay_there_like_damage(writer, tmp_path):
    path = tmp_path / "capture"
    WRITERS[writer](path)
    with CaptureReader(path) as reader:
        reader._file = FailingFile(reader._file, path.stat().st_size - 10)
        records = list(reader)
    assert [r.frame for r in records] == FRAMES[:4]
    assert (reader.stop.record, reader.stop.reason) == (5, "the file cannot be read here: Input/output error")


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_truncation_replays_a_prefix_and_says_where_it_stopped(writer, tmp_path):
    whole = tmp_path / "whole"
    WRITERS[writer](whole)
    data = whole.read_bytes()
    records, _ = read(whole)
    boundaries = {r.offset for r in records} | {len(data)}
    header = records[0].offset
    cut = tmp_path / "cut"
    for size in range(header + 1, len(data)):
        cut.write_bytes(data[:size])
        got, reader = read(cut)
        assert [r.frame for r in got] == FRAMES[:len(got)], size
        if reader.stop is None:  # a clean end: between records (pcapng: between any two blocks)
            assert size in boundaries or writer.endswith("pcapng"), size
        else:
            assert size not in boundaries, size
            assert reader.stop.record == len(got) + 1
            assert "ends inside" in reader.stop.reason


def test_a_corrupt_length_stops_with_the_reason(tmp_path):
    path = tmp_path / "bad.pcap"
    write_vswitch_pcap(path)
    data = bytearray(path.read_bytes())
    records, _ = read(path)
    third = records[2].offset
    data[third + 8:third + 12] = struct.pack("<I", 10**9)
    path.write_bytes(bytes(data))
    got, reader = read(path)
    assert len(got) == 2
    assert str(reader.stop) == (f"record 3 at byte offset {third}: record length 1000000000 is larger than any "
                                "capture writes (262144): the file is corrupt here")


# -- the replay action -----------------------------------------------------------------------------------
LAB = """\
name: replay-lab
switches: [{{name: sw1}}]
hosts:
  - {{name: h1, mac: "02:00:00:00:00:77"}}
  - {{name: sniffer, mac: "02:00:00:00:00:0f"}}
links: [[h1, sw1.p1], [sniffer, sw1.p2]]
captures: {{points: [sniffer]}}
scenario:
  - at: 0s
    interface: {{name: sniffer, promiscuous: true}}
  - at: 1s
    replay: {{{replay}}}
"""


def run_lab(tmp_path, replay, *, capture_dir=None, until=None):
    path = tmp_path / "lab.yaml"
    path.write_text(LAB.format(replay=replay))
    spec = load_topology(path)
    net = build_network(spec, capture_dir=capture_dir)
    try:
        result = ScenarioRunner(spec, net).run(until)
    finally:
        net.close()
    return net, result


def test_replay_keeps_the_original_spacing(tmp_path):
    WRITERS["scapy-pcap"](tmp_path / "in.pcap")
    net, result = run_lab(tmp_path, "file: in.pcap, into: sw1.p1, name: r")
    times = [d.time_ns for d in net.deliveries("sniffer")]
    assert times == [10**9 + t - T0 for t in TIMES]
    assert [d.frame for d in net.deliveries("sniffer")] == FRAMES
    [replay] = result.replays
    assert (replay.frames, replay.stop, result.frames["r"], result.warnings) == (5, None, [1, 2, 3, 4, 5], [])
    assert net.switch("sw1").table.lookup(1, bytes.fromhex("020000000003"), net.now) == "p1"  # learned where injected


def test_replay_at_a_rate_and_with_a_count(tmp_path):
    WRITERS["scapy-pcapng"](tmp_path / "in.pcapng")
    net, result = run_lab(tmp_path, "file: in.pcapng, from: h1, rate: 1000pps, count: 3")
    assert [d.time_ns for d in net.deliveries("sniffer")] == [10**9, 10**9 + 10**6, 10**9 + 2 * 10**6]
    assert result.replays[0].frames == 3


def test_a_truncated_capture_replays_what_it_can_and_warns(tmp_path, capsys):
    WRITERS["vswitch-pcap"](tmp_path / "whole.pcap")
    data = (tmp_path / "whole.pcap").read_bytes()
    (tmp_path / "cut.pcap").write_bytes(data[:-30])
    net, result = run_lab(tmp_path, "file: cut.pcap, into: sw1.p1, name: cut")
    assert len(net.deliveries("sniffer")) == 4
    assert result.passed
    [warning] = result.warnings
    offset = len(data) - 16 - len(FRAMES[4])
    assert warning == (f"{tmp_path / 'lab.yaml'}:11:5: scenario[1]: replay cut of cut.pcap: stopped at record 5 at "
                       f"byte offset {offset}: the file ends inside the frame data ({len(FRAMES[4]) - 30} of "
                       f"{len(FRAMES[4])} bytes); the 4 frames before it were replayed")
    assert main(["run", str(tmp_path / "lab.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("WARNING ") and "1 warning" in out


def test_a_run_ending_first_closes_the_file_and_says_so(tmp_path):
    WRITERS["scapy-pcap"](tmp_path / "in.pcap")
    net, result = run_lab(tmp_path, "file: in.pcap, into: sw1.p1", until=10**9 + 10_000_000)
    assert len(net.deliveries("sniffer")) == 3
    assert result.warnings[0].endswith("the run ended after 3 frames, before the end of the file")


def test_a_replay_whose_timestamps_span_136_years_stops_where_a_capture_could_not_hold_them(tmp_path, capsys):
    with PcapWriter(tmp_path / "far.pcap") as writer:  # validate cannot know: it reads the header only
        for frame, time_ns in zip(FRAMES[:3], [0, 10**9, 136 * 31_557_600 * 10**9]):
            writer.write(frame, time_ns)
    net, result = run_lab(tmp_path, "file: far.pcap, into: sw1.p1, name: far", capture_dir=tmp_path / "out")
    assert [d.frame for d in net.deliveries("sniffer")] == FRAMES[:2]
    assert result.warnings == [
        f"{tmp_path / 'lab.yaml'}:11:5: scenario[1]: replay far of far.pcap: stopped at record 3 at byte offset "
        f"{24 + 2 * 16 + len(FRAMES[0]) + len(FRAMES[1])}: its timestamp is 4291833600s (about 136 years) after the "
        "first record's: with that spacing it would be sent after the year 2106, past what a pcap file can hold (the "
        "file is corrupt here, or replay it at a rate); the 2 frames before it were replayed"]
    assert main(["run", str(tmp_path / "lab.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(f"WARNING {tmp_path / 'lab.yaml'}:11:5: scenario[1]: replay far")
    with CaptureReader(tmp_path / "out" / "sniffer.pcap") as reader:
        assert len(list(reader)) == 2 and reader.stop is None


def test_a_replay_at_a_rate_stops_where_a_capture_could_not_hold_its_frames(tmp_path):
    WRITERS["vswitch-pcap"](tmp_path / "in.pcap")
    net, result = run_lab(tmp_path, "file: in.pcap, into: sw1.p1, interval: 300000h", capture_dir=tmp_path / "out")
    assert len(net.deliveries("sniffer")) == 3  # the 4th would leave 102 years after 2026
    assert result.warnings[0].endswith(
        "stopped at record 4 at byte offset " + str(24 + 3 * 16 + sum(map(len, FRAMES[:3]))) + ": at this rate it "
        "would be sent 3240000000s (about 102 years) after the replay began, after the year 2106, past what a "
        "pcap file can hold: replay fewer frames (count) or at a higher rate; the 3 frames before it were replayed")


def test_a_capture_vswitch_wrote_replays_byte_for_byte(tmp_path):
    first = Path("topologies/two-vms-one-adapter.yaml")
    spec = load_topology(first)
    net = build_network(spec, capture_dir=tmp_path / "first")
    ScenarioRunner(spec, net).run()
    net.close()
    original, _ = read(tmp_path / "first" / "h1.pcap")
    (tmp_path / "h1.pcap").write_bytes((tmp_path / "first" / "h1.pcap").read_bytes())
    net, result = run_lab(tmp_path, "file: h1.pcap, into: sniffer", capture_dir=tmp_path / "second")
    replayed, _ = read(tmp_path / "second" / "sniffer.pcap")
    assert [r.frame for r in replayed] == [r.frame for r in original]
    assert [r.time_ns - replayed[0].time_ns for r in replayed] == [r.time_ns - original[0].time_ns for r in original]
