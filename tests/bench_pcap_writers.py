"""Per-frame cost of Scapy's pcap/pcapng writers versus vswitch.pcap.writer.

Not collected by pytest (no ``test_`` prefix). Run: ``python tests/bench_pcap_writers.py [N]``.
Each case writes N frames of 98 bytes (one ICMP echo) to a temporary file, close included;
figures are microseconds per frame, the best and the median of 21 runs (the best filters
out noise from other load on the machine).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from typing import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from scapy.layers.l2 import Ether  # noqa: E402
from scapy.utils import PcapNgWriter as ScapyPcapNgWriter  # noqa: E402
from scapy.utils import PcapWriter as ScapyPcapWriter  # noqa: E402

from vswitch.pcap.writer import PcapNgWriter, PcapWriter  # noqa: E402

# Ether / IPv4 / ICMP echo request with 56 bytes of payload: 98 bytes
FRAME = bytes.fromhex(
    "525400000002525400000001080045000054000100004001f7a70a0000010a000002"
    "0800f7fe00010001"
) + bytes(56)
T0 = 1_700_000_000_000_000_000  # ns since the epoch
STEP = 1_234  # ns between frames

Case = Callable[[str, int], None]


def scapy_pcap_raw_bytes(path: str, n: int) -> None:
    """Scapy PcapWriter, nano=True, raw bytes with explicit sec + nsec (its cheapest legit call)."""
    w = ScapyPcapWriter(path, linktype=1, endianness="<", nano=True, snaplen=262144, bufsz=1 << 16)
    w.write_header(None)
    write = w.write_packet
    for i in range(n):
        t = T0 + i * STEP
        write(FRAME, sec=t // 1_000_000_000, usec=t % 1_000_000_000)
    w.close()


def scapy_pcap_packet(path: str, n: int) -> None:
    """Scapy PcapWriter, nano=True, one prebuilt Ether() whose .time is set per frame."""
    w = ScapyPcapWriter(path, linktype=1, endianness="<", nano=True, snaplen=262144, bufsz=1 << 16)
    pkt = Ether(FRAME)
    write = w.write
    for i in range(n):
        pkt.time = Decimal(T0 + i * STEP) / 1_000_000_000
        write(pkt)
    w.close()


def scapy_pcapng_packet(path: str, n: int) -> None:
    """Scapy PcapNgWriter, public API: Ether() with sniffed_on, direction, comments (us resolution)."""
    w = ScapyPcapNgWriter(path)
    pkt = Ether(FRAME)
    pkt.sniffed_on, pkt.direction = "vm1.eth0", 1
    write = w.write
    for i in range(n):
        pkt.time = Decimal(T0 + i * STEP) / 1_000_000_000
        write(pkt)
    w.close()


def scapy_pcapng_private(path: str, n: int) -> None:
    """Scapy PcapNgWriter, private _write_packet on bytes with ifname + direction (us resolution)."""
    w = ScapyPcapNgWriter(path)
    w.linktype = 1
    w.write_header(None)
    write = w._write_packet
    for i in range(n):
        write(FRAME, linktype=1, sec=Decimal(T0 + i * STEP) / 1_000_000_000, ifname=b"vm1.eth0", direction=1)
    w.close()


def ours_pcap(path: str, n: int) -> None:
    """vswitch.pcap.writer.PcapWriter.write(frame, time_ns)."""
    with PcapWriter(path) as w:
        write = w.write
        for i in range(n):
            write(FRAME, T0 + i * STEP)


def ours_pcapng(path: str, n: int) -> None:
    """vswitch.pcap.writer.PcapNgWriter.write(ifid, frame, time_ns), no options."""
    with PcapNgWriter(path) as w:
        ifid = w.add_interface("vm1.eth0")
        write = w.write
        for i in range(n):
            write(ifid, FRAME, T0 + i * STEP)


def ours_pcapng_direction(path: str, n: int) -> None:
    """vswitch.pcap.writer.PcapNgWriter.write(..., direction='in')."""
    with PcapNgWriter(path) as w:
        ifid = w.add_interface("vm1.eth0")
        write = w.write
        for i in range(n):
            write(ifid, FRAME, T0 + i * STEP, direction="in")


def ours_pcapng_comment(path: str, n: int) -> None:
    """vswitch.pcap.writer.PcapNgWriter.write(..., direction='out', comment=...)."""
    with PcapNgWriter(path) as w:
        ifid = w.add_interface("vm1.eth0")
        write = w.write
        for i in range(n):
            write(ifid, FRAME, T0 + i * STEP, direction="out", comment="dropped: spoofed source")


def loop_only(path: str, n: int) -> None:
    """The loop and timestamp arithmetic alone (baseline to subtract mentally)."""
    for i in range(n):
        T0 + i * STEP


CASES: list[Case] = [
    loop_only,
    scapy_pcap_raw_bytes,
    scapy_pcap_packet,
    scapy_pcapng_packet,
    scapy_pcapng_private,
    ours_pcap,
    ours_pcapng,
    ours_pcapng_direction,
    ours_pcapng_comment,
]


def measure(case: Case, n: int, repeat: int = 21) -> tuple[float, float]:
    """(best, median) microseconds per frame for ``case`` writing ``n`` frames, over ``repeat`` runs."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.cap")
        for _ in range(repeat):
            start = time.perf_counter_ns()
            case(path, n)
            runs.append((time.perf_counter_ns() - start) / n / 1000)
    return min(runs), statistics.median(runs)


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 50_000
    print(f"{n} frames of {len(FRAME)} bytes (1/10 of that for Packet cases), 21 runs, us/frame")
    print("     best   median  case")
    for case in CASES:
        best, median = measure(case, n if "packet" not in case.__name__ else n // 10)
        print(f"  {best:7.3f}  {median:7.3f}  {case.__name__:22} {(case.__doc__ or '').strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
