"""``vswitch bench``: standard workloads through the product path, and a naive Scapy baseline.

- ``lan8``: 8 hosts, one per port of a learning switch (``vswitch/bench/workloads/lan8.yaml``);
- ``vnic``: 2 hypervisors (adapters with 4 VMs each) and 4 physical hosts on one switch
  (``vswitch/bench/workloads/vnic.yaml``);
- ``vnic-io``: vnic with every VM under the virtio I/O model, no vCPU clock (``workloads/vnic-io.yaml``): against
  vnic, the cost of the I/O accounting (docs/io-models.md);
- ``udp8``: lan8 with an IPv4 stack per host, the same pattern sent as UDP datagrams by the stacks
  (``vswitch/bench/workloads/udp8.yaml``, traffic in ``guest_workload.py``);
- ``naive``: lan8 written as a newcomer would with Scapy (see ``naive.py``);
- ``big10k``, ``flood1k``: 10,000 VMs on one switch, and flooding to 10, 100 and 1,000 ports (``scale.py``: their
  topologies are generated in memory; N counts delivered copies of broadcasts);
- ``--topology FILE``: any topology file's host NICs and VMs, with the same traffic.

The networks are topology files, loaded by ``load_topology`` and built by ``build_network`` exactly as
``vswitch run`` does (without the pcapng and the trace); their scenarios and expectations are not run. The files
are package data (``workloads/`` beside this module), so an installed vswitch benches from any folder.

Traffic: 60-byte Ether/IPv4/UDP frames, frame ``i`` from endpoint ``src = i % n`` to
``(src + 1 + (i // n) % (n - 1)) % n``, one every microsecond of virtual time (nothing queues). The endpoints are
every host NIC and VM vNIC of the file, sorted by name (``h2`` before ``h10``). Every endpoint first announces
itself with a broadcast (a warm-up, outside the timing), so the switch knows every MAC and no frame is flooded.
Captures: those the file declares (the standard files: each NIC both ways and each switch port's transmit, as
classic pcap). ``run`` runs each workload in a fresh interpreter so that each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from tabulate import tabulate

from ..core import checks
from ..core.errors import ScenarioError, TopologyError, VSwitchError, error_lines
from ..net.capture import make_folder
from ..net.network import Network
from ..topology.build import build_network
from ..topology.loader import load_topology
from ..topology.spec import TopologySpec
from ..topology.yamlsource import check_file
from .measure import BenchResult, cpu_model, current_rss_kib, interpreter, peak_rss_kib
from .ns3compare import median_run, ns3_plan, ratio_lines, run_ns3
from .workload import FRAME_GAP_NS, Endpoint, announcements, endpoint_names, endpoints_of, traffic

WORKLOADS = ("lan8", "vnic", "vnic-io", "udp8", "naive", "big10k", "flood1k")
TOPOLOGY_WORKLOADS = ("lan8", "vnic", "vnic-io", "udp8")  # the ones read from BENCH_TOPOLOGIES/<name>.yaml
GUEST_WORKLOADS = ("udp8", "echo8", "ping8")  # traffic from udp8.yaml's IPv4 stacks (guest_workload.py)
ANSWERED_WORKLOADS = ("echo8", "ping8")  # udp8's probes to the echo port and as pings: not in `all`
#: Ratios of time per frame the report prints when both workloads ran: (workload, against, what it measures).
TIME_RATIOS = (("vnic", "lan8", ""), ("vnic-io", "vnic", " (the I/O models' accounting)"),
               ("udp8", "lan8", ""))  # udp8: what the guest stacks and the scenario's udp actions add
BENCH_TOPOLOGIES = Path(__file__).resolve().parent / "workloads"  # package data (pyproject.toml)
DEFAULT_FRAMES = 1_000_000
#: The naive baseline runs N / NAIVE_SHARE frames unless --naive-frames says otherwise: it is about a hundred
#: times slower per frame, so at the same N it would take most of the run.
NAIVE_SHARE = 50
USER_ERROR = 2  # the exit status of a user error
WORKER_USER_ERROR = 3  # a worker's for a VSwitchError, whose message is its stderr (Python's own errors exit 2)


# -- the networks: topology files ---------------------------------------------------------------------
def workload_file(workload: str) -> Path:
    """The topology file of a standard workload, shipped in the package (``vswitch/bench/workloads/``)."""
    path = BENCH_TOPOLOGIES / f"{'udp8' if workload in GUEST_WORKLOADS else workload}.yaml"
    if not path.is_file():
        raise TopologyError(f"workload {workload}: no topology file {path} (this vswitch was installed without its "
                           f"package data): reinstall it, or pass a topology with --topology FILE")
    return path


def load_bench_topology(path: str | os.PathLike) -> tuple[TopologySpec, list[str]]:
    """Load ``path`` and check it builds and has at least two endpoints (a user error otherwise)."""
    spec = load_topology(path)
    build_network(spec, record=False).close()  # no capture_dir: checks the build, opens no file
    names = endpoint_names(spec)
    if len(names) < 2:
        raise TopologyError(f"{path}: the bench needs at least 2 host NICs or VMs to send between, found "
                           f"{len(names)}")
    return spec, names


def build_topology(path: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Network, list[Endpoint], str]:
    """``path`` built as ``vswitch run`` builds it, captures (classic pcap only) in ``out_dir``: (network,
    endpoints, topology name)."""
    spec = load_topology(path)
    net = build_network(spec, capture_dir=out_dir, record=False, pcapng=False)
    return net, endpoints_of(net, endpoint_names(spec)), spec.name


# -- running ---------------------------------------------------------------------------------------
def run_network(workload: str, net: Network, endpoints: Sequence[Endpoint], frames: int) -> BenchResult:
    """Warm ``net`` up, then time ``frames`` frames of bench traffic through it, captures closed included."""
    net.send_stream(announcements(endpoints))
    net.run()
    stats = net.stats
    before = (stats.delivered, stats.dropped_total)
    start_ns = net.now + FRAME_GAP_NS
    net.send_stream(traffic(endpoints, frames, start_ns))
    started, cpu_started = time.perf_counter(), time.process_time()
    net.run(start_ns + frames // 4 * FRAME_GAP_NS)
    quarter_rss = current_rss_kib()
    net.run()
    end_rss = current_rss_kib()
    net.close()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return BenchResult(workload, frames, seconds, stats.delivered - before[0], stats.dropped_total - before[1],
                       stats.in_flight, peak_rss_kib(), end_rss - quarter_rss,
                       [str(p) for p in net.captures.files], interpreter(), cpu_seconds=cpu_seconds)


def run_bench(workload: object, frames: object, out_dir: object, topology: object = None) -> BenchResult:
    """Run one workload in this process, writing its captures under ``out_dir``.

    ``workload`` is a standard one, or with ``topology`` the name to report for that file's network. A workload
    that does not exist, or a count of frames that is not a positive int, is a ``ScenarioError``.
    """
    name = checks.text(workload, "run_bench: workload", error=ScenarioError)
    if topology is None and name not in WORKLOADS + ANSWERED_WORKLOADS:
        raise ScenarioError(f"unknown workload {name!r}: choose one of {', '.join(WORKLOADS + ANSWERED_WORKLOADS)}")
    count = checks.integer(frames, "run_bench: frames", minimum=1, error=ScenarioError)
    folder = checks.path(out_dir, "run_bench: out_dir", error=ScenarioError)
    file = checks.path(topology, "run_bench: topology") if topology is not None else None
    make_folder(Path(folder))
    if file is None:
        if name == "naive":
            from .naive import run_naive

            return run_naive(count, folder)
        if name in ("big10k", "flood1k"):  # topologies generated in memory (scale.py)
            from .scale import run_scale

            return run_scale(name, count)
        file = workload_file(name)
    if name in GUEST_WORKLOADS and Path(file).resolve() == workload_file(name).resolve():  # (a worker is given it)
        from .guest_workload import run_guest_bench

        return run_guest_bench(name, file, folder, count)
    net, endpoints, _ = build_topology(file, folder)
    return run_network(name, net, endpoints, count)


# -- the command -------------------------------------------------------------------------------------
def _at_least_one(text: str) -> int:
    """An argument that counts something: a whole number, at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workload", nargs="?", default=None, choices=WORKLOADS + ANSWERED_WORKLOADS + ("all",),
                        help="which workload to run (default: all, or none when --topology is given); echo8 and "
                             "ping8 (not in all) send udp8's probes to the UDP echo port and as pings: N probes, "
                             "2N frames")
    parser.add_argument("-n", "--frames", type=_at_least_one, default=DEFAULT_FRAMES,
                        help=f"frames per workload (default {DEFAULT_FRAMES:,}; naive runs N/{NAIVE_SHARE} unless "
                             "--naive-frames is given)")
    parser.add_argument("--naive-frames", type=_at_least_one, default=None,
                        help=f"frames for the naive baseline (default: N/{NAIVE_SHARE}, at least 1; "
                             f"{DEFAULT_FRAMES // NAIVE_SHARE:,} at the default N)")
    parser.add_argument("--topology", metavar="FILE", action="append", default=[],
                        help="also bench this topology file: the bench traffic between all its host NICs and VMs "
                             "(its scenario and expectations are not run); may be repeated")
    parser.add_argument("--repeat", type=_at_least_one, default=1, metavar="K",
                        help="run each workload K times and keep the fastest (default 1): the wall clock is noisy; "
                             "with --ns3, the median")
    parser.add_argument("--out", metavar="DIR", help="keep the capture files in DIR (default: a temporary folder)")
    parser.add_argument("--live", action="store_true",
                        help="instead: frames/s and one-way latency between two real namespaces through vswitch live, "
                             "beside a Linux bridge and a bare veth (root; docs/live.md)")
    parser.add_argument("--ns3", action="store_true",
                        help="also run ns-3's counterparts of lan8 and udp8 (both, or the one named), each right after "
                             "vswitch's run, and print the ratios (medians of --repeat K runs; docs/performance.md). "
                             "Needs ns-3's Python bindings (pip install ns3) here or in --ns3-python")
    parser.add_argument("--ns3-python", metavar="PYTHON",
                        help="the Python interpreter that has ns-3's bindings (e.g. /tmp/venv-ns3/bin/python after "
                             "python3 -m venv /tmp/venv-ns3 && /tmp/venv-ns3/bin/pip install ns3); implies --ns3")


