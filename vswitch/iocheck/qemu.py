"""Run the io-check guest under ``qemu-system-x86_64`` (TCG) and count, from QEMU's trace events, the guest's
accesses to the NIC's registers, its kicks and the interrupts the device raised.

Events (``qemu-system-x86_64 -trace help``): ``memory_region_ops_read``/``write`` name the region accessed
(``e1000-mmio``; ``rtl8139``; virtio-pci's ``virtio-pci-common-virtio-net``, ``-isr-``, ``-device-``, ``-notify-``),
``virtio_queue_notify`` is a kick, ``virtio_notify`` an interrupt a virtqueue raised. An e1000 interrupt is
counted as a read of ICR (offset 0xC0) that returned a cause: the driver's handler reads it once per interrupt;
an rtl8139's as a read of IntrStatus (0x3E) that returned one.
Only what happens between the markers the guest prints on its serial console is counted (``count_trace``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .guest import NICS, GuestImage, IoCheckError, build_initramfs

QEMU = "qemu-system-x86_64"
E1000_ICR = 0xC0
E1000_BAR_MASK = 0x1FFFF  # the e1000's 128 KiB register BAR
#: The statistics registers: e1000_update_stats reads them from the driver's watchdog every 2 s, whatever the
#: traffic; counted apart (``periodic``), not as the frames' accesses.
E1000_STATISTICS = range(0x4000, 0x4200)
#: e1000 register names by offset, for the per-register breakdown (Intel 8254x manual, section 13).
E1000_REGISTERS = {0x0: "CTRL", 0x8: "STATUS", 0xC0: "ICR", 0xC4: "ITR", 0xC8: "ICS", 0xD0: "IMS", 0xD8: "IMC",
                   0x2810: "RDH", 0x2818: "RDT", 0x3810: "TDH", 0x3818: "TDT"}
#: rtl8139 (C+ mode) registers by offset (RTL8139C+ datasheet; Linux 8139cp's names); an interrupt is counted as
#: an IntrStatus read that returned a cause.
RTL8139_INTR_STATUS = 0x3E
RTL8139_REGISTERS = {0x37: "Cmd", 0x3C: "IntrMask", 0x3E: "IntrStatus", 0xD9: "TxPoll", 0xE0: "CpCmd"}
SERIAL_DATA = 0x3F8  # ttyS0's transmit register: the guest's console, written a character at a time
START, DONE = "IOCHECK-START", "IOCHECK-DONE"
_ACCESS = re.compile(r"memory_region_ops_(read|write) .*? addr (0x[0-9a-f]+) value (0x[0-9a-f]+) size \d+ "
                     r"name '([^']*)'")


@dataclass
class Counts:
    """What one guest run did to its NIC."""

    device_accesses: int = 0
    kicks: int = 0
    interrupts: int = 0
    registers: Counter = field(default_factory=Counter)  # "read ICR" -> n
    periodic: int = 0  # e1000 statistics reads of the driver's watchdog

    def minus(self, other: Counts) -> Counts:
        registers = Counter({name: self.registers[name] - other.registers[name]
                             for name in self.registers.keys() | other.registers.keys()})
        return Counts(self.device_accesses - other.device_accesses, self.kicks - other.kicks,
                      self.interrupts - other.interrupts, registers, self.periodic - other.periodic)


def count_trace(lines: Iterable[str], nic: str) -> Counts:
    """The counts of a QEMU trace of a guest with ``nic``, between the guest's ``IOCHECK-START`` and
    ``IOCHECK-DONE`` on its serial console (whose writes are in the trace too): boot, driver set-up and the
    warm-up pings until the link answers are left out."""
    counts = Counts()
    console = ""  # the last characters written to the serial port
    counting = False
    for line in lines:
        if line.startswith("memory_region_ops_"):
            match = _ACCESS.search(line)
            if match is None:
                continue
            kind, addr, value, region = match.groups()
            if region == "serial" and kind == "write" and int(addr, 16) == SERIAL_DATA:
                console = (console + chr(int(value, 16) & 0x7F))[-len(START):]
                if console.endswith(START):
                    counting = True
                elif console.endswith(DONE):
                    counting = False
            elif counting:
                _count_access(counts, nic, kind, int(addr, 16), int(value, 16), region)
        elif not counting:
            continue
        elif line.startswith("virtio_queue_notify "):
            counts.kicks += 1
        elif line.startswith("virtio_notify "):
            counts.interrupts += 1
    return counts


def _count_access(counts: Counts, nic: str, kind: str, addr: int, value: int, region: str) -> None:
    if nic == "e1000" and region == "e1000-mmio":
        offset = addr & E1000_BAR_MASK
        if offset in E1000_STATISTICS:
            counts.periodic += 1
            return
        counts.device_accesses += 1
        counts.registers[f"{kind} {E1000_REGISTERS.get(offset, hex(offset))}"] += 1
        if kind == "read" and offset == E1000_ICR and value:
            counts.interrupts += 1
    elif nic == "rtl8139" and region == "rtl8139":
        offset = addr & 0xFF
        counts.device_accesses += 1
        counts.registers[f"{kind} {RTL8139_REGISTERS.get(offset, hex(offset))}"] += 1
        if kind == "read" and offset == RTL8139_INTR_STATUS and value:
            counts.interrupts += 1
    elif nic == "virtio" and region.startswith("virtio-pci-") and "-notify" not in region:
        counts.device_accesses += 1  # a kick is counted by its event, not as a register access
        counts.registers[f"{kind} {region}"] += 1


def run_guests(image: GuestImage, nic: str, pings: tuple[int, ...], *, timeout_s: float = 300) -> list[Counts]:
    """Boot one guest with ``nic`` per entry of ``pings``, side by side; each pings the gateway that many times.
    Their counts, in the same order."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise IoCheckError(f"io-check needs {QEMU}: apt-get install qemu-system-x86")
    with tempfile.TemporaryDirectory(prefix="vswitch-iocheck-") as folder:
        initrd = Path(folder) / "initrd.gz"
        initrd.write_bytes(build_initramfs(image, nic))
        runs = []
        try:
            for index, count in enumerate(pings):
                trace = Path(folder) / f"trace-{index}.log"
                runs.append((trace, subprocess.Popen(_command(qemu, image, initrd, nic, count, trace),
                                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True, errors="replace")))
            results = []
            for trace, process in runs:
                try:
                    console, _ = process.communicate(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    raise IoCheckError(f"io-check: the {nic} guest did not finish within {timeout_s:g} s") from None
                if "IOCHECK-DONE" not in console or "IOCHECK-FAILED" in console:
                    tail = " | ".join(line for line in console.splitlines()[-6:] if line.strip())
                    raise IoCheckError(f"io-check: the {nic} guest failed ({QEMU} exit {process.returncode}): "
                                          f"{tail}")
                with trace.open(errors="replace") as lines:
                    results.append(count_trace(lines, nic))
            return results
        finally:
            for _, process in runs:
                if process.poll() is None:
                    process.kill()
                    process.wait()


def _command(qemu: str, image: GuestImage, initrd: Path, nic: str, pings: int, trace: Path) -> list[str]:
    return [qemu, "-accel", "tcg", "-m", "256", "-nographic", "-vga", "none", "-no-reboot",
            "-kernel", str(image.kernel), "-initrd", str(initrd),
            "-append", f"console=ttyS0 quiet panic=-1 no_timer_check iocheck.pings={pings}",
            "-netdev", "user,id=n0", "-device", f"{NICS[nic][0]},netdev=n0,romfile=",
            "-trace", "memory_region_ops_read", "-trace", "memory_region_ops_write",
            "-trace", "virtio_queue_notify", "-trace", "virtio_notify", "-D", str(trace)]
