"""``vswitch bench --ns3``: ns-3's counterparts of lan8 and udp8 (``ns3ref.py``) run beside vswitch's, and the ratios.

ns-3 runs in its own interpreter, one with its Python bindings (``pip install ns3``): this one when it has them,
or the one ``--ns3-python`` names. Each ns-3 run is a fresh process running ``ns3ref.py`` by path (it imports
nothing from vswitch), right after the vswitch run of the same workload, so the two see the same load; with
``--repeat K`` both sides keep their median run (``statistics.median_low``: a run that happened) and the report
gives the ratio of the medians and the range of the K ratios run by run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from ..core.errors import ScenarioError
from .measure import BenchResult
from .ns3ref import FIRST_ROUND, INSTALL_HINT, NOT_INSTALLED, NS3_WORKLOADS, WHEEL

NS3_SCRIPT = Path(__file__).resolve().with_name("ns3ref.py")
_PROBE = ("import importlib.util, sys; "
          f"sys.exit(0 if importlib.util.find_spec('ns') and importlib.util.find_spec('cppyy') else {NOT_INSTALLED})")
#: cppyy's harmless warnings about ns-3's static initialisers (wlav/cppyy#156), left out of an error's report
_NOISE = "[runStaticInitializersOnce]"


def ns3_plan(workload: str | None, topologies: Sequence[str], frames: int,
             python: str | None) -> tuple[str, tuple[str, ...]]:
    """(the interpreter that runs ns-3, the workloads to compare) for ``vswitch bench [WORKLOAD] --ns3``, checked
    in this order: the workloads, the interpreter (``ns3_interpreter``), N."""
    workloads = ns3_workloads(workload, topologies)
    python = ns3_interpreter(python)
    if frames <= FIRST_ROUND:
        raise ScenarioError(f"bench --ns3: -n {frames} is too few: ns-3 leaves its first {FIRST_ROUND} frames (one "
                            "round of the pattern, as vswitch's udp8 does) out of the timing; give -n 100000 or so")
    return python, workloads


def ns3_workloads(workload: str | None, topologies: Sequence[str]) -> tuple[str, ...]:
    """The workloads ``--ns3`` compares: lan8 and udp8 when none is named, else the one named if ns-3 has it."""
    if topologies:
        raise ScenarioError("bench --ns3 compares the standard lan8 and udp8 with their ns-3 counterparts: give it "
                            "no --topology")
    if workload is None:
        return NS3_WORKLOADS
    if workload not in NS3_WORKLOADS:
        raise ScenarioError(f"bench --ns3: ns-3 has counterparts of {' and '.join(NS3_WORKLOADS)} only, not "
                            f"{workload}: vswitch bench lan8 --ns3, vswitch bench udp8 --ns3, or vswitch bench "
                            "--ns3 for both")
    return (workload,)


def ns3_interpreter(python: str | None) -> str:
    """The interpreter that runs ns-3: ``python`` (checked: it runs and can import ``ns``), or this one if it can
    import ``ns``. A ``ScenarioError`` saying how to install the bindings otherwise."""
    if python is None:
        if importlib.util.find_spec("ns") and importlib.util.find_spec("cppyy"):
            return sys.executable
        raise ScenarioError(f"bench --ns3: this interpreter ({sys.executable}) cannot import ns: "
                            f"{INSTALL_HINT}")
    where = f"--ns3-python {python}"
    path = Path(python)
    if not path.exists():
        raise ScenarioError(f"{where}: no such file; give the python of an environment with ns-3, e.g. "
                            "/tmp/venv-ns3/bin/python")
    if path.is_dir():
        raise ScenarioError(f"{where}: is a folder; give the python inside it, e.g. {path / 'bin' / 'python'}")
    try:
        done = subprocess.run([str(path), "-c", _PROBE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScenarioError(f"{where}: cannot run it as a Python interpreter ({exc})") from None
    if done.returncode == NOT_INSTALLED:
        raise ScenarioError(f"{where}: that interpreter cannot import ns (ns-3's Python bindings): install "
                            f"them with {python} -m pip install ns3 ({WHEEL})")
    if done.returncode:
        raise ScenarioError(f"{where}: not a Python interpreter that runs (it exited with status {done.returncode} "
                            "when asked to look for ns)")
    return str(path.absolute())


def run_ns3(python: str, workload: str, frames: int, out_dir: str | os.PathLike) -> BenchResult:
    """ns-3's counterpart of ``workload`` with ``frames`` frames, in a fresh ``python``, captures in ``out_dir``."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    done = subprocess.run([python, str(NS3_SCRIPT), workload, str(frames), str(out_dir)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, cwd=out_dir)
    if done.returncode == NOT_INSTALLED:
        raise ScenarioError(f"bench --ns3: {python}: {done.stderr.strip()}")
    if done.returncode:  # a bug, or ns-3 failing: its own report
        sys.stderr.writelines(line for line in done.stderr.splitlines(True) if not line.startswith(_NOISE))
        done.check_returncode()
    return BenchResult(**json.loads(done.stdout))


def median_run(runs: Sequence[BenchResult]) -> BenchResult:
    """The median run by time (the lower of the middle two for an even count: a run that happened)."""
    middle = statistics.median_low(r.seconds for r in runs)
    return next(r for r in runs if r.seconds == middle)


def ratio_lines(vswitch: Mapping[str, Sequence[BenchResult]], ns3: Mapping[str, Sequence[BenchResult]]) -> list[str]:
    """Per workload: vswitch's frames/s over ns-3's, of the medians and run by run (the runs were interleaved),
    then each pair of runs' figures."""
    lines = []
    for workload, theirs in ns3.items():
        ours = vswitch[workload]
        ratio = median_run(ours).frames_per_s / median_run(theirs).frames_per_s
        each = sorted(a.frames_per_s / b.frames_per_s for a, b in zip(ours, theirs))
        spread = f"; run by run {each[0]:.2f}x - {each[-1]:.2f}x" if len(each) > 1 else ""
        runs = f"medians of {len(ours)} interleaved runs" if len(ours) > 1 else "one run each, interleaved"
        lines.append(f"{workload} / ns-3 {workload}: {ratio:.2f}x ns-3's frames/s ({runs}{spread})")
        if all(r.cpu_seconds for r in (*ours, *theirs)):
            cpu = [(b.cpu_seconds / b.frames) / (a.cpu_seconds / a.frames) for a, b in zip(ours, theirs)]
            lines.append(f"  in CPU time a frame (steadier on a loaded machine): {statistics.median(cpu):.2f}x"
                         + (f" (median; run by run {min(cpu):.2f}x - {max(cpu):.2f}x)" if len(cpu) > 1 else ""))
        if len(ours) > 1:
            lines.append(f"  {workload} run by run, frames/s vswitch / ns-3: " + "; ".join(
                f"{a.frames_per_s:,.0f} / {b.frames_per_s:,.0f}" for a, b in zip(ours, theirs)))
    return lines
