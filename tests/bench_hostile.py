#!/usr/bin/env python3
"""How long ``vswitch validate`` takes to refuse each hostile file, and to accept the biggest legitimate ones.

Not a test: a benchmark that prints figures (docs/limits.md quotes them). tests/test_hostile_files.py checks what
each file does (refused, one line per problem, bounded memory and work); how fast is measured here, because a
time limit in a test fails at random on a loaded machine. Each file is validated in this process after a warm-up,
``--repeat`` times; the table shows the fastest of the runs (the least disturbed by other load) in wall-clock
seconds and in CPU seconds of this process (which other load hardly changes).

    python tests/bench_hostile.py                  # the corpus in tests/hostile/ and the generated big files
    python tests/bench_hostile.py --repeat 5 --only devices million
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

try:
    import vswitch  # noqa: F401 - installed
except ImportError:  # the source tree, as python -m pytest tests it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_hostile_files import CORPUS, HOSTILE, hypervisors, write_chunks  # noqa: E402

from vswitch import build_kind, cli  # noqa: E402


def generated(folder: Path) -> dict[str, tuple[Callable[[], Path], tuple[str, ...]]]:
    """The big files test_hostile_files.py writes at run time: name -> (writer, extra arguments of validate)."""
    def text(name: str, content: str) -> Callable[[], Path]:
        def write() -> Path:
            (folder / name).write_text(content)
            return folder / name
        return write

    return {
        "unknown-keys (99 000 keys, under 1 MiB)": (
            text("unknown.yaml", "name: lab\n" + "".join(f"k{n}: 1\n" for n in range(99_000))), ()),
        "padded (1 MiB and 1 byte)": (
            lambda: write_chunks(folder / "padded.yaml", hypervisors(10).encode(), b"# padding\n", 2**20 + 1), ()),
        "devices (10 101 listed)": (text("devices.yaml", hypervisors(10_000)), ()),
        "devices, limit raised (10 000 VMs built)": (
            text("devices-raised.yaml", hypervisors(10_000)), ("--limit", "devices=10101")),
        "thousand VMs (valid)": (text("thousand.yaml", hypervisors(1000)), ()),
        "string (100 MB)": (
            lambda: write_chunks(folder / "string.yaml", b"name: lab\ndescription: ", b"x", 100 * 10**6), ()),
        "million VMs (20 MB)": (
            lambda: write_chunks(folder / "million.yaml", b"hypervisors:\n  - name: hv1\n    vms:\n",
                                 b"      - {name: vm}\n", 20 * 10**6), ()),
        "duplicates (2000 keys)": (text("dups.yaml", "name: dups\n" + "description: x\n" * 2000), ()),
    }


def validate_seconds(path: Path, extra: tuple[str, ...], repeat: int) -> tuple[int, float, float]:
    """(exit status, wall-clock seconds, CPU seconds) of ``vswitch validate PATH EXTRA``: the fastest of
    ``repeat`` runs."""
    wall, cpu, status = [], [], 0
    for _ in range(repeat):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            started, started_cpu = time.perf_counter(), time.process_time()
            status = cli.main(["validate", str(path), *extra])
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    return status, min(wall), min(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per file (default 3)")
    parser.add_argument("--only", nargs="+", default=[], help="only the files whose name contains one of these")
    args = parser.parse_args()
    wanted = (lambda name: any(word in name for word in args.only)) if args.only else (lambda name: True)
    validate_seconds(HOSTILE / "empty.yaml", (), 1)  # warm-up: imports and first-use caches
    print(f"{'file':<44}{'exit':>5}{'wall s':>9}{'CPU s':>9}")
    slowest = ("", 0.0)
    with tempfile.TemporaryDirectory(prefix="vswitch-hostile-") as scratch:
        cases = {name: ((lambda name=name: HOSTILE / name), ()) for name in sorted(CORPUS)}
        cases.update(generated(Path(scratch)))
        for name, (write, extra) in cases.items():
            if not wanted(name):
                continue
            status, wall, cpu = validate_seconds(write(), extra, args.repeat)
            print(f"{name:<44}{status:>5}{wall:>9.3f}{cpu:>9.3f}", flush=True)
            slowest = max(slowest, (name, cpu), key=lambda case: case[1])
    print(f"fastest of {args.repeat} runs each; the most CPU: {slowest[0]}, {slowest[1]:.3f} s")
    print(f"python {sys.version.split()[0]}, {build_kind()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
