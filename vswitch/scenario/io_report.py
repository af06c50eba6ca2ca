"""The I/O models' results: the ``io`` table and JSON section per VM, and the ``io`` expectation
(docs/io-models.md; the accounting is ``io/accounting.py``)."""

from __future__ import annotations

from typing import Any

from ..core.errors import ScenarioError
from ..io import IoAccount
from ..net.network import Network
from ..topology.io_reader import IoCheck
from .context import ScenarioContext
from .registry import checks


def io_accounts(net: Network) -> list[IoAccount]:
    """The VMs with an I/O model (other than none), by name."""
    return [vnic.port.io for name, vnic in sorted(net.vnics.items()) if vnic.port.io is not None]


def io_json(net: Network) -> dict[str, Any]:
    """``{vm: {model, frames_tx, frames_rx, exits: {...}, device_accesses, kicks, interrupts, copies,
    bytes_copied, cycles, vcpu_busy...}}``."""
    return {account.vm: account.summary(net.now) for account in io_accounts(net)}


def _per_frame(account: IoAccount, counter: str) -> str:
    value = account.per_frame(counter)
    return "-" if value is None else f"{value:.2f}"


def io_rows(net: Network) -> list[dict[str, Any]]:
    """One row per VM with a model (``virtio -> emulated``: it migrated): its counts, the exits by reason that occurred, and per-frame figures."""
    rows = []
    for account in io_accounts(net):
        data = account.summary(net.now)
        exits = ", ".join(f"{name} {n}" for name, n in data["exits"].items() if n) or "-"
        busy = "-" if data["vcpu_busy"] is None else f"{100 * data['vcpu_busy']:.2f}%"
        rows.append({"vm": account.vm, "model": " -> ".join(data["models"]), "tx/rx": f"{data['frames_tx']}/{data['frames_rx']}",
                     "exits": exits, "exits/frame": _per_frame(account, "exits"),
                     "accesses/frame": _per_frame(account, "device_accesses"),
                     "kicks": data["kicks"], "interrupts": data["interrupts"],
                     "copies (bytes)": f"{data['copies']} ({data['bytes_copied']})",
                     "cycles/frame": _per_frame(account, "cycles"), "vcpu busy": busy})
    return rows


@checks(IoCheck)
def _io(runner: ScenarioContext, check: IoCheck) -> tuple[str, bool, str]:
    vnic = runner.net.vnics.get(check.vm)
    if vnic is None:
        raise ScenarioError(f"no VM named {check.vm!r}")
    account = vnic.port.io
    if account is None:
        raise ScenarioError(f"VM {check.vm} has no I/O model (io: none); give it one, e.g. io: virtio")
    wanted, actual, passed = [], [], True
    for figure, low, high in check.limits:
        value = account.per_frame(figure.removesuffix("_per_frame"))
        bounds = " and ".join(b for b in (f"at least {low:g}" if low is not None else "",
                                          f"at most {high:g}" if high is not None else "") if b)
        wanted.append(f"{figure.replace('_', ' ')} {bounds}")
        actual.append(f"{figure.replace('_', ' ')} " + ("- (no frame)" if value is None else f"{value:.3g}"))
        passed &= value is not None and (low is None or value >= low) and (high is None or value <= high)
    return f"{check.vm} ({account.model.name}) " + "; ".join(wanted), passed, "; ".join(actual)
