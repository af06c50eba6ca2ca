"""The ``udp8`` workload: the bench pattern sent by guest IPv4 stacks, as a topology file's ``udp`` actions send it.

``echo8`` and ``ping8`` (not in ``all``) send the same probes to the UDP echo service (port 7) and as pings: each
probe draws an answer, so N probes are 2N frames, and the time per frame compares with udp8's.

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
from ..topology.guest_reader import PingAction, UdpAction
from ..topology.loader import load_topology
from ..topology.spec import ActionSpec, TopologySpec
from .measure import BenchResult, current_rss_kib, interpreter, peak_rss_kib
from .workload import FRAME_GAP_NS, FRAME_SIZE, destination, endpoint_names

UDP_DISCARD_PORT = 9
UDP_ECHO_PORT = 7
UDP_DATA_BYTES = FRAME_SIZE - 42  # Ethernet, IPv4 and UDP (or ICMP echo) headers: 60-byte frames, as lan8's
#: workload -> (probes per frame it sends: 1 without answers, 2 with, how each pair's probes are sent)
PROBES = {"udp8": "discard", "echo8": "echo", "ping8": "ping"}
WARMUP_NS = 1_000_000  # the measured stream starts 1 ms in: ARP is long done by then


def _probes(kind: str, name: str, src: str, dst: str, count: int, interval_ns: int) -> UdpAction | PingAction:
    if kind == "ping":
        return PingAction(name=name, from_=src, to=dst, count=count, size=UDP_DATA_BYTES, interval_ns=interval_ns)
    port = UDP_ECHO_PORT if kind == "echo" else UDP_DISCARD_PORT
    return UdpAction(name=name, from_=src, to=dst, count=count, port=port, size=UDP_DATA_BYTES,
                     interval_ns=interval_ns)


def pair_actions(names: Sequence[str], frames: int, start_ns: int, kind: str = "discard") -> list[ActionSpec]:
    """The warm-up (one datagram to the discard port per ordered pair, 1 µs apart from 0) and the measured stream
    of ``frames`` probes from ``start_ns``, as ``udp`` actions to the discard port (``kind`` "discard"), to the
    echo port ("echo") or as ``ping`` actions ("ping")."""
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
        actions.append(ActionSpec(start_ns + p * FRAME_GAP_NS, _probes(kind, f"{src}-{dst}", src, dst, count,
                                                                       cycle * FRAME_GAP_NS)))
    return actions


def with_pair_traffic(spec: TopologySpec, names: Sequence[str], frames: int,
                      kind: str = "discard") -> tuple[TopologySpec, int]:
    """``spec`` with the probes as its scenario (its own scenario and expectations dropped), and the time the
    measured stream starts."""
    start_ns = max(WARMUP_NS, len(names) ** 2 * FRAME_GAP_NS)
    actions = pair_actions(names, frames, start_ns, kind)
    return dataclasses.replace(spec, scenario=tuple(actions), expectations=()), start_ns


def stack_endpoints(spec: TopologySpec) -> list[str]:
    """The hosts with an IPv4 address (their only NIC's stack), sorted by name as the other workloads sort theirs."""
    with_stack = {h.name for h in spec.hosts if len(h.nics) == 1 and h.nics[0].guest is not None}
    return [name for name in endpoint_names(spec) if name in with_stack]


def probes_counted(result: RunResult) -> tuple[int, int]:
    """The measured stream's probes that left their stacks and the answers they got (the warm-up's excluded)."""
    measured = [s for name, s in result.sessions.items() if not name.startswith("warm-")]
    return sum(s.transmitted for s in measured), sum(s.received for s in measured)


def run_guest_bench(workload: str, path: str | os.PathLike, out_dir: str | os.PathLike, frames: int) -> BenchResult:
    """Build ``path`` with its captures in ``out_dir``, warm it up, then time ``frames`` probes of ``workload``
    (udp8, echo8, ping8) through its stacks, captures closed included. The result counts frames: twice the
    probes for echo8 and ping8, whose probes are answered."""
    spec = load_topology(path)
    names = stack_endpoints(spec)
    if len(names) < 2:
        raise TopologyError(f"{path}: {workload} needs at least 2 hosts with an IPv4 address, found {len(names)}")
    kind = PROBES[workload]
    traffic, start_ns = with_pair_traffic(spec, names, frames, kind)
    net = build_network(spec, capture_dir=out_dir, record=False, pcapng=False)
    runner = ScenarioRunner(traffic, net)
    # The clock starts after the first round: each action builds its probe's template with Scapy when performed
    # (once, about a millisecond), which at small N would outweigh the probes themselves.
    first_round = min(len(names) * (len(names) - 1), frames)
    clock_start_ns = start_ns + first_round * FRAME_GAP_NS
    net.run(clock_start_ns - 1)
    stats = net.stats
    before = (stats.delivered, stats.dropped_total)
    started, cpu_started = time.perf_counter(), time.process_time()
    net.run(clock_start_ns + (frames - first_round) // 4 * FRAME_GAP_NS)
    quarter_rss = current_rss_kib()
    net.run()
    end_rss = current_rss_kib()
    net.close()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    sent, answered = probes_counted(runner.finish())
    expected = (frames, 0 if kind == "discard" else frames)
    if (sent, answered) != expected:
        raise ScenarioError(f"{workload}: the stacks sent {sent} probes and got {answered} answers, not "
                            f"{expected[0]} and {expected[1]}")
    timed = (frames - first_round) * (2 if answered else 1)  # frames sent while the clock ran
    return BenchResult(workload, timed, seconds, stats.delivered - before[0], stats.dropped_total - before[1],
                       stats.in_flight, peak_rss_kib(), end_rss - quarter_rss,
                       [str(p) for p in net.captures.files], interpreter(), cpu_seconds=cpu_seconds)
