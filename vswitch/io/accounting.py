"""Per-VM accounting of an I/O model: what each frame a vNIC sends or receives costs, and when it really leaves
or reaches the guest.

The datapath calls ``transmit`` for each frame the vNIC sends (after its size checks) and ``receive`` for each
frame the vNIC delivers; each returns the virtual time at which the frame leaves, or the guest has it. Without a
vCPU clock (``cpu_ghz``) that is ``now``: the events are counted and nothing moves. With one, the vCPU is busy
for the cycles it spends (exits, interrupts, copies it makes), frames queue behind it, and the frame rate of the
VM is limited by it.

Batches: frames the guest queues at one instant are one batch (one kick, one doorbell write: Linux's
``xmit_more``), and their completions one interrupt. A received frame joins the interrupt still being handled
(NAPI polls until the ring is empty); ``irq_coalesce_ns`` keeps an interrupt open that long after it is raised
(the e1000's interrupt throttling, ITR; default: the model's).

Per-frame notes: with ``note_tx``/``note_rx`` set (a pcapng capture of the vNIC: ``net/capture.py``), each frame's
events are also kept as the text of its pcapng comment (``io: 9 traps (7 mmio, 1 irq, 1 eoi), ...``) until the
capture takes it. Without them nothing per frame is kept.
"""

from __future__ import annotations

from typing import Any

from .costs import CostTable
from .models import EXIT_REASONS, IoModel, Step

_Priced = tuple[int, "str | None", bool, bool, bool]

#: An exit counter's short name in a frame's note (``7 mmio, 1 irq, 1 eoi``).
EXIT_SHORT_NAMES = {"mmio_exits": "mmio", "io_exits": "pio", "hypercalls": "hypercall", "irq_injections": "irq",
                    "eoi_exits": "eoi", "irq_window_exits": "irq_window", "halt_exits": "halt",
                    "syscall_traps": "syscall"}


