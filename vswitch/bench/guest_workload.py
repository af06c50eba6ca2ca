"""The ``udp8`` workload: the bench pattern sent by guest IPv4 stacks, as a topology file's ``udp`` actions send it.

Each ordered pair of endpoints (every host with an address, sorted by name) gets one ``udp`` action to the discard
port: datagram ``i`` of the stream goes from endpoint ``i % n`` to ``destination(i, n)`` (``workload.py``), one every
microsecond, so the pair at position ``p`` of the cycle of ``n * (n - 1)`` sends at ``p``, ``p + n(n-1)``, ... µs.
Before it, a warm-up datagram per pair resolves every address with ARP (outside the timing), so the measured stream
holds only datagrams. The actions run through ``ScenarioRunner`` as in ``vswitch run``: the per-action machinery
(``StackDriver.repeat``, ``GuestStack.udp_send``, the sessions' statistics) is what is measured, with the stacks'
receive path and the frame path.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Sequence

from ..core.errors import ScenarioError, TopologyError
from ..scenario.context import RunResult
from ..scenario.runner import ScenarioRunner
from ..topology.build import build_network
from ..topology.guest_reader import UdpAction
from ..topology.loader import load_topology
from ..topology.spec import ActionSpec, TopologySpec
from .measure import BenchResult, current_rss_kib, interpreter, peak_rss_kib
from .workload import FRAME_GAP_NS, FRAME_SIZE, destination

UDP_DISCARD_PORT = 9
UDP_DATA_BYTES = FRAME_SIZE - 42  # Ethernet, IPv4 and UDP headers: 60-byte frames, as lan8's
WARMUP_NS = 1_000_000  # the measured stream starts 1 ms in: ARP is long done by then


def pair_actions(names: Sequence[str], frames: int, start_ns: int) -> list[ActionSpec]:
    """The warm-up (one datagram per ordered pair, 1 µs apart from 0) and the measured stream of ``frames``
    datagrams from ``start_ns``, as ``udp`` actions to the discard port."""
    n = len(names)
    cycle = n * (n - 1)
    actions = []
    for p in range(cycle):
        src, dst = names[p % n], names[destination(p, n)]
        actions.append(ActionSpec(p * FRAME_GAP_NS, UdpAction(
            name=f"warm-{src}-{dst}", from_=src, to=dst, count=1, port=UDP_DISCARD_PORT, size=UDP_DATA_BYTES,
            interval_ns=FRAME_GAP_NS)))
    for p in range(min(cycle, frames)):
        src, dst = names[p % n], names[destination(p, n)]
        count = frames // cycle + (1 if p < frames % cycle else 0)
        actions.append(ActionSpec(start_ns + p * FRAME_GAP_NS, UdpAction(
            name=f"{src}-{dst}", from_=src, to=dst, count=count, port=UDP_DISCARD_PORT, size=UDP_DATA_BYTES,
            interval_ns=cycle * FRAME_GAP_NS)))
    return actions


def with_pair_traffic(spec: TopologySpec, names: Sequence[str], frames: int) -> tuple[TopologySpec, int]:
    """``spec`` with the udp8 traffic as its scenario (its own scenario and expectations dropped), and the time
    the measured stream starts."""
    start_ns = max(WARMUP_NS, len(names) ** 2 * FRAME_GAP_NS)
    return dataclasses.replace(spec, scenario=tuple(pair_actions(names, frames, start_ns)), expectations=()), start_ns


def stack_endpoints(spec: TopologySpec) -> list[str]:
    """The hosts with an IPv4 address (their only NIC's stack), sorted by name as the other workloads sort theirs."""
    from .runner import endpoint_names  # (runner imports this module)

    with_stack = {h.name for h in spec.hosts if len(h.nics) == 1 and h.nics[0].guest is not None}
    return [name for name in endpoint_names(spec) if name in with_stack]


def datagrams_sent(result: RunResult) -> int:
    """The measured stream's datagrams that left their stacks (the warm-up's excluded)."""
    return sum(s.transmitted for name, s in result.sessions.items() if not name.startswith("warm-"))


def run_guest_bench(workload: str, path: str | os.PathLike, out_dir: str | os.PathLike, frames: int) -> BenchResult:
    """Build ``path`` with its captures in ``out_dir``, warm it up, then time ``frames`` datagrams of the udp8
    traffic through its stacks, captures closed included."""
    spec = load_topology(path)
    names = stack_endpoints(spec)
    if len(names) < 2:
        raise TopologyError(f"{path}: {workload} needs at least 2 hosts with an IPv4 address, found {len(names)}")
    traffic, start_ns = with_pair_traffic(spec, names, frames)
    net = build_network(spec, capture_dir=out_dir, record=False, pcapng=False)
    runner = ScenarioRunner(traffic, net)
    net.run(start_ns - 1)
    stats = net.stats
    before = (stats.delivered, stats.dropped_total)
    started = time.perf_counter()
    net.run(start_ns + frames // 4 * FRAME_GAP_NS)
    quarter_rss = current_rss_kib()
    net.run()
    end_rss = current_rss_kib()
    net.close()
    seconds = time.perf_counter() - started
    sent = datagrams_sent(runner.finish())
    if sent != frames:
        raise ScenarioError(f"{workload}: the stacks sent {sent} of the {frames} datagrams")
    return BenchResult(workload, frames, seconds, stats.delivered - before[0], stats.dropped_total - before[1],
                       stats.in_flight, peak_rss_kib(), end_rss - quarter_rss,
                       [str(p) for p in net.captures.files], interpreter())
