"""ns-3's counterparts of the ``lan8`` and ``udp8`` workloads, for ``vswitch bench --ns3`` (docs/performance.md).

This file is a script as well as a module: ``vswitch bench --ns3-python PATH`` runs it by path in another
interpreter (one with ns-3's Python bindings, ``pip install ns3``), so it imports nothing from vswitch and
needs only the standard library and ``ns``. ``python ns3ref.py WORKLOAD N DIR`` builds the network, runs N
frames, writes the captures in DIR and prints the figures as JSON (the fields of ``measure.BenchResult``).

The networks (the simulation runs in C++: the code below is compiled by cppyy, ns-3's binding tool):

- 8 hosts, each a ``CsmaNetDevice`` on its own ``CsmaChannel`` (100 Gbit/s, zero delay: a 64-byte frame takes
  5 ns, so with one frame every microsecond nothing queues or backs off) to one port of a ``BridgeNetDevice``
  (learning, as the Linux bridge), MACs 02:00:00:00:00:01 to 08 as in ``workloads/lan8.yaml``;
- pcap at every host device and every bridge port (``CsmaHelper::EnablePcap``, not promiscuous: a host's file has
  what it sends and receives, a bridge port's what it sends, as lan8's ``both`` and ``tx`` points, plus the one
  broadcast of the warm-up its host sends it), named as lan8's files (``h1.pcap``, ``sw1.p1.pcap``); ns-3 keeps
  each frame's 4-byte Ethernet trailer (FCS) in them;
- **lan8**: no IP stack; every host first sends a broadcast (the switch learns every MAC), then frame ``i`` goes
  from host ``i % 8`` to ``destination(i, 8)``, one every 1 µs, handed to the sender's device with
  ``NetDevice::Send`` (as vswitch hands its frames to the NIC): the same 60-byte Ethernet/IPv4/UDP frames, byte
  for byte, as vswitch's bench sends;
- **udp8**: ``InternetStackHelper`` on every host (ARP, IPv4, UDP; checksums computed and checked, as vswitch's
  stacks do), 10.0.0.1/24 to 10.0.0.8/24, a ``PacketSink`` on UDP port 9 (discard) per host, and one
  ``UdpClient`` per ordered pair (18-byte payloads: 60-byte frames) sending every 56 µs, offset by 1 µs from
  each other: datagram ``i`` leaves host ``i % 8`` for ``destination(i, 8)``, one every 1 µs, as vswitch's
  ``udp`` actions send them. Before it, a datagram per pair from 0 µs resolves every address with ARP; the
  measured stream starts at 1 ms.

Timed: ``Simulator::Run`` over the measured stream after its first round (56 frames: cling compiles the code
below at its first call, as vswitch's udp8 leaves its first round out for Scapy's templates) and
``Simulator::Destroy`` (which closes the captures), as vswitch's bench times its stream with closing its captures;
N counts the timed frames.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import time
from pathlib import Path

NS3_WORKLOADS = ("lan8", "udp8")
HOSTS = 8
FRAME_GAP_NS = 1_000
FRAME_SIZE = 60
UDP_DATA_BYTES = FRAME_SIZE - 42
UDP_PORTS = (49152, 9)  # lan8's frames: source, destination (discard)
WARMUP_NS = 1_000_000  # udp8's measured stream starts 1 ms in, as vswitch's
FIRST_ROUND = HOSTS * (HOSTS - 1)  # frames left out of the timing (below)
NOT_INSTALLED = 3  # the exit status when ns-3's bindings are missing (the message is on stderr)
WHEEL = "a 69 MB wheel: ns-3 3.44 for CPython 3.11 on x86-64 Linux"
INSTALL_HINT = (f"install ns-3's Python bindings in an environment of their own (python3 -m venv /tmp/venv-ns3 && "
                f"/tmp/venv-ns3/bin/pip install ns3: {WHEEL}) and pass --ns3-python /tmp/venv-ns3/bin/python")


def destination(i: int, n: int) -> int:
    """Who frame ``i`` goes to among ``n`` hosts: vswitch's pattern (``workload.destination``)."""
    src = i % n
    return (src + 1 + (i // n) % (n - 1)) % n


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data + b"\0" * (len(data) % 2)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_udp_payload(src: int, dst: int | None) -> bytes:
    """lan8's frame from host ``src`` to host ``dst`` (None: the broadcast) without its Ethernet header (46 bytes):
    IPv4 (TTL 64, id 0) and UDP 49152 -> 9 with 18 zero bytes, both checksums computed, as vswitch's bench makes
    them."""
    sip, dip = bytes((10, 0, 0, src + 1)), b"\xff" * 4 if dst is None else bytes((10, 0, 0, dst + 1))
    data = bytes(UDP_DATA_BYTES)
    udp_len = 8 + len(data)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, sip, dip)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    pseudo = sip + dip + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", *UDP_PORTS, udp_len, 0) + data
    udp_sum = _checksum(pseudo + udp) or 0xFFFF
    return header + udp[:6] + struct.pack("!H", udp_sum) + udp[8:]


CPP = r"""
#include "ns3/core-module.h"
#include "ns3/network-module.h"
#include "ns3/csma-module.h"
#include "ns3/bridge-module.h"
#include "ns3/internet-module.h"
#include "ns3/applications-module.h"
#include <cstdio>
#include <string>
#include <vector>

namespace vswitch_ns3
{
using namespace ns3;

uint32_t Destination(uint64_t i, uint32_t n) { return (i % n + 1 + (i / n) % (n - 1)) % n; }

// n hosts, each on its own CSMA segment to one port of a learning bridge; pcap at every device.
struct Lan
{
    NodeContainer hosts;
    Ptr<Node> bridge;
    NetDeviceContainer hostDevices, bridgePorts;
    std::vector<Mac48Address> macs;
    uint64_t drops = 0;
    uint64_t backoffs = 0;

    void Drop(Ptr<const Packet>) { ++drops; }
    void Backoff(Ptr<const Packet>) { ++backoffs; }

    void Build(uint32_t n, std::string dir, bool internet)
    {
        if (internet)
        {
            GlobalValue::Bind("ChecksumEnabled", BooleanValue(true));
            // ARP asks at once, as vswitch's stacks and Linux do (ns-3 waits up to 10 ms by default)
            Config::SetDefault("ns3::ArpL3Protocol::RequestJitter",
                               StringValue("ns3::ConstantRandomVariable[Constant=0.0]"));
        }
        hosts.Create(n);
        NodeContainer b;
        b.Create(1);
        bridge = b.Get(0);
        CsmaHelper csma;
        csma.SetChannelAttribute("DataRate", DataRateValue(DataRate("100Gbps")));
        csma.SetChannelAttribute("Delay", TimeValue(Time(0)));
        for (uint32_t k = 0; k < n; ++k)
        {
            NetDeviceContainer pair = csma.Install(NodeContainer(hosts.Get(k), bridge));
            char mac[18];
            std::snprintf(mac, sizeof mac, "02:00:00:00:00:%02x", k + 1);
            macs.push_back(Mac48Address(mac));
            pair.Get(0)->SetAddress(macs.back());
            hostDevices.Add(pair.Get(0));
            bridgePorts.Add(pair.Get(1));
        }
        BridgeHelper().Install(bridge, bridgePorts);
        for (uint32_t k = 0; k < n; ++k)
        {
            csma.EnablePcap(dir + "/h" + std::to_string(k + 1) + ".pcap", hostDevices.Get(k), false, true);
            csma.EnablePcap(dir + "/sw1.p" + std::to_string(k + 1) + ".pcap", bridgePorts.Get(k), false, true);
        }
        NetDeviceContainer all(hostDevices, bridgePorts);
        for (uint32_t k = 0; k < all.GetN(); ++k)
        {
            for (const char* trace : {"MacTxDrop", "PhyTxDrop", "PhyRxDrop", "MacRxDrop"})
                all.Get(k)->TraceConnectWithoutContext(trace, MakeCallback(&Lan::Drop, this));
            all.Get(k)->TraceConnectWithoutContext("MacTxBackoff", MakeCallback(&Lan::Backoff, this));
        }
    }
};

// lan8: frames handed to the hosts' devices, round robin, one every microsecond.
struct RawStream
{
    Lan* lan;
    uint32_t n = 0;
    std::vector<Ptr<Packet>> frames;  // frames[s * n + d]: the payload from host s to host d; n * n + s: s's broadcast
    uint64_t next = 0, left = 0, delivered = 0;

    void Setup(Lan* l, const std::string& payloads, uint32_t size)
    {
        lan = l;
        n = l->hosts.GetN();
        for (uint32_t k = 0; k < n * n + n; ++k)
            frames.push_back(Create<Packet>(reinterpret_cast<const uint8_t*>(payloads.data()) + k * size, size));
        for (uint32_t k = 0; k < n; ++k)
            l->hosts.Get(k)->RegisterProtocolHandler(MakeCallback(&RawStream::Receive, this), 0x0800,
                                                     l->hostDevices.Get(k));
    }

    void Receive(Ptr<NetDevice>, Ptr<const Packet>, uint16_t, const Address&, const Address&,
                 NetDevice::PacketType)
    {
        ++delivered;
    }

    void Broadcast(uint32_t k)
    {
        lan->hostDevices.Get(k)->Send(frames[n * n + k]->Copy(), Mac48Address::GetBroadcast(), 0x0800);
    }

    void Announce()
    {
        for (uint32_t k = 0; k < n; ++k)
            Simulator::Schedule(NanoSeconds(k * 1000), &RawStream::Broadcast, this, k);
    }

    void Start(uint64_t atNs, uint64_t count)
    {
        next = 0;
        left = count;
        Simulator::Schedule(NanoSeconds(atNs) - Simulator::Now(), &RawStream::Send, this);
    }

    void Send()
    {
        uint32_t s = next % n, d = Destination(next, n);
        lan->hostDevices.Get(s)->Send(frames[s * n + d]->Copy(), lan->macs[d], 0x0800);
        ++next;
        if (--left)
            Simulator::Schedule(NanoSeconds(1000), &RawStream::Send, this);
    }
};

// udp8: the hosts' InternetStack, a discard sink per host, a UdpClient per ordered pair.
struct UdpStream
{
    ApplicationContainer sinks;

    void Setup(Lan* lan, uint64_t count, uint64_t startNs, uint32_t size)
    {
        uint32_t n = lan->hosts.GetN(), cycle = n * (n - 1);
        InternetStackHelper().Install(lan->hosts);
        Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.0");
        Ipv4InterfaceContainer ifs = addresses.Assign(lan->hostDevices);
        sinks = PacketSinkHelper("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), 9))
                    .Install(lan->hosts);
        for (uint32_t p = 0; p < cycle; ++p)
        {
            uint32_t s = p % n, d = Destination(p, n);
            UdpClientHelper warm(ifs.GetAddress(d), 9);
            warm.SetAttribute("MaxPackets", UintegerValue(1));
            warm.SetAttribute("PacketSize", UintegerValue(size));
            warm.Install(lan->hosts.Get(s)).Start(NanoSeconds(p * 1000));
            uint64_t probes = count / cycle + (p < count % cycle ? 1 : 0);
            if (!probes)
                continue;
            UdpClientHelper stream(ifs.GetAddress(d), 9);
            stream.SetAttribute("MaxPackets", UintegerValue(probes));
            stream.SetAttribute("Interval", TimeValue(NanoSeconds(cycle * 1000)));
            stream.SetAttribute("PacketSize", UintegerValue(size));
            stream.Install(lan->hosts.Get(s)).Start(NanoSeconds(startNs + p * 1000));
        }
    }

    uint64_t Received(uint32_t size) const
    {
        uint64_t bytes = 0;
        for (uint32_t k = 0; k < sinks.GetN(); ++k)
            bytes += DynamicCast<PacketSink>(sinks.Get(k))->GetTotalRx();
        return bytes / size;
    }
};
}  // namespace vswitch_ns3
"""


def resident_kib() -> int:
    """This process's resident set now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return 0


def ns3_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ns3")
    except PackageNotFoundError:  # bindings from a source build
        return "(source build)"


def run_until(ns, time_ns: int) -> None:
    """Run the simulation up to ``time_ns`` included (``Simulator::Stop`` takes a delay from now)."""
    ns.Simulator.Stop(ns.NanoSeconds(time_ns + 1) - ns.Simulator.Now())
    ns.Simulator.Run()


def _set_up(ns, lan, workload: str, frames: int):
    """Give ``lan`` its traffic and run the warm-up; (when the measured stream starts, a count of what the hosts
    received so far)."""
    cpp = ns.cppyy.gbl.vswitch_ns3
    cycle = HOSTS * (HOSTS - 1)
    if workload == "lan8":
        pairs = [ip_udp_payload(s, d) for s in range(HOSTS) for d in range(HOSTS)]
        stream = cpp.RawStream()
        stream.Setup(lan, b"".join(pairs + [ip_udp_payload(s, None) for s in range(HOSTS)]), FRAME_SIZE - 14)
        stream.Announce()
        start_ns = HOSTS * FRAME_GAP_NS + FRAME_GAP_NS
        stream.Start(start_ns, frames)
        received = lambda: stream.delivered  # noqa: E731
    else:
        start_ns = max(WARMUP_NS, HOSTS ** 2 * FRAME_GAP_NS)
        stream = cpp.UdpStream()
        stream.Setup(lan, frames, start_ns, UDP_DATA_BYTES)
        received = lambda: stream.Received(UDP_DATA_BYTES)  # noqa: E731
    run_until(ns, start_ns - 1)
    warm = received()
    if warm != cycle:  # lan8: n broadcasts, each to n - 1 hosts; udp8: a datagram per ordered pair
        raise RuntimeError(f"ns-3 {workload}: the warm-up delivered {warm} frames, not {cycle}")
    return start_ns, received


def run(workload: str, frames: int, out_dir: str) -> dict:
    """Run ``workload`` (lan8 or udp8) with ``frames`` frames in ns-3; the figures as ``BenchResult``'s fields."""
    if workload not in NS3_WORKLOADS:
        raise ValueError(f"no ns-3 counterpart of {workload!r}: choose one of {', '.join(NS3_WORKLOADS)}")
    from ns import ns  # about 20 s: cppyy parses every module's headers

    ns.cppyy.cppdef(CPP)
    sim = ns.Simulator
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    lan = ns.cppyy.gbl.vswitch_ns3.Lan()
    lan.Build(HOSTS, str(Path(out_dir).resolve()), workload == "udp8")
    start_ns, received = _set_up(ns, lan, workload, frames)
    # The clock starts after the first round, as vswitch's udp8 starts it: cling compiles the code above at its
    # first call (tens of milliseconds), which at small N would outweigh the frames themselves.
    first_round = min(FIRST_ROUND, frames)
    clock_start_ns = start_ns + first_round * FRAME_GAP_NS
    run_until(ns, clock_start_ns - 1)
    before, drops_before, backoffs_before = received(), lan.drops, lan.backoffs
    started, cpu_started = time.perf_counter(), time.process_time()
    run_until(ns, clock_start_ns + (frames - first_round) // 4 * FRAME_GAP_NS)
    quarter_rss = resident_kib()
    sim.Run()
    end_rss = resident_kib()
    got, dropped, backoffs = received() - before, lan.drops - drops_before, lan.backoffs - backoffs_before
    sim.Destroy()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    timed = frames - first_round
    return {"workload": f"ns-3 {workload}", "frames": timed, "seconds": seconds, "delivered": got,
            "dropped": dropped, "in_flight": timed - got - dropped,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
            "rss_growth_kib": end_rss - quarter_rss,
            "captures": sorted(str(p) for p in Path(out_dir).glob("*.pcap")),
            "python": f"ns-3 {ns3_version()} (C++, cppyy), CPython {sys.version.split()[0]}",
            "detail": f"CSMA backoffs: {backoffs}" if backoffs else "", "cpu_seconds": cpu_seconds}


def main(argv: list[str] | None = None) -> int:
    """``python ns3ref.py lan8|udp8 N DIR``: the figures as JSON on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in NS3_WORKLOADS or not args[1].isdigit() or int(args[1]) < 1:
        print(f"usage: python ns3ref.py {{{'|'.join(NS3_WORKLOADS)}}} FRAMES DIR", file=sys.stderr)
        return 2
    try:
        import ns  # noqa: F401 (the stub package; loading ns-3 itself comes in run)
    except ImportError:
        print(f"{sys.executable} cannot import ns: {INSTALL_HINT}", file=sys.stderr)
        return NOT_INSTALLED
    print(json.dumps(run(args[0], int(args[1]), args[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
