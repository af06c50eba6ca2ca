"""The scale workloads of ``vswitch bench``: ``big10k`` (a large topology) and ``flood1k`` (flooding to many ports).

- ``big10k``: 10,000 VMs, 100 KVM hypervisors of 100 (macvlan adapters in ``bridge`` mode) on one switch. It times
  validating (``load_topology_text``: the YAML loader and every check of ``vswitch validate``), building
  (``build_network``) and a broadcast from each of the first B VMs, which every other VM and the other
  hypervisors' own interfaces receive (10,098 deliveries each: macvlan does not hand a vNIC's frame to its own
  adapter's host). B is about N / 10,098 (at least 1, at most 10,000), so N counts delivered frames as for the
  other workloads: ``-n 101000000`` sends one broadcast from every VM.
- ``flood1k``: one switch with 10, 100 and 1,000 hosts, one per port; broadcasts round robin, each flooded to
  every other port, about N / 3 deliveries per size. It prints the time per delivered copy at each size: flat
  when the flooding cost does not grow with the number of ports.

The topologies are generated here as YAML text, in memory (no giant file in the package), and go through the same
loader and builder as a file on disk, timed apart from the frames. They have no captures: 10,000 capture files
would measure the file system. ``frames`` in the result counts deliveries; ``seconds`` is the broadcasts' time,
with every interface's counters read back at the end and checked against the deliveries.
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

from ..core.units import count as plural
from ..l2.nic import NIC
from ..net.network import Network
from ..topology.build import build_network
from ..topology.limits import Limits
from ..topology.loader import load_topology_text
from .measure import BenchResult, interpreter, peak_rss_kib
from .workload import FRAME_GAP_NS, Endpoint, endpoint_names, endpoints_of, patch, udp_template

SCALE_WORKLOADS = ("big10k", "flood1k")
BIG_HYPERVISORS = 100
BIG_VMS_PER_HYPERVISOR = 100
FLOOD_PORTS = (10, 100, 1000)
#: 10,000 VMs, 100 hypervisors and a switch are more devices than a file may have by default (docs/limits.md):
#: the workload raises that one limit, as ``--limit devices=...`` would.
BIG_LIMITS = Limits(max_devices=BIG_HYPERVISORS * (BIG_VMS_PER_HYPERVISOR + 1) + 1)


def _mac(prefix: str, number: int) -> str:
    return f'"{prefix}:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}"'


def big_topology(hypervisors: int = BIG_HYPERVISORS, per_hypervisor: int = BIG_VMS_PER_HYPERVISOR) -> str:
    """YAML text: ``hypervisors`` adapters (``bridge`` mode) of ``per_hypervisor`` VMs each, on one switch."""
    lines = ["name: big10k", "switches: [{name: sw1}]", "hypervisors:"]
    links = ["links:"]
    for h in range(1, hypervisors + 1):
        lines += [f"  - name: hv{h}", f"    mac: {_mac('02:00:00', h)}", "    backend: adapter",
                  "    mode: bridge", "    vms:"]
        lines += [f"      - {{name: vm{v}, mac: {_mac('52:54:00', v)}}}"
                  for v in range((h - 1) * per_hypervisor + 1, h * per_hypervisor + 1)]
        links.append(f"  - [hv{h}, sw1.p{h}]")
    return "\n".join(lines + links) + "\n"


def flood_topology(ports: int) -> str:
    """YAML text: one switch, ``ports`` hosts, host ``hK`` on port ``pK``."""
    lines = [f"name: flood{ports}", "switches: [{name: sw1}]", "hosts:"]
    lines += [f"  - {{name: h{k}, mac: {_mac('02:00:00', k)}}}" for k in range(1, ports + 1)]
    lines += ["links:"] + [f"  - [h{k}, sw1.p{k}]" for k in range(1, ports + 1)]
    return "\n".join(lines) + "\n"


def broadcasts(endpoints: Sequence[Endpoint], count: int) -> Iterator[tuple[int, str, bytes]]:
    """``count`` broadcasts, 1 µs apart, from the endpoints in turn."""
    template = udp_template()
    frames = [patch(template, e, b"\xff" * 6, b"\xff" * 4) for e in endpoints]
    for k in range(count):
        yield k * FRAME_GAP_NS, endpoints[k % len(endpoints)].name, frames[k % len(endpoints)]


def _build(text: str, limits: Limits | None = None) -> tuple[Network, list[Endpoint], float, float]:
    """Validate and build ``text``: (network, endpoints, seconds validating, seconds building)."""
    started = time.perf_counter()
    spec = load_topology_text(text, "<generated>", limits)
    loaded = time.perf_counter()
    net = build_network(spec, record=False, pcapng=False)
    built = time.perf_counter()
    return net, endpoints_of(net, endpoint_names(spec)), loaded - started, built - loaded


def _flood(net: Network, endpoints: Sequence[Endpoint], count: int) -> tuple[float, int, int, int, float]:
    """Send ``count`` broadcasts, run them out and read every interface's counters back (copies an adapter counts
    in bulk reach them only then: ``l2/flood_batch.py``): (seconds, delivered, dropped, in flight, seconds of
    CPU). The NICs' rx packets must add up to the deliveries."""
    stats = net.stats
    before = (stats.delivered, stats.dropped_total)
    received_before = _nic_rx_packets(net)
    net.send_stream(broadcasts(endpoints, count))
    started, cpu = time.perf_counter(), time.process_time()
    net.run()
    received = _nic_rx_packets(net) - received_before
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    net.close()
    delivered = stats.delivered - before[0]
    if received != delivered:
        raise RuntimeError(f"{plural(count, 'broadcast')}: the NICs' counters add up to {received:,} frames "
                           f"received, but {delivered:,} were delivered")
    return seconds, delivered, stats.dropped_total - before[1], stats.in_flight, cpu


