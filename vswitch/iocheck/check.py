"""``vswitch io-check MODEL``: measure the real thing and compare the model with it.

A stock Linux guest boots under QEMU (TCG: the guest driver makes the same register accesses whatever the
accelerator) with the NIC the model stands for, and pings QEMU's user-mode gateway. Two guests ping a different
number of times; the difference of their counts, divided by the difference of pings, is the cost of one ping with
boot and driver set-up cancelled out. vswitch runs the same traffic (its guest pings a gateway host, twice, with
the same numbers) under the model, and the per-ping figures are compared counter by counter. Its gateway is
cabled without latency: QEMU's user-mode network answers the echo inside QEMU, during the guest's exit.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..scenario.io_report import io_accounts
from ..scenario.runner import ScenarioRunner
from ..topology.build import build_network
from ..topology.loader import load_topology_text
from .guest import IoCheckError, find_image
from .qemu import Counts, run_guests

#: model -> (the guest's NIC, the counters QEMU's trace can count for it).
MODELS = {"emulated": ("e1000", ("device_accesses", "interrupts")),
          "rtl8139": ("rtl8139", ("device_accesses", "interrupts")),
          "virtio": ("virtio", ("device_accesses", "kicks", "interrupts"))}
SHORT_RUN = 10  # pings of the shorter guest run
DEFAULT_PINGS = 50
TOLERANCE = 0.15  # the target: the model within 15% of the measurement, per counter

PREDICTION = """
name: io-check
hosts:
  - {{name: gateway, mac: "52:55:0a:00:02:02", ip: 10.0.2.2/24}}
hypervisors:
  - name: hv1
    mac: "02:00:00:00:00:aa"
    vms:
      - {{name: guest, mac: "52:54:00:12:34:56", ip: 10.0.2.15/24, io: {model}}}
links:
  - {{a: gateway, b: hv1}}
scenario:
  - ping: {{from: guest, to: gateway, count: {pings}, interval: 1ms}}
"""


@dataclass(frozen=True)
class Row:
    counter: str
    measured: float  # per ping, QEMU
    predicted: float  # per ping, the model

    @property
    def agrees(self) -> bool:
        if self.measured == 0:
            return abs(self.predicted) < 0.05
        return abs(self.predicted - self.measured) <= TOLERANCE * self.measured

    @property
    def difference(self) -> str:
        if self.measured == 0:
            return "-" if self.predicted == 0 else "n/a"
        return f"{100 * (self.predicted - self.measured) / self.measured:+.1f}%"


def predict(model: str, pings: int) -> Counts:
    """The model's counts for a guest that pings the gateway ``pings`` times."""
    spec = load_topology_text(PREDICTION.format(model=model, pings=pings), "io-check.yaml")
    net = build_network(spec, record=False)
    ScenarioRunner(spec, net).run()
    [account] = io_accounts(net)
    return Counts(account.device_accesses, account.kicks, account.interrupts)


def compare(model: str, pings: int) -> tuple[list[Row], Counts]:
    """The per-ping rows of ``model`` against QEMU, and QEMU's per-register difference."""
    nic, counters = MODELS[model]
    short, long = run_guests(find_image(), nic, (SHORT_RUN, pings))
    measured = long.minus(short)
    predicted = predict(model, pings).minus(predict(model, SHORT_RUN))
    extra = pings - SHORT_RUN
    rows = [Row(c, getattr(measured, c) / extra, getattr(predicted, c) / extra) for c in counters]
    return rows, measured


def render(model: str, pings: int, rows: list[Row], measured: Counts) -> str:
    nic = MODELS[model][0]
    extra = pings - SHORT_RUN
    lines = [f"io-check {model}: {nic} guest under QEMU (TCG), pinging 10.0.2.2 {pings} and {SHORT_RUN} times; "
             f"per ping = difference / {extra}",
             f"{'counter':<18}{'QEMU':>10}{'model':>10}{'difference':>12}  within {TOLERANCE:.0%}"]
    for row in rows:
        lines.append(f"{row.counter:<18}{row.measured:>10.2f}{row.predicted:>10.2f}{row.difference:>12}  "
                     f"{'yes' if row.agrees else 'NO'}")
    registers = [(name, n) for name, n in sorted(measured.registers.items()) if n]
    if registers:
        lines.append("QEMU, per ping by register: " + ", ".join(f"{name} {n / extra:+.2f}" for name, n in registers))
    if measured.periodic:
        lines.append(f"left out: {measured.periodic:+d} reads of the statistics registers (the e1000 driver's "
                     "watchdog, every 2 s, whatever the traffic)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=tuple(MODELS),
                        help="the I/O model to check (its NIC: e1000, rtl8139, virtio-net)")
    parser.add_argument("-n", "--pings", type=int, default=DEFAULT_PINGS,
                        help=f"pings of the longer run, more than {SHORT_RUN} (default {DEFAULT_PINGS}); the "
                             f"shorter run pings {SHORT_RUN} times")


def run(args: argparse.Namespace) -> int:
    if args.pings <= SHORT_RUN:
        raise IoCheckError(f"--pings must be more than {SHORT_RUN} (the shorter run's), got {args.pings}")
    rows, measured = compare(args.model, args.pings)
    print(render(args.model, args.pings, rows, measured))
    return 0 if all(row.agrees for row in rows) else 1
