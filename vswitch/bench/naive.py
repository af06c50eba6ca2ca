"""The ``naive`` bench baseline: lan8 written the way a newcomer would, with Scapy all the way.

A Scapy packet is built for every frame and copied at every hop, a dict is the switch's table, a heap of
``(time, sequence, hop)`` is the clock, and each capture point has its own ``scapy.utils.PcapWriter`` that is handed
the packet. Same traffic, warm-up and capture points as ``workloads/lan8.yaml``: it exists to be measured against.
"""

from __future__ import annotations

import heapq
import os
from pathlib import Path

from ..net.capture import DEFAULT_EPOCH_NS
from ..realtime import stopwatch_s
from .measure import BenchResult, current_rss_kib, interpreter, peak_rss_kib
from .workload import FRAME_GAP_NS, FRAME_SIZE, UDP_PORTS

HOSTS = 8


def run_naive(frames: int, out_dir: str | os.PathLike, hosts: int = HOSTS) -> BenchResult:
    """Send ``frames`` lan8 frames through the newcomer's Scapy emulator; captures under ``out_dir``."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapWriter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    macs = [f"02:00:00:00:00:{k:02x}" for k in range(1, hosts + 1)]
    ips = [f"10.0.0.{k}" for k in range(1, hosts + 1)]
    nic_pcaps = [PcapWriter(str(out / f"h{k}.pcap"), linktype=1, nano=True) for k in range(1, hosts + 1)]
    port_pcaps = [PcapWriter(str(out / f"sw1.p{k}.pcap"), linktype=1, nano=True) for k in range(1, hosts + 1)]
    table: dict[str, int] = {}  # MAC -> switch port index
    events: list = []
    counts = {"delivered": 0, "dropped": 0, "sequence": 0}

    def stamp(packet, now: int):
        packet.time = (DEFAULT_EPOCH_NS + now) / 1e9
        return packet

    def schedule(now: int, hop: str, where: int, packet) -> None:
        counts["sequence"] += 1
        heapq.heappush(events, (now, counts["sequence"], hop, where, packet))

    def host_sends(now: int, src: int, packet) -> None:
        nic_pcaps[src].write(stamp(packet, now))
        schedule(now, "switch", src, packet.copy())

    def switch_receives(now: int, in_port: int, packet) -> None:
        table[packet[Ether].src] = in_port
        out_port = table.get(packet[Ether].dst)
        ports = [out_port] if out_port is not None else [p for p in range(hosts) if p != in_port]
        if packet[Ether].dst == "ff:ff:ff:ff:ff:ff":
            ports = [p for p in range(hosts) if p != in_port]
        for port in ports:
            port_pcaps[port].write(stamp(packet, now))
            schedule(now, "host", port, packet.copy())

    def host_receives(now: int, dst: int, packet) -> None:
        if packet[Ether].dst in (macs[dst], "ff:ff:ff:ff:ff:ff"):
            nic_pcaps[dst].write(stamp(packet, now))
            counts["delivered"] += 1
        else:
            counts["dropped"] += 1

    def udp(src: int, dst_mac: str, dst_ip: str):
        return (Ether(src=macs[src], dst=dst_mac) / IP(src=ips[src], dst=dst_ip, id=0, flags=0)
                / UDP(sport=UDP_PORTS[0], dport=UDP_PORTS[1]) / Raw(bytes(FRAME_SIZE - 42)))

    hops = {"send": host_sends, "switch": switch_receives, "host": host_receives}

    def run_events() -> None:
        while events:
            now, _, hop, where, packet = heapq.heappop(events)
            hops[hop](now, where, packet)

    for k in range(hosts):  # warm-up: every host announces itself
        schedule(k * FRAME_GAP_NS, "send", k, udp(k, "ff:ff:ff:ff:ff:ff", "255.255.255.255"))
    run_events()
    before = dict(counts)
    start_ns = hosts * FRAME_GAP_NS
    started = stopwatch_s()
    quarter_rss = 0
    for i in range(frames):
        src = i % hosts
        dst = (src + 1 + (i // hosts) % (hosts - 1)) % hosts
        schedule(start_ns + i * FRAME_GAP_NS, "send", src, udp(src, macs[dst], ips[dst]))
        run_events()
        if i == frames // 4:
            quarter_rss = current_rss_kib()
    end_rss = current_rss_kib()
    for writer in nic_pcaps + port_pcaps:
        writer.close()
    seconds = stopwatch_s() - started
    return BenchResult("naive", frames, seconds, counts["delivered"] - before["delivered"],
                       counts["dropped"] - before["dropped"], len(events), peak_rss_kib(), end_rss - quarter_rss,
                       [str(out / f"h{k}.pcap") for k in range(1, hosts + 1)]
                       + [str(out / f"sw1.p{k}.pcap") for k in range(1, hosts + 1)], interpreter())