def _nic_rx_packets(net: Network) -> int:
    """Frames received by every NIC and vNIC, as their counters say (a broadcast: each one delivered)."""
    return sum(port.counters.rx_packets for port in net.interfaces() if isinstance(port.node, NIC))


def run_big10k(frames: int, hypervisors: int = BIG_HYPERVISORS,
               per_hypervisor: int = BIG_VMS_PER_HYPERVISOR) -> BenchResult:
    """Validate and build 10,000 VMs on one switch, then flood broadcasts from the first VMs (N deliveries)."""
    started = time.perf_counter()
    text = big_topology(hypervisors, per_hypervisor)
    generated = time.perf_counter() - started
    limits = Limits(max_devices=hypervisors * (per_hypervisor + 1) + 1)
    net, endpoints, validating, building = _build(text, limits if limits.max_devices > BIG_LIMITS.max_devices
                                                  else BIG_LIMITS)
    receivers = len(endpoints) - 1 + hypervisors - 1  # every other VM, the other hypervisors' own interfaces
    count = min(len(endpoints), max(1, frames // receivers))
    seconds, delivered, dropped, in_flight, cpu = _flood(net, endpoints, count)
    total = validating + building + seconds
    detail = (f"{len(endpoints):,} VMs ({hypervisors} hypervisors x {per_hypervisor}) on one switch: generated in "
              f"{generated:.2f} s, validated in {validating:.2f} s, built in {building:.2f} s; {plural(count, 'broadcast')} "
              f"({'one from every VM' if count == len(endpoints) else 'one from each of the first VMs'}), each "
              f"delivered to {delivered // count:,} interfaces, in {seconds:.2f} s ({seconds * 1e9 / max(delivered, 1):,.0f} "
              f"ns per copy; {cpu:.2f} s of CPU); validate + build + broadcasts {total:.2f} s")
    return BenchResult("big10k", delivered, seconds, delivered, dropped, in_flight, peak_rss_kib(), 0, [],
                       interpreter(), detail)


def run_flood1k(frames: int, sizes: Sequence[int] = FLOOD_PORTS) -> BenchResult:
    """Broadcasts flooded on switches of 10, 100 and 1,000 ports: the time per delivered copy at each size."""
    seconds = 0.0
    delivered = dropped = in_flight = 0
    costs = []
    for ports in sizes:
        net, endpoints, _, _ = _build(flood_topology(ports))
        count = max(1, frames // len(sizes) // (ports - 1))
        took, got, lost, left, _ = _flood(net, endpoints, count)
        seconds += took
        delivered, dropped, in_flight = delivered + got, dropped + lost, in_flight + left
        costs.append(f"{ports:,} ports {took * 1e9 / max(got, 1):,.0f} ns ({plural(count, 'broadcast')})")
    detail = "per delivered copy: " + ", ".join(costs)
    return BenchResult("flood1k", delivered, seconds, delivered, dropped, in_flight, peak_rss_kib(), 0, [],
                       interpreter(), detail)


def run_scale(workload: str, frames: int) -> BenchResult:
    """``big10k`` or ``flood1k`` with a budget of ``frames`` deliveries."""
    return run_big10k(frames) if workload == "big10k" else run_flood1k(frames)
