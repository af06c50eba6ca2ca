"""``vswitch bench --live``: frames/s and one-way latency between two real namespaces through vswitch's emulated
switch (``vswitch live``), beside a Linux bridge and a bare veth measured the same way in the same run.

Each path joins namespace A's ``eth0`` to namespace B's:

- ``veth``: one veth pair, A to B: no switch at all, the baseline the others' latency is counted from;
- ``linux bridge``: A's and B's veths to a bridge in a namespace of their own (what a host's ``br0`` does);
- ``vswitch live``: A and B are ``attach: {netns}`` stations of a ``vswitch live`` process (one switch, no
  captures): each frame is read from A's veth, carried through the emulated NICs, links and switch on the wall
  clock, and written to B's veth.

Both ends are AF_PACKET sockets of this process, so one clock times a frame from its send in A to its receipt in
B. Latency: one frame at a time, ``LATENCY_PROBES`` of them (median and 99th percentile). Throughput: for
``THROUGHPUT_S``, at most ``WINDOW`` frames in flight (a frame not back within ``LOSS_TIMEOUT_S`` is counted
lost), so no path is flooded past what it can take and what the kernel drops in front of vswitch stays small.
Frames are 60 bytes, ethertype 0x88B5 (local experimental), a sequence number in the payload.
"""

from __future__ import annotations

import argparse
import os
import platform
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..core.errors import ScenarioError
from ..kernel.netns import in_netns, run_command
from ..realtime import now_s, stopwatch_s
from .devices import PREFIX, LiveDevices, LiveError

ETHERTYPE = 0x88B5
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
LATENCY_PROBES = 2000
THROUGHPUT_S = 3.0
WINDOW = 32
LOSS_TIMEOUT_S = 0.2
START_TIMEOUT_S = 60.0
TOPOLOGY = """name: bench-live
switches: [{{name: sw1}}]
hosts:
  - {{name: a, mac: "{a}", attach: {{netns: {ns_a}}}}}
  - {{name: b, mac: "{b}", attach: {{netns: {ns_b}}}}}
links: [[a, sw1], [b, sw1]]
"""


@dataclass
class PathResult:
    """One path's figures: latencies in microseconds."""

    path: str
    frames_per_s: float
    lost: int
    median_us: float
    p99_us: float


class Ends:
    """The two AF_PACKET sockets of a path: ``eth0`` in namespace A (sends) and in namespace B (receives)."""

    def __init__(self, ns_a: str, ns_b: str) -> None:
        self.tx = self._socket(ns_a)
        self.rx = self._socket(ns_b)
        self.rx.setblocking(False)
        self.header = bytes.fromhex(MAC_B.replace(":", "") + MAC_A.replace(":", "")) + struct.pack("!H", ETHERTYPE)

    @staticmethod
    def _socket(netns: str) -> socket.socket:
        with in_netns(netns):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        sock.bind(("eth0", ETHERTYPE))
        return sock

    def send(self, seq: int) -> None:
        self.tx.send(self.header + struct.pack("!Q", seq) + bytes(38))

    def received(self) -> list[int]:
        """The sequence numbers of the frames B has received since the last call."""
        seqs: list[int] = []
        while True:
            try:
                frame = self.rx.recv(2048)
            except BlockingIOError:
                return seqs
            if len(frame) >= 22 and frame[6:12] == self.header[6:12]:
                seqs.append(struct.unpack_from("!Q", frame, 14)[0])

    def wait(self, timeout_s: float) -> bool:
        return bool(select.select([self.rx], [], [], timeout_s)[0])

    def __enter__(self) -> Ends:
        return self

    def __exit__(self, *exc: object) -> None:
        self.tx.close()
        self.rx.close()


def measure(path: str, ends: Ends) -> PathResult:
    """Latency then throughput of one path (a warm-up first: the switches learn A's MAC)."""
    probes, seconds, seq = LATENCY_PROBES, THROUGHPUT_S, 0
    for _ in range(3):
        ends.send(seq := seq + 1)
        ends.wait(LOSS_TIMEOUT_S)
        ends.received()
    latencies = []
    for _ in range(probes):
        seq += 1
        start = stopwatch_s()
        ends.send(seq)
        while ends.wait(LOSS_TIMEOUT_S):
            if seq in ends.received():
                latencies.append((stopwatch_s() - start) * 1e6)
                break
    if not latencies:
        raise LiveError(f"bench --live: no frame crossed the {path} path")
    received = lost = in_flight = 0
    end = now_s() + seconds
    start = stopwatch_s()
    while now_s() < end:
        while in_flight < WINDOW:
            ends.send(seq := seq + 1)
            in_flight += 1
        if ends.wait(LOSS_TIMEOUT_S):
            got = len(ends.received())
            received, in_flight = received + got, max(0, in_flight - got)  # a late one may come after a loss
        else:
            lost, in_flight = lost + in_flight, 0
    elapsed = stopwatch_s() - start
    latencies.sort()
    return PathResult(path, received / elapsed, lost + probes - len(latencies), statistics.median(latencies),
                      latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))])