def naive_frames(frames: int, naive: int | None) -> int:
    """The naive baseline's frames: ``naive`` when given, else ``frames / NAIVE_SHARE`` (at least 1)."""
    return naive if naive is not None else max(1, frames // NAIVE_SHARE)


def _plan(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(name, topology file or None) per workload to run; every file is loaded and built first (fail fast)."""
    chosen = args.workload or ("all" if not args.topology else None)
    plan: list[tuple[str, str | None]] = []
    for workload in (WORKLOADS if chosen == "all" else (chosen,) if chosen else ()):
        if workload in TOPOLOGY_WORKLOADS + ANSWERED_WORKLOADS:
            load_bench_topology(workload_file(workload))
        plan.append((workload, None))
    for file in args.topology:
        check_file(file)  # a FIFO would make loading wait forever
        spec, _ = load_bench_topology(file)
        name, k = spec.name, 1
        while name in (n for n, _ in plan):  # one output folder per workload
            k += 1
            name = f"{spec.name}-{k}"
        plan.append((name, str(Path(file).resolve())))
    return plan


def run(args: argparse.Namespace) -> int:
    """Run the chosen workloads, each in a fresh interpreter, and print the figures. A user error (a bad file, an
    output folder that cannot be made) is a ``VSwitchError``."""
    if getattr(args, "live", False):  # live/bench.py, above this layer: the vswitch command routes it there
        raise ScenarioError("bench --live runs from the vswitch command: sudo vswitch bench --live")
    ns3_python: str | None = None
    if _compares_ns3(args):
        ns3_python, names = ns3_plan(args.workload, args.topology, args.frames, args.ns3_python)
        plan: list[tuple[str, str | None]] = [(name, None) for name in names]
    else:
        plan = _plan(args)
    runs: dict[str, list[BenchResult]] = {workload: [] for workload, _ in plan}
    ns3_runs: dict[str, list[BenchResult]] = {workload: [] for workload, _ in plan} if ns3_python else {}
    with tempfile.TemporaryDirectory(prefix="vswitch-bench-") as scratch:
        root = make_folder(Path(args.out)) if args.out else Path(scratch)
        for _ in range(args.repeat):  # round by round, so that repeated runs see the same spells of load
            for workload, topology in plan:
                naive = topology is None and workload == "naive"
                frames = naive_frames(args.frames, args.naive_frames) if naive else args.frames
                _progress(runs[workload], run_in_subprocess(workload, frames, root / workload, topology))
                if ns3_python:  # its counterpart right after it
                    _progress(ns3_runs[workload], run_ns3(ns3_python, workload, frames, root / f"ns-3-{workload}"))
    pick = median_run if ns3_python else (lambda rs: min(rs, key=lambda r: r.seconds))
    results = []
    for kept in (k for w in runs for k in (runs[w], ns3_runs.get(w)) if k):  # ns-3's row under vswitch's
        chosen = pick(kept)
        chosen.peak_rss_kib = max(r.peak_rss_kib for r in kept)
        results.append(chosen)
    print(report(results, args.repeat, ratio_lines(runs, ns3_runs) if ns3_python else ()))
    return 0


def _compares_ns3(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "ns3", False) or getattr(args, "ns3_python", None))


def _progress(runs: list[BenchResult], result: BenchResult) -> None:
    """Keep ``result`` and show it on a terminal, as the other commands show their progress."""
    runs.append(result)
    if sys.stdout.isatty():
        print(f"  {result.workload}: {result.frames_per_s:,.0f} frames/s", file=sys.stderr, flush=True)


def run_in_subprocess(workload: str, frames: int, out_dir: str | os.PathLike,
                      topology: str | None = None) -> BenchResult:
    """``run_bench`` in a fresh interpreter: its peak RSS is this workload's alone.

    The worker imports this very vswitch (an installed, compiled build is not shadowed by a source tree in the
    current folder): it runs in ``out_dir`` with this package's folder first on its path.
    """
    out_dir = make_folder(Path(out_dir))
    if topology is None and workload in TOPOLOGY_WORKLOADS + ANSWERED_WORKLOADS:
        topology = str(workload_file(workload).resolve())
    elif topology is not None:
        topology = str(Path(topology).resolve())
    command = [sys.executable, "-m", "vswitch.bench", "--worker", workload, str(frames), str(out_dir)]
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command + ([topology] if topology else []), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=out_dir, env=env)
    if done.returncode == WORKER_USER_ERROR:  # e.g. a capture file it cannot write: the worker's message is the error
        raise ScenarioError(done.stderr.strip())
    if done.returncode:  # a bug: its traceback, then ours
        sys.stderr.write(done.stderr)
        done.check_returncode()
    return BenchResult(**json.loads(done.stdout))


def report(results: Sequence[BenchResult], repeat: int = 1, ns3: Sequence[str] = ()) -> str:
    """The figures as a table, then the ratios the targets are stated in (``ns3``: the lines comparing with
    ns-3, whose rows are in ``results`` too)."""
    rows = [(r.workload, f"{r.frames:,}", f"{r.frames_per_s:,.0f}", f"{r.us_per_frame:.2f}",
             f"{r.peak_rss_kib / 1024:.1f}", f"{r.rss_growth_kib / 1024:+.1f}", f"{r.delivered:,}", r.dropped,
             r.python) for r in results]
    lines = [tabulate(rows, headers=("workload", "N", "frames/s", "µs/frame", "peak RSS MB", "RSS growth MB",
                                     "delivered", "dropped", "python"), disable_numparse=True)]
    by_name = {r.workload: r for r in results}
    if "lan8" in by_name and "naive" in by_name:
        lines.append(f"lan8 / naive: {by_name['lan8'].frames_per_s / by_name['naive'].frames_per_s:,.0f}x faster")
    for top, base, why in TIME_RATIOS:
        if top in by_name and base in by_name:
            lines.append(f"{top} / {base} time per frame: "
                         f"{by_name[top].us_per_frame / by_name[base].us_per_frame:.2f}x{why}")
    lines += ns3
    lines += [f"{r.workload}: {r.detail}" for r in results if r.detail]
    kept = "median" if ns3 else "fastest"
    runs = f"; {kept} of {repeat} runs each" if repeat > 1 else ""
    lines.append(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; {interpreter()}{runs}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vswitch.bench [lan8|vnic|vnic-io|udp8|naive|big10k|flood1k|all] [-n N] [--topology FILE] [--out DIR]
    [--ns3] [--ns3-python PYTHON]``, as ``vswitch bench``.

    ``--worker WORKLOAD N DIR [FILE]`` runs one workload (or FILE, reported as WORKLOAD) in this process and
    prints its result as JSON (for ``run``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        workload, frames, out_dir, *topology = argv[1:]
        try:
            print(json.dumps(asdict(run_bench(workload, int(frames), out_dir, *topology))))
        except VSwitchError as exc:  # for ``run_in_subprocess`` to raise
            print(exc, file=sys.stderr)
            return WORKER_USER_ERROR
        return 0
    parser = argparse.ArgumentParser(prog="vswitch bench", description="Standard workloads through the product path.")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except VSwitchError as exc:
        print(*error_lines(exc), sep="\n", file=sys.stderr)
        return USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