class IoAccount:
    """The I/O counters of one VM's vNIC under ``model``."""

    def __init__(self, vm: str, model: IoModel, costs: CostTable, *, irq_coalesce_ns: int | None = None) -> None:
        self.vm = vm
        self.model = model
        self.models = [model.name]  # every model it had, in order (a VM that migrated had more than one)
        self.costs = costs
        self.irq_coalesce_ns = model.irq_coalesce_ns if irq_coalesce_ns is None else irq_coalesce_ns
        self.frames_tx = 0
        self.frames_rx = 0
        self.exits = dict.fromkeys(EXIT_REASONS, 0)
        self.device_accesses = 0
        self.kicks = 0
        self.interrupts = 0
        self.copies = 0
        self.bytes_copied = 0
        self.cycles = 0  # every cycle of every event, on the vCPU or not
        self.vcpu_cycles = 0  # those the guest's vCPU spent
        self.vcpu_busy_ns = 0
        self._busy_until = 0  # the vCPU is busy with I/O events until then
        self._tx_batch_at = -1  # the instant of the current transmit batch
        self._irq_open_until: dict[str, int] = {}  # per interrupt ("tx", "rx" or "shared"): takes completions until
        self._irq_has_rx: dict[str, bool] = {}  # per interrupt: it refilled the receive ring already
        self._price()
        self.note_tx = False  # keep each sent frame's note until its capture takes it
        self.note_rx = False  # the same for each frame delivered
        self._notes: dict[tuple[int, bool], bytes] = {}  # (frame id, outbound) -> the note

    # -- the datapath's calls -------------------------------------------------------------------------
    def transmit(self, size: int, now: int, frame_id: int = 0) -> int:
        """The guest sends frame ``frame_id`` of ``size`` bytes at ``now``: count it; the time it leaves the vNIC."""
        if self.note_tx:
            before = self._totals()
            leave = self._transmit(size, now)
            self._notes[frame_id, True] = self._note(before)
            return leave
        return self._transmit(size, now)

    def receive(self, size: int, now: int, frame_id: int = 0) -> int:
        """Frame ``frame_id`` of ``size`` bytes reaches the vNIC at ``now``: count it; the time the guest has it."""
        if self.note_rx:
            before = self._totals()
            seen = self._receive(size, now)
            self._notes[frame_id, False] = self._note(before)
            return seen
        return self._receive(size, now)

    def take_note(self, frame_id: int, outbound: bool) -> bytes | None:
        """The note of frame ``frame_id`` sent (``outbound``) or delivered, once (None: none kept)."""
        return self._notes.pop((frame_id, outbound), None) if self._notes else None

    def _transmit(self, size: int, now: int) -> int:
        self.frames_tx += 1
        model = self.model
        new_batch = now != self._tx_batch_at
        self._tx_batch_at = now
        cycles = self._steps(self._tx_batch) if new_batch else 0
        if self._tx_frame:
            cycles += self._steps(self._tx_frame)
        cycles += self._copy(size)
        start = max(now, self._busy_until)
        leave = start + self._busy(cycles, start)
        if new_batch and model.tx_interrupts and model.irq:  # the batch's completions: one interrupt
            key = "shared" if model.shared_irq else "tx"
            handling = self._interrupt(key, leave, received=False)
            self._poll_until(key, leave + self._busy(handling, leave))
        return leave

    def _receive(self, size: int, now: int) -> int:
        self.frames_rx += 1
        model = self.model
        key = "shared" if model.shared_irq else "rx"
        start = max(now, self._busy_until)
        cycles = self._interrupt(key, now, received=True) if model.irq else 0
        if self._rx_frame:
            cycles += self._steps(self._rx_frame)
        cycles += self._copy(size)
        seen = start + self._busy(cycles, start)
        if model.irq:
            self._poll_until(key, seen)
        return seen

    def move_to(self, model: IoModel, costs: CostTable, *, irq_coalesce_ns: int | None = None) -> None:
        """The VM now runs under ``model`` (a migration to a hypervisor with another model): the counts go on; its
        interrupts start anew (another device), its vCPU finishes what it was busy with."""
        self.model = model
        self.costs = costs
        self.irq_coalesce_ns = model.irq_coalesce_ns if irq_coalesce_ns is None else irq_coalesce_ns
        if model.name != self.models[-1]:
            self.models.append(model.name)
        self._price()
        self._tx_batch_at = -1
        self._irq_open_until.clear()
        self._irq_has_rx.clear()

    # -- per-frame notes ------------------------------------------------------------------------------
    def _totals(self) -> tuple[int, ...]:
        return (*self.exits.values(), self.kicks, self.copies, self.bytes_copied, self.cycles, self.vcpu_busy_ns)

    def _note(self, before: tuple[int, ...]) -> bytes:
        """``; io: 9 traps (7 mmio, 1 irq, 1 eoi), 1 copy of 98 bytes, 48,102 cycles, 16.1 us of vCPU``: what
        happened since ``before`` (``_totals``), for a pcapng comment."""
        diff = [now - then for now, then in zip(self._totals(), before)]
        exits = diff[:len(EXIT_REASONS)]
        kicks, copies, copied, cycles, busy_ns = diff[len(EXIT_REASONS):]
        traps = sum(exits)
        text = f"; io: {traps} trap{'s' if traps != 1 else ''}"
        if traps:
            text += " (" + ", ".join(f"{n} {EXIT_SHORT_NAMES[reason]}" for reason, n in zip(EXIT_REASONS, exits)
                                     if n) + ")"
        if kicks:
            text += f", {kicks} kick{'s' if kicks != 1 else ''}"
        if copies:
            text += f", {copies} cop{'ies' if copies != 1 else 'y'} of {copied // copies} bytes"
        text += f", {cycles:,} cycles"
        if self.costs.cpu_ghz is not None:
            text += f", {busy_ns / 1000:.1f} us of vCPU"
        return text.encode()

    # -- events ---------------------------------------------------------------------------------------
    def _interrupt(self, key: str, at: int, *, received: bool) -> int:
        """A completion at ``at`` on interrupt ``key``: a new interrupt unless one is still open; returns the
        cycles the vCPU spends on it."""
        cycles = 0
        if at > self._irq_open_until.get(key, -1):
            self.interrupts += 1
            if self._busy_until > at:
                cycles += self._exit("irq_window_exits", "irq_window")  # the guest cannot take it yet
            elif received and self._busy_until < at:
                cycles += self._exit("halt_exits", "halt")  # the idle vCPU had halted; the interrupt wakes it
            cycles += self._steps(self._irq)
            self._irq_has_rx[key] = False
            self._irq_open_until[key] = at + self.irq_coalesce_ns
        if received and not self._irq_has_rx.get(key, False):
            cycles += self._steps(self._irq_rx)
            self._irq_has_rx[key] = True
        return cycles

    def _poll_until(self, key: str, end: int) -> None:
        """NAPI: completions until ``end`` are taken by the poll of the interrupt being handled."""
        if end > self._irq_open_until.get(key, -1):
            self._irq_open_until[key] = end

    def _price(self) -> None:
        """Each step list of the model with its cycles from the cost table, worked out once rather than per frame:
        (cycles, exit counter or None, device access, kick, on the vCPU) per step."""
        def priced(steps: tuple[Step, ...]) -> tuple[_Priced, ...]:
            return tuple((sum(self.costs.of(name) for name in step.costs), step.exit, step.access, step.kick,
                          step.on_vcpu) for step in steps)
        model = self.model
        self._tx_batch, self._tx_frame, self._rx_frame = priced(model.tx_batch), priced(model.tx_frame), \
            priced(model.rx_frame)
        self._irq, self._irq_rx = priced(model.irq), priced(model.irq_rx)

    def _steps(self, steps: tuple[_Priced, ...]) -> int:
        """Count ``steps``; the cycles the vCPU spends on them."""
        on_vcpu = 0
        for cycles, exit_, access, kick, vcpu in steps:
            self.cycles += cycles
            if exit_ is not None:
                self.exits[exit_] += 1
            if access:
                self.device_accesses += 1
            if kick:
                self.kicks += 1
            if vcpu:
                on_vcpu += cycles
        return on_vcpu

    def _exit(self, reason: str, cost: str) -> int:
        self.exits[reason] += 1
        cycles = self.costs.of(cost)
        self.cycles += cycles
        return cycles

    def _copy(self, size: int) -> int:
        model = self.model
        if not model.copies:
            return 0
        self.copies += model.copies
        self.bytes_copied += model.copies * size
        cycles = model.copies * self.costs.copy(size)
        self.cycles += cycles
        return cycles if model.copies_on_vcpu else 0

    def _busy(self, cycles: int, start: int) -> int:
        """The vCPU spends ``cycles`` from ``start`` (when it is free); their length in ns."""
        self.vcpu_cycles += cycles
        length = self.costs.nanoseconds(cycles)
        if length:
            self._busy_until = start + length
            self.vcpu_busy_ns += length
        return length

    # -- results --------------------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.frames_tx + self.frames_rx

    @property
    def exit_total(self) -> int:
        return sum(self.exits.values())

    def per_frame(self, counter: str) -> float | None:
        """``counter`` (``exits``, ``kicks``, ``interrupts``, ``device_accesses``...) per frame (None: no frame)."""
        total = self.exit_total if counter == "exits" else getattr(self, counter)
        return total / self.frames if self.frames else None

    def summary(self, run_ns: int) -> dict[str, Any]:
        """The VM's ``io`` row (report and JSON): ``model`` its model at the end, ``models`` every one it had
        (migrations); ``vcpu_busy`` is the share of the run the vCPU spent on I/O (None without ``cpu_ghz``)."""
        busy = None
        if self.costs.cpu_ghz is not None:
            busy = round(self.vcpu_busy_ns / run_ns, 6) if run_ns else 0.0
        return {"model": self.model.name, "models": list(self.models), "frames_tx": self.frames_tx,
                "frames_rx": self.frames_rx,
                "exits": dict(self.exits), "device_accesses": self.device_accesses, "kicks": self.kicks,
                "interrupts": self.interrupts, "copies": self.copies, "bytes_copied": self.bytes_copied,
                "cycles": self.cycles, "vcpu_cycles": self.vcpu_cycles, "vcpu_busy_ns": self.vcpu_busy_ns,
                "vcpu_busy": busy}
