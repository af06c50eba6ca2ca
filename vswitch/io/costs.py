"""What each I/O event costs, in CPU cycles, with where each figure comes from (docs/io-models.md).

The figures are the direct cost of one event on the CPU that handles it: a trap and its return. A topology may
override any of them (``io: {costs: {exit_user: 7000}}``). SplitX (Landau et al., WIOV 2011) measured about
2,000 cycles of direct cost per exit on a Xeon X5570 and indirect costs (caches and TLB polluted by the
hypervisor) up to ten times that: ``indirect_factor`` multiplies every exit's cost by it (1: direct cost only).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final, Mapping

#: name -> (cycles, source). Dall et al.: "Optimizing the Design and Implementation of the Linux ARM Hypervisor",
#: USENIX ATC 2017, Table 3 (x86 KVM micro-benchmarks), as quoted in issue 14.
DEFAULT_COSTS: Final[dict[str, tuple[int, str]]] = {
    "exit_kernel": (2565, "Dall et al., USENIX ATC 2017: an exit handled in the host kernel (x86 KVM)"),
    "exit_user": (6732, "Dall et al., USENIX ATC 2017: an exit handled in host user space, the VMM (x86 KVM)"),
    "ioeventfd": (560, "Dall et al., USENIX ATC 2017: an ioeventfd notification (x86 KVM)"),
    "eoi": (1556, "Dall et al., USENIX ATC 2017: virtual interrupt completion (x86 KVM)"),
    "irq_injection": (2565, "an interrupt injected into a running vCPU: an IPI forces an exit handled in the host "
                            "kernel (taken as Dall et al.'s exit_kernel)"),
    "hypercall": (2565, "a hypercall handled in the hypervisor (taken as Dall et al.'s exit_kernel; SplitX, WIOV "
                        "2011: ~2,000 cycles direct cost per exit on a Xeon X5570)"),
    "halt": (2565, "HLT of an idle vCPU: an exit handled in the host kernel (Dall et al.'s exit_kernel)"),
    "irq_window": (2565, "an interrupt-window exit: handled in the host kernel (Dall et al.'s exit_kernel)"),
    "copy_per_64_bytes": (16, "an assumption, not a measurement: memcpy at about 4 bytes per cycle; override it"),
}

#: SplitX (WIOV 2011): indirect costs up to 10x the direct cost; 1 counts direct costs only.
DEFAULT_INDIRECT_FACTOR: Final = 1


class CostTable:
    """Cycles per event (``DEFAULT_COSTS`` with a topology's overrides) and the vCPU clock, if any."""

    def __init__(self, overrides: Mapping[str, int] | None = None, *, indirect_factor: int = DEFAULT_INDIRECT_FACTOR,
                 cpu_ghz: Fraction | None = None) -> None:
        unknown = sorted(set(overrides or {}) - set(DEFAULT_COSTS))
        if unknown:
            raise ValueError(f"unknown cost {unknown[0]!r}; known: {', '.join(DEFAULT_COSTS)}")
        self.cycles: dict[str, int] = {name: cycles for name, (cycles, _) in DEFAULT_COSTS.items()}
        self.cycles.update(overrides or {})
        self.indirect_factor = indirect_factor
        self.cpu_ghz = cpu_ghz

    def of(self, name: str) -> int:
        """The cycles of one event ``name`` (an exit's times ``indirect_factor``)."""
        cycles = self.cycles[name]
        return cycles * self.indirect_factor if name != "copy_per_64_bytes" and name != "ioeventfd" else cycles

    def copy(self, size: int) -> int:
        """The cycles of copying ``size`` bytes."""
        return (size * self.cycles["copy_per_64_bytes"] + 63) // 64

    def nanoseconds(self, cycles: int) -> int:
        """``cycles`` as virtual time on the vCPU clock, rounded up (0 without ``cpu_ghz``: accounting only)."""
        if self.cpu_ghz is None or cycles <= 0:
            return 0
        return -(-cycles * self.cpu_ghz.denominator // self.cpu_ghz.numerator)
