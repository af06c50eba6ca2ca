"""What the bench measures and reports: a workload's figures, this process's memory, the interpreter and the CPU."""

from __future__ import annotations

import platform
import resource
import sys
from dataclasses import dataclass

from ..buildinfo import build_kind


@dataclass
class BenchResult:
    """One workload's figures; ``delivered``/``dropped``/``in_flight`` count the measured stream only."""

    workload: str
    frames: int
    seconds: float
    delivered: int
    dropped: int
    in_flight: int
    peak_rss_kib: int
    rss_growth_kib: int  # resident set growth from a quarter of the run to its end: ~0 when memory is flat
    captures: list[str]
    python: str
    detail: str = ""  # what the figures do not say (the scale workloads' phases and per-copy costs)
    cpu_seconds: float = 0.0  # the process's CPU time over ``seconds`` (lan8, udp8 and ns-3's: bench --ns3)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def us_per_frame(self) -> float:
        return self.seconds * 1e6 / self.frames if self.frames else 0.0


def interpreter() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {build_kind()}"


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_kib() -> int:
    """This process's peak resident set (Linux: VmHWM, which a fresh interpreter does not inherit)."""
    peak = _proc_status_kib("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss


def current_rss_kib() -> int:
    return _proc_status_kib("VmRSS") or 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
