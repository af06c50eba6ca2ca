"""Capture files: read back by Scapy (and tshark where installed), streaming, robustness, determinism."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from scapy.layers.l2 import Ether  # registers DLT_EN10MB so rdpcap dissects Ethernet
from scapy.utils import rdpcap

from vswitch.core.errors import CaptureError, VSwitchError
from vswitch.pcap.writer import SNAPLEN, PcapNgWriter, PcapWriter
from vswitch.pcap.reader import CaptureReader

T0 = 1_700_000_000_123_456_789  # ns since the epoch; not representable exactly as a float
NO_TSHARK = shutil.which("tshark") is None


def frame(i: int, length: int = 60) -> bytes:
    """A local-experimental-ethertype frame numbered ``i``; lengths vary to exercise pcapng padding."""
    head = bytes.fromhex("525400000002") + bytes.fromhex("5254000000") + bytes([i & 0xFF]) + b"\x88\xb5"
    return (head + i.to_bytes(4, "big") + bytes(range(256)) * (length // 256 + 1))[:length]


FRAMES = [(frame(i, 60 + i % 5), T0 + i * 1_001) for i in range(10)]


def ns(decimal_time: Decimal) -> int:
    return int(decimal_time * 1_000_000_000)


def write_pcapng(path: Path) -> None:
    with PcapNgWriter(path, comment="lab run 1") as w:
        vm1 = w.add_interface("vm1.eth0", "guest NIC of vm1")
        br0 = w.add_interface("br0")
        w.write(vm1, FRAMES[0][0], FRAMES[0][1], direction="out", comment="ARP who-has ✓")
        w.write(br0, FRAMES[1][0], FRAMES[1][1], direction="in")
        w.write(br0, FRAMES[2][0], FRAMES[2][1], comment="dropped: spoofed source")
        w.write(vm1, FRAMES[3][0], FRAMES[3][1])


# -- classic pcap ---------------------------------------------------------------------------------------

def test_classic_pcap_reads_back_identical_bytes_and_exact_ns_timestamps(tmp_path):
    path = tmp_path / "a.pcap"
    with PcapWriter(path) as w:
        for data, t in FRAMES:
            w.write(data, t)
    packets = rdpcap(str(path))
    assert [(bytes(p), ns(p.time)) for p in packets] == FRAMES
    assert all(isinstance(p, Ether) for p in packets)
    assert w.frames_written == len(FRAMES)


def test_classic_pcap_header_is_little_endian_nanosecond_ethernet(tmp_path):
    path = tmp_path / "a.pcap"
    PcapWriter(path).close()
    assert path.read_bytes() == bytes.fromhex("4d3cb2a1 0200 0400 00000000 00000000 00000400 01000000")


def test_empty_pcap_is_header_only_and_readable(tmp_path):
    path = tmp_path / "empty.pcap"
    with PcapWriter(path):
        pass
    assert path.stat().st_size == 24
    assert len(rdpcap(str(path))) == 0


def test_bytearray_and_memoryview_frames_are_written_as_their_bytes(tmp_path):
    path = tmp_path / "a.pcap"
    with PcapWriter(path) as w:
        w.write(bytearray(FRAMES[0][0]), 1)
        w.write(memoryview(FRAMES[1][0]), 2)
    assert [bytes(p) for p in rdpcap(str(path))] == [FRAMES[0][0], FRAMES[1][0]]


def test_frame_longer_than_snaplen_is_truncated_keeping_its_original_length(tmp_path):
    big = frame(1, SNAPLEN + 10)  # Scapy's reader stops at 65535 bytes, so parse the records here
    with PcapWriter(tmp_path / "big.pcap") as w:
        w.write(big, 5)
    data = (tmp_path / "big.pcap").read_bytes()
    assert struct.unpack_from("<IIII", data, 24) == (0, 5, SNAPLEN, SNAPLEN + 10)
    assert data[40:] == big[:SNAPLEN]
    with PcapNgWriter(tmp_path / "big.pcapng") as ng:
        ng.write(ng.add_interface("eth0"), big, 5)
    data = (tmp_path / "big.pcapng").read_bytes()
    epb = data.index(struct.pack("<II", 6, 32 + SNAPLEN))
    assert struct.unpack_from("<7I", data, epb) == (6, 32 + SNAPLEN, 0, 0, 5, SNAPLEN, SNAPLEN + 10)
    assert data[epb + 28:] == big[:SNAPLEN] + struct.pack("<I", 32 + SNAPLEN)


# -- pcapng ---------------------------------------------------------------------------------------------

def test_pcapng_reads_back_bytes_timestamps_interface_names_comments_and_direction(tmp_path):
    path = tmp_path / "a.pcapng"
    write_pcapng(path)
    got = [(bytes(p), ns(p.time), p.sniffed_on, p.comments, p.direction) for p in rdpcap(str(path))]
    assert got == [
        (FRAMES[0][0], FRAMES[0][1], "vm1.eth0", ["ARP who-has ✓".encode()], 2),
        (FRAMES[1][0], FRAMES[1][1], "br0", None, 1),
        (FRAMES[2][0], FRAMES[2][1], "br0", [b"dropped: spoofed source"], None),
        (FRAMES[3][0], FRAMES[3][1], "vm1.eth0", None, None),
    ]


def test_pcapng_interface_added_after_packets_is_readable(tmp_path):
    path = tmp_path / "late.pcapng"
    with PcapNgWriter(path) as w:
        first = w.add_interface("eth0")
        w.write(first, FRAMES[0][0], FRAMES[0][1])
        late = w.add_interface("eth1")
        w.write(late, FRAMES[1][0], FRAMES[1][1])
        w.write(first, FRAMES[2][0], FRAMES[2][1])
    assert (first, late, w.interfaces) == (0, 1, ("eth0", "eth1"))
    assert [(bytes(p), p.sniffed_on) for p in rdpcap(str(path))] == [
        (FRAMES[0][0], "eth0"), (FRAMES[1][0], "eth1"), (FRAMES[2][0], "eth0")]


def test_empty_pcapng_with_and_without_interfaces_is_readable(tmp_path):
    PcapNgWriter(tmp_path / "bare.pcapng").close()
    with PcapNgWriter(tmp_path / "idb.pcapng", comment="nothing captured") as w:
        w.add_interface("eth0")
    assert len(rdpcap(str(tmp_path / "bare.pcapng"))) == 0
    assert len(rdpcap(str(tmp_path / "idb.pcapng"))) == 0
    assert w.frames_written == 0


def test_pcapng_rejects_unknown_interface_bad_direction_and_duplicate_name(tmp_path):
    with PcapNgWriter(tmp_path / "a.pcapng") as w:
        eth0 = w.add_interface("eth0")
        for bad_id in (1, -1, "eth0", 0.0):
            with pytest.raises(VSwitchError, match="unknown capture interface id"):
                w.write(bad_id, FRAMES[0][0], 1)
        with pytest.raises(VSwitchError, match="direction must be 'in', 'out' or None"):
            w.write(eth0, FRAMES[0][0], 1, direction="both")
        with pytest.raises(VSwitchError, match="comment must be a str"):
            w.write(eth0, FRAMES[0][0], 1, comment=b"bytes")
        with pytest.raises(VSwitchError, match="duplicate capture interface name 'eth0'"):
            w.add_interface("eth0")
        with pytest.raises(VSwitchError, match="time_ns out of range"):
            w.write(eth0, FRAMES[0][0], 1 << 64)
        assert w.frames_written == 0


# -- validation, closing, streaming, determinism ----------------------------------------------------------

@pytest.mark.parametrize("bad_frame", ["text", 42, None, [1, 2, 3]])
def test_non_bytes_frame_is_rejected_with_a_capture_error(tmp_path, bad_frame):
    with PcapWriter(tmp_path / "a.pcap") as w, PcapNgWriter(tmp_path / "a.pcapng") as ng:
        eth0 = ng.add_interface("eth0")
        with pytest.raises(CaptureError, match="a frame must be bytes or a Scapy packet, got "):
            w.write(bad_frame, 1)
        with pytest.raises(CaptureError, match="a frame must be bytes or a Scapy packet, got "):
            ng.write(eth0, bad_frame, 1)


@pytest.mark.parametrize("bad_time, message", [
    (-1, "time_ns out of range"), ((1 << 32) * 10**9, "time_ns out of range"),
    (1.5, "time_ns must be an int"), (Decimal(5), "time_ns must be an int"), ("5", "time_ns must be an int"),
])
def test_negative_oversized_or_non_integer_time_is_rejected_with_vswitch_error(tmp_path, bad_time, message):
    with PcapWriter(tmp_path / "a.pcap") as w, PcapNgWriter(tmp_path / "a.pcapng") as ng:
        eth0 = ng.add_interface("eth0")
        with pytest.raises(VSwitchError, match=message):
            w.write(FRAMES[0][0], bad_time)
        if bad_time != (1 << 32) * 10**9:  # within pcapng's 64-bit range
            with pytest.raises(VSwitchError, match=message):
                ng.write(eth0, FRAMES[0][0], bad_time)
    assert (w.frames_written, ng.frames_written) == (0, 0)
    assert len(rdpcap(str(tmp_path / "a.pcap"))) == 0


def test_close_is_idempotent_and_writing_after_close_raises(tmp_path):
    w = PcapWriter(tmp_path / "a.pcap")
    w.write(*FRAMES[0])
    w.close()
    w.close()
    assert w.closed
    with pytest.raises(VSwitchError, match="capture file is closed"):
        w.write(*FRAMES[1])
    with pytest.raises(VSwitchError, match="capture file is closed"):
        w.flush()
    assert len(rdpcap(str(tmp_path / "a.pcap"))) == 1


def test_writer_abandoned_by_an_exception_in_with_block_leaves_all_frames_written_before(tmp_path):
    count = 3000  # > 64 KiB, so part of it was flushed while running
    with pytest.raises(RuntimeError):
        with PcapWriter(tmp_path / "a.pcap") as w, PcapNgWriter(tmp_path / "a.pcapng") as ng:
            eth0 = ng.add_interface("eth0")
            for i in range(count):
                w.write(frame(i), T0 + i)
                ng.write(eth0, frame(i), T0 + i, direction="in")
            raise RuntimeError("scenario failed midway")
    for name in ("a.pcap", "a.pcapng"):
        packets = rdpcap(str(tmp_path / name))
        assert [(bytes(p), ns(p.time)) for p in packets] == [(frame(i), T0 + i) for i in range(count)]


def test_records_reach_the_file_while_writing_so_memory_stays_bounded(tmp_path):
    path = tmp_path / "a.pcap"
    with PcapWriter(path) as w:
        for i in range(20_000):
            w.write(frame(i), T0 + i)
        on_disk = path.stat().st_size
        assert 24 + 20_000 * (16 + 60) - on_disk < 1 << 16
        assert (on_disk - 24) % (16 + 60) == 0  # the file always ends on a record boundary
        w.flush()
        assert path.stat().st_size == 24 + 20_000 * (16 + 60)


def test_unclosed_writer_is_flushed_when_garbage_collected(tmp_path):
    w = PcapNgWriter(tmp_path / "a.pcapng")
    w.write(w.add_interface("eth0"), *FRAMES[0])
    del w
    gc.collect()
    assert [bytes(p) for p in rdpcap(str(tmp_path / "a.pcapng"))] == [FRAMES[0][0]]


# -- the file system: only new regular files; a full disk cuts back to the last whole record ----------------------
def test_a_fifo_folder_or_link_at_the_path_is_refused_not_opened(tmp_path):
    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that a writer opening it by mistake does not block
    try:
        with pytest.raises(VSwitchError, match=f"^cannot create capture file {fifo}: a FIFO \\(named pipe\\) is in "
                                               "the way \\(a capture is written only as a new regular file\\): "
                                               "remove it or write elsewhere$"):
            PcapWriter(fifo)
        assert os.read(reader, 100) == b""  # nothing was written into it
    finally:
        os.close(reader)
    (tmp_path / "folder.pcap").mkdir()
    (tmp_path / "link.pcapng").symlink_to(tmp_path / "target.pcapng")
    with pytest.raises(VSwitchError, match="folder.pcap: a folder is in the way"):
        PcapWriter(tmp_path / "folder.pcap")
    with pytest.raises(VSwitchError, match="link.pcapng: a symbolic link is in the way"):
        PcapNgWriter(tmp_path / "link.pcapng")
    assert not (tmp_path / "target.pcapng").exists()


def test_an_old_file_at_the_path_is_replaced_not_written_through(tmp_path):
    old, other = tmp_path / "a.pcap", tmp_path / "other-name-of-a.pcap"
    old.write_bytes(b"x" * 1000)
    os.link(old, other)  # what is written goes to a new file, not into every name of the old one
    with PcapWriter(old) as w:
        w.write(*FRAMES[0])
    assert len(rdpcap(str(old))) == 1 and other.read_bytes() == b"x" * 1000


FULL_DISK = """
import json, resource, sys
from vswitch.core.errors import CaptureError, VSwitchError
from vswitch.pcap.writer import PcapNgWriter, PcapWriter
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))  # writes past it fail (EFBIG), as on a full disk
path = {path!r}
errors = []
try:
    writer = PcapNgWriter(path) if path.endswith("ng") else PcapWriter(path)
