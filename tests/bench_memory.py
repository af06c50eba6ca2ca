#!/usr/bin/env python3
"""Peak memory of ``vswitch run`` against the number of frames: send, stream and ping, 10^5 to 10^7 frames.

Not a test: a benchmark that prints figures (docs/limits.md quotes them). Each run is a fresh interpreter running
``vswitch run`` on a generated topology (two hosts on a switch, expectations naming the frames, no capture points),
so its peak resident set (Linux VmHWM) is that run's alone.

    python tests/bench_memory.py                   # 10^5, 10^6, 10^7 frames of each (about 15 minutes)
    python tests/bench_memory.py -n 100000 1000000 --kinds send stream
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB = """name: memory
switches: [{name: sw1}]
hosts:
  - {name: h1, mac: "02:00:00:00:00:01", ip: 192.0.2.1/24}
  - {name: h2, mac: "02:00:00:00:00:02", ip: 192.0.2.2/24}
links: [[h1, sw1.p1], [h2, sw1.p2]]
"""

SCENARIOS = {
    # every frame named, watched by two expectations
    "send": """scenario:
  - send: {{from: h1, to: h2, name: bulk, count: {n}, interval: 1us}}
expect:
  - delivered: {{frame: bulk, to: h2, only: true}}
  - not_delivered: {{frame: bulk, to: h1}}
""",
    # everything scheduled at one instant
    "send-at-once": """scenario:
  - send: {{from: h1, to: h2, name: bulk, count: {n}}}
expect:
  - delivered: {{frame: bulk, to: h2, only: true}}
""",
    "stream": """scenario:
  - stream: {{from: h1, to: h2, count: {n}, interval: 1us, name: load}}
expect:
  - counter: {{interface: h2, rx_packets: {n}}}
""",
    # a ping is two frames: the request and the reply
    "ping": """scenario:
  - ping: {{from: h1, to: h2, count: {half}, interval: 2us, name: p}}
expect:
  - ping: {{name: p, loss: 0%}}
""",
}

CHILD = ("import sys\nfrom vswitch.cli import main\nstatus = main(sys.argv[1:])\n"
         "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
         "print('VmHWM', hwm, 'status', status, file=sys.stderr)\n")


def measure(kind: str, frames: int, folder: Path) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit status) of one ``vswitch run``."""
    path = folder / f"{kind}-{frames}.yaml"
    path.write_text(LAB + SCENARIOS[kind].format(n=frames, half=frames // 2))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "run", str(path), "--out", str(folder / "out"), "--quiet",
                           "--limit", f"frames={max(frames, 10_000_000)}"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    last = [line for line in done.stderr.splitlines() if line.startswith("VmHWM")]
    if not last:
        raise SystemExit(f"{kind} {frames}: the run failed:\n{done.stdout}{done.stderr}")
    _, kib, _, status = last[-1].split()
    return int(kib) / 1024, seconds, int(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000], help="frame counts")
    parser.add_argument("--kinds", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    args = parser.parse_args()
    print(f"{'workload':<14}{'frames':>12}{'peak RSS MB':>13}{'seconds':>10}{'frames/s':>11}  verdict")
    with tempfile.TemporaryDirectory(prefix="vswitch-memory-") as scratch:
        for kind in args.kinds:
            for frames in args.n:
                peak, seconds, status = measure(kind, frames, Path(scratch))
                print(f"{kind:<14}{frames:>12,}{peak:>13.1f}{seconds:>10.1f}{frames / seconds:>11,.0f}  "
                      f"{'pass' if status == 0 else f'exit {status}'}", flush=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
