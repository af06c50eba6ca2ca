#!/usr/bin/env python3
"""Size and render time of the HTML report of a long run (docs/report.md, "Size and speed").

Not a test: a benchmark that prints figures. It runs ``vswitch run --html`` on a generated topology (a host and
a hypervisor with two VMs on a switch, N frames from a VM to the host, flooded at first then forwarded), prints
the report's size, the run's wall time with and without ``--html`` and, when chromium is installed, the time
the headless browser takes to load the report and lay it out (the mean of three loads; a browser start alone,
on an empty page, is measured and subtracted). Targets: under 5 MB and under 2 s at 1,000,000 frames.

    python tests/bench_report.py                  # 1,000,000 frames
    python tests/bench_report.py -n 10000 100000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = """name: report-bench
switches: [{{name: sw1}}]
hosts: [{{name: h1, mac: "02:00:00:00:00:01"}}]
hypervisors:
  - {{name: hv1, mac: "02:00:00:00:00:aa", vms: [{{name: vm1, prefix: qemu}}, {{name: vm2, prefix: qemu}}]}}
links: [[h1, sw1.p1], [hv1, sw1.p2]]
scenario:
  - send: {{from: vm1, to: h1, name: bulk, count: {n}, interval: 1us}}
  - at: 0s
    send: {{from: vm2, dst: broadcast, name: hello}}
expect:
  - delivered: {{frame: bulk, to: h1, only: true}}
"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def run(path: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vswitch", "run", str(path), "--out", str(out), "--quiet", "--no-pcapng",
                    *extra], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def browser_load(chromium: str, page: Path, profile: Path) -> float:
    """Wall time of a headless chromium loading ``page`` and dumping its laid-out DOM."""
    start = time.perf_counter()
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                   check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--frames", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    print(f"{'frames':>10} {'report':>10} {'run':>8} {'run --html':>11} {'browser load':>13}")
    with tempfile.TemporaryDirectory(prefix="vswitch-report-bench-") as tmp:
        folder = Path(tmp)
        empty = folder / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>")
        for n in args.frames:
            lab = folder / f"lab{n}.yaml"
            lab.write_text(LAB.format(n=n))
            plain = run(lab, folder / f"plain{n}")
            with_html = run(lab, folder / f"html{n}", "--html")
            report = folder / f"html{n}" / "report.html"
            size = report.stat().st_size
            shown = "no chromium"
            if chromium:
                profile = folder / "profile"
                base = min(browser_load(chromium, empty, profile) for _ in range(3))
                load = sum(browser_load(chromium, report, profile) for _ in range(3)) / 3
                shown = f"{load - base:.2f} s"
            print(f"{n:>10,} {size / 1e6:>8.2f}MB {plain:>7.1f}s {with_html:>10.1f}s {shown:>13}")


if __name__ == "__main__":
    main()