except VSwitchError as exc:
    print(json.dumps({{"errors": [str(exc)]}}))
    sys.exit()
interface = writer.add_interface("eth0") if path.endswith("ng") else None
try:
    for i in range(5000):
        data = bytes(range(256)) * (1 + i % 3)
        writer.write(interface, data, i) if path.endswith("ng") else writer.write(data, i)
except VSwitchError as exc:
    errors.append(str(exc))
writer.close()  # does nothing more: the writer closed itself
try:
    writer.write(interface, b"x" * 60, 0) if path.endswith("ng") else writer.write(b"x" * 60, 0)
except VSwitchError as exc:
    errors.append(str(exc))
print(json.dumps({{"errors": errors, "error": writer.error}}))
"""


def write_on_a_full_disk(path: Path, limit: int) -> dict:
    """Write 5000 frames to ``path`` in a process that may not write files past ``limit`` bytes."""
    done = subprocess.run([sys.executable, "-c", FULL_DISK.format(limit=limit, path=str(path))], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", ["a.pcap", "a.pcapng"])
def test_a_failed_write_cuts_the_file_back_to_its_last_whole_record_and_names_it(tmp_path, name):
    path = tmp_path / name
    result = write_on_a_full_disk(path, 200_000)
    size = path.stat().st_size
    message = (f"cannot write capture file {path}: File too large; it was cut back to its last whole record "
               f"({size} bytes)")
    assert result == {"errors": [message, message], "error": message}  # and writing again repeats why
    assert 0 < size <= 200_000
    with CaptureReader(path) as reader:  # it says where a record is cut short: none is
        lengths = [len(record.frame) for record in reader]
        assert reader.stop is None
    assert len(lengths) > 100 and lengths == [256 * (1 + i % 3) for i in range(len(lengths))]
    assert len(rdpcap(str(path))) == len(lengths)


def test_a_capture_whose_header_cannot_be_written_is_removed(tmp_path):
    path = tmp_path / "a.pcap"
    result = write_on_a_full_disk(path, 10)
    assert result["errors"] == [f"cannot write capture file {path}: File too large; it was removed (not even its "
                                "header could be written)"]
    assert not path.exists()


def test_identical_input_gives_byte_identical_files(tmp_path):
    digests = set()
    for run in range(2):
        write_pcapng(tmp_path / f"{run}.pcapng")
        with PcapWriter(tmp_path / f"{run}.pcap") as w:
            for data, t in FRAMES:
                w.write(data, t)
        digests.add(tuple(hashlib.sha256((tmp_path / f"{run}.{ext}").read_bytes()).hexdigest()
                          for ext in ("pcap", "pcapng")))
    assert len(digests) == 1


# -- tshark -------------------------------------------------------------------------------------------------

def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    """Rows of ``tshark -T fields``; fails the test on any error or warning from tshark."""
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    result = subprocess.run(args + [a for f in fields for a in ("-e", f)], capture_output=True, text=True)
    stderr = [line for line in result.stderr.splitlines() if not line.startswith("Running as user")]
    assert (result.returncode, stderr) == (0, []), result.stderr
    return [line.split("|") for line in result.stdout.splitlines()]


def epoch(time_ns: int) -> str:
    """``frame.time_epoch`` as tshark prints it for a nanosecond file."""
    return f"{time_ns // 10**9}.{time_ns % 10**9:09d}"


def tshark_comment_field() -> str:
    """``frame.comment`` since Wireshark 3.6 (``pkt_comment`` before)."""
    fields = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True).stdout
    return "frame.comment" if "\tframe.comment\t" in fields else "pkt_comment"


@pytest.mark.skipif(NO_TSHARK, reason="tshark is not installed")
def test_tshark_reads_classic_pcap_with_exact_ns_timestamps(tmp_path):
    path = tmp_path / "a.pcap"
    with PcapWriter(path) as w:
        for data, t in FRAMES:
            w.write(data, t)
    rows = tshark_fields(path, "frame.time_epoch", "frame.len", "_ws.malformed")
    assert rows == [[epoch(t), str(len(data)), ""] for data, t in FRAMES]


@pytest.mark.skipif(NO_TSHARK, reason="tshark is not installed")
def test_tshark_reads_pcapng_interface_names_comments_and_direction(tmp_path):
    path = tmp_path / "a.pcapng"
    write_pcapng(path)
    rows = tshark_fields(path, "frame.interface_name", "frame.interface_description", tshark_comment_field(),
                         "frame.packet_flags_direction", "frame.time_epoch")
    got = [(name, description, comment, int(direction, 0) if direction else 0, epoch)
           for name, description, comment, direction, epoch in rows]
    assert got == [
        ("vm1.eth0", "guest NIC of vm1", "ARP who-has ✓", 2, epoch(FRAMES[0][1])),
        ("br0", "", "", 1, epoch(FRAMES[1][1])),
        ("br0", "", "dropped: spoofed source", 0, epoch(FRAMES[2][1])),
        ("vm1.eth0", "guest NIC of vm1", "", 0, epoch(FRAMES[3][1])),
    ]


@pytest.mark.skipif(NO_TSHARK, reason="tshark is not installed")
def test_tshark_accepts_interface_added_after_packets_and_empty_files(tmp_path):
    with PcapNgWriter(tmp_path / "late.pcapng") as w:
        w.write(w.add_interface("eth0"), *FRAMES[0])
        w.write(w.add_interface("eth1"), *FRAMES[1])
    PcapWriter(tmp_path / "empty.pcap").close()
    PcapNgWriter(tmp_path / "empty.pcapng").close()
    assert tshark_fields(tmp_path / "late.pcapng", "frame.interface_name") == [["eth0"], ["eth1"]]
    assert tshark_fields(tmp_path / "empty.pcap", "frame.number") == []
    assert tshark_fields(tmp_path / "empty.pcapng", "frame.number") == []