# -- the paths -------------------------------------------------------------------------------------------
def _names(path: str) -> tuple[str, str]:
    tag = f"{PREFIX}b{os.getpid() % 100000}{path}"
    return f"{tag}a", f"{tag}b"


@contextmanager
def veth_path(devices: LiveDevices) -> Iterator[Ends]:
    ns_a, ns_b = _names("v")
    devices.add_netns_pair(ns_a, MAC_A, ns_b, MAC_B)
    with Ends(ns_a, ns_b) as ends:
        yield ends


@contextmanager
def bridge_path(devices: LiveDevices) -> Iterator[Ends]:
    ns_a, ns_b = _names("l")
    outsides = [devices.add_netns_station(ns_a, MAC_A, None), devices.add_netns_station(ns_b, MAC_B, None)]
    hub = outsides[0].hub
    run_command("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
    for made in outsides:
        run_command("ip", "-n", hub, "link", "set", made.outside, "master", "br0")
    run_command("ip", "-n", hub, "link", "set", "br0", "up")
    with Ends(ns_a, ns_b) as ends:
        yield ends


@contextmanager
def vswitch_path(folder: Path) -> Iterator[Ends]:
    """A ``vswitch live`` process (this very vswitch) whose two stations are A and B; ended with Ctrl-C."""
    ns_a, ns_b = _names("s")
    (folder / "bench-live.yaml").write_text(TOPOLOGY.format(a=MAC_A, b=MAC_B, ns_a=ns_a, ns_b=ns_b))
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-m", "vswitch", "live", "bench-live.yaml", "--no-pcapng", "--quiet",
                              "--out", "out"], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_running(child)
        with Ends(ns_a, ns_b) as ends:
            yield ends
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_running(child: subprocess.Popen) -> None:
    assert child.stderr is not None
    said, deadline = b"", now_s() + START_TIMEOUT_S
    while b"live: running" not in said:
        ready = select.select([child.stderr], [], [], max(0.0, deadline - now_s()))[0]
        chunk = os.read(child.stderr.fileno(), 4096) if ready else b""
        if not chunk:
            raise LiveError(f"bench --live: vswitch live did not start: {said.decode(errors='replace').strip()}")
        said += chunk


# -- the command -------------------------------------------------------------------------------------------
def run(args: argparse.Namespace, build: str = "") -> int:
    """``vswitch bench --live``: the three paths, one after the other, and their figures; ``build``: which build
    of vswitch the ``vswitch live`` process runs (compiled or pure Python), for the report."""
    if args.workload or args.topology:
        raise ScenarioError("bench --live measures real namespaces through vswitch live and a Linux bridge: give "
                            "it no workload and no --topology")
    if getattr(args, "ns3", False) or getattr(args, "ns3_python", None):
        raise ScenarioError("bench --live and bench --ns3 are separate measurements: run one, then the other")
    results = []
    with LiveDevices(usage="vswitch bench --live") as devices, \
            tempfile.TemporaryDirectory(prefix="vswitch-bench-live-") as folder:
        for name, path in (("veth (no switch)", veth_path(devices)), ("linux bridge", bridge_path(devices)),
                           ("vswitch live", vswitch_path(Path(folder)))):
            with path as ends:
                results.append(measure(name, ends))
                if sys.stdout.isatty():
                    print(f"  {name}: {results[-1].frames_per_s:,.0f} frames/s", file=sys.stderr, flush=True)
    print(report(results, build))
    return 0


def report(results: list[PathResult], build: str = "") -> str:
    from tabulate import tabulate

    base = results[0].median_us
    rows = [(r.path, f"{r.frames_per_s:,.0f}", f"{r.median_us:.1f}", f"{r.p99_us:.1f}",
             f"{r.median_us - base:+.1f}", r.lost) for r in results]
    return "\n".join([
        tabulate(rows, headers=("path A -> B", "frames/s", "one-way µs (median)", "p99 µs", "added µs (median)",
                                "lost"), disable_numparse=True),
        f"60-byte frames; latency: {LATENCY_PROBES} frames one at a time; frames/s: {THROUGHPUT_S:g} s with at most "
        f"{WINDOW} in flight; added: over the bare veth",
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}; Python {platform.python_version()}"
        + (f", vswitch {build}" if build else "")])
